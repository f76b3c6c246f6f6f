/* pci_addr.h: PCI addresses (domain:bus:device.function) as users type them,
 * for ember's --vfio and ember-jailer's --vfio. */
#ifndef EMBER_PCI_ADDR_H
#define EMBER_PCI_ADDR_H

#include <stdbool.h>

#include "vmm/lib/util.h"

#define PCI_BDF_LEN 13 /* "dddd:bb:dd.f" and its NUL */

/* s as "dddd:bb:dd.f" or "bb:dd.f" (hex, any case) into its canonical sysfs
 * form "dddd:bb:dd.f" (lower case); false if it is not one. */
bool pci_bdf_parse(const char *s, char out[PCI_BDF_LEN]);

/* One --vfio value: parse v and append it to list (n entries, room for max),
 * refusing a bad address, a repeat and one too many. 0, or -1 with err. */
int pci_bdf_add(char (*list)[PCI_BDF_LEN], unsigned *n, unsigned max, const char *v,
		struct errbuf *err);

#endif
