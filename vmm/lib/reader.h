/* reader.h: a byte source read at offsets, for parsers of hostile files that
 * must not hold the whole file: a file (pread) or a buffer in memory (unit
 * tests, fuzzers). The kernel and initrd are read through one straight into
 * guest memory. */
#ifndef EMBER_READER_H
#define EMBER_READER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct reader {
	uint64_t size; /* bytes in the source (a file's size when opened) */
	/* Up to len bytes at off into buf: bytes read (0 at the end), or
	 * -errno. Any source with this call is a reader (tests make some that
	 * fail or come up short). */
	ssize_t (*read)(const struct reader *r, uint64_t off, void *buf, size_t len);
	const void *ctx; /* the source's: a buffer, or NULL */
	int fd;          /* a file's; -1 for other sources */
	int close_fd;    /* reader_close closes it */
};

/* Open path for reading (a directory is -EISDIR); size from fstat. 0 or -errno. */
int reader_open(struct reader *r, const char *path);
/* Read the open file fd (not closed by reader_close); size from fstat. 0 or -errno. */
int reader_fd(struct reader *r, int fd);
/* Read len bytes of buf (not copied: it must outlive the reader). */
void reader_mem(struct reader *r, const uint8_t *buf, size_t len);
void reader_close(struct reader *r);

/* Exactly len bytes at off into buf, looping on short reads: 0; -ENODATA
 * when the source ends first (a truncated file, or one that shrank after
 * size was taken; nothing past size is read either), or -errno. */
int reader_read(const struct reader *r, uint64_t off, void *buf, size_t len);
/* reader_read, except that a file's holes (lseek's SEEK_DATA and SEEK_HOLE;
 * ember's kernel cache writes its entries sparse) are not read: buf must
 * hold zeros where they are (guest RAM nothing has written yet). A file
 * system without SEEK_DATA, or a source that is no file, is read whole.
 * The same errors; a file that shrank since size was taken is -ENODATA
 * though its missing part would be a hole. */
int reader_read_sparse(const struct reader *r, uint64_t off, void *buf, size_t len);
/* What reader_read's -errno means, for an error message. */
const char *reader_error(int e);

#endif
