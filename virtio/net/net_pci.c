/* net_pci.c: virtio-net on virtio-pci with a TAP, an io_uring back-end and
 * an I/O thread (net_pci.h). */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "virtio/net/net_pci.h"
#include "virtio/net/net_seccomp.h"
#include "vmm/core/vm.h"

#define PCI_CLASS_NETWORK_ETHERNET 0x020000

/* The ring's watched fds (net_io_poll's bits): queue i's kick is watch i
 * (i < nq), then the two rate limiters' timers, then the I/O thread's stop
 * eventfd. */
#define WATCH_RL(d, which) ((d)->nq + (which))
#define WATCH_STOP(d) ((d)->nq + 2u)

/* I/O thread, vp.lock held. ctx: d->vp, as for the transport's callbacks. */
static void cb_link_down(void *ctx)
{
	struct net_pci *d = container_of(ctx, struct net_pci, vp);
	if (!d->link_up)
		return;
	d->link_up = false;
	net_config(d->mac, false, d->pairs, d->tap.mtu, &d->cfg);
	log_warn("--net tap=%s: the TAP failed; link down", d->tap.name);
	virtio_pci_config_changed(&d->vp);
}

/* DRIVER_OK: the TAP's offloads follow what the driver accepted; serve every
 * enabled queue and look at each once. vp.lock held. */
static void attach_pairs(struct net_pci *d)
{
	uint64_t df = d->vp.driver_features;
	int r = net_tap_set_offload(&d->tap, net_tap_offloads(df));
	if (r < 0)
		log_warn("--net tap=%s: TUNSETOFFLOAD: %s", d->tap.name, strerror(-r));
	for (unsigned i = 0; i < d->pairs; i++) {
		struct vpci_queue *rx = &d->vp.q[2 * i], *tx = &d->vp.q[2 * i + 1];
		net_io_attach(&d->io, i, rx->enabled ? &rx->vq : NULL, tx->enabled ? &tx->vq : NULL,
			      df, d->tap.mtu);
	}
}

static void op_activate(void *ctx)
{
	struct net_pci *d = ctx;
	attach_pairs(d);
	/* One pair until the driver asks for more (VQ_PAIRS_SET); the I/O
	 * thread detaches the other TAP queues (sync_pairs) when it wakes. */
	d->active_pairs = 1;
	net_io_set_pairs(&d->io, 1);
	virtio_pci_kick_all(&d->vp);
}

static void op_reset(void *ctx)
{
	struct net_pci *d = ctx;
	if (d->io_ok)
		net_io_quiesce(&d->io);
	d->active_pairs = 1;
}

/* VM pause (vp.lock held, so the I/O thread is outside the queues): the
 * reads are cancelled, what is in flight completes, and no queue is served
 * until resume. */
static int op_pause(void *ctx, uint64_t deadline)
{
	struct net_pci *d = ctx;
	if (d->io_ok && net_io_pause(&d->io, deadline)) {
		log_error("--net tap=%s: I/O still in flight after 1 s", d->tap.name);
		return -1;
	}
	return 0;
}

static void op_resume(void *ctx)
{
	struct net_pci *d = ctx;
	if (d->io_ok)
		net_io_resume(&d->io);
}

static const struct virtio_pci_ops net_vp_ops = {
	.activate = op_activate,
	.reset = op_reset,
	.pause = op_pause,
	.resume = op_resume,
};

static const struct device_ops net_pci_ops;

/* The NIC on the TAP open or given (tap NULL: open o->tap). */
static struct net_pci *open_nic(const struct net_tap *tap, const struct net_opts *o,
				unsigned index, struct errbuf *e)
{
	struct net_pci *d = calloc(1, sizeof(*d));
	if (!d) {
		err_set(e, "--net tap=%s: out of memory", o->tap);
		return NULL;
	}
	device_init(&d->dev, &net_pci_ops, "net%u", index);
	io_thread_init(&d->iot);
	d->index = index;
	d->rl_timer_fd[0] = d->rl_timer_fd[1] = -1;
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++)
		d->tap.fd[i] = -1;
	if (tap) {
		d->tap = *tap;
	} else if (net_tap_open(&d->tap, o, e)) {
		device_destroy(&d->dev);
		return NULL;
	}
	if (o->mac_set)
		memcpy(d->mac, o->mac, 6);
	else
		net_default_mac(o->tap, index, d->mac);
	d->pairs = d->tap.nfd;
	d->nq = 2 * d->pairs + 1;
	d->active_pairs = 1;
	d->applied_pairs = d->pairs; /* every TAP queue is attached */
	for (unsigned i = 0; i < d->pairs; i++)
		d->tap_on[i] = true;
	d->link_up = true;
	net_config(d->mac, true, d->pairs, d->tap.mtu, &d->cfg);
	rl_init(&d->rl[NET_RL_RX], &o->rx, now_ns());
	rl_init(&d->rl[NET_RL_TX], &o->tx, now_ns());
	for (unsigned i = 0; i < 2; i++) {
		d->rl_timer_fd[i] = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (d->rl_timer_fd[i] < 0) {
			err_set(e, "--net tap=%s: timerfd: %s", o->tap, strerror(errno));
			device_destroy(&d->dev);
			return NULL;
		}
	}
	return d;
}

struct net_pci *net_pci_open(const struct net_opts *o, unsigned index, struct errbuf *e)
{
	return open_nic(NULL, o, index, e);
}

struct net_pci *net_pci_open_tap(const struct net_tap *tap, const struct net_opts *o,
				 unsigned index, struct errbuf *e)
{
	return open_nic(tap, o, index, e);
}

int net_pci_create(struct net_pci *d, const struct guest_mem *mem, struct gsi_routes *routes,
		   int vm_fd, struct errbuf *e)
{
	d->ctrl_chain = malloc(sizeof(*d->ctrl_chain));
	if (!d->ctrl_chain) {
		err_set(e, "out of memory");
		return -1;
	}
	if (virtio_pci_init(&d->vp, VIRTIO_ID_NET, PCI_CLASS_NETWORK_ETHERNET,
			    net_features(&d->tap.caps, d->pairs), (uint16_t)d->nq,
			    NET_PCI_QUEUE_SIZE, &d->cfg, NET_CONFIG_LEN, &net_vp_ops, d, mem, routes,
			    vm_fd, e))
		return -1;
	d->vp_ok = true;
	struct net_callbacks cb = {.notify = virtio_pci_notify_cb,
				   .notify_deferred = virtio_pci_notify_deferred_cb,
				   .needs_reset = virtio_pci_needs_reset_cb, .link_down = cb_link_down,
				   .ctx = &d->vp};
	if (io_thread_open_stop(&d->iot, e))
		return -1;
	int watch[NET_MAX_WATCH];
	for (unsigned i = 0; i < d->nq; i++)
		watch[i] = d->vp.q[i].notify_efd;
	watch[WATCH_RL(d, NET_RL_RX)] = d->rl_timer_fd[NET_RL_RX];
	watch[WATCH_RL(d, NET_RL_TX)] = d->rl_timer_fd[NET_RL_TX];
	watch[WATCH_STOP(d)] = d->iot.stop_efd;
	/* The MSI-X vectors' irqfds: the ring writes them (notify_deferred). */
	int irq[NET_MAX_IRQ];
	unsigned nirq = d->vp.msix_ok && d->vp.msix.nvec <= NET_MAX_IRQ ? d->vp.msix.nvec : 0;
	for (unsigned v = 0; v < nirq; v++)
		irq[v] = msix_vector_eventfd(&d->vp.msix, v);
	if (net_io_setup(&d->io, d->tap.fd, d->pairs, NET_PCI_QUEUE_SIZE, watch, WATCH_STOP(d) + 1,
			 irq, nirq, &cb, e)) {
		err_prefix(e, "--net tap=%s", d->tap.name);
		return -1;
	}
	d->io_ok = true;
	for (unsigned i = 0; i < 2; i++) {
		d->io.rl[i] = &d->rl[i];
		d->io.rl_timer_fd[i] = d->rl_timer_fd[i];
	}
	return 0;
}

/* The driver's queue pair count, applied: pairs beyond it are not served
 * and their TAP queues are detached (TUNSETQUEUE), so the kernel steers no
 * flow to a queue nobody reads; a pair is served once its TAP queue is
 * attached. The TAP queues follow the count once per change; what is served
 * is checked every time, for DRIVER_OK serves one pair on the vCPU's thread
 * without touching the TAP queues: a VQ_PAIRS_SET for every pair handled in
 * the same turn as DRIVER_OK's kicks finds the TAP queues as they were and
 * must still serve the pairs again. I/O thread (or restore), vp.lock held. */
static void sync_pairs(struct net_pci *d)
{
	unsigned want = d->active_pairs;
	if (d->pairs < 2)
		return;
	if (want != d->applied_pairs) {
		/* Stop the pairs that go off before their TAP queues go. */
		if (want < net_io_pairs_served(&d->io))
			net_io_set_pairs(&d->io, want);
		d->applied_pairs = want;
		for (unsigned i = 1; i < d->pairs; i++) {
			bool on = i < want;
			if (on == d->tap_on[i])
				continue;
			int r = net_tap_queue(&d->tap, i, on);
			if (r == 0)
				d->tap_on[i] = on;
			else
				log_warn("--net tap=%s: cannot %s TAP queue %u: %s", d->tap.name,
					 on ? "attach" : "detach", i, strerror(-r));
		}
	}
	unsigned serve = 1;
	while (serve < want && d->tap_on[serve])
		serve++;
	if (serve != net_io_pairs_served(&d->io))
		net_io_set_pairs(&d->io, serve);
}

/* The control queue, inline. vp.lock held. */
static void ctrl_kick(struct net_pci *d)
{
	struct vpci_queue *q = &d->vp.q[d->nq - 1];
	if (!q->enabled || !(d->vp.status & VIRTIO_CONFIG_S_DRIVER_OK))
		return;
	struct virtqueue *vq = &q->vq;
	bool pushed = false;
	for (;;) {
		int r;
		while ((r = vq_pop(vq, d->ctrl_chain)) == 1) {
			unsigned pairs = d->active_pairs;
			uint32_t w = net_ctrl_exec(d->ctrl_chain, d->pairs, &pairs);
			d->active_pairs = pairs;
			sync_pairs(d); /* in effect before the driver sees the ack */
			vq_push(vq, d->ctrl_chain->head, w);
			pushed = true;
		}
		if (r < 0) {
			virtio_pci_needs_reset(&d->vp);
			break;
		}
		vq_set_avail_event(vq);
		uint16_t avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
		if (avail_idx == vq->last_avail)
			break;
	}
	if (pushed && vq_should_notify(vq))
		virtio_pci_queue_notify(&d->vp, d->nq - 1);
}

/* What the watches that fired ask for: queue kicks (the eventfds were read
 * by the ring), a rate limiter's timer; then the driver's queue pair count
 * (after DRIVER_OK set one pair). I/O thread, vp.lock held. */
static void handle_watches(struct net_pci *d, uint64_t ev)
{
	for (unsigned which = 0; which < 2; which++) {
		if (!(ev & (1ull << WATCH_RL(d, which))))
			continue;
		__atomic_fetch_add(&d->rl_events[which], 1, __ATOMIC_RELAXED);
		rl_unblock(&d->rl[which]);
		if (virtio_pci_serving(&d->vp)) /* else resuming serves them */
			net_io_rl_timer(&d->io, which);
	}
	uint64_t kicks = ev & ((1ull << d->nq) - 1);
	while (kicks) {
		unsigned qi = (unsigned)__builtin_ctzll(kicks);
		kicks &= kicks - 1;
		if (!virtio_pci_serving(&d->vp)) /* resuming kicks it again */
			continue;
		if (qi == d->nq - 1u)
			ctrl_kick(d);
		else
			net_io_kick(&d->io, qi);
	}
	sync_pairs(d);
}

#ifdef EMBER_TEST_HOOKS
/* Test builds only: EMBER_TEST_NET_LATE=MS makes the I/O thread spin MS ms
 * after each wake-up before it takes its turn (the lock not held), so the
 * kicks a guest makes meanwhile reach it in one turn: DRIVER_OK's and then
 * VQ_PAIRS_SET's, say. */
static uint64_t test_hook_late_ns(void)
{
	const char *ms = getenv("EMBER_TEST_NET_LATE");
	return ms ? strtoull(ms, NULL, 10) * 1000000ull : 0;
}

static void test_hook_late(uint64_t ns)
{
	if (!ns)
		return;
	uint64_t end = now_ns() + ns;
	while (now_ns() < end)
		;
}
#endif

/* The I/O thread: it owns the ring and sleeps in io_uring_enter; each wake-up
 * is one turn under vp.lock: the completions used, the watches handled, the
 * reads posted again and the queues interrupted. */
static void *io_loop(void *ctx)
{
	struct net_pci *d = ctx;
#ifdef EMBER_TEST_HOOKS
	uint64_t late = test_hook_late_ns();
#endif
	pthread_mutex_lock(&d->vp.lock);
	net_io_own(&d->io, true);
	for (;;) {
		uint64_t ev = net_io_poll(&d->io);
		if (ev & (1ull << WATCH_STOP(d)))
			break;
		if (ev) {
			io_thread_count((unsigned)__builtin_popcountll(ev));
			handle_watches(d, ev);
		}
		if (net_io_turn_end(&d->io))
			continue; /* a watch fired during the turn */
		pthread_mutex_unlock(&d->vp.lock);
		net_io_wait(&d->io);
#ifdef EMBER_TEST_HOOKS
		test_hook_late(late);
#endif
		pthread_mutex_lock(&d->vp.lock);
	}
	net_io_own(&d->io, false);
	pthread_mutex_unlock(&d->vp.lock);
	return NULL;
}

static int net_pci_start(struct device *dv, struct errbuf *e)
{
	struct net_pci *d = container_of(dv, struct net_pci, dev);
	/* The TAP, its ring and the eventfds were set up before: the thread
	 * only needs io_uring_enter, the irqfds and the TAP. */
	if (io_thread_start_loop(&d->iot, "net-io", &net_io_seccomp, io_loop, d, e))
		goto fail;
	/* After a restore: the queues as they were, each ready one looked at
	 * once (RX pops again the chains held when the state was saved). */
	if (d->restored && (d->vp.status & VIRTIO_CONFIG_S_DRIVER_OK))
		virtio_pci_kick_all(&d->vp);
	d->restored = false;
	return 0;
fail:
	err_prefix(e, "--net tap=%s", d->tap.name);
	return -1;
}

static void net_pci_stop(struct net_pci *d)
{
	io_thread_stop(&d->iot);
	/* No vCPU runs any more: wait for the reads that write guest RAM. */
	if (d->io_ok)
		net_io_quiesce(&d->io);
}

static void net_pci_destroy(struct device *dv)
{
	struct net_pci *d = container_of(dv, struct net_pci, dev);
	net_pci_stop(d);
	if (d->io_ok)
		net_io_teardown(&d->io);
	d->io_ok = false;
	if (d->vp_ok)
		virtio_pci_destroy(&d->vp);
	d->vp_ok = false;
	net_tap_close(&d->tap);
	free(d->ctrl_chain);
	d->ctrl_chain = NULL;
	io_thread_destroy(&d->iot);
	for (unsigned i = 0; i < 2; i++)
		if (d->rl_timer_fd[i] >= 0)
			close(d->rl_timer_fd[i]);
	free(d);
}

void net_pci_stats_json(struct net_pci *d, char *buf, size_t len)
{
	const struct net_stats *s = &d->io.stats;
	char mac[18];
	net_format_mac(d->mac, mac);
#define LD(f) __atomic_load_n(&s->f, __ATOMIC_RELAXED)
#define RL(i, f) (uint64_t)__atomic_load_n(&d->rl[i].f, __ATOMIC_RELAXED)
	snprintf(buf, len,
		 "{\"device\":\"net%u\",\"tap\":\"%s\",\"mac\":\"%s\",\"link\":\"%s\","
		 "\"rx_packets\":%" PRIu64 ",\"rx_bytes\":%" PRIu64 ",\"rx_drops\":%" PRIu64 ","
		 "\"tx_packets\":%" PRIu64 ",\"tx_bytes\":%" PRIu64 ",\"tx_drops\":%" PRIu64 ","
		 "\"rx_rate_limiter\":{\"throttled\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"ops\":%" PRIu64 "},"
		 "\"tx_rate_limiter\":{\"throttled\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"ops\":%" PRIu64 "},"
		 "\"events\":{\"rx_queue\":%" PRIu64 ",\"tx_queue\":%" PRIu64 ",\"rx_tap\":%" PRIu64 ","
		 "\"no_rx_avail_buffer\":%" PRIu64 ",\"no_tx_avail_buffer\":%" PRIu64 "}}",
		 d->index, d->tap.name, mac,
		 __atomic_load_n(&d->link_up, __ATOMIC_RELAXED) ? "up" : "down", LD(rx_packets),
		 LD(rx_bytes), LD(rx_drops), LD(tx_packets), LD(tx_bytes), LD(tx_drops),
		 RL(NET_RL_RX, throttled), RL(NET_RL_RX, bytes), RL(NET_RL_RX, ops_done),
		 RL(NET_RL_TX, throttled), RL(NET_RL_TX, bytes), RL(NET_RL_TX, ops_done),
		 LD(rx_queue_events), LD(tx_queue_events), LD(rx_tap_events), LD(no_rx_avail_buffer),
		 LD(no_tx_avail_buffer));
#undef LD
#undef RL
}

/* One queue's ring indices as the device and the driver left them. */
static size_t vq_state_json(struct virtio_pci *vp, unsigned qi, char *buf, size_t len)
{
	const struct vpci_queue *q = &vp->q[qi];
	const struct virtqueue *vq = &q->vq;
	if (!vq->ready)
		return (size_t)snprintf(buf, len, "{\"vq\":%u,\"ready\":false}", qi);
	/* the driver's fields: read once, they may change under us */
	unsigned avail = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_RELAXED));
	unsigned used_event = vq->event_idx
		? le16toh(__atomic_load_n(&vq->avail->ring[vq->size], __ATOMIC_RELAXED)) : 0;
	unsigned avail_event = vq->event_idx
		? le16toh(__atomic_load_n((const uint16_t *)&vq->used->ring[vq->size],
					  __ATOMIC_RELAXED)) : 0;
	struct msix *m = &vp->msix;
	bool masked = !msix_deliverable(m, q->vector), pending = msix_pending(m, q->vector);
	return (size_t)snprintf(buf, len,
		"{\"vq\":%u,\"avail\":%u,\"last_avail\":%u,\"used\":%u,\"signalled\":%u,"
		"\"used_event\":%u,\"avail_event\":%u,\"vector\":%u,\"masked\":%s,\"pending\":%s}",
		qi, avail, vq->last_avail, vq->used_idx, vq->signalled_used, used_event, avail_event,
		q->vector, masked ? "true" : "false", pending ? "true" : "false");
}

void net_pci_queues_json(struct net_pci *d, char *buf, size_t len)
{
	if (len == 0)
		return;
	buf[0] = 0;
	pthread_mutex_lock(&d->vp.lock); /* the I/O thread is between batches */
	size_t o = (size_t)snprintf(buf, len, "{\"device\":\"net%u\",\"active_pairs\":%u,\"pairs\":[",
				    d->index, d->active_pairs);
	for (unsigned i = 0; i < d->pairs && o < len; i++) {
		const struct net_pair_io *q = &d->io.p[i];
		o += (size_t)snprintf(buf + o, len - o,
			"%s{\"pair\":%u,\"off\":%s,\"dead\":%s,\"rx_inflight\":%s,\"rx_waiting\":%s,"
			"\"rx_chains\":%u,\"tx_inflight\":%u,\"tx_stalled\":%s,\"rx\":",
			i ? "," : "", i, q->off ? "true" : "false", q->dead ? "true" : "false",
			q->rx_inflight ? "true" : "false", q->rx_waiting ? "true" : "false",
			q->rx_nchains, q->tx_inflight, q->tx_stalled ? "true" : "false");
		if (o < len)
			o += vq_state_json(&d->vp, 2 * i, buf + o, len - o);
		if (o < len)
			o += (size_t)snprintf(buf + o, len - o, ",\"tx\":");
		if (o < len)
			o += vq_state_json(&d->vp, 2 * i + 1, buf + o, len - o);
		if (o < len)
			o += (size_t)snprintf(buf + o, len - o, "}");
	}
	if (o < len)
		snprintf(buf + o, len - o, "]}");
	pthread_mutex_unlock(&d->vp.lock);
}

/* SIGUSR1: the counters, then the queue state. */
static void net_pci_stats(struct device *dv, FILE *out)
{
	static char line[8192];
	struct net_pci *d = container_of(dv, struct net_pci, dev);
	net_pci_stats_json(d, line, sizeof(line));
	fprintf(out, "%s\n", line);
	net_pci_queues_json(d, line, sizeof(line));
	fprintf(out, "%s\n", line);
}

static int net_pci_pause(struct device *dv)
{
	return virtio_pci_pause(&container_of(dv, struct net_pci, dev)->vp, NET_PAUSE_TIMEOUT_NS);
}

static void net_pci_resume(struct device *dv)
{
	virtio_pci_resume(&container_of(dv, struct net_pci, dev)->vp);
}

static struct pci_device *net_pci_attach(struct device *dv, struct vm *vm, struct errbuf *e)
{
	struct net_pci *d = container_of(dv, struct net_pci, dev);
	return net_pci_create(d, &vm->mem, &vm->routes, vm->vm_fd, e) ? NULL : &d->vp.pci;
}

/* Firecracker's net metrics, in its order, those ember counts (see struct
 * net_stats; the rate limiters: how often each held the NIC back, and its
 * timer's wake-ups), then ember's drops: frames the TAP gave that the guest
 * had no fitting buffers for (rx), frames not sent (tx). */
static const char *const net_metric_names[] = {
	"no_rx_avail_buffer", "no_tx_avail_buffer", "event_fails", "rx_queue_event_count",
	"rx_event_rate_limiter_count", "rx_rate_limiter_throttled", "rx_tap_event_count",
	"rx_bytes_count", "rx_packets_count", "tap_read_fails", "tap_write_fails",
	"tx_bytes_count", "tx_malformed_frames", "tx_packets_count", "tx_queue_event_count",
	"tx_rate_limiter_event_count", "tx_rate_limiter_throttled", "rx_drops", "tx_drops",
};

static void net_pci_metrics(struct device *dv, struct metrics_sample *s)
{
	struct net_pci *d = container_of(dv, struct net_pci, dev);
	const struct net_stats *st = &d->io.stats;
	s->group = "net";
	s->names = net_metric_names;
	s->n = ARRAY_SIZE(net_metric_names);
	const uint64_t *f[] = {
		&st->no_rx_avail_buffer, &st->no_tx_avail_buffer, &st->event_fails,
		&st->rx_queue_events, &d->rl_events[NET_RL_RX], &d->rl[NET_RL_RX].throttled,
		&st->rx_tap_events, &st->rx_bytes, &st->rx_packets, &st->tap_read_fails,
		&st->tap_write_fails, &st->tx_bytes, &st->tx_malformed_frames, &st->tx_packets,
		&st->tx_queue_events, &d->rl_events[NET_RL_TX], &d->rl[NET_RL_TX].throttled,
		&st->rx_drops, &st->tx_drops,
	};
	_Static_assert(ARRAY_SIZE(f) == ARRAY_SIZE(net_metric_names), "a value per name");
	for (unsigned k = 0; k < ARRAY_SIZE(f); k++)
		s->total[k] = __atomic_load_n(f[k], __ATOMIC_RELAXED);
}

/* PATCH: new receive and transmit limits, under vp.lock; both timers fire
 * at once so that whatever was held back tries again. */
static int net_pci_set_rate_limits(struct device *dv, const struct rl_update *u, unsigned n,
				   struct errbuf *e)
{
	struct net_pci *d = container_of(dv, struct net_pci, dev);
	if (n != 2) {
		err_set(e, "a network interface has a receive and a transmit rate limiter");
		return -1;
	}
	pthread_mutex_lock(&d->vp.lock);
	for (unsigned i = 0; i < 2; i++)
		rl_update(&d->rl[i], &u[i], now_ns());
	pthread_mutex_unlock(&d->vp.lock);
	for (unsigned i = 0; i < 2; i++)
		rl_timer_arm(d->rl_timer_fd[i], 0);
	return 0;
}

/* The NIC's own section: MAC, link, queue pairs in use, configuration. */
struct net_saved {
	uint8_t mac[6];
	uint32_t link_up, active_pairs;
	uint8_t cfg[NET_CONFIG_LEN];
};
#define NET_SEC_NIC (1 + VPCI_STATE_SECTIONS)
#define NET_CFG_STATUS 6 /* offset of the config's status (link) */

/* The VM is paused: every write completed and was used, no read is in
 * flight (net_io_pause), but each pair may hold RX chains popped for its
 * next read and not used: the most recently popped ones. The saved RX
 * position leaves them out, so that the restored device pops them again;
 * this device keeps them (it may resume). */
static int net_pci_save(struct device *dv, void *buf, size_t cap, size_t *len, struct errbuf *e)
{
	struct net_pci *d = container_of(dv, struct net_pci, dev);
	struct virtio_pci_saved *s = malloc(sizeof(*s));
	if (!s) {
		err_set(e, "out of memory");
		return -1;
	}
	virtio_pci_state_save(&d->vp, s);
	struct net_saved ns;
	memset(&ns, 0, sizeof(ns));
	int ret = -1;
	pthread_mutex_lock(&d->vp.lock);
	for (unsigned i = 0; d->io_ok && i < d->pairs; i++) {
		const struct net_pair_io *p = &d->io.p[i];
		if (p->rx_inflight || p->tx_inflight) {
			err_set(e, "--net tap=%s: queue pair %u still has I/O in flight", d->tap.name, i);
			pthread_mutex_unlock(&d->vp.lock);
			goto out;
		}
		if (p->rx && s->q[2 * i].q.enabled)
			s->q[2 * i].last_avail = (uint16_t)(s->q[2 * i].last_avail - p->rx_nchains);
	}
	memcpy(ns.mac, d->mac, 6);
	ns.link_up = d->link_up;
	ns.active_pairs = d->active_pairs;
	memcpy(ns.cfg, &d->cfg, NET_CONFIG_LEN);
	pthread_mutex_unlock(&d->vp.lock);
	struct codec_writer w;
	cw_begin(&w, buf, cap, NET_STATE_MAGIC, NET_STATE_VERSION);
	virtio_pci_state_put(&w, 1, s);
	cw_section(&w, NET_SEC_NIC);
	cw_bytes(&w, ns.mac, 6);
	cw_u32(&w, ns.link_up);
	cw_u32(&w, ns.active_pairs);
	cw_bytes(&w, ns.cfg, NET_CONFIG_LEN);
	*len = cw_finish(&w);
	if (!*len)
		err_set(e, "--net tap=%s: the state does not fit in %zu bytes", d->tap.name, cap);
	else
		ret = 0;
out:
	free(s);
	return ret;
}

static int nic_check(struct codec_reader *r, const struct net_pci *d, const struct net_saved *ns,
		     const struct virtio_pci_saved *s)
{
	char a[18], b[18];
	if (memcmp(ns->mac, d->mac, 6)) {
		net_format_mac(ns->mac, a);
		net_format_mac(d->mac, b);
		return cr_fail(r, "the saved NIC had MAC %s, this one has %s", a, b);
	}
	if (ns->link_up > 1)
		return cr_fail(r, "link %u (0 down, 1 up)", ns->link_up);
	if (ns->active_pairs < 1 || ns->active_pairs > d->pairs)
		return cr_fail(r, "%u queue pairs in use, the NIC has %u", ns->active_pairs, d->pairs);
	if (!(s->common.status & VIRTIO_CONFIG_S_DRIVER_OK) && ns->active_pairs != 1)
		return cr_fail(r, "%u queue pairs in use before DRIVER_OK", ns->active_pairs);
	uint8_t mine[NET_CONFIG_LEN], theirs[NET_CONFIG_LEN];
	memcpy(mine, &d->cfg, NET_CONFIG_LEN);
	memcpy(theirs, ns->cfg, NET_CONFIG_LEN);
	mine[NET_CFG_STATUS] = theirs[NET_CFG_STATUS] = 0; /* the link: the new TAP's */
	mine[NET_CFG_STATUS + 1] = theirs[NET_CFG_STATUS + 1] = 0;
	if (memcmp(mine, theirs, NET_CONFIG_LEN))
		return cr_fail(r, "the saved NIC's configuration (MAC, queue pairs, MTU) differs "
			       "from this one's");
	return 0;
}

/* Decoded and checked whole first, then applied: the transport, the queue
 * pairs in use, and with a running driver the TAP's offloads (what it
 * accepted, as at DRIVER_OK), each pair attached to its queues and the TAP
 * queues beyond the pairs in use detached. start kicks the queues. */
static int net_pci_restore(struct device *dv, const void *buf, size_t len, struct errbuf *e)
{
	struct net_pci *d = container_of(dv, struct net_pci, dev);
	struct virtio_pci_saved *s = malloc(sizeof(*s));
	if (!s) {
		err_set(e, "out of memory");
		return -1;
	}
	struct net_saved ns;
	struct codec_reader r;
	size_t n;
	int ret = -1;
	if (cr_begin(&r, buf, len, NET_STATE_MAGIC, NET_STATE_VERSION, "virtio-net state", e) ||
	    virtio_pci_state_get(&r, 1, &d->vp, s) || cr_section(&r, NET_SEC_NIC, "NIC", &n) ||
	    cr_expect(&r, n, 6 + 4 + 4 + NET_CONFIG_LEN) || cr_bytes(&r, ns.mac, 6) ||
	    cr_u32(&r, &ns.link_up) || cr_u32(&r, &ns.active_pairs) ||
	    cr_bytes(&r, ns.cfg, NET_CONFIG_LEN) || nic_check(&r, d, &ns, s) || cr_end(&r))
		goto out;
	virtio_pci_state_apply(&d->vp, s);
	pthread_mutex_lock(&d->vp.lock);
	d->active_pairs = (uint16_t)ns.active_pairs;
	if (d->io_ok && (d->vp.status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		attach_pairs(d);
		sync_pairs(d);
	}
	d->restored = true;
	pthread_mutex_unlock(&d->vp.lock);
	ret = 0;
out:
	free(s);
	return ret;
}

static const struct device_ops net_pci_ops = {
	.type = "virtio-net",
	.attach = net_pci_attach,
	.thread = &net_io_seccomp,
	.vcpu = &net_vcpu_seccomp,
	.main = &net_main_seccomp,
	.set_rate_limits = net_pci_set_rate_limits,
	.start = net_pci_start,
	.pause = net_pci_pause,
	.resume = net_pci_resume,
	.stats = net_pci_stats,
	.metrics = net_pci_metrics,
	.save = net_pci_save,
	.restore = net_pci_restore,
	.destroy = net_pci_destroy,
};
