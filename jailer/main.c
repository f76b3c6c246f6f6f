/* main.c: ember-jailer's entry point: check the arguments, build the jail
 * (directory, cgroup, mount namespace, files), enter it and exec ember there
 * as an unprivileged user. Every failure is one "ember-jailer: ..." line and a
 * non-zero exit, and removes what was built (unless --keep-on-failure).
 *
 * By default the jailer becomes ember (same PID, exec in place). With
 * --new-pid-ns or --daemonize it forks: the child enters the jail and execs
 * ember (as PID 1 of a new PID namespace with --new-pid-ns), reporting a
 * failure through a close-on-exec pipe; the parent cleans up after a failure,
 * and otherwise exits 0 printing ember's PID (--daemonize) or waits for ember
 * and exits as it did (forwarding SIGTERM, SIGINT, SIGHUP). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sched.h>
#include <unistd.h>

#include "jailer.h"

extern char **environ;

int jail_fail(struct jail *j, const char *fmt, ...)
{
	if (!j->err[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(j->err, sizeof(j->err), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void report(const char *msg)
{
	char line[600];
	int n = snprintf(line, sizeof(line), "ember-jailer: %s\n", msg);
	ssize_t r = write(STDERR_FILENO, line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
	(void)r;
}

static void cleanup(struct jail *j)
{
	if (j->opts->keep_on_failure) {
		if (j->dir_created) {
			char m[PATH_MAX + 64];
			snprintf(m, sizeof(m), "--keep-on-failure: the jail stays at %s", j->dir);
			report(m);
		}
		return;
	}
	jail_fs_remove(j);
	jail_cgroup_remove(&j->cg);
}

static int fail(struct jail *j)
{
	report(j->err[0] ? j->err : "failed");
	cleanup(j);
	return 1;
}

/* In the process that becomes ember: join the cgroup, enter the jail, drop
 * everything, exec. Returns only on failure (message in j->err). */
static void become_ember(struct jail *j, int keep_fd)
{
	const struct jail_opts *o = j->opts;
	int null_fd = -1;
	if (o->daemonize) {
		setsid();
		null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null_fd < 0) {
			jail_fail(j, "/dev/null: %s", strerror(errno));
			return;
		}
	}
	if ((!j->cg.joined && jail_cgroup_join(&j->cg)) || jail_set_rlimits(j) || jail_enter(j))
		return;
	if (null_fd >= 0) {
		dup2(null_fd, 0);
		dup2(null_fd, 1);
		dup2(null_fd, 2);
		close(null_fd);
	}
	jail_close_fds(keep_fd);
	if (jail_drop_privileges(j))
		return;
	/* Forked without --daemonize, the jailer is ember's keeper: if it is
	 * killed, so is ember. (Set here: changing credentials clears it.) */
	if (keep_fd >= 0 && !o->daemonize)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	execve(j->plan.argv[0], j->plan.argv, environ);
	jail_fail(j, "exec %s in the jail: %s", j->plan.argv[0], strerror(errno));
}

static pid_t child_pid;

/* fork(), but the child starts in the VM's cgroup (clone3 CLONE_INTO_CGROUP):
 * moving a process later costs an RCU grace period (~10 ms here). Falls back
 * to fork() (the child then joins) on kernels before 5.7. */
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

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static int run_forked(struct jail *j)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		jail_fail(j, "pipe: %s", strerror(errno));
		return fail(j);
	}
	child_pid = fork_into_cgroup(j);
	if (child_pid < 0) {
		jail_fail(j, "clone3: %s", strerror(errno));
		return fail(j);
	}
	if (child_pid == 0) {
		close(p[0]);
		/* Its own mount namespace, so pivot_root moves only the child. */
		if (unshare(CLONE_NEWNS) < 0)
			jail_fail(j, "unshare(CLONE_NEWNS): %s", strerror(errno));
		else
			become_ember(j, p[1]);
		ssize_t r = write(p[1], j->err, strlen(j->err));
		(void)r;
		_exit(1);
	}
	close(p[1]);
	char msg[sizeof(j->err)];
	ssize_t n;
	do
		n = read(p[0], msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n > 0) { /* the child failed before exec */
		msg[n] = '\0';
		waitpid(child_pid, NULL, 0);
		jail_fail(j, "%s", msg);
		return fail(j);
	}
	if (j->opts->daemonize) {
		printf("%d\n", (int)child_pid);
		return 0;
	}
	struct sigaction sa = {.sa_handler = forward};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	int st;
	while (waitpid(child_pid, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFSIGNALED(st)) { /* die the same way, so callers see it */
		signal(WTERMSIG(st), SIG_DFL);
		kill(getpid(), WTERMSIG(st));
		return 128 + WTERMSIG(st);
	}
	return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
	struct jail_opts o;
	struct errbuf err;
	if (jail_parse_args(argc, argv, &o, &err)) {
		report(err.msg);
		return 2;
	}
	if (o.help) {
		jail_usage(stdout);
		return 0;
	}
	static struct jail j;
	j.opts = &o;
	j.parent_fd = -1;
	j.cg.root_fd = -1;
	if (jail_plan_build(o.ember_argv, o.ember_argc, jail_basename(o.exec_file), &j.plan, &err)) {
		report(err.msg);
		return 2;
	}
	if (geteuid() != 0) {
		report("must run as root (it creates device nodes, cgroups and namespaces)");
		return 1;
	}
	umask(022);
	if (jail_check_exec(&j))
		return fail(&j);
	int netns_fd = -1;
	if (o.netns && (netns_fd = open(o.netns, O_RDONLY | O_CLOEXEC)) < 0) {
		jail_fail(&j, "--netns %s: %s", o.netns, strerror(errno));
		return fail(&j);
	}
	if (jail_fs_create(&j) || jail_cgroup_create(&j, &j.cg))
		return fail(&j);
	/* A mount namespace of our own: the bind mounts and pivot_root stay in it. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0) {
		jail_fail(&j, "new mount namespace: %s", strerror(errno));
		return fail(&j);
	}
	if (jail_fs_populate(&j))
		return fail(&j);
	if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0) {
		jail_fail(&j, "--netns %s: joining it: %s", o.netns, strerror(errno));
		return fail(&j);
	}
	if (o.new_pid_ns && unshare(CLONE_NEWPID) < 0) {
		jail_fail(&j, "new PID namespace: %s", strerror(errno));
		return fail(&j);
	}
	if (o.new_pid_ns || o.daemonize)
		return run_forked(&j);
	become_ember(&j, -1);
	return fail(&j);
}
