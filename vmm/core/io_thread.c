/* io_thread.c: a virtio device's I/O thread: epoll over tagged eventfds,
 * its seccomp filter first, a stop eventfd, and the count of the events it
 * handed to the devices (see io_thread.h). */
#include "vmm/core/io_thread.h"
#include "vmm/lib/thread.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define BATCH 64

static atomic_uint_fast64_t events; /* every thread's, since ember started */

uint64_t io_thread_events(void)
{
	return atomic_load_explicit(&events, memory_order_relaxed);
}

void io_thread_count(unsigned n)
{
	atomic_fetch_add_explicit(&events, n, memory_order_relaxed);
}

void io_thread_init(struct io_thread *t)
{
	memset(t, 0, sizeof(*t));
	t->epfd = t->stop_efd = -1;
}

int io_thread_open_stop(struct io_thread *t, struct errbuf *e)
{
	t->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->stop_efd < 0) {
		err_set(e, "I/O thread: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int io_thread_open(struct io_thread *t, struct errbuf *e)
{
	if (io_thread_open_stop(t, e))
		return -1;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0 || io_thread_add(t, t->stop_efd, IO_THREAD_TAG_STOP)) {
		err_set(e, "I/O thread: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int io_thread_add(struct io_thread *t, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
	return epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* SCHED_BATCH: a kick or a completion that wakes the thread does not preempt
 * the thread running (the guest's vCPU, the host's sender), which goes on
 * until it sleeps or its slice ends; then one wake-up takes what queued up
 * meanwhile. On a shared CPU that is fewer switches and more frames and
 * requests per kick; the thread's share of the CPU (its nice value) is
 * unchanged, and on an idle CPU it runs at once as before. Before the
 * thread's filter (and before the main thread's, installed once every device
 * started, which the thread would inherit): the filters do not allow it.
 * Unprivileged; should it fail (a container's policy), the thread runs as
 * SCHED_OTHER. */
static void sched_batch(const char *name)
{
	struct sched_param sp = {0};
	if (sched_setscheduler(0, SCHED_BATCH, &sp))
		log_warn("%s thread: SCHED_BATCH: %s", name, strerror(errno));
}

static void *thread_main(void *arg)
{
	struct io_thread *t = arg;
	pthread_setname_np(pthread_self(), t->name);
	sched_batch(t->name);
	/* Everything the thread touches was set up before: from here on it
	 * only needs what its filter allows. */
	t->filter_ok = seccomp_thread_install_allow(t->allow) == 0;
	sem_post(&t->ready);
	if (!t->filter_ok)
		return NULL;
	if (t->loop)
		return t->loop(t->ctx);
	struct epoll_event ev[BATCH];
	uint64_t tags[BATCH];
	for (;;) {
		int k = epoll_wait(t->epfd, ev, BATCH, -1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			log_error("%s thread: epoll_wait: %s", t->name, strerror(errno));
			return NULL;
		}
		unsigned n = 0;
		for (int i = 0; i < k; i++) {
			if (ev[i].data.u64 == IO_THREAD_TAG_STOP)
				return NULL;
			tags[n++] = ev[i].data.u64;
		}
		if (n) {
			atomic_fetch_add_explicit(&events, n, memory_order_relaxed);
			t->fn(t->ctx, tags, n);
		}
	}
}

static int start(struct io_thread *t, const char *name, const struct seccomp_allow *allow,
		 void *ctx, struct errbuf *e)
{
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->allow = allow;
	t->ctx = ctx;
	sem_init(&t->ready, 0, 0);
	int r = thread_start(&t->thread, THREAD_STACK_SMALL, thread_main, t);
	if (r) {
		sem_destroy(&t->ready);
		err_set(e, "cannot start the %s thread: %s", t->name, strerror(r));
		return -1;
	}
	t->started = true;
	while (sem_wait(&t->ready) < 0 && errno == EINTR)
		;
	if (!t->filter_ok) {
		err_set(e, "the %s thread has no seccomp filter", t->name);
		return -1;
	}
	return 0;
}

int io_thread_start(struct io_thread *t, const char *name, const struct seccomp_allow *allow,
		    io_thread_fn *fn, void *ctx, struct errbuf *e)
{
	t->fn = fn;
	t->loop = NULL;
	return start(t, name, allow, ctx, e);
}

int io_thread_start_loop(struct io_thread *t, const char *name, const struct seccomp_allow *allow,
			 void *(*loop)(void *ctx), void *ctx, struct errbuf *e)
{
	t->fn = NULL;
	t->loop = loop;
	return start(t, name, allow, ctx, e);
}

void io_thread_stop(struct io_thread *t)
{
	if (!t->started)
		return;
	uint64_t one = 1;
	ssize_t w = write(t->stop_efd, &one, sizeof(one));
	(void)w;
	pthread_join(t->thread, NULL);
	sem_destroy(&t->ready);
	t->started = false;
}

void io_thread_destroy(struct io_thread *t)
{
	io_thread_stop(t);
	if (t->stop_efd >= 0)
		close(t->stop_efd);
	if (t->epfd >= 0)
		close(t->epfd);
	t->stop_efd = t->epfd = -1;
}
