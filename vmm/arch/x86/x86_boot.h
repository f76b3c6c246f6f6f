/* x86_boot.h: the CPU state a kernel expects at its entry point: boot GDT and
 * identity page tables in guest memory, registers, FPU, MSRs and local APIC. */
#ifndef EMBER_X86_BOOT_H
#define EMBER_X86_BOOT_H

#include <stdbool.h>
#include <stdint.h>
#include "vmm/core/guest_mem.h"
#include "vmm/arch/x86/kernel_image.h"
#include "vmm/lib/util.h"

/* GDT selectors (the Linux boot protocol's __BOOT_CS / __BOOT_DS). */
#define BOOT_CS 0x10
#define BOOT_DS 0x18
#define BOOT_TSS 0x20

/* Write the GDT and (for a 64-bit entry) page tables identity-mapping 4 GiB. */
int x86_boot_tables(const struct guest_mem *gm, enum kernel_kind kind);

/* Set entry registers on the boot vCPU. */
int x86_boot_regs(int vcpu_fd, const struct kernel_image *k, struct errbuf *err);

/* FPU, MSRs and local APIC LINT pins, on every vCPU. */
int x86_vcpu_init(int vcpu_fd, struct errbuf *err);

/* Print general and segment registers on stderr (crash reports). */
void x86_dump_regs(int vcpu_fd, unsigned index);

#endif
