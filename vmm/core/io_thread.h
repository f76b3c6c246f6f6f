/* io_thread.h: the thread a virtio device's back-end runs on. It waits on one
 * epoll set of eventfds (the queues' kicks, the io_uring rings' completions),
 * each added with a tag, and hands every batch of ready tags to the device's
 * handler. Its seccomp filter is installed before it serves anything, and
 * start fails if that did not work. It runs as SCHED_BATCH (its wake-ups do
 * not preempt the vCPU that kicked it: more work per wake-up; io_thread.c).
 * A stop eventfd ends it.
 *
 *	io_thread_init(&t)                    (fds -1: destroy is always safe)
 *	io_thread_open(&t, &err)              the epoll set and the stop eventfd
 *	io_thread_add(&t, fd, tag)            for each eventfd
 *	io_thread_start(&t, "net-io", &net_io_seccomp, handler, ctx, &err)
 *	io_thread_stop(&t)                    joins it
 *	io_thread_destroy(&t)
 *
 * A device that waits some other way (virtio-net waits in io_uring_enter)
 * opens only the stop eventfd (io_thread_open_stop: no epoll set) and starts
 * its own loop instead (io_thread_start_loop): the thread is named and
 * filtered the same way, and the loop returns once it sees the stop eventfd
 * (t.stop_efd) readable; it adds what it handles to io_thread_count().
 */
#ifndef EMBER_IO_THREAD_H
#define EMBER_IO_THREAD_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/core/seccomp.h"
#include "vmm/lib/util.h"

/* The tags of the eventfds that are ready, n >= 1. Runs on the thread. */
typedef void io_thread_fn(void *ctx, const uint64_t *tags, unsigned n);

/* Reserved for the stop eventfd. */
#define IO_THREAD_TAG_STOP UINT64_MAX

struct io_thread {
	int epfd, stop_efd;
	pthread_t thread;
	bool started;
	sem_t ready;      /* posted by the thread once its filter is in */
	bool filter_ok;
	const struct seccomp_allow *allow;
	char name[16];
	io_thread_fn *fn;
	void *(*loop)(void *ctx);
	void *ctx;
};

void io_thread_init(struct io_thread *t);
/* 0, or -1 with e set. */
int io_thread_open(struct io_thread *t, struct errbuf *e);
/* For io_thread_start_loop: the stop eventfd only. 0, or -1 with e set. */
int io_thread_open_stop(struct io_thread *t, struct errbuf *e);
/* Wake the thread with `tag` when fd is readable. 0, or -1 (errno). */
int io_thread_add(struct io_thread *t, int fd, uint64_t tag);
/* Start the thread (named `name`, at most 15 characters) under the `allow`
 * filter; returns once the filter is in. 0, or -1 with e set. */
int io_thread_start(struct io_thread *t, const char *name, const struct seccomp_allow *allow,
		    io_thread_fn *fn, void *ctx, struct errbuf *e);
/* Start a thread running loop(ctx) under the `allow` filter, instead of
 * the epoll loop; it must return when t->stop_efd becomes readable. */
int io_thread_start_loop(struct io_thread *t, const char *name, const struct seccomp_allow *allow,
			 void *(*loop)(void *ctx), void *ctx, struct errbuf *e);
/* Stop and join the thread (no-op if it never started). */
void io_thread_stop(struct io_thread *t);
/* Stop it and close its fds. */
void io_thread_destroy(struct io_thread *t);
/* The events (ready eventfds: queue kicks, ring completions) every I/O
 * thread has handed to its device so far: the metrics' vmm.device_events. */
uint64_t io_thread_events(void);
/* Count n events handled by a thread with its own loop. */
void io_thread_count(unsigned n);

#endif
