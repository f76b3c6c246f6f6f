/* com1.c: the 8250 UART (serial.c) as COM1, one of the VM's devices: ports
 * 0x3f8-0x3ff, IRQ 4 through vm_irq_line(), its counters as Firecracker's
 * "uart" metrics group (one UART: no "uart_com1"), and its state saved and
 * restored for snapshots. */
#include <stdlib.h>
#include <string.h>

#include "vmm/core/vcpu.h"
#include "vmm/devices/legacy.h"

struct com1 {
	struct device dev;
	struct serial s;
	struct vm *vm;
};

static void com1_io(void *opaque, uint16_t port, uint8_t *data, unsigned size, bool write)
{
	struct com1 *c = opaque;
	serial_io(&c->s, port - SERIAL_COM1_PORT, data, size, write);
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

static void metrics(struct device *d, struct metrics_sample *s)
{
	static const char *const names[] = {"error_count", "flush_count", "missed_read_count",
					    "missed_write_count", "read_count", "write_count"};
	struct serial_counters n;
	serial_counters(&container_of(d, struct com1, dev)->s, &n);
	s->group = "uart";
	s->id[0] = '\0'; /* the only one: the group alone, as Firecracker writes it */
	s->names = names;
	s->n = ARRAY_SIZE(names);
	uint64_t v[] = {n.error_count, n.flush_count, n.missed_read_count,
			n.missed_write_count, n.read_count, n.write_count};
	memcpy(s->total, v, sizeof(v));
}

static int save(struct device *d, void *buf, size_t cap, size_t *len, struct errbuf *e)
{
	*len = serial_save(&container_of(d, struct com1, dev)->s, buf, cap);
	if (!*len) {
		err_set(e, "%s: its state does not fit in %zu bytes", d->id, cap);
		return -1;
	}
	return 0;
}

/* The console's fds stay the ones this ember opened; the IRQ line is raised
 * again through com1_irq when the state has an interrupt pending. */
static int restore(struct device *d, const void *buf, size_t len, struct errbuf *e)
{
	return serial_restore(&container_of(d, struct com1, dev)->s, buf, len, e);
}

static const struct device_ops ops = {.type = "serial", .metrics = metrics, .save = save,
				      .restore = restore, .destroy = destroy};

struct serial *com1_create(struct vm *vm, int out_fd, int room_efd)
{
	struct com1 *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	device_init(&c->dev, &ops, "com1");
	c->vm = vm;
	serial_init(&c->s, out_fd, com1_irq, c, room_efd);
	/* a console nobody reads blocks the vCPU in write(): not past a pause
	 * or a stop */
	c->s.give_up = vcpu_must_leave;
	if (vm_add_device(vm, &c->dev)) {
		destroy(&c->dev);
		return NULL;
	}
	if (pio_register(&vm->pio, SERIAL_COM1_PORT, 8, com1_io, c))
		return NULL;
	return &c->s;
}
