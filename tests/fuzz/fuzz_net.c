/* fuzz_net.c: libFuzzer target for the virtio-net checks on guest input
 * (net.c): the transmit-header validation, the control-command executor and
 * the receive side's header write (vq_seg_write, as net_uring.c does it), on
 * one descriptor chain (readable segments, then writable ones) over 64 KiB of
 * guest RAM filled from the input. The
 * verdicts are checked against the rules (an accepted frame fits the limits,
 * its checksum and GSO fields lie inside it) and every segment byte is
 * touched so ASan sees a pointer outside the RAM buffer.
 *
 * Input layout:
 *   [0..7]   the driver's feature bits (u64 LE)
 *   [8..9]   MTU (u16 LE, at least 68)
 *   [10]     readable segments (mod 9), [11] writable segments (mod 9)
 *   [12..]   6 bytes per segment: u16 offset into RAM, u32 length (both
 *            reduced to fit RAM; length at least 1)
 *   then     RAM image from offset 0 (rest zero)
 */
#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/net/net.h"
#include "virtio/vq_cursor.h"
#include "vmm/lib/util.h"

#define RAM_SIZE KiB(64)
#define HDR 12

static uint8_t *ram;
static struct vq_chain chain;

#define ASSERT(c)                                                                     \
	do {                                                                          \
		if (!(c))                                                             \
			__builtin_trap();                                             \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HDR)
		return 0;
	if (!ram) {
		ram = malloc(RAM_SIZE); /* exact size: ASan flags a byte past it */
		if (!ram)
			abort();
	}
	uint64_t df = get_le64(data);
	unsigned mtu = get_le16(data + 8);
	if (mtu < NET_MIN_MTU)
		mtu = NET_MIN_MTU;
	unsigned nout = data[10] % 9, nin = data[11] % 9;
	size_t pos = HDR;
	memset(&chain, 0, sizeof(chain));
	for (unsigned i = 0; i < nout + nin; i++) {
		uint16_t off = 0;
		uint32_t len = 1;
		if (pos + 6 <= size) {
			off = get_le16(data + pos);
			len = get_le32(data + pos + 2);
		}
		pos += 6;
		off %= RAM_SIZE;
		len = 1 + len % (uint32_t)(RAM_SIZE - off);
		chain.seg[i].addr = ram + off;
		chain.seg[i].len = len;
		if (i < nout)
			chain.out_bytes += len;
		else
			chain.in_bytes += len;
	}
	chain.nout = nout;
	chain.nin = nin;
	memset(ram, 0, RAM_SIZE);
	if (pos < size)
		memcpy(ram, data + pos, size - pos < RAM_SIZE ? size - pos : RAM_SIZE);

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
