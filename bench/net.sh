#!/usr/bin/env bash
# bench/net.sh: virtio-net throughput and latency of ember and of QEMU's
# virtio-net-pci (-M microvm,pcie=on) on a TAP with vhost off and on, each
# booting the same guest in turn, inside a network namespace of its own with
# link-local addresses only. Per VMM: TCP host->guest (the host sends SIZE
# MiB to busybox nc in the guest), TCP guest->host (busybox nc -e cat of a
# SIZE MiB file to the host), both timed on the host from connect/accept to
# the end of the stream, and the host's ping RTT to the guest (20 pings).
# Prints a Markdown table. Needs root, a Linux-capable KVM, /dev/net/tun and
# /dev/vhost-net: bench/run runs it inside the lab.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
if [ -z "${EMBER_NET_NETNS:-}" ]; then
	EMBER_NET_NETNS=1 exec unshare -n bash "$0" "$@"
fi
SIZE=${BENCH_NET_MB:-32}
G=build/guest
XFER=tests/net/xfer.py
HOST_IP=169.254.1.1
GUEST_IP=169.254.1.2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ip link set lo up
head -c "${SIZE}M" /dev/urandom >"$tmp/data"
bytes=$((SIZE << 20))
# The guest: receive from the host, send to the host, then wait for the pings.
GCMD="nc -l -p 5000 >/dev/null; head -c $bytes /dev/zero >/tmp/d; nc $HOST_IP 5001 -e cat /tmp/d; echo bench-pings; nc -l -p 7000 >/dev/null"
APPEND="console=ttyS0 reboot=k panic=-1 quiet ember.ip=$GUEST_IP/16 -- sh -c \"$GCMD\""

tap_up() {
	ip link del tap0 2>/dev/null
	ip tuntap add dev tap0 mode tap vnet_hdr && ip addr add $HOST_IP/16 dev tap0 && ip link set tap0 up
}

# run NAME CMD...: boot the VMM, measure, print one table row.
run() {
	local name=$1
	shift
	tap_up || { echo "bench: no tap" >&2; return 1; }
	timeout 600 python3 $XFER recv $HOST_IP 5001 $bytes >"$tmp/recv" &
	local rpid=$!
	timeout 900 "$@" >"$tmp/vm.out" 2>&1 </dev/null &
	local vpid=$!
	timeout 600 python3 $XFER send $GUEST_IP 5000 "$tmp/data" >"$tmp/send" || echo "bench: $name: send failed" >&2
	wait $rpid || echo "bench: $name: receive failed" >&2
	local _
	for _ in $(seq 1 600); do
		grep -q bench-pings "$tmp/vm.out" && break
		sleep 0.1
	done
	ping -c 20 -i 0.2 -W 5 $GUEST_IP >"$tmp/ping" 2>&1
	timeout 130 python3 $XFER poke $GUEST_IP 7000
	wait $vpid
	local tin tout rtt
	tin=$(awk -v b=$bytes '/^sent/ {printf "%.1f", b * 8 / $4 / 1e6}' "$tmp/send")
	tout=$(awk -v b=$bytes '/^received in/ {printf "%.1f", b * 8 / $3 / 1e6}' "$tmp/recv")
	rtt=$(awk -F/ '/^rtt|^round-trip/ {printf "%.3f", $5}' "$tmp/ping")
	echo "| $name | ${tin:-failed} | ${tout:-failed} | ${rtt:-failed} |"
}

QEMU=(qemu-system-x86_64 -M microvm,pcie=on,rtc=on -enable-kvm -cpu host -m 512 -smp 1
	-nodefaults -no-user-config -nographic -no-reboot -serial stdio
	-kernel "$G/vmlinux" -initrd "$G/initramfs.cpio.gz" -append "$APPEND")
qnet() { echo "-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=$1 -device virtio-net-pci,netdev=n0"; }

echo "| VMM (virtio-net on a TAP, $SIZE MiB TCP each way, in the lab) | host->guest (Mbit/s) | guest->host (Mbit/s) | ping RTT avg (ms) |"
echo "|---|---:|---:|---:|"
EMBER=(--kernel "$G/vmlinux" --initrd "$G/initramfs.cpio.gz" --cpus 1 --mem 512 \
	--console stdio --net tap=tap0 --cmdline "ember.ip=$GUEST_IP/16" -- sh -c "$GCMD")
run ember build/ember "${EMBER[@]}"
run "ember --seccomp off" build/ember --seccomp off "${EMBER[@]}" # without filters: what they cost
# shellcheck disable=SC2046
run "QEMU $(qemu-system-x86_64 --version | awk 'NR==1{print $4}') virtio-net-pci, vhost=off" "${QEMU[@]}" $(qnet off)
# shellcheck disable=SC2046
run "QEMU virtio-net-pci, vhost=on" "${QEMU[@]}" $(qnet on)
