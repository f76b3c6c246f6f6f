/* blk_seccomp.c: virtio-blk's seccomp allow lists (see blk_seccomp.h). */
#include <sys/syscall.h>

#include "virtio/blk/blk_seccomp.h"

/* The I/O thread: epoll on the queues' eventfds, io_uring submissions (the
 * disk I/O itself is io_uring operations, which seccomp does not see; the
 * ring's own restrictions confine them). */
static const int io_calls[] = {SYS_epoll_wait, SYS_epoll_pwait, SYS_io_uring_enter};
const struct seccomp_allow blk_io_seccomp = {
	.kind = "blk-io", .calls = io_calls, .ncalls = ARRAY_SIZE(io_calls),
};

/* A vCPU resetting the device (the driver writes status 0) drains the ring. */
static const int vcpu_calls[] = {SYS_io_uring_enter};
const struct seccomp_allow blk_vcpu_seccomp = {
	.kind = "vcpu", .calls = vcpu_calls, .ncalls = ARRAY_SIZE(vcpu_calls),
};
