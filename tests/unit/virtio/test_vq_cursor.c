/* test_vq_cursor.c: the byte cursor over a chain's segments (vq_cursor.c):
 * pieces across segment boundaries from any offset, empty segments skipped,
 * reads, writes and iovecs split anywhere, and every range that does not fit
 * (past the end, offsets and lengths near 2^64, too few iovecs) refused. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "virtio/vq_cursor.h"

static uint8_t a[3], b[1], c[10];

/* Segments of 3, 1 and 10 bytes (as the net receive header test had them). */
static void segs(struct vq_buf s[3])
{
	memset(a, 0, sizeof(a)), memset(b, 0, sizeof(b)), memset(c, 0, sizeof(c));
	s[0] = (struct vq_buf){a, 3};
	s[1] = (struct vq_buf){b, 1};
	s[2] = (struct vq_buf){c, 10};
}

static void cursor_pieces(void)
{
	struct vq_buf s[3];
	segs(s);
	struct vq_cursor k;
	uint8_t *p;
	size_t len;
	vq_cursor_init(&k, s, 3, 2, 5);
	CHECK(vq_cursor_next(&k, &p, &len));
	CHECK(p == a + 2 && len == 1);
	CHECK(vq_cursor_next(&k, &p, &len));
	CHECK(p == b && len == 1);
	CHECK(vq_cursor_next(&k, &p, &len));
	CHECK(p == c && len == 3);
	CHECK(!vq_cursor_next(&k, &p, &len));
	CHECK_EQ(k.left, 0);
	/* past the end: the missing bytes are left */
	vq_cursor_init(&k, s, 3, 12, 4);
	CHECK(vq_cursor_next(&k, &p, &len));
	CHECK(p == c + 8 && len == 2);
	CHECK(!vq_cursor_next(&k, &p, &len));
	CHECK_EQ(k.left, 2);
	/* empty segments carry nothing */
	struct vq_buf e[3] = {{a, 0}, {b, 1}, {c, 0}};
	vq_cursor_init(&k, e, 3, 0, 2);
	CHECK(vq_cursor_next(&k, &p, &len));
	CHECK(p == b && len == 1);
	CHECK(!vq_cursor_next(&k, &p, &len));
	CHECK_EQ(k.left, 1);
	/* nothing asked: nothing handed out */
	vq_cursor_init(&k, s, 3, 0, 0);
	CHECK(!vq_cursor_next(&k, &p, &len));
	CHECK_EQ(k.left, 0);
}

static void write_splits(void)
{
	struct vq_buf s[3];
	segs(s);
	const uint8_t src[4] = {1, 2, 3, 4};
	CHECK(vq_seg_write(s, 3, 2, src, 4));
	CHECK_EQ(a[2], 1);
	CHECK_EQ(b[0], 2);
	CHECK_EQ(c[0], 3);
	CHECK_EQ(c[1], 4);
	CHECK(vq_seg_write(s, 3, 10, src, 4));
	CHECK_EQ(c[6], 1);
	CHECK(!vq_seg_write(s, 3, 12, src, 4)); /* past the end */
	CHECK(!vq_seg_write(s, 0, 0, src, 1));
	CHECK(vq_seg_write(s, 0, 0, src, 0));
}

static void read_splits(void)
{
	struct vq_buf s[3];
	segs(s);
	for (unsigned i = 0; i < 14; i++)
		(i < 3 ? a + i : i < 4 ? b : c + i - 4)[0] = (uint8_t)(i + 1);
	uint8_t d[14];
	for (unsigned off = 0; off <= 14; off++)
		for (unsigned len = 0; off + len <= 14; len++) {
			memset(d, 0xee, sizeof(d));
			CHECK(vq_seg_read(s, 3, off, d, len));
			for (unsigned i = 0; i < len; i++)
				CHECK_EQ(d[i], off + i + 1);
			CHECK(!vq_seg_read(s, 3, off, d, 14 - off + 1));
		}
	CHECK(vq_seg_read(s, 3, 15, d, 0)); /* an empty range always fits */
	CHECK(!vq_seg_read(s, 3, UINT64_MAX, d, 1));
	CHECK(!vq_seg_read(s, 2, 3, d, 2)); /* only the segments given count */
}

static void iov_ranges(void)
{
	struct vq_buf s[3];
	segs(s);
	struct iovec iov[3];
	CHECK_EQ(vq_seg_iov(s, 3, 0, 14, iov, 3), 3);
	CHECK(iov[0].iov_base == a && iov[0].iov_len == 3);
	CHECK(iov[2].iov_base == c && iov[2].iov_len == 10);
	CHECK_EQ(vq_seg_iov(s, 3, 3, 11, iov, 3), 2);
	CHECK(iov[0].iov_base == b && iov[0].iov_len == 1);
	CHECK(iov[1].iov_base == c && iov[1].iov_len == 10);
	CHECK_EQ(vq_seg_iov(s, 3, 5, 2, iov, 3), 1);
	CHECK(iov[0].iov_base == c + 1 && iov[0].iov_len == 2);
	CHECK_EQ(vq_seg_iov(s, 3, 0, 0, iov, 0), 0);
	CHECK_EQ(vq_seg_iov(s, 3, 0, 15, iov, 3), -1);        /* one byte short */
	CHECK_EQ(vq_seg_iov(s, 3, 0, 14, iov, 2), -1);        /* too few iovecs */
	CHECK_EQ(vq_seg_iov(s, 3, 2, UINT64_MAX, iov, 3), -1);
	CHECK_EQ(vq_seg_iov(s, 3, UINT64_MAX, 1, iov, 3), -1);
}

int main(void)
{
	RUN(cursor_pieces);
	RUN(write_splits);
	RUN(read_splits);
	RUN(iov_ranges);
	return check_summary();
}
