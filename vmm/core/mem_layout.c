/* mem_layout.c: split guest RAM around the MMIO hole. */
#include "vmm/core/mem_layout.h"

void layout_init(struct mem_layout *l, uint64_t ram_size)
{
	l->ram_size = ram_size;
	l->low_size = ram_size < LAYOUT_MMIO_HOLE ? ram_size : LAYOUT_MMIO_HOLE;
	l->high_size = ram_size - l->low_size;
}
