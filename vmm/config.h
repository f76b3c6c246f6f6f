/* config.h: one VM's configuration as plain data: what to boot, how big, and
 * which devices. A front end fills it (the command line today, cli.c; the
 * API and the JSON config file next) and the builder (builder.h) turns it
 * into a running VM; nothing below the front end sees argv. The limits here
 * are the VM's, whichever front end is asked.
 *
 * Strings are borrowed: they point into memory the front end keeps for the
 * VM's life (argv for the command line; struct fc_config, vmm/api/fc_config.h,
 * for the API and the JSON config file). */
#ifndef EMBER_CONFIG_H
#define EMBER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/blk/blk.h"
#include "virtio/net/net.h"
#include "vmm/lib/pci_addr.h"

#define VM_DEFAULT_MEM_MIB 256
#define VM_MIN_MEM_MIB 32
#define VM_MAX_MEM_MIB (1ull << 30) /* keeps the arithmetic sane; the host's RAM is checked too */
#define VM_MAX_CPUS 254
#define VM_MAX_DISKS 16
#define VM_MAX_NETS 8
#define VM_MAX_VFIO 8
#define VM_ID_MAX 64        /* a device's id (the API's drive_id, iface_id): bytes */
#define VM_PARTUUID_MAX 64  /* the root device's partition UUID: bytes */

enum console_mode { CONSOLE_STDIO, CONSOLE_NONE, CONSOLE_FILE };

/* --kernel-unpack: which bzImages ember unpacks (kernel_unpack.h). auto:
 * the formats that decompress fast (LZ4, zstd, gzip); XZ is left to the
 * guest, since in the lab ember's own XZ decompression cost a boot ~2 s more
 * than the guest's. all: XZ too. off: none. */
enum kernel_unpack { KERNEL_UNPACK_OFF, KERNEL_UNPACK_AUTO, KERNEL_UNPACK_ALL };

/* --initrd-unpack: which compressed initrds ember decompresses
 * (initrd_unpack.h). auto: every format when the kernel cache can keep the
 * archive for the next boots; without one, gzip and XZ only: the guest
 * decompresses zstd and LZ4 faster than ember's decompression and move
 * (in the lab 50 ms against 141 for a 1.7 MiB zstd initramfs). all: every
 * format, cache or not. off: none. */
enum initrd_unpack { INITRD_UNPACK_OFF, INITRD_UNPACK_AUTO, INITRD_UNPACK_ALL };

struct vm_config {
	const char *kernel;                  /* required */
	const char *initrd;                  /* NULL: none */
	const char *cmdline;                 /* appended to ember's default; NULL: none */
	bool cmdline_replaces_default;       /* cmdline instead of ember's default
					      * (the API's boot_args); the command
					      * line never sets it */
	char *const *guest_argv;             /* the guest command, run by ember's init */
	size_t guest_argc;
	unsigned cpus;
	uint64_t mem_mib;
	enum console_mode console;
	const char *console_path;            /* CONSOLE_FILE */
	bool boot_time;                      /* report when guest userspace started */
	bool seccomp;                        /* per-thread filters (default on) */
	bool kernel_irqchip;                 /* KVM's IOAPIC, PIC and PIT; else split */
	enum kernel_unpack kernel_unpack;    /* a bzImage's PVH vmlinux decompressed by
					      * ember and booted instead (default auto) */
	const char *kernel_cache;            /* where unpacked vmlinux files (and
					      * decompressed initrds) are kept
					      * (kernel_cache.h); NULL: nowhere */
	enum initrd_unpack initrd_unpack;    /* a compressed cpio initrd decompressed by
					      * ember (initrd_unpack.h; default auto) */
	struct blk_opts disks[VM_MAX_DISKS]; /* in order: vda, vdb, ... */
	unsigned ndisks;
	/* The root device (the API's is_root_device): disks[0], named on the
	 * kernel command line after cmdline as "root=/dev/vda" (or
	 * "root=PARTUUID=..." when root_partuuid is not empty) and "ro" or
	 * "rw", as Firecracker does. The command line never sets it. */
	bool root_disk;
	char root_partuuid[VM_PARTUUID_MAX + 1];
	char disk_ids[VM_MAX_DISKS][VM_ID_MAX + 1]; /* the API's drive_id; "" from the command line */
	struct net_opts nets[VM_MAX_NETS];   /* in order: eth0, eth1, ... */
	unsigned nnets;
	char net_ids[VM_MAX_NETS][VM_ID_MAX + 1];   /* the API's iface_id; "" from the command line */
	char vfio[VM_MAX_VFIO][PCI_BDF_LEN]; /* canonical PCI addresses */
	unsigned nvfio;
};

/* The defaults: 1 vCPU, VM_DEFAULT_MEM_MIB, console on stdio, seccomp on,
 * a bzImage's kernel unpacked when its format decompresses fast (auto),
 * the split IRQ chip, no devices, no kernel. */
void vm_config_defaults(struct vm_config *c);
/* Disk i's id in the API (its drive_id, or from the command line its
 * device's name: vda, vdb, ...) and NIC i's (its iface_id, or net0, ...). */
void vm_config_disk_id(const struct vm_config *c, unsigned i, char id[VM_ID_MAX + 1]);
void vm_config_net_id(const struct vm_config *c, unsigned i, char id[VM_ID_MAX + 1]);
/* The disk or NIC with that id, or -1. */
int vm_config_find_disk(const struct vm_config *c, const char *id);
int vm_config_find_net(const struct vm_config *c, const char *id);

#endif
