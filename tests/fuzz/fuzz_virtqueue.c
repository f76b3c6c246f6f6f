/* fuzz_virtqueue.c: libFuzzer target for the split virtqueue (virtqueue.c).
 * The input is laid into 1 MiB of guest RAM as a queue's rings and buffers;
 * the device side then drains the queue with vq_pop/vq_push (touching every
 * segment it gets, so ASan sees any pointer outside the RAM buffer) until it
 * is empty, the driver is caught breaking a rule, or an iteration bound.
 *
 * Input layout:
 *   [0]      log2 of the queue size (low 4 bits: 1 .. 32768)
 *   [1]      bit0 EVENT_IDX, bit1 INDIRECT_DESC, bit2 ring addresses from
 *            [4..15] (any value: misaligned, outside RAM) instead of the
 *            standard layout (desc at 0, avail, used right after), bit3 split
 *            RAM (512 KiB low + 512 KiB at 4 GiB), bit4 "other vCPU": before
 *            each pop, store a 16-bit value into guest RAM (records taken from
 *            the end of the image), bit5 "rate limited": each chain popped is
 *            handed back (vq_unpop) and popped again
 *   [2..3]   starting index (last_avail = used_idx), little-endian
 *   [4..15]  desc, avail, used guest-physical addresses (u32 LE) for bit2
 *   [16..]   guest RAM image from guest-physical 0 (rest of RAM zero)
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/harness.h"
#include "vmm/core/guest_mem.h"
#include "vmm/lib/util.h"
#include "virtio/virtqueue.h"

#define RAM_SIZE MiB(1)
#define HDR 16
#define MAX_POPS 256

static uint8_t *ram;
static struct vq_chain chain;

/* Every segment must lie inside the RAM buffer; touch both ends of it. */
static void use_chain(const struct vq_chain *c, uint16_t size)
{
	uint64_t out = 0, in = 0;
	ASSERT(c->head < size);
	ASSERT(c->nout + c->nin <= VQ_MAX_SEGS);
	for (unsigned i = 0; i < c->nout + c->nin; i++) {
		const struct vq_buf *b = &c->seg[i];
		uintptr_t p = (uintptr_t)b->addr, base = (uintptr_t)ram;
		ASSERT(b->len > 0);
		ASSERT(p >= base && p < base + RAM_SIZE && b->len <= base + RAM_SIZE - p);
		volatile uint8_t *v = b->addr;
		if (i < c->nout) {
			(void)v[0];
			(void)v[b->len - 1];
			out += b->len;
		} else {
			v[0] = 0xa5;
			v[b->len - 1] = 0x5a;
			in += b->len;
		}
	}
	ASSERT(out == c->out_bytes && in == c->in_bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HDR)
		return 0;
	ram = fuzz_ram(RAM_SIZE);
	memset(ram, 0, RAM_SIZE);
	size_t image = size - HDR;
	if (image > RAM_SIZE)
		image = RAM_SIZE;
	memcpy(ram, data + HDR, image);

	struct guest_mem gm;
	gm_wrap(&gm, ram, RAM_SIZE);
	if (data[1] & 8) {
		gm.layout.low_size = KiB(512);
		gm.layout.high_size = KiB(512);
	}

	struct virtqueue vq;
	memset(&vq, 0, sizeof(vq));
	vq.mem = &gm;
	vq.size = (uint16_t)(1u << (data[0] & 15));
	vq.event_idx = data[1] & 1;
	vq.indirect = data[1] & 2;
	if (data[1] & 4) {
		vq.desc_gpa = get_le32(data + 4);
		vq.avail_gpa = get_le32(data + 8);
		vq.used_gpa = get_le32(data + 12);
	} else {
		vq.desc_gpa = 0;
		vq.avail_gpa = 16ull * vq.size;
		vq.used_gpa = ALIGN_UP(vq.avail_gpa + 6 + 2ull * vq.size, 4);
	}
	if (vq_enable(&vq) < 0)
		return 0;
	uint16_t start = get_le16(data + 2);
	vq.last_avail = vq.used_idx = start;

	/* "Other vCPU" writes: 6-byte records (u32 gpa, u16 value) from the end. */
	const uint8_t *act = data + size;
	size_t nact = (data[1] & 16) ? image / 6 : 0;

	for (unsigned n = 0; n < MAX_POPS; n++) {
		if (nact) {
			act -= 6;
			nact--;
			uint64_t gpa = get_le32(act) % (RAM_SIZE - 1);
			memcpy(ram + gpa, act + 4, 2);
		}
		uint16_t before = vq.last_avail;
		int r = vq_pop(&vq, &chain);
		ASSERT(r >= -1 && r <= 1);
		if (r <= 0) {
			ASSERT(vq.last_avail == before);
			break;
		}
		ASSERT(vq.last_avail == (uint16_t)(before + 1));
		if (data[1] & 32) {
			/* A rate limiter refused it: handed back, then taken again
			 * (validated anew; the same chain, guest memory being as it
			 * was: use_chain below writes into the buffers, which a
			 * hostile layout may overlap with the rings) */
			uint16_t head = chain.head;
			uint64_t in = chain.in_bytes, out = chain.out_bytes;
			vq_unpop(&vq, 1);
			ASSERT(vq.last_avail == before);
			ASSERT(vq_pop(&vq, &chain) == 1);
			ASSERT(chain.head == head && chain.in_bytes == in && chain.out_bytes == out);
		}
		use_chain(&chain, vq.size);
		vq_push(&vq, chain.head, (uint32_t)(chain.in_bytes > 0xffffffffu ? 0xffffffffu
										 : chain.in_bytes));
		if (n % 4 == 3) {
			(void)vq_should_notify(&vq);
			vq_set_avail_event(&vq);
		}
	}
	(void)vq_should_notify(&vq);
	vq_set_avail_event(&vq);
	return 0;
}
