/* vmgenid.h: the VM generation ID (Microsoft's "Virtual Machine Generation
 * ID", as QEMU and Firecracker give it): 16 random bytes at LAYOUT_VMGENID,
 * which the DSDT's VGEN device names (acpi.h). A new ID at every restore of a
 * snapshot, followed by an edge on the Generic Event Device's interrupt
 * (ACPI_GED_GSI), tells the guest it may be one of several clones: Linux's
 * vmgenid driver reads the new ID and reseeds its random-number generator
 * ("crng reseeded due to virtual machine fork"). */
#ifndef EMBER_VMGENID_H
#define EMBER_VMGENID_H

#include "vmm/core/guest_mem.h"
#include "vmm/core/vm.h"
#include "vmm/lib/util.h"

#define VMGENID_SIZE 16

/* A new random ID (getrandom) into gm at LAYOUT_VMGENID, copied to id when
 * id is not NULL. 0, or -1 with err set. */
int vmgenid_write(const struct guest_mem *gm, uint8_t id[VMGENID_SIZE], struct errbuf *err);

/* A restored VM's new ID, then the GED's interrupt raised and lowered (an
 * edge), before its vCPUs run. 0, or -1 with err set. */
int vmgenid_renew(struct vm *vm, struct errbuf *err);

#endif
