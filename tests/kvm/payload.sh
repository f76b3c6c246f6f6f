#!/usr/bin/env bash
# tests/kvm/payload.sh: ember on tiny guest payloads (no Linux): the exit-status
# port, a triple fault, a missing /dev/kvm. Needs a /dev/kvm that can run a few
# instructions: natively where it exists, otherwise inside the lab.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
EMBER=${EMBER:-build/ember}

payload() { build/tests/mkpayload "$1" "$T_TMP/p-$1.elf" && echo "$T_TMP/p-$1.elf"; }

t_exit_status_0() { expect_status 0 "$EMBER" --kernel "$(payload 0)"; }
t_exit_status_42() { expect_status 42 "$EMBER" --kernel "$(payload 42)"; }
t_exit_status_255() { expect_status 255 "$EMBER" --kernel "$(payload 255)"; }
t_exit_status_smp() { expect_status 7 "$EMBER" --cpus 4 --kernel "$(payload 7)"; }
t_exit_status_kernel_irqchip() { expect_status 6 "$EMBER" --irqchip kernel --cpus 2 --kernel "$(payload 6)"; }
t_exit_status_32_cpus() { expect_status 5 "$EMBER" --cpus 32 --kernel "$(payload 5)"; }
t_guest_memory_not_touched() {
	# 3.5 GiB of guest RAM, but ember's resident set stays small.
	local out us kb st
	out=$(build/bench/runstat "$EMBER" --mem 3584 --kernel "$(payload 3)")
	read -r us kb st _ <<<"$out"
	[ "$st" = 3 ] || { echo "exit status $st"; return 1; }
	[ "$kb" -lt 16384 ] || { echo "max RSS $kb KiB for a 3.5 GiB guest"; return 1; }
}
t_terminal_restored() {
	# On a terminal ember switches to raw mode; every exit path restores it.
	local p=$(payload 4) c=$(payload crash)
	timeout -k 5 120 script -qec "stty -g >$T_TMP/before; $EMBER --kernel $p; echo \$? >$T_TMP/rc1;
		$EMBER --kernel $c 2>/dev/null; echo \$? >$T_TMP/rc2; stty -g >$T_TMP/after" /dev/null \
		>/dev/null </dev/null || { echo "script failed or timed out"; return 1; }
	[ "$(cat "$T_TMP/rc1")" = 4 ] && [ "$(cat "$T_TMP/rc2")" = 70 ] || { echo "statuses $(cat "$T_TMP"/rc*)"; return 1; }
	[ -s "$T_TMP/before" ] && cmp "$T_TMP/before" "$T_TMP/after"
}
# A bzImage around payload 42 whose own code exits 9 (tests/kvm/mkbzimage.py):
# ember unpacks its kernel (42) unless told not to or unable to (9). XZ only
# with --kernel-unpack all (by default the guest decompresses it).
bzimage() { tests/kvm/mkbzimage.py "$1" "$(payload 42)" "$T_TMP/bz-$1" 9 && echo "$T_TMP/bz-$1"; }
t_bzimage_unpacked() {
	local f bz mode
	for f in lz4 xz zstd gzip; do
		bz=$(bzimage $f) || return 1
		mode=auto
		[ $f != xz ] || mode=all
		expect_status 42 "$EMBER" --kernel "$bz" --kernel-unpack $mode --log-path "$T_TMP/$f.log" || return 1
		expect_grep "booting the bzImage's vmlinux through PVH" "$T_TMP/$f.log" || return 1
		expect_empty "$T_ERR" || return 1
	done
	expect_status 9 "$EMBER" --kernel "$T_TMP/bz-xz" --log-path "$T_TMP/xz-auto.log" || return 1
	expect_grep "as it is: its payload is XZ, which the guest decompresses as fast" "$T_TMP/xz-auto.log"
}
# An XZ bzImage in a cache --fill-kernel-cache filled: a boot with the
# default (auto), which leaves XZ to the guest, reads its vmlinux from there.
t_bzimage_xz_from_filled_cache() {
	local bz
	bz=$(bzimage xz) || return 1
	expect_status 0 "$EMBER" --kernel "$bz" --kernel-cache "$T_TMP/kc" --fill-kernel-cache || return 1
	expect_status 42 "$EMBER" --kernel "$bz" --kernel-cache "$T_TMP/kc" --log-path "$T_TMP/log" || return 1
	expect_grep "booting the bzImage's vmlinux through PVH \(unpacked before, read from the kernel cache" "$T_TMP/log"
}
t_bzimage_unpack_off() {
	local bz
	bz=$(bzimage xz) || return 1
	expect_status 9 "$EMBER" --kernel "$bz" --kernel-unpack off --log-path "$T_TMP/log" || return 1
	expect_grep "booting the bzImage as it is \(--kernel-unpack off\)" "$T_TMP/log"
}
# No PVH note, or a corrupt payload: the bzImage is booted as it is, silently
# (the reason is an info line in the log file, nothing on stderr).
t_bzimage_falls_back() {
	local bz=$T_TMP/bz-nopvh
	build/tests/nopvh "$(payload 42)" "$T_TMP/nopvh.elf" &&
		tests/kvm/mkbzimage.py gzip "$T_TMP/nopvh.elf" "$bz" 9 || return 1
	expect_status 9 "$EMBER" --kernel "$bz" --log-path "$T_TMP/log1" || return 1
	expect_grep "as it is: the gzip payload's vmlinux has no PVH entry note" "$T_TMP/log1" || return 1
	expect_empty "$T_ERR" || return 1
	bz=$(bzimage xz) || return 1
	printf '\x55' | dd of="$bz" bs=1 seek=$((5 * 512 + 0x400 + 40)) conv=notrunc status=none
	expect_status 9 "$EMBER" --kernel "$bz" --kernel-unpack all --log-path "$T_TMP/log2" || return 1
	expect_grep "as it is: the payload does not decompress: XZ" "$T_TMP/log2" || return 1
	expect_empty "$T_ERR"
}
# The Debian cloud bzImage (make guest): ember unpacks its LZ4 payload and
# builds the VM for the PVH entry (no kernel cache: the unpacking is what is
# checked), or with --kernel-unpack off the bzImage's.
# Only the path is checked (this host's KVM may not boot Linux): stopped once
# the VM started.
t_debian_bzimage_path() {
	local k=${EMBER_GUEST:-build/guest}/vmlinuz mode want pid
	[ -f "$k" ] || { echo "$k missing: make guest"; return 1; }
	for mode in auto off; do
		want="booting the bzImage's vmlinux through PVH \(unpacked by ember in [0-9]+ ms\)"
		[ $mode = auto ] || want="booting the bzImage as it is \(--kernel-unpack off\)"
		: >"$T_TMP/$mode.log"
		"$EMBER" --kernel "$k" --kernel-unpack $mode --kernel-cache off --console none \
			--log-path "$T_TMP/$mode.log" --level debug </dev/null >"$T_TMP/$mode.err" 2>&1 &
		pid=$!
		wait_for "VM started" "$T_TMP/$mode.log" $pid || { kill -9 $pid; return 1; }
		kill -TERM $pid
		wait $pid
		expect_grep "$want" "$T_TMP/$mode.log" || return 1
		# At level debug: each start-up phase's end, in order, before
		# "VM started".
		local phases
		phases=$(sed -n 's/.*start-up: \(.*\) at [0-9]*\.[0-9]* ms$/\1/p; /VM started/p' \
			"$T_TMP/$mode.log" | sed 's/.*VM started/VM started/' | paste -sd/)
		[ "$phases" = "files opened, seccomp set up/VM created/kernel and initrd loaded/vCPUs created/devices started/vCPUs running/VM started" ] ||
			{ echo "start-up phases in the log: $phases"; return 1; }
	done
}
# stopped_by SIGNAL STATUS: a running VM, stopped by SIGNAL, makes ember exit STATUS.
stopped_by() {
	# Empty the files first: the background shell truncates them only once it
	# runs, and the loop below must not read the previous test's output.
	: >"$T_TMP/sig.out"
	: >"$T_TMP/sig.err"
	"$EMBER" --boot-time --kernel "$(payload spin)" >"$T_TMP/sig.out" 2>"$T_TMP/sig.err" </dev/null &
	local pid=$! i rc
	for i in $(seq 1 300); do # wait (bounded) until the guest runs
		grep -q 'guest userspace started' "$T_TMP/sig.err" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	expect_grep 'guest userspace started' "$T_TMP/sig.err" || { kill -9 $pid; return 1; }
	kill -"$1" $pid
	wait $pid
	rc=$?
	[ $rc = "$2" ] || { echo "exit status $rc after SIG$1, want $2"; cat "$T_TMP/sig.err"; return 1; }
}
t_sigint() { stopped_by INT 130; }
t_sigterm() { stopped_by TERM 143; }
t_sighup() { stopped_by HUP 129; }
t_exit_status_high_mem() { expect_status 9 "$EMBER" --mem 3584 --kernel "$(payload 9)"; }
t_triple_fault() {
	expect_status 70 "$EMBER" --kernel "$(payload crash)" || return 1
	expect_grep "^ember: vCPU 0: triple fault" "$T_ERR" || return 1
	# AMD resets the vCPU on shutdown, so only the dump itself is checked.
	expect_grep "^  rip [0-9a-f]{16} rsp" "$T_ERR"
}
# The VM's pause (test builds: SIGRTMIN pauses, SIGRTMIN+1 resumes): on a
# spinning guest every vCPU leaves KVM_RUN and makes no other call while
# paused, a second pause changes nothing, resuming runs the vCPUs again, and
# a paused VM still stops cleanly on SIGTERM.
t_pause_resume() {
	local err=$T_TMP/pause.err pid a b c rc
	: >"$err"
	build/tests/ember-testhooks --cpus 2 --boot-time --kernel "$(payload spin)" >/dev/null 2>"$err" </dev/null &
	pid=$!
	wait_for 'guest userspace started' "$err" $pid || { kill -9 $pid; return 1; }
	vm_pause $pid "$err" || { kill -9 $pid; return 1; }
	usr1_line $pid "$err" || { kill -9 $pid; return 1; }
	expect_grep '^\{"vm":"paused","pauses":1,"vcpus":\[\{"vcpu":0,"kvm_runs":[0-9]+\},\{"vcpu":1,"kvm_runs":[0-9]+\}\]\}$' "$err" || { kill -9 $pid; return 1; }
	a=$(kvm_runs "$err")
	sleep 1
	vm_pause $pid "$err" || { kill -9 $pid; return 1; } # a second pause: nothing changes
	usr1_line $pid "$err" || { kill -9 $pid; return 1; }
	b=$(kvm_runs "$err")
	[ -n "$a" ] && [ "$a" = "$b" ] || { echo "KVM_RUN counts moved while paused: $a -> $b"; kill -9 $pid; return 1; }
	grep '^{"vm":' "$err" | tail -n1 | grep -q '"pauses":1,' || { echo "a second pause counted"; kill -9 $pid; return 1; }
	vm_resume $pid "$err" || { kill -9 $pid; return 1; }
	usr1_line $pid "$err" || { kill -9 $pid; return 1; }
	expect_grep '^\{"vm":"running","pauses":1,' "$err" || { kill -9 $pid; return 1; }
	c=$(kvm_runs "$err")
	# vCPU 0 spins in the guest: back in KVM_RUN once more at least.
	[ "${c%%,*}" -gt "${b%%,*}" ] || { echo "vCPU 0 did not run again: $b -> $c"; kill -9 $pid; return 1; }
	vm_pause $pid "$err" || { kill -9 $pid; return 1; }
	kill -TERM $pid
	wait $pid
	rc=$?
	[ $rc = 143 ] || { echo "exit status $rc after SIGTERM while paused, want 143"; cat "$err"; return 1; }
	[ "$(grep -c '^ember: test hook: paused in' "$err")" = 3 ] || { cat "$err"; return 1; }
}
# A console nobody reads: the guest floods COM1 into a pipe whose reader
# never reads, so the vCPU blocks in write(). A pause still completes (the
# byte in hand is dropped), the VM resumes, and SIGTERM still stops it.
t_stalled_console() {
	local err=$T_TMP/stall.err pid reader rc i blocked=
	: >"$err"
	local w
	coproc STALL { exec sleep 600; } # the reader that never reads
	reader=$STALL_PID
	exec {w}>&"${STALL[1]}" # (a coprocess's own fds do not reach subshells)
	build/tests/ember-testhooks --kernel "$(payload flood)" >&$w 2>"$err" </dev/null &
	pid=$!
	exec {w}>&-
	stall_end() { kill -9 $pid $reader 2>/dev/null; wait $pid; }
	for i in $(seq 1 300); do # until a vCPU thread sits in write(1, ...)
		grep -qs '^1 0x1 ' /proc/$pid/task/*/syscall && { blocked=1; break; }
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$blocked" ] || { echo "the vCPU never blocked on the console"; cat "$err"; stall_end; return 1; }
	vm_pause $pid "$err" || { stall_end; return 1; }
	vm_resume $pid "$err" || { stall_end; return 1; }
	kill -TERM $pid
	for i in $(seq 1 300); do
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	kill -0 $pid 2>/dev/null && { echo "SIGTERM did not stop ember in 30 s"; stall_end; return 1; }
	wait $pid
	rc=$?
	kill $reader
	[ $rc = 143 ] || { echo "exit status $rc after SIGTERM, want 143"; cat "$err"; return 1; }
}
t_no_dev_kvm() {
	local p
	p=$(payload 0)
	expect_status 2 unshare -m sh -c "mount -t tmpfs none /dev && exec $EMBER --kernel $p" || return 1
	expect_lines 1 "$T_ERR" && expect_grep "^ember: /dev/kvm does not exist" "$T_ERR"
}

# KVM_TESTS=REGEX runs only the matching tests.
t_run_all kvm "${KVM_TESTS:-}"
