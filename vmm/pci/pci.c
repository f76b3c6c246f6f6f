/* pci.c: PCI bus 0, configuration mechanism #1, host bridge, BAR allocation
 * and sizing, BAR decoding on the MMIO bus (see pci.h). Every guest-supplied
 * offset and size is clipped to the 256-byte configuration space. Also the
 * function's saved state for snapshots (pci_config_state_*). */
#include <string.h>

#include "vmm/pci/pci.h"
#include "vmm/lib/util.h"

#define BAR_END (PCI_BAR0 + 4 * PCI_NUM_BARS) /* 0x28 */

static void lock(struct pci_bus *bus)
{
	if (bus)
		pthread_mutex_lock(&bus->lock);
}

static void unlock(struct pci_bus *bus)
{
	if (bus)
		pthread_mutex_unlock(&bus->lock);
}

static void put_le(uint8_t *p, unsigned len, uint32_t v)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision, const struct pci_device_ops *ops,
		     void *opaque)
{
	memset(dev, 0, sizeof(*dev));
	put_le(dev->cfg + PCI_VENDOR_ID, 2, vendor);
	put_le(dev->cfg + PCI_DEVICE_ID, 2, device);
	dev->cfg[PCI_REVISION_ID] = revision;
	put_le(dev->cfg + PCI_CLASS_PROG, 3, class_code);
	dev->cfg[PCI_HEADER_TYPE] = 0; /* type 0, single function */
	/* Memory decoding, bus mastering, parity/SERR reporting, INTx disable.
	 * No I/O BARs, so no I/O decoding. */
	put_le(dev->wmask + PCI_COMMAND, 2,
	       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR |
		       PCI_COMMAND_INTX_DISABLE);
	dev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		dev->bar[i].mapped = PCI_BAR_UNMAPPED;
		dev->bar[i].dev = dev;
		dev->bar[i].index = i;
	}
	dev->ops = ops;
	dev->opaque = opaque;
	dev->cap_next = PCI_CAP_START;
}

void pci_device_set_subsystem(struct pci_device *dev, uint16_t vendor, uint16_t id)
{
	put_le(dev->cfg + PCI_SUBSYSTEM_VENDOR_ID, 2, vendor);
	put_le(dev->cfg + PCI_SUBSYSTEM_ID, 2, id);
}

/* Is slot i the upper half of a 64-bit BAR? */
static bool bar_is_upper(const struct pci_device *dev, unsigned i)
{
	return i > 0 && dev->bar[i - 1].type == PCI_BAR_MEM64;
}

int pci_device_add_bar(struct pci_device *dev, unsigned bar, enum pci_bar_type type,
		       uint64_t size)
{
	if (dev->bus || bar >= PCI_NUM_BARS || size < 16 || (size & (size - 1)))
		return -1;
	if (dev->bar[bar].type != PCI_BAR_NONE || bar_is_upper(dev, bar))
		return -1;
	if (type == PCI_BAR_MEM32) {
		if (size > GiB(2))
			return -1;
	} else if (type == PCI_BAR_MEM64) {
		if (bar + 1 >= PCI_NUM_BARS || dev->bar[bar + 1].type != PCI_BAR_NONE ||
		    size > (UINT64_C(1) << 63))
			return -1;
	} else {
		return -1;
	}
	dev->bar[bar].type = type;
	dev->bar[bar].size = size;
	return 0;
}

/* Write a BAR's register(s) in cfg from its address and type. */
static void bar_store(struct pci_device *dev, unsigned i)
{
	const struct pci_bar *b = &dev->bar[i];
	uint8_t *r = dev->cfg + PCI_BAR0 + 4 * i;
	if (b->type == PCI_BAR_MEM32) {
		put_le(r, 4, (uint32_t)b->addr);
	} else if (b->type == PCI_BAR_MEM64) {
		put_le(r, 4, (uint32_t)b->addr | PCI_BAR_MEM_TYPE_64 | PCI_BAR_MEM_PREFETCH);
		put_le(r + 4, 4, (uint32_t)(b->addr >> 32));
	}
}

/* The guest wrote val to BAR register i: keep only the address bits the
 * BAR's size allows (so writing all ones reads back the size mask). */
static void bar_write(struct pci_device *dev, unsigned i, uint32_t val)
{
	struct pci_bar *b = &dev->bar[i];
	if (b->type == PCI_BAR_MEM32 || b->type == PCI_BAR_MEM64) {
		uint64_t lo = val & 0xfffffff0u;
		b->addr = ((b->addr & 0xffffffff00000000ull) | lo) & ~(b->size - 1);
		if (b->type == PCI_BAR_MEM32)
			b->addr &= 0xffffffffull;
		bar_store(dev, i);
	} else if (bar_is_upper(dev, i)) {
		b = &dev->bar[i - 1];
		b->addr = ((b->addr & 0xffffffffull) | (uint64_t)val << 32) & ~(b->size - 1);
		bar_store(dev, i - 1);
	}
	/* Unused BAR registers stay zero. */
}

/* Where a BAR should be decoded now. */
static uint64_t bar_wanted(const struct pci_device *dev, const struct pci_bar *b)
{
	uint16_t cmd = (uint16_t)get_le16(dev->cfg + PCI_COMMAND);
	if (b->type == PCI_BAR_NONE || !(cmd & PCI_COMMAND_MEMORY) || b->addr == 0)
		return PCI_BAR_UNMAPPED;
	if (b->size - 1 > UINT64_MAX - b->addr) /* cannot happen: aligned; be safe */
		return PCI_BAR_UNMAPPED;
	return b->addr;
}

static void bar_mmio(void *opaque, uint64_t off, uint8_t *data, unsigned len, bool write)
{
	struct pci_bar *b = opaque;
	struct pci_device *dev = b->dev;
	if (dev->ops && dev->ops->bar_access)
		dev->ops->bar_access(dev, b->index, off, data, len, write);
	else if (!write)
		memset(data, 0xff, len);
}

static bool bar_on_mmio(const struct pci_device *dev)
{
	return dev->ops && dev->ops->bar_access;
}

/* Bring every BAR's decoding in line with its address and its device's
 * command register: first take down what moved or was switched off, then put
 * up what is wanted (so two BARs can swap places), then report. A BAR whose
 * wanted range overlaps another stays unmapped until a later change frees it.
 * The report follows the same order, across all devices: every BAR that left
 * an address is told so (old -> PCI_BAR_UNMAPPED) before any is told where
 * it is now (PCI_BAR_UNMAPPED -> new), so no device puts its ioeventfds or
 * memory slots where another BAR's still are: KVM would refuse them when a
 * BAR takes the place that a higher slot's BAR, or another BAR of its own
 * device, left in the same remap. A move is those two calls. Bus lock held. */
static void remap_all(struct pci_bus *bus)
{
	uint64_t old[PCI_MAX_SLOTS][PCI_NUM_BARS];
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = bus->dev[s];
		for (unsigned i = 0; dev && i < PCI_NUM_BARS; i++) {
			struct pci_bar *b = &dev->bar[i];
			old[s][i] = b->mapped;
			if (b->mapped != PCI_BAR_UNMAPPED && b->mapped != bar_wanted(dev, b)) {
				if (bar_on_mmio(dev))
					mmio_unregister(bus->mmio, b->mapped);
				b->mapped = PCI_BAR_UNMAPPED;
			}
		}
	}
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = bus->dev[s];
		for (unsigned i = 0; dev && i < PCI_NUM_BARS; i++) {
			struct pci_bar *b = &dev->bar[i];
			uint64_t want = bar_wanted(dev, b);
			if (b->mapped != PCI_BAR_UNMAPPED || want == PCI_BAR_UNMAPPED)
				continue;
			if (!bar_on_mmio(dev) ||
			    mmio_register(bus->mmio, want, b->size, bar_mmio, b) == 0)
				b->mapped = want;
		}
	}
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = bus->dev[s];
		for (unsigned i = 0; dev && dev->ops && dev->ops->bar_moved && i < PCI_NUM_BARS; i++)
			if (old[s][i] != dev->bar[i].mapped && old[s][i] != PCI_BAR_UNMAPPED)
				dev->ops->bar_moved(dev, i, old[s][i], PCI_BAR_UNMAPPED);
	}
	for (unsigned s = 0; s < PCI_MAX_SLOTS; s++) {
		struct pci_device *dev = bus->dev[s];
		for (unsigned i = 0; dev && dev->ops && dev->ops->bar_moved && i < PCI_NUM_BARS; i++)
			if (old[s][i] != dev->bar[i].mapped && dev->bar[i].mapped != PCI_BAR_UNMAPPED)
				dev->ops->bar_moved(dev, i, PCI_BAR_UNMAPPED, dev->bar[i].mapped);
	}
}

void pci_bus_init(struct pci_bus *bus, struct mmio_bus *mmio, const struct pci_windows *w)
{
	memset(bus, 0, sizeof(*bus));
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&bus->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	bus->mmio = mmio;
	bus->win = *w;
	bus->next32 = w->mem32_base;
	bus->next64 = w->mem64_base;
	pci_device_init(&bus->host_bridge, PCI_HOST_BRIDGE_VENDOR, PCI_HOST_BRIDGE_DEVICE,
			PCI_CLASS_BRIDGE_HOST, 0, NULL, NULL);
	bus->host_bridge.bus = bus;
	bus->host_bridge.slot = 0;
	bus->dev[0] = &bus->host_bridge;
}

void pci_bus_destroy(struct pci_bus *bus)
{
	pthread_mutex_destroy(&bus->lock);
}

/* Naturally aligned [*base, *base+size) from cursor within [.., end). */
static bool alloc_in(uint64_t cursor, uint64_t end, uint64_t size, uint64_t *base)
{
	uint64_t b = ALIGN_UP(cursor, size);
	if (b < cursor || b > end || size > end - b)
		return false;
	*base = b;
	return true;
}

int pci_bus_add_device(struct pci_bus *bus, struct pci_device *dev)
{
	if (dev->bus)
		return -1;
	lock(bus);
	int slot = -1;
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++) {
		if (!bus->dev[s]) {
			slot = (int)s;
			break;
		}
	}
	uint64_t n32 = bus->next32, n64 = bus->next64, addr[PCI_NUM_BARS] = {0};
	for (unsigned i = 0; slot >= 0 && i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &dev->bar[i];
		if (b->type == PCI_BAR_MEM32) {
			if (!alloc_in(n32, bus->win.mem32_end, b->size, &addr[i]))
				slot = -1;
			else
				n32 = addr[i] + b->size;
		} else if (b->type == PCI_BAR_MEM64) {
			if (!alloc_in(n64, bus->win.mem64_end, b->size, &addr[i]))
				slot = -1;
			else
				n64 = addr[i] + b->size;
		}
	}
	if (slot >= 0) {
		bus->next32 = n32;
		bus->next64 = n64;
		for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
			dev->bar[i].addr = addr[i];
			dev->bar[i].mapped = PCI_BAR_UNMAPPED;
			bar_store(dev, i);
		}
		dev->bus = bus;
		dev->slot = (unsigned)slot;
		bus->dev[slot] = dev;
	}
	unlock(bus);
	return slot;
}

int pci_add_capability(struct pci_device *dev, const void *data, unsigned len)
{
	struct pci_bus *bus = dev->bus;
	lock(bus);
	unsigned off = (unsigned)ALIGN_UP(dev->cap_next, 4);
	int ret = -1;
	if (len >= 2 && off < PCI_CFG_SIZE && len <= PCI_CFG_SIZE - off) {
		memcpy(dev->cfg + off, data, len);
		dev->cfg[off + 1] = 0;
		memset(dev->wmask + off, 0, len);
		if (dev->cap_last)
			dev->cfg[dev->cap_last + 1] = (uint8_t)off;
		else
			dev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
		dev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
		dev->cap_last = off;
		dev->cap_next = off + len;
		ret = (int)off;
	}
	unlock(bus);
	return ret;
}

void pci_set_wmask(struct pci_device *dev, unsigned off, unsigned len, uint32_t mask)
{
	struct pci_bus *bus = dev->bus;
	lock(bus);
	for (unsigned i = 0; i < len && i < 4 && off + i < PCI_CFG_SIZE; i++)
		dev->wmask[off + i] = (uint8_t)(mask >> (8 * i));
	unlock(bus);
}

uint32_t pci_config_get(struct pci_device *dev, unsigned off, unsigned len)
{
	struct pci_bus *bus = dev->bus;
	uint32_t v = 0;
	lock(bus);
	for (unsigned i = 0; i < len && i < 4; i++)
		if (off < PCI_CFG_SIZE && i < PCI_CFG_SIZE - off)
			v |= (uint32_t)dev->cfg[off + i] << (8 * i);
	unlock(bus);
	return v;
}

void pci_config_set(struct pci_device *dev, unsigned off, unsigned len, uint32_t val)
{
	struct pci_bus *bus = dev->bus;
	lock(bus);
	for (unsigned i = 0; i < len && i < 4; i++)
		if (off < PCI_CFG_SIZE && i < PCI_CFG_SIZE - off)
			dev->cfg[off + i] = (uint8_t)(val >> (8 * i));
	unlock(bus);
}

static void config_write(struct pci_bus *bus, struct pci_device *dev, unsigned off,
			 const uint8_t *data, unsigned n)
{
	bool remap = false;
	unsigned bar_first = PCI_NUM_BARS, bar_last = 0;
	uint8_t bars[BAR_END - PCI_BAR0];
	memcpy(bars, dev->cfg + PCI_BAR0, sizeof(bars));
	for (unsigned i = 0; i < n; i++) {
		unsigned o = off + i;
		if (o >= PCI_BAR0 && o < BAR_END) {
			unsigned idx = (o - PCI_BAR0) / 4;
			bars[o - PCI_BAR0] = data[i];
			if (idx < bar_first)
				bar_first = idx;
			if (idx > bar_last)
				bar_last = idx;
			continue;
		}
		dev->cfg[o] = (uint8_t)((dev->cfg[o] & ~dev->wmask[o]) | (data[i] & dev->wmask[o]));
		if (o == PCI_COMMAND || o == PCI_COMMAND + 1)
			remap = true;
	}
	for (unsigned idx = bar_first; idx <= bar_last && idx < PCI_NUM_BARS; idx++) {
		bar_write(dev, idx, get_le32(bars + 4 * idx));
		remap = true;
	}
	if (remap)
		remap_all(bus);
	if (dev->ops && dev->ops->config_write)
		dev->ops->config_write(dev, off, data, n);
}

void pci_config_access(struct pci_bus *bus, unsigned slot, unsigned fn, unsigned off,
		       uint8_t *data, unsigned len, bool write)
{
	if (!write)
		memset(data, 0xff, len);
	lock(bus);
	struct pci_device *dev = slot < PCI_MAX_SLOTS && fn == 0 ? bus->dev[slot] : NULL;
	unsigned n = 0;
	if (off < PCI_CFG_SIZE)
		n = len < PCI_CFG_SIZE - off ? len : PCI_CFG_SIZE - off;
	if (dev && n) {
		if (write) {
			config_write(bus, dev, off, data, n);
		} else {
			memcpy(data, dev->cfg + off, n);
			if (dev->ops && dev->ops->config_read)
				dev->ops->config_read(dev, off, data, n);
		}
	}
	unlock(bus);
}

void pci_conf1_io(void *opaque, uint16_t port, uint8_t *data, unsigned size, bool write)
{
	struct pci_bus *bus = opaque;
	unsigned p = (unsigned)(port - PCI_CONF1_ADDR_PORT);
	if (p >= PCI_CONF1_PORTS)
		return;
	if (!write)
		memset(data, 0xff, size);
	/* Never past port 0xCFF (a 4-byte access at 0xCFD, say). */
	unsigned n = size < PCI_CONF1_PORTS - p ? size : PCI_CONF1_PORTS - p;
	lock(bus);
	if (p < 4) {
		/* The address latch: only 32-bit accesses at 0xCF8 set it (the
		 * byte write to 0xCFB Linux's type-1 probe does is ignored);
		 * reserved bits 30:24 and 1:0 read as zero. */
		if (write && p == 0 && size == 4)
			bus->conf1_addr = get_le32(data) & 0x80fffffcu;
		else if (!write)
			for (unsigned i = 0; i < n && p + i < 4; i++)
				data[i] = (uint8_t)(bus->conf1_addr >> (8 * (p + i)));
	} else {
		uint32_t a = bus->conf1_addr;
		unsigned busno = (a >> 16) & 0xff, slot = (a >> 11) & 0x1f, fn = (a >> 8) & 7;
		if ((a & PCI_CONF1_ENABLE) && busno == 0)
			pci_config_access(bus, slot, fn, (a & 0xfc) + (p - 4), data, n, write);
	}
	unlock(bus);
}

/* ---- Saved state ---- */

void pci_config_state_save(struct pci_device *dev, struct pci_config_state *s)
{
	memset(s, 0, sizeof(*s));
	lock(dev->bus);
	for (unsigned o = 0; o < PCI_CFG_SIZE; o++)
		s->cfg[o] = dev->cfg[o] & dev->wmask[o];
	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		if (dev->bar[i].type != PCI_BAR_NONE)
			s->bar[i] = dev->bar[i].addr;
	unlock(dev->bus);
}

void pci_config_state_put(struct codec_writer *w, uint16_t tag, const struct pci_config_state *s)
{
	cw_section(w, tag);
	cw_bytes(w, s->cfg, sizeof(s->cfg));
	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		cw_u64(w, s->bar[i]);
}

int pci_config_state_get(struct codec_reader *r, uint16_t tag, const struct pci_device *dev,
			 struct pci_config_state *s)
{
	size_t n;
	memset(s, 0, sizeof(*s));
	if (cr_section(r, tag, "PCI config", &n) || cr_expect(r, n, PCI_CFG_SIZE + 8 * PCI_NUM_BARS) ||
	    cr_bytes(r, s->cfg, sizeof(s->cfg)))
		return -1;
	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		if (cr_u64(r, &s->bar[i]))
			return -1;
	for (unsigned o = 0; o < PCI_CFG_SIZE; o++)
		if (s->cfg[o] & ~dev->wmask[o])
			return cr_fail(r, "byte %#x has bits %#x the guest cannot write", o,
				       s->cfg[o] & ~dev->wmask[o]);
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		const struct pci_bar *b = &dev->bar[i];
		uint64_t a = s->bar[i];
		if (b->type == PCI_BAR_NONE) {
			if (a)
				return cr_fail(r, "BAR %u has address %#llx but the device has no such BAR",
					       i, (unsigned long long)a);
			continue;
		}
		if (a & (b->size - 1))
			return cr_fail(r, "BAR %u at %#llx is not aligned to its size %#llx", i,
				       (unsigned long long)a, (unsigned long long)b->size);
		if (b->size - 1 > UINT64_MAX - a ||
		    (b->type == PCI_BAR_MEM32 && a + b->size > (UINT64_C(1) << 32)))
			return cr_fail(r, "BAR %u at %#llx (%#llx bytes) is outside what it can address",
				       i, (unsigned long long)a, (unsigned long long)b->size);
	}
	return 0;
}

void pci_config_state_apply(struct pci_device *dev, const struct pci_config_state *s)
{
	struct pci_bus *bus = dev->bus;
	lock(bus);
	for (unsigned o = 0; o < PCI_CFG_SIZE; o++)
		dev->cfg[o] = (uint8_t)((dev->cfg[o] & ~dev->wmask[o]) | (s->cfg[o] & dev->wmask[o]));
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		if (dev->bar[i].type == PCI_BAR_NONE)
			continue;
		dev->bar[i].addr = s->bar[i];
		bar_store(dev, i);
	}
	if (bus)
		remap_all(bus);
	if (dev->ops && dev->ops->config_write) {
		uint8_t all[PCI_CFG_SIZE];
		memcpy(all, dev->cfg, sizeof(all));
		dev->ops->config_write(dev, 0, all, PCI_CFG_SIZE);
	}
	unlock(bus);
}

enum { PCI_SEC_CONFIG = 1 };

size_t pci_config_state_encode(const struct pci_config_state *s, uint8_t *buf, size_t cap)
{
	struct codec_writer w;
	cw_begin(&w, buf, cap, PCI_CONFIG_STATE_MAGIC, PCI_CONFIG_STATE_VERSION);
	pci_config_state_put(&w, PCI_SEC_CONFIG, s);
	return cw_finish(&w);
}

int pci_config_state_decode(const uint8_t *buf, size_t len, const struct pci_device *dev,
			    struct pci_config_state *s, struct errbuf *err)
{
	struct codec_reader r;
	if (cr_begin(&r, buf, len, PCI_CONFIG_STATE_MAGIC, PCI_CONFIG_STATE_VERSION,
		     "PCI function state", err) ||
	    pci_config_state_get(&r, PCI_SEC_CONFIG, dev, s) || cr_end(&r)) {
		memset(s, 0, sizeof(*s));
		return -1;
	}
	return 0;
}
