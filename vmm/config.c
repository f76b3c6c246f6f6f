/* config.c: a VM configuration's defaults, and its devices' ids (see
 * config.h). */
#include <stdio.h>
#include <string.h>

#include "vmm/config.h"

void vm_config_defaults(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->cpus = 1;
	c->mem_mib = VM_DEFAULT_MEM_MIB;
	c->console = CONSOLE_STDIO;
	c->seccomp = true;
	c->kernel_unpack = KERNEL_UNPACK_AUTO;
	c->initrd_unpack = INITRD_UNPACK_AUTO;
}

void vm_config_disk_id(const struct vm_config *c, unsigned i, char id[VM_ID_MAX + 1])
{
	if (c->disk_ids[i][0])
		snprintf(id, VM_ID_MAX + 1, "%s", c->disk_ids[i]);
	else /* the device's name (blk_pci.c) */
		snprintf(id, VM_ID_MAX + 1, "vd%c", 'a' + (int)(i % 26));
}

void vm_config_net_id(const struct vm_config *c, unsigned i, char id[VM_ID_MAX + 1])
{
	if (c->net_ids[i][0])
		snprintf(id, VM_ID_MAX + 1, "%s", c->net_ids[i]);
	else /* the device's name (net_pci.c) */
		snprintf(id, VM_ID_MAX + 1, "net%u", i);
}

int vm_config_find_disk(const struct vm_config *c, const char *id)
{
	char d[VM_ID_MAX + 1];
	for (unsigned i = 0; i < c->ndisks; i++) {
		vm_config_disk_id(c, i, d);
		if (strcmp(d, id) == 0)
			return (int)i;
	}
	return -1;
}

int vm_config_find_net(const struct vm_config *c, const char *id)
{
	char d[VM_ID_MAX + 1];
	for (unsigned i = 0; i < c->nnets; i++) {
		vm_config_net_id(c, i, d);
		if (strcmp(d, id) == 0)
			return (int)i;
	}
	return -1;
}
