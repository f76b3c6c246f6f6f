/* config.c: a VM configuration's defaults (see config.h). */
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
