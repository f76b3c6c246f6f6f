/* kernel_unpack.h: boot the kernel a bzImage carries instead of the bzImage.
 * A bzImage's payload is the compressed vmlinux; the guest's own
 * decompressor is slow (it runs emulated), so ember decompresses it itself
 * (kernel_decompress.h) into a scratch area in guest RAM and, when the result
 * is an ELF64 vmlinux with a PVH entry note, loads its segments and boots it
 * exactly as a --kernel vmlinux. The scratch pages are given back. */
#ifndef EMBER_KERNEL_UNPACK_H
#define EMBER_KERNEL_UNPACK_H

#include "vmm/arch/x86/kernel_image.h"
#include "vmm/core/guest_mem.h"
#include "vmm/lib/reader.h"

/* bz: a parsed bzImage, read through r; an XZ payload only with xz (its
 * decompression is no faster here than in the guest). Guest RAM above 1 MiB must hold
 * nothing yet (it is the scratch area; the kernel's place is part of it).
 * 0: the payload's vmlinux is loaded at its addresses, *out describes it
 * (KERNEL_ELF_PVH) and the rest of the scratch area reads as zeros. -1 with
 * why set (no payload, an unknown format, a corrupt or truncated one, not an
 * ELF or no PVH note, not enough RAM): RAM above 1 MiB is all zeros again and
 * the bzImage can be loaded as it is. keep, when not NULL, is shown the
 * whole vmlinux once it is known to be a PVH ELF, before its segments are
 * placed (kernel_cache.h keeps a copy). */
struct kernel_unpack_keep {
	void (*fn)(void *ctx, const uint8_t *vmlinux, size_t len);
	void *ctx;
};
int kernel_unpack(const struct kernel_image *bz, const struct reader *r,
		  const struct guest_mem *gm, bool xz, const struct kernel_unpack_keep *keep,
		  struct kernel_image *out, struct errbuf *why);

#endif
