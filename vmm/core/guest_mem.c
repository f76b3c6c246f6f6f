/* guest_mem.c: guest RAM mapping and bound-checked guest-physical access. */
#include "vmm/core/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GM_PAGE 4096u

#define GM_HUGE (2u << 20)

/* Anonymous guest RAM starts on a 2 MiB boundary and asks for transparent
 * huge pages, as QEMU's does: with guest-physical 0 on a 2 MiB boundary of
 * ours, KVM can map the guest with 2 MiB pages, so a guest touching its
 * memory takes one fault per 2 MiB instead of 512, and its TLB misses walk
 * shorter nested tables. Where the host's THP is off, madvise is refused
 * and the memory stays in small pages. The first 2 MiB stay in small pages:
 * the boot structures and a tiny payload live there, and one huge page
 * zeroed at the first touch would cost a short-lived VM ~1 ms. */
int gm_map(struct guest_mem *gm, uint64_t ram_size)
{
	layout_init(&gm->layout, ram_size);
	uint8_t *raw = mmap(NULL, ram_size + GM_HUGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return -errno;
	uint8_t *p = (uint8_t *)(((uintptr_t)raw + GM_HUGE - 1) & ~(uintptr_t)(GM_HUGE - 1));
	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	if (raw + GM_HUGE > p)
		munmap(p + ram_size, (size_t)(raw + GM_HUGE - p));
	if (ram_size > GM_HUGE) /* the first 2 MiB (boot data, a tiny payload) stay small */
		(void)madvise(p + GM_HUGE, ram_size - GM_HUGE, MADV_HUGEPAGE);
	gm->base = p;
	gm->map_size = ram_size;
	gm->anon = true;
	return 0;
}

int gm_map_file(struct guest_mem *gm, uint64_t ram_size, int fd)
{
	layout_init(&gm->layout, ram_size);
	void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) == 0) {
		gm->from_file = true;
		gm->file_dev = st.st_dev;
		gm->file_ino = st.st_ino;
	}
	gm->base = p;
	gm->map_size = ram_size;
	return 0;
}

int gm_save_file(const struct guest_mem *gm, int fd)
{
	uint64_t size = gm->layout.low_size + gm->layout.high_size;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (gm->from_file && st.st_dev == gm->file_dev && st.st_ino == gm->file_ino)
		return -EBUSY;
	return write_sparse(fd, gm->base, size); /* zero pages stay holes */
}

void gm_wrap(struct guest_mem *gm, uint8_t *buf, uint64_t ram_size)
{
	layout_init(&gm->layout, ram_size);
	gm->base = buf;
	gm->map_size = 0;
	gm->anon = false;
}

void gm_unmap(struct guest_mem *gm)
{
	if (gm->map_size)
		munmap(gm->base, gm->map_size);
	gm->base = NULL;
	gm->map_size = 0;
	gm->anon = false;
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

bool gm_zero(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return true;
	uint8_t *p = gm_ptr(gm, gpa, len);
	if (!p)
		return false;
	uintptr_t a = (uintptr_t)p, end = a + len;
	uintptr_t pa = ALIGN_UP(a, GM_PAGE), pend = ALIGN_DOWN(end, GM_PAGE);
	if (gm->anon && pa < pend && madvise((void *)pa, pend - pa, MADV_DONTNEED) == 0) {
		memset(p, 0, pa - a);
		memset((void *)pend, 0, end - pend);
		return true;
	}
	memset(p, 0, len);
	return true;
}

static void zero_bytes(const struct guest_mem *gm, uint64_t lo, uint64_t hi)
{
	uint8_t *p = hi > lo ? gm_ptr(gm, lo, hi - lo) : NULL;
	if (p)
		memset(p, 0, hi - lo);
}

void gm_zero_huge(const struct guest_mem *gm, uint64_t lo, uint64_t hi)
{
	if (lo >= hi)
		return;
	uint64_t a = ALIGN_UP(lo, MiB(2)), b = ALIGN_DOWN(hi, MiB(2));
	if (a >= b) {
		zero_bytes(gm, lo, hi);
		return;
	}
	zero_bytes(gm, lo, a);
	gm_zero(gm, a, b - a);
	zero_bytes(gm, b, hi);
}

bool gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return false;
	memcpy(dst, p, len);
	return true;
}
