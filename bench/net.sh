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
# table has each column's median. Also the VMM's host CPU time (its threads,
# the guest's vCPU time among them, and vhost's workers) per MiB moved, and
# the part of it outside the vCPU threads: the back-end's (ember's net-io
# thread, vhost's worker, QEMU's main loop without vhost) and the rest.
# In a lab booted with --sriov-net (bench/run does), the igb's VF 0 passed
# through (ember --vfio, QEMU -device vfio-pci) adds two rows: the same guest
# on the lab's generic kernel (igbvf), the PF's interface as the host's end.
# For ember's rows a second table says how much each TX kick carried: from
# its NIC counters (SIGUSR1) around each iperf3 run, frames per kick of the
# TX queue, each way (guest->host: the data; host->guest: the guest's ACKs).
# LKVM=PATH (a kvmtool binary; README says how to build one) adds a row for
# kvmtool's virtio-net on the same TAP (its own userspace back-end).
# BENCH_NET_BASE=PATH adds a row for another ember binary (a build of an
# earlier commit, say), so a change is measured against its base in the same
# lab run. Prints a Markdown table. Needs root, a Linux-capable KVM, /dev/net/tun and
# /dev/vhost-net: bench/run runs it inside the lab.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh
# In a lab booted with --sriov-net, the igb's VF 0 gets rows too (the PF's
# interface joins this script's namespace); otherwise only virtio-net's.
. tests/net/vf_lib.sh
vf_enter_netns optional -- "$@" || exit 1
SECS=${BENCH_NET_SECONDS:-10}
# Seconds iperf3 leaves out at the start of each run (-O): TCP's slow start
# and the guest's first touches of its buffers, which differ with what ran
# in the lab before.
OMIT=${BENCH_NET_OMIT:-2}
ROUNDS=${BENCH_NET_ROUNDS:-3}
ONLY=${BENCH_NET_ONLY:-.}	# a regex: only the rows whose names match (e.g. 'vhost=on')
LKVM=${LKVM:-}
[ -z "$LKVM" ] || lkvm_check
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
if [ -n "$VF" ]; then
	read -r VKERNEL VINITRD <<<"$(vf_guest "$tmp" "$G/initramfs.cpio.gz" "$G/iperf3.cpio.gz")" &&
		[ -n "$VINITRD" ] || exit 1
fi
# The guest: an iperf3 server until the host pokes port 7000.
GCMD="iperf3 -s >/dev/null 2>&1 & echo bench-ready; nc -l -p 7000 >/dev/null"
APPEND="console=ttyS0 reboot=k panic=-1 quiet ember.ip=$GUEST_IP/16 -- sh -c \"$GCMD\""

# link_up tap|vf: the host's end of the guest's link: a fresh TAP, or the
# VF's PF (the other one without the address).
link_up() {
	ip link del tap0 2>/dev/null
	[ -z "$VF" ] || ip addr flush dev "$IFACE"
	if [ "$1" = vf ]; then
		ip addr add $HOST_IP/16 dev "$IFACE" && ip link set "$IFACE" up
	else
		ip tuntap add dev tap0 mode tap vnet_hdr && ip addr add $HOST_IP/16 dev tap0 && ip link set tap0 up
	fi
}

# cpu_ticks PID: the CPU time (clock ticks) PID's threads and its vhost
# workers (kernel threads named vhost-PID) have used, then that of its vCPU
# threads alone (ember's vcpuN, QEMU's "CPU N/KVM" with debug-threads=on,
# kvmtool's kvm-vcpu-N),
# whose time includes the guest's.
cpu_ticks() {
	local t k v=0 c
	t=$(stat_ticks "/proc/$1/stat") || return 1
	for k in $(pgrep -x "vhost-$1"); do
		t=$((t + $(stat_ticks "/proc/$k/stat")))
	done
	for k in /proc/"$1"/task/*; do
		c=$(cat "$k/comm" 2>/dev/null) || continue
		[[ $c =~ ^vcpu[0-9]+$|^CPU\ [0-9]+/KVM$|^kvm-vcpu-[0-9]+$ ]] || continue
		v=$((v + $(stat_ticks "$k/stat")))
	done
	echo "$t $v"
}
# stat_ticks FILE: user + system ticks from a /proc .../stat file (its fields
# counted after "PID (COMM) ", since a thread's name may hold spaces).
stat_ticks() {
	local s
	s=$(cat "$1" 2>/dev/null) || return 1
	awk '{print $12 + $13}' <<<"${s##*) }"
}
# ms_per_mib TICKS BYTES: CPU milliseconds per MiB moved.
ms_per_mib() {
	awk -v c="$1" -v hz="$(getconf CLK_TCK)" -v b="$2" 'BEGIN { printf "%.2f", c * 1000 / hz / (b / 1048576) }'
}

# net_counts PID: an ember's NIC counters now, from the line SIGUSR1 makes it
# print (stderr, in vm.out): frames sent and TX kicks; nothing for another
# VMM, or when no new line came within 2.5 s.
net_counts() {
	local pat='\{"device":"net0","tap".*\}$' n0 n1 _
	[ "$(cat "/proc/$1/comm" 2>/dev/null)" = ember ] || return 0
	n0=$(grep -cE "$pat" "$tmp/vm.out")
	kill -USR1 "$1" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		n1=$(grep -cE "$pat" "$tmp/vm.out")
		[ "$n1" -gt "$n0" ] && break
		sleep 0.05
	done
	[ "$n1" -gt "$n0" ] || return 0
	grep -oE "$pat" "$tmp/vm.out" | tail -n 1 | python3 -c 'import json, sys
d = json.loads(sys.stdin.read())
e = d["events"]
print(d["tx_packets"], e["tx_queue"])' 2>/dev/null
}
# row_file KIND NAME: the file holding a row's results (KIND row or batch).
row_file() { echo "$tmp/$1.$(echo "$2" | md5sum | cut -c1-8)"; }
# per A B: A / B to two decimals, or "failed".
per() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b <= 0) print "failed"; else printf "%.2f", a / b }'; }

# iperf OUT [iperf3 options]: one client run (retried for up to 60 s while the
# guest's server is not listening yet; each connect gives up after 3 s, so a
# guest that cannot be reached costs a minute, not the kernel's SYN retries
# times 30); prints the receiver's Mbit/s (after the first OMIT seconds) and
# the bytes of the whole run.
iperf() {
	local out=$1 end=$((SECONDS + 60))
	shift
	while :; do
		timeout -k 5 $((SECS + OMIT + 120)) "$IPERF" -c $GUEST_IP -t "$SECS" -O "$OMIT" -J --connect-timeout 3000 "$@" \
			>"$out" 2>&1 && break
		grep -q 'unable to connect\|Connection refused' "$out" && [ $SECONDS -lt $end ] || break
		sleep 1
	done
	python3 -c 'import json, sys
try:
    j = json.load(open(sys.argv[1]))
    r = j["end"]["sum_received"]
    # The bytes of every interval, the omitted ones too: the CPU column
    # counts the whole run.
    b = sum(i["sum"]["bytes"] for i in j["intervals"]) or r["bytes"]
    print("%.1f %d" % (r["bits_per_second"] / 1e6, b))
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
		pkill -KILL -x lkvm
	fi
	wait "$pid"
	rc=$?
	[ $rc -eq 0 ] || { echo "bench: $name exited $rc" >&2; tail -n 5 "$tmp/vm.out" >&2; }
}

# run NAME tap|vf CMD...: boot the VMM, measure, add the results to NAME's
# row. Host CPU: what the VMM (CMD's timeout's child) used from the
# guest's readiness to the end of both iperf3 runs, per MiB they moved.
run() {
	local name=$1 link=$2
	shift 2
	[[ $name =~ $ONLY ]] || return 0
	link_up "$link" || { echo "bench: no $link link" >&2; return 1; }
	"$@" >"$tmp/vm.out" 2>&1 </dev/null &
	local vpid=$! _ tin tout rtt vmm c0 c1 v0 v1 cpu='' out='' bin bout k0 k1 k2
	echo "bench: $(date +%T) $name" >&2
	for _ in $(seq 1 1200); do
		grep -q bench-ready "$tmp/vm.out" && break
		kill -0 $vpid 2>/dev/null || break
		sleep 0.1
	done
	vmm=$vpid # the VMM: the deepest of the first children (subshell, timeout, VMM)
	while [ -n "$(pgrep -P "$vmm" | head -n 1)" ]; do vmm=$(pgrep -P "$vmm" | head -n 1); done
	read -r c0 v0 <<<"$(cpu_ticks "$vmm")"
	read -r -a k0 <<<"$(net_counts "$vmm")"
	read -r tin bin <<<"$(iperf "$tmp/in.json")"
	[ -n "$tin" ] || echo "bench: $name: host->guest run failed" >&2
	read -r -a k1 <<<"$(net_counts "$vmm")"
	read -r tout bout <<<"$(iperf "$tmp/out.json" -R)"
	[ -n "$tout" ] || echo "bench: $name: guest->host run failed" >&2
	read -r -a k2 <<<"$(net_counts "$vmm")"
	read -r c1 v1 <<<"$(cpu_ticks "$vmm")"
	# ember's frames per TX kick: guest->host (data), host->guest (ACKs)
	if [ ${#k0[@]} = 2 ] && [ ${#k1[@]} = 2 ] && [ ${#k2[@]} = 2 ]; then
		echo "$(per $((k2[0] - k1[0])) $((k2[1] - k1[1]))) $(per $((k1[0] - k0[0])) $((k1[1] - k0[1])))" \
			>>"$(row_file batch "$name")"
	fi
	if [ -n "$c0" ] && [ -n "$c1" ] && [ -n "$bin" ] && [ -n "$bout" ]; then
		cpu=$(ms_per_mib $((c1 - c0)) $((bin + bout)))
		out=$(ms_per_mib $((c1 - c0 - (v1 - v0))) $((bin + bout)))
	fi
	ping -c 20 -i 0.2 -W 5 $GUEST_IP >"$tmp/ping" 2>&1 ||
		{ echo "bench: $name: ping:" >&2; tail -n 3 "$tmp/ping" >&2; }
	timeout -k 5 130 python3 $XFER poke $GUEST_IP 7000 >/dev/null 2>&1 || echo "bench: $name: poke failed" >&2
	stop_vm "$name" $vpid
	rtt=$(awk -F/ '/^rtt|^round-trip/ {printf "%.3f", $5}' "$tmp/ping")
	grep -qxF -- "$name" "$tmp/rows" 2>/dev/null || echo "$name" >>"$tmp/rows"
	echo "${tin:-failed} ${tout:-failed} ${rtt:-failed} ${cpu:-failed} ${out:-failed}" >>"$(row_file row "$name")"
}

# ember OPTIONS...: ember (stopped after 900 s) with the benchmark guest; OPTIONS go first.
ember() {
	timeout -k 5 900 "${EMBER_BIN:-build/ember}" "$@" --kernel "$G/vmlinux" --initrd "$tmp/initrd.gz" --cpus 1 --mem 512 \
		--console stdio --net tap=tap0 --cmdline "ember.ip=$GUEST_IP/16" -- sh -c "$GCMD"
}
# qemu VHOST: QEMU microvm (stopped after 900 s) with virtio-net-pci on the TAP, vhost on or off.
qemu() {
	timeout -k 5 900 qemu-system-x86_64 -M microvm,pcie=on,rtc=on -enable-kvm -cpu host -m 512 -smp 1 \
		-name bench,debug-threads=on -nodefaults -no-user-config -nographic -no-reboot -serial stdio \
		-kernel "$G/vmlinux" -initrd "$tmp/initrd.gz" -append "$APPEND" \
		-netdev "tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=$1" \
		-device virtio-net-pci,netdev=n0
}

# lkvm: kvmtool (stopped after 900 s) with its virtio-net on the TAP (tapif:
# it configures nothing on it; no script), its own back-end (vhost off, its
# default), the serial console; the same kernel as a bzImage (kvmtool loads
# no ELF kernels). Its command line (--nodefaults) is bench/lib.sh's
# LKVM_APPEND with the guest's address. Its sockets go under $HOME/.lkvm.
lkvm() {
	timeout -k 5 900 env HOME="$tmp" "$LKVM" run --nodefaults -k "$G/vmlinuz" -i "$tmp/initrd.gz" -c 1 -m 512 \
		--console serial -n mode=tap,tapif=tap0 \
		-p "$LKVM_APPEND ember.ip=$GUEST_IP/16 -- sh -c \"$GCMD; reboot -f\""
}

# The VF's guest: the lab's generic kernel with igbvf (the cloud kernel has
# none), the same initramfs and command.
ember_vf() {
	timeout -k 5 900 build/ember --kernel "$VKERNEL" --initrd "$VINITRD" --cpus 1 --mem 512 \
		--console stdio --vfio "$VF" --cmdline "ember.ip=$GUEST_IP/16" -- sh -c "$GCMD"
}
qemu_vf() {
	timeout -k 5 900 qemu-system-x86_64 -M microvm,pcie=on,rtc=on -enable-kvm -cpu host -m 512 -smp 1 \
		-name bench,debug-threads=on -nodefaults -no-user-config -nographic -no-reboot -serial stdio \
		-kernel "$VKERNEL" -initrd "$VINITRD" -append "$APPEND" -device "vfio-pci,host=$VF"
}

QV=$(qemu_version)
for _ in $(seq 1 "$ROUNDS"); do
	run ember tap ember
	[ -z "${BENCH_NET_BASE:-}" ] || EMBER_BIN=$BENCH_NET_BASE run "ember (BENCH_NET_BASE)" tap ember
	run "ember --seccomp off" tap ember --seccomp off # without filters: what they cost
	run "QEMU $QV virtio-net-pci, vhost=off" tap qemu off
	run "QEMU virtio-net-pci, vhost=on" tap qemu on
	[ -z "$LKVM" ] || run "kvmtool $LKVM_VERSION virtio-net (its own back-end)" tap lkvm
	if [ -n "$VF" ]; then
		run "ember --vfio (igb VF, generic kernel)" vf ember_vf
		run "QEMU $QV vfio-pci (igb VF, generic kernel)" vf qemu_vf
	fi
done

echo "| VMM (iperf3 one TCP stream ${SECS} s each way, 20 pings, in the lab; median of $ROUNDS rounds (lowest-highest)) | host->guest (Mbit/s) | guest->host (Mbit/s) | ping RTT avg (ms) | VMM's host CPU per MiB moved (ms) | of it outside the vCPU threads (ms) |"
echo "|---|---:|---:|---:|---:|---:|"
while read -r name; do
	f=$(row_file row "$name")
	echo "| $name | $(median "$f" 1)$(spread "$f" 1) | $(median "$f" 2)$(spread "$f" 2) | $(median "$f" 3)$(spread "$f" 3) | $(median "$f" 4)$(spread "$f" 4) | $(median "$f" 5)$(spread "$f" 5) |"
done <"$tmp/rows"

# ember's rows: its counters (SIGUSR1) before and after each iperf3 run.
if ls "$tmp"/batch.* >/dev/null 2>&1; then
	echo
	echo "| ember: frames per TX kick (its NIC counters; median of $ROUNDS rounds (lowest-highest)) | guest->host (the data) | host->guest (the guest's ACKs) |"
	echo "|---|---:|---:|"
	while read -r name; do
		f=$(row_file batch "$name")
		[ -s "$f" ] || continue
		echo "| $name | $(median "$f" 1)$(spread "$f" 1) | $(median "$f" 2)$(spread "$f" 2) |"
	done <"$tmp/rows"
fi
