/* virtio_pci.c: the modern virtio-pci transport (see virtio_pci.h). Every
 * value the guest writes is checked before it is used, and so is every value
 * of a saved state (virtio_pci_state_*). */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "virtio/virtio_pci.h"

#define PCI_CAP_ID_VNDR 0x09

static void put_le(uint8_t *p, unsigned len, uint64_t v)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned len)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void ioeventfd(struct virtio_pci *t, unsigned qi, uint64_t bar, bool assign)
{
	if (t->vm_fd < 0 || bar == PCI_BAR_UNMAPPED)
		return;
	struct kvm_ioeventfd io = {
		.addr = bar + VPCI_NOTIFY_OFF + (uint64_t)qi * VPCI_NOTIFY_MULT,
		.len = 2,
		.fd = t->q[qi].notify_efd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};
	if (ioctl(t->vm_fd, KVM_IOEVENTFD, &io) < 0 && assign && !t->ioeventfd_warned) {
		/* The guest places the BAR, so it could repeat this at will: only
		 * the device's first failure is logged. */
		t->ioeventfd_warned = true;
		log_error("virtio-pci: KVM_IOEVENTFD at %#llx: %s (notifications will exit; "
			  "further failures of this device are not logged)",
			  (unsigned long long)io.addr, strerror(errno));
	}
}

static void vpci_bar_access(struct pci_device *dev, unsigned bar, uint64_t off, uint8_t *data,
			    unsigned len, bool write)
{
	struct virtio_pci *t = dev->opaque;
	if (bar != 0) {
		if (!write)
			memset(data, 0xff, len);
		return;
	}
	virtio_pci_bar_access(t, off, data, len, write);
}

/* Bus lock held; t->lock is not taken (lock order). */
static void vpci_bar_moved(struct pci_device *dev, unsigned bar, uint64_t old_addr,
			   uint64_t new_addr)
{
	struct virtio_pci *t = dev->opaque;
	if (bar != 0)
		return;
	for (unsigned i = 0; i < t->nq; i++) {
		ioeventfd(t, i, old_addr, false);
		ioeventfd(t, i, new_addr, true);
	}
	__atomic_store_n(&t->bar_addr, new_addr, __ATOMIC_RELEASE);
}

static void vpci_config_write(struct pci_device *dev, unsigned off, const uint8_t *data,
			      unsigned len)
{
	(void)data;
	struct virtio_pci *t = dev->opaque;
	if (t->msix_ok)
		msix_config_write(&t->msix, off, len);
}

static const struct pci_device_ops vpci_pci_ops = {
	.bar_access = vpci_bar_access,
	.bar_moved = vpci_bar_moved,
	.config_write = vpci_config_write,
};

static int add_cap(struct pci_device *dev, uint8_t type, uint32_t off, uint32_t len)
{
	struct virtio_pci_cap c = {
		.cap_vndr = PCI_CAP_ID_VNDR, .cap_len = sizeof(c), .cfg_type = type, .bar = 0,
		.offset = htole32(off), .length = htole32(len),
	};
	return pci_add_capability(dev, &c, sizeof(c)) < 0 ? -1 : 0;
}

int virtio_pci_init(struct virtio_pci *t, uint16_t virtio_id, uint32_t class_code,
		    uint64_t features, uint16_t nq, uint16_t qmax, const void *cfg,
		    uint32_t cfg_len,
		    const struct virtio_pci_ops *ops, void *ctx, const struct guest_mem *mem,
		    struct gsi_routes *routes, int vm_fd, struct errbuf *e)
{
	memset(t, 0, sizeof(*t));
	if (nq == 0 || nq > VPCI_MAX_QUEUES || qmax == 0 || qmax > VQ_MAX_SIZE ||
	    (qmax & (qmax - 1)) || cfg_len > VPCI_DEVICE_MAX || (cfg_len && !cfg)) {
		err_set(e, "virtio-pci: bad queue count, queue size or config size");
		return -1;
	}
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&t->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	t->vm_fd = vm_fd;
	t->mem = mem;
	t->ops = ops;
	t->ctx = ctx;
	t->features = features | (1ull << VIRTIO_F_VERSION_1);
	t->nq = nq;
	t->qmax = qmax;
	t->cfg = cfg;
	t->cfg_len = cfg_len;
	t->msix_config = VIRTIO_MSI_NO_VECTOR;
	t->bar_addr = PCI_BAR_UNMAPPED;
	t->q = calloc(nq, sizeof(*t->q));
	if (!t->q) {
		err_set(e, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < nq; i++) {
		t->q[i].notify_efd = -1;
		t->q[i].size = qmax;
		t->q[i].vector = VIRTIO_MSI_NO_VECTOR;
	}
	for (unsigned i = 0; i < nq; i++) {
		t->q[i].notify_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->q[i].notify_efd < 0) {
			err_set(e, "eventfd: %s", strerror(errno));
			return -1;
		}
	}
	pci_device_init(&t->pci, VPCI_VENDOR, (uint16_t)(VPCI_DEVICE_BASE + virtio_id),
			class_code, 1, &vpci_pci_ops, t);
	pci_device_set_subsystem(&t->pci, VPCI_VENDOR, 0x1100);
	if (pci_device_add_bar(&t->pci, 0, PCI_BAR_MEM32, VPCI_BAR_SIZE) ||
	    add_cap(&t->pci, VIRTIO_PCI_CAP_COMMON_CFG, VPCI_COMMON_OFF, VPCI_COMMON_LEN) ||
	    add_cap(&t->pci, VIRTIO_PCI_CAP_ISR_CFG, VPCI_ISR_OFF, 1) ||
	    (cfg_len && add_cap(&t->pci, VIRTIO_PCI_CAP_DEVICE_CFG, VPCI_DEVICE_OFF, cfg_len))) {
		err_set(e, "virtio-pci: cannot lay out the device");
		return -1;
	}
	struct virtio_pci_notify_cap n = {
		.cap = {.cap_vndr = PCI_CAP_ID_VNDR, .cap_len = sizeof(n),
			.cfg_type = VIRTIO_PCI_CAP_NOTIFY_CFG, .bar = 0,
			.offset = htole32(VPCI_NOTIFY_OFF),
			.length = htole32((uint32_t)nq * VPCI_NOTIFY_MULT)},
		.notify_off_multiplier = htole32(VPCI_NOTIFY_MULT),
	};
	if (pci_add_capability(&t->pci, &n, sizeof(n)) < 0) {
		err_set(e, "virtio-pci: cannot lay out the device");
		return -1;
	}
	if (msix_init(&t->msix, &t->pci, routes, (unsigned)nq + 1, 0, VPCI_MSIX_TABLE_OFF, 0,
		      VPCI_MSIX_PBA_OFF)) {
		err_set(e, "virtio-pci: cannot set up MSI-X (%u vectors)", nq + 1u);
		return -1;
	}
	t->msix_ok = true;
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *t)
{
	if (t->msix_ok)
		msix_destroy(&t->msix);
	t->msix_ok = false;
	for (unsigned i = 0; t->q && i < t->nq; i++)
		if (t->q[i].notify_efd >= 0)
			close(t->q[i].notify_efd);
	free(t->q);
	t->q = NULL;
}

static bool vector_ok(struct virtio_pci *t, unsigned v)
{
	return v != VIRTIO_MSI_NO_VECTOR && t->msix_ok && v < t->msix.nvec;
}

/* Queue qi interrupts: the ISR's queue bit set, and its MSI-X vector, or
 * -1 when it has none. */
static int queue_interrupt(struct virtio_pci *t, unsigned qi)
{
	if (qi >= t->nq)
		return -1;
	unsigned v = __atomic_load_n(&t->q[qi].vector, __ATOMIC_RELAXED);
	__atomic_or_fetch(&t->isr, 1, __ATOMIC_RELAXED);
	return vector_ok(t, v) ? (int)v : -1;
}

void virtio_pci_queue_notify(struct virtio_pci *t, unsigned qi)
{
	int v = queue_interrupt(t, qi);
	if (v >= 0)
		msix_notify(&t->msix, (unsigned)v);
}

int virtio_pci_queue_notify_deferred(struct virtio_pci *t, unsigned qi)
{
	int v = queue_interrupt(t, qi);
	return v >= 0 ? msix_notify_deferred(&t->msix, (unsigned)v) : -1;
}

void virtio_pci_needs_reset(struct virtio_pci *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->status & VIRTIO_CONFIG_S_DRIVER_OK || t->status & VIRTIO_CONFIG_S_FEATURES_OK) {
		t->status |= VPCI_STATUS_NEEDS_RESET;
		t->isr |= 2;
		if (vector_ok(t, t->msix_config))
			msix_notify(&t->msix, t->msix_config);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_pci_notify_cb(void *t, unsigned qi)
{
	virtio_pci_queue_notify(t, qi);
}

int virtio_pci_notify_deferred_cb(void *t, unsigned qi)
{
	return virtio_pci_queue_notify_deferred(t, qi);
}

void virtio_pci_needs_reset_cb(void *t)
{
	virtio_pci_needs_reset(t);
}

void virtio_pci_config_changed(struct virtio_pci *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->status & VIRTIO_CONFIG_S_DRIVER_OK) {
		t->isr |= 2;
		if (vector_ok(t, t->msix_config))
			msix_notify(&t->msix, t->msix_config);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_pci_kick_all(struct virtio_pci *t)
{
	for (unsigned i = 0; i < t->nq; i++) {
		if (!t->q[i].enabled)
			continue;
		uint64_t one = 1;
		ssize_t r = write(t->q[i].notify_efd, &one, sizeof(one));
		(void)r;
	}
}

int virtio_pci_io_thread_open(struct virtio_pci *t, struct io_thread *iot, uint64_t tag_base,
			      uint64_t tag_stride, struct errbuf *e)
{
	if (io_thread_open(iot, e))
		return -1;
	for (unsigned i = 0; i < t->nq; i++) {
		if (io_thread_add(iot, t->q[i].notify_efd, tag_base + tag_stride * i)) {
			err_set(e, "I/O thread: epoll_ctl: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

int virtio_pci_pause(struct virtio_pci *t, uint64_t timeout_ns)
{
	uint64_t deadline = now_ns() + timeout_ns;
	pthread_mutex_lock(&t->lock);
	t->paused = true;
	int r = t->ops && t->ops->pause ? t->ops->pause(t->ctx, deadline) : 0;
	pthread_mutex_unlock(&t->lock);
	return r;
}

void virtio_pci_resume(struct virtio_pci *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->paused) {
		if (t->ops && t->ops->resume)
			t->ops->resume(t->ctx);
		t->paused = false;
		if (t->status & VIRTIO_CONFIG_S_DRIVER_OK)
			virtio_pci_kick_all(t);
	}
	pthread_mutex_unlock(&t->lock);
}

static void reset(struct virtio_pci *t)
{
	if (t->ops && t->ops->reset)
		t->ops->reset(t->ctx);
	for (unsigned i = 0; i < t->nq; i++) {
		struct vpci_queue *q = &t->q[i];
		vq_disable(&q->vq);
		memset(&q->vq, 0, sizeof(q->vq));
		q->size = t->qmax;
		q->vector = VIRTIO_MSI_NO_VECTOR;
		q->enabled = false;
		q->desc = q->avail = q->used = 0;
	}
	t->driver_features = 0;
	t->dfsel = t->gfsel = 0;
	t->status = 0;
	t->isr = 0;
	t->msix_config = VIRTIO_MSI_NO_VECTOR;
	t->queue_sel = 0;
	t->generation++;
}

static void set_status(struct virtio_pci *t, uint8_t v)
{
	if (v == 0) {
		reset(t);
		return;
	}
	uint8_t old = t->status;
	uint8_t nv = (uint8_t)((v & ~VPCI_STATUS_NEEDS_RESET) | (old & VPCI_STATUS_NEEDS_RESET));
	/* Bits only go on until reset (the driver may not clear them). */
	nv |= old;
	if ((nv & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		bool ok = !(t->driver_features & ~t->features) &&
			  virtio_pci_has(t, VIRTIO_F_VERSION_1);
		if (!ok)
			nv &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	if ((nv & VIRTIO_CONFIG_S_DRIVER_OK) && !(nv & VIRTIO_CONFIG_S_FEATURES_OK))
		nv &= (uint8_t)~VIRTIO_CONFIG_S_DRIVER_OK; /* no driving without features */
	t->status = nv;
	if ((nv & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK) && t->ops &&
	    t->ops->activate)
		t->ops->activate(t->ctx);
}

static struct vpci_queue *sel_queue(struct virtio_pci *t)
{
	return t->queue_sel < t->nq ? &t->q[t->queue_sel] : NULL;
}

/* vq from what the driver programmed into qs: 0, or -1 when vq_enable()
 * refuses the rings (vq then not ready). A guest's enable and a restore
 * both come here. */
static int queue_setup(const struct guest_mem *mem, uint64_t driver_features,
		       const struct vpci_queue_state *qs, struct virtqueue *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	vq->size = qs->size;
	vq->desc_gpa = qs->desc;
	vq->avail_gpa = qs->avail;
	vq->used_gpa = qs->used;
	vq->event_idx = (driver_features >> VIRTIO_RING_F_EVENT_IDX) & 1;
	vq->indirect = (driver_features >> VIRTIO_RING_F_INDIRECT_DESC) & 1;
	return vq_enable(vq);
}

static void queue_enable(struct virtio_pci *t, struct vpci_queue *q)
{
	if (q->enabled || !(t->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return;
	if (queue_setup(t->mem, t->driver_features, &q->state, &q->vq) < 0) {
		virtio_pci_needs_reset(t);
		return;
	}
	q->enabled = true;
}

static void common_read(struct virtio_pci *t, uint64_t off, uint8_t *data, unsigned len)
{
	uint8_t c[VPCI_COMMON_LEN];
	memset(c, 0, sizeof(c));
	put_le(c + 0, 4, t->dfsel);
	put_le(c + 4, 4, t->dfsel < 2 ? (uint32_t)(t->features >> (32 * t->dfsel)) : 0);
	put_le(c + 8, 4, t->gfsel);
	put_le(c + 12, 4, t->gfsel < 2 ? (uint32_t)(t->driver_features >> (32 * t->gfsel)) : 0);
	put_le(c + 16, 2, t->msix_config);
	put_le(c + 18, 2, t->nq);
	c[20] = t->status;
	c[21] = t->generation;
	put_le(c + 22, 2, t->queue_sel);
	struct vpci_queue *q = sel_queue(t);
	if (q) {
		put_le(c + 24, 2, q->size);
		put_le(c + 26, 2, q->vector);
		put_le(c + 28, 2, q->enabled);
		put_le(c + 30, 2, t->queue_sel);
		put_le(c + 32, 8, q->desc);
		put_le(c + 40, 8, q->avail);
		put_le(c + 48, 8, q->used);
	} else {
		put_le(c + 26, 2, VIRTIO_MSI_NO_VECTOR);
	}
	for (unsigned i = 0; i < len; i++)
		data[i] = off + i < sizeof(c) ? c[off + i] : 0;
}

static void set_half(uint64_t *v, unsigned shift, unsigned len, uint64_t val)
{
	uint64_t mask = len == 8 ? UINT64_MAX : ((1ull << (8 * len)) - 1) << shift;
	*v = (*v & ~mask) | ((val << shift) & mask);
}

static void common_write(struct virtio_pci *t, uint64_t off, const uint8_t *data, unsigned len)
{
	uint64_t v = get_le(data, len);
	struct vpci_queue *q = sel_queue(t);
	switch (off) {
	case 0:
		if (len == 4)
			t->dfsel = (uint32_t)v;
		return;
	case 8:
		if (len == 4)
			t->gfsel = (uint32_t)v;
		return;
	case 12:
		if (len == 4 && t->gfsel < 2 && !(t->status & VIRTIO_CONFIG_S_FEATURES_OK))
			set_half(&t->driver_features, 32 * t->gfsel, 4, v);
		return;
	case 16:
		if (len == 2)
			t->msix_config = vector_ok(t, (unsigned)v) ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		return;
	case 20:
		if (len == 1)
			set_status(t, (uint8_t)v);
		return;
	case 22:
		if (len == 2)
			t->queue_sel = (uint16_t)v; /* checked on every use */
		return;
	case 24:
		if (len == 2 && q && !q->enabled && v >= 1 && v <= t->qmax && !(v & (v - 1)))
			q->size = (uint16_t)v;
		return;
	case 26:
		if (len == 2 && q)
			q->vector = vector_ok(t, (unsigned)v) ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		return;
	case 28:
		if (len == 2 && q && v == 1)
			queue_enable(t, q);
		return;
	}
	if (off >= 32 && off < 56 && q && !q->enabled && (len == 4 || len == 8) &&
	    (off % len) == 0) {
		uint64_t *f = off < 40 ? &q->desc : off < 48 ? &q->avail : &q->used;
		set_half(f, (unsigned)(off % 8) * 8, len, v);
	}
}

void virtio_pci_bar_access(struct virtio_pci *t, uint64_t off, uint8_t *data, unsigned len,
			   bool is_write)
{
	if (len == 0 || len > 8)
		return;
	if (t->msix_ok && msix_bar_access(&t->msix, 0, off, data, len, is_write))
		return;
	if (!is_write)
		memset(data, 0, len);
	if (off >= VPCI_BAR_SIZE || len > VPCI_BAR_SIZE - off)
		return;
	pthread_mutex_lock(&t->lock);
	if (off < VPCI_COMMON_OFF + VPCI_COMMON_LEN) {
		if (is_write)
			common_write(t, off, data, len);
		else
			common_read(t, off, data, len);
	} else if (off == VPCI_ISR_OFF) {
		if (!is_write) {
			data[0] = t->isr;
			t->isr = 0; /* reading clears */
		}
	} else if (off >= VPCI_DEVICE_OFF && off < VPCI_DEVICE_OFF + t->cfg_len) {
		uint32_t o = (uint32_t)(off - VPCI_DEVICE_OFF);
		unsigned n = len <= t->cfg_len - o ? len : t->cfg_len - o;
		if (!is_write)
			memcpy(data, t->cfg + o, n);
	} else if (off >= VPCI_NOTIFY_OFF &&
		   off < VPCI_NOTIFY_OFF + (uint64_t)t->nq * VPCI_NOTIFY_MULT) {
		/* A notify the ioeventfd did not catch (other width, no KVM). */
		unsigned qi = (unsigned)((off - VPCI_NOTIFY_OFF) / VPCI_NOTIFY_MULT);
		if (is_write) {
			uint64_t one = 1;
			ssize_t r = write(t->q[qi].notify_efd, &one, sizeof(one));
			(void)r;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

/* ---- Saved state ---- */

#define CM(m) CODEC_FIELD(struct vpci_state, m)
static const struct codec_field common_f[] = {
	CM(features), CM(driver_features), CM(dfsel), CM(gfsel), CM(status), CM(generation),
	CM(isr), CM(msix_config), CM(queue_sel),
};
#define SQ(m) CODEC_FIELD(struct vpci_saved_queue, m)
static const struct codec_field queue_f[] = {
	SQ(q.desc), SQ(q.avail), SQ(q.used), SQ(q.size), SQ(q.vector), SQ(q.enabled),
	SQ(last_avail), SQ(used_idx), SQ(signalled_used), SQ(signalled_valid),
};
static const struct codec_layout common_l = CODEC_LAYOUT(common_f), queue_l = CODEC_LAYOUT(queue_f);

void virtio_pci_state_save(struct virtio_pci *t, struct virtio_pci_saved *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&t->lock);
	s->common = t->state;
	s->nq = t->nq;
	for (unsigned i = 0; i < t->nq; i++) {
		const struct vpci_queue *q = &t->q[i];
		struct vpci_saved_queue *sq = &s->q[i];
		sq->q = q->state;
		if (q->enabled) {
			sq->last_avail = q->vq.last_avail;
			sq->used_idx = q->vq.used_idx;
			sq->signalled_used = q->vq.signalled_used;
			sq->signalled_valid = q->vq.signalled_valid;
		}
	}
	pthread_mutex_unlock(&t->lock);
	if (t->msix_ok)
		msix_state_save(&t->msix, &s->msix);
	pci_config_state_save(&t->pci, &s->pci);
}

void virtio_pci_state_put(struct codec_writer *w, uint16_t first_tag,
			  const struct virtio_pci_saved *s)
{
	unsigned nq = s->nq <= VPCI_MAX_QUEUES ? s->nq : VPCI_MAX_QUEUES;
	pci_config_state_put(w, first_tag, &s->pci);
	msix_state_put(w, (uint16_t)(first_tag + 1), &s->msix);
	cw_section(w, (uint16_t)(first_tag + 2));
	cw_struct(w, &s->common, &common_l);
	cw_section(w, (uint16_t)(first_tag + 3));
	cw_u32(w, nq);
	for (unsigned i = 0; i < nq; i++)
		cw_struct(w, &s->q[i], &queue_l);
}

static bool saved_vector_ok(const struct virtio_pci *t, unsigned v)
{
	return v == VIRTIO_MSI_NO_VECTOR || (t->msix_ok && v < t->msix.nvec);
}

#define STATUS_BITS (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | \
		     VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK | \
		     VPCI_STATUS_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)

static int common_check(struct codec_reader *r, const struct virtio_pci *t,
			const struct vpci_state *c)
{
	if (c->features != t->features)
		return cr_fail(r, "the saved device offered features %#llx, this one offers %#llx",
			       (unsigned long long)c->features, (unsigned long long)t->features);
	if (c->driver_features & ~t->features)
		return cr_fail(r, "accepted features %#llx were not offered",
			       (unsigned long long)(c->driver_features & ~t->features));
	if (c->status & ~STATUS_BITS)
		return cr_fail(r, "device status %#x has unknown bits", c->status);
	if ((c->status & VIRTIO_CONFIG_S_DRIVER_OK) && !(c->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return cr_fail(r, "device status %#x: DRIVER_OK without FEATURES_OK", c->status);
	if ((c->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !((c->driver_features >> VIRTIO_F_VERSION_1) & 1))
		return cr_fail(r, "device status %#x: FEATURES_OK without VERSION_1", c->status);
	if (c->isr & ~3u)
		return cr_fail(r, "ISR %#x has bits other than 0 and 1", c->isr);
	if (!saved_vector_ok(t, c->msix_config))
		return cr_fail(r, "config vector %u is outside the MSI-X table", c->msix_config);
	return 0;
}

static int queue_check(struct codec_reader *r, const struct virtio_pci *t,
		       const struct vpci_state *c, unsigned i, const struct vpci_saved_queue *sq)
{
	const struct vpci_queue_state *q = &sq->q;
	if (q->size == 0 || q->size > t->qmax || (q->size & (q->size - 1)))
		return cr_fail(r, "queue %u: size %u (a power of two up to %u)", i, q->size, t->qmax);
	if (!saved_vector_ok(t, q->vector))
		return cr_fail(r, "queue %u: vector %u is outside the MSI-X table", i, q->vector);
	if (q->enabled > 1)
		return cr_fail(r, "queue %u: enable %u", i, q->enabled);
	if (!q->enabled) {
		if (sq->last_avail || sq->used_idx || sq->signalled_used || sq->signalled_valid)
			return cr_fail(r, "queue %u: not enabled but has a ring position", i);
		return 0;
	}
	if (!(c->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return cr_fail(r, "queue %u: enabled without FEATURES_OK", i);
	if (sq->signalled_valid > 1)
		return cr_fail(r, "queue %u: signalled_valid %u", i, sq->signalled_valid);
	if (sq->last_avail != sq->used_idx)
		return cr_fail(r, "queue %u: %u chains in flight (next avail %u, next used %u)", i,
			       (uint16_t)(sq->last_avail - sq->used_idx), sq->last_avail,
			       sq->used_idx);
	/* The rings as a guest's enable checks them, with the saved features. */
	struct virtqueue vq;
	if (queue_setup(t->mem, c->driver_features, q, &vq) < 0)
		return cr_fail(r, "queue %u: rings at desc %#llx avail %#llx used %#llx (size %u) "
			       "are not aligned or not in guest RAM", i, (unsigned long long)q->desc,
			       (unsigned long long)q->avail, (unsigned long long)q->used, q->size);
	return 0;
}

int virtio_pci_state_get(struct codec_reader *r, uint16_t first_tag, const struct virtio_pci *t,
			 struct virtio_pci_saved *s)
{
	size_t n;
	memset(s, 0, sizeof(*s));
	if (pci_config_state_get(r, first_tag, &t->pci, &s->pci))
		return -1;
	if (t->msix_ok) {
		if (msix_state_get(r, (uint16_t)(first_tag + 1), &t->msix, &s->msix))
			return -1;
		/* The control register is in both: they must agree. */
		uint32_t ctrl = get_le16(s->pci.cfg + t->msix.cap + 2);
		if (!!(ctrl & MSIX_CTRL_ENABLE) != s->msix.st.enabled ||
		    !!(ctrl & MSIX_CTRL_FMASK) != s->msix.st.fmask)
			return cr_fail(r, "MSI-X control %#x in config space disagrees with the table's",
				       ctrl);
	}
	if (cr_section(r, (uint16_t)(first_tag + 2), "common config", &n) ||
	    cr_expect(r, n, codec_layout_bytes(&common_l)) || cr_struct(r, &s->common, &common_l) ||
	    common_check(r, t, &s->common))
		return -1;
	if (cr_section(r, (uint16_t)(first_tag + 3), "queues", &n) || cr_u32(r, &s->nq))
		return -1;
	if (s->nq != t->nq)
		return cr_fail(r, "%u queues saved, the device has %u", s->nq, t->nq);
	if (cr_expect(r, n, 4 + (size_t)s->nq * codec_layout_bytes(&queue_l)))
		return -1;
	for (unsigned i = 0; i < s->nq; i++)
		if (cr_struct(r, &s->q[i], &queue_l) || queue_check(r, t, &s->common, i, &s->q[i]))
			return -1;
	return 0;
}

void virtio_pci_state_apply(struct virtio_pci *t, const struct virtio_pci_saved *s)
{
	if (t->msix_ok)
		msix_state_apply(&t->msix, &s->msix);
	pthread_mutex_lock(&t->lock);
	t->state = s->common;
	for (unsigned i = 0; i < t->nq; i++) {
		struct vpci_queue *q = &t->q[i];
		const struct vpci_saved_queue *sq = &s->q[i];
		vq_disable(&q->vq);
		memset(&q->vq, 0, sizeof(q->vq));
		q->state = sq->q;
		q->enabled = false;
		if (!sq->q.enabled)
			continue;
		if (queue_setup(t->mem, t->driver_features, &q->state, &q->vq) < 0) {
			/* _get checked them: only when guest memory changed since */
			virtio_pci_needs_reset(t);
			continue;
		}
		q->enabled = true;
		q->vq.last_avail = sq->last_avail;
		q->vq.used_idx = sq->used_idx;
		q->vq.signalled_used = sq->signalled_used;
		q->vq.signalled_valid = sq->signalled_valid;
	}
	pthread_mutex_unlock(&t->lock);
	pci_config_state_apply(&t->pci, &s->pci);
}

size_t virtio_pci_state_encode(const struct virtio_pci_saved *s, uint8_t *buf, size_t cap)
{
	struct codec_writer w;
	cw_begin(&w, buf, cap, VPCI_STATE_MAGIC, VPCI_STATE_VERSION);
	virtio_pci_state_put(&w, 1, s);
	return cw_finish(&w);
}

int virtio_pci_state_decode(const uint8_t *buf, size_t len, const struct virtio_pci *t,
			    struct virtio_pci_saved *s, struct errbuf *err)
{
	struct codec_reader r;
	if (cr_begin(&r, buf, len, VPCI_STATE_MAGIC, VPCI_STATE_VERSION, "virtio-pci state", err) ||
	    virtio_pci_state_get(&r, 1, t, s) || cr_end(&r)) {
		memset(s, 0, sizeof(*s));
		return -1;
	}
	return 0;
}
