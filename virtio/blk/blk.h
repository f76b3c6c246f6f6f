/* blk.h: the virtio-blk device model (virtio 1.x), independent of transport
 * and I/O engine: the --disk option parser, the backing file or block device
 * (struct blk_disk), the config space and offered features, and the parser
 * that turns one hostile descriptor chain into a validated request whose
 * iovecs point straight into guest memory (no bounce buffers).
 * blk_uring.h runs the parsed requests on io_uring.
 *
 * Request layout (virtio 1.x, any layout): the device-readable bytes are the
 * 16-byte struct virtio_blk_outhdr (it may be split across segments) followed
 * by the OUT data or the DISCARD/WRITE_ZEROES range; the device-writable bytes
 * are the IN data or GET_ID buffer followed by the status byte, which is the
 * last byte of the last writable segment (it may share that segment with data).
 */
#ifndef EMBER_BLK_H
#define EMBER_BLK_H

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/lib/util.h" /* the object rule has no -Ivmm */
#include "virtio/virtqueue.h"
#include "vmm/core/rate_limiter.h"

#define BLK_SECTOR 512u
/* Limits advertised in the config space (and enforced on requests). */
#define BLK_SEG_MAX 254u                  /* data segments per request */
#define BLK_SIZE_MAX (1u << 20)           /* bytes per segment (advisory) */
#define BLK_MAX_DATA ((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX) /* bytes per IN/OUT */
#define BLK_MAX_DISCARD_SECTORS (1u << 22) /* 2 GiB per DISCARD/WRITE_ZEROES */

/* --disk PATH[,ro][,id=SERIAL][,direct][,bw=BYTES/MS[+BURST]][,ops=N/MS[+BURST]] */
struct blk_opts {
	char path[4096];
	bool ro;                                /* open O_RDONLY, offer VIRTIO_BLK_F_RO */
	bool direct;                            /* O_DIRECT (no host page cache) */
	char serial[VIRTIO_BLK_ID_BYTES + 1];   /* GET_ID answer, NUL-terminated here */
	struct rl_config rl;                    /* the disk's rate limiter (all queues) */
};

/* Parse the value of --disk. PATH is everything before the first comma (so it
 * cannot itself hold one). 0, or -1 with a one-line message in *e. */
int blk_parse_opt(const char *arg, struct blk_opts *o, struct errbuf *e);

struct blk_disk {
	int fd;                 /* -1 when closed */
	bool ro, direct;
	bool block_dev;
	uint64_t size;          /* bytes, a multiple of 512 */
	uint32_t lbs;           /* logical block size: BLKSSZGET, or 512 for files */
	uint32_t pbs;           /* physical block size: BLKPBSZGET, or st_blksize */
	bool punch_hole;        /* fallocate PUNCH_HOLE|KEEP_SIZE works: DISCARD */
	bool zero_range;        /* fallocate ZERO_RANGE works */
	char serial[VIRTIO_BLK_ID_BYTES]; /* zero-padded, not NUL-terminated when 20 */
};

/* Open o->path (O_RDWR, or O_RDONLY for ro; O_DIRECT for direct), which must
 * be a regular file or a block device whose size is a multiple of 512, take a
 * flock (exclusive, shared for ro) so two VMs can't write one image, and probe
 * what it supports. 0, or -1 with a one-line message in *e. */
int blk_disk_open(struct blk_disk *d, const struct blk_opts *o, struct errbuf *e);
void blk_disk_close(struct blk_disk *d);
/* A new backing file for a running drive (PATCH /drives): path opened into
 * d as old was (read-only or not, O_DIRECT or not), checked and locked the
 * same way; its size may differ, its logical block size may not. What old
 * offers the guest (serial, DISCARD and WRITE_ZEROES, which the driver may
 * have negotiated) stays: nothing is probed (the main thread's seccomp
 * filter allows no fallocate), and a file that cannot punch holes answers
 * those requests with an I/O error. 0, or -1 with "PATH: why" in e. */
int blk_disk_reopen(struct blk_disk *d, const struct blk_disk *old, const char *path,
		    struct errbuf *e);

/* DISCARD / WRITE_ZEROES offered (never on a read-only disk). */
static inline bool blk_disk_discard(const struct blk_disk *d) { return !d->ro && d->punch_hole; }
static inline bool blk_disk_write_zeroes(const struct blk_disk *d)
{
	return !d->ro && (d->zero_range || d->punch_hole);
}

/* Device feature bits offered (VIRTIO_F_VERSION_1, INDIRECT_DESC, EVENT_IDX,
 * SEG_MAX, SIZE_MAX, BLK_SIZE, FLUSH, TOPOLOGY, MQ, RO when ro, DISCARD and
 * WRITE_ZEROES when supported). */
uint64_t blk_features(const struct blk_disk *d);

/* The config space (little-endian, as virtio 1.x wants) for num_queues queues. */
void blk_config(const struct blk_disk *d, uint16_t num_queues, struct virtio_blk_config *cfg);

/* ---- request parsing ---- */

enum blk_parse {
	BLK_REQ_BAD = -1,  /* no 16-byte readable header or no writable status byte:
			    * the driver is broken, set DEVICE_NEEDS_RESET */
	BLK_REQ_SUBMIT = 0, /* valid: run it (r->type, r->iov, r->offset, r->len) */
	BLK_REQ_DONE = 1,   /* finished without I/O: write r->status to *r->status_ptr
			     * and push r->written (IOERR, UNSUPP, or OK for no-ops) */
};

struct blk_req {
	uint16_t head;          /* chain head, for vq_push */
	uint32_t type;          /* VIRTIO_BLK_T_* from the header */
	uint64_t sector;        /* from the header */
	uint8_t *status_ptr;    /* host pointer to the status byte in guest memory */
	uint8_t status;         /* BLK_REQ_DONE: the VIRTIO_BLK_S_* to report */
	uint64_t offset;        /* byte offset on the disk (IN/OUT/DISCARD/WRITE_ZEROES) */
	uint64_t len;           /* bytes: IN/OUT data (== sum of iov), or range length */
	bool unmap;             /* WRITE_ZEROES: deallocate (PUNCH_HOLE) */
	uint32_t written;       /* bytes written into guest buffers on success,
				 * status byte included (vq_push's len) */
	unsigned niov;
	struct iovec *iov;      /* IN: writable data; OUT: readable data; GET_ID: the
				 * 20-byte buffer; into guest memory */
};

/* Validate chain c against disk d. iov must have room for VQ_MAX_SEGS
 * entries; r->iov points at it. The header and the DISCARD/WRITE_ZEROES range
 * are copied out of guest memory exactly once. Pure: touches guest memory
 * only to read those copies. */
enum blk_parse blk_parse_req(const struct blk_disk *d, const struct vq_chain *c,
			     struct iovec *iov, struct blk_req *r);

/* Copy len bytes of src into the iovecs (GET_ID); returns bytes copied. */
size_t blk_iov_fill(const struct iovec *iov, unsigned niov, const void *src, size_t len);

#endif
