/* vfio.c: a host PCI device through VFIO: container, group, device fd,
 * regions, DMA mappings of guest RAM, MSI-X eventfds (see vfio.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vmm/core/mem_layout.h"
#include "vmm/lib/pci_sysfs.h"
#include "vmm/pci/vfio.h"

/* The groups this process has open, and for which device: a group can be
 * opened once, so a second device of the same group is refused by name. */
#define MAX_OPEN_GROUPS 16
static struct {
	unsigned id;
	char bdf[PCI_BDF_LEN];
} open_groups[MAX_OPEN_GROUPS];
static unsigned nopen_groups;

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Try the group node: a new container, the group in it, type1v2, the device.
 * Returns 0 (d->container, group, fd set), or -1 with err (quiet: only
 * errno-style detail, the caller says which device). */
static int try_group(struct vfio_dev *d, const char *node, struct errbuf *err)
{
	d->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container < 0) {
		err_set(err, "/dev/vfio/vfio: %s", strerror(errno));
		return -1;
	}
	if (ioctl(d->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(d->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
		err_set(err, "the host's VFIO has no type1v2 IOMMU");
		goto fail;
	}
	d->group = open(node, O_RDWR | O_CLOEXEC);
	if (d->group < 0) {
		err_set(err, errno == EBUSY ? "%s: the IOMMU group is in use (by another VM?)" : "%s: %s",
			node, strerror(errno));
		goto fail;
	}
	struct vfio_group_status st = {.argsz = sizeof(st)};
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &st) < 0 || !(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		err_set(err, "%s: the IOMMU group is not viable (every device in it must be bound "
			     "to vfio-pci)", node);
		goto fail;
	}
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container) < 0 ||
	    ioctl(d->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
		err_set(err, "%s: attaching the group to a type1v2 container: %s", node, strerror(errno));
		goto fail;
	}
	d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (d->fd < 0) {
		err_set(err, "%s: getting the device: %s", node, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	close_fd(&d->group);
	close_fd(&d->container);
	return -1;
}

/* Find and open the group: from sysfs, or by trying every /dev/vfio node. */
static int open_group(struct vfio_dev *d, struct errbuf *err)
{
	char node[64];
	if (access(PCI_SYSFS_DEVICES, F_OK) == 0) {
		struct pci_sysfs_dev sd;
		switch (pci_sysfs_vfio_lookup(d->bdf, &sd)) {
		case PCI_SYSFS_ABSENT:
			err_set(err, "--vfio %s: no such PCI device", d->bdf);
			return -1;
		case PCI_SYSFS_OTHER_DRIVER:
			err_set(err, "--vfio %s: %s%s, not to vfio-pci", d->bdf,
				*sd.driver ? "bound to " : "bound to no driver", sd.driver);
			return -1;
		case PCI_SYSFS_NO_GROUP:
			err_set(err, "--vfio %s: no IOMMU group (is the host's IOMMU on?)", d->bdf);
			return -1;
		case PCI_SYSFS_VFIO_OK:
			break;
		}
		d->group_id = sd.group;
		for (unsigned i = 0; i < nopen_groups; i++) {
			if (open_groups[i].id == d->group_id) {
				err_set(err, "--vfio %s: its IOMMU group %u is already --vfio %s's (ember "
					     "passes through one device per group)", d->bdf, d->group_id,
					open_groups[i].bdf);
				return -1;
			}
		}
		snprintf(node, sizeof(node), "/dev/vfio/%u", d->group_id);
		struct errbuf e;
		if (try_group(d, node, &e)) {
			err_set(err, "--vfio %s: %s", d->bdf, e.msg);
			return -1;
		}
		return 0;
	}
	/* No sysfs (a jail): the groups we were given. */
	DIR *dir = opendir("/dev/vfio");
	if (!dir) {
		err_set(err, "--vfio %s: /dev/vfio: %s", d->bdf, strerror(errno));
		return -1;
	}
	struct dirent *e;
	struct errbuf last = {.msg = "no IOMMU group node in /dev/vfio"};
	int r = -1;
	while (r < 0 && (e = readdir(dir))) {
		unsigned g;
		if (!pci_iommu_group_parse(e->d_name, &g))
			continue;
		snprintf(node, sizeof(node), "/dev/vfio/%u", g);
		if (try_group(d, node, &last) == 0) {
			d->group_id = g;
			r = 0;
		}
	}
	closedir(dir);
	if (r < 0)
		err_set(err, "--vfio %s: no VFIO group in /dev/vfio hands out this device (%s)",
			d->bdf, last.msg);
	return r;
}

static int region_info(struct vfio_dev *d, unsigned index, struct vfio_region *out)
{
	struct vfio_region_info ri = {.argsz = sizeof(ri), .index = index};
	if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri) < 0)
		return -1;
	out->offset = ri.offset;
	out->size = ri.size;
	out->flags = ri.flags;
	return 0;
}

int vfio_open(struct vfio_dev *d, const char *bdf, struct errbuf *err)
{
	memset(d, 0, sizeof(*d));
	d->container = d->group = d->fd = -1;
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	if (open_group(d, err))
		return -1;
	struct vfio_device_info di = {.argsz = sizeof(di)};
	if (ioctl(d->fd, VFIO_DEVICE_GET_INFO, &di) < 0 || !(di.flags & VFIO_DEVICE_FLAGS_PCI) ||
	    di.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX || di.num_irqs <= VFIO_PCI_MSIX_IRQ_INDEX) {
		err_set(err, "--vfio %s: not a PCI device VFIO can pass through", d->bdf);
		goto fail;
	}
	if ((di.flags & VFIO_DEVICE_FLAGS_RESET) && ioctl(d->fd, VFIO_DEVICE_RESET) < 0)
		log_warn("--vfio %s: resetting the device: %s", d->bdf, strerror(errno));
	for (unsigned i = 0; i < VFIO_NUM_BARS; i++)
		if (region_info(d, VFIO_PCI_BAR0_REGION_INDEX + i, &d->bar[i]) < 0)
			d->bar[i].size = 0;
	if (region_info(d, VFIO_PCI_CONFIG_REGION_INDEX, &d->config) < 0 || d->config.size < 256) {
		err_set(err, "--vfio %s: its config space cannot be read", d->bdf);
		goto fail;
	}
	struct vfio_irq_info ii = {.argsz = sizeof(ii), .index = VFIO_PCI_MSIX_IRQ_INDEX};
	if (ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &ii) == 0 && (ii.flags & VFIO_IRQ_INFO_EVENTFD))
		d->msix_count = ii.count;
	if (nopen_groups < MAX_OPEN_GROUPS) {
		open_groups[nopen_groups].id = d->group_id;
		memcpy(open_groups[nopen_groups++].bdf, d->bdf, PCI_BDF_LEN);
	}
	return 0;
fail:
	vfio_close(d);
	return -1;
}

void vfio_close(struct vfio_dev *d)
{
	for (unsigned i = 0; d->group >= 0 && i < nopen_groups; i++)
		if (open_groups[i].id == d->group_id && !strcmp(open_groups[i].bdf, d->bdf))
			open_groups[i] = open_groups[--nopen_groups];
	close_fd(&d->fd);
	close_fd(&d->group);
	close_fd(&d->container);
}

static int map_range(struct vfio_dev *d, void *vaddr, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};
	return size ? ioctl(d->container, VFIO_IOMMU_MAP_DMA, &m) : 0;
}

int vfio_map_guest(struct vfio_dev *d, const struct guest_mem *gm, struct errbuf *err)
{
	const struct mem_layout *l = &gm->layout;
	void *low = gm_ptr(gm, 0, l->low_size);
	void *high = l->high_size ? gm_ptr(gm, LAYOUT_MMIO_HOLE_END, l->high_size) : NULL;
	if (!low || (l->high_size && !high) || map_range(d, low, 0, l->low_size) < 0 ||
	    map_range(d, high, LAYOUT_MMIO_HOLE_END, l->high_size) < 0) {
		int e = errno;
		struct rlimit rl;
		getrlimit(RLIMIT_MEMLOCK, &rl);
		if (e == ENOMEM && rl.rlim_cur != RLIM_INFINITY)
			err_set(err, "--vfio %s: pinning guest memory for DMA: %s (RLIMIT_MEMLOCK is "
				     "%llu MiB, guest memory %llu MiB)", d->bdf, strerror(e),
				(unsigned long long)(rl.rlim_cur >> 20),
				(unsigned long long)((l->low_size + l->high_size) >> 20));
		else
			err_set(err, "--vfio %s: mapping guest memory for DMA: %s", d->bdf, strerror(e));
		return -1;
	}
	return 0;
}

int vfio_enable_msix(struct vfio_dev *d, const int *efds, unsigned n, struct errbuf *err)
{
	if (n == 0 || n > d->msix_count) {
		err_set(err, "--vfio %s: %u MSI-X vectors asked, the device has %u", d->bdf, n,
			d->msix_count);
		return -1;
	}
	size_t len = sizeof(struct vfio_irq_set) + n * sizeof(int32_t);
	struct vfio_irq_set *s = calloc(1, len);
	if (!s) {
		err_set(err, "out of memory");
		return -1;
	}
	s->argsz = (uint32_t)len;
	s->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	s->index = VFIO_PCI_MSIX_IRQ_INDEX;
	s->start = 0;
	s->count = n;
	for (unsigned i = 0; i < n; i++) {
		int32_t fd = efds[i];
		memcpy(s->data + i * sizeof(int32_t), &fd, sizeof(fd));
	}
	int r = ioctl(d->fd, VFIO_DEVICE_SET_IRQS, s);
	free(s);
	if (r < 0) {
		err_set(err, "--vfio %s: enabling MSI-X: %s", d->bdf, strerror(errno));
		return -1;
	}
	d->msix_on = true;
	return 0;
}

static bool in_region(const struct vfio_region *r, uint64_t off, unsigned len)
{
	return r->size && off <= r->size && len <= r->size - off;
}

bool vfio_region_read(const struct vfio_dev *d, const struct vfio_region *r, uint64_t off,
		      void *buf, unsigned len)
{
	return in_region(r, off, len) &&
	       pread(d->fd, buf, len, (off_t)(r->offset + off)) == (ssize_t)len;
}

bool vfio_region_write(const struct vfio_dev *d, const struct vfio_region *r, uint64_t off,
		       const void *buf, unsigned len)
{
	return in_region(r, off, len) &&
	       pwrite(d->fd, buf, len, (off_t)(r->offset + off)) == (ssize_t)len;
}
