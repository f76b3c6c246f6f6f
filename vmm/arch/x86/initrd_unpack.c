/* initrd_unpack.c: a compressed initrd decompressed into its place in guest
 * RAM (initrd_unpack.h). Guest RAM above the kernel holds, bottom up:
 *
 *	the kernel's end (2 MiB aligned)
 *		the compressed file, read whole
 *		the library's memory (zlib's window and state, zstd's context,
 *		XZ's dictionary)
 *	...	(free)
 *	addr:	the archive, where boot_initrd_addr puts one of its size
 *
 * gzip's trailer records the size (mod 2^32: larger archives do not fit
 * below 4 GiB anyway) and zstd frames may: then the archive is decompressed
 * straight to addr, and must come out exactly that size. Otherwise (zstd
 * written to a pipe, as Debian's mkinitramfs does; XZ; LZ4) it is
 * decompressed into the free RAM right above the library's memory and
 * moved up to addr. Either way it must start as a cpio archive does. An
 * uncompressed archive before the compressed one (an early archive of CPU
 * microcode) is walked header by header to its trailer and the zeros after
 * it, copied as it is, and the decompressed archive follows it. */
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "vmm/arch/x86/boot_info.h"
#include "vmm/arch/x86/initrd_unpack.h"
#include "vmm/arch/x86/kernel_decompress.h"
#include "vmm/arch/x86/layout.h"

#define PAGE 4096u
#define ARENA_LEN MiB(1) /* zlib takes ~45 KiB, a zstd context ~160 KiB */
#define ARENA_XZ MiB(17)  /* XZ: its dictionary, 1-8 MiB as initrds are written */
#define NEWC_HDR 110            /* a newc header: magic and 13 fields of 8 hex digits */
#define EARLY_MAX_ENTRIES 1024  /* an early archive (CPU microcode) has a handful */
#define EARLY_MAX_ZEROS KiB(64) /* padding after an archive's trailer */

bool initrd_is_cpio(const uint8_t *buf, size_t n)
{
	return n >= 6 && memcmp(buf, "07070", 5) == 0 && (buf[5] == '1' || buf[5] == '2');
}

/* The value of newc field i (0: c_ino ... 12: c_check) of header h, or -1. */
static int64_t newc_field(const uint8_t *h, unsigned i)
{
	int64_t v = 0;
	for (unsigned j = 0; j < 8; j++) {
		uint8_t c = h[6 + 8 * i + j];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Where the uncompressed cpio archives r starts with end (each walked to
 * its TRAILER!!! entry, then the zeros after it skipped, as Linux does):
 * the offset of what follows them, or 0 when they are malformed, too long
 * to be an early archive, or nothing follows them. */
static uint64_t early_end(const struct reader *r)
{
	uint64_t off = 0;
	unsigned entries = 0;
	bool ended = false; /* off is past a trailer and its zeros */
	for (;;) {
		uint8_t h[NEWC_HDR + 11];
		size_t hl = r->size - off < NEWC_HDR ? r->size - off : NEWC_HDR;
		if (reader_read(r, off, h, hl))
			return 0;
		/* No header here (Linux wants one on a 4-byte boundary): the
		 * compressed part, if the archives before it ended. */
		if (hl < NEWC_HDR || off % 4 || !initrd_is_cpio(h, hl))
			return ended ? off : 0;
		ended = false;
		int64_t filesize = newc_field(h, 6), namesize = newc_field(h, 11);
		if (filesize < 0 || namesize < 1 || ++entries > EARLY_MAX_ENTRIES)
			return 0;
		bool trailer = namesize == 11 && r->size - off >= NEWC_HDR + 11 &&
			       reader_read(r, off + NEWC_HDR, h + NEWC_HDR, 11) == 0 &&
			       memcmp(h + NEWC_HDR, "TRAILER!!!", 11) == 0;
		off += ALIGN_UP(NEWC_HDR + (uint64_t)namesize, 4) + ALIGN_UP((uint64_t)filesize, 4);
		if (off >= r->size)
			return 0;
		if (!trailer)
			continue;
		uint8_t z[512];
		uint64_t zeros = 0;
		for (;;) {
			size_t n = r->size - off < sizeof(z) ? r->size - off : sizeof(z), i = 0;
			if (n == 0 || reader_read(r, off, z, n))
				return 0;
			while (i < n && !z[i])
				i++;
			off += i;
			zeros += i;
			if (i < n)
				break;
			if (zeros > EARLY_MAX_ZEROS)
				return 0;
		}
		ended = true;
	}
}

/* The decompressed size the stream in[0, n) records, 0 when it records none
 * (zstd written to a pipe, as mkinitramfs and dracut do; XZ; LZ4). */
static uint64_t recorded_size(enum kz_format f, const uint8_t *in, size_t n)
{
	if (f == KZ_GZIP)
		return n >= 18 ? get_le32(in + n - 4) : 0;
	if (f != KZ_ZSTD)
		return 0;
	unsigned long long z = ZSTD_findDecompressedSize(in, n);
	return z == ZSTD_CONTENTSIZE_UNKNOWN || z == ZSTD_CONTENTSIZE_ERROR ? 0 : z;
}

int initrd_unpack(const struct kernel_image *k, const struct reader *r,
		  const struct guest_mem *gm, bool leave_fast, uint64_t *addr, uint64_t *len,
		  struct errbuf *why)
{
	uint8_t head[8];
	if (r->size < sizeof(head) || reader_read(r, 0, head, sizeof(head))) {
		err_set(why, "too short to be compressed");
		return -1;
	}
	/* An uncompressed archive first (CPU microcode, as initramfs-tools
	 * puts it): kept as it is, what follows it decompressed after it. */
	uint64_t skip = 0;
	if (initrd_is_cpio(head, sizeof(head))) {
		skip = early_end(r);
		if (!skip || r->size - skip < sizeof(head) ||
		    reader_read(r, skip, head, sizeof(head))) {
			err_set(why, "not compressed, or not as gzip, zstd, XZ or LZ4");
			return -1;
		}
	}
	enum kz_format f = kz_detect(head, sizeof(head));
	if (f == KZ_UNKNOWN) {
		err_set(why, "not compressed, or not as gzip, zstd, XZ or LZ4");
		return -1;
	}
	if (leave_fast && (f == KZ_ZSTD || f == KZ_LZ4)) {
		err_set(why, "%s, which the guest decompresses faster while no kernel cache keeps the archive",
			kz_name(f));
		return -1;
	}
	uint64_t low = gm->layout.low_size, in_lo = ALIGN_UP(k->end, MiB(2));
	uint64_t in_len = r->size - skip, in_room = ALIGN_UP(in_len, PAGE);
	if (in_lo < LAYOUT_HIMEM || in_lo > low || in_room > low - in_lo) {
		err_set(why, "no room above the kernel for the compressed file");
		return -1;
	}
	/* XZ's dictionary: up to ARENA_XZ, and at most half the room left. */
	uint64_t room = low - in_lo - in_room, arena_len = ARENA_LEN;
	if (f == KZ_XZ && room / 2 > arena_len)
		arena_len = room / 2 < ARENA_XZ ? ALIGN_DOWN(room / 2, PAGE) : ARENA_XZ;
	if (arena_len > room) {
		err_set(why, "no room above the kernel for the compressed file");
		return -1;
	}
	uint64_t arena_lo = in_lo + in_room, used_end = arena_lo + arena_len;
	uint8_t *in = gm_ptr(gm, in_lo, in_len), *arena = gm_ptr(gm, arena_lo, arena_len);
	if (!in || !arena) {
		err_set(why, "no room above the kernel for the compressed file");
		return -1;
	}
	int e = reader_read(r, skip, in, in_len);
	if (e) {
		err_set(why, "cannot read it: %s", reader_error(e));
		goto fail;
	}
	/* The archive goes after the early one, on a 4-byte boundary (where
	 * Linux looks for the next header). A recorded size places it at
	 * once; otherwise it is decompressed right above the scratch area and
	 * moved up to its place after. */
	uint64_t size = recorded_size(f, in, in_len), pre = ALIGN_UP(skip, 4);
	uint64_t top = boot_initrd_top(k, &gm->layout), out_at, out_cap, dst_at = 0;
	if (size) {
		dst_at = size <= low ? boot_initrd_addr(k, &gm->layout, pre + size) : 0;
		out_at = dst_at + pre;
		out_cap = size;
	} else {
		out_at = used_end + pre;
		out_cap = top > out_at ? top - out_at : 0;
	}
	if (size && size < 6) {
		err_set(why, "its %s stream records a size too small for an archive", kz_name(f));
		goto fail;
	}
	if (size ? dst_at < used_end : !out_cap) {
		if (size)
			err_set(why, "its %llu KiB decompressed do not fit above the kernel",
				(unsigned long long)(size >> 10));
		else
			err_set(why, "no room above the kernel to decompress it");
		goto fail;
	}
	uint8_t *out = gm_ptr(gm, out_at, out_cap);
	size_t n = 0;
	struct errbuf ke;
	if (!out) {
		err_set(why, "no room for it");
		goto fail;
	}
	if (kz_decompress(f, in, in_len, out, out_cap, &n, arena, arena_len, &ke)) {
		err_set(why, "%s", ke.msg);
		goto fail_out;
	}
	if (size && n != size) {
		err_set(why, "its %s stream decompressed to %zu bytes, not the %llu it records",
			kz_name(f), n, (unsigned long long)size);
		goto fail_out;
	}
	if (!initrd_is_cpio(out, n)) {
		err_set(why, "it decompresses to no cpio archive");
		goto fail_out;
	}
	if (!size) {
		dst_at = boot_initrd_addr(k, &gm->layout, pre + n);
		if (dst_at < used_end) { /* cannot be: it fit at out_at below */
			err_set(why, "its %zu KiB decompressed do not fit above the kernel", n >> 10);
			goto fail_out;
		}
		/* Up (or not at all): dst_at + pre >= out_at. What it leaves
		 * below, the early archive's place among it, is cleared. */
		memmove(gm_ptr(gm, dst_at + pre, n), out, n);
		gm_zero_huge(gm, used_end, dst_at + pre);
	}
	if (skip && (e = reader_read(r, 0, gm_ptr(gm, dst_at, skip), skip))) {
		err_set(why, "cannot read its early archive: %s", reader_error(e));
		gm_zero_huge(gm, dst_at, dst_at + pre + n);
		goto fail;
	}
	gm_zero_huge(gm, in_lo, used_end);
	*addr = dst_at;
	*len = pre + n;
	return 0;
fail_out:
	gm_zero_huge(gm, out_at, out_at + out_cap);
fail:
	gm_zero_huge(gm, in_lo, used_end);
	return -1;
}
