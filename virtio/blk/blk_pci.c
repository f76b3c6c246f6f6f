/* blk_pci.c: virtio-blk on virtio-pci with an io_uring I/O thread (blk_pci.h). */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "virtio/blk/blk_pci.h"
#include "virtio/blk/blk_seccomp.h"
#include "vmm/core/vm.h"

#define PCI_CLASS_STORAGE_OTHER 0x018000

/* DRIVER_OK: serve every enabled queue and look at it once (the driver may
 * have queued buffers before). vp.lock held. */
static void attach_queues(struct blk_pci *d)
{
	bool flush = virtio_pci_has(&d->vp, VIRTIO_BLK_F_FLUSH);
	for (unsigned i = 0; i < d->nq; i++) {
		struct vpci_queue *vq = &d->vp.q[i];
		if (!vq->enabled || !d->q[i].io_ok)
			continue;
		blk_queue_attach(&d->q[i].io, &vq->vq, flush);
	}
}

static void op_activate(void *ctx)
{
	struct blk_pci *d = ctx;
	attach_queues(d);
	virtio_pci_kick_all(&d->vp);
}

/* Reset: wait for in-flight I/O and detach. vp.lock held, so the I/O thread
 * is not inside a queue meanwhile. */
static void op_reset(void *ctx)
{
	struct blk_pci *d = ctx;
	for (unsigned i = 0; i < d->nq; i++)
		if (d->q[i].io_ok)
			blk_queue_quiesce(&d->q[i].io);
}

/* VM pause (vp.lock held, so the I/O thread is outside the queues): every
 * request in flight completes, and no queue is popped until resume. */
static int op_pause(void *ctx, uint64_t deadline)
{
	struct blk_pci *d = ctx;
	int r = 0;
	for (unsigned i = 0; i < d->nq; i++)
		if (d->q[i].io_ok && blk_queue_pause(&d->q[i].io, deadline)) {
			log_error("disk '%s': queue %u still has I/O in flight after 1 s", d->path, i);
			r = -1;
		}
	return r;
}

static void op_resume(void *ctx)
{
	struct blk_pci *d = ctx;
	for (unsigned i = 0; i < d->nq; i++)
		if (d->q[i].io_ok)
			blk_queue_resume(&d->q[i].io);
}

static const struct virtio_pci_ops blk_vp_ops = {
	.activate = op_activate,
	.reset = op_reset,
	.pause = op_pause,
	.resume = op_resume,
};

static const struct device_ops blk_pci_ops;

struct blk_pci *blk_pci_open(const struct blk_opts *o, unsigned index, struct errbuf *e)
{
	struct blk_pci *d = calloc(1, sizeof(*d));
	if (!d) {
		err_set(e, "--disk %s: out of memory", o->path);
		return NULL;
	}
	device_init(&d->dev, &blk_pci_ops, "vd%c", 'a' + (int)(index % 26));
	d->disk.fd = -1;
	d->rl_timer_fd = -1;
	io_thread_init(&d->iot);
	snprintf(d->path, sizeof(d->path), "%s", o->path);
	if (blk_disk_open(&d->disk, o, e)) {
		device_destroy(&d->dev);
		return NULL;
	}
	rl_init(&d->rl, &o->rl, now_ns());
	d->rl_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->rl_timer_fd < 0) {
		err_set(e, "--disk %s: timerfd: %s", o->path, strerror(errno));
		device_destroy(&d->dev);
		return NULL;
	}
	return d;
}

int blk_pci_create(struct blk_pci *d, unsigned nq, const struct guest_mem *mem,
		   struct gsi_routes *routes, int vm_fd, struct errbuf *e)
{
	if (nq == 0)
		nq = 1;
	if (nq > VPCI_MAX_QUEUES)
		nq = VPCI_MAX_QUEUES;
	d->nq = nq;
	blk_config(&d->disk, (uint16_t)nq, &d->cfg);
	d->q = calloc(nq, sizeof(*d->q));
	if (!d->q) {
		err_set(e, "out of memory");
		return -1;
	}
	if (virtio_pci_init(&d->vp, VIRTIO_ID_BLOCK, PCI_CLASS_STORAGE_OTHER,
			    blk_features(&d->disk), (uint16_t)nq, BLK_PCI_QUEUE_SIZE,
			    &d->cfg, sizeof(d->cfg), &blk_vp_ops, d, mem, routes, vm_fd, e))
		return -1;
	for (unsigned i = 0; i < nq; i++) {
		struct blk_pci_queue *q = &d->q[i];
		struct blk_callbacks cb = {.notify = virtio_pci_notify_cb,
					   .needs_reset = virtio_pci_needs_reset_cb, .ctx = &d->vp,
					   .qi = i};
		if (blk_uring_setup(&q->io, &d->disk, BLK_PCI_QUEUE_SIZE, &cb, e)) {
			err_prefix(e, "disk '%s'", d->path);
			return -1;
		}
		q->io_ok = true;
		q->io.rl = &d->rl;
		q->io.rl_timer_fd = d->rl_timer_fd;
	}
	return 0;
}

/* The rate limiter's timer: take requests again, on every queue it held
 * back. vp.lock held. */
static void rl_timer_fired(struct blk_pci *d)
{
	uint64_t v;
	if (read(d->rl_timer_fd, &v, sizeof(v)) < 0) { /* EAGAIN: a stale wake-up */
	}
	rl_unblock(&d->rl);
	__atomic_fetch_add(&d->rl_events, 1, __ATOMIC_RELAXED);
	if (d->vp.paused)
		return; /* resuming kicks every queue */
	for (unsigned i = 0; i < d->nq; i++)
		if (d->q[i].io_ok && d->q[i].io.throttled)
			blk_queue_kick(&d->q[i].io);
}

/* The I/O thread's batches: each queue's kick or ring completions, and the
 * rate limiter's timer (tag 2 * nq). */
static void io_batch(void *ctx, const uint64_t *tags, unsigned n)
{
	struct blk_pci *d = ctx;
	for (unsigned i = 0; i < n; i++) {
		if (tags[i] == 2ull * d->nq) {
			pthread_mutex_lock(&d->vp.lock);
			rl_timer_fired(d);
			pthread_mutex_unlock(&d->vp.lock);
			continue;
		}
		unsigned qi = (unsigned)(tags[i] / 2);
		if (qi >= d->nq)
			continue;
		struct blk_pci_queue *q = &d->q[qi];
		pthread_mutex_lock(&d->vp.lock);
		if (tags[i] & 1) {
			blk_queue_complete(&q->io, false);
		} else {
			uint64_t v;
			ssize_t r = read(d->vp.q[qi].notify_efd, &v, sizeof(v));
			(void)r;
			if (!d->vp.paused) /* resuming kicks it again */
				blk_queue_kick(&q->io);
		}
		pthread_mutex_unlock(&d->vp.lock);
	}
}

static int blk_pci_start(struct device *dv, struct errbuf *e)
{
	struct blk_pci *d = container_of(dv, struct blk_pci, dev);
	/* The rings were set up (and restricted) by blk_pci_create: the thread
	 * only needs epoll, eventfds and io_uring_enter. Tags: 2*queue for its
	 * kick, 2*queue+1 for its ring's completions. */
	if (virtio_pci_io_thread_open(&d->vp, &d->iot, 0, 2, e))
		goto fail;
	for (unsigned i = 0; i < d->nq; i++) {
		if (io_thread_add(&d->iot, d->q[i].io.efd, 2ull * i + 1)) {
			err_set(e, "I/O thread: epoll_ctl: %s", strerror(errno));
			goto fail;
		}
	}
	if (io_thread_add(&d->iot, d->rl_timer_fd, 2ull * d->nq)) {
		err_set(e, "I/O thread: epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	if (io_thread_start(&d->iot, "blk-io", &blk_io_seccomp, io_batch, d, e))
		goto fail;
	/* After a restore: the queues as they were, each ready one looked at
	 * once (the guest may have added buffers before the save). */
	if (d->restored && (d->vp.status & VIRTIO_CONFIG_S_DRIVER_OK))
		virtio_pci_kick_all(&d->vp);
	d->restored = false;
	return 0;
fail:
	err_prefix(e, "disk '%s'", d->path);
	return -1;
}

static void blk_pci_stop(struct blk_pci *d)
{
	io_thread_stop(&d->iot);
	/* No vCPU runs any more: wait for what the disk still writes to guest RAM. */
	for (unsigned i = 0; d->q && i < d->nq; i++)
		if (d->q[i].io_ok)
			blk_queue_quiesce(&d->q[i].io);
}

static void blk_pci_destroy(struct device *dv)
{
	struct blk_pci *d = container_of(dv, struct blk_pci, dev);
	blk_pci_stop(d);
	for (unsigned i = 0; d->q && i < d->nq; i++)
		if (d->q[i].io_ok)
			blk_uring_teardown(&d->q[i].io);
	free(d->q);
	d->q = NULL;
	virtio_pci_destroy(&d->vp);
	blk_disk_close(&d->disk);
	io_thread_destroy(&d->iot);
	if (d->rl_timer_fd >= 0)
		close(d->rl_timer_fd);
	free(d);
}

static int blk_pci_pause(struct device *dv)
{
	return virtio_pci_pause(&container_of(dv, struct blk_pci, dev)->vp, BLK_PAUSE_TIMEOUT_NS);
}

static void blk_pci_resume(struct device *dv)
{
	virtio_pci_resume(&container_of(dv, struct blk_pci, dev)->vp);
}

/* One queue per vCPU. */
static struct pci_device *blk_pci_attach(struct device *dv, struct vm *vm, struct errbuf *e)
{
	struct blk_pci *d = container_of(dv, struct blk_pci, dev);
	int r = blk_pci_create(d, vm->ncpus, &vm->mem, &vm->routes, vm->vm_fd, e);
	return r ? NULL : &d->vp.pci;
}

/* Firecracker's block metrics that ember has: enum blk_counter's order,
 * then the rate limiter's (requests it made wait, its timer's wake-ups). */
static const char *const blk_metric_names[BLK_COUNTERS + 2] = {
	"read_bytes", "write_bytes", "read_count", "write_count", "flush_count",
	"invalid_reqs_count", "execute_fails", "queue_event_count",
	"rate_limiter_throttled_events", "rate_limiter_event_count",
};

static void blk_pci_metrics(struct device *dv, struct metrics_sample *s)
{
	struct blk_pci *d = container_of(dv, struct blk_pci, dev);
	s->group = "block";
	s->names = blk_metric_names;
	s->n = BLK_COUNTERS + 2;
	for (unsigned i = 0; d->q && i < d->nq; i++)
		for (unsigned k = 0; k < BLK_COUNTERS; k++)
			s->total[k] += __atomic_load_n(&d->q[i].io.counters[k], __ATOMIC_RELAXED);
	s->total[BLK_COUNTERS] = __atomic_load_n(&d->rl.throttled, __ATOMIC_RELAXED);
	s->total[BLK_COUNTERS + 1] = __atomic_load_n(&d->rl_events, __ATOMIC_RELAXED);
}

/* A new image behind the running drive: opened and checked first (a bad
 * one changes nothing), then, with the queues quiesced (the transport's
 * pause: requests in flight complete on the old image), the old image
 * synced (writes the guest was told of but has not flushed yet: its next
 * flush goes to the new image; a sync that fails keeps the old image), each
 * ring's fixed file replaced, the capacity updated under a new config
 * generation, the queues resumed and the driver told (configuration-change
 * interrupt: Linux re-reads the capacity). The old image is closed last. */
static int blk_pci_set_backing(struct device *dv, const char *path, struct errbuf *e)
{
	struct blk_pci *d = container_of(dv, struct blk_pci, dev);
	struct blk_disk nd;
	if (blk_disk_reopen(&nd, &d->disk, path, e))
		return -1;
	pthread_mutex_lock(&d->vp.lock);
	bool was_paused = d->vp.paused; /* the whole VM is paused: stay so */
	pthread_mutex_unlock(&d->vp.lock);
	if (!was_paused && virtio_pci_pause(&d->vp, BLK_PAUSE_TIMEOUT_NS)) {
		virtio_pci_resume(&d->vp);
		blk_disk_close(&nd);
		err_set(e, "%s: the drive's requests in flight did not finish within 1 s", path);
		return -1;
	}
	pthread_mutex_lock(&d->vp.lock);
	int r = 0;
	unsigned i;
	bool synced = d->disk.ro || fdatasync(d->disk.fd) == 0;
	if (!synced) {
		r = -errno;
		err_set(e, "%s: syncing the drive's image %s first: %s", path, d->path, strerror(errno));
	}
	for (i = 0; synced && i < d->nq && !r; i++)
		if (d->q[i].io_ok)
			r = blk_queue_set_file(&d->q[i].io, nd.fd);
	if (r && synced) {
		while (i-- > 0) /* back to the old image on the queues already moved */
			if (d->q[i].io_ok)
				blk_queue_set_file(&d->q[i].io, d->disk.fd);
		err_set(e, "%s: io_uring: %s", path, strerror(-r));
	} else if (!r) {
		struct blk_disk old = d->disk;
		d->disk = nd;
		nd = old; /* closed below */
		d->cfg.capacity = htole64(d->disk.size / BLK_SECTOR);
		d->vp.generation++;
		snprintf(d->path, sizeof(d->path), "%s", path);
	}
	pthread_mutex_unlock(&d->vp.lock);
	if (!was_paused)
		virtio_pci_resume(&d->vp);
	if (!r) {
		virtio_pci_config_changed(&d->vp);
		log_info("drive %s: now %s, %llu bytes", d->dev.api_id[0] ? d->dev.api_id : d->dev.id,
			 path, (unsigned long long)d->disk.size);
	}
	blk_disk_close(&nd);
	return r ? -1 : 0;
}

/* PATCH: new limits, under vp.lock; the timer fires at once so that the
 * queues held back try again. */
static int blk_pci_set_rate_limits(struct device *dv, const struct rl_update *u, unsigned n,
				   struct errbuf *e)
{
	struct blk_pci *d = container_of(dv, struct blk_pci, dev);
	if (n != 1) {
		err_set(e, "a drive has one rate limiter");
		return -1;
	}
	pthread_mutex_lock(&d->vp.lock);
	rl_update(&d->rl, u, now_ns());
	pthread_mutex_unlock(&d->vp.lock);
	rl_timer_arm(d->rl_timer_fd, 0);
	return 0;
}

/* SIGUSR1: the drive and its rate limiter (how often it made the drive
 * wait, what it let through). */
static void blk_pci_stats(struct device *dv, FILE *out)
{
	struct blk_pci *d = container_of(dv, struct blk_pci, dev);
	pthread_mutex_lock(&d->vp.lock);
	bool on = rl_on(&d->rl);
	pthread_mutex_unlock(&d->vp.lock);
	fprintf(out, "{\"device\":\"%s\",\"size\":%llu,\"rate_limiter\":{\"on\":%s,"
		     "\"throttled\":%llu,\"bytes\":%llu,\"ops\":%llu}}\n",
		dv->id, (unsigned long long)d->disk.size, on ? "true" : "false",
		(unsigned long long)__atomic_load_n(&d->rl.throttled, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&d->rl.bytes, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&d->rl.ops_done, __ATOMIC_RELAXED));
}

/* The VM is paused: every request popped was completed and used
 * (blk_queue_pause; a throttled one went back to the ring with vq_unpop), so
 * the queues' positions are all there is. A queue still holding requests
 * (the pause timed out) cannot be saved. */
static int blk_pci_save(struct device *dv, void *buf, size_t cap, size_t *len, struct errbuf *e)
{
	struct blk_pci *d = container_of(dv, struct blk_pci, dev);
	for (unsigned i = 0; i < d->nq; i++)
		if (d->q[i].io_ok && d->q[i].io.inflight) {
			err_set(e, "disk '%s': queue %u still has %u requests in flight", d->path, i,
				d->q[i].io.inflight);
			return -1;
		}
	struct virtio_pci_saved *s = malloc(sizeof(*s));
	if (!s) {
		err_set(e, "out of memory");
		return -1;
	}
	virtio_pci_state_save(&d->vp, s);
	struct codec_writer w;
	cw_begin(&w, buf, cap, BLK_STATE_MAGIC, BLK_STATE_VERSION);
	virtio_pci_state_put(&w, 1, s);
	cw_section(&w, 1 + VPCI_STATE_SECTIONS);
	pthread_mutex_lock(&d->vp.lock);
	cw_bytes(&w, &d->cfg, sizeof(d->cfg));
	pthread_mutex_unlock(&d->vp.lock);
	*len = cw_finish(&w);
	free(s);
	if (!*len) {
		err_set(e, "disk '%s': the state does not fit in %zu bytes", d->path, cap);
		return -1;
	}
	return 0;
}

/* Decoded and checked whole first (the transport against this device, the
 * disk's configuration against the reopened image), then applied; the
 * queues of a driver that was running are attached to their rings as at
 * DRIVER_OK, and start kicks them. */
static int blk_pci_restore(struct device *dv, const void *buf, size_t len, struct errbuf *e)
{
	struct blk_pci *d = container_of(dv, struct blk_pci, dev);
	struct virtio_pci_saved *s = malloc(sizeof(*s));
	if (!s) {
		err_set(e, "out of memory");
		return -1;
	}
	struct virtio_blk_config cfg;
	struct codec_reader r;
	size_t n;
	int ret = -1;
	if (cr_begin(&r, buf, len, BLK_STATE_MAGIC, BLK_STATE_VERSION, "virtio-blk state", e) ||
	    virtio_pci_state_get(&r, 1, &d->vp, s) ||
	    cr_section(&r, 1 + VPCI_STATE_SECTIONS, "disk", &n) || cr_expect(&r, n, sizeof(cfg)) ||
	    cr_bytes(&r, &cfg, sizeof(cfg)))
		goto out;
	uint64_t cap = le64toh(cfg.capacity), have = le64toh(d->cfg.capacity);
	if (cap != have) {
		cr_fail(&r, "the saved disk had %llu sectors of 512 bytes, '%s' has %llu: "
			"the guest would see another disk", (unsigned long long)cap, d->path,
			(unsigned long long)have);
		goto out;
	}
	if (memcmp(&cfg, &d->cfg, sizeof(cfg))) {
		cr_fail(&r, "the saved disk's configuration (block sizes, queues, limits) differs "
			    "from '%s' as configured now", d->path);
		goto out;
	}
	if (cr_end(&r))
		goto out;
	virtio_pci_state_apply(&d->vp, s);
	pthread_mutex_lock(&d->vp.lock);
	if (d->vp.status & VIRTIO_CONFIG_S_DRIVER_OK)
		attach_queues(d);
	d->restored = true;
	pthread_mutex_unlock(&d->vp.lock);
	ret = 0;
out:
	free(s);
	return ret;
}

static const struct device_ops blk_pci_ops = {
	.type = "virtio-blk",
	.attach = blk_pci_attach,
	.thread = &blk_io_seccomp,
	.vcpu = &blk_vcpu_seccomp,
	.main = &blk_main_seccomp,
	.set_backing = blk_pci_set_backing,
	.set_rate_limits = blk_pci_set_rate_limits,
	.start = blk_pci_start,
	.pause = blk_pci_pause,
	.resume = blk_pci_resume,
	.metrics = blk_pci_metrics,
	.stats = blk_pci_stats,
	.save = blk_pci_save,
	.restore = blk_pci_restore,
	.destroy = blk_pci_destroy,
};
