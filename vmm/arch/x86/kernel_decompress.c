/* kernel_decompress.c: a bzImage's payload decompressed by the libraries
 * (kernel_decompress.h): LZ4 legacy blocks with LZ4_decompress_safe, XZ
 * with lzma_stream_buffer_decode, zstd with a static ZSTD_DCtx in the arena,
 * gzip with zlib's inflate. Each call is given the exact room it may write. */
#include <lz4.h>
#include <lzma.h>
#include <string.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_initStaticDCtx: the context in our arena */
#include <zstd.h>

#include "vmm/arch/x86/kernel_decompress.h"

#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK (8u << 20) /* a legacy block holds at most 8 MiB */
#define ARENA_ALIGN 64

enum kz_format kz_detect(const uint8_t *p, size_t n)
{
	static const uint8_t xz[6] = {0xfd, '7', 'z', 'X', 'Z', 0};
	if (n >= 4 && get_le32(p) == LZ4_LEGACY_MAGIC)
		return KZ_LZ4;
	if (n >= sizeof(xz) && memcmp(p, xz, sizeof(xz)) == 0)
		return KZ_XZ;
	if (n >= 4 && get_le32(p) == 0xfd2fb528u)
		return KZ_ZSTD;
	if (n >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8)
		return KZ_GZIP;
	return KZ_UNKNOWN;
}

const char *kz_name(enum kz_format f)
{
	switch (f) {
	case KZ_LZ4: return "LZ4";
	case KZ_XZ: return "XZ";
	case KZ_ZSTD: return "zstd";
	case KZ_GZIP: return "gzip";
	case KZ_UNKNOWN: break;
	}
	return "unknown";
}

size_t kz_stream_len(enum kz_format f, size_t plen)
{
	if (plen < 4)
		return 0;
	return f == KZ_GZIP ? plen : plen - 4;
}

struct arena {
	uint8_t *base;
	size_t len, used;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	uintptr_t p = (uintptr_t)a->base + a->used;
	size_t pad = (size_t)(ALIGN_UP(p, ARENA_ALIGN) - p);
	if (pad > a->len - a->used || n > a->len - a->used - pad)
		return NULL;
	a->used += pad + n;
	return (void *)(p + pad);
}

static void *lzma_arena_alloc(void *opaque, size_t nmemb, size_t size)
{
	size_t n;
	return __builtin_mul_overflow(nmemb, size, &n) ? NULL : arena_alloc(opaque, n);
}

static void *zlib_arena_alloc(void *opaque, uInt items, uInt size)
{
	return arena_alloc(opaque, (size_t)items * size);
}

static void arena_free(void *opaque, void *p)
{
	(void)opaque, (void)p; /* the whole arena is given back at the end */
}

/* LZ4 legacy frames (lz4 -l, as Linux's "make" writes them): the magic,
 * then blocks of a le32 compressed size and that many bytes, each
 * decompressing to at most 8 MiB; the magic again starts a new frame. */
static int unlz4(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len,
		 struct errbuf *err)
{
	size_t pos = 0, o = 0;
	if (in_len < 4 || get_le32(in) != LZ4_LEGACY_MAGIC) {
		err_set(err, "LZ4: not a legacy frame");
		return -1;
	}
	while (pos < in_len) {
		if (in_len - pos < 4) {
			err_set(err, "LZ4: truncated block header at %zu", pos);
			return -1;
		}
		uint32_t c = get_le32(in + pos);
		pos += 4;
		if (c == LZ4_LEGACY_MAGIC)
			continue;
		if (c == 0 || c > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK) || c > in_len - pos) {
			err_set(err, "LZ4: bad block size %u at %zu", c, pos - 4);
			return -1;
		}
		size_t room = out_cap - o < LZ4_LEGACY_BLOCK ? out_cap - o : LZ4_LEGACY_BLOCK;
		int n = LZ4_decompress_safe((const char *)in + pos, (char *)out + o, (int)c, (int)room);
		if (n < 0) {
			err_set(err, "LZ4: corrupt block at %zu, or more output than the %zu bytes of room",
				pos - 4, out_cap);
			return -1;
		}
		o += (size_t)n;
		pos += c;
	}
	*out_len = o;
	return 0;
}

static int unxz(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len,
		struct arena *a, struct errbuf *err)
{
	const lzma_allocator al = {lzma_arena_alloc, arena_free, a};
	uint64_t memlimit = a->len;
	size_t in_pos = 0, o = 0;
	lzma_ret r = lzma_stream_buffer_decode(&memlimit, 0, &al, in, &in_pos, in_len, out, &o,
					       out_cap);
	if (r != LZMA_OK) {
		const char *why = r == LZMA_MEM_ERROR || r == LZMA_MEMLIMIT_ERROR ?
			"needs more memory than the scratch area has" :
			r == LZMA_BUF_ERROR ? (o == out_cap ? "more output than room" : "truncated") :
			r == LZMA_FORMAT_ERROR || r == LZMA_OPTIONS_ERROR ? "unsupported stream" :
			"corrupt";
		err_set(err, "XZ: %s (liblzma error %d)", why, (int)r);
		return -1;
	}
	if (in_pos != in_len) { /* another stream, padding, anything else */
		err_set(err, "XZ: %zu bytes after the stream", in_len - in_pos);
		return -1;
	}
	*out_len = o;
	return 0;
}

static int unzstd(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
		  size_t *out_len, struct arena *a, struct errbuf *err)
{
	size_t room = a->len;
	void *ws = arena_alloc(a, 0);
	ZSTD_DCtx *d = ws ? ZSTD_initStaticDCtx(ws, room - (size_t)((uint8_t *)ws - a->base)) : NULL;
	if (!d) {
		err_set(err, "zstd: the scratch area has no room for a context");
		return -1;
	}
	size_t n = ZSTD_decompressDCtx(d, out, out_cap, in, in_len);
	if (ZSTD_isError(n)) {
		err_set(err, "zstd: %s", ZSTD_getErrorName(n));
		return -1;
	}
	*out_len = n;
	return 0;
}

static int ungzip(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
		  size_t *out_len, struct arena *a, struct errbuf *err)
{
	if (in_len > UINT32_MAX || out_cap > UINT32_MAX) {
		err_set(err, "gzip: larger than 4 GiB");
		return -1;
	}
	z_stream s = {.next_in = (Bytef *)in, .avail_in = (uInt)in_len, .next_out = out,
		      .avail_out = (uInt)out_cap, .zalloc = zlib_arena_alloc, .zfree = arena_free,
		      .opaque = a};
	if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) { /* 16: a gzip header and trailer */
		err_set(err, "gzip: the scratch area has no room for the decoder");
		return -1;
	}
	int r = inflate(&s, Z_FINISH);
	size_t n = s.total_out, left = s.avail_in;
	inflateEnd(&s);
	if (r == Z_STREAM_END && left) { /* a second member, or anything else */
		err_set(err, "gzip: %zu bytes after the stream", left);
		return -1;
	}
	if (r != Z_STREAM_END) {
		err_set(err, "gzip: %s (zlib error %d)",
			r == Z_BUF_ERROR ? (n == out_cap ? "more output than room" : "truncated") :
			r == Z_MEM_ERROR ? "needs more memory than the scratch area has" : "corrupt",
			r);
		return -1;
	}
	*out_len = n;
	return 0;
}

int kz_decompress(enum kz_format f, const uint8_t *in, size_t in_len, uint8_t *out,
		  size_t out_cap, size_t *out_len, uint8_t *arena, size_t arena_len,
		  struct errbuf *err)
{
	struct arena a = {arena, arena_len, 0};
	*out_len = 0;
	switch (f) {
	case KZ_LZ4: return unlz4(in, in_len, out, out_cap, out_len, err);
	case KZ_XZ: return unxz(in, in_len, out, out_cap, out_len, &a, err);
	case KZ_ZSTD: return unzstd(in, in_len, out, out_cap, out_len, &a, err);
	case KZ_GZIP: return ungzip(in, in_len, out, out_cap, out_len, &a, err);
	case KZ_UNKNOWN: break;
	}
	err_set(err, "unknown compression format");
	return -1;
}
