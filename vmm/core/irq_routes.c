/* irq_routes.c: the VM-wide GSI routing table and irqfds (see irq_routes.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/core/irq_routes.h"
#include "vmm/lib/util.h"

static int kvm_set_gsi_routing(void *ctx, const struct kvm_irq_routing *table)
{
	return ioctl(*(int *)ctx, KVM_SET_GSI_ROUTING, table);
}

static int kvm_irqfd(void *ctx, const struct kvm_irqfd *irqfd)
{
	return ioctl(*(int *)ctx, KVM_IRQFD, irqfd);
}

const struct gsi_ops gsi_kvm_ops = {kvm_set_gsi_routing, kvm_irqfd};

static void add_irqchip(struct kvm_irq_routing *t, unsigned gsi, unsigned chip, unsigned pin)
{
	struct kvm_irq_routing_entry *e = &t->entries[t->nr++];
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

int gsi_routes_init(struct gsi_routes *r, const struct gsi_ops *ops, void *ctx, bool kernel_irqchip)
{
	memset(r, 0, sizeof(*r));
	r->table = calloc(1, sizeof(*r->table) + GSI_MAX_ROUTES * sizeof(r->table->entries[0]));
	if (!r->table)
		return -1;
	pthread_mutex_init(&r->lock, NULL);
	r->ops = ops;
	r->ctx = ctx;
	r->next_gsi = GSI_IRQCHIP_PINS;
	r->pin_routes = !kernel_irqchip;
	if (!kernel_irqchip)
		return 0; /* split IRQ chip: KVM starts with an empty table */
	/* KVM's default_routing (virt/kvm/irqchip.c, arch/x86/kvm/irq_comm.c). */
	for (unsigned i = 0; i < GSI_IRQCHIP_PINS; i++) {
		add_irqchip(r->table, i, KVM_IRQCHIP_IOAPIC, i);
		if (i < 16)
			add_irqchip(r->table, i, i < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				    i % 8);
	}
	return 0;
}

void gsi_routes_destroy(struct gsi_routes *r)
{
	if (!r->table)
		return;
	free(r->table);
	r->table = NULL;
	pthread_mutex_destroy(&r->lock);
}

int gsi_alloc(struct gsi_routes *r)
{
	pthread_mutex_lock(&r->lock);
	int gsi = r->next_gsi < GSI_IRQCHIP_PINS + GSI_MAX ? (int)r->next_gsi++ : -1;
	pthread_mutex_unlock(&r->lock);
	return gsi;
}

static struct kvm_irq_routing_entry *find_msi(struct gsi_routes *r, unsigned gsi)
{
	for (unsigned i = 0; i < r->table->nr; i++)
		if (r->table->entries[i].gsi == gsi && r->table->entries[i].type == KVM_IRQ_ROUTING_MSI)
			return &r->table->entries[i];
	return NULL;
}

int gsi_route_msi(struct gsi_routes *r, unsigned gsi, uint32_t addr_lo, uint32_t addr_hi,
		  uint32_t data)
{
	if ((gsi < GSI_IRQCHIP_PINS && !r->pin_routes) || gsi >= GSI_IRQCHIP_PINS + GSI_MAX)
		return -1;
	int ret = 0;
	pthread_mutex_lock(&r->lock);
	struct kvm_irq_routing_entry *e = find_msi(r, gsi), saved = {0};
	bool added = false;
	if (e) {
		saved = *e;
		if (e->u.msi.address_lo == addr_lo && e->u.msi.address_hi == addr_hi &&
		    e->u.msi.data == data)
			goto out;
	} else if (r->table->nr < GSI_MAX_ROUTES) {
		e = &r->table->entries[r->table->nr++];
		added = true;
	} else {
		ret = -1;
		goto out;
	}
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_MSI;
	e->u.msi.address_lo = addr_lo;
	e->u.msi.address_hi = addr_hi;
	e->u.msi.data = data;
	if (r->ops->set_gsi_routing(r->ctx, r->table) < 0) {
		if (added)
			r->table->nr--;
		else
			*e = saved;
		ret = -1;
	}
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int gsi_route_remove(struct gsi_routes *r, unsigned gsi)
{
	int ret = 0;
	pthread_mutex_lock(&r->lock);
	struct kvm_irq_routing_entry *e = find_msi(r, gsi);
	if (e) {
		struct kvm_irq_routing_entry saved = *e;
		*e = r->table->entries[--r->table->nr];
		if (r->ops->set_gsi_routing(r->ctx, r->table) < 0) {
			r->table->entries[r->table->nr++] = *e;
			*e = saved;
			ret = -1;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int gsi_irqfd(struct gsi_routes *r, int efd, unsigned gsi)
{
	struct kvm_irqfd f = {.fd = (uint32_t)efd, .gsi = gsi};
	return r->ops->irqfd(r->ctx, &f);
}

int gsi_irqfd_detach(struct gsi_routes *r, int efd, unsigned gsi)
{
	struct kvm_irqfd f = {.fd = (uint32_t)efd, .gsi = gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN};
	return r->ops->irqfd(r->ctx, &f);
}
