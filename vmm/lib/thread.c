/* thread.c: ember's threads with stacks of a chosen size (thread.h). */
#include "vmm/lib/thread.h"

int thread_start(pthread_t *t, size_t stack_size, void *(*fn)(void *), void *arg)
{
	pthread_attr_t a;
	int r = pthread_attr_init(&a);
	if (r)
		return r;
	r = pthread_attr_setstacksize(&a, stack_size);
	if (!r)
		r = pthread_create(t, &a, fn, arg);
	pthread_attr_destroy(&a);
	return r;
}
