/* ioapic.c: the IOAPIC for KVM's split IRQ chip (see ioapic.h), and its
 * saved state for snapshots. */
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/core/state_codec.h"
#include "vmm/devices/ioapic.h"

static int kvm_signal_msi(void *ctx, const struct kvm_msi *msi)
{
	return ioctl(*(int *)ctx, KVM_SIGNAL_MSI, msi);
}

const struct ioapic_ops ioapic_kvm_ops = {kvm_signal_msi};

#define RTE_READ_ONLY (IOAPIC_RTE_DELIVS | IOAPIC_RTE_REMOTE_IRR)
#define MSI_ADDR_BASE 0xfee00000u
#define MSI_ADDR_DEST_SHIFT 12
#define MSI_ADDR_DESTMODE_LOGICAL (1u << 2)
#define MSI_DATA_LEVEL_ASSERT (1u << 14)
#define MSI_DATA_TRIGGER_LEVEL (1u << 15)

void ioapic_rte_msi(uint64_t rte, uint32_t *addr_lo, uint32_t *data)
{
	uint32_t dest = (uint32_t)(rte >> IOAPIC_RTE_DEST_SHIFT) & 0xff;
	*addr_lo = MSI_ADDR_BASE | dest << MSI_ADDR_DEST_SHIFT |
		   (rte & IOAPIC_RTE_DESTMODE ? MSI_ADDR_DESTMODE_LOGICAL : 0);
	*data = (uint32_t)(rte & IOAPIC_RTE_VECTOR) |
		(uint32_t)((rte >> IOAPIC_RTE_DELMODE_SHIFT) & 7) << 8 |
		(rte & IOAPIC_RTE_LEVEL ? MSI_DATA_TRIGGER_LEVEL | MSI_DATA_LEVEL_ASSERT : 0);
}

void ioapic_init(struct ioapic *a, const struct ioapic_ops *ops, void *ctx,
		 struct gsi_routes *routes)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	a->ops = ops;
	a->ctx = ctx;
	a->routes = routes;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		a->rte[i] = IOAPIC_RTE_MASKED;
}

void ioapic_destroy(struct ioapic *a)
{
	pthread_mutex_destroy(&a->lock);
}

static bool is_level(const struct ioapic *a, unsigned pin)
{
	return a->rte[pin] & IOAPIC_RTE_LEVEL;
}

/* Deliver pin's interrupt if its entry lets it. Lock held. */
static void service(struct ioapic *a, unsigned pin)
{
	uint64_t rte = a->rte[pin];
	if (rte & IOAPIC_RTE_MASKED || (rte & IOAPIC_RTE_REMOTE_IRR) ||
	    ((rte >> IOAPIC_RTE_DELMODE_SHIFT) & 7) == IOAPIC_DELMODE_EXTINT)
		return; /* ExtINT asks for a PIC, and there is none */
	struct kvm_msi msi = {0};
	ioapic_rte_msi(rte, &msi.address_lo, &msi.data);
	a->ops->signal_msi(a->ctx, &msi);
	if (rte & IOAPIC_RTE_LEVEL)
		a->rte[pin] |= IOAPIC_RTE_REMOTE_IRR;
}

/* Keep the GSI route of a level-triggered pin equal to its MSI, so KVM
 * reports the EOI of its vector; edge-triggered pins have none. gsi_routes
 * submits only a change, so an unchanged entry costs no KVM call. Lock held. */
static void sync_route(struct ioapic *a, unsigned pin)
{
	uint64_t rte = a->rte[pin];
	if (!(rte & IOAPIC_RTE_LEVEL) || (rte & IOAPIC_RTE_VECTOR) < 16) {
		gsi_route_remove(a->routes, pin);
		return;
	}
	uint32_t addr, data;
	ioapic_rte_msi(rte, &addr, &data);
	gsi_route_msi(a->routes, pin, addr, 0, data);
}

void ioapic_set_irq(struct ioapic *a, unsigned pin, bool level)
{
	if (pin >= IOAPIC_PINS)
		return;
	uint32_t bit = 1u << pin;
	pthread_mutex_lock(&a->lock);
	bool was = a->lines & bit;
	if (level)
		a->lines |= bit;
	else
		a->lines &= ~bit;
	if (level && (is_level(a, pin) || !was))
		service(a, pin);
	pthread_mutex_unlock(&a->lock);
}

void ioapic_eoi(struct ioapic *a, uint8_t vector)
{
	pthread_mutex_lock(&a->lock);
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t rte = a->rte[pin];
		if ((rte & IOAPIC_RTE_VECTOR) != vector || !(rte & IOAPIC_RTE_LEVEL) ||
		    !(rte & IOAPIC_RTE_REMOTE_IRR))
			continue;
		a->rte[pin] &= ~IOAPIC_RTE_REMOTE_IRR;
		if (a->lines & (1u << pin))
			service(a, pin);
	}
	pthread_mutex_unlock(&a->lock);
}

static uint32_t read_reg(struct ioapic *a)
{
	uint32_t r = a->regsel;
	switch (r) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return a->id;
	case IOAPIC_REG_VER:
		return (IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
	}
	if (r >= IOAPIC_REG_RTE && r < IOAPIC_REG_RTE + 2 * IOAPIC_PINS) {
		uint64_t rte = a->rte[(r - IOAPIC_REG_RTE) / 2];
		return (r - IOAPIC_REG_RTE) % 2 ? (uint32_t)(rte >> 32) : (uint32_t)rte;
	}
	return 0xffffffffu;
}

static void write_reg(struct ioapic *a, uint32_t v)
{
	uint32_t r = a->regsel;
	if (r == IOAPIC_REG_ID) {
		a->id = v & (0xfu << 24);
		return;
	}
	if (r < IOAPIC_REG_RTE || r >= IOAPIC_REG_RTE + 2 * IOAPIC_PINS)
		return; /* read-only or no register */
	unsigned pin = (r - IOAPIC_REG_RTE) / 2;
	uint64_t old = a->rte[pin], rte;
	if ((r - IOAPIC_REG_RTE) % 2)
		rte = (old & 0xffffffffull) | (uint64_t)v << 32;
	else
		rte = (old & (0xffffffff00000000ull | RTE_READ_ONLY)) | (v & ~RTE_READ_ONLY);
	/* Switching a pin to edge clears remote IRR: Linux does that to
	 * acknowledge a level interrupt on IOAPICs without an EOI register. */
	if (!(rte & IOAPIC_RTE_LEVEL))
		rte &= ~IOAPIC_RTE_REMOTE_IRR;
	a->rte[pin] = rte;
	sync_route(a, pin);
	/* A level-triggered line still high fires once the entry lets it. */
	if ((rte & IOAPIC_RTE_LEVEL) && (a->lines & (1u << pin)))
		service(a, pin);
}

void ioapic_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool write)
{
	struct ioapic *a = opaque;
	uint64_t reg = offset & ~3ull, byte = offset & 3;
	if (len == 0 || len > 4 || byte + len > 4 ||
	    (reg != IOAPIC_REGSEL && reg != IOAPIC_WINDOW && reg != IOAPIC_EOI)) {
		if (!write)
			memset(data, 0xff, len > 8 ? 8 : len);
		return;
	}
	pthread_mutex_lock(&a->lock);
	if (!write) {
		uint32_t v = reg == IOAPIC_REGSEL ? a->regsel : reg == IOAPIC_WINDOW ? read_reg(a) : 0;
		v >>= 8 * byte;
		memcpy(data, &v, len); /* little-endian host */
	} else if (reg == IOAPIC_REGSEL) {
		/* Only the low byte selects; narrower writes land where they point. */
		uint32_t v = 0;
		memcpy(&v, data, len);
		if (byte == 0)
			a->regsel = v & 0xff;
	} else if (len == 4) {
		uint32_t v;
		memcpy(&v, data, 4);
		if (reg == IOAPIC_WINDOW) {
			write_reg(a, v);
		} else { /* EOI register: the vector is the low byte */
			pthread_mutex_unlock(&a->lock);
			ioapic_eoi(a, (uint8_t)v);
			return;
		}
	}
	pthread_mutex_unlock(&a->lock);
}

/* The saved state: the registers, then the redirection table (its number of
 * pins first). */
enum { SEC_REGS = 1, SEC_TABLE };

#define AS(m) CODEC_FIELD(struct ioapic_state, m)
static const struct codec_field regs_f[] = {AS(id), AS(regsel), AS(lines)};
static const struct codec_field table_f[] = {CODEC_ARRAY(struct ioapic_state, rte)};
static const struct codec_layout regs_l = CODEC_LAYOUT(regs_f), table_l = CODEC_LAYOUT(table_f);
/* Every member is in one of the layouts (the struct has 4 bytes of padding
 * at its end): a new one goes there too (and IOAPIC_STATE_VERSION up). */
_Static_assert(sizeof(struct ioapic_state) == 4 * 4 + 8 * IOAPIC_PINS,
	       "struct ioapic_state changed: update its layouts");

size_t ioapic_state_encode(const struct ioapic_state *st, uint8_t *buf, size_t cap)
{
	struct codec_writer w;
	cw_begin(&w, buf, cap, IOAPIC_STATE_MAGIC, IOAPIC_STATE_VERSION);
	cw_section(&w, SEC_REGS);
	cw_struct(&w, st, &regs_l);
	cw_section(&w, SEC_TABLE);
	cw_u32(&w, IOAPIC_PINS);
	cw_struct(&w, st, &table_l);
	return cw_finish(&w);
}

/* What write_reg, service and ioapic_eoi can have left in pin's entry. */
static int check_rte(struct codec_reader *r, const struct ioapic_state *st, unsigned pin)
{
	uint64_t rte = st->rte[pin];
	if (rte & IOAPIC_RTE_DELIVS)
		return cr_fail(r, "pin %u: entry %#llx has the delivery status bit set", pin,
			       (unsigned long long)rte);
	if ((rte & IOAPIC_RTE_REMOTE_IRR) && !(rte & IOAPIC_RTE_LEVEL))
		return cr_fail(r, "pin %u: entry %#llx is edge-triggered with remote IRR set", pin,
			       (unsigned long long)rte);
	/* A level-triggered line high on an unmasked entry was delivered. */
	if ((rte & IOAPIC_RTE_LEVEL) && !(rte & IOAPIC_RTE_MASKED) &&
	    ((rte >> IOAPIC_RTE_DELMODE_SHIFT) & 7) != IOAPIC_DELMODE_EXTINT &&
	    (st->lines & (1u << pin)) && !(rte & IOAPIC_RTE_REMOTE_IRR))
		return cr_fail(r, "pin %u: level-triggered, unmasked, its line high, and remote IRR clear: never delivered",
			       pin);
	return 0;
}

int ioapic_state_decode(const uint8_t *buf, size_t len, struct ioapic_state *st,
			struct errbuf *err)
{
	memset(st, 0, sizeof(*st));
	struct codec_reader r;
	size_t n;
	uint32_t pins;
	if (cr_begin(&r, buf, len, IOAPIC_STATE_MAGIC, IOAPIC_STATE_VERSION, "IOAPIC state", err))
		goto bad;
	if (cr_section(&r, SEC_REGS, "registers", &n) ||
	    cr_expect(&r, n, codec_layout_bytes(&regs_l)) || cr_struct(&r, st, &regs_l))
		goto bad;
	if (st->id & ~(0xfu << 24)) {
		cr_fail(&r, "id register %#x has bits outside 24-27", st->id);
		goto bad;
	}
	if (st->regsel > 0xff) {
		cr_fail(&r, "register select %#x is wider than a byte", st->regsel);
		goto bad;
	}
	if (st->lines >> IOAPIC_PINS) {
		cr_fail(&r, "lines %#x: there are %u pins", st->lines, IOAPIC_PINS);
		goto bad;
	}
	if (cr_section(&r, SEC_TABLE, "redirection table", &n) || cr_u32(&r, &pins))
		goto bad;
	if (pins != IOAPIC_PINS) {
		cr_fail(&r, "%u pins, this IOAPIC has %u", pins, IOAPIC_PINS);
		goto bad;
	}
	if (cr_expect(&r, n, 4 + codec_layout_bytes(&table_l)) || cr_struct(&r, st, &table_l))
		goto bad;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		if (check_rte(&r, st, pin))
			goto bad;
	if (cr_end(&r))
		goto bad;
	return 0;
bad:
	memset(st, 0, sizeof(*st));
	return -1;
}

size_t ioapic_save(struct ioapic *a, uint8_t *buf, size_t cap)
{
	pthread_mutex_lock(&a->lock);
	struct ioapic_state st = a->state;
	pthread_mutex_unlock(&a->lock);
	return ioapic_state_encode(&st, buf, cap);
}

int ioapic_restore(struct ioapic *a, const uint8_t *buf, size_t len, struct errbuf *err)
{
	struct ioapic_state st;
	if (ioapic_state_decode(buf, len, &st, err))
		return -1;
	pthread_mutex_lock(&a->lock);
	a->state = st;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		sync_route(a, pin);
	pthread_mutex_unlock(&a->lock);
	return 0;
}
