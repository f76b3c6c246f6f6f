/* snapshot_file.c: the snapshot state file: writer, parser, look-ups (the
 * format is described in snapshot_file.h).
 *
 * The checksum is CRC-32C, computed here with a byte-wise table (the table
 * below: for each byte n, n shifted through the reflected polynomial
 * 0x82f63b78 eight times). Why not zlib's crc32(): libz.a is in Debian's
 * zlib1g-dev and would link statically, but it would be one more library in
 * the static ember and the jailer's unit-test link and one more package for
 * `make deps`, for a dozen lines of code; and CRC-32C is the better of the
 * two CRCs for this job (Castagnoli's polynomial keeps a larger Hamming
 * distance at the lengths of state files, which is why iSCSI, SCTP, ext4 and
 * btrfs took it) and has an instruction of its own (SSE4.2 crc32) should
 * files grow large enough for speed to matter. The CRC finds every error
 * burst of up to 32 bits, so any one corrupted byte; it is no defence
 * against a file made by hand, which is why the parser also checks every
 * field and bound on its own. */
#include "vmm/core/snapshot_file.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t crc32c_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
	0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
	0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
	0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
	0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
	0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
	0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
	0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
	0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
	0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
	0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
	0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
	0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
	0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
	0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
	0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
	0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
	0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
	0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t snap_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	crc = ~crc;
	for (size_t i = 0; i < len; i++)
		crc = crc32c_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

#define LIMIT_MIB ((unsigned)(SNAP_FILE_MAX >> 20))

/* A tag field (16 bytes): 1-16 printable ASCII characters, then NULs. 0 and
 * the tag as a string in out, or -1 with what is wrong in why (a phrase)
 * and the byte's index in *at. */
static int tag_check(const uint8_t *field, char out[SNAP_TAG_SIZE + 1], char *why, size_t why_size,
		     unsigned *at)
{
	size_t n = 0;
	while (n < SNAP_TAG_SIZE && field[n])
		n++;
	if (n == 0) {
		snprintf(why, why_size, "empty tag");
		*at = 0;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (field[i] < 0x21 || field[i] > 0x7e) {
			snprintf(why, why_size, "tag byte %zu is %#04x, not printable ASCII", i,
				 field[i]);
			*at = (unsigned)i;
			return -1;
		}
	for (size_t i = n; i < SNAP_TAG_SIZE; i++)
		if (field[i]) {
			snprintf(why, why_size,
				 "tag byte %zu is %#04x after the tag's end (the rest must be NUL)", i,
				 field[i]);
			*at = (unsigned)i;
			return -1;
		}
	memcpy(out, field, n);
	out[n] = '\0';
	return 0;
}

/* A tag string as its 16-byte field, or -1 when longer than 16 bytes. */
static int tag_field(const char *tag, uint8_t field[SNAP_TAG_SIZE])
{
	size_t n = strnlen(tag, SNAP_TAG_SIZE + 1);
	if (n > SNAP_TAG_SIZE)
		return -1;
	memset(field, 0, SNAP_TAG_SIZE);
	memcpy(field, tag, n);
	return 0;
}

/* ---- writing ---- */

void snap_writer_init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void snap_writer_free(struct snap_writer *w)
{
	free(w->buf);
	snap_writer_init(w);
}

/* Room for need bytes in all (need <= SNAP_FILE_MAX). 0, or -1. */
static int reserve(struct snap_writer *w, size_t need)
{
	if (need <= w->cap)
		return 0;
	size_t cap = w->cap ? w->cap : 4096;
	while (cap < need)
		cap *= 2;
	if (cap > SNAP_FILE_MAX)
		cap = need;
	uint8_t *b = realloc(w->buf, cap);
	if (!b)
		return -1;
	w->buf = b;
	w->cap = cap;
	return 0;
}

/* Where the bytes written so far end (the header's room counts even before
 * it is allocated). */
static size_t written(const struct snap_writer *w)
{
	return w->len ? w->len : SNAP_HEADER_SIZE;
}

void *snap_writer_begin(struct snap_writer *w, const char *tag, uint32_t version, size_t cap,
			struct errbuf *e)
{
	uint8_t field[SNAP_TAG_SIZE];
	char name[SNAP_TAG_SIZE + 1], why[128];
	unsigned at;
	if (tag_field(tag, field) < 0) {
		err_set(e, "snapshot: tag '%.16s...' is longer than %d bytes", tag, SNAP_TAG_SIZE);
		return NULL;
	}
	if (tag_check(field, name, why, sizeof(why), &at) < 0) {
		err_set(e, "snapshot: bad section tag: %s", why);
		return NULL;
	}
	if (w->open) {
		err_set(e, "snapshot: section '%s' begun while section %u is open", name,
			w->count + 1);
		return NULL;
	}
	if (w->count >= SNAP_SECTIONS_MAX) {
		err_set(e, "snapshot: section '%s': more than %u sections", name, SNAP_SECTIONS_MAX);
		return NULL;
	}
	size_t off = SNAP_HEADER_SIZE;
	for (uint32_t i = 0; i < w->count; i++) {
		if (memcmp(w->buf + off, field, SNAP_TAG_SIZE) == 0) {
			err_set(e, "snapshot: section %u ('%s'): the same tag as section %u",
				w->count + 1, name, i + 1);
			return NULL;
		}
		off += SNAP_SECTION_HEADER_SIZE + (size_t)get_le64(w->buf + off + 20);
	}
	/* the file with this section and the trailer, without overflowing */
	size_t base = written(w), fixed = base + SNAP_SECTION_HEADER_SIZE + SNAP_TRAILER_SIZE;
	if (fixed > SNAP_FILE_MAX || cap > SNAP_FILE_MAX - fixed) {
		err_set(e, "snapshot: section %u ('%s'): %zu bytes would make the file larger than %u MiB",
			w->count + 1, name, cap, LIMIT_MIB);
		return NULL;
	}
	if (reserve(w, base + SNAP_SECTION_HEADER_SIZE + cap) < 0) {
		err_set(e, "snapshot: section %u ('%s'): out of memory for %zu bytes", w->count + 1,
			name, cap);
		return NULL;
	}
	if (!w->len) {
		memset(w->buf, 0, SNAP_HEADER_SIZE);
		w->len = SNAP_HEADER_SIZE;
	}
	uint8_t *h = w->buf + w->len;
	memcpy(h, field, SNAP_TAG_SIZE);
	put_le32(h + 16, version);
	put_le64(h + 20, 0);
	w->open = true;
	w->open_cap = cap;
	return h + SNAP_SECTION_HEADER_SIZE;
}

int snap_writer_end(struct snap_writer *w, size_t len, struct errbuf *e)
{
	if (!w->open) {
		err_set(e, "snapshot: no section is open");
		return -1;
	}
	if (len > w->open_cap) {
		err_set(e, "snapshot: section %u: %zu bytes written in room for %zu", w->count + 1,
			len, w->open_cap);
		return -1;
	}
	put_le64(w->buf + w->len + 20, len);
	w->len += SNAP_SECTION_HEADER_SIZE + len;
	w->count++;
	w->open = false;
	w->open_cap = 0;
	return 0;
}

void snap_writer_cancel(struct snap_writer *w)
{
	w->open = false;
	w->open_cap = 0;
}

int snap_writer_add(struct snap_writer *w, const char *tag, uint32_t version, const void *data,
		    size_t len, struct errbuf *e)
{
	uint8_t *p = snap_writer_begin(w, tag, version, len, e);
	if (!p)
		return -1;
	if (len)
		memcpy(p, data, len);
	return snap_writer_end(w, len, e);
}

int snap_writer_finish(struct snap_writer *w, uint8_t **out, size_t *len, struct errbuf *e)
{
	if (w->open) {
		err_set(e, "snapshot: section %u is still open", w->count + 1);
		return -1;
	}
	size_t body = written(w);
	if (reserve(w, body + SNAP_TRAILER_SIZE) < 0) {
		err_set(e, "snapshot: out of memory for %zu bytes", body + SNAP_TRAILER_SIZE);
		return -1;
	}
	uint8_t *b = w->buf;
	memcpy(b, SNAP_MAGIC, SNAP_MAGIC_SIZE);
	put_le32(b + 8, SNAP_FILE_VERSION);
	put_le32(b + 12, 0);
	put_le32(b + 16, w->count);
	put_le64(b + 20, body + SNAP_TRAILER_SIZE);
	put_le32(b + body, snap_crc32c(0, b, body));
	*out = b;
	*len = body + SNAP_TRAILER_SIZE;
	snap_writer_init(w);
	return 0;
}

/* ---- reading ---- */

/* The tag field at off of a file already checked up to there. */
static bool same_tag(const uint8_t *p, size_t a, size_t b)
{
	return memcmp(p + a, p + b, SNAP_TAG_SIZE) == 0;
}

int snap_file_parse(const void *buf, size_t len, struct snap_file *f, struct errbuf *e)
{
	const uint8_t *p = buf;
	if (len == 0) {
		err_set(e, "snapshot: the file is empty");
		return -1;
	}
	if (len < SNAP_MAGIC_SIZE || memcmp(p, SNAP_MAGIC, SNAP_MAGIC_SIZE) != 0) {
		if (len < SNAP_MAGIC_SIZE && memcmp(p, SNAP_MAGIC, len) == 0)
			goto truncated_header;
		err_set(e, "snapshot: not an ember snapshot file (it does not start with \"%s\")",
			SNAP_MAGIC);
		return -1;
	}
	if (len < 12)
		goto truncated_header;
	uint32_t version = get_le32(p + 8);
	if (version != SNAP_FILE_VERSION) {
		err_set(e, "snapshot: format version %" PRIu32 ", but this ember reads version %u only",
			version, SNAP_FILE_VERSION);
		return -1;
	}
	if (len > SNAP_FILE_MAX) {
		err_set(e, "snapshot: %zu bytes, more than the limit of %u MiB", len, LIMIT_MIB);
		return -1;
	}
	if (len < SNAP_HEADER_SIZE)
		goto truncated_header;
	uint32_t flags = get_le32(p + 12);
	if (flags) {
		err_set(e, "snapshot: unknown flags %#" PRIx32 " in the header (at 12)", flags);
		return -1;
	}
	uint32_t count = get_le32(p + 16);
	uint64_t flen = get_le64(p + 20);
	if (flen > SNAP_FILE_MAX) {
		err_set(e, "snapshot: the header says %" PRIu64 " bytes, more than the limit of %u MiB",
			flen, LIMIT_MIB);
		return -1;
	}
	if (flen < SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE) {
		err_set(e, "snapshot: the header says %" PRIu64 " bytes, less than a header and a checksum (%d)",
			flen, SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE);
		return -1;
	}
	if (flen > len) {
		err_set(e, "snapshot: the file is truncated: %zu of the %" PRIu64 " bytes its header says",
			len, flen);
		return -1;
	}
	if (flen < len) {
		err_set(e, "snapshot: %zu bytes after the end of the file its header says (at %" PRIu64 " of %zu bytes)",
			len - (size_t)flen, flen, len);
		return -1;
	}
	if (count > SNAP_SECTIONS_MAX) {
		err_set(e, "snapshot: %" PRIu32 " sections, more than the limit of %u", count,
			SNAP_SECTIONS_MAX);
		return -1;
	}
	size_t end = len - SNAP_TRAILER_SIZE;
	uint32_t want = get_le32(p + end), got = snap_crc32c(0, p, end);
	if (want != got) {
		err_set(e, "snapshot: checksum mismatch: the file says 0x%08" PRIx32 ", its contents give 0x%08" PRIx32 " (the file is corrupted)",
			want, got);
		return -1;
	}
	size_t off = SNAP_HEADER_SIZE;
	for (uint32_t i = 0; i < count; i++) {
		unsigned n = i + 1, at;
		char tag[SNAP_TAG_SIZE + 1], why[128];
		if (end - off < SNAP_SECTION_HEADER_SIZE) {
			err_set(e, "snapshot: section %u of %" PRIu32 ": header past the end of the file (at %zu of %zu bytes)",
				n, count, off, len);
			return -1;
		}
		if (tag_check(p + off, tag, why, sizeof(why), &at) < 0) {
			err_set(e, "snapshot: section %u: %s (at %zu)", n, why, off + at);
			return -1;
		}
		size_t prev = SNAP_HEADER_SIZE;
		for (uint32_t j = 0; j < i; j++) {
			if (same_tag(p, prev, off)) {
				err_set(e, "snapshot: section %u ('%s'): the same tag as section %u (at %zu)",
					n, tag, j + 1, off);
				return -1;
			}
			prev += SNAP_SECTION_HEADER_SIZE + (size_t)get_le64(p + prev + 20);
		}
		uint64_t slen = get_le64(p + off + 20);
		off += SNAP_SECTION_HEADER_SIZE;
		if (slen > end - off) {
			err_set(e, "snapshot: section %u ('%s'): length %" PRIu64 " past the end of the file (at %zu of %zu bytes)",
				n, tag, slen, off, len);
			return -1;
		}
		off += (size_t)slen;
	}
	if (off != end) {
		err_set(e, "snapshot: %zu bytes after the last of the %" PRIu32 " sections the header counts (at %zu of %zu bytes)",
			end - off, count, off, len);
		return -1;
	}
	f->buf = p;
	f->len = len;
	f->version = version;
	f->count = count;
	return 0;

truncated_header:
	err_set(e, "snapshot: the file is truncated: %zu bytes, less than the %d-byte header", len,
		SNAP_HEADER_SIZE);
	return -1;
}

bool snap_file_next(const struct snap_file *f, size_t *pos, struct snap_section *s)
{
	size_t off = *pos ? *pos : SNAP_HEADER_SIZE;
	if (off + SNAP_SECTION_HEADER_SIZE > f->len - SNAP_TRAILER_SIZE)
		return false;
	const uint8_t *h = f->buf + off;
	size_t n = strnlen((const char *)h, SNAP_TAG_SIZE);
	memcpy(s->tag, h, n);
	s->tag[n] = '\0';
	s->version = get_le32(h + 16);
	s->len = get_le64(h + 20);
	s->data = h + SNAP_SECTION_HEADER_SIZE;
	*pos = off + SNAP_SECTION_HEADER_SIZE + (size_t)s->len;
	return true;
}

bool snap_file_find(const struct snap_file *f, const char *tag, const uint8_t **data,
		    uint64_t *len, uint32_t *version)
{
	uint8_t field[SNAP_TAG_SIZE];
	if (tag_field(tag, field) < 0)
		return false;
	size_t pos = 0;
	struct snap_section s;
	while (snap_file_next(f, &pos, &s)) {
		if (memcmp(s.data - SNAP_SECTION_HEADER_SIZE, field, SNAP_TAG_SIZE) != 0)
			continue;
		if (data)
			*data = s.data;
		if (len)
			*len = s.len;
		if (version)
			*version = s.version;
		return true;
	}
	return false;
}

int snap_file_load(const char *path, uint8_t **buf, struct snap_file *f, struct errbuf *e)
{
	uint8_t *b;
	size_t n;
	int r = read_file_max(path, SNAP_FILE_MAX, &b, &n);
	if (r == -EFBIG) {
		err_set(e, "snapshot %s: more than the limit of %u MiB", path, LIMIT_MIB);
		return -1;
	}
	if (r < 0) {
		err_set(e, "snapshot %s: %s", path, strerror(-r));
		return -1;
	}
	if (snap_file_parse(b, n, f, e) < 0) {
		free(b);
		/* "snapshot: WHAT" becomes "snapshot PATH: WHAT" */
		char what[sizeof(e->msg)];
		snprintf(what, sizeof(what), "%s", e->msg + strlen("snapshot: "));
		err_set(e, "snapshot %s: %s", path, what);
		return -1;
	}
	*buf = b;
	return 0;
}
