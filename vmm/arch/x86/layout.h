/* layout.h: the x86 guest physical address map: boot structures, the
 * devices in the MMIO hole (RAM and the hole itself: vmm/core/mem_layout.h),
 * and the e820 table that describes it to the guest. */
#ifndef EMBER_LAYOUT_H
#define EMBER_LAYOUT_H

#include <stdint.h>
#include "vmm/core/mem_layout.h"
#include "vmm/pci/pci.h"
#include "vmm/lib/util.h"

/* Fixed boot structures in the first megabyte. */
#define LAYOUT_GDT 0x500          /* boot GDT */
#define LAYOUT_PVH_INFO 0x6000    /* struct hvm_start_info + module list */
#define LAYOUT_PVH_MEMMAP 0x6100  /* PVH memory map entries */
#define LAYOUT_ZERO_PAGE 0x7000   /* struct boot_params */
#define LAYOUT_BOOT_STACK 0x8ff0  /* initial stack for the 64-bit entry */
#define LAYOUT_PML4 0x9000        /* identity page tables: PML4, PDPT, 4 PDs */
#define LAYOUT_PDPT 0xa000
#define LAYOUT_PD 0xb000
#define LAYOUT_CMDLINE 0x20000    /* kernel command line */
#define LAYOUT_CMDLINE_MAX 0x10000
#define LAYOUT_EBDA 0x9fc00       /* end of conventional memory */
#define LAYOUT_ACPI 0xe0000       /* RSDP and ACPI tables (BIOS area) */
#define LAYOUT_ACPI_END 0x100000
#define LAYOUT_VMGENID 0xff000    /* VM generation ID (16 bytes): the reserved area's
				   * last page, which the ACPI tables stop short of */
#define LAYOUT_HIMEM 0x100000     /* 1 MiB: where kernels go */

#define LAYOUT_IOAPIC 0xfec00000ull
#define LAYOUT_LAPIC 0xfee00000ull
#define LAYOUT_TSS 0xfffbd000ull  /* KVM_SET_TSS_ADDR, 3 pages, inside the hole */
#define LAYOUT_IDENTITY_MAP 0xfffbc000ull

/* e820 types (same values as the e820 table and the PVH memory map). */
#define E820_TYPE_RAM 1
#define E820_TYPE_RESERVED 2

struct e820_range {
	uint64_t addr, size;
	uint32_t type;
};

/* Fill at most max entries; returns the number used. */
unsigned layout_e820(const struct mem_layout *l, struct e820_range *out, unsigned max);

/* PCI windows: 32-bit BARs in the MMIO hole below the IOAPIC, 64-bit ones in
 * 64 GiB from the first 1 GiB boundary above high RAM (see vmm/pci/pci.h). */
#define PCI_MEM32_BASE LAYOUT_MMIO_HOLE /* 0xc0000000 */
#define PCI_MEM32_END LAYOUT_IOAPIC     /* 0xfec00000 */
#define PCI_MEM64_ALIGN GiB(1)
#define PCI_MEM64_SIZE GiB(64)

/* The windows for a guest with this memory layout. */
void pci_default_windows(const struct mem_layout *l, struct pci_windows *w);

#endif
