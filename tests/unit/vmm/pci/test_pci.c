/* test_pci.c: the PCI bus (pci.c) through its 0xCF8/0xCFC ports on a pio bus:
 * the conf1 address latch (32-bit only, reserved bits zero, enable bit);
 * host bridge IDs and class at 00:00.0; absent devices, other functions and
 * other buses read all ones; BAR allocation (naturally aligned, inside the
 * windows, exhaustion refused, 31 devices at most); BAR sizing for 32- and
 * 64-bit BARs (including a BAR larger than 4 GiB); memory decoding and BAR
 * reprogramming move the device's region on the MMIO bus and report it through
 * bar_moved, two BARs can swap places; bar_moved reports every BAR's leaving
 * before any BAR's arrival, so no device is told a BAR of its is at an address
 * another device's BAR has not been told it left (their ioeventfds would
 * clash in KVM); read-only fields stay read-only and the
 * command register is only partly writable; the capability chain and write
 * masks; config hooks; and hostile accesses (every offset, size and port,
 * random latches and data, bogus BAR values) never touch memory outside the
 * 256 bytes (run under ASan) nor break the invariants. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/pci/pci.h"
#include "vmm/core/pio.h"
#include "vmm/lib/util.h"

struct fake {
	struct pci_device pci;
	unsigned calls, bar;
	uint64_t off;
	unsigned len;
	bool write;
	uint8_t wdata[8];
	unsigned moves;
	unsigned moved_bar;
	uint64_t moved_old, moved_new;
	uint64_t told[PCI_NUM_BARS]; /* where bar_moved last said each BAR is */
	unsigned cfg_writes, cfg_write_off, cfg_write_len;
	bool patch_read;
};

static void fake_bar(struct pci_device *dev, unsigned bar, uint64_t off, uint8_t *data,
		     unsigned len, bool write)
{
	struct fake *f = (struct fake *)dev;
	f->calls++;
	f->bar = bar;
	f->off = off;
	f->len = len;
	f->write = write;
	if (write)
		memcpy(f->wdata, data, len);
	else
		memset(data, 0xa0 + bar, len);
}

/* Every bar_moved call, in order, across devices (the bar_moved tests). */
static struct moved_event {
	struct fake *f;
	unsigned bar;
	uint64_t old_addr, new_addr;
} moved_log[64];
static unsigned moved_n;

/* The fakes whose reported BARs fake_moved checks one another against, and
 * what it found: a BAR reported at a range another reported BAR still holds
 * (KVM would refuse the second device's ioeventfds or memory slots there),
 * and an old_addr other than the one reported before. */
static struct fake *watched[4];
static unsigned nwatched, clashes, stale_olds;

static void watch_reset(void)
{
	nwatched = clashes = stale_olds = moved_n = 0;
}

static bool overlaps(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
	return a < b + bsize && b < a + asize;
}

static void fake_moved(struct pci_device *dev, unsigned bar, uint64_t old_addr, uint64_t new_addr)
{
	struct fake *f = (struct fake *)dev;
	f->moves++;
	f->moved_bar = bar;
	f->moved_old = old_addr;
	f->moved_new = new_addr;
	if (moved_n < sizeof(moved_log) / sizeof(moved_log[0]))
		moved_log[moved_n++] = (struct moved_event){f, bar, old_addr, new_addr};
	if (bar >= PCI_NUM_BARS)
		return;
	if (old_addr != f->told[bar])
		stale_olds++;
	f->told[bar] = new_addr;
	if (new_addr == PCI_BAR_UNMAPPED)
		return;
	for (unsigned k = 0; k < nwatched; k++)
		for (unsigned j = 0; j < PCI_NUM_BARS; j++)
			if ((watched[k] != f || j != bar) && watched[k]->told[j] != PCI_BAR_UNMAPPED &&
			    overlaps(new_addr, dev->bar[bar].size, watched[k]->told[j],
				     watched[k]->pci.bar[j].size))
				clashes++;
}

static void fake_cfg_read(struct pci_device *dev, unsigned off, uint8_t *data, unsigned len)
{
	struct fake *f = (struct fake *)dev;
	/* A live register at 0x44 (inside its capability). */
	if (f->patch_read && off <= 0x44 && off + len > 0x44)
		data[0x44 - off] = 0x99;
}

static void fake_cfg_write(struct pci_device *dev, unsigned off, const uint8_t *data, unsigned len)
{
	(void)data;
	struct fake *f = (struct fake *)dev;
	f->cfg_writes++;
	f->cfg_write_off = off;
	f->cfg_write_len = len;
}

static const struct pci_device_ops fake_ops = {fake_bar, fake_moved, fake_cfg_read, fake_cfg_write};

struct env {
	struct mmio_bus mmio;
	struct pci_bus pci;
	struct pio_bus pio;
};

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	struct mem_layout l;
	layout_init(&l, GiB(5)); /* 2 GiB above 4 GiB: mem64 window at 6 GiB */
	struct pci_windows w;
	pci_default_windows(&l, &w);
	mmio_bus_init(&e->mmio);
	pci_bus_init(&e->pci, &e->mmio, &w);
	pio_register(&e->pio, PCI_CONF1_ADDR_PORT, PCI_CONF1_PORTS, pci_conf1_io, &e->pci);
	return e;
}

static void env_free(struct env *e)
{
	pci_bus_destroy(&e->pci);
	mmio_bus_destroy(&e->mmio);
	free(e);
}

static void outl(struct env *e, uint16_t port, uint32_t v)
{
	uint8_t d[4];
	memcpy(d, &v, 4);
	pio_dispatch(&e->pio, port, d, 4, true);
}

static uint32_t inl(struct env *e, uint16_t port)
{
	uint8_t d[4];
	pio_dispatch(&e->pio, port, d, 4, false);
	return get_le32(d);
}

static uint32_t addr_of(unsigned bus, unsigned slot, unsigned fn, unsigned reg)
{
	return PCI_CONF1_ENABLE | bus << 16 | slot << 11 | fn << 8 | (reg & 0xfc);
}

/* Config read/write of len bytes at off through the ports (as Linux does). */
static uint32_t cfg_rd(struct env *e, unsigned slot, unsigned off, unsigned len)
{
	outl(e, 0xcf8, addr_of(0, slot, 0, off));
	uint8_t d[4] = {0};
	pio_dispatch(&e->pio, (uint16_t)(0xcfc + (off & 3)), d, len, false);
	uint32_t v = 0;
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)d[i] << (8 * i);
	return v;
}

static void cfg_wr(struct env *e, unsigned slot, unsigned off, unsigned len, uint32_t v)
{
	outl(e, 0xcf8, addr_of(0, slot, 0, off));
	uint8_t d[4];
	memcpy(d, &v, 4);
	pio_dispatch(&e->pio, (uint16_t)(0xcfc + (off & 3)), d, len, true);
}

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		f->told[i] = PCI_BAR_UNMAPPED;
	pci_device_init(&f->pci, 0x1af4, 0x1042, 0x018000, 1, &fake_ops, NULL);
	pci_device_set_subsystem(&f->pci, 0x1af4, 0x0002);
}

static void conf1_address_latch(void)
{
	struct env *e = env_new();
	outl(e, 0xcf8, 0x80000000);
	CHECK_EQ(inl(e, 0xcf8), 0x80000000);
	outl(e, 0xcf8, 0xffffffff);
	CHECK_EQ(inl(e, 0xcf8), 0x80fffffc);
	/* Linux's type-1 probe writes a byte to 0xCFB: ignored. */
	uint8_t b = 0x01;
	pio_dispatch(&e->pio, 0xcfb, &b, 1, true);
	CHECK_EQ(inl(e, 0xcf8), 0x80fffffc);
	uint8_t w[2] = {0x12, 0x34};
	pio_dispatch(&e->pio, 0xcf8, w, 2, true);
	CHECK_EQ(inl(e, 0xcf8), 0x80fffffc);
	pio_dispatch(&e->pio, 0xcf9, &b, 1, false);
	CHECK_EQ(b, 0xff);
	pio_dispatch(&e->pio, 0xcfb, &b, 1, false);
	CHECK_EQ(b, 0x80);
	/* Enable bit clear: no config cycle. */
	outl(e, 0xcf8, 0);
	CHECK_EQ(inl(e, 0xcfc), 0xffffffff);
	outl(e, 0xcf8, addr_of(0, 0, 0, 0) & ~PCI_CONF1_ENABLE);
	CHECK_EQ(inl(e, 0xcfc), 0xffffffff);
	env_free(e);
}

static void host_bridge(void)
{
	struct env *e = env_new();
	CHECK_EQ(cfg_rd(e, 0, 0, 4), PCI_HOST_BRIDGE_DEVICE << 16 | PCI_HOST_BRIDGE_VENDOR);
	CHECK_EQ(cfg_rd(e, 0, 0, 2), 0x8086);
	CHECK_EQ(cfg_rd(e, 0, 2, 2), 0x0d57);
	CHECK_EQ(cfg_rd(e, 0, 1, 1), 0x80);
	CHECK_EQ(cfg_rd(e, 0, 8, 4) >> 8, 0x060000);
	CHECK_EQ(cfg_rd(e, 0, PCI_HEADER_TYPE, 1), 0);
	for (unsigned i = 0; i < 6; i++)
		CHECK_EQ(cfg_rd(e, 0, PCI_BAR0 + 4 * i, 4), 0);
	env_free(e);
}

static void absent_reads_all_ones(void)
{
	struct env *e = env_new();
	struct fake f;
	fake_init(&f);
	CHECK_EQ(pci_bus_add_device(&e->pci, &f.pci), 1);
	CHECK_EQ(cfg_rd(e, 1, 0, 4), 0x10421af4);
	CHECK_EQ(cfg_rd(e, 2, 0, 4), 0xffffffff);
	CHECK_EQ(cfg_rd(e, 31, 0, 2), 0xffff);
	outl(e, 0xcf8, addr_of(0, 1, 1, 0)); /* function 1 */
	CHECK_EQ(inl(e, 0xcfc), 0xffffffff);
	outl(e, 0xcf8, addr_of(1, 1, 0, 0)); /* bus 1 */
	CHECK_EQ(inl(e, 0xcfc), 0xffffffff);
	outl(e, 0xcf8, addr_of(0, 0, 7, 0)); /* host bridge function 7 */
	CHECK_EQ(inl(e, 0xcfc), 0xffffffff);
	cfg_wr(e, 2, 4, 2, 0xffff); /* writes to nobody vanish */
	CHECK_EQ(cfg_rd(e, 2, 4, 2), 0xffff);
	env_free(e);
}

static void bar_allocation(void)
{
	struct env *e = env_new();
	struct fake a, b;
	fake_init(&a);
	fake_init(&b);
	CHECK_EQ(pci_device_add_bar(&a.pci, 0, PCI_BAR_MEM32, 0x1000), 0);
	CHECK_EQ(pci_device_add_bar(&a.pci, 1, PCI_BAR_MEM32, 0x100000), 0);
	CHECK_EQ(pci_device_add_bar(&a.pci, 2, PCI_BAR_MEM64, 0x4000), 0);
	CHECK_EQ(pci_device_add_bar(&a.pci, 3, PCI_BAR_MEM32, 0x1000), -1); /* upper half */
	CHECK_EQ(pci_device_add_bar(&a.pci, 5, PCI_BAR_MEM64, 0x1000), -1); /* no room */
	CHECK_EQ(pci_device_add_bar(&a.pci, 4, PCI_BAR_MEM32, 0x1800), -1); /* not 2^n */
	CHECK_EQ(pci_device_add_bar(&a.pci, 4, PCI_BAR_MEM32, 8), -1);
	CHECK_EQ(pci_device_add_bar(&a.pci, 4, PCI_BAR_MEM32, GiB(4)), -1);
	CHECK_EQ(pci_device_add_bar(&a.pci, 6, PCI_BAR_MEM32, 0x1000), -1);
	CHECK_EQ(pci_device_add_bar(&a.pci, 0, PCI_BAR_MEM32, 0x1000), -1); /* taken */
	CHECK_EQ(pci_device_add_bar(&a.pci, 4, PCI_BAR_NONE, 0x1000), -1);
	CHECK_EQ(pci_bus_add_device(&e->pci, &a.pci), 1);
	CHECK_EQ(pci_device_add_bar(&a.pci, 4, PCI_BAR_MEM32, 0x1000), -1); /* on the bus */
	CHECK_EQ(pci_bus_add_device(&e->pci, &a.pci), -1);
	CHECK_EQ(a.pci.bar[0].addr, 0xc0000000);
	CHECK_EQ(a.pci.bar[1].addr, 0xc0100000); /* naturally aligned */
	CHECK_EQ(a.pci.bar[2].addr, GiB(6));
	CHECK_EQ(cfg_rd(e, 1, 0x10, 4), 0xc0000000);
	CHECK_EQ(cfg_rd(e, 1, 0x14, 4), 0xc0100000);
	CHECK_EQ(cfg_rd(e, 1, 0x18, 4), 0x8000000c); /* 64-bit, prefetchable */
	CHECK_EQ(cfg_rd(e, 1, 0x1c, 4), 0x1);
	CHECK_EQ(cfg_rd(e, 1, 0x20, 4), 0);
	/* Memory decoding starts off: nothing on the MMIO bus yet. */
	CHECK_EQ(e->mmio.n, 0);
	/* Exhausting the 32-bit window: the device is refused whole. */
	CHECK_EQ(pci_device_add_bar(&b.pci, 0, PCI_BAR_MEM32, GiB(1)), 0);
	CHECK_EQ(pci_bus_add_device(&e->pci, &b.pci), -1);
	CHECK(b.pci.bus == NULL);
	fake_init(&b);
	CHECK_EQ(pci_device_add_bar(&b.pci, 0, PCI_BAR_MEM64, GiB(64)), 0);
	CHECK_EQ(pci_bus_add_device(&e->pci, &b.pci), -1); /* window is 64 GiB, 6 GiB used */
	fake_init(&b);
	CHECK_EQ(pci_device_add_bar(&b.pci, 0, PCI_BAR_MEM64, GiB(8)), 0);
	CHECK_EQ(pci_device_add_bar(&b.pci, 2, PCI_BAR_MEM32, 0x1000), 0);
	CHECK_EQ(pci_bus_add_device(&e->pci, &b.pci), 2);
	CHECK_EQ(b.pci.bar[0].addr, GiB(8));
	CHECK_EQ(b.pci.bar[2].addr, 0xc0200000); /* after a's 1 MiB BAR */
	env_free(e);
}

static void thirty_one_devices(void)
{
	struct env *e = env_new();
	static struct fake f[32];
	for (unsigned i = 0; i < 31; i++) {
		fake_init(&f[i]);
		CHECK_EQ(pci_bus_add_device(&e->pci, &f[i].pci), (int)i + 1);
	}
	fake_init(&f[31]);
	CHECK_EQ(pci_bus_add_device(&e->pci, &f[31].pci), -1);
	env_free(e);
}

static void bar_sizing(void)
{
	struct env *e = env_new();
	struct fake f;
	fake_init(&f);
	CHECK_EQ(pci_device_add_bar(&f.pci, 0, PCI_BAR_MEM32, 0x4000), 0);
	CHECK_EQ(pci_device_add_bar(&f.pci, 1, PCI_BAR_MEM64, 0x100000), 0);
	CHECK_EQ(pci_device_add_bar(&f.pci, 3, PCI_BAR_MEM64, GiB(8)), 0);
	CHECK_EQ(pci_bus_add_device(&e->pci, &f.pci), 1);
	uint32_t orig0 = cfg_rd(e, 1, 0x10, 4);
	cfg_wr(e, 1, 0x10, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(e, 1, 0x10, 4), 0xffffc000);
	cfg_wr(e, 1, 0x10, 4, orig0);
	CHECK_EQ(cfg_rd(e, 1, 0x10, 4), orig0);
	/* 64-bit, 1 MiB */
	cfg_wr(e, 1, 0x14, 4, 0xffffffff);
	cfg_wr(e, 1, 0x18, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(e, 1, 0x14, 4), 0xfff0000c);
	CHECK_EQ(cfg_rd(e, 1, 0x18, 4), 0xffffffff);
	/* 64-bit, 8 GiB: the size shows in the upper dword */
	cfg_wr(e, 1, 0x1c, 4, 0xffffffff);
	cfg_wr(e, 1, 0x20, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(e, 1, 0x1c, 4), 0x0000000c);
	CHECK_EQ(cfg_rd(e, 1, 0x20, 4), 0xfffffffe);
	/* Unused BAR and ROM BAR read zero after sizing writes. */
	cfg_wr(e, 1, 0x24, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(e, 1, 0x24, 4), 0);
	cfg_wr(e, 1, PCI_ROM_ADDRESS, 4, 0xfffff800);
	CHECK_EQ(cfg_rd(e, 1, PCI_ROM_ADDRESS, 4), 0);
	/* Byte-wise BAR writes merge. */
	cfg_wr(e, 1, 0x13, 1, 0xd0);
	cfg_wr(e, 1, 0x12, 1, 0x12);
	cfg_wr(e, 1, 0x11, 1, 0x34);
	cfg_wr(e, 1, 0x10, 1, 0xff);
	CHECK_EQ(cfg_rd(e, 1, 0x10, 4), 0xd0120000);
	CHECK_EQ(f.pci.bar[0].addr, 0xd0120000);
	env_free(e);
}

static void reprogramming_moves_region(void)
{
	struct env *e = env_new();
	struct fake f;
	fake_init(&f);
	CHECK_EQ(pci_device_add_bar(&f.pci, 0, PCI_BAR_MEM32, 0x1000), 0);
	CHECK_EQ(pci_device_add_bar(&f.pci, 2, PCI_BAR_MEM64, 0x4000), 0);
	CHECK_EQ(pci_bus_add_device(&e->pci, &f.pci), 1);
	uint8_t d[8];
	CHECK(!mmio_dispatch(&e->mmio, 0xc0000000, d, 4, false));
	cfg_wr(e, 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	CHECK_EQ(e->mmio.n, 2);
	CHECK_EQ(f.moves, 2);
	CHECK(mmio_dispatch(&e->mmio, 0xc0000010, d, 4, false));
	CHECK_EQ(f.bar, 0);
	CHECK_EQ(f.off, 0x10);
	CHECK_EQ(d[0], 0xa0);
	CHECK(mmio_dispatch(&e->mmio, GiB(6) + 0x3ff8, d, 8, true));
	CHECK_EQ(f.bar, 2);
	CHECK_EQ(f.off, 0x3ff8);
	CHECK_EQ(f.len, 8);
	/* Move BAR0: reported as leaving its old address, then at the new one. */
	watch_reset();
	cfg_wr(e, 1, 0x10, 4, 0xd0000000);
	CHECK_EQ(moved_n, 2);
	CHECK(moved_log[0].f == &f && moved_log[1].f == &f);
	CHECK_EQ(moved_log[0].bar, 0);
	CHECK_EQ(moved_log[0].old_addr, 0xc0000000);
	CHECK_EQ(moved_log[0].new_addr, PCI_BAR_UNMAPPED);
	CHECK_EQ(moved_log[1].bar, 0);
	CHECK_EQ(moved_log[1].old_addr, PCI_BAR_UNMAPPED);
	CHECK_EQ(moved_log[1].new_addr, 0xd0000000);
	CHECK(!mmio_dispatch(&e->mmio, 0xc0000010, d, 4, false));
	CHECK(mmio_dispatch(&e->mmio, 0xd0000ffc, d, 4, false));
	CHECK_EQ(f.off, 0xffc);
	/* Move the 64-bit BAR, one dword at a time (the halfway address is
	 * decoded too, as on hardware). */
	cfg_wr(e, 1, 0x18, 4, 0x00008000);
	cfg_wr(e, 1, 0x1c, 4, 0x00000010);
	CHECK_EQ(f.moved_bar, 2);
	CHECK_EQ(f.moved_new, 0x1000008000ull);
	CHECK(!mmio_dispatch(&e->mmio, GiB(6), d, 4, false));
	CHECK(mmio_dispatch(&e->mmio, 0x1000008000ull, d, 4, false));
	CHECK_EQ(e->mmio.n, 2);
	/* Decoding off: both regions leave the bus. */
	unsigned moves = f.moves;
	cfg_wr(e, 1, PCI_COMMAND, 2, 0);
	CHECK_EQ(e->mmio.n, 0);
	CHECK_EQ(f.moves, moves + 2);
	CHECK_EQ(f.moved_new, PCI_BAR_UNMAPPED);
	CHECK(!mmio_dispatch(&e->mmio, 0xd0000000, d, 4, false));
	/* A write while decoding is off does not map; turning it on does. */
	cfg_wr(e, 1, 0x10, 4, 0xe0000000);
	CHECK_EQ(e->mmio.n, 0);
	cfg_wr(e, 1, PCI_COMMAND, 1, PCI_COMMAND_MEMORY);
	CHECK(mmio_dispatch(&e->mmio, 0xe0000000, d, 4, false));
	CHECK_EQ(e->mmio.n, 2);
	/* Address 0 is "unassigned": not decoded. */
	cfg_wr(e, 1, 0x10, 4, 0);
	CHECK_EQ(e->mmio.n, 1);
	env_free(e);
}

static void bars_swap_places(void)
{
	struct env *e = env_new();
	struct fake a, b;
	fake_init(&a);
	fake_init(&b);
	CHECK_EQ(pci_device_add_bar(&a.pci, 0, PCI_BAR_MEM32, 0x1000), 0);
	CHECK_EQ(pci_device_add_bar(&b.pci, 0, PCI_BAR_MEM32, 0x1000), 0);
	CHECK_EQ(pci_bus_add_device(&e->pci, &a.pci), 1);
	CHECK_EQ(pci_bus_add_device(&e->pci, &b.pci), 2);
	cfg_wr(e, 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cfg_wr(e, 2, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	CHECK_EQ(e->mmio.n, 2);
	/* a onto b's address: a cannot be decoded there yet... */
	cfg_wr(e, 1, 0x10, 4, 0xc0001000);
	CHECK_EQ(a.pci.bar[0].mapped, PCI_BAR_UNMAPPED);
	uint8_t d[4];
	CHECK(mmio_dispatch(&e->mmio, 0xc0001000, d, 4, false));
	CHECK_EQ(d[0], 0xa0);
	CHECK_EQ(b.calls, 1);
	/* ...until b moves away. */
	cfg_wr(e, 2, 0x10, 4, 0xc0000000);
	CHECK_EQ(a.pci.bar[0].mapped, 0xc0001000);
	CHECK_EQ(b.pci.bar[0].mapped, 0xc0000000);
	CHECK(mmio_dispatch(&e->mmio, 0xc0001000, d, 4, false));
	CHECK_EQ(a.calls, 1);
	CHECK(mmio_dispatch(&e->mmio, 0xc0000000, d, 4, false));
	CHECK_EQ(b.calls, 2);
	env_free(e);
}

/* Where bar_moved last put every BAR is where it is decoded. */
static void check_told(struct fake *const *fs, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		for (unsigned i = 0; i < PCI_NUM_BARS; i++)
			CHECK_EQ(fs[k]->told[i], fs[k]->pci.bar[i].mapped);
}

/* The steps of bar_moves_reported_leaving_first, on its bus and fakes (a
 * failed check returns here, so the case still cleans up). */
static void leaving_first_steps(struct env *e, struct fake *a, struct fake *b)
{
	CHECK_EQ(pci_device_add_bar(&a->pci, 0, PCI_BAR_MEM32, 0x1000), 0);
	CHECK_EQ(pci_device_add_bar(&a->pci, 1, PCI_BAR_MEM32, 0x1000), 0);
	CHECK_EQ(pci_device_add_bar(&b->pci, 0, PCI_BAR_MEM32, 0x1000), 0);
	CHECK_EQ(pci_bus_add_device(&e->pci, &a->pci), 1);
	CHECK_EQ(pci_bus_add_device(&e->pci, &b->pci), 2);
	CHECK_EQ(a->pci.bar[0].addr, 0xc0000000);
	CHECK_EQ(a->pci.bar[1].addr, 0xc0001000);
	CHECK_EQ(b->pci.bar[0].addr, 0xc0002000);
	struct fake *const all[] = {a, b};
	cfg_wr(e, 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	cfg_wr(e, 2, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	check_told(all, 2);
	/* a's BAR 0 onto b's: it waits (not decoded, reported unmapped). */
	cfg_wr(e, 1, 0x10, 4, 0xc0002000);
	CHECK_EQ(a->pci.bar[0].mapped, PCI_BAR_UNMAPPED);
	check_told(all, 2);
	/* b into the place a left: a takes b's, in the same remap. */
	moved_n = 0;
	cfg_wr(e, 2, 0x10, 4, 0xc0000000);
	CHECK_EQ(a->pci.bar[0].mapped, 0xc0002000);
	CHECK_EQ(b->pci.bar[0].mapped, 0xc0000000);
	CHECK_EQ(clashes, 0);
	CHECK_EQ(stale_olds, 0);
	CHECK_EQ(moved_n, 3);
	CHECK(moved_log[0].f == b);
	CHECK_EQ(moved_log[0].old_addr, 0xc0002000);
	CHECK_EQ(moved_log[0].new_addr, PCI_BAR_UNMAPPED);
	CHECK(moved_log[1].f == a);
	CHECK_EQ(moved_log[1].bar, 0);
	CHECK_EQ(moved_log[1].old_addr, PCI_BAR_UNMAPPED);
	CHECK_EQ(moved_log[1].new_addr, 0xc0002000);
	CHECK(moved_log[2].f == b);
	CHECK_EQ(moved_log[2].old_addr, PCI_BAR_UNMAPPED);
	CHECK_EQ(moved_log[2].new_addr, 0xc0000000);
	check_told(all, 2);
	/* a's two BARs swap in one step (a snapshot's state applied). */
	struct pci_config_state st;
	pci_config_state_save(&a->pci, &st);
	st.bar[0] = 0xc0001000;
	st.bar[1] = 0xc0002000;
	moved_n = 0;
	pci_config_state_apply(&a->pci, &st);
	CHECK_EQ(a->pci.bar[0].mapped, 0xc0001000);
	CHECK_EQ(a->pci.bar[1].mapped, 0xc0002000);
	CHECK_EQ(clashes, 0);
	CHECK_EQ(stale_olds, 0);
	CHECK_EQ(moved_n, 4);
	CHECK_EQ(moved_log[0].new_addr, PCI_BAR_UNMAPPED);
	CHECK_EQ(moved_log[1].new_addr, PCI_BAR_UNMAPPED);
	check_told(all, 2);
}

/* Two devices' BARs trade places in one remap (a was waiting for b's
 * address): b must be told it left before a is told it arrived, or a's
 * ioeventfds would go where b's still are and KVM refuse them. Then two BARs
 * of one device swap through a saved state, which sets both at once. */
static void bar_moves_reported_leaving_first(void)
{
	struct env *e = env_new();
	struct fake a, b;
	fake_init(&a);
	fake_init(&b);
	watch_reset();
	watched[nwatched++] = &a;
	watched[nwatched++] = &b;
	leaving_first_steps(e, &a, &b);
	watch_reset(); /* a and b go out of scope: fake_moved must not look at them */
	env_free(e);
}

/* The steps of bar_moves_random_never_clash. */
static void random_moves_steps(struct env *e, struct fake *const *all)
{
	for (unsigned k = 0; k < 3; k++) {
		CHECK_EQ(pci_device_add_bar(&all[k]->pci, 0, PCI_BAR_MEM32, 0x1000), 0);
		CHECK_EQ(pci_device_add_bar(&all[k]->pci, 1, PCI_BAR_MEM32, 0x2000), 0);
		CHECK_EQ(pci_bus_add_device(&e->pci, &all[k]->pci), k + 1);
		cfg_wr(e, k + 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	}
	srand(7);
	for (unsigned i = 0; i < 20000; i++) {
		unsigned slot = 1 + (unsigned)rand() % 3;
		if (rand() % 8 == 0)
			cfg_wr(e, slot, PCI_COMMAND, 2, rand() % 4 ? PCI_COMMAND_MEMORY : 0);
		else
			cfg_wr(e, slot, 0x10 + 4 * ((unsigned)rand() % 2), 4,
			       0xc0000000 + 0x1000 * ((unsigned)rand() % 8));
		moved_n = 0;
		CHECK_EQ(clashes, 0);
		CHECK_EQ(stale_olds, 0);
		check_told(all, 3);
		if (check_state.case_failed)
			return;
	}
}

/* Three devices, their BARs thrown around a few addresses and their decoding
 * switched on and off at random: bar_moved never reports a BAR where another
 * reported one still is, each old address is the one reported before, and
 * what was reported last is what is decoded. */
static void bar_moves_random_never_clash(void)
{
	struct env *e = env_new();
	struct fake f[3];
	struct fake *const all[] = {&f[0], &f[1], &f[2]};
	watch_reset();
	for (unsigned k = 0; k < 3; k++) {
		fake_init(&f[k]);
		watched[nwatched++] = &f[k];
	}
	random_moves_steps(e, all);
	watch_reset(); /* f goes out of scope */
	env_free(e);
}

static void read_only_fields(void)
{
	struct env *e = env_new();
	struct fake f;
	fake_init(&f);
	uint8_t cap[8] = {0x09, 0xff, 1, 2, 3, 4, 5, 6};
	CHECK_EQ(pci_add_capability(&f.pci, cap, sizeof(cap)), 0x40);
	CHECK_EQ(pci_bus_add_device(&e->pci, &f.pci), 1);
	uint8_t before[256];
	for (unsigned i = 0; i < 256; i += 4) {
		uint32_t v = cfg_rd(e, 1, i, 4);
		memcpy(before + i, &v, 4);
	}
	static const unsigned ro[] = {0x00, 0x02, 0x06, 0x08, 0x0a, 0x0e, 0x2c, 0x2e, 0x34, 0x3d,
				      0x40, 0x42, 0x44, 0x46};
	for (unsigned i = 0; i < ARRAY_SIZE(ro); i++) {
		cfg_wr(e, 1, ro[i], 2, 0x5aa5);
		CHECK_EQ(cfg_rd(e, 1, ro[i], 2), get_le16(before + ro[i]));
	}
	cfg_wr(e, 1, PCI_COMMAND, 2, 0xffff);
	CHECK_EQ(cfg_rd(e, 1, PCI_COMMAND, 2), 0x0546);
	cfg_wr(e, 1, PCI_COMMAND, 2, 0);
	CHECK_EQ(cfg_rd(e, 1, PCI_COMMAND, 2), 0);
	cfg_wr(e, 1, PCI_CACHE_LINE_SIZE, 1, 0x10);
	CHECK_EQ(cfg_rd(e, 1, PCI_CACHE_LINE_SIZE, 1), 0x10);
	cfg_wr(e, 1, PCI_INTERRUPT_LINE, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(e, 1, PCI_INTERRUPT_LINE, 4), 0x000000ff); /* pin, min_gnt, max_lat RO */
	CHECK_EQ(cfg_rd(e, 1, 0, 4), 0x10421af4);
	CHECK_EQ(cfg_rd(e, 1, 8, 4), 0x01800001);
	/* Host bridge identity is read-only too. */
	cfg_wr(e, 0, 0, 4, 0);
	cfg_wr(e, 0, 8, 4, 0);
	CHECK_EQ(cfg_rd(e, 0, 0, 4), 0x0d578086);
	CHECK_EQ(cfg_rd(e, 0, 8, 4) >> 8, 0x060000);
	env_free(e);
}

static void capability_chain(void)
{
	struct env *e = env_new();
	struct fake f;
	fake_init(&f);
	CHECK_EQ(cfg_rd(e, 1, PCI_STATUS, 2), 0xffff); /* not there yet */
	uint8_t c1[5] = {0x09, 0, 0xaa, 0xbb, 0xcc};
	uint8_t c2[16] = {0x11, 0x77};
	CHECK_EQ(pci_add_capability(&f.pci, c1, sizeof(c1)), 0x40);
	CHECK_EQ(pci_add_capability(&f.pci, c2, sizeof(c2)), 0x48); /* 4-aligned */
	CHECK_EQ(pci_add_capability(&f.pci, c1, 1), -1);
	uint8_t big[200] = {0x09};
	CHECK_EQ(pci_add_capability(&f.pci, big, sizeof(big)), -1); /* 0x58 + 200 > 256 */
	CHECK_EQ(pci_add_capability(&f.pci, big, 256 - 0x58), 0x58); /* exactly fills */
	CHECK_EQ(pci_add_capability(&f.pci, c1, 2), -1);
	CHECK_EQ(pci_bus_add_device(&e->pci, &f.pci), 1);
	CHECK(cfg_rd(e, 1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	CHECK_EQ(cfg_rd(e, 1, PCI_CAPABILITY_LIST, 1), 0x40);
	CHECK_EQ(cfg_rd(e, 1, 0x40, 4), 0xbbaa4809);
	CHECK_EQ(cfg_rd(e, 1, 0x44, 1), 0xcc);
	CHECK_EQ(cfg_rd(e, 1, 0x48, 2), 0x5811);
	CHECK_EQ(cfg_rd(e, 1, 0x58, 2), 0x0009); /* end of list */
	/* Write masks open chosen bits; the rest of a capability stays RO. */
	pci_set_wmask(&f.pci, 0x42, 2, 0x00f0);
	cfg_wr(e, 1, 0x40, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(e, 1, 0x40, 4), 0xbbfa4809);
	pci_set_wmask(&f.pci, 0xfe, 4, 0xffffffff); /* clipped at 256 */
	cfg_wr(e, 1, 0xfc, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(e, 1, 0xfc, 4), 0xffff0000);
	/* Device-side accessors. */
	pci_config_set(&f.pci, 0x44, 1, 0x12);
	CHECK_EQ(pci_config_get(&f.pci, 0x44, 1), 0x12);
	CHECK_EQ(pci_config_get(&f.pci, 0xfe, 4), 0xffff);
	pci_config_set(&f.pci, 0xff, 4, 0); /* only 0xff written */
	CHECK_EQ(pci_config_get(&f.pci, 0xfe, 2), 0x00ff);
	CHECK_EQ(pci_config_get(&f.pci, 0x1000, 4), 0);
	env_free(e);
}

static void config_hooks(void)
{
	struct env *e = env_new();
	struct fake f;
	fake_init(&f);
	uint8_t c[8] = {0x09};
	CHECK_EQ(pci_add_capability(&f.pci, c, sizeof(c)), 0x40);
	CHECK_EQ(pci_bus_add_device(&e->pci, &f.pci), 1);
	f.patch_read = true;
	CHECK_EQ(cfg_rd(e, 1, 0x44, 4), 0x99);
	CHECK_EQ(cfg_rd(e, 1, 0x45, 1), 0);
	cfg_wr(e, 1, 0x46, 2, 0x1234);
	CHECK_EQ(f.cfg_writes, 1);
	CHECK_EQ(f.cfg_write_off, 0x46);
	CHECK_EQ(f.cfg_write_len, 2);
	/* A 4-byte access at 0xCFF only covers one byte. */
	outl(e, 0xcf8, addr_of(0, 1, 0, 0xfc));
	uint8_t d[4] = {1, 2, 3, 4};
	pio_dispatch(&e->pio, 0xcff, d, 4, true);
	CHECK_EQ(f.cfg_write_off, 0xff);
	CHECK_EQ(f.cfg_write_len, 1);
	env_free(e);
}

/* Every port, size and offset, and a random storm: nothing outside the
 * 256 bytes is touched (ASan), identity stays, BARs stay well-formed. */
static void hostile_accesses(void)
{
	struct env *e = env_new();
	struct fake f;
	fake_init(&f);
	CHECK_EQ(pci_device_add_bar(&f.pci, 0, PCI_BAR_MEM32, 0x1000), 0);
	CHECK_EQ(pci_device_add_bar(&f.pci, 1, PCI_BAR_MEM64, 0x4000), 0);
	uint8_t c[12] = {0x11};
	CHECK(pci_add_capability(&f.pci, c, sizeof(c)) > 0);
	pci_set_wmask(&f.pci, 0x42, 2, 0xc000);
	CHECK_EQ(pci_bus_add_device(&e->pci, &f.pci), 1);
	for (unsigned reg = 0; reg < 256; reg += 4) {
		for (unsigned port = 0xcf8; port <= 0xcff; port++) {
			for (unsigned size = 1; size <= 4; size *= 2) {
				uint8_t d[4] = {0xff, 0xff, 0xff, 0xff};
				outl(e, 0xcf8, addr_of(0, 1, 0, reg));
				if (port >= 0xcfc) {
					pio_dispatch(&e->pio, (uint16_t)port, d, size, true);
					pio_dispatch(&e->pio, (uint16_t)port, d, size, false);
				}
			}
		}
	}
	/* Direct accesses with odd sizes and offsets. */
	static uint8_t big[1024];
	for (unsigned off = 0; off < 300; off += 7) {
		for (unsigned len = 0; len < 300; len += 13) {
			memset(big, 0xee, sizeof(big));
			pci_config_access(&e->pci, 1, 0, off, big, len, false);
			for (unsigned i = 0; i < len; i++)
				if (off + i >= 256)
					CHECK_EQ(big[i], 0xff);
			CHECK_EQ(big[len], 0xee);
			memset(big, 0x00, sizeof(big));
			pci_config_access(&e->pci, 1, 0, off, big, len, true);
		}
	}
	pci_config_access(&e->pci, 99, 9, 0, big, 4, false);
	CHECK_EQ(big[0], 0xff);
	srand(1);
	for (unsigned i = 0; i < 200000; i++) {
		uint32_t r = (uint32_t)rand() << 16 ^ (uint32_t)rand();
		uint8_t d[4];
		for (unsigned k = 0; k < 4; k++)
			d[k] = (uint8_t)rand();
		unsigned size = 1u << (rand() % 3);
		uint16_t port = (uint16_t)(0xcf8 + rand() % 8);
		if (rand() % 4 == 0)
			outl(e, 0xcf8, (r & 0x80fff8ff) | PCI_CONF1_ENABLE); /* mostly bus 0 */
		pio_dispatch(&e->pio, port, d, size, rand() % 2);
	}
	/* Invariants. */
	CHECK_EQ(cfg_rd(e, 1, 0, 4), 0x10421af4);
	CHECK_EQ(cfg_rd(e, 0, 0, 4), 0x0d578086);
	CHECK_EQ(cfg_rd(e, 1, 0x10, 4) & 0xfff, 0);
	CHECK_EQ(cfg_rd(e, 1, 0x14, 4) & 0x3fff, 0xc);
	CHECK_EQ(f.pci.bar[0].addr & 0xfff, 0);
	CHECK_EQ(f.pci.bar[0].addr >> 32, 0);
	CHECK_EQ(f.pci.bar[1].addr & 0x3fff, 0);
	CHECK_EQ(cfg_rd(e, 1, 0x1c, 4), 0);
	/* Whatever is mapped is what the BARs say. */
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		const struct pci_bar *b = &f.pci.bar[i];
		if (b->mapped != PCI_BAR_UNMAPPED)
			CHECK_EQ(b->mapped, b->addr);
	}
	env_free(e);
}

int main(void)
{
	RUN(conf1_address_latch);
	RUN(host_bridge);
	RUN(absent_reads_all_ones);
	RUN(bar_allocation);
	RUN(thirty_one_devices);
	RUN(bar_sizing);
	RUN(reprogramming_moves_region);
	RUN(bars_swap_places);
	RUN(bar_moves_reported_leaving_first);
	RUN(bar_moves_random_never_clash);
	RUN(read_only_fields);
	RUN(capability_chain);
	RUN(config_hooks);
	RUN(hostile_accesses);
	return check_summary();
}
