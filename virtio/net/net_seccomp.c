/* net_seccomp.c: virtio-net's seccomp allow lists (see net_seccomp.h). */
#include <linux/if_tun.h>
#include <liburing.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "virtio/net/net_seccomp.h"

/* The I/O thread over a TAP: io_uring_enter (it waits there too: the
 * queues' kicks are polls on its ring, and the irqfds are written by it;
 * write on the irqfds, common, is for kernels before 5.17);
 * TUNSETQUEUE detaches and re-attaches TAP queues as the driver changes its
 * queue pair count. */
static const int io_calls[] = {SYS_io_uring_enter,
			       SYS_timerfd_settime /* the rate limiters' timers */};
static const unsigned long io_ioctls[] = {TUNSETQUEUE};
const struct seccomp_allow net_io_seccomp = SECCOMP_ALLOW("net-io", io_calls, io_ioctls);

/* On a vCPU: a reset drains the ring; DRIVER_OK sets the TAP's offloads to
 * the driver's features. */
static const int vcpu_calls[] = {SYS_io_uring_enter};
static const unsigned long vcpu_ioctls[] = {TUNSETOFFLOAD};
const struct seccomp_allow net_vcpu_seccomp = SECCOMP_ALLOW("vcpu", vcpu_calls, vcpu_ioctls);

/* The main thread changing the rate limits (PATCH /network-interfaces):
 * the limiters' timers fire at once to wake the I/O thread; and at the
 * teardown giving the rings' files back (uring_exit). */
static const int main_calls[] = {SYS_timerfd_settime};
static const struct seccomp_arg_rule main_args[] = {
	{SYS_io_uring_register, 1, IORING_UNREGISTER_FILES},
};
const struct seccomp_allow net_main_seccomp = {
	.kind = "main", .calls = main_calls, .ncalls = ARRAY_SIZE(main_calls),
	.args = main_args, .nargs = ARRAY_SIZE(main_args),
};
