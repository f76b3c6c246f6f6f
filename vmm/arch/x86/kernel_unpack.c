/* kernel_unpack.c: a bzImage's payload decompressed into guest RAM and
 * booted as the PVH vmlinux it is (kernel_unpack.h). The scratch area,
 * all of guest RAM between 1 MiB and 3 GiB at most, holds, bottom up:
 *
 *	base:	the decompressed vmlinux, exactly the size the payload records
 *	...	(free)
 *		the library's memory (liblzma's dictionary, zstd's and zlib's state)
 *	top:	the compressed payload, read from the file
 *
 * base is where the vmlinux's first segment is at its address when the
 * vmlinux is laid out as Linux's build lays it out: its first PT_LOAD at
 * file offset 2 MiB (the linker's page size), linked to run at the setup
 * header's pref_address. Then the segments are not copied: each is already
 * at its address or moved down to it (Linux's per-CPU and init segments, a
 * few MiB), in file order, which is safe while every segment's address is
 * at or below its bytes; then everything between them is cleared. A vmlinux
 * laid out otherwise is moved to the top (over the payload, done with by
 * then) and its segments copied down from there, as from a file. */
#include <elf.h>
#include <string.h>

#include "vmm/arch/x86/kernel_decompress.h"
#include "vmm/arch/x86/kernel_unpack.h"
#include "vmm/arch/x86/layout.h"

#define PAGE 4096u
#define ARENA_MAX MiB(128) /* the most the library may take (XZ: its dictionary) */

#define FIRST_SEGMENT_OFFSET MiB(2) /* a vmlinux's first PT_LOAD, in its file */

/* Where to decompress the vmlinux (page-aligned, at least 1 MiB): its
 * first segment's address less its file offset, if Linux's build laid it
 * out; 1 MiB when the header has no pref_address (protocol < 2.10). */
static uint64_t guess_base(const struct kernel_image *bz, const struct reader *r)
{
	uint8_t b[8];
	if (bz->protocol < 0x020a || reader_read(r, 0x258, b, sizeof(b)))
		return LAYOUT_HIMEM;
	uint64_t pref = get_le64(b);
	if (pref < LAYOUT_HIMEM + FIRST_SEGMENT_OFFSET || pref > MiB(1) << 12)
		return LAYOUT_HIMEM;
	return ALIGN_DOWN(pref - FIRST_SEGMENT_OFFSET, PAGE);
}

/* k's segments, decompressed at base, can be moved to their addresses in
 * place: in file order and address order without overlaps, each at or
 * below its bytes and inside [1 MiB, low). */
static bool in_place_ok(const struct kernel_image *k, uint64_t base, uint64_t low)
{
	for (unsigned i = 0; i < k->nseg; i++) {
		const struct kernel_segment *s = &k->seg[i];
		if (s->paddr < LAYOUT_HIMEM || s->paddr > base + s->offset || s->memsz > low ||
		    s->paddr > low - s->memsz)
			return false;
		if (i && (s->offset < k->seg[i - 1].offset + k->seg[i - 1].filesz ||
			  s->paddr < k->seg[i - 1].paddr + k->seg[i - 1].memsz))
			return false;
	}
	return k->nseg > 0;
}

/* Move k's segments down from base + offset to their addresses, zero their
 * bss, and clear the rest of [base, end) (in_place_ok said it is safe). */
static void place_in_place(const struct guest_mem *gm, const struct kernel_image *k,
			   uint64_t base, uint64_t end)
{
	for (unsigned i = 0; i < k->nseg; i++) {
		const struct kernel_segment *s = &k->seg[i];
		if (s->paddr != base + s->offset && s->filesz)
			memmove(gm_ptr(gm, s->paddr, s->filesz),
				gm_ptr(gm, base + s->offset, s->filesz), s->filesz);
	}
	uint64_t at = base;
	for (unsigned i = 0; i < k->nseg; i++) {
		const struct kernel_segment *s = &k->seg[i];
		gm_zero_huge(gm, at, s->paddr < end ? s->paddr : end);
		gm_zero_huge(gm, s->paddr + s->filesz, s->paddr + s->memsz);
		if (s->paddr + s->memsz > at)
			at = s->paddr + s->memsz;
	}
	gm_zero_huge(gm, at, end);
}

static int read_payload(const struct reader *r, uint64_t off, void *buf, size_t len,
			struct errbuf *why)
{
	int e = reader_read(r, off, buf, len);
	if (e)
		err_set(why, "cannot read the payload: %s", reader_error(e));
	return e ? -1 : 0;
}

int kernel_unpack(const struct kernel_image *bz, const struct reader *r,
		  const struct guest_mem *gm, bool xz, const struct kernel_unpack_keep *keep,
		  struct kernel_image *out, struct errbuf *why)
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
	/* The library's memory: as much as the top-down layout (the vmlinux
	 * right above 1 MiB) leaves it, up to ARENA_MAX, above the vmlinux or
	 * below; or the larger of the two, and if that was too small (the
	 * library fails) the top-down layout is tried again. */
	uint64_t in_lo = low - in_room, room = in_lo - LAYOUT_HIMEM - out_room;
	uint64_t full = room < ARENA_MAX ? room : ARENA_MAX;
	uint64_t base = guess_base(bz, r);
	if (base > in_lo - out_room)
		base = in_lo - out_room;
	uint8_t *in = gm_ptr(gm, in_lo, plen);
	if (!in) {
		err_set(why, "no scratch area in guest RAM");
		return -1;
	}
	if (read_payload(r, bz->payload_off, in, plen, why))
		goto fail;
	struct errbuf e;
	size_t n;
	uint64_t arena_lo, arena_len;
	uint8_t *dst;
	for (;;) {
		uint64_t above = in_lo - base - out_room, below = base - LAYOUT_HIMEM;
		arena_len = above >= below ? above : below;
		if (arena_len > full)
			arena_len = full;
		arena_lo = above >= below ? in_lo - arena_len : LAYOUT_HIMEM;
		dst = gm_ptr(gm, base, out_room);
		uint8_t *arena = arena_len ? gm_ptr(gm, arena_lo, arena_len) : NULL;
		if (!dst || (arena_len && !arena)) {
			err_set(why, "no scratch area in guest RAM");
			goto fail;
		}
		if (kz_decompress(f, in, kz_stream_len(f, plen), dst, size, &n, arena, arena_len, &e) == 0)
			break;
		if (arena_len == full) {
			err_set(why, "the payload does not decompress: %s", e.msg);
			goto fail;
		}
		gm_zero(gm, LAYOUT_HIMEM, in_lo - LAYOUT_HIMEM);
		base = LAYOUT_HIMEM;
	}
	if (n != size) {
		err_set(why, "the %s payload decompressed to %zu bytes, not the %llu it records",
			kz_name(f), n, (unsigned long long)size);
		goto fail;
	}
	/* The payload and the library's memory are done with. */
	gm_zero_huge(gm, base + out_room, low);
	if (arena_lo < base)
		gm_zero_huge(gm, arena_lo, arena_lo + arena_len);
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
	if (keep)
		keep->fn(keep->ctx, dst, n);
	if (in_place_ok(&k, base, low)) {
		place_in_place(gm, &k, base, base + out_room);
		*out = k;
		return 0;
	}
	/* Laid out otherwise: from the top, as from a file. */
	uint64_t out_lo = low - out_room;
	uint8_t *top = gm_ptr(gm, out_lo, out_room);
	memmove(top, dst, n);
	gm_zero(gm, LAYOUT_HIMEM, out_lo - LAYOUT_HIMEM);
	reader_mem(&mr, top, n);
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
