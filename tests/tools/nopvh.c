/* nopvh.c: copy an ELF vmlinux, turning its Xen PVH entry note into an
 * unknown note, so tests can boot the same kernel through its 64-bit entry. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: nopvh IN OUT\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f || fseek(f, 0, SEEK_END) != 0) {
		perror(argv[1]);
		return 1;
	}
	long len = ftell(f);
	unsigned char *b = malloc((size_t)len);
	rewind(f);
	if (!b || fread(b, 1, (size_t)len, f) != (size_t)len) {
		perror(argv[1]);
		return 1;
	}
	fclose(f);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
	int patched = 0;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr *ph = (Elf64_Phdr *)(b + eh->e_phoff + i * sizeof(Elf64_Phdr));
		if (ph->p_type != PT_NOTE)
			continue;
		size_t off = ph->p_offset, end = ph->p_offset + ph->p_filesz;
		while (off + sizeof(Elf64_Nhdr) <= end) {
			Elf64_Nhdr *nh = (Elf64_Nhdr *)(b + off);
			char *name = (char *)(nh + 1);
			if (nh->n_type == 18 && nh->n_namesz == 4 && memcmp(name, "Xen", 4) == 0) {
				nh->n_type = 0x7fff; /* no longer XEN_ELFNOTE_PHYS32_ENTRY */
				patched++;
			}
			off += sizeof(*nh) + ((nh->n_namesz + 3) & ~3u) + ((nh->n_descsz + 3) & ~3u);
		}
	}
	if (!patched) {
		fprintf(stderr, "nopvh: %s has no PVH note\n", argv[1]);
		return 1;
	}
	f = fopen(argv[2], "wb");
	if (!f || fwrite(b, 1, (size_t)len, f) != (size_t)len || fclose(f) != 0) {
		perror(argv[2]);
		return 1;
	}
	return 0;
}
