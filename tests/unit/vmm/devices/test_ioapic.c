/* test_ioapic.c: ember's IOAPIC (split IRQ chip) without /dev/kvm: register
 * access through IOREGSEL/IOWIN, the MSI an entry describes, edge and level
 * delivery, masking, remote IRR and EOI (exit and register), the GSI routes
 * of level-triggered pins, hostile accesses, and the saved state: an IOAPIC
 * restored from it reads and delivers as the saved one (its routes installed
 * again, nothing delivered by the restore), and truncated, corrupted,
 * other-version and out-of-range blobs are refused without touching it. */
#include <stdbool.h>
#include <stdlib.h>

#include "tests/unit/check.h"
#include "vmm/core/snapshot_file.h"
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

/* An IOAPIC a guest has set up, with interrupts in every state: id 10,
 * pin 4 edge (delivered, its line still high), pin 9 level (delivered,
 * waiting for its EOI, line high), pin 10 level and masked with its line
 * high, pin 11 level with its line low, pin 2 ExtINT, pin 23 with reserved
 * bits written, and register 0x23 selected. */
static void busy_ioapic(struct env *e)
{
	set_reg(e, IOAPIC_REG_ID, 0x0a000000u);
	program(e, 4, 0x0100000000000000ull | 0x24);
	program(e, 9, 0x0200000000000000ull | IOAPIC_RTE_LEVEL | 0x39);
	program(e, 10, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | 0x40);
	program(e, 11, 0x0300000000000000ull | IOAPIC_RTE_DESTMODE | IOAPIC_RTE_LEVEL |
			       IOAPIC_RTE_POLARITY | 0x41);
	program(e, 2, (uint64_t)IOAPIC_DELMODE_EXTINT << IOAPIC_RTE_DELMODE_SHIFT);
	program(e, 23, 0xff123456ull << 32 | 0x00fe0000ull | IOAPIC_RTE_MASKED | 0x77);
	ioapic_set_irq(&e->a, 4, true);
	ioapic_set_irq(&e->a, 9, true);
	ioapic_set_irq(&e->a, 10, true);
	ioapic_set_irq(&e->a, 2, true);
	wr(e, IOAPIC_REGSEL, 0x23);
}

/* The GSI route table (the fake's copy of the last one submitted) as a
 * sorted-by-GSI list is what a pin's delivery on EOI relies on. */
static int same_routes(const struct env *a, const struct env *b)
{
	const struct kvm_irq_routing *x = a->routes.table, *y = b->routes.table;
	if (x->nr != y->nr)
		return 0;
	for (unsigned i = 0; i < x->nr; i++) {
		const struct kvm_irq_routing_entry *p = &x->entries[i], *q = NULL;
		for (unsigned j = 0; j < y->nr; j++)
			if (y->entries[j].gsi == p->gsi)
				q = &y->entries[j];
		if (!q || q->type != p->type || q->u.msi.address_lo != p->u.msi.address_lo ||
		    q->u.msi.address_hi != p->u.msi.address_hi || q->u.msi.data != p->u.msi.data)
			return 0;
	}
	return 1;
}

static void state_round_trip(void)
{
	struct env *e = env_new(), *f = env_new();
	CHECK(e && f);
	busy_ioapic(e);
	CHECK_EQ(e->f.msis, 2);
	CHECK_EQ(e->routes.table->nr, 3); /* pins 9, 10, 11 */
	uint8_t blob[IOAPIC_STATE_MAX_BYTES];
	size_t n = ioapic_save(&e->a, blob, sizeof(blob));
	CHECK(n > 0);
	CHECK_EQ(ioapic_save(&e->a, blob, n - 1), 0);
	CHECK_EQ(ioapic_save(&e->a, blob, sizeof(blob)), n);
	struct errbuf err = {{0}};
	CHECK_EQ(ioapic_restore(&f->a, blob, n, &err), 0);
	CHECK_MEM_EQ(&f->a.state, &e->a.state, sizeof(f->a.state));
	CHECK_EQ(f->f.msis, 0); /* what was delivered is in the local APICs */
	CHECK(same_routes(e, f));

	/* Every read the guest can make, the selected register first. */
	CHECK_EQ(rd(f, IOAPIC_REGSEL), 0x23u);
	for (uint32_t r = 0; r < 256; r++)
		CHECK_EQ(get_reg(f, r), get_reg(e, r));
	/* Delivery goes on alike: pin 9's EOI fires it again (its line is
	 * high), pin 4 on a new edge, pin 10 once unmasked; pin 2 never. */
	unsigned before = e->f.msis;
	struct env *both[2] = {e, f};
	for (unsigned i = 0; i < 2; i++) {
		struct env *x = both[i];
		ioapic_eoi(&x->a, 0x39);
		ioapic_set_irq(&x->a, 4, false);
		ioapic_set_irq(&x->a, 4, true);
		program(x, 10, IOAPIC_RTE_LEVEL | 0x40);
		ioapic_set_irq(&x->a, 2, false);
		ioapic_set_irq(&x->a, 2, true);
	}
	CHECK_EQ(e->f.msis - before, 3);
	CHECK_EQ(f->f.msis, 3);
	CHECK_EQ(f->f.last.data, e->f.last.data);
	CHECK_EQ(f->f.last.address_lo, e->f.last.address_lo);
	CHECK_MEM_EQ(&f->a.state, &e->a.state, sizeof(f->a.state));
	env_free(e);
	env_free(f);
}

static void reseal(uint8_t *b, size_t n)
{
	uint32_t crc = snap_crc32c(0, b, n - 4);
	for (unsigned i = 0; i < 4; i++)
		b[n - 4 + i] = (uint8_t)(crc >> (8 * i));
}

/* A refusal: -1, one line naming the blob, the IOAPIC as it was built, no
 * route submitted, nothing delivered. */
static int refused(const uint8_t *b, size_t n, const char *want)
{
	struct env *f = env_new();
	if (!f)
		return 0;
	struct ioapic_state before = f->a.state;
	struct errbuf err = {{0}};
	int ok = ioapic_restore(&f->a, b, n, &err) == -1 && !strncmp(err.msg, "IOAPIC state: ", 14) &&
		 !strchr(err.msg, '\n') && (!want || strstr(err.msg, want)) &&
		 !memcmp(&before, &f->a.state, sizeof(before)) && !f->f.routing_calls && !f->f.msis;
	if (!ok)
		printf("  accepted or wrong refusal: \"%s\"\n", err.msg);
	env_free(f);
	return ok;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void state_refusals(void)
{
	struct env *e = env_new();
	CHECK(e != NULL);
	busy_ioapic(e);
	uint8_t good[IOAPIC_STATE_MAX_BYTES], b[IOAPIC_STATE_MAX_BYTES];
	size_t n = ioapic_save(&e->a, good, sizeof(good));
	env_free(e);
	CHECK_EQ(n, 12 + 8 + 12 + 8 + 4 + 8 * IOAPIC_PINS + 4);
	for (size_t len = 0; len < n; len++)
		CHECK(refused(good, len, NULL));
	for (size_t i = 0; i < n; i++) {
		memcpy(b, good, n);
		b[i] ^= 0x01;
		CHECK(refused(b, n, NULL));
	}
	memcpy(b, good, n);
	b[4] = 2;
	reseal(b, n);
	CHECK(refused(b, n, "version 2"));

	/* One field at a time out of its range (the CRC made to match). */
	const size_t id = 20, regsel = 24, lines = 28, pins = 40, rte = 44;
#define RTE(pin) (rte + 8 * (pin))
	static const struct { size_t off; uint8_t v; const char *want; } bad[] = {
		{id, 0x01, "id register"},            /* bits below 24 */
		{id + 3, 0x1a, "id register"},        /* bit 28 */
		{regsel + 1, 0x01, "register select"},/* 0x123 */
		{lines + 3, 0x01, "lines"},           /* pin 24 */
		{pins, 23, "23 pins"},
		{pins, 25, "25 pins"},
		{RTE(4) + 1, 0x10, "delivery status"},/* pin 4: DELIVS */
		{RTE(4) + 1, 0x40, "edge-triggered"}, /* pin 4: remote IRR on an edge pin */
		{RTE(9) + 1, 0x80, "never delivered"},/* pin 9: remote IRR cleared, line high */
		{lines + 1, 0x0e, "never delivered"}, /* pin 11's line high, no remote IRR */
	};
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		memcpy(b, good, n);
		b[bad[i].off] = bad[i].v;
		reseal(b, n);
		CHECK(refused(b, n, bad[i].want));
	}
	/* In range: a masked level pin with its line high and no remote IRR
	 * (pin 10), or an ExtINT one; regsel 0xff; lines of all 24 pins when
	 * every level pin has remote IRR. */
	memcpy(b, good, n);
	b[regsel] = 0xff;
	put64(b + RTE(11), IOAPIC_RTE_LEVEL | IOAPIC_RTE_REMOTE_IRR | 0x41);
	put64(b + RTE(9), IOAPIC_RTE_LEVEL | IOAPIC_RTE_MASKED | 0x39);
	put64(b + RTE(3), IOAPIC_RTE_LEVEL | (uint64_t)IOAPIC_DELMODE_EXTINT << IOAPIC_RTE_DELMODE_SHIFT);
	b[lines] = b[lines + 1] = b[lines + 2] = 0xff;
	reseal(b, n);
	struct env *f = env_new();
	CHECK(f != NULL);
	struct errbuf err = {{0}};
	int r = ioapic_restore(&f->a, b, n, &err);
	uint32_t sel = rd(f, IOAPIC_REGSEL);
	unsigned msis = f->f.msis;
	env_free(f);
	CHECK_EQ(r, 0);
	CHECK_EQ(sel, 0xffu);
	CHECK_EQ(msis, 0);
#undef RTE
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
	RUN(state_round_trip);
	RUN(state_refusals);
	return check_summary();
}
