/* kernel_cache.h: a private directory of what ember decompressed before:
 * the vmlinux files it unpacked from bzImages (kernel_unpack.h), so the
 * next boot of the same bzImage reads its vmlinux as a --kernel vmlinux is
 * read instead of decompressing it again (natively, Debian's cloud kernel:
 * 4-6 ms instead of 15-19), and the cpio archives it decompressed from
 * initrds (initrd_unpack.h), read straight into their place next time.
 *
 * An entry is named after its kind and the file it came from
 * (vmm/lib/cache_name.h): its device, inode, size, modification and change
 * times (any write to the file changes
 * the change time, so a rewritten file never finds an old entry). The
 * entry is the vmlinux as the payload decompressed to (or the archive),
 * nothing added; it is parsed and loaded as hostile input, like any kernel
 * file (an archive must start as one). The directory must be the user's own
 * (or root's: a shared cache filled by an administrator, or a jail's
 * /kernel-cache, where ember-jailer --kernel-cache bind-mounts that VM's
 * entries of one read-only) and written by nobody
 * else (its entries become guest kernels), and so must its entries; they are
 * as readable as the directory (0600, or 0644 in a 0755 one); entries
 * are written whole (O_TMPFILE, then linked), sparse (a vmlinux is
 * two-fifths zeros: its bss, scratch areas and gaps, which kernel_load then
 * does not read, as guest RAM is zero already), and only the
 * KERNEL_CACHE_KEEP most recently used of each kind are kept. Nothing here
 * ever fails a boot: a cache that cannot be used is only skipped. */
#ifndef EMBER_KERNEL_CACHE_H
#define EMBER_KERNEL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "vmm/lib/cache_name.h"
#include "vmm/lib/reader.h"
#include "vmm/lib/util.h"

#define KERNEL_CACHE_KEEP 4 /* entries kept of each kind: a vmlinux is ~50 MiB (~30 on disk, sparse) */

struct kernel_cache {
	int dirfd; /* -1: no cache */
	const char *kind; /* KERNEL_CACHE_VMLINUX or KERNEL_CACHE_INITRD: the entries' prefix */
	char name[KERNEL_CACHE_NAME_MAX]; /* the entry for this bzImage */
	bool racy; /* the file changed too recently to store what came from it */
	mode_t entry_mode; /* 0600, plus the directory's read bits for group and others */
	bool read_only; /* this user may not write to it (a read-only mount, root's directory) */
	bool keep_all;  /* storing removes no entry (--fill-kernel-cache: its owner decides) */
};

/* A file whose change time is ctime, seen at now (the coarse clock file
 * times come from), could still change without its times changing: a
 * write in the same clock tick (or, on a file system that keeps whole
 * seconds, as ctime's zero nanoseconds suggest, the same two seconds) gets
 * the same change time. What came from it is not stored then (git's "racy"
 * files). */
bool kernel_cache_racy(struct timespec ctime, struct timespec now);

/* Open (creating what is missing, mode 0700) the cache directory dir for
 * the entry of kind (KERNEL_CACHE_VMLINUX or KERNEL_CACHE_INITRD) made from
 * the file open at bz_fd (a bzImage or an initrd). 0, or -1 with why set and kc->dirfd -1: dir
 * cannot be made or opened, or is not a directory of this user's (or root's)
 * that only its owner may write to. A cache this user may not write to (a
 * read-only mount) is opened with kc->read_only set: looked up only. */
int kernel_cache_open(struct kernel_cache *kc, const char *dir, int bz_fd, const char *kind,
		      struct errbuf *why);
/* The file's entry of kc's kind, opened into r (reader_close closes it) and marked
 * used: 0; -1 when there is none (or it is not a regular file of this
 * user's or root's that only its owner may write to, which is then removed). */
int kernel_cache_lookup(struct kernel_cache *kc, struct reader *r);
/* Remove the file's entry (one that did not parse or load). */
void kernel_cache_drop(struct kernel_cache *kc);
/* Write len bytes (a vmlinux, an archive) as the file's entry, then remove
 * the least recently used entries of its kind beyond KERNEL_CACHE_KEEP
 * (unless kc->keep_all). 0,
 * or -1 with why set (nothing is left behind; the file was racy when
 * opened). */
int kernel_cache_store(struct kernel_cache *kc, const void *bytes, size_t len, struct errbuf *why);
void kernel_cache_close(struct kernel_cache *kc);

#endif
