/* cache_name.h: the name of a kernel cache entry (vmm/arch/x86/kernel_cache.h):
 * its kind and the identity of the file it came from (device, inode, size,
 * modification and change times), and whose entries are trusted. Shared by ember, which looks entries up
 * and stores them, and ember-jailer, which bind-mounts a jail's own entries
 * from a shared cache. */
#ifndef EMBER_CACHE_NAME_H
#define EMBER_CACHE_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#define KERNEL_CACHE_NAME_MAX 128
#define KERNEL_CACHE_VMLINUX "vmlinux" /* entries: a bzImage's vmlinux */
#define KERNEL_CACHE_INITRD "initrd"   /* entries: a compressed initrd's cpio archive */

/* Whether a cache directory or entry (st) may hold what becomes a guest
 * kernel for user uid: uid's own or root's, written by nobody else. */
bool kernel_cache_trusted(const struct stat *st, uid_t uid);

/* The entry of kind for the file st describes, into buf (len bytes, at
 * least KERNEL_CACHE_NAME_MAX). 0, or -1 when it does not fit. */
int kernel_cache_name(char *buf, size_t len, const char *kind, const struct stat *st);

#endif
