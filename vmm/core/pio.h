/* pio.h: the x86 I/O-port bus: devices claim port ranges, vCPU exits dispatch. */
#ifndef EMBER_PIO_H
#define EMBER_PIO_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*pio_fn)(void *opaque, uint16_t port, uint8_t *data, unsigned size, bool write);

#define PIO_MAX_HANDLERS 32

struct pio_bus {
	unsigned n;
	struct pio_handler {
		uint16_t base, len;
		pio_fn fn;
		void *opaque;
	} h[PIO_MAX_HANDLERS];
};

/* Claim [base, base+len). Returns 0, or -1 when full or overlapping. */
int pio_register(struct pio_bus *bus, uint16_t base, uint16_t len, pio_fn fn, void *opaque);
/* Unclaimed reads return all ones; unclaimed writes are dropped. */
void pio_dispatch(const struct pio_bus *bus, uint16_t port, uint8_t *data, unsigned size,
		  bool write);

#endif
