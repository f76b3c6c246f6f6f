/* boot_info.h: what the kernel finds in memory at entry: command line, initrd,
 * memory map, and either boot_params (zero page) or the PVH start_info. */
#ifndef EMBER_BOOT_INFO_H
#define EMBER_BOOT_INFO_H

#include <stddef.h>
#include <stdint.h>
#include "vmm/core/guest_mem.h"
#include "vmm/arch/x86/kernel_image.h"

struct boot_request {
	const char *cmdline;
	const struct reader *initrd; /* NULL or an empty one: none */
	uint64_t initrd_addr, initrd_len; /* len not 0: an initrd already in guest RAM, not read */
	uint64_t rsdp;               /* ACPI RSDP address, 0: none */
};

/* Place cmdline and initrd (read from its reader straight into guest RAM,
 * unless it is there already), write the boot structures. The kernel must
 * be loaded. */
int boot_info_write(const struct kernel_image *k, const struct guest_mem *gm,
		    const struct boot_request *req, struct errbuf *err);

/* The end of the RAM an initrd may use: the top of low memory, or the
 * kernel's initrd_addr_max when that is lower. */
uint64_t boot_initrd_top(const struct kernel_image *k, const struct mem_layout *l);

/* Where an initrd of len bytes goes: highest page below the limits, above the kernel.
 * Returns 0 when it does not fit. */
uint64_t boot_initrd_addr(const struct kernel_image *k, const struct mem_layout *l, uint64_t len);

/* Read all of r into guest RAM where boot_initrd_addr puts r->size bytes.
 * Returns 0 with *at set; 1 when it does not fit (or r is empty: *at is
 * left as it is); or reader_read's -errno, with *at set (part of r may be
 * there). */
int boot_initrd_read(const struct kernel_image *k, const struct guest_mem *gm,
		     const struct reader *r, uint64_t *at);

#endif
