/* test_state_codec.c: saved state's byte encoding (state_codec.c): structs
 * written field by field, little-endian, without their
 * padding, and read back; a writer that runs out of room writes nothing past
 * it and finishes with 0; the reader's refusals (short, bad magic, version,
 * flags, length, CRC, a missing, misplaced, long or short section, bytes
 * after the last one), each one line naming the blob and the section. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/core/snapshot_file.h"
#include "vmm/core/state_codec.h"

struct sample {
	uint8_t a;       /* then 1 byte of padding */
	uint16_t b;
	uint32_t c;
	uint64_t d[2];
	uint8_t e[3];    /* then 5 bytes of padding */
};
static const struct codec_field sample_f[] = {
	CODEC_FIELD(struct sample, a), CODEC_FIELD(struct sample, b), CODEC_FIELD(struct sample, c),
	CODEC_ARRAY(struct sample, d), CODEC_ARRAY(struct sample, e),
};
static const struct codec_layout sample_l = CODEC_LAYOUT(sample_f);

#define MAGIC 0x54534554u /* "TEST" */

static void struct_little_endian_without_padding(void)
{
	CHECK_EQ(codec_layout_bytes(&sample_l), 1 + 2 + 4 + 16 + 3);
	struct sample s = {.a = 0x11, .b = 0x2233, .c = 0x44556677,
			   .d = {0x8899aabbccddeeffull, 0x0102030405060708ull}, .e = {0xa1, 0xa2, 0xa3}};
	uint8_t buf[128];
	struct codec_writer w;
	cw_begin(&w, buf, sizeof(buf), MAGIC, 3);
	cw_section(&w, 1);
	cw_struct(&w, &s, &sample_l);
	size_t n = cw_finish(&w);
	CHECK_EQ(n, CODEC_HEADER_BYTES + CODEC_SECTION_BYTES + 26 + CODEC_TRAILER_BYTES);
	static const uint8_t head[] = {
		0x54, 0x45, 0x53, 0x54, 3, 0, 0, 0, 50, 0, 0, 0, /* magic, version, flags, length */
		1, 0, 0, 0, 26, 0, 0, 0,                         /* section 1, 26 bytes */
		0x11, 0x33, 0x22, 0x77, 0x66, 0x55, 0x44,
		0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88,
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0xa1, 0xa2, 0xa3,
	};
	CHECK_EQ(sizeof(head), n - 4);
	CHECK_MEM_EQ(buf, head, sizeof(head));
	CHECK_EQ(get_le32(buf + n - 4), snap_crc32c(0, buf, n - 4));

	struct sample t;
	memset(&t, 0xee, sizeof(t));
	struct codec_reader r;
	struct errbuf err = {{0}};
	size_t len;
	CHECK_EQ(cr_begin(&r, buf, n, MAGIC, 3, "test state", &err), 0);
	CHECK_EQ(cr_section(&r, 1, "one", &len), 0);
	CHECK_EQ(len, 26);
	CHECK_EQ(cr_struct(&r, &t, &sample_l), 0);
	CHECK_EQ(cr_end(&r), 0);
	CHECK_EQ(t.a, s.a);
	CHECK_EQ(t.b, s.b);
	CHECK_EQ(t.c, s.c);
	CHECK_EQ(t.d[0], s.d[0]);
	CHECK_EQ(t.d[1], s.d[1]);
	CHECK_MEM_EQ(t.e, s.e, 3);
}

static void writer_out_of_room(void)
{
	uint8_t full[256], buf[256];
	struct codec_writer w;
	cw_begin(&w, full, sizeof(full), MAGIC, 1);
	cw_section(&w, 1);
	cw_u64(&w, 0x1122334455667788ull);
	cw_section(&w, 2);
	cw_bytes(&w, "hello", 5);
	size_t n = cw_finish(&w);
	CHECK(n > 0);
	for (size_t cap = 0; cap < n; cap++) {
		memset(buf, 0x5a, sizeof(buf));
		cw_begin(&w, buf, cap, MAGIC, 1);
		cw_section(&w, 1);
		cw_u64(&w, 0x1122334455667788ull);
		cw_section(&w, 2);
		cw_bytes(&w, "hello", 5);
		CHECK_EQ(cw_finish(&w), 0);
		for (size_t i = cap; i < sizeof(buf); i++)
			CHECK_EQ(buf[i], 0x5a);
	}
	cw_begin(&w, buf, n, MAGIC, 1);
	cw_section(&w, 1);
	cw_u64(&w, 0x1122334455667788ull);
	cw_section(&w, 2);
	cw_bytes(&w, "hello", 5);
	CHECK_EQ(cw_finish(&w), n);
	CHECK_MEM_EQ(buf, full, n);
}

/* A blob of two sections: 1 holds a u32, 2 holds 4 bytes. */
static size_t make_blob(uint8_t *buf, size_t cap)
{
	struct codec_writer w;
	cw_begin(&w, buf, cap, MAGIC, 1);
	cw_section(&w, 1);
	cw_u32(&w, 7);
	cw_section(&w, 2);
	cw_bytes(&w, "abcd", 4);
	return cw_finish(&w);
}

static void reseal(uint8_t *buf, size_t n)
{
	uint32_t crc = snap_crc32c(0, buf, n - 4);
	for (unsigned i = 0; i < 4; i++)
		buf[n - 4 + i] = (uint8_t)(crc >> (8 * i));
}

/* Read the blob as make_blob wrote it; the error message, or "" when read. */
static const char *read_blob(const uint8_t *buf, size_t n)
{
	static struct errbuf err;
	err.msg[0] = '\0';
	struct codec_reader r;
	uint32_t v;
	uint8_t b[4];
	size_t len;
	if (cr_begin(&r, buf, n, MAGIC, 1, "test state", &err) ||
	    cr_section(&r, 1, "first", &len) || cr_expect(&r, len, 4) || cr_u32(&r, &v) ||
	    cr_section(&r, 2, "second", &len) || cr_bytes(&r, b, 4) || cr_end(&r))
		return err.msg[0] ? err.msg : "(no message)";
	return "";
}

static bool one_line(const char *m)
{
	return m[0] && !strchr(m, '\n') && strncmp(m, "test state: ", 12) == 0;
}

static void reader_refusals(void)
{
	uint8_t good[128], b[160];
	size_t n = make_blob(good, sizeof(good));
	CHECK(n > 0);
	CHECK_STR_EQ(read_blob(good, n), "");
	/* every prefix */
	for (size_t k = 0; k < n; k++)
		CHECK(one_line(read_blob(good, k)));
	CHECK(strstr(read_blob(good, 3), "too short"));
	/* any byte changed: the CRC (or the header before it) */
	for (size_t i = 0; i < n; i++) {
		memcpy(b, good, n);
		b[i] ^= 0x20;
		CHECK(one_line(read_blob(b, n)));
	}
	memcpy(b, good, n);
	b[20] ^= 1; /* section 1's value */
	CHECK(strstr(read_blob(b, n), "CRC"));
#define RESEALED(i, v, want) \
	do { \
		memcpy(b, good, n); \
		b[i] = (v); \
		reseal(b, n); \
		const char *m_ = read_blob(b, n); \
		CHECK(one_line(m_)); \
		if (!strstr(m_, want)) \
			check_fail(__FILE__, __LINE__, "\"%s\" does not say \"%s\"", m_, want); \
	} while (0)
	RESEALED(0, 'X', "bad magic");
	RESEALED(4, 2, "version 2, ember reads version 1");
	RESEALED(6, 1, "unknown flags");
	RESEALED(8, (uint8_t)(n + 1), "the header says");
	RESEALED(12, 2, "section 2 where section first (1) should be");
	RESEALED(14, 1, "test state: section first: reserved");
	RESEALED(16, 200, "section first: truncated: 200 bytes long");
	RESEALED(16, 3, "section first: 3 bytes long, should be 4");
	RESEALED(16, 5, "section first: 5 bytes long, should be 4");
	RESEALED(24, 3, "section 3 where section second (2) should be");
	RESEALED(28, 2, "section second: truncated: 4 more bytes needed, 2 left");
	RESEALED(28, 5, "section second: truncated: 5 bytes long, 4 left");
	/* a section with more than its reader takes */
	struct codec_writer w;
	cw_begin(&w, b, sizeof(b), MAGIC, 1);
	cw_section(&w, 1);
	cw_u32(&w, 7);
	cw_section(&w, 2);
	cw_bytes(&w, "abcdef", 6);
	size_t m = cw_finish(&w);
	CHECK(strstr(read_blob(b, m), "test state: section second: 2 bytes left unread"));
	/* bytes after the last section */
	memcpy(b, good, n - 4);
	memset(b + n - 4, 0, 8);
	b[8] = (uint8_t)(n + 4);
	reseal(b, n + 4);
	CHECK(strstr(read_blob(b, n + 4), "test state: 4 bytes after the last section"));
	/* a missing section */
	cw_begin(&w, b, sizeof(b), MAGIC, 1);
	cw_section(&w, 1);
	cw_u32(&w, 7);
	m = cw_finish(&w);
	CHECK(strstr(read_blob(b, m), "truncated: section second (2) is missing"));
#undef RESEALED
}

int main(void)
{
	RUN(struct_little_endian_without_padding);
	RUN(writer_out_of_room);
	RUN(reader_refusals);
	return check_summary();
}
