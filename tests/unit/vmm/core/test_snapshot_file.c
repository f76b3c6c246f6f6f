/* test_snapshot_file.c: the snapshot state file (vmm/core/snapshot_file.c):
 * CRC-32C against its check value and a bit-by-bit reference; a round trip
 * of several sections (an empty one, a 16-character tag, one written in
 * place); a file without sections; every single-byte corruption and every
 * truncation of a small file refused, with one line and nothing changed;
 * another format version refused naming both; duplicate, empty, unprintable
 * and badly padded tags refused by the writer and the parser; the size and
 * section-count limits on both sides; the error messages saying where; the
 * writer's begin/end/cancel; loading from a path. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/core/snapshot_file.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* Write the checksum a file of len bytes should have. */
static void fix_crc(uint8_t *b, size_t len)
{
	put32(b + len - SNAP_TRAILER_SIZE, snap_crc32c(0, b, len - SNAP_TRAILER_SIZE));
}

/* The message is one line, starting "snapshot: ". */
static int one_line(const struct errbuf *e)
{
	return strncmp(e->msg, "snapshot: ", 10) == 0 && strlen(e->msg) > 10 &&
	       !strchr(e->msg, '\n');
}

/* A parse that must fail: -1, one line, and f untouched. */
static int refused(const uint8_t *b, size_t len, struct errbuf *e)
{
	struct snap_file f, before;
	memset(&f, 0xa5, sizeof(f));
	before = f;
	e->msg[0] = '\0';
	if (snap_file_parse(b, len, &f, e) != -1)
		return 0;
	return one_line(e) && memcmp(&f, &before, sizeof(f)) == 0;
}

static uint32_t crc_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (c & 1 ? 0x82f63b78 : 0);
	}
	return ~c;
}

static void crc32c_values(void)
{
	CHECK_EQ(snap_crc32c(0, "123456789", 9), 0xe3069283);
	CHECK_EQ(snap_crc32c(0, "", 0), 0);
	/* 32 zero bytes: RFC 3720's test vector */
	uint8_t z[32] = {0};
	CHECK_EQ(snap_crc32c(0, z, 32), 0x8a9136aa);
	/* in pieces, and against the bit-by-bit definition */
	uint8_t buf[300];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245 + 12345;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t n = 0; n <= sizeof(buf); n += 7) {
		CHECK_EQ(snap_crc32c(0, buf, n), crc_bitwise(buf, n));
		CHECK_EQ(snap_crc32c(snap_crc32c(0, buf, n / 3), buf + n / 3, n - n / 3),
			 crc_bitwise(buf, n));
	}
}

/* A small file: "vm" (8 bytes), "cpu0" (5), "vda" (3). */
static uint8_t *small_file(size_t *len)
{
	struct snap_writer w;
	struct errbuf e;
	snap_writer_init(&w);
	uint8_t *out = NULL;
	if (snap_writer_add(&w, "vm", 1, "vm-state", 8, &e) < 0 ||
	    snap_writer_add(&w, "cpu0", 2, "regs!", 5, &e) < 0 ||
	    snap_writer_add(&w, "vda", 3, "blk", 3, &e) < 0 ||
	    snap_writer_finish(&w, &out, len, &e) < 0) {
		printf("  small_file: %s\n", e.msg);
		snap_writer_free(&w);
		return NULL;
	}
	return out;
}

static void round_trip(void)
{
	struct snap_writer w;
	struct errbuf e;
	uint8_t a[40], b[100];
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(255 - i);
	snap_writer_init(&w);
	CHECK(snap_writer_add(&w, "vm", 1, a, sizeof(a), &e) == 0);
	CHECK(snap_writer_add(&w, "cpu0", 7, b, sizeof(b), &e) == 0);
	CHECK(snap_writer_add(&w, "vda", 0xfffffffe, NULL, 0, &e) == 0);
	uint8_t *p = snap_writer_begin(&w, "net0", 4, 64, &e);
	CHECK(p != NULL);
	memcpy(p, "0123456789", 10);
	CHECK(snap_writer_end(&w, 10, &e) == 0);
	CHECK(snap_writer_add(&w, "abcdefghijklmnop", 5, "x", 1, &e) == 0);
	uint8_t *out;
	size_t len;
	CHECK(snap_writer_finish(&w, &out, &len, &e) == 0);
	CHECK(w.buf == NULL && w.len == 0 && w.count == 0);
	CHECK_EQ(len, SNAP_HEADER_SIZE + 5 * SNAP_SECTION_HEADER_SIZE + 40 + 100 + 0 + 10 + 1 +
			      SNAP_TRAILER_SIZE);
	CHECK_MEM_EQ(out, "EMBERSNP\x01\0\0\0\0\0\0\0\x05\0\0\0", 20);
	CHECK_EQ(get_le64(out + 20), len);

	struct snap_file f;
	int r = snap_file_parse(out, len, &f, &e);
	if (r < 0)
		printf("  %s\n", e.msg);
	CHECK(r == 0);
	CHECK_EQ(f.count, 5);
	CHECK_EQ(f.version, SNAP_FILE_VERSION);
	const uint8_t *d;
	uint64_t dl;
	uint32_t v;
	CHECK(snap_file_find(&f, "vm", &d, &dl, &v));
	CHECK_EQ(dl, 40);
	CHECK_EQ(v, 1);
	CHECK_MEM_EQ(d, a, 40);
	CHECK(snap_file_find(&f, "cpu0", &d, &dl, &v));
	CHECK_EQ(dl, 100);
	CHECK_EQ(v, 7);
	CHECK_MEM_EQ(d, b, 100);
	CHECK(snap_file_find(&f, "vda", &d, &dl, &v));
	CHECK_EQ(dl, 0);
	CHECK_EQ(v, 0xfffffffe);
	CHECK(snap_file_find(&f, "net0", &d, &dl, NULL));
	CHECK_EQ(dl, 10);
	CHECK_MEM_EQ(d, "0123456789", 10);
	CHECK(snap_file_find(&f, "abcdefghijklmnop", NULL, NULL, &v));
	CHECK_EQ(v, 5);
	/* not there: another tag, a prefix, a longer one */
	CHECK(!snap_file_find(&f, "vdb", &d, &dl, &v));
	CHECK(!snap_file_find(&f, "cpu", NULL, NULL, NULL));
	CHECK(!snap_file_find(&f, "abcdefghijklmnopq", NULL, NULL, NULL));
	CHECK(!snap_file_find(&f, "", NULL, NULL, NULL));

	/* in file order */
	const char *tags[] = {"vm", "cpu0", "vda", "net0", "abcdefghijklmnop"};
	size_t pos = 0, n = 0;
	struct snap_section s;
	while (snap_file_next(&f, &pos, &s)) {
		CHECK(n < 5);
		CHECK_STR_EQ(s.tag, tags[n]);
		n++;
	}
	CHECK_EQ(n, 5);
	free(out);
}

static void no_sections(void)
{
	struct snap_writer w;
	struct errbuf e;
	uint8_t *out;
	size_t len;
	snap_writer_init(&w);
	CHECK(snap_writer_finish(&w, &out, &len, &e) == 0);
	CHECK_EQ(len, SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE);
	struct snap_file f;
	CHECK(snap_file_parse(out, len, &f, &e) == 0);
	CHECK_EQ(f.count, 0);
	size_t pos = 0;
	struct snap_section s;
	CHECK(!snap_file_next(&f, &pos, &s));
	CHECK(!snap_file_find(&f, "vm", NULL, NULL, NULL));
	free(out);
}

static void every_byte_corruption_refused(void)
{
	size_t len;
	uint8_t *good = small_file(&len);
	CHECK(good != NULL);
	uint8_t *b = malloc(len);
	CHECK(b != NULL);
	struct errbuf e;
	static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x5a};
	for (size_t i = 0; i < len; i++)
		for (size_t m = 0; m < ARRAY_SIZE(masks); m++) {
			memcpy(b, good, len);
			b[i] ^= masks[m];
			if (!refused(b, len, &e)) {
				printf("  byte %zu ^ %#x: not refused (%s)\n", i, masks[m], e.msg);
				CHECK(0);
			}
		}
	/* in the payloads and the trailer, the checksum is what catches it */
	memcpy(b, good, len);
	b[len - 10] ^= 1;
	CHECK(refused(b, len, &e));
	CHECK(strncmp(e.msg, "snapshot: checksum mismatch: the file says 0x", 45) == 0);
	CHECK(strstr(e.msg, "(the file is corrupted)") != NULL);
	free(b);
	free(good);
}

static void every_truncation_refused(void)
{
	size_t len;
	uint8_t *good = small_file(&len);
	CHECK(good != NULL);
	struct errbuf e;
	for (size_t n = 0; n < len; n++) {
		/* a buffer of exactly n bytes, so ASan sees a read past it */
		uint8_t *b = malloc(n ? n : 1);
		CHECK(b != NULL);
		memcpy(b, good, n);
		int ok = refused(n ? b : NULL, n, &e);
		free(b);
		if (!ok || !(strstr(e.msg, "truncated") || (n == 0 && strstr(e.msg, "empty")))) {
			printf("  %zu bytes: %s\n", n, e.msg);
			CHECK(0);
		}
	}
	char want[128];
	snprintf(want, sizeof(want), "snapshot: the file is truncated: %zu of the %zu bytes its header says",
		 len - 1, len);
	CHECK(refused(good, len - 1, &e));
	CHECK_STR_EQ(e.msg, want);
	CHECK(refused(good, 5, &e));
	CHECK_STR_EQ(e.msg, "snapshot: the file is truncated: 5 bytes, less than the 28-byte header");
	/* and a byte too many */
	uint8_t *b = malloc(len + 1);
	CHECK(b != NULL);
	memcpy(b, good, len);
	b[len] = 0;
	CHECK(refused(b, len + 1, &e));
	snprintf(want, sizeof(want), "snapshot: 1 bytes after the end of the file its header says (at %zu of %zu bytes)",
		 len, len + 1);
	CHECK_STR_EQ(e.msg, want);
	free(b);
	free(good);
}

static void other_version_refused(void)
{
	size_t len;
	uint8_t *b = small_file(&len);
	CHECK(b != NULL);
	struct errbuf e;
	put32(b + 8, 2);
	CHECK(refused(b, len, &e));
	CHECK_STR_EQ(e.msg, "snapshot: format version 2, but this ember reads version 1 only");
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	CHECK_STR_EQ(e.msg, "snapshot: format version 2, but this ember reads version 1 only");
	put32(b + 8, 0);
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	CHECK_STR_EQ(e.msg, "snapshot: format version 0, but this ember reads version 1 only");
	/* not a snapshot at all */
	CHECK(refused((const uint8_t *)"\x7f" "ELF\2\1\1\0\0\0\0\0\0\0\0\0", 16, &e));
	CHECK_STR_EQ(e.msg, "snapshot: not an ember snapshot file (it does not start with \"EMBERSNP\")");
	free(b);
}

static void duplicate_tag_refused(void)
{
	struct snap_writer w;
	struct errbuf e;
	snap_writer_init(&w);
	CHECK(snap_writer_add(&w, "vda", 1, "a", 1, &e) == 0);
	CHECK(snap_writer_add(&w, "vdb", 1, "bb", 2, &e) == 0);
	size_t before = w.len;
	CHECK(snap_writer_add(&w, "vda", 1, "c", 1, &e) == -1);
	CHECK_STR_EQ(e.msg, "snapshot: section 3 ('vda'): the same tag as section 1");
	CHECK_EQ(w.len, before);
	CHECK_EQ(w.count, 2);
	uint8_t *b;
	size_t len;
	CHECK(snap_writer_finish(&w, &b, &len, &e) == 0);
	/* the same in a file: vdb becomes vda */
	size_t second = SNAP_HEADER_SIZE + SNAP_SECTION_HEADER_SIZE + 1;
	CHECK_EQ(b[second + 2], 'b');
	b[second + 2] = 'a';
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	char want[128];
	snprintf(want, sizeof(want), "snapshot: section 2 ('vda'): the same tag as section 1 (at %zu)",
		 second);
	CHECK_STR_EQ(e.msg, want);
	free(b);
}

static void oversize_refused(void)
{
	struct snap_writer w;
	struct errbuf e;
	snap_writer_init(&w);
	CHECK(snap_writer_add(&w, "vm", 1, "x", 1, &e) == 0);
	size_t before = w.len;
	/* refused before anything is allocated or copied */
	CHECK(snap_writer_begin(&w, "ram", 1, SNAP_FILE_MAX, &e) == NULL);
	CHECK_STR_EQ(e.msg, "snapshot: section 2 ('ram'): 67108864 bytes would make the file larger than 64 MiB");
	CHECK(snap_writer_begin(&w, "ram", 1, SIZE_MAX, &e) == NULL);
	CHECK(snap_writer_add(&w, "ram", 1, "", SNAP_FILE_MAX - before - 32 + 1, &e) == -1);
	CHECK_EQ(w.len, before);
	CHECK_EQ(w.count, 1);
	CHECK(!w.open);
	/* the largest section that fits */
	uint8_t *p = snap_writer_begin(&w, "ram", 1, SNAP_FILE_MAX - before - 32, &e);
	CHECK(p != NULL);
	snap_writer_cancel(&w);
	snap_writer_free(&w);

	/* a buffer past the limit: refused from its first 12 bytes */
	size_t big = SNAP_FILE_MAX + 1;
	uint8_t *b = calloc(1, big);
	CHECK(b != NULL);
	memcpy(b, "EMBERSNP\x01\0\0\0", 12);
	CHECK(refused(b, big, &e));
	CHECK_STR_EQ(e.msg, "snapshot: 67108865 bytes, more than the limit of 64 MiB");
	free(b);

	/* a header saying so */
	size_t len;
	b = small_file(&len);
	CHECK(b != NULL);
	put64(b + 20, SNAP_FILE_MAX + 1);
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	CHECK_STR_EQ(e.msg, "snapshot: the header says 67108865 bytes, more than the limit of 64 MiB");
	put64(b + 20, 1ull << 63);
	CHECK(refused(b, len, &e));
	put64(b + 20, 31);
	CHECK(refused(b, len, &e));
	CHECK_STR_EQ(e.msg, "snapshot: the header says 31 bytes, less than a header and a checksum (32)");
	put64(b + 20, len);
	/* too many sections */
	put32(b + 16, SNAP_SECTIONS_MAX + 1);
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	CHECK_STR_EQ(e.msg, "snapshot: 1025 sections, more than the limit of 1024");
	put32(b + 16, 0xffffffff);
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	/* more sections than the file holds */
	put32(b + 16, 4);
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	char want[128];
	snprintf(want, sizeof(want), "snapshot: section 4 of 4: header past the end of the file (at %zu of %zu bytes)",
		 len - SNAP_TRAILER_SIZE, len);
	CHECK_STR_EQ(e.msg, want);
	/* fewer: bytes left over */
	put32(b + 16, 2);
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	snprintf(want, sizeof(want), "snapshot: 31 bytes after the last of the 2 sections the header counts (at %zu of %zu bytes)",
		 len - SNAP_TRAILER_SIZE - 31, len);
	CHECK_STR_EQ(e.msg, want);
	free(b);
}

static void section_count_limit(void)
{
	struct snap_writer w;
	struct errbuf e;
	char tag[16];
	snap_writer_init(&w);
	for (unsigned i = 0; i < SNAP_SECTIONS_MAX; i++) {
		snprintf(tag, sizeof(tag), "s%u", i);
		CHECK(snap_writer_add(&w, tag, i, NULL, 0, &e) == 0);
	}
	CHECK(snap_writer_add(&w, "one-more", 1, NULL, 0, &e) == -1);
	CHECK_STR_EQ(e.msg, "snapshot: section 'one-more': more than 1024 sections");
	uint8_t *b;
	size_t len;
	CHECK(snap_writer_finish(&w, &b, &len, &e) == 0);
	struct snap_file f;
	CHECK(snap_file_parse(b, len, &f, &e) == 0);
	CHECK_EQ(f.count, SNAP_SECTIONS_MAX);
	uint32_t v;
	CHECK(snap_file_find(&f, "s1023", NULL, NULL, &v));
	CHECK_EQ(v, 1023);
	free(b);
}

/* The example from the issue: where a section's length points. */
static void length_past_end_says_where(void)
{
	size_t len;
	uint8_t *b = small_file(&len);
	CHECK(b != NULL);
	struct errbuf e;
	size_t third = SNAP_HEADER_SIZE + 2 * SNAP_SECTION_HEADER_SIZE + 8 + 5;
	CHECK_MEM_EQ(b + third, "vda\0", 4);
	put64(b + third + 20, 4096);
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	char want[128];
	snprintf(want, sizeof(want), "snapshot: section 3 ('vda'): length 4096 past the end of the file (at %zu of %zu bytes)",
		 third + SNAP_SECTION_HEADER_SIZE, len);
	CHECK_STR_EQ(e.msg, want);
	/* one too many, and one that would wrap */
	put64(b + third + 20, 4);
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	put64(b + third + 20, UINT64_MAX - 20);
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	/* and the right one */
	put64(b + third + 20, 3);
	fix_crc(b, len);
	struct snap_file f;
	CHECK(snap_file_parse(b, len, &f, &e) == 0);
	free(b);
}

static void bad_tags_refused(void)
{
	struct snap_writer w;
	struct errbuf e;
	snap_writer_init(&w);
	CHECK(snap_writer_add(&w, "", 1, NULL, 0, &e) == -1);
	CHECK_STR_EQ(e.msg, "snapshot: bad section tag: empty tag");
	CHECK(snap_writer_add(&w, "a b", 1, NULL, 0, &e) == -1);
	CHECK_STR_EQ(e.msg, "snapshot: bad section tag: tag byte 1 is 0x20, not printable ASCII");
	CHECK(snap_writer_add(&w, "vda\x01", 1, NULL, 0, &e) == -1);
	CHECK(snap_writer_add(&w, "caf\xc3\xa9", 1, NULL, 0, &e) == -1);
	CHECK(snap_writer_add(&w, "abcdefghijklmnopq", 1, NULL, 0, &e) == -1);
	CHECK_STR_EQ(e.msg, "snapshot: tag 'abcdefghijklmnop...' is longer than 16 bytes");
	CHECK_EQ(w.count, 0);
	CHECK(w.buf == NULL);

	size_t len;
	uint8_t *good = small_file(&len), *b = malloc(len);
	CHECK(good != NULL && b != NULL);
	size_t second = SNAP_HEADER_SIZE + SNAP_SECTION_HEADER_SIZE + 8;
	char want[128];
	/* "cpu0" with a control character */
	memcpy(b, good, len);
	b[second + 1] = '\t';
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	snprintf(want, sizeof(want), "snapshot: section 2: tag byte 1 is 0x09, not printable ASCII (at %zu)",
		 second + 1);
	CHECK_STR_EQ(e.msg, want);
	/* something after the NUL: "cpu0\0x" */
	memcpy(b, good, len);
	b[second + 5] = 'x';
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	snprintf(want, sizeof(want), "snapshot: section 2: tag byte 5 is 0x78 after the tag's end (the rest must be NUL) (at %zu)",
		 second + 5);
	CHECK_STR_EQ(e.msg, want);
	/* empty */
	memcpy(b, good, len);
	memset(b + second, 0, SNAP_TAG_SIZE);
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	snprintf(want, sizeof(want), "snapshot: section 2: empty tag (at %zu)", second);
	CHECK_STR_EQ(e.msg, want);
	/* 0x7f and 0x80 */
	memcpy(b, good, len);
	b[second] = 0x7f;
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	b[second] = 0x80;
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	/* unknown flags */
	memcpy(b, good, len);
	b[12] = 4;
	fix_crc(b, len);
	CHECK(refused(b, len, &e));
	CHECK_STR_EQ(e.msg, "snapshot: unknown flags 0x4 in the header (at 12)");
	free(b);
	free(good);
}

static void writer_sequence(void)
{
	struct snap_writer w;
	struct errbuf e;
	uint8_t *out;
	size_t len;
	snap_writer_init(&w);
	CHECK(snap_writer_end(&w, 0, &e) == -1);
	CHECK_STR_EQ(e.msg, "snapshot: no section is open");
	uint8_t *p = snap_writer_begin(&w, "com1", 1, 16, &e);
	CHECK(p != NULL);
	CHECK(snap_writer_begin(&w, "vda", 1, 16, &e) == NULL);
	CHECK_STR_EQ(e.msg, "snapshot: section 'vda' begun while section 1 is open");
	CHECK(snap_writer_finish(&w, &out, &len, &e) == -1);
	CHECK_STR_EQ(e.msg, "snapshot: section 1 is still open");
	CHECK(snap_writer_end(&w, 17, &e) == -1);
	CHECK_STR_EQ(e.msg, "snapshot: section 1: 17 bytes written in room for 16");
	/* dropped: a device whose save failed */
	snap_writer_cancel(&w);
	CHECK(snap_writer_add(&w, "vda", 2, "abc", 3, &e) == 0);
	/* the cancelled tag is free again */
	p = snap_writer_begin(&w, "com1", 1, 1000000, &e);
	CHECK(p != NULL);
	memset(p, 0x33, 1000000);
	CHECK(snap_writer_end(&w, 1000000, &e) == 0);
	CHECK(snap_writer_finish(&w, &out, &len, &e) == 0);
	struct snap_file f;
	CHECK(snap_file_parse(out, len, &f, &e) == 0);
	CHECK_EQ(f.count, 2);
	const uint8_t *d;
	uint64_t dl;
	CHECK(snap_file_find(&f, "com1", &d, &dl, NULL));
	CHECK_EQ(dl, 1000000);
	CHECK(d[0] == 0x33 && d[999999] == 0x33);
	free(out);
	/* free at any point */
	snap_writer_init(&w);
	CHECK(snap_writer_begin(&w, "x", 1, 10, &e) != NULL);
	snap_writer_free(&w);
	CHECK(w.buf == NULL && !w.open);
}

static void load_from_path(void)
{
	char dir[] = "/tmp/ember-snap.XXXXXX", path[64], want[200];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/state", dir);
	size_t len;
	uint8_t *good = small_file(&len);
	CHECK(good != NULL);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, good, len) == (ssize_t)len);
	close(fd);
	struct snap_file f;
	struct errbuf e;
	uint8_t *buf = NULL;
	CHECK(snap_file_load(path, &buf, &f, &e) == 0);
	CHECK_EQ(f.count, 3);
	CHECK(snap_file_find(&f, "cpu0", NULL, NULL, NULL));
	free(buf);

	/* corrupted: the parser's message with the path */
	good[len - 1] ^= 0x10;
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	CHECK(write(fd, good, len) == (ssize_t)len);
	close(fd);
	CHECK(snap_file_load(path, &buf, &f, &e) == -1);
	snprintf(want, sizeof(want), "snapshot %s: checksum mismatch: ", path);
	CHECK(strncmp(e.msg, want, strlen(want)) == 0);

	/* larger than the limit: refused unread (a sparse file) */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, SNAP_FILE_MAX + 1) == 0);
	close(fd);
	CHECK(snap_file_load(path, &buf, &f, &e) == -1);
	snprintf(want, sizeof(want), "snapshot %s: more than the limit of 64 MiB", path);
	CHECK_STR_EQ(e.msg, want);

	/* empty */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	close(fd);
	CHECK(snap_file_load(path, &buf, &f, &e) == -1);
	snprintf(want, sizeof(want), "snapshot %s: the file is empty", path);
	CHECK_STR_EQ(e.msg, want);

	/* missing, a directory */
	unlink(path);
	CHECK(snap_file_load(path, &buf, &f, &e) == -1);
	snprintf(want, sizeof(want), "snapshot %s: No such file or directory", path);
	CHECK_STR_EQ(e.msg, want);
	CHECK(snap_file_load(dir, &buf, &f, &e) == -1);
	snprintf(want, sizeof(want), "snapshot %s: Is a directory", dir);
	CHECK_STR_EQ(e.msg, want);
	rmdir(dir);
	free(good);
}

int main(void)
{
	RUN(crc32c_values);
	RUN(round_trip);
	RUN(no_sections);
	RUN(every_byte_corruption_refused);
	RUN(every_truncation_refused);
	RUN(other_version_refused);
	RUN(duplicate_tag_refused);
	RUN(oversize_refused);
	RUN(section_count_limit);
	RUN(length_past_end_says_where);
	RUN(bad_tags_refused);
	RUN(writer_sequence);
	RUN(load_from_path);
	return check_summary();
}
