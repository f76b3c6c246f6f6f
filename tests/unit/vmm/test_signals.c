/* test_signals.c: ember's signals (vmm/signals.c) in forked children: a
 * fatal signal, sent (SIGXCPU) or a real fault (SIGBUS on a mapping past
 * the end of its file), is reported on stderr and in the log file, leaves
 * {"utc_timestamp_ms":N,"signals":{"sigbus":1}} in the metrics file and
 * kills the process with that signal; abort() under a vCPU's seccomp filter
 * is the "vmm" group's panic_count and dies of SIGABRT; SIGPIPE is counted
 * and the write fails with EPIPE; SIGHUP is counted; the "signals" sample
 * has Firecracker's names, all stored but sigpipe. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/core/seccomp.h"
#include "vmm/lib/sigsafe.h"
#include "vmm/signals.h"

static int log_fd = -1, metrics_fd = -1;

/* Run fn in a child with stderr to a pipe and the log and metrics files
 * (memfds) open; its wait status, its stderr, the two files. */
static int in_child(void (*fn)(void), char *err, char *lg, char *met, size_t cap)
{
	int p[2];
	log_fd = memfd_create("log", 0);
	metrics_fd = memfd_create("metrics", 0);
	if (pipe(p) < 0 || log_fd < 0 || metrics_fd < 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		if (signals_install())
			syscall(SYS_exit_group, 98);
		log_configure(log_fd, LOG_INFO, true, false, "vm-4");
		sigsafe_set_metrics_fd(metrics_fd);
		fn();
		syscall(SYS_exit_group, 99); /* fn ends the child itself */
	}
	close(p[1]);
	size_t got = 0;
	ssize_t n;
	while (got + 1 < cap && (n = read(p[0], err + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	err[got] = '\0';
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	n = pread(log_fd, lg, cap - 1, 0);
	lg[n > 0 ? n : 0] = '\0';
	n = pread(metrics_fd, met, cap - 1, 0);
	met[n > 0 ? n : 0] = '\0';
	close(log_fd);
	close(metrics_fd);
	return st;
}

/* met is exactly {"utc_timestamp_ms":N,"GROUP":{"FIELD":1}} with N about now. */
static bool metrics_line_is(const char *met, const char *group, const char *field)
{
	char fmt[128];
	snprintf(fmt, sizeof(fmt), "{\"utc_timestamp_ms\":%%llu,\"%s\":{\"%s\":1}}\n%%n", group,
		 field);
	unsigned long long ms;
	int end = 0;
	if (sscanf(met, fmt, &ms, &end) != 1 || end == 0 || met[end] != '\0') {
		fprintf(stderr, "# metrics file: want %s.%s = 1, got: %s\n", group, field, met);
		return false;
	}
	/* The clock the handler read, not time(): that one is the coarse
	 * clock, which can still show the last second a few ms into the next. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned long long now = (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
	if (ms + 10000 > now && ms <= now + 1000)
		return true;
	fprintf(stderr, "# metrics file: utc_timestamp_ms %llu, now %llu\n", ms, now);
	return false;
}

static void sends_itself_sigxcpu(void)
{
	log_set_thread("main");
	raise(SIGXCPU);
}

static void fatal_signal_sent(void)
{
	char err[512], lg[512], met[512];
	int st = in_child(sends_itself_sigxcpu, err, lg, met, sizeof(err));
	CHECK(WIFSIGNALED(st));
	CHECK_EQ(WTERMSIG(st), SIGXCPU);
	CHECK_STR_EQ(err, "ember: thread main got SIGXCPU (signal 24, code -6): ember exits\n");
	CHECK(strstr(lg, " [vm-4:main:ERROR] thread main got SIGXCPU (signal 24, code -6): ember exits\n"));
	CHECK(metrics_line_is(met, "signals", "sigxcpu"));
}

/* A real SIGBUS: a shared mapping of an empty file touched on a vCPU
 * thread under its filter. */
static void touches_past_end_of_file(void)
{
	int fd = memfd_create("empty", 0);
	volatile uint8_t *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		syscall(SYS_exit_group, 97);
	struct errbuf e;
	if (seccomp_setup(true, &e))
		syscall(SYS_exit_group, 96);
	prctl(PR_SET_NAME, "vcpu1");
	if (seccomp_thread_install(SECCOMP_VCPU))
		syscall(SYS_exit_group, 95);
	(void)p[0];
}

static void fatal_fault_under_filter(void)
{
	char err[512], lg[512], met[512];
	int st = in_child(touches_past_end_of_file, err, lg, met, sizeof(err));
	CHECK(WIFSIGNALED(st));
	CHECK_EQ(WTERMSIG(st), SIGBUS);
	CHECK(strstr(err, "ember: thread vcpu1 got SIGBUS (signal 7, code ") == err);
	CHECK(strstr(lg, " [vm-4:vcpu1:ERROR] thread vcpu1 got SIGBUS"));
	CHECK(metrics_line_is(met, "signals", "sigbus"));
}

static void aborts_under_filter(void)
{
	struct errbuf e;
	if (seccomp_setup(true, &e))
		syscall(SYS_exit_group, 96);
	prctl(PR_SET_NAME, "vcpu0");
	if (seccomp_thread_install(SECCOMP_VCPU))
		syscall(SYS_exit_group, 95);
#ifdef __SANITIZE_ADDRESS__
	raise(SIGABRT); /* the sanitizers' abort() makes calls the filter forbids */
#else
	abort();
#endif
}

static void abort_is_a_panic(void)
{
	char err[512], lg[512], met[512];
	int st = in_child(aborts_under_filter, err, lg, met, sizeof(err));
	CHECK(WIFSIGNALED(st));
	CHECK_EQ(WTERMSIG(st), SIGABRT);
	CHECK(strstr(err, "ember: thread vcpu0 got SIGABRT (signal 6, code -6): ember exits\n"));
	CHECK(metrics_line_is(met, "vmm", "panic_count"));
}

/* SIGPIPE counted, the write failing with EPIPE; SIGHUP counted; the
 * sample's shape. The child's exit status says what it saw. */
static void counts_pipe_and_hup(void)
{
	int p[2];
	if (pipe(p) < 0)
		syscall(SYS_exit_group, 90);
	close(p[0]);
	errno = 0;
	if (write(p[1], "x", 1) != -1 || errno != EPIPE)
		syscall(SYS_exit_group, 91);
	if (write(p[1], "y", 1) != -1)
		syscall(SYS_exit_group, 92);
	signals_hup();
	struct metrics_sample s;
	signals_metrics(&s, 9);
	static const char *const want[] = {"sigbus", "sigsegv", "sigxfsz", "sigxcpu",
					   "sigpipe", "sighup", "sigill"};
	if (s.n != 7 || s.slot != 9 || strcmp(s.group, "signals") != 0)
		syscall(SYS_exit_group, 93);
	for (unsigned i = 0; i < 7; i++)
		if (strcmp(s.names[i], want[i]) != 0)
			syscall(SYS_exit_group, 94);
	if (s.stored != (0x7fu & ~METRICS_STORED(4)))
		syscall(SYS_exit_group, 95);
	if (s.total[4] != 2 || s.total[5] != 1 || s.total[0] + s.total[1] + s.total[6] != 0)
		syscall(SYS_exit_group, 96);
	syscall(SYS_exit_group, signals_panics() == 0 ? 7 : 97);
}

static void sigpipe_and_sighup_counted(void)
{
	char err[512], lg[512], met[512];
	int st = in_child(counts_pipe_and_hup, err, lg, met, sizeof(err));
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 7);
	CHECK_STR_EQ(err, "");
	CHECK_STR_EQ(met, "");
}

int main(void)
{
	RUN(fatal_signal_sent);
	RUN(fatal_fault_under_filter);
	RUN(abort_is_a_panic);
	RUN(sigpipe_and_sighup_counted);
	return check_summary();
}
