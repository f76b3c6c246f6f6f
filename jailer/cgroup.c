/* cgroup.c: the VM's cgroup v2 group: find (or mount) the cgroup2 hierarchy,
 * create <root>/ember/<id>, enable the controllers --cgroup needs, write the
 * values; ember is born in it (clone3 CLONE_INTO_CGROUP) or moves itself in
 * (--exec-in-place, or kernels before 5.7). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "jailer/jailer.h"

/* The mount point of a cgroup2 file system: /sys/fs/cgroup (unified) or
 * /sys/fs/cgroup/unified (systemd's hybrid layout) when they are one, else
 * the first in /proc/self/mountinfo. */
static int find_cgroup2(char *out, size_t len)
{
	static const char *const usual[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	for (size_t i = 0; i < ARRAY_SIZE(usual); i++) {
		struct statfs sf;
		if (statfs(usual[i], &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC) {
			snprintf(out, len, "%s", usual[i]);
			return 0;
		}
	}
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -1;
	char line[4096];
	bool found = false;
	while (fgets(line, sizeof(line), f)) {
		/* id parent major:minor root mountpoint opts... - fstype source superopts */
		char mnt[2048], fstype[64];
		const char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %*s %2047s", mnt) != 1 ||
		    sscanf(dash + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		snprintf(out, len, "%s", mnt);
		found = true;
		break;
	}
	fclose(f);
	return found ? 0 : -1;
}

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	int e = n < 0 ? -errno : (size_t)n != len ? -EIO : 0;
	if (close(fd) < 0 && !e)
		e = -errno;
	return e;
}

static bool controller_listed(const char *file, const char *ctrl)
{
	char buf[512];
	if (read_small_file(file, buf, sizeof(buf)) < 0)
		return false;
	size_t cl = strlen(ctrl);
	for (char *w = strtok(buf, " \n"); w; w = strtok(NULL, " \n"))
		if (strlen(w) == cl && !strcmp(w, ctrl))
			return true;
	return false;
}

static int enable(struct jail_cgroup_state *cg, const char *dir, const char *ctrl)
{
	char path[PATH_MAX], val[32];
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	if (controller_listed(path, ctrl))
		return 0;
	snprintf(val, sizeof(val), "+%s", ctrl);
	int r = write_file(path, val);
	if (r < 0)
		jail_fail(cg->jail, "cgroup: enabling the %s controller in %s: %s", ctrl, dir,
			  strerror(-r));
	return r;
}

int jail_cgroup_create(struct jail *j, struct jail_cgroup_state *cg)
{
	const struct jail_opts *o = j->opts;
	memset(cg, 0, sizeof(*cg));
	cg->jail = j;
	cg->root_fd = -1;
	if (find_cgroup2(cg->root, sizeof(cg->root))) {
		/* No cgroup2 mounted (e.g. a minimal init): mount it where it belongs. */
		snprintf(cg->root, sizeof(cg->root), "/sys/fs/cgroup");
		if (mount("cgroup2", cg->root, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
			jail_fail(j, "cgroup: no cgroup2 file system mounted, and mounting one on %s: %s",
				  cg->root, strerror(errno));
			return -1;
		}
	}
	cg->root_fd = open(cg->root, O_DIRECTORY | O_PATH | O_CLOEXEC);
	if (cg->root_fd < 0) {
		jail_fail(j, "cgroup: %s: %s", cg->root, strerror(errno));
		return -1;
	}
	/* Where the jailer is now ("0::/path"), to go back if the jail fails
	 * after it moved itself (--exec-in-place; a child is born there). */
	snprintf(cg->orig, sizeof(cg->orig), ".");
	FILE *f = o->exec_in_place ? fopen("/proc/self/cgroup", "re") : NULL;
	char line[PATH_MAX + 8];
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::/", 4)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(cg->orig, sizeof(cg->orig), ".%s", line + 3);
		}
	if (f)
		fclose(f);
	/* Controllers: available at the root, enabled on the way down. */
	char ctl[PATH_MAX];
	snprintf(ctl, sizeof(ctl), "%s/cgroup.controllers", cg->root);
	for (unsigned i = 0; i < o->ncgroups; i++) {
		if (!controller_listed(ctl, o->cgroups[i].controller)) {
			jail_fail(j, "--cgroup %s: the %s controller is not available in the cgroup v2 "
				     "hierarchy at %s (bound to cgroup v1?)", o->cgroups[i].file,
				  o->cgroups[i].controller, cg->root);
			return -1;
		}
	}
	snprintf(cg->parent, sizeof(cg->parent), "%s/ember", cg->root);
	if (mkdir(cg->parent, 0755) < 0 && errno != EEXIST) {
		jail_fail(j, "cgroup: creating %s: %s", cg->parent, strerror(errno));
		return -1;
	}
	snprintf(cg->path, sizeof(cg->path), "%s/%s", cg->parent, o->id);
	if (mkdir(cg->path, 0755) < 0) {
		if (errno == EEXIST)
			jail_fail(j, "cgroup %s already exists (VM id in use?)", cg->path);
		else
			jail_fail(j, "cgroup: creating %s: %s", cg->path, strerror(errno));
		return -1;
	}
	cg->created = true;
	for (unsigned i = 0; i < o->ncgroups; i++) {
		const char *c = o->cgroups[i].controller;
		if (enable(cg, cg->root, c) || enable(cg, cg->parent, c))
			return -1;
	}
	for (unsigned i = 0; i < o->ncgroups; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", cg->path, o->cgroups[i].file);
		int r = write_file(path, o->cgroups[i].value);
		if (r < 0) {
			jail_fail(j, "--cgroup %s=%s: %s", o->cgroups[i].file, o->cgroups[i].value,
				  r == -ENOENT ? "no such file in the VM's cgroup" : strerror(-r));
			return -1;
		}
	}
	return 0;
}

/* Write "0" (the writer itself, whatever its PID namespace) to DIR/cgroup.procs
 * of the hierarchy at root_fd. */
static int move_self(int root_fd, const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int fd = openat(root_fd, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = write(fd, "0", 1) == 1 ? 0 : -errno;
	close(fd);
	return r;
}

int jail_cgroup_join(struct jail_cgroup_state *cg)
{
	char rel[PATH_MAX];
	snprintf(rel, sizeof(rel), "ember/%s", cg->jail->opts->id);
	int r = move_self(cg->root_fd, rel);
	if (r < 0)
		return jail_fail(cg->jail, "cgroup: joining %s: %s", cg->path, strerror(-r));
	cg->joined = true;
	return 0;
}

void jail_cgroup_remove(struct jail_cgroup_state *cg)
{
	if (cg->joined)
		move_self(cg->root_fd, cg->orig);
	cg->joined = false;
	if (cg->created) {
		char rel[PATH_MAX];
		snprintf(rel, sizeof(rel), "ember/%s", cg->jail->opts->id);
		unlinkat(cg->root_fd, rel, AT_REMOVEDIR);
	}
	cg->created = false;
}
