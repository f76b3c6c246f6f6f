#!/usr/bin/env bash
# bench/startup.sh: start-up cost of a VM: ember and QEMU (-M microvm) each boot
# the same tiny PVH payload, which writes 42 to port 0x501, RUNS times in
# alternation; prints median/p90 wall time and max RSS as a Markdown table.
# ember runs with its default split IRQ chip and, for comparison, with
# --irqchip kernel (KVM's IOAPIC, PICs and PIT, as QEMU's microvm uses).
# Needs a /dev/kvm (bench/run picks native or the lab).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
RUNS=${BENCH_RUNS:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build/tests/mkpayload 42 "$tmp/payload.elf"

ember=(build/ember --kernel "$tmp/payload.elf" --mem 64 --console none)
ember_kirq=("${ember[@]}" --irqchip kernel)
# isa-debug-exit turns a write of N into QEMU exit status 2N+1 (85 for 42).
# -arch-capabilities: QEMU cannot set that MSR on a nested software KVM (kvm_pvm).
qemu=(qemu-system-x86_64 -M microvm,x-option-roms=off,rtc=off -enable-kvm -cpu host,-arch-capabilities -m 64
	-nodefaults -no-user-config -nographic -display none -serial none
	-kernel "$tmp/payload.elf" -device isa-debug-exit,iobase=0x501,iosize=1)

measure() { # name want-status cmd...
	local name=$1 want=$2 i
	shift 2
	for i in $(seq 1 "$RUNS"); do
		read -r us kb st _ <<<"$(build/bench/runstat "$@" 2>/dev/null)"
		if [ "$st" != "$want" ]; then
			echo "bench: $name exited $st (want $want): $*" >&2
			exit 1
		fi
		echo "$us $kb" >>"$tmp/$name"
	done
}
# Warm the page cache, then alternate so both see the same machine state.
"${ember[@]}" >/dev/null 2>&1 || true
"${qemu[@]}" >/dev/null 2>&1 || true
for round in 1 2; do
	measure ember 42 "${ember[@]}"
	measure ember_kirq 42 "${ember_kirq[@]}"
	measure qemu 85 "${qemu[@]}"
done

stats() { # file -> "median_ms p90_ms maxrss_mib"
	sort -n "$1" | awk '{w[NR]=$1; if ($2>r) r=$2} END {
		printf "%.1f %.1f %.1f", w[int((NR+1)/2)]/1000, w[int(NR*0.9+0.5)]/1000, r/1024 }'
}
echo "| VMM (tiny PVH payload, $((RUNS * 2)) runs) | median wall (ms) | p90 wall (ms) | max RSS (MiB) |"
echo "|---|---:|---:|---:|"
read -r m p r <<<"$(stats "$tmp/ember")"
echo "| ember | $m | $p | $r |"
read -r m p r <<<"$(stats "$tmp/ember_kirq")"
echo "| ember --irqchip kernel | $m | $p | $r |"
read -r m p r <<<"$(stats "$tmp/qemu")"
echo "| QEMU $(qemu_version) -M microvm | $m | $p | $r |"
