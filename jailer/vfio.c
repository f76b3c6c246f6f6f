/* vfio.c: the PCI devices a jail is given for passthrough (--vfio BDF). Before
 * anything is built, each device is checked: it exists, it is bound to
 * vfio-pci, it has an IOMMU group, and that group is viable and free (the
 * jailer opens it and asks VFIO_GROUP_GET_STATUS). The jail then gets
 * /dev/vfio/vfio and one node per IOMMU group, owned by the VM's user, and
 * nothing else of /dev/vfio. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jailer/jailer.h"
#include "vmm/lib/pci_sysfs.h"

/* Name a device of group that keeps it from being viable: one bound to a
 * driver other than vfio-pci (bridges' pcieport is allowed by VFIO). */
static void group_culprit(unsigned group, char *out, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%u/devices", group);
	snprintf(out, len, "a device in it is bound to another driver");
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char drv[256], p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s/driver", path, e->d_name);
		pci_sysfs_link_name(p, drv, sizeof(drv));
		if (*drv && strcmp(drv, "vfio-pci") && strcmp(drv, "pcieport")) {
			snprintf(out, len, "%s is bound to %s", e->d_name, drv);
			break;
		}
	}
	closedir(d);
}

/* Open the group's node and check it is viable and not in use. */
static int check_group(struct jail *j, const char *bdf, unsigned group)
{
	char node[64];
	snprintf(node, sizeof(node), "/dev/vfio/%u", group);
	int fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EBUSY)
			return jail_fail(j, "--vfio %s: IOMMU group %u is in use (by another VM?)", bdf,
					 group);
		return jail_fail(j, "--vfio %s: %s: %s", bdf, node, strerror(errno));
	}
	struct vfio_group_status st = {.argsz = sizeof(st)};
	int r = ioctl(fd, VFIO_GROUP_GET_STATUS, &st);
	int e = errno;
	close(fd);
	if (r < 0)
		return jail_fail(j, "--vfio %s: VFIO_GROUP_GET_STATUS on %s: %s", bdf, node,
				 strerror(e));
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		char why[320];
		group_culprit(group, why, sizeof(why));
		return jail_fail(j, "--vfio %s: IOMMU group %u is not viable: %s (every device "
				    "in the group must be bound to vfio-pci)", bdf, group, why);
	}
	return 0;
}

int jail_vfio_check(struct jail *j)
{
	const struct jail_opts *o = j->opts;
	j->nvfio_groups = 0;
	for (unsigned i = 0; i < o->nvfio; i++) {
		const char *bdf = o->vfio[i];
		struct pci_sysfs_dev sd;
		switch (pci_sysfs_vfio_lookup(bdf, &sd)) {
		case PCI_SYSFS_ABSENT:
			return jail_fail(j, "--vfio %s: no such PCI device (" PCI_SYSFS_DEVICES "/%s: %s)",
					 bdf, bdf, strerror(sd.errno_absent));
		case PCI_SYSFS_OTHER_DRIVER:
			return jail_fail(j, "--vfio %s: %s%s, not to vfio-pci (echo vfio-pci > "
					    PCI_SYSFS_DEVICES "/%s/driver_override, then unbind and "
					    "echo %s > /sys/bus/pci/drivers_probe)",
					 bdf, *sd.driver ? "bound to " : "bound to no driver", sd.driver,
					 bdf, bdf);
		case PCI_SYSFS_NO_GROUP:
			return jail_fail(j, "--vfio %s: no IOMMU group (is the IOMMU on? e.g. "
					    "intel_iommu=on on the host kernel's command line)", bdf);
		case PCI_SYSFS_VFIO_OK:
			break;
		}
		unsigned g = sd.group;
		bool seen = false;
		for (unsigned k = 0; k < j->nvfio_groups; k++)
			seen |= j->vfio_groups[k] == g;
		if (seen)
			continue;
		if (check_group(j, bdf, g))
			return -1;
		j->vfio_groups[j->nvfio_groups++] = g;
	}
	return 0;
}

int jail_vfio_populate(struct jail *j)
{
	if (!j->nvfio_groups)
		return 0;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/dev/vfio", j->root);
	if (mkdir(path, 0755) < 0)
		return jail_fail(j, "creating dev/vfio in the jail: %s", strerror(errno));
	if (jail_make_node(j, "/dev/vfio/vfio", "dev/vfio/vfio"))
		return -1;
	for (unsigned i = 0; i < j->nvfio_groups; i++) {
		char host[64], rel[64];
		snprintf(host, sizeof(host), "/dev/vfio/%u", j->vfio_groups[i]);
		snprintf(rel, sizeof(rel), "dev/vfio/%u", j->vfio_groups[i]);
		if (jail_make_node(j, host, rel))
			return -1;
	}
	return 0;
}
