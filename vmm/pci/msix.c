/* msix.c: MSI-X emulation (see msix.h), and its saved state (msix_state_*). */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/pci/msix.h"
#include "vmm/lib/util.h"

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
	m->enabled = (ctrl & MSIX_CTRL_ENABLE) != 0;
	m->fmask = (ctrl & MSIX_CTRL_FMASK) != 0;
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

/* A signal of vector vec: true when its eventfd is to be written now;
 * else its pending bit is set (masked) or nothing (MSI-X off). msix lock
 * held. */
static bool take_signal(struct msix *m, unsigned vec)
{
	if (!m->enabled)
		return false;
	struct msix_vector *v = &m->vec[vec];
	if (deliverable(m, v) && v->routed)
		return true;
	m->pba[vec / 64] |= UINT64_C(1) << (vec % 64);
	return false;
}

void msix_notify(struct msix *m, unsigned vec)
{
	if (vec >= m->nvec)
		return;
	pthread_mutex_lock(&m->lock);
	if (take_signal(m, vec))
		signal_efd(m->vec[vec].efd);
	pthread_mutex_unlock(&m->lock);
}

int msix_notify_deferred(struct msix *m, unsigned vec)
{
	if (vec >= m->nvec)
		return -1;
	pthread_mutex_lock(&m->lock);
	bool signal = take_signal(m, vec);
	pthread_mutex_unlock(&m->lock);
	return signal ? (int)vec : -1;
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

/* ---- Saved state ---- */

#define ENT(m) CODEC_FIELD(struct msix_entry, m)
static const struct codec_field entry_f[] = {ENT(addr_lo), ENT(addr_hi), ENT(data), ENT(ctrl)};
static const struct codec_layout entry_l = CODEC_LAYOUT(entry_f);

void msix_state_save(struct msix *m, struct msix_saved *s)
{
	memset(s, 0, sizeof(*s));
	if (!m->vec)
		return;
	pthread_mutex_lock(&m->lock);
	s->nvec = m->nvec;
	s->st = m->state;
	for (unsigned i = 0; i < m->nvec; i++)
		s->entry[i] = m->vec[i].entry;
	memcpy(s->pba, m->pba, msix_pba_bytes(m->nvec));
	pthread_mutex_unlock(&m->lock);
}

void msix_state_put(struct codec_writer *w, uint16_t tag, const struct msix_saved *s)
{
	unsigned n = s->nvec <= MSIX_MAX_VECTORS ? s->nvec : MSIX_MAX_VECTORS;
	cw_section(w, tag);
	cw_u32(w, n);
	cw_u32(w, (uint32_t)s->st.enabled | (uint32_t)s->st.fmask << 1);
	for (unsigned i = 0; i < n; i++)
		cw_struct(w, &s->entry[i], &entry_l);
	for (unsigned i = 0; i < msix_pba_bytes(n) / 8; i++)
		cw_u64(w, s->pba[i]);
}

int msix_state_get(struct codec_reader *r, uint16_t tag, const struct msix *m,
		   struct msix_saved *s)
{
	size_t n;
	uint32_t flags;
	memset(s, 0, sizeof(*s));
	if (cr_section(r, tag, "MSI-X", &n) || cr_u32(r, &s->nvec) || cr_u32(r, &flags))
		return -1;
	if (s->nvec != m->nvec)
		return cr_fail(r, "%u vectors saved, the device has %u", s->nvec, m->nvec);
	if (flags > 3)
		return cr_fail(r, "control flags %#x (enable 1, function mask 2)", flags);
	s->st.enabled = flags & 1;
	s->st.fmask = (flags >> 1) & 1;
	uint32_t words = msix_pba_bytes(s->nvec) / 8;
	if (cr_expect(r, n, 8 + (size_t)s->nvec * codec_layout_bytes(&entry_l) + 8 * (size_t)words))
		return -1;
	for (unsigned i = 0; i < s->nvec; i++) {
		struct msix_entry *e = &s->entry[i];
		if (cr_struct(r, e, &entry_l))
			return -1;
		if (e->addr_lo & 3)
			return cr_fail(r, "vector %u: address %#x not 4-byte aligned", i, e->addr_lo);
		if (e->ctrl & ~MSIX_ENTRY_MASKED)
			return cr_fail(r, "vector %u: control %#x has reserved bits", i, e->ctrl);
	}
	for (unsigned i = 0; i < words; i++)
		if (cr_u64(r, &s->pba[i]))
			return -1;
	if (s->nvec % 64 && (s->pba[words - 1] >> (s->nvec % 64)))
		return cr_fail(r, "pending bits past vector %u", s->nvec - 1);
	return 0;
}

void msix_state_apply(struct msix *m, const struct msix_saved *s)
{
	if (!m->vec || s->nvec != m->nvec)
		return;
	uint32_t ctrl = (m->nvec - 1) | (s->st.enabled ? MSIX_CTRL_ENABLE : 0) |
			(s->st.fmask ? MSIX_CTRL_FMASK : 0);
	pci_config_set(m->dev, m->cap + 2, 2, ctrl);
	pthread_mutex_lock(&m->lock);
	m->state = s->st;
	for (unsigned i = 0; i < m->nvec; i++)
		m->vec[i].entry = s->entry[i];
	memcpy(m->pba, s->pba, msix_pba_bytes(m->nvec));
	for (unsigned i = 0; i < m->nvec; i++)
		sync_vector(m, i);
	pthread_mutex_unlock(&m->lock);
}

enum { MSIX_SEC_TABLE = 1 };

size_t msix_state_encode(const struct msix_saved *s, uint8_t *buf, size_t cap)
{
	struct codec_writer w;
	cw_begin(&w, buf, cap, MSIX_STATE_MAGIC, MSIX_STATE_VERSION);
	msix_state_put(&w, MSIX_SEC_TABLE, s);
	return cw_finish(&w);
}

int msix_state_decode(const uint8_t *buf, size_t len, const struct msix *m, struct msix_saved *s,
		      struct errbuf *err)
{
	struct codec_reader r;
	if (cr_begin(&r, buf, len, MSIX_STATE_MAGIC, MSIX_STATE_VERSION, "MSI-X state", err) ||
	    msix_state_get(&r, MSIX_SEC_TABLE, m, s) || cr_end(&r)) {
		memset(s, 0, sizeof(*s));
		return -1;
	}
	return 0;
}
