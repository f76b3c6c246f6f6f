/* exit_ports.c: the two ports a guest uses to talk to ember's caller: the
 * exit-status port (0x501) and the boot-time port (0x3f0, Firecracker's
 * convention for "userspace started"). */
#include <stdio.h>

#include "vmm/devices/legacy.h"
#include "vmm/lib/util.h"

static void exit_port(void *opaque, uint16_t port, uint8_t *data, unsigned size, bool write)
{
	(void)port;
	struct vm *vm = opaque;
	if (!write) {
		*data = 0;
		return;
	}
	if (size == 1)
		vm_request_stop(vm, data[0]);
}

static void boot_time_port(void *opaque, uint16_t port, uint8_t *data, unsigned size, bool write)
{
	(void)port, (void)size;
	struct vm *vm = opaque;
	if (!write) {
		*data = 0;
		return;
	}
	if (data[0] != BOOT_TIME_MAGIC || !vm->report_boot_time)
		return;
	uint64_t us = (now_ns() - vm->start_ns) / 1000;
	fprintf(stderr, "ember: guest userspace started %llu.%03llu ms after %s\n",
		(unsigned long long)(us / 1000), (unsigned long long)(us % 1000),
		vm->start_what ? vm->start_what : "ember started");
}

/* Stateless: nothing to start, save or free. */
static const struct device_ops ops = {
	.type = "exit-ports", .save = device_save_none, .restore = device_restore_none};
static struct device dev;

int exit_ports_create(struct vm *vm)
{
	device_init(&dev, &ops, "ports");
	if (pio_register(&vm->pio, EXIT_PORT, 1, exit_port, vm) ||
	    pio_register(&vm->pio, BOOT_TIME_PORT, 1, boot_time_port, vm))
		return -1;
	return vm_add_device(vm, &dev);
}
