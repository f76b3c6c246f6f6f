/* vfio.h: one host PCI device opened through VFIO for passthrough: its IOMMU
 * group attached to a type1 container of its own, the device fd, the regions
 * (BARs, config space) and MSI-X vector count VFIO reports, DMA mappings of
 * guest RAM at IOVA = guest-physical address, and MSI-X eventfds.
 *
 * The group is found from sysfs (/sys/bus/pci/devices/BDF/iommu_group) when it
 * is there; inside ember-jailer's jail there is no /sys, so each group node
 * under /dev/vfio (the jail holds only the ones it was given) is tried until
 * one hands out the device. */
#ifndef EMBER_VFIO_H
#define EMBER_VFIO_H

#include <linux/vfio.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/core/guest_mem.h"
#include "vmm/lib/pci_addr.h"
#include "vmm/lib/util.h"

#define VFIO_NUM_BARS 6

struct vfio_region {
	uint64_t offset; /* in the device fd */
	uint64_t size;   /* 0: absent */
	uint32_t flags;  /* VFIO_REGION_INFO_FLAG_* */
};

struct vfio_dev {
	char bdf[PCI_BDF_LEN];
	int container, group, fd;
	unsigned group_id;
	struct vfio_region bar[VFIO_NUM_BARS];
	struct vfio_region config;
	unsigned msix_count; /* MSI-X vectors VFIO can trigger (0: none) */
	bool msix_on;        /* VFIO_DEVICE_SET_IRQS done */
};

/* Open the device bdf (canonical form), attach its group to a new type1v2
 * container, reset it if it can be, and read its regions. Returns 0, or -1
 * with one line in err. */
int vfio_open(struct vfio_dev *d, const char *bdf, struct errbuf *err);
void vfio_close(struct vfio_dev *d);

/* Map all guest RAM for the device's DMA (pins it). 0, or -1 with err. */
int vfio_map_guest(struct vfio_dev *d, const struct guest_mem *gm, struct errbuf *err);

/* Route MSI-X vectors 0..n-1 of the device to these eventfds (n <= msix_count).
 * 0 or -1 with err. */
int vfio_enable_msix(struct vfio_dev *d, const int *efds, unsigned n, struct errbuf *err);

/* Config space and region access through the device fd: len bytes at off of
 * the region; false when the access failed or falls outside it. */
bool vfio_region_read(const struct vfio_dev *d, const struct vfio_region *r, uint64_t off,
		      void *buf, unsigned len);
bool vfio_region_write(const struct vfio_dev *d, const struct vfio_region *r, uint64_t off,
		       const void *buf, unsigned len);

#endif
