/* kernel_image.h: recognise and load a guest kernel file: ELF vmlinux with or
 * without a PVH entry note, or a bzImage. Parsing works on a byte buffer and
 * trusts nothing in it. */
#ifndef EMBER_KERNEL_IMAGE_H
#define EMBER_KERNEL_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "vmm/core/guest_mem.h"
#include "vmm/lib/util.h"

enum kernel_kind {
	KERNEL_ELF_PVH, /* 32-bit protected-mode entry, hvm_start_info in %ebx */
	KERNEL_ELF64,   /* 64-bit entry, boot_params in %rsi */
	KERNEL_BZIMAGE, /* Linux boot protocol, 64-bit entry at load + 0x200 */
};

#define KERNEL_MAX_SEGMENTS 16

struct kernel_segment {
	uint64_t paddr;  /* guest-physical load address */
	uint64_t offset; /* file offset of the bytes */
	uint64_t filesz; /* bytes copied from the file */
	uint64_t memsz;  /* bytes occupied in guest memory (rest zeroed) */
};

struct kernel_image {
	enum kernel_kind kind;
	const uint8_t *data;
	size_t len;
	uint64_t entry;
	unsigned nseg;
	struct kernel_segment seg[KERNEL_MAX_SEGMENTS];
	uint64_t end;            /* highest guest address the kernel occupies */
	uint32_t cmdline_max;    /* longest command line the kernel accepts (bytes, no NUL) */
	uint64_t initrd_max;     /* highest address an initrd may end at */
	/* bzImage only */
	uint16_t protocol;       /* boot protocol version, e.g. 0x020f */
	size_t hdr_off, hdr_len; /* setup header bytes to copy into boot_params */
};

/* Kernel command lines are COMMAND_LINE_SIZE (2048) bytes on x86. */
#define KERNEL_CMDLINE_DEFAULT_MAX 2047

int kernel_parse(const uint8_t *buf, size_t len, struct kernel_image *k, struct errbuf *err);
int kernel_parse_elf(const uint8_t *buf, size_t len, struct kernel_image *k, struct errbuf *err);
int kernel_parse_bzimage(const uint8_t *buf, size_t len, struct kernel_image *k,
			 struct errbuf *err);

/* Copy the segments into guest RAM; fails when any does not fit. */
int kernel_load(const struct kernel_image *k, const struct guest_mem *gm, struct errbuf *err);

const char *kernel_kind_name(enum kernel_kind kind);

#endif
