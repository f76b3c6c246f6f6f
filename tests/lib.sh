# tests/lib.sh: helpers for ember's shell test groups (sourced).
# A group calls `t_run NAME FUNCTION` (or `t_run_all PREFIX` for its t_*
# functions); each test function returns 0 on pass and
# says why it failed on stderr otherwise. `t_summary` prints the closing
# "N passed, N failed" line and returns non-zero when anything failed.
# T_VERBOSE=1 shows a passing test's output too.
# Each test runs with T_TMP set to a directory of its own, so no test can read
# a file an earlier test left under the same name (a background command's
# output file is only truncated once its shell runs).

T_PASS=0
T_FAIL=0
T_FAILED_NAMES=()
T_TMP=$(mktemp -d /tmp/ember-test.XXXXXX)
trap 'rm -rf "$T_TMP"' EXIT
# ember's kernel cache (--kernel-cache's default place) is the group's own:
# nothing from the user's ~/.cache, nothing left there; the group's later
# boots of a bzImage read the vmlinux its first boot kept, as a user's do.
export XDG_CACHE_HOME=$T_TMP/cache

t_run() {
	local name=$1
	shift
	local log="$T_TMP/${name//\//_}.log" start end
	start=$(date +%s.%N)
	if (T_TMP="$T_TMP/${name//\//_}.d" && mkdir "$T_TMP" && "$@") >"$log" 2>&1; then
		end=$(date +%s.%N)
		T_PASS=$((T_PASS + 1))
		printf 'ok   %-40s (%.1fs)\n' "$name" "$(awk "BEGIN{print $end - $start}")"
		[ -z "${T_VERBOSE:-}" ] || sed 's/^/     | /' "$log"
	else
		T_FAIL=$((T_FAIL + 1))
		T_FAILED_NAMES+=("$name")
		printf 'FAIL %s\n' "$name"
		sed 's/^/     | /' "$log" | tail -n 40
	fi
}

# t_run_all PREFIX [REGEX]: the group's tests, every t_* function in name
# order (only those REGEX matches), each as PREFIX/NAME; then t_summary,
# whose status is the group's.
t_run_all() {
	local t
	for t in $(declare -F | awk '$3 ~ /^t_/ && $3 != "t_run" && $3 != "t_run_all" && $3 != "t_summary" {print $3}' |
		grep -E -- "${2:-.}"); do
		t_run "$1/${t#t_}" "$t"
	done
	t_summary
}

t_summary() {
	if [ "$T_FAIL" -gt 0 ]; then
		echo "failed: ${T_FAILED_NAMES[*]}"
	fi
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}

# expect_status WANT CMD...: run CMD, fail unless it exits WANT. Output is kept
# in $T_OUT (stdout) and $T_ERR (stderr) for further checks. CMD is stopped
# after T_TIMEOUT seconds (default 300) and then counts as a failure.
expect_status() {
	local want=$1
	shift
	T_OUT="$T_TMP/out.$BASHPID" T_ERR="$T_TMP/err.$BASHPID"
	timeout -k 10 "${T_TIMEOUT:-300}" "$@" >"$T_OUT" 2>"$T_ERR" </dev/null
	local got=$?
	if [ "$got" != "$want" ]; then
		echo "expected exit status $want, got $got from: $*"
		echo "--- stdout"; tail -n 30 "$T_OUT"
		echo "--- stderr"; tail -n 30 "$T_ERR"
		return 1
	fi
}

# expect_grep PATTERN FILE: fail unless FILE has a line matching PATTERN (ERE).
# Carriage returns (the guest's tty writes CRLF) are ignored.
expect_grep() {
	if ! tr -d '\r' <"$2" | grep -Eq -- "$1"; then
		echo "expected /$1/ in $2; it holds:"
		tail -n 30 "$2"
		return 1
	fi
}

# expect_empty FILE: fail unless FILE is empty (not even a partial line).
expect_empty() {
	[ ! -s "$1" ] || { echo "expected $1 to be empty; it holds:"; cat "$1"; return 1; }
}

# expect_lines N FILE: fail unless FILE has exactly N lines.
expect_lines() {
	local n
	n=$(wc -l <"$2")
	if [ "$n" != "$1" ]; then
		echo "expected $1 lines in $2, found $n:"
		cat "$2"
		return 1
	fi
}

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

# wait_for_count PATTERN COUNT FILE PID: wait (bounded, 30 s) until FILE has
# COUNT lines matching PATTERN, or PID is gone.
wait_for_count() {
	local _
	for _ in $(seq 1 300); do
		[ "$(tr -d '\r' <"$3" | grep -Ec -- "$1")" -ge "$2" ] && return 0
		kill -0 "$4" 2>/dev/null || break
		sleep 0.1
	done
	echo "fewer than $2 /$1/ lines in $3:"
	tail -n 20 "$3"
	return 1
}

# The VM's pause in test builds (build/tests/ember-testhooks): SIGRTMIN
# pauses, SIGRTMIN+1 resumes; SIGUSR1 prints a {"vm":...} line with each
# vCPU's KVM_RUN count.
# vm_pause PID ERRFILE / vm_resume PID ERRFILE: signal and wait until ember
# says it is done.
vm_pause() {
	local n
	n=$(grep -c '^ember: test hook: paus' "$2")
	kill -RTMIN "$1"
	wait_for_count '^ember: test hook: paus' $((n + 1)) "$2" "$1" || return 1
	! tail -n 5 "$2" | grep -q 'pause FAILED' || { echo "pause failed"; tail -n 20 "$2"; return 1; }
}
vm_resume() {
	local n
	n=$(grep -c '^ember: test hook: resumed' "$2")
	kill -s RTMIN+1 "$1"
	wait_for_count '^ember: test hook: resumed' $((n + 1)) "$2" "$1"
}
# usr1_line PID ERRFILE: SIGUSR1, and wait for the new {"vm":...} line.
usr1_line() {
	local n
	n=$(grep -c '^{"vm":' "$2")
	kill -USR1 "$1"
	wait_for_count '^\{"vm":' $((n + 1)) "$2" "$1"
}
# kvm_runs ERRFILE: the vCPUs' KVM_RUN counts in the last {"vm":...} line, as N,N,...
kvm_runs() {
	tr -d '\r' <"$1" | grep '^{"vm":' | tail -n1 | grep -o '"kvm_runs":[0-9]*' | cut -d: -f2 | paste -sd,
}

# wait_for_socket PATH PID: wait (bounded, 5 s) until PATH is a socket, or PID is gone.
wait_for_socket() {
	local _
	for _ in $(seq 1 100); do
		[ -S "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.05
	done
	echo "no socket at $1"
	return 1
}

# T_SOCK: a folder for Unix sockets, removed at exit. Not $T_TMP: in the lab
# /tmp is the host's tree over 9p, where sockets cannot be bound; /run is the
# lab's own tmpfs (and a plain folder natively).
T_SOCK=$(mktemp -d /run/ember-sock.XXXXXX 2>/dev/null || echo "$T_TMP")
trap 'rm -rf "$T_TMP" "$T_SOCK"' EXIT
