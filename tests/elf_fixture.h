/* elf_fixture.h: the file header of an ELF64 x86-64 executable, for the
 * tests and test tools that build ELF files byte by byte (vmlinux images,
 * the tiny PVH payloads); its program headers follow it at once. */
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

#endif
