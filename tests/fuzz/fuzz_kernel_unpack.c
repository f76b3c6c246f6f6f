/* fuzz_kernel_unpack.c: libFuzzer target for a bzImage's kernel decompressed
 * by ember (vmm/arch/x86/kernel_unpack.c, kernel_decompress.c; the bzImage
 * and ELF parsers on the way). The input is used twice: as a whole bzImage,
 * and as the payload of a bzImage whose setup header is made right (random
 * bytes almost never have one, and without it nothing is decompressed).
 * The seeds (mk_kernel_unpack_seeds.py) are payloads of a small PVH vmlinux
 * in each format Linux's build writes, and one whole bzImage.
 *
 * Its pref_address (where ember first tries to decompress the vmlinux so
 * its segments need no copy) varies with the input's size.
 * Each is unpacked into 2 MiB of guest RAM followed by an inaccessible page
 * (the libraries are not instrumented: an overrun past RAM faults). Checked:
 * a fallback has a reason and leaves RAM above 1 MiB all zeros; an unpacked
 * kernel is a PVH vmlinux whose segments lie in RAM above 1 MiB, and RAM
 * outside them is zero. */
#include <asm/bootparam.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/harness.h"
#include "vmm/arch/x86/kernel_unpack.h"
#include "vmm/arch/x86/layout.h"

#define RAM MiB(2) /* 1 MiB of scratch area: enough for the seeds' vmlinux */
#define HDR(field) offsetof(struct boot_params, hdr.field)
#define SETUP_LEN (5 * 512)

static int zero(const uint8_t *p, size_t n) /* p, n: multiples of 8 */
{
	const uint64_t *q = (const uint64_t *)p;
	uint64_t acc = 0;
	for (size_t i = 0; i < n / 8; i++)
		acc |= q[i];
	return acc == 0;
}

static int in_segment(const struct kernel_image *k, uint64_t a)
{
	for (unsigned i = 0; i < k->nseg; i++)
		if (a >= k->seg[i].paddr && a - k->seg[i].paddr < k->seg[i].memsz)
			return 1;
	return 0;
}

static void try_unpack(const uint8_t *file, size_t len)
{
	struct reader r;
	struct kernel_image bz, k;
	struct errbuf why = {{0}};
	reader_mem(&r, file, len);
	if (kernel_parse(&r, &bz, &why) || bz.kind != KERNEL_BZIMAGE)
		return;
	uint8_t *ram = fuzz_ram_guarded(RAM);
	struct guest_mem gm;
	gm_wrap(&gm, ram, RAM);
	if (kernel_unpack(&bz, &r, &gm, true, NULL, &k, &why)) {
		ASSERT(why.msg[0]);
		ASSERT(zero(ram + LAYOUT_HIMEM, RAM - LAYOUT_HIMEM));
		return;
	}
	ASSERT(k.kind == KERNEL_ELF_PVH && k.nseg >= 1);
	for (unsigned i = 0; i < k.nseg; i++)
		ASSERT(k.seg[i].paddr >= LAYOUT_HIMEM && k.seg[i].paddr + k.seg[i].memsz <= RAM);
	for (uint64_t a = LAYOUT_HIMEM; a < RAM; a++)
		ASSERT(in_segment(&k, a) || !ram[a]);
	memset(ram + LAYOUT_HIMEM, 0, RAM - LAYOUT_HIMEM);
}

/* data as the payload of a bzImage with a good setup header. */
static void as_payload(const uint8_t *data, size_t size)
{
	size_t len = SETUP_LEN + size;
	uint8_t *b = calloc(1, len > 1024 ? len : 1024);
	if (!b)
		abort();
	b[HDR(setup_sects)] = 4;
	b[HDR(boot_flag)] = 0x55, b[HDR(boot_flag) + 1] = 0xaa;
	b[0x200] = 0xeb, b[0x201] = 0x66;
	memcpy(b + HDR(header), "HdrS", 4);
	b[HDR(version)] = 0x0f, b[HDR(version) + 1] = 0x02;
	b[HDR(loadflags)] = LOADED_HIGH;
	b[HDR(xloadflags)] = XLF_KERNEL_64;
	uint32_t plen = (uint32_t)size;
	memcpy(b + HDR(payload_length), &plen, 4);
	/* where ember guesses the vmlinux's first segment goes (it places the
	 * vmlinux there when its segments allow, else from the top) */
	uint64_t pref = MiB(1) + (size % 64) * 0x8000;
	memcpy(b + HDR(pref_address), &pref, 8);
	memcpy(b + SETUP_LEN, data, size);
	/* exactly len bytes for the reader, so ASan sees reads past the file */
	uint8_t *exact = malloc(len);
	if (!exact)
		abort();
	memcpy(exact, b, len);
	free(b);
	try_unpack(exact, len);
	free(exact);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	try_unpack(data, size);
	if (size <= RAM)
		as_payload(data, size);
	return 0;
}
