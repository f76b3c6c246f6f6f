/* guest_mem.h: guest RAM mapping and bound-checked guest-physical access.
 * Every pointer into guest memory ember takes goes through gm_ptr(). */
#ifndef EMBER_GUEST_MEM_H
#define EMBER_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "vmm/core/mem_layout.h"

struct guest_mem {
	struct mem_layout layout;
	uint8_t *base; /* host mapping: low RAM, then high RAM */
	size_t map_size;
	/* Mapped from a memory file (gm_map_file): which one. Writing into it
	 * would pull the pages from under the mapping. */
	bool from_file;
	uint64_t file_dev, file_ino;
	/* Private anonymous memory (gm_map): a page given back reads as zeros. */
	bool anon;
};

/* mmap the RAM (reserved, not touched). Returns 0 or -errno. */
int gm_map(struct guest_mem *gm, uint64_t ram_size);
/* mmap the RAM from a snapshot's memory file (fd, exactly ram_size bytes,
 * which the caller checked): MAP_PRIVATE, so pages load from the file (its
 * page cache, shared by every VM restored from it) on first touch and the
 * guest's writes stay this process's own. 0 or -errno. */
int gm_map_file(struct guest_mem *gm, uint64_t ram_size, int fd);
/* Write the RAM into fd (an empty file) as a memory file: ram_size bytes,
 * the pages that are all zeros (never touched, or cleared) left as holes.
 * The file this RAM is mapped from is refused (-EBUSY) before anything is
 * written. 0 or -errno. */
int gm_save_file(const struct guest_mem *gm, int fd);
/* Wrap an existing buffer (unit tests, fuzzers). */
void gm_wrap(struct guest_mem *gm, uint8_t *buf, uint64_t ram_size);
void gm_unmap(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) or NULL when any byte of it is not RAM
 * or the range crosses from one RAM range into another. */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Zero [gpa, gpa+len) without touching what need not be: in anonymous RAM
 * the whole pages are given back (MADV_DONTNEED: they read as zeros again
 * and cost nothing until the guest writes them), only the partial pages at
 * the edges are written. False when the range is not RAM. */
bool gm_zero(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
/* Zero guest RAM [lo, hi) keeping huge pages whole: only whole 2 MiB pages
 * are given back, the rest is written (a 4 KiB page given back would split
 * the huge page it is part of, and the guest then runs on small pages
 * there). A range that is not RAM is left alone. */
void gm_zero_huge(const struct guest_mem *gm, uint64_t lo, uint64_t hi);

/* Copy in or out; false when the range is not RAM. */
bool gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len);
bool gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len);

#endif
