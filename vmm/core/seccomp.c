/* seccomp.c: the per-thread allow-lists and the SIGSYS reporter (seccomp.h).
 * Lists were taken from what each thread does in steady state (strace -f of
 * ember booting tiny payloads natively and Linux with disk I/O in the lab),
 * plus the paths that end a VM (register dump, stop request, thread exit). */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "vmm/core/seccomp.h"
#include "vmm/lib/sigsafe.h"

/* exit_group with this argument is the one call every filter kills the
 * process for: how the SIGSYS handler ends ember. */
#define KILL_MARKER 0x5ecc0dea

#define MAX_NR 512
#define NAME_LEN 28

static bool enabled;
static int vfio_fds[SECCOMP_MAX_VFIO_FDS];
static unsigned nvfio_fds;
static const struct seccomp_allow *vcpu_allows[SECCOMP_MAX_VCPU_ALLOWS];
static const struct seccomp_allow *main_allows[SECCOMP_MAX_VCPU_ALLOWS];
static unsigned nmain_allows;
static int unlink_dirfd = -1;
static unsigned nvcpu_allows;
static char names[MAX_NR][NAME_LEN]; /* filled before any filter, read by the handler */
static __thread char thread_name[16];

/* Every thread: memory (never executable), futexes, signal return, its own
 * exit, the log and eventfds (read/write), time; and (build()) a fatal
 * signal to its own process. */
static const int common_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(futex), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(madvise), SCMP_SYS(munmap),
	SCMP_SYS(brk), SCMP_SYS(mremap), SCMP_SYS(clock_gettime), SCMP_SYS(sched_yield),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(rt_sigprocmask),
};

/* vCPU: KVM_RUN and the platform emulation it calls: the UART's IRQ line
 * (an MSI from ember's IOAPIC, or KVM's IRQ line) and console output, the
 * IOAPIC's routes for level-triggered pins, MSI-X routes when the guest
 * programs vectors, ioeventfds when it moves a BAR, the register dump of a
 * failing vCPU, and telling the guest's kvmclock it was paused. What the
 * devices' emulation needs besides comes from the devices
 * (seccomp_vcpu_allow). */
static const unsigned long vcpu_ioctls[] = {
	KVM_RUN, KVM_IRQ_LINE, KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING, KVM_IOEVENTFD, KVM_GET_REGS, KVM_GET_SREGS,
	KVM_KVMCLOCK_CTRL, /* parking for a pause */
};

/* Main: poll on the signalfd, stop eventfd and console; console input raises
 * the UART's IRQ; teardown kicks and joins the threads, drains the rings,
 * closes and unmaps, restores the terminal (also from a fatal signal). */
static const int main_calls[] = {
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(close),
	SCMP_SYS(io_uring_enter), SCMP_SYS(rt_sigaction),
};
static const unsigned long main_ioctls[] = {KVM_IRQ_LINE, KVM_SIGNAL_MSI, TCGETS, TCSETS, TCSETSW, TCSETSF};

/* The API thread: its socket (accept, receive, send, close) and poll. The
 * requests that act on the VM go to the main thread (eventfd and futex, in
 * the common set). */
static const int api_calls[] = {
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(accept4), SCMP_SYS(recvfrom),
	SCMP_SYS(sendto), SCMP_SYS(close),
};

/* The signals a thread may send its own process to die of (see build()). */
static const int fatal_signals[] = {SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGXCPU, SIGXFSZ};

static const char *const kind_names[SECCOMP_KINDS] = {
	[SECCOMP_MAIN] = "main", [SECCOMP_VCPU] = "vcpu", [SECCOMP_API] = "api",
};

const char *seccomp_kind_name(enum seccomp_thread_kind kind)
{
	return kind < SECCOMP_KINDS ? kind_names[kind] : "?";
}

bool seccomp_enabled(void)
{
	return enabled;
}

static atomic_uint faults;

unsigned seccomp_faults(void)
{
	return atomic_load_explicit(&faults, memory_order_relaxed);
}

/* SIGSYS from a filter (SCMP_ACT_TRAP): say which thread made which call,
 * on stderr and in the log file, write the metrics line that counts the
 * fault, then end the process with SIGSYS. Async-signal-safe: write(2),
 * clock_gettime(2) and exit_group(2), which every filter allows; should a
 * call fail or be forbidden all the same, the kernel kills the process with
 * SIGSYS (a trap while SIGSYS is blocked), so the status stays 128 + 31. */
static void sigsys_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	atomic_fetch_add_explicit(&faults, 1, memory_order_relaxed);
	char msg[160];
	struct sigsafe_buf b = SIGSAFE_BUF(msg);
	int nr = si->si_syscall;
	sigsafe_str(&b, "seccomp: thread ");
	sigsafe_str(&b, thread_name[0] ? thread_name : "?");
	sigsafe_str(&b, " made forbidden syscall ");
	sigsafe_u64(&b, (unsigned)nr);
	sigsafe_str(&b, " (");
	if (nr >= 0 && nr < MAX_NR && names[nr][0])
		sigsafe_str(&b, names[nr]);
	else
		sigsafe_u64(&b, (unsigned)nr);
	sigsafe_char(&b, ')');
	msg[b.len < sizeof(msg) ? b.len : sizeof(msg) - 1] = '\0';
	log_sigsafe(LOG_ERROR, __FILE__, __LINE__, msg);
	sigsafe_metrics_line("seccomp", "num_faults", 1);
	syscall(SYS_exit_group, KILL_MARKER); /* the filter kills the process here */
	syscall(SYS_exit_group, 128 + SIGSYS); /* only without a filter */
}

int seccomp_setup(bool on, struct errbuf *err)
{
	static bool ready; /* the names and the handler: once */
	enabled = on;
	if (!on || ready)
		return 0;
	/* libseccomp probes the kernel once and caches the answer in globals:
	 * do it here, before the threads build their filters concurrently. */
	if (seccomp_api_get() < 1) {
		err_set(err, "seccomp: this kernel has no seccomp filters (use --seccomp off to run unconfined)");
		return -1;
	}
	for (int nr = 0; nr < MAX_NR; nr++) {
		char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (s)
			snprintf(names[nr], NAME_LEN, "%s", s);
		free(s);
	}
	struct sigaction sa = {.sa_sigaction = sigsys_handler, .sa_flags = SA_SIGINFO};
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		err_set(err, "seccomp: cannot install the SIGSYS handler: %s", strerror(errno));
		return -1;
	}
	ready = true;
	return 0;
}

static int allow_calls(scmp_filter_ctx ctx, const int *nrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nrs[i], 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ioctl(fd, req, ...) for these requests only (the request is an int). */
static int allow_ioctls(scmp_filter_ctx ctx, const unsigned long *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					 SCMP_A1_32(SCMP_CMP_EQ, (uint32_t)reqs[i]));
		if (r < 0)
			return r;
	}
	return 0;
}

static int allow_args(scmp_filter_ctx ctx, const struct seccomp_arg_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct seccomp_arg_rule *a = &rules[i];
		if (a->arg > 5)
			return -EINVAL;
		struct scmp_arg_cmp cmp = SCMP_CMP32(a->arg, SCMP_CMP_EQ, a->value);
		int r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, a->call, 1, &cmp);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_allow(scmp_filter_ctx ctx, const struct seccomp_allow *a)
{
	int r = allow_calls(ctx, a->calls, a->ncalls);
	if (!r)
		r = allow_ioctls(ctx, a->ioctls, a->nioctls);
	return r ? r : allow_args(ctx, a->args, a->nargs);
}

/* The common set; then kind's list, or (kind SECCOMP_KINDS) a device's. */
static int build(scmp_filter_ctx ctx, enum seccomp_thread_kind kind, const struct seccomp_allow *a)
{
	int r;
#define CALLS(a) allow_calls(ctx, a, ARRAY_SIZE(a))
#define IOCTLS(a) allow_ioctls(ctx, a, ARRAY_SIZE(a))
	if ((r = CALLS(common_calls)))
		return r;
	/* mmap/mprotect (malloc arenas), never executable. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				  SCMP_A2_64(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) ||
	    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				  SCMP_A2_64(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))))
		return r;
	/* tgkill to ember's own threads with a signal that ends it: how a
	 * fatal signal's handler ends the process with that signal's status
	 * once it has reported (vmm/signals.c), and how abort() raises
	 * SIGABRT. Any other signal stays the main thread's (its vCPU kicks). */
	for (size_t i = 0; i < ARRAY_SIZE(fatal_signals); i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
					  SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)getpid()),
					  SCMP_A2_32(SCMP_CMP_EQ, (uint32_t)fatal_signals[i]))))
			return r;
	/* exit_group: allowed, except with the marker, which kills the process. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(exit_group), 1,
				  SCMP_A0_32(SCMP_CMP_EQ, KILL_MARKER))))
		return r;
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 1,
				  SCMP_A0_32(SCMP_CMP_NE, KILL_MARKER))))
		return r;
	switch (kind) {
	case SECCOMP_KINDS:
		return add_allow(ctx, a);
	case SECCOMP_VCPU:
		if ((r = IOCTLS(vcpu_ioctls)))
			return r;
		for (unsigned i = 0; i < nvcpu_allows; i++)
			if ((r = add_allow(ctx, vcpu_allows[i])))
				return r;
		/* Passed-through devices: their VFIO fds only. */
		for (unsigned i = 0; i < nvfio_fds; i++) {
			uint32_t fd = (uint32_t)vfio_fds[i];
			if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pread64), 1,
						  SCMP_A0_32(SCMP_CMP_EQ, fd))) ||
			    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pwrite64), 1,
						  SCMP_A0_32(SCMP_CMP_EQ, fd))))
				return r;
		}
		break;
	case SECCOMP_API:
		return CALLS(api_calls);
	case SECCOMP_MAIN:
		if ((r = CALLS(main_calls)))
			return r;
		/* unlinkat: the API socket, in its own folder only. */
		if (unlink_dirfd >= 0 &&
		    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlinkat), 1,
					  SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)unlink_dirfd))))
			return r;
		for (unsigned i = 0; i < nmain_allows; i++)
			if ((r = add_allow(ctx, main_allows[i])))
				return r;
		/* tgkill: kicking ember's own vCPU threads only. */
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
					  SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)getpid()))))
			return r;
		return IOCTLS(main_ioctls);
	default:
		return -EINVAL;
	}
#undef CALLS
#undef IOCTLS
	return 0;
}

void seccomp_allow_vfio_fd(int fd)
{
	if (fd >= 0 && nvfio_fds < SECCOMP_MAX_VFIO_FDS)
		vfio_fds[nvfio_fds++] = fd;
}

void seccomp_allow_unlinkat_dirfd(int fd)
{
	unlink_dirfd = fd;
}

static int remember(const struct seccomp_allow **list, unsigned *n, const struct seccomp_allow *a)
{
	for (unsigned i = 0; i < *n; i++)
		if (list[i] == a)
			return 0;
	if (*n >= SECCOMP_MAX_VCPU_ALLOWS)
		return -1;
	list[(*n)++] = a;
	return 0;
}

int seccomp_vcpu_allow(const struct seccomp_allow *a)
{
	return remember(vcpu_allows, &nvcpu_allows, a);
}

int seccomp_main_allow(const struct seccomp_allow *a)
{
	return remember(main_allows, &nmain_allows, a);
}

static int install(enum seccomp_thread_kind kind, const struct seccomp_allow *a)
{
	const char *kname = a ? a->kind : seccomp_kind_name(kind);
	if (kind == SECCOMP_MAIN)
		snprintf(thread_name, sizeof(thread_name), "main");
	else if (prctl(PR_GET_NAME, thread_name) < 0 || !thread_name[0])
		snprintf(thread_name, sizeof(thread_name), "%s", kname);
	log_set_thread(thread_name);
	if (!enabled)
		return 0;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		log_error("seccomp: %s filter: seccomp_init failed", kname);
		return -1;
	}
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (!r)
		r = build(ctx, kind, a);
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r) {
		log_error("seccomp: cannot install the %s filter on thread %s: %s", kname,
			  thread_name, strerror(-r));
		return -1;
	}
	return 0;
}

int seccomp_thread_install(enum seccomp_thread_kind kind)
{
	return install(kind, NULL);
}

int seccomp_thread_install_allow(const struct seccomp_allow *a)
{
	return install(SECCOMP_KINDS, a);
}
