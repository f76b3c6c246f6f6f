/* test_boot_info.c: what boot_info.c leaves in guest memory for the kernel,
 * checked on a gm_wrap'd 64 MiB guest with a synthetic bzImage, a plain ELF64
 * vmlinux and a PVH ELF: the command line at LAYOUT_CMDLINE, the zero page
 * (loader type, command line pointer, initrd placement and bytes, e820 table,
 * RSDP), the PVH hvm_start_info (magic, version, command line, module list,
 * memory map), and refusal of a command line longer than the kernel takes, of
 * an initrd that does not fit and of one whose file ends early (the initrd is
 * read from its file, a memfd here, straight into guest memory). */
#include <asm/bootparam.h>
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/arch/x86/boot_info.h"
#include "tests/elf_fixture.h"
#include "tests/unit/check.h"
#include "vmm/core/guest_mem.h"
#include "vmm/arch/x86/kernel_image.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/arch/x86/pvh.h"

#define RAM MiB(64)
#define HDR(field) offsetof(struct boot_params, hdr.field)
#define BZ_INIT_SIZE 0x400000u
#define RSDP_ADDR 0xe0000ull

static uint8_t *ram;
static struct guest_mem gm;
static uint8_t file[0x2000];
static struct kernel_image k;
static struct reader kr; /* the kernel file */
static struct errbuf err;
static uint8_t initrd[12345];

static void guest_fresh(void)
{
	memset(ram, 0, RAM);
	gm_wrap(&gm, ram, RAM);
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 31 + 7);
	memset(&err, 0, sizeof(err));
}

/* A bzImage (4 setup sectors) with the given cmdline_size and initrd_addr_max. */
static int parse_bzimage(uint32_t cmdline_size, uint32_t initrd_addr_max)
{
	memset(file, 0, sizeof(file));
	file[HDR(setup_sects)] = 4;
	uint16_t v16 = 0xaa55;
	memcpy(file + HDR(boot_flag), &v16, 2);
	file[0x200] = 0xeb;
	file[0x201] = 0x66;
	memcpy(file + HDR(header), "HdrS", 4);
	v16 = 0x020f;
	memcpy(file + HDR(version), &v16, 2);
	file[HDR(loadflags)] = LOADED_HIGH;
	v16 = XLF_KERNEL_64;
	memcpy(file + HDR(xloadflags), &v16, 2);
	memcpy(file + HDR(cmdline_size), &cmdline_size, 4);
	memcpy(file + HDR(initrd_addr_max), &initrd_addr_max, 4);
	uint32_t init_size = BZ_INIT_SIZE;
	memcpy(file + HDR(init_size), &init_size, 4);
	reader_mem(&kr, file, sizeof(file));
	return kernel_parse(&kr, &k, &err);
}

/* An ELF64 vmlinux at 16 MiB, with a PVH note when pvh is set. */
static int parse_elf(int pvh)
{
	memset(file, 0, sizeof(file));
	Elf64_Ehdr *e = (Elf64_Ehdr *)file;
	elf_fixture_header(e, 0x1000000, pvh ? 2 : 1);
	Elf64_Phdr *ph = (Elf64_Phdr *)(file + sizeof(*e));
	ph[0] = (Elf64_Phdr){.p_type = PT_LOAD, .p_offset = 0x1000, .p_paddr = 0x1000000,
			     .p_filesz = 0x1000, .p_memsz = 0x300000};
	if (pvh)
		ph[1] = elf_fixture_pvh_note(file, 0x800, 0x1000010);
	reader_mem(&kr, file, sizeof(file));
	return kernel_parse(&kr, &k, &err);
}

/* Load the kernel, then the boot information with the initrd ir reads (NULL: none). */
static int write_boot_from(const char *cmdline, const struct reader *ir)
{
	if (kernel_load(&k, &kr, &gm, &err))
		return -2;
	struct boot_request req = {.cmdline = cmdline, .initrd = ir, .rsdp = RSDP_ADDR};
	return boot_info_write(&k, &gm, &req, &err);
}

static int write_boot(const char *cmdline, const uint8_t *rd, size_t rd_len)
{
	struct reader ir;
	reader_mem(&ir, rd, rd_len);
	return write_boot_from(cmdline, rd ? &ir : NULL);
}

/* A fresh guest with the bzImage parsed, and ir reading the initrd's bytes
 * from a memfd (*fd, which the caller closes): false if any of it failed. */
static bool bzimage_with_initrd_file(struct reader *ir, int *fd)
{
	guest_fresh();
	*fd = -1;
	if (parse_bzimage(2047, 0x7fffffff))
		return false;
	*fd = memfd_create("initrd", MFD_CLOEXEC);
	return *fd >= 0 && write(*fd, initrd, sizeof(initrd)) == (ssize_t)sizeof(initrd) &&
	       reader_fd(ir, *fd) == 0;
}

static struct boot_params *zero_page(void)
{
	return gm_ptr(&gm, LAYOUT_ZERO_PAGE, sizeof(struct boot_params));
}

static void check_e820_table(const struct boot_params *bp)
{
	struct e820_range r[8];
	unsigned n = layout_e820(&gm.layout, r, ARRAY_SIZE(r));
	CHECK_EQ(bp->e820_entries, n);
	for (unsigned i = 0; i < n; i++) {
		CHECK_EQ(bp->e820_table[i].addr, r[i].addr);
		CHECK_EQ(bp->e820_table[i].size, r[i].size);
		CHECK_EQ(bp->e820_table[i].type, r[i].type);
	}
}

/* ---- bzImage / zero page ------------------------------------------------ */

static void bz_cmdline_written(void)
{
	guest_fresh();
	CHECK_EQ(parse_bzimage(2047, 0x7fffffff), 0);
	memset(ram + LAYOUT_CMDLINE, 'Z', 64);
	const char *cl = "console=ttyS0 panic=-1 -- echo hi";
	CHECK_EQ(write_boot(cl, NULL, 0), 0);
	CHECK_STR_EQ((char *)ram + LAYOUT_CMDLINE, cl);
	CHECK_EQ(ram[LAYOUT_CMDLINE + strlen(cl)], 0);
	CHECK_EQ(zero_page()->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
}

static void bz_zero_page(void)
{
	guest_fresh();
	CHECK_EQ(parse_bzimage(2047, 0x7fffffff), 0);
	CHECK_EQ(write_boot("quiet", initrd, sizeof(initrd)), 0);
	struct boot_params *bp = zero_page();
	CHECK_EQ(bp->hdr.type_of_loader, 0xff);
	CHECK_EQ(bp->hdr.boot_flag, 0xaa55);
	CHECK_EQ(bp->hdr.header, 0x53726448);
	CHECK_EQ(bp->hdr.version, 0x020f);
	CHECK_EQ(bp->hdr.setup_sects, 4);
	CHECK(bp->hdr.loadflags & LOADED_HIGH);
	CHECK_EQ(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	CHECK_EQ(bp->acpi_rsdp_addr, RSDP_ADDR);
	uint64_t rd = bp->hdr.ramdisk_image | (uint64_t)bp->ext_ramdisk_image << 32;
	CHECK_EQ(bp->hdr.ramdisk_size, sizeof(initrd));
	CHECK_EQ(bp->ext_ramdisk_size, 0);
	CHECK_EQ(rd % 4096, 0);
	CHECK(rd >= ALIGN_UP(k.end, 4096));
	CHECK(rd + sizeof(initrd) <= RAM);
	CHECK(RAM - (rd + sizeof(initrd)) < 4096); /* as high as it goes */
	CHECK_MEM_EQ(ram + rd, initrd, sizeof(initrd));
	CHECK_EQ(rd, boot_initrd_addr(&k, &gm.layout, sizeof(initrd)));
	check_e820_table(bp);
}

static void bz_initrd_below_initrd_addr_max(void)
{
	guest_fresh();
	uint32_t max = MiB(24) - 1;
	CHECK_EQ(parse_bzimage(2047, max), 0);
	CHECK_EQ(write_boot("quiet", initrd, sizeof(initrd)), 0);
	struct boot_params *bp = zero_page();
	uint64_t rd = bp->hdr.ramdisk_image;
	CHECK_EQ(rd % 4096, 0);
	CHECK(rd >= ALIGN_UP(k.end, 4096));
	CHECK(rd + sizeof(initrd) - 1 <= max);
	CHECK(MiB(24) - (rd + sizeof(initrd)) < 4096);
	CHECK_MEM_EQ(ram + rd, initrd, sizeof(initrd));
}

static void bz_no_initrd(void)
{
	guest_fresh();
	CHECK_EQ(parse_bzimage(2047, 0x7fffffff), 0);
	CHECK_EQ(write_boot("quiet", NULL, 0), 0);
	struct boot_params *bp = zero_page();
	CHECK_EQ(bp->hdr.ramdisk_image, 0);
	CHECK_EQ(bp->hdr.ramdisk_size, 0);
}

static void empty_initrd_is_no_initrd(void)
{
	guest_fresh();
	CHECK_EQ(parse_bzimage(2047, 0x7fffffff), 0);
	int r = write_boot("quiet", initrd, 0);
	if (r)
		printf("  error: %s\n", err.msg);
	CHECK_EQ(r, 0);
	CHECK_EQ(zero_page()->hdr.ramdisk_size, 0);
	guest_fresh();
	CHECK_EQ(parse_elf(1), 0);
	CHECK_EQ(write_boot("quiet", initrd, 0), 0);
	struct hvm_start_info *si = gm_ptr(&gm, LAYOUT_PVH_INFO, sizeof(*si));
	CHECK_EQ(si->nr_modules, 0);
}

static void bz_cmdline_too_long(void)
{
	guest_fresh();
	CHECK_EQ(parse_bzimage(100, 0x7fffffff), 0);
	char cl[128];
	memset(cl, 'a', sizeof(cl));
	cl[100] = '\0';
	CHECK_EQ(write_boot(cl, NULL, 0), 0); /* exactly cmdline_size: fits */
	cl[100] = 'a';
	cl[101] = '\0';
	memset(&err, 0, sizeof(err));
	CHECK_EQ(write_boot(cl, NULL, 0), -1);
	CHECK(err.msg[0] != '\0');
}

static void elf_cmdline_too_long(void)
{
	guest_fresh();
	CHECK_EQ(parse_elf(1), 0);
	static char cl[KERNEL_CMDLINE_DEFAULT_MAX + 2];
	memset(cl, 'b', sizeof(cl) - 1);
	cl[sizeof(cl) - 1] = '\0';
	CHECK_EQ(write_boot(cl, NULL, 0), -1);
	CHECK(err.msg[0] != '\0');
	cl[sizeof(cl) - 2] = '\0';
	CHECK_EQ(write_boot(cl, NULL, 0), 0);
}

static void initrd_too_big(void)
{
	guest_fresh();
	CHECK_EQ(parse_bzimage(2047, 0x7fffffff), 0);
	/* 60 MiB above a kernel that ends at 5 MiB in 64 MiB: does not fit.
	 * calloc'd so that a wrong "fits" would still be a valid read. */
	size_t len = MiB(60);
	uint8_t *big = calloc(1, len);
	CHECK(big != NULL);
	int r = write_boot("quiet", big, len);
	int r2 = write_boot("quiet", big, RAM + 1);
	free(big);
	CHECK_EQ(r, -1);
	CHECK(err.msg[0] != '\0');
	CHECK_EQ(r2, -1);
}

static void initrd_addr_edges(void)
{
	guest_fresh();
	CHECK_EQ(parse_bzimage(2047, 0xffffffff), 0);
	uint64_t lo = ALIGN_UP(k.end, 4096);
	uint64_t room = RAM - lo;
	CHECK_EQ(boot_initrd_addr(&k, &gm.layout, room), lo);
	CHECK_EQ(boot_initrd_addr(&k, &gm.layout, room + 1), 0);
	CHECK_EQ(boot_initrd_addr(&k, &gm.layout, 1), RAM - 4096);
	CHECK_EQ(boot_initrd_addr(&k, &gm.layout, SIZE_MAX), 0);
	/* initrd_addr_max below the kernel: nowhere to go */
	CHECK_EQ(parse_bzimage(2047, 0xfffff), 0);
	CHECK_EQ(boot_initrd_addr(&k, &gm.layout, 4096), 0);
}

/* The initrd read from its file: the same bytes where the zero page says. */
static void initrd_read_from_file(void)
{
	struct reader ir;
	int fd;
	CHECK(bzimage_with_initrd_file(&ir, &fd));
	CHECK_EQ(ir.size, sizeof(initrd));
	int r = write_boot_from("quiet", &ir);
	close(fd);
	CHECK_EQ(r, 0);
	struct boot_params *bp = zero_page();
	CHECK_EQ(bp->hdr.ramdisk_size, sizeof(initrd));
	CHECK_MEM_EQ(ram + bp->hdr.ramdisk_image, initrd, sizeof(initrd));
}

/* A file that shrank after its size was taken: refused in one line, saying so. */
static void initrd_truncated_file_refused(void)
{
	struct reader ir;
	int fd;
	CHECK(bzimage_with_initrd_file(&ir, &fd));
	int t = ftruncate(fd, sizeof(initrd) - 1);
	int r = write_boot_from("quiet", &ir);
	close(fd);
	CHECK_EQ(t, 0);
	CHECK_EQ(r, -1);
	CHECK(strstr(err.msg, "initrd") != NULL);
	CHECK(strstr(err.msg, "truncated") != NULL);
	CHECK(strchr(err.msg, '\n') == NULL);
}

/* ---- ELF ---------------------------------------------------------------- */

static void elf64_gets_zero_page(void)
{
	guest_fresh();
	CHECK_EQ(parse_elf(0), 0);
	CHECK_EQ(k.kind, KERNEL_ELF64);
	CHECK_EQ(write_boot("console=ttyS0", initrd, sizeof(initrd)), 0);
	struct boot_params *bp = zero_page();
	CHECK_EQ(bp->hdr.boot_flag, 0xaa55);
	CHECK_EQ(bp->hdr.header, 0x53726448);
	CHECK_EQ(bp->hdr.type_of_loader, 0xff);
	CHECK_EQ(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	CHECK_EQ(bp->acpi_rsdp_addr, RSDP_ADDR);
	uint64_t rd = bp->hdr.ramdisk_image;
	CHECK_EQ(rd % 4096, 0);
	CHECK(rd >= ALIGN_UP(k.end, 4096));
	CHECK_EQ(bp->hdr.ramdisk_size, sizeof(initrd));
	CHECK_MEM_EQ(ram + rd, initrd, sizeof(initrd));
	CHECK_STR_EQ((char *)ram + LAYOUT_CMDLINE, "console=ttyS0");
	check_e820_table(bp);
}

static void pvh_start_info(void)
{
	guest_fresh();
	CHECK_EQ(parse_elf(1), 0);
	CHECK_EQ(k.kind, KERNEL_ELF_PVH);
	CHECK_EQ(write_boot("console=ttyS0 quiet", initrd, sizeof(initrd)), 0);
	struct hvm_start_info *si = gm_ptr(&gm, LAYOUT_PVH_INFO, sizeof(*si));
	CHECK(si != NULL);
	CHECK_EQ(si->magic, HVM_START_MAGIC);
	CHECK_EQ(si->version, 1);
	CHECK_EQ(si->cmdline_paddr, LAYOUT_CMDLINE);
	CHECK_STR_EQ((char *)ram + si->cmdline_paddr, "console=ttyS0 quiet");
	CHECK_EQ(si->rsdp_paddr, RSDP_ADDR);
	CHECK_EQ(si->nr_modules, 1);
	struct hvm_modlist_entry *mod = gm_ptr(&gm, si->modlist_paddr, sizeof(*mod));
	CHECK(mod != NULL);
	CHECK_EQ(mod->size, sizeof(initrd));
	CHECK_EQ(mod->paddr % 4096, 0);
	CHECK(mod->paddr >= ALIGN_UP(k.end, 4096));
	CHECK(mod->paddr + mod->size <= RAM);
	CHECK_MEM_EQ(ram + mod->paddr, initrd, sizeof(initrd));
	/* the module list must not overlap the start info or the memory map */
	CHECK(si->modlist_paddr >= LAYOUT_PVH_INFO + sizeof(*si));
	CHECK(si->modlist_paddr + sizeof(*mod) <= si->memmap_paddr);

	struct e820_range r[8];
	unsigned n = layout_e820(&gm.layout, r, ARRAY_SIZE(r));
	CHECK_EQ(si->memmap_entries, n);
	struct hvm_memmap_table_entry *mm = gm_ptr(&gm, si->memmap_paddr, n * sizeof(*mm));
	CHECK(mm != NULL);
	CHECK(si->memmap_paddr + n * sizeof(*mm) <= LAYOUT_ZERO_PAGE);
	for (unsigned i = 0; i < n; i++) {
		CHECK_EQ(mm[i].addr, r[i].addr);
		CHECK_EQ(mm[i].size, r[i].size);
		CHECK_EQ(mm[i].type, r[i].type);
		CHECK_EQ(mm[i].reserved, 0);
	}
	/* the PVH path leaves the zero page alone */
	CHECK_EQ(zero_page()->hdr.boot_flag, 0);
}

static void pvh_no_initrd(void)
{
	guest_fresh();
	CHECK_EQ(parse_elf(1), 0);
	CHECK_EQ(write_boot("x", NULL, 0), 0);
	struct hvm_start_info *si = gm_ptr(&gm, LAYOUT_PVH_INFO, sizeof(*si));
	CHECK_EQ(si->magic, HVM_START_MAGIC);
	CHECK_EQ(si->nr_modules, 0);
	CHECK_EQ(si->modlist_paddr, 0);
}

int main(void)
{
	ram = malloc(RAM);
	if (!ram)
		return 1;
	RUN(bz_cmdline_written);
	RUN(bz_zero_page);
	RUN(bz_initrd_below_initrd_addr_max);
	RUN(bz_no_initrd);
	RUN(empty_initrd_is_no_initrd);
	RUN(bz_cmdline_too_long);
	RUN(elf_cmdline_too_long);
	RUN(initrd_too_big);
	RUN(initrd_addr_edges);
	RUN(initrd_read_from_file);
	RUN(initrd_truncated_file_refused);
	RUN(elf64_gets_zero_page);
	RUN(pvh_start_info);
	RUN(pvh_no_initrd);
	free(ram);
	return check_summary();
}
