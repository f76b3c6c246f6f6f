/* test_thread.c: thread_start (vmm/lib/thread.c) gives a thread the stack
 * size asked for, not glibc's 8 MiB default, and runs it with its argument. */
#include <pthread.h>

#include "tests/unit/check.h"
#include "vmm/lib/thread.h"

static size_t seen_size;

static void *report_stack(void *arg)
{
	pthread_attr_t a;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstacksize(&a, &seen_size);
		pthread_attr_destroy(&a);
	}
	return arg;
}

static void stack_size_as_asked(size_t want)
{
	pthread_t t;
	void *ret = NULL;
	seen_size = 0;
	CHECK_EQ(thread_start(&t, want, report_stack, &seen_size), 0);
	CHECK_EQ(pthread_join(t, &ret), 0);
	CHECK(ret == &seen_size);
	CHECK(seen_size >= want);
	CHECK(seen_size < want + (64u << 10)); /* at most a guard page and rounding more */
}

static void small_stack(void) { stack_size_as_asked(THREAD_STACK_SMALL); }
static void api_stack(void) { stack_size_as_asked(THREAD_STACK_API); }

static void bad_size_refused(void)
{
	pthread_t t;
	CHECK(thread_start(&t, 1, report_stack, NULL) != 0); /* below PTHREAD_STACK_MIN */
}

int main(void)
{
	RUN(small_stack);
	RUN(api_stack);
	RUN(bad_size_refused);
	return check_summary();
}
