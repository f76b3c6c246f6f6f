/* virtio_pci.h: the modern virtio-pci transport (virtio 1.x only,
 * VIRTIO_F_VERSION_1 required). One 32-bit memory BAR (BAR 0) holds, at fixed
 * offsets: the common configuration, the ISR byte, the device configuration,
 * the notify area (one 4-byte slot per queue, notify_off_multiplier 4) and the
 * MSI-X table and PBA. Vector 0..nq are the MSI-X vectors the driver assigns.
 *
 * Fast path: each queue's notify address is a KVM_IOEVENTFD (re-registered
 * when the guest moves the BAR), completions interrupt through msix_notify
 * (irqfd), so neither exits to ember's userspace.
 *
 * Locking: t->lock (recursive) serialises the common configuration and the
 * device callbacks; the device's I/O thread takes it too while it serves a
 * queue, so reset (which quiesces the I/O) never races a kick. Lock order:
 * virtio_pci -> msix -> gsi routes. Never taken under the pci bus lock. */
#ifndef EMBER_VIRTIO_PCI_H
#define EMBER_VIRTIO_PCI_H

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/core/io_thread.h"
#include "vmm/core/state_codec.h"
#include "vmm/pci/msix.h"
#include "vmm/pci/pci.h"
#include "vmm/lib/util.h"
#include "virtio/virtqueue.h"

#define VPCI_VENDOR 0x1af4
#define VPCI_DEVICE_BASE 0x1040
#define VPCI_BAR_SIZE 0x8000u
#define VPCI_COMMON_OFF 0x0000u
#define VPCI_COMMON_LEN 0x38u     /* up to queue_used_hi */
#define VPCI_ISR_OFF 0x1000u
#define VPCI_DEVICE_OFF 0x2000u
#define VPCI_DEVICE_MAX 0x1000u
#define VPCI_NOTIFY_OFF 0x3000u
#define VPCI_NOTIFY_MULT 4u
#define VPCI_MSIX_TABLE_OFF 0x4000u
#define VPCI_MSIX_PBA_OFF 0x5000u
#define VPCI_MAX_QUEUES 255u      /* vectors = queues + 1 <= 256 (table fits 4 KiB) */

#define VPCI_STATUS_NEEDS_RESET 0x40

struct virtio_pci_ops {
	/* DRIVER_OK was set: start serving the enabled queues. t->lock held. */
	void (*activate)(void *ctx);
	/* Device reset (status 0): stop all I/O and wait for it. t->lock held. */
	void (*reset)(void *ctx);
	/* VM pause: complete what is in flight (used entries and interrupts
	 * delivered) by deadline_ns (now_ns() clock), then start nothing new.
	 * 0, or -1 (with a message logged) when I/O is still in flight.
	 * t->lock held, so the device's I/O thread is outside its queues. */
	int (*pause)(void *ctx, uint64_t deadline_ns);
	/* Serve again (the transport then kicks every queue). t->lock held. */
	void (*resume)(void *ctx);
};

struct vpci_queue {
	struct virtqueue vq;  /* with its own state (struct vq_state) */
	/* What the driver programmed (struct vpci_queue_state). */
	STATE_GROUP(vpci_queue_state, state,
		uint64_t desc, avail, used;
		uint16_t size;        /* as the driver set it (max_size after reset) */
		uint16_t vector;      /* MSI-X vector or VIRTIO_MSI_NO_VECTOR */
		uint8_t enabled;
	);
	int notify_efd;       /* the KVM_IOEVENTFD on its notify address */
};

struct virtio_pci {
	pthread_mutex_t lock; /* recursive */
	struct pci_device pci;
	struct msix msix;
	bool msix_ok;
	int vm_fd;
	const struct guest_mem *mem;
	const struct virtio_pci_ops *ops;
	void *ctx;
	/* The common configuration the driver sees (struct vpci_state); each
	 * queue's is in q[i].state, the MSI-X table in msix. */
	STATE_GROUP(vpci_state, state,
		uint64_t features, driver_features;
		uint32_t dfsel, gfsel;
		uint8_t status, generation, isr;
		uint16_t msix_config, queue_sel;
	);
	uint16_t nq, qmax;
	const uint8_t *cfg;   /* the device configuration (the device's, little-endian) */
	uint32_t cfg_len;
	struct vpci_queue *q;
	uint64_t bar_addr;    /* where BAR 0 is decoded, PCI_BAR_UNMAPPED when not */
	bool ioeventfd_warned; /* a KVM_IOEVENTFD failure was logged (once only); bus lock */
	bool paused;          /* the VM is paused: the device serves no queue */
};

/* Set up the transport (not yet on a bus). virtio_id: VIRTIO_ID_*; class:
 * 24-bit PCI class code; features: offered (VIRTIO_F_VERSION_1 is added);
 * nq queues (1..VPCI_MAX_QUEUES) of at most qmax entries (power of two);
 * the device configuration: cfg_len bytes at cfg, which the device keeps and
 * changes only under t->lock (the transport answers the driver's reads from
 * it). vm_fd -1: no ioeventfds (tests). 0, or -1 with e set. */
int virtio_pci_init(struct virtio_pci *t, uint16_t virtio_id, uint32_t class_code,
		    uint64_t features, uint16_t nq, uint16_t qmax, const void *cfg,
		    uint32_t cfg_len,
		    const struct virtio_pci_ops *ops, void *ctx, const struct guest_mem *mem,
		    struct gsi_routes *routes, int vm_fd, struct errbuf *e);
void virtio_pci_destroy(struct virtio_pci *t);

/* Does the driver's accepted feature set hold bit? */
static inline bool virtio_pci_has(const struct virtio_pci *t, unsigned bit)
{
	return (t->driver_features >> bit) & 1;
}

/* Interrupt the driver for queue qi (any thread). */
void virtio_pci_queue_notify(struct virtio_pci *t, unsigned qi);
/* The same, the caller writing the eventfd: the MSI-X vector whose eventfd
 * (msix_vector_eventfd) is to be written now, or -1 (msix_notify_deferred). */
int virtio_pci_queue_notify_deferred(struct virtio_pci *t, unsigned qi);
/* The device found the driver broke the rules: DEVICE_NEEDS_RESET and a
 * configuration interrupt. */
void virtio_pci_needs_reset(struct virtio_pci *t);

/* The same two as callbacks for a device's back-end (ctx: the struct
 * virtio_pci). */
void virtio_pci_notify_cb(void *t, unsigned qi);
int virtio_pci_notify_deferred_cb(void *t, unsigned qi);
void virtio_pci_needs_reset_cb(void *t);

/* The device configuration changed (e.g. virtio-net link status): a
 * configuration interrupt once the driver is running. Any thread. */
void virtio_pci_config_changed(struct virtio_pci *t);

/* Wake the device's I/O thread for every enabled queue, as if the driver had
 * kicked each (DRIVER_OK, resume). Any thread. */
void virtio_pci_kick_all(struct virtio_pci *t);

/* Open the device's I/O thread's epoll set (io_thread_open) and add every
 * queue's notify eventfd to it, queue i with tag tag_base + tag_stride * i
 * (the device adds its other eventfds with tags of its own). 0, or -1 with
 * e set. */
int virtio_pci_io_thread_open(struct virtio_pci *t, struct io_thread *iot, uint64_t tag_base,
			      uint64_t tag_stride, struct errbuf *e);

/* VM pause and resume, for the device's device_ops: a paused device serves
 * no queue (its I/O thread only drains the kicks; virtio_pci_serving() says
 * whether to serve: DRIVER_OK and not paused) and its back-end has nothing in
 * flight (ops->pause, within timeout_ns). Resuming calls ops->resume and
 * kicks every enabled queue once. pause: 0, or -1 when the back-end did not
 * finish in time. Main thread. */
int virtio_pci_pause(struct virtio_pci *t, uint64_t timeout_ns);
void virtio_pci_resume(struct virtio_pci *t);
static inline bool virtio_pci_serving(const struct virtio_pci *t)
{
	return (t->status & VIRTIO_CONFIG_S_DRIVER_OK) && !t->paused;
}

/* ---- Saved state (snapshots) ----
 * The transport as the driver sees it: the PCI function (pci_config_state),
 * MSI-X (msix_saved), the common configuration (struct vpci_state: status,
 * feature selects, offered and accepted features, config generation, ISR,
 * config vector, queue select) and each queue: what the driver programmed
 * (size, vector, enable, ring addresses) and the device's position in it.
 * The rings' other fields follow from those and the features. */
struct vpci_saved_queue {
	struct vpci_queue_state q;
	uint16_t last_avail, used_idx, signalled_used;
	uint8_t signalled_valid;
};
struct virtio_pci_saved {
	struct pci_config_state pci;
	struct msix_saved msix;
	struct vpci_state common;
	uint32_t nq;
	struct vpci_saved_queue q[VPCI_MAX_QUEUES];
};
/* The sections _put writes, from first_tag on: PCI config, MSI-X, common
 * configuration, queues. A device's blob puts its own after them. */
#define VPCI_STATE_SECTIONS 4u
#define VPCI_STATE_MAGIC 0x43505645u /* "EVPC", the transport's blob alone */
#define VPCI_STATE_VERSION 1

/* Take t's state (t->lock, then the MSI-X and PCI parts under theirs).
 * Main thread, the device paused. */
void virtio_pci_state_save(struct virtio_pci *t, struct virtio_pci_saved *s);
void virtio_pci_state_put(struct codec_writer *w, uint16_t first_tag,
			  const struct virtio_pci_saved *s);
/* Read and check against t, a transport built from the same configuration
 * and not yet used: the same queue count and offered features; accepted
 * features only offered ones; status bits the transport can reach
 * (DRIVER_OK only with FEATURES_OK, FEATURES_OK only with VERSION_1); ISR
 * bits 0-1; vectors within the MSI-X table or none; each queue's size a
 * power of two within the maximum; an enabled queue only with
 * FEATURES_OK and with rings that vq_enable() accepts in t's guest memory
 * (the checks a guest's enable gets), and nothing in flight (every chain
 * popped was used); a queue not enabled has no position. 0, or -1 with r's
 * error set. */
int virtio_pci_state_get(struct codec_reader *r, uint16_t first_tag, const struct virtio_pci *t,
			 struct virtio_pci_saved *s);
/* Put s (checked by _get) into t, before the device starts: MSI-X
 * (routes and irqfds set up again through the path a guest's writes take),
 * the common configuration, each enabled queue enabled as a guest's enable
 * does and put at its position, then the PCI function (BAR 0 decoded where
 * the guest put it, the queues' ioeventfds registered there). No device
 * callback is called: the device attaches its back-end itself. */
void virtio_pci_state_apply(struct virtio_pci *t, const struct virtio_pci_saved *s);
/* As a blob of its own (tests, fuzzing). */
size_t virtio_pci_state_encode(const struct virtio_pci_saved *s, uint8_t *buf, size_t cap);
int virtio_pci_state_decode(const uint8_t *buf, size_t len, const struct virtio_pci *t,
			    struct virtio_pci_saved *s, struct errbuf *err);

/* The BAR handler (exported for tests): offset off of BAR 0. */
void virtio_pci_bar_access(struct virtio_pci *t, uint64_t off, uint8_t *data, unsigned len,
			   bool write);

#endif
