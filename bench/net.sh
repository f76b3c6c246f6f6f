#!/usr/bin/env bash
# bench/net.sh: virtio-net throughput and latency of ember and of QEMU's
# virtio-net-pci (-M microvm,pcie=on) on a TAP with vhost off and on, each
# booting the same guest in turn, inside a network namespace of its own with
# link-local addresses only. The guest runs an iperf3 server (iperf3 from
# Debian with its libraries, rootfs/iperf3.sh, appended to the initramfs as a
# second cpio archive); the host runs the same iperf3 as the client: SECS
# seconds of one TCP stream host->guest, then guest->host (-R), each the
# receiver's rate, then the host pings the guest 20 times. ROUNDS rounds of
# all rows (or those BENCH_NET_ONLY matches), one VMM after another; the
# table has each column's median.
# Prints a Markdown table. Needs root, a Linux-capable KVM, /dev/net/tun and
# /dev/vhost-net: bench/run runs it inside the lab.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
if [ -z "${EMBER_NET_NETNS:-}" ]; then
	EMBER_NET_NETNS=1 exec unshare -n bash "$0" "$@"
fi
SECS=${BENCH_NET_SECONDS:-10}
ROUNDS=${BENCH_NET_ROUNDS:-3}
ONLY=${BENCH_NET_ONLY:-.}	# a regex: only the rows whose names match (e.g. 'vhost=on')
G=build/guest
IPERF=$G/iperf3/run
XFER=tests/net/xfer.py
HOST_IP=169.254.1.1
GUEST_IP=169.254.1.2
[ -x "$IPERF" ] && [ -s "$G/iperf3.cpio.gz" ] || { echo "bench: no iperf3 in $G (make guest)" >&2; exit 1; }
# In the lab, /run is local (tmpfs): iperf3's temporary files cannot be made
# on the 9p-shared tree.
tmp=$(mktemp -d /run/ember-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp
ip link set lo up
cat "$G/initramfs.cpio.gz" "$G/iperf3.cpio.gz" >"$tmp/initrd.gz"
# The guest: an iperf3 server until the host pokes port 7000.
GCMD="iperf3 -s >/dev/null 2>&1 & echo bench-ready; nc -l -p 7000 >/dev/null"
APPEND="console=ttyS0 reboot=k panic=-1 quiet ember.ip=$GUEST_IP/16 -- sh -c \"$GCMD\""

tap_up() {
	ip link del tap0 2>/dev/null
	ip tuntap add dev tap0 mode tap vnet_hdr && ip addr add $HOST_IP/16 dev tap0 && ip link set tap0 up
}

# iperf OUT [iperf3 options]: one client run (retried for up to 60 s while the
# guest's server is not listening yet; each connect gives up after 3 s, so a
# guest that cannot be reached costs a minute, not the kernel's SYN retries
# times 30); prints the receiver's Mbit/s.
iperf() {
	local out=$1 end=$((SECONDS + 60))
	shift
	while :; do
		timeout -k 5 $((SECS + 120)) "$IPERF" -c $GUEST_IP -t "$SECS" -J --connect-timeout 3000 "$@" \
			>"$out" 2>&1 && break
		grep -q 'unable to connect\|Connection refused' "$out" && [ $SECONDS -lt $end ] || break
		sleep 1
	done
	python3 -c 'import json, sys
try:
    print("%.1f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))
except Exception:
    sys.exit(1)' "$out" || { echo "bench: iperf3 $*:" >&2; tail -n 5 "$out" >&2; }
}

# stop_vm NAME PID: wait up to 60 s for the poked guest's VMM to exit; one
# that does not is reported with its state (ember: the SIGUSR1 counter and
# queue lines; QEMU: its last output), then killed, so a stuck VMM costs a
# minute and says why instead of holding the run until its 900 s timeout.
stop_vm() {
	local name=$1 pid=$2 rc
	if ! timeout 60 tail --pid="$pid" -f /dev/null; then
		echo "bench: $name did not exit 60 s after the poke; its state:" >&2
		pkill -USR1 -x ember 2>/dev/null && sleep 1
		tail -n 8 "$tmp/vm.out" >&2
		pkill -KILL -x ember
		pkill -KILL -x qemu-system-x86
	fi
	wait "$pid"
	rc=$?
	[ $rc -eq 0 ] || { echo "bench: $name exited $rc" >&2; tail -n 5 "$tmp/vm.out" >&2; }
}

# run NAME CMD...: boot the VMM, measure, add the results to NAME's row.
run() {
	local name=$1
	shift
	[[ $name =~ $ONLY ]] || return 0
	tap_up || { echo "bench: no tap" >&2; return 1; }
	"$@" >"$tmp/vm.out" 2>&1 </dev/null &
	local vpid=$! _ tin tout rtt
	echo "bench: $(date +%T) $name" >&2
	for _ in $(seq 1 1200); do
		grep -q bench-ready "$tmp/vm.out" && break
		kill -0 $vpid 2>/dev/null || break
		sleep 0.1
	done
	tin=$(iperf "$tmp/in.json") || true
	[ -n "$tin" ] || echo "bench: $name: host->guest run failed" >&2
	tout=$(iperf "$tmp/out.json" -R) || true
	[ -n "$tout" ] || echo "bench: $name: guest->host run failed" >&2
	ping -c 20 -i 0.2 -W 5 $GUEST_IP >"$tmp/ping" 2>&1 ||
		{ echo "bench: $name: ping:" >&2; tail -n 3 "$tmp/ping" >&2; }
	timeout -k 5 130 python3 $XFER poke $GUEST_IP 7000 >/dev/null 2>&1 || echo "bench: $name: poke failed" >&2
	stop_vm "$name" $vpid
	rtt=$(awk -F/ '/^rtt|^round-trip/ {printf "%.3f", $5}' "$tmp/ping")
	grep -qxF -- "$name" "$tmp/rows" 2>/dev/null || echo "$name" >>"$tmp/rows"
	echo "${tin:-failed} ${tout:-failed} ${rtt:-failed}" >>"$tmp/row.$(echo "$name" | md5sum | cut -c1-8)"
}

# median FILE COLUMN: the median of a column ("failed" when any run failed).
median() {
	if awk -v c="$2" '$c == "failed" { bad = 1 } END { exit !bad }' "$1"; then
		echo failed
		return
	fi
	awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 }
		END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# spread FILE COLUMN: " (lowest-highest)" of a column's rounds, nothing for one.
spread() {
	awk -v c="$2" '$c != "failed" { print $c }' "$1" | sort -g |
		awk 'NR == 1 {lo = $1} {hi = $1} END {if (NR > 1) printf " (%s-%s)", lo, hi}'
}

# ember OPTIONS...: ember (stopped after 900 s) with the benchmark guest; OPTIONS go first.
ember() {
	timeout -k 5 900 build/ember "$@" --kernel "$G/vmlinux" --initrd "$tmp/initrd.gz" --cpus 1 --mem 512 \
		--console stdio --net tap=tap0 --cmdline "ember.ip=$GUEST_IP/16" -- sh -c "$GCMD"
}
# qemu VHOST: QEMU microvm (stopped after 900 s) with virtio-net-pci on the TAP, vhost on or off.
qemu() {
	timeout -k 5 900 qemu-system-x86_64 -M microvm,pcie=on,rtc=on -enable-kvm -cpu host -m 512 -smp 1 \
		-nodefaults -no-user-config -nographic -no-reboot -serial stdio \
		-kernel "$G/vmlinux" -initrd "$tmp/initrd.gz" -append "$APPEND" \
		-netdev "tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=$1" \
		-device virtio-net-pci,netdev=n0
}

for _ in $(seq 1 "$ROUNDS"); do
	run ember ember
	run "ember --seccomp off" ember --seccomp off # without filters: what they cost
	run "QEMU $(qemu-system-x86_64 --version | awk 'NR==1{print $4}') virtio-net-pci, vhost=off" qemu off
	run "QEMU virtio-net-pci, vhost=on" qemu on
done

echo "| VMM (virtio-net on a TAP, iperf3 one TCP stream ${SECS} s each way, 20 pings, in the lab; median of $ROUNDS rounds (lowest-highest)) | host->guest (Mbit/s) | guest->host (Mbit/s) | ping RTT avg (ms) |"
echo "|---|---:|---:|---:|"
while read -r name; do
	f=$tmp/row.$(echo "$name" | md5sum | cut -c1-8)
	echo "| $name | $(median "$f" 1)$(spread "$f" 1) | $(median "$f" 2)$(spread "$f" 2) | $(median "$f" 3)$(spread "$f" 3) |"
done <"$tmp/rows"
