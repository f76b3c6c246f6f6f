/* kernel_load.c: what loading a bzImage's kernel costs ember before the
 * guest runs, natively (no KVM needed; bench/run runs it): the bzImage's
 * payload unpacked into guest RAM (kernel_unpack), its vmlinux read from the
 * kernel cache (kernel_cache.c, filled by a first unpack in a fresh
 * temporary directory: that store is timed once), and the vmlinux file read
 * as --kernel vmlinux is, from two copies the bench writes in that
 * directory: one whole, one sparse (its blocks of zeros holes, which
 * kernel_load does not read). Each load goes into fresh guest RAM mapped as
 * ember maps it (so first touches count), the three alternate over ROUNDS
 * rounds, and the page cache is warm (one unmeasured round). Prints a
 * Markdown table: median (lowest-highest) ms per load. With INITRDs (up
 * to four: the same archive compressed in different ways, say), a second
 * table with a column per file: the initrd read as it is, decompressed by
 * ember (initrd_unpack) and its archive read from the kernel cache, into
 * fresh guest RAM above the vmlinux.
 *
 *	build/bench/kernel_load BZIMAGE VMLINUX [ROUNDS] [MEM_MIB] [INITRD...]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/arch/x86/boot_info.h"
#include "vmm/arch/x86/initrd_unpack.h"
#include "vmm/arch/x86/kernel_cache.h"
#include "vmm/arch/x86/kernel_image.h"
#include "vmm/arch/x86/kernel_unpack.h"
#include "vmm/core/guest_mem.h"

#define MAX_ROUNDS 100
#define MAX_INITRDS 4

enum way { UNPACK, CACHE, WHOLE, SPARSE, WAYS };
static const char *const way_name[WAYS] = {
	[UNPACK] = "bzImage, unpacked (`--kernel-cache off`)",
	[CACHE] = "bzImage, its vmlinux from the kernel cache",
	[WHOLE] = "the vmlinux file, written whole",
	[SPARSE] = "the vmlinux file, sparse (`fallocate --dig-holes`)",
};

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "kernel_load: %s: %s\n", what, why);
	exit(1);
}

static double store_ms = -1;

static void keep(void *ctx, const uint8_t *vmlinux, size_t len)
{
	struct errbuf e;
	double t0 = now_ms();
	if (kernel_cache_store(ctx, vmlinux, len, &e))
		die("storing in the kernel cache", e.msg);
	store_ms = now_ms() - t0;
}

/* One load the way w into fresh guest RAM: its ms. */
static double load(enum way w, const struct reader *bz_r, const struct kernel_image *bz,
		   const struct reader elf_r[2], const struct kernel_image *elf,
		   struct kernel_cache *kc, uint64_t mem)
{
	struct guest_mem gm;
	struct kernel_image k;
	struct errbuf e = {{0}};
	struct reader r;
	if (gm_map(&gm, mem))
		die("guest RAM", "cannot map it");
	double t0 = now_ms();
	int rc = -1;
	switch (w) {
	case UNPACK:
		rc = kernel_unpack(bz, bz_r, &gm, false, NULL, &k, &e);
		break;
	case CACHE:
		rc = kernel_cache_lookup(kc, &r);
		if (rc == 0) {
			rc = kernel_parse(&r, &k, &e) || kernel_load(&k, &r, &gm, &e) ? -1 : 0;
			reader_close(&r);
		}
		break;
	case WHOLE:
	case SPARSE:
		rc = kernel_load(elf, &elf_r[w == SPARSE], &gm, &e);
		break;
	case WAYS:
		break;
	}
	double ms = now_ms() - t0;
	gm_unmap(&gm);
	if (rc)
		die(way_name[w], e.msg[0] ? e.msg : "failed");
	return ms;
}

enum rd_way { RD_AS_IS, RD_UNPACK, RD_CACHE, RD_WAYS };
static const char *const rd_way_name[RD_WAYS] = {
	[RD_AS_IS] = "the initrd file as it is (`--initrd-unpack off`)",
	[RD_UNPACK] = "decompressed by ember (`--kernel-cache off`)",
	[RD_CACHE] = "its archive from the kernel cache",
};

/* One load of the initrd r the way w, for kernel k, into fresh guest RAM:
 * its ms. */
static double load_initrd(enum rd_way w, const struct reader *r, const struct kernel_image *k,
			  struct kernel_cache *kc, uint64_t mem)
{
	struct guest_mem gm;
	struct errbuf e = {{0}};
	struct reader cr;
	if (gm_map(&gm, mem))
		die("guest RAM", "cannot map it");
	double t0 = now_ms();
	uint64_t at, n;
	int rc = -1;
	const struct reader *from = w == RD_AS_IS ? r : &cr;
	if (w == RD_UNPACK)
		rc = initrd_unpack(k, r, &gm, false, &at, &n, &e);
	else if (w == RD_AS_IS || kernel_cache_lookup(kc, &cr) == 0) {
		rc = boot_initrd_read(k, &gm, from, &at);
		if (w == RD_CACHE)
			reader_close(&cr);
	}
	double ms = now_ms() - t0;
	gm_unmap(&gm);
	if (rc)
		die(rd_way_name[w], e.msg[0] ? e.msg : "failed");
	return ms;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: kernel_load BZIMAGE VMLINUX [ROUNDS] [MEM_MIB] [INITRD...]\n");
		return 2;
	}
	int rounds = argc > 3 ? atoi(argv[3]) : 9;
	uint64_t mem = MiB(argc > 4 ? atoi(argv[4]) : 256);
	if (rounds < 1 || rounds > MAX_ROUNDS)
		die("ROUNDS", "1 to 100");
	int ninitrd = argc > 5 ? argc - 5 : 0;
	if (ninitrd > MAX_INITRDS)
		die("INITRD", "at most four");
	struct reader bz_r, elf_r[2];
	struct kernel_image bz, elf;
	struct errbuf e;
	if (reader_open(&bz_r, argv[1]) || kernel_parse(&bz_r, &bz, &e) || bz.kind != KERNEL_BZIMAGE)
		die(argv[1], "not a bzImage ember can read");
	char dir[] = "/tmp/ember-kernel-load.XXXXXX";
	if (!mkdtemp(dir))
		die("a temporary directory", "cannot make it");
	/* The vmlinux's two copies: [0] whole, [1] sparse. */
	uint8_t *vmlinux;
	size_t vlen;
	char copy[2][sizeof(dir) + 16];
	if (read_file_max(argv[2], 1u << 30, &vmlinux, &vlen))
		die(argv[2], "cannot read it");
	for (int i = 0; i < 2; i++) {
		snprintf(copy[i], sizeof(copy[i]), "%s/%s", dir, i ? "sparse" : "whole");
		int fd = open(copy[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || (i ? write_sparse(fd, vmlinux, vlen) : write_full(fd, vmlinux, vlen)) ||
		    close(fd))
			die(copy[i], "cannot write it");
		if (reader_open(&elf_r[i], copy[i]) || kernel_parse(&elf_r[i], &elf, &e))
			die(argv[2], "not a kernel ember can read");
	}
	free(vmlinux);
	struct kernel_cache kc;
	if (kernel_cache_open(&kc, dir, bz_r.fd, KERNEL_CACHE_VMLINUX, &e))
		die("the kernel cache", e.msg);
	kc.racy = false; /* the bzImage is not being written: store it now */
	/* The first unpack stores the entry (timed apart); then one unmeasured
	 * round warms everything. */
	struct guest_mem gm;
	struct kernel_image k;
	struct kernel_unpack_keep kp = {keep, &kc};
	if (gm_map(&gm, mem) || kernel_unpack(&bz, &bz_r, &gm, false, &kp, &k, &e))
		die(argv[1], "cannot unpack its kernel");
	gm_unmap(&gm);
	static double t[WAYS][MAX_ROUNDS];
	for (int i = -1; i < rounds; i++)
		for (int w = 0; w < WAYS; w++) {
			double ms = load(w, &bz_r, &bz, elf_r, &elf, &kc, mem);
			if (i >= 0)
				t[w][i] = ms;
		}
	kernel_cache_drop(&kc);
	kernel_cache_close(&kc);
	/* Each initrd: its archive stored by a first unpack, then as above. */
	static double rt[MAX_INITRDS][RD_WAYS][MAX_ROUNDS];
	for (int f = 0; f < ninitrd; f++) {
		const char *path = argv[5 + f];
		struct reader rd_r;
		if (reader_open(&rd_r, path) ||
		    kernel_cache_open(&kc, dir, rd_r.fd, KERNEL_CACHE_INITRD, &e))
			die(path, "cannot open it, or the cache");
		kc.racy = false;
		uint64_t at, n;
		if (gm_map(&gm, mem) || initrd_unpack(&elf, &rd_r, &gm, false, &at, &n, &e) ||
		    kernel_cache_store(&kc, gm_ptr(&gm, at, n), n, &e))
			die(path, e.msg);
		gm_unmap(&gm);
		for (int i = -1; i < rounds; i++)
			for (int w = 0; w < RD_WAYS; w++) {
				double ms = load_initrd(w, &rd_r, &elf, &kc, mem);
				if (i >= 0)
					rt[f][w][i] = ms;
			}
		kernel_cache_drop(&kc);
		kernel_cache_close(&kc);
		reader_close(&rd_r);
	}
	for (int i = 0; i < 2; i++) {
		reader_close(&elf_r[i]);
		unlink(copy[i]);
	}
	rmdir(dir);
	printf("| loading the kernel into %llu MiB of fresh guest RAM (ms; median of %d rounds "
	       "(lowest-highest)) | ms |\n|---|---:|\n",
	       (unsigned long long)(mem >> 20), rounds);
	for (int w = 0; w < WAYS; w++) {
		qsort(t[w], rounds, sizeof(double), cmp);
		printf("| %s | %.1f (%.1f-%.1f) |\n", way_name[w], t[w][rounds / 2], t[w][0],
		       t[w][rounds - 1]);
	}
	printf("\nThe first unpack also wrote the cache entry: %.1f ms more.\n", store_ms);
	if (ninitrd) {
		printf("\n| loading the initrd into %llu MiB of fresh guest RAM (ms; median of %d "
		       "rounds (lowest-highest))",
		       (unsigned long long)(mem >> 20), rounds);
		for (int f = 0; f < ninitrd; f++) {
			const char *base = strrchr(argv[5 + f], '/');
			printf(" | %s", base ? base + 1 : argv[5 + f]);
		}
		printf(" |\n|---|");
		for (int f = 0; f < ninitrd; f++)
			printf("---:|");
		printf("\n");
		for (int w = 0; w < RD_WAYS; w++) {
			printf("| %s |", rd_way_name[w]);
			for (int f = 0; f < ninitrd; f++) {
				qsort(rt[f][w], rounds, sizeof(double), cmp);
				printf(" %.2f (%.2f-%.2f) |", rt[f][w][rounds / 2], rt[f][w][0],
				       rt[f][w][rounds - 1]);
			}
			printf("\n");
		}
	}
	return 0;
}
