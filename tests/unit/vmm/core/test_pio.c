/* test_pio.c: the I/O-port bus (pio.c): registration refuses overlapping
 * ranges, empty or wrapping ranges and a full table; dispatch reaches the
 * handler owning the port with its opaque pointer, port, size and direction;
 * unclaimed reads return all-ones bytes and unclaimed writes are dropped. */
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/core/pio.h"

struct dev {
	unsigned calls;
	uint16_t port;
	unsigned size;
	bool write;
	uint8_t last[4];
	uint8_t reply;
};

static void dev_io(void *opaque, uint16_t port, uint8_t *data, unsigned size, bool write)
{
	struct dev *d = opaque;
	d->calls++;
	d->port = port;
	d->size = size;
	d->write = write;
	if (write)
		memcpy(d->last, data, size > 4 ? 4 : size);
	else
		memset(data, d->reply, size);
}

static void overlap_refused(void)
{
	struct pio_bus bus = {0};
	struct dev a = {0};
	CHECK_EQ(pio_register(&bus, 0x3f8, 8, dev_io, &a), 0);
	CHECK_EQ(pio_register(&bus, 0x3f8, 8, dev_io, &a), -1);  /* same */
	CHECK_EQ(pio_register(&bus, 0x3f0, 9, dev_io, &a), -1);  /* last port overlaps */
	CHECK_EQ(pio_register(&bus, 0x3ff, 1, dev_io, &a), -1);  /* first port overlaps */
	CHECK_EQ(pio_register(&bus, 0x3fa, 1, dev_io, &a), -1);  /* inside */
	CHECK_EQ(pio_register(&bus, 0x300, 0x200, dev_io, &a), -1); /* covers */
	CHECK_EQ(pio_register(&bus, 0x3f0, 8, dev_io, &a), 0);   /* adjacent below */
	CHECK_EQ(pio_register(&bus, 0x400, 1, dev_io, &a), 0);   /* adjacent above */
	CHECK_EQ(bus.n, 3);
}

static void bad_ranges_refused(void)
{
	struct pio_bus bus = {0};
	struct dev a = {0};
	CHECK_EQ(pio_register(&bus, 0x80, 0, dev_io, &a), -1);
	CHECK_EQ(pio_register(&bus, 0xfff0, 0x20, dev_io, &a), -1); /* past 0xffff */
	CHECK_EQ(pio_register(&bus, 0xffff, 1, dev_io, &a), 0);
	CHECK_EQ(pio_register(&bus, 0, 1, dev_io, &a), 0);
	CHECK_EQ(bus.n, 2);
}

static void full_table_refused(void)
{
	struct pio_bus bus = {0};
	struct dev a = {0};
	for (unsigned i = 0; i < PIO_MAX_HANDLERS; i++)
		CHECK_EQ(pio_register(&bus, (uint16_t)(0x100 + 4 * i), 4, dev_io, &a), 0);
	CHECK_EQ(bus.n, PIO_MAX_HANDLERS);
	CHECK_EQ(pio_register(&bus, 0x8000, 4, dev_io, &a), -1);
	CHECK_EQ(bus.n, PIO_MAX_HANDLERS);
}

static void dispatch_to_owner(void)
{
	struct pio_bus bus = {0};
	struct dev a = {.reply = 0x11}, b = {.reply = 0x22};
	CHECK_EQ(pio_register(&bus, 0x3f8, 8, dev_io, &a), 0);
	CHECK_EQ(pio_register(&bus, 0x600, 3, dev_io, &b), 0);
	uint8_t data[4] = {0};
	pio_dispatch(&bus, 0x3f8, data, 1, false);
	CHECK_EQ(a.calls, 1);
	CHECK_EQ(a.port, 0x3f8);
	CHECK_EQ(data[0], 0x11);
	pio_dispatch(&bus, 0x3ff, data, 1, false);
	CHECK_EQ(a.calls, 2);
	CHECK_EQ(a.port, 0x3ff);
	data[0] = 0x5a;
	data[1] = 0xa5;
	pio_dispatch(&bus, 0x601, data, 2, true);
	CHECK_EQ(b.calls, 1);
	CHECK_EQ(b.port, 0x601);
	CHECK_EQ(b.size, 2);
	CHECK(b.write);
	CHECK_EQ(b.last[0], 0x5a);
	CHECK_EQ(b.last[1], 0xa5);
	memset(data, 0, sizeof(data));
	pio_dispatch(&bus, 0x602, data, 4, false);
	CHECK_EQ(b.calls, 2);
	CHECK_EQ(b.size, 4);
	CHECK(!b.write);
	CHECK_EQ(data[3], 0x22);
	CHECK_EQ(a.calls, 2);
}

static void unclaimed_reads_all_ones(void)
{
	struct pio_bus bus = {0};
	struct dev a = {0};
	CHECK_EQ(pio_register(&bus, 0x3f8, 8, dev_io, &a), 0);
	for (unsigned size = 1; size <= 4; size *= 2) {
		uint8_t data[5] = {0, 0, 0, 0, 0x77};
		pio_dispatch(&bus, 0x3f7, data, size, false);
		for (unsigned i = 0; i < size; i++)
			CHECK_EQ(data[i], 0xff);
		for (unsigned i = size; i < 4; i++)
			CHECK_EQ(data[i], 0); /* only size bytes touched */
		CHECK_EQ(data[4], 0x77);
	}
	uint8_t d = 0;
	pio_dispatch(&bus, 0x400, &d, 1, false);
	CHECK_EQ(d, 0xff);
	CHECK_EQ(a.calls, 0);
}

static void unclaimed_writes_dropped(void)
{
	struct pio_bus bus = {0};
	struct dev a = {0};
	CHECK_EQ(pio_register(&bus, 0x3f8, 8, dev_io, &a), 0);
	uint8_t data[4] = {1, 2, 3, 4};
	pio_dispatch(&bus, 0x80, data, 4, true);
	CHECK_EQ(a.calls, 0);
	CHECK_EQ(data[0], 1); /* the buffer is left alone */
	CHECK_EQ(data[3], 4);
	struct pio_bus empty = {0};
	pio_dispatch(&empty, 0x3f8, data, 1, true);
	pio_dispatch(&empty, 0x3f8, data, 1, false);
	CHECK_EQ(data[0], 0xff);
}

int main(void)
{
	RUN(overlap_refused);
	RUN(bad_ranges_refused);
	RUN(full_table_refused);
	RUN(dispatch_to_owner);
	RUN(unclaimed_reads_all_ones);
	RUN(unclaimed_writes_dropped);
	return check_summary();
}
