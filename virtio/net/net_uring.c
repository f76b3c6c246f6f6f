/* net_uring.c: the virtio-net back-end: TAP reads into the guest's RX
 * buffers and writes of its TX chains, on a restricted io_uring, with
 * batched completions and interrupts. See net_uring.h. */
#include "virtio/net/net_uring.h"
#include "virtio/uring_setup.h"
#include "virtio/vq_cursor.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { KIND_RX = 1, KIND_TX = 2, KIND_CANCEL = 3, KIND_WATCH = 4, KIND_NUDGE = 5, KIND_IRQ = 6 };

#define UDATA(kind, pair, slot) ((uint64_t)(kind) << 56 | (uint64_t)(pair) << 32 | (uint32_t)(slot))
/* Reap-and-repost rounds per wake-up before the guest is interrupted. */
#define NET_BATCH_ROUNDS 16u
#define STAT_ADD(n, f, v) __atomic_fetch_add(&(n)->stats.f, (uint64_t)(v), __ATOMIC_RELAXED)

int net_io_setup(struct net_io *n, const int *fds, unsigned npairs, unsigned qsize,
		 const int *watch, unsigned nwatch, const int *irq, unsigned nirq,
		 const struct net_callbacks *cb, struct errbuf *e)
{
	memset(n, 0, sizeof(*n));
	n->efd = -1;
	n->rl_timer_fd[0] = n->rl_timer_fd[1] = -1;
	if (cb)
		n->cb = *cb;
	if (npairs == 0 || npairs > NET_MAX_PAIRS || qsize == 0 || qsize > VQ_MAX_SIZE ||
	    nwatch > NET_MAX_WATCH || nirq > NET_MAX_IRQ) {
		err_set(e, "virtio-net: bad queue count or size");
		return -1;
	}
	n->npairs = npairs;
	n->nwatch = nwatch;
	n->nirq = nirq;
	/* SQ room for every write and read in flight, plus the cancels; the
	 * watches (a poll or a read each), a turn's interrupts and a nudge
	 * besides. */
	unsigned want = npairs * (qsize + 4) + nwatch + 1, entries = 1;
	while (entries < want && entries < 4096)
		entries <<= 1;

	int files[NET_MAX_PAIRS + NET_MAX_WATCH + NET_MAX_IRQ];
	memcpy(files, fds, npairs * sizeof(*fds));
	if (nwatch)
		memcpy(files + npairs, watch, nwatch * sizeof(*watch));
	if (nirq)
		memcpy(files + npairs + nwatch, irq, nirq * sizeof(*irq));
	static const uint8_t ops[] = {IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_ASYNC_CANCEL,
				      IORING_OP_READ, IORING_OP_NOP, IORING_OP_POLL_ADD,
				      IORING_OP_WRITE};
	const struct uring_spec spec = {
		.entries = entries, .fds = files, .nfds = npairs + nwatch + nirq, .ops = ops,
		.nops = sizeof(ops), .files_what = "the TAP", .no_eventfd = true,
		.flags_allowed = IOSQE_CQE_SKIP_SUCCESS, /* the interrupts' writes */
	};
	if (uring_setup(&n->ring, &spec, &n->efd, &n->restricted, e))
		return -1;
	n->ring_ok = true;
	/* Multishot poll came with 5.13, as did IORING_FEAT_RSRC_TAGS. */
	n->watch_poll = (n->ring.features & IORING_FEAT_RSRC_TAGS) != 0;
	/* An interrupt's write must not wake the owner with a completion of its
	 * own (that is a turn more for each, not a system call less): without
	 * IOSQE_CQE_SKIP_SUCCESS (5.17+) interrupts go by the callback. */
	if (!(n->ring.features & IORING_FEAT_CQE_SKIP))
		n->nirq = 0;
	n->p = calloc(npairs, sizeof(*n->p));
	n->chain = malloc(sizeof(*n->chain));
	n->tx_iov = calloc(NET_TX_IOV_POOL, sizeof(*n->tx_iov));
	if (!n->p || !n->chain || !n->tx_iov)
		goto oom;
	unsigned per_pair = (entries - nwatch - 1) / npairs - 4;
	unsigned slots = per_pair < qsize ? per_pair : qsize;
	for (unsigned i = 0; i < npairs; i++) {
		struct net_pair_io *q = &n->p[i];
		q->index = i;
		q->tx_nslots = slots;
		q->tx_head = calloc(slots, sizeof(*q->tx_head));
		q->tx_expect = calloc(slots, sizeof(*q->tx_expect));
		q->tx_free = calloc(slots, sizeof(*q->tx_free));
		q->tx_hdr = calloc(slots, sizeof(*q->tx_hdr));
		if (!q->tx_head || !q->tx_expect || !q->tx_free || !q->tx_hdr)
			goto oom;
		for (unsigned s = 0; s < slots; s++)
			q->tx_free[s] = slots - 1 - s;
		q->tx_nfree = slots;
	}
	return 0;
oom:
	err_set(e, "out of memory");
	net_io_teardown(n);
	return -1;
}

static void watch_cancel_all(struct net_io *n);

void net_io_teardown(struct net_io *n)
{
	if (n->ring_ok) {
		net_io_quiesce(n);
		watch_cancel_all(n);
		uring_exit(&n->ring);
	}
	n->ring_ok = false;
	if (n->efd >= 0)
		close(n->efd);
	n->efd = -1;
	for (unsigned i = 0; n->p && i < n->npairs; i++) {
		free(n->p[i].tx_head);
		free(n->p[i].tx_expect);
		free(n->p[i].tx_hdr);
		free(n->p[i].tx_free);
	}
	free(n->p);
	free(n->chain);
	free(n->tx_iov);
	n->p = NULL;
	n->chain = NULL;
	n->tx_iov = NULL;
}

/* Forget the chains the pair holds (reset, detach: the guest is not told). */
static void rx_forget(struct net_pair_io *q)
{
	q->rx_nchains = q->rx_niov = 0;
	q->rx_cap = 0;
}

void net_io_attach(struct net_io *n, unsigned pair, struct virtqueue *rx, struct virtqueue *tx,
		   uint64_t df, unsigned mtu)
{
	if (pair >= n->npairs)
		return;
	struct net_pair_io *q = &n->p[pair];
	if (q->rx != rx && !q->rx_inflight)
		rx_forget(q);
	q->rx = rx;
	q->tx = tx;
	q->off = false;
	q->rx_waiting = q->tx_stalled = false;
	n->features = df;
	n->mtu = mtu;
	n->max_rx = net_max_rx_frame(df, mtu);
	n->max_tx = net_max_tx_frame(df, mtu);
	n->mrg = (df >> VIRTIO_NET_F_MRG_RXBUF) & 1;
	n->broken = false;
}

static void fail_device(struct net_io *n)
{
	if (n->broken)
		return;
	n->broken = true;
	if (n->cb.needs_reset)
		n->cb.needs_reset(n->cb.ctx);
}

static void pair_dead(struct net_io *n, struct net_pair_io *q)
{
	if (q->dead)
		return;
	q->dead = true;
	if (n->cb.link_down)
		n->cb.link_down(n->cb.ctx);
}

/* Once the kernel has consumed every SQE, the writes' iovecs are its own
 * copies (IORING_FEAT_SUBMIT_STABLE): the pool may be used again. */
static void tx_iov_reclaim(struct net_io *n)
{
	if (!io_uring_sq_ready(&n->ring))
		n->tx_iov_used = 0;
}

/* Submit what is queued, now. */
static void submit_now(struct net_io *n)
{
	if (io_uring_sq_ready(&n->ring)) {
		int r = io_uring_submit(&n->ring);
		if (r < 0 && r != -EAGAIN && r != -EBUSY && r != -EINTR) {
			STAT_ADD(n, event_fails, 1);
			log_warn("virtio-net: io_uring_submit: %s", strerror(-r));
		}
	}
	tx_iov_reclaim(n);
}

/* The same where the work may wait: in the owner's turn (n->lazy) the SQEs
 * go with the io_uring_enter that ends it (net_io_wait), which submits them
 * and sleeps in one system call; a turn that posts a kick's writes, the
 * reads again and the watches' SQEs makes one call, not one for each. */
static void submit(struct net_io *n)
{
	if (!n->lazy)
		submit_now(n);
}

static struct io_uring_sqe *get_sqe(struct net_io *n)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&n->ring);
	if (!sqe) {
		submit_now(n);
		sqe = io_uring_get_sqe(&n->ring);
	}
	return sqe;
}

/* Ask for the request with user data `target` to be cancelled (submitted
 * later); false when the SQ has no room. */
static bool post_cancel(struct net_io *n, uint64_t target, unsigned pair)
{
	struct io_uring_sqe *sqe = get_sqe(n);
	if (!sqe)
		return false;
	io_uring_prep_cancel64(sqe, target, 0);
	sqe->flags |= IOSQE_FIXED_FILE; /* required by the restrictions; unused */
	io_uring_sqe_set_data64(sqe, UDATA(KIND_CANCEL, pair, 0));
	return true;
}

/* Make the SQEs queued so far visible to the kernel without entering it:
 * what io_uring_submit does before its io_uring_enter (liburing 2.3 has no
 * call for that half alone; these are the fields its inline
 * io_uring_get_sqe and io_uring_sq_ready use). Returns how many the
 * kernel has not consumed yet. Lock held. */
static unsigned sq_publish(struct io_uring *r)
{
	struct io_uring_sq *sq = &r->sq;
	if (sq->sqe_head != sq->sqe_tail) {
		sq->sqe_head = sq->sqe_tail;
		__atomic_store_n(sq->ktail, sq->sqe_tail, __ATOMIC_RELEASE);
	}
	return sq->sqe_tail - __atomic_load_n(sq->khead, __ATOMIC_ACQUIRE);
}

/* ---- watched fds ---- */

static unsigned reap(struct net_io *n, bool deliver);

static bool is_owner(const struct net_io *n)
{
	return n->owned && pthread_equal(n->owner, pthread_self());
}

static uint64_t watch_all(const struct net_io *n)
{
	return n->nwatch >= 64 ? ~0ull : (1ull << n->nwatch) - 1;
}

/* Arm every watch that is not armed (the owner's job: the task work of a
 * poll or a read's retry runs on the thread that posted it). */
static void watch_arm(struct net_io *n)
{
	uint64_t want = watch_all(n) & ~n->watch_armed & ~n->watch_dead;
	while (want) {
		unsigned i = (unsigned)__builtin_ctzll(want);
		want &= want - 1;
		struct io_uring_sqe *sqe = get_sqe(n);
		if (!sqe)
			return;
		if (n->watch_poll)
			io_uring_prep_poll_multishot(sqe, (int)(n->npairs + i), POLLIN);
		else
			io_uring_prep_read(sqe, (int)(n->npairs + i), &n->watch_val[i],
					   sizeof(n->watch_val[i]), 0);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, UDATA(KIND_WATCH, 0, i));
		n->watch_armed |= 1ull << i;
	}
}

static void watch_done(struct net_io *n, unsigned i, int res, unsigned flags)
{
	if (i >= n->nwatch)
		return;
	uint64_t bit = 1ull << i;
	/* A multishot poll stays armed while its CQEs say MORE (one for each
	 * wake-up of the fd, however many signals it took meanwhile); one
	 * without it ended (cancelled, or the CQ overflowed) and is armed again. */
	if (!n->watch_poll || !(flags & IORING_CQE_F_MORE))
		n->watch_armed &= ~bit;
	bool fired = n->watch_poll ? res > 0 : res == (int)sizeof(uint64_t);
	if (fired)
		n->watch_ready |= bit;
	else if (res != -ECANCELED && res != -EINTR && res != -EAGAIN && !(n->watch_dead & bit)) {
		n->watch_dead |= bit;
		STAT_ADD(n, event_fails, 1);
		log_warn("virtio-net: watching fd %u: %s", i, res < 0 ? strerror(-res) : "short read");
	}
	if (!is_owner(n))
		n->nudge = true;
}

/* Leaving a call made on another thread than the owner: if it took a watch's
 * completion, wake the owner (a NOP's completion) to handle it and post the
 * read again. */
static void nudge_owner(struct net_io *n)
{
	if (!n->ring_ok || !n->owned || is_owner(n) || !n->nudge)
		return;
	struct io_uring_sqe *sqe = get_sqe(n);
	if (!sqe)
		return;
	io_uring_prep_nop(sqe);
	sqe->flags |= IOSQE_FIXED_FILE; /* required by the restrictions; unused */
	io_uring_sqe_set_data64(sqe, UDATA(KIND_NUDGE, 0, 0));
	n->nudge = false;
	submit_now(n);
}

/* Teardown, no owner any more: cancel the watches (their polls or reads)
 * and wait for them (a second at most), for a request in flight keeps its
 * file registered and uring_exit's unregistering would wait for it for ever. */
static void watch_cancel_all(struct net_io *n)
{
	uint64_t armed = n->watch_armed;
	while (armed) {
		unsigned i = (unsigned)__builtin_ctzll(armed);
		armed &= armed - 1;
		if (!post_cancel(n, UDATA(KIND_WATCH, 0, i), 0))
			break;
	}
	submit_now(n);
	uint64_t deadline = now_ns() + 1000000000ull;
	while (n->watch_armed) {
		reap(n, false);
		if (n->watch_armed && uring_wait_until(&n->ring, deadline))
			break;
	}
	reap(n, false);
}

void net_io_own(struct net_io *n, bool on)
{
	n->owner = pthread_self();
	n->owned = on;
	n->nudge = false;
	/* An owner that leaves mid-turn (its stop watch fired: no
	 * net_io_turn_end) leaves no turn behind: what the turn queued goes
	 * now, and later work is submitted as it comes. */
	if (!on && n->lazy) {
		n->lazy = false;
		if (n->ring_ok)
			submit_now(n);
	}
}

/* ---- rate limiting ---- */

static void rl_arm(struct net_io *n, unsigned which, uint64_t wait)
{
	if (wait && n->rl_timer_fd[which] >= 0 && rl_timer_arm(n->rl_timer_fd[which], wait) < 0)
		log_warn("virtio-net: rate limiter timer: %s", strerror(errno));
}

/* May the pair post a read? Else it waits for the receive limiter's timer. */
static bool rx_admit(struct net_io *n, struct net_pair_io *q)
{
	uint64_t wait;
	struct rate_limiter *rl = n->rl[NET_RL_RX];
	if (!rl || !rl_on(rl) || rl_may_start(rl, now_ns(), &wait))
		return true;
	q->rx_throttled = true;
	rl_arm(n, NET_RL_RX, wait);
	return false;
}

/* May this frame (bytes after the header) be sent now? */
static bool tx_admit(struct net_io *n, struct net_pair_io *q, uint64_t bytes)
{
	uint64_t wait;
	struct rate_limiter *rl = n->rl[NET_RL_TX];
	if (!rl || rl_consume(rl, bytes, rl_on(rl) ? now_ns() : 0, &wait))
		return true;
	q->tx_throttled = true;
	rl_arm(n, NET_RL_TX, wait);
	return false;
}

/* ---- receive ---- */

/* Post the pair's read if the guest gave us room for the largest frame. The
 * chains popped for it stay with the pair until a frame fills them, so a
 * small frame does not make us walk the rest of the reservation again. */
static void rx_post(struct net_io *n, struct net_pair_io *q)
{
	struct virtqueue *vq = q->rx;
	if (!vq || !vq->ready || q->off || q->rx_inflight || q->dead || n->broken || n->paused)
		return;
	q->rx_throttled = false;
	if (!rx_admit(n, q))
		return;
	uint64_t need = (uint64_t)NET_HDR_LEN + n->max_rx;
	for (;;) {
		bool full = false;
		while (q->rx_cap < need) {
			if (q->rx_nchains == NET_RX_MAX_CHAINS || (!n->mrg && q->rx_nchains == 1)) {
				full = true;
				break;
			}
			struct vq_chain *c = n->chain;
			int r = vq_pop(vq, c);
			if (r < 0) {
				fail_device(n);
				return;
			}
			if (r == 0)
				break;
			if (c->nout || c->in_bytes < NET_HDR_LEN) {
				/* A bad buffer is used empty. */
				vq_push(vq, c->head, 0);
				q->rx_pushed = true;
				STAT_ADD(n, rx_drops, 1);
				continue;
			}
			if (c->nin > NET_RX_MAX_IOV - q->rx_niov) {
				/* No iovecs left for it (VQ_MAX_SEGS == UIO_MAXIOV, so
				 * there are chains before it): it is the last one
				 * popped, so give it back for the next read. */
				vq_unpop(vq, 1);
				full = true;
				break;
			}
			for (unsigned i = 0; i < c->nin; i++) {
				struct vq_buf *b = vq_in(c, i);
				q->rx_iov[q->rx_niov].iov_base = b->addr;
				q->rx_iov[q->rx_niov].iov_len = b->len;
				q->rx_niov++;
			}
			struct net_rx_chain *rc = &q->rx_chains[q->rx_nchains++];
			rc->head = c->head;
			rc->niov = c->nin;
			/* (more than 4 GiB of room counts as 4 GiB, here and when
			 * the chain is used: what is counted is what is given back) */
			rc->cap = c->in_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)c->in_bytes;
			q->rx_cap += rc->cap;
		}
		if (q->rx_nchains && (q->rx_cap >= need || full))
			break;
		/* Not enough room and the ring is drained. EVENT_IDX: ask for a
		 * kick at the next buffer after all we hold (avail_event =
		 * last_avail), then look once more to close the race with a
		 * driver adding buffers meanwhile. */
		vq_set_avail_event(vq);
		uint16_t avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
		if (avail_idx != vq->last_avail)
			continue; /* more came: pop them too */
		if (!q->rx_waiting)
			STAT_ADD(n, no_rx_avail_buffer, 1);
		q->rx_waiting = true;
		return;
	}
	struct io_uring_sqe *sqe = get_sqe(n);
	if (!sqe) /* cannot happen: the SQ has room for every pair's read */
		return;
	io_uring_prep_readv(sqe, (int)q->index, q->rx_iov, q->rx_niov, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, UDATA(KIND_RX, q->index, 0));
	q->rx_inflight = true;
	q->rx_waiting = false;
}

/* The frame's header (at the start of the first chain) says how many chains
 * it filled. The first chain holds at least NET_HDR_LEN bytes in non-empty
 * segments (vq_pop drops empty ones), so its first NET_HDR_LEN segments at
 * most hold num_buffers. */
static void rx_set_num_buffers(struct net_pair_io *q, uint16_t k)
{
	struct vq_buf seg[NET_HDR_LEN] = {0};
	unsigned n = q->rx_chains[0].niov < NET_HDR_LEN ? q->rx_chains[0].niov : NET_HDR_LEN;
	for (unsigned i = 0; i < n; i++) {
		seg[i].addr = q->rx_iov[i].iov_base;
		seg[i].len = (uint32_t)q->rx_iov[i].iov_len; /* a vq_buf's length */
	}
	uint16_t nb = htole16(k);
	vq_seg_write(seg, n, offsetof(struct virtio_net_hdr_v1, num_buffers), &nb, sizeof(nb));
}

/* A read's completion; true when it gave the guest a frame. */
static bool rx_done(struct net_io *n, struct net_pair_io *q, int res, bool deliver)
{
	q->rx_inflight = false;
	struct virtqueue *vq = q->rx;
	if (!deliver || !vq || !vq->ready) {
		rx_forget(q);
		return false;
	}
	if (res <= 0 || (uint32_t)res < NET_HDR_LEN || (uint64_t)res > q->rx_cap) {
		/* The chains stay with the pair for the next read. */
		if (res == -EAGAIN || res == -EINTR || res == -ECANCELED)
			return false;
		/* A TAP that is gone (an error, or end of file, which a TAP never
		 * gives otherwise), or a frame larger than the buffers (the TAP
		 * truncated it: it returns the frame's full length). */
		if (res <= 0) {
			STAT_ADD(n, tap_read_fails, 1);
			pair_dead(n, q);
		} else {
			STAT_ADD(n, rx_drops, 1);
		}
		return false;
	}
	uint32_t left = (uint32_t)res;
	unsigned k = 0, kiov = 0;
	uint64_t kcap = 0;
	uint32_t take[NET_RX_MAX_CHAINS];
	while (left && k < q->rx_nchains) {
		const struct net_rx_chain *rc = &q->rx_chains[k];
		take[k] = left < rc->cap ? left : rc->cap;
		left -= take[k];
		kiov += rc->niov;
		kcap += rc->cap;
		k++;
	}
	rx_set_num_buffers(q, (uint16_t)k);
	for (unsigned i = 0; i < k; i++)
		vq_push(vq, q->rx_chains[i].head, take[i]);
	/* The chains the frame did not need move to the front. */
	memmove(q->rx_chains, q->rx_chains + k, (q->rx_nchains - k) * sizeof(*q->rx_chains));
	memmove(q->rx_iov, q->rx_iov + kiov, (q->rx_niov - kiov) * sizeof(*q->rx_iov));
	q->rx_nchains -= k;
	q->rx_niov -= kiov;
	q->rx_cap -= kcap;
	q->rx_pushed = true;
	STAT_ADD(n, rx_packets, 1);
	STAT_ADD(n, rx_bytes, (uint32_t)res - NET_HDR_LEN);
	struct rate_limiter *rl = n->rl[NET_RL_RX];
	if (rl)
		rl_charge(rl, (uint32_t)res - NET_HDR_LEN, rl_on(rl) ? now_ns() : 0);
	return true;
}

/* ---- transmit ---- */

/* A checked frame's iovecs at iov: [0] for its header (the caller points it
 * at the checked copy), then the chain's readable bytes after the header.
 * How many, or 0 when that is more than a write takes (UIO_MAXIOV: only a
 * chain of 1024 segments whose header ends inside one). */
static unsigned tx_frame_iov(const struct vq_chain *c, struct iovec *iov)
{
	unsigned k = 1;
	uint32_t skip = NET_HDR_LEN;
	iov[0].iov_len = NET_HDR_LEN;
	for (unsigned i = 0; i < c->nout; i++) {
		uint32_t len = c->seg[i].len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		if (k == VQ_MAX_SEGS)
			return 0;
		iov[k].iov_base = (uint8_t *)c->seg[i].addr + skip;
		iov[k].iov_len = len - skip;
		k++;
		skip = 0;
	}
	return k;
}

/* Send what the guest queued; the chains popped (sent or dropped), or -1
 * when it stopped before the ring's end (paused, stalled, throttled, off). */
static int tx_process(struct net_io *n, struct net_pair_io *q)
{
	struct virtqueue *vq = q->tx;
	if (n->paused)
		return -1;
	q->tx_stalled = false;
	q->tx_throttled = false;
	if (!vq || !vq->ready || q->off || n->broken)
		return -1;
	int popped = 0;
	for (;;) {
		int r;
		for (;;) {
			if (q->tx_nfree == 0 || NET_TX_IOV_POOL - n->tx_iov_used < VQ_MAX_SEGS + 1) {
				submit_now(n);
				if (q->tx_nfree == 0 || NET_TX_IOV_POOL - n->tx_iov_used < VQ_MAX_SEGS + 1) {
					q->tx_stalled = true;
					return -1;
				}
			}
			struct vq_chain *c = n->chain;
			r = vq_pop(vq, c);
			if (r <= 0)
				break;
			struct virtio_net_hdr_v1 hdr;
			enum net_tx_verdict v = net_tx_check(c, n->features, n->mtu, &hdr);
			if (v == NET_TX_OK && !q->dead &&
			    !tx_admit(n, q, c->out_bytes - NET_HDR_LEN)) {
				vq_unpop(vq, 1); /* sent when the limiter allows */
				return -1;
			}
			popped++;
			if (v != NET_TX_OK)
				STAT_ADD(n, tx_malformed_frames, 1);
			/* The checked header, then the frame from guest memory. */
			struct iovec *iov = n->tx_iov + n->tx_iov_used;
			unsigned niov = v == NET_TX_OK ? tx_frame_iov(c, iov) : 0;
			struct io_uring_sqe *sqe = niov && !q->dead ? get_sqe(n) : NULL;
			if (!sqe) {
				vq_push(vq, c->head, 0);
				q->tx_pushed = true;
				STAT_ADD(n, tx_drops, 1);
				continue;
			}
			n->tx_iov_used += niov;
			uint32_t id = q->tx_free[--q->tx_nfree];
			q->tx_hdr[id] = hdr;
			iov[0].iov_base = &q->tx_hdr[id];
			q->tx_head[id] = c->head;
			q->tx_expect[id] = (uint32_t)c->out_bytes;
			io_uring_prep_writev(sqe, (int)q->index, iov, niov, 0);
			sqe->flags |= IOSQE_FIXED_FILE;
			io_uring_sqe_set_data64(sqe, UDATA(KIND_TX, q->index, id));
			q->tx_inflight++;
		}
		if (r < 0) {
			fail_device(n);
			return -1;
		}
		vq_set_avail_event(vq);
		uint16_t avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
		if (avail_idx == vq->last_avail)
			return popped;
	}
}

static void tx_done(struct net_io *n, struct net_pair_io *q, uint32_t id, int res, bool deliver)
{
	if (id >= q->tx_nslots || q->tx_inflight == 0)
		return;
	q->tx_free[q->tx_nfree++] = id;
	q->tx_inflight--;
	if (!deliver || !q->tx)
		return;
	vq_push(q->tx, q->tx_head[id], 0);
	q->tx_pushed = true;
	if (res >= 0 && (uint32_t)res == q->tx_expect[id]) {
		STAT_ADD(n, tx_packets, 1);
		STAT_ADD(n, tx_bytes, q->tx_expect[id] - NET_HDR_LEN);
	} else {
		STAT_ADD(n, tx_drops, 1);
		STAT_ADD(n, tap_write_fails, 1);
		if (res == -EBADFD || res == -EBADF || res == -ENXIO || res == -ENODEV)
			pair_dead(n, q);
	}
}

/* ---- entry points ---- */

/* What an interrupt's WRITE writes to the irqfd. */
static const uint64_t irq_one = 1;

/* Interrupt queue qi: through the ring when the device lets us write its
 * irqfd (queued: true), else by its callback. */
static bool notify(struct net_io *n, unsigned qi)
{
	struct io_uring_sqe *sqe = NULL;
	int v = -1;
	if (n->nirq && n->cb.notify_deferred) {
		v = n->cb.notify_deferred(n->cb.ctx, qi);
		if (v < 0 || (unsigned)v >= n->nirq)
			return false;
		sqe = get_sqe(n); /* NULL cannot happen: there is room for a turn's */
	}
	if (!sqe) {
		if (n->cb.notify)
			n->cb.notify(n->cb.ctx, qi);
		return false;
	}
	io_uring_prep_write(sqe, (int)(n->npairs + n->nwatch + (unsigned)v), &irq_one,
			    sizeof(irq_one), 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_CQE_SKIP_SUCCESS; /* a CQE only if it fails */
	io_uring_sqe_set_data64(sqe, UDATA(KIND_IRQ, 0, (unsigned)v));
	return true;
}

static void notify_all(struct net_io *n)
{
	bool queued = false;
	for (unsigned i = 0; i < n->npairs; i++) {
		struct net_pair_io *q = &n->p[i];
		if (q->rx_pushed && q->rx && vq_should_notify(q->rx))
			queued |= notify(n, 2 * i);
		if (q->tx_pushed && q->tx && vq_should_notify(q->tx))
			queued |= notify(n, 2 * i + 1);
		q->rx_pushed = q->tx_pushed = false;
	}
	if (queued)
		submit(n); /* in the owner's turn: with the rest, at its wait */
}

static void irq_done(struct net_io *n, int res)
{
	/* EAGAIN: the irqfd's counter is full, so the interrupt is pending. */
	if (res == (int)sizeof(uint64_t) || res == -EAGAIN)
		return;
	STAT_ADD(n, event_fails, 1);
	if (n->irq_warned)
		return;
	n->irq_warned = true;
	log_warn("virtio-net: writing an interrupt eventfd: %s",
		 res < 0 ? strerror(-res) : "short write");
}

void net_io_kick(struct net_io *n, unsigned qi)
{
	if (!n->ring_ok || qi / 2 >= n->npairs)
		return;
	struct net_pair_io *q = &n->p[qi / 2];
	if (qi & 1) {
		STAT_ADD(n, tx_queue_events, 1);
		if (tx_process(n, q) == 0)
			STAT_ADD(n, no_tx_avail_buffer, 1);
	} else {
		STAT_ADD(n, rx_queue_events, 1);
		rx_post(n, q);
	}
	submit(n);
	/* TAP writes usually complete inside the submit: use them now, in the
	 * same batch, instead of after another wake-up. */
	if (io_uring_cq_ready(&n->ring))
		net_io_complete(n, false);
	else
		notify_all(n);
}

void net_io_rl_timer(struct net_io *n, unsigned which)
{
	if (!n->ring_ok || which > NET_RL_TX || !n->rl[which])
		return;
	rl_unblock(n->rl[which]);
	for (unsigned i = 0; i < n->npairs; i++) {
		struct net_pair_io *q = &n->p[i];
		if (which == NET_RL_RX && q->rx_throttled)
			rx_post(n, q);
		else if (which == NET_RL_TX && q->tx_throttled)
			tx_process(n, q);
	}
	submit(n);
	if (io_uring_cq_ready(&n->ring))
		net_io_complete(n, false);
	else
		notify_all(n);
}

static unsigned reap(struct net_io *n, bool deliver)
{
	struct io_uring_cqe *cqe;
	unsigned head, k = 0;
	bool frames = false;
	io_uring_for_each_cqe(&n->ring, head, cqe)
	{
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		unsigned kind = (unsigned)(ud >> 56), pair = (unsigned)(ud >> 32) & 0xffffff;
		k++;
		if (pair >= n->npairs)
			continue;
		if (kind == KIND_RX)
			frames |= rx_done(n, &n->p[pair], cqe->res, deliver);
		else if (kind == KIND_TX)
			tx_done(n, &n->p[pair], (uint32_t)ud, cqe->res, deliver);
		else if (kind == KIND_WATCH)
			watch_done(n, (uint32_t)ud, cqe->res, cqe->flags);
		else if (kind == KIND_IRQ)
			irq_done(n, cqe->res);
	}
	io_uring_cq_advance(&n->ring, k);
	if (frames)
		STAT_ADD(n, rx_tap_events, 1);
	return k;
}

int net_io_complete(struct net_io *n, bool wait)
{
	if (!n->ring_ok)
		return 0;
	bool busy = false;
	for (unsigned i = 0; i < n->npairs; i++)
		busy |= n->p[i].rx_inflight || n->p[i].tx_inflight;
	if (wait && busy && !io_uring_cq_ready(&n->ring)) {
		struct io_uring_cqe *cqe;
		int r;
		do
			r = io_uring_wait_cqe(&n->ring, &cqe);
		while (r == -EINTR);
	}
	/* A read posted here often completes inside the submit (the TAP had
	 * more frames queued): take those in the same batch, so the guest gets
	 * one interrupt for the lot instead of one per frame. Bounded, so a
	 * flood cannot keep the thread from its other queues. */
	unsigned k = 0;
	for (unsigned round = 0; round < NET_BATCH_ROUNDS; round++) {
		k += reap(n, true);
		for (unsigned i = 0; i < n->npairs; i++) {
			struct net_pair_io *q = &n->p[i];
			if (q->tx_stalled)
				tx_process(n, q);
			rx_post(n, q);
		}
		submit(n);
		if (!io_uring_cq_ready(&n->ring))
			break;
	}
	notify_all(n);
	return (int)k;
}

/* Ask for pair i's read in flight to be cancelled (submitted later). */
static void cancel_read(struct net_io *n, unsigned i)
{
	if (n->p[i].rx_inflight)
		post_cancel(n, UDATA(KIND_RX, i, 0), i);
}

static bool busy_from(const struct net_io *n, unsigned from)
{
	bool busy = false;
	for (unsigned i = from; i < n->npairs; i++)
		busy |= n->p[i].rx_inflight || n->p[i].tx_inflight;
	return busy;
}

/* Reap completions (reap(n, use)) until pairs from..npairs-1 have no read or
 * write in flight, the ring fails, or max_rounds waits (-1: no bound). */
static void wait_idle(struct net_io *n, unsigned from, int max_rounds, bool use)
{
	for (int rounds = 0; max_rounds < 0 || rounds < max_rounds; rounds++) {
		if (!busy_from(n, from))
			return;
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe(&n->ring, &cqe);
		if (r < 0 && r != -EINTR && r != -EAGAIN)
			return;
		reap(n, use);
	}
}

void net_io_set_pairs(struct net_io *n, unsigned count)
{
	if (!n->ring_ok)
		return;
	bool woke[NET_MAX_PAIRS] = {false};
	for (unsigned i = 0; i < n->npairs; i++) {
		woke[i] = n->p[i].off && i < count;
		n->p[i].off = i >= count;
		if (n->p[i].off)
			cancel_read(n, i);
	}
	submit_now(n);
	/* Wait for what the pairs going off have in flight (a read that got a
	 * frame before the cancel still delivers it), using every completion
	 * as usual; the chains of a cancelled read stay with its pair. */
	wait_idle(n, count, 1000, true);
	/* The pairs that come back on: look at their queues now (their kicks
	 * were ignored). */
	for (unsigned i = 0; i < n->npairs; i++) {
		if (!woke[i])
			continue;
		tx_process(n, &n->p[i]);
		rx_post(n, &n->p[i]);
	}
	submit_now(n);
	notify_all(n);
	nudge_owner(n);
}

unsigned net_io_pairs_served(const struct net_io *n)
{
	unsigned k = 0;
	while (k < n->npairs && !n->p[k].off)
		k++;
	return k;
}

void net_io_quiesce(struct net_io *n)
{
	if (!n->ring_ok)
		return;
	for (unsigned i = 0; i < n->npairs; i++)
		cancel_read(n, i);
	submit_now(n);
	wait_idle(n, 0, -1, false);
	reap(n, false); /* the cancels' own completions */
	nudge_owner(n);
	n->tx_iov_used = 0;
	n->broken = false;
	for (unsigned i = 0; i < n->npairs; i++) {
		struct net_pair_io *q = &n->p[i];
		q->rx = q->tx = NULL;
		rx_forget(q);
		q->rx_waiting = q->tx_stalled = q->rx_pushed = q->tx_pushed = false;
	}
}

int net_io_pause(struct net_io *n, uint64_t deadline_ns)
{
	n->paused = true;
	if (!n->ring_ok)
		return 0;
	for (unsigned i = 0; i < n->npairs; i++)
		cancel_read(n, i);
	submit_now(n);
	/* A read that got a frame before its cancel still delivers it; the
	 * chains of a cancelled one stay with its pair for the next read. */
	int ret = 0;
	while (busy_from(n, 0)) {
		if (uring_wait_until(&n->ring, deadline_ns)) {
			ret = -1;
			break;
		}
		reap(n, true);
	}
	reap(n, true); /* the cancels' own completions */
	notify_all(n);
	nudge_owner(n);
	return ret;
}

void net_io_resume(struct net_io *n)
{
	n->paused = false;
}

/* ---- the owner's loop ---- */

uint64_t net_io_poll(struct net_io *n)
{
	if (!n->ring_ok)
		return 0;
	tx_iov_reclaim(n); /* the last turn's writes went with its wait */
	n->lazy = true;
	reap(n, true);
	uint64_t ev = n->watch_ready;
	n->watch_ready = 0;
	/* Their reads are queued again now, to go with the rest of the turn's
	 * SQEs in the one io_uring_enter that ends it. */
	watch_arm(n);
	return ev;
}

bool net_io_turn_end(struct net_io *n)
{
	if (!n->ring_ok)
		return false;
	net_io_complete(n, false);
	watch_arm(n);
	/* The turn's SQEs go to the kernel's SQ (io_uring_submit's first half)
	 * for net_io_wait to submit: the lock is dropped before it, and another
	 * thread that takes it meanwhile submits them with its own. */
	n->to_submit = sq_publish(&n->ring);
	n->lazy = false;
	/* A watch that fired during the turn (its completion reaped after
	 * net_io_poll, with a write's, say) is not handled yet, and nothing on
	 * the ring would wake the owner for it: it must not sleep, and takes
	 * another turn at once; what this one queued (its writes, its
	 * interrupts) goes now, not with the next turn's. */
	if (!n->watch_ready)
		return false;
	submit_now(n);
	n->to_submit = 0;
	return true;
}

void net_io_wait(struct net_io *n)
{
	unsigned to_submit = n->to_submit;
	n->to_submit = 0;
	if (!n->ring_ok || (!to_submit && io_uring_cq_ready(&n->ring)))
		return;
	/* The turn's SQEs are in the kernel's SQ already, so the lock is not
	 * needed: only the kernel looks at the rings. It submits at most what
	 * is there (none when another thread submitted them meanwhile), then
	 * returns at once if a completion is ready (a TAP write done inline),
	 * else sleeps until one is. */
	int r = io_uring_enter((unsigned)n->ring.ring_fd, to_submit, 1, IORING_ENTER_GETEVENTS, NULL);
	if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
		STAT_ADD(n, event_fails, 1);
		log_warn("virtio-net: io_uring_enter: %s", strerror(-r));
	}
}
