#!/usr/bin/env bash
# tests/core/pause.sh: the VM's pause and resume (vm_pause/vm_resume, driven
# through the test build's signals: SIGRTMIN pauses, SIGRTMIN+1 resumes) on a
# Linux guest in the middle of a 64 MiB disk write and a 64 MiB TCP transfer
# to the host: 20 pauses, the first of them 30 s long, during which no vCPU
# enters KVM_RUN; afterwards the bytes on the disk and at the host match the
# guest's sha256, and the guest's kernel log has no soft lock-up or RCU stall
# (KVM_KVMCLOCK_CTRL told it about the pause). The guest's soft-lockup
# threshold is 20 s (watchdog_thresh=10), so the long pause would be reported
# without KVM_KVMCLOCK_CTRL, while a stall of the lab itself (QEMU's TCG can
# stop for up to ~14 s, tests/lab/README.md) is not; its RCU-stall timeout is
# 60 s, so that only the soft-lockup check (which takes the pause flag from
# kvmclock first) judges the long pause. Runs as root in a network
# namespace of its own with link-local addresses. Needs a KVM that can boot
# Linux: run it inside the lab (tests/lab/run).
cd "$(dirname "$0")/../.." || exit 1
. tests/net/netns.sh
EMBER=${EMBER_TESTHOOKS:-build/tests/ember-testhooks}

# The guest makes 64 MiB of random data in RAM, then writes it to /dev/vda
# (O_DIRECT, then sync) and sends it to the host at the same time; then it
# waits until the host, done pausing it, connects to port 7000, and prints
# what its kernel log says about lock-ups and
# stalls (the brackets keep the pattern from matching the command line,
# which is in the log too).
# (One line, no double quotes: it travels on the kernel command line.)
GUEST_CMD="head -c 67108864 /dev/urandom >/tmp/d; sha256sum /tmp/d; echo xfer-start; \
(dd if=/tmp/d of=/dev/vda bs=1M oflag=direct 2>/dev/null && sync && echo disk-done) & \
nc $HOST_IP 5001 -e cat /tmp/d && while grep -q ':1389 0[14B] ' /proc/net/tcp; do sleep 0.2; done; \
echo net-done; wait; echo guest-waiting; nc -l -p 7000 >/dev/null; \
dmesg | grep -iE 'soft [l]ockup|self-detected [s]tall|detected [s]talls|blocked for more [t]han' | sed 's/^/klog: /'; \
echo lockups=\$(dmesg | grep -ciE 'soft [l]ockup|self-detected [s]tall|detected [s]talls|blocked for more [t]han')"

t_pause_during_disk_and_net_io() {
	ip tuntap add dev tap0 mode tap && ip addr add $HOST_IP/16 dev tap0 && ip link set tap0 up || return 1
	local bytes=$((64 << 20)) out=$T_TMP/out err=$T_TMP/err pid rpid i a b
	truncate -s 128M "$T_TMP/disk.img"
	timeout 600 python3 $XFER recv $HOST_IP 5001 $bytes >"$T_TMP/recv" &
	rpid=$!
	wait_for '^listening' "$T_TMP/recv" $rpid || return 1
	: >"$out"
	: >"$err"
	"$EMBER" --kernel "$BZ" --initrd "$INITRD" --cpus 2 --mem 512 --disk "$T_TMP/disk.img" \
		--net tap=tap0 --cmdline "ember.ip=$GUEST_IP/16 watchdog_thresh=10 rcupdate.rcu_cpu_stall_timeout=60" -- sh -c "$GUEST_CMD" \
		>"$out" 2>"$err" </dev/null &
	pid=$!
	wait_for '^xfer-start' "$out" $pid || { kill -9 $pid $rpid; return 1; }
	# The first pause: 30 s, with both transfers under way.
	vm_pause $pid "$err" || { kill -9 $pid $rpid; return 1; }
	if tr -d '\r' <"$out" | grep -qE '^(disk|net)-done'; then
		echo "a transfer was over before the first pause"; kill -9 $pid $rpid; return 1
	fi
	usr1_line $pid "$err" || { kill -9 $pid $rpid; return 1; }
	a=$(kvm_runs "$err")
	sleep 30
	usr1_line $pid "$err" || { kill -9 $pid $rpid; return 1; }
	b=$(kvm_runs "$err")
	[ -n "$a" ] && [ "$a" = "$b" ] || { echo "vCPUs ran while paused: KVM_RUN $a -> $b"; kill -9 $pid $rpid; return 1; }
	vm_resume $pid "$err" || { kill -9 $pid $rpid; return 1; }
	# 19 more, short ones.
	for i in $(seq 2 20); do
		sleep 0.2
		vm_pause $pid "$err" || { kill -9 $pid $rpid; return 1; }
		sleep 0.1
		vm_resume $pid "$err" || { kill -9 $pid $rpid; return 1; }
	done
	grep -q '^{"vm":"paused","pauses":1,' "$err" || { echo "no vm line for the first pause"; kill -9 $pid $rpid; return 1; }
	wait_for '^guest-waiting' "$out" $pid || { kill -9 $pid $rpid; return 1; }
	timeout 130 python3 $XFER poke $GUEST_IP 7000 || { kill -9 $pid $rpid; return 1; }
	timeout 600 tail --pid=$pid -f /dev/null
	wait $pid || { echo "ember exit status $?"; tail -n 20 "$out" "$err"; kill $rpid; return 1; }
	wait $rpid || { echo "receiver failed"; cat "$T_TMP/recv"; return 1; }
	[ "$(grep -c '^ember: test hook: paused in' "$err")" = 20 ] || { cat "$err"; return 1; }
	local sum
	sum=$(tr -d '\r' <"$out" | awk '$2 == "/tmp/d" {print $1}')
	[ -n "$sum" ] || { echo "no guest checksum"; tail "$out"; return 1; }
	expect_grep '^disk-done' "$out" || return 1
	expect_grep '^net-done' "$out" || return 1
	expect_grep "^received $bytes sha256 $sum\$" "$T_TMP/recv" || return 1
	[ "$(head -c $bytes "$T_TMP/disk.img" | sha256sum | cut -d' ' -f1)" = "$sum" ] ||
		{ echo "the disk does not hold what the guest wrote"; return 1; }
	expect_grep '^lockups=0' "$out"
}

t_run_all core
