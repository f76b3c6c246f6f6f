/* fuzz_initrd_unpack.c: libFuzzer target for an initrd decompressed by ember
 * (vmm/arch/x86/initrd_unpack.c; kernel_decompress.c's gzip, zstd, XZ and
 * LZ4 on the way). The input is the initrd file. The seeds
 * (mk_initrd_unpack_seeds.py) are a small cpio archive as gzip, as zstd (one
 * frame and two, and with no size recorded), XZ, LZ4, uncompressed, and gzip
 * and zstd with no size after an early uncompressed archive. Each is
 * unpacked into 4 MiB of guest RAM, followed by an
 * inaccessible page (the libraries are not instrumented: an overrun past RAM
 * faults), above a kernel that ends at 1.5 MiB. Checked: a fallback has a
 * reason and leaves RAM above the kernel all zeros; an unpacked archive is
 * where boot_initrd_addr puts one of its size, starts as a cpio archive
 * does, and RAM above the kernel is zero outside it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/harness.h"
#include "vmm/arch/x86/boot_info.h"
#include "vmm/arch/x86/initrd_unpack.h"
#include "vmm/arch/x86/layout.h"

#define RAM MiB(4)
#define KERNEL_END (MiB(1) + MiB(1) / 2)

static int zero(const uint8_t *p, uint64_t lo, uint64_t hi)
{
	uint64_t acc = 0, a = lo;
	for (; a < hi && a % 8; a++)
		acc |= p[a];
	for (; a + 8 <= hi; a += 8)
		acc |= *(const uint64_t *)(p + a);
	for (; a < hi; a++)
		acc |= p[a];
	return acc == 0;
}

/* RAM from the kernel's end to the top reads as zeros, but [lo, hi). */
static int zero_but(const uint8_t *ram, uint64_t lo, uint64_t hi)
{
	if (lo >= hi)
		return zero(ram, KERNEL_END, RAM);
	return zero(ram, KERNEL_END, lo) && zero(ram, hi, RAM);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exactly size bytes for the reader, so ASan sees reads past the file */
	uint8_t *file = malloc(size ? size : 1);
	if (!file)
		abort();
	memcpy(file, data, size);
	struct reader r;
	reader_mem(&r, file, size);
	uint8_t *ram = fuzz_ram_guarded(RAM);
	struct guest_mem gm;
	gm_wrap(&gm, ram, RAM);
	struct kernel_image k;
	memset(&k, 0, sizeof(k));
	k.kind = KERNEL_ELF_PVH;
	k.end = KERNEL_END;
	k.initrd_max = 0xffffffffull;
	struct errbuf why = {{0}};
	uint64_t at = 0, n = 0;
	if (initrd_unpack(&k, &r, &gm, false, &at, &n, &why)) {
		ASSERT(why.msg[0]);
		ASSERT(zero_but(ram, 0, 0));
	} else {
		ASSERT(n >= 6 && at == boot_initrd_addr(&k, &gm.layout, n));
		ASSERT(initrd_is_cpio(ram + at, n)); /* the early archive's or the only one's */
		ASSERT(zero_but(ram, at, at + n));
		memset(ram + at, 0, n);
	}
	free(file);
	return 0;
}
