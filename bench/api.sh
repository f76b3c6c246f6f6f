#!/usr/bin/env bash
# bench/api.sh: how soon ember's API answers (Firecracker's specification:
# process start to API socket accepting in 8 CPU ms). build/bench/apistart
# starts `ember --api-sock` RUNS times and times, from the fork, the socket
# accepting and a whole GET / answered; then SIGTERM. Also with a config file
# that boots a tiny PVH payload at once. Prints medians and p90 as a Markdown
# table. Native (needs /dev/kvm only for the config-file row).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build/tests/mkpayload spin "$tmp/spin.elf"
cat >"$tmp/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$tmp/spin.elf"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}
JSON

row() { # name args...
	local name=$1 i
	shift
	for i in $(seq 1 "$RUNS"); do
		build/bench/apistart "$tmp/api.sock" build/ember --console none "$@"
	done >"$tmp/$name.txt"
	# col N [p]: the median (or the p-th fraction) of column N, in ms
	col() { cut -d' ' -f"$1" "$tmp/$name.txt" | sort -n | awk -v p="${2:-0.5}" \
		'{ v[NR] = $1 } END { i = int(NR * p + 0.5); if (i < 1) i = 1; printf "%.2f", v[i] / 1000 }'; }
	echo "| $name | $(col 1) | $(col 1 0.9) | $(col 2) | $(col 3) |"
}

echo "| ember | socket accepting, median (ms) | p90 (ms) | GET / answered, median (ms) | CPU over its life, median (ms) |"
echo "|---|---:|---:|---:|---:|"
row "--api-sock (waits for configuration)"
row "--api-sock --config-file (boots at once)" --config-file "$tmp/vm.json"
