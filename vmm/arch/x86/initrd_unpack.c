/* initrd_unpack.c: a compressed initrd decompressed into its place in guest
 * RAM (initrd_unpack.h). Guest RAM above the kernel holds, bottom up:
 *
 *	the kernel's end (2 MiB aligned)
 *		the compressed file, read whole
 *		the library's memory (zlib's window and state, zstd's context)
 *	...	(free)
 *	addr:	the archive, where boot_initrd_addr puts one of its size
 *
 * The size is known before decompressing: gzip's trailer records it (mod
 * 2^32: larger archives do not fit below 4 GiB anyway) and zstd frames may;
 * the output must be exactly that size and start as a cpio archive does. */
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "vmm/arch/x86/boot_info.h"
#include "vmm/arch/x86/initrd_unpack.h"
#include "vmm/arch/x86/kernel_decompress.h"
#include "vmm/arch/x86/layout.h"

#define PAGE 4096u
#define ARENA_LEN MiB(1) /* zlib takes ~45 KiB, a zstd context ~160 KiB */

bool initrd_is_cpio(const uint8_t *buf, size_t n)
{
	return n >= 6 && memcmp(buf, "07070", 5) == 0 && (buf[5] == '1' || buf[5] == '2');
}

/* The decompressed size the stream in[0, n) records, 0 when it records none. */
static uint64_t recorded_size(enum kz_format f, const uint8_t *in, size_t n)
{
	if (f == KZ_GZIP)
		return n >= 18 ? get_le32(in + n - 4) : 0;
	unsigned long long z = ZSTD_findDecompressedSize(in, n);
	return z == ZSTD_CONTENTSIZE_UNKNOWN || z == ZSTD_CONTENTSIZE_ERROR ? 0 : z;
}

int initrd_unpack(const struct kernel_image *k, const struct reader *r,
		  const struct guest_mem *gm, uint64_t *addr, uint64_t *len, struct errbuf *why)
{
	uint8_t head[8];
	if (r->size < sizeof(head) || reader_read(r, 0, head, sizeof(head))) {
		err_set(why, "too short to be compressed");
		return -1;
	}
	enum kz_format f = kz_detect(head, sizeof(head));
	if (f == KZ_UNKNOWN) {
		err_set(why, "not compressed (or not as one stream)");
		return -1;
	}
	if (f != KZ_GZIP && f != KZ_ZSTD) {
		err_set(why, "%s, which ember leaves to the guest", kz_name(f));
		return -1;
	}
	uint64_t low = gm->layout.low_size, in_lo = ALIGN_UP(k->end, MiB(2));
	uint64_t in_room = ALIGN_UP(r->size, PAGE);
	if (in_lo < LAYOUT_HIMEM || in_lo > low || in_room > low - in_lo ||
	    ARENA_LEN > low - in_lo - in_room) {
		err_set(why, "no room above the kernel for the compressed file");
		return -1;
	}
	uint64_t arena_lo = in_lo + in_room, used_end = arena_lo + ARENA_LEN;
	uint8_t *in = gm_ptr(gm, in_lo, r->size), *arena = gm_ptr(gm, arena_lo, ARENA_LEN);
	if (!in || !arena) {
		err_set(why, "no room above the kernel for the compressed file");
		return -1;
	}
	int e = reader_read(r, 0, in, r->size);
	if (e) {
		err_set(why, "cannot read it: %s", reader_error(e));
		goto fail;
	}
	uint64_t size = recorded_size(f, in, r->size);
	uint64_t dst_at = size ? boot_initrd_addr(k, &gm->layout, size) : 0;
	if (size < 6) {
		err_set(why, size ? "its %s stream records a size too small for an archive" :
			"its %s stream does not record its size", kz_name(f));
		goto fail;
	}
	if (dst_at < used_end) {
		err_set(why, "its %llu KiB decompressed do not fit above the kernel",
			(unsigned long long)(size >> 10));
		goto fail;
	}
	uint8_t *dst = gm_ptr(gm, dst_at, size);
	size_t n = 0;
	struct errbuf ke;
	if (!dst || kz_decompress(f, in, r->size, dst, size, &n, arena, ARENA_LEN, &ke)) {
		err_set(why, "%s", dst ? ke.msg : "no room for it");
		if (dst)
			gm_zero_huge(gm, dst_at, dst_at + size);
		goto fail;
	}
	if (n != size)
		err_set(why, "its %s stream decompressed to %zu bytes, not the %llu it records",
			kz_name(f), n, (unsigned long long)size);
	else if (!initrd_is_cpio(dst, n))
		err_set(why, "it decompresses to no cpio archive");
	if (n != size || !initrd_is_cpio(dst, n)) {
		gm_zero_huge(gm, dst_at, dst_at + size);
		goto fail;
	}
	gm_zero_huge(gm, in_lo, used_end);
	*addr = dst_at;
	*len = size;
	return 0;
fail:
	gm_zero_huge(gm, in_lo, used_end);
	return -1;
}
