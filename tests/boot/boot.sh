#!/usr/bin/env bash
# tests/boot/boot.sh: ember boots the Debian cloud kernel (bzImage unpacked by
# ember and as it is, ELF vmlinux through PVH and through the 64-bit entry)
# with the guest initramfs, runs commands in it and checks what the guest
# printed and the exit status. Needs a
# KVM that can boot Linux: run it inside the lab (tests/lab/run).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
EMBER=${EMBER:-build/ember}
G=${EMBER_GUEST:-build/guest}
BZ=$G/vmlinuz
ELF=$G/vmlinux
INITRD=$G/initramfs.cpio.gz
NOPVH=$T_TMP/vmlinux-nopvh
build/tests/nopvh "$ELF" "$NOPVH" || exit 1
KVER=$(strings "$BZ" | grep -Eom1 '^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-cloud-amd64')

# boot KERNEL CPUS [EMBER OPTIONS]: uname and processor count from the guest
boot_uname() {
	expect_status 0 "$EMBER" --kernel "$1" --initrd "$INITRD" --cpus "$2" "${@:3}" \
		-- sh -c 'uname -sr; echo cpus=$(grep -c ^processor /proc/cpuinfo)' || return 1
	expect_grep "^Linux $KVER\$" "$T_OUT" || return 1
	expect_grep "^cpus=$2\$" "$T_OUT"
}
# The bzImage: ember unpacks its kernel and boots it through PVH (the log
# says so), or, with --kernel-unpack off, boots it as it is (the guest
# decompresses it).
boot_bz() {
	boot_uname "$BZ" "$1" --kernel-unpack "$2" --log-path "$T_TMP/log" || return 1
	if [ "$2" = auto ]; then
		expect_grep "booting the bzImage's vmlinux through PVH" "$T_TMP/log"
	else
		expect_grep "booting the bzImage as it is \(--kernel-unpack off\)" "$T_TMP/log"
	fi
}
t_bzimage_1cpu() { boot_bz 1 auto; }
t_bzimage_2cpus() { boot_bz 2 auto; }
t_bzimage_as_is_1cpu() { boot_bz 1 off; }
t_bzimage_as_is_2cpus() { boot_bz 2 off; }
# The kernel cache: the first boot of the bzImage keeps the vmlinux it
# unpacked (the very bytes of the vmlinux the payload holds), the next reads
# it; an entry cut short is dropped, unpacked and kept again; with
# --kernel-cache off nothing is kept.
t_bzimage_kernel_cache() {
	local kc=$T_TMP/kc e
	boot_uname "$BZ" 1 --kernel-cache "$kc" --log-path "$T_TMP/log1" || return 1
	expect_grep "booting the bzImage's vmlinux through PVH \(unpacked by ember in" "$T_TMP/log1" || return 1
	e=$(ls "$kc"/vmlinux-* 2>/dev/null)
	[ "$(echo "$e" | wc -w)" = 1 ] || { echo "entries: $e"; return 1; }
	cmp "$e" "$ELF" || return 1
	# Written sparse: the vmlinux's zero pages (its bss and scratch areas,
	# a third of it) take no blocks, and the next boot does not read them.
	local used size
	used=$(($(stat -c '%b * %B' "$e"))) size=$(stat -c %s "$e")
	[ "$used" -lt $((size * 3 / 4)) ] || { echo "cache entry not sparse: $used of $size bytes in blocks ($(stat -f -c %T "$e"))"; return 1; }
	boot_uname "$BZ" 1 --kernel-cache "$kc" --log-path "$T_TMP/log2" || return 1
	expect_grep "booting the bzImage's vmlinux through PVH \(unpacked before, read from the kernel cache" "$T_TMP/log2" || return 1
	truncate -s 1M "$e"
	boot_uname "$BZ" 1 --kernel-cache "$kc" --log-path "$T_TMP/log3" || return 1
	expect_grep "kernel cache: dropped vmlinux-.*, which is not a vmlinux ember can boot" "$T_TMP/log3" &&
		expect_grep "\(unpacked by ember in" "$T_TMP/log3" && cmp "$e" "$ELF" || return 1
	boot_uname "$BZ" 1 --kernel-cache off --log-path "$T_TMP/log4" --kernel-cache "$T_TMP/kc2" \
		--kernel-cache off || return 1
	[ ! -e "$T_TMP/kc2" ] || { echo "--kernel-cache off made a cache"; return 1; }
}
# Without --kernel-cache: $XDG_CACHE_HOME/ember/kernels, made private (0700).
t_bzimage_kernel_cache_default() {
	local x=$T_TMP/xdg
	XDG_CACHE_HOME=$x boot_uname "$BZ" 1 --log-path "$T_TMP/log1" || return 1
	XDG_CACHE_HOME=$x boot_uname "$BZ" 1 --log-path "$T_TMP/log2" || return 1
	expect_grep "\(unpacked by ember in" "$T_TMP/log1" &&
		expect_grep "\(unpacked before, read from the kernel cache" "$T_TMP/log2" || return 1
	[ "$(stat -c %a "$x/ember/kernels")" = 700 ] && cmp "$x"/ember/kernels/vmlinux-* "$ELF"
}
# A compressed initrd: ember decompresses it (the guest frees an initrd of
# the archive's size, not the gzip file's), keeps the archive in the kernel
# cache (the very bytes zcat gives) and reads it from there the next time; an
# entry that is no archive is dropped and the initrd decompressed and kept
# again; with --initrd-unpack off the guest gets the gzip file as it is (and
# boots from it just the same).
# initrd_freed OPTIONS: boot the vmlinux, print the size of the initrd the
# guest freed once it unpacked it (its "Freeing initrd memory: NK" line).
initrd_freed() {
	expect_status 0 "$EMBER" --kernel "$ELF" --initrd "$INITRD" "$@" \
		-- sh -c 'dmesg | grep -o Freeing.initrd.memory:.[0-9]*K'
}
# kib FILE: FILE's size in whole pages, as KiB.
kib() { echo $((($(stat -c %s "$1") + 4095) / 4096 * 4)); }
t_initrd_unpacked() {
	local kc=$T_TMP/kc e plain gz
	zcat "$INITRD" >"$T_TMP/plain.cpio" || return 1
	plain="^Freeing initrd memory: $(kib "$T_TMP/plain.cpio")K" gz="^Freeing initrd memory: $(kib "$INITRD")K"
	initrd_freed --kernel-cache "$kc" --log-path "$T_TMP/log1" || return 1
	expect_grep "$plain" "$T_OUT" || return 1
	expect_grep "initrd '.*': decompressed by ember \(" "$T_TMP/log1" || return 1
	e=$(ls "$kc"/initrd-* 2>/dev/null)
	[ "$(echo "$e" | wc -w)" = 1 ] || { echo "entries: $e"; return 1; }
	cmp "$T_TMP/plain.cpio" "$e" || return 1
	initrd_freed --kernel-cache "$kc" --log-path "$T_TMP/log2" || return 1
	expect_grep "$plain" "$T_OUT" || return 1
	expect_grep "initrd '.*': its cpio archive \([0-9]+ KiB\) read from the kernel cache" "$T_TMP/log2" || return 1
	printf garbage | dd of="$e" conv=notrunc status=none
	initrd_freed --kernel-cache "$kc" --log-path "$T_TMP/log3" || return 1
	expect_grep "$plain" "$T_OUT" || return 1
	expect_grep "kernel cache: dropped initrd-.*, which is no cpio archive" "$T_TMP/log3" &&
		expect_grep "decompressed by ember \(" "$T_TMP/log3" && cmp "$T_TMP/plain.cpio" "$e" || return 1
	initrd_freed --initrd-unpack off --kernel-cache "$kc" --log-path "$T_TMP/log4" || return 1
	expect_grep "$gz" "$T_OUT" || return 1
	if grep -E "initrd '" "$T_TMP/log4"; then echo "--initrd-unpack off: the initrd was unpacked"; return 1; fi
}
# early_cpio FILE: an uncompressed archive (CPU microcode's place in
# Debian's initrd) holding /early-marker ("early-ok"), padded to 512 bytes.
early_cpio() {
	python3 - "$1" <<'PYEOF'
import sys
def newc(name, data):
    n = name.encode() + b'\0'
    h = b'070701' + b''.join(b'%08X' % v for v in
                             (1, 0o100644, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(n), 0))
    b = h + n
    b += bytes(-len(b) % 4) + data
    return b + bytes(-len(b) % 4)
a = newc('early-marker', b'early-ok\n') + newc('TRAILER!!!', b'')
open(sys.argv[1], 'wb').write(a + bytes(-len(a) % 512))
PYEOF
}
# An early uncompressed archive (as initramfs-tools puts CPU microcode
# first) before the gzip initramfs: ember keeps it and decompresses what
# follows; the guest sees the early archive's file and boots from the rest,
# as it does when it gets the file as it is.
t_initrd_early_archive() {
	early_cpio "$T_TMP/early.cpio" || return 1
	cat "$T_TMP/early.cpio" "$INITRD" >"$T_TMP/combined.img" || return 1
	local opt
	for opt in auto off; do
		expect_status 0 "$EMBER" --kernel "$ELF" --initrd "$T_TMP/combined.img" --initrd-unpack $opt \
			--kernel-cache off --log-path "$T_TMP/log.$opt" -- cat /early-marker || return 1
		expect_grep '^early-ok' "$T_OUT" || return 1
	done
	expect_grep "initrd '.*combined.img': decompressed by ember \(" "$T_TMP/log.auto"
}
# Initrds that do not say how large their archive is: Debian's (microcode,
# then the archive as `zstd -q -1 -T0` writes it to a pipe, no size in the
# frame), XZ with CRC32 and LZ4 legacy frames (Linux's own build). ember
# decompresses each (the guest frees an initrd of the archive's size, the
# early archive's 512 bytes before it in Debian's) and the guest runs from
# it; the next boot of Debian's reads the archive from the kernel cache.
t_initrd_formats() {
	zcat "$INITRD" >"$T_TMP/plain.cpio" && early_cpio "$T_TMP/early.cpio" || return 1
	{ cat "$T_TMP/early.cpio" && zstd -q -1 -T0 <"$T_TMP/plain.cpio"; } >"$T_TMP/debian.img" &&
		xz -q -c --check=crc32 --lzma2=dict=1MiB "$T_TMP/plain.cpio" >"$T_TMP/xz.img" &&
		lz4 -q -c -l "$T_TMP/plain.cpio" >"$T_TMP/lz4.img" || return 1
	local run f want kc=$T_TMP/kc size plain
	plain=$(stat -c %s "$T_TMP/plain.cpio")
	for run in debian xz lz4 cached; do
		f=$run size=$plain want="decompressed by ember \\("
		[ $run = cached ] && f=debian want="its cpio archive \\([0-9]+ KiB\\) read from the kernel cache"
		[ $f = debian ] && size=$((plain + 512))
		expect_status 0 "$EMBER" --kernel "$ELF" --initrd "$T_TMP/$f.img" --kernel-cache "$kc" \
			--log-path "$T_TMP/log.$run" -- \
			sh -c 'cat /early-marker 2>/dev/null; dmesg | grep -o Freeing.initrd.memory:.[0-9]*K' || return 1
		expect_grep "^Freeing initrd memory: $(((size + 4095) / 4096 * 4))K" "$T_OUT" || return 1
		if [ $f = debian ]; then expect_grep '^early-ok' "$T_OUT" || return 1; fi
		expect_grep "initrd '.*/$f.img': $want" "$T_TMP/log.$run" || return 1
	done
}
# Without a kernel cache to keep the archive, zstd (and LZ4) initrds are
# left to the guest, which decompresses them faster than ember (the guest
# frees the compressed file, the log says why); --initrd-unpack all has
# ember decompress them anyway.
t_initrd_zstd_without_cache() {
	zcat "$INITRD" >"$T_TMP/plain.cpio" || return 1
	zstd -q -1 -T0 <"$T_TMP/plain.cpio" >"$T_TMP/z.img" || return 1
	local opt size
	for opt in auto all; do
		size=$(stat -c %s "$T_TMP/z.img")
		[ $opt = all ] && size=$(stat -c %s "$T_TMP/plain.cpio")
		expect_status 0 "$EMBER" --kernel "$ELF" --initrd "$T_TMP/z.img" --kernel-cache off \
			--initrd-unpack $opt --log-path "$T_TMP/log.$opt" -- \
			sh -c 'dmesg | grep -o Freeing.initrd.memory:.[0-9]*K' || return 1
		expect_grep "^Freeing initrd memory: $(((size + 4095) / 4096 * 4))K" "$T_OUT" || return 1
	done
	expect_grep "initrd '.*/z.img': loaded as it is: zstd, which the guest decompresses faster" \
		"$T_TMP/log.auto" && expect_grep "initrd '.*/z.img': decompressed by ember \(" "$T_TMP/log.all"
}
# An initrd that is no compressed archive (here: one already decompressed)
# is loaded as it is, and the log says why.
t_initrd_as_is() {
	zcat "$INITRD" >"$T_TMP/plain.cpio" || return 1
	expect_status 0 "$EMBER" --kernel "$BZ" --initrd "$T_TMP/plain.cpio" --log-path "$T_TMP/log" \
		-- sh -c 'echo plain-ok' || return 1
	expect_grep '^plain-ok' "$T_OUT" &&
		expect_grep "initrd '.*plain.cpio': loaded as it is: not compressed" "$T_TMP/log"
}
t_vmlinux_pvh_1cpu() { boot_uname "$ELF" 1; }
t_vmlinux_pvh_2cpus() { boot_uname "$ELF" 2; }
t_vmlinux_64bit_entry() { boot_uname "$NOPVH" 1; }

t_output_flushed_at_exit() {
	# A command that prints a burst and exits at once: every line reaches
	# the console before the VM ends (with 2 vCPUs the UART's interrupt may
	# be served on the other CPU while the command is already gone).
	expect_status 0 "$EMBER" --kernel "$BZ" --initrd "$INITRD" --cpus 2 -- seq 1 1500 || return 1
	local n
	n=$(tr -d '\r' <"$T_OUT" | grep -cE '^[0-9]+$')
	[ "$n" = 1500 ] || { echo "guest printed 1500 lines, $n arrived; last: $(tail -n1 "$T_OUT")"; return 1; }
}

# serial_irqs MODE CPUS: the guest's ttyS0 interrupt count, which only
# grows when the UART's line reaches a CPU through the IOAPIC (ember's with
# the split IRQ chip, KVM's with --irqchip kernel).
serial_irqs() {
	expect_status 0 "$EMBER" --kernel "$BZ" --initrd "$INITRD" --irqchip "$1" --cpus "$2" \
		-- sh -c 'seq 1 200; grep ttyS0 /proc/interrupts' || return 1
	local line n
	line=$(tr -d '\r' <"$T_OUT" | grep -E '^ *[0-9]+: .*IO-APIC +4-edge +ttyS0$') ||
		{ echo "no IO-APIC ttyS0 line in /proc/interrupts"; grep ttyS0 "$T_OUT"; return 1; }
	n=$(echo "$line" | awk '{s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; print s}')
	[ "$n" -gt 0 ] || { echo "ttyS0 got no interrupts: $line"; return 1; }
	[ "$(tr -d '\r' <"$T_OUT" | grep -cE '^[0-9]+$')" = 200 ] || { echo "lost console lines"; return 1; }
}
t_serial_irq_split_ioapic() { serial_irqs split 2; }
t_serial_irq_kernel_irqchip() { serial_irqs kernel 2; }
t_kernel_irqchip_vmlinux() {
	expect_status 5 "$EMBER" --kernel "$ELF" --initrd "$INITRD" --irqchip kernel \
		-- sh -c 'uname -s; exit 5' && expect_grep '^Linux' "$T_OUT"
}

t_exit_status() {
	expect_status 7 "$EMBER" --kernel "$BZ" --initrd "$INITRD" -- sh -c 'echo before-exit; exit 7' &&
		expect_grep '^before-exit' "$T_OUT"
}
t_command_not_found() { expect_status 127 "$EMBER" --kernel "$BZ" --initrd "$INITRD" -- /no/such/command; }
t_args_with_spaces() {
	expect_status 0 "$EMBER" --kernel "$ELF" --initrd "$INITRD" -- printf '[%s]\n' 'a b' c &&
		expect_grep '^\[a b\]' "$T_OUT" && expect_grep '^\[c\]' "$T_OUT"
}
t_reboot() {
	# If reboot -f did not end the VM, the shell goes on and exits 9.
	expect_status 0 "$EMBER" --kernel "$BZ" --initrd "$INITRD" -- sh -c 'reboot -f; sleep 10; exit 9'
}
t_poweroff() {
	expect_status 0 "$EMBER" --kernel "$ELF" --initrd "$INITRD" -- sh -c 'poweroff -f; sleep 10; exit 9'
}
t_memory_above_4g() {
	# 3.5 GiB: 3 GiB below the MMIO hole, 512 MiB above 4 GiB.
	expect_status 0 "$EMBER" --kernel "$BZ" --initrd "$INITRD" --mem 3584 \
		-- sh -c 'grep MemTotal /proc/meminfo' || return 1
	local kb
	kb=$(awk '/MemTotal/ {print $2}' "$T_OUT")
	[ "${kb:-0}" -gt 3300000 ] || { echo "guest sees only ${kb} kB"; return 1; }
}
t_console_file() {
	expect_status 0 "$EMBER" --kernel "$BZ" --initrd "$INITRD" --console "file:$T_TMP/console.log" \
		-- echo into-the-file || return 1
	expect_grep '^into-the-file' "$T_TMP/console.log" || return 1
	[ ! -s "$T_OUT" ] || { echo "stdout not empty"; return 1; }
}
t_console_none() {
	expect_status 3 "$EMBER" --kernel "$BZ" --initrd "$INITRD" --console none -- sh -c 'echo hidden; exit 3' &&
		[ ! -s "$T_OUT" ]
}
t_boot_time() {
	expect_status 0 "$EMBER" --kernel "$BZ" --initrd "$INITRD" --boot-time -- true &&
		expect_grep '^ember: guest userspace started [0-9]+\.[0-9]+ ms after ember started' "$T_ERR"
}
t_guest_stdin() {
	printf 'from-the-host\n' >"$T_TMP/stdin"
	timeout -k 10 300 "$EMBER" --kernel "$BZ" --initrd "$INITRD" -- sh -c 'read line; echo got:$line' \
		<"$T_TMP/stdin" >"$T_TMP/stdin.out" 2>&1 || { cat "$T_TMP/stdin.out"; return 1; }
	expect_grep '^got:from-the-host' "$T_TMP/stdin.out"
}
t_sigterm() {
	"$EMBER" --kernel "$BZ" --initrd "$INITRD" --boot-time -- sleep 600 \
		>"$T_TMP/term.out" 2>"$T_TMP/term.err" </dev/null &
	local pid=$! i
	# Wait (bounded) for guest userspace, then ask ember to stop.
	for i in $(seq 1 600); do
		grep -q 'guest userspace started' "$T_TMP/term.err" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	expect_grep 'guest userspace started' "$T_TMP/term.err" || return 1
	kill -TERM $pid
	wait $pid
	local rc=$?
	[ $rc = 143 ] || { echo "exit status $rc, want 143"; cat "$T_TMP/term.err"; return 1; }
}
# A VM with no device has no PCI bus in its ACPI tables (the guest scans
# none) and init loads none of the virtio modules; one with a disk gets the
# PCI bus and the modules the disk needs, not virtio_net's. Neither has a
# /sbin/modprobe for the kernel to run while it boots; a shell finds it.
# (No double quotes or newlines: the command travels on the kernel command line.)
MODS_CMD='echo pci=$(ls /sys/bus/pci/devices | wc -l); echo mods=$(grep -o ^[a-z0-9_]* /proc/modules | sort); echo sbin=$(ls /sbin/modprobe 2>/dev/null | wc -l) path=$(which modprobe)'
t_no_devices_no_pci_no_modules() {
	expect_status 0 "$EMBER" --kernel "$ELF" --initrd "$INITRD" -- sh -c "$MODS_CMD" || return 1
	expect_grep '^pci=0$' "$T_OUT" && expect_grep '^mods=$' "$T_OUT" &&
		expect_grep '^sbin=0 path=/bin/modprobe$' "$T_OUT"
}
t_disk_loads_its_modules() {
	truncate -s 8M "$T_TMP/disk.img"
	expect_status 0 "$EMBER" --kernel "$ELF" --initrd "$INITRD" --disk "$T_TMP/disk.img" \
		-- sh -c "$MODS_CMD; test -b /dev/vda && echo vda-ok" || return 1
	expect_grep '^pci=2$' "$T_OUT" && expect_grep '^vda-ok' "$T_OUT" &&
		expect_grep '^mods=virtio virtio_blk virtio_pci virtio_pci_legacy_dev virtio_pci_modern_dev virtio_ring$' "$T_OUT" &&
		expect_grep '^sbin=0 path=/bin/modprobe$' "$T_OUT"
}

# BOOT_TESTS=REGEX runs only the matching tests.
t_run_all boot "${BOOT_TESTS:-}"
