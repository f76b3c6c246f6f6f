/* kernel_elf.c: parse an ELF64 vmlinux's headers through a reader: PT_LOAD
 * segments and the Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) when there
 * is one. Only headers and notes are read, never the segments' bytes. */
#include <elf.h>
#include <string.h>

#include "vmm/arch/x86/kernel_image.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PHDR_BATCH 16 /* program headers read at once */

/* A window on the file: one read serves many small notes. */
struct window {
	const struct reader *r;
	uint64_t base;
	size_t n;
	uint8_t b[512];
};

/* The len bytes at off (len <= sizeof(w->b), off + len within the file, as
 * the caller checked), or NULL when they cannot be read. */
static const uint8_t *win_get(struct window *w, uint64_t off, size_t len, int *e)
{
	if (off >= w->base && off - w->base <= w->n && len <= w->n - (off - w->base))
		return w->b + (off - w->base);
	size_t want = sizeof(w->b);
	if (w->r->size - off < want)
		want = (size_t)(w->r->size - off);
	if ((*e = reader_read(w->r, off, w->b, want)))
		return NULL;
	w->base = off;
	w->n = want;
	return w->b;
}

/* Look for the PVH entry in the note area at [start, start + size) of the
 * file (inside it, as checked): *entry 0 when absent. 0, or -errno when the
 * file cannot be read. */
static int find_pvh_note(struct window *w, uint64_t start, uint64_t size, uint64_t *entry)
{
	uint64_t off = 0;
	int e = 0;
	*entry = 0;
	while (size - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		const uint8_t *p = win_get(w, start + off, sizeof(nh), &e);
		if (!p)
			return e;
		memcpy(&nh, p, sizeof(nh));
		off += sizeof(nh);
		uint64_t name_sz = ALIGN_UP((uint64_t)nh.n_namesz, 4);
		uint64_t desc_sz = ALIGN_UP((uint64_t)nh.n_descsz, 4);
		if (name_sz > size - off || desc_sz > size - off - name_sz)
			return 0;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4) {
			const uint8_t *name = win_get(w, start + off, 4, &e);
			if (!name)
				return e;
			if (memcmp(name, "Xen", 4) == 0) {
				if (nh.n_descsz != 4 && nh.n_descsz != 8)
					return 0;
				const uint8_t *desc = win_get(w, start + off + name_sz, nh.n_descsz, &e);
				if (!desc)
					return e;
				*entry = nh.n_descsz == 4 ? get_le32(desc) : get_le64(desc);
				return 0;
			}
		}
		off += name_sz + desc_sz;
	}
	return 0;
}

static int read_failed(struct errbuf *err, int e)
{
	err_set(err, "cannot read the file: %s", reader_error(e));
	return -1;
}

int kernel_parse_elf(const struct reader *r, struct kernel_image *k, struct errbuf *err)
{
	uint64_t len = r->size;
	Elf64_Ehdr eh;
	if (len < sizeof(eh)) {
		err_set(err, "truncated ELF header");
		return -1;
	}
	int e = reader_read(r, 0, &eh, sizeof(eh));
	if (e)
		return read_failed(err, e);
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
	k->len = len;
	k->cmdline_max = KERNEL_CMDLINE_DEFAULT_MAX;
	k->initrd_max = 0xffffffffull;
	uint64_t pvh_entry = 0;
	struct window w = {.r = r};
	Elf64_Phdr batch[PHDR_BATCH];
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (i % PHDR_BATCH == 0) {
			unsigned n = eh.e_phnum - i < PHDR_BATCH ? eh.e_phnum - i : PHDR_BATCH;
			if ((e = reader_read(r, eh.e_phoff + (uint64_t)i * sizeof(Elf64_Phdr), batch,
					     n * sizeof(Elf64_Phdr))))
				return read_failed(err, e);
		}
		const Elf64_Phdr ph = batch[i % PHDR_BATCH];
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
			err_set(err, "ELF segment %u lies outside the file", i);
			return -1;
		}
		if (ph.p_type == PT_NOTE) {
			if (!pvh_entry && (e = find_pvh_note(&w, ph.p_offset, ph.p_filesz, &pvh_entry)))
				return read_failed(err, e);
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
