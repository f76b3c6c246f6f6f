/* pio.c: the x86 I/O-port bus. */
#include <string.h>

#include "vmm/core/pio.h"

int pio_register(struct pio_bus *bus, uint16_t base, uint16_t len, pio_fn fn, void *opaque)
{
	if (bus->n == PIO_MAX_HANDLERS || len == 0 || (uint32_t)base + len > 0x10000)
		return -1;
	for (unsigned i = 0; i < bus->n; i++)
		if (base < bus->h[i].base + bus->h[i].len && bus->h[i].base < base + len)
			return -1;
	bus->h[bus->n++] = (struct pio_handler){base, len, fn, opaque};
	return 0;
}

void pio_dispatch(const struct pio_bus *bus, uint16_t port, uint8_t *data, unsigned size,
		  bool write)
{
	for (unsigned i = 0; i < bus->n; i++) {
		const struct pio_handler *h = &bus->h[i];
		if (port >= h->base && port - h->base < h->len) {
			h->fn(h->opaque, port, data, size, write);
			return;
		}
	}
	if (!write)
		memset(data, 0xff, size);
}
