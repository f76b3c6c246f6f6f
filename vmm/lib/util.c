/* util.c: error reporting, file reading and writing, mkdir -p and number
 * parsing shared across ember (and the jailer). */
#include "vmm/lib/util.h"
#include "vmm/lib/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void err_set(struct errbuf *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void err_prefix(struct errbuf *e, const char *fmt, ...)
{
	char head[sizeof(e->msg)], msg[sizeof(e->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(msg, e->msg, sizeof(msg));
	msg[sizeof(msg) - 1] = '\0';
	/* head ": " msg, cut at the buffer's end */
	const char *parts[] = {head, ": ", msg};
	size_t o = 0, cap = sizeof(e->msg) - 1;
	for (size_t i = 0; i < 3; i++)
		for (const char *p = parts[i]; *p && o < cap; p++)
			e->msg[o++] = *p;
	e->msg[o] = '\0';
}

ssize_t read_small_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

int write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

#define SPARSE_WRITE_MAX (8u << 20) /* the most one pwrite takes */

/* The n bytes at p (a block, or the last part of one) are all zero. */
static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* The length of the block at off in a buffer of len bytes. */
static size_t block_len(size_t len, size_t off)
{
	return len - off < SPARSE_BLOCK ? len - off : SPARSE_BLOCK;
}

int write_sparse(int fd, const void *buf, size_t len)
{
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)len) < 0)
		return -errno;
	/* Runs of blocks with data, each written at once; the zero blocks
	 * between them stay holes of the truncated file. */
	const uint8_t *p = buf;
	size_t at = 0;
	while (at < len) {
		while (at < len && all_zero(p + at, block_len(len, at)))
			at += block_len(len, at);
		size_t end = at;
		while (end < len && end - at < SPARSE_WRITE_MAX && !all_zero(p + end, block_len(len, end)))
			end += block_len(len, end);
		for (size_t off = at; off < end;) {
			ssize_t w = pwrite(fd, p + off, end - off, (off_t)off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return w < 0 ? -errno : -EIO;
			off += (size_t)w;
		}
		at = end;
	}
	return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
	char p[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, path, n + 1);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = c;
		if (c == '\0')
			return 0;
	}
}

int read_file_max(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	struct reader r;
	int e = reader_open(&r, path);
	if (e)
		return e;
	if (r.size > max) {
		reader_close(&r);
		return -EFBIG;
	}
	size_t size = (size_t)r.size;
	uint8_t *p = malloc(size ? size : 1);
	e = p ? reader_read(&r, 0, p, size) : -ENOMEM;
	reader_close(&r);
	if (e) {
		free(p);
		return e == -ENODATA ? -EIO : e; /* it shrank while being read */
	}
	*buf = p;
	*len = size;
	return 0;
}

bool name_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(extra, c)))
			return false;
	}
	return true;
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	for (const char *c = s; *c; c++)
		if (*c < '0' || *c > '9')
			return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
