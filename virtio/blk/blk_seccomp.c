/* blk_seccomp.c: virtio-blk's seccomp allow lists (see blk_seccomp.h). */
#include <fcntl.h>
#include <linux/fs.h>
#include <liburing.h>
#include <sys/syscall.h>

#include "virtio/blk/blk_seccomp.h"

/* The I/O thread: epoll on the queues' eventfds, io_uring submissions (the
 * disk I/O itself is io_uring operations, which seccomp does not see; the
 * ring's own restrictions confine them). */
static const int io_calls[] = {SYS_epoll_wait, SYS_epoll_pwait, SYS_io_uring_enter,
			       SYS_timerfd_settime /* the rate limiter's timer */};
const struct seccomp_allow blk_io_seccomp = {
	.kind = "blk-io", .calls = io_calls, .ncalls = ARRAY_SIZE(io_calls),
};

/* A vCPU resetting the device (the driver writes status 0) drains the ring. */
static const int vcpu_calls[] = {SYS_io_uring_enter};
const struct seccomp_allow blk_vcpu_seccomp = {
	.kind = "vcpu", .calls = vcpu_calls, .ncalls = ARRAY_SIZE(vcpu_calls),
};

/* The main thread putting a new image behind a running drive (PATCH
 * /drives, blk_disk_reopen), or new rate limits: open it the way drives are opened (read and
 * write or read-only, O_CLOEXEC, maybe O_DIRECT; never O_CREAT, so nothing
 * is created; which paths are reachable is the jail's business), check and
 * lock it, sync the old one (fdatasync), and hand the new one to each
 * queue's ring (its fixed file). */
static const int main_calls[] = {SYS_fstat, SYS_newfstatat, SYS_flock, SYS_fdatasync,
				 SYS_timerfd_settime /* new rate limits: wake the I/O thread */};
static const unsigned long main_ioctls[] = {BLKGETSIZE64, BLKSSZGET, BLKPBSZGET};
static const struct seccomp_arg_rule main_args[] = {
	{SYS_openat, 2, O_RDWR | O_CLOEXEC},
	{SYS_openat, 2, O_RDONLY | O_CLOEXEC},
	{SYS_openat, 2, O_RDWR | O_CLOEXEC | O_DIRECT},
	{SYS_openat, 2, O_RDONLY | O_CLOEXEC | O_DIRECT},
	{SYS_io_uring_register, 1, IORING_REGISTER_FILES_UPDATE},
	{SYS_io_uring_register, 1, IORING_UNREGISTER_FILES}, /* the teardown: uring_exit */
};
const struct seccomp_allow blk_main_seccomp = {
	.kind = "main", .calls = main_calls, .ncalls = ARRAY_SIZE(main_calls),
	.ioctls = main_ioctls, .nioctls = ARRAY_SIZE(main_ioctls),
	.args = main_args, .nargs = ARRAY_SIZE(main_args),
};
