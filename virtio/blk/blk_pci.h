/* blk_pci.h: a virtio-blk disk on the PCI bus: the virtio-pci transport, one
 * virtqueue per vCPU (VIRTIO_BLK_F_MQ), each served by its own blk_queue_io
 * (io_uring), and one I/O thread per disk that epolls the queues' ioeventfds
 * (notify -> blk_queue_kick) and completion eventfds (-> blk_queue_complete).
 *
 *	d = blk_pci_open(&opts, index, &err)   opens the disk (before the VM exists)
 *	blk_pci_create(d, nq, &vm->mem, &vm->routes, vm->vm_fd, &err)
 *	pci_bus_add_device(bus, &d->vp.pci)
 *	vm_add_device(vm, &d->dev)   the VM then starts it before the vCPUs run
 *	                             (once its thread has its seccomp filter)
 *	                             and destroys it after they stopped
 */
#ifndef EMBER_BLK_PCI_H
#define EMBER_BLK_PCI_H

#include "vmm/core/device.h"
#include "virtio/blk/blk.h"
#include "virtio/blk/blk_uring.h"
#include "vmm/core/io_thread.h"
#include "virtio/virtio_pci.h"

#define BLK_PCI_QUEUE_SIZE 256
#define BLK_PAUSE_TIMEOUT_NS 1000000000ull /* in-flight I/O a pause waits for */

struct blk_pci_queue {
	struct blk_queue_io io;
	bool io_ok;
};

struct blk_pci {
	struct device dev;              /* "vda", "vdb", ... */
	struct virtio_pci vp;
	struct blk_disk disk;
	char path[4096];
	/* What the guest sees of the disk itself (struct blk_state); the
	 * transport and queues hold the rest. */
	STATE_GROUP(blk_state, state,
		struct virtio_blk_config cfg;
	);
	unsigned nq;
	struct blk_pci_queue *q;
	struct io_thread iot;
	/* One rate limiter for all the queues (off unless configured; the
	 * API may set it later), under vp.lock; its timer wakes the I/O
	 * thread, which kicks the queues it held back. */
	struct rate_limiter rl;
	int rl_timer_fd;
	uint64_t rl_events;             /* timer wake-ups */
	bool restored;                  /* restore loaded a state: start kicks the queues */
};

/* Its saved state (device_ops save/restore): a state_codec blob of this
 * magic, the transport's sections (virtio_pci_state_put) and then the
 * disk's configuration as the guest read it (struct virtio_blk_config). */
#define BLK_STATE_MAGIC 0x4b425645u /* "EVBK" */
#define BLK_STATE_VERSION 1

/* The disk, or NULL with e set. index: 0 for vda, 1 for vdb, ... */
struct blk_pci *blk_pci_open(const struct blk_opts *o, unsigned index, struct errbuf *e);
/* 0, or -1 with e set (then device_destroy(&d->dev) cleans up). */
int blk_pci_create(struct blk_pci *d, unsigned nq, const struct guest_mem *mem,
		   struct gsi_routes *routes, int vm_fd, struct errbuf *e);

#endif
