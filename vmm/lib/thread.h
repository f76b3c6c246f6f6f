/* thread.h: starting ember's threads with stacks sized to what they use.
 * glibc's default stack is RLIMIT_STACK (8 MiB of address space and of
 * commit charge per thread, so 2 GiB for 254 vCPUs); a vCPU or I/O thread
 * touches ~12 KiB of it (bench/loadmem.py), and its deepest frames are a few
 * KiB (gcc -fstack-usage: log_at 2.6 KiB, msr_list 4.1 KiB). */
#ifndef EMBER_THREAD_H
#define EMBER_THREAD_H

#include <pthread.h>
#include <stddef.h>

/* vCPU and I/O threads: ember's own code only, no recursion. */
#define THREAD_STACK_SMALL (256u << 10)
/* The API thread: jansson parses a request body's nesting (at most 2048
 * levels) recursively, which took between 128 and 256 KiB in a test. */
#define THREAD_STACK_API (1u << 20)

/* pthread_create with a stack of stack_size bytes (plus glibc's guard page).
 * 0 or an errno value, as pthread_create. */
int thread_start(pthread_t *t, size_t stack_size, void *(*fn)(void *), void *arg);

#endif
