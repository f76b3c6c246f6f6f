/* test_net_uring.c: the virtio-net back-end end to end (net.c +
 * net_uring.c + virtqueue.c) through a real io_uring, with a SOCK_SEQPACKET
 * socketpair standing in for the TAP (one message per frame, header
 * included) and the rings in 2 MiB of fake guest RAM: frames transmitted
 * from split chains, hostile TX chains dropped and counted in a batch with
 * one interrupt, RX frames merged over several buffers (num_buffers, unused
 * chains kept for the next frame), no read while the guest has too few buffers and
 * resuming at its kick (EVENT_IDX avail_event), hostile RX buffers, one of
 * more than 4 GiB, a TAP
 * that goes away (link down, TX dropped), reset with a read in flight, a
 * second pair switched off and on (VQ_PAIRS_SET), a VM pause with a read
 * posted (cancelled, its buffer kept; nothing read or written while paused,
 * everything goes out after resume), and the watched eventfds the owner
 * thread sleeps on (fired ones reported by net_io_poll; one whose
 * completion another thread took wakes the owner with a NOP). */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/core/guest_mem.h"
#include "virtio/net/net_uring.h"

#define RAM_SIZE MiB(2) /* (ram_size: one case takes more) */
#define QSIZE 64
#define RX_DESC 0x1000ull
#define RX_AVAIL 0x2000ull
#define RX_USED 0x3000ull
#define TX_DESC 0x5000ull
#define TX_AVAIL 0x6000ull
#define TX_USED 0x7000ull
#define RX1_DESC 0x8000ull /* the second pair */
#define RX1_AVAIL 0x9000ull
#define RX1_USED 0xa000ull
#define TX1_DESC 0xb000ull
#define TX1_AVAIL 0xc000ull
#define TX1_USED 0xd000ull
#define BUF_GPA 0x10000ull

#define F(x) (1ull << (x))

static uint8_t *ram;
static size_t ram_size = RAM_SIZE;
static struct guest_mem gm;
/* Queue qi: 0 RX, 1 TX (pair 0), 2 RX, 3 TX (pair 1). */
static const uint64_t q_desc[4] = {RX_DESC, TX_DESC, RX1_DESC, TX1_DESC};
static const uint64_t q_avail[4] = {RX_AVAIL, TX_AVAIL, RX1_AVAIL, TX1_AVAIL};
static const uint64_t q_used[4] = {RX_USED, TX_USED, RX1_USED, TX1_USED};
static struct virtqueue rxq, txq, rx1q, tx1q;
static struct net_io n;
static int sv[2] = {-1, -1}, sv1[2] = {-1, -1}; /* the TAP's queues 0 and 1 */
static int wfd[2] = {-1, -1}; /* watched eventfds (watch 0 and 1) */
static bool timer_watch;      /* setup: watch 0 is a timerfd */
static bool read_watches;     /* setup: watches read, not polled */
static unsigned notified[2], resets, downs;
static unsigned next_desc[4];
static uint64_t next_buf;
static bool up;

static void on_notify(void *ctx, unsigned qi) { (void)ctx; if (qi < 2) notified[qi]++; }
/* setup with irq_mode: queue qi's interrupt is irqfd ifd[qi] (vector qi),
 * written by the ring unless irq_masked (the vector's pending bit set). */
static bool irq_mode, irq_masked;
static int ifd[2] = {-1, -1};
static unsigned deferred[2];
static int on_notify_deferred(void *ctx, unsigned qi)
{
	(void)ctx;
	if (qi >= 2)
		return -1;
	deferred[qi]++;
	return irq_masked ? -1 : (int)qi;
}
static void on_reset(void *ctx) { (void)ctx; resets++; }
static void on_down(void *ctx) { (void)ctx; downs++; }

static void teardown(void)
{
	if (up)
		net_io_teardown(&n);
	up = false;
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (sv1[i] >= 0)
			close(sv1[i]);
		if (wfd[i] >= 0)
			close(wfd[i]);
		if (ifd[i] >= 0)
			close(ifd[i]);
		sv[i] = sv1[i] = wfd[i] = ifd[i] = -1;
	}
}

static int vq_init(struct virtqueue *vq, uint64_t d, uint64_t a, uint64_t u, bool event_idx)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = &gm;
	vq->size = QSIZE;
	vq->desc_gpa = d;
	vq->avail_gpa = a;
	vq->used_gpa = u;
	vq->event_idx = event_idx;
	vq->indirect = true;
	return vq_enable(vq);
}

/* One pair (or two) on fresh fake RAM, attached with these features. */
static int setup_pairs(uint64_t features, unsigned npairs)
{
	teardown();
	free(ram);
	ram = calloc(1, ram_size);
	if (!ram)
		return -1;
	gm_wrap(&gm, ram, ram_size);
	bool ev = features & F(VIRTIO_RING_F_EVENT_IDX);
	if (vq_init(&rxq, RX_DESC, RX_AVAIL, RX_USED, ev) || vq_init(&txq, TX_DESC, TX_AVAIL, TX_USED, ev) ||
	    vq_init(&rx1q, RX1_DESC, RX1_AVAIL, RX1_USED, ev) ||
	    vq_init(&tx1q, TX1_DESC, TX1_AVAIL, TX1_USED, ev))
		return -1;
	notified[0] = notified[1] = resets = downs = 0;
	memset(next_desc, 0, sizeof(next_desc));
	next_buf = BUF_GPA;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv1) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		wfd[i] = i == 0 && timer_watch ? timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)
					       : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (wfd[i] < 0)
			return -1;
	}
	int fds[2] = {sv[0], sv1[0]};
	struct net_callbacks cb = {.notify = on_notify, .needs_reset = on_reset,
				   .link_down = on_down};
	deferred[0] = deferred[1] = 0;
	if (irq_mode) {
		for (int i = 0; i < 2; i++)
			if ((ifd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
				return -1;
		cb.notify_deferred = on_notify_deferred;
	}
	struct errbuf e;
	if (net_io_setup(&n, fds, npairs, QSIZE, wfd, 2, ifd, irq_mode ? 2 : 0, &cb, &e) < 0) {
		printf("  net_io_setup: %s\n", e.msg);
		return -1;
	}
	if (read_watches) /* the kernels before 5.13: no multishot poll */
		n.watch_poll = false;
	up = true;
	net_io_attach(&n, 0, &rxq, &txq, features | F(VIRTIO_F_VERSION_1), 1500);
	if (npairs > 1)
		net_io_attach(&n, 1, &rx1q, &tx1q, features | F(VIRTIO_F_VERSION_1), 1500);
	return 0;
}

static int setup(uint64_t features) { return setup_pairs(features, 1); }

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
	bool indirect; /* gpa holds a table of len / 16 descriptors */
};

/* A chain on queue qi; returns its head. */
static uint16_t add_chain(unsigned qi, const struct seg *s, unsigned k)
{
	uint64_t dg = q_desc[qi];
	struct vring_avail *a = (struct vring_avail *)(ram + q_avail[qi]);
	uint16_t head = (uint16_t)(next_desc[qi] % QSIZE);
	for (unsigned i = 0; i < k; i++) {
		unsigned d = next_desc[qi]++ % QSIZE;
		struct vring_desc v = {
			.addr = s[i].gpa, .len = s[i].len,
			.flags = (uint16_t)((s[i].w ? VRING_DESC_F_WRITE : 0) |
					    (s[i].indirect ? VRING_DESC_F_INDIRECT : 0) |
					    (i + 1 < k ? VRING_DESC_F_NEXT : 0)),
			.next = (uint16_t)(next_desc[qi] % QSIZE)};
		memcpy(ram + dg + 16 * d, &v, sizeof(v));
	}
	a->ring[a->idx % QSIZE] = head;
	__atomic_store_n(&a->idx, a->idx + 1, __ATOMIC_RELEASE);
	return head;
}

static uint64_t alloc_buf(uint32_t len)
{
	uint64_t g = next_buf;
	next_buf += (len + 63) & ~63u;
	return g;
}

/* An RX buffer of len bytes (one writable descriptor) on RX queue qi;
 * returns its gpa. */
static uint64_t rx_buf_q(unsigned qi, uint32_t len)
{
	uint64_t g = alloc_buf(len);
	memset(ram + g, 0xee, len);
	add_chain(qi, &(struct seg){g, len, true}, 1);
	return g;
}

static uint64_t rx_buf(uint32_t len) { return rx_buf_q(0, len); }

static struct vring_used *used(unsigned qi) { return (struct vring_used *)(ram + q_used[qi]); }
static uint16_t used_idx(unsigned qi) { return le16toh(__atomic_load_n(&used(qi)->idx, __ATOMIC_ACQUIRE)); }
static uint32_t used_len(unsigned qi, unsigned i) { return le32toh(used(qi)->ring[i % QSIZE].len); }
static uint32_t used_id(unsigned qi, unsigned i) { return le32toh(used(qi)->ring[i % QSIZE].id); }

static bool busy(void) { return n.p[0].rx_inflight || n.p[0].tx_inflight; }

/* Complete until nothing is in flight, or (rx) until `want` RX used entries. */
static void settle_tx(void)
{
	for (int i = 0; n.p[0].tx_inflight && i < 1000; i++)
		net_io_complete(&n, true);
}

static void wait_rx(uint16_t want)
{
	for (int i = 0; used_idx(0) < want && busy() && i < 1000; i++)
		net_io_complete(&n, true);
}

/* The peer ("the host") sends one frame to TAP queue fd: header + len bytes
 * of pattern. */
static int host_send_to(int fd, uint32_t len, uint8_t seed, uint8_t flags)
{
	static uint8_t m[70000];
	memset(m, 0, NET_HDR_LEN);
	m[0] = flags;
	for (uint32_t i = 0; i < len; i++)
		m[NET_HDR_LEN + i] = (uint8_t)(seed + i * 3);
	return send(fd, m, NET_HDR_LEN + len, 0) == (ssize_t)(NET_HDR_LEN + len) ? 0 : -1;
}

static int host_send(uint32_t len, uint8_t seed, uint8_t flags)
{
	return host_send_to(sv[1], len, seed, flags);
}

/* A TX chain on queue qi holding header h and len bytes of pattern, cut in three. */
static void tx_frame_q(unsigned qi, const struct virtio_net_hdr_v1 *h, uint32_t len, uint8_t seed)
{
	uint64_t g = alloc_buf(NET_HDR_LEN + len);
	memcpy(ram + g, h, NET_HDR_LEN);
	for (uint32_t i = 0; i < len; i++)
		ram[g + NET_HDR_LEN + i] = (uint8_t)(seed + i * 3);
	struct seg s[3] = {{g, 5, false}, {g + 5, 20, false}, {g + 25, NET_HDR_LEN + len - 25, false}};
	add_chain(qi, s, 3);
}

static void tx_frame(const struct virtio_net_hdr_v1 *h, uint32_t len, uint8_t seed)
{
	tx_frame_q(1, h, len, seed);
}

static bool pattern_ok(const uint8_t *p, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)(seed + i * 3))
			return false;
	return true;
}

/* ---- cases ---- */

static void ring_is_restricted(void)
{
	CHECK_EQ(setup(0), 0);
	CHECK(n.restricted);
	CHECK(n.efd < 0); /* the owner waits on the ring itself */
	teardown();
}

static void poke(int fd, uint64_t v)
{
	CHECK_EQ(write(fd, &v, sizeof(v)), (ssize_t)sizeof(v));
}

/* With multishot poll (this kernel has it), a watch is armed once: it
 * fires again and again with nothing posted between, and its eventfd is
 * not read (a kick costs no read and no new SQE). */
static void watches_are_polled(void)
{
	CHECK_EQ(setup(0), 0);
	CHECK(n.watch_poll);
	net_io_own(&n, true);
	CHECK(!net_io_turn_end(&n)); /* arms both (submitted by the wait) */
	for (int round = 0; round < 3; round++) {
		poke(wfd[0], 1);
		net_io_wait(&n);
		CHECK_EQ(net_io_poll(&n), 1);
		CHECK_EQ(n.watch_armed, 3); /* still armed */
		CHECK_EQ(io_uring_sq_ready(&n.ring), 0); /* nothing posted again */
		CHECK(!net_io_turn_end(&n));
	}
	uint64_t v;
	CHECK_EQ(read(wfd[0], &v, sizeof(v)), (ssize_t)sizeof(v)); /* never read */
	CHECK_EQ(v, 3);
	net_io_own(&n, false);
	teardown();
}

/* The owner's turn: a watch that fires wakes net_io_wait and is reported
 * once by net_io_poll (read: with the eventfd's value, its read posted again
 * at the end of the turn), so the next write fires it again. */
static void watches_wake_the_owner(void)
{
	CHECK_EQ(setup(0), 0);
	net_io_own(&n, true);
	CHECK(!net_io_turn_end(&n)); /* posts both watches' reads */
	CHECK_EQ(net_io_poll(&n), 0);
	poke(wfd[1], 3);
	net_io_wait(&n);
	CHECK_EQ(net_io_poll(&n), 2);
	if (!n.watch_poll)
		CHECK_EQ(n.watch_val[1], 3);
	CHECK_EQ(net_io_poll(&n), 0); /* reported once */
	net_io_turn_end(&n);
	poke(wfd[0], 1);
	poke(wfd[1], 1);
	uint64_t ev = 0;
	for (int i = 0; ev != 3 && i < 10; i++) {
		net_io_wait(&n);
		ev |= net_io_poll(&n);
	}
	CHECK_EQ(ev, 3);
	net_io_own(&n, false);
	teardown();
}

/* A timerfd watched (a rate limiter's timer): armed before and after its
 * read is posted, each expiry wakes the owner and is reported. */
static void watched_timer_fires(void)
{
	timer_watch = true;
	int r = setup(0);
	timer_watch = false;
	CHECK_EQ(r, 0);
	net_io_own(&n, true);
	net_io_turn_end(&n);
	for (int round = 0; round < 20; round++) {
		struct itimerspec its = {{0, 0}, {0, 2000000}}; /* 2 ms */
		CHECK_EQ(timerfd_settime(wfd[0], 0, &its, NULL), 0);
		uint64_t t0 = now_ns(), ev = 0;
		while (!(ev & 1) && now_ns() - t0 < 2000000000ull) {
			net_io_wait(&n);
			ev |= net_io_poll(&n);
			net_io_turn_end(&n);
		}
		CHECK(ev & 1);
		uint64_t ms = (now_ns() - t0) / 1000000;
		if (getenv("NET_TIMER_DEBUG"))
			printf("  round %d: %llu ms\n", round, (unsigned long long)ms);
	}
	net_io_own(&n, false);
	teardown();
}

/* A watch that fires while the owner is busy, its completion reaped in the
 * middle of the turn (with a TAP write's): net_io_turn_end says so, so the
 * owner takes another turn instead of sleeping on an empty ring (a rate
 * limiter's timer lost that way stalled RX until the next kick). */
static void watch_reaped_mid_turn_is_not_lost(void)
{
	CHECK_EQ(setup(0), 0);
	net_io_own(&n, true);
	CHECK(!net_io_turn_end(&n)); /* posts the watches' reads */
	poke(wfd[0], 1);
	struct virtio_net_hdr_v1 h = {0};
	tx_frame(&h, 100, 3);
	net_io_kick(&n, 1); /* the write completes at submit: both reaped */
	CHECK_EQ(used_idx(1), 1);
	CHECK_EQ(io_uring_cq_ready(&n.ring), 0);
	CHECK(net_io_turn_end(&n));
	CHECK_EQ(net_io_poll(&n), 1);
	CHECK(!net_io_turn_end(&n));
	net_io_own(&n, false);
	teardown();
}

/* In the owner's turn the SQEs wait for its net_io_wait, which submits them
 * and sleeps in one system call: a kick's write reaches the TAP only then,
 * and the wait returns at once with its completion, which the next turn
 * uses and interrupts for. */
static void turn_submits_once_at_its_wait(void)
{
	CHECK_EQ(setup(0), 0);
	net_io_own(&n, true);
	net_io_poll(&n);
	struct virtio_net_hdr_v1 h = {0};
	tx_frame(&h, 100, 3);
	net_io_kick(&n, 1);
	static uint8_t m[8192];
	CHECK_EQ(recv(sv[1], m, sizeof(m), 0), -1); /* not submitted in the turn */
	CHECK(!net_io_turn_end(&n));
	CHECK_EQ(recv(sv[1], m, sizeof(m), 0), -1); /* nor at its end */
	CHECK_EQ(used_idx(1), 0);
	uint64_t t0 = now_ns();
	net_io_wait(&n);
	CHECK(now_ns() - t0 < 1000000000ull); /* the write's completion: no sleep */
	CHECK_EQ(recv(sv[1], m, sizeof(m), 0), NET_HDR_LEN + 100);
	CHECK(pattern_ok(m + NET_HDR_LEN, 100, 3));
	CHECK_EQ(net_io_poll(&n), 0);
	CHECK(!net_io_turn_end(&n));
	CHECK_EQ(used_idx(1), 1);
	CHECK_EQ(notified[1], 1);
	CHECK_EQ(n.stats.tx_packets, 1);
	net_io_own(&n, false);
	teardown();
}

static uint64_t irq_count(int fd)
{
	uint64_t v = 0;
	return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v) ? v : 0;
}

/* With the device's irqfds given to the ring, a queue's interrupt is a WRITE
 * of its vector's eventfd that goes with the turn's other SQEs (no write(2)
 * of its own, no callback), in the turn's one io_uring_enter; a masked
 * vector (the callback says -1: its pending bit is set) gets no write. */
static void interrupts_go_through_the_ring(void)
{
	irq_mode = true;
	int r = setup(0);
	irq_mode = false;
	CHECK_EQ(r, 0);
	net_io_own(&n, true);
	for (int round = 0; round < 2; round++) {
		irq_masked = round == 1;
		net_io_poll(&n);
		struct virtio_net_hdr_v1 h = {0};
		tx_frame(&h, 100, 3);
		net_io_kick(&n, 1);
		CHECK(!net_io_turn_end(&n));
		net_io_wait(&n); /* the write, done inline: no sleep */
		CHECK_EQ(net_io_poll(&n), 0);
		CHECK(!net_io_turn_end(&n)); /* used; the interrupt queued */
		CHECK_EQ(used_idx(1), round + 1);
		CHECK_EQ(deferred[1], (unsigned)round + 1);
		CHECK_EQ(irq_count(ifd[1]), 0); /* not yet written */
		if (irq_masked) {
			CHECK_EQ(io_uring_sq_ready(&n.ring), 0); /* nothing to write */
			continue;
		}
		/* Written by the wait's submit, with no completion: the owner
		 * sleeps on (a watch's poke ends it here). */
		poke(wfd[0], 1);
		net_io_wait(&n);
		CHECK_EQ(irq_count(ifd[1]), 1);
		CHECK_EQ(io_uring_cq_ready(&n.ring), 1); /* the watch's, only */
		CHECK_EQ(net_io_poll(&n), 1);
		net_io_turn_end(&n);
	}
	irq_masked = false;
	CHECK_EQ(notified[1], 0); /* never the callback */
	CHECK_EQ(irq_count(ifd[0]), 0);
	net_io_own(&n, false);
	teardown();
}

static void *pause_thread(void *arg)
{
	(void)arg;
	net_io_pause(&n, now_ns() + 1000000000ull);
	return NULL;
}

/* Another thread (a VM pause) reaps the completion of a watch that fired:
 * it leaves a NOP on the ring, so the owner's net_io_wait returns, and the
 * watch is reported to the owner. */
static void watch_taken_by_another_thread_nudges_the_owner(void)
{
	CHECK_EQ(setup(0), 0);
	net_io_own(&n, true);
	poke(wfd[0], 1); /* before its read is posted: it completes at submit */
	net_io_turn_end(&n);
	/* The turn's reads wait for the owner's net_io_wait; another thread
	 * that takes the lock first submits them with its own. */
	CHECK(io_uring_sq_ready(&n.ring) > 0);
	CHECK_EQ(io_uring_cq_ready(&n.ring), 0);
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, pause_thread, NULL), 0);
	pthread_join(t, NULL);
	CHECK(n.watch_ready & 1); /* taken by the pause */
	CHECK(io_uring_cq_ready(&n.ring) > 0); /* the nudge */
	net_io_wait(&n);
	CHECK_EQ(net_io_poll(&n), 1);
	net_io_resume(&n);
	net_io_own(&n, false);
	teardown();
}

/* The owner leaving mid-turn (its stop watch fired, so no net_io_turn_end)
 * leaves no lazy turn behind: what the turn queued is submitted, and a
 * later kick's writes go at once. */
static void owner_leaving_mid_turn_submits(void)
{
	CHECK_EQ(setup(0), 0);
	net_io_own(&n, true);
	CHECK(!net_io_turn_end(&n)); /* arms the watches (submitted by the wait) */
	poke(wfd[0], 1);
	net_io_wait(&n);
	CHECK_EQ(net_io_poll(&n), 1);
	struct virtio_net_hdr_v1 h = {0};
	tx_frame(&h, 100, 5);
	net_io_kick(&n, 1); /* in the turn: the write waits for its end */
	static uint8_t m[256];
	CHECK_EQ(recv(sv[1], m, sizeof(m), 0), -1);
	net_io_own(&n, false); /* the loop's break, without net_io_turn_end */
	CHECK(!n.lazy);
	CHECK_EQ(io_uring_sq_ready(&n.ring), 0);
	CHECK_EQ(recv(sv[1], m, sizeof(m), 0), NET_HDR_LEN + 100);
	CHECK(pattern_ok(m + NET_HDR_LEN, 100, 5));
	teardown();
}

/* The TX counters: frames sent, dropped, of the drops the malformed ones and
 * the failed writes. */
static void check_tx_stats(uint64_t packets, uint64_t drops, uint64_t malformed, uint64_t failed)
{
	CHECK_EQ(n.stats.tx_packets, packets);
	CHECK_EQ(n.stats.tx_drops, drops);
	CHECK_EQ(n.stats.tx_malformed_frames, malformed);
	CHECK_EQ(n.stats.tap_write_fails, failed);
}

static void tx_frames_reach_the_tap(void)
{
	CHECK_EQ(setup(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4)), 0);
	struct virtio_net_hdr_v1 h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				      .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				      .hdr_len = htole16(54), .gso_size = htole16(1448),
				      .csum_start = htole16(34), .csum_offset = htole16(16)};
	tx_frame(&h, 3000, 7);
	net_io_kick(&n, 1);
	settle_tx();
	static uint8_t m[8192];
	ssize_t r = recv(sv[1], m, sizeof(m), 0);
	CHECK_EQ(r, NET_HDR_LEN + 3000);
	CHECK_MEM_EQ(m, &h, NET_HDR_LEN);
	CHECK(pattern_ok(m + NET_HDR_LEN, 3000, 7));
	CHECK_EQ(used_idx(1), 1);
	CHECK_EQ(used_len(1, 0), 0);
	CHECK_EQ(n.stats.tx_packets, 1);
	CHECK_EQ(n.stats.tx_bytes, 3000);
	CHECK_EQ(n.stats.tx_drops, 0);
	CHECK_EQ(notified[1], 1);
	CHECK_EQ(n.stats.tx_queue_events, 1);
	CHECK_EQ(n.stats.no_tx_avail_buffer, 0);
	CHECK_EQ(n.stats.tap_write_fails + n.stats.tx_malformed_frames + n.stats.event_fails, 0);
	/* A kick with nothing queued: Firecracker's no_tx_avail_buffer. */
	net_io_kick(&n, 1);
	CHECK_EQ(n.stats.tx_queue_events, 2);
	CHECK_EQ(n.stats.no_tx_avail_buffer, 1);
	CHECK_EQ(n.stats.rx_queue_events, 0);
	teardown();
}

static void tx_hostile_chains_dropped_in_one_batch(void)
{
	CHECK_EQ(setup(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4)), 0);
	struct virtio_net_hdr_v1 bad = {.gso_type = 9, .gso_size = htole16(1)};
	struct virtio_net_hdr_v1 big = {0};
	struct virtio_net_hdr_v1 good = {0};
	tx_frame(&bad, 100, 1);
	tx_frame(&big, NET_MAX_GSO_FRAME + 1, 2);
	uint64_t g = alloc_buf(100); /* a writable buffer in a TX chain */
	add_chain(1, (struct seg[]){{g, 40, false}, {g + 40, 60, true}}, 2);
	add_chain(1, &(struct seg){g, 4, false}, 1); /* shorter than a header */
	tx_frame(&good, 60, 3);
	net_io_kick(&n, 1);
	settle_tx();
	static uint8_t m[8192];
	CHECK_EQ(recv(sv[1], m, sizeof(m), 0), NET_HDR_LEN + 60);
	CHECK(pattern_ok(m + NET_HDR_LEN, 60, 3));
	CHECK_EQ(recv(sv[1], m, sizeof(m), 0), -1); /* nothing else went out */
	CHECK_EQ(used_idx(1), 5);
	check_tx_stats(1, 4, 4, 0);
	CHECK_EQ(resets, 0);
	/* one interrupt for the batch: the drops and the write, which the
	 * socket (like a TAP) completes inside the submit */
	CHECK_EQ(notified[1], 1);
	teardown();
}

static void tx_broken_ring_needs_reset(void)
{
	CHECK_EQ(setup(0), 0);
	struct vring_avail *a = (struct vring_avail *)(ram + TX_AVAIL);
	a->ring[0] = QSIZE + 3; /* head out of range */
	a->idx = 1;
	net_io_kick(&n, 1);
	CHECK_EQ(resets, 1);
	net_io_kick(&n, 1);
	CHECK_EQ(resets, 1);
	teardown();
}

static void rx_merges_buffers(void)
{
	CHECK_EQ(setup(F(VIRTIO_NET_F_MRG_RXBUF)), 0);
	uint64_t b[4];
	for (int i = 0; i < 4; i++)
		b[i] = rx_buf(1000);
	CHECK_EQ(host_send(1800, 5, VIRTIO_NET_HDR_F_DATA_VALID), 0);
	net_io_kick(&n, 0);
	wait_rx(2);
	CHECK_EQ(used_idx(0), 2);
	CHECK_EQ(used_id(0, 0), 0);
	CHECK_EQ(used_len(0, 0), 1000);
	CHECK_EQ(used_id(0, 1), 1);
	CHECK_EQ(used_len(0, 1), NET_HDR_LEN + 1800 - 1000);
	CHECK_EQ(ram[b[0]], VIRTIO_NET_HDR_F_DATA_VALID);
	CHECK_EQ(get_le16(ram + b[0] + 10), 2); /* num_buffers */
	CHECK(pattern_ok(ram + b[0] + NET_HDR_LEN, 1000 - NET_HDR_LEN, 5));
	CHECK(pattern_ok(ram + b[1], 812, (uint8_t)(5 + (1000 - NET_HDR_LEN) * 3)));
	CHECK_EQ(n.stats.rx_packets, 1);
	CHECK_EQ(n.stats.rx_bytes, 1800);
	CHECK(notified[0] >= 1);
	/* The two unused buffers stay with the device (not popped again) and
	 * take the next frames: a small one fits one buffer. */
	CHECK_EQ(rxq.last_avail, 4);
	CHECK_EQ(n.p[0].rx_nchains, 2);
	rx_buf(1000);
	CHECK_EQ(host_send(100, 9, 0), 0);
	net_io_complete(&n, false);
	wait_rx(3);
	CHECK_EQ(used_idx(0), 3);
	CHECK_EQ(used_id(0, 2), 2);
	CHECK_EQ(used_len(0, 2), NET_HDR_LEN + 100);
	CHECK_EQ(get_le16(ram + b[2] + 10), 1);
	CHECK(pattern_ok(ram + b[2] + NET_HDR_LEN, 100, 9));
	teardown();
}

static void rx_queued_frames_one_interrupt(void)
{
	CHECK_EQ(setup(F(VIRTIO_NET_F_MRG_RXBUF)), 0);
	for (int i = 0; i < 8; i++)
		rx_buf(1000);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(host_send(100, (uint8_t)i, 0), 0);
	/* The reads complete inside the submits (the frames are queued): all
	 * three are used in one batch, with one interrupt. */
	net_io_kick(&n, 0);
	CHECK_EQ(used_idx(0), 3);
	CHECK_EQ(n.stats.rx_packets, 3);
	CHECK_EQ(notified[0], 1);
	CHECK_EQ(n.stats.rx_queue_events, 1);
	/* each frame's completion reaped on its own round: three takings */
	CHECK_EQ(n.stats.rx_tap_events, 3);
	CHECK_EQ(n.stats.no_rx_avail_buffer, 0);
	teardown();
}

static void rx_waits_for_buffers_then_resumes(void)
{
	CHECK_EQ(setup(F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_RING_F_EVENT_IDX)), 0);
	CHECK_EQ(host_send(200, 1, 0), 0);
	net_io_kick(&n, 0);
	CHECK(!n.p[0].rx_inflight); /* no buffers: the TAP is not read */
	CHECK(n.p[0].rx_waiting);
	CHECK_EQ(n.stats.no_rx_avail_buffer, 1);
	rx_buf(1000); /* not enough for a 1530-byte frame yet */
	net_io_kick(&n, 0);
	CHECK(!n.p[0].rx_inflight);
	CHECK_EQ(n.stats.no_rx_avail_buffer, 1); /* still the same wait */
	CHECK_EQ(rxq.last_avail, 1); /* held for the next read */
	CHECK_EQ(n.p[0].rx_nchains, 1);
	/* EVENT_IDX: kick me when buffer 1 (the next one) is added */
	CHECK_EQ(get_le16((const uint8_t *)&used(0)->ring[QSIZE]), 1);
	CHECK_EQ(used_idx(0), 0);
	rx_buf(1000);
	net_io_kick(&n, 0); /* the read is posted (and may complete at once) */
	wait_rx(1);
	CHECK_EQ(used_idx(0), 1);
	CHECK_EQ(used_len(0, 0), NET_HDR_LEN + 200);
	CHECK_EQ(n.stats.rx_packets, 1);
	CHECK_EQ(n.stats.rx_tap_events, 1);
	CHECK_EQ(n.stats.rx_queue_events, 3);
	teardown();
}

/* Rate limiters. Transmit: 2 frames per second (ops), so of three frames
 * two go and the third goes back to the ring, the timer armed; when it
 * fires (the bucket refilled), net_io_rl_timer sends it. Receive: 1000
 * bytes per second; a 1400-byte frame is read (its size is known only
 * afterwards) and leaves the limiter in debt: no read is posted for the
 * next frame, which stays in the TAP, until the timer fires. */
static void rate_limited_tx_and_rx(void)
{
	CHECK_EQ(setup(F(VIRTIO_NET_F_MRG_RXBUF)), 0);
	struct rate_limiter rx = {0}, tx = {0};
	struct rl_config rc = {.bw = {.size = 1000, .refill_ms = 1000}};
	struct rl_config tc = {.ops = {.size = 2, .refill_ms = 1000}};
	rl_init(&rx, &rc, now_ns());
	rl_init(&tx, &tc, now_ns());
	int tfd[2] = {timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC), timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)};
	CHECK(tfd[0] >= 0 && tfd[1] >= 0);
	n.rl[NET_RL_RX] = &rx;
	n.rl[NET_RL_TX] = &tx;
	n.rl_timer_fd[NET_RL_RX] = tfd[0];
	n.rl_timer_fd[NET_RL_TX] = tfd[1];
	struct virtio_net_hdr_v1 h = {0};
	for (uint8_t i = 0; i < 3; i++)
		tx_frame(&h, 100, i);
	net_io_kick(&n, 1);
	settle_tx();
	CHECK_EQ(used_idx(1), 2);
	CHECK_EQ(txq.last_avail, 2); /* the third went back */
	CHECK(n.p[0].tx_throttled);
	struct itimerspec its;
	CHECK_EQ(timerfd_gettime(tfd[1], &its), 0);
	CHECK(its.it_value.tv_sec > 0 || its.it_value.tv_nsec > 400000000); /* ~500 ms */
	static uint8_t m[8192];
	CHECK_EQ(recv(sv[1], m, sizeof(m), MSG_DONTWAIT), NET_HDR_LEN + 100);
	CHECK_EQ(recv(sv[1], m, sizeof(m), MSG_DONTWAIT), NET_HDR_LEN + 100);
	CHECK_EQ(recv(sv[1], m, sizeof(m), MSG_DONTWAIT), -1); /* not sent, not lost */
	tx.ops.last_ns -= 1000000000ull; /* a second has passed */
	net_io_rl_timer(&n, NET_RL_TX);
	settle_tx();
	CHECK_EQ(used_idx(1), 3);
	CHECK_EQ(recv(sv[1], m, sizeof(m), MSG_DONTWAIT), NET_HDR_LEN + 100);
	CHECK(pattern_ok(m + NET_HDR_LEN, 100, 2));
	CHECK_EQ(tx.throttled, 1);
	CHECK_EQ(n.stats.tx_drops, 0);

	/* receive */
	for (int i = 0; i < 4; i++)
		rx_buf(2048);
	CHECK_EQ(host_send(1400, 1, 0), 0);
	CHECK_EQ(host_send(500, 2, 0), 0);
	net_io_kick(&n, 0);
	wait_rx(1);
	CHECK_EQ(n.stats.rx_packets, 1);
	CHECK(!n.p[0].rx_inflight); /* in debt: nothing read */
	CHECK(n.p[0].rx_throttled);
	CHECK_EQ(rx.bytes, 1400);
	rx.bw.last_ns -= 3000000000ull; /* three seconds later */
	net_io_rl_timer(&n, NET_RL_RX);
	wait_rx(2);
	CHECK_EQ(n.stats.rx_packets, 2);
	CHECK_EQ(n.stats.rx_drops, 0);
	n.rl[NET_RL_RX] = n.rl[NET_RL_TX] = NULL;
	close(tfd[0]);
	close(tfd[1]);
	teardown();
}

static void rx_hostile_buffers_dropped(void)
{
	CHECK_EQ(setup(F(VIRTIO_NET_F_MRG_RXBUF)), 0);
	uint64_t g = alloc_buf(4096);
	add_chain(0, (struct seg[]){{g, 100, false}, {g + 100, 2000, true}}, 2); /* readable part */
	add_chain(0, &(struct seg){g + 2100, 4, true}, 1);                       /* < header */
	uint64_t good = rx_buf(2000);
	CHECK_EQ(host_send(64, 4, 0), 0);
	net_io_kick(&n, 0);
	wait_rx(3);
	CHECK_EQ(used_idx(0), 3);
	CHECK_EQ(used_len(0, 0), 0);
	CHECK_EQ(used_len(0, 1), 0);
	CHECK_EQ(used_len(0, 2), NET_HDR_LEN + 64);
	CHECK(pattern_ok(ram + good + NET_HDR_LEN, 64, 4));
	CHECK_EQ(n.stats.rx_drops, 2);
	CHECK_EQ(resets, 0);
	teardown();
}

/* A chain of more than 4 GiB of room (1024 indirect descriptors over the
 * same 4.25 MiB): it takes a frame as any buffer does, and the room it was
 * counted for goes with it, so the next buffer is popped for the next frame
 * (the room was once counted in full but given back cut to 32 bits, and
 * the next read looped for ever on room no chain held). */
static void rx_huge_chain(void)
{
	ram_size = MiB(8);
	CHECK_EQ(setup(F(VIRTIO_NET_F_MRG_RXBUF)), 0);
	ram_size = RAM_SIZE;
	uint64_t table = alloc_buf(16 * NET_RX_MAX_IOV), big = MiB(3);
	for (unsigned i = 0; i < NET_RX_MAX_IOV; i++) {
		bool last = i + 1 == NET_RX_MAX_IOV;
		struct vring_desc d = {.addr = htole64(big), .len = htole32(MiB(4) + KiB(256)),
				       .flags = htole16(VRING_DESC_F_WRITE | (last ? 0 : VRING_DESC_F_NEXT)),
				       .next = htole16(last ? 0 : i + 1)};
		memcpy(ram + table + 16 * i, &d, sizeof(d));
	}
	add_chain(0, &(struct seg){table, 16 * NET_RX_MAX_IOV, false, true}, 1);
	uint64_t next = rx_buf(2000);
	net_io_kick(&n, 0);
	CHECK_EQ(host_send(64, 4, 0), 0);
	wait_rx(1);
	CHECK_EQ(used_idx(0), 1);
	CHECK_EQ(used_len(0, 0), NET_HDR_LEN + 64);
	CHECK(pattern_ok(ram + big + NET_HDR_LEN, 64, 4));
	CHECK_EQ(n.p[0].rx_nchains, 1); /* the next buffer, popped */
	CHECK_EQ(n.p[0].rx_cap, 2000);
	CHECK_EQ(host_send(100, 7, 0), 0);
	net_io_complete(&n, false);
	wait_rx(2);
	CHECK_EQ(used_idx(0), 2);
	CHECK_EQ(used_len(0, 1), NET_HDR_LEN + 100);
	CHECK(pattern_ok(ram + next + NET_HDR_LEN, 100, 7));
	CHECK_EQ(resets, 0);
	teardown();
}

static void tap_gone_link_down(void)
{
	CHECK_EQ(setup(F(VIRTIO_NET_F_MRG_RXBUF)), 0);
	rx_buf(2000);
	net_io_kick(&n, 0);
	CHECK(n.p[0].rx_inflight);
	close(sv[1]); /* the other end goes away: end of file */
	sv[1] = -1;
	for (int i = 0; busy() && i < 100; i++)
		net_io_complete(&n, true);
	CHECK_EQ(downs, 1);
	CHECK(n.p[0].dead);
	CHECK_EQ(used_idx(0), 0); /* the buffer was not used */
	CHECK_EQ(n.stats.tap_read_fails, 1);
	struct virtio_net_hdr_v1 h = {0};
	tx_frame(&h, 60, 1);
	net_io_kick(&n, 1);
	settle_tx();
	CHECK_EQ(used_idx(1), 1);
	CHECK_EQ(n.stats.tx_drops, 1);
	CHECK_EQ(n.stats.tap_write_fails, 0); /* not written: the pair is dead */
	CHECK_EQ(downs, 1);
	teardown();
}

/* A write the TAP refuses: the frame is dropped and counted as a TAP
 * write failure, the chain used, the link still up. */
static void tx_write_failure_counted(void)
{
	CHECK_EQ(setup(0), 0);
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	CHECK_EQ(shutdown(sv[1], SHUT_RD), 0); /* writes to sv[0] fail: EPIPE */
	struct virtio_net_hdr_v1 h = {0};
	tx_frame(&h, 60, 1);
	net_io_kick(&n, 1);
	settle_tx();
	signal(SIGPIPE, old);
	CHECK_EQ(used_idx(1), 1);
	check_tx_stats(0, 1, 0, 1);
	CHECK_EQ(downs, 0);
	teardown();
}

static void reset_cancels_the_read(void)
{
	CHECK_EQ(setup(F(VIRTIO_NET_F_MRG_RXBUF)), 0);
	rx_buf(2000);
	net_io_kick(&n, 0);
	CHECK(n.p[0].rx_inflight);
	net_io_quiesce(&n);
	CHECK(!n.p[0].rx_inflight);
	CHECK(n.p[0].rx == NULL);
	CHECK_EQ(used_idx(0), 0);
	/* re-attach after reset and go on */
	CHECK_EQ(vq_enable(&rxq), 0);
	memset(ram + RX_USED, 0, 0x1000);
	net_io_attach(&n, 0, &rxq, &txq, F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF), 1500);
	CHECK_EQ(host_send(10, 2, 0), 0);
	net_io_kick(&n, 0);
	wait_rx(1);
	CHECK_EQ(used_idx(0), 1);
	CHECK_EQ(used_len(0, 0), NET_HDR_LEN + 10);
	teardown();
}

static void pause_cancels_the_read_and_holds_io(void)
{
	CHECK_EQ(setup(F(VIRTIO_NET_F_MRG_RXBUF)), 0);
	rx_buf(2000);
	net_io_kick(&n, 0);
	CHECK(n.p[0].rx_inflight);
	CHECK_EQ(net_io_pause(&n, now_ns() + 1000000000ull), 0);
	CHECK(!busy());
	CHECK_EQ(used_idx(0), 0);       /* cancelled: the buffer is not used */
	CHECK_EQ(n.p[0].rx_nchains, 1); /* but kept for the next read */
	/* Paused: a frame waits in the TAP, a TX chain stays in its ring. */
	CHECK_EQ(host_send(10, 2, 0), 0);
	struct virtio_net_hdr_v1 h = {0};
	tx_frame(&h, 100, 5);
	net_io_kick(&n, 0);
	net_io_kick(&n, 1);
	net_io_complete(&n, false);
	CHECK(!busy());
	CHECK_EQ(used_idx(0), 0);
	CHECK_EQ(used_idx(1), 0);
	/* Resumed (the transport kicks every queue): both go. */
	net_io_resume(&n);
	net_io_kick(&n, 1);
	settle_tx();
	CHECK_EQ(used_idx(1), 1);
	uint8_t m[200];
	CHECK_EQ(recv(sv[1], m, sizeof(m), MSG_DONTWAIT), NET_HDR_LEN + 100);
	CHECK(pattern_ok(m + NET_HDR_LEN, 100, 5));
	net_io_kick(&n, 0);
	wait_rx(1);
	CHECK_EQ(used_idx(0), 1);
	CHECK_EQ(used_len(0, 0), NET_HDR_LEN + 10);
	teardown();
}

/* VQ_PAIRS_SET 1 on a two-pair NIC: pair 1's read is cancelled (its buffer
 * not used), its queues are left alone (a frame waits in its TAP queue, a TX
 * chain is not written, kicks are ignored) while pair 0 goes on; back to 2,
 * both go out. */
static void pairs_beyond_the_count_not_served(void)
{
	CHECK_EQ(setup_pairs(F(VIRTIO_NET_F_MRG_RXBUF), 2), 0);
	CHECK_EQ(net_io_pairs_served(&n), 2u); /* attach serves them all */
	rx_buf_q(2, 2000);
	net_io_kick(&n, 2);
	CHECK(n.p[1].rx_inflight);
	net_io_set_pairs(&n, 1);
	CHECK(!n.p[1].rx_inflight);
	CHECK(n.p[1].off && !n.p[0].off);
	CHECK_EQ(net_io_pairs_served(&n), 1u);
	CHECK_EQ(used_idx(2), 0);
	CHECK_EQ(host_send_to(sv1[1], 80, 6, 0), 0);
	struct virtio_net_hdr_v1 h = {0};
	tx_frame_q(3, &h, 70, 8);
	net_io_kick(&n, 2);
	net_io_kick(&n, 3);
	net_io_complete(&n, false);
	CHECK(!n.p[1].rx_inflight);
	CHECK_EQ(used_idx(2), 0);
	CHECK_EQ(used_idx(3), 0);
	static uint8_t m[256];
	CHECK_EQ(recv(sv1[1], m, sizeof(m), MSG_DONTWAIT), -1); /* nothing written */
	CHECK(recv(sv1[0], m, sizeof(m), MSG_PEEK | MSG_DONTWAIT) > 0); /* not read */
	/* pair 0 is served as before */
	rx_buf(2000);
	CHECK_EQ(host_send(50, 3, 0), 0);
	net_io_kick(&n, 0);
	wait_rx(1);
	CHECK_EQ(used_idx(0), 1);
	/* two pairs again: the waiting frame and the TX chain go through */
	net_io_set_pairs(&n, 2);
	CHECK_EQ(net_io_pairs_served(&n), 2u);
	for (int i = 0; used_idx(2) < 1 && i < 100; i++)
		net_io_complete(&n, true);
	CHECK_EQ(used_idx(2), 1);
	CHECK_EQ(used_len(2, 0), NET_HDR_LEN + 80);
	CHECK_EQ(used_idx(3), 1);
	CHECK_EQ(recv(sv1[1], m, sizeof(m), MSG_DONTWAIT), NET_HDR_LEN + 70);
	CHECK(pattern_ok(m + NET_HDR_LEN, 70, 8));
	teardown();
}

int main(void)
{
	RUN(ring_is_restricted);
	RUN(watches_are_polled);
	RUN(owner_leaving_mid_turn_submits);
	for (int mode = 0; mode < 2; mode++) {
		read_watches = mode == 1; /* both ways of watching */
		RUN(watches_wake_the_owner);
		RUN(watch_taken_by_another_thread_nudges_the_owner);
		RUN(watched_timer_fires);
		RUN(watch_reaped_mid_turn_is_not_lost);
		RUN(rate_limited_tx_and_rx);
	}
	read_watches = false;
	RUN(turn_submits_once_at_its_wait);
	RUN(interrupts_go_through_the_ring);
	RUN(tx_frames_reach_the_tap);
	RUN(tx_hostile_chains_dropped_in_one_batch);
	RUN(tx_broken_ring_needs_reset);
	RUN(rx_merges_buffers);
	RUN(rx_queued_frames_one_interrupt);
	RUN(rx_waits_for_buffers_then_resumes);
	RUN(rx_hostile_buffers_dropped);
	RUN(rx_huge_chain);
	RUN(tap_gone_link_down);
	RUN(tx_write_failure_counted);
	RUN(reset_cancels_the_read);
	RUN(pairs_beyond_the_count_not_served);
	RUN(pause_cancels_the_read_and_holds_io);
	teardown();
	free(ram);
	return check_summary();
}
