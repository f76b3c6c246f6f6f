/* net_pci.h: a virtio-net NIC on the PCI bus: the virtio-pci transport with
 * 2*N+1 virtqueues (RX/TX per queue pair, then the control queue), the TAP
 * (net_tap.h), the io_uring back-end (net_uring.h) and one I/O thread per NIC
 * that epolls the queues' ioeventfds and the ring's completion eventfd. The
 * control queue is served inline on that thread; only the first N queue pairs
 * are served (N: the driver's VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 1 until then)
 * and the TAP's other queues are detached.
 *
 *	net_pci_open(&d, &opts, index, &err)   opens the TAP (before the VM exists)
 *	net_pci_create(&d, &vm->mem, &vm->routes, vm->vm_fd, &err)
 *	pci_bus_add_device(&vm->pci, &d->vp.pci)
 *	net_pci_start(d, &err)     before the vCPUs run
 *	net_pci_stats_json(d, buf, len)   any thread (SIGUSR1)
 *	net_pci_queues_json(d, buf, len)  any thread but the I/O one (SIGUSR1)
 *	net_pci_stop(d)            after they stopped (joins the thread)
 *	net_pci_destroy(d)
 */
#ifndef EMBER_NET_PCI_H
#define EMBER_NET_PCI_H

#include "net.h"
#include "net_tap.h"
#include "net_uring.h"
#include "io_thread.h"
#include "virtio_pci.h"

#define NET_PCI_QUEUE_SIZE 256

struct net_pci {
	struct virtio_pci vp;
	bool vp_ok;
	unsigned index;                 /* NIC number: net0, net1, ... */
	struct net_tap tap;
	uint8_t mac[6];
	unsigned pairs, nq;
	unsigned active_pairs;          /* the driver's (VQ_PAIRS_SET), 1 at DRIVER_OK */
	unsigned applied_pairs;         /* what the TAP queues were last set for */
	bool tap_on[NET_MAX_PAIRS];     /* TAP queue i attached */
	bool link_up;
	struct virtio_net_config cfg;
	struct net_io io;
	bool io_ok;
	struct vq_chain *ctrl_chain;
	struct io_thread iot;
};

/* Both: 0, or -1 with e set (then net_pci_destroy cleans up). */
int net_pci_open(struct net_pci *d, const struct net_opts *o, unsigned index, struct errbuf *e);
int net_pci_create(struct net_pci *d, const struct guest_mem *mem, struct gsi_routes *routes,
		   int vm_fd, struct errbuf *e);
int net_pci_start(struct net_pci *d, struct errbuf *e);
void net_pci_stop(struct net_pci *d);
void net_pci_destroy(struct net_pci *d);

/* One JSON object (no newline) with each queue pair's ring indices, interrupt
 * state and back-end state, for diagnosing a stuck queue (takes vp.lock). */
void net_pci_queues_json(struct net_pci *d, char *buf, size_t len);

/* One JSON object (no newline) with the NIC's counters into buf. */
void net_pci_stats_json(struct net_pci *d, char *buf, size_t len);

#endif
