/* test_msix.c: MSI-X (msix.c) on a PCI device with fake KVM ops: the GSI
 * routing table starts with KVM's default IOAPIC/PIC routes and every
 * submission carries them; the capability (table size, BIR/offsets, only the
 * enable and function-mask bits writable); table reads and writes (4/8-byte,
 * reserved bits, misaligned and odd-sized writes dropped, bytes past the
 * table); vectors start masked; unmasking an entry programs its MSI route
 * (and a changed entry re-programs it) and notify writes the vector's irqfd
 * eventfd; masked vectors and a masked function set pending bits in the PBA and
 * deliver on unmask; interrupts while disabled are dropped; a KVM failure
 * leaves the vector pending; bad geometry is refused; hostile table/PBA
 * offsets and sizes stay in bounds (ASan); with an external trigger (VFIO)
 * a vector's irqfd is attached only while it is deliverable, after its
 * route; the saved state of the function (its BAR moved by the guest, the
 * command register) and of MSI-X (table, PBA, enable) restored into a fresh
 * device: the BAR decoded at its new place, the unmasked vector routed to
 * its entry and pending bits kept; bad states refused, changing nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/core/snapshot_file.h"
#include "vmm/pci/msix.h"
#include "vmm/lib/util.h"

struct fake_kvm {
	unsigned routing_calls, irqfd_calls;
	struct kvm_irq_routing_entry last[GSI_MAX_ROUTES];
	unsigned last_nr;
	struct kvm_irqfd irqfds[64];
	bool fail_routing;
};

static int fake_routing(void *ctx, const struct kvm_irq_routing *t)
{
	struct fake_kvm *k = ctx;
	if (k->fail_routing)
		return -1;
	k->routing_calls++;
	k->last_nr = t->nr;
	memcpy(k->last, t->entries, t->nr * sizeof(t->entries[0]));
	return 0;
}

static int fake_irqfd(void *ctx, const struct kvm_irqfd *f)
{
	struct fake_kvm *k = ctx;
	if (k->irqfd_calls < 64)
		k->irqfds[k->irqfd_calls] = *f;
	k->irqfd_calls++;
	return 0;
}

static const struct gsi_ops fake_ops = {fake_routing, fake_irqfd};

struct env {
	struct fake_kvm kvm;
	struct gsi_routes routes;
	struct mmio_bus mmio;
	struct pci_bus pci;
	struct pci_device dev;
	struct msix msix;
};

static void dev_bar(struct pci_device *dev, unsigned bar, uint64_t off, uint8_t *data,
		    unsigned len, bool write)
{
	struct env *e = dev->opaque;
	if (!msix_bar_access(&e->msix, bar, off, data, len, write) && !write)
		memset(data, 0, len);
}

static void dev_cfg_write(struct pci_device *dev, unsigned off, const uint8_t *data, unsigned len)
{
	(void)data;
	struct env *e = dev->opaque;
	msix_config_write(&e->msix, off, len);
}

static const struct pci_device_ops dev_ops = {.bar_access = dev_bar, .config_write = dev_cfg_write};

#define NVEC 4
#define TABLE 0x0000
#define PBA 0x0800

/* A device with NVEC vectors: table at BAR0+0, PBA at BAR0+0x800, on slot 1,
 * memory decoding on. */
static struct env *env_new(unsigned nvec)
{
	struct env *e = calloc(1, sizeof(*e));
	if (gsi_routes_init(&e->routes, &fake_ops, &e->kvm, true) < 0)
		abort();
	struct mem_layout l;
	layout_init(&l, GiB(1));
	struct pci_windows w;
	pci_default_windows(&l, &w);
	mmio_bus_init(&e->mmio);
	pci_bus_init(&e->pci, &e->mmio, &w);
	pci_device_init(&e->dev, 0x1af4, 0x1042, 0x018000, 1, &dev_ops, e);
	pci_device_add_bar(&e->dev, 0, PCI_BAR_MEM32, 0x1000);
	if (msix_init(&e->msix, &e->dev, &e->routes, nvec, 0, TABLE, 0, PBA) < 0)
		abort();
	if (pci_bus_add_device(&e->pci, &e->dev) != 1)
		abort();
	uint8_t cmd[2] = {PCI_COMMAND_MEMORY, 0};
	pci_config_access(&e->pci, 1, 0, PCI_COMMAND, cmd, 2, true);
	return e;
}

static void env_free(struct env *e)
{
	msix_destroy(&e->msix);
	pci_bus_destroy(&e->pci);
	mmio_bus_destroy(&e->mmio);
	gsi_routes_destroy(&e->routes);
	free(e);
}

static void wr32(struct env *e, uint64_t off, uint32_t v)
{
	uint8_t d[4];
	memcpy(d, &v, 4);
	mmio_dispatch(&e->mmio, 0xc0000000 + off, d, 4, true);
}

static uint32_t rd32(struct env *e, uint64_t off)
{
	uint8_t d[4];
	mmio_dispatch(&e->mmio, 0xc0000000 + off, d, 4, false);
	return get_le32(d);
}

static void set_ctrl(struct env *e, uint16_t ctrl)
{
	uint8_t d[2] = {(uint8_t)ctrl, (uint8_t)(ctrl >> 8)};
	pci_config_access(&e->pci, 1, 0, e->msix.cap + 2, d, 2, true);
}

static uint16_t get_ctrl(struct env *e)
{
	uint8_t d[2];
	pci_config_access(&e->pci, 1, 0, e->msix.cap + 2, d, 2, false);
	return (uint16_t)get_le16(d);
}

/* Fired count of vector v's eventfd (reads and resets it). */
static uint64_t fired(struct env *e, unsigned v)
{
	uint64_t n = 0;
	if (read(msix_vector_eventfd(&e->msix, v), &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static const struct kvm_irq_routing_entry *route_of(struct env *e, unsigned gsi)
{
	for (unsigned i = 0; i < e->kvm.last_nr; i++)
		if (e->kvm.last[i].gsi == gsi && e->kvm.last[i].type == KVM_IRQ_ROUTING_MSI)
			return &e->kvm.last[i];
	return NULL;
}

static void program(struct env *e, unsigned v, uint32_t lo, uint32_t hi, uint32_t data)
{
	wr32(e, TABLE + 16 * v + 0, lo);
	wr32(e, TABLE + 16 * v + 4, hi);
	wr32(e, TABLE + 16 * v + 8, data);
}

static void default_routes_kept(void)
{
	struct env *e = env_new(NVEC);
	CHECK_EQ(e->routes.table->nr, 40);
	const struct kvm_irq_routing_entry *t = e->routes.table->entries;
	CHECK_EQ(t[0].gsi, 0);
	CHECK_EQ(t[0].u.irqchip.irqchip, KVM_IRQCHIP_IOAPIC);
	CHECK_EQ(t[1].u.irqchip.irqchip, KVM_IRQCHIP_PIC_MASTER);
	unsigned ioapic = 0, pic = 0;
	for (unsigned i = 0; i < 40; i++) {
		CHECK_EQ(t[i].type, KVM_IRQ_ROUTING_IRQCHIP);
		if (t[i].u.irqchip.irqchip == KVM_IRQCHIP_IOAPIC) {
			CHECK_EQ(t[i].u.irqchip.pin, t[i].gsi);
			ioapic++;
		} else {
			CHECK_EQ(t[i].u.irqchip.pin, t[i].gsi % 8);
			CHECK_EQ(t[i].u.irqchip.irqchip,
				 t[i].gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE);
			pic++;
		}
	}
	CHECK_EQ(ioapic, 24);
	CHECK_EQ(pic, 16);
	CHECK_EQ(e->kvm.routing_calls, 0); /* nothing submitted until an MSI route exists */
	/* GSIs from 24, one irqfd each. */
	CHECK_EQ(e->kvm.irqfd_calls, NVEC);
	for (unsigned v = 0; v < NVEC; v++) {
		CHECK_EQ(msix_vector_gsi(&e->msix, v), 24 + v);
		CHECK_EQ(e->kvm.irqfds[v].gsi, 24 + v);
		CHECK_EQ(e->kvm.irqfds[v].fd, (uint32_t)msix_vector_eventfd(&e->msix, v));
	}
	/* Programming a route resubmits the defaults with it. */
	set_ctrl(e, MSIX_CTRL_ENABLE);
	program(e, 0, 0xfee00000, 0, 0x4041);
	wr32(e, TABLE + 12, 0);
	CHECK_EQ(e->kvm.routing_calls, 1);
	CHECK_EQ(e->kvm.last_nr, 41);
	CHECK_EQ(e->kvm.last[0].type, KVM_IRQ_ROUTING_IRQCHIP);
	CHECK(route_of(e, 24) != NULL);
	/* gsi_route_msi refuses the irqchip range. */
	CHECK_EQ(gsi_route_msi(&e->routes, 4, 0xfee00000, 0, 1), -1);
	env_free(e);
}

static void capability_layout(void)
{
	struct env *e = env_new(NVEC);
	CHECK_EQ(e->msix.cap, 0x40);
	uint8_t d[12];
	pci_config_access(&e->pci, 1, 0, 0x40, d, 12, false);
	CHECK_EQ(d[0], PCI_CAP_ID_MSIX);
	CHECK_EQ(d[1], 0);
	CHECK_EQ(get_le16(d + 2), NVEC - 1);
	CHECK_EQ(get_le32(d + 4), TABLE | 0);
	CHECK_EQ(get_le32(d + 8), PBA | 0);
	uint8_t ff[12];
	memset(ff, 0xff, sizeof(ff));
	pci_config_access(&e->pci, 1, 0, 0x40, ff, 12, true);
	pci_config_access(&e->pci, 1, 0, 0x40, d, 12, false);
	CHECK_EQ(get_le16(d + 2), 0xc000 | (NVEC - 1));
	CHECK_EQ(get_le32(d + 4), TABLE);
	CHECK_EQ(d[0], PCI_CAP_ID_MSIX);
	CHECK(e->msix.enabled);
	CHECK(e->msix.fmask);
	set_ctrl(e, 0);
	CHECK(!e->msix.enabled);
	CHECK_EQ(get_ctrl(e), NVEC - 1);
	env_free(e);
}

static void table_reads_writes(void)
{
	struct env *e = env_new(NVEC);
	for (unsigned v = 0; v < NVEC; v++) {
		CHECK_EQ(rd32(e, TABLE + 16 * v + 12), 1); /* masked at reset */
		CHECK_EQ(rd32(e, TABLE + 16 * v), 0);
	}
	program(e, 1, 0xfee01003, 0x12345678, 0xabcd);
	CHECK_EQ(rd32(e, TABLE + 16), 0xfee01000); /* address bits 1:0 read zero */
	CHECK_EQ(rd32(e, TABLE + 20), 0x12345678);
	CHECK_EQ(rd32(e, TABLE + 24), 0xabcd);
	wr32(e, TABLE + 28, 0xfffffffe);
	CHECK_EQ(rd32(e, TABLE + 28), 0); /* only the mask bit exists */
	wr32(e, TABLE + 28, 0xffffffff);
	CHECK_EQ(rd32(e, TABLE + 28), 1);
	/* 8-byte write and read. */
	uint8_t q[8] = {0x00, 0x20, 0xe0, 0xfe, 0x01, 0, 0, 0};
	mmio_dispatch(&e->mmio, 0xc0000000 + TABLE + 32, q, 8, true);
	uint8_t r[8];
	mmio_dispatch(&e->mmio, 0xc0000000 + TABLE + 32, r, 8, false);
	CHECK_MEM_EQ(r, q, 8);
	/* Byte and word reads. */
	uint8_t b;
	mmio_dispatch(&e->mmio, 0xc0000000 + TABLE + 18, &b, 1, false);
	CHECK_EQ(b, 0xe0);
	/* Misaligned or odd-sized writes are dropped. */
	uint8_t w[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
	mmio_dispatch(&e->mmio, 0xc0000000 + TABLE + 17, w, 4, true);
	mmio_dispatch(&e->mmio, 0xc0000000 + TABLE + 16, w, 2, true);
	mmio_dispatch(&e->mmio, 0xc0000000 + TABLE + 20, w, 8, true);
	mmio_dispatch(&e->mmio, 0xc0000000 + TABLE + 16, w, 1, true);
	CHECK_EQ(rd32(e, TABLE + 16), 0xfee01000);
	CHECK_EQ(rd32(e, TABLE + 20), 0x12345678);
	/* The PBA is read-only; bytes past table and PBA read zero. */
	wr32(e, PBA, 0xffffffff);
	CHECK_EQ(rd32(e, PBA), 0);
	CHECK_EQ(rd32(e, TABLE + 16 * NVEC), 0);
	CHECK_EQ(rd32(e, PBA + 8), 0);
	env_free(e);
}

static void unmask_programs_route_and_delivers(void)
{
	struct env *e = env_new(NVEC);
	set_ctrl(e, MSIX_CTRL_ENABLE);
	program(e, 2, 0xfee00000, 0, 0x4022);
	CHECK_EQ(e->kvm.routing_calls, 0); /* still masked */
	msix_notify(&e->msix, 2);
	CHECK(msix_pending(&e->msix, 2));
	CHECK_EQ(rd32(e, PBA), 1u << 2);
	CHECK_EQ(fired(e, 2), 0);
	wr32(e, TABLE + 16 * 2 + 12, 0); /* unmask */
	CHECK_EQ(e->kvm.routing_calls, 1);
	const struct kvm_irq_routing_entry *rt = route_of(e, 26);
	CHECK(rt != NULL);
	CHECK_EQ(rt->u.msi.address_lo, 0xfee00000);
	CHECK_EQ(rt->u.msi.address_hi, 0);
	CHECK_EQ(rt->u.msi.data, 0x4022);
	CHECK(!msix_pending(&e->msix, 2));
	CHECK_EQ(fired(e, 2), 1); /* the pending interrupt */
	msix_notify(&e->msix, 2);
	msix_notify(&e->msix, 2);
	CHECK_EQ(fired(e, 2), 2);
	/* Rewriting an unmasked entry re-programs; same values do not. */
	wr32(e, TABLE + 16 * 2 + 8, 0x4023);
	CHECK_EQ(e->kvm.routing_calls, 2);
	CHECK_EQ(route_of(e, 26)->u.msi.data, 0x4023);
	CHECK_EQ(e->kvm.last_nr, 41); /* replaced, not added */
	wr32(e, TABLE + 16 * 2 + 8, 0x4023);
	wr32(e, TABLE + 16 * 2 + 12, 0);
	CHECK_EQ(e->kvm.routing_calls, 2);
	/* Changed while masked: re-programmed on unmask. */
	wr32(e, TABLE + 16 * 2 + 12, 1);
	wr32(e, TABLE + 16 * 2 + 0, 0xfee02000);
	CHECK_EQ(e->kvm.routing_calls, 2);
	wr32(e, TABLE + 16 * 2 + 12, 0);
	CHECK_EQ(e->kvm.routing_calls, 3);
	CHECK_EQ(route_of(e, 26)->u.msi.address_lo, 0xfee02000);
	/* A second vector adds its own route. */
	program(e, 0, 0xfee00000, 0, 0x4020);
	wr32(e, TABLE + 12, 0);
	CHECK_EQ(e->kvm.last_nr, 42);
	CHECK(route_of(e, 24) != NULL);
	CHECK(route_of(e, 25) == NULL);
	msix_notify(&e->msix, 99); /* out of range: ignored */
	env_free(e);
}

/* The last KVM_IRQFD call for gsi: true if it attached. */
static bool irqfd_attached(struct env *e, unsigned gsi)
{
	bool att = false;
	for (unsigned i = 0; i < e->kvm.irqfd_calls && i < 64; i++)
		if (e->kvm.irqfds[i].gsi == gsi)
			att = !(e->kvm.irqfds[i].flags & KVM_IRQFD_FLAG_DEASSIGN);
	return att;
}

static void external_trigger_masks_by_irqfd(void)
{
	struct env *e = env_new(2);
	CHECK_EQ(e->kvm.irqfd_calls, 2); /* msix_init attached both */
	CHECK_EQ(msix_external_trigger(&e->msix), 0);
	CHECK_EQ(e->kvm.irqfd_calls, 4);
	CHECK(!irqfd_attached(e, 24));
	CHECK(!irqfd_attached(e, 25));
	CHECK_EQ(e->kvm.irqfds[2].fd, (uint32_t)msix_vector_eventfd(&e->msix, 0));
	/* Enabled and unmasked: routed first, then attached. */
	set_ctrl(e, MSIX_CTRL_ENABLE);
	program(e, 0, 0xfee00000, 0, 0x4030);
	CHECK_EQ(e->kvm.irqfd_calls, 4);
	wr32(e, TABLE + 12, 0);
	CHECK_EQ(e->kvm.routing_calls, 1);
	CHECK(route_of(e, 24) != NULL);
	CHECK_EQ(e->kvm.irqfd_calls, 5);
	CHECK(irqfd_attached(e, 24));
	CHECK(!irqfd_attached(e, 25));
	/* Masking the vector, then the function, detaches; once each. */
	wr32(e, TABLE + 12, 1);
	CHECK(!irqfd_attached(e, 24));
	CHECK_EQ(e->kvm.irqfd_calls, 6);
	wr32(e, TABLE + 12, 1);
	CHECK_EQ(e->kvm.irqfd_calls, 6);
	wr32(e, TABLE + 12, 0);
	CHECK(irqfd_attached(e, 24));
	set_ctrl(e, MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK);
	CHECK(!irqfd_attached(e, 24));
	set_ctrl(e, MSIX_CTRL_ENABLE);
	CHECK(irqfd_attached(e, 24));
	set_ctrl(e, 0);
	CHECK(!irqfd_attached(e, 24));
	CHECK_EQ(rd32(e, PBA), 0);
	env_free(e);
}

static void function_mask_and_disable(void)
{
	struct env *e = env_new(NVEC);
	set_ctrl(e, MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK);
	for (unsigned v = 0; v < NVEC; v++) {
		program(e, v, 0xfee00000, 0, 0x4030 + v);
		wr32(e, TABLE + 16 * v + 12, 0);
	}
	CHECK_EQ(e->kvm.routing_calls, 0);
	msix_notify(&e->msix, 0);
	msix_notify(&e->msix, 3);
	CHECK_EQ(rd32(e, PBA), 0x9);
	CHECK_EQ(fired(e, 0), 0);
	set_ctrl(e, MSIX_CTRL_ENABLE); /* function unmasked: all routed, pending delivered */
	CHECK_EQ(e->kvm.routing_calls, NVEC);
	CHECK_EQ(e->kvm.last_nr, 40 + NVEC);
	CHECK_EQ(rd32(e, PBA), 0);
	CHECK_EQ(fired(e, 0), 1);
	CHECK_EQ(fired(e, 1), 0);
	CHECK_EQ(fired(e, 3), 1);
	/* Disabled: interrupts are dropped, nothing pending. */
	set_ctrl(e, 0);
	msix_notify(&e->msix, 1);
	CHECK_EQ(rd32(e, PBA), 0);
	CHECK_EQ(fired(e, 1), 0);
	set_ctrl(e, MSIX_CTRL_ENABLE);
	CHECK_EQ(fired(e, 1), 0);
	msix_notify(&e->msix, 1);
	CHECK_EQ(fired(e, 1), 1);
	env_free(e);
}

/* msix_notify_deferred: the vector to write when deliverable (the caller
 * writes; nothing is fired here), else -1 with the pending bit set when
 * masked, or nothing at all when MSI-X is off; the pending one is delivered
 * on unmask as with msix_notify. */
static void deferred_notify_says_what_to_write(void)
{
	struct env *e = env_new(NVEC);
	set_ctrl(e, MSIX_CTRL_ENABLE);
	program(e, 1, 0xfee00000, 0, 0x4041);
	CHECK_EQ(msix_notify_deferred(&e->msix, 1), -1); /* masked */
	CHECK(msix_pending(&e->msix, 1));
	CHECK_EQ(fired(e, 1), 0);
	wr32(e, TABLE + 16 * 1 + 12, 0); /* unmask: the pending one fires */
	CHECK_EQ(fired(e, 1), 1);
	CHECK(!msix_pending(&e->msix, 1));
	CHECK_EQ(msix_notify_deferred(&e->msix, 1), 1);
	CHECK_EQ(fired(e, 1), 0); /* the caller's to write */
	CHECK(!msix_pending(&e->msix, 1));
	set_ctrl(e, 0);
	CHECK_EQ(msix_notify_deferred(&e->msix, 1), -1); /* off: dropped */
	CHECK(!msix_pending(&e->msix, 1));
	CHECK_EQ(msix_notify_deferred(&e->msix, NVEC), -1); /* out of range */
	env_free(e);
}

static void kvm_failure_keeps_pending(void)
{
	struct env *e = env_new(NVEC);
	set_ctrl(e, MSIX_CTRL_ENABLE);
	program(e, 0, 0xfee00000, 0, 0x4041);
	e->kvm.fail_routing = true;
	wr32(e, TABLE + 12, 0);
	CHECK_EQ(e->routes.table->nr, 40); /* rolled back */
	msix_notify(&e->msix, 0);
	CHECK(msix_pending(&e->msix, 0));
	CHECK_EQ(fired(e, 0), 0);
	e->kvm.fail_routing = false;
	wr32(e, TABLE + 8, 0x4042); /* any later change retries */
	CHECK(!msix_pending(&e->msix, 0));
	CHECK_EQ(fired(e, 0), 1);
	CHECK_EQ(route_of(e, 24)->u.msi.data, 0x4042);
	env_free(e);
}

static void bad_geometry_refused(void)
{
	struct fake_kvm kvm = {0};
	struct gsi_routes routes;
	CHECK_EQ(gsi_routes_init(&routes, &fake_ops, &kvm, true), 0);
	struct pci_device dev;
	struct msix m;
	pci_device_init(&dev, 1, 2, 0, 0, NULL, NULL);
	CHECK_EQ(pci_device_add_bar(&dev, 0, PCI_BAR_MEM32, 0x1000), 0);
	CHECK_EQ(msix_init(&m, &dev, &routes, 0, 0, 0, 0, 0x800), -1);
	CHECK_EQ(msix_init(&m, &dev, &routes, 2049, 0, 0, 0, 0x800), -1);
	CHECK_EQ(msix_init(&m, &dev, &routes, 4, 1, 0, 0, 0x800), -1);     /* no BAR1 */
	CHECK_EQ(msix_init(&m, &dev, &routes, 4, 0, 4, 0, 0x800), -1);     /* misaligned */
	CHECK_EQ(msix_init(&m, &dev, &routes, 4, 0, 0xfc8, 0, 0x800), -1); /* past the BAR */
	CHECK_EQ(msix_init(&m, &dev, &routes, 4, 0, 0, 0, 0x38), -1);      /* overlap */
	CHECK_EQ(msix_init(&m, &dev, &routes, 4, 0, 0, 0, 0xffffff8), -1);
	CHECK_EQ(kvm.irqfd_calls, 0);
	CHECK_EQ(dev.cfg[PCI_CAPABILITY_LIST], 0);
	msix_destroy(&m);
	CHECK_EQ(msix_init(&m, &dev, &routes, 4, 0, 0, 0, 0x40), 0); /* adjacent is fine */
	CHECK_EQ(dev.cfg[PCI_CAPABILITY_LIST], 0x40);
	msix_destroy(&m);
	gsi_routes_destroy(&routes);
}

static void hostile_offsets_and_sizes(void)
{
	struct env *e = env_new(NVEC);
	set_ctrl(e, MSIX_CTRL_ENABLE);
	uint8_t buf[16];
	for (uint64_t off = 0; off < 0x1010; off++) {
		for (unsigned len = 0; len <= 12; len++) {
			memset(buf, 0x5a, sizeof(buf));
			mmio_dispatch(&e->mmio, 0xc0000000 + off, buf, len, false);
			CHECK_EQ(buf[len > 8 ? 8 : len], 0x5a);
			memset(buf, 0xff, sizeof(buf));
			buf[0] = 0;
			mmio_dispatch(&e->mmio, 0xc0000000 + off, buf, len, true);
		}
	}
	/* Straight to msix_bar_access, offsets near 2^64. */
	memset(buf, 0, sizeof(buf));
	CHECK(!msix_bar_access(&e->msix, 0, UINT64_MAX - 3, buf, 8, false));
	CHECK(!msix_bar_access(&e->msix, 0, UINT64_MAX, buf, 8, true));
	CHECK(!msix_bar_access(&e->msix, 5, TABLE, buf, 4, true));
	CHECK(msix_bar_access(&e->msix, 0, TABLE + 16 * NVEC - 1, buf, 8, false));
	CHECK_EQ(buf[1], 0);
	/* Still consistent: ctrl words hold only the mask bit. */
	for (unsigned v = 0; v < NVEC; v++)
		CHECK_EQ(rd32(e, TABLE + 16 * v + 12) & ~1u, 0);
	env_free(e);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void saved_state(void)
{
	struct env *a = env_new(NVEC);
	/* the guest moves BAR 0 to 0xc0100000, unmasks vector 1, masks the
	 * function, enables MSI-X; vector 2 is pending (masked) */
	uint8_t bar[4] = {0x00, 0x00, 0x10, 0xc0};
	pci_config_access(&a->pci, 1, 0, PCI_BAR0, bar, 4, true);
	wr32(a, 0x100000 + TABLE + 16, 0xfee01000);
	wr32(a, 0x100000 + TABLE + 16 + 8, 0x4071);
	wr32(a, 0x100000 + TABLE + 16 + 12, 0);
	set_ctrl(a, MSIX_CTRL_ENABLE);
	msix_notify(&a->msix, 2);
	CHECK(msix_pending(&a->msix, 2));
	struct pci_config_state ps, ps2;
	static struct msix_saved ms, ms2;
	pci_config_state_save(&a->dev, &ps);
	msix_state_save(&a->msix, &ms);
	static uint8_t pb[4096], mb[4096];
	size_t pn = pci_config_state_encode(&ps, pb, sizeof(pb));
	size_t mn = msix_state_encode(&ms, mb, sizeof(mb));
	CHECK(pn && mn);
	env_free(a);

	struct env *b = env_new(NVEC);
	struct errbuf err;
	/* a BAR not aligned to its size: refused, nothing changed */
	pb[CODEC_HEADER_BYTES + CODEC_SECTION_BYTES + 256] = 0x80;
	put_le32(pb + pn - 4, snap_crc32c(0, pb, pn - 4));
	CHECK_EQ(pci_config_state_decode(pb, pn, &b->dev, &ps2, &err), -1);
	CHECK(strstr(err.msg, "aligned"));
	pb[CODEC_HEADER_BYTES + CODEC_SECTION_BYTES + 256] = 0;
	put_le32(pb + pn - 4, snap_crc32c(0, pb, pn - 4));
	/* another vector count: refused */
	struct env *c = env_new(NVEC + 1);
	CHECK_EQ(msix_state_decode(mb, mn, &c->msix, &ms2, &err), -1);
	CHECK(strstr(err.msg, "vectors"));
	env_free(c);
	CHECK_EQ(rd32(b, TABLE + 16), 0); /* still at the place ember gave it */

	CHECK_EQ(pci_config_state_decode(pb, pn, &b->dev, &ps2, &err), 0);
	CHECK_EQ(msix_state_decode(mb, mn, &b->msix, &ms2, &err), 0);
	unsigned calls = b->kvm.routing_calls;
	msix_state_apply(&b->msix, &ms2);
	pci_config_state_apply(&b->dev, &ps2);
	CHECK(b->kvm.routing_calls > calls);
	const struct kvm_irq_routing_entry *r = route_of(b, msix_vector_gsi(&b->msix, 1));
	CHECK(r);
	CHECK_EQ(r->u.msi.address_lo, 0xfee01000);
	CHECK_EQ(r->u.msi.data, 0x4071);
	CHECK_EQ(get_ctrl(b) & (MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK), MSIX_CTRL_ENABLE);
	CHECK_EQ(b->dev.bar[0].mapped, 0xc0100000);
	CHECK_EQ(rd32(b, 0x100000 + TABLE + 16), 0xfee01000); /* decoded at the new place */
	CHECK_EQ(pci_config_get(&b->dev, PCI_BAR0, 4), 0xc0100000);
	CHECK(msix_pending(&b->msix, 2));
	CHECK(msix_deliverable(&b->msix, 1));
	env_free(b);
}

int main(void)
{
	RUN(default_routes_kept);
	RUN(capability_layout);
	RUN(table_reads_writes);
	RUN(unmask_programs_route_and_delivers);
	RUN(function_mask_and_disable);
	RUN(external_trigger_masks_by_irqfd);
	RUN(kvm_failure_keeps_pending);
	RUN(deferred_notify_says_what_to_write);
	RUN(bad_geometry_refused);
	RUN(hostile_offsets_and_sizes);
	RUN(saved_state);
	return check_summary();
}
