/* net_uring.h: the virtio-net back-end on io_uring. One struct net_io serves
 * the queue pairs of one NIC from one thread (it is not locked); pair i moves
 * frames between RX queue 2i / TX queue 2i+1 and TAP fd i.
 *
 * Receive: one READV per pair in flight, straight into the guest's posted
 * buffers, the 12-byte virtio-net header included (the TAP writes it): with
 * MRG_RXBUF the read spans as many popped chains as the largest frame the
 * guest may receive needs, and on completion the chains the frame filled are
 * used (num_buffers written into the header) and the rest stay with the pair
 * (their segments already resolved) for the next read, which pops only what
 * it lacks. A read that brings nothing or fails keeps them all.
 * When the guest has not posted enough buffers no read is posted: the TAP is
 * not read (its queue fills and the kernel drops) until the guest kicks the
 * RX queue (EVENT_IDX: avail_event asks for that kick).
 *
 * Transmit: every available chain is validated (net_tx_check) and written
 * with one WRITEV of its readable segments (header + frame, as the TAP wants
 * them), all of a kick in one io_uring_submit; chains are used when their
 * write completes. A bad chain is used at once and counted as a drop.
 *
 * Rate limiting: the transmit limiter takes each frame (one op, its bytes)
 * before its write; a frame it refuses goes back to the ring and the pair's
 * transmit waits for the limiter's timer. The receive limiter is asked
 * before a read is posted (a frame's size is known only once read): while
 * it is in debt no read is posted, so frames wait in the TAP (ember drops
 * none), and each frame received is charged to it.
 *
 * Completions are reaped in batches; each queue is interrupted at most once
 * per batch (vq_should_notify: EVENT_IDX or NO_INTERRUPT). The interrupt is
 * a WRITE of the MSI-X vector's irqfd on the ring (the vector's mask is
 * honoured when it is queued: msix_notify_deferred), so it goes to KVM with
 * the turn's other SQEs in its one io_uring_enter, not in a write(2) of its
 * own; it posts no completion unless it fails (IOSQE_CQE_SKIP_SUCCESS), so
 * it does not end the owner's sleep either. A read or write
 * that fails with the TAP gone (EBADFD, EIO, ...) marks the pair dead and
 * calls link_down; transmitted chains are then dropped and counted.
 *
 * Waiting: the thread that serves the NIC (its owner) waits in io_uring_enter
 * alone. The fds it watches (the queues' kick eventfds, the limiters'
 * timers, its stop eventfd) are registered files too, each with a
 * multishot POLL_ADD armed on it once (5.13+: each wake-up of the fd, a
 * kick's signal say, is one completion, with nothing posted again and the
 * fd never read; before 5.13 an 8-byte READ, posted again after each one);
 * a fired one is a completion like a TAP read's, so one wake-up takes kicks
 * and I/O together, with no epoll and no completion eventfd. Other threads
 * (pause, reset) use the ring under the same lock as the owner; when one of
 * them reaps a watch's completion it posts a NOP on leaving, so the owner,
 * asleep in io_uring_enter, wakes to handle it.
 *
 * The ring only ever touches the TAP fds, the watched fds and the irqfds: they are its
 * registered files, every SQE must use IOSQE_FIXED_FILE, and the ring is
 * restricted to READV, WRITEV, POLL_ADD and READ (the watches), WRITE (the
 * interrupts), NOP and ASYNC_CANCEL before it is enabled.
 *
 *	net_io_setup(&n, fds, npairs, qsize, watch, nwatch, irq, nirq, &cb, &err)
 *	                           at device creation
 *	net_io_own(&n, true)       the owner thread's loop, lock held:
 *	  ev = net_io_poll(&n)     the watches that fired (bit i: watch[i])
 *	  net_io_kick(&n, qi) ...  what they ask for
 *	  net_io_turn_end(&n)      then (unless it says a watch fired
 *	                           meanwhile), lock dropped: net_io_wait(&n)
 *	net_io_attach(&n, pair, rxvq, txvq, features, mtu)  at DRIVER_OK
 *	net_io_set_pairs(&n, count)   the driver's queue pair count
 *	net_io_kick(&n, qi)        on queue qi's notify (ioeventfd)
 *	net_io_complete(&n)        use completions (tests; net_io_turn_end)
 *	net_io_quiesce(&n)         on device reset / stop (cancels the reads)
 *	net_io_pause(&n, deadline) / net_io_resume(&n)   VM pause
 *	net_io_teardown(&n)
 */
#ifndef EMBER_NET_URING_H
#define EMBER_NET_URING_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/net/net.h"

#define NET_RX_MAX_CHAINS 64u   /* chains one frame may be merged into */
#define NET_RX_MAX_IOV 1024u    /* UIO_MAXIOV */
#define NET_MAX_WATCH 64u       /* watched fds (bits of a uint64_t) */
#define NET_MAX_IRQ (2 * NET_MAX_PAIRS + 2) /* interrupt eventfds (MSI-X vectors) */

struct net_callbacks {
	void (*notify)(void *ctx, unsigned qi); /* interrupt queue qi */
	/* Or, with interrupt eventfds given to net_io_setup: which of them to
	 * write for queue qi now (-1: none; virtio_pci_queue_notify_deferred);
	 * the ring writes it with the turn's other I/O. */
	int (*notify_deferred)(void *ctx, unsigned qi);
	void (*needs_reset)(void *ctx);         /* the driver broke the ring rules */
	void (*link_down)(void *ctx);           /* the TAP went away */
	void *ctx;
};

/* Counters (written by the I/O thread; read them with __atomic loads).
 * Frames: delivered (packets, bytes) or dropped (drops: on RX a bad buffer
 * used empty or a frame larger than the buffers; on TX a malformed chain, a
 * failed write, a TAP gone). Also, as Firecracker's net metrics count them:
 *   rx_queue_events, tx_queue_events: kicks of a queue (net_io_kick);
 *   rx_tap_events: the reapings of completions that took frames from the
 *     TAP (one read in flight per pair: about one per frame);
 *   no_rx_avail_buffer: the times a read could not be posted for want of
 *     guest buffers (the pair then waits for an RX kick);
 *   no_tx_avail_buffer: TX kicks that found no chain to send;
 *   tx_malformed_frames: TX chains refused by net_tx_check (in tx_drops);
 *   tap_read_fails, tap_write_fails: reads and writes of the TAP that
 *     failed (writes: also short ones; in tx_drops);
 *   event_fails: watched fds that failed, interrupt writes that failed. */
struct net_stats {
	uint64_t rx_packets, rx_bytes, rx_drops;
	uint64_t tx_packets, tx_bytes, tx_drops;
	uint64_t rx_queue_events, tx_queue_events, rx_tap_events;
	uint64_t no_rx_avail_buffer, no_tx_avail_buffer, tx_malformed_frames;
	uint64_t tap_read_fails, tap_write_fails, event_fails;
};

struct net_rx_chain {
	uint16_t head;
	uint32_t cap;           /* writable bytes */
	unsigned niov;          /* its segments in rx_iov */
};

struct net_pair_io {
	unsigned index;
	struct virtqueue *rx, *tx;      /* NULL when not attached */
	bool dead;                      /* the TAP failed: no more I/O */
	bool off;                       /* beyond the driver's pair count: not served */
	/* receive: the chains popped for the read (kept across reads until a
	 * frame fills them), their segments in order, and the read in flight */
	bool rx_inflight;
	bool rx_waiting;                /* too few buffers: waiting for a kick */
	bool rx_pushed, tx_pushed;      /* used entries since the last notify */
	unsigned rx_nchains, rx_niov;
	uint64_t rx_cap;
	struct net_rx_chain rx_chains[NET_RX_MAX_CHAINS];
	struct iovec rx_iov[NET_RX_MAX_IOV];
	/* transmit: writes in flight */
	unsigned tx_nslots, tx_nfree, tx_inflight;
	bool tx_stalled;                /* stopped popping for want of slots/iovecs */
	bool rx_throttled, tx_throttled; /* held back by a rate limiter */
	uint16_t *tx_head;
	uint32_t *tx_expect;
	uint32_t *tx_free;
	/* each write's header: the copy net_tx_check checked, written in place
	 * of the guest's (which the guest could change after the check) */
	struct virtio_net_hdr_v1 *tx_hdr;
};

#define NET_TX_IOV_POOL (4 * (VQ_MAX_SEGS + 1)) /* (+1: the checked header) */

struct net_io {
	struct io_uring ring;
	bool ring_ok, restricted;
	int efd;                        /* -1: the owner waits on the ring */
	unsigned npairs;
	/* Watched fds: fixed files npairs.., each with a multishot POLL_ADD
	 * (watch_poll, 5.13+; the fds are never read: each wake-up of one is a
	 * CQE) or else a READ of 8 bytes posted on it (armed); fired ones wait
	 * in `ready` for net_io_poll. A watch that fails for good (dead) is not
	 * armed again. */
	unsigned nwatch;
	bool watch_poll;
	uint64_t watch_val[NET_MAX_WATCH]; /* without watch_poll: the values read */
	uint64_t watch_armed, watch_ready, watch_dead;
	/* Interrupt eventfds: fixed files npairs + nwatch.., written (8 bytes;
	 * IOSQE_CQE_SKIP_SUCCESS, 5.17+, else nirq is 0) through the ring when
	 * notify_deferred names one (cb.notify when the SQ is full). */
	unsigned nirq;
	bool irq_warned;
	pthread_t owner;
	bool owned;                     /* net_io_own: a thread waits on the ring */
	bool nudge;                     /* another thread took a watch's completion */
	bool lazy;                      /* in the owner's turn: SQEs wait for its wait */
	unsigned to_submit;             /* published by net_io_turn_end for net_io_wait */
	struct net_pair_io *p;
	struct net_callbacks cb;
	uint64_t features;              /* the driver's, at attach */
	unsigned mtu;
	uint32_t max_rx, max_tx;        /* frame limits (after the header) */
	bool mrg;
	bool broken;                    /* needs_reset raised: no more pops */
	bool paused;                    /* net_io_pause: no reads, no pops */
	struct vq_chain *chain;         /* scratch for vq_pop (large) */
	struct iovec *tx_iov;           /* NET_TX_IOV_POOL, one batch's writes */
	unsigned tx_iov_used;
	struct net_stats stats;
	/* Rate limiters (NULL: none), NET_RL_RX and NET_RL_TX, each with its
	 * timer, armed when it holds a pair back (net_io_rl_timer then). */
	struct rate_limiter *rl[2];
	int rl_timer_fd[2];
};

enum { NET_RL_RX, NET_RL_TX };

/* Create the ring for npairs pairs (fds[i]: TAP queue i) of queues of at most
 * qsize entries, nwatch (<= NET_MAX_WATCH) watched fds (non-blocking
 * eventfds or timerfds) and nirq (<= NET_MAX_IRQ) interrupt eventfds (the
 * device's MSI-X vectors' irqfds, for cb->notify_deferred; 0: cb->notify);
 * register the fds, restrict and enable it. 0, or -1 with a message in *e. */
int net_io_setup(struct net_io *n, const int *fds, unsigned npairs, unsigned qsize,
		 const int *watch, unsigned nwatch, const int *irq, unsigned nirq,
		 const struct net_callbacks *cb, struct errbuf *e);

/* The calling thread becomes (on) or stops being (off) the ring's owner:
 * the one that waits on it and arms the watches. */
void net_io_own(struct net_io *n, bool on);
/* Owner, lock held: use every completion, and return (and clear) the
 * watches that fired since the last call, bit i for watch i; each one's
 * value read is in n->watch_val[i]. Their reads are queued again. Until
 * net_io_turn_end the SQEs the turn queues are not submitted (but for work
 * that waits for its own I/O): net_io_wait submits them all. */
uint64_t net_io_poll(struct net_io *n);
/* Owner, lock held: use completions, re-post reads, interrupt the queues,
 * arm the watches again, and hand the turn's SQEs to the kernel's
 * SQ for net_io_wait to submit. True when a watch fired during
 * the turn (its completion reaped with others): take another turn at once,
 * without waiting. */
bool net_io_turn_end(struct net_io *n);
/* Owner, lock NOT held: submit what the turn queued and sleep until a
 * completion is ready (one io_uring_enter). */
void net_io_wait(struct net_io *n);
void net_io_teardown(struct net_io *n);

/* Serve pair `pair` with these (enabled) queues; either may be NULL. */
void net_io_attach(struct net_io *n, unsigned pair, struct virtqueue *rx, struct virtqueue *tx,
		   uint64_t driver_features, unsigned mtu);

/* Serve pairs 0..count-1 only (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET; attach
 * serves them all): the others' reads are cancelled and their I/O in flight
 * is waited for, and they are left alone (no reads, no writes, their kicks
 * ignored) until a later call turns them back on. */
void net_io_set_pairs(struct net_io *n, unsigned count);
/* How many pairs are served now: pairs 0..k-1 (attach and set_pairs say). */
unsigned net_io_pairs_served(const struct net_io *n);

/* The driver kicked virtqueue qi (2*pair: RX, 2*pair+1: TX). */
void net_io_kick(struct net_io *n, unsigned qi);

/* Reap every completion (wait: block for one first when I/O is in flight),
 * then interrupt the queues that got used entries. Returns CQEs reaped. */
int net_io_complete(struct net_io *n, bool wait);

/* A rate limiter's timer fired (which: NET_RL_RX or NET_RL_TX): serve the
 * pairs it held back. */
void net_io_rl_timer(struct net_io *n, unsigned which);

/* Reset/stop: cancel the reads, wait for every write, drop it all without
 * touching the guest, and detach. */
void net_io_quiesce(struct net_io *n);

/* VM pause: cancel the reads (their chains stay with the pairs), wait until
 * nothing is in flight (a frame a read already got and every write in flight
 * are used, and the queues interrupted) by deadline_ns (now_ns() clock), and
 * post or pop nothing until resume. 0, or -1 when I/O is still in flight. */
int net_io_pause(struct net_io *n, uint64_t deadline_ns);
/* Serve again (the caller then kicks every queue). */
void net_io_resume(struct net_io *n);

#endif
