/* net.c: the virtio-net device model: --net parsing, MAC, features, config
 * space, transmit header validation and control commands (see net.h). */
#include "virtio/net/net.h"

#include <endian.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>

#include "virtio/vq_cursor.h"

bool net_tap_name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= IFNAMSIZ)
		return false;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool net_parse_mac(const char *s, size_t n, uint8_t mac[6])
{
	if (n != 17)
		return false;
	for (unsigned i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return !(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

/* The rate-limiter keys of --net: 0 rx-bw, 1 rx-ops, 2 tx-bw, 3 tx-ops; -1. */
static int rl_key(const char *k, size_t klen)
{
	static const char *const keys[] = {"rx-bw", "rx-ops", "tx-bw", "tx-ops"};
	for (int i = 0; i < 4; i++)
		if (strlen(keys[i]) == klen && strncmp(k, keys[i], klen) == 0)
			return i;
	return -1;
}

int net_parse_opt(const char *arg, struct net_opts *o, struct errbuf *e)
{
	int ki;
	memset(o, 0, sizeof(*o));
	o->queues = 1;
	bool have_tap = false, have_queues = false, have_mtu = false;
	const char *p = arg;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		if (!eq) {
			err_set(e, "--net: '%.*s' is not KEY=VALUE (tap=NAME[,mac=MAC][,queues=N][,mtu=N])",
				(int)n, p);
			return -1;
		}
		size_t klen = (size_t)(eq - p), vlen = n - klen - 1;
		const char *v = eq + 1;
		char num[16];
		uint64_t val;
		bool dup = (klen == 3 && strncmp(p, "tap", 3) == 0 && have_tap) ||
			   (klen == 3 && strncmp(p, "mac", 3) == 0 && o->mac_set) ||
			   (klen == 6 && strncmp(p, "queues", 6) == 0 && have_queues) ||
			   (klen == 3 && strncmp(p, "mtu", 3) == 0 && have_mtu);
		if (dup) {
			err_set(e, "--net: '%.*s' given twice", (int)klen, p);
			return -1;
		}
		if (klen == 3 && strncmp(p, "tap", 3) == 0) {
			if (!net_tap_name_ok(v, vlen)) {
				err_set(e, "--net: tap name '%.*s' is not 1-15 letters, digits, '-', '_' or '.'",
					(int)vlen, v);
				return -1;
			}
			memcpy(o->tap, v, vlen);
			o->tap[vlen] = '\0';
			have_tap = true;
		} else if (klen == 3 && strncmp(p, "mac", 3) == 0) {
			if (!net_parse_mac(v, vlen, o->mac)) {
				err_set(e, "--net: mac '%.*s' is not a unicast MAC like 52:54:00:12:34:56",
					(int)vlen, v);
				return -1;
			}
			o->mac_set = true;
		} else if ((klen == 6 && strncmp(p, "queues", 6) == 0) ||
			   (klen == 3 && strncmp(p, "mtu", 3) == 0)) {
			bool q = klen == 6;
			snprintf(num, sizeof(num), "%.*s", (int)(vlen < 15 ? vlen : 15), v);
			if (vlen >= 15 ||
			    parse_u64(num, q ? 1 : NET_MIN_MTU, q ? NET_MAX_PAIRS : NET_MAX_MTU, &val)) {
				if (q)
					err_set(e, "--net: queues '%.*s' is not a number from 1 to %u",
						(int)vlen, v, NET_MAX_PAIRS);
				else
					err_set(e, "--net: mtu '%.*s' is not a number from %u to %u",
						(int)vlen, v, NET_MIN_MTU, NET_MAX_MTU);
				return -1;
			}
			if (q)
				o->queues = (unsigned)val, have_queues = true;
			else
				o->mtu = (unsigned)val, have_mtu = true;
		} else if ((ki = rl_key(p, klen)) >= 0) {
			/* rx-bw, rx-ops, tx-bw, tx-ops */
			struct rl_config *c = ki < 2 ? &o->rx : &o->tx;
			bool bw = ki % 2 == 0;
			struct rl_bucket_config *b = bw ? &c->bw : &c->ops;
			char rv[64];
			snprintf(rv, sizeof(rv), "%.*s", (int)(vlen < 63 ? vlen : 63), v);
			if (rl_bucket_config_on(b)) {
				err_set(e, "--net: '%.*s' given twice", (int)klen, p);
				return -1;
			}
			if (vlen >= 63 || rl_parse_bucket(rv, b)) {
				err_set(e, "--net: %.*s '%.*s' is not %s/MS[+BURST] (e.g. %s)", (int)klen, p,
					(int)vlen, v, bw ? "BYTES" : "N", bw ? "2500K/1000" : "1000/1000");
				return -1;
			}
		} else {
			err_set(e, "--net: unknown key '%.*s' (tap=NAME[,mac=MAC][,queues=N][,mtu=N]"
				"[,rx-bw=..][,rx-ops=..][,tx-bw=..][,tx-ops=..])",
				(int)klen, p);
			return -1;
		}
		if (!end)
			break;
		p = end + 1;
	}
	if (!have_tap) {
		err_set(e, "--net: no tap=NAME given");
		return -1;
	}
	return 0;
}

void net_default_mac(const char *tap, unsigned index, uint8_t mac[6])
{
	/* FNV-1a over the name and the index. */
	uint64_t h = 0xcbf29ce484222325ull;
	for (const char *s = tap; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	for (unsigned i = 0; i < 4; i++) {
		h ^= (uint8_t)(index >> (8 * i));
		h *= 0x100000001b3ull;
	}
	mac[0] = 0x52; /* locally administered, unicast (QEMU's 52:54 style) */
	mac[1] = 0x54;
	for (unsigned i = 2; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * (i - 2)));
}

void net_format_mac(const uint8_t mac[6], char *out)
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

#define F(x) (1ull << (x))

uint64_t net_features(const struct net_caps *caps, unsigned pairs)
{
	uint64_t f = F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) |
		     F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) |
		     F(VIRTIO_NET_F_MTU) | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) |
		     F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_CTRL_VQ);
	if (caps->csum) {
		f |= F(VIRTIO_NET_F_GUEST_CSUM);
		if (caps->tso)
			f |= F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6);
		if (caps->ufo)
			f |= F(VIRTIO_NET_F_GUEST_UFO) | F(VIRTIO_NET_F_HOST_UFO);
	}
	if (pairs > 1)
		f |= F(VIRTIO_NET_F_MQ);
	return f;
}

void net_config(const uint8_t mac[6], bool link_up, unsigned pairs, unsigned mtu,
		struct virtio_net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->mac, mac, 6);
	cfg->status = htole16(link_up ? VIRTIO_NET_S_LINK_UP : 0);
	cfg->max_virtqueue_pairs = htole16((uint16_t)pairs);
	cfg->mtu = htole16((uint16_t)mtu);
}

unsigned net_tap_offloads(uint64_t df)
{
	unsigned o = 0;
	if (!(df & F(VIRTIO_NET_F_GUEST_CSUM)))
		return 0; /* no partial checksums: no GSO either */
	o |= TUN_F_CSUM;
	if (df & F(VIRTIO_NET_F_GUEST_TSO4))
		o |= TUN_F_TSO4;
	if (df & F(VIRTIO_NET_F_GUEST_TSO6))
		o |= TUN_F_TSO6;
	if (df & F(VIRTIO_NET_F_GUEST_UFO))
		o |= TUN_F_UFO;
	return o;
}

uint32_t net_max_tx_frame(uint64_t df, unsigned mtu)
{
	if (df & (F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_UFO)))
		return NET_MAX_GSO_FRAME;
	return mtu + NET_ETH_HLEN + NET_VLAN_HLEN;
}

uint32_t net_max_rx_frame(uint64_t df, unsigned mtu)
{
	if (net_tap_offloads(df) & (TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_UFO))
		return NET_MAX_GSO_FRAME;
	return mtu + NET_ETH_HLEN + NET_VLAN_HLEN;
}

bool net_chain_read(const struct vq_chain *c, void *dst, uint32_t len)
{
	return vq_seg_read(c->seg, c->nout, 0, dst, len);
}

enum net_tx_verdict net_tx_check(const struct vq_chain *c, uint64_t df, unsigned mtu,
				 struct virtio_net_hdr_v1 *hdr)
{
	if (c->nin)
		return NET_TX_WRITABLE;
	if (c->out_bytes < NET_HDR_LEN + NET_ETH_HLEN || !net_chain_read(c, hdr, NET_HDR_LEN))
		return NET_TX_SHORT;
	uint64_t frame = c->out_bytes - NET_HDR_LEN;
	if (frame > net_max_tx_frame(df, mtu))
		return NET_TX_TOO_BIG;
	uint8_t flags = hdr->flags;
	if (flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return NET_TX_BAD_FLAGS;
	uint16_t hdr_len = le16toh(hdr->hdr_len), gso_size = le16toh(hdr->gso_size);
	if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(df & F(VIRTIO_NET_F_CSUM)))
			return NET_TX_BAD_FLAGS;
		uint32_t start = le16toh(hdr->csum_start), off = le16toh(hdr->csum_offset);
		/* The 16-bit checksum itself must lie inside the frame. */
		if ((uint64_t)start + off + 2 > frame)
			return NET_TX_BAD_CSUM;
	}
	uint8_t gso = hdr->gso_type;
	if (gso == VIRTIO_NET_HDR_GSO_NONE)
		return NET_TX_OK;
	unsigned need;
	switch (gso & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		need = VIRTIO_NET_F_HOST_TSO4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		need = VIRTIO_NET_F_HOST_TSO6;
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		need = VIRTIO_NET_F_HOST_UFO;
		break;
	default:
		return NET_TX_BAD_GSO;
	}
	if (!(df & F(need)))
		return NET_TX_BAD_GSO;
	if ((gso & VIRTIO_NET_HDR_GSO_ECN) && !(df & F(VIRTIO_NET_F_HOST_ECN)))
		return NET_TX_BAD_GSO;
	/* A segment size, and headers that fit in the frame. */
	if (gso_size == 0 || hdr_len > frame)
		return NET_TX_BAD_GSO;
	return NET_TX_OK;
}

const char *net_tx_verdict_str(enum net_tx_verdict v)
{
	static const char *const s[] = {"ok", "short", "too big", "bad flags", "bad checksum offsets",
					"bad GSO fields", "writable buffer"};
	return (unsigned)v < ARRAY_SIZE(s) ? s[v] : "?";
}

uint32_t net_ctrl_exec(const struct vq_chain *c, unsigned pairs_max, unsigned *pairs)
{
	if (c->nin == 0)
		return 0;
	const struct vq_buf *last = &c->seg[c->nout + c->nin - 1];
	uint8_t *ack = (uint8_t *)last->addr + last->len - 1;
	uint8_t cmd[2 + 2];
	uint8_t status = VIRTIO_NET_ERR;
	if (net_chain_read(c, cmd, 2)) {
		switch (cmd[0]) {
		case VIRTIO_NET_CTRL_MQ:
			if (cmd[1] == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET && c->out_bytes == 4 &&
			    net_chain_read(c, cmd, 4)) {
				unsigned n = get_le16(cmd + 2);
				if (n >= 1 && n <= pairs_max) {
					*pairs = n;
					status = VIRTIO_NET_OK;
				}
			}
			break;
		case VIRTIO_NET_CTRL_RX:
			/* Promiscuous/all-multicast: the TAP passes everything anyway. */
			if (cmd[1] <= VIRTIO_NET_CTRL_RX_ALLMULTI && c->out_bytes == 3)
				status = VIRTIO_NET_OK;
			break;
		case VIRTIO_NET_CTRL_ANNOUNCE:
			if (cmd[1] == VIRTIO_NET_CTRL_ANNOUNCE_ACK)
				status = VIRTIO_NET_OK;
			break;
		default:
			break;
		}
	}
	__atomic_store_n(ack, status, __ATOMIC_RELAXED);
	return 1;
}
