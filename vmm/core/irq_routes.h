/* irq_routes.h: the VM-wide KVM GSI routing table and irqfds: how MSIs (MSI-X
 * vectors, the split IRQ chip's IOAPIC pins) reach the guest without a vCPU
 * exit.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so struct gsi_routes keeps the
 * complete table (KVM's default IOAPIC/PIC routes for GSIs 0-23 included, or
 * the serial port's IRQ would vanish with the first MSI route) and resubmits
 * it on each change. The KVM calls go through struct gsi_ops so unit tests can
 * run without /dev/kvm.
 *
 * Lock order: callers' locks (msix, ioapic) -> gsi routes. */
#ifndef EMBER_IRQ_ROUTES_H
#define EMBER_IRQ_ROUTES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#define GSI_IRQCHIP_PINS 24 /* IOAPIC pins; MSI GSIs start here */
#define GSI_MAX 1024        /* GSIs ember hands out (KVM allows 4096 routes) */
#define GSI_MAX_ROUTES (GSI_MAX + 16)

/* The two KVM calls; return 0 or -1 with errno, like ioctl. */
struct gsi_ops {
	int (*set_gsi_routing)(void *ctx, const struct kvm_irq_routing *table);
	int (*irqfd)(void *ctx, const struct kvm_irqfd *irqfd);
};

/* The real ones: ctx is a pointer to the VM fd (int *). */
extern const struct gsi_ops gsi_kvm_ops;

struct gsi_routes {
	pthread_mutex_t lock;
	const struct gsi_ops *ops;
	void *ctx;
	unsigned next_gsi;
	bool pin_routes; /* GSIs 0-23 are the userspace IOAPIC's to route */
	struct kvm_irq_routing *table; /* nr entries, room for GSI_MAX_ROUTES */
};

/* With the in-kernel IRQ chip (kernel_irqchip), start with KVM's default
 * routes (GSI 0-15: IOAPIC pin and PIC pin; 16-23: IOAPIC pin), which are what
 * KVM_CREATE_IRQCHIP installed; with the split IRQ chip, with none, and GSIs
 * 0-23 may then be routed to MSIs by ember's IOAPIC. Nothing is submitted yet.
 * Returns 0 or -1 (no memory). */
int gsi_routes_init(struct gsi_routes *r, const struct gsi_ops *ops, void *ctx, bool kernel_irqchip);
void gsi_routes_destroy(struct gsi_routes *r);
/* A fresh GSI (24, 25, ...), or -1 when GSI_MAX are used. */
int gsi_alloc(struct gsi_routes *r);
/* Route gsi to an MSI (replacing its route), submitting the table when it
 * changed. Returns 0, or -1 when the gsi is below 24 (with the in-kernel IRQ
 * chip) or KVM refused. */
int gsi_route_msi(struct gsi_routes *r, unsigned gsi, uint32_t addr_lo, uint32_t addr_hi,
		  uint32_t data);
/* Remove gsi's route (if any) and submit. Returns 0 or -1. */
int gsi_route_remove(struct gsi_routes *r, unsigned gsi);
/* Attach eventfd efd to gsi (KVM_IRQFD). Returns 0 or -1. */
int gsi_irqfd(struct gsi_routes *r, int efd, unsigned gsi);
/* Detach it again (KVM_IRQFD_FLAG_DEASSIGN). Returns 0 or -1. */
int gsi_irqfd_detach(struct gsi_routes *r, int efd, unsigned gsi);

#endif
