/* pci_sysfs.c: a PCI device's driver and IOMMU group from sysfs (pci_sysfs.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/lib/pci_sysfs.h"

#define MAX_GROUP 1000000

void pci_sysfs_link_name(const char *path, char *out, size_t len)
{
	char t[4096];
	ssize_t n = readlink(path, t, sizeof(t) - 1);
	out[0] = '\0';
	if (n > 0) {
		t[n] = '\0';
		const char *b = strrchr(t, '/');
		b = b ? b + 1 : t;
		size_t blen = strlen(b);
		if (blen < len)
			memcpy(out, b, blen + 1);
	}
}

bool pci_iommu_group_parse(const char *name, unsigned *group)
{
	char *end;
	if (name[0] < '0' || name[0] > '9')
		return false;
	unsigned long g = strtoul(name, &end, 10);
	if (*end || g > MAX_GROUP)
		return false;
	*group = (unsigned)g;
	return true;
}

enum pci_sysfs_verdict pci_sysfs_vfio_lookup(const char *bdf, struct pci_sysfs_dev *out)
{
	char path[256], name[256];
	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s", bdf);
	if (access(path, F_OK) < 0) {
		out->errno_absent = errno;
		return PCI_SYSFS_ABSENT;
	}
	snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s/driver", bdf);
	pci_sysfs_link_name(path, out->driver, sizeof(out->driver));
	if (strcmp(out->driver, "vfio-pci"))
		return PCI_SYSFS_OTHER_DRIVER;
	snprintf(path, sizeof(path), PCI_SYSFS_DEVICES "/%s/iommu_group", bdf);
	pci_sysfs_link_name(path, name, sizeof(name));
	return pci_iommu_group_parse(name, &out->group) ? PCI_SYSFS_VFIO_OK : PCI_SYSFS_NO_GROUP;
}
