/* fuzz_ioapic.c: libFuzzer target for ember's IOAPIC (ioapic.c), which the
 * guest drives through MMIO. The input is a sequence of 7-byte records, each
 * one guest or device action:
 *   [0] op % 4: 0 MMIO write, 1 MMIO read, 2 input line change, 3 EOI
 *   [1..2] MMIO offset (u16 LE, taken modulo the window plus 16) / pin / vector
 *   [3] MMIO access length (1..8) / line level (bit 0)
 *   [4..7] the value written (u32 LE)
 * Checked: every MSI the IOAPIC sends is the message of an unmasked,
 * non-ExtINT pin that is edge-triggered or level-triggered with remote IRR
 * clear (so a level pin never sends again before its EOI); remote IRR is only
 * ever set on level-triggered pins; every GSI route it installs is one of its
 * own pins, as an MSI, at most one per pin. ASan sees any access outside the
 * state. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/harness.h"
#include "vmm/devices/ioapic.h"

static struct ioapic apic;
static struct gsi_routes routes;

static int check_msi(void *ctx, const struct kvm_msi *msi)
{
	(void)ctx;
	/* Called with the IOAPIC's lock held, from service(): its state is stable. */
	bool found = false;
	for (unsigned p = 0; p < IOAPIC_PINS; p++) {
		uint64_t rte = apic.rte[p];
		uint32_t addr, data;
		ioapic_rte_msi(rte, &addr, &data);
		if (addr != msi->address_lo || data != msi->data || (rte & IOAPIC_RTE_MASKED) ||
		    ((rte >> IOAPIC_RTE_DELMODE_SHIFT) & 7) == IOAPIC_DELMODE_EXTINT)
			continue;
		if ((rte & IOAPIC_RTE_LEVEL) && (rte & IOAPIC_RTE_REMOTE_IRR))
			continue; /* waiting for its EOI: cannot be the sender */
		found = true;
		break;
	}
	ASSERT(found);
	ASSERT(msi->address_hi == 0 && msi->flags == 0);
	return 1;
}

static int check_routing(void *ctx, const struct kvm_irq_routing *t)
{
	(void)ctx;
	bool seen[IOAPIC_PINS] = {0};
	ASSERT(t->nr <= IOAPIC_PINS);
	for (unsigned i = 0; i < t->nr; i++) {
		ASSERT(t->entries[i].gsi < IOAPIC_PINS);
		ASSERT(t->entries[i].type == KVM_IRQ_ROUTING_MSI);
		ASSERT(!seen[t->entries[i].gsi]);
		seen[t->entries[i].gsi] = true;
	}
	return 0;
}

static int no_irqfd(void *ctx, const struct kvm_irqfd *f)
{
	(void)ctx, (void)f;
	return 0;
}

static const struct ioapic_ops msi_ops = {check_msi};
static const struct gsi_ops route_ops = {check_routing, no_irqfd};

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	if (gsi_routes_init(&routes, &route_ops, NULL, false))
		return 0;
	ioapic_init(&apic, &msi_ops, NULL, &routes);
	for (size_t i = 0; i + 7 <= n; i += 7) {
		const uint8_t *r = in + i;
		uint16_t arg = (uint16_t)(r[1] | r[2] << 8);
		uint8_t buf[8] = {0};
		unsigned len = r[3] % 8 + 1;
		switch (r[0] % 4) {
		case 0:
			memcpy(buf, r + 3, 4);
			ioapic_mmio(&apic, arg % (IOAPIC_MMIO_SIZE + 16), buf, len, true);
			break;
		case 1:
			ioapic_mmio(&apic, arg % (IOAPIC_MMIO_SIZE + 16), buf, len, false);
			break;
		case 2:
			ioapic_set_irq(&apic, arg % 32, r[3] & 1);
			break;
		case 3:
			ioapic_eoi(&apic, (uint8_t)arg);
			break;
		}
		for (unsigned p = 0; p < IOAPIC_PINS; p++)
			ASSERT(!(apic.rte[p] & IOAPIC_RTE_REMOTE_IRR) || (apic.rte[p] & IOAPIC_RTE_LEVEL));
	}
	ioapic_destroy(&apic);
	gsi_routes_destroy(&routes);
	return 0;
}
