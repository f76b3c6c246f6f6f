#!/usr/bin/env bash
# tests/net/net.sh: virtio-net NICs (--net) on TAP devices: ping both ways,
# 64 MiB over TCP each way with matching sha256 sums, two NICs, MTU 9000, a
# guest that stops taking frames while the host floods it (ember survives,
# traffic recovers), a TAP deleted under the running guest (link down, ember
# keeps running), the SIGUSR1 counters, two queue pairs (also with the
# driver's pair count handled in DRIVER_OK's turn), a TAP ember creates,
# and the guest's address and default route from ember.ip/ember.gw and the
# kernel's ip= form, and a guest using one of two queue pairs (the others'
# TAP queues detached). Runs as root in a network
# namespace of its own (it re-executes itself under `unshare -n`), with
# link-local addresses (169.254.0.0/16) only. Needs a KVM that can boot
# Linux: run it inside the lab (tests/lab/run).
cd "$(dirname "$0")/../.." || exit 1
. tests/net/netns.sh

# tap_up NAME ADDR/PREFIX [ip link options]: a fresh TAP with the host's address.
tap_up() {
	local name=$1 addr=$2
	shift 2
	ip link del "$name" 2>/dev/null
	ip tuntap add dev "$name" mode tap || return 1
	ip addr add "$addr" dev "$name" || return 1
	ip link set "$name" up "$@"
}

# ember built with test hooks (EMBER_TEST_NET_LATE, below).
HOOKS=${EMBER_TESTHOOKS:-build/tests/ember-testhooks}

# ember with the initramfs guest and one vCPU.
EMB=("$EMBER" --kernel "$BZ" --initrd "$INITRD" --cpus 1)

t_guest_pings_host() {
	tap_up tap0 $HOST_IP/16 || return 1
	expect_status 0 "${EMB[@]}" --net tap=tap0 --cmdline ember.ip=$GUEST_IP/16 \
		-- ping -c 2 -W 10 $HOST_IP || return 1
	expect_grep '2 packets received' "$T_OUT"
}
t_host_pings_guest_and_counters() {
	tap_up tap0 $HOST_IP/16 || return 1
	"${EMB[@]}" --net tap=tap0 --cmdline ember.ip=$GUEST_IP/16 \
		-- sh -c 'echo net-ready; nc -l -p 7000 >/dev/null; echo guest-done' \
		>"$T_TMP/out" 2>"$T_TMP/err" </dev/null &
	local pid=$!
	wait_for '^net-ready' "$T_TMP/out" $pid || { kill -KILL $pid; return 1; }
	if ! timeout 60 ping -c 3 -W 10 $GUEST_IP >"$T_TMP/ping"; then
		cat "$T_TMP/ping"; kill -KILL $pid; return 1
	fi
	grep -q '3 received' "$T_TMP/ping" || { cat "$T_TMP/ping"; kill -KILL $pid; return 1; }
	kill -USR1 $pid
	wait_for '^\{"device":"net0","tap":"tap0","mac":"52:54:[0-9a-f:]+","link":"up","rx_packets":[1-9][0-9]*,"rx_bytes":[1-9][0-9]*,"rx_drops":0,"tx_packets":[1-9][0-9]*,"tx_bytes":[1-9][0-9]*,"tx_drops":0,"rx_rate_limiter":\{"throttled":0,[^}]*\},"tx_rate_limiter":\{"throttled":0,[^}]*\},"events":\{"rx_queue":[1-9][0-9]*,"tx_queue":[1-9][0-9]*,"rx_tap":[1-9][0-9]*,"no_rx_avail_buffer":[0-9]+,"no_tx_avail_buffer":[0-9]+\}\}$' "$T_TMP/err" $pid ||
		{ kill -KILL $pid; return 1; }
	# then the queue state: both rings enabled, the RX read posted
	wait_for '^\{"device":"net0","active_pairs":1,"pairs":\[\{"pair":0,"off":false,"dead":false,"rx_inflight":true,.*"rx":\{"vq":0,"avail":[0-9]+,.*"tx":\{"vq":1,"avail":[0-9]+,.*"masked":false,"pending":false\}\}\]\}$' "$T_TMP/err" $pid ||
		{ kill -KILL $pid; return 1; }
	timeout 130 python3 $XFER poke $GUEST_IP 7000 || { kill -KILL $pid; return 1; }
	timeout 60 tail --pid=$pid -f /dev/null
	wait $pid
	local rc=$?
	[ $rc = 0 ] || { echo "ember exit status $rc"; tail "$T_TMP/out" "$T_TMP/err"; return 1; }
	expect_grep '^guest-done' "$T_TMP/out"
}

t_tcp_64m_host_to_guest() {
	tap_up tap0 $HOST_IP/16 || return 1
	head -c ${NET_XFER_MB:-64}M /dev/urandom >"$T_TMP/data"
	local sum
	sum=$(sha256sum <"$T_TMP/data" | cut -d' ' -f1)
	"${EMB[@]}" --net tap=tap0 --cmdline ember.ip=$GUEST_IP/16 \
		-- sh -c 'nc -l -p 5000 | sha256sum' >"$T_TMP/out" 2>&1 </dev/null &
	local pid=$!
	timeout 400 python3 $XFER send $GUEST_IP 5000 "$T_TMP/data" || { kill -KILL $pid; return 1; }
	timeout 60 tail --pid=$pid -f /dev/null
	wait $pid || { echo "ember exit status $?"; tail "$T_TMP/out"; return 1; }
	expect_grep "^$sum +-" "$T_TMP/out"
}

# busybox nc copies its stdin 1 KiB per write (one small segment per round
# trip); `-e cat` hands the socket to cat, which writes the file in big chunks.
# When cat is done, up to a few MB may still sit in the guest's socket buffer:
# the guest waits until its connection to port 5001 (0x1389) has left
# ESTABLISHED, FIN_WAIT1 and CLOSING (/proc/net/tcp states 01, 04, 0B), i.e.
# the host acknowledged every byte and the FIN, before its command ends and
# the VM powers off with the rest unsent.
t_tcp_64m_guest_to_host() {
	tap_up tap0 $HOST_IP/16 || return 1
	local bytes=$((${NET_XFER_MB:-64} << 20))
	timeout 400 python3 $XFER recv $HOST_IP 5001 $bytes >"$T_TMP/recv" &
	local rpid=$!
	wait_for '^listening' "$T_TMP/recv" $rpid || return 1
	expect_status 0 "${EMB[@]}" --mem 512 --net tap=tap0 --cmdline ember.ip=$GUEST_IP/16 \
		-- sh -c "head -c $bytes /dev/urandom >/tmp/d && sha256sum /tmp/d && nc $HOST_IP 5001 -e cat /tmp/d && while grep -q ':1389 0[14B] ' /proc/net/tcp; do sleep 0.2; done" ||
		{ kill $rpid; return 1; }
	wait $rpid || { echo "receiver failed"; cat "$T_TMP/recv"; return 1; }
	local sum
	sum=$(tr -d '\r' <"$T_OUT" | awk '$2 == "/tmp/d" {print $1}')
	[ -n "$sum" ] || { echo "no guest checksum"; tail "$T_OUT"; return 1; }
	expect_grep "^received $bytes sha256 $sum\$" "$T_TMP/recv"
}

t_two_nics() {
	tap_up tap0 169.254.1.1/24 || return 1
	tap_up tap1 169.254.2.1/24 || return 1
	expect_status 0 "${EMB[@]}" --net tap=tap0 --net tap=tap1,mac=52:54:00:00:01:02 \
		--cmdline "ember.ip=169.254.1.2/24 ember.ip1=169.254.2.2/24" \
		-- sh -c 'ping -c 1 -W 10 169.254.1.1 && ping -c 1 -W 10 169.254.2.1 && echo eth0=$(cat /sys/class/net/eth0/address) eth1=$(cat /sys/class/net/eth1/address)' || return 1
	expect_grep '^eth0=52:54:[0-9a-f:]{11} eth1=52:54:00:00:01:02$' "$T_OUT" || return 1
	[ "$(tr -d '\r' <"$T_OUT" | grep -c ' 1 packets received')" = 2 ] || { cat "$T_OUT"; return 1; }
}

t_mtu_9000() {
	tap_up tap0 $HOST_IP/16 || return 1
	"${EMB[@]}" --net tap=tap0,mtu=9000 --cmdline ember.ip=$GUEST_IP/16 \
		-- sh -c 'echo mtu=$(cat /sys/class/net/eth0/mtu); ping -c 1 -s 8972 -W 10 '$HOST_IP' && echo net-ready; nc -l -p 7000 >/dev/null' \
		>"$T_TMP/out" 2>&1 </dev/null &
	local pid=$!
	wait_for '^net-ready' "$T_TMP/out" $pid || { kill -KILL $pid; return 1; }
	# (this network namespace's devices are not in the lab's /sys: ask ip)
	ip -o link show tap0 | grep -q ' mtu 9000 ' || { echo "tap MTU not 9000"; kill -KILL $pid; return 1; }
	# 9000-byte IP packets, not fragmented, both ways.
	timeout 60 ping -M do -s 8972 -c 2 -W 10 $GUEST_IP >"$T_TMP/ping" ||
		{ cat "$T_TMP/ping"; kill -KILL $pid; return 1; }
	timeout 130 python3 $XFER poke $GUEST_IP 7000 || { kill -KILL $pid; return 1; }
	timeout 60 tail --pid=$pid -f /dev/null
	wait $pid || { echo "ember exit status $?"; return 1; }
	expect_grep '^mtu=9000' "$T_TMP/out"
}

# The guest takes eth0 down (its RX buffers are used up and not refilled),
# the host floods it for a while; then the guest brings eth0 up and pings.
# The handshake goes through the guest console's input (a pipe).
stall_feeder() {
	local _
	for _ in $(seq 1 1200); do
		tr -d '\r' <"$T_TMP/stall.out" 2>/dev/null | grep -q '^link-is-down' && break
		[ -e "$T_TMP/stall.done" ] && return
		sleep 0.1
	done
	ip neigh replace $GUEST_IP lladdr 52:54:00:00:00:02 dev tap0 nud permanent
	timeout 60 python3 $XFER flood $GUEST_IP 9 20000 1400 20 >"$T_TMP/flood" 2>&1
	ip -s -s link show tap0 >"$T_TMP/tap_stats"
	awk '/TX:/ {getline; print $4; exit}' "$T_TMP/tap_stats" >"$T_TMP/tap_drops"
	echo go
}

t_rx_stall_recovers() {
	tap_up tap0 $HOST_IP/16 || return 1
	: >"$T_TMP/stall.out"
	stall_feeder | timeout -k 10 300 "${EMB[@]}" --net tap=tap0,mac=52:54:00:00:00:02 \
		--cmdline ember.ip=$GUEST_IP/16 \
		-- sh -c "ip link set eth0 down && echo link-is-down; read x; ip link set eth0 up; ping -c 2 -W 10 $HOST_IP && echo recovered" \
		>"$T_TMP/stall.out" 2>&1
	local rc=${PIPESTATUS[1]}
	touch "$T_TMP/stall.done"
	[ "$rc" = 0 ] || { echo "exit status $rc"; tail -n 30 "$T_TMP/stall.out"; return 1; }
	cat "$T_TMP/flood"
	expect_grep '^recovered' "$T_TMP/stall.out" || return 1
	# ember stopped reading the TAP: the kernel dropped what did not fit.
	[ "$(cat "$T_TMP/tap_drops")" -gt 0 ] || { echo "TAP dropped nothing"; cat "$T_TMP/tap_stats"; return 1; }
}

tapdel_feeder() {
	local _
	for _ in $(seq 1 1200); do
		tr -d '\r' <"$T_TMP/del.out" 2>/dev/null | grep -q '^net-ready' && break
		[ -e "$T_TMP/del.done" ] && return
		sleep 0.1
	done
	ip link del tap0
	echo go
}

t_tap_deleted_link_down() {
	tap_up tap0 $HOST_IP/16 || return 1
	: >"$T_TMP/del.out"
	tapdel_feeder | timeout -k 10 300 "${EMB[@]}" --net tap=tap0 --cmdline ember.ip=$GUEST_IP/16 \
		-- sh -c 'echo net-ready; read x; for i in $(seq 300); do grep -qx 0 /sys/class/net/eth0/carrier && echo carrier-lost && exit 0; sleep 0.1; done; exit 9' \
		>"$T_TMP/del.out" 2>&1
	local rc=${PIPESTATUS[1]}
	touch "$T_TMP/del.done"
	[ "$rc" = 0 ] || { echo "exit status $rc"; tail -n 30 "$T_TMP/del.out"; return 1; }
	expect_grep '^carrier-lost' "$T_TMP/del.out" || return 1
	expect_grep 'tap=tap0: the TAP failed; link down' "$T_TMP/del.out"
}

# A TAP that does not exist: ember creates it (not persistent: it goes away
# with ember); the host configures it while the guest runs.
t_ember_creates_missing_tap() {
	ip link del embtap0 2>/dev/null
	"${EMB[@]}" --net tap=embtap0 --cmdline ember.ip=$GUEST_IP/16 \
		-- sh -c 'echo net-ready; nc -l -p 7000 >/dev/null; echo guest-done' \
		>"$T_TMP/out" 2>&1 </dev/null &
	local pid=$!
	wait_for '^net-ready' "$T_TMP/out" $pid || { kill -KILL $pid; return 1; }
	if ! ip addr add $HOST_IP/16 dev embtap0 || ! ip link set embtap0 up; then
		echo "no TAP embtap0"; kill -KILL $pid; return 1
	fi
	timeout 60 ping -c 2 -W 10 $GUEST_IP >"$T_TMP/ping" || { cat "$T_TMP/ping"; kill -KILL $pid; return 1; }
	timeout 130 python3 $XFER poke $GUEST_IP 7000 || { kill -KILL $pid; return 1; }
	timeout 60 tail --pid=$pid -f /dev/null
	wait $pid || { echo "ember exit status $?"; tail "$T_TMP/out"; return 1; }
	expect_grep '^guest-done' "$T_TMP/out" || return 1
	if ip link show embtap0 >/dev/null 2>&1; then
		echo "embtap0 outlived ember"
		return 1
	fi
}

t_gateway_and_kernel_ip_form() {
	tap_up tap0 $HOST_IP/16 || return 1
	expect_status 0 "${EMB[@]}" --net tap=tap0 --cmdline "ember.ip=$GUEST_IP/16 ember.gw=$HOST_IP" \
		-- sh -c "ip route; ping -c 1 -W 10 $HOST_IP" || return 1
	expect_grep "^default via $HOST_IP dev eth0" "$T_OUT" || return 1
	expect_grep ' 1 packets received' "$T_OUT" || return 1
	expect_status 0 "${EMB[@]}" --net tap=tap0 --cmdline "ip=$GUEST_IP::$HOST_IP:255.255.0.0::eth0:off" \
		-- sh -c "ip addr show eth0; ip route; ping -c 1 -W 10 $HOST_IP" || return 1
	expect_grep "inet $GUEST_IP/16 " "$T_OUT" || return 1
	expect_grep "^default via $HOST_IP dev eth0" "$T_OUT" || return 1
	expect_grep ' 1 packets received' "$T_OUT"
}

# tap_queues: the queues the TAP has attached, as the kernel counts them
# (/sys of this network namespace, mounted in a mount namespace of its own).
tap_queues() {
	unshare -m sh -c 'mount -t sysfs sysfs /sys && ls /sys/class/net/tap0/queues' | tr '\n' ' '
}

# mq_tap_up: a fresh multi-queue tap0 with the host's address.
mq_tap_up() {
	ip link del tap0 2>/dev/null
	ip tuntap add dev tap0 mode tap multi_queue || return 1
	ip addr add $HOST_IP/16 dev tap0 && ip link set tap0 up
}

# Two vCPUs, two queue pairs.
# The driver asks for both pairs (VQ_PAIRS_SET 2): ember serves one from
# DRIVER_OK until then, with TAP queue 1 detached, then attaches it again.
t_two_queue_pairs() {
	mq_tap_up || return 1
	"${EMB[@]}" --cpus 2 --net tap=tap0,queues=2 --cmdline ember.ip=$GUEST_IP/16 \
		-- sh -c "ls /sys/class/net/eth0/queues | tr '\n' ' '; echo; ping -c 2 -W 10 $HOST_IP; echo net-ready; nc -l -p 7000 >/dev/null; echo tail-line" \
		>"$T_TMP/out" 2>&1 </dev/null &
	local pid=$!
	wait_for '^net-ready' "$T_TMP/out" $pid || { kill -KILL $pid; return 1; }
	local q
	q=$(tap_queues)
	timeout 130 python3 $XFER poke $GUEST_IP 7000 || { kill -KILL $pid; return 1; }
	timeout 60 tail --pid=$pid -f /dev/null
	wait $pid || { echo "ember exit status $?"; tail "$T_TMP/out"; return 1; }
	expect_grep '^rx-0 rx-1 tx-0 tx-1 $' "$T_TMP/out" || return 1
	expect_grep '2 packets received' "$T_TMP/out" || return 1
	[ "$q" = "rx-0 rx-1 tx-0 tx-1 " ] || { echo "TAP queues while the guest ran: '$q'"; return 1; }
}

# The same with DRIVER_OK's kicks and the driver's VQ_PAIRS_SET 2 handled in
# one turn of the I/O thread (a test build's takes 200 ms to start a turn:
# EMBER_TEST_NET_LATE): DRIVER_OK serves one pair, VQ_PAIRS_SET finds the TAP
# queues as they were (all attached) and must still serve both pairs again.
t_two_queue_pairs_set_in_activation_turn() {
	mq_tap_up || return 1
	EMBER_TEST_NET_LATE=200 "$HOOKS" --kernel "$BZ" --initrd "$INITRD" --cpus 2 \
		--net tap=tap0,queues=2 --cmdline ember.ip=$GUEST_IP/16 \
		-- sh -c "ping -c 2 -W 10 $HOST_IP; echo net-ready; nc -l -p 7000 >/dev/null; echo tail-line" \
		>"$T_TMP/out" 2>"$T_TMP/err" </dev/null &
	local pid=$!
	wait_for '^net-ready' "$T_TMP/out" $pid || { kill -KILL $pid; return 1; }
	kill -USR1 $pid
	wait_for '^\{"device":"net0","active_pairs":' "$T_TMP/err" $pid || { kill -KILL $pid; return 1; }
	timeout 130 python3 $XFER poke $GUEST_IP 7000 || { kill -KILL $pid; return 1; }
	timeout 60 tail --pid=$pid -f /dev/null
	wait $pid || { echo "ember exit status $?"; tail "$T_TMP/out"; return 1; }
	expect_grep '^\{"device":"net0","active_pairs":2,"pairs":\[\{"pair":0,"off":false,.*\{"pair":1,"off":false,"dead":false,' "$T_TMP/err" || return 1
	expect_grep '2 packets received' "$T_TMP/out"
}

# One vCPU, two queue pairs offered: the driver uses one (VQ_PAIRS_SET 1), so
# ember detaches TAP queue 1 and the kernel steers every flow to queue 0:
# several TCP connections (each hashed on its own ports) all get through.
t_queue_pairs_set_to_one() {
	mq_tap_up || return 1
	"${EMB[@]}" --cpus 1 --net tap=tap0,queues=2 --cmdline ember.ip=$GUEST_IP/16 \
		-- sh -c "ls /sys/class/net/eth0/queues | tr '\n' ' '; echo; for p in 7001 7002 7003 7004 7005 7006 7007 7008; do nc -l -p \$p >/dev/null & done; echo net-ready; nc -l -p 7000 >/dev/null; wait; echo guest-done" \
		>"$T_TMP/out" 2>&1 </dev/null &
	local pid=$!
	wait_for '^net-ready' "$T_TMP/out" $pid || { kill -KILL $pid; return 1; }
	local q p
	q=$(tap_queues)
	[ "$q" = "rx-0 tx-0 " ] || { echo "TAP queues: '$q', want only queue 0 attached"; kill -KILL $pid; return 1; }
	for p in 7001 7002 7003 7004 7005 7006 7007 7008 7000; do
		timeout 60 python3 $XFER poke $GUEST_IP $p || { echo "port $p unreachable"; kill -KILL $pid; return 1; }
	done
	timeout 60 tail --pid=$pid -f /dev/null
	wait $pid || { echo "ember exit status $?"; tail "$T_TMP/out"; return 1; }
	expect_grep '^rx-0 tx-0 $' "$T_TMP/out" || return 1
	expect_grep '^guest-done' "$T_TMP/out"
}

# NET_TESTS=REGEX runs only the matching tests.
t_run_all net "${NET_TESTS:-}"
