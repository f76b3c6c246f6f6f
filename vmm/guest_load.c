/* guest_load.c: the kernel and initrd into guest RAM through the kernel
 * cache, and --fill-kernel-cache (guest_load.h). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "vmm/arch/x86/initrd_unpack.h"
#include "vmm/arch/x86/kernel_cache.h"
#include "vmm/arch/x86/kernel_unpack.h"
#include "vmm/arch/x86/layout.h"
#include "vmm/guest_load.h"
#include "vmm/lib/log.h"
#include "vmm/lib/util.h"

#define EXIT_NOT_KEPT 1 /* --fill-kernel-cache: something decompressed is not in the cache */

/* --fill-kernel-cache: where what became of the kernel and of the initrd
 * is kept too (for its report), and where a failure to store goes. */
static struct errbuf *loaded_note;
static bool filling;

/* What became of the kernel or the initrd: an info line in the log file. */
#define loaded(...)                                        \
	do {                                               \
		log_info(__VA_ARGS__);                     \
		if (loaded_note)                           \
			err_set(loaded_note, __VA_ARGS__); \
	} while (0)

int guest_load_open(const struct vm_config *c, struct reader *kr, struct kernel_image *k,
		    struct reader *ir, struct errbuf *why)
{
	struct errbuf err;
	int e = reader_open(kr, c->kernel);
	if (e < 0) {
		err_set(why, "cannot read kernel '%s': %s", c->kernel, strerror(-e));
		return -1;
	}
	if (kernel_parse(kr, k, &err)) {
		err_set(why, "kernel '%s': %s", c->kernel, err.msg);
		return -1;
	}
	if (c->initrd && (e = reader_open(ir, c->initrd)) < 0) {
		err_set(why, "cannot read initrd '%s': %s", c->initrd, strerror(-e));
		return -1;
	}
	return 0;
}

/* kernel_unpack's keep: the unpacked vmlinux (or a decompressed initrd)
 * into the kernel cache. */
static void keep_in_cache(void *ctx, const uint8_t *bytes, size_t len)
{
	struct kernel_cache *kc = ctx;
	struct errbuf why;
	uint64_t t0 = now_ns();
	if (kernel_cache_store(kc, bytes, len, &why) == 0)
		log_debug("kernel cache: stored %s (%zu KiB) in %llu ms", kc->name, len >> 10,
			  (unsigned long long)((now_ns() - t0) / 1000000));
	else
		log_at(filling ? LOG_WARN : LOG_INFO, __FILE__, __LINE__, "kernel cache: %s", why.msg);
}

/* The kernel cache's entry of kind for the file open at fd, if there is a
 * cache: why one is not used, or that it is read-only, in the log. */
static void open_cache(const struct vm_config *c, int fd, const char *kind, struct kernel_cache *kc)
{
	struct errbuf why;
	kc->dirfd = -1;
	if (!c->kernel_cache)
		return;
	/* Filling the cache, what keeps it from being filled is said on stderr. */
	enum log_level lv = filling ? LOG_WARN : LOG_INFO;
	if (kernel_cache_open(kc, c->kernel_cache, fd, kind, &why))
		log_at(lv, __FILE__, __LINE__, "kernel cache: not used for the %s: %s", kind, why.msg);
	else if (kc->read_only)
		log_at(lv, __FILE__, __LINE__, "kernel cache: '%s' is read-only for ember: the %s is "
		       "looked up there, not stored", c->kernel_cache, kind);
	kc->keep_all = filling; /* the cache's owner removes what it filled */
}

/* The bzImage's vmlinux from the kernel cache, loaded: 0; -1 when there
 * is none, or it is not a PVH vmlinux (then it is dropped), or it does not
 * load (too little RAM for it: kept); then guest RAM above 1 MiB reads as
 * zeros again. */
static int load_cached(const struct guest_mem *gm, struct kernel_cache *kc, struct kernel_image *k)
{
	struct reader r;
	if (kernel_cache_lookup(kc, &r))
		return -1;
	struct kernel_image elf;
	struct errbuf e;
	if (kernel_parse(&r, &elf, &e) || elf.kind != KERNEL_ELF_PVH) {
		log_info("kernel cache: dropped %s, which is not a vmlinux ember can boot", kc->name);
		kernel_cache_drop(kc);
		reader_close(&r);
		return -1;
	}
	int rc = kernel_load(&elf, &r, gm, &e);
	reader_close(&r);
	if (rc) {
		log_info("kernel cache: not used: %s", e.msg);
		uint64_t low = gm->layout.low_size;
		if (low > LAYOUT_HIMEM)
			gm_zero(gm, LAYOUT_HIMEM, low - LAYOUT_HIMEM);
		return -1;
	}
	*k = elf;
	return 0;
}

/* The kernel into guest RAM (the first thing there): a bzImage's own
 * vmlinux when ember can unpack it, or has before and kept it in the
 * kernel cache (then k becomes that vmlinux's), else the file as it is.
 * Which one is an info line in the log file. */
int guest_load_kernel(const struct guest_mem *gm, const struct vm_config *c, struct kernel_image *k,
		       const struct reader *kr, struct errbuf *err)
{
	if (k->kind != KERNEL_BZIMAGE)
		return kernel_load(k, kr, gm, err);
	if (c->kernel_unpack == KERNEL_UNPACK_OFF) {
		loaded("kernel '%s': booting the bzImage as it is (--kernel-unpack off)", c->kernel);
		return kernel_load(k, kr, gm, err);
	}
	struct kernel_image elf;
	struct errbuf why;
	struct kernel_cache kc;
	open_cache(c, kr->fd, KERNEL_CACHE_VMLINUX, &kc);
	uint64_t t0 = now_ns();
	if (load_cached(gm, &kc, k) == 0) {
		loaded("kernel '%s': booting the bzImage's vmlinux through PVH (unpacked before, "
			 "read from the kernel cache in %llu ms)",
			 c->kernel, (unsigned long long)((now_ns() - t0) / 1000000));
		kernel_cache_close(&kc);
		return 0;
	}
	struct kernel_unpack_keep keep = {keep_in_cache, &kc};
	/* XZ only with all (config.h); filling the cache, too: its cost is paid
	 * once there, and every later boot reads the vmlinux, whatever its format. */
	int rc = kernel_unpack(k, kr, gm, c->kernel_unpack == KERNEL_UNPACK_ALL || filling,
			       kc.dirfd >= 0 && !kc.read_only ? &keep : NULL, &elf, &why);
	kernel_cache_close(&kc);
	if (rc == 0) {
		loaded("kernel '%s': booting the bzImage's vmlinux through PVH (unpacked by ember in %llu ms)",
			 c->kernel, (unsigned long long)((now_ns() - t0) / 1000000));
		*k = elf;
		return 0;
	}
	loaded("kernel '%s': booting the bzImage as it is: %s", c->kernel, why.msg);
	return kernel_load(k, kr, gm, err);
}

/* The initrd's archive from the kernel cache into its place for kernel k:
 * 0 with req's initrd_addr and initrd_len set; -1 when there is none (or it
 * is no cpio archive: then it is dropped), and guest RAM is as it was. */
static int initrd_cached(const struct guest_mem *gm, struct kernel_cache *kc,
			 const struct kernel_image *k, struct boot_request *req)
{
	struct reader r;
	if (kernel_cache_lookup(kc, &r))
		return -1;
	uint64_t at = 0;
	int e = r.size >= 6 ? boot_initrd_read(k, gm, &r, &at) : 1;
	int rc = -1;
	if (e == 0) {
		if (initrd_is_cpio(gm_ptr(gm, at, r.size), r.size)) {
			req->initrd_addr = at;
			req->initrd_len = r.size;
			rc = 0;
		} else {
			log_info("kernel cache: dropped %s, which is no cpio archive", kc->name);
			kernel_cache_drop(kc);
		}
	}
	if (rc && at) /* read in full or in part: clear it */
		gm_zero_huge(gm, at, at + r.size);
	reader_close(&r);
	return rc;
}

/* A compressed initrd's cpio archive into guest RAM for kernel k (loaded),
 * decompressed by ember (initrd_unpack.h) or read from the kernel cache,
 * where a decompressed one is kept: req then names it. Otherwise req is
 * left as it is, and boot_info_write reads the file as it is. Which one is
 * an info line in the log file. */
void guest_load_initrd(const struct guest_mem *gm, const struct vm_config *c,
		       const struct kernel_image *k, const struct reader *ir, struct boot_request *req)
{
	if (!ir || c->initrd_unpack == INITRD_UNPACK_OFF || ir->size == 0 || ir->fd < 0)
		return;
	struct kernel_cache kc;
	struct errbuf why;
	uint64_t t0 = now_ns();
	open_cache(c, ir->fd, KERNEL_CACHE_INITRD, &kc);
	if (initrd_cached(gm, &kc, k, req) == 0) {
		loaded("initrd '%s': its cpio archive (%llu KiB) read from the kernel cache in %llu ms",
			 c->initrd, (unsigned long long)(req->initrd_len >> 10),
			 (unsigned long long)((now_ns() - t0) / 1000000));
		kernel_cache_close(&kc);
		return;
	}
	/* Without a cache to keep the archive, the guest's own zstd and LZ4
	 * are the faster (config.h). */
	bool keep = kc.dirfd >= 0 && !kc.read_only;
	bool leave_fast = c->initrd_unpack == INITRD_UNPACK_AUTO && !keep;
	uint64_t at, len;
	if (initrd_unpack(k, ir, gm, leave_fast, &at, &len, &why)) {
		loaded("initrd '%s': loaded as it is: %s", c->initrd, why.msg);
		kernel_cache_close(&kc);
		return;
	}
	req->initrd_addr = at;
	req->initrd_len = len;
	loaded("initrd '%s': decompressed by ember (%llu KiB to %llu KiB) in %llu ms", c->initrd,
		 (unsigned long long)(ir->size >> 10), (unsigned long long)(len >> 10),
		 (unsigned long long)((now_ns() - t0) / 1000000));
	if (keep)
		keep_in_cache(&kc, gm_ptr(gm, at, len), len);
	kernel_cache_close(&kc);
}

/* Whether the file open at fd has its entry of kind in c's kernel cache:
 * its size, or -1. */
static long long in_cache(const struct vm_config *c, int fd, const char *kind)
{
	struct kernel_cache kc;
	struct errbuf why;
	struct reader r;
	long long size = -1;
	if (kernel_cache_open(&kc, c->kernel_cache, fd, kind, &why) == 0 &&
	    kernel_cache_lookup(&kc, &r) == 0) {
		size = (long long)r.size;
		reader_close(&r);
	}
	kernel_cache_close(&kc);
	return size;
}

/* A file changed in the clock tick ember sees it in (two seconds where
 * file times have whole seconds) is "racy" (kernel_cache.h): nothing that
 * comes from it is kept. Filling the cache right after building the file,
 * that is waited out (at most 3 s) rather than nothing kept. */
static void settle(const struct reader *r)
{
	for (int i = 0; r->fd >= 0 && i < 300; i++) {
		struct stat st;
		struct timespec now;
		if (fstat(r->fd, &st) < 0 || clock_gettime(CLOCK_REALTIME_COARSE, &now) < 0 ||
		    !kernel_cache_racy(st.st_ctim, now))
			return;
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
}

/* A file ember decompressed that is not in the cache (a warning said why). */
static int not_kept(FILE *out, const char *what, const char *path, const char *dir)
{
	fprintf(out, "%s '%s': decompressed, but not in the kernel cache '%s'\n", what, path, dir);
	return EXIT_NOT_KEPT;
}

int guest_load_fill_cache(const struct vm_config *c, FILE *out)
{
	struct reader kr = {.fd = -1}, ir = {.fd = -1};
	struct kernel_image k;
	struct guest_mem gm = {.base = NULL};
	struct errbuf err, note = {{0}};
	int status = EXIT_USAGE, e;
	if (!c->kernel_cache) {
		log_error("--fill-kernel-cache: no kernel cache to fill (--kernel-cache off, or no "
			  "--kernel-cache and neither XDG_CACHE_HOME nor HOME set)");
		return EXIT_USAGE;
	}
	if (guest_load_open(c, &kr, &k, &ir, &err)) {
		log_error("%s", err.msg);
		goto out;
	}
	if ((e = gm_map(&gm, MiB(c->mem_mib))) < 0) {
		log_error("cannot map %llu MiB of scratch RAM: %s", (unsigned long long)c->mem_mib,
			  strerror(-e));
		goto out;
	}
	settle(&kr);
	settle(&ir);
	filling = true;
	loaded_note = &note;
	bool bz = k.kind == KERNEL_BZIMAGE;
	if (guest_load_kernel(&gm, c, &k, &kr, &err)) {
		log_error("kernel '%s': %s", c->kernel, err.msg);
		goto out;
	}
	status = 0;
	long long size;
	if (!bz)
		fprintf(out, "kernel '%s': nothing to keep: not a bzImage (read as it is)\n", c->kernel);
	else if (k.kind == KERNEL_BZIMAGE) /* as it is: why is the note */
		fprintf(out, "%s\n", note.msg);
	else if ((size = in_cache(c, kr.fd, KERNEL_CACHE_VMLINUX)) >= 0)
		fprintf(out, "kernel '%s': its vmlinux (%lld KiB) is in the kernel cache '%s'\n",
			c->kernel, size >> 10, c->kernel_cache);
	else
		status = not_kept(out, "kernel", c->kernel, c->kernel_cache);
	if (c->initrd) {
		struct boot_request req = {.initrd = &ir};
		note.msg[0] = '\0';
		guest_load_initrd(&gm, c, &k, &ir, &req);
		if (!req.initrd_len && note.msg[0]) /* loaded as it is: why is the note */
			fprintf(out, "%s\n", note.msg);
		else if (!req.initrd_len)
			fprintf(out, "initrd '%s': nothing to keep (--initrd-unpack off, or an empty "
				"file)\n", c->initrd);
		else if ((size = in_cache(c, ir.fd, KERNEL_CACHE_INITRD)) >= 0)
			fprintf(out, "initrd '%s': its cpio archive (%lld KiB) is in the kernel cache '%s'\n",
				c->initrd, size >> 10, c->kernel_cache);
		else
			status = not_kept(out, "initrd", c->initrd, c->kernel_cache);
	}
out:
	filling = false;
	loaded_note = NULL;
	if (gm.base)
		gm_unmap(&gm);
	reader_close(&kr);
	reader_close(&ir);
	return status;
}
