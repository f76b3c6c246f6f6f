/* test_kernel_image.c: kernel file parsing and loading (kernel_image.c,
 * kernel_elf.c, kernel_bzimage.c). Builds ELF64 vmlinux images (with and
 * without the Xen PVH entry note) and synthetic bzImages in memory, checks what
 * the parsers make of them, and feeds corrupt and truncated variants, each of
 * which must be rejected with a message and never read out of bounds (every
 * input is parsed through a memory reader over an exactly-sized heap copy,
 * so the ASan build catches over-reads). kernel_load is checked against a
 * small guest (gm_wrap'd, or mapped as ember maps RAM): the exact bytes at
 * the segments' addresses and their bss zeroed, segments outside RAM
 * refused, and files (memfds) that end early, readers that fail or return a
 * byte at a time. */
#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/elf_fixture.h"
#include "tests/unit/check.h"
#include "vmm/core/guest_mem.h"
#include "vmm/arch/x86/kernel_image.h"
#include "vmm/arch/x86/layout.h"

/* ---- ELF builder -------------------------------------------------------- */

#define ELF_PHOFF 64
#define ELF_NOTE_OFF 0x600
#define ELF_SEG_OFF 0x1000
#define ELF_SEG_FILESZ 0x100
#define ELF_SEG_MEMSZ 0x2000
#define ELF_LEN (ELF_SEG_OFF + ELF_SEG_FILESZ)
#define ELF_PADDR 0x1000000ull /* 16 MiB */
#define ELF_ENTRY64 (ELF_PADDR + 0x40)
#define ELF_ENTRY_PVH (ELF_PADDR + 0x10)

static uint8_t img[0x4000];

static Elf64_Ehdr *ehdr(void) { return (Elf64_Ehdr *)img; }
static Elf64_Phdr *phdr(unsigned i) { return (Elf64_Phdr *)(img + ELF_PHOFF) + i; }

static size_t put_note(size_t off, uint32_t namesz, uint32_t descsz, uint32_t type,
		       const char *name, const void *desc, size_t desc_bytes)
{
	Elf64_Nhdr nh = {namesz, descsz, type};
	memcpy(img + off, &nh, sizeof(nh));
	off += sizeof(nh);
	if (name) {
		memcpy(img + off, name, strlen(name) + 1);
		off += ALIGN_UP(strlen(name) + 1, 4);
	}
	if (desc) {
		memcpy(img + off, desc, desc_bytes);
		off += ALIGN_UP(desc_bytes, 4);
	}
	return off;
}

/* An ELF64 vmlinux: one PT_LOAD at 16 MiB and, when pvh_desc is 4 or 8, a
 * PT_NOTE holding a GNU note then the Xen PVH entry note. Returns the length. */
static size_t make_elf(unsigned pvh_desc)
{
	memset(img, 0, sizeof(img));
	Elf64_Ehdr *e = ehdr();
	elf_fixture_header(e, ELF_ENTRY64, 1); /* program headers at ELF_PHOFF */
	*phdr(0) = (Elf64_Phdr){
		.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = ELF_SEG_OFF,
		.p_vaddr = 0xffffffff81000000ull, .p_paddr = ELF_PADDR,
		.p_filesz = ELF_SEG_FILESZ, .p_memsz = ELF_SEG_MEMSZ, .p_align = 0x1000,
	};
	for (unsigned i = 0; i < ELF_SEG_FILESZ; i++)
		img[ELF_SEG_OFF + i] = (uint8_t)(i * 7 + 1);
	if (pvh_desc) {
		size_t off = ELF_NOTE_OFF;
		uint8_t build_id[20];
		memset(build_id, 0xab, sizeof(build_id));
		off = put_note(off, 4, sizeof(build_id), NT_GNU_BUILD_ID, "GNU", build_id,
			       sizeof(build_id));
		uint64_t entry = ELF_ENTRY_PVH;
		off = put_note(off, 4, pvh_desc, 18, "Xen", &entry, pvh_desc);
		e->e_phnum = 2;
		*phdr(1) = (Elf64_Phdr){
			.p_type = PT_NOTE, .p_offset = ELF_NOTE_OFF,
			.p_filesz = off - ELF_NOTE_OFF, .p_memsz = off - ELF_NOTE_OFF,
		};
	}
	return ELF_LEN;
}

/* ---- bzImage builder ---------------------------------------------------- */

#define HDR(field) offsetof(struct boot_params, hdr.field)
#define BZ_PM_LEN 0x800
#define BZ_INIT_SIZE 0x400000u
#define BZ_INITRD_ADDR_MAX 0x37ffffffu
#define BZ_CMDLINE_SIZE 1000u

static void put16(size_t off, uint16_t v) { memcpy(img + off, &v, 2); }
static void put32(size_t off, uint32_t v) { memcpy(img + off, &v, 4); }

/* A bzImage with setup_sects as given (0 meaning 4) and BZ_PM_LEN bytes of
 * protected-mode kernel. Returns the length. */
static size_t make_bzimage(uint8_t setup_sects)
{
	memset(img, 0, sizeof(img));
	unsigned sects = setup_sects ? setup_sects : 4;
	size_t setup = (sects + 1) * 512;
	img[HDR(setup_sects)] = setup_sects;
	put16(HDR(boot_flag), 0xaa55);
	img[0x200] = 0xeb; /* jmp short over the header */
	img[0x201] = 0x66;
	put32(HDR(header), 0x53726448);
	put16(HDR(version), 0x020f);
	img[HDR(loadflags)] = LOADED_HIGH;
	put32(HDR(initrd_addr_max), BZ_INITRD_ADDR_MAX);
	put16(HDR(xloadflags), XLF_KERNEL_64);
	put32(HDR(cmdline_size), BZ_CMDLINE_SIZE);
	put32(HDR(init_size), BZ_INIT_SIZE);
	for (size_t i = 0; i < BZ_PM_LEN; i++)
		img[setup + i] = (uint8_t)(i * 13 + 5);
	return setup + BZ_PM_LEN;
}

/* ---- helpers ------------------------------------------------------------ */

/* The reader of the last parse_copy: kernel_load reads the segments through it. */
static struct reader rd;

/* Parse an exact heap copy of img[0, len) through rd. The copy is returned
 * in *copy (the caller frees it) so rd stays valid for kernel_load. */
static int parse_copy(size_t len, struct kernel_image *k, struct errbuf *err, uint8_t **copy)
{
	uint8_t *c = malloc(len ? len : 1);
	if (len)
		memcpy(c, img, len);
	memset(err, 0, sizeof(*err));
	memset(k, 0x5a, sizeof(*k));
	reader_mem(&rd, c, len);
	int r = kernel_parse(&rd, k, err);
	*copy = c;
	return r;
}

static void expect_reject(size_t len)
{
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	int r = parse_copy(len, &k, &err, &c);
	free(c);
	CHECK_EQ(r, -1);
	CHECK(err.msg[0] != '\0');
}

static void expect_ok(size_t len, enum kernel_kind kind, uint64_t entry)
{
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	int r = parse_copy(len, &k, &err, &c);
	free(c);
	if (r)
		printf("  unexpected error: %s\n", err.msg);
	CHECK_EQ(r, 0);
	CHECK_EQ(k.kind, kind);
	CHECK_EQ(k.entry, entry);
}

/* ---- ELF: good images --------------------------------------------------- */

static void elf_pvh_note_4byte(void)
{
	size_t len = make_elf(4);
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	int r = parse_copy(len, &k, &err, &c);
	free(c);
	CHECK_EQ(r, 0);
	CHECK_EQ(k.kind, KERNEL_ELF_PVH);
	CHECK_EQ(k.entry, ELF_ENTRY_PVH);
	CHECK_EQ(k.nseg, 1);
	CHECK_EQ(k.seg[0].paddr, ELF_PADDR);
	CHECK_EQ(k.seg[0].offset, ELF_SEG_OFF);
	CHECK_EQ(k.seg[0].filesz, ELF_SEG_FILESZ);
	CHECK_EQ(k.seg[0].memsz, ELF_SEG_MEMSZ);
	CHECK_EQ(k.end, ELF_PADDR + ELF_SEG_MEMSZ);
	CHECK_EQ(k.len, len);
	CHECK_EQ(k.cmdline_max, KERNEL_CMDLINE_DEFAULT_MAX);
	CHECK(k.initrd_max >= 0xffffffffull);
	CHECK(strlen(kernel_kind_name(k.kind)) > 0);
}

static void elf_pvh_note_8byte(void)
{
	expect_ok(make_elf(8), KERNEL_ELF_PVH, ELF_ENTRY_PVH);
}

static void elf_without_note_is_elf64(void)
{
	size_t len = make_elf(0);
	expect_ok(len, KERNEL_ELF64, ELF_ENTRY64);
	CHECK(strcmp(kernel_kind_name(KERNEL_ELF64), kernel_kind_name(KERNEL_ELF_PVH)) != 0);
}

static void elf_note_without_xen_is_elf64(void)
{
	size_t len = make_elf(4);
	/* Rename the Xen note: only foreign notes remain. */
	uint8_t *xen = memmem(img + ELF_NOTE_OFF, 0x100, "Xen", 4);
	CHECK(xen != NULL);
	memcpy(xen, "Xem", 4);
	expect_ok(len, KERNEL_ELF64, ELF_ENTRY64);
}

static void elf_pvh_note_bad_desc_size_ignored(void)
{
	size_t len = make_elf(0);
	uint32_t entry = (uint32_t)ELF_ENTRY_PVH;
	size_t end = put_note(ELF_NOTE_OFF, 4, 2, 18, "Xen", &entry, 2);
	ehdr()->e_phnum = 2;
	*phdr(1) = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = ELF_NOTE_OFF,
				.p_filesz = end - ELF_NOTE_OFF};
	expect_ok(len, KERNEL_ELF64, ELF_ENTRY64);
}

static void elf_note_huge_namesz(void)
{
	size_t len = make_elf(4);
	Elf64_Nhdr *nh = (Elf64_Nhdr *)(img + ELF_NOTE_OFF);
	nh->n_namesz = 0xffffffffu; /* first note claims more than the area: stop looking */
	expect_ok(len, KERNEL_ELF64, ELF_ENTRY64);
}

static void elf_note_huge_descsz(void)
{
	size_t len = make_elf(4);
	Elf64_Nhdr *nh = (Elf64_Nhdr *)(img + ELF_NOTE_OFF);
	nh->n_descsz = 0xfffffffdu;
	expect_ok(len, KERNEL_ELF64, ELF_ENTRY64);
}

static void elf_xen_note_huge_descsz(void)
{
	size_t len = make_elf(4);
	uint8_t *xen = memmem(img + ELF_NOTE_OFF, 0x100, "Xen", 4);
	CHECK(xen != NULL);
	Elf64_Nhdr *nh = (Elf64_Nhdr *)(xen - sizeof(Elf64_Nhdr));
	nh->n_descsz = 0xfffffff0u;
	expect_ok(len, KERNEL_ELF64, ELF_ENTRY64);
}

/* A note area ending at the very end of the file, cut inside a note. */
static void elf_note_at_end_of_file_truncated(void)
{
	size_t len = make_elf(0);
	size_t off = len;
	uint32_t entry = (uint32_t)ELF_ENTRY_PVH;
	size_t end = put_note(off, 4, 4, 18, "Xen", &entry, 4);
	for (size_t cut = off; cut < end; cut++) {
		ehdr()->e_phnum = 2;
		*phdr(1) = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = off, .p_filesz = cut - off};
		expect_ok(cut, KERNEL_ELF64, ELF_ENTRY64);
	}
	*phdr(1) = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = off, .p_filesz = end - off};
	expect_ok(end, KERNEL_ELF_PVH, ELF_ENTRY_PVH);
}

static void elf_16_segments_accepted(void)
{
	size_t len = make_elf(0);
	ehdr()->e_phnum = KERNEL_MAX_SEGMENTS;
	for (unsigned i = 1; i < KERNEL_MAX_SEGMENTS; i++) {
		*phdr(i) = *phdr(0);
		phdr(i)->p_paddr = ELF_PADDR + i * ELF_SEG_MEMSZ;
	}
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	int r = parse_copy(len, &k, &err, &c);
	free(c);
	CHECK_EQ(r, 0);
	CHECK_EQ(k.nseg, KERNEL_MAX_SEGMENTS);
	CHECK_EQ(k.end, ELF_PADDR + KERNEL_MAX_SEGMENTS * ELF_SEG_MEMSZ);
}

static void elf_empty_pt_load_skipped(void)
{
	size_t len = make_elf(0);
	ehdr()->e_phnum = 2;
	*phdr(1) = (Elf64_Phdr){.p_type = PT_LOAD, .p_offset = 0, .p_paddr = 0x200000};
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	int r = parse_copy(len, &k, &err, &c);
	free(c);
	CHECK_EQ(r, 0);
	CHECK_EQ(k.nseg, 1);
}

/* ---- ELF: rejected ------------------------------------------------------ */

static void reject_empty_file(void) { expect_reject(0); }

static void reject_3_bytes(void)
{
	make_elf(0);
	expect_reject(3);
}

static void reject_elf_magic_only(void)
{
	make_elf(0);
	expect_reject(SELFMAG);
}

static void reject_elf_header_only(void)
{
	make_elf(0);
	expect_reject(sizeof(Elf64_Ehdr));
}

static void reject_elf32(void)
{
	size_t len = make_elf(4);
	ehdr()->e_ident[EI_CLASS] = ELFCLASS32;
	expect_reject(len);
	expect_reject(52); /* as long as an ELF32 header */
}

static void reject_big_endian(void)
{
	size_t len = make_elf(4);
	ehdr()->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_reject(len);
}

static void reject_wrong_machine(void)
{
	size_t len = make_elf(4);
	ehdr()->e_machine = EM_AARCH64;
	expect_reject(len);
	ehdr()->e_machine = EM_386;
	expect_reject(len);
}

static void reject_et_dyn(void)
{
	size_t len = make_elf(4);
	ehdr()->e_type = ET_DYN;
	expect_reject(len);
	ehdr()->e_type = ET_REL;
	expect_reject(len);
}

static void reject_phoff_beyond_file(void)
{
	size_t len = make_elf(4);
	ehdr()->e_phoff = len + 8;
	expect_reject(len);
	ehdr()->e_phoff = UINT64_MAX;
	expect_reject(len);
	ehdr()->e_phoff = UINT64_MAX - 8;
	expect_reject(len);
}

static void reject_phdrs_beyond_file(void)
{
	size_t len = make_elf(4);
	ehdr()->e_phnum = 0xffff; /* 0xffff * 56 bytes: far more than the file */
	expect_reject(len);
	ehdr()->e_phnum = 1;
	ehdr()->e_phoff = len - sizeof(Elf64_Phdr) + 1; /* last header cut by one byte */
	expect_reject(len);
	ehdr()->e_phoff = len; /* empty table at the very end */
	expect_reject(len);
}

static void reject_no_phdrs(void)
{
	size_t len = make_elf(4);
	ehdr()->e_phnum = 0;
	expect_reject(len);
}

static void reject_wrong_phentsize(void)
{
	size_t len = make_elf(4);
	ehdr()->e_phentsize = 32;
	expect_reject(len);
	ehdr()->e_phentsize = 0;
	expect_reject(len);
	ehdr()->e_phentsize = 0xffff;
	expect_reject(len);
}

static void reject_segment_offset_beyond_file(void)
{
	size_t len = make_elf(0);
	phdr(0)->p_offset = len + 1;
	expect_reject(len);
	phdr(0)->p_offset = UINT64_MAX;
	expect_reject(len);
}

static void reject_segment_filesz_beyond_file(void)
{
	size_t len = make_elf(0);
	phdr(0)->p_filesz = ELF_SEG_FILESZ + 1;
	expect_reject(len);
	phdr(0)->p_filesz = UINT64_MAX - ELF_SEG_OFF + 1; /* offset + filesz wraps to 0 */
	phdr(0)->p_memsz = UINT64_MAX;
	expect_reject(len);
}

static void reject_note_beyond_file(void)
{
	size_t len = make_elf(4);
	phdr(1)->p_filesz = len;
	expect_reject(len);
	phdr(1)->p_offset = UINT64_MAX - 4;
	phdr(1)->p_filesz = 8;
	expect_reject(len);
}

static void reject_memsz_below_filesz(void)
{
	size_t len = make_elf(0);
	phdr(0)->p_memsz = ELF_SEG_FILESZ - 1;
	expect_reject(len);
}

static void reject_paddr_memsz_overflow(void)
{
	size_t len = make_elf(0);
	phdr(0)->p_paddr = UINT64_MAX - 0x100;
	expect_reject(len);
	phdr(0)->p_paddr = UINT64_MAX - ELF_SEG_MEMSZ + 1; /* end is exactly 2^64 */
	expect_reject(len);
}

static void reject_too_many_segments(void)
{
	size_t len = make_elf(0);
	ehdr()->e_phnum = KERNEL_MAX_SEGMENTS + 1;
	for (unsigned i = 1; i <= KERNEL_MAX_SEGMENTS; i++) {
		*phdr(i) = *phdr(0);
		phdr(i)->p_paddr = ELF_PADDR + i * ELF_SEG_MEMSZ;
	}
	expect_reject(len);
}

static void reject_no_pt_load(void)
{
	size_t len = make_elf(4);
	phdr(0)->p_type = PT_NULL;
	expect_reject(len);
	phdr(0)->p_type = PT_LOAD;
	phdr(0)->p_filesz = phdr(0)->p_memsz = 0; /* only an empty PT_LOAD */
	expect_reject(len);
}

/* Every prefix of a good ELF image: no crash, and nothing short of the whole
 * segment data parses. */
static void elf_truncated_every_length(void)
{
	size_t len = make_elf(8);
	for (size_t l = 0; l < len; l++)
		expect_reject(l);
	expect_ok(len, KERNEL_ELF_PVH, ELF_ENTRY_PVH);
}

/* ---- bzImage ------------------------------------------------------------ */

static void bz_basic(void)
{
	size_t len = make_bzimage(4);
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	int r = parse_copy(len, &k, &err, &c);
	free(c);
	CHECK_EQ(r, 0);
	CHECK_EQ(k.kind, KERNEL_BZIMAGE);
	CHECK_EQ(k.entry, 0x100200);
	CHECK_EQ(k.nseg, 1);
	CHECK_EQ(k.seg[0].paddr, 0x100000);
	CHECK_EQ(k.seg[0].offset, 5 * 512);
	CHECK_EQ(k.seg[0].filesz, BZ_PM_LEN);
	CHECK_EQ(k.seg[0].memsz, BZ_INIT_SIZE);
	CHECK_EQ(k.end, 0x100000 + BZ_INIT_SIZE);
	CHECK_EQ(k.protocol, 0x020f);
	CHECK_EQ(k.cmdline_max, BZ_CMDLINE_SIZE);
	CHECK_EQ(k.initrd_max, (uint64_t)BZ_INITRD_ADDR_MAX + 1);
	CHECK_EQ(k.hdr_off, 0x1f1);
	CHECK_EQ(k.hdr_off + k.hdr_len, 0x202 + 0x66);
	CHECK_MEM_EQ(k.hdr, img + 0x1f1, k.hdr_len); /* kept for the zero page */
	CHECK_EQ(k.len, len);
}

static void bz_setup_sects_zero_means_4(void)
{
	size_t len = make_bzimage(0);
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	int r = parse_copy(len, &k, &err, &c);
	free(c);
	CHECK_EQ(r, 0);
	CHECK_EQ(k.seg[0].offset, 5 * 512);
	CHECK_EQ(k.seg[0].filesz, BZ_PM_LEN);
}

static void bz_setup_sects_1(void)
{
	size_t len = make_bzimage(1);
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	int r = parse_copy(len, &k, &err, &c);
	free(c);
	CHECK_EQ(r, 0);
	CHECK_EQ(k.seg[0].offset, 2 * 512);
	CHECK_EQ(k.seg[0].filesz, BZ_PM_LEN);
}

static void bz_small_init_size(void)
{
	size_t len = make_bzimage(4);
	put32(HDR(init_size), 16); /* smaller than the file part: memsz covers the file */
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	int r = parse_copy(len, &k, &err, &c);
	free(c);
	CHECK_EQ(r, 0);
	CHECK_EQ(k.seg[0].memsz, BZ_PM_LEN);
}

static void bz_cmdline_size_limits(void)
{
	size_t len = make_bzimage(4);
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	put32(HDR(cmdline_size), 0); /* not set: the old 255-byte limit */
	int r = parse_copy(len, &k, &err, &c);
	free(c);
	CHECK_EQ(r, 0);
	CHECK_EQ(k.cmdline_max, 255);
	put32(HDR(cmdline_size), 0xffffffffu); /* capped at COMMAND_LINE_SIZE - 1 */
	r = parse_copy(len, &k, &err, &c);
	free(c);
	CHECK_EQ(r, 0);
	CHECK_EQ(k.cmdline_max, KERNEL_CMDLINE_DEFAULT_MAX);
}

static void bz_long_jump_header_capped(void)
{
	size_t len = make_bzimage(4);
	img[0x201] = 0xff; /* header "ends" past struct setup_header */
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	int r = parse_copy(len, &k, &err, &c);
	free(c);
	CHECK_EQ(r, 0);
	CHECK_EQ(k.hdr_off + k.hdr_len, 0x1f1 + sizeof(struct setup_header));
}

static void reject_bz_bad_boot_flag(void)
{
	size_t len = make_bzimage(4);
	put16(HDR(boot_flag), 0x55aa);
	expect_reject(len);
}

static void reject_bz_old_protocol(void)
{
	size_t len = make_bzimage(4);
	put16(HDR(version), 0x020b);
	expect_reject(len);
	put16(HDR(version), 0x0200);
	expect_reject(len);
}

static void reject_bz_no_64bit_entry(void)
{
	size_t len = make_bzimage(4);
	put16(HDR(xloadflags), 0);
	expect_reject(len);
}

static void reject_bz_not_loaded_high(void)
{
	size_t len = make_bzimage(4);
	img[HDR(loadflags)] = 0;
	expect_reject(len);
}

static void reject_bz_setup_larger_than_file(void)
{
	size_t len = make_bzimage(4);
	img[HDR(setup_sects)] = 200;
	expect_reject(len);
	/* setup exactly the whole file: no kernel left */
	img[HDR(setup_sects)] = 4;
	expect_reject(5 * 512);
}

static void bz_truncated_0_to_1100(void)
{
	make_bzimage(4);
	for (size_t l = 0; l <= 1100; l++)
		expect_reject(l);
}

static void bz_truncated_setup_sects_1(void)
{
	/* With a 1024-byte setup, lengths past it parse; none may crash. */
	size_t len = make_bzimage(1);
	for (size_t l = 0; l <= len; l++) {
		struct kernel_image k;
		struct errbuf err;
		uint8_t *c;
		int r = parse_copy(l, &k, &err, &c);
		free(c);
		if (l <= 1024) {
			CHECK_EQ(r, -1);
			CHECK(err.msg[0] != '\0');
		} else {
			CHECK_EQ(r, 0);
			CHECK_EQ(k.seg[0].filesz, l - 1024);
		}
	}
}

static void reject_neither_format(void)
{
	memset(img, 0x90, sizeof(img));
	expect_reject(sizeof(img));
	memset(img, 0, sizeof(img));
	memcpy(img, "#!/bin/sh\necho hello\n", 21);
	expect_reject(21);
	expect_reject(4096);
	/* "HdrS" where a bzImage has it, but too short for a setup header */
	memset(img, 0, sizeof(img));
	memcpy(img + 0x202, "HdrS", 4);
	expect_reject(0x206);
	expect_reject(0x300);
}

/* ---- kernel_load -------------------------------------------------------- */

#define GUEST_RAM MiB(32)

static void load_elf_copies_bytes(void)
{
	size_t len = make_elf(4);
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	CHECK_EQ(parse_copy(len, &k, &err, &c), 0);
	uint8_t *ram = calloc(1, GUEST_RAM);
	struct guest_mem gm;
	gm_wrap(&gm, ram, GUEST_RAM);
	int r = kernel_load(&k, &rd, &gm, &err);
	int same = memcmp(ram + ELF_PADDR, img + ELF_SEG_OFF, ELF_SEG_FILESZ) == 0;
	uint8_t after = ram[ELF_PADDR + ELF_SEG_FILESZ], before = ram[ELF_PADDR - 1];
	free(ram);
	free(c);
	CHECK_EQ(r, 0);
	CHECK(same);
	CHECK_EQ(after, 0);
	CHECK_EQ(before, 0);
}

static void load_bzimage_copies_bytes(void)
{
	size_t len = make_bzimage(4);
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	CHECK_EQ(parse_copy(len, &k, &err, &c), 0);
	uint8_t *ram = calloc(1, GUEST_RAM);
	struct guest_mem gm;
	gm_wrap(&gm, ram, GUEST_RAM);
	int r = kernel_load(&k, &rd, &gm, &err);
	int same = memcmp(ram + LAYOUT_HIMEM, img + 5 * 512, BZ_PM_LEN) == 0;
	free(ram);
	free(c);
	CHECK_EQ(r, 0);
	CHECK(same);
}

static void load_expect_fail(uint64_t paddr, uint64_t memsz)
{
	size_t len = make_elf(0);
	phdr(0)->p_paddr = paddr;
	phdr(0)->p_memsz = memsz;
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	CHECK_EQ(parse_copy(len, &k, &err, &c), 0);
	uint8_t *ram = calloc(1, GUEST_RAM);
	struct guest_mem gm;
	gm_wrap(&gm, ram, GUEST_RAM);
	memset(&err, 0, sizeof(err));
	int r = kernel_load(&k, &rd, &gm, &err);
	free(ram);
	free(c);
	CHECK_EQ(r, -1);
	CHECK(err.msg[0] != '\0');
}

static void load_rejects_segment_below_1mib(void)
{
	load_expect_fail(0x80000, ELF_SEG_MEMSZ);
	load_expect_fail(0, ELF_SEG_MEMSZ);
	load_expect_fail(LAYOUT_HIMEM - 0x100, ELF_SEG_MEMSZ); /* straddles 1 MiB */
}

static void load_rejects_segment_past_ram(void)
{
	load_expect_fail(GUEST_RAM - 0x1000, ELF_SEG_MEMSZ); /* bss runs past the end */
	load_expect_fail(GUEST_RAM, ELF_SEG_MEMSZ);
	load_expect_fail(LAYOUT_MMIO_HOLE, ELF_SEG_MEMSZ);
	load_expect_fail(LAYOUT_MMIO_HOLE_END, ELF_SEG_MEMSZ);
	load_expect_fail(LAYOUT_HIMEM, UINT64_MAX - LAYOUT_HIMEM);
}

static void load_segment_ending_at_ram_end(void)
{
	size_t len = make_elf(0);
	phdr(0)->p_paddr = GUEST_RAM - ELF_SEG_MEMSZ;
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	CHECK_EQ(parse_copy(len, &k, &err, &c), 0);
	uint8_t *ram = calloc(1, GUEST_RAM);
	struct guest_mem gm;
	gm_wrap(&gm, ram, GUEST_RAM);
	int r = kernel_load(&k, &rd, &gm, &err);
	int same = memcmp(ram + GUEST_RAM - ELF_SEG_MEMSZ, img + ELF_SEG_OFF, ELF_SEG_FILESZ) == 0;
	free(ram);
	free(c);
	CHECK_EQ(r, 0);
	CHECK(same);
}

static void load_rejects_bzimage_init_size_past_ram(void)
{
	size_t len = make_bzimage(4);
	put32(HDR(init_size), (uint32_t)GUEST_RAM);
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c;
	CHECK_EQ(parse_copy(len, &k, &err, &c), 0);
	uint8_t *ram = calloc(1, GUEST_RAM);
	struct guest_mem gm;
	gm_wrap(&gm, ram, GUEST_RAM);
	memset(&err, 0, sizeof(err));
	int r = kernel_load(&k, &rd, &gm, &err);
	free(ram);
	free(c);
	CHECK_EQ(r, -1);
	CHECK(err.msg[0] != '\0');
}

/* ---- loading: exact bytes, bss, files that end early -------------------- */

/* RAM as ember maps it (gm_map: private anonymous), or a wrapped buffer. */
static int guest_new(struct guest_mem *gm, int mapped, uint8_t **buf)
{
	*buf = NULL;
	if (mapped)
		return gm_map(gm, GUEST_RAM);
	*buf = malloc(GUEST_RAM);
	if (!*buf)
		return -1;
	gm_wrap(gm, *buf, GUEST_RAM);
	return 0;
}

static void guest_free(struct guest_mem *gm, uint8_t *buf)
{
	if (buf)
		free(buf);
	else
		gm_unmap(gm);
}

/* Two PT_LOAD segments with unaligned bss edges into RAM full of 0xff: each
 * segment's file bytes at its address, its bss zero up to memsz, nothing
 * around them touched. */
#define SEG2_OFF 0x2000
#define SEG2_FILESZ 0x80
#define SEG2_PADDR (ELF_PADDR + 0x3010)
#define SEG2_MEMSZ 0x3001
static void load_elf_exact_bytes_bss_zeroed(int mapped)
{
	make_elf(4);
	ehdr()->e_phnum = 3;
	*phdr(2) = (Elf64_Phdr){.p_type = PT_LOAD, .p_offset = SEG2_OFF, .p_paddr = SEG2_PADDR,
				.p_filesz = SEG2_FILESZ, .p_memsz = SEG2_MEMSZ};
	for (unsigned i = 0; i < SEG2_FILESZ; i++)
		img[SEG2_OFF + i] = (uint8_t)(0xc0 ^ i);
	size_t len = SEG2_OFF + SEG2_FILESZ;
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c, *buf;
	CHECK_EQ(parse_copy(len, &k, &err, &c), 0);
	CHECK_EQ(k.nseg, 2);
	struct guest_mem gm;
	if (guest_new(&gm, mapped, &buf)) {
		free(c);
		CHECK(!"no guest memory");
	}
	uint8_t *ram = gm.base;
	memset(ram, 0xff, GUEST_RAM);
	int r = kernel_load(&k, &rd, &gm, &err);
	static uint8_t zeros[SEG2_MEMSZ];
	int ok1 = memcmp(ram + ELF_PADDR, img + ELF_SEG_OFF, ELF_SEG_FILESZ) == 0 &&
		  memcmp(ram + ELF_PADDR + ELF_SEG_FILESZ, zeros, ELF_SEG_MEMSZ - ELF_SEG_FILESZ) == 0;
	int ok2 = memcmp(ram + SEG2_PADDR, img + SEG2_OFF, SEG2_FILESZ) == 0 &&
		  memcmp(ram + SEG2_PADDR + SEG2_FILESZ, zeros, SEG2_MEMSZ - SEG2_FILESZ) == 0;
	uint8_t before = ram[ELF_PADDR - 1], gap = ram[ELF_PADDR + ELF_SEG_MEMSZ],
		gap_end = ram[SEG2_PADDR - 1], after = ram[SEG2_PADDR + SEG2_MEMSZ];
	guest_free(&gm, buf);
	free(c);
	if (r)
		printf("  error: %s\n", err.msg);
	CHECK_EQ(r, 0);
	CHECK(ok1);
	CHECK(ok2);
	CHECK_EQ(before, 0xff);
	CHECK_EQ(gap, 0xff);
	CHECK_EQ(gap_end, 0xff);
	CHECK_EQ(after, 0xff);
}
static void load_elf_exact_bytes_bss_zeroed_wrapped(void) { load_elf_exact_bytes_bss_zeroed(0); }
static void load_elf_exact_bytes_bss_zeroed_mapped(void) { load_elf_exact_bytes_bss_zeroed(1); }

/* The bzImage's protected-mode part at 1 MiB, the rest of init_size zeroed. */
static void load_bzimage_exact_bytes_bss_zeroed(void)
{
	size_t len = make_bzimage(4);
	struct kernel_image k;
	struct errbuf err;
	uint8_t *c, *buf;
	CHECK_EQ(parse_copy(len, &k, &err, &c), 0);
	struct guest_mem gm;
	if (guest_new(&gm, 1, &buf)) {
		free(c);
		CHECK(!"no guest memory");
	}
	uint8_t *ram = gm.base;
	memset(ram, 0xff, GUEST_RAM);
	int r = kernel_load(&k, &rd, &gm, &err);
	int same = memcmp(ram + LAYOUT_HIMEM, img + 5 * 512, BZ_PM_LEN) == 0;
	int bss_zero = 1;
	for (uint64_t a = LAYOUT_HIMEM + BZ_PM_LEN; a < LAYOUT_HIMEM + BZ_INIT_SIZE; a++)
		bss_zero &= ram[a] == 0;
	uint8_t before = ram[LAYOUT_HIMEM - 1], after = ram[LAYOUT_HIMEM + BZ_INIT_SIZE];
	guest_free(&gm, buf);
	free(c);
	CHECK_EQ(r, 0);
	CHECK(same);
	CHECK(bss_zero);
	CHECK_EQ(before, 0xff);
	CHECK_EQ(after, 0xff);
}

/* img[0, len) in a memfd, read through *r (a file reader, as ember's). */
static int memfd_reader(size_t len, struct reader *r)
{
	int fd = memfd_create("kernel", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, img, len) != (ssize_t)len || reader_fd(r, fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A file parsed whole, then cut by one byte before loading (it shrank
 * meanwhile): the load is refused with one line saying the file is
 * truncated. */
static void load_truncated_file(size_t len)
{
	struct reader fr;
	int fd = memfd_reader(len, &fr);
	CHECK(fd >= 0);
	struct kernel_image k;
	struct errbuf err = {{0}};
	int p = kernel_parse(&fr, &k, &err);
	int t = ftruncate(fd, (off_t)len - 1);
	uint8_t *ram = calloc(1, GUEST_RAM);
	struct guest_mem gm;
	gm_wrap(&gm, ram, GUEST_RAM);
	int r = p ? 0 : kernel_load(&k, &fr, &gm, &err);
	free(ram);
	close(fd);
	CHECK_EQ(p, 0);
	CHECK_EQ(t, 0);
	CHECK_EQ(r, -1);
	CHECK(strstr(err.msg, "truncated") != NULL);
	CHECK(strchr(err.msg, '\n') == NULL);
}
static void load_elf_truncated_segment(void) { load_truncated_file(make_elf(4)); }
static void load_bzimage_truncated_payload(void) { load_truncated_file(make_bzimage(4)); }

/* Files that are short from the start are refused by the parser already:
 * the same checks hold for a file reader as for bytes in memory. */
static void parse_truncated_files(void)
{
	struct reader fr;
	struct kernel_image k;
	struct errbuf err = {{0}};
	int fd = memfd_reader(make_elf(4) - 1, &fr);
	CHECK(fd >= 0);
	int r = kernel_parse(&fr, &k, &err);
	close(fd);
	CHECK_EQ(r, -1);
	CHECK(strstr(err.msg, "outside the file") != NULL);
	fd = memfd_reader(make_bzimage(4) - BZ_PM_LEN, &fr); /* setup sectors only */
	CHECK(fd >= 0);
	r = kernel_parse(&fr, &k, &err);
	close(fd);
	CHECK_EQ(r, -1);
	CHECK(strstr(err.msg, "truncated") != NULL);
}

/* Readers that return a byte at a time (short reads are looped on) and
 * that fail (the error is passed on in one line). */
static int fail_at; /* offset from which the test reader fails; -1: never */
static ssize_t dribble_read(const struct reader *r, uint64_t off, void *buf, size_t len)
{
	if (fail_at >= 0 && off >= (uint64_t)fail_at)
		return -EIO;
	if (off >= r->size || len == 0)
		return 0;
	memcpy(buf, (const uint8_t *)r->ctx + off, 1);
	return 1;
}

static void load_through_short_and_failing_reads(void)
{
	size_t len = make_elf(4);
	struct reader dr = {.size = len, .read = dribble_read, .ctx = img, .fd = -1};
	struct kernel_image k;
	struct errbuf err = {{0}};
	fail_at = -1;
	CHECK_EQ(kernel_parse(&dr, &k, &err), 0);
	CHECK_EQ(k.kind, KERNEL_ELF_PVH);
	CHECK_EQ(k.entry, ELF_ENTRY_PVH);
	uint8_t *ram = calloc(1, GUEST_RAM);
	struct guest_mem gm;
	gm_wrap(&gm, ram, GUEST_RAM);
	int r = kernel_load(&k, &dr, &gm, &err);
	int same = memcmp(ram + ELF_PADDR, img + ELF_SEG_OFF, ELF_SEG_FILESZ) == 0;
	fail_at = ELF_SEG_OFF + 3; /* fails inside the segment */
	int r2 = kernel_load(&k, &dr, &gm, &err);
	fail_at = ELF_NOTE_OFF; /* fails in the notes: parsing reports it */
	struct errbuf err3 = {{0}};
	int r3 = kernel_parse(&dr, &k, &err3);
	fail_at = -1;
	free(ram);
	CHECK_EQ(r, 0);
	CHECK(same);
	CHECK_EQ(r2, -1);
	CHECK(strstr(err.msg, strerror(EIO)) != NULL);
	CHECK_EQ(r3, -1);
	CHECK(strstr(err3.msg, strerror(EIO)) != NULL);
}

int main(void)
{
	RUN(elf_pvh_note_4byte);
	RUN(elf_pvh_note_8byte);
	RUN(elf_without_note_is_elf64);
	RUN(elf_note_without_xen_is_elf64);
	RUN(elf_pvh_note_bad_desc_size_ignored);
	RUN(elf_note_huge_namesz);
	RUN(elf_note_huge_descsz);
	RUN(elf_xen_note_huge_descsz);
	RUN(elf_note_at_end_of_file_truncated);
	RUN(elf_16_segments_accepted);
	RUN(elf_empty_pt_load_skipped);
	RUN(reject_empty_file);
	RUN(reject_3_bytes);
	RUN(reject_elf_magic_only);
	RUN(reject_elf_header_only);
	RUN(reject_elf32);
	RUN(reject_big_endian);
	RUN(reject_wrong_machine);
	RUN(reject_et_dyn);
	RUN(reject_phoff_beyond_file);
	RUN(reject_phdrs_beyond_file);
	RUN(reject_no_phdrs);
	RUN(reject_wrong_phentsize);
	RUN(reject_segment_offset_beyond_file);
	RUN(reject_segment_filesz_beyond_file);
	RUN(reject_note_beyond_file);
	RUN(reject_memsz_below_filesz);
	RUN(reject_paddr_memsz_overflow);
	RUN(reject_too_many_segments);
	RUN(reject_no_pt_load);
	RUN(elf_truncated_every_length);
	RUN(bz_basic);
	RUN(bz_setup_sects_zero_means_4);
	RUN(bz_setup_sects_1);
	RUN(bz_small_init_size);
	RUN(bz_cmdline_size_limits);
	RUN(bz_long_jump_header_capped);
	RUN(reject_bz_bad_boot_flag);
	RUN(reject_bz_old_protocol);
	RUN(reject_bz_no_64bit_entry);
	RUN(reject_bz_not_loaded_high);
	RUN(reject_bz_setup_larger_than_file);
	RUN(bz_truncated_0_to_1100);
	RUN(bz_truncated_setup_sects_1);
	RUN(reject_neither_format);
	RUN(load_elf_copies_bytes);
	RUN(load_bzimage_copies_bytes);
	RUN(load_rejects_segment_below_1mib);
	RUN(load_rejects_segment_past_ram);
	RUN(load_segment_ending_at_ram_end);
	RUN(load_rejects_bzimage_init_size_past_ram);
	RUN(load_elf_exact_bytes_bss_zeroed_wrapped);
	RUN(load_elf_exact_bytes_bss_zeroed_mapped);
	RUN(load_bzimage_exact_bytes_bss_zeroed);
	RUN(load_elf_truncated_segment);
	RUN(load_bzimage_truncated_payload);
	RUN(parse_truncated_files);
	RUN(load_through_short_and_failing_reads);
	return check_summary();
}
