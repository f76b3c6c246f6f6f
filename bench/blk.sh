#!/usr/bin/env bash
# bench/blk.sh: virtio-blk throughput, ember against QEMU (-M microvm with
# PCIe, virtio-blk-pci, cache=none, aio=io_uring), on the same RAM block
# device (brd, /dev/ram0) opened with O_DIRECT by both. The guest runs
# bench/blkbench (added to the initramfs as a second cpio archive): sequential
# 1 MiB writes and reads, then 4 KiB random reads from 4 threads; ember runs
# with and without its seccomp filters, and with a rate limiter that never
# binds (what limiting costs; virtio only). BENCH_BLK_ONLY=REGEX runs only the
# rows whose names match (ember, ember_limited, ember_nosec, qemu, and
# ember_base: with BENCH_BLK_BASE=PATH, another ember binary, a build of an
# earlier commit say, measured in the same run). Host CPU is
# the VMM process's user+system time for the workload run minus that of a run
# that only boots and exits (so boot cost cancels out), also divided by the
# guest I/Os done (2 x MiB one-MiB requests plus the random reads). Prints a Markdown
# table. Runs inside the lab (bench/run), as root: it loads brd.
#
# bench/blk.sh vfio: the same workload on an NVMe VF passed through
# (ember --vfio, QEMU -device vfio-pci), in a lab booted with --sriov; the
# guest's device is /dev/nvme0n1 (the VF's 64 MiB namespace, 32 MiB used).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
MODE=${1:-virtio}
ROUNDS=${BENCH_ROUNDS:-2}
if [ "$MODE" = vfio ]; then MIB=${BENCH_BLK_MIB:-32}; else MIB=${BENCH_BLK_MIB:-128}; fi
SECS=${BENCH_BLK_SECONDS:-5}
G=build/guest
tmp=$(mktemp -d /run/ember-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "$MODE" = vfio ]; then
	read -r _ VF _ <<<"$(tests/lab/sriov-vf)"
	GDEV=/dev/nvme0n1
	DEVOPT=(--vfio "$VF")
	QDEV=(-device "vfio-pci,host=$VF")
	LABEL="NVMe VF passthrough (lab's emulated NVMe), O_DIRECT"
	QLABEL="vfio-pci"
else
	if [ ! -b /dev/ram0 ]; then
		modprobe ${EMBER_LAB_MODULES:+-d "$EMBER_LAB_MODULES"} brd rd_nr=1 \
			rd_size=$(((MIB + 64) * 1024))
	fi
	DEV=/dev/ram0
	dd if=/dev/zero of="$DEV" bs=1M count="$MIB" oflag=direct status=none
	GDEV=/dev/vda
	DEVOPT=(--disk "$DEV,direct")
	QDEV=(-drive "id=d0,file=$DEV,format=raw,if=none,cache=none,aio=io_uring" -device virtio-blk-pci,drive=d0)
	LABEL="virtio-blk, brd RAM disk, O_DIRECT"
	QLABEL="virtio-blk-pci, aio=io_uring, cache=none"
fi

# The benchmark initramfs: the guest's, plus /bin/blkbench.
mkdir -p "$tmp/extra/bin"
cp build/bench/blkbench "$tmp/extra/bin/blkbench"
(cd "$tmp/extra" && find . -mindepth 1 | cpio -o -H newc -R 0:0 --quiet) | gzip -n >"$tmp/extra.gz"
cat "$G/initramfs.cpio.gz" "$tmp/extra.gz" >"$tmp/initrd.gz"

WORK="blkbench seqwrite $GDEV $MIB && blkbench seqread $GDEV $MIB && blkbench randread $GDEV $SECS 4"
ember() { # console-file command [ember options...]
	build/bench/runstat "${EMBER_BIN:-build/ember}" "${@:3}" --kernel "$G/vmlinuz" --initrd "$tmp/initrd.gz" \
		--mem 512 --console "file:$1" "${DEVOPT[@]}" -- sh -c "$2"
}
ember_nosec() { ember "$1" "$2" --seccomp off; } # without filters: what they cost
ember_base() { EMBER_BIN=$BENCH_BLK_BASE ember "$@"; } # another build, to compare
# a rate limiter far above what the guest does (64 GiB and 10^7 requests a
# second): what checking every request against the buckets costs
ember_limited() {
	local saved=("${DEVOPT[@]}")
	DEVOPT[1]="${DEVOPT[1]},bw=64G/1000,ops=10000000/1000"
	ember "$1" "$2"
	DEVOPT=("${saved[@]}")
}
qemu() {
	build/bench/runstat qemu-system-x86_64 -M microvm,pcie=on,rtc=off -enable-kvm -cpu host \
		-m 512 -nodefaults -no-user-config -display none -no-reboot -serial "file:$1" \
		-kernel "$G/vmlinuz" -initrd "$tmp/initrd.gz" \
		-append "console=ttyS0 reboot=k panic=-1 quiet -- sh -c \"$2\"" \
		"${QDEV[@]}" -device isa-debug-exit,iobase=0x501,iosize=1
}

# run NAME KIND(work|base) WANT-STATUS: one measured run; appends results.
run() {
	local name=$1 kind=$2 want=$3 cmd=true wall kb st cpu
	[ "$kind" = work ] && cmd=$WORK
	read -r wall kb st cpu <<<"$("$name" "$tmp/console" "$cmd" 2>"$tmp/stderr")"
	if [ "$st" != "$want" ]; then
		echo "bench: $name ($kind) exited $st, want $want" >&2
		tail -n 20 "$tmp/console" "$tmp/stderr" >&2
		exit 1
	fi
	echo "$cpu" >>"$tmp/$name.$kind.cpu"
	if [ "$kind" = work ]; then
		local m
		for m in seqwrite seqread randread; do
			tr -d '\r' <"$tmp/console" | awk -v m="$m" '$1 == "blkbench" && $2 == m { print $3 }' \
				>>"$tmp/$name.$m"
			[ -s "$tmp/$name.$m" ] || { echo "bench: $name printed no $m result" >&2;
				tail -n 20 "$tmp/console" >&2; exit 1; }
		done
	fi
}
ONLY=${BENCH_BLK_ONLY:-.} # a regex: only the rows whose names match (e.g. '^ember')
# wanted NAME: a row to run (a rate limiter is a virtio-blk option: not with --vfio)
wanted() {
	[[ $1 =~ $ONLY ]] && { [ "$1" != ember_limited ] || [ "${DEVOPT[0]}" = --disk ]; } &&
		{ [ "$1" != ember_base ] || [ -n "${BENCH_BLK_BASE:-}" ]; }
}
for _ in $(seq 1 "$ROUNDS"); do
	for kind in work base; do
		for name in ember ember_base qemu ember_nosec ember_limited; do
			wanted "$name" || continue
			want=0
			[ "$name" = qemu ] && want=1 # isa-debug-exit: status 0 becomes 1
			run "$name" "$kind" "$want"
		done
	done
done

row_of() { # name label
	local w r i cw cb
	w="$(median "$tmp/$1.seqwrite")$(spread "$tmp/$1.seqwrite")"
	r="$(median "$tmp/$1.seqread")$(spread "$tmp/$1.seqread")"
	i="$(median "$tmp/$1.randread")$(spread "$tmp/$1.randread")"
	cw=$(median "$tmp/$1.work.cpu")
	cb=$(median "$tmp/$1.base.cpu")
	# Guest I/Os: 2 x MIB one-MiB requests plus the random reads done.
	printf '| %s | %s | %s | %s | %s | %s |\n' "$2" "$w" "$r" "$i" \
		"$(awk -v a="$cw" -v b="$cb" 'BEGIN { printf "%.2f", (a - b) / 1e6 }')" \
		"$(awk -v a="$cw" -v b="$cb" -v n="$((2 * MIB))" -v i="$i" -v s="$SECS" \
			'BEGIN { printf "%.0f", (a - b) / (n + i * s) }')"
}
echo "| VMM ($LABEL, $MIB MiB, ${SECS} s random, median of $ROUNDS (lowest-highest)) | seq write 1 MiB (MiB/s) | seq read 1 MiB (MiB/s) | 4 KiB random read, 4 threads (IOPS) | host CPU for the workload (s) | host CPU per guest I/O (µs) |"
echo "|---|---:|---:|---:|---:|---:|"
row() { if wanted "$1"; then row_of "$@"; fi; }
row ember ember
row ember_base "ember (BENCH_BLK_BASE)"
row ember_limited "ember, rate limiter on (never binding)"
row ember_nosec "ember --seccomp off"
row qemu "QEMU $(qemu_version) microvm, $QLABEL"
