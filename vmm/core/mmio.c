/* mmio.c: the guest-physical MMIO bus (see mmio.h for the locking rules). */
#include <string.h>

#include "vmm/core/mmio.h"

void mmio_bus_init(struct mmio_bus *bus)
{
	memset(bus, 0, sizeof(*bus));
	pthread_rwlock_init(&bus->lock, NULL);
}

void mmio_bus_destroy(struct mmio_bus *bus)
{
	pthread_rwlock_destroy(&bus->lock);
}

/* Inclusive last address, or false when [base, base+len) is empty or wraps. */
static bool range_last(uint64_t base, uint64_t len, uint64_t *last)
{
	if (len == 0 || len - 1 > UINT64_MAX - base)
		return false;
	*last = base + (len - 1);
	return true;
}

/* Does [base, last] overlap any range other than skip? Lock held. */
static bool overlaps(const struct mmio_bus *bus, uint64_t base, uint64_t last, int skip)
{
	for (unsigned i = 0; i < bus->n; i++) {
		if ((int)i == skip)
			continue;
		const struct mmio_region *r = &bus->r[i];
		uint64_t rlast = r->base + (r->len - 1);
		if (base <= rlast && r->base <= last)
			return true;
	}
	return false;
}

static int find_base(const struct mmio_bus *bus, uint64_t base)
{
	for (unsigned i = 0; i < bus->n; i++)
		if (bus->r[i].base == base)
			return (int)i;
	return -1;
}

int mmio_register(struct mmio_bus *bus, uint64_t base, uint64_t len, mmio_fn fn, void *opaque)
{
	uint64_t last;
	if (!fn || !range_last(base, len, &last))
		return -1;
	int ret = -1;
	pthread_rwlock_wrlock(&bus->lock);
	if (bus->n < MMIO_MAX_REGIONS && !overlaps(bus, base, last, -1)) {
		bus->r[bus->n++] = (struct mmio_region){base, len, fn, opaque};
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int mmio_unregister(struct mmio_bus *bus, uint64_t base)
{
	pthread_rwlock_wrlock(&bus->lock);
	int i = find_base(bus, base);
	if (i >= 0)
		bus->r[i] = bus->r[--bus->n];
	pthread_rwlock_unlock(&bus->lock);
	return i >= 0 ? 0 : -1;
}

int mmio_move(struct mmio_bus *bus, uint64_t old_base, uint64_t new_base)
{
	int ret = -1;
	pthread_rwlock_wrlock(&bus->lock);
	int i = find_base(bus, old_base);
	uint64_t last;
	if (i >= 0 && range_last(new_base, bus->r[i].len, &last) &&
	    !overlaps(bus, new_base, last, i)) {
		bus->r[i].base = new_base;
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

bool mmio_dispatch(struct mmio_bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool write)
{
	if (len > 8)
		len = 8;
	struct mmio_region hit = {0};
	pthread_rwlock_rdlock(&bus->lock);
	for (unsigned i = 0; i < bus->n; i++) {
		const struct mmio_region *r = &bus->r[i];
		if (addr >= r->base && addr - r->base < r->len) {
			hit = *r;
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	if (!hit.fn) {
		if (!write)
			memset(data, 0xff, len);
		return false;
	}
	hit.fn(hit.opaque, addr - hit.base, data, len, write);
	return true;
}
