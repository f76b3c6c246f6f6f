/* chain_decoder.h: the descriptor chain the device fuzzers (fuzz_blk,
 * fuzz_net) decode from their input, over their guest RAM.
 *
 * Input from `pos` on:
 *   [0]      readable segments, [1] writable segments (each mod
 *            CHAIN_MAX_SEGS + 1)
 *   [2..]    6 bytes per segment, readable ones first: u16 offset into RAM,
 *            u32 length (both reduced to fit RAM; length at least 1)
 *   then     the RAM image from offset 0 (the rest of RAM zero)
 * (tests/fuzz/mk_*_seeds.py write it with their seed()). */
#ifndef EMBER_CHAIN_DECODER_H
#define EMBER_CHAIN_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vmm/lib/util.h"
#include "virtio/virtqueue.h"

#define CHAIN_MAX_SEGS 8u

/* Fill *c (head 0, totals counted) and ram (ram_size bytes, at most 64 KiB:
 * offsets are 16-bit). False when the input ends before the segment table
 * does (c and ram are then not to be used). */
static inline bool chain_decode(const uint8_t *data, size_t size, size_t pos, uint8_t *ram,
				uint32_t ram_size, struct vq_chain *c)
{
	if (size < pos + 2)
		return false;
	unsigned nout = data[pos] % (CHAIN_MAX_SEGS + 1), nin = data[pos + 1] % (CHAIN_MAX_SEGS + 1);
	pos += 2;
	if (size < pos + 6 * (size_t)(nout + nin))
		return false;
	memset(c, 0, sizeof(*c));
	for (unsigned i = 0; i < nout + nin; i++, pos += 6) {
		uint32_t off = get_le16(data + pos) % ram_size;
		uint32_t len = 1 + get_le32(data + pos + 2) % (ram_size - off);
		c->seg[i].addr = ram + off;
		c->seg[i].len = len;
		if (i < nout)
			c->out_bytes += len;
		else
			c->in_bytes += len;
	}
	c->nout = nout;
	c->nin = nin;
	memset(ram, 0, ram_size);
	size_t image = size - pos < ram_size ? size - pos : ram_size;
	memcpy(ram, data + pos, image);
	return true;
}

#endif
