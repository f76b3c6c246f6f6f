#!/bin/bash
# rootfs/build.sh [OUTDIR]: build the guest images ember boots, from Debian
# packages only, into OUTDIR (default build/guest, relative to the repo root):
#   vmlinuz             the Debian cloud kernel's bzImage (LZ4, PVH, ACPI)
#   vmlinux             the ELF kernel extracted from it (boots through its PVH note)
#   init                rootfs/init.c, static: the guests' PID 1
#   initramfs.cpio.gz   /init + busybox + the virtio modules
#   rootfs.ext4         the same as an ext4 disk image (/sbin/init), for ember.root=/dev/vda
# Cached and incremental: each artefact is rebuilt only when what it is made of
# changed (package versions, init.c, this script, the settings below).
#
# Host packages needed (Debian): apt dpkg gcc libc6-dev binutils lz4 kmod cpio
#   gzip e2fsprogs coreutils util-linux findutils
# (busybox-static and linux-image-*-cloud-amd64 are fetched as .debs, not installed.)
# Settings (environment):
#   EMBER_CACHE           download/unpack cache (default ~/.cache/ember)
#   EMBER_KERNEL_META     kernel meta package (default linux-image-cloud-amd64)
#   EMBER_GUEST_MODULES   modules to load in the guest, dependencies are added
#                         (default: virtio_pci virtio_blk virtio_net)
#   EMBER_ROOTFS_SIZE     size of rootfs.ext4 (default 64M)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-build/guest}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
# shellcheck source-path=SCRIPTDIR source=debs.sh
. "$ROOT/rootfs/debs.sh"

KERNEL_META=${EMBER_KERNEL_META:-linux-image-cloud-amd64}
GUEST_MODULES=${EMBER_GUEST_MODULES:-virtio_pci virtio_blk virtio_net}
ROOTFS_SIZE=${EMBER_ROOTFS_SIZE:-64M}
CFLAGS_INIT="-std=c11 -static -O2 -Wall -Wextra -Werror -s"

log() { echo "rootfs: $*" >&2; }
die() { echo "rootfs: error: $*" >&2; exit 1; }

mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9 # one build of OUTDIR at a time

# ---- inputs ------------------------------------------------------------------

# deb_resolve costs a second (apt-cache reads every list): remember its answer
# until the apt lists change.
resolve_cached() {
	local f=$EMBER_CACHE/resolve/$1 lists=/var/lib/apt/lists
	if [ -s "$f" ] && [ "$f" -nt "$lists" ]; then
		cat "$f"
		return
	fi
	mkdir -p "${f%/*}"
	deb_resolve "$1" >"$f.tmp" || { rm -f "$f.tmp"; return 1; }
	mv "$f.tmp" "$f"
	cat "$f"
}

# unpack_cached PKG: unpack PKG's current .deb once under $EMBER_CACHE/unpack;
# prints the directory.
unpack_cached() {
	local deb dir
	deb=$(deb_fetch "$1") || return 1
	dir=$EMBER_CACHE/unpack/$(basename "$deb" .deb)
	if [ ! -e "$dir/.done" ]; then
		log "unpacking $(basename "$deb")"
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir"
		touch "$dir/.done"
	fi
	echo "$dir"
}

KPKG=$(resolve_cached "$KERNEL_META") || die "cannot resolve $KERNEL_META"
KVER=${KPKG#linux-image-}
KDEB=$(deb_fetch "$KPKG") || die "cannot fetch $KPKG"
BBDEB=$(deb_fetch busybox-static) || die "cannot fetch busybox-static"
INIT_SUM=$(sha256sum "$ROOT/rootfs/init.c" | cut -c1-16)
SCRIPT_SUM=$(cat "$ROOT/rootfs/build.sh" "$ROOT/rootfs/debs.sh" | sha256sum | cut -c1-16)

# A target is up to date when it exists and its key file holds the same key.
fresh() {
	local k=
	[ -e "$OUT/$1" ] && [ -e "$OUT/.$1.key" ] && read -r k <"$OUT/.$1.key" && [ "$k" = "$2" ]
}
done_key() { echo "$2" >"$OUT/.$1.key"; }

KEY_KERNEL="$(basename "$KDEB") $SCRIPT_SUM"
KEY_INIT="$INIT_SUM $CFLAGS_INIT"
KEY_IMAGES="$(basename "$KDEB") $(basename "$BBDEB") $INIT_SUM $SCRIPT_SUM $GUEST_MODULES"
KEY_EXT4="$KEY_IMAGES $ROOTFS_SIZE"

if fresh vmlinuz "$KEY_KERNEL" && fresh vmlinux "$KEY_KERNEL" && fresh init "$KEY_INIT" &&
	fresh initramfs.cpio.gz "$KEY_IMAGES" && fresh rootfs.ext4 "$KEY_EXT4"; then
	log "$OUT is up to date ($KVER)"
	exit 0
fi

KDIR=$(unpack_cached "$KPKG")
BBDIR=$(unpack_cached busybox-static)
MODDIR=$KDIR/lib/modules/$KVER
[ -f "$KDIR/boot/vmlinuz-$KVER" ] || die "no vmlinuz-$KVER in $KPKG"
WORK=$OUT/.work
rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

# ---- kernel ------------------------------------------------------------------

# le32 FILE OFFSET / u8 FILE OFFSET: read a little-endian integer.
le32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
u8() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }

# extract_vmlinux BZIMAGE OUT: the ELF inside a bzImage, through the x86 boot
# protocol header: protected-mode code at (setup_sects+1)*512, the compressed
# payload at payload_offset (0x248) from there, payload_length (0x24c) long;
# the kernel's LZ4 "legacy" stream ends with its 4-byte uncompressed size.
extract_vmlinux() {
	local bz=$1 out=$2 sects off len size
	[ "$(od -An -c -j $((0x202)) -N4 "$bz" | tr -d ' ')" = HdrS ] || die "$bz: not a bzImage"
	sects=$(u8 "$bz" $((0x1f1)))
	[ "$sects" = 0 ] && sects=4
	off=$(( (sects + 1) * 512 + $(le32 "$bz" $((0x248))) ))
	len=$(le32 "$bz" $((0x24c)))
	dd if="$bz" of="$WORK/payload" bs=64K iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none
	[ "$(od -An -tx1 -N4 "$WORK/payload" | tr -d ' ')" = 02214c18 ] ||
		die "$bz: payload is not LZ4 legacy (CONFIG_KERNEL_LZ4 expected)"
	size=$(le32 "$WORK/payload" $((len - 4)))
	head -c $((len - 4)) "$WORK/payload" | lz4 -dc >"$out" || die "lz4 failed on $bz"
	# Sparse: two-fifths of a vmlinux is zeros, which ember then does not
	# read (README, "Loading the kernel and initrd"). Where the file system
	# cannot punch holes it stays whole, the same bytes.
	fallocate --dig-holes "$out" 2>/dev/null || log "vmlinux: kept whole (no holes on this file system)"
	rm -f "$WORK/payload"
	[ "$(stat -c %s "$out")" = "$size" ] || die "vmlinux: got $(stat -c %s "$out") bytes, want $size"
	readelf -h "$out" | grep -q 'Class: *ELF64' || die "vmlinux: not ELF64"
	# XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry point.
	readelf -n "$out" | grep -Eq '^ *Xen .*(0x00000012|PHYS32_ENTRY)' ||
		die "vmlinux: no Xen PVH note (XEN_ELFNOTE_PHYS32_ENTRY)"
}

if ! fresh vmlinuz "$KEY_KERNEL"; then
	log "vmlinuz ($KVER)"
	cp "$KDIR/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
	mv "$WORK/vmlinuz" "$OUT/vmlinuz"
	done_key vmlinuz "$KEY_KERNEL"
fi
if ! fresh vmlinux "$KEY_KERNEL"; then
	log "vmlinux (extracted from the bzImage)"
	extract_vmlinux "$OUT/vmlinuz" "$WORK/vmlinux"
	mv "$WORK/vmlinux" "$OUT/vmlinux"
	done_key vmlinux "$KEY_KERNEL"
fi

# ---- init --------------------------------------------------------------------

if ! fresh init "$KEY_INIT"; then
	log "init"
	# shellcheck disable=SC2086
	gcc $CFLAGS_INIT -o "$WORK/init" "$ROOT/rootfs/init.c"
	mv "$WORK/init" "$OUT/init"
	done_key init "$KEY_INIT"
fi

# ---- staging trees -----------------------------------------------------------

# module_list: the modules to load, with their dependencies, in load order,
# as paths relative to /lib/modules/$KVER (computed from modules.dep).
module_list() {
	if [ ! -e "$MODDIR/.depmod.done" ]; then
		depmod -b "$KDIR" "$KVER"
		touch "$MODDIR/.depmod.done"
	fi
	local m
	for m in $GUEST_MODULES; do
		modprobe -d "$KDIR" -S "$KVER" --show-depends --ignore-install "$m" ||
			die "module $m not in $KPKG"
	done | awk -v pre="$MODDIR/" '$1 == "insmod" { p = $2; sub("^" pre, "", p); if (!seen[p]++) print p }'
}

# stage DIR: the tree both images share.
stage() {
	local d=$1 p m
	mkdir -p "$d"/{bin,sbin,usr,etc,root,tmp,dev,proc,sys,newroot,mnt,run,lib/modules/"$KVER"}
	chmod 1777 "$d/tmp"
	chmod 700 "$d/root"
	ln -s ../bin "$d/usr/bin"
	ln -s ../sbin "$d/usr/sbin"
	cp "$BBDIR/bin/busybox" "$d/bin/busybox"
	# Applet links, /usr/{bin,sbin} folded into /bin and /sbin; our init is init.
	# modprobe is /bin/modprobe, not /sbin/modprobe: the kernel runs
	# /sbin/modprobe for every module it looks for while it boots (crypto
	# algorithms, ...), none of which is here (init loads the virtio
	# modules itself), and each run is a busybox process before userspace
	# starts (~80 ms of a lab boot); without it the kernel's attempt fails at
	# once. A shell still finds modprobe on PATH.
	"$BBDIR/bin/busybox" --list-full | while read -r p; do
		p=${p#usr/}
		case $p in bin/busybox | sbin/init | linuxrc) continue ;; sbin/modprobe) p=bin/modprobe ;; esac
		[ -e "$d/$p" ] || ln -s /bin/busybox "$d/$p"
	done
	for m in $MODLIST; do
		mkdir -p "$d/lib/modules/$KVER/${m%/*}"
		cp "$MODDIR/$m" "$d/lib/modules/$KVER/$m"
	done
	cp "$MODDIR"/modules.{builtin,builtin.modinfo} "$d/lib/modules/$KVER/"
	echo "$MODLIST" | tr ' ' '\n' | grep . >"$d/lib/modules/$KVER/modules.order"
	depmod -b "$d" "$KVER"
	{
		echo "# kernel modules init loads, in order (paths under /lib/modules/$KVER)"
		echo "$MODLIST" | tr ' ' '\n'
	} >"$d/etc/ember-modules"
	echo "root:x:0:0:root:/root:/bin/sh" >"$d/etc/passwd"
	printf 'root:x:0:\ntty:x:5:\n' >"$d/etc/group"
	echo ember >"$d/etc/hostname"
	ln -s /proc/mounts "$d/etc/mtab"
}

if ! fresh initramfs.cpio.gz "$KEY_IMAGES" || ! fresh rootfs.ext4 "$KEY_EXT4"; then
	MODLIST=$(module_list | tr '\n' ' ')
	[ -n "$MODLIST" ] || die "no modules resolved from: $GUEST_MODULES"
	log "modules: $(for m in $MODLIST; do m=${m##*/}; printf '%s ' "${m%%.*}"; done)"
fi

if ! fresh initramfs.cpio.gz "$KEY_IMAGES"; then
	log "initramfs.cpio.gz"
	S=$WORK/initramfs
	stage "$S"
	cp "$OUT/init" "$S/init"
	find "$S" -exec touch -h -d @0 {} + # same inputs, same bytes
	(cd "$S" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --renumber-inodes --ignore-devno --quiet) |
		gzip -9 -n >"$WORK/initramfs.cpio.gz"
	mv "$WORK/initramfs.cpio.gz" "$OUT/initramfs.cpio.gz"
	done_key initramfs.cpio.gz "$KEY_IMAGES"
fi

if ! fresh rootfs.ext4 "$KEY_EXT4"; then
	log "rootfs.ext4 ($ROOTFS_SIZE)"
	S=$WORK/rootfs
	stage "$S"
	cp "$OUT/init" "$S/sbin/init"
	cp "$OUT/init" "$S/init"
	rm -f "$WORK/rootfs.ext4"
	truncate -s "$ROOTFS_SIZE" "$WORK/rootfs.ext4"
	mkfs.ext4 -q -F -L ember-root -E root_owner=0:0 -d "$S" "$WORK/rootfs.ext4"
	mv "$WORK/rootfs.ext4" "$OUT/rootfs.ext4"
	done_key rootfs.ext4 "$KEY_EXT4"
fi

log "done: $OUT ($KVER)"
