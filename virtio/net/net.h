/* net.h: the virtio-net device model (virtio 1.x), independent of transport
 * and back-end: the --net option parser, the generated MAC, the offered
 * features and config space, and the checks on what the driver hands us: the
 * virtio-net header of a transmitted frame (copied out of guest memory once,
 * then validated against the negotiated features and limits) and control
 * queue commands. Pure functions, unit-tested with hostile input.
 * net_tap.h opens the TAP, net_uring.h moves the frames.
 *
 * Header: with VIRTIO_F_VERSION_1 it is always the 12-byte struct
 * virtio_net_hdr_v1 (num_buffers included), on both queues, and the TAP is
 * set to the same size (TUNSETVNETHDRSZ), so frames pass through unchanged. */
#ifndef EMBER_NET_H
#define EMBER_NET_H

#include <net/if.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/core/rate_limiter.h"
#include "vmm/lib/util.h"
#include "virtio/virtqueue.h"

#define NET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr_v1)) /* 12 */
#define NET_MAX_PAIRS 8u          /* queue pairs per NIC (queues=N) */
#define NET_ETH_HLEN 14u
#define NET_VLAN_HLEN 4u
#define NET_MIN_MTU 68u
#define NET_MAX_MTU 65535u
/* Largest frame (after the header) a GSO packet may be: 64 KiB of IP plus
 * the link-layer header (with a VLAN tag). */
#define NET_MAX_GSO_FRAME (65535u + NET_ETH_HLEN + NET_VLAN_HLEN)

/* --net tap=NAME[,mac=MAC][,queues=N][,mtu=N] */
struct net_opts {
	char tap[IFNAMSIZ];
	uint8_t mac[6];
	bool mac_set;
	unsigned queues;          /* queue pairs, 1..NET_MAX_PAIRS */
	unsigned mtu;             /* 0: keep the TAP's */
	struct rl_config rx, tx;  /* rate limiters: host to guest, guest to host */
};

/* Parse the value of --net. 0, or -1 with a one-line message in *e. */
int net_parse_opt(const char *arg, struct net_opts *o, struct errbuf *e);

/* A TAP name: 1 to IFNAMSIZ-1 letters, digits, '-', '_' or '.' (n bytes of
 * s), neither "." nor "..". */
bool net_tap_name_ok(const char *s, size_t n);

/* The n bytes of s as "xx:xx:xx:xx:xx:xx" (hex digits of either case) into
 * mac; false unless that is a unicast, non-zero MAC. */
bool net_parse_mac(const char *s, size_t n, uint8_t mac[6]);

/* A stable, locally administered unicast MAC for NIC number `index` on TAP
 * `tap` (there is no VM id yet): the same inputs always give the same MAC. */
void net_default_mac(const char *tap, unsigned index, uint8_t mac[6]);

/* "52:54:00:12:34:56" into out (at least 18 bytes). */
void net_format_mac(const uint8_t mac[6], char *out);

/* What the TAP can do (net_tap.c probes it). */
struct net_caps {
	bool csum;                /* TUN_F_CSUM accepted: GUEST_CSUM */
	bool tso;                 /* TUN_F_TSO4|TSO6 accepted: GUEST_TSO4/6 */
	bool ufo;                 /* TUN_F_UFO accepted: GUEST_UFO, HOST_UFO */
};

/* Offered features: VERSION_1, EVENT_IDX, INDIRECT_DESC, MAC, STATUS, MTU,
 * CSUM, HOST_TSO4/6, MRG_RXBUF, CTRL_VQ; GUEST_CSUM/TSO4/TSO6/UFO and
 * HOST_UFO as the TAP allows; MQ when pairs > 1. */
uint64_t net_features(const struct net_caps *caps, unsigned pairs);

/* The config space (little-endian) for this NIC. */
void net_config(const uint8_t mac[6], bool link_up, unsigned pairs, unsigned mtu,
		struct virtio_net_config *cfg);
#define NET_CONFIG_LEN 12u /* mac, status, max_virtqueue_pairs, mtu */

/* TUN_F_* offloads to set on the TAP for what the driver accepted (frames
 * the TAP gives us must be ones the guest can take). */
unsigned net_tap_offloads(uint64_t driver_features);

/* Largest frame (after the header) the guest may send or receive with the
 * driver's features: NET_MAX_GSO_FRAME when any GSO is on in that direction,
 * else mtu plus link-layer header. */
uint32_t net_max_tx_frame(uint64_t driver_features, unsigned mtu);
uint32_t net_max_rx_frame(uint64_t driver_features, unsigned mtu);

/* ---- transmit path ---- */

enum net_tx_verdict {
	NET_TX_OK = 0,
	NET_TX_SHORT,           /* fewer readable bytes than header + Ethernet header */
	NET_TX_TOO_BIG,         /* frame larger than net_max_tx_frame() */
	NET_TX_BAD_FLAGS,       /* unknown flag, or NEEDS_CSUM without CSUM */
	NET_TX_BAD_CSUM,        /* csum_start/offset outside the frame */
	NET_TX_BAD_GSO,         /* unknown or not negotiated gso_type, bad gso_size/hdr_len */
	NET_TX_WRITABLE,        /* the chain has device-writable buffers */
};

/* Copy the first `len` readable bytes of c (in order across segments) into
 * dst; false when the chain has fewer. */
bool net_chain_read(const struct vq_chain *c, void *dst, uint32_t len);

/* Validate one transmit chain: its readable part must be a header and a frame
 * the driver's features allow. *hdr gets the header (one copy). */
enum net_tx_verdict net_tx_check(const struct vq_chain *c, uint64_t driver_features,
				 unsigned mtu, struct virtio_net_hdr_v1 *hdr);
const char *net_tx_verdict_str(enum net_tx_verdict v);

/* ---- control queue ---- */

/* Execute one control command (class, command, data readable; the ack byte is
 * the last writable byte). pairs_max: the NIC's queue pairs; *pairs is set
 * by VQ_PAIRS_SET. Returns the bytes written (1 when the ack was written) or
 * 0 when the chain has no room for it (dropped). */
uint32_t net_ctrl_exec(const struct vq_chain *c, unsigned pairs_max, unsigned *pairs);

#endif
