/* layout.h: the guest physical address map (boot structures, RAM, MMIO hole)
 * and the e820 table that describes it to the guest. */
#ifndef EMBER_LAYOUT_H
#define EMBER_LAYOUT_H

#include <stdint.h>
#include "util.h"

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
#define LAYOUT_HIMEM 0x100000     /* 1 MiB: where kernels go */

/* Everything from 3 GiB to 4 GiB is the MMIO hole (PCI BARs, IOAPIC, LAPIC). */
#define LAYOUT_MMIO_HOLE 0xc0000000ull
#define LAYOUT_MMIO_HOLE_END 0x100000000ull
#define LAYOUT_IOAPIC 0xfec00000ull
#define LAYOUT_LAPIC 0xfee00000ull
#define LAYOUT_TSS 0xfffbd000ull  /* KVM_SET_TSS_ADDR, 3 pages, inside the hole */
#define LAYOUT_IDENTITY_MAP 0xfffbc000ull

#define LAYOUT_MIN_MEM MiB(32)

/* RAM as two ranges: below the hole and above 4 GiB. */
struct mem_layout {
	uint64_t ram_size;  /* total bytes of guest RAM */
	uint64_t low_size;  /* RAM at [0, low_size) */
	uint64_t high_size; /* RAM at [4 GiB, 4 GiB + high_size) */
};

void layout_init(struct mem_layout *l, uint64_t ram_size);

/* e820 types (same values as the e820 table and the PVH memory map). */
#define E820_TYPE_RAM 1
#define E820_TYPE_RESERVED 2

struct e820_range {
	uint64_t addr, size;
	uint32_t type;
};

/* Fill at most max entries; returns the number used. */
unsigned layout_e820(const struct mem_layout *l, struct e820_range *out, unsigned max);

#endif
