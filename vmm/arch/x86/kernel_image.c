/* kernel_image.c: tell kernel formats apart and copy a parsed kernel into guest RAM. */
#include <elf.h>
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

int kernel_parse(const uint8_t *buf, size_t len, struct kernel_image *k, struct errbuf *err)
{
	if (len >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0)
		return kernel_parse_elf(buf, len, k, err);
	if (len >= 0x206 && get_le32(buf + 0x202) == 0x53726448)
		return kernel_parse_bzimage(buf, len, k, err);
	err_set(err, "not a kernel ember can boot (need ELF vmlinux or bzImage)");
	return -1;
}

int kernel_load(const struct kernel_image *k, const struct guest_mem *gm, struct errbuf *err)
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
		memcpy(dst, k->data + s->offset, s->filesz);
		/* Guest RAM is fresh anonymous memory: the bss is already zero. */
	}
	return 0;
}
