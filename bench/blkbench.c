/* blkbench.c: the guest side of the block benchmark (bench/blk.sh). A static
 * program put into the guest's initramfs that measures, with O_DIRECT on a
 * block device:
 *	blkbench seqwrite DEV MiB          sequential 1 MiB writes, then fdatasync
 *	blkbench seqread DEV MiB           sequential 1 MiB reads
 *	blkbench randread DEV SECONDS N    4 KiB reads at random aligned offsets
 *	                                   from N threads (N requests in flight)
 * and prints one line "blkbench MODE VALUE UNIT" (MiB/s or IOPS) by the
 * guest's monotonic clock. Exit status 0, or 1 with a message. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (1u << 20)
#define SMALL 4096u
#define MAX_THREADS 64

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *xalloc(size_t len)
{
	void *p;
	if (posix_memalign(&p, 4096, len)) {
		fprintf(stderr, "blkbench: out of memory\n");
		exit(1);
	}
	memset(p, 0x5a, len);
	return p;
}

static int sequential(const char *dev, uint64_t mib, int write)
{
	int fd = open(dev, (write ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "blkbench: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	uint8_t *buf = xalloc(BLOCK);
	double t0 = now();
	for (uint64_t i = 0; i < mib; i++) {
		ssize_t n = write ? pwrite(fd, buf, BLOCK, (off_t)(i * BLOCK))
				  : pread(fd, buf, BLOCK, (off_t)(i * BLOCK));
		if (n != (ssize_t)BLOCK) {
			fprintf(stderr, "blkbench: %s at %llu MiB: %s\n", write ? "write" : "read",
				(unsigned long long)i, n < 0 ? strerror(errno) : "short transfer");
			return 1;
		}
	}
	if (write && fdatasync(fd) < 0) {
		fprintf(stderr, "blkbench: fdatasync: %s\n", strerror(errno));
		return 1;
	}
	double dt = now() - t0;
	printf("blkbench %s %.1f MiB/s\n", write ? "seqwrite" : "seqread", (double)mib / dt);
	close(fd);
	free(buf);
	return 0;
}

struct rr {
	int fd;
	uint64_t blocks;
	double until;
	uint64_t done;
	unsigned seed;
	int failed;
};

static void *randread_thread(void *arg)
{
	struct rr *r = arg;
	uint8_t *buf = xalloc(SMALL);
	while (now() < r->until) {
		for (int k = 0; k < 64; k++) {
			uint64_t b = (((uint64_t)rand_r(&r->seed) << 31) ^ (uint64_t)rand_r(&r->seed)) %
				     r->blocks;
			if (pread(r->fd, buf, SMALL, (off_t)(b * SMALL)) != (ssize_t)SMALL) {
				r->failed = errno ? errno : EIO;
				free(buf);
				return NULL;
			}
			r->done++;
		}
	}
	free(buf);
	return NULL;
}

static int randread(const char *dev, unsigned seconds, unsigned nthreads)
{
	int fd = open(dev, O_RDONLY | O_DIRECT);
	uint64_t size = 0;
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0 || size < SMALL) {
		fprintf(stderr, "blkbench: %s: %s\n", dev, fd < 0 ? strerror(errno) : "no size");
		return 1;
	}
	struct rr r[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	double t0 = now();
	for (unsigned i = 0; i < nthreads; i++) {
		r[i] = (struct rr){.fd = fd, .blocks = size / SMALL, .until = t0 + seconds,
				   .seed = 12345u + i};
		if (pthread_create(&th[i], NULL, randread_thread, &r[i])) {
			fprintf(stderr, "blkbench: cannot start threads\n");
			return 1;
		}
	}
	uint64_t done = 0;
	int failed = 0;
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		done += r[i].done;
		failed |= r[i].failed;
	}
	double dt = now() - t0;
	if (failed) {
		fprintf(stderr, "blkbench: random read: %s\n", strerror(failed));
		return 1;
	}
	printf("blkbench randread %.0f IOPS\n", (double)done / dt);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "seqwrite"))
		return sequential(argv[2], strtoull(argv[3], NULL, 10), 1);
	if (argc == 4 && !strcmp(argv[1], "seqread"))
		return sequential(argv[2], strtoull(argv[3], NULL, 10), 0);
	if (argc == 5 && !strcmp(argv[1], "randread")) {
		unsigned n = (unsigned)strtoul(argv[4], NULL, 10);
		if (n < 1 || n > MAX_THREADS) {
			fprintf(stderr, "blkbench: 1 to %d threads\n", MAX_THREADS);
			return 1;
		}
		return randread(argv[2], (unsigned)strtoul(argv[3], NULL, 10), n);
	}
	fprintf(stderr, "usage: blkbench seqwrite|seqread DEV MiB | randread DEV SECONDS THREADS\n");
	return 1;
}
