/* pci_sysfs.h: what the host's sysfs says of a PCI device to be passed through
 * with VFIO: whether it exists, which driver it is bound to, its IOMMU group.
 * Shared by ember's --vfio (vfio.c) and ember-jailer's --vfio (jailer/vfio.c),
 * which word their own errors. */
#ifndef EMBER_PCI_SYSFS_H
#define EMBER_PCI_SYSFS_H

#include <stdbool.h>
#include <stddef.h>

#define PCI_SYSFS_DEVICES "/sys/bus/pci/devices"

enum pci_sysfs_verdict {
	PCI_SYSFS_VFIO_OK,      /* bound to vfio-pci, with an IOMMU group */
	PCI_SYSFS_ABSENT,       /* no such device (errno_absent says why) */
	PCI_SYSFS_OTHER_DRIVER, /* bound to driver (or, when it is "", to none) */
	PCI_SYSFS_NO_GROUP,     /* bound to vfio-pci, but no IOMMU group */
};

struct pci_sysfs_dev {
	char driver[64];  /* the bound driver's name, "" for none */
	unsigned group;   /* the IOMMU group (PCI_SYSFS_VFIO_OK only) */
	int errno_absent; /* PCI_SYSFS_ABSENT: the lookup's errno */
};

/* Look up device bdf (canonical "dddd:bb:dd.f") under PCI_SYSFS_DEVICES. */
enum pci_sysfs_verdict pci_sysfs_vfio_lookup(const char *bdf, struct pci_sysfs_dev *out);

/* The last component of the symlink at path into out; "" when path is no
 * symlink or the name does not fit. */
void pci_sysfs_link_name(const char *path, char *out, size_t len);

/* An IOMMU group's name (a /dev/vfio node or an iommu_groups entry) as its
 * number; false when name is not one. */
bool pci_iommu_group_parse(const char *name, unsigned *group);

#endif
