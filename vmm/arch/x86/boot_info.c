/* boot_info.c: write the command line, initrd and boot structures into guest RAM. */
#include <asm/bootparam.h>
#include <string.h>

#include "vmm/arch/x86/boot_info.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/arch/x86/pvh.h"

uint64_t boot_initrd_top(const struct kernel_image *k, const struct mem_layout *l)
{
	return k->initrd_max && l->low_size > k->initrd_max ? k->initrd_max : l->low_size;
}

uint64_t boot_initrd_addr(const struct kernel_image *k, const struct mem_layout *l, uint64_t len)
{
	uint64_t top = boot_initrd_top(k, l);
	if (len > top)
		return 0;
	uint64_t addr = ALIGN_DOWN(top - len, 4096);
	if (addr < ALIGN_UP(k->end, 4096))
		return 0;
	return addr;
}

static int write_zero_page(const struct kernel_image *k, const struct guest_mem *gm,
			   const struct boot_request *req, uint64_t initrd_addr, uint64_t initrd_len)
{
	struct boot_params *bp = gm_ptr(gm, LAYOUT_ZERO_PAGE, sizeof(*bp));
	memset(bp, 0, sizeof(*bp));
	if (k->kind == KERNEL_BZIMAGE) {
		memcpy((uint8_t *)bp + k->hdr_off, k->hdr, k->hdr_len);
	} else {
		/* A bare vmlinux: provide the header fields startup_64 reads. */
		bp->hdr.boot_flag = 0xaa55;
		bp->hdr.header = 0x53726448;
		bp->hdr.version = 0x020f;
		bp->hdr.kernel_alignment = 0x1000000;
	}
	bp->hdr.type_of_loader = 0xff;
	bp->hdr.loadflags |= CAN_USE_HEAP | KEEP_SEGMENTS;
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.vid_mode = 0xffff;
	bp->hdr.cmd_line_ptr = LAYOUT_CMDLINE;
	bp->hdr.cmdline_size = (uint32_t)strlen(req->cmdline);
	if (initrd_len) {
		bp->hdr.ramdisk_image = (uint32_t)initrd_addr;
		bp->hdr.ramdisk_size = (uint32_t)initrd_len;
		bp->ext_ramdisk_image = (uint32_t)(initrd_addr >> 32);
		bp->ext_ramdisk_size = (uint32_t)(initrd_len >> 32);
	}
	bp->acpi_rsdp_addr = req->rsdp;
	struct e820_range r[8];
	unsigned n = layout_e820(&gm->layout, r, ARRAY_SIZE(r));
	for (unsigned i = 0; i < n; i++) {
		bp->e820_table[i].addr = r[i].addr;
		bp->e820_table[i].size = r[i].size;
		bp->e820_table[i].type = r[i].type;
	}
	bp->e820_entries = (uint8_t)n;
	return 0;
}

static int write_pvh_info(const struct guest_mem *gm, const struct boot_request *req,
			  uint64_t initrd_addr, uint64_t initrd_len)
{
	struct hvm_start_info *si = gm_ptr(gm, LAYOUT_PVH_INFO, sizeof(*si));
	struct hvm_modlist_entry *mod = gm_ptr(gm, LAYOUT_PVH_INFO + sizeof(*si), sizeof(*mod));
	struct hvm_memmap_table_entry *mm = gm_ptr(gm, LAYOUT_PVH_MEMMAP, 8 * sizeof(*mm));
	memset(si, 0, sizeof(*si));
	si->magic = HVM_START_MAGIC;
	si->version = 1;
	si->cmdline_paddr = LAYOUT_CMDLINE;
	si->rsdp_paddr = req->rsdp;
	if (initrd_len) {
		memset(mod, 0, sizeof(*mod));
		mod->paddr = initrd_addr;
		mod->size = initrd_len;
		si->nr_modules = 1;
		si->modlist_paddr = LAYOUT_PVH_INFO + sizeof(*si);
	}
	struct e820_range r[8];
	unsigned n = layout_e820(&gm->layout, r, ARRAY_SIZE(r));
	for (unsigned i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_table_entry){r[i].addr, r[i].size, r[i].type, 0};
	si->memmap_paddr = LAYOUT_PVH_MEMMAP;
	si->memmap_entries = n;
	return 0;
}

int boot_initrd_read(const struct kernel_image *k, const struct guest_mem *gm,
		     const struct reader *r, uint64_t *at)
{
	uint64_t a = r->size ? boot_initrd_addr(k, &gm->layout, r->size) : 0;
	void *dst = a ? gm_ptr(gm, a, r->size) : NULL;
	if (!dst)
		return 1;
	*at = a;
	return reader_read(r, 0, dst, r->size);
}

int boot_info_write(const struct kernel_image *k, const struct guest_mem *gm,
		    const struct boot_request *req, struct errbuf *err)
{
	size_t clen = strlen(req->cmdline);
	if (clen > k->cmdline_max) {
		err_set(err, "kernel command line is %zu bytes; this kernel takes at most %u", clen,
			k->cmdline_max);
		return -1;
	}
	if (!gm_write(gm, LAYOUT_CMDLINE, req->cmdline, clen + 1)) {
		err_set(err, "no room for the kernel command line");
		return -1;
	}
	uint64_t initrd_addr = req->initrd_addr, initrd_len = req->initrd_len;
	/* An initrd to read (an empty file is no initrd). */
	if (!initrd_len && req->initrd && req->initrd->size) {
		initrd_len = req->initrd->size;
		int e = boot_initrd_read(k, gm, req->initrd, &initrd_addr);
		if (e > 0) {
			err_set(err, "initrd (%llu KiB) does not fit in guest memory above the kernel; raise --mem",
				(unsigned long long)(initrd_len >> 10));
			return -1;
		}
		if (e) {
			err_set(err, "cannot read initrd: %s", reader_error(e));
			return -1;
		}
	}
	if (k->kind == KERNEL_ELF_PVH)
		return write_pvh_info(gm, req, initrd_addr, initrd_len);
	return write_zero_page(k, gm, req, initrd_addr, initrd_len);
}
