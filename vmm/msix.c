/* msix.c: MSI-X emulation and the VM-wide GSI routing table (see msix.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "msix.h"
#include "util.h"

/* ---- GSI routing ---- */

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

/* ---- MSI-X ---- */

uint32_t msix_pba_bytes(unsigned nvec)
{
	return (nvec + 63) / 64 * 8;
}

static void signal_efd(int efd)
{
	uint64_t one = 1;
	ssize_t n = write(efd, &one, sizeof(one));
	(void)n; /* EAGAIN only when the counter is full: it is pending anyway */
}

static bool deliverable(const struct msix *m, const struct msix_vector *v)
{
	return m->enabled && !m->fmask && !(v->ctrl & MSIX_ENTRY_MASKED);
}

/* Route a deliverable vector to its current entry, then deliver what is
 * pending. msix lock held. */
static void sync_vector(struct msix *m, unsigned i)
{
	struct msix_vector *v = &m->vec[i];
	if (!deliverable(m, v)) {
		/* External trigger: masked means detached (signals accumulate). */
		if (m->external && v->attached && gsi_irqfd_detach(m->routes, v->efd, v->gsi) == 0)
			v->attached = false;
		return;
	}
	if (!v->routed || v->route_lo != v->addr_lo || v->route_hi != v->addr_hi ||
	    v->route_data != v->data) {
		v->routed = false;
		if (gsi_route_msi(m->routes, v->gsi, v->addr_lo, v->addr_hi, v->data) < 0)
			return; /* stays pending; retried on the next change */
		v->routed = true;
		v->route_lo = v->addr_lo;
		v->route_hi = v->addr_hi;
		v->route_data = v->data;
	}
	/* Attached after the route exists: KVM injects a pending signal at once. */
	if (m->external && !v->attached && gsi_irqfd(m->routes, v->efd, v->gsi) == 0)
		v->attached = true;
	if (m->pba[i / 64] & (UINT64_C(1) << (i % 64))) {
		m->pba[i / 64] &= ~(UINT64_C(1) << (i % 64));
		signal_efd(v->efd);
	}
}

int msix_external_trigger(struct msix *m)
{
	if (!m->vec)
		return -1;
	pthread_mutex_lock(&m->lock);
	m->external = true;
	int r = 0;
	for (unsigned i = 0; i < m->nvec; i++) {
		struct msix_vector *v = &m->vec[i];
		if (v->attached && !deliverable(m, v)) {
			if (gsi_irqfd_detach(m->routes, v->efd, v->gsi) < 0)
				r = -1;
			else
				v->attached = false;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

void msix_destroy(struct msix *m)
{
	if (m->vec) {
		for (unsigned i = 0; i < m->nvec; i++)
			if (m->vec[i].efd >= 0)
				close(m->vec[i].efd);
		pthread_mutex_destroy(&m->lock);
	}
	free(m->vec);
	free(m->pba);
	m->vec = NULL;
	m->pba = NULL;
	m->nvec = 0;
}

static bool region_fits(const struct pci_device *dev, unsigned bar, uint32_t off, uint64_t len)
{
	return bar < PCI_NUM_BARS && dev->bar[bar].type != PCI_BAR_NONE && (off & 7) == 0 &&
	       off <= dev->bar[bar].size && len <= dev->bar[bar].size - off;
}

int msix_init(struct msix *m, struct pci_device *dev, struct gsi_routes *routes, unsigned nvec,
	      unsigned table_bar, uint32_t table_off, unsigned pba_bar, uint32_t pba_off)
{
	memset(m, 0, sizeof(*m));
	if (nvec == 0 || nvec > MSIX_MAX_VECTORS)
		return -1;
	uint64_t tlen = (uint64_t)nvec * MSIX_ENTRY_SIZE, plen = msix_pba_bytes(nvec);
	if (!region_fits(dev, table_bar, table_off, tlen) || !region_fits(dev, pba_bar, pba_off, plen))
		return -1;
	if (table_bar == pba_bar && table_off < pba_off + plen && pba_off < table_off + tlen)
		return -1;
	m->vec = calloc(nvec, sizeof(*m->vec));
	m->pba = calloc(plen / 8, sizeof(uint64_t));
	if (!m->vec || !m->pba) {
		free(m->vec);
		free(m->pba);
		m->vec = NULL;
		m->pba = NULL;
		return -1;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->nvec = nvec;
	m->dev = dev;
	m->routes = routes;
	m->table_bar = table_bar;
	m->table_off = table_off;
	m->pba_bar = pba_bar;
	m->pba_off = pba_off;
	for (unsigned i = 0; i < nvec; i++)
		m->vec[i].efd = -1;
	for (unsigned i = 0; i < nvec; i++) {
		struct msix_vector *v = &m->vec[i];
		v->ctrl = MSIX_ENTRY_MASKED;
		int gsi = gsi_alloc(routes);
		v->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (gsi < 0 || v->efd < 0 || gsi_irqfd(routes, v->efd, (unsigned)gsi) < 0) {
			msix_destroy(m);
			return -1;
		}
		v->gsi = (unsigned)gsi;
		v->attached = true;
	}
	uint8_t cap[MSIX_CAP_LEN] = {PCI_CAP_ID_MSIX, 0};
	uint16_t ctrl = (uint16_t)(nvec - 1);
	uint32_t t = table_off | table_bar, p = pba_off | pba_bar;
	memcpy(cap + 2, &ctrl, 2);
	memcpy(cap + 4, &t, 4);
	memcpy(cap + 8, &p, 4);
	int off = pci_add_capability(dev, cap, sizeof(cap));
	if (off < 0) {
		msix_destroy(m);
		return -1;
	}
	m->cap = (unsigned)off;
	pci_set_wmask(dev, m->cap + 2, 2, MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK);
	return 0;
}

void msix_config_write(struct msix *m, unsigned off, unsigned len)
{
	if (!m->vec || off >= m->cap + 4 || off + len <= m->cap + 2)
		return;
	uint32_t ctrl = pci_config_get(m->dev, m->cap + 2, 2);
	pthread_mutex_lock(&m->lock);
	m->enabled = ctrl & MSIX_CTRL_ENABLE;
	m->fmask = ctrl & MSIX_CTRL_FMASK;
	for (unsigned i = 0; i < m->nvec; i++)
		sync_vector(m, i);
	pthread_mutex_unlock(&m->lock);
}

static uint32_t entry_field(const struct msix_vector *v, unsigned field)
{
	switch (field) {
	case MSIX_ENTRY_ADDR_LO: return v->addr_lo;
	case MSIX_ENTRY_ADDR_HI: return v->addr_hi;
	case MSIX_ENTRY_DATA: return v->data;
	default: return v->ctrl;
	}
}

/* A 4-byte write at table offset t (4-aligned, inside the table). */
static void table_write32(struct msix *m, uint64_t t, uint32_t val)
{
	struct msix_vector *v = &m->vec[t / MSIX_ENTRY_SIZE];
	switch (t % MSIX_ENTRY_SIZE) {
	case MSIX_ENTRY_ADDR_LO: v->addr_lo = val & ~3u; break;
	case MSIX_ENTRY_ADDR_HI: v->addr_hi = val; break;
	case MSIX_ENTRY_DATA: v->data = val; break;
	default: v->ctrl = val & MSIX_ENTRY_MASKED; break;
	}
	sync_vector(m, (unsigned)(t / MSIX_ENTRY_SIZE));
}

bool msix_bar_access(struct msix *m, unsigned bar, uint64_t off, uint8_t *data, unsigned len,
		     bool write)
{
	if (!m->vec)
		return false;
	if (len > 8)
		len = 8;
	uint64_t tlen = (uint64_t)m->nvec * MSIX_ENTRY_SIZE, plen = msix_pba_bytes(m->nvec);
	bool in_table = bar == m->table_bar && off >= m->table_off && off - m->table_off < tlen;
	bool in_pba = bar == m->pba_bar && off >= m->pba_off && off - m->pba_off < plen;
	if (!in_table && !in_pba)
		return false;
	pthread_mutex_lock(&m->lock);
	if (in_table) {
		uint64_t t = off - m->table_off;
		if (write) {
			if ((len == 4 || len == 8) && t % len == 0) {
				for (unsigned i = 0; i < len; i += 4)
					table_write32(m, t + i, get_le32(data + i));
			}
		} else {
			for (unsigned i = 0; i < len; i++) {
				uint64_t b = t + i;
				data[i] = b < tlen ? (uint8_t)(entry_field(&m->vec[b / MSIX_ENTRY_SIZE],
									   (unsigned)(b % MSIX_ENTRY_SIZE & ~3u)) >>
							       (8 * (b % 4)))
						   : 0;
			}
		}
	} else if (!write) {
		uint64_t p = off - m->pba_off;
		for (unsigned i = 0; i < len; i++) {
			uint64_t b = p + i;
			data[i] = b < plen ? (uint8_t)(m->pba[b / 8] >> (8 * (b % 8))) : 0;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return true;
}

void msix_notify(struct msix *m, unsigned vec)
{
	if (vec >= m->nvec)
		return;
	pthread_mutex_lock(&m->lock);
	struct msix_vector *v = &m->vec[vec];
	if (m->enabled) {
		if (deliverable(m, v) && v->routed)
			signal_efd(v->efd);
		else
			m->pba[vec / 64] |= UINT64_C(1) << (vec % 64);
	}
	pthread_mutex_unlock(&m->lock);
}

bool msix_pending(struct msix *m, unsigned vec)
{
	if (vec >= m->nvec)
		return false;
	pthread_mutex_lock(&m->lock);
	bool p = m->pba[vec / 64] & (UINT64_C(1) << (vec % 64));
	pthread_mutex_unlock(&m->lock);
	return p;
}

bool msix_deliverable(struct msix *m, unsigned vec)
{
	if (vec >= m->nvec)
		return false;
	pthread_mutex_lock(&m->lock);
	bool d = deliverable(m, &m->vec[vec]);
	pthread_mutex_unlock(&m->lock);
	return d;
}

int msix_vector_eventfd(const struct msix *m, unsigned vec)
{
	return vec < m->nvec ? m->vec[vec].efd : -1;
}

unsigned msix_vector_gsi(const struct msix *m, unsigned vec)
{
	return vec < m->nvec ? m->vec[vec].gsi : 0;
}
