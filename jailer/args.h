/* args.h: ember-jailer's command line, and the rewriting of ember's own
 * arguments so the files they name are found inside the jail. Pure functions
 * (no system calls): the unit tests drive them directly. */
#ifndef EMBER_JAILER_ARGS_H
#define EMBER_JAILER_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmm/lib/util.h"
#include "vmm/lib/pci_addr.h"

#define JAIL_ID_MAX 64
#define JAIL_MAX_CGROUPS 32
#define JAIL_MAX_RLIMITS 16
#define JAIL_MAX_FILES 48 /* kernel, initrd, console, log, metrics, config file, 16 disks, the
			   * config file's kernel, initrd, 16 drives, log and metrics, and room */
#define JAIL_DEFAULT_BASE "/srv/jailer"
#define JAIL_DEFAULT_NOFILE 2048
#define JAIL_MAX_VFIO 8
/* With --vfio, RLIMIT_MEMLOCK defaults to the guest's memory plus this: VFIO
 * pins (and counts as locked) all guest memory it maps for DMA. */
#define JAIL_VFIO_MEMLOCK_SLACK_MIB 64
/* --kernel-cache's directory in the jail's root (ember is told to use it). */
#define JAIL_KERNEL_CACHE_NAME "kernel-cache"
#define EMBER_DEFAULT_MEM_MIB 256 /* ember's --mem default (VM_DEFAULT_MEM_MIB in vmm/config.h) */
/* The largest config file ember reads (FC_CONFIG_FILE_MAX in vmm/api/fc_config.h). */
#define JAIL_CONFIG_FILE_MAX (1u << 20)

struct jail_cgroup {
	char *file;        /* "memory.max" (allocated) */
	const char *value; /* "268435456" */
	char controller[16]; /* "memory" */
};

struct jail_rlimit {
	int resource; /* RLIMIT_* */
	const char *name;
	uint64_t value; /* UINT64_MAX: unlimited */
};

struct jail_opts {
	const char *id;
	const char *exec_file;
	uint32_t uid, gid;
	bool have_uid, have_gid;
	const char *chroot_base;
	struct jail_cgroup cgroups[JAIL_MAX_CGROUPS];
	unsigned ncgroups;
	const char *netns;
	const char *kernel_cache; /* a shared kernel cache: this VM's entries, read-only */
	struct jail_rlimit rlimits[JAIL_MAX_RLIMITS]; /* the defaults, then --resource-limit */
	unsigned nrlimits;
	char vfio[JAIL_MAX_VFIO][PCI_BDF_LEN]; /* --vfio, canonical PCI addresses */
	unsigned nvfio;
	bool daemonize, new_pid_ns, exec_in_place, keep_on_failure, help;
	char **ember_argv; /* words after "--" */
	int ember_argc;
};

/* Parse argv (argv[0] is the program). Returns 0, or -1 with one line in err. */
int jail_parse_args(int argc, char **argv, struct jail_opts *o, struct errbuf *err);
void jail_usage(FILE *f);
void jail_opts_free(struct jail_opts *o);

/* ID: 1-64 letters, digits and '-'. */
bool jail_id_valid(const char *id);

struct jail_plan;
/* Add the --vfio devices of ember's arguments (plan) to the jailer's own. */
void jail_vfio_merge(struct jail_opts *o, const struct jail_plan *p);

/* The RLIMIT_MEMLOCK a jail with VFIO devices gets when --resource-limit did
 * not set one: guest memory (ember's --mem) plus the slack. */
void jail_vfio_default_memlock(struct jail_opts *o, uint64_t guest_mem_mib);

/* What a file named in ember's arguments (or in its config file) is for,
 * which says what the jailed ember must be able to do with it: read the
 * kernel and initrd, read (or write) a disk, write the console, log and
 * metrics files (created for it when missing; the log and metrics may be
 * named pipes). JF_CONFIG is --config-file: the jail gets the jailer's
 * rewritten copy (jail_plan.config_json), not the file. */
enum jail_file_kind { JF_KERNEL, JF_INITRD, JF_DISK, JF_CONSOLE, JF_LOG, JF_METRICS, JF_CONFIG,
		      JF_SNAPSHOT /* --restore's state file, --mem-file: read */ };

struct jail_file {
	enum jail_file_kind kind;
	char src[4096];   /* the path as given */
	char name[256];   /* its name in the jail's root directory */
	char what[320];   /* where it was named, for messages: "--kernel ", "--console file:",
			   * "--config-file vm.json: drives[0].path_on_host " */
	bool read_only;   /* kernel, initrd, --disk ...,ro, a read-only drive, a snapshot's files */
};

struct jail_plan {
	struct jail_file files[JAIL_MAX_FILES];
	unsigned nfiles;
	bool needs_tun;  /* --net, --restore: /dev/net/tun in the jail */
	uint64_t mem_mib; /* ember's --mem (its default when absent or bad) */
	char vfio[JAIL_MAX_VFIO][PCI_BDF_LEN]; /* ember's --vfio devices (valid ones) */
	unsigned nvfio;
	char api_dir[256]; /* --api-sock's folder in the jail ("" for /, or none) */
	bool api_sock;   /* ember serves its API in the jail */
	bool kernel_cache; /* ember's arguments name a --kernel-cache */
	int config;      /* --config-file: its entry in files[] (JF_CONFIG), or -1 */
	char *config_json; /* the config file rewritten for the jail (jail_plan_config) */
	size_t config_len;
	const char *exec_name; /* the copied ember's name, which no file may take */
	char **argv;     /* ember's argv: [0] = "/<exec name>", rewritten paths, NULL-terminated */
	int argc;
	char *strings;   /* storage of rewritten words (one allocation) */
};

/* Rewrite ember's arguments for the jail: --kernel, --initrd, --disk PATH[,opts],
 * --console file:PATH, --log-path, --metrics-path, --config-file, --restore
 * and --mem-file (also as --opt=value) get paths in the jail's root; the
 * words after "--" stay as they are. --mem and --vfio are noted (memlock,
 * and the devices' /dev/vfio nodes), --net and --restore (a snapshot may
 * hold NICs) ask for /dev/net/tun, and --api-sock's folder is noted (a path
 * in the jail: absolute, without "..", the folder made for UID:GID).
 * exec_name is the basename of the copied ember binary (so no file takes
 * that name). The config file itself is read later (jail_config_load).
 * Returns 0, or -1 with err. */
int jail_plan_build(char **ember_argv, int ember_argc, const char *exec_name,
		    struct jail_plan *p, struct errbuf *err);
void jail_plan_free(struct jail_plan *p);

/* ember-jailer --kernel-cache: ember is told to use the jail's
 * /kernel-cache (its argv gets "--kernel-cache /kernel-cache" first).
 * Refused (-1, err) when ember's own arguments name a --kernel-cache. */
int jail_plan_kernel_cache(struct jail_plan *p, struct errbuf *err);

/* A file for the jail, as jail_plan_build adds them (used by config.c):
 * named where `flag` says ("--disk", "--config-file vm.json: drives[0].path_on_host"),
 * its name in the jail the source's basename (1-NAME, ... when taken).
 * Returns its entry, or NULL with err. */
struct jail_file *jail_plan_add_file(struct jail_plan *p, enum jail_file_kind kind,
				     const char *src, size_t srclen, bool ro, const char *flag,
				     struct errbuf *err);

/* config.c: ember's --config-file (Firecracker's JSON, jansson). The text of
 * the config file (len bytes): the files it names (boot-source's
 * kernel_image_path and initrd_path, each drive's path_on_host, read-only
 * with is_read_only, logger's log_path, metrics' metrics_path) become files
 * of the plan, and p->config_json the same document with their paths in the
 * jail; network-interfaces ask for /dev/net/tun, machine-config's
 * mem_size_mib sets mem_mib. Everything else is left for ember to check.
 * Returns 0, or -1 with err (no prefix). Pure: no system calls. */
int jail_plan_config(struct jail_plan *p, const char *text, size_t len, struct errbuf *err);
/* Read the --config-file (with the jailer's own rights, at most
 * JAIL_CONFIG_FILE_MAX bytes, as ember reads it) and jail_plan_config it.
 * Nothing to do without --config-file. Returns 0, or -1 with err
 * ("--config-file PATH: ..."). */
int jail_config_load(struct jail_plan *p, struct errbuf *err);

/* The last component of a path ("" for "dir/"). */
const char *jail_basename(const char *path);

#endif
