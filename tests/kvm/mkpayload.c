/* mkpayload.c: write a tiny PVH-bootable ELF whose 32-bit entry writes a
 * status byte to ember's exit port (0x501) and halts ("mkpayload N OUT"), or
 * one that triple-faults ("mkpayload crash OUT": ud2 with no IDT), or one that
 * reports "userspace started" on port 0x3f0 and spins ("mkpayload spin OUT"),
 * or one that writes "hello\n" to COM1 (0x3f8) and exits with status 0
 * ("mkpayload hello OUT"). Used by the KVM tests and the start-up benchmark
 * (QEMU boots the same file). */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_ADDR 0x100000
#define XEN_ELFNOTE_PHYS32_ENTRY 18

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mkpayload STATUS|crash|spin|hello OUTPUT\n");
		return 2;
	}
	int status = atoi(argv[1]) & 0xff;
	/* mov $status,%al; mov $0x501,%dx; out %al,(%dx); 1: hlt; jmp 1b */
	unsigned char code[] = {0xb0, (unsigned char)status, 0x66, 0xba, 0x01, 0x05,
				0xee, 0xf4, 0xeb, 0xfd};
	/* per byte: mov $c,%al; mov $0x3f8,%dx; out %al,(%dx); then the exit */
	static const char hello_text[] = "hello\n";
	unsigned char hello[7 * (sizeof(hello_text) - 1) + sizeof(code)];
	if (strcmp(argv[1], "hello") == 0) {
		size_t at = 0;
		for (const char *c = hello_text; *c; c++) {
			const unsigned char put[] = {0xb0, (unsigned char)*c, 0x66, 0xba, 0xf8, 0x03, 0xee};
			memcpy(hello + at, put, sizeof(put));
			at += sizeof(put);
		}
		code[1] = 0;
		memcpy(hello + at, code, sizeof(code));
	}
	const unsigned char *text = strcmp(argv[1], "hello") == 0 ? hello : code;
	size_t text_len = text == hello ? sizeof(hello) : sizeof(code);
	if (strcmp(argv[1], "crash") == 0) {
		code[0] = 0x0f; /* ud2: #UD, no IDT -> #GP -> #DF -> triple fault */
		code[1] = 0x0b;
	} else if (strcmp(argv[1], "spin") == 0) {
		code[1] = 123;  /* mov $123,%al; mov $0x3f0,%dx; out; 1: jmp 1b */
		code[4] = 0xf0;
		code[5] = 0x03;
		code[7] = 0xeb;
		code[8] = 0xfe;
	}
	struct {
		Elf64_Nhdr nh;
		char name[4];
		uint32_t entry;
	} note = {{4, 4, XEN_ELFNOTE_PHYS32_ENTRY}, "Xen", LOAD_ADDR};

	Elf64_Ehdr eh = {0};
	Elf64_Phdr ph[2] = {{0}};
	size_t code_off = sizeof(eh) + sizeof(ph), note_off = code_off + text_len;
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = LOAD_ADDR;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 2;
	ph[0] = (Elf64_Phdr){PT_LOAD, PF_R | PF_X, code_off, LOAD_ADDR, LOAD_ADDR,
			     text_len, text_len, 16};
	ph[1] = (Elf64_Phdr){PT_NOTE, PF_R, note_off, 0, 0, sizeof(note), sizeof(note), 4};

	FILE *f = fopen(argv[2], "wb");
	if (!f || fwrite(&eh, sizeof(eh), 1, f) != 1 || fwrite(ph, sizeof(ph), 1, f) != 1 ||
	    fwrite(text, text_len, 1, f) != 1 || fwrite(&note, sizeof(note), 1, f) != 1 ||
	    fclose(f) != 0) {
		perror(argv[2]);
		return 1;
	}
	return 0;
}
