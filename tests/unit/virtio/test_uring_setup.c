/* test_uring_setup.c: the shared restricted io_uring set-up (uring_setup.h):
 * allowed opcodes on the registered file work; any other opcode, an SQE
 * naming a plain fd instead of a registered file, and a flag not allowed are
 * refused by the kernel; the completion eventfd fires. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "virtio/uring_setup.h"

static struct io_uring ring;
static int efd = -1, fd = -1;
static bool restricted;
static char path[] = "/tmp/ember-uring-XXXXXX";

static int setup(void)
{
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	if (write(fd, "0123456789abcdef", 16) != 16)
		return -1;
	static const uint8_t ops[] = {IORING_OP_READV, IORING_OP_FSYNC};
	struct uring_spec s = {.entries = 8, .fds = &fd, .nfds = 1, .ops = ops, .nops = 2,
			       .flags_allowed = IOSQE_IO_DRAIN, .files_what = "the file"};
	struct errbuf e;
	return uring_setup(&ring, &s, &efd, &restricted, &e);
}

/* Submit one SQE prepared by the caller and return its cqe->res. */
static int one(struct io_uring_sqe *sqe)
{
	(void)sqe;
	if (io_uring_submit(&ring) != 1)
		return -9999;
	struct io_uring_cqe *cqe;
	if (io_uring_wait_cqe(&ring, &cqe) < 0)
		return -9998;
	int res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return res;
}

static void allowed_op_on_fixed_file(void)
{
	char buf[16];
	struct iovec iov = {buf, sizeof(buf)};
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_readv(sqe, 0, &iov, 1, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	CHECK_EQ(one(sqe), 16);
	CHECK(memcmp(buf, "0123456789abcdef", 16) == 0);
	uint64_t v = 0;
	CHECK_EQ(read(efd, &v, sizeof(v)), (ssize_t)sizeof(v));
	CHECK(v >= 1);
}

static void other_op_refused(void)
{
	char buf[4] = "xxxx";
	struct iovec iov = {buf, sizeof(buf)};
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_writev(sqe, 0, &iov, 1, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	CHECK_EQ(one(sqe), -EACCES);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_nop(sqe);
	sqe->flags |= IOSQE_FIXED_FILE;
	CHECK_EQ(one(sqe), -EACCES);
}

static void plain_fd_refused(void)
{
	char buf[16];
	struct iovec iov = {buf, sizeof(buf)};
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_readv(sqe, fd, &iov, 1, 0); /* not IOSQE_FIXED_FILE */
	CHECK_EQ(one(sqe), -EACCES);
}

static void flag_not_allowed_refused(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_fsync(sqe, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_DRAIN; /* allowed */
	CHECK_EQ(one(sqe), 0);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_fsync(sqe, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_ASYNC; /* not allowed */
	CHECK_EQ(one(sqe), -EACCES);
}

static void nothing_registers_later(void)
{
	int other = dup(fd);
	CHECK(other >= 0);
	CHECK(io_uring_register_files_update(&ring, 0, &other, 1) < 0);
	close(other);
}

int main(void)
{
	if (setup() < 0) {
		printf("FAIL setup: %s\n", strerror(errno));
		return 1;
	}
	if (!restricted) { /* kernel before 5.10: nothing to check here */
		printf("ok restrictions_unavailable_on_this_kernel\n");
		return check_summary();
	}
	RUN(allowed_op_on_fixed_file);
	RUN(other_op_refused);
	RUN(plain_fd_refused);
	RUN(flag_not_allowed_refused);
	RUN(nothing_registers_later);
	io_uring_queue_exit(&ring);
	close(efd);
	close(fd);
	return check_summary();
}
