/* test_io_thread.c: a device's I/O thread (io_thread.h): it hands the tags of
 * ready eventfds to the handler in batches, on a thread of its own with the
 * requested name, and stops and joins, counting the events it handed over
 * (io_thread_events), as SCHED_BATCH; err_prefix (util.h) puts a device's name in front of a
 * set-up error. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "virtio/net/net_seccomp.h"
#include "vmm/core/io_thread.h"

struct seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t tags[16];
	unsigned n;
	int efd[2];
	char name[16];
	int policy;
};

static void handler(void *ctx, const uint64_t *tags, unsigned n)
{
	struct seen *s = ctx;
	pthread_mutex_lock(&s->lock);
	pthread_getname_np(pthread_self(), s->name, sizeof(s->name));
	s->policy = sched_getscheduler(0);
	for (unsigned i = 0; i < n; i++) {
		uint64_t v;
		ssize_t r = read(s->efd[tags[i] == 9], &v, sizeof(v)); /* level-triggered */
		(void)r;
		if (s->n < 16)
			s->tags[s->n++] = tags[i];
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Wait (at most 5 s) until the handler has seen `want` tags. */
static unsigned wait_tags(struct seen *s, unsigned want)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5;
	pthread_mutex_lock(&s->lock);
	while (s->n < want && pthread_cond_timedwait(&s->cond, &s->lock, &dl) == 0)
		;
	unsigned n = s->n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void tags_reach_handler_then_stop(void)
{
	struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	s.efd[0] = eventfd(0, EFD_NONBLOCK);
	s.efd[1] = eventfd(0, EFD_NONBLOCK);
	CHECK(s.efd[0] >= 0 && s.efd[1] >= 0);
	struct io_thread t;
	struct errbuf e = {0};
	io_thread_init(&t);
	CHECK_EQ(io_thread_open(&t, &e), 0);
	CHECK_EQ(io_thread_add(&t, s.efd[0], 7), 0);
	CHECK_EQ(io_thread_add(&t, s.efd[1], 9), 0);
	/* seccomp_setup() was not called: filters are off, install succeeds */
	uint64_t events = io_thread_events();
	CHECK_EQ(io_thread_start(&t, "test-io", &net_io_seccomp, handler, &s, &e), 0);
	uint64_t one = 1;
	CHECK_EQ(write(s.efd[1], &one, sizeof(one)), 8);
	CHECK_EQ(wait_tags(&s, 1), 1u);
	CHECK_EQ(s.tags[0], 9u);
	CHECK_STR_EQ(s.name, "test-io");
	CHECK_EQ(s.policy, SCHED_BATCH);
	CHECK_EQ(write(s.efd[0], &one, sizeof(one)), 8);
	CHECK_EQ(wait_tags(&s, 2), 2u);
	CHECK_EQ(s.tags[1], 7u);
	CHECK_EQ(io_thread_events() - events, 2); /* the stop is not a device's */
	io_thread_stop(&t);
	CHECK(!t.started);
	/* stopped: nothing more is handled */
	CHECK_EQ(write(s.efd[1], &one, sizeof(one)), 8);
	usleep(20000);
	CHECK_EQ(s.n, 2u);
	CHECK_EQ(io_thread_events() - events, 2);
	io_thread_destroy(&t);
	CHECK_EQ(t.epfd, -1);
	close(s.efd[0]);
	close(s.efd[1]);
}

/* A loop of its own (as virtio-net's): it runs named, until the stop
 * eventfd is readable. */
struct own_loop {
	struct io_thread *t;
	char name[16];
	int rounds;
	int policy;
};

static void *own_loop_main(void *ctx)
{
	struct own_loop *l = ctx;
	pthread_getname_np(pthread_self(), l->name, sizeof(l->name));
	l->policy = sched_getscheduler(0);
	uint64_t v;
	while (read(l->t->stop_efd, &v, sizeof(v)) != sizeof(v)) {
		l->rounds++;
		usleep(1000);
	}
	return NULL;
}

static void own_loop_has_no_epoll_set_and_stops(void)
{
	struct io_thread t;
	struct errbuf e = {0};
	io_thread_init(&t);
	CHECK_EQ(io_thread_open_stop(&t, &e), 0);
	CHECK(t.stop_efd >= 0);
	CHECK_EQ(t.epfd, -1); /* nothing waits on one */
	struct own_loop l = {.t = &t};
	CHECK_EQ(io_thread_start_loop(&t, "test-loop", &net_io_seccomp, own_loop_main, &l, &e), 0);
	io_thread_stop(&t); /* returns only once the loop saw the stop */
	CHECK(!t.started);
	CHECK_STR_EQ(l.name, "test-loop");
	CHECK_EQ(l.policy, SCHED_BATCH);
	CHECK_EQ(sched_getscheduler(0), SCHED_OTHER); /* the caller's is its own */
	io_thread_destroy(&t);
	CHECK_EQ(t.stop_efd, -1);
}

static void destroy_unopened_is_safe(void)
{
	struct io_thread t;
	io_thread_init(&t);
	io_thread_stop(&t);
	io_thread_destroy(&t);
	CHECK_EQ(t.stop_efd, -1);
}

static void err_prefix_puts_name_first(void)
{
	struct errbuf e;
	err_set(&e, "epoll_ctl: %s", "Bad file descriptor");
	err_prefix(&e, "disk '%s'", "/tmp/d.img");
	CHECK_STR_EQ(e.msg, "disk '/tmp/d.img': epoll_ctl: Bad file descriptor");
	/* too long: cut at the buffer's end, still a string */
	char big[sizeof(e.msg) + 10];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&e, "tail");
	err_prefix(&e, "%s", big);
	CHECK_EQ(strlen(e.msg), sizeof(e.msg) - 1);
}

int main(void)
{
	RUN(tags_reach_handler_then_stop);
	RUN(own_loop_has_no_epoll_set_and_stops);
	RUN(destroy_unopened_is_safe);
	RUN(err_prefix_puts_name_first);
	return check_summary();
}
