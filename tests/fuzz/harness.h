/* harness.h: what every fuzz target shares: ASSERT (a broken rule traps,
 * so libFuzzer keeps the input as a crash) and the guest RAM buffer. */
#ifndef EMBER_FUZZ_HARNESS_H
#define EMBER_FUZZ_HARNESS_H

#include <stdint.h>
#include <stdlib.h>

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

#endif
