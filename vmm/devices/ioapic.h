/* ioapic.h: the IOAPIC, emulated in ember, for KVM's split IRQ chip (the local
 * APICs stay in the kernel; there is no PIC and no PIT). It is what the
 * legacy devices (the UART) raise their interrupt lines on.
 *
 * 24 pins, version 0x20 (with the EOI register), at LAYOUT_IOAPIC: IOREGSEL at
 * +0x00, IOWIN at +0x10, EOI at +0x40. A pin delivers by turning its
 * redirection entry into an MSI (KVM_SIGNAL_MSI): edge-triggered pins on a
 * rising edge, level-triggered pins while the line is high and the previous
 * interrupt was EOI'd (remote IRR clear). For KVM to report those EOIs
 * (KVM_EXIT_IOAPIC_EOI), each level-triggered pin's MSI is also installed as
 * the GSI route of the same number (KVM scans GSIs 0-23 for level-triggered
 * vectors); edge-triggered pins need no route.
 *
 * Everything the guest writes is taken as hostile: any register index, any
 * entry value, any access size; so is a saved state read back for a
 * snapshot. The KVM call goes through struct ioapic_ops so unit tests can
 * run without /dev/kvm.
 *
 * Lock order: ioapic -> gsi routes. */
#ifndef EMBER_IOAPIC_H
#define EMBER_IOAPIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/core/irq_routes.h"
#include "vmm/lib/util.h"

#define IOAPIC_PINS 24
#define IOAPIC_MMIO_SIZE 0x1000
#define IOAPIC_VERSION 0x20

/* MMIO offsets and indirect registers */
#define IOAPIC_REGSEL 0x00
#define IOAPIC_WINDOW 0x10
#define IOAPIC_EOI 0x40
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_RTE 0x10 /* pin i: low half at 0x10 + 2i, high half at 0x11 + 2i */

/* Redirection entry bits */
#define IOAPIC_RTE_VECTOR 0xffull
#define IOAPIC_RTE_DELMODE_SHIFT 8
#define IOAPIC_RTE_DESTMODE (1ull << 11)
#define IOAPIC_RTE_DELIVS (1ull << 12) /* read-only */
#define IOAPIC_RTE_POLARITY (1ull << 13)
#define IOAPIC_RTE_REMOTE_IRR (1ull << 14) /* read-only */
#define IOAPIC_RTE_LEVEL (1ull << 15)
#define IOAPIC_RTE_MASKED (1ull << 16)
#define IOAPIC_RTE_DEST_SHIFT 56
#define IOAPIC_DELMODE_EXTINT 7

struct ioapic_ops {
	/* Inject one MSI; returns what ioctl(KVM_SIGNAL_MSI) does. */
	int (*signal_msi)(void *ctx, const struct kvm_msi *msi);
};

/* The real one: ctx is a pointer to the VM fd (int *). */
extern const struct ioapic_ops ioapic_kvm_ops;

struct ioapic {
	pthread_mutex_t lock;
	const struct ioapic_ops *ops;
	void *ctx;
	struct gsi_routes *routes;
	/* What the guest sees (struct ioapic_state). */
	STATE_GROUP(ioapic_state, state,
		uint32_t id;          /* IOAPIC id, bits 24-27 of register 0 */
		uint32_t regsel;
		uint64_t rte[IOAPIC_PINS];
		uint32_t lines;       /* input lines now asserted, a bit per pin */
	);
};

/* Reset state: every pin masked, edge-triggered, vector 0. */
void ioapic_init(struct ioapic *a, const struct ioapic_ops *ops, void *ctx,
		 struct gsi_routes *routes);
void ioapic_destroy(struct ioapic *a);

/* An input line changed (pins >= IOAPIC_PINS are ignored). */
void ioapic_set_irq(struct ioapic *a, unsigned pin, bool level);
/* A local APIC EOI'd vector (KVM_EXIT_IOAPIC_EOI), or the guest wrote the EOI register. */
void ioapic_eoi(struct ioapic *a, uint8_t vector);
/* The MMIO handler (an mmio_fn; opaque is the struct ioapic). */
void ioapic_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool write);

/* The MSI a redirection entry describes: address (low 32 bits) and data. */
void ioapic_rte_msi(uint64_t rte, uint32_t *addr_lo, uint32_t *data);

/* Snapshots. The state is struct ioapic_state as it is: the id, the
 * selected register, the 24 redirection entries (remote IRR included) and
 * the input lines' levels. The blob (vmm/core/state_codec.h): */
#define IOAPIC_STATE_MAGIC 0x414f4945u /* "EIOA" */
#define IOAPIC_STATE_VERSION 1
#define IOAPIC_STATE_MAX_BYTES 512
/* Encode st into buf: its length, or 0 when cap is too small. */
size_t ioapic_state_encode(const struct ioapic_state *st, uint8_t *buf, size_t cap);
/* Decode len untrusted bytes into st, checking every field (the id's and
 * the lines' reserved bits, the delivery status bit clear, remote IRR only
 * on level-triggered pins, and set on each level-triggered pin that is
 * unmasked with its line high, as delivery leaves it): 0, or -1 with err one
 * line ("IOAPIC state: ...") and st zeroed. */
int ioapic_state_decode(const uint8_t *buf, size_t len, struct ioapic_state *st,
			struct errbuf *err);
/* The IOAPIC's state encoded into buf (under its lock): the length, or 0
 * when cap is too small. */
size_t ioapic_save(struct ioapic *a, uint8_t *buf, size_t cap);
/* Decode buf and, only when it is valid, make it the IOAPIC's state and
 * install the GSI route of each level-triggered pin again (nothing is
 * delivered: an interrupt in flight is in the local APICs' saved state).
 * 0, or -1 with err set and a unchanged. */
int ioapic_restore(struct ioapic *a, const uint8_t *buf, size_t len, struct errbuf *err);

#endif
