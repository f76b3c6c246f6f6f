/* guest_load.h: the kernel and the initrd into guest RAM, through the
 * kernel cache: a bzImage's own vmlinux when ember can unpack it (or has
 * before, and kept it in the cache), a compressed initrd's cpio archive
 * likewise (kernel_unpack.h, initrd_unpack.h, kernel_cache.h). Which way
 * each went is an info line in the log file. Also ember
 * --fill-kernel-cache, which does the same into scratch memory to fill a
 * cache (one shared with jails: ember-jailer --kernel-cache) without
 * running a VM. */
#ifndef EMBER_GUEST_LOAD_H
#define EMBER_GUEST_LOAD_H

#include <stdio.h>

#include "vmm/arch/x86/boot_info.h"
#include "vmm/arch/x86/kernel_image.h"
#include "vmm/config.h"
#include "vmm/core/guest_mem.h"
#include "vmm/lib/reader.h"

/* Open c's kernel into kr and parse it into k, and its initrd (if any)
 * into ir (only sizes are taken: the bytes go straight from the files
 * into guest RAM later). 0, or -1 with why ("cannot read kernel '...': ...",
 * "kernel '...': ...", "cannot read initrd '...': ..."). */
int guest_load_open(const struct vm_config *c, struct reader *kr, struct kernel_image *k,
		    struct reader *ir, struct errbuf *why);
/* The kernel (k, parsed from kr) into gm, the first thing there; k becomes
 * the vmlinux's when a bzImage's own vmlinux is loaded. 0, or -1 with err. */
int guest_load_kernel(const struct guest_mem *gm, const struct vm_config *c, struct kernel_image *k,
		      const struct reader *kr, struct errbuf *err);
/* A compressed initrd's cpio archive (ir, NULL for none) into gm for kernel
 * k (loaded), decompressed by ember or read from the kernel cache: req then
 * names it (initrd_addr, initrd_len). Otherwise req is left as it is, and
 * boot_info_write reads the file as it is. Never fails. */
void guest_load_initrd(const struct guest_mem *gm, const struct vm_config *c,
		       const struct kernel_image *k, const struct reader *ir, struct boot_request *req);

/* ember --fill-kernel-cache: load c's kernel and initrd as a boot would,
 * into scratch RAM of c's size (no VM, no /dev/kvm), so what ember
 * decompresses lands in c's kernel cache (an XZ bzImage too, as with
 * --kernel-unpack all: later boots read its vmlinux with auto); one line per file on out says
 * where it stands (in the cache, nothing to keep and why, or decompressed
 * but not kept). 0; EXIT_USAGE for a missing or bad file or no cache; 1
 * when something ember decompressed could not be kept (a warning on stderr
 * says why: a cache this user may not write to, a full disk, a file changed
 * too recently). */
int guest_load_fill_cache(const struct vm_config *c, FILE *out);

#endif
