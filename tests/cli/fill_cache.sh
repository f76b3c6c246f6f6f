#!/usr/bin/env bash
# tests/cli/fill_cache.sh: ember --fill-kernel-cache, run natively (it runs
# no VM, so no KVM is needed): with Debian's cloud bzImage and ember's gzip
# initramfs (make guest) it keeps, byte for byte, the vmlinux the bzImage
# holds and the cpio archive the initramfs holds, as readable as the cache
# directory, says so on stdout and exits 0; a second run finds them; a file
# written just before is waited out, not left out (kernel_cache.h's "racy"
# files); a config file's files are filled too; a vmlinux and an
# uncompressed initrd have nothing to keep; an XZ bzImage is unpacked (as
# --kernel-unpack all would) and kept; filling removes no entry; a cache
# this user may not write to keeps nothing and exits 1 with the reason on
# stderr.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
EMBER=${EMBER:-build/ember}
G=${EMBER_GUEST:-build/guest}
for f in vmlinuz vmlinux initramfs.cpio.gz; do
	[ -f "$G/$f" ] || { echo "$G/$f missing: make guest"; exit 1; }
done

t_fills_and_finds() {
	local kc=$T_TMP/kc e line
	mkdir -m 0755 "$kc"
	# A fresh copy, written just now: waited out, then kept.
	cp "$G/initramfs.cpio.gz" "$T_TMP/initrd.gz"
	for run in 1 2; do
		expect_status 0 "$EMBER" --kernel "$G/vmlinuz" --initrd "$T_TMP/initrd.gz" --kernel-cache "$kc" \
			--fill-kernel-cache || return 1
		expect_lines 2 "$T_OUT" || return 1
		expect_grep "^kernel '$G/vmlinuz': its vmlinux \([0-9]+ KiB\) is in the kernel cache '$kc'$" "$T_OUT" || return 1
		expect_grep "^initrd '$T_TMP/initrd.gz': its cpio archive \([0-9]+ KiB\) is in the kernel cache '$kc'$" "$T_OUT" || return 1
		expect_empty "$T_ERR" || return 1
	done
	e=$(ls "$kc"/vmlinux-*) && cmp "$e" "$G/vmlinux" || return 1
	e=$(ls "$kc"/initrd-*) && zcat "$G/initramfs.cpio.gz" | cmp - "$e" || return 1
	line=$(stat -c '%a' "$kc"/* | sort -u)
	[ "$line" = 644 ] || { echo "entry modes: $line"; return 1; }
}

t_nothing_to_keep() {
	local kc=$T_TMP/kc
	zcat "$G/initramfs.cpio.gz" >"$T_TMP/plain.cpio"
	expect_status 0 "$EMBER" --kernel "$G/vmlinux" --initrd "$T_TMP/plain.cpio" --kernel-cache "$kc" \
		--fill-kernel-cache || return 1
	expect_grep "^kernel '$G/vmlinux': nothing to keep: not a bzImage \(read as it is\)$" "$T_OUT" || return 1
	expect_grep "^initrd '$T_TMP/plain.cpio': loaded as it is: not compressed" "$T_OUT" || return 1
	expect_empty "$T_ERR" || return 1
	[ -z "$(ls -A "$kc")" ] || { echo "entries: $(ls "$kc")"; return 1; }
	expect_status 0 "$EMBER" --kernel "$G/vmlinuz" --initrd "$G/initramfs.cpio.gz" --kernel-cache "$kc" \
		--kernel-unpack off --initrd-unpack off --fill-kernel-cache || return 1
	expect_grep "^kernel '$G/vmlinuz': booting the bzImage as it is \(--kernel-unpack off\)$" "$T_OUT" || return 1
	expect_grep "^initrd '$G/initramfs.cpio.gz': nothing to keep \(--initrd-unpack off" "$T_OUT" || return 1
	[ -z "$(ls -A "$kc")" ] || { echo "entries: $(ls "$kc")"; return 1; }
}

# An XZ bzImage (tests/kvm/mkbzimage.py around a tiny payload) is unpacked
# too when filling, as --kernel-unpack all would: its entry is the payload.
t_xz_bzimage() {
	local kc=$T_TMP/kc
	build/tests/mkpayload 42 "$T_TMP/p.elf" && tests/kvm/mkbzimage.py xz "$T_TMP/p.elf" "$T_TMP/bz-xz" 9 || return 1
	expect_status 0 "$EMBER" --kernel "$T_TMP/bz-xz" --kernel-cache "$kc" --fill-kernel-cache || return 1
	expect_grep "^kernel '$T_TMP/bz-xz': its vmlinux \([0-9]+ KiB\) is in the kernel cache '$kc'$" "$T_OUT" || return 1
	cmp "$kc"/vmlinux-* "$T_TMP/p.elf"
}

# The files a Firecracker config file names are filled the same way.
t_from_config_file() {
	local kc=$T_TMP/kc
	cat >"$T_TMP/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$G/vmlinuz", "initrd_path": "$G/initramfs.cpio.gz"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}
JSON
	expect_status 0 "$EMBER" --config-file "$T_TMP/vm.json" --kernel-cache "$kc" --fill-kernel-cache || return 1
	expect_grep "^kernel '$G/vmlinuz': its vmlinux \([0-9]+ KiB\) is in the kernel cache '$kc'$" "$T_OUT" &&
		expect_grep "^initrd '$G/initramfs.cpio.gz': its cpio archive \([0-9]+ KiB\) is in the kernel cache '$kc'$" "$T_OUT" &&
		expect_empty "$T_ERR"
}

# Filling removes no entry (a boot's store keeps the 4 most recently used):
# six bzImages, six entries.
t_keeps_every_entry() {
	local kc=$T_TMP/kc i
	for i in 1 2 3 4 5 6; do
		build/tests/mkpayload $((40 + i)) "$T_TMP/p$i.elf" &&
			tests/kvm/mkbzimage.py gzip "$T_TMP/p$i.elf" "$T_TMP/bz$i" 9 || return 1
		expect_status 0 "$EMBER" --kernel "$T_TMP/bz$i" --kernel-cache "$kc" --fill-kernel-cache || return 1
	done
	[ "$(ls "$kc" | grep -c '^vmlinux-')" = 6 ] || { echo "entries: $(ls "$kc")"; return 1; }
}

# root's 0755 directory, filled by nobody (uid 65534): not kept, status 1.
t_cache_not_writable() {
	[ "$(id -u)" = 0 ] || { echo "needs root (setpriv to another user)"; return 1; }
	local d kc rc=0
	# Where nobody reaches them: the kernel, and the cache.
	d=$(mktemp -d /tmp/ember-kc.XXXXXX) && chmod 0755 "$d" && cp "$G/vmlinuz" "$d/" || return 1
	kc=$d/kc
	mkdir -m 0755 "$kc"
	expect_status 1 setpriv --reuid 65534 --regid 65534 --clear-groups \
		"$EMBER" --kernel "$d/vmlinuz" --kernel-cache "$kc" --fill-kernel-cache &&
		expect_grep "^kernel '$d/vmlinuz': decompressed, but not in the kernel cache '$kc'$" "$T_OUT" &&
		expect_grep "^ember: warning: kernel cache: '$kc' is read-only for ember: the vmlinux is looked up there, not stored$" "$T_ERR" &&
		{ [ -z "$(ls -A "$kc")" ] || { echo "entries: $(ls "$kc")"; false; }; } || rc=1
	rm -rf "$d"
	return $rc
}

t_run_all cli "${FILL_TESTS:-}"
