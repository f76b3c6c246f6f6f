/* uring_setup.h: the io_uring set-up the device back-ends share (blk_uring.c,
 * net_uring.c): a ring created disabled (IORING_SETUP_R_DISABLED, and
 * IORING_SETUP_COOP_TASKRUN where the kernel has it), its fixed
 * files and (unless its owner waits on the ring itself) a completion eventfd
 * registered, then restricted with IORING_REGISTER_RESTRICTIONS to the
 * device's opcodes, with every SQE required to use a registered file, and
 * only then enabled. seccomp cannot
 * see io_uring operations, so these restrictions are what confines a ring.
 * A kernel without R_DISABLED (before 5.10) cannot restrict a ring: there
 * the set-up fails while seccomp filters are on (a ring would bypass them),
 * and with --seccomp off the ring runs unrestricted. */
#ifndef EMBER_URING_SETUP_H
#define EMBER_URING_SETUP_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/lib/util.h"

#define URING_MAX_OPS 8

struct uring_spec {
	unsigned entries;          /* SQ size, a power of two */
	const int *fds;            /* the ring's only files (fixed file 0, 1, ...) */
	unsigned nfds;
	const uint8_t *ops;        /* IORING_OP_* allowed, at most URING_MAX_OPS */
	unsigned nops;
	uint8_t flags_allowed;     /* IOSQE_* allowed besides IOSQE_FIXED_FILE */
	const char *files_what;    /* for messages: "the disk", "the TAP" */
	bool files_update;         /* the fixed files may be replaced later
				      (IORING_REGISTER_FILES_UPDATE); nothing
				      else can be registered once restricted */
	bool no_eventfd;           /* no completion eventfd: the owner waits
				      in io_uring_enter (*efd stays -1) */
};

/* Set up ring as above. 0 with *efd the completion eventfd and *restricted
 * telling whether the restrictions are in force; or -1 with e set and
 * nothing left behind (*efd is -1). */
int uring_setup(struct io_uring *ring, const struct uring_spec *s, int *efd, bool *restricted,
		struct errbuf *e);

/* Tear a ring down, nothing in flight: its registered files given back at
 * once (the main thread's filter allows IORING_UNREGISTER_FILES for it),
 * then the ring closed. The kernel frees a closed ring later, in a work
 * queue, and until then its files stay open: a TAP would stay busy and a
 * disk locked for a moment after ember is gone, and a restore that follows
 * at once would find them so. */
void uring_exit(struct io_uring *ring);

/* Wait for a completion on ring until deadline_ns at the latest (now_ns()
 * clock; the wait's timeout is no SQE, so a restricted ring allows it). 0
 * when the caller should reap (a completion, or an interrupted wait), -1 when
 * the deadline has passed or the ring failed. */
int uring_wait_until(struct io_uring *ring, uint64_t deadline_ns);

#endif
