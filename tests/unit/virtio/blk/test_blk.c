/* test_blk.c: the virtio-blk device model (blk.c) without I/O: the --disk
 * option parser, opening and probing disks (sizes, read-only, locking, what is
 * not a disk), features and config space, and the request parser against
 * hand-built chains: header split across segments, status byte sharing a data
 * segment, missing header/status, wrong data direction, range and overflow
 * checks, read-only disks, GET_ID, DISCARD/WRITE_ZEROES payloads, unknown
 * types. test_blk_uring.c runs real requests through rings. */
#include <endian.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio/blk/blk.h"
#include "tests/unit/check.h"

static struct errbuf err;
static struct blk_opts opts;

/* ---- --disk ---- */

static void opt_path_only(void)
{
	CHECK_EQ(blk_parse_opt("/tmp/disk.img", &opts, &err), 0);
	CHECK_STR_EQ(opts.path, "/tmp/disk.img");
	CHECK(!opts.ro);
	CHECK(!opts.direct);
	CHECK_STR_EQ(opts.serial, "");
}

static void opt_all_keys(void)
{
	CHECK_EQ(blk_parse_opt("d.img,ro,id=vol-7,direct", &opts, &err), 0);
	CHECK_STR_EQ(opts.path, "d.img");
	CHECK(opts.ro);
	CHECK(opts.direct);
	CHECK_STR_EQ(opts.serial, "vol-7");
	CHECK_EQ(blk_parse_opt("d.img,id=12345678901234567890", &opts, &err), 0);
	CHECK_STR_EQ(opts.serial, "12345678901234567890");
	CHECK_EQ(blk_parse_opt("d.img,direct,ro,ro", &opts, &err), 0);
	CHECK(opts.ro && opts.direct);
	CHECK(!rl_config_on(&opts.rl));
	CHECK_EQ(blk_parse_opt("d.img,bw=4M/1000+1M,ops=200/1000", &opts, &err), 0);
	CHECK_EQ(opts.rl.bw.size, 4u << 20);
	CHECK_EQ(opts.rl.bw.refill_ms, 1000);
	CHECK_EQ(opts.rl.bw.one_time_burst, 1u << 20);
	CHECK_EQ(opts.rl.ops.size, 200);
	CHECK_EQ(opts.rl.ops.refill_ms, 1000);
}

static void opt_errors(void)
{
	CHECK_EQ(blk_parse_opt("", &opts, &err), -1);
	CHECK(strstr(err.msg, "empty path"));
	CHECK_EQ(blk_parse_opt(",ro", &opts, &err), -1);
	CHECK(strstr(err.msg, "empty path"));
	CHECK_EQ(blk_parse_opt("d.img,rw", &opts, &err), -1);
	CHECK_STR_EQ(err.msg, "--disk d.img: unknown option 'rw' (expected ro, id=SERIAL, direct, "
			      "bw=BYTES/MS[+BURST], ops=N/MS[+BURST])");
	CHECK_EQ(blk_parse_opt("d.img,bw=4M", &opts, &err), -1);
	CHECK_STR_EQ(err.msg, "--disk d.img: bw '4M' is not BYTES/MS[+BURST] (e.g. 4M/1000)");
	CHECK_EQ(blk_parse_opt("d.img,ops=0/1000", &opts, &err), -1);
	CHECK_STR_EQ(err.msg, "--disk d.img: ops '0/1000' is not N/MS[+BURST] (e.g. 200/1000)");
	CHECK_EQ(blk_parse_opt("d.img,ro,", &opts, &err), -1);
	CHECK(strstr(err.msg, "unknown option ''"));
	CHECK_EQ(blk_parse_opt("d.img,id=123456789012345678901", &opts, &err), -1);
	CHECK(strstr(err.msg, "21 bytes, at most 20"));
	CHECK_EQ(blk_parse_opt("d.img,id=", &opts, &err), -1);
	CHECK(strstr(err.msg, "empty id"));
	CHECK_EQ(blk_parse_opt("d.img,id", &opts, &err), -1);
	CHECK(strstr(err.msg, "id needs a value"));
	CHECK_EQ(blk_parse_opt("d.img,ro=1", &opts, &err), -1);
	CHECK(strstr(err.msg, "'ro' takes no value"));
	CHECK_EQ(blk_parse_opt("d.img,id=a,id=b", &opts, &err), -1);
	CHECK(strstr(err.msg, "id given twice"));
	CHECK(!strchr(err.msg, '\n'));
}

/* ---- opening disks ---- */

static char tmp_path[64];

static int make_file(uint64_t size)
{
	strcpy(tmp_path, "/tmp/ember-blk-XXXXXX");
	int fd = mkstemp(tmp_path);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void open_file(void)
{
	struct blk_disk d;
	CHECK_EQ(make_file(MiB(1)), 0);
	CHECK_EQ(blk_parse_opt(tmp_path, &opts, &err), 0);
	strcpy(opts.serial, "abc");
	CHECK_EQ(blk_disk_open(&d, &opts, &err), 0);
	unlink(tmp_path);
	CHECK(d.fd >= 0);
	CHECK_EQ(d.size, MiB(1));
	CHECK_EQ(d.lbs, 512);
	CHECK(d.pbs >= 512);
	CHECK(!d.ro && !d.block_dev);
	CHECK_EQ(fcntl(d.fd, F_GETFL) & O_ACCMODE, O_RDWR);
	CHECK_MEM_EQ(d.serial, "abc\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
	/* the probes past the end left the size alone */
	struct stat st;
	CHECK_EQ(fstat(d.fd, &st), 0);
	CHECK_EQ(st.st_size, MiB(1));
	blk_disk_close(&d);
	CHECK_EQ(d.fd, -1);
}

static void open_read_only(void)
{
	struct blk_disk d;
	CHECK_EQ(make_file(4096), 0);
	CHECK_EQ(chmod(tmp_path, 0444), 0);
	CHECK_EQ(blk_parse_opt(tmp_path, &opts, &err), 0);
	opts.ro = true;
	int r = blk_disk_open(&d, &opts, &err);
	unlink(tmp_path);
	CHECK_EQ(r, 0);
	CHECK(d.ro);
	CHECK_EQ(fcntl(d.fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	CHECK(!blk_disk_discard(&d));
	CHECK(!blk_disk_write_zeroes(&d));
	uint64_t f = blk_features(&d);
	CHECK(f & (1ull << VIRTIO_BLK_F_RO));
	CHECK(!(f & (1ull << VIRTIO_BLK_F_DISCARD)));
	CHECK(!(f & (1ull << VIRTIO_BLK_F_WRITE_ZEROES)));
	blk_disk_close(&d);
}

static void open_errors(void)
{
	struct blk_disk d;
	CHECK_EQ(make_file(1000), 0);
	CHECK_EQ(blk_parse_opt(tmp_path, &opts, &err), 0);
	int r = blk_disk_open(&d, &opts, &err);
	unlink(tmp_path);
	CHECK_EQ(r, -1);
	CHECK(strstr(err.msg, "size 1000 is not a multiple of 512 bytes"));
	CHECK_EQ(d.fd, -1);

	CHECK_EQ(blk_parse_opt("/nonexistent/disk.img", &opts, &err), 0);
	CHECK_EQ(blk_disk_open(&d, &opts, &err), -1);
	CHECK_STR_EQ(err.msg, "--disk /nonexistent/disk.img: No such file or directory");

	CHECK_EQ(blk_parse_opt("/tmp,ro", &opts, &err), 0);
	CHECK_EQ(blk_disk_open(&d, &opts, &err), -1);
	CHECK(strstr(err.msg, "not a regular file or block device"));
	CHECK_EQ(blk_parse_opt("/dev/null", &opts, &err), 0);
	CHECK_EQ(blk_disk_open(&d, &opts, &err), -1);
	CHECK(strstr(err.msg, "not a regular file or block device"));
}

static void open_locked(void)
{
	struct blk_disk a, b;
	CHECK_EQ(make_file(8192), 0);
	CHECK_EQ(blk_parse_opt(tmp_path, &opts, &err), 0);
	CHECK_EQ(blk_disk_open(&a, &opts, &err), 0);
	int r = blk_disk_open(&b, &opts, &err);
	if (r == 0)
		blk_disk_close(&b);
	opts.ro = true;
	int r2 = blk_disk_open(&b, &opts, &err);
	if (r2 == 0)
		blk_disk_close(&b);
	blk_disk_close(&a);
	/* two read-only users may share it */
	CHECK_EQ(blk_disk_open(&a, &opts, &err), 0);
	CHECK_EQ(blk_disk_open(&b, &opts, &err), 0);
	blk_disk_close(&a);
	blk_disk_close(&b);
	unlink(tmp_path);
	CHECK_EQ(r, -1);
	CHECK_EQ(r2, -1);
	CHECK(strstr(err.msg, "in use by another process"));
}

/* ---- features and config ---- */

static struct blk_disk disk_of(uint64_t size, bool ro)
{
	struct blk_disk d;
	memset(&d, 0, sizeof(d));
	d.fd = -1;
	d.size = size;
	d.ro = ro;
	d.lbs = 512;
	d.pbs = 4096;
	d.punch_hole = d.zero_range = true;
	memcpy(d.serial, "serial-0123456789xyz", 20);
	return d;
}

static void features_and_config(void)
{
	struct blk_disk d = disk_of(MiB(64), false);
	uint64_t f = blk_features(&d);
	CHECK(f & (1ull << VIRTIO_F_VERSION_1));
	CHECK(f & (1ull << VIRTIO_RING_F_INDIRECT_DESC));
	CHECK(f & (1ull << VIRTIO_RING_F_EVENT_IDX));
	CHECK(f & (1ull << VIRTIO_BLK_F_FLUSH));
	CHECK(f & (1ull << VIRTIO_BLK_F_SEG_MAX));
	CHECK(f & (1ull << VIRTIO_BLK_F_SIZE_MAX));
	CHECK(f & (1ull << VIRTIO_BLK_F_BLK_SIZE));
	CHECK(f & (1ull << VIRTIO_BLK_F_TOPOLOGY));
	CHECK(f & (1ull << VIRTIO_BLK_F_MQ));
	CHECK(f & (1ull << VIRTIO_BLK_F_DISCARD));
	CHECK(f & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	CHECK(!(f & (1ull << VIRTIO_BLK_F_RO)));

	struct virtio_blk_config c;
	blk_config(&d, 2, &c);
	CHECK_EQ(le64toh(c.capacity), MiB(64) / 512);
	CHECK_EQ(le32toh(c.seg_max), BLK_SEG_MAX);
	CHECK_EQ(le32toh(c.size_max), BLK_SIZE_MAX);
	CHECK_EQ(le32toh(c.blk_size), 512);
	CHECK_EQ(c.physical_block_exp, 3);
	CHECK_EQ(le16toh(c.min_io_size), 8);
	CHECK_EQ(le16toh(c.num_queues), 2);
	CHECK_EQ(le32toh(c.max_discard_sectors), BLK_MAX_DISCARD_SECTORS);
	CHECK_EQ(le32toh(c.max_discard_seg), 1);
	CHECK_EQ(le32toh(c.discard_sector_alignment), 8);
	CHECK_EQ(le32toh(c.max_write_zeroes_sectors), BLK_MAX_DISCARD_SECTORS);
	CHECK_EQ(le32toh(c.max_write_zeroes_seg), 1);
	CHECK_EQ(c.write_zeroes_may_unmap, 1);

	d.punch_hole = false; /* ZERO_RANGE only: write zeroes without unmap */
	f = blk_features(&d);
	CHECK(!(f & (1ull << VIRTIO_BLK_F_DISCARD)));
	CHECK(f & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	blk_config(&d, 1, &c);
	CHECK_EQ(c.write_zeroes_may_unmap, 0);
	CHECK_EQ(le32toh(c.max_discard_seg), 0);
}

/* ---- request parsing ---- */

static uint8_t buf[65536];
static struct vq_chain chain;
static struct iovec iov[VQ_MAX_SEGS];
static struct blk_req req;

static void chain_reset(void)
{
	memset(&chain, 0, sizeof(chain));
	memset(buf, 0, sizeof(buf));
	chain.head = 3;
}

static void add_seg(uint32_t off, uint32_t len, bool writable)
{
	struct vq_buf *b = &chain.seg[chain.nout + chain.nin];
	b->addr = buf + off;
	b->len = len;
	if (writable) {
		chain.nin++;
		chain.in_bytes += len;
	} else {
		chain.nout++;
		chain.out_bytes += len;
	}
}

static void put_hdr(uint32_t off, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {.type = htole32(type), .ioprio = 0,
				      .sector = htole64(sector)};
	memcpy(buf + off, &h, sizeof(h));
}

static void put_range(uint32_t off, uint64_t sector, uint32_t num, uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes dw = {.sector = htole64(sector),
						     .num_sectors = htole32(num),
						     .flags = htole32(flags)};
	memcpy(buf + off, &dw, sizeof(dw));
}

static enum blk_parse parse(const struct blk_disk *d) { return blk_parse_req(d, &chain, iov, &req); }

static void parse_read_split(void)
{
	struct blk_disk d = disk_of(MiB(1), false);
	chain_reset();
	put_hdr(0x100, VIRTIO_BLK_T_IN, 5);
	/* header split 7 + 9 bytes across two segments */
	memmove(buf + 0x200, buf + 0x107, 9);
	add_seg(0x100, 7, false);
	add_seg(0x200, 9, false);
	add_seg(0x1000, 512, true);
	add_seg(0x2000, 513, true); /* 512 data bytes + the status byte */
	CHECK_EQ(parse(&d), BLK_REQ_SUBMIT);
	CHECK_EQ(req.head, 3);
	CHECK_EQ(req.type, VIRTIO_BLK_T_IN);
	CHECK_EQ(req.offset, 5 * 512);
	CHECK_EQ(req.len, 1024);
	CHECK_EQ(req.niov, 2);
	CHECK(req.iov[0].iov_base == buf + 0x1000);
	CHECK_EQ(req.iov[0].iov_len, 512);
	CHECK(req.iov[1].iov_base == buf + 0x2000);
	CHECK_EQ(req.iov[1].iov_len, 512);
	CHECK(req.status_ptr == buf + 0x2000 + 512);
	CHECK_EQ(req.written, 1025);
}

static void parse_write_header_with_data(void)
{
	struct blk_disk d = disk_of(MiB(1), false);
	chain_reset();
	put_hdr(0x100, VIRTIO_BLK_T_OUT, 2047);
	add_seg(0x100, 16 + 300, false); /* header and the first data bytes */
	add_seg(0x1000, 212, false);
	add_seg(0x3000, 1, true);
	CHECK_EQ(parse(&d), BLK_REQ_SUBMIT);
	CHECK_EQ(req.type, VIRTIO_BLK_T_OUT);
	CHECK_EQ(req.offset, 2047 * 512);
	CHECK_EQ(req.len, 512);
	CHECK_EQ(req.niov, 2);
	CHECK(req.iov[0].iov_base == buf + 0x110);
	CHECK_EQ(req.iov[0].iov_len, 300);
	CHECK_EQ(req.iov[1].iov_len, 212);
	CHECK_EQ(req.written, 1);
	CHECK(req.status_ptr == buf + 0x3000);
}

static void parse_missing_status_or_header(void)
{
	struct blk_disk d = disk_of(MiB(1), false);
	chain_reset(); /* all readable: no status byte */
	put_hdr(0, VIRTIO_BLK_T_OUT, 0);
	add_seg(0, 16 + 512 + 1, false);
	CHECK_EQ(parse(&d), BLK_REQ_BAD);
	chain_reset(); /* nothing at all */
	CHECK_EQ(parse(&d), BLK_REQ_BAD);
	chain_reset(); /* a 15-byte header */
	put_hdr(0, VIRTIO_BLK_T_FLUSH, 0);
	add_seg(0, 15, false);
	add_seg(0x100, 1, true);
	CHECK_EQ(parse(&d), BLK_REQ_BAD);
	chain_reset(); /* header only in the writable part */
	add_seg(0x100, 17, true);
	CHECK_EQ(parse(&d), BLK_REQ_BAD);
}

static void parse_wrong_direction(void)
{
	struct blk_disk d = disk_of(MiB(1), false);
	chain_reset(); /* IN with readable data */
	put_hdr(0, VIRTIO_BLK_T_IN, 0);
	add_seg(0, 16 + 512, false);
	add_seg(0x1000, 1, true);
	CHECK_EQ(parse(&d), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	CHECK(req.status_ptr == buf + 0x1000);
	CHECK_EQ(req.written, 1);
	chain_reset(); /* OUT with writable data */
	put_hdr(0, VIRTIO_BLK_T_OUT, 0);
	add_seg(0, 16, false);
	add_seg(0x1000, 513, true);
	CHECK_EQ(parse(&d), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	chain_reset(); /* FLUSH with data */
	put_hdr(0, VIRTIO_BLK_T_FLUSH, 0);
	add_seg(0, 16, false);
	add_seg(0x1000, 513, true);
	CHECK_EQ(parse(&d), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
}

static enum blk_parse rw(const struct blk_disk *d, uint32_t type, uint64_t sector, uint32_t len)
{
	chain_reset();
	put_hdr(0, type, sector);
	if (type == VIRTIO_BLK_T_IN) {
		add_seg(0, 16, false);
		add_seg(0x1000, len + 1, true);
	} else {
		add_seg(0, 16 + len, false);
		add_seg(0xf000, 1, true);
	}
	return parse(d);
}

static void parse_ranges(void)
{
	struct blk_disk d = disk_of(MiB(1), false); /* 2048 sectors */
	CHECK_EQ(rw(&d, VIRTIO_BLK_T_IN, 2047, 512), BLK_REQ_SUBMIT);
	CHECK_EQ(rw(&d, VIRTIO_BLK_T_IN, 2047, 1024), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rw(&d, VIRTIO_BLK_T_OUT, 2048, 512), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rw(&d, VIRTIO_BLK_T_IN, 2048, 0), BLK_REQ_DONE); /* empty, at the end */
	CHECK_EQ(req.status, VIRTIO_BLK_S_OK);
	CHECK_EQ(rw(&d, VIRTIO_BLK_T_IN, 2049, 0), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	/* sector * 512 overflows 64 bits */
	CHECK_EQ(rw(&d, VIRTIO_BLK_T_IN, 1ull << 55, 512), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rw(&d, VIRTIO_BLK_T_OUT, UINT64_MAX, 512), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rw(&d, VIRTIO_BLK_T_OUT, (UINT64_MAX / 512) + 1, 512), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	/* not whole sectors */
	CHECK_EQ(rw(&d, VIRTIO_BLK_T_IN, 0, 511), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rw(&d, VIRTIO_BLK_T_OUT, 0, 513), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	/* a huge disk: the data limit still holds */
	struct blk_disk big = disk_of(1ull << 50, false);
	chain_reset();
	put_hdr(0, VIRTIO_BLK_T_IN, 0);
	add_seg(0, 16, false);
	for (unsigned i = 0; i < 300; i++)
		add_seg(0x1000, 1u << 20, true); /* overlapping, never touched */
	add_seg(0x1000, 1, true);
	CHECK_EQ(parse(&big), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
}

static void parse_read_only(void)
{
	struct blk_disk d = disk_of(MiB(1), true);
	CHECK_EQ(rw(&d, VIRTIO_BLK_T_IN, 0, 512), BLK_REQ_SUBMIT);
	CHECK_EQ(rw(&d, VIRTIO_BLK_T_OUT, 0, 512), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rw(&d, VIRTIO_BLK_T_FLUSH, 0, 0), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_OK);
	for (uint32_t t = VIRTIO_BLK_T_DISCARD; t <= VIRTIO_BLK_T_WRITE_ZEROES; t += 2) {
		chain_reset();
		put_hdr(0, t, 0);
		put_range(16, 0, 8, 0);
		add_seg(0, 32, false);
		add_seg(0x1000, 1, true);
		CHECK_EQ(parse(&d), BLK_REQ_DONE);
		CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	}
}

static void parse_get_id_and_unknown(void)
{
	struct blk_disk d = disk_of(MiB(1), false);
	chain_reset();
	put_hdr(0, VIRTIO_BLK_T_GET_ID, 0);
	add_seg(0, 16, false);
	add_seg(0x1000, 12, true);
	add_seg(0x2000, 9, true);
	CHECK_EQ(parse(&d), BLK_REQ_SUBMIT);
	CHECK_EQ(req.niov, 2);
	CHECK_EQ(req.iov[0].iov_len, 12);
	CHECK_EQ(req.iov[1].iov_len, 8);
	CHECK_EQ(req.written, 21);
	CHECK_EQ(blk_iov_fill(req.iov, req.niov, d.serial, 20), 20);
	CHECK_MEM_EQ(buf + 0x1000, "serial-01234", 12);
	CHECK_MEM_EQ(buf + 0x2000, "56789xyz", 8);
	CHECK_EQ(buf[0x2008], 0); /* the status byte is not data */

	chain_reset(); /* 19 bytes of room */
	put_hdr(0, VIRTIO_BLK_T_GET_ID, 0);
	add_seg(0, 16, false);
	add_seg(0x1000, 20, true);
	CHECK_EQ(parse(&d), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);

	uint32_t unknown[] = {2, 3, 5, 14, 0x80000000u, 0xffffffffu};
	for (unsigned i = 0; i < ARRAY_SIZE(unknown); i++) {
		CHECK_EQ(rw(&d, unknown[i], 0, 0), BLK_REQ_DONE);
		CHECK_EQ(req.status, VIRTIO_BLK_S_UNSUPP);
		CHECK_EQ(req.written, 1);
	}
}

static enum blk_parse range_req(const struct blk_disk *d, uint32_t type, uint64_t sector,
				uint32_t num, uint32_t flags)
{
	chain_reset();
	put_hdr(0, type, 0);
	put_range(16, sector, num, flags);
	/* header + range split 20 + 12 */
	add_seg(0, 20, false);
	memmove(buf + 0x800, buf + 20, 12);
	add_seg(0x800, 12, false);
	add_seg(0x1000, 1, true);
	return parse(d);
}

static void parse_discard_write_zeroes(void)
{
	struct blk_disk d = disk_of(MiB(1), false);
	CHECK_EQ(range_req(&d, VIRTIO_BLK_T_DISCARD, 8, 16, 0), BLK_REQ_SUBMIT);
	CHECK_EQ(req.offset, 8 * 512);
	CHECK_EQ(req.len, 16 * 512);
	CHECK(req.unmap);
	CHECK_EQ(req.written, 1);
	CHECK_EQ(range_req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, 2048, 0), BLK_REQ_SUBMIT);
	CHECK(!req.unmap);
	CHECK_EQ(range_req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8,
			   VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP), BLK_REQ_SUBMIT);
	CHECK(req.unmap);
	/* DISCARD must not have UNMAP; unknown flags */
	CHECK_EQ(range_req(&d, VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
		 BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(range_req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 2), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_UNSUPP);
	/* limits and the end of the disk */
	CHECK_EQ(range_req(&d, VIRTIO_BLK_T_DISCARD, 2040, 9, 0), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	CHECK_EQ(range_req(&d, VIRTIO_BLK_T_DISCARD, UINT64_MAX, 1, 0), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	struct blk_disk big = disk_of(1ull << 40, false);
	CHECK_EQ(range_req(&big, VIRTIO_BLK_T_WRITE_ZEROES, 0, BLK_MAX_DISCARD_SECTORS + 1, 0),
		 BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	CHECK_EQ(range_req(&d, VIRTIO_BLK_T_DISCARD, 100, 0, 0), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_OK);
	/* two ranges (max_discard_seg is 1), a short range */
	chain_reset();
	put_hdr(0, VIRTIO_BLK_T_DISCARD, 0);
	put_range(16, 0, 8, 0);
	put_range(32, 8, 8, 0);
	add_seg(0, 48, false);
	add_seg(0x1000, 1, true);
	CHECK_EQ(parse(&d), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	chain.seg[0].len = 31;
	chain.out_bytes = 31;
	CHECK_EQ(parse(&d), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_IOERR);
	/* not offered */
	d.punch_hole = false;
	CHECK_EQ(range_req(&d, VIRTIO_BLK_T_DISCARD, 0, 8, 0), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(range_req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
		 BLK_REQ_SUBMIT);
	CHECK(!req.unmap); /* no PUNCH_HOLE: zero the range */
	d.zero_range = false;
	CHECK_EQ(range_req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0), BLK_REQ_DONE);
	CHECK_EQ(req.status, VIRTIO_BLK_S_UNSUPP);
}

int main(void)
{
	RUN(opt_path_only);
	RUN(opt_all_keys);
	RUN(opt_errors);
	RUN(open_file);
	RUN(open_read_only);
	RUN(open_errors);
	RUN(open_locked);
	RUN(features_and_config);
	RUN(parse_read_split);
	RUN(parse_write_header_with_data);
	RUN(parse_missing_status_or_header);
	RUN(parse_wrong_direction);
	RUN(parse_ranges);
	RUN(parse_read_only);
	RUN(parse_get_id_and_unknown);
	RUN(parse_discard_write_zeroes);
	return check_summary();
}
