/* elf_fixture.h: the file header of an ELF64 x86-64 executable, for the
 * tests and test tools that build ELF files byte by byte (vmlinux images,
 * the tiny PVH payloads); its program headers follow it at once; and the
 * PVH entry note. */
#ifndef EMBER_ELF_FIXTURE_H
#define EMBER_ELF_FIXTURE_H

#include <elf.h>
#include <stdint.h>
#include <string.h>

static inline void elf_fixture_header(Elf64_Ehdr *h, uint64_t entry, uint16_t phnum)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS64;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_ident[EI_VERSION] = EV_CURRENT;
	h->e_type = ET_EXEC;
	h->e_machine = EM_X86_64;
	h->e_version = EV_CURRENT;
	h->e_entry = entry;
	h->e_phoff = sizeof(*h);
	h->e_ehsize = sizeof(*h);
	h->e_phentsize = sizeof(Elf64_Phdr);
	h->e_phnum = phnum;
}

/* The Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, 18) at file offset off
 * of b, and the PT_NOTE program header that points at it. */
static inline Elf64_Phdr elf_fixture_pvh_note(uint8_t *b, uint64_t off, uint32_t entry)
{
	Elf64_Nhdr nh = {4, 4, 18};
	memcpy(b + off, &nh, sizeof(nh));
	memcpy(b + off + sizeof(nh), "Xen", 4);
	memcpy(b + off + sizeof(nh) + 4, &entry, 4);
	return (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = off, .p_filesz = sizeof(nh) + 8,
			    .p_memsz = sizeof(nh) + 8};
}

#endif
