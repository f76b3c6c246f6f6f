/* mem_layout.h: where guest RAM is: below the MMIO hole (3 GiB to 4 GiB,
 * where PCI BARs and the interrupt controllers live) and above 4 GiB. Guest
 * memory, KVM's memory slots, VFIO's DMA map and the PCI windows follow it. */
#ifndef EMBER_MEM_LAYOUT_H
#define EMBER_MEM_LAYOUT_H

#include <stdint.h>
#include "vmm/lib/util.h"

/* Everything from 3 GiB to 4 GiB is the MMIO hole (PCI BARs, IOAPIC, LAPIC). */
#define LAYOUT_MMIO_HOLE 0xc0000000ull
#define LAYOUT_MMIO_HOLE_END 0x100000000ull
#define LAYOUT_MIN_MEM MiB(32)

/* RAM as two ranges: below the hole and above 4 GiB. */
struct mem_layout {
	uint64_t ram_size;  /* total bytes of guest RAM */
	uint64_t low_size;  /* RAM at [0, low_size) */
	uint64_t high_size; /* RAM at [4 GiB, 4 GiB + high_size) */
};

void layout_init(struct mem_layout *l, uint64_t ram_size);

#endif
