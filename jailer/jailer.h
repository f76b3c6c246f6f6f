/* jailer.h: one jail being built: its directories, mounts and cgroup, and
 * the first error (reported as one "ember-jailer: ..." line). */
#ifndef EMBER_JAILER_H
#define EMBER_JAILER_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "jailer/args.h"
#include "vmm/lib/cache_name.h"

#define JAIL_MAX_CACHE_ENTRIES 4 /* a kernel's and an initrd's (ember's options or its config file's) */
#define JAIL_MAX_MOUNTS (JAIL_MAX_FILES + 1 + JAIL_MAX_CACHE_ENTRIES) /* files, root, cache entries */

struct jail;

struct jail_cgroup_state {
	struct jail *jail;
	char root[PATH_MAX];   /* the cgroup2 mount */
	char parent[PATH_MAX]; /* <root>/ember */
	char path[PATH_MAX];   /* <root>/ember/<id> */
	char orig[PATH_MAX];   /* the jailer's own group, relative to root ("./...") */
	int root_fd;           /* the hierarchy (usable after pivot_root) */
	bool created, joined;
};

/* A host file as it was checked: what its path must still lead to. */
struct jail_file_id {
	dev_t dev;
	ino_t ino;
};

struct jail {
	const struct jail_opts *opts;
	struct jail_plan plan;
	char dir[PATH_MAX];  /* <base>/ember/<id> */
	char root[PATH_MAX]; /* <dir>/root */
	bool dir_created;
	int parent_fd;       /* <base>/ember, for removal (also after pivot_root) */
	bool entered;        /* pivot_root done: the jail's root is "/" */
	int exec_fd;         /* the exec file, checked, then copied */
	off_t exec_size;
	const struct jail_file *binds[JAIL_MAX_FILES]; /* files to bind-mount (read-only, or on other file systems) */
	struct jail_file_id bind_ids[JAIL_MAX_FILES]; /* each one as checked */
	unsigned nbinds;
	const char *mounts[JAIL_MAX_MOUNTS]; /* bind-mounted names, unmounted on failure */
	/* --kernel-cache: this VM's entries, as "kernel-cache/NAME" in the jail */
	char cache_mounts[JAIL_MAX_CACHE_ENTRIES][KERNEL_CACHE_NAME_MAX + 16];
	struct jail_file_id cache_ids[JAIL_MAX_CACHE_ENTRIES]; /* each entry as checked */
	unsigned ncache_entries;
	unsigned nmounts;
	const struct jail_file *created[JAIL_MAX_FILES]; /* output files made on the host */
	unsigned ncreated;
	struct jail_cgroup_state cg;
	unsigned vfio_groups[JAIL_MAX_VFIO]; /* the IOMMU groups of --vfio, each once */
	unsigned nvfio_groups;
	char err[512];       /* the first failure */
};

/* main.c: record a failure (the first one wins); returns -1. */
int jail_fail(struct jail *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report the failure, remove what was built; returns the exit status (1). */
int jail_failed(struct jail *j);
/* In the process that becomes ember: its mount namespace and bind mounts, the
 * network namespace, the cgroup (unless born there), rlimits, pivot_root,
 * credentials, exec. keep_fd: the error pipe of a child (-1 in place);
 * keeper_pidfd: the keeper, to die with (-1: none). Returns only on failure
 * (message in j->err). */
void jail_become_ember(struct jail *j, int netns_fd, int keep_fd, int keeper_pidfd);

/* keeper.c: run ember as a child and keep it; returns the exit status. */
int jail_run_child(struct jail *j, int netns_fd);

/* fs.c */
int jail_fs_create(struct jail *j);     /* <base>/ember/<id>/root, refuses an existing one */
int jail_fs_populate(struct jail *j);   /* ember, device nodes, files (linked, or placeholders) */
int jail_fs_bind(struct jail *j);       /* bind mounts over the placeholders, the kernel cache (in ember's mount ns) */
void jail_fs_remove(struct jail *j);    /* unmount and delete what was built */
/* The static ELF check for the exec file. */
int jail_check_exec(struct jail *j);
/* A character device node at rel in the jail like the host's, for UID:GID only (0600). */
int jail_make_node(struct jail *j, const char *host, const char *rel);

/* vfio.c */
int jail_vfio_check(struct jail *j);    /* --vfio devices usable: bound to vfio-pci, group viable and free */
int jail_vfio_populate(struct jail *j); /* /dev/vfio/vfio and the groups' nodes */

/* cgroup.c */
int jail_cgroup_create(struct jail *j, struct jail_cgroup_state *cg);
int jail_cgroup_join(struct jail_cgroup_state *cg);
void jail_cgroup_remove(struct jail_cgroup_state *cg);

/* enter.c: rlimits, pivot_root into the jail, fds, credentials. */
int jail_set_rlimits(struct jail *j);
int jail_enter(struct jail *j);
void jail_close_fds(int keep);
int jail_drop_privileges(struct jail *j);

#endif
