#!/usr/bin/env bash
# bench/boot_exits.sh: what a Linux guest's boot costs in exits from the
# guest to the host, ember against QEMU -M microvm, counted by the host's KVM
# itself (its kvm_entry/kvm_exit tracepoints, through perf), so both VMMs are
# measured the same way. Each VMM boots the Debian cloud kernel (bzImage and
# vmlinux) and the initramfs, 1 vCPU, 256 MiB, with the guest command `true`,
# ROUNDS times; for each row, the medians of:
#   - the guest's span: its first entry to its last exit (boot, `true`, and
#     the way out), and how much of it the vCPU spent in the guest;
#   - exits by KVM's reason, each with the time until the guest ran again
#     (KVM's handling and, for I/O, the VMM's);
#   - the port I/O, MMIO and MSR accesses among them by the device they
#     reach (KVM's kvm_pio, kvm_mmio and kvm_msr tracepoints).
# The VMM's own start, before the guest first runs, is bench/boot.sh's.
# Prints Markdown. Needs root, perf (linux-perf) and a Linux-capable KVM:
# bench/run runs it in the lab.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh
ROUNDS=${BENCH_EXITS_ROUNDS:-3}
G=${EMBER_GUEST:-build/guest}
for f in "$G/vmlinuz" "$G/vmlinux" "$G/initramfs.cpio.gz"; do
	[ -s "$f" ] || { echo "bench: no $f (make guest)" >&2; exit 1; }
done
command -v perf >/dev/null || { echo "bench: no perf (apt-get install linux-perf)" >&2; exit 1; }
[ -x build/ember ] || { echo "bench: no build/ember (make)" >&2; exit 1; }
tmp=$(mktemp -d /run/ember-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT
INITRD=$G/initramfs.cpio.gz
# The reasons that get a column; the rest are summed in "other".
REASONS="npf io msr cpuid interrupt hlt"
# The devices the accesses reach, in the second table's order.
DEVS="ioapic lapic tsc_deadline msr uart i8042 pci rtc fw_cfg pio mmio"

names=(ember_bz ember_pvh qemu_bz qemu_pvh)
declare -A label=(
	[ember_bz]="ember, bzImage"
	[ember_pvh]="ember, vmlinux (PVH)"
	[qemu_bz]="QEMU $(qemu_version) \`-M microvm,rtc=on\`, bzImage"
	[qemu_pvh]="QEMU \`-M microvm,rtc=on\`, vmlinux (PVH)"
)

# one NAME ROUND: boot NAME under perf; one line of numbers in $tmp/row.NAME.
one() {
	local k=$G/vmlinuz cmd
	case $1 in *_pvh) k=$G/vmlinux ;; esac
	case $1 in
	ember_*) cmd=(build/ember --kernel "$k" --initrd "$INITRD" --mem 256 --console none -- true) ;;
	qemu_*) cmd=(qemu-system-x86_64 -M "microvm,rtc=on" -enable-kvm -cpu host -m 256 -smp 1
		-nodefaults -no-user-config -nographic -no-reboot -serial null
		-kernel "$k" -initrd "$INITRD" -append "console=ttyS0 reboot=k panic=-1 quiet -- true") ;;
	esac
	if ! timeout 300 perf record -q -e kvm:kvm_entry -e kvm:kvm_exit -e kvm:kvm_pio \
		-e kvm:kvm_mmio -e kvm:kvm_msr -o "$tmp/perf.data" -- \
		"${cmd[@]}" >"$tmp/out" 2>&1 </dev/null; then
		echo "bench: $1 round $2 failed:" >&2
		tail -n 3 "$tmp/out" >&2
		return
	fi
	# Between an exit and the next entry the vCPU is out of the guest;
	# between an entry and the next exit it is in it.
	perf script -i "$tmp/perf.data" -F time,event,trace 2>/dev/null >"$tmp/trace"
	awk -v reasons="$REASONS" '
		{ t = $1 + 0 }
		$2 == "kvm:kvm_entry:" {
			if (first == "") first = t
			if (r != "") out[r] += t - tx
			r = ""; te = t; last = t
		}
		$2 == "kvm:kvm_exit:" {
			for (i = 3; i < NF; i++) if ($i == "reason") { r = $(i + 1); break }
			n[r]++; total++; tx = t
			if (te != "") in_guest += t - te
			last = t
		}
		END {
			m = split(reasons, want, " ")
			printf "%.0f %.0f %d", (last - first) * 1000, in_guest * 1000, total
			for (i = 1; i <= m; i++) {
				printf " %d %.1f", n[want[i]], out[want[i]] * 1000
				seen[want[i]] = 1
			}
			for (k in n) if (!(k in seen)) { on += n[k]; ot += out[k] }
			printf " %d %.1f\n", on, ot * 1000
		}' "$tmp/trace" >>"$tmp/row.$1"
	# The accesses by device ("pio_write at 0x3f8 size 1 ...", "mmio write
	# len 4 gpa 0xfec00000 ...", "msr_write 6e0 = ..."); a read that the
	# VMM answers is traced twice, as unsatisfied-read and then read.
	awk -v devs="$DEVS" '
		$2 == "kvm:kvm_pio:" {
			p = $5
			if (p ~ /^0x[23][ef][89a-f]$/) d = "uart"
			else if (p == "0x60" || p == "0x64") d = "i8042"
			else if (p ~ /^0xcf[89a-f]$/) d = "pci"
			else if (p == "0x70" || p == "0x71") d = "rtc"
			else if (p ~ /^0x51[0-9ab]$/) d = "fw_cfg"
			else d = "pio"
			n[d]++
		}
		$2 == "kvm:kvm_mmio:" && $4 != "unsatisfied-read" {
			a = $8
			if (a ~ /^0xfec[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]$/) d = "ioapic"
			else if (a ~ /^0xfee[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]$/) d = "lapic"
			else d = "mmio"
			n[d]++
		}
		$2 == "kvm:kvm_msr:" {
			m = $4
			if (m == "6e0") d = "tsc_deadline"
			else if (m ~ /^8[0-9a-f][0-9a-f]$/) d = "lapic"
			else d = "msr"
			n[d]++
		}
		END {
			k = split(devs, want, " ")
			for (i = 1; i <= k; i++) printf "%s%d", (i > 1 ? " " : ""), n[want[i]]
			printf "\n"
		}' "$tmp/trace" >>"$tmp/dev.$1"
	rm -f "$tmp/trace"
}

for r in $(seq 1 "$ROUNDS"); do
	for n in "${names[@]}"; do
		echo "bench: $(date +%T) $n round $r" >&2
		one "$n" "$r"
	done
done


hdr="| VMM (Debian cloud kernel + busybox initramfs, guest command \`true\`, 1 vCPU, 256 MiB, in the lab; median of $ROUNDS) | guest's span (ms) | in the guest (ms) | exits |"
sep="|---|---:|---:|---:|"
for x in $REASONS other; do
	hdr="$hdr $x: exits (ms out) |"
	sep="$sep---:|"
done
echo "$hdr"
echo "$sep"
for n in "${names[@]}"; do
	f=$tmp/row.$n
	[ -s "$f" ] || { echo "| ${label[$n]} | failed |"; continue; }
	line="| ${label[$n]} | $(median "$f" 1) | $(median "$f" 2) | $(median "$f" 3) |"
	c=4
	for _ in $REASONS other; do
		line="$line $(median "$f" $c) ($(median "$f" $((c + 1)) 1 %.1f)) |"
		c=$((c + 2))
	done
	echo "$line"
done

echo
echo "| accesses by device (median per boot) | IOAPIC (MMIO) | local APIC (MMIO, x2APIC MSRs) | TSC-deadline MSR | other MSRs | UARTs (ports) | i8042 (ports) | PCI config (ports) | RTC/CMOS (ports) | fw_cfg (ports) | other ports | other MMIO |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
ndev=$(wc -w <<<"$DEVS")
for n in "${names[@]}"; do
	f=$tmp/dev.$n
	[ -s "$f" ] || { echo "| ${label[$n]} | failed |"; continue; }
	line="| ${label[$n]} |"
	for c in $(seq 1 "$ndev"); do
		line="$line $(median "$f" "$c") |"
	done
	echo "$line"
done
