/* test_util.c: vmm/lib/util.c's file helpers, in a fresh temporary
 * directory: mkdir_p makes every missing parent with the mode asked for,
 * leaves existing ones alone, and reports what stops it as -errno;
 * write_full writes all of a buffer; write_sparse makes a file (new, or
 * holding other bytes) the buffer's bytes, leaving holes for its blocks of
 * zeros where the file system has holes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/lib/util.h"

static char top[64];

static mode_t mode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? st.st_mode & 07777 : 0;
}

static void mkdir_p_makes_parents(void)
{
	char p[128];
	mode_t old = umask(0);
	snprintf(p, sizeof(p), "%s/a/b/c", top);
	CHECK_EQ(mkdir_p(p, 0700), 0);
	CHECK_EQ(mode_of(p), 0700);
	snprintf(p, sizeof(p), "%s/a", top);
	CHECK_EQ(mode_of(p), 0700);
	/* existing directories are left as they are */
	CHECK_EQ(chmod(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a/b/c/d", top);
	CHECK_EQ(mkdir_p(p, 0750), 0);
	CHECK_EQ(mode_of(p), 0750);
	snprintf(p, sizeof(p), "%s/a", top);
	CHECK_EQ(mode_of(p), 0755);
	/* the whole path existing already is fine, a trailing slash too */
	snprintf(p, sizeof(p), "%s/a/b/", top);
	CHECK_EQ(mkdir_p(p, 0700), 0);
	umask(old);
}

static void mkdir_p_errors(void)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/file", top);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/file/sub", top);
	CHECK_EQ(mkdir_p(p, 0700), -ENOTDIR);
	CHECK_EQ(mkdir_p("", 0700), -ENAMETOOLONG);
	char *longp = malloc(PATH_MAX + 8);
	CHECK(longp != NULL);
	memset(longp, 'a', PATH_MAX + 7);
	longp[0] = '/';
	longp[PATH_MAX + 7] = '\0';
	CHECK_EQ(mkdir_p(longp, 0700), -ENAMETOOLONG);
	free(longp);
}

static void write_full_writes_all(void)
{
	char p[128], buf[3 * 4096 + 5], back[sizeof(buf)];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	snprintf(p, sizeof(p), "%s/data", top);
	int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(write_full(fd, buf, sizeof(buf)), 0);
	CHECK_EQ(pread(fd, back, sizeof(back), 0), (ssize_t)sizeof(back));
	CHECK(memcmp(buf, back, sizeof(buf)) == 0);
	close(fd);
	CHECK_EQ(write_full(fd, buf, 1), -EBADF);
}

/* This directory's file system keeps holes (a file cut long has no blocks). */
static bool has_holes(void)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/probe", top);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct stat st;
	bool holes = fd >= 0 && ftruncate(fd, 1 << 20) == 0 && fstat(fd, &st) == 0 &&
		     st.st_blocks == 0;
	if (fd >= 0)
		close(fd);
	unlink(p);
	return holes;
}

/* buf written with write_sparse to a new file: reads back the same, and
 * holds data_blocks 4 KiB blocks (when the file system has holes). */
static void sparse_case(const char *name, const uint8_t *buf, size_t len, long data_blocks)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", top, name);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(write_sparse(fd, buf, len), 0);
	struct stat st;
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ((size_t)st.st_size, len);
	uint8_t *back = malloc(len + 1);
	CHECK(back != NULL);
	CHECK_EQ(pread(fd, back, len + 1, 0), (ssize_t)len);
	CHECK(memcmp(back, buf, len) == 0);
	free(back);
	close(fd);
	if (has_holes())
		CHECK_EQ((long)st.st_blocks * 512, data_blocks * SPARSE_BLOCK);
}

static void write_sparse_leaves_holes(void)
{
	enum { B = SPARSE_BLOCK };
	static uint8_t buf[8 * B + 100];
	memset(buf, 0, sizeof(buf));
	/* data in blocks 1 and 2 (one run), 5 (one byte, its last), 8 (the
	 * short tail): blocks 0, 3, 4, 6 and 7 are holes */
	memset(buf + B, 0x5a, 2 * B);
	buf[6 * B - 1] = 1;
	buf[8 * B + 99] = 2;
	sparse_case("mixed", buf, sizeof(buf), 4);
	/* all zeros: a file of the length with no data; zeros at the end too */
	memset(buf, 0, sizeof(buf));
	sparse_case("zeros", buf, sizeof(buf), 0);
	/* over the mixed file, shorter: none of its old bytes are left */
	sparse_case("mixed", buf, sizeof(buf) - 100, 0);
	buf[0] = 7;
	sparse_case("head", buf, sizeof(buf), 1);
	sparse_case("empty", buf, 0, 0);
}

int main(void)
{
	snprintf(top, sizeof(top), "/tmp/ember-util.XXXXXX");
	if (!mkdtemp(top))
		abort();
	RUN(mkdir_p_makes_parents);
	RUN(mkdir_p_errors);
	RUN(write_full_writes_all);
	RUN(write_sparse_leaves_holes);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd))
		abort();
	return check_summary();
}
