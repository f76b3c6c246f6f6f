/* mkpayload.c: write a tiny PVH-bootable ELF whose 32-bit entry writes a
 * status byte to ember's exit port (0x501) and halts ("mkpayload N OUT"), or
 * one that triple-faults ("mkpayload crash OUT": ud2 with no IDT), or one that
 * reports "userspace started" on port 0x3f0 and spins ("mkpayload spin OUT"),
 * or one that writes "hello\n" to COM1 (0x3f8) and exits with status 0
 * ("mkpayload hello OUT"), or one that counts ("mkpayload countN OUT", below), or one that
 * reports on the boot-time port again and again ("mkpayload tick OUT"), or one
 * that writes 'x' to COM1 for ever ("mkpayload flood OUT"). Used by the KVM tests and the start-up benchmark
 * (QEMU boots the same file). */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/elf_fixture.h"

#define LOAD_ADDR 0x100000

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: mkpayload STATUS|crash|spin|hello|countN|tick|flood OUTPUT\n");
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
	/* "countN": count to N in %ecx and in memory at 0x180000, a '.' on COM1
	 * every 2^16; its starts counted at 0x180100 ('S' on COM1 each). At N:
	 * status 40 + starts when register and memory agree, else 99. A
	 * snapshot taken mid-way and restored ends with 41 (one start). */
	unsigned char count[] = {
		0xfe, 0x05, 0x00, 0x01, 0x18, 0x00,       /* incb 0x180100 */
		0x66, 0xba, 0xf8, 0x03,                   /* mov $0x3f8,%dx */
		0xb0, 0x53, 0xee,                         /* mov $'S',%al; out */
		0x31, 0xc9,                               /* xor %ecx,%ecx */
		0x41,                                     /* loop: inc %ecx */
		0xff, 0x05, 0x00, 0x00, 0x18, 0x00,       /* incl 0x180000 */
		0xf7, 0xc1, 0xff, 0xff, 0x00, 0x00,       /* test $0xffff,%ecx */
		0x75, 0x03, 0xb0, 0x2e, 0xee,             /* jnz skip; mov $'.',%al; out */
		0x81, 0xf9, 0, 0, 0, 0,                   /* skip: cmp $N,%ecx */
		0x72, 0xe6,                               /* jb loop */
		0xb0, 0x0a, 0xee,                         /* mov $'\n',%al; out */
		0xa1, 0x00, 0x00, 0x18, 0x00,             /* mov 0x180000,%eax */
		0x39, 0xc8, 0x75, 0x09,                   /* cmp %ecx,%eax; jne bad */
		0xa0, 0x00, 0x01, 0x18, 0x00,             /* mov 0x180100,%al */
		0x04, 0x28, 0xeb, 0x02,                   /* add $40,%al; jmp done */
		0xb0, 0x63,                               /* bad: mov $99,%al */
		0x66, 0xba, 0x01, 0x05, 0xee,             /* done: mov $0x501,%dx; out */
		0xf4, 0xeb, 0xfd,                         /* 1: hlt; jmp 1b */
	};
	/* "tick": BOOT_TIME_MAGIC on the boot-time port (0x3f0) every 16
	 * turns of a loop, for ever: a restored snapshot of it reports on the
	 * port as soon as its vCPU runs (the restore benchmark). */
	static const unsigned char tick[] = {
		0xb0, 0x7b, 0x66, 0xba, 0xf0, 0x03,       /* mov $123,%al; mov $0x3f0,%dx */
		0xee,                                     /* 1: out %al,(%dx) */
		0xb9, 0x10, 0x00, 0x00, 0x00,             /* mov $16,%ecx */
		0xe2, 0xfe, 0xeb, 0xf6,                   /* 2: loop 2b; jmp 1b */
	};
	/* "flood": 'x' on COM1 without end (a console nobody reads fills up). */
	static const unsigned char flood[] = {
		0x66, 0xba, 0xf8, 0x03, 0xb0, 0x78,       /* mov $0x3f8,%dx; mov $'x',%al */
		0xee, 0xeb, 0xfd,                         /* 1: out %al,(%dx); jmp 1b */
	};
	if (strncmp(argv[1], "count", 5) == 0) {
		unsigned long n = strtoul(argv[1] + 5, NULL, 0);
		for (int i = 0; i < 4; i++)
			count[0x23 + i] = (unsigned char)(n >> (8 * i));
	}
	const unsigned char *text = strcmp(argv[1], "hello") == 0 ? hello
				    : strcmp(argv[1], "tick") == 0 ? tick
				    : strcmp(argv[1], "flood") == 0 ? flood
				    : strncmp(argv[1], "count", 5) == 0 ? count : code;
	size_t text_len = text == hello ? sizeof(hello) : text == tick ? sizeof(tick)
			  : text == flood ? sizeof(flood) : text == count ? sizeof(count) : sizeof(code);
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
	/* The file: ELF header, two program headers, the code, the PVH note. */
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	size_t code_off = sizeof(eh) + sizeof(ph), note_off = code_off + text_len;
	uint8_t note[64];
	elf_fixture_header(&eh, LOAD_ADDR, 2);
	ph[0] = (Elf64_Phdr){PT_LOAD, PF_R | PF_X, code_off, LOAD_ADDR, LOAD_ADDR,
			     text_len, text_len, 16};
	ph[1] = elf_fixture_pvh_note(note, 0, LOAD_ADDR);
	ph[1].p_offset = note_off;
	ph[1].p_flags = PF_R;
	ph[1].p_align = 4;

	FILE *f = fopen(argv[2], "wb");
	if (!f || fwrite(&eh, sizeof(eh), 1, f) != 1 || fwrite(ph, sizeof(ph), 1, f) != 1 ||
	    fwrite(text, text_len, 1, f) != 1 || fwrite(note, ph[1].p_filesz, 1, f) != 1 ||
	    fclose(f) != 0) {
		perror(argv[2]);
		return 1;
	}
	return 0;
}
