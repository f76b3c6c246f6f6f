/* layout.c: describe guest RAM and the x86 reserved ranges as e820. */
#include "vmm/arch/x86/layout.h"

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

void pci_default_windows(const struct mem_layout *l, struct pci_windows *w)
{
	w->mem32_base = PCI_MEM32_BASE;
	w->mem32_end = PCI_MEM32_END;
	w->mem64_base = ALIGN_UP(LAYOUT_MMIO_HOLE_END + l->high_size, PCI_MEM64_ALIGN);
	w->mem64_end = w->mem64_base + PCI_MEM64_SIZE;
}
