/* net_pci.h: a virtio-net NIC on the PCI bus: the virtio-pci transport with
 * 2*N+1 virtqueues (RX/TX per queue pair, then the control queue), the TAP
 * (net_tap.h), the io_uring back-end (net_uring.h) and one I/O thread per NIC
 * that epolls the queues' ioeventfds and the ring's completion eventfd. The
 * control queue is served inline on that thread; only the first N queue pairs
 * are served (N: the driver's VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 1 until then)
 * and the TAP's other queues are detached.
 *
 *	d = net_pci_open(&opts, index, &err)   opens the TAP (before the VM exists)
 *	net_pci_create(d, &vm->mem, &vm->routes, vm->vm_fd, &err)
 *	pci_bus_add_device(bus, &d->vp.pci)
 *	vm_add_device(vm, &d->dev)   the VM then starts it before the vCPUs run,
 *	                             asks it for stats (SIGUSR1: counters and
 *	                             queue state) and destroys it after they stopped
 *	net_pci_stats_json(d, buf, len)   any thread
 *	net_pci_queues_json(d, buf, len)  any thread but the I/O one
 */
#ifndef EMBER_NET_PCI_H
#define EMBER_NET_PCI_H

#include "vmm/core/device.h"
#include "virtio/net/net.h"
#include "virtio/net/net_tap.h"
#include "virtio/net/net_uring.h"
#include "vmm/core/io_thread.h"
#include "virtio/virtio_pci.h"

#define NET_PCI_QUEUE_SIZE 256
#define NET_PAUSE_TIMEOUT_NS 1000000000ull /* in-flight I/O a pause waits for */

struct net_pci {
	struct device dev;              /* "net0", "net1", ... */
	struct virtio_pci vp;
	bool vp_ok;
	unsigned index;                 /* NIC number: net0, net1, ... */
	struct net_tap tap;
	/* What the guest sees of the NIC itself (struct net_state); the
	 * transport and queues hold the rest. */
	STATE_GROUP(net_state, state,
		uint8_t mac[6];
		uint8_t link_up;
		uint16_t active_pairs;  /* the driver's (VQ_PAIRS_SET), 1 at DRIVER_OK */
		struct virtio_net_config cfg;
	);
	unsigned pairs, nq;
	unsigned applied_pairs;         /* what the TAP queues were last set for */
	bool tap_on[NET_MAX_PAIRS];     /* TAP queue i attached */
	struct net_io io;
	bool io_ok;
	struct vq_chain *ctrl_chain;
	struct io_thread iot;
	/* Receive and transmit rate limiters (NET_RL_RX, NET_RL_TX; off
	 * unless configured, the API may set them later), under vp.lock, and
	 * their timers, which wake the I/O thread. */
	struct rate_limiter rl[2];
	int rl_timer_fd[2];
	uint64_t rl_events[2];          /* timer wake-ups */
	bool restored;                  /* restore loaded a state: start kicks the queues */
};

/* Its saved state (device_ops save/restore): a state_codec blob of this
 * magic, the transport's sections (virtio_pci_state_put; each RX queue's
 * position without the chains its pair holds for the next read, which the
 * restored device pops again), then the NIC's own: MAC, link, the driver's
 * queue pair count and the configuration the guest read. */
#define NET_STATE_MAGIC 0x544e5645u /* "EVNT" */
#define NET_STATE_VERSION 1

/* The NIC (net<index>), or NULL with e set. */
struct net_pci *net_pci_open(const struct net_opts *o, unsigned index, struct errbuf *e);
/* The same on a TAP opened elsewhere (tests: a socket per queue pair in
 * place of the TAP's queues), which the NIC takes over (it closes it). */
struct net_pci *net_pci_open_tap(const struct net_tap *tap, const struct net_opts *o,
				 unsigned index, struct errbuf *e);
/* 0, or -1 with e set (then device_destroy(&d->dev) cleans up). */
int net_pci_create(struct net_pci *d, const struct guest_mem *mem, struct gsi_routes *routes,
		   int vm_fd, struct errbuf *e);

/* One JSON object (no newline) with each queue pair's ring indices, interrupt
 * state and back-end state, for diagnosing a stuck queue (takes vp.lock). */
void net_pci_queues_json(struct net_pci *d, char *buf, size_t len);

/* One JSON object (no newline) with the NIC's counters into buf. */
void net_pci_stats_json(struct net_pci *d, char *buf, size_t len);

#endif
