/* main.c: ember-jailer's entry point: check the arguments (ember's config
 * file too), build the jail (directory, files, cgroup), then start ember in
 * it (keeper.c) or, with --exec-in-place, become ember. The process that
 * becomes ember takes its own mount namespace (bind mounts, pivot_root),
 * joins the network namespace, sets the rlimits, drops to UID:GID and execs.
 * Every failure is one "ember-jailer: ..." line and a non-zero exit, and
 * removes what was built (unless --keep-on-failure). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jailer/jailer.h"

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

/* One line on stderr: control bytes of the message (from a path, say) become '?'. */
static void report(const char *msg)
{
	char line[600];
	int n = snprintf(line, sizeof(line), "ember-jailer: %s\n", msg);
	size_t len = n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1;
	for (size_t i = 0; i + 1 < len; i++)
		if ((unsigned char)line[i] < ' ' || line[i] == 0x7f)
			line[i] = '?';
	line[len - 1] = '\n'; /* also when cut */
	ssize_t r = write(STDERR_FILENO, line, len);
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

int jail_failed(struct jail *j)
{
	report(j->err[0] ? j->err : "failed");
	cleanup(j);
	return 1;
}

void jail_become_ember(struct jail *j, int netns_fd, int keep_fd, int keeper_pidfd)
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
	/* A mount namespace of its own: the bind mounts and pivot_root stay in it. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0) {
		jail_fail(j, "new mount namespace: %s", strerror(errno));
		return;
	}
	if (jail_fs_bind(j))
		return;
	if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0) {
		jail_fail(j, "--netns %s: joining it: %s", o->netns, strerror(errno));
		return;
	}
	if ((!j->cg.joined && jail_cgroup_join(&j->cg)) || jail_set_rlimits(j) || jail_enter(j))
		return;
	if (null_fd >= 0) {
		dup2(null_fd, 0);
		dup2(null_fd, 1);
		dup2(null_fd, 2);
		close(null_fd);
	}
	if (jail_drop_privileges(j))
		return;
	if (keep_fd >= 0 && !o->daemonize) {
		/* The jailer is ember's keeper: if it is killed, so is ember.
		 * (Set here: changing credentials clears it.) If it died before
		 * this, nobody would wait for ember: go the same way. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		struct pollfd p = {keeper_pidfd, POLLIN, 0};
		if (keeper_pidfd >= 0 && poll(&p, 1, 0) != 0)
			kill(getpid(), SIGKILL);
	}
	jail_close_fds(keep_fd);
	/* The caller's home is not the jail's: ember would keep its cache of
	 * unpacked kernels (~50 MiB each) under it, in every VM's jail
	 * (--kernel-cache shares one, read-only). */
	unsetenv("HOME");
	unsetenv("XDG_CACHE_HOME");
	execve(j->plan.argv[0], j->plan.argv, environ);
	jail_fail(j, "exec %s in the jail: %s", j->plan.argv[0], strerror(errno));
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
	j.exec_fd = -1;
	j.cg.root_fd = -1;
	/* ember's arguments, and its config file: what is wrong with them is
	 * found before anything is built. */
	if (jail_plan_build(o.ember_argv, o.ember_argc, jail_basename(o.exec_file), &j.plan, &err) ||
	    jail_config_load(&j.plan, &err) ||
	    (o.kernel_cache && jail_plan_kernel_cache(&j.plan, &err))) {
		report(err.msg);
		return 2;
	}
	jail_vfio_merge(&o, &j.plan);
	jail_vfio_default_memlock(&o, j.plan.mem_mib);
	if (geteuid() != 0) {
		report("must run as root (it creates device nodes, cgroups and namespaces)");
		return 1;
	}
	umask(022);
	if (jail_check_exec(&j) || jail_vfio_check(&j))
		return jail_failed(&j);
	int netns_fd = -1;
	if (o.netns && (netns_fd = open(o.netns, O_RDONLY | O_CLOEXEC)) < 0) {
		jail_fail(&j, "--netns %s: %s", o.netns, strerror(errno));
		return jail_failed(&j);
	}
	if (jail_fs_create(&j) || jail_cgroup_create(&j, &j.cg) || jail_fs_populate(&j))
		return jail_failed(&j);
	if (o.new_pid_ns && unshare(CLONE_NEWPID) < 0) {
		jail_fail(&j, "new PID namespace: %s", strerror(errno));
		return jail_failed(&j);
	}
	if (!o.exec_in_place)
		return jail_run_child(&j, netns_fd);
	jail_become_ember(&j, netns_fd, -1, -1);
	return jail_failed(&j);
}
