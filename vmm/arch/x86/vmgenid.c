/* vmgenid.c: the VM generation ID written into guest memory, and the
 * interrupt that tells the guest it changed (see vmgenid.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "vmm/arch/x86/acpi.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/arch/x86/vmgenid.h"

_Static_assert(LAYOUT_VMGENID % 8 == 0, "the ID is 8-byte aligned");
_Static_assert(LAYOUT_VMGENID >= LAYOUT_ACPI && LAYOUT_VMGENID + VMGENID_SIZE <= LAYOUT_ACPI_END,
	       "the ID is in the reserved BIOS area");

int vmgenid_write(const struct guest_mem *gm, uint8_t id[VMGENID_SIZE], struct errbuf *err)
{
	uint8_t *p = gm_ptr(gm, LAYOUT_VMGENID, VMGENID_SIZE);
	if (!p) {
		err_set(err, "no guest memory for the VM generation ID at %#x", LAYOUT_VMGENID);
		return -1;
	}
	uint8_t b[VMGENID_SIZE];
	ssize_t n;
	do
		n = getrandom(b, sizeof(b), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b)) {
		err_set(err, "getrandom for the VM generation ID: %s",
			n < 0 ? strerror(errno) : "short read");
		return -1;
	}
	memcpy(p, b, sizeof(b));
	if (id)
		memcpy(id, b, sizeof(b));
	return 0;
}

int vmgenid_renew(struct vm *vm, struct errbuf *err)
{
	uint8_t id[VMGENID_SIZE];
	if (vmgenid_write(&vm->mem, id, err))
		return -1;
	char hex[2 * VMGENID_SIZE + 1];
	for (unsigned i = 0; i < VMGENID_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	log_info("VM generation ID %s", hex);
	vm_irq_line(vm, ACPI_GED_GSI, true);
	vm_irq_line(vm, ACPI_GED_GSI, false);
	return 0;
}
