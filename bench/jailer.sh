#!/usr/bin/env bash
# bench/jailer.sh: what confinement adds to start-up. The same tiny PVH payload
# (writes 42 to port 0x501) booted RUNS times each, in alternation, by ember
# without seccomp filters, by plain ember (filters on), and by ember-jailer
# running ember in a fresh jail (copy of ember, /dev/kvm, hard-linked payload,
# cgroup, mount namespace, pivot_root, dropped privileges): by default (ember
# is the jailer's child, born in its cgroup: clone3 CLONE_INTO_CGROUP), with
# --new-pid-ns, and with --exec-in-place (the jailer becomes ember and moves
# itself into the cgroup). Prints median/p90 wall time and the jailer's added
# median as a Markdown table. Jails and cgroups are removed between runs,
# outside the measurement. Needs root and a /dev/kvm (bench/run picks native
# or the lab).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-30}
tmp=$(mktemp -d)
cleanup_jail() {
	rm -rf "$tmp/jails/ember/$1"
	for d in $(findmnt -n -t cgroup2 -o TARGET); do
		[ -d "$d/ember/$1" ] && rmdir "$d/ember/$1"
	done
	return 0
}
trap 'rm -rf "$tmp"' EXIT
build/tests/mkpayload 42 "$tmp/payload.elf"
chmod 644 "$tmp/payload.elf"

nosec=(build/ember --seccomp off --kernel "$tmp/payload.elf" --mem 64 --console none)
ember=(build/ember --kernel "$tmp/payload.elf" --mem 64 --console none)
jailed() { # id [jailer options] -> the jailer's command line
	local id=$1
	shift
	echo build/ember-jailer --id "$id" --exec-file build/ember --uid 64123 --gid 64124 \
		--chroot-base "$tmp/jails" "$@" -- --kernel "$tmp/payload.elf" --mem 64 --console none
}

run() { # name cmd...
	local name=$1 us kb st
	shift
	read -r us kb st _ <<<"$(build/bench/runstat "$@" 2>/dev/null)"
	if [ "$st" != 42 ]; then
		echo "bench: $name exited $st (want 42): $*" >&2
		exit 1
	fi
	echo "$us" >>"$tmp/$name"
}
# Warm the page cache, then alternate so all see the same machine state.
"${ember[@]}" >/dev/null 2>&1 || true
for i in $(seq 1 "$RUNS"); do
	run nosec "${nosec[@]}"
	run ember "${ember[@]}"
	# shellcheck disable=SC2046
	run jailed $(jailed "bench-$$-$i")
	cleanup_jail "bench-$$-$i"
	# shellcheck disable=SC2046
	run pidns $(jailed "bench-$$-p$i" --new-pid-ns)
	cleanup_jail "bench-$$-p$i"
	# shellcheck disable=SC2046
	run inplace $(jailed "bench-$$-x$i" --exec-in-place)
	cleanup_jail "bench-$$-x$i"
done

stats() { # file -> "median_ms p90_ms"
	sort -n "$1" | awk '{w[NR]=$1} END {
		printf "%.2f %.2f", w[int((NR+1)/2)]/1000, w[int(NR*0.9+0.5)]/1000 }'
}
read -r mn pn <<<"$(stats "$tmp/nosec")"
read -r me pe <<<"$(stats "$tmp/ember")"
read -r mj pj <<<"$(stats "$tmp/jailed")"
read -r mp pp <<<"$(stats "$tmp/pidns")"
read -r mx px <<<"$(stats "$tmp/inplace")"
echo "| tiny PVH payload, $RUNS runs each | median wall (ms) | p90 wall (ms) | added median (ms) |"
echo "|---|---:|---:|---:|"
echo "| ember --seccomp off | $mn | $pn | |"
echo "| ember (per-thread seccomp filters) | $me | $pe | $(awk "BEGIN{printf \"%+.2f\", $me - $mn}") |"
echo "| ember-jailer + ember (default: child born in the cgroup) | $mj | $pj | $(awk "BEGIN{printf \"%+.2f\", $mj - $me}") |"
echo "| ember-jailer --new-pid-ns + ember | $mp | $pp | $(awk "BEGIN{printf \"%+.2f\", $mp - $me}") |"
echo "| ember-jailer --exec-in-place + ember (moves itself into the cgroup) | $mx | $px | $(awk "BEGIN{printf \"%+.2f\", $mx - $me}") |"
