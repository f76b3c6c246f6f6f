/* fuzz_blk.c: libFuzzer target for the virtio-blk request parser
 * (blk_parse_req in blk.c). The input describes a disk and one descriptor
 * chain (readable segments, then writable ones) over 64 KiB of guest RAM
 * filled from the input; the parser's verdict is checked against the rules
 * (status byte = last writable byte, iovecs inside RAM, with the right
 * direction, summing to the request length, inside the disk) and every iovec
 * byte is touched so ASan sees a pointer outside the RAM buffer. No I/O.
 *
 * Input layout:
 *   [0]      bit0 read-only disk, bit1 PUNCH_HOLE, bit2 ZERO_RANGE
 *   [1..8]   disk size in sectors (u64 LE, masked to 54 bits)
 *   [9..]    the chain and the RAM image (chain_decoder.h)
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/chain_decoder.h"
#include "tests/fuzz/harness.h"
#include "virtio/blk/blk.h"
#include "vmm/lib/util.h"

#define RAM_SIZE KiB(64)
#define HDR 9

static struct vq_chain chain;
static struct iovec iov[VQ_MAX_SEGS];

static bool inside(const void *p, uint64_t len, const struct vq_buf *segs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *a = segs[i].addr;
		if ((const uint8_t *)p >= a && (const uint8_t *)p + len <= a + segs[i].len)
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *ram = fuzz_ram(RAM_SIZE);
	if (!chain_decode(data, size, HDR, ram, RAM_SIZE, &chain))
		return 0;
	chain.head = 7;
	unsigned nout = chain.nout, nin = chain.nin;
	struct blk_disk d;
	memset(&d, 0, sizeof(d));
	d.fd = -1;
	d.ro = data[0] & 1;
	d.punch_hole = data[0] & 2;
	d.zero_range = data[0] & 4;
	d.size = (get_le64(data + 1) & ((1ull << 54) - 1)) * BLK_SECTOR;
	d.lbs = 512;
	d.pbs = 4096;
	memcpy(d.serial, "fuzz-serial", 11);

	struct blk_req r;
	enum blk_parse p = blk_parse_req(&d, &chain, iov, &r);
	const struct vq_buf *out = chain.seg, *in = chain.seg + nout;
	if (p == BLK_REQ_BAD) {
		ASSERT(nin == 0 || chain.out_bytes < 16);
		return 0;
	}
	ASSERT(nin > 0 && chain.out_bytes >= 16);
	ASSERT(r.status_ptr == (uint8_t *)in[nin - 1].addr + in[nin - 1].len - 1);
	ASSERT(r.head == 7);
	*(volatile uint8_t *)r.status_ptr = 0;
	if (p == BLK_REQ_DONE) {
		ASSERT(r.status <= VIRTIO_BLK_S_UNSUPP);
		ASSERT(r.written == 1);
		ASSERT(r.niov == 0);
		return 0;
	}
	ASSERT(p == BLK_REQ_SUBMIT);
	uint64_t total = 0;
	for (unsigned i = 0; i < r.niov; i++) {
		ASSERT(r.iov[i].iov_len > 0);
		bool w = r.type == VIRTIO_BLK_T_IN || r.type == VIRTIO_BLK_T_GET_ID;
		ASSERT(inside(r.iov[i].iov_base, r.iov[i].iov_len, w ? in : out, w ? nin : nout));
		volatile uint8_t *v = r.iov[i].iov_base;
		if (w) {
			v[0] = 1;
			v[r.iov[i].iov_len - 1] = 2;
		} else {
			(void)v[0];
			(void)v[r.iov[i].iov_len - 1];
		}
		total += r.iov[i].iov_len;
	}
	switch (r.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		ASSERT(r.type == VIRTIO_BLK_T_IN || !d.ro);
		ASSERT(total == r.len && r.len > 0 && r.len % 512 == 0 && r.len <= BLK_MAX_DATA);
		ASSERT(r.offset <= d.size && r.len <= d.size - r.offset);
		ASSERT(r.written == (r.type == VIRTIO_BLK_T_IN ? r.len + 1 : 1));
		/* all writable bytes but the status byte, or all readable ones
		 * after the header: the iovecs stop before the status byte */
		ASSERT(r.len == (r.type == VIRTIO_BLK_T_IN ? chain.in_bytes - 1
							     : chain.out_bytes - 16));
		break;
	case VIRTIO_BLK_T_FLUSH:
		ASSERT(!d.ro && r.niov == 0);
		break;
	case VIRTIO_BLK_T_GET_ID:
		ASSERT(total == VIRTIO_BLK_ID_BYTES && r.written == VIRTIO_BLK_ID_BYTES + 1);
		ASSERT(blk_iov_fill(r.iov, r.niov, d.serial, VIRTIO_BLK_ID_BYTES) == total);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		ASSERT(!d.ro && r.niov == 0);
		ASSERT(r.len > 0 && r.len <= (uint64_t)BLK_MAX_DISCARD_SECTORS * 512);
		ASSERT(r.offset <= d.size && r.len <= d.size - r.offset);
		ASSERT(r.type == VIRTIO_BLK_T_DISCARD ? d.punch_hole && r.unmap
						      : (d.punch_hole || d.zero_range));
		ASSERT(!r.unmap || d.punch_hole);
		break;
	default:
		ASSERT(0);
	}
	return 0;
}
