/* test_initrd_unpack.c: a compressed initrd decompressed by ember into its
 * place in guest RAM (vmm/arch/x86/initrd_unpack.c). A small cpio-like
 * archive ("070701" and bytes) compressed with the libraries (gzip, zstd
 * with and without its size, XZ, LZ4 legacy frames) lands exactly where
 * boot_initrd_addr puts an archive of its size, and guest RAM above the
 * kernel is zero but for it (the scratch area cleared), also when an
 * archive of no recorded size is moved up over where it was decompressed.
 * Then what is left for the guest, each with RAM above the kernel still all
 * zero: an uncompressed archive, a compressed file that is no archive, a
 * gzip or XZ stream with bytes after it, a trailer whose size lies (larger
 * and smaller), a truncated stream, and an archive too large for the RAM
 * left. An early uncompressed archive (or two) before the compressed one is
 * copied as it is and the decompressed archive follows it on a 4-byte
 * boundary; early archives alone, or malformed ones, are left as they are. */
#include <lz4.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "tests/unit/check.h"
#include "vmm/arch/x86/boot_info.h"
#include "vmm/arch/x86/initrd_unpack.h"
#include "vmm/arch/x86/layout.h"

#define RAM MiB(64)
#define KERNEL_END (MiB(16) + MiB(5) + 0x123)

/* An archive of n bytes: the newc magic, then text a compressor shrinks
 * somewhat and a counter it cannot drop. */
static uint8_t *archive(size_t n)
{
	uint8_t *a = malloc(n);
	for (size_t i = 0; i < n; i++)
		a[i] = i % 7 == 0 ? (uint8_t)(i * 2654435761u >> 24) : (uint8_t)"ember cpio"[i % 10];
	memcpy(a, "070701", 6);
	return a;
}

/* A newc entry (header, name, data, each padded to 4 bytes) at b + at: the
 * offset after it. */
static size_t newc(uint8_t *b, size_t at, const char *name, const char *data)
{
	size_t nl = strlen(name) + 1, dl = strlen(data);
	char h[160];
	snprintf(h, sizeof(h), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 1,
		 0100644, 0, 0, 1, 0, (unsigned)dl, 0, 0, 0, 0, (unsigned)nl, 0);
	memcpy(b + at, h, 110);
	memcpy(b + at + 110, name, nl);
	at = ALIGN_UP(at + 110 + nl, 4);
	memcpy(b + at, data, dl);
	return ALIGN_UP(at + dl, 4);
}

/* An early archive (microcode's layout) in b, then pad zeros: its length. */
static size_t early(uint8_t *b, size_t pad)
{
	memset(b, 0, 4096);
	size_t at = newc(b, 0, "kernel/x86/microcode/AuthenticAMD.bin", "microcode bytes");
	at = newc(b, at, "TRAILER!!!", "");
	return at + pad;
}

static uint8_t *gzip(const uint8_t *src, size_t n, size_t *len)
{
	size_t cap = n + n / 2 + 4096;
	uint8_t *out = malloc(cap);
	z_stream s = {.next_in = (Bytef *)src, .avail_in = (uInt)n, .next_out = out,
		      .avail_out = (uInt)cap};
	if (deflateInit2(&s, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) ||
	    deflate(&s, Z_FINISH) != Z_STREAM_END)
		abort();
	*len = s.total_out;
	deflateEnd(&s);
	return out;
}

/* zstd frames; with_size: the frame records the content size. */
static uint8_t *zstd(const uint8_t *src, size_t n, int with_size, size_t *len)
{
	size_t cap = ZSTD_compressBound(n);
	uint8_t *out = malloc(cap);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, with_size);
	*len = ZSTD_compress2(c, out, cap, src, n);
	ZSTD_freeCCtx(c);
	if (ZSTD_isError(*len))
		abort();
	return out;
}

/* XZ with CRC32 (as Linux wants it for an initramfs), preset 1 */
static uint8_t *xz(const uint8_t *src, size_t n, size_t *len)
{
	size_t cap = lzma_stream_buffer_bound(n);
	uint8_t *out = malloc(cap);
	*len = 0;
	if (lzma_easy_buffer_encode(1, LZMA_CHECK_CRC32, NULL, src, n, out, len, cap) != LZMA_OK)
		abort();
	return out;
}

/* LZ4 legacy frames (lz4 -l): the magic, then blocks of at most 8 MiB of
 * input, each a le32 compressed size and the block. */
static uint8_t *lz4(const uint8_t *src, size_t n, size_t *len)
{
	size_t blk = MiB(8), cap = 4 + (n / blk + 1) * (4 + (size_t)LZ4_compressBound((int)blk));
	uint8_t *out = malloc(cap);
	size_t o = 4;
	memcpy(out, "\x02\x21\x4c\x18", 4);
	for (size_t i = 0; i < n; i += blk) {
		int in = (int)(n - i < blk ? n - i : blk);
		int c = LZ4_compress_default((const char *)src + i, (char *)out + o + 4, in,
					     (int)(cap - o - 4));
		if (c <= 0)
			abort();
		memcpy(out + o, &c, 4);
		o += 4 + (size_t)c;
	}
	*len = o;
	return out;
}

enum fmt { GZIP, ZSTD, ZSTD_NO_SIZE, XZ, LZ4 };

static uint8_t *packed(enum fmt f, const uint8_t *src, size_t n, size_t *len)
{
	switch (f) {
	case GZIP: return gzip(src, n, len);
	case ZSTD: return zstd(src, n, 1, len);
	case ZSTD_NO_SIZE: return zstd(src, n, 0, len);
	case XZ: return xz(src, n, len);
	case LZ4: return lz4(src, n, len);
	}
	abort();
}

static struct kernel_image kernel(void)
{
	struct kernel_image k;
	memset(&k, 0, sizeof(k));
	k.kind = KERNEL_ELF_PVH;
	k.end = KERNEL_END;
	k.initrd_max = 0xffffffffull;
	return k;
}

/* RAM from the kernel's end to the top (ram) reads as zeros, but [lo, hi). */
static int zero_but(const struct guest_mem *gm, uint64_t ram, uint64_t lo, uint64_t hi)
{
	const uint8_t *p = gm_ptr(gm, 0, ram);
	for (uint64_t a = KERNEL_END; a < ram; a++)
		if ((a < lo || a >= hi) && p[a])
			return 0;
	return 1;
}

/* Unpack file (len bytes) into fresh RAM (leave_fast: as initrd_unpack's);
 * *ok: RAM checks held. */
static int unpack(const uint8_t *file, size_t len, uint64_t ram, bool leave_fast,
		  const uint8_t *want, size_t want_len, struct errbuf *why, int *ok)
{
	struct guest_mem gm;
	if (gm_map(&gm, ram))
		abort();
	struct kernel_image k = kernel();
	struct reader r;
	reader_mem(&r, file, len);
	uint64_t at = 0, n = 0;
	int rc = initrd_unpack(&k, &r, &gm, leave_fast, &at, &n, why);
	if (rc == 0)
		*ok = want && n == want_len && at == boot_initrd_addr(&k, &gm.layout, n) &&
		      memcmp(gm_ptr(&gm, at, n), want, n) == 0 && zero_but(&gm, ram, at, at + n);
	else
		*ok = zero_but(&gm, ram, 0, 0);
	gm_unmap(&gm);
	return rc;
}

/* An archive of n bytes as format f in ram bytes of RAM: in place
 * (leave_fast: as initrd_unpack's). */
static void unpacks(enum fmt f, size_t n, uint64_t ram, bool leave_fast)
{
	size_t len;
	uint8_t *a = archive(n);
	uint8_t *z = packed(f, a, n, &len);
	struct errbuf why = {{0}};
	int ok = 0;
	int rc = unpack(z, len, ram, leave_fast, a, n, &why, &ok);
	if (rc)
		printf("  %s\n", why.msg);
	free(a), free(z);
	CHECK_EQ(rc, 0);
	CHECK(ok);
}

static void unpacks_gzip(void) { unpacks(GZIP, 300000, RAM, false); }
static void unpacks_zstd(void) { unpacks(ZSTD, 300000, RAM, false); }
static void unpacks_xz(void) { unpacks(XZ, 300000, RAM, false); }
static void unpacks_lz4(void) { unpacks(LZ4, 300000, RAM, false); }

/* zstd from a pipe records no size: decompressed above the scratch area,
 * then moved up; in 32 MiB of RAM the 6 MiB archive's place overlaps where
 * it was decompressed (the kernel ends at 21 MiB, the file and zstd's
 * memory end at ~24, the archive goes to 26-32). */
static void unpacks_zstd_without_size(void)
{
	unpacks(ZSTD_NO_SIZE, 300000, RAM, false);
	unpacks(ZSTD_NO_SIZE, MiB(6), MiB(32), false);
}

static void unpacks_zstd_frames(void)
{
	size_t n = 200000, l1, l2;
	uint8_t *a = archive(n);
	uint8_t *z1 = zstd(a, n / 2, 1, &l1), *z2 = zstd(a + n / 2, n - n / 2, 1, &l2);
	uint8_t *z = malloc(l1 + l2);
	memcpy(z, z1, l1), memcpy(z + l1, z2, l2);
	struct errbuf why = {{0}};
	int ok = 0;
	int rc = unpack(z, l1 + l2, RAM, false, a, n, &why, &ok);
	free(a), free(z), free(z1), free(z2);
	CHECK_EQ(rc, 0);
	CHECK(ok);
}

/* An early archive (then pad zeros; twice when two), then the archive as
 * format f: both in place, the second on a 4-byte boundary. */
static void early_then(enum fmt f, size_t pad, int two)
{
	size_t n = 100000, zl;
	uint8_t *a = archive(n);
	uint8_t *z = packed(f, a, n, &zl);
	uint8_t *file = calloc(1, 8192 + zl), e[4096];
	size_t el = early(e, pad);
	memcpy(file, e, el);
	size_t at = el;
	if (two) {
		memcpy(file + at, e, el);
		at += el;
	}
	memcpy(file + at, z, zl);
	size_t pre = ALIGN_UP(at, 4);
	uint8_t *want = calloc(1, pre + n);
	memcpy(want, file, at);
	memcpy(want + pre, a, n);
	struct errbuf why = {{0}};
	int ok = 0;
	int rc = unpack(file, at + zl, RAM, false, want, pre + n, &why, &ok);
	if (rc)
		printf("  %s\n", why.msg);
	free(a), free(z), free(file), free(want);
	CHECK_EQ(rc, 0);
	CHECK(ok);
}

static void unpacks_after_early_gzip(void) { early_then(GZIP, 512 - 172, 0); }
static void unpacks_after_early_zstd(void) { early_then(ZSTD, 0, 0); }
static void unpacks_after_early_unaligned(void) { early_then(GZIP, 3, 0); }
static void unpacks_after_two_early(void) { early_then(ZSTD, 16, 1); }
/* Debian's initrd: microcode, then zstd written to a pipe (no size); the
 * padding leaves the compressed part off a 4-byte boundary, and the gap
 * before the archive's place must read as zeros after the move. Then XZ
 * after two early archives (each on a 4-byte boundary, as Linux wants). */
static void unpacks_after_early_no_size(void)
{
	early_then(ZSTD_NO_SIZE, 1, 0);
	early_then(XZ, 4, 1);
}

/* file is left for the guest: -1, a reason holding has, RAM untouched
 * (leave_fast: as initrd_unpack's). */
static void left_as(const uint8_t *file, size_t len, uint64_t ram, bool leave_fast,
		    const char *has)
{
	struct errbuf why = {{0}};
	int ok = 0;
	int rc = unpack(file, len, ram, leave_fast, NULL, 0, &why, &ok);
	CHECK_EQ(rc, -1);
	if (!strstr(why.msg, has))
		printf("  reason: %s\n", why.msg);
	CHECK(strstr(why.msg, has));
	CHECK(ok);
}

static void left(const uint8_t *file, size_t len, uint64_t ram, const char *has)
{
	left_as(file, len, ram, false, has);
}

static void leaves_uncompressed(void)
{
	uint8_t *a = archive(5000);
	left(a, 5000, RAM, "not compressed");
	left(a, 3, RAM, "too short");
	free(a);
}

static void leaves_what_is_no_archive(void)
{
	size_t n = 50000, len;
	uint8_t *a = archive(n);
	a[0] = 'X';
	uint8_t *z = gzip(a, n, &len);
	left(z, len, RAM, "no cpio archive");
	free(z);
	z = zstd(a, n, 1, &len);
	left(z, len, RAM, "no cpio archive");
	free(a), free(z);
}

static void leaves_gzip_with_more(void)
{
	size_t n = 50000, len;
	uint8_t *a = archive(n);
	uint8_t *z = gzip(a, n, &len);
	uint8_t *two = malloc(2 * len);
	memcpy(two, z, len), memcpy(two + len, z, len);
	/* Both members' trailers record n: only the first would be read. */
	left(two, 2 * len, RAM, "after the stream");
	free(z), free(two);
	z = xz(a, n, &len);
	two = calloc(1, len + 4);
	memcpy(two, z, len); /* four zeros after it: XZ's stream padding */
	left(two, len + 4, RAM, "after the stream");
	free(a), free(z), free(two);
}

static void leaves_lying_sizes(void)
{
	size_t n = 50000, len;
	uint8_t *a = archive(n);
	uint8_t *z = gzip(a, n, &len);
	z[len - 4] += 1; /* one more than it is: zlib checks the trailer */
	left(z, len, RAM, "gzip: corrupt");
	z[len - 4] -= 2; /* one less: no room for the last byte */
	left(z, len, RAM, "more output than room");
	z[len - 4] += 1;
	z[len - 1] = 0x7f; /* ~2 GiB */
	left(z, len, RAM, "do not fit");
	free(a), free(z);
}

static void leaves_truncated(void)
{
	size_t n = 50000, len;
	uint8_t *a = archive(n);
	uint8_t *z = gzip(a, n, &len);
	for (size_t cut = 20; cut < len; cut += len / 7)
		left(z, cut, RAM, "");
	uint8_t *s = zstd(a, n, 1, &len);
	left(s, len / 2, RAM, "");
	free(a), free(z), free(s);
}

static void leaves_too_large(void)
{
	size_t n = MiB(3), len;
	uint8_t *a = archive(n);
	uint8_t *z = gzip(a, n, &len);
	/* 26 MiB: the kernel ends at 21 MiB, the file and the library's
	 * memory take up to 24 MiB, 3 MiB do not fit above them. */
	left(z, len, MiB(26), "do not fit");
	free(z);
	/* The same with no size recorded: found out while decompressing. */
	z = zstd(a, n, 0, &len);
	left(z, len, MiB(26), "zstd: Destination buffer is too small");
	free(z);
	z = lz4(a, n, &len);
	left(z, len, MiB(26), "more output than");
	free(a), free(z);
}

static void leaves_early_alone_or_malformed(void)
{
	uint8_t e[4096 + 64];
	size_t el = early(e, 100);
	left(e, el, RAM, "not compressed"); /* nothing after it */
	size_t n = 5000, zl;
	uint8_t *a = archive(n), *z = gzip(a, n, &zl);
	uint8_t *file = malloc(el + zl);
	memcpy(file, e, el);
	memcpy(file + el, z, zl);
	file[6 + 11 * 8] = 'x'; /* the first entry's namesize not hex */
	left(file, el + zl, RAM, "not compressed");
	file[6 + 11 * 8] = 'F'; /* a namesize past the file's end */
	memcpy(file + 6 + 11 * 8, "FFFFFFFF", 8);
	left(file, el + zl, RAM, "not compressed");
	left(e, 100, RAM, "not compressed"); /* cut inside the first entry */
	/* An entry, no trailer, then the gzip stream: Linux finds no header
	 * where it wants the next one, and so does ember. */
	size_t one = newc(e, 0, "kernel/x86/microcode/AuthenticAMD.bin", "microcode bytes");
	memcpy(file, e, one);
	memcpy(file + one, z, zl);
	left(file, one + zl, RAM, "not compressed");
	/* An early archive, then what no library reads (bzip2 here). */
	memcpy(file, e, el);
	memcpy(file + el, "BZh91AY&SY", 10);
	left(file, el + 10 + 64, RAM, "not compressed");
	free(a), free(z), free(file);
}

/* With leave_fast (no kernel cache keeps the archive), zstd and LZ4 are
 * left to the guest with their reason, RAM untouched, an early archive
 * before them or not; gzip and XZ are still decompressed. */
static void leaves_fast_formats_to_guest(void)
{
	static const enum fmt fast[] = {ZSTD, ZSTD_NO_SIZE, LZ4};
	static const char why[] = "which the guest decompresses faster";
	size_t n = 100000, len;
	uint8_t *a = archive(n);
	for (unsigned i = 0; i < sizeof(fast) / sizeof(fast[0]); i++) {
		uint8_t *z = packed(fast[i], a, n, &len), e[4096];
		size_t el = early(e, 0);
		uint8_t *file = malloc(el + len);
		memcpy(file, e, el);
		memcpy(file + el, z, len);
		left_as(z, len, RAM, true, why);
		left_as(file, el + len, RAM, true, why);
		free(z), free(file);
	}
	free(a);
	unpacks(GZIP, n, RAM, true);
	unpacks(XZ, n, RAM, true);
}

static void tells_cpio(void)
{
	CHECK(initrd_is_cpio((const uint8_t *)"070701", 6));
	CHECK(initrd_is_cpio((const uint8_t *)"070702xx", 8));
	CHECK(!initrd_is_cpio((const uint8_t *)"070707", 6));
	CHECK(!initrd_is_cpio((const uint8_t *)"07070", 5));
	CHECK(!initrd_is_cpio((const uint8_t *)"\x1f\x8b\x08\0\0\0", 6));
}

int main(void)
{
	RUN(unpacks_gzip);
	RUN(unpacks_zstd);
	RUN(unpacks_zstd_frames);
	RUN(unpacks_zstd_without_size);
	RUN(unpacks_xz);
	RUN(unpacks_lz4);
	RUN(unpacks_after_early_gzip);
	RUN(unpacks_after_early_zstd);
	RUN(unpacks_after_early_unaligned);
	RUN(unpacks_after_two_early);
	RUN(unpacks_after_early_no_size);
	RUN(leaves_early_alone_or_malformed);
	RUN(leaves_uncompressed);
	RUN(leaves_fast_formats_to_guest);
	RUN(leaves_what_is_no_archive);
	RUN(leaves_gzip_with_more);
	RUN(leaves_lying_sizes);
	RUN(leaves_truncated);
	RUN(leaves_too_large);
	RUN(tells_cpio);
	return check_summary();
}
