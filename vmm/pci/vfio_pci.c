/* vfio_pci.c: a passed-through host PCI device on ember's bus (vfio_pci.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/core/vm.h"
#include "vmm/pci/vfio_pci.h"

#define HDR_LEN 64
#define PCI_HEADER_TYPE_MASK 0x7f
#define PCI_BAR_IO 0x1
#define PCI_BAR_MEM_TYPE_MASK 0x6
#define MSIX_TABLE_BIR_MASK 0x7u
#define MAX_MEM32_BAR GiB(1)

static void vpci_bar_access(struct pci_device *pd, unsigned bar, uint64_t off, uint8_t *data,
			    unsigned len, bool write)
{
	struct vfio_pci *v = pd->opaque;
	if (v->msix_ok && msix_bar_access(&v->msix, bar, off, data, len, write)) {
		atomic_fetch_add_explicit(&v->msix_accesses, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(write ? &v->trapped_writes : &v->trapped_reads, 1,
				  memory_order_relaxed);
	if (len > 8)
		len = 8;
	if (bar >= VFIO_NUM_BARS)
		goto bad;
	/* vfio_region_* bound-check off + len against the BAR's region. */
	if (write) {
		vfio_region_write(&v->dev, &v->dev.bar[bar], off, data, len);
		return;
	}
	if (vfio_region_read(&v->dev, &v->dev.bar[bar], off, data, len))
		return;
bad:
	if (!write)
		memset(data, 0xff, len);
}

/* The device's command register follows the guest's memory and bus-master
 * bits; INTx stays off (the guest only has MSI-X). */
static void sync_command(struct vfio_pci *v)
{
	uint16_t cmd = (uint16_t)pci_config_get(&v->pci, PCI_COMMAND, 2);
	uint16_t real = (uint16_t)((cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)) |
				   PCI_COMMAND_INTX_DISABLE);
	if (!vfio_region_write(&v->dev, &v->dev.config, PCI_COMMAND, &real, 2))
		log_warn("--vfio %s: writing its command register failed", v->dev.bdf);
}

static void vpci_config_write(struct pci_device *pd, unsigned off, const uint8_t *data,
			      unsigned len)
{
	(void)data;
	struct vfio_pci *v = pd->opaque;
	if (v->msix_ok)
		msix_config_write(&v->msix, off, len);
	if (off < PCI_COMMAND + 2 && off + len > PCI_COMMAND)
		sync_command(v);
}

static int set_slot(struct vfio_pci *v, uint32_t slot, uint64_t gpa, uint64_t len, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .guest_phys_addr = gpa, .memory_size = len,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};
	return ioctl(v->vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

/* The guest moved (or turned off) an mmapped BAR: its memory slots follow.
 * Where KVM refuses, that part of the BAR stays trapped (it still works). */
static void vpci_bar_moved(struct pci_device *pd, unsigned bar, uint64_t old_addr,
			   uint64_t new_addr)
{
	struct vfio_pci *v = pd->opaque;
	struct vfio_bar_map *m = bar < VFIO_NUM_BARS ? &v->map[bar] : NULL;
	if (!m || !m->hva)
		return;
	for (unsigned k = 0; k < m->npieces; k++) {
		uint32_t slot = v->slot_base + bar * VFIO_BAR_PIECES + k;
		if (old_addr != PCI_BAR_UNMAPPED)
			set_slot(v, slot, 0, 0, NULL);
		if (new_addr != PCI_BAR_UNMAPPED &&
		    set_slot(v, slot, new_addr + m->piece[k].off, m->piece[k].len,
			     m->hva + m->piece[k].off) < 0)
			log_warn("--vfio %s: BAR %u at 0x%llx: KVM_SET_USER_MEMORY_REGION: %s (that "
				 "part of it is trapped)", v->dev.bdf, bar,
				 (unsigned long long)(new_addr + m->piece[k].off), strerror(errno));
	}
}

static const struct pci_device_ops vfio_pci_ops = {
	.bar_access = vpci_bar_access,
	.bar_moved = vpci_bar_moved,
	.config_write = vpci_config_write,
};

/* Remove [start, end) from the BAR's pieces (page-rounded by the caller). */
static void cut(struct vfio_bar_map *m, uint64_t start, uint64_t end)
{
	unsigned n = 0;
	struct vfio_bar_piece out[VFIO_BAR_PIECES + 1];
	for (unsigned k = 0; k < m->npieces; k++) {
		uint64_t a = m->piece[k].off, b = a + m->piece[k].len;
		if (end <= a || start >= b) {
			out[n++] = m->piece[k];
			continue;
		}
		if (a < start)
			out[n++] = (struct vfio_bar_piece){a, start - a};
		if (end < b)
			out[n++] = (struct vfio_bar_piece){end, b - end};
	}
	m->npieces = n < VFIO_BAR_PIECES ? n : VFIO_BAR_PIECES;
	memcpy(m->piece, out, m->npieces * sizeof(out[0]));
}

void vfio_bar_pieces(struct vfio_bar_map *m, unsigned bar, uint64_t size, uint64_t page,
		     const struct vfio_msix_place *t)
{
	m->npieces = 1;
	m->piece[0].off = 0;
	m->piece[0].len = size;
	uint64_t tlen = (uint64_t)t->nvec * MSIX_ENTRY_SIZE, plen = msix_pba_bytes(t->nvec);
	if (bar == t->tbar)
		cut(m, t->toff / page * page, (t->toff + tlen + page - 1) / page * page);
	if (bar == t->pbar)
		cut(m, t->poff / page * page, (t->poff + plen + page - 1) / page * page);
}

/* mmap the BARs VFIO allows; the pages of the MSI-X table and PBA stay out. */
static void map_bars(struct vfio_pci *v, const struct vfio_msix_place *t)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	for (unsigned i = 0; i < VFIO_NUM_BARS; i++) {
		const struct vfio_region *r = &v->dev.bar[i];
		struct vfio_bar_map *m = &v->map[i];
		if (v->pci.bar[i].type == PCI_BAR_NONE || !(r->flags & VFIO_REGION_INFO_FLAG_MMAP) ||
		    r->size < page || r->size % page)
			continue;
		void *p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, v->dev.fd,
			       (off_t)r->offset);
		if (p == MAP_FAILED)
			continue;
		m->hva = p;
		m->size = r->size;
		vfio_bar_pieces(m, i, r->size, page, t);
	}
}

static const struct device_ops vfio_device_ops;

struct vfio_pci *vfio_pci_open(const char *bdf, unsigned index, struct errbuf *err)
{
	struct vfio_pci *v = calloc(1, sizeof(*v));
	if (!v) {
		err_set(err, "--vfio %s: out of memory", bdf);
		return NULL;
	}
	device_init(&v->device, &vfio_device_ops, "vfio%u", index);
	v->index = index;
	if (vfio_open(&v->dev, bdf, err)) {
		device_destroy(&v->device);
		return NULL;
	}
	seccomp_allow_vfio_fd(v->dev.fd);
	return v;
}

/* The host device's MSI-X capability: vector count and where table and PBA
 * are. Returns 0, or -1 when it has none. */
static int find_msix(const struct vfio_pci *v, const uint8_t *hdr, struct vfio_msix_place *t)
{
	if (!(get_le16(hdr + PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return -1;
	unsigned at = hdr[PCI_CAPABILITY_LIST] & ~3u;
	for (unsigned hops = 0; at >= PCI_CAP_START && at < PCI_CFG_SIZE && hops < 48; hops++) {
		uint8_t cap[MSIX_CAP_LEN];
		if (!vfio_region_read(&v->dev, &v->dev.config, at, cap, sizeof(cap)))
			return -1;
		if (cap[0] == PCI_CAP_ID_MSIX) {
			uint32_t tb = get_le32(cap + 4), pb = get_le32(cap + 8);
			t->nvec = (get_le16(cap + 2) & 0x7ffu) + 1;
			t->tbar = tb & MSIX_TABLE_BIR_MASK;
			t->toff = tb & ~MSIX_TABLE_BIR_MASK;
			t->pbar = pb & MSIX_TABLE_BIR_MASK;
			t->poff = pb & ~MSIX_TABLE_BIR_MASK;
			return 0;
		}
		at = cap[1] & ~3u;
	}
	return -1;
}

/* Declare the host device's memory BARs on the model. */
static int add_bars(struct vfio_pci *v, const uint8_t *hdr, struct errbuf *err)
{
	for (unsigned i = 0; i < VFIO_NUM_BARS; i++) {
		uint32_t raw = get_le32(hdr + PCI_BAR0 + 4 * i);
		uint64_t size = v->dev.bar[i].size;
		bool is64 = !(raw & PCI_BAR_IO) && (raw & PCI_BAR_MEM_TYPE_MASK) == PCI_BAR_MEM_TYPE_64;
		if (size == 0) {
			i += is64;
			continue;
		}
		if (raw & PCI_BAR_IO) {
			err_set(err, "--vfio %s: BAR %u is an I/O BAR (not supported)", v->dev.bdf, i);
			return -1;
		}
		enum pci_bar_type type = is64 && (raw & PCI_BAR_MEM_PREFETCH) && i < 5 ? PCI_BAR_MEM64
										      : PCI_BAR_MEM32;
		if ((type == PCI_BAR_MEM32 && size > MAX_MEM32_BAR) ||
		    pci_device_add_bar(&v->pci, i, type, size) < 0) {
			err_set(err, "--vfio %s: BAR %u (%llu bytes) cannot be placed", v->dev.bdf, i,
				(unsigned long long)size);
			return -1;
		}
		i += is64; /* the upper half of a 64-bit BAR */
	}
	return 0;
}

int vfio_pci_create(struct vfio_pci *v, const struct guest_mem *gm, struct gsi_routes *routes,
		    int vm_fd, uint32_t slot_base, struct errbuf *err)
{
	v->vm_fd = vm_fd;
	v->slot_base = slot_base;
	const char *bdf = v->dev.bdf;
	uint8_t hdr[HDR_LEN];
	if (!vfio_region_read(&v->dev, &v->dev.config, 0, hdr, sizeof(hdr))) {
		err_set(err, "--vfio %s: reading its config space failed", bdf);
		return -1;
	}
	if ((hdr[PCI_HEADER_TYPE] & PCI_HEADER_TYPE_MASK) != 0) {
		err_set(err, "--vfio %s: not an endpoint (header type %u)", bdf,
			hdr[PCI_HEADER_TYPE] & PCI_HEADER_TYPE_MASK);
		return -1;
	}
	struct vfio_msix_place t;
	if (find_msix(v, hdr, &t) < 0 || v->dev.msix_count == 0) {
		err_set(err, "--vfio %s: the device has no MSI-X (ember gives passed-through "
			     "devices MSI-X only)", bdf);
		return -1;
	}
	if (t.nvec > v->dev.msix_count)
		t.nvec = v->dev.msix_count;
	uint32_t class_code = hdr[PCI_CLASS_PROG] | (uint32_t)hdr[PCI_CLASS_PROG + 1] << 8 |
			      (uint32_t)hdr[PCI_CLASS_PROG + 2] << 16;
	pci_device_init(&v->pci, (uint16_t)get_le16(hdr + PCI_VENDOR_ID),
			(uint16_t)get_le16(hdr + PCI_DEVICE_ID), class_code, hdr[PCI_REVISION_ID],
			&vfio_pci_ops, v);
	pci_device_set_subsystem(&v->pci, (uint16_t)get_le16(hdr + PCI_SUBSYSTEM_VENDOR_ID),
				 (uint16_t)get_le16(hdr + PCI_SUBSYSTEM_ID));
	if (add_bars(v, hdr, err))
		return -1;
	if (msix_init(&v->msix, &v->pci, routes, t.nvec, t.tbar, t.toff, t.pbar, t.poff) < 0) {
		err_set(err, "--vfio %s: its MSI-X table (BAR %u + 0x%x, %u vectors) cannot be "
			     "emulated", bdf, t.tbar, t.toff, t.nvec);
		return -1;
	}
	v->msix_ok = true;
	map_bars(v, &t);
	if (msix_external_trigger(&v->msix) < 0) {
		err_set(err, "--vfio %s: KVM_IRQFD: %s", bdf, strerror(errno));
		return -1;
	}
	int efds[MSIX_MAX_VECTORS];
	for (unsigned i = 0; i < t.nvec; i++)
		efds[i] = msix_vector_eventfd(&v->msix, i);
	if (vfio_map_guest(&v->dev, gm, err) || vfio_enable_msix(&v->dev, efds, t.nvec, err))
		return -1;
	sync_command(v); /* memory and bus mastering off until the guest turns them on */
	return 0;
}

static void vfio_pci_destroy(struct device *d)
{
	struct vfio_pci *v = container_of(d, struct vfio_pci, device);
	for (unsigned i = 0; i < VFIO_NUM_BARS; i++) {
		if (v->map[i].hva)
			munmap(v->map[i].hva, v->map[i].size);
		v->map[i].hva = NULL;
	}
	vfio_close(&v->dev); /* the device stops signalling before its eventfds go */
	if (v->msix_ok)
		msix_destroy(&v->msix);
	v->msix_ok = false;
	free(v);
}

void vfio_pci_stats_json(struct vfio_pci *v, char *buf, size_t len)
{
	size_t n = 0;
#define PUT(...) (n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__))
	PUT("{\"device\":\"%s\",\"bdf\":\"%s\",\"group\":%u,\"bars\":[", v->device.id, v->dev.bdf,
	    v->dev.group_id);
	bool first = true;
	for (unsigned i = 0; i < VFIO_NUM_BARS; i++) {
		const struct pci_bar *b = &v->pci.bar[i];
		if (b->type == PCI_BAR_NONE)
			continue;
		uint64_t mapped = b->mapped;
		PUT("%s{\"bar\":%u,\"size\":%llu,\"addr\":", first ? "" : ",", i,
		    (unsigned long long)b->size);
		if (mapped == PCI_BAR_UNMAPPED)
			PUT("null");
		else
			PUT("\"0x%llx\"", (unsigned long long)mapped);
		PUT(",\"slots\":%u}", v->map[i].hva && mapped != PCI_BAR_UNMAPPED ? v->map[i].npieces : 0);
		first = false;
	}
	PUT("],\"msix\":{\"vectors\":%u,\"enabled\":%s},\"msix_accesses\":%llu,"
	    "\"trapped_reads\":%llu,\"trapped_writes\":%llu}",
	    v->msix_ok ? v->msix.nvec : 0, v->msix_ok && v->msix.enabled ? "true" : "false",
	    (unsigned long long)atomic_load(&v->msix_accesses),
	    (unsigned long long)atomic_load(&v->trapped_reads),
	    (unsigned long long)atomic_load(&v->trapped_writes));
#undef PUT
	if (n >= len && len)
		buf[len - 1] = '\0';
}

static void vfio_pci_stats(struct device *d, FILE *out)
{
	static char line[8192];
	vfio_pci_stats_json(container_of(d, struct vfio_pci, device), line, sizeof(line));
	fprintf(out, "%s\n", line);
}

/* On a vCPU: KVM_IRQFD attaches and detaches its MSI-X vectors as the guest
 * masks them, and its BARs' memory slots follow the guest's placement; the
 * BAR and config accesses themselves are pread/pwrite on the VFIO fd, which
 * vfio_pci_open gave seccomp (seccomp_allow_vfio_fd). */
static const unsigned long vcpu_ioctls[] = {KVM_IRQFD, KVM_SET_USER_MEMORY_REGION};
const struct seccomp_allow vfio_vcpu_seccomp = {
	.kind = "vcpu", .ioctls = vcpu_ioctls, .nioctls = ARRAY_SIZE(vcpu_ioctls),
};

/* Its memory slots: VFIO_PCI_SLOTS of them from VM_FIRST_DEVICE_SLOT up,
 * by the device's index. */
static struct pci_device *vfio_pci_attach(struct device *d, struct vm *vm, struct errbuf *e)
{
	struct vfio_pci *v = container_of(d, struct vfio_pci, device);
	uint32_t slots = VM_FIRST_DEVICE_SLOT + v->index * VFIO_PCI_SLOTS;
	return vfio_pci_create(v, &vm->mem, &vm->routes, vm->vm_fd, slots, e) ? NULL : &v->pci;
}

/* No save/restore: a passed-through device's state is in the hardware. */
static const struct device_ops vfio_device_ops = {
	.type = "vfio-pci",
	.attach = vfio_pci_attach,
	.vcpu = &vfio_vcpu_seccomp,
	.stats = vfio_pci_stats,
	.destroy = vfio_pci_destroy,
};
