/* blk_uring.c: the virtio-blk I/O engine: runs requests parsed by blk.c on a
 * restricted io_uring (one per virtqueue), batching submissions and
 * completions. See blk_uring.h. */
#include "virtio/blk/blk_uring.h"
#include "virtio/uring_setup.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define BLK_MAX_DEPTH 4096u

int blk_uring_setup(struct blk_queue_io *q, const struct blk_disk *d, unsigned depth,
		    const struct blk_callbacks *cb, struct errbuf *e)
{
	memset(q, 0, sizeof(*q));
	q->efd = -1;
	q->rl_timer_fd = -1;
	q->disk = d;
	if (cb)
		q->cb = *cb;
	if (depth == 0)
		depth = 1;
	if (depth > BLK_MAX_DEPTH)
		depth = BLK_MAX_DEPTH;
	unsigned entries = 1;
	while (entries < depth)
		entries <<= 1;

	static const uint8_t ops[] = {IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
				      IORING_OP_FALLOCATE};
	const struct uring_spec spec = {
		.entries = entries, .fds = &d->fd, .nfds = 1, .ops = ops, .nops = sizeof(ops),
		.flags_allowed = IOSQE_IO_DRAIN, .files_what = "the disk", .files_update = true,
	};
	if (uring_setup(&q->ring, &spec, &q->efd, &q->restricted, e))
		return -1;
	q->ring_ok = true;

	q->nslots = depth;
	q->slots = calloc(depth, sizeof(*q->slots));
	q->free_ids = calloc(depth, sizeof(*q->free_ids));
	q->iov = calloc(BLK_IOV_POOL, sizeof(*q->iov));
	q->chain = malloc(sizeof(*q->chain));
	if (!q->slots || !q->free_ids || !q->iov || !q->chain) {
		err_set(e, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < depth; i++)
		q->free_ids[i] = depth - 1 - i;
	q->nfree = depth;
	return 0;
fail:
	blk_uring_teardown(q);
	return -1;
}

void blk_uring_teardown(struct blk_queue_io *q)
{
	if (q->ring_ok) {
		if (q->inflight)
			blk_queue_quiesce(q);
		uring_exit(&q->ring);
	}
	q->ring_ok = false;
	if (q->efd >= 0)
		close(q->efd);
	q->efd = -1;
	free(q->slots);
	free(q->free_ids);
	free(q->iov);
	free(q->chain);
	q->slots = NULL;
	q->free_ids = NULL;
	q->iov = NULL;
	q->chain = NULL;
	q->vq = NULL;
}

void blk_queue_attach(struct blk_queue_io *q, struct virtqueue *vq, bool flush_negotiated)
{
	q->vq = vq;
	q->writethrough = !flush_negotiated;
	q->broken = false;
	q->stalled = false;
}

static void fail_queue(struct blk_queue_io *q)
{
	if (q->broken)
		return;
	q->broken = true;
	if (q->cb.needs_reset)
		q->cb.needs_reset(q->cb.ctx);
}

#define COUNT(q, c, v) __atomic_fetch_add(&(q)->counters[c], (uint64_t)(v), __ATOMIC_RELAXED)

/* Finish one request: status byte, then the used entry (vq_push publishes it
 * with release ordering, after the status store). */
static void finish(struct blk_queue_io *q, uint16_t head, uint8_t *status_ptr, uint8_t status,
		   uint32_t written)
{
	__atomic_store_n(status_ptr, status, __ATOMIC_RELAXED);
	vq_push(q->vq, head, status == VIRTIO_BLK_S_OK ? written : 1);
	q->completed++;
}

/* Submit what is queued; the iovec pool is free again once the SQ is empty. */
static void submit_batch(struct blk_queue_io *q)
{
	if (io_uring_sq_ready(&q->ring)) {
		int r = io_uring_submit(&q->ring);
		if (r < 0 && r != -EAGAIN && r != -EBUSY && r != -EINTR)
			log_warn("virtio-blk: io_uring_submit: %s", strerror(-r));
		q->batches++;
	}
	if (!io_uring_sq_ready(&q->ring))
		q->iov_used = 0;
}

/* Queue the SQE for a parsed request. */
static void queue_req(struct blk_queue_io *q, const struct blk_req *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
	if (!sqe) { /* cannot happen: SQ entries >= slots; be safe anyway */
		submit_batch(q);
		sqe = io_uring_get_sqe(&q->ring);
		if (!sqe) {
			finish(q, r->head, r->status_ptr, VIRTIO_BLK_S_IOERR, 1);
			return;
		}
	}
	uint32_t id = q->free_ids[--q->nfree];
	struct blk_io_slot *s = &q->slots[id];
	s->head = r->head;
	s->status = r->status_ptr;
	s->written = r->written;
	s->expect = 0;
	s->type = (uint8_t)r->type;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		io_uring_prep_readv(sqe, 0, r->iov, r->niov, r->offset);
		s->expect = r->len;
		break;
	case VIRTIO_BLK_T_OUT:
		io_uring_prep_writev(sqe, 0, r->iov, r->niov, r->offset);
		if (q->writethrough)
			sqe->rw_flags = RWF_DSYNC;
		s->expect = r->len;
		break;
	case VIRTIO_BLK_T_FLUSH:
		io_uring_prep_fsync(sqe, 0, IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_IO_DRAIN;
		break;
	default: /* DISCARD, WRITE_ZEROES */
		io_uring_prep_fallocate(sqe, 0,
					(r->unmap ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE) |
						FALLOC_FL_KEEP_SIZE,
					r->offset, r->len);
		break;
	}
	sqe->flags |= IOSQE_FIXED_FILE; /* index 0: the disk */
	io_uring_sqe_set_data64(sqe, id);
	q->iov_used += r->niov;
	q->inflight++;
}

/* The rate limiter's say on a parsed request: one op, and the data bytes
 * of a read or write. Refused: the queue is throttled and the timer armed
 * (when the limiter was not refusing already). */
static bool admit(struct blk_queue_io *q, const struct blk_req *r)
{
	uint64_t bytes = r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT ? r->len : 0;
	uint64_t wait;
	if (rl_consume(q->rl, bytes, rl_on(q->rl) ? now_ns() : 0, &wait))
		return true;
	q->throttled = true;
	if (wait && q->rl_timer_fd >= 0 && rl_timer_arm(q->rl_timer_fd, wait) < 0)
		log_warn("virtio-blk: rate limiter timer: %s", strerror(errno));
	return false;
}

/* Pop and parse until the queue is empty, slots run out, the rate limiter
 * refuses, or the driver breaks a rule. Returns true when something was pushed. */
static bool process(struct blk_queue_io *q)
{
	struct virtqueue *vq = q->vq;
	bool pushed = false;
	if (q->paused)
		return false;
	q->stalled = false;
	q->throttled = false;
	if (!vq || q->broken)
		return false;
	for (;;) {
		int r;
		for (;;) {
			if (q->nfree == 0) {
				q->stalled = true;
				return pushed;
			}
			if (BLK_IOV_POOL - q->iov_used < VQ_MAX_SEGS) {
				submit_batch(q);
				if (BLK_IOV_POOL - q->iov_used < VQ_MAX_SEGS) {
					q->stalled = true;
					return pushed;
				}
			}
			r = vq_pop(vq, q->chain);
			if (r <= 0)
				break;
			struct blk_req req;
			enum blk_parse pr = blk_parse_req(q->disk, q->chain, q->iov + q->iov_used, &req);
			if (pr == BLK_REQ_BAD) {
				fail_queue(q);
				return pushed;
			}
			if (pr == BLK_REQ_DONE) {
				if (req.status != VIRTIO_BLK_S_OK)
					COUNT(q, BLK_INVALID_REQS, 1);
				finish(q, req.head, req.status_ptr, req.status, req.written);
				pushed = true;
			} else if (req.type == VIRTIO_BLK_T_GET_ID) {
				blk_iov_fill(req.iov, req.niov, q->disk->serial, VIRTIO_BLK_ID_BYTES);
				finish(q, req.head, req.status_ptr, VIRTIO_BLK_S_OK, req.written);
				pushed = true;
			} else if (q->rl && !admit(q, &req)) {
				vq_unpop(vq, 1);
				return pushed;
			} else {
				queue_req(q, &req);
			}
		}
		if (r < 0) {
			fail_queue(q);
			return pushed;
		}
		/* EVENT_IDX: ask for a kick at the next buffer, then look again to
		 * close the race with a driver that added one meanwhile. */
		vq_set_avail_event(vq);
		uint16_t avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
		if (!vq->ready || avail_idx == vq->last_avail)
			return pushed;
	}
}

static void maybe_notify(struct blk_queue_io *q, bool pushed)
{
	if (pushed && q->vq && vq_should_notify(q->vq) && q->cb.notify)
		q->cb.notify(q->cb.ctx, q->cb.qi);
}

int blk_queue_kick(struct blk_queue_io *q)
{
	if (!q->ring_ok)
		return -1;
	q->kicks++;
	COUNT(q, BLK_QUEUE_EVENTS, 1);
	bool pushed = process(q);
	submit_batch(q);
	maybe_notify(q, pushed);
	return q->broken ? -1 : 0;
}

/* Reap every CQE available; deliver=false drops them (reset). */
static unsigned reap(struct blk_queue_io *q, bool deliver)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	io_uring_for_each_cqe(&q->ring, head, cqe)
	{
		uint64_t id = io_uring_cqe_get_data64(cqe);
		n++;
		if (id >= q->nslots)
			continue;
		struct blk_io_slot *s = &q->slots[id];
		if (deliver) {
			bool ok = cqe->res >= 0 && (uint64_t)cqe->res == s->expect;
			if (!ok)
				COUNT(q, BLK_EXECUTE_FAILS, 1);
			else if (s->type == VIRTIO_BLK_T_IN)
				COUNT(q, BLK_READ_BYTES, s->expect), COUNT(q, BLK_READ_COUNT, 1);
			else if (s->type == VIRTIO_BLK_T_OUT)
				COUNT(q, BLK_WRITE_BYTES, s->expect), COUNT(q, BLK_WRITE_COUNT, 1);
			else if (s->type == VIRTIO_BLK_T_FLUSH)
				COUNT(q, BLK_FLUSH_COUNT, 1);
			finish(q, s->head, s->status, ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR,
			       s->written);
		}
		q->free_ids[q->nfree++] = (uint32_t)id;
		q->inflight--;
	}
	io_uring_cq_advance(&q->ring, n);
	return n;
}

int blk_queue_complete(struct blk_queue_io *q, bool wait)
{
	if (!q->ring_ok)
		return 0;
	uint64_t v;
	if (read(q->efd, &v, sizeof(v)) < 0) { /* clear the eventfd; EAGAIN is fine */
	}
	if (wait && q->inflight && !io_uring_cq_ready(&q->ring)) {
		struct io_uring_cqe *cqe;
		int r;
		do
			r = io_uring_wait_cqe(&q->ring, &cqe);
		while (r == -EINTR);
	}
	unsigned n = reap(q, q->vq != NULL);
	bool pushed = n > 0 && q->vq;
	if (q->stalled && !q->broken) {
		pushed |= process(q);
		submit_batch(q);
	}
	maybe_notify(q, pushed);
	return (int)n;
}

void blk_queue_quiesce(struct blk_queue_io *q)
{
	if (q->ring_ok) {
		submit_batch(q);
		while (q->inflight) {
			struct io_uring_cqe *cqe;
			int r = io_uring_wait_cqe(&q->ring, &cqe);
			if (r < 0 && r != -EINTR && r != -EAGAIN)
				break;
			reap(q, false);
		}
		uint64_t v;
		if (read(q->efd, &v, sizeof(v)) < 0) {
		}
	}
	q->iov_used = 0;
	q->vq = NULL;
	q->stalled = false;
	q->broken = false;
}

int blk_queue_pause(struct blk_queue_io *q, uint64_t deadline_ns)
{
	q->paused = true;
	if (!q->ring_ok)
		return 0;
	submit_batch(q);
	while (q->inflight) {
		if (uring_wait_until(&q->ring, deadline_ns))
			return -1;
		unsigned n = reap(q, q->vq != NULL);
		maybe_notify(q, n > 0 && q->vq);
	}
	return 0;
}

void blk_queue_resume(struct blk_queue_io *q)
{
	q->paused = false;
}

int blk_queue_set_file(struct blk_queue_io *q, int fd)
{
	if (!q->ring_ok)
		return 0;
	if (q->inflight)
		return -EBUSY;
	int r = io_uring_register_files_update(&q->ring, 0, &fd, 1);
	return r < 0 ? r : 0;
}
