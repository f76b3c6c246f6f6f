/* test_vfio_pci.c: which parts of a passed-through device's BAR become KVM
 * memory slots (vfio_bar_pieces): all of it when the MSI-X table and PBA live
 * elsewhere; otherwise everything but the pages holding them, whether they
 * sit at the start, in the middle, at the end, share a page or straddle a
 * page boundary. */
#include <stdint.h>

#include "tests/unit/check.h"
#include "vmm/pci/vfio_pci.h"

#define PAGE 4096u

static struct vfio_bar_map m;

static void expect(unsigned n, uint64_t o0, uint64_t l0, uint64_t o1, uint64_t l1, uint64_t o2,
		   uint64_t l2)
{
	uint64_t want[3][2] = {{o0, l0}, {o1, l1}, {o2, l2}};
	CHECK_EQ(m.npieces, n);
	for (unsigned k = 0; k < n && k < m.npieces; k++) {
		CHECK_EQ(m.piece[k].off, want[k][0]);
		CHECK_EQ(m.piece[k].len, want[k][1]);
	}
}

static void table_elsewhere(void)
{
	struct vfio_msix_place t = {.nvec = 4, .tbar = 2, .toff = 0, .pbar = 2, .poff = 0x800};
	vfio_bar_pieces(&m, 0, 0x4000, PAGE, &t);
	expect(1, 0, 0x4000, 0, 0, 0, 0);
}

static void table_and_pba_in_the_middle(void)
{
	/* A QEMU NVMe BAR0 shape: registers and doorbells, then table, then PBA. */
	struct vfio_msix_place t = {.nvec = 2, .tbar = 0, .toff = 0x2000, .pbar = 0, .poff = 0x3000};
	vfio_bar_pieces(&m, 0, 0x8000, PAGE, &t);
	expect(2, 0, 0x2000, 0x4000, 0x4000, 0, 0);
	/* Apart, with a page between: three pieces. */
	t.poff = 0x5000;
	vfio_bar_pieces(&m, 0, 0x8000, PAGE, &t);
	expect(3, 0, 0x2000, 0x3000, 0x2000, 0x6000, 0x2000);
}

static void same_page_and_edges(void)
{
	struct vfio_msix_place t = {.nvec = 8, .tbar = 1, .toff = 0, .pbar = 1, .poff = 0x800};
	vfio_bar_pieces(&m, 1, 0x4000, PAGE, &t);
	expect(1, 0x1000, 0x3000, 0, 0, 0, 0);
	t.toff = 0x3000;
	t.poff = 0x3800;
	vfio_bar_pieces(&m, 1, 0x4000, PAGE, &t);
	expect(1, 0, 0x3000, 0, 0, 0, 0);
	/* The whole BAR is table: nothing mapped. */
	t.nvec = 256;
	t.toff = 0;
	t.poff = 0x1000 - 0x20 + 0x1000; /* 0x1fe0: the PBA's 32 bytes end at 0x2000 */
	vfio_bar_pieces(&m, 1, 0x2000, PAGE, &t);
	expect(0, 0, 0, 0, 0, 0, 0);
}

static void straddling_a_page(void)
{
	/* 128 vectors from 0xf00: 2 KiB of table over two pages. */
	struct vfio_msix_place t = {.nvec = 128, .tbar = 0, .toff = 0xf00, .pbar = 4, .poff = 0};
	vfio_bar_pieces(&m, 0, 0x10000, PAGE, &t);
	expect(1, 0x2000, 0xe000, 0, 0, 0, 0);
	/* The PBA's BAR, mapped except its first page. */
	vfio_bar_pieces(&m, 4, 0x10000, PAGE, &t);
	expect(1, 0x1000, 0xf000, 0, 0, 0, 0);
}

int main(void)
{
	RUN(table_elsewhere);
	RUN(table_and_pba_in_the_middle);
	RUN(same_page_and_edges);
	RUN(straddling_a_page);
	return check_summary();
}
