/* blk_pci.h: a virtio-blk disk on the PCI bus: the virtio-pci transport, one
 * virtqueue per vCPU (VIRTIO_BLK_F_MQ), each served by its own blk_queue_io
 * (io_uring), and one I/O thread per disk that epolls the queues' ioeventfds
 * (notify -> blk_queue_kick) and completion eventfds (-> blk_queue_complete).
 *
 *	blk_pci_open(&d, &opts, &err)   opens the disk (before the VM exists)
 *	blk_pci_create(&d, nq, &vm->mem, &vm->routes, vm->vm_fd, &err)
 *	pci_bus_add_device(&vm->pci, &d->vp.pci)
 *	blk_pci_start(d, &err)     before the vCPUs run (returns once the
 *	                           thread has its seccomp filter)
 *	blk_pci_stop(d)            after they stopped (joins the thread)
 *	blk_pci_destroy(d)
 */
#ifndef EMBER_BLK_PCI_H
#define EMBER_BLK_PCI_H

#include "blk.h"
#include "blk_uring.h"
#include "io_thread.h"
#include "virtio_pci.h"

#define BLK_PCI_QUEUE_SIZE 256

struct blk_pci;

struct blk_pci_queue {
	struct blk_pci *dev;
	unsigned index;
	struct blk_queue_io io;
	bool io_ok;
};

struct blk_pci {
	struct virtio_pci vp;
	struct blk_disk disk;
	char path[4096];
	struct virtio_blk_config cfg;
	unsigned nq;
	struct blk_pci_queue *q;
	struct io_thread iot;
};

/* Both: 0, or -1 with e set (then blk_pci_destroy cleans up). */
int blk_pci_open(struct blk_pci *d, const struct blk_opts *o, struct errbuf *e);
int blk_pci_create(struct blk_pci *d, unsigned nq, const struct guest_mem *mem,
		   struct gsi_routes *routes, int vm_fd, struct errbuf *e);
int blk_pci_start(struct blk_pci *d, struct errbuf *e);
void blk_pci_stop(struct blk_pci *d);
void blk_pci_destroy(struct blk_pci *d);

#endif
