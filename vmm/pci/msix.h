/* msix.h: MSI-X for an emulated PCI device (capability, vector table, PBA).
 *
 * Delivery: each vector owns a GSI (from 24 up, after the IOAPIC pins) and an
 * eventfd attached to that GSI with KVM_IRQFD. While a vector is deliverable
 * (MSI-X enabled, function not masked, vector not masked) its GSI is routed
 * (KVM_IRQ_ROUTING_MSI) to the entry's address/data, and msix_notify() just
 * writes the eventfd: KVM injects the interrupt without any vCPU exit. When it
 * is masked, msix_notify() sets the vector's pending bit instead, and
 * unmasking re-routes the GSI (the guest may have changed the entry meanwhile)
 * and then delivers the pending interrupt. Devices must signal through
 * msix_notify(), not by writing the eventfd themselves, or masking is not
 * honoured. Interrupts while MSI-X is disabled are dropped.
 *
 * A passed-through device (VFIO) signals the eventfds itself, from the host
 * kernel. For it msix_external_trigger() switches masking to the irqfd: a
 * vector's eventfd is attached to its GSI (KVM_IRQFD) only while the vector
 * is deliverable; while it is not, the device's signals accumulate in the
 * eventfd, and re-attaching makes KVM inject the one that is pending (KVM
 * polls the eventfd when an irqfd is assigned). The PBA then stays zero.
 *
 * Vectors are delivered through the VM-wide GSI routes (vmm/core/irq_routes.h).
 *
 * Lock order: pci bus -> msix -> gsi routes. */
#ifndef EMBER_MSIX_H
#define EMBER_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/core/irq_routes.h"
#include "vmm/core/state_codec.h"
#include "vmm/lib/util.h"
#include "vmm/pci/pci.h"

/* MSI-X capability, message control and table entry layout. */
#define PCI_CAP_ID_MSIX 0x11
#define MSIX_CAP_LEN 12
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_FMASK 0x4000
#define MSIX_ENTRY_SIZE 16
#define MSIX_ENTRY_ADDR_LO 0
#define MSIX_ENTRY_ADDR_HI 4
#define MSIX_ENTRY_DATA 8
#define MSIX_ENTRY_CTRL 12
#define MSIX_ENTRY_MASKED 1u
#define MSIX_MAX_VECTORS 2048

struct msix_vector {
	STATE_GROUP(msix_entry, entry,
		uint32_t addr_lo, addr_hi, data, ctrl; /* the table entry */
	);
	unsigned gsi;
	int efd;
	bool routed;                 /* gsi routed to route_* */
	bool attached;               /* efd attached to gsi with KVM_IRQFD */
	uint32_t route_lo, route_hi, route_data;
};

struct msix {
	pthread_mutex_t lock;
	struct pci_device *dev;
	struct gsi_routes *routes;
	unsigned nvec;
	unsigned cap;                /* capability offset in config space */
	unsigned table_bar, pba_bar;
	uint32_t table_off, pba_off;
	STATE_GROUP(msix_state, state,
		uint8_t enabled, fmask;      /* from message control */
	);                           /* with each vector's entry and the PBA */
	bool external;               /* msix_external_trigger() */
	struct msix_vector *vec;
	uint64_t *pba;               /* (nvec + 63) / 64 words */
};

/* Bytes of the PBA of nvec vectors (whole 64-bit words). */
uint32_t msix_pba_bytes(unsigned nvec);

/* Give dev (not yet on a bus, its BARs declared) an MSI-X capability with
 * nvec vectors (1-2048), the table at table_off (8-aligned) of BAR table_bar
 * and the PBA at pba_off (8-aligned) of BAR pba_bar; both must fit inside
 * their BARs and not overlap. Allocates a GSI and an eventfd per vector and
 * attaches them (KVM_IRQFD). All vectors start masked, MSI-X disabled.
 * Returns 0, or -1 (m is then left empty: msix_destroy is still safe). */
int msix_init(struct msix *m, struct pci_device *dev, struct gsi_routes *routes, unsigned nvec,
	      unsigned table_bar, uint32_t table_off, unsigned pba_bar, uint32_t pba_off);
/* The device signals the vectors' eventfds itself (see the top): detach
 * every irqfd until its vector is deliverable. Right after msix_init.
 * Returns 0, or -1 when KVM refused. */
int msix_external_trigger(struct msix *m);
/* Close the eventfds and free the table (routes stay: the VM is going away). */
void msix_destroy(struct msix *m);

/* For the device's bar_access: handles the access when it falls in the table
 * or the PBA (returns true), else returns false. Table writes must be aligned
 * 4- or 8-byte accesses (others are dropped, as the spec allows); reads of any
 * size work, bytes outside the table read as zero; the PBA is read-only. */
bool msix_bar_access(struct msix *m, unsigned bar, uint64_t off, uint8_t *data, unsigned len,
		     bool write);
/* For the device's config_write hook: picks up enable/function-mask changes. */
void msix_config_write(struct msix *m, unsigned off, unsigned len);

/* Signal vector vec (any thread): deliver, or set its pending bit when masked. */
void msix_notify(struct msix *m, unsigned vec);
/* The same, but the caller delivers: returns vec when its eventfd
 * (msix_vector_eventfd) is to be written now, -1 when there is nothing to
 * write (masked: pending bit set; MSI-X off: dropped). For a back-end that
 * writes the eventfd through its own io_uring with the rest of its I/O. */
int msix_notify_deferred(struct msix *m, unsigned vec);
/* Inspection (tests, debugging). */
bool msix_pending(struct msix *m, unsigned vec);
/* MSI-X on, function and vector unmasked (false for a vector out of range). */
bool msix_deliverable(struct msix *m, unsigned vec);
int msix_vector_eventfd(const struct msix *m, unsigned vec);
unsigned msix_vector_gsi(const struct msix *m, unsigned vec);

/* ---- Saved state (snapshots) ----
 * What the guest sees: MSI-X enable and function mask, each vector's table
 * entry (address, data, mask) and the PBA. The GSIs, eventfds and routes
 * are the rebuilt device's own, set up again from this. */
struct msix_saved {
	uint32_t nvec;
	struct msix_state st;                      /* enabled, fmask */
	struct msix_entry entry[MSIX_MAX_VECTORS];
	uint64_t pba[MSIX_MAX_VECTORS / 64];
};
#define MSIX_STATE_MAGIC 0x58534d45u /* "EMSX", its blob alone */
#define MSIX_STATE_VERSION 1

/* Take m's state (under its lock). */
void msix_state_save(struct msix *m, struct msix_saved *s);
/* s as section tag of w; read back from section tag of r, checked against
 * m (the same vector count; enable and mask bits 0 or 1; reserved bits of
 * addresses and vector control zero; no pending bit past the last vector).
 * 0, or -1 with r's error set. */
void msix_state_put(struct codec_writer *w, uint16_t tag, const struct msix_saved *s);
int msix_state_get(struct codec_reader *r, uint16_t tag, const struct msix *m,
		   struct msix_saved *s);
/* Put s (checked by _get) into m: the capability's control register, the
 * table and PBA, then each vector synced as after a guest's write (its GSI
 * routed to its entry when deliverable, the irqfd attached for an external
 * trigger, a pending deliverable vector delivered). Not under the bus lock. */
void msix_state_apply(struct msix *m, const struct msix_saved *s);
/* As a blob of its own (tests, fuzzing). */
size_t msix_state_encode(const struct msix_saved *s, uint8_t *buf, size_t cap);
int msix_state_decode(const uint8_t *buf, size_t len, const struct msix *m, struct msix_saved *s,
		      struct errbuf *err);

#endif
