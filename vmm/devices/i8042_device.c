/* i8042_device.c: the keyboard controller (i8042.c) as one of the VM's
 * devices: ports 0x60 and 0x64, IRQ 1 through vm_irq_line(), its reset line
 * ending the VM with status 0, Firecracker's "i8042" metrics group, and its
 * state saved and restored for snapshots. */
#include <stdlib.h>

#include "vmm/arch/x86/acpi.h"
#include "vmm/devices/legacy.h"

_Static_assert(I8042_IRQ == ACPI_I8042_IRQ && I8042_DATA_PORT == ACPI_I8042_DATA_PORT &&
		       I8042_CMD_PORT == ACPI_I8042_CMD_PORT,
	       "the DSDT and the MADT describe this controller");

struct i8042_device {
	struct device dev;
	struct i8042 k;
	struct vm *vm;
};

static void port_io(void *opaque, uint16_t port, uint8_t *data, unsigned size, bool write)
{
	(void)size;
	struct i8042_device *d = opaque;
	i8042_io(&d->k, port, data, write);
}

static void set_irq(void *ctx, bool level)
{
	struct i8042_device *d = ctx;
	vm_irq_line(d->vm, I8042_IRQ, level);
}

static void cpu_reset(void *ctx)
{
	struct i8042_device *d = ctx;
	vm_request_stop(d->vm, 0);
}

static void metrics(struct device *dev, struct metrics_sample *s)
{
	static const char *const names[] = {"error_count", "missed_read_count",
					    "missed_write_count", "read_count",
					    "reset_count", "write_count"};
	struct i8042_counters c = i8042_counters(&container_of(dev, struct i8042_device, dev)->k);
	s->group = "i8042";
	s->id[0] = 0; /* one controller: the group alone */
	s->names = names;
	s->n = 6;
	uint64_t v[] = {c.error_count, c.missed_read_count, c.missed_write_count,
			c.read_count, c.reset_count, c.write_count};
	for (unsigned i = 0; i < 6; i++)
		s->total[i] = v[i];
}

static void destroy(struct device *dev)
{
	struct i8042_device *d = container_of(dev, struct i8042_device, dev);
	pthread_mutex_destroy(&d->k.lock);
	free(d);
}

static int save(struct device *dev, void *buf, size_t cap, size_t *len, struct errbuf *e)
{
	*len = i8042_save(&container_of(dev, struct i8042_device, dev)->k, buf, cap);
	if (!*len) {
		err_set(e, "%s: its state does not fit in %zu bytes", dev->id, cap);
		return -1;
	}
	return 0;
}

/* IRQ 1 is raised again through set_irq when a byte waits for the guest. */
static int restore(struct device *dev, const void *buf, size_t len, struct errbuf *e)
{
	return i8042_restore(&container_of(dev, struct i8042_device, dev)->k, buf, len, e);
}

static const struct device_ops ops = {.type = "i8042", .metrics = metrics, .save = save,
				      .restore = restore, .destroy = destroy};

struct i8042 *i8042_create(struct vm *vm)
{
	struct i8042_device *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	device_init(&d->dev, &ops, "i8042");
	d->vm = vm;
	i8042_init(&d->k, set_irq, cpu_reset, d);
	if (vm_add_device(vm, &d->dev)) {
		destroy(&d->dev);
		return NULL;
	}
	if (pio_register(&vm->pio, I8042_DATA_PORT, 1, port_io, d) ||
	    pio_register(&vm->pio, I8042_CMD_PORT, 1, port_io, d))
		return NULL;
	return &d->k;
}
