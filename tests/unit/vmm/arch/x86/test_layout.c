/* test_layout.c: the guest physical memory map (layout.c) and bound-checked
 * guest memory access (guest_mem.c): the low/high RAM split around the MMIO
 * hole for 256 MiB, 3 GiB, 4 GiB and 8 GiB, the e820 table (sorted,
 * non-overlapping, no empty entries, EBDA and BIOS area reserved), and gm_ptr /
 * gm_read / gm_write at every edge. Low RAM is a small gm_wrap'd buffer; for
 * high RAM only pointer values are compared, never dereferenced. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/core/guest_mem.h"
#include "vmm/arch/x86/layout.h"

static void check_e820(uint64_t ram)
{
	struct mem_layout l;
	layout_init(&l, ram);
	CHECK_EQ(l.ram_size, ram);
	CHECK_EQ(l.low_size + l.high_size, ram);
	CHECK(l.low_size <= LAYOUT_MMIO_HOLE);

	struct e820_range r[16];
	unsigned n = layout_e820(&l, r, ARRAY_SIZE(r));
	CHECK(n >= 4);
	uint64_t ram_total = 0;
	int ebda = 0, bios = 0;
	for (unsigned i = 0; i < n; i++) {
		CHECK(r[i].size != 0);
		CHECK(r[i].type == E820_TYPE_RAM || r[i].type == E820_TYPE_RESERVED);
		CHECK(r[i].addr + r[i].size > r[i].addr);
		if (i)
			CHECK(r[i - 1].addr + r[i - 1].size <= r[i].addr); /* sorted, disjoint */
		if (r[i].type == E820_TYPE_RAM) {
			ram_total += r[i].size;
			/* RAM never reaches into the MMIO hole */
			CHECK(r[i].addr + r[i].size <= LAYOUT_MMIO_HOLE ||
			      r[i].addr >= LAYOUT_MMIO_HOLE_END);
			/* and never covers the fixed boot structures' reserved areas */
			CHECK(r[i].addr >= LAYOUT_ACPI_END || r[i].addr + r[i].size <= LAYOUT_EBDA);
		} else {
			if (r[i].addr <= LAYOUT_EBDA && r[i].addr + r[i].size >= 0xa0000)
				ebda = 1;
			if (r[i].addr <= LAYOUT_ACPI && r[i].addr + r[i].size >= LAYOUT_ACPI_END)
				bios = 1;
		}
	}
	CHECK(ebda);
	CHECK(bios);
	/* RAM entries: [0, EBDA), [1 MiB, low end), [4 GiB, 4 GiB + high) */
	CHECK_EQ(r[0].addr, 0);
	CHECK_EQ(r[0].type, E820_TYPE_RAM);
	CHECK_EQ(r[0].size, LAYOUT_EBDA);
	CHECK_EQ(ram_total, LAYOUT_EBDA + (l.low_size - LAYOUT_HIMEM) + l.high_size);
	unsigned want = l.high_size ? 5 : 4;
	CHECK_EQ(n, want);
	CHECK_EQ(r[3].addr, LAYOUT_HIMEM);
	CHECK_EQ(r[3].addr + r[3].size, l.low_size);
	if (l.high_size) {
		CHECK_EQ(r[4].addr, LAYOUT_MMIO_HOLE_END);
		CHECK_EQ(r[4].size, l.high_size);
		CHECK_EQ(r[4].type, E820_TYPE_RAM);
	}
	/* a short output array is filled, never overrun */
	struct e820_range two[3];
	memset(two, 0xee, sizeof(two));
	CHECK_EQ(layout_e820(&l, two, 2), 2);
	CHECK_EQ(two[2].addr, 0xeeeeeeeeeeeeeeeeull);
	CHECK_EQ(layout_e820(&l, two, 0), 0);
}

static void layout_256m(void)
{
	struct mem_layout l;
	layout_init(&l, MiB(256));
	CHECK_EQ(l.low_size, MiB(256));
	CHECK_EQ(l.high_size, 0);
	check_e820(MiB(256));
}

static void layout_32m_minimum(void)
{
	check_e820(LAYOUT_MIN_MEM);
}

static void layout_3g_exactly(void)
{
	struct mem_layout l;
	layout_init(&l, GiB(3));
	CHECK_EQ(l.low_size, GiB(3));
	CHECK_EQ(l.high_size, 0); /* no empty high entry */
	check_e820(GiB(3));
}

static void layout_4g(void)
{
	struct mem_layout l;
	layout_init(&l, GiB(4));
	CHECK_EQ(l.low_size, GiB(3));
	CHECK_EQ(l.high_size, GiB(1));
	check_e820(GiB(4));
}

static void layout_8g(void)
{
	struct mem_layout l;
	layout_init(&l, GiB(8));
	CHECK_EQ(l.low_size, GiB(3));
	CHECK_EQ(l.high_size, GiB(5));
	check_e820(GiB(8));
}

/* ---- gm_ptr ------------------------------------------------------------- */

#define SMALL MiB(2)
static uint8_t small_ram[SMALL];

static void gm_low_bounds(void)
{
	uint8_t *buf = small_ram;
	memset(buf, 0, SMALL);
	struct guest_mem gm;
	gm_wrap(&gm, buf, SMALL);
	uint8_t *first = gm_ptr(&gm, 0, 1), *last = gm_ptr(&gm, SMALL - 1, 1);
	uint8_t *whole = gm_ptr(&gm, 0, SMALL);
	void *past = gm_ptr(&gm, SMALL, 1), *over = gm_ptr(&gm, SMALL - 1, 2);
	void *straddle = gm_ptr(&gm, SMALL - 16, 32);
	void *too_big = gm_ptr(&gm, 0, SMALL + 1);
	CHECK(first == buf);
	CHECK(last == buf + SMALL - 1);
	CHECK(whole == buf);
	CHECK(past == NULL);
	CHECK(over == NULL);
	CHECK(straddle == NULL);
	CHECK(too_big == NULL);
}

static void gm_len_zero(void)
{
	uint8_t *buf = small_ram;
	memset(buf, 0, SMALL);
	struct guest_mem gm;
	gm_wrap(&gm, buf, SMALL);
	void *in = gm_ptr(&gm, 100, 0), *end = gm_ptr(&gm, SMALL - 1, 0);
	void *out = gm_ptr(&gm, SMALL, 0), *hole = gm_ptr(&gm, LAYOUT_MMIO_HOLE, 0);
	CHECK(in == buf + 100);
	CHECK(end == buf + SMALL - 1);
	CHECK(out == NULL); /* an empty range still has to start inside RAM */
	CHECK(hole == NULL);
}

static void gm_huge_and_wrapping(void)
{
	uint8_t *buf = small_ram;
	memset(buf, 0, SMALL);
	struct guest_mem gm;
	gm_wrap(&gm, buf, SMALL);
	void *a = gm_ptr(&gm, 0, UINT64_MAX);
	void *b = gm_ptr(&gm, 16, UINT64_MAX - 8); /* gpa + len wraps to 8 */
	void *c = gm_ptr(&gm, UINT64_MAX, 1);
	void *d = gm_ptr(&gm, UINT64_MAX - 4, 16);
	void *e = gm_ptr(&gm, SMALL - 1, UINT64_MAX);
	CHECK(a == NULL);
	CHECK(b == NULL);
	CHECK(c == NULL);
	CHECK(d == NULL);
	CHECK(e == NULL);
}

static void gm_hole_and_high(void)
{
	/* 8 GiB claimed, backed by nothing: pointers are only compared. */
	static uint8_t dummy[16];
	struct guest_mem gm;
	gm_wrap(&gm, dummy, GiB(8));
	uint8_t *base = gm.base;
	CHECK(gm_ptr(&gm, GiB(3) - 4096, 4096) == base + GiB(3) - 4096);
	CHECK(gm_ptr(&gm, GiB(3) - 4096, 4097) == NULL); /* straddles the end of low RAM */
	CHECK(gm_ptr(&gm, LAYOUT_MMIO_HOLE, 1) == NULL);
	CHECK(gm_ptr(&gm, LAYOUT_IOAPIC, 4) == NULL);
	CHECK(gm_ptr(&gm, LAYOUT_MMIO_HOLE_END - 1, 2) == NULL); /* hole into high RAM */
	CHECK(gm_ptr(&gm, LAYOUT_MMIO_HOLE_END, 1) == base + GiB(3));
	CHECK(gm_ptr(&gm, LAYOUT_MMIO_HOLE_END + 0x1234, 8) == base + GiB(3) + 0x1234);
	uint64_t high_end = LAYOUT_MMIO_HOLE_END + GiB(5);
	CHECK(gm_ptr(&gm, high_end - 1, 1) == base + GiB(8) - 1);
	CHECK(gm_ptr(&gm, high_end - 8, 8) == base + GiB(8) - 8);
	CHECK(gm_ptr(&gm, high_end - 8, 9) == NULL);
	CHECK(gm_ptr(&gm, high_end, 1) == NULL);
	CHECK(gm_ptr(&gm, high_end, 0) == NULL);
	CHECK(gm_ptr(&gm, LAYOUT_MMIO_HOLE_END, GiB(5)) == base + GiB(3));
	CHECK(gm_ptr(&gm, LAYOUT_MMIO_HOLE_END, GiB(5) + 1) == NULL);
	CHECK(gm_ptr(&gm, LAYOUT_MMIO_HOLE_END + 16, UINT64_MAX - 8) == NULL);
	/* 4 GiB: low RAM ends at the hole; the only high GiB maps right after it */
	gm_wrap(&gm, dummy, GiB(4));
	CHECK(gm_ptr(&gm, LAYOUT_MMIO_HOLE_END + GiB(1) - 1, 1) == base + GiB(4) - 1);
	CHECK(gm_ptr(&gm, LAYOUT_MMIO_HOLE_END + GiB(1), 1) == NULL);
	/* 3 GiB: nothing above the hole */
	gm_wrap(&gm, dummy, GiB(3));
	CHECK(gm_ptr(&gm, LAYOUT_MMIO_HOLE_END, 1) == NULL);
	CHECK(gm_ptr(&gm, GiB(3) - 1, 1) == base + GiB(3) - 1);
}

static void gm_read_write(void)
{
	uint8_t *buf = small_ram;
	memset(buf, 0, SMALL);
	struct guest_mem gm;
	gm_wrap(&gm, buf, SMALL);
	uint32_t v = 0xdeadbeef, got = 0;
	bool w1 = gm_write(&gm, 0x1000, &v, sizeof(v));
	bool r1 = gm_read(&gm, 0x1000, &got, sizeof(got));
	bool w2 = gm_write(&gm, SMALL - 2, &v, sizeof(v));
	uint8_t tail0 = buf[SMALL - 2];
	bool r2 = gm_read(&gm, SMALL - 2, &got, sizeof(got));
	bool w3 = gm_write(&gm, SMALL - 4, &v, sizeof(v));
	uint32_t at_end;
	memcpy(&at_end, buf + SMALL - 4, 4);
	CHECK(w1);
	CHECK(r1);
	CHECK_EQ(got, 0xdeadbeef);
	CHECK(!w2);
	CHECK_EQ(tail0, 0); /* a refused write writes nothing */
	CHECK(!r2);
	CHECK(w3);
	CHECK_EQ(at_end, 0xdeadbeef);
}

static void gm_map_unmap(void)
{
	struct guest_mem gm;
	CHECK_EQ(gm_map(&gm, MiB(64)), 0);
	CHECK(gm.base != NULL);
	CHECK_EQ(gm.layout.low_size, MiB(64));
	uint8_t *p = gm_ptr(&gm, MiB(64) - 1, 1);
	CHECK(p != NULL);
	*p = 0x42;
	uint8_t b = 0;
	CHECK(gm_read(&gm, MiB(64) - 1, &b, 1));
	CHECK_EQ(b, 0x42);
	gm_unmap(&gm);
	CHECK(gm.base == NULL);
}

int main(void)
{
	RUN(layout_256m);
	RUN(layout_32m_minimum);
	RUN(layout_3g_exactly);
	RUN(layout_4g);
	RUN(layout_8g);
	RUN(gm_low_bounds);
	RUN(gm_len_zero);
	RUN(gm_huge_and_wrapping);
	RUN(gm_hole_and_high);
	RUN(gm_read_write);
	RUN(gm_map_unmap);
	return check_summary();
}
