#!/usr/bin/env bash
# bench/api_boot.sh: does the API path boot Linux as fast as the command
# line? The same guest (the PVH vmlinux, the initramfs, 1 vCPU, 256 MiB, the
# guest command `true`) booted RUNS times each way, in alternation, with
# --boot-time (the guest's init writes to port 0x3f0 when userspace starts):
#   - command line: from ember's start to userspace;
#   - --config-file --no-api: the same, configured from a JSON file;
#   - API: ember --api-sock, the configuration PUT with curl, then from
#     InstanceStart to userspace (ember reports that span itself).
# Prints medians and p90 as a Markdown table. Needs a KVM that boots Linux
# (bench/run runs it in the lab).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-10}
G=${EMBER_GUEST:-build/guest}
tmp=$(mktemp -d)
sockdir=$(mktemp -d /run/ember-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp" "$sockdir"' EXIT
kernel=$G/vmlinux initrd=$G/initramfs.cpio.gz
args="console=ttyS0 reboot=k panic=-1 quiet -- true"
cat >"$tmp/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$kernel", "initrd_path": "$initrd", "boot_args": "$args"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256}}
JSON

# ms: the number in ember's "--boot-time" line on stderr file $1.
ms() { sed -En 's/^ember: guest userspace started ([0-9.]+) ms after .*/\1/p' "$1" | head -n1; }

cli() {
	build/ember --boot-time --console none --kernel "$kernel" --initrd "$initrd" --mem 256 \
		--cmdline "quiet" -- true 2>"$tmp/err" >/dev/null
	ms "$tmp/err"
}

config_file() {
	build/ember --boot-time --console none --no-api --config-file "$tmp/vm.json" 2>"$tmp/err" >/dev/null
	ms "$tmp/err"
}

api() {
	local s=$sockdir/api.sock pid
	rm -f "$s"
	build/ember --boot-time --console none --api-sock "$s" 2>"$tmp/err" >/dev/null &
	pid=$!
	for _ in $(seq 1 500); do [ -S "$s" ] && break; sleep 0.01; done
	c() { curl -sf --unix-socket "$s" -X PUT -H 'Content-Type: application/json' -d "$2" "http://localhost$1"; }
	c /boot-source "{\"kernel_image_path\":\"$kernel\",\"initrd_path\":\"$initrd\",\"boot_args\":\"$args\"}"
	c /machine-config '{"vcpu_count":1,"mem_size_mib":256}'
	c /actions '{"action_type":"InstanceStart"}'
	wait "$pid" || true
	ms "$tmp/err"
}

for _ in $(seq 1 "$RUNS"); do
	for way in cli config_file api; do
		v=$($way)
		[ -n "$v" ] || { echo "bench: $way: no boot time reported" >&2; cat "$tmp/err" >&2; exit 1; }
		echo "$v" >>"$tmp/$way"
	done
done
stats() { sort -n "$1" | awk '{v[NR]=$1} END {printf "%.1f | %.1f", v[int((NR+1)/2)], v[int(NR*0.9+0.5)]}'; }
echo "| ember, Linux guest to userspace ($RUNS runs each, alternating) | median (ms) | p90 (ms) |"
echo "|---|---:|---:|"
echo "| command line: ember start to userspace | $(stats "$tmp/cli") |"
echo "| --config-file --no-api: ember start to userspace | $(stats "$tmp/config_file") |"
echo "| API: InstanceStart to userspace | $(stats "$tmp/api") |"
