/* test_virtio_pci.c: the virtio-pci transport (virtio_pci.c) with fake KVM
 * ops and a gm_wrap'd guest: identity and capabilities in config space,
 * feature negotiation (FEATURES_OK refused for unoffered bits or without
 * VERSION_1), queue_select bound checks, queue_size and vector validation,
 * queue enable (good rings; bad rings -> DEVICE_NEEDS_RESET), device config
 * reads (the transport answers them from the device's bytes) bounded by its
 * length, read-only, activate/reset callbacks, queue kicks reaching an I/O
 * thread with the device's tags, pause and resume (the back-end's hooks, not
 * serving while paused, each enabled queue kicked once on resume), and
 * hostile accesses anywhere in the BAR; the transport's saved state: a
 * driver's device (DRIVER_OK, queues at non-zero positions, MSI-X
 * programmed, BAR moved) saved and restored into a fresh one reads the same
 * in every register and serves its next request at the right index and
 * vector; truncated, flipped, other-version and out-of-range states are
 * refused and change nothing. A KVM_IOEVENTFD that fails (the guest can make
 * it fail again and again by moving the BAR) is logged once per device, and
 * the BAR's address is still followed. */
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "virtio/blk/blk_seccomp.h"
#include "virtio/virtio_pci.h"
#include "vmm/core/snapshot_file.h"
#include "vmm/lib/log.h"

static int fake_routing(void *ctx, const struct kvm_irq_routing *t) { (void)ctx, (void)t; return 0; }
static int fake_irqfd(void *ctx, const struct kvm_irqfd *f) { (void)ctx, (void)f; return 0; }
static const struct gsi_ops fake_ops = {fake_routing, fake_irqfd};

#define RAM MiB(4)
static uint8_t *ram;
static struct guest_mem gm;
static struct gsi_routes routes;
static struct virtio_pci t;
static unsigned activations, resets, pauses, resumes;
static int pause_result;
static const uint8_t devcfg[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

static void on_activate(void *ctx) { (void)ctx; activations++; }
static void on_reset(void *ctx) { (void)ctx; resets++; }
static int on_pause(void *ctx, uint64_t deadline)
{
	(void)ctx;
	pauses += deadline > now_ns(); /* a deadline in the future */
	return pause_result;
}
static void on_resume(void *ctx) { (void)ctx; resumes++; }
static const struct virtio_pci_ops ops = {on_activate, on_reset, on_pause, on_resume};

#define OFFERED ((1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << 9))

static void setup(void)
{
	memset(ram, 0, RAM);
	gm_wrap(&gm, ram, RAM);
	CHECK_EQ(gsi_routes_init(&routes, &fake_ops, NULL, false), 0);
	struct errbuf e;
	activations = resets = pauses = resumes = 0;
	pause_result = 0;
	CHECK_EQ(virtio_pci_init(&t, 2, 0x018000, OFFERED, 3, 256, devcfg, sizeof(devcfg), &ops,
				 NULL, &gm, &routes, -1, &e), 0);
}

static void teardown(void)
{
	virtio_pci_destroy(&t);
	gsi_routes_destroy(&routes);
}

static uint64_t rd(uint64_t off, unsigned len)
{
	uint8_t b[8] = {0};
	virtio_pci_bar_access(&t, off, b, len, false);
	uint64_t v = 0;
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void wr(uint64_t off, unsigned len, uint64_t v)
{
	uint8_t b[8];
	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	virtio_pci_bar_access(&t, off, b, len, true);
}

static void identity_and_caps(void)
{
	setup();
	CHECK_EQ(pci_config_get(&t.pci, PCI_VENDOR_ID, 2), 0x1af4);
	CHECK_EQ(pci_config_get(&t.pci, PCI_DEVICE_ID, 2), 0x1042);
	CHECK_EQ(pci_config_get(&t.pci, PCI_REVISION_ID, 1), 1);
	CHECK_EQ(pci_config_get(&t.pci, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	unsigned seen = 0, mult = 0;
	for (unsigned p = pci_config_get(&t.pci, PCI_CAPABILITY_LIST, 1), n = 0; p && n < 48;
	     p = pci_config_get(&t.pci, p + 1, 1), n++) {
		if (pci_config_get(&t.pci, p, 1) == 0x09) {
			unsigned type = pci_config_get(&t.pci, p + 3, 1);
			seen |= 1u << type;
			CHECK_EQ(pci_config_get(&t.pci, p + 4, 1), 0); /* BAR 0 */
			if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
				mult = pci_config_get(&t.pci, p + 16, 4);
		}
	}
	CHECK_EQ(seen, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4));
	CHECK_EQ(mult, VPCI_NOTIFY_MULT);
	CHECK_EQ(rd(18, 2), 3); /* num_queues */
	teardown();
}

static void features(void)
{
	setup();
	wr(0, 4, 1);
	CHECK_EQ(rd(4, 4), 1); /* VERSION_1 is bit 32 */
	wr(0, 4, 7);
	CHECK_EQ(rd(4, 4), 0);
	/* unoffered bit: refused */
	wr(20, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(8, 4, 0); wr(12, 4, 1u << 3);
	wr(8, 4, 1); wr(12, 4, 1);
	wr(20, 1, 0x0b);
	CHECK(!(rd(20, 1) & VIRTIO_CONFIG_S_FEATURES_OK));
	/* DRIVER_OK without FEATURES_OK does nothing */
	wr(20, 1, 0x0f);
	CHECK_EQ(activations, 0);
	wr(20, 1, 0);
	CHECK_EQ(resets, 1);
	CHECK_EQ(rd(20, 1), 0);
	/* without VERSION_1: refused */
	wr(20, 1, 3);
	wr(8, 4, 0); wr(12, 4, 1u << 9);
	wr(20, 1, 0x0b);
	CHECK(!(rd(20, 1) & VIRTIO_CONFIG_S_FEATURES_OK));
	wr(20, 1, 0);
	/* good */
	wr(20, 1, 3);
	wr(8, 4, 0); wr(12, 4, (1u << 9) | (1u << VIRTIO_RING_F_EVENT_IDX));
	wr(8, 4, 1); wr(12, 4, 1);
	wr(20, 1, 0x0b);
	CHECK(rd(20, 1) & VIRTIO_CONFIG_S_FEATURES_OK);
	CHECK(virtio_pci_has(&t, VIRTIO_F_VERSION_1));
	wr(20, 1, 0x0f);
	CHECK_EQ(activations, 1);
	teardown();
}

static void negotiate(void)
{
	wr(20, 1, 3);
	wr(8, 4, 1); wr(12, 4, 1);
	wr(20, 1, 0x0b);
}

static void queues(void)
{
	setup();
	negotiate();
	/* out-of-range select: reads 0, writes ignored */
	wr(22, 2, 3);
	CHECK_EQ(rd(24, 2), 0);
	CHECK_EQ(rd(26, 2), VIRTIO_MSI_NO_VECTOR);
	wr(24, 2, 16);
	wr(28, 2, 1);
	wr(22, 2, 0xffff);
	CHECK_EQ(rd(24, 2), 0);
	/* size: power of two <= 256 */
	wr(22, 2, 1);
	CHECK_EQ(rd(24, 2), 256);
	wr(24, 2, 100);
	CHECK_EQ(rd(24, 2), 256);
	wr(24, 2, 512);
	CHECK_EQ(rd(24, 2), 256);
	wr(24, 2, 0);
	CHECK_EQ(rd(24, 2), 256);
	wr(24, 2, 64);
	CHECK_EQ(rd(24, 2), 64);
	CHECK_EQ(rd(30, 2), 1); /* queue_notify_off */
	/* vectors: 0..3 valid (3 queues + config), else NO_VECTOR */
	wr(26, 2, 3);
	CHECK_EQ(rd(26, 2), 3);
	wr(26, 2, 4);
	CHECK_EQ(rd(26, 2), VIRTIO_MSI_NO_VECTOR);
	wr(16, 2, 0);
	CHECK_EQ(rd(16, 2), 0);
	wr(16, 2, 1000);
	CHECK_EQ(rd(16, 2), VIRTIO_MSI_NO_VECTOR);
	/* rings outside RAM: enable fails, NEEDS_RESET */
	wr(32, 4, 0xfffff000); wr(36, 4, 0);
	wr(40, 8, 0x10000); wr(48, 4, 0x20000); wr(52, 4, 0);
	CHECK_EQ(rd(32, 8), 0xfffff000);
	CHECK_EQ(rd(40, 8), 0x10000);
	wr(28, 2, 1);
	CHECK_EQ(rd(28, 2), 0);
	CHECK(rd(20, 1) & VPCI_STATUS_NEEDS_RESET);
	/* reset clears it; good rings enable */
	wr(20, 1, 0);
	CHECK_EQ(rd(20, 1), 0);
	negotiate();
	wr(22, 2, 2);
	wr(24, 2, 64);
	wr(32, 8, 0x1000); wr(40, 8, 0x2000); wr(48, 8, 0x3000);
	wr(28, 2, 1);
	CHECK_EQ(rd(28, 2), 1);
	CHECK(t.q[2].vq.ready);
	CHECK(!t.q[2].vq.event_idx); /* not negotiated */
	/* addresses cannot change while enabled */
	wr(32, 8, 0x5000);
	CHECK_EQ(rd(32, 8), 0x1000);
	wr(20, 1, 0);
	CHECK(!t.q[2].enabled);
	CHECK_EQ(rd(32, 8), 0);
	teardown();
}

static void device_config_and_hostile(void)
{
	setup();
	CHECK_EQ(rd(VPCI_DEVICE_OFF, 4), 0x04030201);
	CHECK_EQ(rd(VPCI_DEVICE_OFF + 8, 4), 0x0a09); /* bounded to 10 bytes */
	CHECK_EQ(rd(VPCI_DEVICE_OFF + 10, 4), 0);
	wr(VPCI_DEVICE_OFF, 4, 0xffffffff); /* read-only */
	CHECK_EQ(rd(VPCI_DEVICE_OFF, 4), 0x04030201);
	/* every offset, every size: no crash, no write outside */
	for (uint64_t off = 0; off < VPCI_BAR_SIZE + 16; off += 1)
		for (unsigned len = 1; len <= 8; len *= 2) {
			rd(off, len);
			if (off != 20 && !(off >= 0x4000 && off < 0x6000)) /* not status, MSI-X */
				wr(off, len, 0xffffffffffffffffull);
		}
	rd(UINT64_MAX - 3, 8);
	wr(UINT64_MAX - 3, 8, 0);
	teardown();
}

/* virtio_pci_io_thread_open: each queue's kick wakes the I/O thread with
 * the tag base + stride * queue. */
static pthread_mutex_t kick_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t kick_tags[8];
static unsigned nkicks;

static void on_kicks(void *ctx, const uint64_t *tags, unsigned n)
{
	(void)ctx;
	pthread_mutex_lock(&kick_lock);
	for (unsigned i = 0; i < n; i++) {
		uint64_t v;
		unsigned qi = (unsigned)((tags[i] - 5) / 3);
		if (qi < t.nq) {
			ssize_t r = read(t.q[qi].notify_efd, &v, sizeof(v)); /* level-triggered */
			(void)r;
		}
		if (nkicks < 8)
			kick_tags[nkicks++] = tags[i];
	}
	pthread_mutex_unlock(&kick_lock);
}

static unsigned kicks_seen(unsigned want)
{
	for (unsigned ms = 0; ms < 5000; ms++) {
		pthread_mutex_lock(&kick_lock);
		unsigned n = nkicks;
		pthread_mutex_unlock(&kick_lock);
		if (n >= want)
			return n;
		usleep(1000);
	}
	return 0;
}

static void queue_kicks_tagged(void)
{
	setup();
	struct io_thread iot;
	struct errbuf e;
	io_thread_init(&iot);
	nkicks = 0;
	CHECK_EQ(virtio_pci_io_thread_open(&t, &iot, 5, 3, &e), 0);
	/* seccomp_setup() was not called: filters are off */
	CHECK_EQ(io_thread_start(&iot, "test-vpci", &blk_io_seccomp, on_kicks, NULL, &e), 0);
	wr(VPCI_NOTIFY_OFF + 2 * VPCI_NOTIFY_MULT, 2, 2); /* no KVM: the BAR write kicks */
	CHECK_EQ(kicks_seen(1), 1u);
	CHECK_EQ(kick_tags[0], 5 + 3 * 2);
	wr(VPCI_NOTIFY_OFF, 2, 0);
	CHECK_EQ(kicks_seen(2), 2u);
	CHECK_EQ(kick_tags[1], 5);
	io_thread_destroy(&iot);
	teardown();
}

static uint64_t kicks_of(unsigned qi)
{
	uint64_t v = 0;
	if (read(t.q[qi].notify_efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void pause_and_resume(void)
{
	setup();
	negotiate();
	wr(22, 2, 2);
	wr(32, 8, 0x1000); wr(40, 8, 0x2000); wr(48, 8, 0x3000);
	wr(28, 2, 1);
	wr(20, 1, 0x0f); /* DRIVER_OK */
	CHECK(virtio_pci_serving(&t));
	for (unsigned i = 0; i < 3; i++)
		kicks_of(i); /* activation's own kicks */
	CHECK_EQ(virtio_pci_pause(&t, 1000000000ull), 0);
	CHECK_EQ(pauses, 1);
	CHECK(!virtio_pci_serving(&t));
	virtio_pci_resume(&t);
	CHECK_EQ(resumes, 1);
	CHECK(virtio_pci_serving(&t));
	CHECK_EQ(kicks_of(2), 1); /* the enabled queue, once */
	CHECK_EQ(kicks_of(0), 0);
	CHECK_EQ(kicks_of(1), 0);
	virtio_pci_resume(&t); /* not paused: nothing */
	CHECK_EQ(resumes, 1);
	CHECK_EQ(kicks_of(2), 0);
	pause_result = -1; /* the back-end could not finish: reported */
	CHECK_EQ(virtio_pci_pause(&t, 1000000000ull), -1);
	CHECK(!virtio_pci_serving(&t));
	virtio_pci_resume(&t);
	CHECK(virtio_pci_serving(&t));
	teardown();
}

/* A device configuration length without the bytes is refused. */
static void config_needs_its_bytes(void)
{
	struct errbuf e;
	CHECK_EQ(gsi_routes_init(&routes, &fake_ops, NULL, false), 0);
	CHECK_EQ(virtio_pci_init(&t, 2, 0x018000, OFFERED, 3, 256, NULL, 4, &ops, NULL, &gm,
				 &routes, -1, &e), -1);
	teardown();
}

/* ---- saved state ---- */

/* A driver's device: VERSION_1 and EVENT_IDX, queue 1 of 64 entries with
 * vector 2, queue 2 left off, config vector 0, MSI-X on with vector 2
 * unmasked, DRIVER_OK, then n chains made available, popped and used. */
static void drive(unsigned n)
{
	wr(20, 1, 3);
	wr(8, 4, 0); wr(12, 4, 1u << VIRTIO_RING_F_EVENT_IDX);
	wr(8, 4, 1); wr(12, 4, 1);
	wr(20, 1, 0x0b);
	wr(16, 2, 0);
	wr(22, 2, 1);
	wr(24, 2, 64);
	wr(26, 2, 2);
	wr(32, 8, 0x1000); wr(40, 8, 0x2000); wr(48, 8, 0x3000);
	wr(28, 2, 1);
	wr(22, 2, 2);
	wr(24, 2, 32);
	wr(20, 1, 0x0f);
	/* MSI-X: vector 2's entry, unmasked, enabled in the capability */
	wr(VPCI_MSIX_TABLE_OFF + 2 * 16, 4, 0xfee00000);
	wr(VPCI_MSIX_TABLE_OFF + 2 * 16 + 8, 4, 0x41);
	wr(VPCI_MSIX_TABLE_OFF + 2 * 16 + 12, 4, 0);
	pci_config_set(&t.pci, t.msix.cap + 2, 2, MSIX_CTRL_ENABLE | (t.msix.nvec - 1));
	msix_config_write(&t.msix, t.msix.cap + 2, 2);
	/* command and interrupt line as a guest sets them */
	pci_config_set(&t.pci, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	pci_config_set(&t.pci, PCI_INTERRUPT_LINE, 1, 11);
	/* n one-descriptor chains, each popped and used */
	struct vring_desc *d = (struct vring_desc *)(ram + 0x1000);
	struct vring_avail *a = (struct vring_avail *)(ram + 0x2000);
	static struct vq_chain c;
	for (unsigned i = 0; i < n; i++) {
		d[i % 64].addr = 0x10000 + 64 * (i % 64);
		d[i % 64].len = 64;
		d[i % 64].flags = VRING_DESC_F_WRITE;
		a->ring[i % 64] = (uint16_t)(i % 64);
		a->idx = (uint16_t)(i + 1);
		if (vq_pop(&t.q[1].vq, &c) != 1)
			return;
		vq_push(&t.q[1].vq, c.head, 8);
		vq_should_notify(&t.q[1].vq);
	}
}

static uint8_t blob[64 * 1024], blob2[64 * 1024];
static struct virtio_pci_saved sv, sv2;

static size_t save_t(void)
{
	virtio_pci_state_save(&t, &sv);
	return virtio_pci_state_encode(&sv, blob, sizeof(blob));
}

/* Every common-config register and MSI-X table byte, queue by queue. */
static void regs(uint8_t *out, size_t *n)
{
	*n = 0;
	for (unsigned q = 0; q < 3; q++) {
		wr(22, 2, q);
		for (unsigned off = 0; off < VPCI_COMMON_LEN; off += 2) {
			if (off == 22)
				continue;
			uint64_t v = rd(off, 2);
			out[(*n)++] = (uint8_t)v;
			out[(*n)++] = (uint8_t)(v >> 8);
		}
	}
	for (unsigned off = 0; off < 4 * 16; off += 4) {
		uint64_t v = rd(VPCI_MSIX_TABLE_OFF + off, 4);
		memcpy(out + *n, &v, 4);
		*n += 4;
	}
	for (unsigned off = 0; off < 0x40; off += 4) {
		uint32_t v = pci_config_get(&t.pci, off, 4);
		memcpy(out + *n, &v, 4);
		*n += 4;
	}
	for (unsigned off = t.msix.cap; off < t.msix.cap + 4; off++)
		out[(*n)++] = (uint8_t)pci_config_get(&t.pci, off, 1);
}

static uint8_t regs_a[4096], regs_b[4096];

static void state_round_trip(void)
{
	setup();
	drive(5);
	wr(22, 2, 2); /* leave queue select at 2 */
	CHECK_EQ(t.q[1].vq.last_avail, 5);
	size_t n = save_t();
	CHECK(n > 0);
	size_t na;
	regs(regs_a, &na);
	wr(22, 2, 2);
	uint8_t isr = t.isr;
	teardown();

	/* a fresh device on the same guest memory */
	CHECK_EQ(gsi_routes_init(&routes, &fake_ops, NULL, false), 0);
	struct errbuf e;
	CHECK_EQ(virtio_pci_init(&t, 2, 0x018000, OFFERED, 3, 256, devcfg, sizeof(devcfg), &ops,
				 NULL, &gm, &routes, -1, &e), 0);
	CHECK_EQ(virtio_pci_state_decode(blob, n, &t, &sv2, &e), 0);
	virtio_pci_state_apply(&t, &sv2);
	CHECK_EQ(activations, 1); /* the first device's DRIVER_OK only: no callback */
	CHECK_EQ(t.isr, isr);
	CHECK_EQ(t.queue_sel, 2);
	size_t nb;
	regs(regs_b, &nb);
	CHECK_EQ(na, nb);
	CHECK(memcmp(regs_a, regs_b, na) == 0);
	CHECK(t.q[1].vq.ready && !t.q[2].vq.ready && t.q[1].vq.event_idx);
	CHECK_EQ(t.q[1].vq.last_avail, 5);
	CHECK_EQ(t.q[1].vq.used_idx, 5);
	CHECK(msix_deliverable(&t.msix, 2));
	/* the next request: slot 5, used entry 5, vector 2's eventfd */
	struct vring_desc *d = (struct vring_desc *)(ram + 0x1000);
	struct vring_avail *a = (struct vring_avail *)(ram + 0x2000);
	struct vring_used *u = (struct vring_used *)(ram + 0x3000);
	d[9].addr = 0x20000; d[9].len = 16; d[9].flags = VRING_DESC_F_WRITE;
	a->ring[5] = 9;
	a->idx = 6;
	a->ring[64] = 5; /* used_event: interrupt at used idx 6 */
	static struct vq_chain c;
	CHECK_EQ(vq_pop(&t.q[1].vq, &c), 1);
	CHECK_EQ(c.head, 9);
	vq_push(&t.q[1].vq, c.head, 4);
	CHECK_EQ(u->idx, 6);
	CHECK_EQ(u->ring[5].id, 9);
	uint64_t v = 0;
	(void)!read(msix_vector_eventfd(&t.msix, 2), &v, sizeof(v)); /* drain */
	CHECK(vq_should_notify(&t.q[1].vq));
	virtio_pci_queue_notify(&t, 1);
	v = 0;
	CHECK_EQ(read(msix_vector_eventfd(&t.msix, 2), &v, sizeof(v)), 8);
	CHECK_EQ(v, 1);
	/* saved again: the same state but for the new position */
	virtio_pci_state_save(&t, &sv);
	CHECK_EQ(sv.q[1].last_avail, 6);
	teardown();
}

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Length and CRC made right again after an edit, so the checks behind them run. */
static void reseal(uint8_t *b, size_t n)
{
	put32(b + 8, (uint32_t)n);
	put32(b + n - 4, snap_crc32c(0, b, n - 4));
}

/* The offset of field `skip` bytes into section tag's payload. */
static size_t sec_off(const uint8_t *b, size_t n, unsigned tag, size_t skip)
{
	size_t at = CODEC_HEADER_BYTES;
	while (at + CODEC_SECTION_BYTES <= n) {
		unsigned tg = b[at] | b[at + 1] << 8;
		uint32_t len = get_le32(b + at + 4);
		if (tg == tag)
			return at + CODEC_SECTION_BYTES + skip;
		at += CODEC_SECTION_BYTES + len;
	}
	return 0;
}

/* A refused blob leaves the device as it was built. */
static bool refused(const uint8_t *b, size_t n, const char *want)
{
	struct errbuf e = {{0}};
	uint8_t before[sizeof(regs_a)];
	size_t n1, n2;
	regs(before, &n1);
	wr(22, 2, 0);
	struct virtio_pci_saved *x = &sv2;
	memset(x, 0x5a, sizeof(*x));
	if (virtio_pci_state_decode(b, n, &t, x, &e) == 0)
		return false;
	regs(regs_b, &n2);
	wr(22, 2, 0);
	if (n1 != n2 || memcmp(before, regs_b, n1) || strchr(e.msg, '\n') ||
	    strncmp(e.msg, "virtio-pci state: ", 18))
		return false;
	if (want && !strstr(e.msg, want)) {
		printf("  message: %s\n", e.msg);
		return false;
	}
	static const struct virtio_pci_saved zero;
	return memcmp(x, &zero, sizeof(*x)) == 0;
}

static void state_refused(void)
{
	setup();
	drive(3);
	size_t n = save_t();
	CHECK(n > 0);
	teardown();
	CHECK_EQ(gsi_routes_init(&routes, &fake_ops, NULL, false), 0);
	struct errbuf e;
	CHECK_EQ(virtio_pci_init(&t, 2, 0x018000, OFFERED, 3, 256, devcfg, sizeof(devcfg), &ops,
				 NULL, &gm, &routes, -1, &e), 0);
	/* truncated anywhere */
	for (size_t k = 0; k < n; k += 7)
		CHECK(refused(blob, k, NULL));
	/* any byte flipped (the CRC catches it) */
	for (size_t k = 0; k < n; k += 5) {
		memcpy(blob2, blob, n);
		blob2[k] ^= 0x20;
		CHECK(refused(blob2, n, NULL));
	}
	/* another version */
	memcpy(blob2, blob, n);
	blob2[4] = 2;
	reseal(blob2, n);
	CHECK(refused(blob2, n, "version"));
	/* values out of range, resealed */
	struct { unsigned tag; size_t skip; unsigned len; uint64_t val; const char *msg; } bad[] = {
		/* PCI: a read-only bit; BAR 0 misaligned; a BAR that does not exist */
		{1, PCI_VENDOR_ID, 1, 0x01, "cannot write"},
		{1, 256, 8, 0xc0000010, "aligned"},
		{1, 256 + 8, 8, 0x1000, "no such BAR"},
		/* MSI-X: vector count, flags, reserved control bits, PBA past the end */
		{2, 0, 4, 3, "vectors"},
		{2, 4, 4, 4, "flags"},
		{2, 8 + 12, 4, 2, "reserved"},
		{2, 8 + 4 * 16, 8, 1ull << 9, "past vector"},
		/* common: offered features, accepted unoffered, status, ISR, config vector */
		{3, 0, 8, 1, "offered"},
		{3, 8, 8, (1ull << 32) | (1ull << 3), "not offered"},
		{3, 24, 1, 0x24, "unknown"},
		{3, 24, 1, 0x07, "FEATURES_OK"},
		{3, 26, 1, 4, "ISR"},
		{3, 27, 2, 9, "config vector"},
		/* queues: count; queue 1's size, vector, enable, rings, in flight */
		{4, 0, 4, 4, "queues"},
		{4, 4 + 36 + 24, 2, 48, "size"},
		{4, 4 + 36 + 24, 2, 512, "size"},
		{4, 4 + 36 + 26, 2, 4, "vector"},
		{4, 4 + 36 + 28, 1, 2, "enable"},
		{4, 4 + 36 + 0, 8, RAM - 8 * 16, "guest RAM"},
		{4, 4 + 36 + 8, 8, 0x2001, "aligned"},
		{4, 4 + 36 + 29, 2, 7, "in flight"},
		/* queue 2 (off) with a position */
		{4, 4 + 2 * 36 + 29, 2, 1, "position"},
	};
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		memcpy(blob2, blob, n);
		size_t off = sec_off(blob2, n, bad[i].tag, bad[i].skip);
		CHECK(off);
		for (unsigned k = 0; k < bad[i].len; k++)
			blob2[off + k] = (uint8_t)(bad[i].val >> (8 * k));
		reseal(blob2, n);
		if (!refused(blob2, n, bad[i].msg))
			printf("  case %u\n", i);
		CHECK(refused(blob2, n, bad[i].msg));
	}
	/* the untouched blob still goes in */
	CHECK_EQ(virtio_pci_state_decode(blob, n, &t, &sv2, &e), 0);
	teardown();
}

/* The steps of ioeventfd_failure_logged_once: the BAR mapped and unmapped
 * n times with a vm_fd that refuses every KVM_IOEVENTFD. */
static void ioeventfd_failure_steps(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t at = 0xc0000000 + 0x4000 * (uint64_t)(i % 2);
		t.pci.ops->bar_moved(&t.pci, 0, PCI_BAR_UNMAPPED, at);
		CHECK_EQ(t.bar_addr, at);
		t.pci.ops->bar_moved(&t.pci, 0, at, PCI_BAR_UNMAPPED);
		CHECK_EQ(t.bar_addr, PCI_BAR_UNMAPPED);
	}
}

/* A guest moving its BAR back and forth where KVM refuses the ioeventfds
 * (here: a vm_fd that is not KVM's) gets one log line for the device, not
 * one per queue per move; the transport still follows the BAR (its notify
 * registers work through exits). */
static void ioeventfd_failure_logged_once(void)
{
	setup();
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int log_fd = memfd_create("log", MFD_CLOEXEC);
	int log_rd = log_fd >= 0 ? dup(log_fd) : -1;
	int saved_stderr = dup(STDERR_FILENO);
	CHECK(null_fd >= 0 && log_fd >= 0 && log_rd >= 0 && saved_stderr >= 0);
	log_configure(log_fd, LOG_ERROR, false, false, "t"); /* takes log_fd over */
	dup2(null_fd, STDERR_FILENO); /* the "ember: ..." copies of the lines */
	t.vm_fd = null_fd;
	ioeventfd_failure_steps(20);
	t.vm_fd = -1;
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	log_configure(-1, LOG_INFO, false, false, "");
	static char text[64 * 1024];
	ssize_t n = pread(log_rd, text, sizeof(text) - 1, 0);
	close(log_rd);
	close(null_fd);
	teardown();
	CHECK(n > 0);
	text[n] = 0;
	unsigned lines = 0;
	for (const char *p = text; (p = strstr(p, "KVM_IOEVENTFD")) != NULL; p++)
		lines++;
	CHECK_EQ(lines, 1);
	CHECK(strstr(text, "at 0xc0003000:") != NULL); /* queue 0's notify address */
}

int main(void)
{
	ram = calloc(1, RAM);
	RUN(identity_and_caps);
	RUN(features);
	RUN(queues);
	RUN(device_config_and_hostile);
	RUN(config_needs_its_bytes);
	RUN(queue_kicks_tagged);
	RUN(pause_and_resume);
	RUN(state_round_trip);
	RUN(state_refused);
	RUN(ioeventfd_failure_logged_once);
	free(ram);
	return check_summary();
}
