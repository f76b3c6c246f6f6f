/* test_reader.c: vmm/lib/reader.c's readers, on files in a fresh temporary
 * directory: reader_read reads exactly what is asked or fails (-ENODATA
 * past the end); reader_read_sparse reads the same bytes but skips a
 * sparse file's holes (the buffer keeps what it held there, which the
 * caller guarantees is zero), reads a file with no holes whole, and
 * reports a file that shrank as -ENODATA even where its lost part was a
 * hole. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/lib/reader.h"
#include "vmm/lib/util.h"

enum { B = 4096, BLOCKS = 8 };
static char top[64];
static uint8_t want[BLOCKS * B];

/* A file of want's bytes: data in blocks 1, 2 and 5, zeros elsewhere,
 * written sparse or whole. */
static int make_file(const char *name, bool sparse)
{
	memset(want, 0, sizeof(want));
	for (size_t i = B; i < 3 * B; i++)
		want[i] = (uint8_t)(i * 13 + 1);
	memset(want + 5 * B, 0x77, B);
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", top, name);
	int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	if ((sparse ? write_sparse(fd, want, sizeof(want)) : write_full(fd, want, sizeof(want))) != 0)
		abort();
	return fd;
}

static bool is_sparse(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && (long)st.st_blocks * 512 < (long)sizeof(want);
}

static void sparse_skips_holes(void)
{
	int fd = make_file("sparse", true);
	struct reader r;
	CHECK_EQ(reader_fd(&r, fd), 0);
	static uint8_t got[sizeof(want)];
	memset(got, 0, sizeof(got));
	CHECK_EQ(reader_read_sparse(&r, 0, got, sizeof(got)), 0);
	CHECK(memcmp(got, want, sizeof(got)) == 0);
	/* what it does not read: the holes keep a marker (here, not zero) */
	memset(got, 0xee, sizeof(got));
	CHECK_EQ(reader_read_sparse(&r, B / 2, got + B / 2, sizeof(got) - B), 0);
	CHECK(memcmp(got + B, want + B, 2 * B) == 0);
	CHECK(memcmp(got + 5 * B, want + 5 * B, B) == 0);
	if (is_sparse(fd)) {
		CHECK_EQ(got[B / 2], 0xee);
		CHECK_EQ(got[3 * B], 0xee);
		CHECK_EQ(got[7 * B], 0xee);
		CHECK_EQ(got[sizeof(got) - B / 2], 0xee); /* not asked for at all */
	}
	reader_close(&r);
	close(fd);
}

static void whole_file_read_whole(void)
{
	int fd = make_file("whole", false);
	struct reader r;
	CHECK_EQ(reader_fd(&r, fd), 0);
	static uint8_t got[sizeof(want)];
	memset(got, 0xee, sizeof(got));
	CHECK_EQ(reader_read_sparse(&r, 0, got, sizeof(got)), 0);
	CHECK(memcmp(got, want, sizeof(got)) == 0); /* its zeros read too */
	reader_close(&r);
	close(fd);
}

static void shrunk_file_fails(void)
{
	int fd = make_file("shrunk", true);
	struct reader r;
	CHECK_EQ(reader_fd(&r, fd), 0);
	static uint8_t got[sizeof(want)];
	/* cut inside the trailing hole: what is missing was zeros */
	CHECK_EQ(ftruncate(fd, 7 * B), 0);
	CHECK_EQ(reader_read_sparse(&r, 0, got, sizeof(got)), -ENODATA);
	CHECK_EQ(reader_read_sparse(&r, 0, got, 7 * B), 0);
	/* cut inside the data */
	CHECK_EQ(ftruncate(fd, 2 * B), 0);
	CHECK_EQ(reader_read_sparse(&r, B, got, 2 * B), -ENODATA);
	/* past the size taken at open */
	CHECK_EQ(reader_read_sparse(&r, sizeof(want) - 1, got, 2), -ENODATA);
	reader_close(&r);
	close(fd);
}

static void memory_reader(void)
{
	static const uint8_t src[] = "a buffer in memory";
	struct reader r;
	reader_mem(&r, src, sizeof(src));
	uint8_t got[sizeof(src)];
	CHECK_EQ(reader_read_sparse(&r, 2, got, sizeof(src) - 2), 0);
	CHECK(memcmp(got, src + 2, sizeof(src) - 2) == 0);
	CHECK_EQ(reader_read_sparse(&r, 2, got, sizeof(src)), -ENODATA);
	CHECK_EQ(reader_read(&r, 0, got, sizeof(src)), 0);
	CHECK(memcmp(got, src, sizeof(src)) == 0);
}

int main(void)
{
	snprintf(top, sizeof(top), "/tmp/ember-reader.XXXXXX");
	if (!mkdtemp(top))
		abort();
	RUN(sparse_skips_holes);
	RUN(whole_file_read_whole);
	RUN(shrunk_file_fails);
	RUN(memory_reader);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd))
		abort();
	return check_summary();
}
