/* test_virtqueue.c: the split virtqueue (virtqueue.c) against rings built in
 * 1 MiB of fake guest RAM: good chains (single, chained out+in, indirect,
 * direct+indirect, zero-length skipped, 16-bit index wrap-around), the used
 * ring after vq_push, notification suppression (EVENT_IDX used_event,
 * VRING_AVAIL_F_NO_INTERRUPT, avail_event), vq_enable's checks, and one case
 * per rule vq_pop enforces against a hostile driver. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/core/guest_mem.h"
#include "virtio/virtqueue.h"

#define RAM_SIZE MiB(1)
#define DESC_GPA 0x1000ull
#define AVAIL_GPA 0x20000ull
#define USED_GPA 0x30000ull
#define TABLE_GPA 0x50000ull /* indirect tables */
#define DATA_GPA 0x80000ull  /* buffers */

static uint8_t *ram;
static struct guest_mem gm;
static struct virtqueue vq;
static struct vq_chain chain; /* 16 KiB: keep it off the stack */

/* Fresh zeroed RAM and an enabled queue of `size` with the standard layout. */
static int setup(uint16_t size, bool event_idx, bool indirect)
{
	free(ram);
	ram = calloc(1, RAM_SIZE);
	if (!ram)
		return -1;
	gm_wrap(&gm, ram, RAM_SIZE);
	memset(&vq, 0, sizeof(vq));
	vq.mem = &gm;
	vq.size = size;
	vq.desc_gpa = DESC_GPA;
	vq.avail_gpa = AVAIL_GPA;
	vq.used_gpa = USED_GPA;
	vq.event_idx = event_idx;
	vq.indirect = indirect;
	return vq_enable(&vq);
}

static struct vring_avail *avail(void) { return (struct vring_avail *)(ram + vq.avail_gpa); }
static struct vring_used *used(void) { return (struct vring_used *)(ram + vq.used_gpa); }

static void set_desc_at(uint64_t table_gpa, unsigned i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	struct vring_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};
	memcpy(ram + table_gpa + 16 * (uint64_t)i, &d, sizeof(d));
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	set_desc_at(vq.desc_gpa, i, addr, len, flags, next);
}

/* The driver makes chain `head` available. */
static void make_avail(uint16_t head)
{
	struct vring_avail *a = avail();
	a->ring[a->idx & (vq.size - 1)] = head;
	a->idx++;
}

/* Start both the device and the driver at index `idx`. */
static void start_at(uint16_t idx)
{
	vq.last_avail = vq.used_idx = idx;
	avail()->idx = idx;
	used()->idx = idx;
}

static int pop(void) { return vq_pop(&vq, &chain); }

/* ---- vq_enable ---- */

static void enable_checks(void)
{
	CHECK_EQ(setup(256, false, false), 0);
	CHECK(vq.ready);
	CHECK(vq.desc == (void *)(ram + DESC_GPA));
	CHECK(vq.avail == (void *)(ram + AVAIL_GPA));
	CHECK(vq.used == (void *)(ram + USED_GPA));
	CHECK_EQ(setup(1, false, false), 0);
	CHECK_EQ(setup(0, false, false), -1);
	CHECK(!vq.ready);
	CHECK_EQ(setup(3, false, false), -1);
	CHECK_EQ(setup(48, false, false), -1);
	CHECK_EQ(setup(65535, false, false), -1);
	/* 32768 fits: desc 512 KiB from 0, avail and used after it */
	CHECK_EQ(setup(16, false, false), 0);
	vq.size = 32768;
	vq.desc_gpa = 0;
	vq.avail_gpa = 0x80000;
	vq.used_gpa = 0xa0000;
	CHECK_EQ(vq_enable(&vq), 0);
	vq.desc_gpa = 0x80010; /* desc table runs 16 bytes past the end of RAM */
	CHECK_EQ(vq_enable(&vq), -1);
	CHECK(!vq.ready);
}

static void enable_alignment(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	vq.desc_gpa = DESC_GPA + 8;
	CHECK_EQ(vq_enable(&vq), -1);
	vq.desc_gpa = DESC_GPA;
	vq.avail_gpa = AVAIL_GPA + 1;
	CHECK_EQ(vq_enable(&vq), -1);
	vq.avail_gpa = AVAIL_GPA + 2;
	CHECK_EQ(vq_enable(&vq), 0);
	vq.used_gpa = USED_GPA + 2;
	CHECK_EQ(vq_enable(&vq), -1);
	vq.used_gpa = USED_GPA + 4;
	CHECK_EQ(vq_enable(&vq), 0);
}

static void enable_rings_outside_ram(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	vq.desc_gpa = RAM_SIZE;
	CHECK_EQ(vq_enable(&vq), -1);
	vq.desc_gpa = 0xfffffffffffffff0ull; /* wraps */
	CHECK_EQ(vq_enable(&vq), -1);
	vq.desc_gpa = LAYOUT_MMIO_HOLE;
	CHECK_EQ(vq_enable(&vq), -1);
	vq.desc_gpa = DESC_GPA;
	/* avail ring of 16 without used_event: 4 + 32 bytes, ending at RAM end */
	vq.avail_gpa = RAM_SIZE - 36;
	CHECK_EQ(vq_enable(&vq), 0);
	vq.event_idx = true; /* + used_event: 2 bytes past the end */
	CHECK_EQ(vq_enable(&vq), -1);
	vq.event_idx = false;
	vq.avail_gpa = AVAIL_GPA;
	/* used ring: 4 + 128 bytes (+2 for avail_event) */
	vq.used_gpa = RAM_SIZE - 132;
	CHECK_EQ(vq_enable(&vq), 0);
	vq.event_idx = true;
	CHECK_EQ(vq_enable(&vq), -1);
	vq.mem = NULL;
	CHECK_EQ(vq_enable(&vq), -1);
}

static void not_ready_is_empty(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	set_desc(0, DATA_GPA, 64, 0, 0);
	make_avail(0);
	vq_disable(&vq);
	CHECK_EQ(pop(), 0);
	vq_push(&vq, 0, 1); /* ignored */
	CHECK_EQ(used()->idx, 0);
	CHECK(!vq_should_notify(&vq));
}

/* ---- good chains ---- */

static void empty_queue(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	CHECK_EQ(pop(), 0);
	CHECK_EQ(vq.last_avail, 0);
}

static void single_descriptor(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	set_desc(5, DATA_GPA, 100, 0, 0);
	make_avail(5);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(chain.head, 5);
	CHECK_EQ(chain.nout, 1);
	CHECK_EQ(chain.nin, 0);
	CHECK(chain.seg[0].addr == (void *)(ram + DATA_GPA));
	CHECK_EQ(chain.seg[0].len, 100);
	CHECK_EQ(chain.out_bytes, 100);
	CHECK_EQ(chain.in_bytes, 0);
	CHECK_EQ(vq.last_avail, 1);
	CHECK_EQ(pop(), 0);
}

static void chained_out_in(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	/* 2 -> 7 -> 0 -> 9: two readable, two writable */
	set_desc(2, DATA_GPA, 16, VRING_DESC_F_NEXT, 7);
	set_desc(7, DATA_GPA + 0x100, 512, VRING_DESC_F_NEXT, 0);
	set_desc(0, DATA_GPA + 0x1000, 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 9);
	set_desc(9, DATA_GPA + 0x2000, 4096, VRING_DESC_F_WRITE, 3 /* ignored */);
	make_avail(2);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(chain.head, 2);
	CHECK_EQ(chain.nout, 2);
	CHECK_EQ(chain.nin, 2);
	CHECK(vq_out(&chain, 0)->addr == (void *)(ram + DATA_GPA));
	CHECK(vq_out(&chain, 1)->addr == (void *)(ram + DATA_GPA + 0x100));
	CHECK_EQ(vq_out(&chain, 1)->len, 512);
	CHECK(vq_in(&chain, 0)->addr == (void *)(ram + DATA_GPA + 0x1000));
	CHECK_EQ(vq_in(&chain, 0)->len, 1);
	CHECK(vq_in(&chain, 1)->addr == (void *)(ram + DATA_GPA + 0x2000));
	CHECK_EQ(chain.out_bytes, 528);
	CHECK_EQ(chain.in_bytes, 4097);
}

static void writable_only_chain(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	set_desc(0, DATA_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA + 8, 8, VRING_DESC_F_WRITE, 0);
	make_avail(0);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(chain.nout, 0);
	CHECK_EQ(chain.nin, 2);
	CHECK_EQ(chain.in_bytes, 16);
}

static void indirect_mixed(void)
{
	CHECK_EQ(setup(16, false, true), 0);
	/* table: 3 readable, 2 writable, linked out of order: 0 -> 3 -> 1 -> 4 -> 2 */
	set_desc_at(TABLE_GPA, 0, DATA_GPA + 0x000, 10, VRING_DESC_F_NEXT, 3);
	set_desc_at(TABLE_GPA, 3, DATA_GPA + 0x100, 20, VRING_DESC_F_NEXT, 1);
	set_desc_at(TABLE_GPA, 1, DATA_GPA + 0x200, 30, VRING_DESC_F_NEXT, 4);
	set_desc_at(TABLE_GPA, 4, DATA_GPA + 0x300, 40, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	set_desc_at(TABLE_GPA, 2, DATA_GPA + 0x400, 50, VRING_DESC_F_WRITE, 0);
	/* WRITE on the indirect descriptor itself is ignored */
	set_desc(4, TABLE_GPA, 5 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	make_avail(4);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(chain.head, 4);
	CHECK_EQ(chain.nout, 3);
	CHECK_EQ(chain.nin, 2);
	CHECK(vq_out(&chain, 0)->addr == (void *)(ram + DATA_GPA));
	CHECK(vq_out(&chain, 1)->addr == (void *)(ram + DATA_GPA + 0x100));
	CHECK(vq_out(&chain, 2)->addr == (void *)(ram + DATA_GPA + 0x200));
	CHECK(vq_in(&chain, 0)->addr == (void *)(ram + DATA_GPA + 0x300));
	CHECK(vq_in(&chain, 1)->addr == (void *)(ram + DATA_GPA + 0x400));
	CHECK_EQ(chain.out_bytes, 60);
	CHECK_EQ(chain.in_bytes, 90);
}

static void direct_then_indirect(void)
{
	CHECK_EQ(setup(16, false, true), 0);
	set_desc(0, DATA_GPA, 12, VRING_DESC_F_NEXT, 1);
	set_desc(1, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	set_desc_at(TABLE_GPA, 0, DATA_GPA + 0x100, 100, VRING_DESC_F_NEXT, 1);
	set_desc_at(TABLE_GPA, 1, DATA_GPA + 0x200, 200, VRING_DESC_F_WRITE, 0);
	make_avail(0);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(chain.nout, 2);
	CHECK_EQ(chain.nin, 1);
	CHECK_EQ(chain.out_bytes, 112);
	CHECK_EQ(chain.in_bytes, 200);
}

static void indirect_unaligned_and_larger_than_queue(void)
{
	/* A table may sit at any address and hold more entries than the queue
	 * (Linux builds such tables for small queues); up to VQ_MAX_SEGS. */
	CHECK_EQ(setup(4, false, true), 0);
	uint64_t t = TABLE_GPA + 3;
	for (unsigned i = 0; i < 8; i++)
		set_desc_at(t, i, DATA_GPA + i, 1, i < 7 ? VRING_DESC_F_NEXT : 0, i + 1);
	set_desc(0, t, 8 * 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(chain.nout, 8);
	CHECK(chain.seg[7].addr == (void *)(ram + DATA_GPA + 7));
}

static void indirect_max_segs(void)
{
	CHECK_EQ(setup(16, false, true), 0);
	for (unsigned i = 0; i < VQ_MAX_SEGS; i++)
		set_desc_at(TABLE_GPA, i, DATA_GPA, 4,
			    i + 1 < VQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0, i + 1);
	set_desc(0, TABLE_GPA, VQ_MAX_SEGS * 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(chain.nout, VQ_MAX_SEGS);
	CHECK_EQ(chain.out_bytes, 4 * VQ_MAX_SEGS);
}

static void zero_length_skipped(void)
{
	CHECK_EQ(setup(16, false, true), 0);
	/* Empty descriptors are dropped, whatever their address or direction. */
	set_desc(0, 0xdeadbeef00000000ull, 0, VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 8, VRING_DESC_F_NEXT, 2);
	set_desc(2, DATA_GPA, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	set_desc(3, DATA_GPA + 8, 8, VRING_DESC_F_NEXT, 4);
	set_desc(4, DATA_GPA + 16, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 5);
	set_desc(5, RAM_SIZE * 4, 0, 0, 0);
	make_avail(0);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(chain.nout, 2);
	CHECK_EQ(chain.nin, 1);
	CHECK(vq_in(&chain, 0)->addr == (void *)(ram + DATA_GPA + 16));
	/* a chain of nothing but an empty descriptor is an empty chain */
	set_desc(6, 0, 0, VRING_DESC_F_WRITE, 0);
	make_avail(6);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(chain.head, 6);
	CHECK_EQ(chain.nout + chain.nin, 0);
}

static void chain_of_exactly_size(void)
{
	CHECK_EQ(setup(8, false, false), 0);
	for (unsigned i = 0; i < 8; i++)
		set_desc(i, DATA_GPA + i, 1, i < 7 ? VRING_DESC_F_NEXT : 0, i + 1);
	make_avail(0);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(chain.nout, 8);
}

static void avail_exactly_size_ahead(void)
{
	CHECK_EQ(setup(4, false, false), 0);
	set_desc(0, DATA_GPA, 1, 0, 0);
	for (int i = 0; i < 4; i++)
		make_avail(0);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(pop(), 1);
	CHECK_EQ(pop(), 0);
}

static void index_wraparound(void)
{
	CHECK_EQ(setup(8, false, false), 0);
	start_at(65530);
	for (unsigned i = 0; i < 8; i++)
		set_desc(i, DATA_GPA + 0x100 * i, 16 + i, VRING_DESC_F_WRITE, 0);
	/* 12 chains across the 65535 -> 0 wrap, in two batches of 6 */
	unsigned got = 0;
	for (int batch = 0; batch < 2; batch++) {
		for (unsigned i = 0; i < 6; i++)
			make_avail((uint16_t)((got + i) % 8));
		for (unsigned i = 0; i < 6; i++, got++) {
			CHECK_EQ(pop(), 1);
			CHECK_EQ(chain.head, got % 8);
			CHECK_EQ(chain.in_bytes, 16 + got % 8);
			vq_push(&vq, chain.head, (uint32_t)got);
		}
		CHECK_EQ(pop(), 0);
	}
	CHECK_EQ(vq.last_avail, (uint16_t)(65530 + 12));
	CHECK_EQ(vq.last_avail, 6);
	CHECK_EQ(used()->idx, 6);
	/* used slots: index & 7; the last push (got 11) was index 65541 -> 5 */
	CHECK_EQ(used()->ring[5].id, 11 % 8);
	CHECK_EQ(used()->ring[5].len, 11);
	/* slot 65530 & 7 held got 0, then got 8 */
	CHECK_EQ(used()->ring[65530 & 7].id, 0);
	CHECK_EQ(used()->ring[65530 & 7].len, 8);
}

static void used_ring_after_push(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	set_desc(3, DATA_GPA, 64, VRING_DESC_F_WRITE, 0);
	set_desc(9, DATA_GPA + 64, 64, VRING_DESC_F_WRITE, 0);
	make_avail(3);
	make_avail(9);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(pop(), 1);
	/* completed out of order */
	vq_push(&vq, 9, 40);
	CHECK_EQ(used()->idx, 1);
	CHECK_EQ(used()->ring[0].id, 9);
	CHECK_EQ(used()->ring[0].len, 40);
	vq_push(&vq, 3, 0);
	CHECK_EQ(used()->idx, 2);
	CHECK_EQ(used()->ring[1].id, 3);
	CHECK_EQ(used()->ring[1].len, 0);
	CHECK_EQ(vq.used_idx, 2);
	CHECK_EQ(used()->flags, 0);
}

/* ---- notifications ---- */

static void no_interrupt_flag(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	set_desc(0, DATA_GPA, 8, VRING_DESC_F_WRITE, 0);
	make_avail(0);
	CHECK_EQ(pop(), 1);
	vq_push(&vq, 0, 8);
	CHECK(vq_should_notify(&vq));
	CHECK(!vq_should_notify(&vq)); /* nothing new since */
	avail()->flags = VRING_AVAIL_F_NO_INTERRUPT;
	make_avail(0);
	CHECK_EQ(pop(), 1);
	vq_push(&vq, 0, 8);
	CHECK(!vq_should_notify(&vq));
	avail()->flags = 0;
	make_avail(0);
	CHECK_EQ(pop(), 1);
	vq_push(&vq, 0, 8);
	CHECK(vq_should_notify(&vq));
}

static void event_idx_suppression(void)
{
	CHECK_EQ(setup(16, true, false), 0);
	uint16_t *used_event = &avail()->ring[16];
	set_desc(0, DATA_GPA, 8, VRING_DESC_F_WRITE, 0);
	/* the NO_INTERRUPT flag is ignored with EVENT_IDX */
	avail()->flags = VRING_AVAIL_F_NO_INTERRUPT;
	/* first decision: nothing known about what the driver saw -> notify */
	make_avail(0);
	CHECK_EQ(pop(), 1);
	vq_push(&vq, 0, 8); /* used 0 -> 1 */
	CHECK(vq_should_notify(&vq));
	/* driver wants an interrupt once entry 3 is used (idx passes 3 -> 4) */
	*used_event = 3;
	for (int i = 0; i < 3; i++)
		make_avail(0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(pop(), 1);
		vq_push(&vq, 0, 8); /* used 1->2, 2->3 */
		CHECK(!vq_should_notify(&vq));
	}
	CHECK_EQ(pop(), 1);
	vq_push(&vq, 0, 8); /* used 3->4: crosses used_event */
	CHECK(vq_should_notify(&vq));
	CHECK(!vq_should_notify(&vq)); /* nothing new */
	/* a batch jumping over used_event still notifies once */
	*used_event = 5;
	for (int i = 0; i < 3; i++)
		make_avail(0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(pop(), 1);
		vq_push(&vq, 0, 8); /* 4 -> 7 */
	}
	CHECK(vq_should_notify(&vq));
	/* used_event behind: already passed, no interrupt */
	*used_event = 2;
	make_avail(0);
	CHECK_EQ(pop(), 1);
	vq_push(&vq, 0, 8);
	CHECK(!vq_should_notify(&vq));
	/* same as vring_need_event across the 16-bit wrap */
	CHECK_EQ(setup(16, true, false), 0);
	start_at(65534);
	vq.signalled_used = 65534;
	vq.signalled_valid = true;
	used_event = &avail()->ring[16];
	*used_event = 0; /* the entry at index 0 -> idx becomes 1 */
	set_desc(0, DATA_GPA, 8, VRING_DESC_F_WRITE, 0);
	for (int i = 0; i < 3; i++)
		make_avail(0);
	CHECK_EQ(pop(), 1);
	vq_push(&vq, 0, 8); /* 65534 -> 65535 */
	CHECK(!vq_should_notify(&vq));
	CHECK_EQ(pop(), 1);
	vq_push(&vq, 0, 8); /* 65535 -> 0 */
	CHECK(!vq_should_notify(&vq));
	CHECK_EQ(pop(), 1);
	vq_push(&vq, 0, 8); /* 0 -> 1: passes used_event 0 */
	CHECK(vq_should_notify(&vq));
	CHECK_EQ(vring_need_event(0, 1, 0), 1);
}

static void avail_event_written(void)
{
	CHECK_EQ(setup(16, true, false), 0);
	uint16_t *avail_event = (uint16_t *)(ram + USED_GPA + 4 + 8 * 16);
	*avail_event = 0xffff;
	vq_set_avail_event(&vq);
	CHECK_EQ(*avail_event, 0);
	set_desc(0, DATA_GPA, 8, 0, 0);
	make_avail(0);
	make_avail(0);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(pop(), 1);
	vq_set_avail_event(&vq);
	CHECK_EQ(*avail_event, 2);
	/* without EVENT_IDX the slot past the used ring is not touched */
	CHECK_EQ(setup(16, false, false), 0);
	avail_event = (uint16_t *)(ram + USED_GPA + 4 + 8 * 16);
	*avail_event = 0x1234;
	vq_set_avail_event(&vq);
	CHECK_EQ(*avail_event, 0x1234);
}

/* ---- hostile drivers: each is an error, and the queue does not advance ---- */

static void bad_pop(void)
{
	/* helper for cases below: the pop fails and consumes nothing */
	uint16_t before = vq.last_avail;
	CHECK_EQ(pop(), -1);
	CHECK_EQ(vq.last_avail, before);
	CHECK_EQ(pop(), -1); /* stays broken */
}

#define CHECK_BAD_POP()                                                               \
	do {                                                                          \
		bad_pop();                                                            \
		if (check_state.case_failed)                                          \
			return;                                                       \
	} while (0)

static void avail_idx_too_far_ahead(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	set_desc(0, DATA_GPA, 8, 0, 0);
	avail()->idx = 17;
	CHECK_BAD_POP();
	avail()->idx = 0xffff; /* "behind": as far ahead as it gets */
	CHECK_BAD_POP();
	start_at(65530);
	avail()->idx = (uint16_t)(65530 + 17);
	CHECK_BAD_POP();
	avail()->idx = (uint16_t)(65530 + 16);
	CHECK_EQ(pop(), 1);
}

static void head_out_of_range(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	make_avail(16);
	CHECK_BAD_POP();
	avail()->ring[0] = 0xffff;
	CHECK_BAD_POP();
}

static void next_out_of_range(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	set_desc(0, DATA_GPA, 8, VRING_DESC_F_NEXT, 16);
	make_avail(0);
	CHECK_BAD_POP();
	set_desc(0, DATA_GPA, 8, VRING_DESC_F_NEXT, 0xffff);
	CHECK_BAD_POP();
}

static void descriptor_loop(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	set_desc(0, DATA_GPA, 8, VRING_DESC_F_NEXT, 0); /* self-loop */
	make_avail(0);
	CHECK_BAD_POP();
	/* 0 -> 1 -> 2 -> 1 ... */
	set_desc(0, DATA_GPA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 8, VRING_DESC_F_NEXT, 2);
	set_desc(2, DATA_GPA, 8, VRING_DESC_F_NEXT, 1);
	CHECK_BAD_POP();
	/* a loop of empty descriptors (nothing collected) still ends */
	set_desc(0, 0, 0, VRING_DESC_F_NEXT, 1);
	set_desc(1, 0, 0, VRING_DESC_F_NEXT, 0);
	CHECK_BAD_POP();
	/* a chain longer than the queue can only be a loop: size + 1 */
	CHECK_EQ(setup(8, false, false), 0);
	for (unsigned i = 0; i < 8; i++)
		set_desc(i, DATA_GPA, 1, VRING_DESC_F_NEXT, (i + 1) % 8);
	make_avail(0);
	CHECK_BAD_POP();
}

static void indirect_not_negotiated(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	set_desc_at(TABLE_GPA, 0, DATA_GPA, 8, 0, 0);
	set_desc(0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	CHECK_BAD_POP();
}

static void indirect_bad_length(void)
{
	CHECK_EQ(setup(16, false, true), 0);
	for (unsigned i = 0; i < VQ_MAX_SEGS + 1; i++)
		set_desc_at(TABLE_GPA, i, DATA_GPA, 8, 0, 0);
	make_avail(0);
	set_desc(0, TABLE_GPA, 0, VRING_DESC_F_INDIRECT, 0);
	CHECK_BAD_POP();
	set_desc(0, TABLE_GPA, 24, VRING_DESC_F_INDIRECT, 0);
	CHECK_BAD_POP();
	set_desc(0, TABLE_GPA, 15, VRING_DESC_F_INDIRECT, 0);
	CHECK_BAD_POP();
	set_desc(0, TABLE_GPA, (VQ_MAX_SEGS + 1) * 16, VRING_DESC_F_INDIRECT, 0);
	CHECK_BAD_POP();
	set_desc(0, TABLE_GPA, 0xfffffff0u, VRING_DESC_F_INDIRECT, 0);
	CHECK_BAD_POP();
	set_desc(0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	CHECK_EQ(pop(), 1);
}

static void indirect_nested(void)
{
	CHECK_EQ(setup(16, false, true), 0);
	set_desc_at(TABLE_GPA, 0, DATA_GPA, 8, VRING_DESC_F_NEXT, 1);
	set_desc_at(TABLE_GPA, 1, TABLE_GPA + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	set_desc_at(TABLE_GPA + 0x100, 0, DATA_GPA, 8, 0, 0);
	set_desc(0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	CHECK_BAD_POP();
	/* a table pointing at itself */
	set_desc_at(TABLE_GPA, 0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	CHECK_BAD_POP();
}

static void indirect_with_next(void)
{
	CHECK_EQ(setup(16, false, true), 0);
	set_desc_at(TABLE_GPA, 0, DATA_GPA, 8, 0, 0);
	set_desc(1, DATA_GPA, 8, VRING_DESC_F_WRITE, 0);
	set_desc(0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	make_avail(0);
	CHECK_BAD_POP();
}

static void indirect_table_outside_ram(void)
{
	CHECK_EQ(setup(16, false, true), 0);
	make_avail(0);
	set_desc(0, RAM_SIZE, 16, VRING_DESC_F_INDIRECT, 0);
	CHECK_BAD_POP();
	set_desc(0, RAM_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0); /* straddles the end */
	CHECK_BAD_POP();
	set_desc(0, 0xfffffffffffffff0ull, 32, VRING_DESC_F_INDIRECT, 0); /* wraps */
	CHECK_BAD_POP();
	set_desc(0, LAYOUT_MMIO_HOLE, 16, VRING_DESC_F_INDIRECT, 0);
	CHECK_BAD_POP();
	set_desc_at(RAM_SIZE - 16, 0, DATA_GPA, 8, 0, 0);
	set_desc(0, RAM_SIZE - 16, 16, VRING_DESC_F_INDIRECT, 0); /* last 16 bytes: fine */
	CHECK_EQ(pop(), 1);
}

static void indirect_next_and_loop(void)
{
	CHECK_EQ(setup(16, false, true), 0);
	set_desc_at(TABLE_GPA, 0, DATA_GPA, 8, VRING_DESC_F_NEXT, 2); /* table has 2 */
	set_desc_at(TABLE_GPA, 1, DATA_GPA, 8, 0, 0);
	set_desc_at(TABLE_GPA, 2, DATA_GPA, 8, 0, 0);
	set_desc(0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	CHECK_BAD_POP();
	set_desc_at(TABLE_GPA, 0, DATA_GPA, 8, VRING_DESC_F_NEXT, 1);
	set_desc_at(TABLE_GPA, 1, DATA_GPA, 8, VRING_DESC_F_NEXT, 0);
	CHECK_BAD_POP();
}

static void buffer_outside_ram(void)
{
	CHECK_EQ(setup(16, false, false), 0);
	make_avail(0);
	set_desc(0, RAM_SIZE, 1, 0, 0);
	CHECK_BAD_POP();
	set_desc(0, RAM_SIZE - 8, 9, 0, 0); /* one byte past the end */
	CHECK_BAD_POP();
	set_desc(0, 0xfffffffffffffff0ull, 0x20, VRING_DESC_F_WRITE, 0); /* wraps */
	CHECK_BAD_POP();
	set_desc(0, 0, 0xffffffffu, 0, 0);
	CHECK_BAD_POP();
	set_desc(0, LAYOUT_MMIO_HOLE + 0x1000, 16, 0, 0);
	CHECK_BAD_POP();
	/* bad buffer later in the chain */
	set_desc(0, DATA_GPA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(1, RAM_SIZE - 4, 8, VRING_DESC_F_WRITE, 0);
	CHECK_BAD_POP();
	set_desc(1, RAM_SIZE - 8, 8, VRING_DESC_F_WRITE, 0); /* last 8 bytes: fine */
	CHECK_EQ(pop(), 1);
	CHECK(vq_in(&chain, 0)->addr == (void *)(ram + RAM_SIZE - 8));
}

static void buffer_straddling_low_ram_end(void)
{
	/* Pretend the RAM is 512 KiB below the hole and 512 KiB above 4 GiB:
	 * host-contiguous, guest-physically split. */
	CHECK_EQ(setup(16, false, false), 0);
	gm.layout.low_size = KiB(512);
	gm.layout.high_size = KiB(512);
	make_avail(0);
	set_desc(0, KiB(512) - 16, 32, VRING_DESC_F_WRITE, 0);
	CHECK_BAD_POP();
	set_desc(0, KiB(512), 16, VRING_DESC_F_WRITE, 0); /* in the hole */
	CHECK_BAD_POP();
	set_desc(0, LAYOUT_MMIO_HOLE_END - 8, 16, VRING_DESC_F_WRITE, 0);
	CHECK_BAD_POP();
	set_desc(0, LAYOUT_MMIO_HOLE_END + KiB(512) - 8, 16, VRING_DESC_F_WRITE, 0);
	CHECK_BAD_POP();
	set_desc(0, LAYOUT_MMIO_HOLE_END + 0x10, 16, VRING_DESC_F_WRITE, 0);
	CHECK_EQ(pop(), 1);
	CHECK(vq_in(&chain, 0)->addr == (void *)(ram + KiB(512) + 0x10));
}

static void readable_after_writable(void)
{
	CHECK_EQ(setup(16, false, true), 0);
	set_desc(0, DATA_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA + 8, 8, 0, 0);
	make_avail(0);
	CHECK_BAD_POP();
	/* inside an indirect table too */
	set_desc_at(TABLE_GPA, 0, DATA_GPA, 8, VRING_DESC_F_NEXT, 1);
	set_desc_at(TABLE_GPA, 1, DATA_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc_at(TABLE_GPA, 2, DATA_GPA, 8, 0, 0);
	set_desc(0, TABLE_GPA, 48, VRING_DESC_F_INDIRECT, 0);
	CHECK_BAD_POP();
	/* across the direct part and the table */
	set_desc(0, DATA_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(1, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	CHECK_BAD_POP();
}

static void too_many_segments(void)
{
	/* a direct chain of VQ_MAX_SEGS + 1 non-empty descriptors */
	CHECK_EQ(setup(2048, false, false), 0);
	for (unsigned i = 0; i <= VQ_MAX_SEGS; i++)
		set_desc(i, DATA_GPA, 1, i < VQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0, i + 1);
	make_avail(0);
	CHECK_BAD_POP();
	set_desc(VQ_MAX_SEGS - 1, DATA_GPA, 1, 0, 0); /* exactly VQ_MAX_SEGS */
	CHECK_EQ(pop(), 1);
	CHECK_EQ(chain.nout, VQ_MAX_SEGS);
	/* two direct + a full indirect table */
	CHECK_EQ(setup(16, false, true), 0);
	for (unsigned i = 0; i < VQ_MAX_SEGS; i++)
		set_desc_at(TABLE_GPA, i, DATA_GPA, 4,
			    i + 1 < VQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0, i + 1);
	set_desc(0, DATA_GPA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 8, VRING_DESC_F_NEXT, 2);
	set_desc(2, TABLE_GPA, VQ_MAX_SEGS * 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	CHECK_BAD_POP();
}

int main(void)
{
	RUN(enable_checks);
	RUN(enable_alignment);
	RUN(enable_rings_outside_ram);
	RUN(not_ready_is_empty);
	RUN(empty_queue);
	RUN(single_descriptor);
	RUN(chained_out_in);
	RUN(writable_only_chain);
	RUN(indirect_mixed);
	RUN(direct_then_indirect);
	RUN(indirect_unaligned_and_larger_than_queue);
	RUN(indirect_max_segs);
	RUN(zero_length_skipped);
	RUN(chain_of_exactly_size);
	RUN(avail_exactly_size_ahead);
	RUN(index_wraparound);
	RUN(used_ring_after_push);
	RUN(no_interrupt_flag);
	RUN(event_idx_suppression);
	RUN(avail_event_written);
	RUN(avail_idx_too_far_ahead);
	RUN(head_out_of_range);
	RUN(next_out_of_range);
	RUN(descriptor_loop);
	RUN(indirect_not_negotiated);
	RUN(indirect_bad_length);
	RUN(indirect_nested);
	RUN(indirect_with_next);
	RUN(indirect_table_outside_ram);
	RUN(indirect_next_and_loop);
	RUN(buffer_outside_ram);
	RUN(buffer_straddling_low_ram_end);
	RUN(readable_after_writable);
	RUN(too_many_segments);
	free(ram);
	return check_summary();
}
