/* util.h: small helpers shared by every part of ember (errors, sizes, packing). */
#ifndef EMBER_UTIL_H
#define EMBER_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm/lib/log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* Members that are also one struct of their own (as Linux's
 * struct_group_tagged): the live struct reaches them directly (s->x) and as
 * a whole (s->NAME, a struct TAG). Device state is declared this way: plain
 * data (fixed-width fields, no pointers, fds or locks) embedded in the live
 * struct, which a snapshot writes out and reads back as it is. */
#define STATE_GROUP(TAG, NAME, ...)            \
	union {                                \
		struct {                       \
			__VA_ARGS__            \
		};                             \
		struct TAG {                   \
			__VA_ARGS__            \
		} NAME;                        \
	}
/* The struct of type `type` whose member `member` ptr points at. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define KiB(x) ((uint64_t)(x) << 10)
#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))

/* Exit statuses ember itself uses (the guest's own status passes through). */
#define EXIT_USAGE 2     /* bad command line, file, or host set-up */
#define EXIT_VM_ERROR 70 /* triple fault, KVM internal error, device fault */

/* An error message buffer filled by parsers, so callers choose how to report. */
#define ERRBUF_SIZE 256
struct errbuf {
	char msg[ERRBUF_SIZE];
};
void err_set(struct errbuf *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Put "PREFIX: " (formatted) in front of the message already in e. */
void err_prefix(struct errbuf *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log_error, log_warn ("ember: <message>" on stderr), log_info: vmm/lib/log.h. */

/* Read a whole file of at most max bytes into a malloc'd buffer: 0, -EFBIG
 * without reading when it has more, or -errno. */
int read_file_max(const char *path, size_t max, uint8_t **buf, size_t *len);

/* Write all len bytes of buf to fd, looping on short writes and EINTR: 0,
 * or -errno (-EIO when the file takes nothing more). */
int write_full(int fd, const void *buf, size_t len);

/* buf as the whole of fd (a file opened for writing: cut to 0, then to
 * len), each SPARSE_BLOCK of zeros left a hole, the runs of blocks with data
 * written with pwrite (no lseek: a seccomp filter may allow only that).
 * Where the file system has no holes, the file is the same. Returns 0 or
 * -errno. */
#define SPARSE_BLOCK 4096
int write_sparse(int fd, const void *buf, size_t len);

/* mkdir -p: path and each missing parent made with mode (those that exist
 * are left as they are). Returns 0 or -errno (-ENAMETOOLONG past PATH_MAX). */
int mkdir_p(const char *path, mode_t mode);

/* s is 1 to max bytes, each an ASCII letter, a digit or one of extra. */
bool name_ok(const char *s, size_t max, const char *extra);

/* Read up to size-1 bytes of a small file (sysfs, cgroupfs) into buf and
 * NUL-terminate them. Returns the length, or -1 when it cannot be opened or
 * read or is empty. */
ssize_t read_small_file(const char *path, char *buf, size_t size);

/* Parse a decimal unsigned integer in [min, max]; 0 on success, -1 otherwise. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

static inline uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* Monotonic time in nanoseconds. */
uint64_t now_ns(void);

#endif
