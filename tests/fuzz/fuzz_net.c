/* fuzz_net.c: libFuzzer target for the virtio-net checks on guest input
 * (net.c): the transmit-header validation, the control-command executor and
 * the receive side's header write (vq_seg_write, as net_uring.c does it), on
 * one descriptor chain (readable segments, then writable ones) over 64 KiB of
 * guest RAM filled from the input. The verdicts are checked against the
 * rules (an accepted frame fits the limits, its checksum and GSO fields lie
 * inside it) and every segment byte is touched so ASan sees a pointer outside
 * the RAM buffer.
 *
 * Input layout:
 *   [0..7]   the driver's feature bits (u64 LE)
 *   [8..9]   MTU (u16 LE, at least 68)
 *   [10..]   the chain and the RAM image (chain_decoder.h)
 */
#include <endian.h>
#include <stdbool.h>
#include <stdint.h>

#include "tests/fuzz/chain_decoder.h"
#include "tests/fuzz/harness.h"
#include "virtio/net/net.h"
#include "virtio/vq_cursor.h"
#include "vmm/lib/util.h"

#define RAM_SIZE KiB(64)
#define HDR 10

static struct vq_chain chain;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HDR)
		return 0;
	uint8_t *ram = fuzz_ram(RAM_SIZE);
	if (!chain_decode(data, size, HDR, ram, RAM_SIZE, &chain))
		return 0;
	unsigned nout = chain.nout, nin = chain.nin;
	uint64_t df = get_le64(data);
	unsigned mtu = get_le16(data + 8);
	if (mtu < NET_MIN_MTU)
		mtu = NET_MIN_MTU;

	struct virtio_net_hdr_v1 h;
	enum net_tx_verdict v = net_tx_check(&chain, df, mtu, &h);
	ASSERT((unsigned)v <= NET_TX_WRITABLE);
	if (v == NET_TX_OK) {
		uint64_t frame = chain.out_bytes - NET_HDR_LEN;
		ASSERT(nin == 0);
		ASSERT(frame >= NET_ETH_HLEN && frame <= net_max_tx_frame(df, mtu));
		if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			ASSERT((uint64_t)le16toh(h.csum_start) + le16toh(h.csum_offset) + 2 <= frame);
		if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
			ASSERT(le16toh(h.gso_size) > 0 && le16toh(h.hdr_len) <= frame);
	}
	unsigned pairs = 1;
	uint32_t w = net_ctrl_exec(&chain, 4, &pairs);
	ASSERT(w <= 1 && pairs >= 1 && pairs <= 4);
	ASSERT(w == 1 || nin == 0);

	/* The receive side's num_buffers write into the writable segments. */
	uint16_t nb = htole16(1);
	bool ok = vq_seg_write(vq_in(&chain, 0), nin, 10, &nb, 2);
	ASSERT(ok == (chain.in_bytes >= 12));

	volatile uint8_t sink = 0;
	for (unsigned i = 0; i < nout + nin; i++)
		for (uint32_t j = 0; j < chain.seg[i].len; j++)
			sink ^= ((const uint8_t *)chain.seg[i].addr)[j];
	(void)sink;
	return 0;
}
