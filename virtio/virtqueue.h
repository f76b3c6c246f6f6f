/* virtqueue.h: the device side of a virtio 1.x split virtqueue (VIRTIO_F_VERSION_1,
 * little-endian rings). Pops descriptor chains the driver made available,
 * validating every byte the guest controls, and returns used buffers.
 *
 * Everything in guest memory is hostile and may change at any moment (other
 * vCPUs): avail->idx is read once per pop (acquire), each descriptor is copied
 * once into a local before it is checked and used, buffers are resolved with
 * gm_ptr() so a chain can only ever name guest RAM, and used entries are
 * published before used->idx (release).
 *
 * Typical device loop:
 *	struct vq_chain c;    (large: keep it off small stacks)
 *	int r;
 *	while ((r = vq_pop(vq, &c)) == 1) {
 *		... read c.seg[0 .. nout), write c.seg[nout .. nout+nin) ...
 *		vq_push(vq, c.head, bytes_written);
 *	}
 *	if (r < 0) -> set DEVICE_NEEDS_RESET, stop using the queue
 *	if (vq_should_notify(vq)) -> raise the queue's interrupt
 *	vq_set_avail_event(vq);   (EVENT_IDX: kick me at the next buffer; pop again
 *	                           afterwards to close the race with the driver)
 */
#ifndef EMBER_VIRTQUEUE_H
#define EMBER_VIRTQUEUE_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/core/guest_mem.h"
#include "vmm/lib/util.h"

#define VQ_MAX_SIZE 32768u  /* largest split queue the spec allows */
/* Most segments (non-empty descriptors) one chain may have, and the largest
 * indirect table accepted (in descriptors). Linux may build indirect tables
 * larger than a small queue, so the table cap is this, not the queue size. */
#define VQ_MAX_SEGS 1024u

struct virtqueue {
	const struct guest_mem *mem;     /* set by the transport */
	/* The queue's state as plain data (struct vq_state). */
	STATE_GROUP(vq_state, state,
		/* Set by the transport before vq_enable(). */
		uint64_t desc_gpa, avail_gpa, used_gpa;
		uint16_t size;           /* power of two, 1..32768 */
		uint8_t event_idx;       /* VIRTIO_RING_F_EVENT_IDX negotiated */
		uint8_t indirect;        /* VIRTIO_RING_F_INDIRECT_DESC negotiated */

		/* Device-side state; vq_enable() zeroes it (restoring state, or
		 * tests starting at another index, may set last_avail/used_idx
		 * afterwards). */
		uint16_t last_avail;     /* next avail ring slot to pop */
		uint16_t used_idx;       /* next used ring slot to fill */
		uint16_t signalled_used; /* used_idx at the last notify decision */
		uint8_t signalled_valid;
		uint8_t ready;           /* vq_enable() succeeded */
	);

	/* Host pointers to the rings, bound-checked once by vq_enable(). */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
};

/* Check size (power of two <= 32768) and ring alignment (16/2/4), resolve the
 * three rings with gm_ptr() (used_event/avail_event included when EVENT_IDX
 * is on) and reset the device-side state. 0, or -1 (queue left not ready). */
int vq_enable(struct virtqueue *vq);
void vq_disable(struct virtqueue *vq);

/* One buffer: a host pointer into guest RAM valid for len bytes. */
struct vq_buf {
	void *addr;
	uint32_t len;
};

/* A popped chain: seg[0 .. nout) are device-readable (driver -> device),
 * seg[nout .. nout+nin) device-writable. Zero-length descriptors are dropped. */
struct vq_chain {
	uint16_t head;                   /* give back to vq_push() */
	unsigned nout, nin;
	uint64_t out_bytes, in_bytes;    /* totals of the readable/writable segments */
	struct vq_buf seg[VQ_MAX_SEGS];
};

static inline struct vq_buf *vq_out(struct vq_chain *c, unsigned i) { return &c->seg[i]; }
static inline struct vq_buf *vq_in(struct vq_chain *c, unsigned i) { return &c->seg[c->nout + i]; }

/* 1: *c holds the next chain; 0: nothing available (or queue not ready);
 * -1: the driver broke the rules (caller sets DEVICE_NEEDS_RESET; the queue
 * state is left as it was, so further pops fail the same way). */
int vq_pop(struct virtqueue *vq, struct vq_chain *c);

/* Give the last `count` popped chains back (not yet pushed): the next
 * vq_pop() reads them again from the ring, validating them anew. */
static inline void vq_unpop(struct virtqueue *vq, unsigned count)
{
	vq->last_avail = (uint16_t)(vq->last_avail - count);
}

/* Put chain `head` into the used ring with `written` bytes written to its
 * device-writable part, and publish it (used->idx) with release ordering. */
void vq_push(struct virtqueue *vq, uint16_t head, uint32_t written);

/* After one or more pushes: should the driver be interrupted? Honours
 * used_event (EVENT_IDX, vring_need_event semantics) or else
 * VRING_AVAIL_F_NO_INTERRUPT. False when nothing was pushed since the last
 * call. Contains the full barrier between the used->idx store and the reads. */
bool vq_should_notify(struct virtqueue *vq);

/* EVENT_IDX: write avail_event (used->ring[size]) = last_avail, asking the
 * driver to kick when it makes the next buffer available; then a full barrier,
 * so a following vq_pop() sees buffers added before the driver read it.
 * No-op without EVENT_IDX. */
void vq_set_avail_event(struct virtqueue *vq);

#endif
