/* mmio.h: the guest-physical MMIO bus: devices claim [base, base+len) ranges
 * (PCI BARs, MSI-X tables), KVM_EXIT_MMIO exits dispatch to them.
 *
 * Thread safety: every function may be called from any thread, concurrently.
 * A rwlock guards the table only while a range is looked up or changed; the
 * handler itself runs WITHOUT the lock held, so a handler may register, move or
 * unregister ranges (a BAR write through ECAM, say) without deadlocking.
 * The price: a handler can still be called once for a range that another thread
 * has just moved or unregistered (the access raced with the change, as it
 * would on hardware), so a handler and its opaque must stay valid for the
 * lifetime of the bus (ember has no device hot-unplug). */
#ifndef EMBER_MMIO_H
#define EMBER_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* offset: from the range's base; len: 1..8 bytes (what KVM passes); data: len
 * bytes, filled by the handler on a read. The guest chooses the access, so
 * offset + len may run past the end of the range (an 8-byte access at its last
 * byte): handlers must bound-check both. */
typedef void (*mmio_fn)(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool write);

#define MMIO_MAX_REGIONS 256

struct mmio_bus {
	pthread_rwlock_t lock;
	unsigned n;
	struct mmio_region {
		uint64_t base, len;
		mmio_fn fn;
		void *opaque;
	} r[MMIO_MAX_REGIONS];
};

void mmio_bus_init(struct mmio_bus *bus);
void mmio_bus_destroy(struct mmio_bus *bus);

/* Claim [base, base+len). Returns 0, or -1 when len is 0, the range wraps past
 * 2^64, overlaps a claimed range, or the table is full. */
int mmio_register(struct mmio_bus *bus, uint64_t base, uint64_t len, mmio_fn fn, void *opaque);
/* Release the range starting at base. Returns 0, or -1 when none starts there. */
int mmio_unregister(struct mmio_bus *bus, uint64_t base);
/* Move the range starting at old_base to new_base (same length, handler and
 * opaque), atomically for dispatchers. Returns 0, or -1 when no range starts at
 * old_base or the new place wraps or overlaps another range (then nothing
 * changes). */
int mmio_move(struct mmio_bus *bus, uint64_t old_base, uint64_t new_base);

/* Dispatch an access to the range holding addr. Returns true when a range
 * claimed it; otherwise reads return all-ones bytes, writes are dropped, and
 * false is returned. len above 8 is clamped to 8. */
bool mmio_dispatch(struct mmio_bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool write);

#endif
