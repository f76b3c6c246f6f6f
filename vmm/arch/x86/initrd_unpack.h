/* initrd_unpack.h: an initrd that is a compressed cpio archive (gzip, zstd,
 * XZ or LZ4 legacy frames: how mkinitramfs, dracut and Linux's own build
 * write one), after uncompressed ones or not (CPU microcode, as
 * initramfs-tools puts it first), decompressed by ember into its place in
 * guest RAM, so the guest's kernel unpacks plain cpio archives instead of
 * decompressing them first (the guest's decompressor is the slower: in the
 * lab, ~60 ms of a 1.8 s boot for a 1.5 MiB gzip initramfs). Anything else
 * is left for the kernel as it is: uncompressed archives alone, a disk
 * image, a stream with bytes after it. */
#ifndef EMBER_INITRD_UNPACK_H
#define EMBER_INITRD_UNPACK_H

#include "vmm/arch/x86/kernel_image.h"
#include "vmm/core/guest_mem.h"
#include "vmm/lib/reader.h"

/* The initrd read through r, decompressed for kernel k (loaded: RAM above
 * its end up to where the initrd goes must hold nothing yet); with
 * leave_fast, zstd and LZ4 are not (the guest's decompression of them is
 * faster than ember's and the move; worth it only when the archive is kept
 * for later boots). 0: the archive
 * is at *addr (boot_initrd_addr's place for its size), *len bytes, and the
 * scratch area (the compressed file and the library's memory, between the
 * kernel and the archive) reads as zeros again. -1 with why set (not a
 * compressed cpio archive, corrupt, does not fit): RAM above the kernel is
 * as it was and the file can be loaded as it is. */
int initrd_unpack(const struct kernel_image *k, const struct reader *r,
		  const struct guest_mem *gm, bool leave_fast, uint64_t *addr, uint64_t *len,
		  struct errbuf *why);

/* buf (n bytes) starts as a cpio archive does ("070701" or "070702"). */
bool initrd_is_cpio(const uint8_t *buf, size_t n);

#endif
