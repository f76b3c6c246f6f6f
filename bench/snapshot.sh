#!/usr/bin/env bash
# bench/snapshot.sh: restoring a snapshot against booting, on this host's
# /dev/kvm, with a tiny payload that reports on the boot-time port again and
# again (tests/kvm/mkpayload.c "tick"), in a 128 MiB VM:
#  - latency: process start to the guest's first report (ember's own clock,
#    --boot-time), for a cold boot of the payload and for `ember --restore`
#    of a snapshot taken while it ran (memory file in the page cache);
#  - density: 10 VMs at once, cold-booted, then 10 clones of one snapshot:
#    the sum of their PSS (proportional set size: pages shared between
#    clones, such as the memory file's page cache, count once in all).
# Prints a Markdown table. BENCH_RUNS runs per latency row (default 30).
cd "$(dirname "$0")/.." || exit 1
EMBER=${EMBER:-build/ember}
RUNS=${BENCH_RUNS:-30}
T=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
build/tests/mkpayload tick "$T/tick.elf" || exit 1

# first_report ERRFILE PID: wait (bounded) for the first boot-time line; its ms.
first_report() {
	local _
	for _ in $(seq 1 4000); do
		local ms
		ms=$(grep -m1 -o 'started [0-9.]* ms' "$1" 2>/dev/null | cut -d' ' -f2)
		[ -n "$ms" ] && echo "$ms" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.005
	done
	return 1
}

# latency NAME ARGS...: RUNS runs of ember ARGS --boot-time; a table row.
latency() {
	local name=$1 i pid ms
	shift
	: >"$T/ms"
	for i in $(seq 1 "$RUNS"); do
		"$EMBER" "$@" --boot-time >/dev/null 2>"$T/err" </dev/null &
		pid=$!
		ms=$(first_report "$T/err" $pid) || { echo "| $name | failed: $(head -c 200 "$T/err") |"; kill -9 $pid; return 1; }
		kill -9 $pid
		wait $pid 2>/dev/null
		echo "$ms" >>"$T/ms"
	done
	sort -n "$T/ms" | awk -v n="$name" '{v[NR] = $1} END {
		printf "| %s | %.2f | %.2f | %.2f |\n", n, v[int((NR + 1) / 2)], v[1], v[NR] }'
}

# The snapshot: the payload running, paused, saved.
S=$T/api.sock
"$EMBER" --kernel "$T/tick.elf" --mem 128 --api-sock "$S" --boot-time >/dev/null 2>"$T/err0" </dev/null &
pid=$!
first_report "$T/err0" $pid >/dev/null || { echo "the payload did not run"; exit 1; }
curl -sS --unix-socket "$S" -X PATCH -d '{"state":"Paused"}' http://localhost/vm || exit 1
curl -sS --unix-socket "$S" -X PUT -d "{\"snapshot_path\":\"$T/tick.state\",\"mem_file_path\":\"$T/tick.mem\"}" \
	http://localhost/snapshot/create || exit 1
kill -9 $pid
wait $pid 2>/dev/null
cat "$T/tick.state" "$T/tick.mem" >/dev/null # in the page cache, as for a platform restoring often

echo "| 128 MiB tiny VM, $RUNS runs | median ms | min | max |"
echo "|---|---|---|---|"
latency "cold boot (ember --kernel)" --kernel "$T/tick.elf" --mem 128
latency "restore (ember --restore)" --restore "$T/tick.state" --mem-file "$T/tick.mem"
echo
echo "State file $(stat -c %s "$T/tick.state") bytes; memory file $(stat -c %s "$T/tick.mem") bytes, $(du -k "$T/tick.mem" | cut -f1) KiB on disk."
echo

# pss_of PIDS...: the sum of their PSS, KiB.
pss_of() {
	local p sum=0 v
	for p in "$@"; do
		v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
		sum=$((sum + ${v:-0}))
	done
	echo $sum
}

# density NAME ARGS...: 10 at once, each once it has reported; the PSS sum.
density() {
	local name=$1 i pids=() kib
	shift
	for i in $(seq 1 10); do
		"$EMBER" "$@" --boot-time >/dev/null 2>"$T/d$i" </dev/null &
		pids+=($!)
	done
	for i in $(seq 1 10); do
		first_report "$T/d$i" ${pids[i - 1]} >/dev/null || { echo "| $name | failed |"; kill -9 "${pids[@]}"; return 1; }
	done
	kib=$(pss_of "${pids[@]}")
	kill -9 "${pids[@]}"
	wait "${pids[@]}" 2>/dev/null
	echo "| $name | $((kib / 1024)) | $((kib / 10240)) |"
}
echo "| 10 VMs at once, 128 MiB each | PSS sum MiB | per VM MiB |"
echo "|---|---|---|"
density "cold-booted" --kernel "$T/tick.elf" --mem 128
density "clones of one snapshot" --restore "$T/tick.state" --mem-file "$T/tick.mem"
