/* blk_uring.h: the virtio-blk I/O engine on io_uring. One struct blk_queue_io
 * serves one virtqueue from one thread (it is not locked): a kick pops every
 * available chain, parses it (blk.h), queues one SQE per request and submits
 * the batch with one io_uring_submit; a completion pass reaps every CQE,
 * writes the status bytes, pushes the used entries and interrupts the driver
 * at most once per batch.
 *
 * The ring only ever touches the disk: the disk fd is its only registered
 * file, every SQE must use IOSQE_FIXED_FILE, and (when the kernel has
 * IORING_SETUP_R_DISABLED) the ring is restricted to READV, WRITEV, FSYNC and
 * FALLOCATE with IORING_REGISTER_RESTRICTIONS before it is enabled.
 *
 * Requests: IN/OUT -> READV/WRITEV at sector*512 (RWF_DSYNC on writes when the
 * driver did not negotiate FLUSH: write-through); FLUSH -> FSYNC(DATASYNC)
 * with IOSQE_IO_DRAIN (it starts only after every earlier SQE of this ring
 * completed); DISCARD -> FALLOCATE(PUNCH_HOLE|KEEP_SIZE); WRITE_ZEROES ->
 * FALLOCATE(ZERO_RANGE|KEEP_SIZE), or PUNCH_HOLE when unmapping is allowed or
 * ZERO_RANGE unsupported; GET_ID is answered inline. A negative result or a
 * short transfer is VIRTIO_BLK_S_IOERR for that request only.
 *
 * Rate limiting: with q->rl set, each request (after parsing) costs one op
 * and, for IN/OUT, its data bytes; one the limiter refuses goes back to the
 * ring (vq_unpop) and the queue stops until the limiter's timer fires (the
 * caller then kicks it again). While refusing, the queue does not ask the
 * driver for kicks (no avail_event update), so a flooding guest costs
 * nothing.
 *
 * Transport wiring:
 *	blk_uring_setup(&q, &disk, queue_size, &cb, &err)   at device creation
 *	blk_queue_attach(&q, &vq, flush_negotiated)         at DRIVER_OK
 *	blk_queue_kick(&q)          on the queue's notify (ioeventfd)
 *	blk_queue_complete(&q, false) when q.efd is readable (completions)
 *	blk_queue_quiesce(&q)       on device reset (waits for in-flight I/O)
 *	blk_queue_pause(&q, deadline) / blk_queue_resume(&q)   VM pause
 *	blk_uring_teardown(&q)
 */
#ifndef EMBER_BLK_URING_H
#define EMBER_BLK_URING_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/blk/blk.h"

struct blk_callbacks {
	void (*notify)(void *ctx, unsigned qi); /* raise queue qi's interrupt (irqfd) */
	void (*needs_reset)(void *ctx);         /* set DEVICE_NEEDS_RESET + config interrupt */
	void *ctx;
	unsigned qi;                            /* this queue's index, for notify */
};

/* One request in flight. */
struct blk_io_slot {
	uint8_t *status;        /* status byte in guest memory */
	uint64_t expect;        /* cqe->res meaning success (bytes, or 0) */
	uint32_t written;       /* vq_push len on success */
	uint16_t head;
	uint8_t type;           /* VIRTIO_BLK_T_* */
};

/* The metrics' counters since the queue was set up (Firecracker's names):
 * the I/O thread adds with relaxed atomics, the main thread reads. */
enum blk_counter {
	BLK_READ_BYTES, BLK_WRITE_BYTES, BLK_READ_COUNT, BLK_WRITE_COUNT, BLK_FLUSH_COUNT,
	BLK_INVALID_REQS, BLK_EXECUTE_FAILS, BLK_QUEUE_EVENTS, BLK_COUNTERS
};

/* iovecs of one batch; requests are parsed into it until io_uring_submit
 * (IORING_FEAT_SUBMIT_STABLE: the kernel has copied them once submitted). */
#define BLK_IOV_POOL (4 * VQ_MAX_SEGS)

struct blk_queue_io {
	struct io_uring ring;
	bool ring_ok;
	bool restricted;        /* IORING_REGISTER_RESTRICTIONS in force */
	int efd;                /* eventfd the ring signals on each completion */
	const struct blk_disk *disk;
	struct blk_callbacks cb;

	struct virtqueue *vq;   /* NULL when not attached */
	bool writethrough;      /* FLUSH not negotiated: writes are RWF_DSYNC */
	bool broken;            /* needs_reset raised: no more pops until attach */
	bool stalled;           /* stopped popping for want of slots/iovecs */
	bool paused;            /* blk_queue_pause: no pops until resume */

	unsigned nslots, nfree, inflight;
	struct blk_io_slot *slots;
	uint32_t *free_ids;     /* stack of free slot indices */
	struct iovec *iov;      /* BLK_IOV_POOL entries */
	unsigned iov_used;
	struct vq_chain *chain; /* scratch for vq_pop (large) */
	/* The disk's rate limiter (shared by its queues, one thread serves
	 * them all; NULL: none) and its timer, armed when it refuses. */
	struct rate_limiter *rl;
	int rl_timer_fd;
	bool throttled;         /* a request was given back to the ring: kick
				   the queue when the timer fires */
	uint64_t kicks, batches, completed; /* counters, for tests and stats */
	uint64_t counters[BLK_COUNTERS];
};

/* Create the ring (depth entries: the most requests in flight, rounded up to a
 * power of two, 1 .. 4096; use the queue size), register the disk fd and an
 * eventfd, restrict and enable the ring. 0, or -1 with a message in *e. */
int blk_uring_setup(struct blk_queue_io *q, const struct blk_disk *d, unsigned depth,
		    const struct blk_callbacks *cb, struct errbuf *e);
void blk_uring_teardown(struct blk_queue_io *q);

/* Serve vq (enabled with vq_enable). flush_negotiated: VIRTIO_BLK_F_FLUSH was
 * accepted (otherwise the device is write-through). */
void blk_queue_attach(struct blk_queue_io *q, struct virtqueue *vq, bool flush_negotiated);

/* Pop and submit every available request. 0, or -1 when the driver broke
 * the rules (needs_reset was called; the queue stays stopped). */
int blk_queue_kick(struct blk_queue_io *q);

/* Reap every available completion (wait: block until at least one when
 * requests are in flight), then resume popping if stalled. Returns the number
 * of requests completed. */
int blk_queue_complete(struct blk_queue_io *q, bool wait);

/* Device reset: wait for all in-flight I/O (it writes into guest memory) and
 * drop it without touching the guest, then detach from the queue. */
void blk_queue_quiesce(struct blk_queue_io *q);

/* VM pause: stop popping, and complete every request in flight (used entries
 * written, the driver interrupted) by deadline_ns (now_ns() clock). 0, or -1
 * when requests are still in flight then. */
int blk_queue_pause(struct blk_queue_io *q, uint64_t deadline_ns);
/* Pop again (the caller then kicks the queue). */
void blk_queue_resume(struct blk_queue_io *q);
/* Serve the ring from fd from now on (its fixed file 0; the disk behind the
 * queue changed). Only while paused with nothing in flight: 0, -EBUSY, or
 * the kernel's -errno. */
int blk_queue_set_file(struct blk_queue_io *q, int fd);

#endif
