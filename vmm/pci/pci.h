/* pci.h: PCI bus 0 with configuration mechanism #1 (ports 0xCF8/0xCFC), a host
 * bridge at 00:00.0 and up to 31 type-0 devices with memory BARs.
 *
 * Address map (the bus takes its windows from the architecture; on x86,
 * pci_default_windows in vmm/arch/x86/layout.h): 32-bit BARs are allocated from
 * [0xc0000000, 0xfec00000), the MMIO hole below the IOAPIC; 64-bit BARs from a
 * 64 GiB window starting at the first 1 GiB boundary at or above the end of
 * high RAM (4 GiB + high RAM size). Both windows go into the DSDT's PCI0 _CRS
 * (aml_pci_root), so the guest keeps the addresses ember assigned.
 *
 * Locking: one recursive mutex per bus serialises configuration accesses (the
 * 0xCF8 address latch is bus-wide, like on hardware), BAR (re)mapping and the
 * device config hooks, which run with it held. Lock order: pci bus -> msix ->
 * gsi routes; pci bus -> mmio bus. BAR handlers run from mmio_dispatch with no
 * lock held. */
#ifndef EMBER_PCI_H
#define EMBER_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/core/mem_layout.h"
#include "vmm/core/mmio.h"
#include "vmm/core/state_codec.h"

#define PCI_CONF1_ADDR_PORT 0xcf8 /* register pci_conf1_io for 8 ports from here */
#define PCI_CONF1_PORTS 8
#define PCI_CONF1_ENABLE 0x80000000u

#define PCI_MAX_SLOTS 32 /* slot 0 is the host bridge */
#define PCI_NUM_BARS 6
#define PCI_CFG_SIZE 256
#define PCI_CAP_START 0x40

/* Config space offsets and bits ember uses. */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_PARITY 0x0040
#define PCI_COMMAND_SERR 0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_CAP_LIST 0x0010

#define PCI_BAR_MEM_TYPE_64 0x4
#define PCI_BAR_MEM_PREFETCH 0x8

#define PCI_CLASS_BRIDGE_HOST 0x060000
#define PCI_HOST_BRIDGE_VENDOR 0x8086
#define PCI_HOST_BRIDGE_DEVICE 0x0d57

/* Where a BAR is not mapped (memory decoding off, or its address unusable). */
#define PCI_BAR_UNMAPPED UINT64_MAX

enum pci_bar_type {
	PCI_BAR_NONE = 0,
	PCI_BAR_MEM32,  /* 32-bit, non-prefetchable, allocated below 4 GiB */
	PCI_BAR_MEM64,  /* 64-bit prefetchable, uses two BAR slots, allocated above RAM */
};

struct pci_device;

/* Every callback is optional. */
struct pci_device_ops {
	/* An access to BAR bar at offset off; offset + len may exceed the BAR
	 * size (see mmio.h). Called with no lock held. Without it the BAR is
	 * not put on the MMIO bus (bar_moved still reports its address). */
	void (*bar_access)(struct pci_device *dev, unsigned bar, uint64_t off, uint8_t *data,
			   unsigned len, bool write);
	/* The BAR's mapping changed from old_addr to new_addr: move ioeventfds,
	 * KVM memory slots, ... One of the two is PCI_BAR_UNMAPPED: a BAR that
	 * moves is reported unmapped, then mapped, and the bus reports every
	 * BAR's unmapping before any mapping, so a BAR that takes the place
	 * another left in the same change finds it free of that one's ioeventfds
	 * and slots. Bus lock held. */
	void (*bar_moved)(struct pci_device *dev, unsigned bar, uint64_t old_addr, uint64_t new_addr);
	/* After ember filled data (len bytes from config offset off) from the
	 * config space: may change it. Bus lock held; off + len <= 256. */
	void (*config_read)(struct pci_device *dev, unsigned off, uint8_t *data, unsigned len);
	/* After ember applied a guest write (through the write mask) to
	 * [off, off+len) of the config space. Bus lock held; off + len <= 256. */
	void (*config_write)(struct pci_device *dev, unsigned off, const uint8_t *data, unsigned len);
};

struct pci_bar {
	enum pci_bar_type type;
	uint64_t size;   /* power of two, >= 16 */
	uint64_t addr;   /* as the guest programmed it */
	uint64_t mapped; /* where it is decoded now, or PCI_BAR_UNMAPPED */
	struct pci_device *dev;
	unsigned index;
};

struct pci_device {
	uint8_t cfg[PCI_CFG_SIZE];   /* guarded by the bus lock once added */
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may write (BARs are special) */
	struct pci_bar bar[PCI_NUM_BARS];
	const struct pci_device_ops *ops;
	void *opaque;                /* for the device's own use */
	struct pci_bus *bus;         /* set by pci_bus_add_device */
	unsigned slot;
	unsigned cap_next;           /* where the next capability goes */
	unsigned cap_last;           /* offset of the last capability, 0: none */
};

/* The windows BARs are allocated from: [base, end). */
struct pci_windows {
	uint64_t mem32_base, mem32_end;
	uint64_t mem64_base, mem64_end;
};

struct pci_bus {
	pthread_mutex_t lock; /* recursive */
	struct mmio_bus *mmio;
	uint32_t conf1_addr;  /* the 0xCF8 latch */
	struct pci_windows win;
	uint64_t next32, next64; /* allocation cursors */
	struct pci_device host_bridge;
	struct pci_device *dev[PCI_MAX_SLOTS];
};


/* Set up bus 0 with its host bridge at slot 0; BARs go on mmio. */
void pci_bus_init(struct pci_bus *bus, struct mmio_bus *mmio, const struct pci_windows *w);
void pci_bus_destroy(struct pci_bus *bus);

/* A device's identity; clears everything else. class_code is 24 bits:
 * class << 16 | subclass << 8 | prog-if. No INTx (interrupt pin 0): devices
 * interrupt through MSI-X. */
void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision, const struct pci_device_ops *ops,
		     void *opaque);
void pci_device_set_subsystem(struct pci_device *dev, uint16_t vendor, uint16_t id);

/* Declare BAR bar (0-5; a 64-bit BAR takes bar and bar+1, bar <= 4) of size
 * bytes (a power of two, at least 16; 4096 or more recommended). Before
 * pci_bus_add_device. Returns 0 or -1. */
int pci_device_add_bar(struct pci_device *dev, unsigned bar, enum pci_bar_type type,
		       uint64_t size);

/* Append a capability: data[0] is its ID, data[1] (next) is filled in by
 * ember; len >= 2 bytes are copied at a 4-byte aligned offset >= 0x40 and
 * linked at the end of the list (the status register's capability bit is set).
 * All its bytes are read-only to the guest until pci_set_wmask says otherwise.
 * Returns the offset, or -1 when it does not fit in the 256 bytes. */
int pci_add_capability(struct pci_device *dev, const void *data, unsigned len);

/* Let the guest write the bits of mask (little-endian, len 1-4 bytes) at off. */
void pci_set_wmask(struct pci_device *dev, unsigned off, unsigned len, uint32_t mask);

/* Little-endian config space access for devices, bound-checked (reads of
 * bytes past 256 give 0, writes there are dropped), under the bus lock when
 * the device is on a bus. No write mask, no hooks. */
uint32_t pci_config_get(struct pci_device *dev, unsigned off, unsigned len);
void pci_config_set(struct pci_device *dev, unsigned off, unsigned len, uint32_t val);

/* Put dev in the lowest free slot, allocate its BARs (naturally aligned) and
 * program their addresses (memory decoding stays off until the guest turns it
 * on). Returns the slot (1-31), or -1 when the bus is full or a window is. */
int pci_bus_add_device(struct pci_bus *bus, struct pci_device *dev);

/* The pio_fn for ports 0xCF8-0xCFF: pio_register(&vm->pio, PCI_CONF1_ADDR_PORT,
 * PCI_CONF1_PORTS, pci_conf1_io, bus). */
void pci_conf1_io(void *opaque, uint16_t port, uint8_t *data, unsigned size, bool write);

/* One configuration access on bus 0 (what 0xCFC does, and what an ECAM
 * handler would call): slot 0-31, function 0-7, any off/len (bytes outside
 * the 256-byte space read as 0xff and are not written). Absent devices and
 * functions other than 0 read all ones. */
void pci_config_access(struct pci_bus *bus, unsigned slot, unsigned fn, unsigned off,
		       uint8_t *data, unsigned len, bool write);

/* ---- Saved state (snapshots) ----
 * What the guest programmed into a function's configuration space: the bits
 * it may write (wmask: command, cache line, interrupt line, capability
 * registers such as MSI-X's control) and each BAR's address. Everything
 * else comes from the rebuilt device. */
struct pci_config_state {
	uint8_t cfg[PCI_CFG_SIZE];    /* the wmask bits only, others zero */
	uint64_t bar[PCI_NUM_BARS];   /* as programmed; 0 for no BAR and upper halves */
};
#define PCI_CONFIG_STATE_MAGIC 0x46435045u /* "EPCF", its blob alone */
#define PCI_CONFIG_STATE_VERSION 1

/* Take dev's state (under the bus lock). */
void pci_config_state_save(struct pci_device *dev, struct pci_config_state *s);
/* s as section tag of w; and read back from section tag of r, checked
 * against dev (built from the same configuration, not changed): bits the
 * guest cannot write must be zero, BARs aligned to their size and inside
 * what their type can address. 0, or -1 with r's error set. */
void pci_config_state_put(struct codec_writer *w, uint16_t tag, const struct pci_config_state *s);
int pci_config_state_get(struct codec_reader *r, uint16_t tag, const struct pci_device *dev,
			 struct pci_config_state *s);
/* Put s (checked by _get) into dev as a guest's writes would: the bytes
 * through the write mask, the BARs, then every BAR's decoding brought in
 * line (the path a guest's BAR or command write takes: MMIO registration
 * moved, bar_moved called, so ioeventfds follow) and the device's
 * config_write hook called for the whole space (MSI-X picks up its
 * control register there). */
void pci_config_state_apply(struct pci_device *dev, const struct pci_config_state *s);
/* The state as a blob of its own (tests, fuzzing): its length, 0 when it
 * does not fit; decode: 0, or -1 with err set and *s zeroed. */
size_t pci_config_state_encode(const struct pci_config_state *s, uint8_t *buf, size_t cap);
int pci_config_state_decode(const uint8_t *buf, size_t len, const struct pci_device *dev,
			    struct pci_config_state *s, struct errbuf *err);

#endif
