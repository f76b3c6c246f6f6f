/* virtqueue.c: the device side of a virtio 1.x split virtqueue. Pops and
 * validates descriptor chains from a hostile driver (every ring byte is
 * guest-controlled and may change concurrently), pushes used buffers and
 * decides on interrupts (EVENT_IDX or VRING_AVAIL_F_NO_INTERRUPT).
 * See virtqueue.h for the contract. */
#include "virtio/virtqueue.h"

#include <endian.h>
#include <string.h>

#define DESC_SIZE ((uint32_t)sizeof(struct vring_desc))

_Static_assert(sizeof(struct vring_desc) == 16, "vring_desc layout");
_Static_assert(sizeof(struct vring_used_elem) == 8, "vring_used_elem layout");

int vq_enable(struct virtqueue *vq)
{
	vq->ready = false;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	uint32_t n = vq->size;
	if (!vq->mem || n == 0 || n > VQ_MAX_SIZE || (n & (n - 1)))
		return -1;
	if (vq->desc_gpa % 16 || vq->avail_gpa % 2 || vq->used_gpa % 4)
		return -1;
	uint64_t ev = vq->event_idx ? 2 : 0; /* used_event / avail_event */
	struct vring_desc *desc = gm_ptr(vq->mem, vq->desc_gpa, (uint64_t)DESC_SIZE * n);
	struct vring_avail *avail = gm_ptr(vq->mem, vq->avail_gpa, 4 + 2 * (uint64_t)n + ev);
	struct vring_used *used = gm_ptr(vq->mem, vq->used_gpa, 4 + 8 * (uint64_t)n + ev);
	if (!desc || !avail || !used)
		return -1;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_valid = false;
	vq->ready = true;
	return 0;
}

void vq_disable(struct virtqueue *vq)
{
	vq->ready = false;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
}

/* Copy one descriptor out of guest memory exactly once. memcpy because an
 * indirect table need not be aligned; the compiler barrier stops the compiler
 * from re-reading guest memory in place of the local copy. A torn copy (the
 * guest writing concurrently) is harmless: only the copy is validated and used. */
static void read_desc(const uint8_t *p, uint16_t *flags, uint16_t *next, uint64_t *addr,
		      uint32_t *len)
{
	struct vring_desc d;
	memcpy(&d, p, sizeof(d));
	__asm__ __volatile__("" ::: "memory");
	*flags = le16toh(d.flags);
	*next = le16toh(d.next);
	*addr = le64toh(d.addr);
	*len = le32toh(d.len);
}

/* Walk the chain starting at `head` into c; 0 or -1 (driver error). */
static int walk_chain(struct virtqueue *vq, struct vq_chain *c, uint16_t head)
{
	const uint8_t *table = (const uint8_t *)vq->desc;
	uint32_t table_n = vq->size; /* entries in the table being walked */
	uint32_t budget = vq->size;  /* descriptors left before this is a loop */
	uint32_t i = head;
	bool in_indirect = false;

	c->head = head;
	c->nout = c->nin = 0;
	c->out_bytes = c->in_bytes = 0;
	for (;;) {
		uint16_t flags, next;
		uint64_t addr;
		uint32_t len;

		/* Counting bounds the walk whatever the next fields say: a chain
		 * can't have more descriptors than its table has entries. */
		if (budget == 0)
			return -1;
		budget--;
		read_desc(table + (uint64_t)i * DESC_SIZE, &flags, &next, &addr, &len);

		if (flags & VRING_DESC_F_INDIRECT) {
			if (!vq->indirect || in_indirect || (flags & VRING_DESC_F_NEXT))
				return -1;
			/* The WRITE flag of the indirect descriptor itself is ignored. */
			if (len == 0 || len % DESC_SIZE || len / DESC_SIZE > VQ_MAX_SEGS)
				return -1;
			table = gm_ptr(vq->mem, addr, len);
			if (!table)
				return -1;
			table_n = len / DESC_SIZE;
			budget = table_n;
			i = 0;
			in_indirect = true;
			continue;
		}

		if (len) { /* zero-length descriptors carry nothing: skipped */
			void *p = gm_ptr(vq->mem, addr, len);
			if (!p || c->nout + c->nin >= VQ_MAX_SEGS)
				return -1;
			struct vq_buf *b = &c->seg[c->nout + c->nin];
			b->addr = p;
			b->len = len;
			if (flags & VRING_DESC_F_WRITE) {
				c->nin++;
				c->in_bytes += len;
			} else {
				/* Device-readable after device-writable breaks 2.7.4.2. */
				if (c->nin)
					return -1;
				c->nout++;
				c->out_bytes += len;
			}
		}

		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		if (next >= table_n)
			return -1;
		i = next;
	}
}

int vq_pop(struct virtqueue *vq, struct vq_chain *c)
{
	if (!vq->ready)
		return 0;
	/* Acquire: the ring entries and descriptors the driver wrote before
	 * bumping idx are visible to the reads below. */
	uint16_t avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
	if (pending == 0)
		return 0;
	if (pending > vq->size)
		return -1;
	uint16_t slot = vq->last_avail & (vq->size - 1);
	uint16_t head = le16toh(__atomic_load_n(&vq->avail->ring[slot], __ATOMIC_RELAXED));
	if (head >= vq->size)
		return -1;
	if (walk_chain(vq, c, head) < 0)
		return -1;
	vq->last_avail++;
	return 1;
}

void vq_push(struct virtqueue *vq, uint16_t head, uint32_t written)
{
	if (!vq->ready)
		return;
	struct vring_used_elem *e = &vq->used->ring[vq->used_idx & (vq->size - 1)];
	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(written), __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Release: the element is visible before the driver sees the new idx. */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
}

bool vq_should_notify(struct virtqueue *vq)
{
	if (!vq->ready)
		return false;
	/* Full barrier: the used->idx store must be visible before we read the
	 * driver's suppression state, or both sides may wait for each other. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t old = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_valid;
	vq->signalled_used = new_idx;
	vq->signalled_valid = true;
	if (valid && old == new_idx)
		return false;
	if (!vq->event_idx) {
		uint16_t flags = le16toh(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED));
		return !(flags & VRING_AVAIL_F_NO_INTERRUPT);
	}
	if (!valid)
		return true;
	uint16_t used_event =
		le16toh(__atomic_load_n(&vq->avail->ring[vq->size], __ATOMIC_RELAXED));
	return vring_need_event(used_event, new_idx, old);
}

void vq_set_avail_event(struct virtqueue *vq)
{
	if (!vq->ready || !vq->event_idx)
		return;
	uint16_t *avail_event = (uint16_t *)&vq->used->ring[vq->size];
	__atomic_store_n(avail_event, htole16(vq->last_avail), __ATOMIC_RELAXED);
	/* Full barrier: the store above before re-reading avail->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
