/* cli.h: ember's command-line options. A table of options drives parsing and
 * --help, so devices (--disk, --net, --vfio) are one entry each. */
#ifndef EMBER_CLI_H
#define EMBER_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include "vmm/api/fc_config.h"
#include "vmm/config.h"
#include "vmm/lib/util.h"

/* What the command line asks for: a VM, or help or the version; and the
 * control plane (the API socket, a Firecracker config file). */
struct ember_opts {
	struct vm_config vm;
	const char *api_sock;     /* --api-sock PATH */
	const char *config_file;  /* --config-file PATH */
	bool no_api;              /* --no-api */
	const char *id;           /* --id ID (default "anonymous-instance") */
	/* Firecracker's logger and metrics flags */
	const char *log_path;     /* --log-path PATH */
	enum log_level level;     /* --level LEVEL, when level_set */
	bool level_set;
	const char *metrics_path; /* --metrics-path PATH */
	/* restoring a snapshot instead of booting */
	const char *restore;      /* --restore STATE */
	const char *mem_file;     /* --mem-file MEM */
	struct {
		const char *id, *tap;
	} net_override[VM_MAX_NETS]; /* --net-override ID=TAP */
	unsigned n_net_override;
	char net_override_buf[VM_MAX_NETS][VM_ID_MAX + 1];
	bool fill_kernel_cache;   /* --fill-kernel-cache: load into scratch RAM, keep, exit */
	bool help, version;
};

#define EMBER_ID_MAX 64

/* Parse argv into o (o->vm starts from vm_config_defaults). Returns 0, or -1 with one line in err. */
int cli_parse(int argc, char **argv, struct ember_opts *o, struct errbuf *err);
void cli_usage(FILE *f);
/* The logger and metrics flags into ob, for what ob (a config file's
 * "logger", "metrics") does not already say. */
void cli_observe(const struct ember_opts *o, struct fc_observe *ob);

#endif
