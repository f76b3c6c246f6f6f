/* signals.c: SIGPIPE and SIGHUP counted, the fatal signals reported and died
 * of (signals.h). */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/console.h"
#include "vmm/core/seccomp.h"
#include "vmm/lib/sigsafe.h"
#include "vmm/signals.h"

/* Firecracker's "signals" counters, in its order; then SIGABRT (the "vmm"
 * group's panic_count) and SIGFPE (no counter). */
enum { S_BUS, S_SEGV, S_XFSZ, S_XCPU, S_PIPE, S_HUP, S_ILL, S_ABRT, S_FPE, S_COUNT };

static const struct {
	int sig;
	const char *name;
	const char *group, *field; /* its metrics line (group NULL: none) */
} sigs[S_COUNT] = {
	[S_BUS] = {SIGBUS, "SIGBUS", "signals", "sigbus"},
	[S_SEGV] = {SIGSEGV, "SIGSEGV", "signals", "sigsegv"},
	[S_XFSZ] = {SIGXFSZ, "SIGXFSZ", "signals", "sigxfsz"},
	[S_XCPU] = {SIGXCPU, "SIGXCPU", "signals", "sigxcpu"},
	[S_PIPE] = {SIGPIPE, "SIGPIPE", "signals", "sigpipe"},
	[S_HUP] = {SIGHUP, "SIGHUP", "signals", "sighup"},
	[S_ILL] = {SIGILL, "SIGILL", "signals", "sigill"},
	[S_ABRT] = {SIGABRT, "SIGABRT", "vmm", "panic_count"},
	[S_FPE] = {SIGFPE, "SIGFPE", NULL, NULL},
};

static atomic_uint_fast64_t counts[S_COUNT];

static void count(unsigned i)
{
	atomic_fetch_add_explicit(&counts[i], 1, memory_order_relaxed);
}

static void on_sigpipe(int sig)
{
	(void)sig;
	count(S_PIPE);
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	unsigned i = 0;
	while (i < S_COUNT - 1 && sigs[i].sig != sig)
		i++;
	count(i);
	long tid = syscall(SYS_gettid);
	if (tid == getpid() || !seccomp_enabled())
		console_restore(); /* tcsetattr: async-signal-safe, main's filter allows it */
	char msg[128];
	struct sigsafe_buf b = SIGSAFE_BUF(msg);
	sigsafe_str(&b, "thread ");
	sigsafe_str(&b, log_thread()[0] ? log_thread() : "?");
	sigsafe_str(&b, " got ");
	sigsafe_str(&b, sigs[i].name);
	sigsafe_str(&b, " (signal ");
	sigsafe_u64(&b, (unsigned)sig);
	sigsafe_str(&b, ", code ");
	if (si->si_code < 0) { /* sent: SI_USER, SI_TKILL, SI_QUEUE, ... */
		sigsafe_char(&b, '-');
		sigsafe_u64(&b, (unsigned)-si->si_code);
	} else {
		sigsafe_u64(&b, (unsigned)si->si_code);
	}
	sigsafe_str(&b, "): ember exits");
	msg[b.len < sizeof(msg) ? b.len : sizeof(msg) - 1] = '\0';
	log_sigsafe(LOG_ERROR, __FILE__, __LINE__, msg);
	if (sigs[i].group)
		sigsafe_metrics_line(sigs[i].group, sigs[i].field, 1);
	/* SA_RESETHAND made the action the default again: unblock the signal
	 * and send it to this thread, which then dies of it. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	syscall(SYS_tgkill, getpid(), tid, sig);
	syscall(SYS_exit_group, 128 + sig); /* not reached */
}

int signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_sigpipe;
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	for (unsigned i = 0; i < S_COUNT; i++)
		if (i != S_PIPE && i != S_HUP && sigaction(sigs[i].sig, &sa, NULL) < 0)
			return -1;
	return 0;
}

void signals_hup(void)
{
	count(S_HUP);
}

uint64_t signals_panics(void)
{
	return atomic_load_explicit(&counts[S_ABRT], memory_order_relaxed);
}

void signals_metrics(struct metrics_sample *s, unsigned slot)
{
	static const char *const names[] = {"sigbus", "sigsegv", "sigxfsz", "sigxcpu",
					    "sigpipe", "sighup", "sigill"};
	memset(s, 0, sizeof(*s));
	s->slot = slot;
	s->group = "signals";
	s->names = names;
	s->n = ARRAY_SIZE(names);
	for (unsigned i = 0; i < s->n; i++) {
		s->total[i] = atomic_load_explicit(&counts[i], memory_order_relaxed);
		if (i != S_PIPE)
			s->stored |= METRICS_STORED(i);
	}
}
