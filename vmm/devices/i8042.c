/* i8042.c: just enough of the PC keyboard controller for the guest's
 * `reboot=k` path: command 0xFE (pulse reset) ends the VM with status 0. */
#include "vmm/devices/legacy.h"

static void i8042_io(void *opaque, uint16_t port, uint8_t *data, unsigned size, bool write)
{
	(void)size;
	struct vm *vm = opaque;
	if (!write) {
		*data = 0; /* status: output buffer empty, input buffer empty */
		return;
	}
	if (port == I8042_CMD_PORT && data[0] == I8042_CMD_RESET)
		vm_request_stop(vm, 0);
}

/* Stateless: nothing to start, save or free. */
static const struct device_ops ops = {.type = "i8042"};
static struct device dev;

int i8042_create(struct vm *vm)
{
	device_init(&dev, &ops, "i8042");
	if (pio_register(&vm->pio, I8042_DATA_PORT, 1, i8042_io, vm) ||
	    pio_register(&vm->pio, I8042_CMD_PORT, 1, i8042_io, vm))
		return -1;
	return vm_add_device(vm, &dev);
}
