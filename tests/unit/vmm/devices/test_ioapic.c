/* test_ioapic.c: ember's IOAPIC (split IRQ chip) without /dev/kvm: register
 * access through IOREGSEL/IOWIN, the MSI an entry describes, edge and level
 * delivery, masking, remote IRR and EOI (exit and register), the GSI routes
 * of level-triggered pins, and hostile accesses. */
#include <stdbool.h>
#include <stdlib.h>

#include "tests/unit/check.h"
#include "vmm/devices/ioapic.h"

struct fake {
	unsigned msis;
	struct kvm_msi last;
	unsigned routing_calls;
	struct kvm_irq_routing last_table_hdr;
	struct kvm_irq_routing_entry last_entries[64];
};

static int fake_msi(void *ctx, const struct kvm_msi *msi)
{
	struct fake *f = ctx;
	f->msis++;
	f->last = *msi;
	return 1;
}

static int fake_routing(void *ctx, const struct kvm_irq_routing *t)
{
	struct fake *f = ctx;
	f->routing_calls++;
	f->last_table_hdr = *t;
	for (unsigned i = 0; i < t->nr && i < 64; i++)
		f->last_entries[i] = t->entries[i];
	return 0;
}

static int fake_irqfd(void *ctx, const struct kvm_irqfd *irqfd)
{
	(void)ctx, (void)irqfd;
	return 0;
}

static const struct ioapic_ops msi_ops = {fake_msi};
static const struct gsi_ops route_ops = {fake_routing, fake_irqfd};

struct env {
	struct fake f;
	struct gsi_routes routes;
	struct ioapic a;
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	if (!e || gsi_routes_init(&e->routes, &route_ops, &e->f, false)) {
		free(e);
		return NULL;
	}
	ioapic_init(&e->a, &msi_ops, &e->f, &e->routes);
	return e;
}

static void env_free(struct env *e)
{
	ioapic_destroy(&e->a);
	gsi_routes_destroy(&e->routes);
	free(e);
}

static void wr(struct env *e, uint64_t off, uint32_t v)
{
	ioapic_mmio(&e->a, off, (uint8_t *)&v, 4, true);
}

static uint32_t rd(struct env *e, uint64_t off)
{
	uint32_t v = 0;
	ioapic_mmio(&e->a, off, (uint8_t *)&v, 4, false);
	return v;
}

static void set_reg(struct env *e, uint32_t reg, uint32_t v)
{
	wr(e, IOAPIC_REGSEL, reg);
	wr(e, IOAPIC_WINDOW, v);
}

static uint32_t get_reg(struct env *e, uint32_t reg)
{
	wr(e, IOAPIC_REGSEL, reg);
	return rd(e, IOAPIC_WINDOW);
}

static void program(struct env *e, unsigned pin, uint64_t rte)
{
	set_reg(e, IOAPIC_REG_RTE + 2 * pin + 1, (uint32_t)(rte >> 32));
	set_reg(e, IOAPIC_REG_RTE + 2 * pin, (uint32_t)rte);
}

static void registers_read_back(void)
{
	struct env *e = env_new();
	CHECK(e != NULL);
	CHECK_EQ(get_reg(e, IOAPIC_REG_VER), 0x170020u); /* 24 pins, version 0x20 */
	CHECK_EQ(get_reg(e, IOAPIC_REG_RTE), (uint32_t)IOAPIC_RTE_MASKED); /* reset: masked */
	set_reg(e, IOAPIC_REG_ID, 0x0f000000u | 0x1234);
	CHECK_EQ(get_reg(e, IOAPIC_REG_ID), 0x0f000000u);
	CHECK_EQ(get_reg(e, IOAPIC_REG_ARB), 0x0f000000u);
	set_reg(e, IOAPIC_REG_VER, 0); /* read-only */
	CHECK_EQ(get_reg(e, IOAPIC_REG_VER), 0x170020u);
	program(e, 23, 0x0300000000000000ull | IOAPIC_RTE_MASKED | 0x41);
	CHECK_EQ(get_reg(e, IOAPIC_REG_RTE + 46), (uint32_t)IOAPIC_RTE_MASKED | 0x41);
	CHECK_EQ(get_reg(e, IOAPIC_REG_RTE + 47), 0x03000000u);
	/* The guest cannot set the read-only bits. */
	set_reg(e, IOAPIC_REG_RTE, (uint32_t)(IOAPIC_RTE_REMOTE_IRR | IOAPIC_RTE_DELIVS) | 0x30);
	CHECK_EQ(get_reg(e, IOAPIC_REG_RTE), 0x30u);
	CHECK_EQ(get_reg(e, 0x10 + 48), 0xffffffffu); /* past the last entry */
	CHECK_EQ(rd(e, IOAPIC_REGSEL), 0x10u + 48);
	CHECK_EQ(e->f.msis, 0);
	env_free(e);
}

static void entry_to_msi(void)
{
	uint32_t addr, data;
	ioapic_rte_msi(0x0200000000000000ull | 0x31, &addr, &data); /* physical, dest 2, fixed */
	CHECK_EQ(addr, 0xfee02000u);
	CHECK_EQ(data, 0x31u);
	ioapic_rte_msi(0x0500000000000000ull | IOAPIC_RTE_DESTMODE | IOAPIC_RTE_LEVEL |
			       1u << IOAPIC_RTE_DELMODE_SHIFT | 0x52,
		       &addr, &data); /* logical, lowest priority, level */
	CHECK_EQ(addr, 0xfee05004u);
	CHECK_EQ(data, 0xc152u);
}

static void edge_delivers_on_rising_edge_only(void)
{
	struct env *e = env_new();
	CHECK(e != NULL);
	ioapic_set_irq(&e->a, 4, true); /* masked: nothing */
	ioapic_set_irq(&e->a, 4, false);
	CHECK_EQ(e->f.msis, 0);
	program(e, 4, 0x0100000000000000ull | 0x24);
	CHECK_EQ(e->f.routing_calls, 0); /* edge pins need no route */
	ioapic_set_irq(&e->a, 4, true);
	CHECK_EQ(e->f.msis, 1);
	CHECK_EQ(e->f.last.address_lo, 0xfee01000u);
	CHECK_EQ(e->f.last.data, 0x24u);
	ioapic_set_irq(&e->a, 4, true); /* still high: no new edge */
	CHECK_EQ(e->f.msis, 1);
	ioapic_set_irq(&e->a, 4, false);
	ioapic_set_irq(&e->a, 4, true);
	CHECK_EQ(e->f.msis, 2);
	CHECK_EQ(get_reg(e, IOAPIC_REG_RTE + 8) & IOAPIC_RTE_REMOTE_IRR, 0);
	ioapic_eoi(&e->a, 0x24); /* EOIs do nothing to edge pins */
	CHECK_EQ(e->f.msis, 2);
	/* Masked, an edge is lost; unmasking does not replay it. */
	program(e, 4, IOAPIC_RTE_MASKED | 0x24);
	ioapic_set_irq(&e->a, 4, false);
	ioapic_set_irq(&e->a, 4, true);
	program(e, 4, 0x24);
	CHECK_EQ(e->f.msis, 2);
	env_free(e);
}

static void level_waits_for_eoi(void)
{
	struct env *e = env_new();
	CHECK(e != NULL);
	program(e, 9, IOAPIC_RTE_LEVEL | 0x39);
	/* The pin's MSI is now GSI 9's route, so KVM reports the vector's EOI. */
	CHECK(e->f.routing_calls >= 1);
	CHECK_EQ(e->f.last_table_hdr.nr, 1);
	CHECK_EQ(e->f.last_entries[0].gsi, 9);
	CHECK_EQ(e->f.last_entries[0].type, KVM_IRQ_ROUTING_MSI);
	CHECK_EQ(e->f.last_entries[0].u.msi.data, 0xc039u);
	ioapic_set_irq(&e->a, 9, true);
	CHECK_EQ(e->f.msis, 1);
	CHECK(get_reg(e, IOAPIC_REG_RTE + 18) & IOAPIC_RTE_REMOTE_IRR);
	ioapic_set_irq(&e->a, 9, true); /* remote IRR: held */
	CHECK_EQ(e->f.msis, 1);
	ioapic_eoi(&e->a, 0x38); /* another vector */
	CHECK_EQ(e->f.msis, 1);
	ioapic_eoi(&e->a, 0x39); /* still high: fires again */
	CHECK_EQ(e->f.msis, 2);
	ioapic_set_irq(&e->a, 9, false);
	ioapic_eoi(&e->a, 0x39); /* low: just clears remote IRR */
	CHECK_EQ(e->f.msis, 2);
	CHECK_EQ(get_reg(e, IOAPIC_REG_RTE + 18) & IOAPIC_RTE_REMOTE_IRR, 0);
	/* The EOI register does the same as an EOI exit. */
	ioapic_set_irq(&e->a, 9, true);
	CHECK_EQ(e->f.msis, 3);
	wr(e, IOAPIC_EOI, 0x39);
	CHECK_EQ(e->f.msis, 4);
	/* Switching to edge clears remote IRR and removes the route. */
	program(e, 9, 0x39);
	CHECK_EQ(get_reg(e, IOAPIC_REG_RTE + 18) & IOAPIC_RTE_REMOTE_IRR, 0);
	CHECK_EQ(e->routes.table->nr, 0);
	env_free(e);
}

static void level_high_fires_when_unmasked(void)
{
	struct env *e = env_new();
	CHECK(e != NULL);
	program(e, 10, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | 0x40);
	ioapic_set_irq(&e->a, 10, true);
	CHECK_EQ(e->f.msis, 0);
	program(e, 10, IOAPIC_RTE_LEVEL | 0x40);
	CHECK_EQ(e->f.msis, 1);
	CHECK_EQ(e->f.last.data, 0xc040u);
	env_free(e);
}

static void extint_and_bad_pins_ignored(void)
{
	struct env *e = env_new();
	CHECK(e != NULL);
	program(e, 2, (uint64_t)IOAPIC_DELMODE_EXTINT << IOAPIC_RTE_DELMODE_SHIFT);
	ioapic_set_irq(&e->a, 2, true);
	ioapic_set_irq(&e->a, 24, true);
	ioapic_set_irq(&e->a, 1000, true);
	ioapic_eoi(&e->a, 0);
	CHECK_EQ(e->f.msis, 0);
	/* A level entry with a vector below 16 gets no route. */
	program(e, 3, IOAPIC_RTE_LEVEL | 0x05);
	CHECK_EQ(e->routes.table->nr, 0);
	env_free(e);
}

static void hostile_accesses(void)
{
	struct env *e = env_new();
	CHECK(e != NULL);
	uint8_t buf[8];
	/* Odd sizes and offsets, past the registers, the whole window. */
	for (uint64_t off = 0; off < IOAPIC_MMIO_SIZE + 16; off += 3) {
		for (unsigned len = 1; len <= 8; len++) {
			memset(buf, 0x5a, sizeof(buf));
			ioapic_mmio(&e->a, off, buf, len, true);
			ioapic_mmio(&e->a, off, buf, len, false);
		}
	}
	/* A 1-byte read of IOREGSEL sees the low byte; a bad size reads ones. */
	wr(e, IOAPIC_REGSEL, 0x11);
	ioapic_mmio(&e->a, IOAPIC_REGSEL, buf, 1, false);
	CHECK_EQ(buf[0], 0x11);
	ioapic_mmio(&e->a, IOAPIC_WINDOW, buf, 8, false);
	CHECK_EQ(buf[0], 0xff);
	CHECK_EQ(buf[7], 0xff);
	/* Every register index, every value: no crash, no stray MSI for masked pins. */
	for (uint32_t r = 0; r < 256; r++)
		set_reg(e, r, (r & 1) ? 0xffffffffu : (uint32_t)IOAPIC_RTE_MASKED | 0xffff);
	for (unsigned p = 0; p < IOAPIC_PINS; p++)
		ioapic_set_irq(&e->a, p, true);
	CHECK_EQ(e->f.msis, 0);
	env_free(e);
}

int main(void)
{
	RUN(registers_read_back);
	RUN(entry_to_msi);
	RUN(edge_delivers_on_rising_edge_only);
	RUN(level_waits_for_eoi);
	RUN(level_high_fires_when_unmasked);
	RUN(extint_and_bad_pins_ignored);
	RUN(hostile_accesses);
	return check_summary();
}
