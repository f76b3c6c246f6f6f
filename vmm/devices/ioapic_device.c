/* ioapic_device.c: the IOAPIC (ioapic.c) as one of the VM's devices: placed
 * at LAYOUT_IOAPIC on the MMIO bus, its pins raised by vm_irq_line() and its
 * EOIs taken from KVM_EXIT_IOAPIC_EOI (the split IRQ chip), and its state
 * saved and restored for snapshots. */
#include <stdlib.h>

#include "vmm/arch/x86/layout.h"
#include "vmm/devices/ioapic.h"
#include "vmm/devices/legacy.h"

struct ioapic_device {
	struct device dev;
	struct ioapic a;
};

static void set_irq(void *ctx, unsigned gsi, bool level)
{
	ioapic_set_irq(ctx, gsi, level);
}

static void eoi(void *ctx, uint8_t vector)
{
	ioapic_eoi(ctx, vector);
}

static void destroy(struct device *d)
{
	struct ioapic_device *x = container_of(d, struct ioapic_device, dev);
	ioapic_destroy(&x->a);
	free(x);
}

static int save(struct device *d, void *buf, size_t cap, size_t *len, struct errbuf *e)
{
	*len = ioapic_save(&container_of(d, struct ioapic_device, dev)->a, buf, cap);
	if (!*len) {
		err_set(e, "%s: its state does not fit in %zu bytes", d->id, cap);
		return -1;
	}
	return 0;
}

/* The level-triggered pins' GSI routes go back into the new VM's table. */
static int restore(struct device *d, const void *buf, size_t len, struct errbuf *e)
{
	return ioapic_restore(&container_of(d, struct ioapic_device, dev)->a, buf, len, e);
}

static const struct device_ops ops = {.type = "ioapic", .save = save, .restore = restore,
				      .destroy = destroy};

int ioapic_create(struct vm *vm)
{
	struct ioapic_device *x = calloc(1, sizeof(*x));
	if (!x)
		return -1;
	device_init(&x->dev, &ops, "ioapic");
	ioapic_init(&x->a, &ioapic_kvm_ops, &vm->vm_fd, &vm->routes);
	if (vm_add_device(vm, &x->dev)) {
		destroy(&x->dev);
		return -1;
	}
	if (mmio_register(&vm->mmio, LAYOUT_IOAPIC, IOAPIC_MMIO_SIZE, ioapic_mmio, &x->a))
		return -1;
	vm->irq_ctx = &x->a;
	vm->irq_set = set_irq;
	vm->irq_eoi = eoi;
	return 0;
}
