/* blk.c: the virtio-blk device model: --disk option parsing, opening and
 * probing the backing file or block device, config space and features, and
 * the request parser that validates hostile descriptor chains into iovecs
 * pointing into guest memory. See blk.h. */
#include "virtio/blk/blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "virtio/vq_cursor.h"

_Static_assert(sizeof(struct virtio_blk_outhdr) == 16, "outhdr layout");
_Static_assert(sizeof(struct virtio_blk_discard_write_zeroes) == 16, "discard layout");
_Static_assert(VQ_MAX_SEGS <= 1024, "readv/writev take at most UIO_MAXIOV iovecs");

/* ---- --disk ---- */

int blk_parse_opt(const char *arg, struct blk_opts *o, struct errbuf *e)
{
	memset(o, 0, sizeof(*o));
	const char *comma = strchr(arg, ',');
	size_t plen = comma ? (size_t)(comma - arg) : strlen(arg);
	if (plen == 0) {
		err_set(e, "--disk: empty path (expected PATH[,ro][,id=SERIAL][,direct])");
		return -1;
	}
	if (plen >= sizeof(o->path)) {
		err_set(e, "--disk: path too long");
		return -1;
	}
	memcpy(o->path, arg, plen);
	bool have_id = false;
	while (comma) {
		const char *k = comma + 1;
		comma = strchr(k, ',');
		size_t klen = comma ? (size_t)(comma - k) : strlen(k);
		const char *eq = memchr(k, '=', klen);
		size_t nlen = eq ? (size_t)(eq - k) : klen;
		if (nlen == 2 && !memcmp(k, "ro", 2) && !eq) {
			o->ro = true;
		} else if (nlen == 6 && !memcmp(k, "direct", 6) && !eq) {
			o->direct = true;
		} else if (((nlen == 2 && !memcmp(k, "bw", 2)) || (nlen == 3 && !memcmp(k, "ops", 3))) &&
			   eq) {
			char v[64];
			size_t vlen = klen - nlen - 1;
			snprintf(v, sizeof(v), "%.*s", (int)(vlen < 63 ? vlen : 63), eq + 1);
			struct rl_bucket_config *b = nlen == 2 ? &o->rl.bw : &o->rl.ops;
			if (vlen >= 63 || rl_parse_bucket(v, b)) {
				err_set(e, "--disk %s: %.*s '%.*s' is not %s/MS[+BURST] (e.g. %s)", o->path,
					(int)nlen, k, (int)vlen, eq + 1, nlen == 2 ? "BYTES" : "N",
					nlen == 2 ? "4M/1000" : "200/1000");
				return -1;
			}
		} else if (nlen == 2 && !memcmp(k, "id", 2) && eq) {
			size_t vlen = klen - nlen - 1;
			if (have_id) {
				err_set(e, "--disk %s: id given twice", o->path);
				return -1;
			}
			if (vlen == 0) {
				err_set(e, "--disk %s: empty id", o->path);
				return -1;
			}
			if (vlen > VIRTIO_BLK_ID_BYTES) {
				err_set(e, "--disk %s: id '%.*s' is %zu bytes, at most %u", o->path,
					(int)vlen, eq + 1, vlen, VIRTIO_BLK_ID_BYTES);
				return -1;
			}
			memcpy(o->serial, eq + 1, vlen);
			have_id = true;
		} else if ((nlen == 2 && !memcmp(k, "ro", 2)) ||
			   (nlen == 6 && !memcmp(k, "direct", 6))) {
			err_set(e, "--disk %s: '%.*s' takes no value", o->path, (int)nlen, k);
			return -1;
		} else if (nlen == 2 && !memcmp(k, "id", 2)) {
			err_set(e, "--disk %s: id needs a value (id=SERIAL)", o->path);
			return -1;
		} else {
			err_set(e, "--disk %s: unknown option '%.*s' (expected ro, id=SERIAL, direct, "
				"bw=BYTES/MS[+BURST], ops=N/MS[+BURST])",
				o->path, (int)klen, k);
			return -1;
		}
	}
	return 0;
}

/* ---- the backing file ---- */

static uint32_t clamp_block(uint64_t v)
{
	if (v < BLK_SECTOR || v > 65536 || (v & (v - 1)))
		return BLK_SECTOR;
	return (uint32_t)v;
}

/* Regular files: does fallocate(mode) work? Probed past the end of the file
 * with KEEP_SIZE, so the data and size are untouched. */
static bool probe_fallocate(int fd, int mode, uint64_t size)
{
	return fallocate(fd, mode | FALLOC_FL_KEEP_SIZE, (off_t)size, 4096) == 0;
}

static bool blockdev_discards(const struct stat *st)
{
	char p[96], buf[32];
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/queue/discard_max_bytes",
		 major(st->st_rdev), minor(st->st_rdev));
	return read_small_file(p, buf, sizeof(buf)) > 0 && strtoull(buf, NULL, 10) > 0;
}

/* Open path with d->ro and d->direct, check it is a regular file or block
 * device whose size is a multiple of 512, read its sizes and take its lock.
 * The fd, or -1 with "PATH: why" in e. */
static int open_checked(struct blk_disk *d, const char *path, struct stat *st, struct errbuf *e)
{
	int flags = (d->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | (d->direct ? O_DIRECT : 0);
	int fd = open(path, flags);
	if (fd < 0) {
		err_set(e, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) < 0) {
		err_set(e, "%s: %s", path, strerror(errno));
		goto fail;
	}
	d->block_dev = false;
	if (S_ISREG(st->st_mode)) {
		d->size = (uint64_t)st->st_size;
		d->lbs = BLK_SECTOR;
		d->pbs = clamp_block((uint64_t)st->st_blksize);
	} else if (S_ISBLK(st->st_mode)) {
		uint64_t sz;
		int ssz = 0;
		unsigned int pbsz = 0;
		if (ioctl(fd, BLKGETSIZE64, &sz) < 0 || ioctl(fd, BLKSSZGET, &ssz) < 0) {
			err_set(e, "%s: cannot get the device size: %s", path, strerror(errno));
			goto fail;
		}
		if (ioctl(fd, BLKPBSZGET, &pbsz) < 0)
			pbsz = 0;
		d->block_dev = true;
		d->size = sz;
		d->lbs = clamp_block((uint64_t)ssz);
		d->pbs = clamp_block(pbsz);
		if (d->pbs < d->lbs)
			d->pbs = d->lbs;
	} else {
		err_set(e, "%s: not a regular file or block device", path);
		goto fail;
	}
	if (d->size % BLK_SECTOR) {
		err_set(e, "%s: size %llu is not a multiple of 512 bytes", path,
			(unsigned long long)d->size);
		goto fail;
	}
	if (flock(fd, (d->ro ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		err_set(e, "%s: in use by another process (locked)", path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int blk_disk_open(struct blk_disk *d, const struct blk_opts *o, struct errbuf *e)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->ro = o->ro;
	d->direct = o->direct;
	memcpy(d->serial, o->serial, VIRTIO_BLK_ID_BYTES); /* zero-padded by the parser */

	struct stat st;
	int fd = open_checked(d, o->path, &st, e);
	if (fd < 0) {
		char why[sizeof(e->msg)];
		snprintf(why, sizeof(why), "%s", e->msg);
		err_set(e, "--disk %s", why);
		return -1;
	}
	if (!o->ro) {
		if (d->block_dev) {
			/* blkdev ZERO_RANGE falls back to writing zeroes: always works. */
			d->zero_range = true;
			d->punch_hole = blockdev_discards(&st);
		} else {
			d->punch_hole = probe_fallocate(fd, FALLOC_FL_PUNCH_HOLE, d->size);
			d->zero_range = probe_fallocate(fd, FALLOC_FL_ZERO_RANGE, d->size);
			/* ZERO_RANGE past EOF may have preallocated a block: free it. */
			if (d->zero_range && d->punch_hole)
				probe_fallocate(fd, FALLOC_FL_PUNCH_HOLE, d->size);
		}
	}
	d->fd = fd;
	return 0;
}

int blk_disk_reopen(struct blk_disk *d, const struct blk_disk *old, const char *path,
		    struct errbuf *e)
{
	*d = *old;
	d->fd = -1;
	struct stat st;
	int fd = open_checked(d, path, &st, e);
	if (fd < 0)
		return -1;
	if (d->lbs != old->lbs) {
		err_set(e, "%s: its logical block size is %u bytes, the drive's %u", path, d->lbs,
			old->lbs);
		close(fd);
		return -1;
	}
	d->fd = fd;
	return 0;
}

void blk_disk_close(struct blk_disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

/* ---- config space ---- */

uint64_t blk_features(const struct blk_disk *d)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_INDIRECT_DESC |
		     1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_BLK_F_SEG_MAX |
		     1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
		     1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_TOPOLOGY |
		     1ull << VIRTIO_BLK_F_MQ;
	if (d->ro)
		f |= 1ull << VIRTIO_BLK_F_RO;
	if (blk_disk_discard(d))
		f |= 1ull << VIRTIO_BLK_F_DISCARD;
	if (blk_disk_write_zeroes(d))
		f |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

void blk_config(const struct blk_disk *d, uint16_t num_queues, struct virtio_blk_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = htole64(d->size / BLK_SECTOR);
	cfg->size_max = htole32(BLK_SIZE_MAX);
	cfg->seg_max = htole32(BLK_SEG_MAX);
	cfg->blk_size = htole32(d->lbs);
	unsigned exp = 0;
	while ((d->lbs << (exp + 1)) <= d->pbs && exp < 15)
		exp++;
	cfg->physical_block_exp = (uint8_t)exp;
	cfg->alignment_offset = 0;
	cfg->min_io_size = htole16((uint16_t)(d->pbs / d->lbs));
	cfg->opt_io_size = htole32(0);
	cfg->num_queues = htole16(num_queues ? num_queues : 1);
	uint32_t align = d->pbs / BLK_SECTOR;
	if (blk_disk_discard(d)) {
		cfg->max_discard_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
		cfg->max_discard_seg = htole32(1);
		cfg->discard_sector_alignment = htole32(align);
	}
	if (blk_disk_write_zeroes(d)) {
		cfg->max_write_zeroes_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
		cfg->max_write_zeroes_seg = htole32(1);
		cfg->write_zeroes_may_unmap = d->punch_hole ? 1 : 0;
	}
}

/* ---- request parsing ---- */

static enum blk_parse done(struct blk_req *r, uint8_t status, uint32_t written)
{
	r->status = status;
	r->written = written;
	r->niov = 0;
	return BLK_REQ_DONE;
}

/* r->iov for the `len` data bytes starting `off` bytes into seg[0 .. n). The
 * caller counted len from the segments, so this cannot fail (false if it did). */
static bool data_iov(struct blk_req *r, const struct vq_buf *seg, unsigned n, uint64_t off,
		     uint64_t len)
{
	int k = vq_seg_iov(seg, n, off, len, r->iov, VQ_MAX_SEGS);
	if (k < 0)
		return false;
	r->niov = (unsigned)k;
	return true;
}

/* [offset, offset+len) of a request starting at `sector` fits the disk. */
static bool in_disk(const struct blk_disk *d, uint64_t sector, uint64_t len, uint64_t *offset)
{
	uint64_t sectors = d->size / BLK_SECTOR;
	if (sector > sectors)
		return false;
	*offset = sector * BLK_SECTOR; /* no overflow: sector <= size / 512 */
	return len <= d->size - *offset;
}

enum blk_parse blk_parse_req(const struct blk_disk *d, const struct vq_chain *c,
			     struct iovec *iov, struct blk_req *r)
{
	memset(r, 0, sizeof(*r));
	r->head = c->head;
	r->iov = iov;
	unsigned nout = c->nout, nin = c->nin;
	const struct vq_buf *out = &c->seg[0], *in = &c->seg[nout];
	uint64_t out_bytes = 0, in_bytes = 0;
	/* Recount rather than trust the totals. */
	for (unsigned i = 0; i < nout; i++)
		out_bytes += out[i].len;
	for (unsigned i = 0; i < nin; i++)
		in_bytes += in[i].len;

	/* The status byte: the last byte of the last (writable) segment. */
	if (nin == 0 || in[nin - 1].len == 0)
		return BLK_REQ_BAD;
	r->status_ptr = (uint8_t *)in[nin - 1].addr + in[nin - 1].len - 1;

	struct virtio_blk_outhdr h;
	if (!vq_seg_read(out, nout, 0, &h, sizeof(h)))
		return BLK_REQ_BAD;
	r->type = le32toh(h.type);
	r->sector = le64toh(h.sector);
	uint64_t out_extra = out_bytes - sizeof(h); /* readable bytes after the header */
	uint64_t in_extra = in_bytes - 1;           /* writable bytes before the status */

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool is_in = r->type == VIRTIO_BLK_T_IN;
		if (!is_in && d->ro)
			return done(r, VIRTIO_BLK_S_IOERR, 1);
		/* Data must flow the right way: IN only writable, OUT only readable. */
		uint64_t len = is_in ? in_extra : out_extra;
		if ((is_in ? out_extra : in_extra) != 0)
			return done(r, VIRTIO_BLK_S_IOERR, 1);
		if (len % BLK_SECTOR || len > BLK_MAX_DATA)
			return done(r, VIRTIO_BLK_S_IOERR, 1);
		if (!in_disk(d, r->sector, len, &r->offset))
			return done(r, VIRTIO_BLK_S_IOERR, 1);
		r->len = len;
		if (len == 0)
			return done(r, VIRTIO_BLK_S_OK, 1);
		if (is_in ? !data_iov(r, in, nin, 0, len) : !data_iov(r, out, nout, sizeof(h), len))
			return BLK_REQ_BAD;
		r->written = is_in ? (uint32_t)len + 1 : 1;
		return BLK_REQ_SUBMIT;
	}
	case VIRTIO_BLK_T_FLUSH:
		if (out_extra || in_extra)
			return done(r, VIRTIO_BLK_S_IOERR, 1);
		if (d->ro) /* nothing was ever written through this disk */
			return done(r, VIRTIO_BLK_S_OK, 1);
		r->written = 1;
		return BLK_REQ_SUBMIT;
	case VIRTIO_BLK_T_GET_ID:
		if (out_extra || in_extra < VIRTIO_BLK_ID_BYTES)
			return done(r, VIRTIO_BLK_S_IOERR, 1);
		r->len = VIRTIO_BLK_ID_BYTES;
		if (!data_iov(r, in, nin, 0, VIRTIO_BLK_ID_BYTES))
			return BLK_REQ_BAD;
		r->written = VIRTIO_BLK_ID_BYTES + 1;
		return BLK_REQ_SUBMIT;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		bool discard = r->type == VIRTIO_BLK_T_DISCARD;
		if (d->ro)
			return done(r, VIRTIO_BLK_S_IOERR, 1);
		if (!(discard ? blk_disk_discard(d) : blk_disk_write_zeroes(d)))
			return done(r, VIRTIO_BLK_S_UNSUPP, 1);
		struct virtio_blk_discard_write_zeroes dw;
		/* Exactly one range (max_*_seg = 1), nothing written but the status. */
		if (out_extra != sizeof(dw) || in_extra)
			return done(r, VIRTIO_BLK_S_IOERR, 1);
		if (!vq_seg_read(out, nout, sizeof(h), &dw, sizeof(dw)))
			return done(r, VIRTIO_BLK_S_IOERR, 1);
		uint64_t sector = le64toh(dw.sector);
		uint32_t num = le32toh(dw.num_sectors), flags = le32toh(dw.flags);
		if (flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
			return done(r, VIRTIO_BLK_S_UNSUPP, 1);
		if (discard && flags)
			return done(r, VIRTIO_BLK_S_UNSUPP, 1);
		if (num > BLK_MAX_DISCARD_SECTORS)
			return done(r, VIRTIO_BLK_S_IOERR, 1);
		r->len = (uint64_t)num * BLK_SECTOR;
		if (!in_disk(d, sector, r->len, &r->offset))
			return done(r, VIRTIO_BLK_S_IOERR, 1);
		if (num == 0)
			return done(r, VIRTIO_BLK_S_OK, 1);
		r->unmap = discard || !d->zero_range ||
			   ((flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) && d->punch_hole);
		r->written = 1;
		return BLK_REQ_SUBMIT;
	}
	default:
		return done(r, VIRTIO_BLK_S_UNSUPP, 1);
	}
}

size_t blk_iov_fill(const struct iovec *iov, unsigned niov, const void *src, size_t len)
{
	const uint8_t *s = src;
	size_t done_bytes = 0;
	for (unsigned i = 0; i < niov && done_bytes < len; i++) {
		size_t n = iov[i].iov_len;
		if (n > len - done_bytes)
			n = len - done_bytes;
		memcpy(iov[i].iov_base, s + done_bytes, n);
		done_bytes += n;
	}
	return done_bytes;
}
