/* kernel_image.h: recognise and load a guest kernel file: ELF vmlinux with or
 * without a PVH entry note, or a bzImage. Parsing reads only the headers
 * (through a reader: the file, or bytes in memory) and trusts nothing in
 * them; loading reads each segment from the file straight into guest RAM, so
 * no copy of the kernel is ever held. */
#ifndef EMBER_KERNEL_IMAGE_H
#define EMBER_KERNEL_IMAGE_H

#include <asm/bootparam.h>
#include <stddef.h>
#include <stdint.h>
#include "vmm/core/guest_mem.h"
#include "vmm/lib/reader.h"
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
	uint64_t len;            /* the file's size */
	uint64_t entry;
	unsigned nseg;
	struct kernel_segment seg[KERNEL_MAX_SEGMENTS];
	uint64_t end;            /* highest guest address the kernel occupies */
	uint32_t cmdline_max;    /* longest command line the kernel accepts (bytes, no NUL) */
	uint64_t initrd_max;     /* highest address an initrd may end at */
	/* bzImage only */
	uint16_t protocol;       /* boot protocol version, e.g. 0x020f */
	/* The compressed kernel inside (payload_offset 0x248 and payload_length
	 * 0x24c, from protocol 2.08): its file offset and length, both checked
	 * to lie in the protected-mode part; 0 when the header has none. */
	uint64_t payload_off, payload_len;
	size_t hdr_off, hdr_len; /* setup header bytes to copy into boot_params, */
	uint8_t hdr[sizeof(struct setup_header)]; /* kept here: from file offset hdr_off */
};

/* Kernel command lines are COMMAND_LINE_SIZE (2048) bytes on x86. */
#define KERNEL_CMDLINE_DEFAULT_MAX 2047

/* Parse the headers of the kernel r reads: every offset and size checked
 * against r->size, nothing read past it. 0, or -1 with err set. */
int kernel_parse(const struct reader *r, struct kernel_image *k, struct errbuf *err);
int kernel_parse_elf(const struct reader *r, struct kernel_image *k, struct errbuf *err);
int kernel_parse_bzimage(const struct reader *r, struct kernel_image *k, struct errbuf *err);

/* Read each segment from r (the file k was parsed from) straight to its
 * guest address and zero the rest of it (the bss); fails when a segment does
 * not fit in guest RAM above 1 MiB or the file ends early. Guest RAM above
 * 1 MiB must be zero (a new VM's, or cleared after a failed load): the
 * file's holes are left as they are (reader_read_sparse). */
int kernel_load(const struct kernel_image *k, const struct reader *r, const struct guest_mem *gm,
		struct errbuf *err);

const char *kernel_kind_name(enum kernel_kind kind);

#endif
