/* vfio_probe.c: run by ember-jailer in place of ember (tests/jail/vfio.sh), it
 * shows that a jail given --vfio BDF lets its unprivileged user do what
 * passthrough needs: open /dev/vfio/vfio and the group, attach the group to a
 * type1 container, get the device's fd and read its config space, and pin
 * MAP_MIB MiB for DMA, while pinning more than RLIMIT_MEMLOCK allows fails.
 * usage: vfio_probe BDF GROUP MAP_MIB (static: the jail has no libraries).
 * Prints one "probe: ..." line per step; exits 0 only if every step went as
 * expected. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static int fail(const char *what)
{
	printf("probe: FAILED %s: %s\n", what, strerror(errno));
	return 1;
}

static int map_dma(int container, uint64_t iova, uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)p,
		.iova = iova,
		.size = size,
	};
	return ioctl(container, VFIO_IOMMU_MAP_DMA, &m);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: vfio_probe BDF GROUP MAP_MIB\n");
		return 2;
	}
	const char *bdf = argv[1];
	uint64_t map = strtoull(argv[3], NULL, 10) << 20;
	struct rlimit rl;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	printf("probe: uid %u gid %u memlock %llu\n", getuid(), getgid(),
	       (unsigned long long)rl.rlim_cur);

	int container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (container < 0)
		return fail("open /dev/vfio/vfio");
	if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
	    ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1)
		return fail("VFIO API version / type1v2 extension");
	char node[64];
	snprintf(node, sizeof(node), "/dev/vfio/%s", argv[2]);
	int group = open(node, O_RDWR | O_CLOEXEC);
	if (group < 0)
		return fail("open the group");
	struct vfio_group_status gs = {.argsz = sizeof(gs)};
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &gs) < 0 || !(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		return fail("group status (viable)");
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
		return fail("VFIO_GROUP_SET_CONTAINER");
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
		return fail("VFIO_SET_IOMMU");
	printf("probe: group %s attached to a type1v2 container\n", argv[2]);

	int dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (dev < 0)
		return fail("VFIO_GROUP_GET_DEVICE_FD");
	struct vfio_device_info di = {.argsz = sizeof(di)};
	if (ioctl(dev, VFIO_DEVICE_GET_INFO, &di) < 0 || !(di.flags & VFIO_DEVICE_FLAGS_PCI))
		return fail("VFIO_DEVICE_GET_INFO (a PCI device)");
	struct vfio_region_info cfg = {.argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX};
	uint16_t id[2];
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &cfg) < 0 ||
	    pread(dev, id, sizeof(id), (off_t)cfg.offset) != sizeof(id))
		return fail("reading the config space");
	struct vfio_irq_info msix = {.argsz = sizeof(msix), .index = VFIO_PCI_MSIX_IRQ_INDEX};
	if (ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &msix) < 0)
		return fail("VFIO_DEVICE_GET_IRQ_INFO");
	printf("probe: device %s id %04x:%04x regions %u irqs %u msix %u\n", bdf, id[0], id[1],
	       di.num_regions, di.num_irqs, msix.count);

	if (map_dma(container, 0, map) < 0)
		return fail("VFIO_IOMMU_MAP_DMA of MAP_MIB");
	printf("probe: pinned %llu MiB for DMA\n", (unsigned long long)(map >> 20));
	if (map_dma(container, map, 128ull << 20) == 0) {
		printf("probe: FAILED pinned 128 MiB more, over the memlock limit\n");
		return 1;
	}
	printf("probe: 128 MiB more refused: %s\n", strerror(errno));
	return 0;
}
