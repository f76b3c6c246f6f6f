#!/usr/bin/env bash
# tests/jail/jail.sh: ember-jailer and ember's per-thread seccomp filters.
# With tiny payloads (any /dev/kvm that runs a few instructions): every thread
# of a jailed ember shows Seccomp 2, NoNewPrivs 1, no capabilities, the
# requested uid/gid and no groups; its root holds only the jail's files; it is
# in its cgroup with the rlimits set; a forbidden syscall on a vCPU thread (or
# the main thread) kills it with SIGSYS and the log names thread and call; bad
# jailer arguments leave no jail; ember runs as the jailer's child (which
# passes signals on, exits as ember did, and takes ember with it when killed);
# --exec-in-place, --new-pid-ns, --daemonize, --netns; ember's --config-file,
# --log-path and --metrics-path in the jail, and bad config files; a
# snapshot restored in the jail (--restore, --mem-file).
# With a Linux guest (when build/guest exists and KVM can boot Linux, i.e. in
# the lab): disk and network I/O inside the jail with all threads filtered,
# a guest booted from a config file naming files outside the jail, and a
# guest filling its memory is OOM-killed by the VM's cgroup (memory.max).
# Needs root. Runs natively (cgroup tests need the controllers in cgroup v2;
# natively they are skipped when the host binds them to cgroup v1) and in the lab.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/jail/lib.sh

t_threads_confined() {
	head -c 1M /dev/zero >"$T_TMP/c.img"
	chown $JUID:$JGID "$T_TMP/c.img"
	start_jailed conf -- --kernel "$SPIN" --cpus 2 --disk "$T_TMP/c.img" --boot-time \
		--console "file:$T_TMP/conf.log" || return 1
	local e=$EMBER_PID
	check_confined $e "ember vcpu0 vcpu1 blk-io" || { kill -9 $PID; return 1; }
	# The root holds the jail's files only; /dev only kvm.
	local root dev
	root=$(ls -A /proc/$e/root | sort | tr '\n' ' ')
	dev=$(ls -A /proc/$e/root/dev | tr '\n' ' ')
	[ "$root" = "c.img conf.log dev ember p-spin.elf " ] || { echo "root: $root"; kill -9 $PID; return 1; }
	[ "$dev" = "kvm " ] || { echo "dev: $dev"; kill -9 $PID; return 1; }
	[ "$(stat -c %u:%g:%a /proc/$e/root/dev/kvm)" = "$JUID:$JGID:600" ] || { kill -9 $PID; return 1; }
	# Its cgroup, its rlimits (defaults: 2048 files, no core dumps).
	grep -qx "0::/ember/conf-$S" /proc/$e/cgroup || { cat /proc/$e/cgroup; kill -9 $PID; return 1; }
	grep -Eq '^Max open files +2048 +2048 ' /proc/$e/limits || { kill -9 $PID; return 1; }
	grep -Eq '^Max core file size +0 +0 ' /proc/$e/limits || { kill -9 $PID; return 1; }
	stop $PID 143 || return 1
	jail_cleanup conf
}

t_files_on_same_fs() {
	# Jail and files on one file system: a file ember writes is hard-linked;
	# one it only reads is bind-mounted read-only (in ember's mount
	# namespace, gone with it), so the host file keeps its link count and
	# change time (ember's kernel cache keys on it).
	local d=$BASE/same-fs-$S ctime
	mkdir -p "$d"
	cp "$(payload 42)" "$d/p.elf"
	: >"$d/con.log"
	chown $JUID:$JGID "$d/con.log"
	ctime=$(stat -c %z "$d/p.elf")
	expect_status 42 "$JAILER" --id hl-$S --exec-file "$EMBER" --uid $JUID --gid $JGID \
		--chroot-base "$BASE" -- --kernel "$d/p.elf" --console "file:$d/con.log" || return 1
	[ "$(stat -c %h "$d/con.log")" = 2 ] || { echo "console file not hard-linked"; return 1; }
	[ "$(stat -c %i "$d/con.log")" = "$(stat -c %i "$BASE/ember/hl-$S/root/con.log")" ] || return 1
	[ "$(stat -c %h "$d/p.elf")" = 1 ] || { echo "payload hard-linked"; return 1; }
	[ "$(stat -c %z "$d/p.elf")" = "$ctime" ] || { echo "the payload's change time changed"; return 1; }
	[ ! -s "$BASE/ember/hl-$S/root/p.elf" ] || { echo "the jail's payload is not a bind mount's placeholder"; return 1; }
	jail_cleanup hl
	rm -rf "$d"
}

# A snapshot restored in a jail: --restore and --mem-file are brought in
# (read-only bind mounts, like the kernel). The counting payload (tests/
# kvm/mkpayload.c "countN"), saved mid-way by an unjailed ember through the
# API, goes on in the jail where it was and ends with status 41 (its counts
# agree at N, it started once); the snapshot files stay as they were.
t_restore_in_jail() {
	local n=$((1 << 28)) c=$T_TMP/count.elf s=$T_SOCK/snap.sock p=$T_TMP/snap pid sums
	build/tests/mkpayload "count$n" "$c" || return 1
	"$EMBER" --kernel "$c" --mem 128 --api-sock "$s" >"$T_TMP/count.out" 2>&1 </dev/null &
	pid=$!
	wait_for_socket "$s" $pid && wait_for '\.\.\.' "$T_TMP/count.out" $pid &&
		curl -sSf --unix-socket "$s" -X PATCH -d '{"state":"Paused"}' http://localhost/vm &&
		curl -sSf --unix-socket "$s" -X PUT http://localhost/snapshot/create \
			-d "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"$p.state\",\"mem_file_path\":\"$p.mem\"}" ||
		{ kill -9 $pid; tail -n 5 "$T_TMP/count.out"; return 1; }
	kill -9 $pid
	wait $pid 2>/dev/null
	chown $JUID:$JGID "$p.state" "$p.mem" # ember made them 0600, its own
	sums=$(sha256sum "$p.state" "$p.mem")
	T_TIMEOUT=600 expect_status 41 "$JAILER" --id rs-$S --exec-file "$EMBER" --uid $JUID --gid $JGID \
		--chroot-base "$BASE" -- --restore "$p.state" --mem-file "$p.mem" || return 1
	[ "$(tr -cd S <"$T_OUT" | wc -c)" = 0 ] || { echo "the restored payload started again"; return 1; }
	[ "$(sha256sum "$p.state" "$p.mem")" = "$sums" ] || { echo "the snapshot files changed"; return 1; }
	jail_cleanup rs
}

t_exit_status_passes_through() {
	expect_status 42 "$JAILER" --id st-$S --exec-file "$EMBER" --uid $JUID --gid $JGID \
		--chroot-base "$BASE" -- --kernel "$(payload 42)" || return 1
	jail_cleanup st
}

# is_gone PID: no such process, or a zombie (an orphan waits for init).
is_gone() { [ ! -e /proc/"$1"/stat ] || [ "$(awk '{print $3}' /proc/"$1"/stat 2>/dev/null)" = Z ]; }

# By default ember is the jailer's child, born in the VM's cgroup; the jailer
# stays outside it, in the host's mount namespace, holding only fds 0-2,
# passes SIGTERM on and exits as ember did.
t_keeper_child_and_sigterm() {
	start_jailed kpr -- --kernel "$SPIN" --boot-time || return 1
	local e=$EMBER_PID fds
	[ "$e" != "$PID" ] || { echo "ember has the jailer's PID"; kill -9 $PID; return 1; }
	grep -qx "0::/ember/kpr-$S" /proc/$e/cgroup || { cat /proc/$e/cgroup; kill -9 $PID; return 1; }
	! grep -q "/ember/kpr-$S" /proc/$PID/cgroup || { echo "the jailer is in the VM's cgroup"; kill -9 $PID; return 1; }
	[ "$(stat -L -c %i /proc/$PID/ns/mnt)" = "$(stat -L -c %i /proc/self/ns/mnt)" ] ||
		{ echo "the jailer left the host's mount namespace"; kill -9 $PID; return 1; }
	fds=$(ls /proc/$PID/fd | sort -n | tr '\n' ' ')
	[ "$fds" = "0 1 2 " ] || { echo "the jailer holds fds: $fds"; ls -l /proc/$PID/fd; kill -9 $PID; return 1; }
	stop $PID 143 || return 1	# ember's status for SIGTERM
	is_gone $e || { echo "ember $e outlived the jailer"; kill -9 $e; return 1; }
	jail_cleanup kpr
}

# ember killed by a signal: the jailer dies of the same signal.
t_keeper_dies_like_ember() {
	start_jailed kpd -- --kernel "$SPIN" --boot-time || return 1
	kill -KILL $EMBER_PID
	wait $PID
	local rc=$?
	[ $rc = 137 ] || { echo "jailer exit status $rc, want 137 (SIGKILL)"; return 1; }
	jail_cleanup kpd
}

# The jailer killed: ember gets SIGKILL (PR_SET_PDEATHSIG).
t_keeper_killed_kills_ember() {
	start_jailed kpk -- --kernel "$SPIN" --boot-time || return 1
	local e=$EMBER_PID _
	kill -KILL $PID
	wait $PID
	for _ in $(seq 1 50); do is_gone $e && break; sleep 0.1; done
	is_gone $e || { echo "ember $e outlived its killed jailer"; kill -9 $e; return 1; }
	jail_cleanup kpk
}

# --exec-in-place: the jailer becomes ember (same PID), in the VM's cgroup;
# without the caller's HOME and XDG_CACHE_HOME (ember keeps no kernel cache
# in a jail), which this test's caller has (tests/lib.sh sets the second).
t_exec_in_place() {
	[ -n "$HOME" ] && [ -n "$XDG_CACHE_HOME" ] || { echo "HOME or XDG_CACHE_HOME not set here"; return 1; }
	start_jailed inpl --exec-in-place -- --kernel "$SPIN" --boot-time || return 1
	[ -z "$(pgrep -P $PID)" ] || { echo "a child under the jailer"; kill -9 $PID; return 1; }
	! tr '\0' '\n' </proc/$PID/environ | grep -E '^(HOME|XDG_CACHE_HOME)=' ||
		{ echo "the jailed ember has the caller's home"; kill -9 $PID; return 1; }
	grep -qx "0::/ember/inpl-$S" /proc/$PID/cgroup || { cat /proc/$PID/cgroup; kill -9 $PID; return 1; }
	check_confined $PID "ember vcpu0" || { kill -9 $PID; return 1; }
	stop $PID 143 || return 1
	jail_cleanup inpl
	expect_status 42 "$JAILER" --id inps-$S --exec-file "$EMBER" --uid $JUID --gid $JGID \
		--chroot-base "$BASE" --exec-in-place -- --kernel "$(payload 42)" || return 1
	jail_cleanup inps
}

# forbidden KIND THREAD NR NAME: the test-hook build makes a forbidden call on
# the KIND thread; ember dies of SIGSYS (exit 159) and its log says who and what.
forbidden() {
	EMBER_TEST_FORBIDDEN=$1 expect_status 159 "$JAILER" --id "sys-$1-$S" --exec-file "$HOOKS" \
		--uid $JUID --gid $JGID --chroot-base "$BASE" -- --kernel "$SPIN" || return 1
	expect_grep "^ember: seccomp: thread $2 made forbidden syscall $3 \($4\)$" "$T_ERR" || return 1
	jail_cleanup "sys-$1"
}
t_forbidden_syscall_vcpu() { forbidden vcpu vcpu0 257 openat; }
t_forbidden_syscall_main() { forbidden main main 56 clone; }
t_forbidden_syscall_unjailed() {
	EMBER_TEST_FORBIDDEN=vcpu expect_status 159 "$HOOKS" --cpus 2 --kernel "$SPIN" || return 1
	expect_grep '^ember: seccomp: thread vcpu0 made forbidden syscall 257 \(openat\)$' "$T_ERR"
}
t_test_hook_needs_test_build() {
	# The production binary ignores the hook: the guest runs until stopped.
	EMBER_TEST_FORBIDDEN=vcpu expect_status 42 "$EMBER" --kernel "$(payload 42)"
}

t_seccomp_off_warns() {
	"$EMBER" --seccomp off --boot-time --kernel "$SPIN" >"$T_TMP/off.out" 2>"$T_TMP/off.err" </dev/null &
	local pid=$!
	wait_for 'guest userspace started' "$T_TMP/off.err" $pid || { kill -9 $pid; return 1; }
	expect_grep '^ember: warning: --seccomp off' "$T_TMP/off.err" || { kill -9 $pid; return 1; }
	grep -Eq $'^Seccomp:\t0$' /proc/$pid/task/*/status || { kill -9 $pid; return 1; }
	stop $pid 143 && ! grep -Eq $'^Seccomp:\t2' "$T_TMP/off.err"
}

# ember's API in the jail: --api-sock is a path in the jail, its folder made
# for the jail's user; the host drives the VM through the socket under the
# jail's root (pause and resume with every thread confined, the API thread
# too), and the socket is gone when ember exits. A path outside the jail's
# rules is refused.
t_api_socket_in_jail() {
	start_jailed api -- --api-sock /run/api.sock --kernel "$SPIN" --boot-time || return 1
	local sock=$BASE/ember/api-$S/root/run/api.sock code
	[ -S "$sock" ] || { echo "no socket at $sock"; kill -9 $PID; return 1; }
	[ "$(stat -c '%u:%g %a' "$BASE/ember/api-$S/root/run")" = "$JUID:$JGID 700" ] ||
		{ stat "$BASE/ember/api-$S/root/run"; kill -9 $PID; return 1; }
	curl -sS --unix-socket "$sock" --max-time 20 http://localhost/ >"$T_TMP/api.json" || { kill -9 $PID; return 1; }
	expect_grep '"state":"Running"' "$T_TMP/api.json" || { kill -9 $PID; return 1; }
	code=$(curl -sS --unix-socket "$sock" --max-time 20 -o /dev/null -w '%{http_code}' -X PATCH \
		-d '{"state":"Paused"}' http://localhost/vm) || { kill -9 $PID; return 1; }
	[ "$code" = 204 ] || { echo "PATCH /vm Paused: $code"; kill -9 $PID; return 1; }
	check_confined $EMBER_PID "ember vcpu0 api" || { kill -9 $PID; return 1; }
	code=$(curl -sS --unix-socket "$sock" --max-time 20 -o /dev/null -w '%{http_code}' -X PATCH \
		-d '{"state":"Resumed"}' http://localhost/vm) || { kill -9 $PID; return 1; }
	[ "$code" = 204 ] || { echo "PATCH /vm Resumed: $code"; kill -9 $PID; return 1; }
	stop $PID 143 || return 1
	[ ! -e "$sock" ] || { echo "socket left behind"; return 1; }
	jail_cleanup api
	jail_refused "--api-sock '../x.sock'" --id bad-$S --exec-file "$EMBER" --uid $JUID --gid $JGID \
		--chroot-base "$BASE" -- --api-sock ../x.sock --kernel "$SPIN"
}

# ember's --config-file in a jail: the jailer reads it (the jail's user need
# not be able to), brings in the files it names as it brings in --kernel and
# --disk (the kernel, a drive ember writes, a read-only one that is root's),
# makes the log and metrics files it names for the jail's user, and gives
# ember its copy with the paths in the jail, owned by the jail's user.
t_config_file_in_jail() {
	local p j=$BASE/ember/cfg-$S/root root
	p=$(payload 42)
	head -c 1M /dev/zero >"$T_TMP/rw.img"
	head -c 1M /dev/zero >"$T_TMP/ro.img"
	chown $JUID:$JGID "$T_TMP/rw.img"
	cat >"$T_TMP/vm.json" <<EOF
{"boot-source": {"kernel_image_path": "$p"},
 "drives": [{"drive_id": "rw", "path_on_host": "$T_TMP/rw.img", "is_root_device": false},
            {"drive_id": "ro", "path_on_host": "$T_TMP/ro.img", "is_root_device": false, "is_read_only": true}],
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
 "logger": {"log_path": "$T_TMP/vm.log", "level": "Info"},
 "metrics": {"metrics_path": "$T_TMP/vm.metrics"}}
EOF
	chmod 600 "$T_TMP/vm.json"
	expect_status 42 "$JAILER" --id cfg-$S --exec-file "$EMBER" --uid $JUID --gid $JGID \
		--chroot-base "$BASE" -- --config-file "$T_TMP/vm.json" --no-api || return 1
	root=$(ls -A "$j" | sort | tr '\n' ' ')
	[ "$root" = "dev ember p-42.elf ro.img rw.img vm.json vm.log vm.metrics " ] || { echo "root: $root"; return 1; }
	[ "$(stat -c '%u:%g %a' "$j/vm.json")" = "$JUID:$JGID 400" ] || { stat "$j/vm.json"; return 1; }
	expect_grep '"kernel_image_path": "/p-42.elf"' "$j/vm.json" || return 1
	expect_grep '"path_on_host": "/rw.img"' "$j/vm.json" || return 1
	expect_grep '"path_on_host": "/ro.img"' "$j/vm.json" || return 1
	expect_grep '"log_path": "/vm.log"' "$j/vm.json" || return 1
	expect_grep '"metrics_path": "/vm.metrics"' "$j/vm.json" || return 1
	# The host's files got ember's lines, and are the jail's user's.
	[ "$(stat -c '%u:%g %a' "$T_TMP/vm.log")" = "$JUID:$JGID 600" ] || { stat "$T_TMP/vm.log"; return 1; }
	[ "$(stat -c '%u:%g' "$T_TMP/vm.metrics")" = "$JUID:$JGID" ] || { stat "$T_TMP/vm.metrics"; return 1; }
	expect_grep 'VM started' "$T_TMP/vm.log" || return 1
	expect_grep '"block_rw":\{' "$T_TMP/vm.metrics" || return 1
	expect_grep '"block_ro":\{' "$T_TMP/vm.metrics" || return 1
	jail_cleanup cfg
}

# --log-path and --metrics-path are host paths, brought in like the console
# file: a named pipe the host reads (bind-mounted: another file system than
# the jail's), an existing file ember appends to; one the jail's user may not
# write, or a directory, is refused, and a file made for a jail that then
# failed is removed with it.
t_log_and_metrics_paths_in_jail() {
	local d=$T_TMP reader
	# The lab's 9p tree has no FIFOs: its /dev/shm does (another tmpfs than /run).
	[ -n "$EMBER_LAB" ] && d=$(mktemp -d /dev/shm/ember-fifo.XXXXXX)
	mkfifo -m 600 "$d/log.fifo" && chown $JUID:$JGID "$d/log.fifo" || return 1
	echo old >"$T_TMP/m.json"
	chown $JUID:$JGID "$T_TMP/m.json"
	cat "$d/log.fifo" >"$T_TMP/fifo.out" &
	reader=$!
	expect_status 42 "$JAILER" --id lmp-$S --exec-file "$EMBER" --uid $JUID --gid $JGID \
		--chroot-base "$BASE" -- --kernel "$(payload 42)" --log-path "$d/log.fifo" \
		--metrics-path="$T_TMP/m.json" || { kill $reader; return 1; }
	timeout 20 tail --pid=$reader -f /dev/null || { echo "the FIFO's reader got no EOF"; kill $reader; return 1; }
	[ "$d" != "$T_TMP" ] && rm -rf "$d"
	expect_grep 'VM started' "$T_TMP/fifo.out" || return 1
	[ "$(head -n1 "$T_TMP/m.json")" = old ] || { cat "$T_TMP/m.json"; return 1; }
	expect_grep '^\{"utc_timestamp_ms":' "$T_TMP/m.json" || return 1
	jail_cleanup lmp
	local ok="--id bad-$S --exec-file $EMBER --uid $JUID --gid $JGID --chroot-base $BASE"
	echo x >"$T_TMP/roots.log"
	jail_refused "--log-path $T_TMP/roots.log: uid $JUID gid $JGID may not write it" $ok \
		-- --kernel "$SPIN" --log-path "$T_TMP/roots.log" || return 1
	jail_refused "--metrics-path $T_TMP: not a regular file or named pipe" $ok \
		-- --kernel "$SPIN" --metrics-path "$T_TMP" || return 1
	jail_refused "--disk /nonexistent/d.img: No such file" $ok \
		-- --kernel "$SPIN" --log-path "$T_TMP/new.log" --disk /nonexistent/d.img || return 1
	[ ! -e "$T_TMP/new.log" ] || { echo "the log file made for the failed jail stayed"; return 1; }
}

# A bad config file: one line, non-zero, no jail (or cgroup) left behind, no
# output file it named made.
t_bad_config_file() {
	local ok="--id bad-$S --exec-file $EMBER --uid $JUID --gid $JGID --chroot-base $BASE"
	local c=$T_TMP/c.json
	printf '{"boot-source": ' >"$c"
	jail_refused "--config-file $c: invalid JSON at line 1" $ok -- --config-file "$c" || return 1
	head -c 1048577 /dev/zero | tr '\0' ' ' >"$c"
	jail_refused "--config-file $c: larger than 1048576 bytes" $ok -- --config-file "$c" || return 1
	jail_refused "--config-file /nonexistent/vm.json: No such file" $ok -- --config-file /nonexistent/vm.json || return 1
	echo '{"drives": []}' >"$c"
	jail_refused "--config-file $c: boot-source: missing" $ok -- --config-file "$c" || return 1
	echo '{"boot-source": {"kernel_image_path": "/nonexistent/vmlinuz"}}' >"$c"
	jail_refused "--config-file $c: boot-source.kernel_image_path /nonexistent/vmlinuz: No such file" \
		$ok -- --config-file "$c" || return 1
	cat >"$c" <<EOF
{"boot-source": {"kernel_image_path": "$SPIN"},
 "logger": {"log_path": "$T_TMP/made.log"},
 "drives": [{"drive_id": "a", "path_on_host": "/nonexistent/a.img", "is_root_device": false}]}
EOF
	jail_refused "--config-file $c: drives\[0\]\.path_on_host /nonexistent/a.img: No such file" \
		$ok -- --config-file "$c" || return 1
	[ ! -e "$T_TMP/made.log" ] || { echo "the log file made for the failed jail stayed"; return 1; }
	head -c 1M /dev/zero >"$T_TMP/root-only.img"
	chmod 600 "$T_TMP/root-only.img"
	cat >"$c" <<EOF
{"boot-source": {"kernel_image_path": "$SPIN"},
 "drives": [{"drive_id": "a", "path_on_host": "$T_TMP/root-only.img", "is_root_device": false, "is_read_only": true}]}
EOF
	jail_refused "drives\[0\]\.path_on_host $T_TMP/root-only.img: uid $JUID gid $JGID may not read it" \
		$ok -- --config-file "$c" || return 1
	jail_refused "--config-file given twice" $ok -- --config-file "$c" --config-file "$c"
}

t_new_pid_ns() {
	start_jailed pidns --new-pid-ns -- --kernel "$SPIN" --boot-time || return 1
	local child
	child=$(pgrep -P $PID) || { echo "no child"; kill -9 $PID; return 1; }
	grep -Eq $'^NSpid:\t'"$child"$'\t1$' /proc/$child/status || { grep NSpid /proc/$child/status; kill -9 $PID; return 1; }
	check_confined "$child" "ember vcpu0" || { kill -9 $PID; return 1; }
	stop $PID 143 || return 1	# SIGTERM forwarded, status passed back
	jail_cleanup pidns
}

t_daemonize() {
	expect_status 0 "$JAILER" --id dmn-$S --exec-file "$EMBER" --uid $JUID --gid $JGID --chroot-base "$BASE" \
		--daemonize -- --kernel "$SPIN" || return 1
	local pid
	pid=$(cat "$T_OUT")
	[ -d /proc/"$pid" ] || { echo "no ember with pid '$pid'"; return 1; }
	[ "$(stat -L -c %t:%T /proc/$pid/fd/2)" = 1:3 ] || { ls -l /proc/$pid/fd; kill -9 $pid; return 1; } # /dev/null
	[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] || { echo "not a session leader"; kill -9 $pid; return 1; }
	# The jailer returned once ember was exec'd: wait (bounded) until its
	# threads are up and filtered.
	local _ i
	for i in $(seq 1 100); do
		rm -f "$T_TMP/threads.$pid"
		check_confined "$pid" "ember vcpu0" >"$T_TMP/dmn.check" 2>&1 && break
		sleep 0.1
	done
	cat "$T_TMP/dmn.check"
	[ "$i" -lt 100 ] || { kill -9 $pid; return 1; }
	kill -TERM "$pid"
	for _ in $(seq 1 100); do [ -d /proc/"$pid" ] || break; sleep 0.1; done
	[ ! -d /proc/"$pid" ] || { kill -9 "$pid"; return 1; }
	jail_cleanup dmn
}

t_netns() {
	local ns=$BASE/netns-file
	touch "$ns"
	unshare --net="$ns" true || { echo "cannot make a network namespace"; return 1; }
	start_jailed netns --netns "$ns" -- --kernel "$SPIN" --boot-time || { umount "$ns"; return 1; }
	local want got
	want=$(stat -L -c %i "$ns")
	got=$(stat -L -c %i /proc/$EMBER_PID/ns/net)
	stop $PID 143
	local rc=$?
	umount "$ns"
	[ $rc = 0 ] && [ "$want" = "$got" ] || { echo "netns inode $got, want $want"; return 1; }
	jail_cleanup netns
}

t_cgroup_limits() {
	have_controller memory && have_controller pids && have_controller cpu || {
		[ -z "$EMBER_LAB" ] && { echo "skipped: no memory/pids/cpu controller in cgroup v2 here"; return 0; }
		echo "lab without cgroup v2 controllers"
		return 1
	}
	start_jailed cgl --cgroup memory.max=96M --cgroup pids.max=16 --cgroup "cpu.max=50000 100000" \
		-- --kernel "$SPIN" --boot-time || return 1
	local d
	d=$(cg_dir cgl-$S)
	local mem pids cpu procs
	mem=$(cat "$d/memory.max") pids=$(cat "$d/pids.max") cpu=$(cat "$d/cpu.max") procs=$(cat "$d/cgroup.procs")
	stop $PID 143 || return 1
	[ "$mem" = 100663296 ] && [ "$pids" = 16 ] && [ "$cpu" = "50000 100000" ] && [ "$procs" = "$EMBER_PID" ] || {
		echo "memory.max=$mem pids.max=$pids cpu.max=$cpu procs=$procs (ember $EMBER_PID)"
		return 1
	}
	jail_cleanup cgl
}

# ---- bad arguments: one line, non-zero, no jail (or cgroup) left ----

t_bad_arguments() {
	local ok="--id bad-$S --exec-file $EMBER --uid $JUID --gid $JGID --chroot-base $BASE"
	local k=$SPIN
	head -c 1M /dev/zero >"$T_TMP/root-only.img"
	chmod 600 "$T_TMP/root-only.img"
	jail_refused "--id: 'a/b'" --id a/b --exec-file "$EMBER" --uid 1 --gid 1 -- --kernel "$k" || return 1
	jail_refused "--id: '$(printf 'x%.0s' {1..65})'" --id "$(printf 'x%.0s' {1..65})" --exec-file "$EMBER" --uid 1 --gid 1 -- --kernel "$k" || return 1
	jail_refused "missing --uid" --id bad-$S --exec-file "$EMBER" --gid 1 -- --kernel "$k" || return 1
	jail_refused "--gid: 'wheel'" $ok --gid wheel -- --kernel "$k" || return 1
	jail_refused "no ember arguments" $ok || return 1
	jail_refused "unknown option '--frob'" $ok --frob -- --kernel "$k" || return 1
	jail_refused "--exec-in-place cannot be combined with --new-pid-ns" $ok --exec-in-place --new-pid-ns -- --kernel "$k" || return 1
	jail_refused "--chroot-base: 'relative'" $ok --chroot-base relative -- --kernel "$k" || return 1
	jail_refused "--cgroup: 'cgroup.procs'" $ok --cgroup cgroup.procs=1 -- --kernel "$k" || return 1
	jail_refused "--resource-limit: unknown limit 'stack'" $ok --resource-limit stack=1 -- --kernel "$k" || return 1
	# Found out while building: what was built is removed.
	jail_refused "--exec-file /nonexistent: No such file" --id bad-$S --exec-file /nonexistent --uid 1 --gid 1 --chroot-base "$BASE" -- --kernel "$k" || return 1
	jail_refused "not a static x86-64 ELF" --id bad-$S --exec-file /bin/sh --uid 1 --gid 1 --chroot-base "$BASE" -- --kernel "$k" || return 1
	jail_refused "--kernel /nonexistent/vmlinuz: No such file" $ok -- --kernel /nonexistent/vmlinuz || return 1
	jail_refused "--disk $T_TMP/root-only.img: uid $JUID gid $JGID may not write it" $ok -- --kernel "$k" --disk "$T_TMP/root-only.img" || return 1
	jail_refused "--disk /tmp: not a regular file" $ok -- --kernel "$k" --disk /tmp || return 1
	jail_refused "--netns /nonexistent: No such file" $ok --netns /nonexistent -- --kernel "$k" || return 1
	jail_refused "--vfio: '01:00' is not a PCI address" $ok --vfio 01:00 -- --kernel "$k" || return 1
	jail_refused "--vfio 00ff:7f:1f.7: no such PCI device" $ok --vfio 00ff:7f:1f.7 -- --kernel "$k" || return 1
	# --kernel-cache: the directory, and the entry of this VM's kernel.
	local e
	mkdir -p "$T_TMP/kc-open" "$T_TMP/kc"
	chmod 0777 "$T_TMP/kc-open"
	e=$T_TMP/kc/$(entry_name vmlinux "$k")
	jail_refused "--kernel-cache: 'kc' is not an absolute path" $ok --kernel-cache kc -- --kernel "$k" || return 1
	jail_refused "--kernel-cache is given to both ember-jailer and ember" $ok --kernel-cache "$T_TMP/kc" -- --kernel "$k" --kernel-cache off || return 1
	jail_refused "--kernel-cache $T_TMP/kc-open: not a directory of root's or uid $JUID's that only its owner may write to" $ok --kernel-cache "$T_TMP/kc-open" -- --kernel "$k" || return 1
	jail_refused "--kernel-cache $k: not a directory" $ok --kernel-cache "$k" -- --kernel "$k" || return 1
	install -m 0600 /dev/null "$e"
	jail_refused "--kernel-cache $T_TMP/kc: uid $JUID gid $JGID may not read the entry of --kernel $k" $ok --kernel-cache "$T_TMP/kc" -- --kernel "$k" || return 1
	chmod 0666 "$e"
	jail_refused "--kernel-cache $T_TMP/kc: the entry of --kernel $k is not a regular file of root's or uid $JUID's" $ok --kernel-cache "$T_TMP/kc" -- --kernel "$k" || return 1
	jail_refused "--resource-limit nofile=.*: Operation not permitted" $ok --resource-limit nofile=99999999999 -- --kernel "$k" || return 1
	if have_controller memory; then
		jail_refused "--cgroup memory.max=lots: Invalid argument" $ok --cgroup memory.max=lots -- --kernel "$k" || return 1
	else
		jail_refused "--cgroup memory.max: the memory controller is not available" $ok --cgroup memory.max=1G -- --kernel "$k" || return 1
	fi
	mkdir -p "$T_TMP/nodev"
	if mount -t tmpfs -o nodev none "$T_TMP/nodev"; then
		jail_refused "--chroot-base $T_TMP/nodev is on a file system mounted nodev" --id bad-$S --exec-file "$EMBER" --uid 1 --gid 1 --chroot-base "$T_TMP/nodev" -- --kernel "$k"
		local rc=$?
		[ ! -e "$T_TMP/nodev/ember/bad-$S" ] || rc=1
		umount "$T_TMP/nodev"
		[ $rc = 0 ] || return 1
	fi
	# An existing jail is refused, and left as it was.
	mkdir -p "$BASE/ember/taken/root"
	touch "$BASE/ember/taken/root/keep"
	"$JAILER" --id taken --exec-file "$EMBER" --uid 1 --gid 1 --chroot-base "$BASE" -- --kernel "$k" 2>"$T_TMP/taken.err"
	[ $? != 0 ] && expect_lines 1 "$T_TMP/taken.err" && expect_grep "^ember-jailer: jail directory $BASE/ember/taken already exists" "$T_TMP/taken.err" || return 1
	[ -e "$BASE/ember/taken/root/keep" ] || { echo "the existing jail was touched"; return 1; }
	rm -rf "$BASE/ember/taken"
}

t_keep_on_failure() {
	jail_cleanup kept
	"$JAILER" --id kept-$S --exec-file "$EMBER" --uid $JUID --gid $JGID --chroot-base "$BASE" --keep-on-failure \
		-- --kernel /nonexistent >/dev/null 2>"$T_TMP/kept.err"
	[ $? != 0 ] || return 1
	expect_grep "^ember-jailer: --kernel /nonexistent" "$T_TMP/kept.err" || return 1
	expect_grep "^ember-jailer: --keep-on-failure: the jail stays at $BASE/ember/kept-$S" "$T_TMP/kept.err" || return 1
	[ -x "$BASE/ember/kept-$S/root/ember" ] || { echo "no kept jail"; return 1; }
	jail_cleanup kept
}

# ---- with a Linux guest (the lab) ----

linux_ok() {
	[ -f "$G/vmlinuz" ] && [ -f "$G/initramfs.cpio.gz" ] || return 1
	[ -n "$EMBER_LAB" ] || [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]
}

# The guest reads and writes its disk and pings the host over a TAP inside
# the jail (in the network namespace the jailer joins, on a TAP owned by the
# jail's uid); while it waits for a console line, every thread (vCPUs, disk
# and net I/O, io_uring workers) is checked.
t_linux_disk_and_net_io_jailed() {
	linux_ok || { echo "skipped: no Linux-capable KVM here (runs in the lab)"; return 0; }
	head -c 16M /dev/urandom >"$T_TMP/l.img"
	chown $JUID:$JGID "$T_TMP/l.img"
	local sum ns=$BASE/lio-netns
	sum=$(sha256sum <"$T_TMP/l.img" | cut -d' ' -f1)
	touch "$ns"
	unshare --net="$ns" true || { echo "cannot make a network namespace"; return 1; }
	nsenter --net="$ns" sh -e -c "ip link set lo up; ip tuntap add dev jt0 mode tap user $JUID
		ip addr add 169.254.7.1/16 dev jt0; ip link set jt0 up" ||
		{ echo "cannot set up the TAP"; umount "$ns"; return 1; }
	: >"$T_TMP/lio.out"
	{
		for _ in $(seq 1 1800); do
			tr -d '\r' <"$T_TMP/lio.out" | grep -q '^io-done' && break
			sleep 0.1
		done
		sleep 0.5
		pid=$(pgrep -f "^/ember --kernel /vmlinuz" | head -n1)
		check_confined "$pid" "ember vcpu0 vcpu1 blk-io net-io" >"$T_TMP/lio.check" 2>&1
		echo $? >"$T_TMP/lio.rc"
		echo go
	} | "$JAILER" --id lio-$S --exec-file "$EMBER" --uid $JUID --gid $JGID --chroot-base "$BASE" \
		--netns "$ns" \
		-- --kernel "$G/vmlinuz" --initrd "$G/initramfs.cpio.gz" --cpus 2 --disk "$T_TMP/l.img" \
		--net tap=jt0 --cmdline ember.ip=169.254.7.2/16 \
		-- sh -c 'sha256sum /dev/vda; yes JAILED | head -c 1048576 | dd of=/dev/vda bs=4096 seek=1024 conv=fsync 2>/dev/null; ping -c 2 -W 10 169.254.7.1 | grep received; echo io-done; read x; echo got-$x' \
		>"$T_TMP/lio.out" 2>&1
	local rc=$?
	umount "$ns"
	cat "$T_TMP/lio.check"
	[ $rc = 0 ] || { echo "exit status $rc"; tail -n 30 "$T_TMP/lio.out"; return 1; }
	[ "$(cat "$T_TMP/lio.rc")" = 0 ] || return 1
	expect_grep "^$sum +/dev/vda" "$T_TMP/lio.out" || return 1
	expect_grep "2 packets received" "$T_TMP/lio.out" || return 1
	expect_grep '^got-go' "$T_TMP/lio.out" || return 1
	yes JAILED | head -c 1048576 | cmp -i 0:4194304 -n 1048576 - "$T_TMP/l.img" || return 1
	jail_cleanup lio
}

# A jailed ember booted from a config file only: its kernel, initrd, a drive
# the guest writes and a read-only one, all outside the jail (bind-mounted:
# the jail is on the lab's /run), and its log and metrics files. The guest's
# command (in boot_args) reads the read-only drive, finds it cannot write it,
# writes 1 MiB to the other and exits 7: the jailer exits 7, the console has
# its lines, the disk file has its bytes (and the rest as it was), the
# metrics count the writes.
t_linux_config_file_jailed() {
	linux_ok || { echo "skipped: no Linux-capable KVM here (runs in the lab)"; return 0; }
	local rw=$T_TMP/cf.img ro=$T_TMP/cf-ro.img sum_ro head_sum tail_sum j=$BASE/ember/lcf-$S/root
	head -c 8M /dev/urandom >"$rw"
	head -c 4M /dev/urandom >"$ro"
	chown $JUID:$JGID "$rw" # ro: root's, 0644: the jail's user may read it
	sum_ro=$(sha256sum <"$ro" | cut -d' ' -f1)
	head_sum=$(head -c 1M "$rw" | sha256sum)
	tail_sum=$(tail -c +2097153 "$rw" | sha256sum)
	local guest='sh -c \"sha256sum /dev/vdb; if echo x | dd of=/dev/vdb conv=fsync 2>/dev/null; then echo ro-written; else echo ro-refused; fi; yes CONFIGJAIL | head -c 1048576 | dd of=/dev/vda bs=4096 seek=256 conv=fsync 2>/dev/null && echo cfg-written; exit 7\"'
	cat >"$T_TMP/lcf.json" <<EOF
{
  "boot-source": {"kernel_image_path": "$G/vmlinuz", "initrd_path": "$G/initramfs.cpio.gz",
                  "boot_args": "console=ttyS0 reboot=k panic=-1 quiet -- $guest"},
  "drives": [
    {"drive_id": "data", "path_on_host": "$rw", "is_root_device": false, "is_read_only": false},
    {"drive_id": "ref", "path_on_host": "$ro", "is_root_device": false, "is_read_only": true}
  ],
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
  "logger": {"log_path": "$T_TMP/lcf.log", "level": "Info"},
  "metrics": {"metrics_path": "$T_TMP/lcf.metrics"}
}
EOF
	T_TIMEOUT=600 expect_status 7 "$JAILER" --id lcf-$S --exec-file "$EMBER" --uid $JUID --gid $JGID \
		--chroot-base "$BASE" -- --config-file "$T_TMP/lcf.json" --no-api || return 1
	expect_grep "^$sum_ro +/dev/vdb" "$T_OUT" || return 1
	expect_grep '^ro-refused' "$T_OUT" || return 1
	expect_grep '^cfg-written' "$T_OUT" || return 1
	yes CONFIGJAIL | head -c 1048576 | cmp -i 0:1048576 -n 1048576 - "$rw" || { echo "the guest's bytes are not in $rw"; return 1; }
	[ "$(head -c 1M "$rw" | sha256sum)" = "$head_sum" ] && [ "$(tail -c +2097153 "$rw" | sha256sum)" = "$tail_sum" ] ||
		{ echo "bytes the guest did not write changed"; return 1; }
	[ "$(sha256sum <"$ro" | cut -d' ' -f1)" = "$sum_ro" ] || { echo "the read-only drive changed"; return 1; }
	expect_grep '"kernel_image_path": "/vmlinuz"' "$j/lcf.json" || return 1
	expect_grep '"path_on_host": "/cf.img"' "$j/lcf.json" || return 1
	expect_grep 'VM started' "$T_TMP/lcf.log" || return 1
	# The writes in the metrics (a 60 s flush may have split them over lines).
	expect_grep '"block_data":\{[^}]*"write_bytes":[1-9]' "$T_TMP/lcf.metrics" || return 1
	jail_cleanup lcf
}

# A shared kernel cache (ember-jailer --kernel-cache): root fills it
# (ember --fill-kernel-cache; entries 0644 in the 0755 directory) with the
# bzImage's vmlinux and the archive of a copy of the initrd. The jail gets
# its VM's entries only: its /kernel-cache holds the vmlinux's (the copy's
# archive is another file's). The jailed ember reads the vmlinux from it
# and decompresses the initrd (a miss), which it does not store: the jail's
# /kernel-cache is read-only for it. The cache stays as it was, and the
# kernel and initrd on the host keep their link count and change time
# (bind-mounted, not linked).
t_linux_kernel_cache_jailed() {
	linux_ok || { echo "skipped: no Linux-capable KVM here (runs in the lab)"; return 0; }
	local kc=$BASE/kcache-$S before after ctimes seen
	mkdir -m 0755 "$kc"
	cp "$G/initramfs.cpio.gz" "$BASE/other-$S.cpio.gz"
	expect_status 0 "$EMBER" --kernel "$G/vmlinuz" --initrd "$BASE/other-$S.cpio.gz" \
		--kernel-cache "$kc" --fill-kernel-cache || return 1
	expect_grep "^kernel '$G/vmlinuz': its vmlinux \([0-9]+ KiB\) is in the kernel cache" "$T_OUT" &&
		expect_grep "^initrd '$BASE/other-$S.cpio.gz': its cpio archive \([0-9]+ KiB\) is in the kernel cache" "$T_OUT" || return 1
	before=$(cd "$kc" && stat -c '%n %a %u %s %y' * | sort)
	echo "$before" | grep -Eq '^vmlinux-[^ ]+ 644 0 ' && echo "$before" | grep -Eq '^initrd-[^ ]+ 644 0 ' ||
		{ echo "entries: $before"; return 1; }
	ctimes=$(stat -c '%h %z' "$G/vmlinuz" "$G/initramfs.cpio.gz")
	T_TIMEOUT=600 expect_status 0 "$JAILER" --id kc-$S --exec-file "$EMBER" --uid $JUID --gid $JGID \
		--chroot-base "$BASE" --kernel-cache "$kc" \
		-- --kernel "$G/vmlinuz" --initrd "$G/initramfs.cpio.gz" --log-path "$T_TMP/kc.log" \
		-- true || return 1
	expect_grep "booting the bzImage's vmlinux through PVH \(unpacked before, read from the kernel cache" "$T_TMP/kc.log" || return 1
	expect_grep "initrd '/initramfs.cpio.gz': decompressed by ember" "$T_TMP/kc.log" || return 1
	expect_grep "kernel cache: '/kernel-cache' is read-only for ember: the initrd is looked up there, not stored" "$T_TMP/kc.log" || return 1
	seen=$(ls -A "$BASE/ember/kc-$S/root/kernel-cache")
	[ "$seen" = "$(entry_name vmlinux "$G/vmlinuz")" ] || { echo "the jail's /kernel-cache: $seen"; return 1; }
	after=$(cd "$kc" && stat -c '%n %a %u %s %y' * | sort)
	[ "$after" = "$before" ] || { printf 'cache before:\n%s\nafter:\n%s\n' "$before" "$after"; return 1; }
	[ "$(stat -c '%h %z' "$G/vmlinuz" "$G/initramfs.cpio.gz")" = "$ctimes" ] ||
		{ echo "the kernel or initrd changed: $ctimes -> $(stat -c '%h %z' "$G/vmlinuz" "$G/initramfs.cpio.gz")"; return 1; }
	jail_cleanup kc
	rm -rf "$kc" "$BASE/other-$S.cpio.gz"
}

# The guest fills its RAM (512 MiB) in a 128 MiB cgroup: the cgroup's OOM
# killer ends ember (SIGKILL), not the host's.
t_linux_oom_in_cgroup() {
	linux_ok || { echo "skipped: no Linux-capable KVM here (runs in the lab)"; return 0; }
	have_controller memory || { echo "no memory controller in cgroup v2"; return 1; }
	local before_host
	before_host=$(awk '/^oom_kill / {print $2}' /proc/vmstat)
	expect_status 137 "$JAILER" --id oom-$S --exec-file "$EMBER" --uid $JUID --gid $JGID --chroot-base "$BASE" \
		--cgroup memory.max=128M \
		-- --kernel "$G/vmlinuz" --initrd "$G/initramfs.cpio.gz" --mem 512 \
		-- sh -c 'echo filling; mkdir -p /fill; mount -t tmpfs -o size=480m none /fill; dd if=/dev/zero of=/fill/x bs=1M count=440; echo survived' || return 1
	! grep -q '^survived' "$T_OUT" || { echo "the guest filled its memory and ember lived"; return 1; }
	local d
	d=$(cg_dir oom-$S)
	grep -Eq '^oom_kill [1-9]' "$d/memory.events" || { cat "$d/memory.events"; return 1; }
	echo "memory.events: $(tr '\n' ' ' <"$d/memory.events"); host oom_kill before $before_host"
	jail_cleanup oom
}

# JAIL_TESTS=REGEX runs only the matching tests.
t_run_all jail "${JAIL_TESTS:-}"
