/* test_mmio.c: the MMIO bus (mmio.c): registration refuses empty, wrapping and
 * overlapping ranges and a full table, and accepts a range ending at 2^64;
 * dispatch reaches the owner with the offset from its base, the length and the
 * direction; unclaimed reads are all ones and unclaimed writes dropped;
 * unregister and move (refused onto another range, allowed onto itself);
 * lengths over 8 are clamped; a handler may move its own range; concurrent
 * dispatch from several threads while another thread moves a range. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "tests/unit/check.h"
#include "vmm/core/mmio.h"

struct dev {
	unsigned calls;
	uint64_t off;
	unsigned len;
	bool write;
	uint8_t last[8];
	uint8_t reply;
};

static void dev_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool write)
{
	struct dev *d = opaque;
	d->calls++;
	d->off = off;
	d->len = len;
	d->write = write;
	if (write)
		memcpy(d->last, data, len);
	else
		memset(data, d->reply, len);
}

static void register_refusals(void)
{
	struct mmio_bus bus;
	mmio_bus_init(&bus);
	struct dev a = {0};
	CHECK_EQ(mmio_register(&bus, 0xd0000000, 0x1000, dev_io, &a), 0);
	CHECK_EQ(mmio_register(&bus, 0xd0000000, 0x1000, dev_io, &a), -1);
	CHECK_EQ(mmio_register(&bus, 0xcffff000, 0x1001, dev_io, &a), -1); /* last byte overlaps */
	CHECK_EQ(mmio_register(&bus, 0xd0000fff, 1, dev_io, &a), -1);
	CHECK_EQ(mmio_register(&bus, 0xc0000000, 0x40000000, dev_io, &a), -1); /* covers */
	CHECK_EQ(mmio_register(&bus, 0xe0000000, 0, dev_io, &a), -1);
	CHECK_EQ(mmio_register(&bus, UINT64_MAX - 0xfff, 0x2000, dev_io, &a), -1); /* wraps */
	CHECK_EQ(mmio_register(&bus, 0xe0000000, 0x10, NULL, &a), -1);
	CHECK_EQ(mmio_register(&bus, UINT64_MAX - 0xfff, 0x1000, dev_io, &a), 0); /* ends at 2^64 */
	CHECK_EQ(mmio_register(&bus, 0xcffff000, 0x1000, dev_io, &a), 0);    /* adjacent */
	CHECK_EQ(mmio_register(&bus, 0xd0001000, 0x1000, dev_io, &a), 0);
	CHECK_EQ(bus.n, 4);
	mmio_bus_destroy(&bus);
}

static void full_table(void)
{
	static struct mmio_bus bus;
	mmio_bus_init(&bus);
	struct dev a = {0};
	for (unsigned i = 0; i < MMIO_MAX_REGIONS; i++)
		CHECK_EQ(mmio_register(&bus, 0x100000000ull + 0x1000ull * i, 0x1000, dev_io, &a), 0);
	CHECK_EQ(mmio_register(&bus, 0x10, 0x10, dev_io, &a), -1);
	CHECK_EQ(mmio_unregister(&bus, 0x100000000ull), 0);
	CHECK_EQ(mmio_register(&bus, 0x10, 0x10, dev_io, &a), 0);
	mmio_bus_destroy(&bus);
}

static void dispatch_and_unclaimed(void)
{
	struct mmio_bus bus;
	mmio_bus_init(&bus);
	struct dev a = {.reply = 0x11}, b = {.reply = 0x22};
	CHECK_EQ(mmio_register(&bus, 0xd0000000, 0x1000, dev_io, &a), 0);
	CHECK_EQ(mmio_register(&bus, 0x200000000ull, 0x4000, dev_io, &b), 0);
	uint8_t d[8] = {0};
	CHECK(mmio_dispatch(&bus, 0xd0000ffc, d, 4, false));
	CHECK_EQ(a.calls, 1);
	CHECK_EQ(a.off, 0xffc);
	CHECK_EQ(a.len, 4);
	CHECK_EQ(d[3], 0x11);
	uint8_t w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	CHECK(mmio_dispatch(&bus, 0x200003ff8ull, w, 8, true));
	CHECK_EQ(b.calls, 1);
	CHECK_EQ(b.off, 0x3ff8);
	CHECK(b.write);
	CHECK_MEM_EQ(b.last, w, 8);
	/* unclaimed */
	uint8_t u[9];
	memset(u, 0x5a, sizeof(u));
	CHECK(!mmio_dispatch(&bus, 0xd0001000, u, 2, false));
	CHECK_EQ(u[0], 0xff);
	CHECK_EQ(u[1], 0xff);
	CHECK_EQ(u[2], 0x5a);
	memset(u, 0x5a, sizeof(u));
	CHECK(!mmio_dispatch(&bus, 0xcfffffff, u, 200, false)); /* clamped to 8 */
	CHECK_EQ(u[7], 0xff);
	CHECK_EQ(u[8], 0x5a);
	CHECK(!mmio_dispatch(&bus, 0, u, 4, true));
	CHECK_EQ(u[0], 0xff); /* buffer untouched by a dropped write */
	CHECK_EQ(a.calls + b.calls, 2);
	mmio_bus_destroy(&bus);
}

static void unregister_and_move(void)
{
	struct mmio_bus bus;
	mmio_bus_init(&bus);
	struct dev a = {.reply = 0x11}, b = {.reply = 0x22};
	CHECK_EQ(mmio_register(&bus, 0xd0000000, 0x1000, dev_io, &a), 0);
	CHECK_EQ(mmio_register(&bus, 0xd0002000, 0x1000, dev_io, &b), 0);
	CHECK_EQ(mmio_move(&bus, 0xd0000000, 0xd0002800), -1); /* onto b */
	CHECK_EQ(mmio_move(&bus, 0xd0000001, 0xe0000000), -1); /* no range starts there */
	CHECK_EQ(mmio_move(&bus, 0xd0000000, UINT64_MAX - 0x10), -1); /* would wrap */
	CHECK_EQ(mmio_move(&bus, 0xd0000000, 0xd0000800), 0);  /* overlapping itself is fine */
	uint8_t d[4];
	CHECK(!mmio_dispatch(&bus, 0xd0000000, d, 4, false));
	CHECK(mmio_dispatch(&bus, 0xd0001000, d, 4, false));
	CHECK_EQ(a.off, 0x800);
	CHECK_EQ(mmio_move(&bus, 0xd0000800, 0x300000000ull), 0);
	CHECK(mmio_dispatch(&bus, 0x300000010ull, d, 1, false));
	CHECK_EQ(a.off, 0x10);
	CHECK_EQ(a.calls, 2);
	CHECK_EQ(mmio_unregister(&bus, 0x300000000ull), 0);
	CHECK_EQ(mmio_unregister(&bus, 0x300000000ull), -1);
	CHECK(!mmio_dispatch(&bus, 0x300000010ull, d, 1, false));
	CHECK(mmio_dispatch(&bus, 0xd0002000, d, 1, false));
	CHECK_EQ(b.calls, 1);
	CHECK_EQ(bus.n, 1);
	mmio_bus_destroy(&bus);
}

/* A handler that moves its own range (what a BAR write through ECAM does). */
struct self_mover {
	struct mmio_bus *bus;
	uint64_t base;
	unsigned calls;
};

static void self_move_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool write)
{
	(void)off;
	(void)data;
	(void)len;
	(void)write;
	struct self_mover *s = opaque;
	s->calls++;
	if (mmio_move(s->bus, s->base, s->base + 0x10000) == 0)
		s->base += 0x10000;
}

static void handler_may_change_bus(void)
{
	struct mmio_bus bus;
	mmio_bus_init(&bus);
	struct self_mover s = {&bus, 0xe0000000, 0};
	CHECK_EQ(mmio_register(&bus, s.base, 0x1000, self_move_io, &s), 0);
	uint8_t d[4] = {0};
	CHECK(mmio_dispatch(&bus, 0xe0000000, d, 4, true));
	CHECK_EQ(s.base, 0xe0010000);
	CHECK(!mmio_dispatch(&bus, 0xe0000000, d, 4, true));
	CHECK(mmio_dispatch(&bus, 0xe0010000, d, 4, true));
	CHECK_EQ(s.calls, 2);
	mmio_bus_destroy(&bus);
}

struct race {
	struct mmio_bus *bus;
	atomic_bool stop, torn;
	atomic_uint hits;
};

static void count_io(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool write)
{
	(void)off;
	(void)write;
	struct race *r = opaque;
	atomic_fetch_add(&r->hits, 1);
	memset(data, 0x42, len);
}

static void *dispatcher(void *arg)
{
	struct race *r = arg;
	while (!atomic_load(&r->stop)) {
		uint8_t d[8];
		mmio_dispatch(r->bus, 0xd0000000, d, 8, false);
		mmio_dispatch(r->bus, 0xd0100000, d, 8, false);
		/* Either claimed (0x42) or unclaimed (0xff), never torn. */
		if (d[0] != 0x42 && d[0] != 0xff)
			atomic_store(&r->torn, true);
	}
	return NULL;
}

static void concurrent_dispatch_and_move(void)
{
	struct mmio_bus bus;
	mmio_bus_init(&bus);
	struct race r = {.bus = &bus};
	CHECK_EQ(mmio_register(&bus, 0xd0000000, 0x1000, count_io, &r), 0);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, dispatcher, &r), 0);
	/* Keep moving until the dispatchers got plenty of hits in (threads may
	 * start late on a loaded machine), at most about 10 s. */
	uint64_t at = 0xd0000000;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned i = 0;; i++) {
		uint64_t to = at == 0xd0000000 ? 0xd0100000 : 0xd0000000;
		if (mmio_move(&bus, at, to) == 0)
			at = to;
		if (i < 20000 || (i & 1023))
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (atomic_load(&r.hits) >= 10000 || now.tv_sec - start.tv_sec > 10)
			break;
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(!atomic_load(&r.torn));
	CHECK(atomic_load(&r.hits) > 0);
	CHECK_EQ(bus.n, 1);
	mmio_bus_destroy(&bus);
}

int main(void)
{
	RUN(register_refusals);
	RUN(full_table);
	RUN(dispatch_and_unclaimed);
	RUN(unregister_and_move);
	RUN(handler_may_change_bus);
	RUN(concurrent_dispatch_and_move);
	return check_summary();
}
