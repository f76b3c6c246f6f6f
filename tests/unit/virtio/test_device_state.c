/* test_device_state.c: the save and restore device ops of virtio-blk
 * (blk_pci.c) and virtio-net (net_pci.c), whole devices with their I/O
 * threads, fake KVM ops and a gm_wrap'd guest: a driver's device with
 * requests done is paused, saved, and restored into a freshly built one,
 * whose start serves the next request at the right ring index with the
 * right vector. virtio-blk: a reopened image of another size is refused by
 * name and changes nothing. virtio-net (a socket pair in place of the TAP):
 * the RX chain held for the next read at the pause is not counted as used
 * in the state, and the restored device fills it with the next frame. */
#include <endian.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "virtio/blk/blk_pci.h"
#include "virtio/net/net_pci.h"

static int fake_routing(void *ctx, const struct kvm_irq_routing *t) { (void)ctx, (void)t; return 0; }
static int fake_irqfd(void *ctx, const struct kvm_irqfd *f) { (void)ctx, (void)f; return 0; }
static const struct gsi_ops fake_ops = {fake_routing, fake_irqfd};

#define RAM MiB(4)
static uint8_t *ram;
static struct guest_mem gm;
static struct gsi_routes routes;
static struct virtio_pci *t; /* the device driven */
static uint8_t blob[DEVICE_STATE_MAX];

static void wr(uint64_t off, unsigned len, uint64_t v)
{
	uint8_t b[8];
	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	virtio_pci_bar_access(t, off, b, len, true);
}

static uint64_t rd(uint64_t off, unsigned len)
{
	uint8_t b[8] = {0};
	virtio_pci_bar_access(t, off, b, len, false);
	uint64_t v = 0;
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define QSZ 16

static struct vring_desc *desc(void) { return (struct vring_desc *)(ram + DESC); }
static struct vring_avail *avail(void) { return (struct vring_avail *)(ram + AVAIL); }
static struct vring_used *used(void) { return (struct vring_used *)(ram + USED); }

/* VERSION_1 only; queue 0 (16 entries, vector 1) enabled; MSI-X on with
 * vector 1 unmasked; DRIVER_OK. */
static void driver_up(void)
{
	wr(20, 1, 3);
	wr(8, 4, 1); wr(12, 4, 1);
	wr(20, 1, 0x0b);
	wr(22, 2, 0);
	wr(24, 2, QSZ);
	wr(26, 2, 1);
	wr(32, 8, DESC); wr(40, 8, AVAIL); wr(48, 8, USED);
	wr(28, 2, 1);
	wr(VPCI_MSIX_TABLE_OFF + 16, 4, 0xfee00000);
	wr(VPCI_MSIX_TABLE_OFF + 16 + 8, 4, 0x42);
	wr(VPCI_MSIX_TABLE_OFF + 16 + 12, 4, 0);
	pci_config_set(&t->pci, t->msix.cap + 2, 2, MSIX_CTRL_ENABLE | (t->msix.nvec - 1));
	msix_config_write(&t->msix, t->msix.cap + 2, 2);
	wr(20, 1, 0x0f);
}

static bool wait_used(uint16_t idx)
{
	for (unsigned ms = 0; ms < 5000; ms++) {
		if (__atomic_load_n(&used()->idx, __ATOMIC_ACQUIRE) == idx)
			return true;
		usleep(1000);
	}
	return false;
}

static uint64_t vector_signals(unsigned v)
{
	uint64_t n = 0;
	if (read(msix_vector_eventfd(&t->msix, v), &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* ---- virtio-blk ---- */

/* img3: the same size as img, for the restored device (the first one's
 * ring may hold img's lock a little after it is destroyed). */
static char img[] = "/tmp/ember-devstate-XXXXXX", img2[] = "/tmp/ember-devstate2-XXXXXX",
	    img3[] = "/tmp/ember-devstate3-XXXXXX";

static struct blk_pci *blk_new(const char *path)
{
	struct blk_opts o;
	memset(&o, 0, sizeof(o));
	snprintf(o.path, sizeof(o.path), "%s", path);
	struct errbuf e;
	struct blk_pci *d = blk_pci_open(&o, 0, &e);
	if (!d) {
		printf("  %s\n", e.msg);
		return NULL;
	}
	if (blk_pci_create(d, 2, &gm, &routes, -1, &e)) {
		printf("  %s\n", e.msg);
		device_destroy(&d->dev);
		return NULL;
	}
	return d;
}

/* Request i: a GET_ID into slot i of the ring, descriptors 3i..3i+2. */
static void blk_request(unsigned i)
{
	unsigned h = 3 * (i % 5);
	uint64_t hdr = 0x100000 + 64 * i, data = 0x110000 + 64 * i;
	struct virtio_blk_outhdr oh = {.type = htole32(VIRTIO_BLK_T_GET_ID)};
	memcpy(ram + hdr, &oh, sizeof(oh));
	ram[hdr + 32] = 0xff;
	desc()[h] = (struct vring_desc){hdr, 16, VRING_DESC_F_NEXT, (uint16_t)(h + 1)};
	desc()[h + 1] = (struct vring_desc){data, 20, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
					    (uint16_t)(h + 2)};
	desc()[h + 2] = (struct vring_desc){hdr + 32, 1, VRING_DESC_F_WRITE, 0};
	avail()->ring[i % QSZ] = (uint16_t)h;
	__atomic_store_n(&avail()->idx, (uint16_t)(i + 1), __ATOMIC_RELEASE);
	wr(VPCI_NOTIFY_OFF, 2, 0); /* no KVM: the BAR write kicks */
}

static void blk_save_restore(void)
{
	memset(ram, 0, RAM);
	struct errbuf e;
	struct blk_pci *d = blk_new(img);
	CHECK(d);
	t = &d->vp;
	driver_up();
	CHECK_EQ(d->dev.ops->start(&d->dev, &e), 0);
	for (unsigned i = 0; i < 3; i++)
		blk_request(i);
	CHECK(wait_used(3));
	CHECK_EQ(d->dev.ops->pause(&d->dev), 0);
	size_t n = 0;
	CHECK_EQ(device_save(&d->dev, blob, sizeof(blob), &n, &e), 0);
	CHECK(n > 0);
	device_destroy(&d->dev);

	/* another size: refused, by name, nothing changed */
	struct blk_pci *other = blk_new(img2);
	CHECK(other);
	CHECK_EQ(device_restore(&other->dev, blob, n, &e), -1);
	CHECK(strstr(e.msg, "virtio-blk state: ") == e.msg);
	CHECK(strstr(e.msg, "sectors") && strstr(e.msg, img2));
	CHECK_EQ(other->vp.status, 0);
	CHECK(!other->vp.q[0].enabled);
	device_destroy(&other->dev);
	/* truncated or flipped: refused */
	struct blk_pci *d2 = blk_new(img3);
	CHECK(d2);
	CHECK_EQ(device_restore(&d2->dev, blob, n - 1, &e), -1);
	blob[n / 2] ^= 1;
	CHECK_EQ(device_restore(&d2->dev, blob, n, &e), -1);
	blob[n / 2] ^= 1;
	CHECK_EQ(d2->vp.status, 0);

	CHECK_EQ(device_restore(&d2->dev, blob, n, &e), 0);
	t = &d2->vp;
	CHECK_EQ(rd(20, 1), 0x0f);
	CHECK_EQ(rd(24, 2), QSZ);
	CHECK_EQ(rd(26, 2), 1);
	CHECK_EQ(rd(28, 2), 1);
	CHECK_EQ(rd(32, 8), DESC);
	CHECK_EQ(d2->vp.q[0].vq.last_avail, 3);
	CHECK(msix_deliverable(&d2->vp.msix, 1));
	CHECK_EQ(d2->q[0].io.vq, &d2->vp.q[0].vq); /* attached as at DRIVER_OK */
	vector_signals(1);
	CHECK_EQ(d2->dev.ops->start(&d2->dev, &e), 0);
	blk_request(3);
	CHECK(wait_used(4));
	CHECK_EQ(le32toh(used()->ring[3].id), 9);
	CHECK_EQ(ram[0x100000 + 64 * 3 + 32], VIRTIO_BLK_S_OK);
	CHECK_EQ(d2->vp.q[0].vq.last_avail, 4);
	usleep(10000);
	CHECK(vector_signals(1) >= 1);
	device_destroy(&d2->dev);
}

/* ---- virtio-net ---- */

static int peer = -1;

static struct net_pci *net_new(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return NULL;
	struct net_tap tap;
	memset(&tap, 0, sizeof(tap));
	snprintf(tap.name, sizeof(tap.name), "fake0");
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++)
		tap.fd[i] = -1;
	tap.fd[0] = sv[0];
	tap.nfd = 1;
	tap.mtu = 1500;
	if (peer >= 0)
		close(peer);
	peer = sv[1];
	struct net_opts o;
	memset(&o, 0, sizeof(o));
	snprintf(o.tap, sizeof(o.tap), "fake0");
	o.queues = 1;
	struct errbuf e;
	struct net_pci *d = net_pci_open_tap(&tap, &o, 0, &e);
	if (!d)
		return NULL;
	if (net_pci_create(d, &gm, &routes, -1, &e)) {
		device_destroy(&d->dev);
		return NULL;
	}
	return d;
}

/* RX buffer i: one 2 KiB writable descriptor, slot i of the ring. */
static void rx_buffer(unsigned i)
{
	desc()[i] = (struct vring_desc){0x200000 + 0x1000 * i, 2048, VRING_DESC_F_WRITE, 0};
	avail()->ring[i % QSZ] = (uint16_t)i;
	__atomic_store_n(&avail()->idx, (uint16_t)(i + 1), __ATOMIC_RELEASE);
}

static void send_frame(uint8_t tag)
{
	uint8_t f[12 + 60] = {0};
	f[12] = tag;
	(void)!write(peer, f, sizeof(f));
}

static void net_save_restore(void)
{
	memset(ram, 0, RAM);
	struct errbuf e;
	struct net_pci *d = net_new();
	CHECK(d);
	t = &d->vp;
	driver_up(); /* queue 0 is pair 0's RX */
	for (unsigned i = 0; i < 4; i++)
		rx_buffer(i);
	CHECK_EQ(d->dev.ops->start(&d->dev, &e), 0);
	wr(VPCI_NOTIFY_OFF, 2, 0);
	send_frame(0xa1);
	CHECK(wait_used(1));
	CHECK_EQ(ram[0x200000 + 12], 0xa1);
	usleep(20000); /* the next read is posted on buffer 1 */
	CHECK_EQ(d->dev.ops->pause(&d->dev), 0);
	CHECK_EQ(d->io.p[0].rx_nchains, 1);
	CHECK_EQ(d->vp.q[0].vq.last_avail, 2);
	size_t n = 0;
	CHECK_EQ(device_save(&d->dev, blob, sizeof(blob), &n, &e), 0);
	CHECK_EQ(d->io.p[0].rx_nchains, 1); /* this device keeps it */
	device_destroy(&d->dev);

	struct net_pci *d2 = net_new();
	CHECK(d2);
	/* another MAC: refused */
	uint8_t mac0 = d2->mac[0];
	d2->mac[0] ^= 2;
	CHECK_EQ(device_restore(&d2->dev, blob, n, &e), -1);
	CHECK(strstr(e.msg, "MAC"));
	d2->mac[0] = mac0;
	CHECK_EQ(d2->vp.status, 0);
	CHECK_EQ(device_restore(&d2->dev, blob, n, &e), 0);
	t = &d2->vp;
	CHECK_EQ(d2->vp.q[0].vq.last_avail, 1); /* the held chain is handed back */
	CHECK_EQ(d2->vp.q[0].vq.used_idx, 1);
	CHECK_EQ(d2->active_pairs, 1);
	CHECK_EQ(d2->io.p[0].rx, &d2->vp.q[0].vq);
	vector_signals(1);
	CHECK_EQ(d2->dev.ops->start(&d2->dev, &e), 0);
	send_frame(0xb2);
	CHECK(wait_used(2));
	CHECK_EQ(le32toh(used()->ring[1].id), 1); /* buffer 1, popped again */
	CHECK_EQ(ram[0x200000 + 0x1000 + 12], 0xb2);
	usleep(10000);
	CHECK(vector_signals(1) >= 1);
	device_destroy(&d2->dev);
}

int main(void)
{
	ram = calloc(1, RAM);
	gm_wrap(&gm, ram, RAM);
	int fd = mkstemp(img), fd2 = mkstemp(img2), fd3 = mkstemp(img3);
	if (!ram || fd < 0 || fd2 < 0 || fd3 < 0 || ftruncate(fd, MiB(1)) || ftruncate(fd2, MiB(2)) ||
	    ftruncate(fd3, MiB(1)))
		return 1;
	close(fd);
	close(fd2);
	close(fd3);
	if (gsi_routes_init(&routes, &fake_ops, NULL, false))
		return 1;
	RUN(blk_save_restore);
	RUN(net_save_restore);
	gsi_routes_destroy(&routes);
	unlink(img);
	unlink(img2);
	unlink(img3);
	free(ram);
	return check_summary();
}
