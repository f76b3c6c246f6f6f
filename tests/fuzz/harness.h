/* harness.h: what every fuzz target shares: ASSERT (a broken rule traps,
 * so libFuzzer keeps the input as a crash) and the guest RAM buffers. */
#ifndef EMBER_FUZZ_HARNESS_H
#define EMBER_FUZZ_HARNESS_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define ASSERT(c)                                                                     \
	do {                                                                          \
		if (!(c))                                                             \
			__builtin_trap();                                             \
	} while (0)

/* The target's guest RAM: allocated on the first call with exactly `size`
 * bytes (ASan flags a byte past it), the same buffer afterwards. */
static inline uint8_t *fuzz_ram(size_t size)
{
	static uint8_t *ram;
	if (!ram) {
		ram = malloc(size);
		if (!ram)
			abort();
	}
	return ram;
}

/* Guest RAM of exactly `size` bytes (a multiple of 4096) followed by an
 * inaccessible page, for code ASan does not see (the decompression
 * libraries: an overrun past RAM faults): mapped on the first call, the
 * same mapping afterwards. */
static inline uint8_t *fuzz_ram_guarded(size_t size)
{
	static uint8_t *ram;
	if (!ram) {
		ram = mmap(NULL, size + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
		if (ram == MAP_FAILED || mprotect(ram + size, 4096, PROT_NONE))
			abort();
	}
	return ram;
}

#endif
