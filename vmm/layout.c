/* layout.c: split guest RAM around the MMIO hole and describe it as e820. */
#include "layout.h"

void layout_init(struct mem_layout *l, uint64_t ram_size)
{
	l->ram_size = ram_size;
	l->low_size = ram_size < LAYOUT_MMIO_HOLE ? ram_size : LAYOUT_MMIO_HOLE;
	l->high_size = ram_size - l->low_size;
}

unsigned layout_e820(const struct mem_layout *l, struct e820_range *out, unsigned max)
{
	struct e820_range r[] = {
		{0, LAYOUT_EBDA, E820_TYPE_RAM},
		{LAYOUT_EBDA, 0xa0000 - LAYOUT_EBDA, E820_TYPE_RESERVED},
		{LAYOUT_ACPI, LAYOUT_ACPI_END - LAYOUT_ACPI, E820_TYPE_RESERVED},
		{LAYOUT_HIMEM, l->low_size - LAYOUT_HIMEM, E820_TYPE_RAM},
		{LAYOUT_MMIO_HOLE_END, l->high_size, E820_TYPE_RAM},
	};
	unsigned n = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(r) && n < max; i++)
		if (r[i].size)
			out[n++] = r[i];
	return n;
}
