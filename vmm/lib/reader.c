/* reader.c: byte sources read at offsets: a file or a memory buffer (reader.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/lib/reader.h"

static ssize_t file_read(const struct reader *r, uint64_t off, void *buf, size_t len)
{
	if (off > (uint64_t)INT64_MAX)
		return 0;
	ssize_t n;
	do
		n = pread(r->fd, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static ssize_t mem_read(const struct reader *r, uint64_t off, void *buf, size_t len)
{
	if (off >= r->size)
		return 0;
	if (len > r->size - off)
		len = (size_t)(r->size - off);
	memcpy(buf, (const uint8_t *)r->ctx + off, len);
	return (ssize_t)len;
}

int reader_fd(struct reader *r, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	*r = (struct reader){.size = (uint64_t)st.st_size, .read = file_read, .fd = fd};
	return 0;
}

int reader_open(struct reader *r, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int e = reader_fd(r, fd);
	if (e) {
		close(fd);
		return e;
	}
	r->close_fd = 1;
	return 0;
}

void reader_mem(struct reader *r, const uint8_t *buf, size_t len)
{
	*r = (struct reader){.size = len, .read = mem_read, .ctx = buf, .fd = -1};
}

void reader_close(struct reader *r)
{
	if (r->close_fd && r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->close_fd = 0;
}

int reader_read(const struct reader *r, uint64_t off, void *buf, size_t len)
{
	if (off > r->size || len > r->size - off)
		return -ENODATA;
	uint8_t *p = buf;
	while (len) {
		ssize_t n = r->read(r, off, p, len);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ENODATA;
		if ((size_t)n > len)
			return -EIO; /* a source that claims more than it was asked for */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int reader_read_sparse(const struct reader *r, uint64_t off, void *buf, size_t len)
{
	if (r->read != file_read || r->fd < 0)
		return reader_read(r, off, buf, len);
	if (off > r->size || len > r->size - off)
		return -ENODATA;
	uint8_t *p = buf;
	uint64_t end = off + len, pos = off;
	while (pos < end) {
		off_t data = lseek(r->fd, (off_t)pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* no data from pos to the end of the file */
		off_t hole = data < 0 ? -1 : lseek(r->fd, data, SEEK_HOLE);
		if (data < 0 || hole < 0 || (uint64_t)data < pos) /* no SEEK_DATA here */
			return reader_read(r, pos, p + (pos - off), end - pos);
		if ((uint64_t)data >= end)
			break;
		uint64_t stop = (uint64_t)hole < end ? (uint64_t)hole : end;
		if (stop <= (uint64_t)data) /* a file that changed under us */
			return -ENODATA;
		int e = reader_read(r, (uint64_t)data, p + ((uint64_t)data - off), stop - (uint64_t)data);
		if (e)
			return e;
		pos = stop;
	}
	/* The holes skipped are zeros only if the file still reaches end. */
	struct stat st;
	if (fstat(r->fd, &st) < 0)
		return -errno;
	return (uint64_t)st.st_size < end ? -ENODATA : 0;
}

const char *reader_error(int e)
{
	return e == -ENODATA ? "the file ended early (truncated)" : strerror(-e);
}
