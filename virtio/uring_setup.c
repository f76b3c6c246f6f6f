/* uring_setup.c: a device back-end's restricted io_uring (uring_setup.h). */
#include "virtio/uring_setup.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/core/seccomp.h"

/* liburing 2.3's shared library does not export io_uring_enable_rings() and
 * io_uring_register_restrictions() (its static one does): use the raw call. */
static int restrict_and_enable(struct io_uring *ring, const struct uring_spec *s)
{
	struct io_uring_restriction r[URING_MAX_OPS + 4];
	memset(r, 0, sizeof(r));
	unsigned n = 0;
	for (unsigned i = 0; i < s->nops && i < URING_MAX_OPS; i++) {
		r[n].opcode = IORING_RESTRICTION_SQE_OP;
		r[n].sqe_op = s->ops[i];
		n++;
	}
	r[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	r[n].sqe_flags = IOSQE_FIXED_FILE | s->flags_allowed;
	n++;
	r[n].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
	r[n].sqe_flags = IOSQE_FIXED_FILE;
	n++;
	/* Without a REGISTER_OP entry nothing can be registered later. */
	if (s->files_update) {
		r[n].opcode = IORING_RESTRICTION_REGISTER_OP;
		r[n].register_op = IORING_REGISTER_FILES_UPDATE;
		n++;
	}
	/* The teardown gives the files back (uring_exit). */
	r[n].opcode = IORING_RESTRICTION_REGISTER_OP;
	r[n].register_op = IORING_UNREGISTER_FILES;
	n++;
	int ret = io_uring_register((unsigned)ring->ring_fd, IORING_REGISTER_RESTRICTIONS, r, n);
	if (ret < 0)
		return ret;
	return io_uring_register((unsigned)ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
}

int uring_setup(struct io_uring *ring, const struct uring_spec *s, int *efd, bool *restricted,
		struct errbuf *e)
{
	*efd = -1;
	*restricted = false;
	/* The newest set-up the kernel takes (it refuses unknown flags with
	 * EINVAL). COOP_TASKRUN (5.19+): a completion that comes while the
	 * owner runs in user space (a TAP read's poll firing, a disk read done)
	 * does not interrupt it with an IPI: it is taken at its next
	 * io_uring_enter or wake-up, which the owner's loop always comes back
	 * to at once. R_DISABLED (5.10+): restrictions can be registered before
	 * the ring runs; before 5.10 the ring runs unrestricted. */
	static const unsigned tries[] = {
		IORING_SETUP_R_DISABLED | IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_R_DISABLED,
		0,
	};
	struct io_uring_params p;
	int ret = -EINVAL;
	for (unsigned i = 0; i < sizeof(tries) / sizeof(tries[0]) && ret == -EINVAL; i++) {
		memset(&p, 0, sizeof(p));
		p.flags = tries[i];
		ret = io_uring_queue_init_params(s->entries, ring, &p);
	}
	bool disabled = ret == 0 && (p.flags & IORING_SETUP_R_DISABLED);
	if (ret < 0) {
		err_set(e, "io_uring: %s", strerror(-ret));
		return -1;
	}
	if (!(p.features & IORING_FEAT_SUBMIT_STABLE) || !(p.features & IORING_FEAT_NODROP)) {
		err_set(e, "io_uring: kernel too old (needs 5.5 or later)");
		goto fail;
	}
	/* seccomp cannot see a ring's operations: only the ring's own
	 * restrictions confine them. A ring that cannot be restricted would
	 * let a thread the guest took over open, connect or write anything
	 * its filter forbids, so it runs only where there are no filters. */
	if (!disabled && seccomp_enabled()) {
		err_set(e, "io_uring: this kernel cannot restrict a ring (needs 5.10 or later), "
			   "and an unrestricted one would bypass the seccomp filters "
			   "(--seccomp off runs it unconfined)");
		goto fail;
	}
	ret = io_uring_register_files(ring, s->fds, s->nfds);
	if (ret < 0) {
		err_set(e, "io_uring: registering %s: %s", s->files_what, strerror(-ret));
		goto fail;
	}
	if (!s->no_eventfd) {
		*efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (*efd < 0) {
			err_set(e, "eventfd: %s", strerror(errno));
			goto fail;
		}
		ret = io_uring_register_eventfd(ring, *efd);
		if (ret < 0) {
			err_set(e, "io_uring: registering the eventfd: %s", strerror(-ret));
			goto fail;
		}
	}
	if (disabled) {
		ret = restrict_and_enable(ring, s);
		if (ret < 0) {
			err_set(e, "io_uring: restricting the ring: %s", strerror(-ret));
			goto fail;
		}
		*restricted = true;
	}
	return 0;
fail:
	io_uring_queue_exit(ring);
	if (*efd >= 0)
		close(*efd);
	*efd = -1;
	return -1;
}

void uring_exit(struct io_uring *ring)
{
	/* Synchronous: the files' last references go before it returns. */
	io_uring_unregister_files(ring);
	io_uring_queue_exit(ring);
}

int uring_wait_until(struct io_uring *ring, uint64_t deadline_ns)
{
	uint64_t now = now_ns();
	if (now >= deadline_ns)
		return -1;
	uint64_t left = deadline_ns - now;
	struct __kernel_timespec ts = {.tv_sec = (long long)(left / 1000000000u),
				       .tv_nsec = (long long)(left % 1000000000u)};
	struct io_uring_cqe *cqe;
	int r = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	return r < 0 && r != -EINTR && r != -ETIME && r != -EAGAIN ? -1 : 0;
}
