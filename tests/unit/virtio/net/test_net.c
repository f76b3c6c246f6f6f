/* test_net.c: the virtio-net device model with hostile input: --net parsing,
 * the stable MAC, features and config space, the transmit header checks
 * (short chains, writable buffers, oversized frames, unknown flags, checksum
 * offsets past the frame, unknown or not negotiated GSO types, zero gso_size,
 * hdr_len past the frame; headers split across segments), and control
 * commands (bad lengths, out-of-range pair counts, no room for the ack). */
#include <endian.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "virtio/net/net.h"

#define F(x) (1ull << (x))

static void parses_options(void)
{
	struct net_opts o;
	struct errbuf e;
	CHECK_EQ(net_parse_opt("tap=tap0", &o, &e), 0);
	CHECK_STR_EQ(o.tap, "tap0");
	CHECK_EQ(o.queues, 1);
	CHECK(!o.mac_set);
	CHECK_EQ(o.mtu, 0);
	CHECK_EQ(net_parse_opt("tap=t-1,mac=52:54:00:AB:cd:01,queues=4,mtu=9000", &o, &e), 0);
	CHECK_STR_EQ(o.tap, "t-1");
	CHECK(o.mac_set);
	CHECK_EQ(o.mac[3], 0xab);
	CHECK_EQ(o.mac[5], 0x01);
	CHECK_EQ(o.queues, 4);
	CHECK_EQ(o.mtu, 9000);
	CHECK_EQ(net_parse_opt("mac=52:54:00:00:00:01,tap=x", &o, &e), 0);
	CHECK_STR_EQ(o.tap, "x");
	CHECK(!rl_config_on(&o.rx) && !rl_config_on(&o.tx));
	CHECK_EQ(net_parse_opt("tap=x,rx-bw=2500K/1000,tx-bw=1M/100+4M,rx-ops=100/10,tx-ops=5/1", &o, &e), 0);
	CHECK_EQ(o.rx.bw.size, 2500u << 10);
	CHECK_EQ(o.rx.ops.size, 100);
	CHECK_EQ(o.rx.ops.refill_ms, 10);
	CHECK_EQ(o.tx.bw.size, 1u << 20);
	CHECK_EQ(o.tx.bw.refill_ms, 100);
	CHECK_EQ(o.tx.bw.one_time_burst, 4u << 20);
	CHECK_EQ(o.tx.ops.size, 5);
}

static void refuses_bad_options(void)
{
	static const char *const bad[] = {
		"", "tap=", "tap", "mac=52:54:00:00:00:01", "tap=a,tap", "tap=0123456789abcdef",
		"tap=a/b", "tap=..", "tap=a b", "tap=x,mac=01:00:00:00:00:01" /* multicast */,
		"tap=x,mac=00:00:00:00:00:00", "tap=x,mac=52:54:00:00:00", "tap=x,mac=52:54:00:00:00:0g",
		"tap=x,mac=52-54-00-00-00-01", "tap=x,queues=0", "tap=x,queues=9", "tap=x,queues=-1",
		"tap=x,queues=1x", "tap=x,mtu=67", "tap=x,mtu=65536", "tap=x,mtu=99999999999999999999",
		"tap=x,speed=1", "tap=x,", ",tap=x", "tap=a,tap=b", "tap=x,queues=1,queues=2",
		"tap=x,mac=52:54:00:00:00:01,mac=52:54:00:00:00:02", "tap=x,mtu=1500,mtu=1500",
		"tap=x,rx-bw=1M", "tap=x,tx-ops=0/100", "tap=x,rx-bw=1M/100,rx-bw=2M/100", "tap=x,rx-bandwidth=1M/1",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct net_opts o;
		struct errbuf e = {{0}};
		if (net_parse_opt(bad[i], &o, &e) == 0) {
			check_fail(__FILE__, __LINE__, "accepted '%s'", bad[i]);
			return;
		}
		CHECK(strncmp(e.msg, "--net", 5) == 0);
	}
}

static void default_mac_is_stable_and_local(void)
{
	uint8_t a[6], b[6], c[6], d[6];
	net_default_mac("tap0", 0, a);
	net_default_mac("tap0", 0, b);
	net_default_mac("tap0", 1, c);
	net_default_mac("tap1", 0, d);
	CHECK_MEM_EQ(a, b, 6);
	CHECK(memcmp(a, c, 6) != 0);
	CHECK(memcmp(a, d, 6) != 0);
	CHECK_EQ(a[0] & 1, 0); /* unicast */
	CHECK_EQ(a[0] & 2, 2); /* locally administered */
	char s[18];
	net_format_mac((const uint8_t[]){0x52, 0x54, 0, 0xab, 1, 2}, s);
	CHECK_STR_EQ(s, "52:54:00:ab:01:02");
}

static void features_follow_the_tap(void)
{
	struct net_caps none = {0}, all = {.csum = true, .tso = true, .ufo = true};
	uint64_t f = net_features(&none, 1);
	CHECK(f & F(VIRTIO_F_VERSION_1));
	CHECK(f & F(VIRTIO_NET_F_MRG_RXBUF));
	CHECK(f & F(VIRTIO_NET_F_CSUM));
	CHECK(f & F(VIRTIO_NET_F_HOST_TSO4));
	CHECK(f & F(VIRTIO_RING_F_EVENT_IDX));
	CHECK(!(f & F(VIRTIO_NET_F_GUEST_CSUM)));
	CHECK(!(f & F(VIRTIO_NET_F_GUEST_TSO4)));
	CHECK(!(f & F(VIRTIO_NET_F_MQ)));
	f = net_features(&all, 4);
	CHECK(f & F(VIRTIO_NET_F_GUEST_CSUM));
	CHECK(f & F(VIRTIO_NET_F_GUEST_TSO6));
	CHECK(f & F(VIRTIO_NET_F_GUEST_UFO));
	CHECK(f & F(VIRTIO_NET_F_MQ));
	CHECK(f & F(VIRTIO_NET_F_CTRL_VQ));
	/* offloads set on the TAP: only what the driver took, CSUM first */
	CHECK_EQ(net_tap_offloads(F(VIRTIO_NET_F_GUEST_TSO4)), 0);
	CHECK_EQ(net_tap_offloads(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4)),
		 TUN_F_CSUM | TUN_F_TSO4);
	CHECK_EQ(net_max_rx_frame(F(VIRTIO_NET_F_GUEST_CSUM), 1500), 1518);
	CHECK_EQ(net_max_rx_frame(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO6), 1500),
		 NET_MAX_GSO_FRAME);
	CHECK_EQ(net_max_tx_frame(0, 9000), 9018);
	CHECK_EQ(net_max_tx_frame(F(VIRTIO_NET_F_HOST_TSO4), 9000), NET_MAX_GSO_FRAME);
}

static void config_space(void)
{
	struct virtio_net_config c;
	uint8_t mac[6] = {0x52, 0x54, 0, 1, 2, 3};
	net_config(mac, true, 2, 9000, &c);
	CHECK_MEM_EQ(c.mac, mac, 6);
	CHECK_EQ(le16toh(c.status), VIRTIO_NET_S_LINK_UP);
	CHECK_EQ(le16toh(c.max_virtqueue_pairs), 2);
	CHECK_EQ(le16toh(c.mtu), 9000);
	net_config(mac, false, 1, 1500, &c);
	CHECK_EQ(c.status, 0);
	CHECK_EQ(NET_CONFIG_LEN, __builtin_offsetof(struct virtio_net_config, speed));
}

/* ---- transmit header checks ---- */

static uint8_t pkt[72000];
static struct vq_chain ch;
static const uint64_t DF = F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_CSUM) |
			   F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6);

/* One readable chain: the header then frame_len bytes, cut into segments at
 * the given offsets (0-terminated list). */
static struct vq_chain *tx_chain(const struct virtio_net_hdr_v1 *h, uint32_t frame_len,
				 const uint32_t *cuts)
{
	memcpy(pkt, h, sizeof(*h));
	memset(pkt + sizeof(*h), 0xab, frame_len);
	uint32_t total = NET_HDR_LEN + frame_len, at = 0;
	memset(&ch, 0, sizeof(ch));
	for (unsigned i = 0; cuts && cuts[i] && cuts[i] < total; i++) {
		ch.seg[ch.nout].addr = pkt + at;
		ch.seg[ch.nout].len = cuts[i] - at;
		ch.nout++;
		at = cuts[i];
	}
	ch.seg[ch.nout].addr = pkt + at;
	ch.seg[ch.nout].len = total - at;
	ch.nout++;
	ch.out_bytes = total;
	return &ch;
}

static struct virtio_net_hdr_v1 hdr(uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t gso_size,
				    uint16_t start, uint16_t off)
{
	struct virtio_net_hdr_v1 h;
	memset(&h, 0, sizeof(h));
	h.flags = flags;
	h.gso_type = gso;
	h.hdr_len = htole16(hdr_len);
	h.gso_size = htole16(gso_size);
	h.csum_start = htole16(start);
	h.csum_offset = htole16(off);
	return h;
}

#define NC VIRTIO_NET_HDR_F_NEEDS_CSUM

static void tx_accepts_good_frames(void)
{
	struct virtio_net_hdr_v1 h = hdr(0, 0, 0, 0, 0, 0), got;
	CHECK_EQ(net_tx_check(tx_chain(&h, 60, NULL), DF, 1500, &got), NET_TX_OK);
	h = hdr(NC, 0, 0, 0, 34, 16); /* TCP checksum at 50..51 */
	CHECK_EQ(net_tx_check(tx_chain(&h, 60, NULL), DF, 1500, &got), NET_TX_OK);
	CHECK_EQ(le16toh(got.csum_start), 34);
	h = hdr(NC, VIRTIO_NET_HDR_GSO_TCPV4, 66, 1448, 34, 16);
	CHECK_EQ(net_tx_check(tx_chain(&h, 65000, NULL), DF, 1500, &got), NET_TX_OK);
	h = hdr(NC, VIRTIO_NET_HDR_GSO_TCPV6, 86, 1428, 54, 16);
	CHECK_EQ(net_tx_check(tx_chain(&h, NET_MAX_GSO_FRAME, NULL), DF, 1500, &got), NET_TX_OK);
	/* a full-MTU frame without GSO */
	h = hdr(0, 0, 0, 0, 0, 0);
	CHECK_EQ(net_tx_check(tx_chain(&h, 1518, NULL), F(VIRTIO_F_VERSION_1), 1500, &got),
		 NET_TX_OK);
}

static void tx_header_split_anywhere(void)
{
	struct virtio_net_hdr_v1 h = hdr(NC, VIRTIO_NET_HDR_GSO_TCPV4, 66, 1448, 34, 16), got;
	for (uint32_t a = 1; a < NET_HDR_LEN + 3; a++) {
		for (uint32_t b = a + 1; b < NET_HDR_LEN + 5; b++) {
			const uint32_t cuts[] = {a, b, 0};
			memset(&got, 0, sizeof(got));
			CHECK_EQ(net_tx_check(tx_chain(&h, 3000, cuts), DF, 1500, &got), NET_TX_OK);
			CHECK_MEM_EQ(&got, &h, sizeof(h));
			CHECK(ch.nout >= 3);
		}
	}
}

static void tx_drops_hostile_headers(void)
{
	struct virtio_net_hdr_v1 h, got;
	/* shorter than header + Ethernet header */
	h = hdr(0, 0, 0, 0, 0, 0);
	CHECK_EQ(net_tx_check(tx_chain(&h, 13, NULL), DF, 1500, &got), NET_TX_SHORT);
	ch.out_bytes = 5;
	ch.seg[0].len = 5;
	CHECK_EQ(net_tx_check(&ch, DF, 1500, &got), NET_TX_SHORT);
	/* out_bytes lying about the segments: only the segments count */
	tx_chain(&h, 60, NULL);
	ch.seg[0].len = 4;
	CHECK_EQ(net_tx_check(&ch, DF, 1500, &got), NET_TX_SHORT);
	/* a writable buffer in a TX chain */
	tx_chain(&h, 60, NULL);
	ch.nin = 1;
	ch.seg[1] = ch.seg[0];
	CHECK_EQ(net_tx_check(&ch, DF, 1500, &got), NET_TX_WRITABLE);
	/* too big: without GSO past MTU + 18, with GSO past 64 KiB + 18 */
	CHECK_EQ(net_tx_check(tx_chain(&h, 1519, NULL), F(VIRTIO_F_VERSION_1), 1500, &got),
		 NET_TX_TOO_BIG);
	CHECK_EQ(net_tx_check(tx_chain(&h, NET_MAX_GSO_FRAME + 1, NULL), DF, 1500, &got),
		 NET_TX_TOO_BIG);
	/* flags */
	h = hdr(0x80, 0, 0, 0, 0, 0);
	CHECK_EQ(net_tx_check(tx_chain(&h, 60, NULL), DF, 1500, &got), NET_TX_BAD_FLAGS);
	h = hdr(VIRTIO_NET_HDR_F_RSC_INFO, 0, 0, 0, 0, 0);
	CHECK_EQ(net_tx_check(tx_chain(&h, 60, NULL), DF, 1500, &got), NET_TX_BAD_FLAGS);
	h = hdr(NC, 0, 0, 0, 34, 16); /* NEEDS_CSUM without CSUM negotiated */
	CHECK_EQ(net_tx_check(tx_chain(&h, 60, NULL), F(VIRTIO_F_VERSION_1), 1500, &got),
		 NET_TX_BAD_FLAGS);
	/* checksum offsets */
	h = hdr(NC, 0, 0, 0, 59, 0); /* the 2 bytes would end at 61 > 60 */
	CHECK_EQ(net_tx_check(tx_chain(&h, 60, NULL), DF, 1500, &got), NET_TX_BAD_CSUM);
	h = hdr(NC, 0, 0, 0, 0xffff, 0xffff);
	CHECK_EQ(net_tx_check(tx_chain(&h, 60, NULL), DF, 1500, &got), NET_TX_BAD_CSUM);
	h = hdr(NC, 0, 0, 0, 58, 0); /* exactly the last two bytes: fine */
	CHECK_EQ(net_tx_check(tx_chain(&h, 60, NULL), DF, 1500, &got), NET_TX_OK);
	/* GSO */
	h = hdr(NC, 2, 66, 1448, 34, 16); /* no such type */
	CHECK_EQ(net_tx_check(tx_chain(&h, 3000, NULL), DF, 1500, &got), NET_TX_BAD_GSO);
	h = hdr(NC, 5, 66, 1448, 34, 16);
	CHECK_EQ(net_tx_check(tx_chain(&h, 3000, NULL), DF, 1500, &got), NET_TX_BAD_GSO);
	h = hdr(NC, VIRTIO_NET_HDR_GSO_UDP, 42, 1472, 34, 6); /* HOST_UFO not negotiated */
	CHECK_EQ(net_tx_check(tx_chain(&h, 3000, NULL), DF, 1500, &got), NET_TX_BAD_GSO);
	CHECK_EQ(net_tx_check(tx_chain(&h, 3000, NULL), DF | F(VIRTIO_NET_F_HOST_UFO), 1500, &got),
		 NET_TX_OK);
	h = hdr(NC, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 66, 1448, 34, 16);
	CHECK_EQ(net_tx_check(tx_chain(&h, 3000, NULL), DF, 1500, &got), NET_TX_BAD_GSO);
	h = hdr(NC, VIRTIO_NET_HDR_GSO_TCPV6, 86, 1428, 54, 16); /* TSO6 not negotiated */
	CHECK_EQ(net_tx_check(tx_chain(&h, 3000, NULL), DF & ~F(VIRTIO_NET_F_HOST_TSO6), 1500, &got),
		 NET_TX_BAD_GSO);
	h = hdr(NC, VIRTIO_NET_HDR_GSO_TCPV4, 66, 0, 34, 16); /* gso_size 0 */
	CHECK_EQ(net_tx_check(tx_chain(&h, 3000, NULL), DF, 1500, &got), NET_TX_BAD_GSO);
	h = hdr(NC, VIRTIO_NET_HDR_GSO_TCPV4, 3001, 1448, 34, 16); /* hdr_len past the frame */
	CHECK_EQ(net_tx_check(tx_chain(&h, 3000, NULL), DF, 1500, &got), NET_TX_BAD_GSO);
	CHECK_STR_EQ(net_tx_verdict_str(NET_TX_BAD_GSO), "bad GSO fields");
	CHECK_STR_EQ(net_tx_verdict_str((enum net_tx_verdict)99), "?");
}

static void tx_random_headers_never_crash(void)
{
	/* Any 12 bytes in any split: a verdict, and OK only when consistent. */
	srand(42);
	for (unsigned i = 0; i < 20000; i++) {
		struct virtio_net_hdr_v1 h, got;
		uint8_t *b = (uint8_t *)&h;
		for (unsigned j = 0; j < sizeof(h); j++)
			b[j] = (uint8_t)rand();
		uint32_t len = (uint32_t)rand() % 70000;
		const uint32_t cuts[] = {1 + (uint32_t)rand() % 20, 21 + (uint32_t)rand() % 40, 0};
		enum net_tx_verdict v = net_tx_check(tx_chain(&h, len, cuts), DF, 1500, &got);
		CHECK((unsigned)v <= NET_TX_WRITABLE);
		if (v == NET_TX_OK) {
			CHECK(len >= NET_ETH_HLEN && len <= NET_MAX_GSO_FRAME);
			if (got.flags & NC)
				CHECK((uint32_t)le16toh(got.csum_start) + le16toh(got.csum_offset) + 2 <= len);
			if (got.gso_type)
				CHECK(le16toh(got.gso_size) > 0 && le16toh(got.hdr_len) <= len);
		}
	}
}

/* ---- control commands ---- */

static uint8_t cbuf[64], ackb[4];

static struct vq_chain *ctrl_chain(const uint8_t *cmd, unsigned len, unsigned ack_len)
{
	memset(&ch, 0, sizeof(ch));
	memcpy(cbuf, cmd, len);
	if (len) {
		ch.seg[0].addr = cbuf;
		ch.seg[0].len = len;
		ch.nout = 1;
		ch.out_bytes = len;
	}
	if (ack_len) {
		memset(ackb, 0xee, sizeof(ackb));
		ch.seg[ch.nout].addr = ackb;
		ch.seg[ch.nout].len = ack_len;
		ch.nin = 1;
		ch.in_bytes = ack_len;
	}
	return &ch;
}

static void ctrl_commands(void)
{
	unsigned pairs = 1;
	const uint8_t set3[] = {VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 3, 0};
	CHECK_EQ(net_ctrl_exec(ctrl_chain(set3, 4, 1), 4, &pairs), 1);
	CHECK_EQ(ackb[0], VIRTIO_NET_OK);
	CHECK_EQ(pairs, 3);
	/* more pairs than the NIC has, zero pairs: refused, unchanged */
	const uint8_t set5[] = {VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 5, 0};
	CHECK_EQ(net_ctrl_exec(ctrl_chain(set5, 4, 1), 4, &pairs), 1);
	CHECK_EQ(ackb[0], VIRTIO_NET_ERR);
	const uint8_t set0[] = {VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 0, 0};
	CHECK_EQ(net_ctrl_exec(ctrl_chain(set0, 4, 1), 4, &pairs), 1);
	CHECK_EQ(ackb[0], VIRTIO_NET_ERR);
	CHECK_EQ(pairs, 3);
	/* truncated command, too long, unknown class: ERR */
	CHECK_EQ(net_ctrl_exec(ctrl_chain(set3, 3, 1), 4, &pairs), 1);
	CHECK_EQ(ackb[0], VIRTIO_NET_ERR);
	CHECK_EQ(net_ctrl_exec(ctrl_chain(set3, 1, 1), 4, &pairs), 1);
	CHECK_EQ(ackb[0], VIRTIO_NET_ERR);
	CHECK_EQ(net_ctrl_exec(ctrl_chain(set3, 0, 1), 4, &pairs), 1);
	CHECK_EQ(ackb[0], VIRTIO_NET_ERR);
	const uint8_t unk[] = {77, 0};
	CHECK_EQ(net_ctrl_exec(ctrl_chain(unk, 2, 1), 4, &pairs), 1);
	CHECK_EQ(ackb[0], VIRTIO_NET_ERR);
	/* the ack is the last writable byte */
	const uint8_t promisc[] = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1};
	CHECK_EQ(net_ctrl_exec(ctrl_chain(promisc, 3, 3), 4, &pairs), 1);
	CHECK_EQ(ackb[2], VIRTIO_NET_OK);
	CHECK_EQ(ackb[0], 0xee);
	/* no writable byte: dropped, nothing written */
	CHECK_EQ(net_ctrl_exec(ctrl_chain(set3, 4, 0), 4, &pairs), 0);
	CHECK_EQ(pairs, 3);
}

int main(void)
{
	RUN(parses_options);
	RUN(refuses_bad_options);
	RUN(default_mac_is_stable_and_local);
	RUN(features_follow_the_tap);
	RUN(config_space);
	RUN(tx_accepts_good_frames);
	RUN(tx_header_split_anywhere);
	RUN(tx_drops_hostile_headers);
	RUN(tx_random_headers_never_crash);
	RUN(ctrl_commands);
	return check_summary();
}
