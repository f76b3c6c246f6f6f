/* com1.c: the 8250 UART (serial.c) as COM1, one of the VM's devices: ports
 * 0x3f8-0x3ff, IRQ 4 through vm_irq_line(). */
#include <stdlib.h>

#include "vmm/devices/legacy.h"

struct com1 {
	struct device dev;
	struct serial s;
	struct vm *vm;
};

static void com1_io(void *opaque, uint16_t port, uint8_t *data, unsigned size, bool write)
{
	(void)size;
	struct com1 *c = opaque;
	serial_io(&c->s, port - SERIAL_COM1_PORT, data, write);
}

static void com1_irq(void *ctx, bool level)
{
	struct com1 *c = ctx;
	vm_irq_line(c->vm, SERIAL_COM1_IRQ, level);
}

static void destroy(struct device *d)
{
	free(container_of(d, struct com1, dev));
}

static const struct device_ops ops = {.type = "serial", .destroy = destroy};

struct serial *com1_create(struct vm *vm, int out_fd, int room_efd)
{
	struct com1 *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	device_init(&c->dev, &ops, "com1");
	c->vm = vm;
	serial_init(&c->s, out_fd, com1_irq, c, room_efd);
	if (vm_add_device(vm, &c->dev)) {
		destroy(&c->dev);
		return NULL;
	}
	if (pio_register(&vm->pio, SERIAL_COM1_PORT, 8, com1_io, c))
		return NULL;
	return &c->s;
}
