/* seccomp_cost.c: what ember's per-thread seccomp filters add to the system
 * calls its I/O and vCPU threads make in steady state (bench/run runs it).
 *
 * For each thread kind and each of its hot calls, a child process times a
 * loop of that call with no filter, another child the same loop after
 * seccomp_thread_install() of that kind (the filter ember's thread runs
 * under), alternating over several rounds; the parent prints the median
 * ns per call of each and the difference as a Markdown table.
 *
 * The calls are the ones the threads' loops make per batch of guest I/O:
 * on blk-io epoll_wait, read/write on eventfds (kicks, completions,
 * interrupts) and io_uring_enter; on net-io, which waits in io_uring_enter
 * (its kicks are reads on its ring), io_uring_enter and the interrupts'
 * eventfd writes (the reads and writes themselves are io_uring operations,
 * which seccomp does not see); and ioctl(KVM_RUN) on the
 * vCPU thread, issued on an eventfd so that it fails at once (ENOTTY) and
 * only the filter's own work is timed, not the guest's.
 */
#include <errno.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "virtio/blk/blk_seccomp.h"
#include "virtio/net/net_seccomp.h"
#include "vmm/core/seccomp.h"

enum call { C_EPOLL, C_READ, C_WRITE, C_URING, C_KVM_RUN, C_COUNT };
static const char *const call_names[C_COUNT] = {
	[C_EPOLL] = "epoll_wait (timeout 0)",
	[C_READ] = "read (eventfd)",
	[C_WRITE] = "write (eventfd)",
	[C_URING] = "io_uring_enter (nothing to submit)",
	[C_KVM_RUN] = "ioctl KVM_RUN (filter only: on an eventfd)",
};

struct kind {
	const char *name;
	enum seccomp_thread_kind kind;      /* ember's core threads */
	const struct seccomp_allow *allow;  /* or a device's thread */
	unsigned calls; /* bit per enum call */
};
static const struct kind kinds[] = {
	{"net-io", SECCOMP_KINDS, &net_io_seccomp, 1u << C_WRITE | 1u << C_URING},
	{"blk-io", SECCOMP_KINDS, &blk_io_seccomp, 1u << C_EPOLL | 1u << C_READ | 1u << C_WRITE | 1u << C_URING},
	{"vcpu", SECCOMP_VCPU, NULL, 1u << C_WRITE | 1u << C_KVM_RUN},
};

static double clock_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t); /* vDSO: no system call */
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* ns per call of `iters` calls of c. */
static double time_call(enum call c, unsigned iters, int efd, int epfd, int ring_fd)
{
	uint64_t v = 1;
	struct epoll_event ev;
	long r = 0;
	double t0 = clock_ns();
	for (unsigned i = 0; i < iters; i++) {
		switch (c) {
		case C_EPOLL: r = epoll_wait(epfd, &ev, 1, 0); break;
		case C_READ: r = read(efd, &v, sizeof(v)); break; /* EAGAIN or 1 */
		case C_WRITE: r = write(efd, &v, sizeof(v)); break;
		case C_URING: r = syscall(__NR_io_uring_enter, ring_fd, 0, 0, 0, NULL, 0); break;
		case C_KVM_RUN: r = ioctl(efd, KVM_RUN, 0); break;
		default: break;
		}
	}
	double t = (clock_ns() - t0) / iters;
	(void)r;
	return t;
}

/* Child: time every call of k (with k's filter if `filtered`), write the
 * results (C_COUNT doubles) to fd. Exits. */
static void child(const struct kind *k, bool filtered, unsigned iters, int fd)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	int ring_fd = (int)syscall(__NR_io_uring_setup, 8, &p);
	struct epoll_event ev = {.events = EPOLLIN};
	if (efd < 0 || epfd < 0 || ring_fd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev) < 0)
		_exit(2);
	if (filtered && (k->allow ? seccomp_thread_install_allow(k->allow)
				  : seccomp_thread_install(k->kind)) != 0)
		_exit(3);
	double res[C_COUNT] = {0};
	for (int c = 0; c < C_COUNT; c++) {
		if (!(k->calls & (1u << c)))
			continue;
		time_call((enum call)c, iters / 10, efd, epfd, ring_fd); /* warm up */
		res[c] = time_call((enum call)c, iters, efd, epfd, ring_fd);
	}
	ssize_t w = write(fd, res, sizeof(res));
	_exit(w == (ssize_t)sizeof(res) ? 0 : 4);
}

static int run_child(const struct kind *k, bool filtered, unsigned iters, double *res)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(pfd[0]);
		child(k, filtered, iters, pfd[1]);
	}
	close(pfd[1]);
	ssize_t n = read(pfd[0], res, C_COUNT * sizeof(double));
	close(pfd[0]);
	int st;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
	    n != (ssize_t)(C_COUNT * sizeof(double))) {
		fprintf(stderr, "seccomp_cost: %s child (%s) failed (status %#x)\n", k->name,
			filtered ? "filtered" : "unfiltered", st);
		return -1;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_ROUNDS 64

int main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 7;
	unsigned iters = argc > 2 ? (unsigned)atoi(argv[2]) : 200000;
	if (rounds == 0 || rounds > MAX_ROUNDS || iters < 10) {
		fprintf(stderr, "usage: seccomp_cost [ROUNDS (1-%d)] [ITERATIONS (>= 10)]\n",
			MAX_ROUNDS);
		return 2;
	}
	struct errbuf e = {0};
	if (seccomp_setup(true, &e)) {
		fprintf(stderr, "seccomp_cost: %s\n", e.msg);
		return 1;
	}
	printf("| thread filter | system call | no filter (ns/call) | filter (ns/call) | added (ns/call) |\n");
	printf("|---|---|---:|---:|---:|\n");
	for (size_t ki = 0; ki < sizeof(kinds) / sizeof(kinds[0]); ki++) {
		const struct kind *k = &kinds[ki];
		static double off[C_COUNT][MAX_ROUNDS], on[C_COUNT][MAX_ROUNDS];
		for (unsigned r = 0; r < rounds; r++) {
			double a[C_COUNT], b[C_COUNT];
			/* alternate which goes first, so drift hits both alike */
			bool first_on = r % 2;
			if (run_child(k, first_on, iters, first_on ? b : a) ||
			    run_child(k, !first_on, iters, first_on ? a : b))
				return 1;
			for (int c = 0; c < C_COUNT; c++) {
				off[c][r] = a[c];
				on[c][r] = b[c];
			}
		}
		for (int c = 0; c < C_COUNT; c++) {
			if (!(k->calls & (1u << c)))
				continue;
			double m0 = median(off[c], rounds), m1 = median(on[c], rounds);
			printf("| %s | %s | %.0f | %.0f | %+.0f |\n", k->name, call_names[c], m0, m1,
			       m1 - m0);
		}
	}
	return 0;
}
