# tests/jail/lib.sh: what the jail test groups share (sourced after tests/lib.sh,
# from the repository root): the binaries, the jail uid/gid, a jail base on a
# tmpfs, cgroup lookups, starting a jailed ember and checking that every thread
# of it is confined, and checking that a refused jail left nothing behind.
EMBER=${EMBER:-build/ember}
JAILER=${JAILER:-build/ember-jailer}
HOOKS=build/tests/ember-testhooks
G=${EMBER_GUEST:-build/guest}
JUID=64123
JGID=64124
S=$$ # jail ids are NAME-$S: a failed earlier run cannot get in the way

# Jails on a tmpfs (the lab's /run, or /dev/shm natively): device nodes work
# there and files from elsewhere are bind-mounted; $T_TMP/jails (same file
# system as the test files natively) exercises the hard-link path.
if [ -n "$EMBER_LAB" ]; then
	BASE=$(mktemp -d /run/ember-jail.XXXXXX)
else
	BASE=$(mktemp -d /dev/shm/ember-jail.XXXXXX)
fi
end_cleanup() {
	local d
	for d in $(findmnt -n -t cgroup2 -o TARGET); do
		rmdir "$d"/ember/*-"$S" 2>/dev/null
	done
	rm -rf "$T_TMP" "$BASE"
}
trap end_cleanup EXIT

payload() { build/tests/mkpayload "$1" "$T_TMP/p-$1.elf" && echo "$T_TMP/p-$1.elf"; }
# entry_name KIND FILE: the name of FILE's kernel cache entry of KIND
# (vmlinux, initrd), as vmm/lib/cache_name.c makes it.
entry_name() {
	stat -L -c "$1 %d %i %s %.9Y %.9Z" "$2" | awk '{printf "%s-%x-%x-%x-%s-%s\n", $1, $2, $3, $4, $5, $6}'
}
SPIN=$(payload spin) || exit 1

cg_root() { findmnt -n -t cgroup2 -o TARGET | sort | head -n1; }
# The VM's cgroup (after the jailer made or found the cgroup2 mount).
cg_dir() { local r; r=$(findmnt -n -t cgroup2 -o TARGET /sys/fs/cgroup 2>/dev/null || cg_root); echo "$r/ember/$1"; }
have_controller() {
	local r
	r=$(findmnt -n -t cgroup2 -o TARGET /sys/fs/cgroup 2>/dev/null || cg_root)
	[ -n "$r" ] || { mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null && r=/sys/fs/cgroup; }
	[ -n "$r" ] && grep -qw "$1" "$r/cgroup.controllers"
}

# Remove a jail and its cgroup once its ember is gone.
jail_cleanup() {
	local base=${2:-$BASE} d
	rm -rf "${base:?}/ember/$1-$S"
	d=$(cg_dir "$1-$S")
	[ -d "$d" ] && rmdir "$d" 2>/dev/null
	return 0
}

# start_jailed ID ARGS...: jailer in the background (its PID in $PID, stderr in
# $T_TMP/ID.err), waits until the guest runs (all filters are in); ember's PID
# in $EMBER_PID (the jailer's child; the jailer itself with --exec-in-place).
start_jailed() {
	local id=$1 a
	shift
	"$JAILER" --id "$id-$S" --exec-file "$EMBER" --uid $JUID --gid $JGID --chroot-base "$BASE" "$@" \
		>"$T_TMP/$id.out" 2>"$T_TMP/$id.err" </dev/null &
	PID=$!
	wait_for 'guest userspace started' "$T_TMP/$id.err" $PID || { kill -9 $PID; return 1; }
	EMBER_PID=$(pgrep -P $PID)
	for a in "$@"; do
		[ "$a" = --exec-in-place ] && EMBER_PID=$PID
		[ "$a" = -- ] && break
	done
	[ -n "$EMBER_PID" ] || { echo "no ember under the jailer $PID"; kill -9 $PID; return 1; }
}

# stop PID WANT: SIGTERM, then the exit status must be WANT.
stop() {
	kill -TERM "$1"
	wait "$1"
	local rc=$?
	[ "$rc" = "$2" ] || { echo "exit status $rc, want $2"; return 1; }
}

# check_confined PID THREADS: every thread filtered, unprivileged, as JUID:JGID.
check_confined() {
	local pid=$1 want=$2 n=0 t f
	for t in /proc/"$pid"/task/*; do
		# io_uring workers come and go: a thread that ended is skipped.
		f=$(cat "$t/status" 2>/dev/null) || { [ ! -e "$t" ] && continue; echo "cannot read $t/status"; return 1; }
		local name
		name=$(awk '/^Name:/ {print $2}' <<<"$f")
		grep -Eq $'^Seccomp:\t2$' <<<"$f" || { echo "thread $name: $(grep ^Seccomp: <<<"$f")"; return 1; }
		grep -Eq $'^NoNewPrivs:\t1$' <<<"$f" || { echo "thread $name: NoNewPrivs not 1"; return 1; }
		for c in CapInh CapPrm CapEff CapBnd CapAmb; do
			grep -Eq "^$c:"$'\t'"0000000000000000$" <<<"$f" ||
				{ echo "thread $name: $(grep "^$c:" <<<"$f")"; return 1; }
		done
		grep -Eq "^Uid:"$'\t'"$JUID"$'\t'"$JUID"$'\t'"$JUID"$'\t'"$JUID$" <<<"$f" ||
			{ echo "thread $name: $(grep ^Uid: <<<"$f")"; return 1; }
		grep -Eq "^Gid:"$'\t'"$JGID"$'\t'"$JGID"$'\t'"$JGID"$'\t'"$JGID$" <<<"$f" ||
			{ echo "thread $name: $(grep ^Gid: <<<"$f")"; return 1; }
		grep -Eq '^Groups:[[:space:]]*$' <<<"$f" || { echo "thread $name: $(grep ^Groups: <<<"$f")"; return 1; }
		n=$((n + 1))
		echo "$name" >>"$T_TMP/threads.$pid"
	done
	for name in $want; do
		grep -qx "$name" "$T_TMP/threads.$pid" || { echo "no thread $name:"; cat "$T_TMP/threads.$pid"; return 1; }
	done
	echo "$n threads confined: $(tr '\n' ' ' <"$T_TMP/threads.$pid")"
}

# jail_refused PATTERN JAILER-ARGS...: (id "bad") the jailer fails with one
# "ember-jailer: ...PATTERN" line and leaves no jail or cgroup behind.
jail_refused() {
	local pat=$1
	shift
	"$JAILER" "$@" >"$T_TMP/bad.out" 2>"$T_TMP/bad.err" </dev/null
	local rc=$?
	[ $rc != 0 ] || { echo "exit status 0 for: $*"; return 1; }
	expect_lines 1 "$T_TMP/bad.err" || return 1
	expect_grep "^ember-jailer: .*$pat" "$T_TMP/bad.err" || return 1
	[ ! -e "$BASE/ember/bad-$S" ] || { echo "jail left behind:"; find "$BASE/ember/bad-$S"; return 1; }
	local d
	d=$(cg_dir bad-$S)
	[ ! -e "$d" ] || { echo "cgroup $d left behind"; return 1; }
}
