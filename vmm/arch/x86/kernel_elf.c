/* kernel_elf.c: parse an ELF64 vmlinux: PT_LOAD segments and the Xen PVH
 * entry note (XEN_ELFNOTE_PHYS32_ENTRY) when there is one. */
#include <elf.h>
#include <string.h>

#include "vmm/arch/x86/kernel_image.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* Look for the PVH entry in one note area; 0 when absent. */
static uint64_t find_pvh_note(const uint8_t *p, uint64_t size)
{
	uint64_t off = 0;
	while (size - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, p + off, sizeof(nh));
		off += sizeof(nh);
		uint64_t name_sz = ALIGN_UP((uint64_t)nh.n_namesz, 4);
		uint64_t desc_sz = ALIGN_UP((uint64_t)nh.n_descsz, 4);
		if (name_sz > size - off || desc_sz > size - off - name_sz)
			return 0;
		const uint8_t *name = p + off, *desc = p + off + name_sz;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(name, "Xen", 4) == 0) {
			if (nh.n_descsz == 4)
				return get_le32(desc);
			if (nh.n_descsz == 8)
				return get_le64(desc);
			return 0;
		}
		off += name_sz + desc_sz;
	}
	return 0;
}

int kernel_parse_elf(const uint8_t *buf, size_t len, struct kernel_image *k, struct errbuf *err)
{
	Elf64_Ehdr eh;
	if (len < sizeof(eh)) {
		err_set(err, "truncated ELF header");
		return -1;
	}
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64) {
		err_set(err, "not a 64-bit little-endian x86-64 ELF file");
		return -1;
	}
	if (eh.e_type != ET_EXEC) {
		err_set(err, "ELF file is not an executable (vmlinux)");
		return -1;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff) {
		err_set(err, "ELF program headers missing or truncated");
		return -1;
	}
	memset(k, 0, sizeof(*k));
	k->data = buf;
	k->len = len;
	k->cmdline_max = KERNEL_CMDLINE_DEFAULT_MAX;
	k->initrd_max = 0xffffffffull;
	uint64_t pvh_entry = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, buf + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
			err_set(err, "ELF segment %u lies outside the file", i);
			return -1;
		}
		if (ph.p_type == PT_NOTE) {
			if (!pvh_entry)
				pvh_entry = find_pvh_note(buf + ph.p_offset, ph.p_filesz);
			continue;
		}
		if (ph.p_memsz < ph.p_filesz || ph.p_paddr + ph.p_memsz < ph.p_paddr) {
			err_set(err, "ELF segment %u has bad sizes", i);
			return -1;
		}
		if (ph.p_memsz == 0)
			continue;
		if (k->nseg == KERNEL_MAX_SEGMENTS) {
			err_set(err, "ELF file has too many loadable segments");
			return -1;
		}
		k->seg[k->nseg++] = (struct kernel_segment){
			.paddr = ph.p_paddr, .offset = ph.p_offset,
			.filesz = ph.p_filesz, .memsz = ph.p_memsz,
		};
		if (ph.p_paddr + ph.p_memsz > k->end)
			k->end = ph.p_paddr + ph.p_memsz;
	}
	if (k->nseg == 0) {
		err_set(err, "ELF file has no loadable segments");
		return -1;
	}
	if (pvh_entry) {
		k->kind = KERNEL_ELF_PVH;
		k->entry = pvh_entry;
	} else {
		k->kind = KERNEL_ELF64;
		k->entry = eh.e_entry;
	}
	return 0;
}
