/* kernel_image.c: tell kernel formats apart and read a parsed kernel's
 * segments from its file straight into guest RAM. */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "vmm/arch/x86/kernel_image.h"
#include "vmm/arch/x86/layout.h"

const char *kernel_kind_name(enum kernel_kind kind)
{
	switch (kind) {
	case KERNEL_ELF_PVH: return "ELF vmlinux (PVH entry)";
	case KERNEL_ELF64: return "ELF vmlinux (64-bit entry)";
	case KERNEL_BZIMAGE: return "bzImage";
	}
	return "?";
}

int kernel_parse(const struct reader *r, struct kernel_image *k, struct errbuf *err)
{
	uint8_t head[0x206];
	size_t n = r->size < sizeof(head) ? (size_t)r->size : sizeof(head);
	int e = reader_read(r, 0, head, n);
	if (e) {
		err_set(err, "cannot read the file: %s", reader_error(e));
		return -1;
	}
	if (n >= SELFMAG && memcmp(head, ELFMAG, SELFMAG) == 0)
		return kernel_parse_elf(r, k, err);
	if (n >= 0x206 && get_le32(head + 0x202) == 0x53726448)
		return kernel_parse_bzimage(r, k, err);
	err_set(err, "not a kernel ember can boot (need ELF vmlinux or bzImage)");
	return -1;
}

int kernel_load(const struct kernel_image *k, const struct reader *r, const struct guest_mem *gm,
		struct errbuf *err)
{
	for (unsigned i = 0; i < k->nseg; i++) {
		const struct kernel_segment *s = &k->seg[i];
		if (s->paddr < LAYOUT_HIMEM) {
			err_set(err, "kernel segment at %#llx overlaps ember's boot area below 1 MiB",
				(unsigned long long)s->paddr);
			return -1;
		}
		uint8_t *dst = gm_ptr(gm, s->paddr, s->memsz);
		if (!dst || s->paddr + s->memsz > gm->layout.low_size) {
			err_set(err, "kernel (%llu KiB at %#llx) does not fit in guest memory; raise --mem",
				(unsigned long long)(s->memsz >> 10), (unsigned long long)s->paddr);
			return -1;
		}
		/* The parser checked the segment lies in the file; reading can
		 * still come up short when the file shrank since. The file's
		 * holes are not read: the RAM is zero (anonymous, and nothing
		 * has written there; RAM mapped from a file is read whole). */
		int e = gm->anon ? reader_read_sparse(r, s->offset, dst, s->filesz)
				 : reader_read(r, s->offset, dst, s->filesz);
		if (e == -ENODATA) {
			err_set(err, "file is truncated: its %llu bytes at offset %llu (for %#llx) end early",
				(unsigned long long)s->filesz, (unsigned long long)s->offset,
				(unsigned long long)s->paddr);
			return -1;
		}
		if (e) {
			err_set(err, "cannot read %llu bytes at offset %llu: %s",
				(unsigned long long)s->filesz, (unsigned long long)s->offset, strerror(-e));
			return -1;
		}
		if (!gm_zero(gm, s->paddr + s->filesz, s->memsz - s->filesz)) {
			err_set(err, "cannot zero the kernel's bss at %#llx",
				(unsigned long long)(s->paddr + s->filesz));
			return -1;
		}
	}
	return 0;
}
