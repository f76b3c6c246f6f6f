/* cache_name.h: the name of a kernel cache entry (vmm/arch/x86/kernel_cache.h):
 * its kind and the identity of the file it came from (device, inode, size,
 * modification and change times). Shared by ember, which looks entries up
 * and stores them, and ember-jailer, which bind-mounts a jail's own entries
 * from a shared cache. */
#ifndef EMBER_CACHE_NAME_H
#define EMBER_CACHE_NAME_H

#include <stddef.h>
#include <sys/stat.h>

#define KERNEL_CACHE_NAME_MAX 128
#define KERNEL_CACHE_VMLINUX "vmlinux" /* entries: a bzImage's vmlinux */
#define KERNEL_CACHE_INITRD "initrd"   /* entries: a compressed initrd's cpio archive */

/* The entry of kind for the file st describes, into buf (len bytes, at
 * least KERNEL_CACHE_NAME_MAX). 0, or -1 when it does not fit. */
int kernel_cache_name(char *buf, size_t len, const char *kind, const struct stat *st);

#endif
