/* net_tap.h: the host side of a virtio-net NIC: a TAP device opened through
 * /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (and IFF_MULTI_QUEUE,
 * one fd per queue pair, when there is more than one), created when it does
 * not exist and we may (CAP_NET_ADMIN), its virtio-net header size set to the
 * 12 bytes of struct virtio_net_hdr_v1 and its offloads probed (TUNSETOFFLOAD)
 * so the device offers only what the TAP can do. Queues beyond the driver's
 * pair count are detached from the TAP (TUNSETQUEUE). */
#ifndef EMBER_NET_TAP_H
#define EMBER_NET_TAP_H

#include <stdbool.h>

#include "virtio/net/net.h"

struct net_tap {
	char name[IFNAMSIZ];
	int fd[NET_MAX_PAIRS];  /* one per queue pair, -1 when closed */
	unsigned nfd;
	unsigned mtu;           /* the TAP's MTU (after mtu=N was applied) */
	struct net_caps caps;
	bool created;           /* it did not exist before */
};

/* Open (or create) o->tap with o->queues queues, apply o->mtu. The fds are
 * non-blocking. 0, or -1 with a one-line message (then net_tap_close). */
int net_tap_open(struct net_tap *t, const struct net_opts *o, struct errbuf *e);
void net_tap_close(struct net_tap *t);

/* TUNSETQUEUE: attach (IFF_ATTACH_QUEUE) or detach (IFF_DETACH_QUEUE) queue i
 * of a multi-queue TAP; the kernel steers frames to attached queues only.
 * 0 or -errno. */
int net_tap_queue(struct net_tap *t, unsigned i, bool attach);

/* TUNSETOFFLOAD: the TUN_F_* the guest accepts. 0 or -errno. */
int net_tap_set_offload(struct net_tap *t, unsigned offloads);

#endif
