/* guest_mem.c: guest RAM mapping and bound-checked guest-physical access. */
#include "vmm/core/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

int gm_map(struct guest_mem *gm, uint64_t ram_size)
{
	layout_init(&gm->layout, ram_size);
	void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	gm->base = p;
	gm->map_size = ram_size;
	return 0;
}

void gm_wrap(struct guest_mem *gm, uint8_t *buf, uint64_t ram_size)
{
	layout_init(&gm->layout, ram_size);
	gm->base = buf;
	gm->map_size = 0;
}

void gm_unmap(struct guest_mem *gm)
{
	if (gm->map_size)
		munmap(gm->base, gm->map_size);
	gm->base = NULL;
	gm->map_size = 0;
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	const struct mem_layout *l = &gm->layout;
	if (len == 0)
		len = 1; /* an empty range still has to start inside RAM */
	if (gpa < l->low_size) {
		if (len > l->low_size - gpa)
			return NULL;
		return gm->base + gpa;
	}
	if (gpa >= LAYOUT_MMIO_HOLE_END) {
		uint64_t off = gpa - LAYOUT_MMIO_HOLE_END;
		if (off >= l->high_size || len > l->high_size - off)
			return NULL;
		return gm->base + l->low_size + off;
	}
	return NULL;
}

bool gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return false;
	memcpy(p, src, len);
	return true;
}

bool gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return false;
	memcpy(dst, p, len);
	return true;
}
