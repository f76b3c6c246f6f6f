/* kernel_unpack.c: a bzImage's payload decompressed into guest RAM and
 * booted as the PVH vmlinux it is (kernel_unpack.h). The scratch area,
 * all of guest RAM between 1 MiB and 3 GiB at most, holds, bottom up:
 *
 *	1 MiB:	the compressed payload, read from the file
 *		the library's memory (liblzma's dictionary, zstd's and zlib's state)
 *	...	(free)
 *	top:	the decompressed vmlinux, exactly the size the payload records
 *
 * Once decompressed, the bottom part is given back and the vmlinux's
 * segments are copied from the top to their addresses, which must lie
 * below it; then the top is given back too. */
#include <elf.h>
#include <string.h>

#include "vmm/arch/x86/kernel_decompress.h"
#include "vmm/arch/x86/kernel_unpack.h"
#include "vmm/arch/x86/layout.h"

#define PAGE 4096u
#define ARENA_MAX MiB(128) /* the most the library may take (XZ: its dictionary) */

static int read_payload(const struct reader *r, uint64_t off, void *buf, size_t len,
			struct errbuf *why)
{
	int e = reader_read(r, off, buf, len);
	if (e)
		err_set(why, "cannot read the payload: %s", reader_error(e));
	return e ? -1 : 0;
}

int kernel_unpack(const struct kernel_image *bz, const struct reader *r,
		  const struct guest_mem *gm, bool xz, struct kernel_image *out,
		  struct errbuf *why)
{
	uint64_t low = gm->layout.low_size, plen = bz->payload_len;
	if (bz->kind != KERNEL_BZIMAGE || plen < 8) {
		err_set(why, "the bzImage's header names no payload");
		return -1;
	}
	uint8_t head[8], tail[4];
	if (read_payload(r, bz->payload_off, head, sizeof(head), why) ||
	    read_payload(r, bz->payload_off + plen - 4, tail, sizeof(tail), why))
		return -1;
	enum kz_format f = kz_detect(head, sizeof(head));
	if (f == KZ_UNKNOWN) {
		err_set(why, "the payload's format is not one ember decompresses (it starts %02x %02x %02x %02x)",
			head[0], head[1], head[2], head[3]);
		return -1;
	}
	if (f == KZ_XZ && !xz) {
		err_set(why, "its payload is XZ, which the guest decompresses as fast "
			     "(--kernel-unpack all unpacks it)");
		return -1;
	}
	/* Linux records the decompressed size in the payload's last 4 bytes. */
	uint64_t size = get_le32(tail);
	if (size < sizeof(Elf64_Ehdr)) {
		err_set(why, "the %s payload records a size of %llu bytes", kz_name(f),
			(unsigned long long)size);
		return -1;
	}
	uint64_t out_room = ALIGN_UP(size, PAGE), in_room = ALIGN_UP(plen, PAGE);
	if (low < LAYOUT_HIMEM || in_room > low - LAYOUT_HIMEM ||
	    out_room > low - LAYOUT_HIMEM - in_room) {
		err_set(why, "the %s payload (%llu KiB, %llu KiB decompressed) does not fit in guest RAM",
			kz_name(f), (unsigned long long)(plen >> 10), (unsigned long long)(size >> 10));
		return -1;
	}
	uint64_t out_lo = low - out_room, in_lo = LAYOUT_HIMEM, arena_lo = in_lo + in_room;
	uint64_t arena_len = out_lo - arena_lo < ARENA_MAX ? out_lo - arena_lo : ARENA_MAX;
	uint8_t *in = gm_ptr(gm, in_lo, plen), *dst = gm_ptr(gm, out_lo, out_room);
	uint8_t *arena = arena_len ? gm_ptr(gm, arena_lo, arena_len) : NULL;
	if (!in || !dst || (arena_len && !arena)) {
		err_set(why, "no scratch area in guest RAM");
		return -1;
	}

	struct errbuf e;
	size_t n;
	if (read_payload(r, bz->payload_off, in, plen, why))
		goto fail;
	if (kz_decompress(f, in, kz_stream_len(f, plen), dst, size, &n, arena, arena_len, &e)) {
		err_set(why, "the payload does not decompress: %s", e.msg);
		goto fail;
	}
	if (n != size) {
		err_set(why, "the %s payload decompressed to %zu bytes, not the %llu it records",
			kz_name(f), n, (unsigned long long)size);
		goto fail;
	}
	/* The payload and the library's memory are done with: their pages go
	 * back before the segments land there. */
	gm_zero(gm, in_lo, out_lo - in_lo);
	struct reader mr;
	reader_mem(&mr, dst, n);
	struct kernel_image k;
	if (kernel_parse_elf(&mr, &k, &e)) {
		err_set(why, "the %s payload is not an ELF vmlinux: %s", kz_name(f), e.msg);
		goto fail;
	}
	if (k.kind != KERNEL_ELF_PVH) {
		err_set(why, "the %s payload's vmlinux has no PVH entry note", kz_name(f));
		goto fail;
	}
	for (unsigned i = 0; i < k.nseg; i++) {
		const struct kernel_segment *s = &k.seg[i];
		if (s->paddr < LAYOUT_HIMEM || s->paddr + s->memsz > out_lo) {
			err_set(why, "the vmlinux's segment at %#llx (%llu KiB) overlaps the scratch area "
				"or lies outside RAM; more --mem may help",
				(unsigned long long)s->paddr, (unsigned long long)(s->memsz >> 10));
			goto fail;
		}
	}
	if (kernel_load(&k, &mr, gm, &e)) {
		err_set(why, "%s", e.msg);
		goto fail;
	}
	gm_zero(gm, out_lo, out_room);
	*out = k;
	return 0;
fail:
	gm_zero(gm, LAYOUT_HIMEM, low - LAYOUT_HIMEM);
	return -1;
}
