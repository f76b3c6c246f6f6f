/* keeper.c: start ember as the jailer's child, born in the VM's cgroup
 * (clone3 CLONE_INTO_CGROUP: moving a process into a cgroup later costs an
 * RCU grace period, ~15 ms here), and keep it: the child enters the jail and
 * execs ember, reporting a failure through a close-on-exec pipe; the jailer
 * then cleans up, or (--daemonize) prints ember's PID and exits 0, or waits
 * for ember, passing on the signals ember handles, and exits as it did (the
 * same status, or killed by the same signal). If the jailer is killed, ember
 * gets SIGKILL (PR_SET_PDEATHSIG). While it waits it holds no fd but 0-2. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sched.h>
#include <unistd.h>

#include "jailer/jailer.h"

/* The signals ember takes (SIGUSR1: NIC counters, SIGUSR2: its vCPU kick). */
static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

static pid_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* fork(), but the child starts in the VM's cgroup. Falls back to fork() (the
 * child then joins) on kernels before 5.7. */
static pid_t fork_into_cgroup(struct jail *j)
{
	int cgfd = open(j->cg.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd >= 0) {
		struct clone_args ca;
		memset(&ca, 0, sizeof(ca));
		ca.flags = CLONE_INTO_CGROUP;
		ca.exit_signal = SIGCHLD;
		ca.cgroup = (uint64_t)cgfd;
		long pid = syscall(SYS_clone3, &ca, sizeof(ca));
		if (pid == 0) {
			j->cg.joined = true; /* born there */
			return 0;
		}
		int e = errno;
		close(cgfd);
		if (pid > 0)
			return (pid_t)pid;
		if (e != ENOSYS && e != E2BIG && e != EINVAL) {
			errno = e;
			return -1;
		}
	}
	return fork();
}

/* Exit as ember did: its status, or killed by its signal (without a core
 * dump of the jailer's own). */
static int exit_like(int st)
{
	if (!WIFSIGNALED(st))
		return WEXITSTATUS(st);
	int sig = WTERMSIG(st);
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core);
	signal(sig, SIG_DFL);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	kill(getpid(), sig);
	return 128 + sig;
}

int jail_run_child(struct jail *j, int netns_fd)
{
	const bool keep = !j->opts->daemonize;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		jail_fail(j, "pipe: %s", strerror(errno));
		return jail_failed(j);
	}
	/* For the child to see whether the jailer died before PR_SET_PDEATHSIG
	 * took effect (not possible with getppid() in a new PID namespace). */
	int self_fd = keep ? (int)syscall(SYS_pidfd_open, getpid(), 0) : -1;
	/* Signals wait until the child's PID is known (and the child starts
	 * with the mask the jailer had). */
	sigset_t fwd, old;
	sigemptyset(&fwd);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
		sigaddset(&fwd, forwarded[i]);
	sigprocmask(SIG_BLOCK, &fwd, &old);
	child_pid = fork_into_cgroup(j);
	if (child_pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(p[0]);
		jail_become_ember(j, netns_fd, p[1], self_fd);
		ssize_t r = write(p[1], j->err, strlen(j->err));
		(void)r;
		_exit(1);
	}
	int e = errno;
	if (child_pid > 0 && keep) {
		struct sigaction sa = {.sa_handler = forward};
		sigemptyset(&sa.sa_mask);
		for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++)
			sigaction(forwarded[i], &sa, NULL);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	if (self_fd >= 0)
		close(self_fd);
	if (child_pid < 0) {
		close(p[0]);
		jail_fail(j, "clone3: %s", strerror(e));
		return jail_failed(j);
	}
	char msg[sizeof(j->err)];
	ssize_t n;
	do
		n = read(p[0], msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n > 0) { /* the child failed before exec */
		msg[n] = '\0';
		while (waitpid(child_pid, NULL, 0) < 0 && errno == EINTR)
			;
		jail_fail(j, "%s", msg);
		return jail_failed(j);
	}
	if (!keep) {
		printf("%d\n", (int)child_pid);
		return 0;
	}
	/* The jail is ember's now: hold nothing of it while waiting. */
	jail_close_fds(-1);
	int st;
	while (waitpid(child_pid, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	return exit_like(st);
}
