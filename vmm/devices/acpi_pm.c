/* acpi_pm.c: the hardware-reduced ACPI registers the FADT points at: sleep
 * control (S5 = power off) and reset. Both end the VM with status 0. */
#include "vmm/arch/x86/acpi.h"
#include "vmm/devices/legacy.h"

static void acpi_pm_io(void *opaque, uint16_t port, uint8_t *data, unsigned size, bool write)
{
	(void)size;
	struct vm *vm = opaque;
	if (!write) {
		*data = 0;
		return;
	}
	uint8_t v = data[0];
	if (port == ACPI_SLEEP_CONTROL_PORT && (v & ACPI_SLEEP_ENABLE) &&
	    ACPI_SLEEP_TYPE(v) == ACPI_S5_SLEEP_TYPE)
		vm_request_stop(vm, 0);
	else if (port == ACPI_RESET_PORT && v == ACPI_RESET_VALUE)
		vm_request_stop(vm, 0);
}

/* Stateless: nothing to start, save or free. */
static const struct device_ops ops = {
	.type = "acpi-pm", .save = device_save_none, .restore = device_restore_none};
static struct device dev;

int acpi_pm_create(struct vm *vm)
{
	device_init(&dev, &ops, "acpi-pm");
	if (pio_register(&vm->pio, ACPI_SLEEP_CONTROL_PORT, 3, acpi_pm_io, vm))
		return -1;
	return vm_add_device(vm, &dev);
}
