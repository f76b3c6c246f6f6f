/* vfio_pci.h: a host PCI device (an SR-IOV VF, say) passed through to the
 * guest on ember's PCI bus 0, next to the virtio devices.
 *
 * What the guest sees is ember's own model of the device: the host device's
 * IDs, class and subsystem, its memory BARs (sizes from VFIO; a 64-bit
 * prefetchable BAR stays 64-bit prefetchable, any other memory BAR becomes a
 * 32-bit one), and one capability, MSI-X, at the BAR offsets of the device's
 * own table and PBA, emulated by ember (msix.c). Nothing else of the host
 * config space shows: no other capabilities, no INTx, no expansion ROM.
 *
 * BARs VFIO lets ember mmap are mapped into the guest as KVM memory slots
 * wherever the guest places them, so the guest reaches the device's registers
 * without exits, except for the pages holding the MSI-X table and PBA: those
 * exit to ember (KVM_EXIT_MMIO), which answers table and PBA accesses itself
 * and passes the rest of such a page on with pread/pwrite on the VFIO device
 * fd, as it does for a whole BAR that cannot be mmapped. The
 * guest's memory-space and bus-master bits are passed on to the device (INTx
 * stays disabled). All guest RAM is mapped for the device's DMA at IOVA =
 * guest-physical address, so the device reaches guest RAM and nothing else.
 * Each MSI-X vector's eventfd is signalled by the host kernel (VFIO) and
 * injected by KVM (irqfd); masking detaches the irqfd (msix_external_trigger). */
#ifndef EMBER_VFIO_PCI_H
#define EMBER_VFIO_PCI_H

#include <stdatomic.h>
#include <stddef.h>

#include "vmm/core/device.h"
#include "vmm/pci/msix.h"
#include "vmm/pci/pci.h"
#include "vmm/pci/vfio.h"

#define VFIO_BAR_PIECES 3 /* a BAR less the MSI-X table and PBA pages */

struct vfio_bar_map {
	uint8_t *hva;  /* the BAR mmapped from the device fd, or NULL: trapped */
	uint64_t size;
	unsigned npieces;
	struct vfio_bar_piece {
		uint64_t off, len;
	} piece[VFIO_BAR_PIECES]; /* what is mapped as memory slots */
};

struct vfio_pci {
	struct device device;  /* "vfio0", "vfio1", ... */
	unsigned index;
	struct vfio_dev dev;
	struct pci_device pci;
	struct msix msix;
	bool msix_ok;
	int vm_fd;
	uint32_t slot_base; /* KVM memory slots slot_base .. + 6 * VFIO_BAR_PIECES - 1 */
	struct vfio_bar_map map[VFIO_NUM_BARS];
	/* BAR accesses that exited to ember: MSI-X table/PBA ones it answered,
	 * and the rest, passed on with pread/pwrite. */
	atomic_ullong msix_accesses, trapped_reads, trapped_writes;
};

#define VFIO_PCI_SLOTS (VFIO_NUM_BARS * VFIO_BAR_PIECES)

/* Where a device's MSI-X table and PBA are. */
struct vfio_msix_place {
	unsigned nvec;
	unsigned tbar, pbar;
	uint32_t toff, poff;
};

/* The parts of BAR bar (size bytes, page-aligned) that become memory slots:
 * all of it but the pages holding the MSI-X table and PBA (t). */
void vfio_bar_pieces(struct vfio_bar_map *m, unsigned bar, uint64_t size, uint64_t page,
		     const struct vfio_msix_place *t);

/* Open the host device (before the VM exists: a bad --vfio is bad input) as
 * vfio<index>. The device, or NULL with err. */
struct vfio_pci *vfio_pci_open(const char *bdf, unsigned index, struct errbuf *err);
/* Build its model, map guest RAM for DMA, mmap its BARs (their memory slots
 * are slot_base and up, VFIO_PCI_SLOTS of them) and route its MSI-X vectors;
 * then pci_bus_add_device(bus, &v->pci) and vm_add_device(vm, &v->device):
 * the VM asks it for stats (SIGUSR1) and destroys it. 0, or -1 with err
 * (then device_destroy(&v->device) cleans up). */
int vfio_pci_create(struct vfio_pci *v, const struct guest_mem *gm, struct gsi_routes *routes,
		    int vm_fd, uint32_t slot_base, struct errbuf *err);

/* What its emulation needs on the vCPU threads (KVM_IRQFD, memory slots). */
extern const struct seccomp_allow vfio_vcpu_seccomp;

/* SIGUSR1: one JSON line about the device: its address and IOMMU group, each
 * BAR (size, where the guest put it, how many memory slots map it), MSI-X
 * state, and the exit counters above. */
void vfio_pci_stats_json(struct vfio_pci *v, char *buf, size_t len);

#endif
