/* test_kernel_unpack.c: a bzImage's kernel decompressed by ember
 * (kernel_decompress.c, kernel_unpack.c). The test makes small bzImages the
 * way Linux's build does: an ELF64 vmlinux (two PT_LOADs, one with bss, and
 * the Xen PVH entry note) compressed with the libraries' own compressors (LZ4
 * legacy frames, XZ with the x86 BCJ filter, zstd, gzip), the decompressed
 * size appended (gzip's trailer has it), behind a setup header whose
 * payload_offset and payload_length point at it. Unpacked into guest RAM
 * mapped as ember maps it: the segments' bytes at their addresses, their bss
 * and everything else above 1 MiB zero (the scratch pages given back). Then
 * what must fall back to the bzImage: corrupt, truncated and oversized
 * payloads, a size record that lies, an unknown format, a result that is no
 * ELF, an ELF without the PVH note, segments where the scratch area is, too
 * little RAM; each leaves RAM above 1 MiB zero and the bzImage loadable.
 * A vmlinux laid out as Linux's build lays it out (its first segment at file
 * offset 2 MiB, linked at the header's pref_address) is decompressed where
 * its segments need no copy or move down a little, and so fits in RAM the
 * copy from the top would not; laid out otherwise, it still lands exactly. */
#include <asm/bootparam.h>
#include <elf.h>
#include <lz4.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zlib.h>
#include <zstd.h>

#include "tests/elf_fixture.h"
#include "tests/unit/check.h"
#include "vmm/arch/x86/kernel_decompress.h"
#include "vmm/arch/x86/kernel_unpack.h"
#include "vmm/arch/x86/layout.h"

/* ---- a small vmlinux ---------------------------------------------------- */

#define SEG1_PADDR 0x200000ull /* 2 MiB */
#define SEG1_OFF 0x1000
#define SEG2_LEN 0x1800
#define SEG2_MEMSZ 0x5000
#define NOTE_OFF 0x200
#define PVH_ENTRY (SEG1_PADDR + 0x40)

struct elf {
	uint8_t *b;
	size_t len, seg1_len, seg2_off;
	uint64_t seg2_paddr; /* the next 2 MiB boundary after segment 1 */
};

/* seg1_len bytes of text-like data then pseudo-random bytes in segment 1,
 * SEG2_LEN of each in segment 2 (plus bss); the PVH note when pvh. */
static struct elf make_elf(size_t seg1_len, int pvh)
{
	struct elf e = {.seg1_len = seg1_len, .seg2_paddr = ALIGN_UP(SEG1_PADDR + seg1_len, MiB(2))};
	e.seg2_off = ALIGN_UP(SEG1_OFF + seg1_len, 0x1000);
	e.len = e.seg2_off + SEG2_LEN;
	e.b = calloc(1, e.len);
	Elf64_Ehdr *h = (Elf64_Ehdr *)e.b;
	elf_fixture_header(h, SEG1_PADDR, pvh ? 3 : 2);
	Elf64_Phdr *ph = (Elf64_Phdr *)(e.b + sizeof(*h));
	ph[0] = (Elf64_Phdr){.p_type = PT_LOAD, .p_offset = SEG1_OFF, .p_paddr = SEG1_PADDR,
			     .p_filesz = seg1_len, .p_memsz = seg1_len};
	ph[1] = (Elf64_Phdr){.p_type = PT_LOAD, .p_offset = e.seg2_off, .p_paddr = e.seg2_paddr,
			     .p_filesz = SEG2_LEN, .p_memsz = SEG2_MEMSZ};
	if (pvh) {
		ph[2] = elf_fixture_pvh_note(e.b, NOTE_OFF, PVH_ENTRY);
	}
	uint32_t x = 12345;
	for (size_t i = SEG1_OFF; i < e.len; i++) {
		size_t rel = i < e.seg2_off ? i - SEG1_OFF : i - e.seg2_off;
		if (i >= SEG1_OFF + seg1_len && i < e.seg2_off)
			continue;
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		e.b[i] = rel % 0x1000 < 0x800 ? (uint8_t)("ember boots Linux "[rel % 18]) : (uint8_t)x;
	}
	return e;
}

/* ---- payloads, compressed as Linux's build does ------------------------- */

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static uint32_t xz_preset = 1; /* its dictionary: 1 MiB (3: 4 MiB) */

/* The compressed src, with its size appended (but for gzip); *len set. */
static uint8_t *compress_payload(enum kz_format f, const uint8_t *src, size_t n, size_t *len)
{
	size_t cap = n + n / 2 + (1 << 16);
	uint8_t *out = malloc(cap);
	size_t o = 0;
	if (f == KZ_LZ4) { /* lz4 -l: legacy frame, 8 MiB blocks */
		put32(out, 0x184c2102);
		o = 4;
		for (size_t at = 0; at < n; at += 8u << 20) {
			int in = (int)(n - at < (8u << 20) ? n - at : (8u << 20));
			int c = LZ4_compress_default((const char *)src + at, (char *)out + o + 4, in,
						     (int)(cap - o - 4));
			put32(out + o, (uint32_t)c);
			o += 4 + (size_t)c;
		}
	} else if (f == KZ_XZ) { /* xz --check=crc32 --x86 --lzma2 */
		lzma_options_lzma opt;
		lzma_lzma_preset(&opt, xz_preset);
		lzma_filter filters[] = {{LZMA_FILTER_X86, NULL}, {LZMA_FILTER_LZMA2, &opt},
					 {LZMA_VLI_UNKNOWN, NULL}};
		if (lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, NULL, src, n, out, &o, cap))
			abort();
	} else if (f == KZ_ZSTD) { /* with a checksum, so a flipped byte is caught */
		ZSTD_CCtx *c = ZSTD_createCCtx();
		ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
		o = ZSTD_compress2(c, out, cap, src, n);
		ZSTD_freeCCtx(c);
		if (ZSTD_isError(o))
			abort();
	} else if (f == KZ_GZIP) {
		z_stream s = {.next_in = (Bytef *)src, .avail_in = (uInt)n, .next_out = out,
			      .avail_out = (uInt)cap};
		if (deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) ||
		    deflate(&s, Z_FINISH) != Z_STREAM_END)
			abort();
		o = s.total_out;
		deflateEnd(&s);
	}
	if (f != KZ_GZIP) {
		put32(out + o, (uint32_t)n);
		o += 4;
	}
	*len = o;
	return out;
}

/* ---- bzImages ----------------------------------------------------------- */

#define HDR(field) offsetof(struct boot_params, hdr.field)
#define SETUP_LEN (5 * 512)
#define STUB_LEN 0x100 /* the decompressor's code before the payload */
#define TAIL_LEN 0x40  /* and after it */

struct bz {
	uint8_t *b;
	size_t len;
};

static struct bz make_bz(const uint8_t *payload, size_t plen)
{
	struct bz z = {.len = SETUP_LEN + STUB_LEN + plen + TAIL_LEN};
	z.b = calloc(1, z.len);
	z.b[HDR(setup_sects)] = 4;
	z.b[HDR(boot_flag)] = 0x55, z.b[HDR(boot_flag) + 1] = 0xaa;
	z.b[0x200] = 0xeb;
	z.b[0x201] = 0x66; /* the header runs to 0x268 */
	put32(z.b + HDR(header), 0x53726448);
	z.b[HDR(version)] = 0x0f, z.b[HDR(version) + 1] = 0x02;
	z.b[HDR(loadflags)] = LOADED_HIGH;
	put32(z.b + HDR(initrd_addr_max), 0x7fffffff);
	z.b[HDR(xloadflags)] = XLF_KERNEL_64;
	put32(z.b + HDR(init_size), 0x100000);
	put32(z.b + HDR(payload_offset), STUB_LEN);
	put32(z.b + HDR(payload_length), (uint32_t)plen);
	memset(z.b + SETUP_LEN, 0x90, STUB_LEN);
	memcpy(z.b + SETUP_LEN + STUB_LEN, payload, plen);
	memset(z.b + SETUP_LEN + STUB_LEN + plen, 0xcc, TAIL_LEN);
	return z;
}

static uint8_t *payload_of(struct bz *z) { return z->b + SETUP_LEN + STUB_LEN; }

/* ---- guest RAM ---------------------------------------------------------- */

/* p[0, n) reads as zeros. Pages of the mapping that are not resident (never
 * touched, or given back) are zeros without being read. */
static int all_zero(const uint8_t *p, size_t n)
{
	static const uint8_t zero[4096];
	static unsigned char v[16384]; /* 64 MiB of pages */
	uintptr_t first = (uintptr_t)p & ~(uintptr_t)4095;
	size_t pages = ((uintptr_t)p + n - first + 4095) / 4096;
	int known = pages <= sizeof(v) && mincore((void *)first, pages * 4096, v) == 0;
	for (size_t at = 0; at < n;) {
		uintptr_t a = (uintptr_t)(p + at), page = a & ~(uintptr_t)4095;
		size_t c = page + 4096 - a < n - at ? page + 4096 - a : n - at;
		if ((!known || (v[(page - first) / 4096] & 1)) && memcmp(p + at, zero, c))
			return 0;
		at += c;
	}
	return 1;
}

/* RAM above 1 MiB holds e's segments (bss zero) and zeros elsewhere; e NULL:
 * zeros only. */
static int ram_holds(const struct guest_mem *gm, const struct elf *e)
{
	const uint8_t *r = gm->base;
	uint64_t low = gm->layout.low_size;
	if (!e)
		return all_zero(r + LAYOUT_HIMEM, low - LAYOUT_HIMEM);
	return all_zero(r + LAYOUT_HIMEM, SEG1_PADDR - LAYOUT_HIMEM) &&
	       memcmp(r + SEG1_PADDR, e->b + SEG1_OFF, e->seg1_len) == 0 &&
	       all_zero(r + SEG1_PADDR + e->seg1_len, e->seg2_paddr - SEG1_PADDR - e->seg1_len) &&
	       memcmp(r + e->seg2_paddr, e->b + e->seg2_off, SEG2_LEN) == 0 &&
	       all_zero(r + e->seg2_paddr + SEG2_LEN, low - e->seg2_paddr - SEG2_LEN);
}

/* Pages of [off, off+len) of RAM that are resident. */
static size_t resident(const struct guest_mem *gm, uint64_t off, uint64_t len)
{
	unsigned char v[4096];
	size_t pages = len / 4096, n = 0;
	if (pages > sizeof(v) || mincore(gm->base + off, len, v))
		return (size_t)-1;
	for (size_t i = 0; i < pages; i++)
		n += v[i] & 1;
	return n;
}

/* Parse z (an exact heap copy, so ASan sees over-reads) and unpack it into
 * mib MiB of RAM mapped as ember maps it. */
static int unpack(const struct bz *z, unsigned mib, struct guest_mem *gm, struct kernel_image *k,
		  struct errbuf *why)
{
	struct reader r;
	struct kernel_image bz;
	reader_mem(&r, z->b, z->len);
	if (gm_map(gm, MiB(mib)))
		abort();
	if (kernel_parse(&r, &bz, why) || bz.kind != KERNEL_BZIMAGE)
		return -2;
	return kernel_unpack(&bz, &r, gm, true, NULL, k, why);
}

/* ---- unpacking ---------------------------------------------------------- */

static void unpacks(enum kz_format f, size_t seg1_len)
{
	struct elf e = make_elf(seg1_len, 1);
	size_t plen;
	uint8_t *p = compress_payload(f, e.b, e.len, &plen);
	CHECK_EQ(kz_detect(p, plen), f);
	struct bz z = make_bz(p, plen);
	struct guest_mem gm;
	struct kernel_image k;
	struct errbuf why = {{0}};
	int r = unpack(&z, 32, &gm, &k, &why);
	if (r)
		printf("  %s\n", why.msg);
	/* The scratch area's top (the vmlinux) was given back: not resident. */
	uint64_t top = ALIGN_UP(e.len, 4096);
	size_t res = resident(&gm, gm.layout.low_size - top, top);
	int holds = ram_holds(&gm, &e);
	gm_unmap(&gm);
	free(z.b), free(p), free(e.b);
	CHECK_EQ(r, 0);
	CHECK_EQ(k.kind, KERNEL_ELF_PVH);
	CHECK_EQ(k.entry, PVH_ENTRY);
	CHECK_EQ(k.nseg, 2);
	CHECK_EQ(k.end, e.seg2_paddr + SEG2_MEMSZ);
	CHECK_EQ(res, 0);
	CHECK(holds);
}

static void unpacks_lz4(void) { unpacks(KZ_LZ4, 0x3000); }
static void unpacks_xz(void) { unpacks(KZ_XZ, 0x3000); }
static void unpacks_zstd(void) { unpacks(KZ_ZSTD, 0x3000); }
static void unpacks_gzip(void) { unpacks(KZ_GZIP, 0x3000); }
/* 9 MiB: two LZ4 legacy blocks (8 MiB each at most) */
static void unpacks_lz4_two_blocks(void) { unpacks(KZ_LZ4, (9u << 20) + 0x123); }

/* keep (the kernel cache's hook) is shown the whole vmlinux, byte for byte,
 * once; and not at all when the payload is no PVH vmlinux. */
struct kept {
	uint8_t *b;
	size_t len;
	unsigned calls;
};

static void keep_copy(void *ctx, const uint8_t *vmlinux, size_t len)
{
	struct kept *k = ctx;
	k->calls++;
	free(k->b);
	k->b = malloc(len);
	memcpy(k->b, vmlinux, len);
	k->len = len;
}

static void keeps_the_vmlinux(void)
{
	for (int pvh = 1; pvh >= 0; pvh--) {
		struct elf e = make_elf(0x3000, pvh);
		size_t plen;
		uint8_t *p = compress_payload(KZ_LZ4, e.b, e.len, &plen);
		struct bz z = make_bz(p, plen);
		struct guest_mem gm;
		struct kernel_image bz, k;
		struct reader r;
		struct errbuf why = {{0}};
		struct kept kept = {0};
		struct kernel_unpack_keep keep = {keep_copy, &kept};
		reader_mem(&r, z.b, z.len);
		if (gm_map(&gm, MiB(32)) || kernel_parse(&r, &bz, &why))
			abort();
		int rc = kernel_unpack(&bz, &r, &gm, false, &keep, &k, &why);
		int holds = ram_holds(&gm, pvh ? &e : NULL);
		int same = kept.len == e.len && kept.b && memcmp(kept.b, e.b, e.len) == 0;
		gm_unmap(&gm);
		free(z.b), free(p), free(e.b), free(kept.b);
		CHECK(holds);
		if (pvh) {
			CHECK_EQ(rc, 0);
			CHECK_EQ(kept.calls, 1);
			CHECK(same);
		} else {
			CHECK_EQ(rc, -1);
			CHECK_EQ(kept.calls, 0);
		}
	}
}

/* Every format decompresses back to exactly the bytes compressed. */
static void decompress_round_trip(void)
{
	struct elf e = make_elf(0x3000, 1);
	uint8_t *out = malloc(e.len), *arena = malloc(MiB(4));
	int ok = 1;
	for (enum kz_format f = KZ_LZ4; f <= KZ_GZIP; f++) {
		size_t plen, n = 0;
		uint8_t *p = compress_payload(f, e.b, e.len, &plen);
		struct errbuf err;
		memset(out, 0, e.len);
		if (kz_decompress(f, p, kz_stream_len(f, plen), out, e.len, &n, arena, MiB(4), &err) ||
		    n != e.len || memcmp(out, e.b, e.len)) {
			printf("  %s: %s\n", kz_name(f), err.msg);
			ok = 0;
		}
		free(p);
	}
	free(out), free(arena), free(e.b);
	CHECK(ok);
}

/* An arena too small for the library's memory, and output with no room:
 * refused, nothing written past either (ASan). */
static void decompress_bounded(void)
{
	struct elf e = make_elf(0x3000, 1);
	int ok = 1;
	for (enum kz_format f = KZ_LZ4; f <= KZ_GZIP; f++) {
		size_t plen, n;
		uint8_t *p = compress_payload(f, e.b, e.len, &plen);
		uint8_t *out = malloc(e.len - 1), *arena = malloc(MiB(4)), *tiny = malloc(512);
		struct errbuf err;
		if (kz_decompress(f, p, kz_stream_len(f, plen), out, e.len - 1, &n, arena, MiB(4), &err) == 0)
			ok = 0, printf("  %s: output bigger than its room accepted\n", kz_name(f));
		if (f != KZ_LZ4 && kz_decompress(f, p, kz_stream_len(f, plen), out, e.len - 1, &n,
						 tiny, 512, &err) == 0)
			ok = 0, printf("  %s: a 512-byte arena was enough\n", kz_name(f));
		free(p), free(out), free(arena), free(tiny);
	}
	free(e.b);
	CHECK(ok);
}

/* ---- a vmlinux laid out as Linux's build does ---------------------------- */

/* Segment 1 at file offset 2 MiB linked at LX_PADDR, segment 2 as far on in
 * file and address (both in place when decompressed at LX_PADDR - 2 MiB),
 * then two whose addresses are 2 KiB below where their bytes land (as
 * Linux's per-CPU and init segments): moved down over their own bytes.
 * Segment 4 has bss. The PVH note is in the headers' page. */
#define LX_PADDR MiB(4)
#define LX_NSEG 4

struct lx {
	uint8_t *b;
	size_t len;
	Elf64_Phdr ph[LX_NSEG];
};

static struct lx make_linux_elf(void)
{
	struct lx x = {.ph = {
		{.p_type = PT_LOAD, .p_offset = MiB(2), .p_paddr = LX_PADDR, .p_filesz = 0x3123, .p_memsz = 0x3123},
		{.p_type = PT_LOAD, .p_offset = MiB(4), .p_paddr = LX_PADDR + MiB(2), .p_filesz = 0x1800, .p_memsz = 0x1800},
		{.p_type = PT_LOAD, .p_offset = MiB(4) + 0x2000, .p_paddr = LX_PADDR + MiB(2) + 0x1800, .p_filesz = 0x1000, .p_memsz = 0x1000},
		{.p_type = PT_LOAD, .p_offset = MiB(4) + 0x3000, .p_paddr = LX_PADDR + MiB(2) + 0x2800, .p_filesz = 0x2345, .p_memsz = 0x5000},
	}};
	x.len = MiB(4) + 0x3000 + 0x2345;
	x.b = calloc(1, x.len);
	Elf64_Ehdr *h = (Elf64_Ehdr *)x.b;
	elf_fixture_header(h, LX_PADDR + 0x40, LX_NSEG + 1);
	Elf64_Phdr *ph = (Elf64_Phdr *)(x.b + sizeof(*h));
	memcpy(ph, x.ph, sizeof(x.ph));
	ph[LX_NSEG] = elf_fixture_pvh_note(x.b, NOTE_OFF, LX_PADDR + 0x40);
	uint32_t v = 777;
	for (unsigned i = 0; i < LX_NSEG; i++)
		for (uint64_t j = 0; j < x.ph[i].p_filesz; j++) {
			v ^= v << 13, v ^= v >> 17, v ^= v << 5;
			x.b[x.ph[i].p_offset + j] = (uint8_t)(v | 1); /* never 0: a lost byte shows */
		}
	return x;
}

/* RAM above 1 MiB: x's segments at their addresses, zeros elsewhere. */
static int lx_ram_holds(const struct guest_mem *gm, const struct lx *x)
{
	const uint8_t *r = gm->base;
	uint64_t at = LAYOUT_HIMEM;
	for (unsigned i = 0; i < LX_NSEG; i++) {
		const Elf64_Phdr *p = &x->ph[i];
		if (!all_zero(r + at, p->p_paddr - at) ||
		    memcmp(r + p->p_paddr, x->b + p->p_offset, p->p_filesz) ||
		    !all_zero(r + p->p_paddr + p->p_filesz, p->p_memsz - p->p_filesz))
			return 0;
		at = p->p_paddr + p->p_memsz;
	}
	return all_zero(r + at, gm->layout.low_size - at);
}

/* x compressed as f in a bzImage whose pref_address is pref, unpacked into
 * mib MiB: 0 and RAM as lx_ram_holds says, or the result and why. */
static int unpack_linux(enum kz_format f, uint64_t pref, unsigned mib)
{
	struct lx x = make_linux_elf();
	size_t plen;
	uint8_t *p = compress_payload(f, x.b, x.len, &plen);
	struct bz z = make_bz(p, plen);
	memcpy(z.b + HDR(pref_address), &pref, 8);
	struct guest_mem gm;
	struct kernel_image k;
	struct errbuf why = {{0}};
	int r = unpack(&z, mib, &gm, &k, &why);
	if (r)
		printf("  %s, pref_address %#llx, %u MiB: %s\n", kz_name(f), (unsigned long long)pref, mib,
		       why.msg);
	else if (k.kind != KERNEL_ELF_PVH || k.entry != LX_PADDR + 0x40 || k.nseg != LX_NSEG ||
		 !lx_ram_holds(&gm, &x))
		r = 1, printf("  %s, pref_address %#llx: RAM does not hold the vmlinux\n", kz_name(f),
			      (unsigned long long)pref);
	gm_unmap(&gm);
	free(z.b), free(p), free(x.b);
	return r;
}

/* Decompressed at LX_PADDR - 2 MiB: the 4 MiB vmlinux ends at 6 MiB + a
 * little, its segments at 6 MiB + 30 KiB; 10 MiB of RAM is enough (the copy
 * from the top needed the vmlinux above its segments: 10 MiB + 60 KiB). */
static void unpacks_in_place(void)
{
	for (enum kz_format f = KZ_LZ4; f <= KZ_GZIP; f++)
		CHECK_EQ(unpack_linux(f, LX_PADDR, 10), 0);
}

/* A pref_address that guesses too high: every segment moves down; too low
 * (a segment's address above its bytes) or none: from the top. */
static void unpacks_any_guess(void)
{
	CHECK_EQ(unpack_linux(KZ_LZ4, LX_PADDR + MiB(2) + 0x5000, 32), 0);
	CHECK_EQ(unpack_linux(KZ_LZ4, LX_PADDR - 0x1000, 32), 0);
	CHECK_EQ(unpack_linux(KZ_LZ4, 0, 32), 0);
	CHECK_EQ(unpack_linux(KZ_LZ4, MiB(4096), 32), 0);
	CHECK_EQ(unpack_linux(KZ_ZSTD, MiB(31), 32), 0); /* past the room: clamped */
}

/* XZ with a 4 MiB dictionary in 12 MiB of RAM, decompressed at 4.5 MiB:
 * 3.5 MiB free below the vmlinux and as much above, too little for the
 * dictionary; tried again right above 1 MiB (6.9 MiB for it) it decompresses
 * and, laid out from the top, lands exactly. */
static void retries_top_down(void)
{
	xz_preset = 3;
	int r = unpack_linux(KZ_XZ, MiB(6) + MiB(1) / 2, 12);
	xz_preset = 1;
	CHECK_EQ(r, 0);
}

/* ---- falling back ------------------------------------------------------- */

/* z must not unpack: -1, a reason, RAM above 1 MiB zero, and the bzImage
 * itself still loads. */
static void falls_back(const struct bz *z, unsigned mib, const char *why_has)
{
	struct guest_mem gm;
	struct kernel_image k, bz;
	struct errbuf why = {{0}};
	int r = unpack(z, mib, &gm, &k, &why);
	int zero = r == -1 && ram_holds(&gm, NULL);
	struct reader rd;
	reader_mem(&rd, z->b, z->len);
	int loads = kernel_parse(&rd, &bz, &why) == 0 && kernel_load(&bz, &rd, &gm, &why) == 0 &&
		    memcmp(gm.base + LAYOUT_HIMEM, z->b + SETUP_LEN, z->len - SETUP_LEN) == 0;
	gm_unmap(&gm);
	if (r != -1 || (why_has && !strstr(why.msg, why_has)))
		printf("  got %d: %s\n", r, why.msg);
	CHECK_EQ(r, -1);
	CHECK(why.msg[0]);
	if (why_has)
		CHECK(strstr(why.msg, why_has));
	CHECK(zero);
	CHECK(loads);
}

/* A payload of f made from e, in a bzImage, handed to fn to spoil. */
static void spoiled(enum kz_format f, int pvh, unsigned mib, void (*fn)(struct bz *, size_t),
		    const char *why_has)
{
	struct elf e = make_elf(0x3000, pvh);
	size_t plen;
	uint8_t *p = compress_payload(f, e.b, e.len, &plen);
	struct bz z = make_bz(p, plen);
	if (fn)
		fn(&z, plen);
	falls_back(&z, mib, why_has);
	free(z.b), free(p), free(e.b);
}

static void no_pvh_note(void)
{
	for (enum kz_format f = KZ_LZ4; f <= KZ_GZIP; f++)
		spoiled(f, 0, 32, NULL, "no PVH entry note");
}

static void too_little_ram(void)
{
	/* the 9 MiB segment 1 ends at 11 MiB; in 16 MiB of RAM the 9 MiB
	 * vmlinux at the top starts below that */
	struct elf e = make_elf(9u << 20, 1);
	size_t plen;
	uint8_t *p = compress_payload(KZ_LZ4, e.b, e.len, &plen);
	struct bz z = make_bz(p, plen);
	falls_back(&z, 16, "overlaps the scratch area");
	falls_back(&z, 8, "does not fit in guest RAM");
	free(z.b), free(p), free(e.b);
}

static void flip_middle(struct bz *z, size_t plen) { payload_of(z)[plen / 2] ^= 0x55; }

/* XZ (CRC32), zstd (its checksum) and gzip (CRC32) catch any flipped
 * byte; an LZ4 block has no checksum, so its size field is spoiled. */
static void corrupt_payload(void)
{
	for (enum kz_format f = KZ_XZ; f <= KZ_GZIP; f++)
		spoiled(f, 1, 32, flip_middle, "does not decompress");
}

static void lz4_bad_block_size(struct bz *z, size_t plen)
{
	(void)plen;
	put32(payload_of(z) + 4, 0x7fffffff);
}

static void corrupt_lz4_block_size(void)
{
	spoiled(KZ_LZ4, 1, 32, lz4_bad_block_size, "bad block size");
}

/* Unpack a spoiled z: 0 when it fell back (-1, RAM above 1 MiB zero) or,
 * when may_unpack, unpacked a PVH vmlinux; else 1, with a line naming the
 * format and the spoiling (WHAT at AT). */
static int spoiled_unpack_bad(const struct bz *z, bool may_unpack, enum kz_format f,
			      const char *what, size_t at)
{
	struct guest_mem gm;
	struct kernel_image k;
	struct errbuf why;
	int r = unpack(z, 32, &gm, &k, &why);
	bool ok = r == 0 ? may_unpack && k.kind == KERNEL_ELF_PVH : r == -1 && ram_holds(&gm, NULL);
	if (!ok)
		printf("  %s %s %zu: %d %s\n", kz_name(f), what, at, r, why.msg);
	gm_unmap(&gm);
	return !ok;
}

/* Any byte of any payload flipped, every format: unpacked (LZ4 may decode
 * garbage that still parses, or a byte of the ELF's unused space) or fallen
 * back with RAM above 1 MiB zero; never a crash. */
static void corrupt_every_byte(void)
{
	struct elf e = make_elf(0x3000, 1);
	int bad = 0;
	for (enum kz_format f = KZ_LZ4; f <= KZ_GZIP; f++) {
		size_t plen;
		uint8_t *p = compress_payload(f, e.b, e.len, &plen);
		struct bz z = make_bz(p, plen);
		for (size_t i = 0; i < plen; i += 1 + plen / 150) {
			payload_of(&z)[i] ^= 0xa5;
			bad += spoiled_unpack_bad(&z, true, f, "byte", i);
			payload_of(&z)[i] ^= 0xa5;
		}
		free(z.b), free(p);
	}
	free(e.b);
	CHECK_EQ(bad, 0);
}

/* payload_length cut short (the "size" then read from the stream's
 * middle), every format, many lengths. */
static void truncated_payloads(void)
{
	struct elf e = make_elf(0x3000, 1);
	int bad = 0;
	for (enum kz_format f = KZ_LZ4; f <= KZ_GZIP; f++) {
		size_t plen;
		uint8_t *p = compress_payload(f, e.b, e.len, &plen);
		struct bz z = make_bz(p, plen);
		for (size_t n = 0; n < plen; n += n + 16 < plen ? 1 + plen / 200 : 1) {
			put32(z.b + HDR(payload_length), (uint32_t)n);
			bad += spoiled_unpack_bad(&z, false, f, "length", n);
		}
		free(z.b), free(p);
	}
	free(e.b);
	CHECK_EQ(bad, 0);
}

/* The file shrank between parsing and unpacking: a reader that ends early. */
static void file_ends_early(void)
{
	struct elf e = make_elf(0x3000, 1);
	size_t plen;
	uint8_t *p = compress_payload(KZ_XZ, e.b, e.len, &plen);
	struct bz z = make_bz(p, plen);
	struct reader r, shrunk;
	struct kernel_image bz, k;
	struct errbuf why;
	struct guest_mem gm;
	reader_mem(&r, z.b, z.len);
	reader_mem(&shrunk, z.b, SETUP_LEN + STUB_LEN + plen / 2);
	CHECK_EQ(kernel_parse(&r, &bz, &why), 0);
	CHECK_EQ(gm_map(&gm, MiB(32)), 0);
	int rc = kernel_unpack(&bz, &shrunk, &gm, true, NULL, &k, &why);
	int zero = ram_holds(&gm, NULL);
	gm_unmap(&gm);
	free(z.b), free(p), free(e.b);
	CHECK_EQ(rc, -1);
	CHECK(strstr(why.msg, "the file ended early"));
	CHECK(zero);
}

/* The size record says less than the payload holds (no room for the rest),
 * or more than it holds (a short result). */
static void size_record_too_small(struct bz *z, size_t plen)
{
	put32(payload_of(z) + plen - 4, 0x1000);
}
static void size_record_too_big(struct bz *z, size_t plen)
{
	put32(payload_of(z) + plen - 4, 0x6000);
}
static void size_record_lies(void)
{
	/* gzip's record is its own trailer: a changed one fails its check */
	for (enum kz_format f = KZ_LZ4; f <= KZ_GZIP; f++) {
		spoiled(f, 1, 32, size_record_too_small, NULL);
		spoiled(f, 1, 32, size_record_too_big, NULL);
	}
	spoiled(KZ_LZ4, 1, 32, size_record_too_small, "more output than");
	spoiled(KZ_XZ, 1, 32, size_record_too_big, "decompressed to");
}

static void unknown_format_and_no_payload(void)
{
	uint8_t junk[64];
	memset(junk, 0x5d, sizeof(junk)); /* 0x5d: an lzma-alone header's first byte */
	put32(junk + sizeof(junk) - 4, 0x10000);
	struct bz z = make_bz(junk, sizeof(junk));
	falls_back(&z, 32, "not one ember decompresses");
	put32(z.b + HDR(payload_length), 0);
	falls_back(&z, 32, "names no payload");
	/* a payload past the file's end is no payload */
	put32(z.b + HDR(payload_length), sizeof(junk) + TAIL_LEN + 1);
	falls_back(&z, 32, "names no payload");
	free(z.b);
}

/* Decompresses fine, but to something that is not an ELF vmlinux. */
static void not_an_elf(void)
{
	uint8_t text[0x2000];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)("not a kernel\n"[i % 13]);
	for (enum kz_format f = KZ_LZ4; f <= KZ_GZIP; f++) {
		size_t plen;
		uint8_t *p = compress_payload(f, text, sizeof(text), &plen);
		struct bz z = make_bz(p, plen);
		falls_back(&z, 32, "not an ELF vmlinux");
		free(z.b), free(p);
	}
}

int main(void)
{
	RUN(unpacks_lz4);
	RUN(unpacks_xz);
	RUN(unpacks_zstd);
	RUN(unpacks_gzip);
	RUN(unpacks_lz4_two_blocks);
	RUN(unpacks_in_place);
	RUN(unpacks_any_guess);
	RUN(keeps_the_vmlinux);
	RUN(retries_top_down);
	RUN(decompress_round_trip);
	RUN(decompress_bounded);
	RUN(no_pvh_note);
	RUN(too_little_ram);
	RUN(corrupt_payload);
	RUN(corrupt_lz4_block_size);
	RUN(corrupt_every_byte);
	RUN(truncated_payloads);
	RUN(file_ends_early);
	RUN(size_record_lies);
	RUN(unknown_format_and_no_payload);
	RUN(not_an_elf);
	return check_summary();
}
