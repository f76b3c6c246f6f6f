/* enter.c: the last steps before ember runs: resource limits, pivot_root into
 * the jail (in the jailer's own mount namespace), closing inherited file
 * descriptors, and dropping to UID:GID with no supplementary groups, no
 * capabilities (effective, permitted, inheritable, ambient, bounding) and
 * no_new_privs. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <grp.h>

#include "jailer/jailer.h"

int jail_set_rlimits(struct jail *j)
{
	const struct jail_opts *o = j->opts;
	for (unsigned i = 0; i < o->nrlimits; i++) {
		const struct jail_rlimit *l = &o->rlimits[i];
		rlim_t v = l->value == UINT64_MAX ? RLIM_INFINITY : (rlim_t)l->value;
		struct rlimit rl = {v, v};
		if (setrlimit(l->resource, &rl) < 0)
			return jail_fail(j, "--resource-limit %s=%llu: %s", l->name,
					 (unsigned long long)l->value, strerror(errno));
	}
	return 0;
}

int jail_enter(struct jail *j)
{
	/* pivot_root wants the new root to be a mount point. */
	if (mount(j->root, j->root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return jail_fail(j, "bind-mounting the jail's root: %s", strerror(errno));
	if (mount(NULL, j->root, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID, NULL) < 0)
		return jail_fail(j, "remounting the jail's root nosuid: %s", strerror(errno));
	if (chdir(j->root) < 0)
		return jail_fail(j, "chdir %s: %s", j->root, strerror(errno));
	/* The old root ends up stacked under the new one at "."; detach it. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return jail_fail(j, "pivot_root into %s: %s", j->root, strerror(errno));
	j->entered = true;
	if (umount2(".", MNT_DETACH) < 0)
		return jail_fail(j, "detaching the old root: %s", strerror(errno));
	if (chdir("/") < 0)
		return jail_fail(j, "chdir /: %s", strerror(errno));
	return 0;
}

/* The highest fd a process can hold (fs.nr_open's default): the fds
 * inherited from the caller may lie above the jail's RLIMIT_NOFILE. */
#define FD_MAX ((1u << 20) - 1)

/* Close fds lo..hi: close_range (5.9+), or one by one before it. */
static void close_between(unsigned lo, unsigned hi)
{
	if (lo > hi || syscall(SYS_close_range, lo, hi, 0u) == 0)
		return;
	for (unsigned fd = lo; fd <= hi && fd <= FD_MAX; fd++)
		close((int)fd);
}

void jail_close_fds(int keep)
{
	if (keep >= 3) {
		close_between(3, (unsigned)keep - 1);
		close_between((unsigned)keep + 1, ~0u);
	} else {
		close_between(3, ~0u);
	}
}

int jail_drop_privileges(struct jail *j)
{
	const struct jail_opts *o = j->opts;
	/* The bounding set first (that needs CAP_SETPCAP), then the ambient set. */
	/* Capabilities are numbered from 0 up: EINVAL means past the kernel's last. */
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL && cap > 0)
				break;
			return jail_fail(j, "dropping capability %d from the bounding set: %s", cap,
					 strerror(errno));
		}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return jail_fail(j, "clearing ambient capabilities: %s", strerror(errno));
	if (setgroups(0, NULL) < 0)
		return jail_fail(j, "setgroups: %s", strerror(errno));
	if (setresgid(o->gid, o->gid, o->gid) < 0)
		return jail_fail(j, "setresgid %u: %s", o->gid, strerror(errno));
	if (setresuid(o->uid, o->uid, o->uid) < 0)
		return jail_fail(j, "setresuid %u: %s", o->uid, strerror(errno));
	/* A non-zero uid lost its capabilities in setresuid; uid 0 has to drop
	 * them explicitly (and keeps none over exec: the bounding set is empty). */
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return jail_fail(j, "capset: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return jail_fail(j, "no_new_privs: %s", strerror(errno));
	return 0;
}
