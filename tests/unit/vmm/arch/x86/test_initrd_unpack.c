/* test_initrd_unpack.c: a compressed initrd decompressed by ember into its
 * place in guest RAM (vmm/arch/x86/initrd_unpack.c). A small cpio-like
 * archive ("070701" and bytes) compressed with the libraries (gzip, zstd)
 * lands exactly where boot_initrd_addr puts an archive of its size, and
 * guest RAM above the kernel is zero but for it (the scratch area cleared).
 * Then what is left for the guest, each with RAM above the kernel still all
 * zero: an uncompressed archive, a compressed file that is no archive, a
 * gzip stream with bytes after it (a second member), a trailer whose size
 * lies (larger and smaller), a truncated stream, a zstd frame that records
 * no size, XZ, and an archive too large for the RAM left. An early
 * uncompressed archive (or two) before the compressed one is copied as it
 * is and the decompressed archive follows it on a 4-byte boundary; early
 * archives alone, or malformed ones, are left as they are. */
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

static struct kernel_image kernel(void)
{
	struct kernel_image k;
	memset(&k, 0, sizeof(k));
	k.kind = KERNEL_ELF_PVH;
	k.end = KERNEL_END;
	k.initrd_max = 0xffffffffull;
	return k;
}

/* RAM from the kernel's end to the top reads as zeros, but [lo, hi). */
static int zero_but(const struct guest_mem *gm, uint64_t lo, uint64_t hi)
{
	const uint8_t *p = gm_ptr(gm, 0, RAM);
	for (uint64_t a = KERNEL_END; a < RAM; a++)
		if ((a < lo || a >= hi) && p[a])
			return 0;
	return 1;
}

/* Unpack file (len bytes) into fresh RAM; *ok: RAM checks held. */
static int unpack(const uint8_t *file, size_t len, uint64_t ram, const uint8_t *want,
		  size_t want_len, struct errbuf *why, int *ok)
{
	struct guest_mem gm;
	if (gm_map(&gm, ram))
		abort();
	struct kernel_image k = kernel();
	struct reader r;
	reader_mem(&r, file, len);
	uint64_t at = 0, n = 0;
	int rc = initrd_unpack(&k, &r, &gm, &at, &n, why);
	if (rc == 0)
		*ok = want && n == want_len && at == boot_initrd_addr(&k, &gm.layout, n) &&
		      memcmp(gm_ptr(&gm, at, n), want, n) == 0 && zero_but(&gm, at, at + n);
	else
		*ok = ram < RAM || zero_but(&gm, 0, 0);
	gm_unmap(&gm);
	return rc;
}

static void unpacks(int zst)
{
	size_t n = 300000, len;
	uint8_t *a = archive(n);
	uint8_t *z = zst ? zstd(a, n, 1, &len) : gzip(a, n, &len);
	struct errbuf why = {{0}};
	int ok = 0;
	int rc = unpack(z, len, RAM, a, n, &why, &ok);
	if (rc)
		printf("  %s\n", why.msg);
	free(a), free(z);
	CHECK_EQ(rc, 0);
	CHECK(ok);
}

static void unpacks_gzip(void) { unpacks(0); }
static void unpacks_zstd(void) { unpacks(1); }

static void unpacks_zstd_frames(void)
{
	size_t n = 200000, l1, l2;
	uint8_t *a = archive(n);
	uint8_t *z1 = zstd(a, n / 2, 1, &l1), *z2 = zstd(a + n / 2, n - n / 2, 1, &l2);
	uint8_t *z = malloc(l1 + l2);
	memcpy(z, z1, l1), memcpy(z + l1, z2, l2);
	struct errbuf why = {{0}};
	int ok = 0;
	int rc = unpack(z, l1 + l2, RAM, a, n, &why, &ok);
	free(a), free(z), free(z1), free(z2);
	CHECK_EQ(rc, 0);
	CHECK(ok);
}

/* An early archive (then pad zeros; twice when two), then the gzip or zstd
 * archive: both in place, the second on a 4-byte boundary. */
static void early_then(int zst, size_t pad, int two)
{
	size_t n = 100000, zl;
	uint8_t *a = archive(n);
	uint8_t *z = zst ? zstd(a, n, 1, &zl) : gzip(a, n, &zl);
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
	int rc = unpack(file, at + zl, RAM, want, pre + n, &why, &ok);
	if (rc)
		printf("  %s\n", why.msg);
	free(a), free(z), free(file), free(want);
	CHECK_EQ(rc, 0);
	CHECK(ok);
}

static void unpacks_after_early_gzip(void) { early_then(0, 512 - 172, 0); }
static void unpacks_after_early_zstd(void) { early_then(1, 0, 0); }
static void unpacks_after_early_unaligned(void) { early_then(0, 3, 0); }
static void unpacks_after_two_early(void) { early_then(1, 16, 1); }

/* file is left for the guest: -1, a reason holding has, RAM untouched. */
static void left(const uint8_t *file, size_t len, uint64_t ram, const char *has)
{
	struct errbuf why = {{0}};
	int ok = 0;
	int rc = unpack(file, len, ram, NULL, 0, &why, &ok);
	CHECK_EQ(rc, -1);
	if (!strstr(why.msg, has))
		printf("  reason: %s\n", why.msg);
	CHECK(strstr(why.msg, has));
	CHECK(ok);
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

static void leaves_zstd_without_size(void)
{
	size_t n = 50000, len;
	uint8_t *a = archive(n);
	uint8_t *z = zstd(a, n, 0, &len);
	left(z, len, RAM, "does not record its size");
	free(a), free(z);
}

static void leaves_xz(void)
{
	size_t n = 5000, len = 0, cap = 8192;
	uint8_t *a = archive(n), *x = malloc(cap);
	if (lzma_easy_buffer_encode(1, LZMA_CHECK_CRC32, NULL, a, n, x, &len, cap) != LZMA_OK)
		abort();
	left(x, len, RAM, "XZ");
	free(a), free(x);
}

static void leaves_too_large(void)
{
	size_t n = MiB(3), len;
	uint8_t *a = archive(n);
	uint8_t *z = gzip(a, n, &len);
	/* 26 MiB: the kernel ends at 21 MiB, the file and the library's
	 * memory take up to 24 MiB, 3 MiB do not fit above them. */
	left(z, len, MiB(26), "do not fit");
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
	size_t xl = 0;
	uint8_t x[8192];
	if (lzma_easy_buffer_encode(1, LZMA_CHECK_CRC32, NULL, a, n, x, &xl, sizeof(x)) != LZMA_OK)
		abort();
	memcpy(file, e, el);
	uint8_t *fx = malloc(el + xl);
	memcpy(fx, e, el), memcpy(fx + el, x, xl);
	left(fx, el + xl, RAM, "XZ");
	free(a), free(z), free(file), free(fx);
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
	RUN(unpacks_after_early_gzip);
	RUN(unpacks_after_early_zstd);
	RUN(unpacks_after_early_unaligned);
	RUN(unpacks_after_two_early);
	RUN(leaves_early_alone_or_malformed);
	RUN(leaves_uncompressed);
	RUN(leaves_what_is_no_archive);
	RUN(leaves_gzip_with_more);
	RUN(leaves_lying_sizes);
	RUN(leaves_truncated);
	RUN(leaves_zstd_without_size);
	RUN(leaves_xz);
	RUN(leaves_too_large);
	RUN(tells_cpio);
	return check_summary();
}
