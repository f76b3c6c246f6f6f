/* fc_config.h: Firecracker's JSON configuration and struct vm_config, both
 * ways: the API's bodies (PUT /boot-source, PUT and PATCH /machine-config,
 * PUT /drives/ID, PUT /network-interfaces/ID, PUT /logger, PUT /metrics),
 * the config file (--config-file: the same bodies under "boot-source",
 * "drives", ...), and the config-file form back for GET /vm/config and
 * GET /machine-config. Firecracker's keys and values, so that tools made for
 * Firecracker drive ember unchanged; what ember does not have is refused with
 * one line saying so (the API answers it as a 400 fault message).
 *
 * Every function that applies JSON validates all of it first and changes
 * nothing when it refuses: a refusal leaves the configuration as it was.
 *
 * How Firecracker's fields map onto ember's (see README, "Firecracker's JSON"):
 *  - boot_args REPLACES the kernel command line (Firecracker's semantics):
 *    vm.cmdline with vm.cmdline_replaces_default; without boot_args ember's
 *    default (CMDLINE_DEFAULT) stays.
 *  - is_root_device: the root drive is disks[0] (/dev/vda; a new root drive
 *    goes first, a drive made root swaps with the first, as Firecracker
 *    does), and the kernel command line gets "root=/dev/vda" (or
 *    "root=PARTUUID=..." with partuuid) and "ro" or "rw" after boot_args.
 *  - cache_type "Writeback": flushes reach the disk, which ember always does;
 *    "Unsafe" is accepted too (ember still honours flushes). io_engine "Sync"
 *    and "Async": ember always uses io_uring. Both are kept for GET.
 *  - guest_mac must be unicast; mtu is ember's --net mtu=.
 *  - Unknown keys are refused everywhere (Firecracker ignores unknown
 *    top-level keys of a config file and of a metrics body). */
#ifndef EMBER_FC_CONFIG_H
#define EMBER_FC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/config.h"
#include "vmm/core/rate_limiter.h"
#include "vmm/lib/util.h"

#define FC_CONFIG_FILE_MAX (1u << 20) /* a config file's bytes, at most */
#define FC_PATH_MAX 4096              /* a path's bytes, NUL included */
#define FC_MODULE_MAX 256             /* the logger's module filter, NUL included */

/* The same values as enum log_level (vmm/lib/log.h). */
enum fc_log_level {
	FC_LOG_OFF = LOG_OFF, FC_LOG_TRACE = LOG_TRACE, FC_LOG_DEBUG = LOG_DEBUG,
	FC_LOG_INFO = LOG_INFO, FC_LOG_WARN = LOG_WARN, FC_LOG_ERROR = LOG_ERROR
};

/* PUT /logger and PUT /metrics (and --log-path, --level, --metrics-path),
 * which vmm/observe.c opens and writes. Empty strings: not given. */
struct fc_observe {
	bool logger_set;                  /* a PUT /logger was accepted */
	char log_path[FC_PATH_MAX];       /* "": ember's own stderr */
	enum fc_log_level level;          /* default FC_LOG_INFO */
	bool show_level, show_log_origin;
	char module[FC_MODULE_MAX];       /* "": every module */
	bool metrics_set;                 /* a PUT /metrics was accepted (once only) */
	char metrics_path[FC_PATH_MAX];
	bool emit_id;
};

/* Firecracker's drive fields that ember's disks do not need, kept for GET;
 * drives[i] goes with vm.disks[i]. */
struct fc_drive {
	char partuuid[VM_PARTUUID_MAX + 1]; /* "": none */
	bool writeback;                     /* cache_type "Writeback" (else "Unsafe") */
	bool async;                         /* io_engine "Async" (else "Sync") */
};

/* A configuration filled from JSON, and the owner of its strings: vm.kernel,
 * vm.initrd and vm.cmdline point at copies held here (kernel, initrd,
 * cmdline), which live until fc_config_free or until a later body replaces
 * them. vm.guest_argv stays empty (the API has no guest command). */
struct fc_config {
	struct vm_config vm;
	struct fc_drive drives[VM_MAX_DISKS];
	struct fc_observe observe;
	char *kernel, *initrd, *cmdline;
};

/* vm_config_defaults, no boot source, no devices, logger and metrics unset. */
void fc_config_init(struct fc_config *fc);
/* Free the strings; fc is then as after fc_config_init. */
void fc_config_free(struct fc_config *fc);

/* The API's bodies: len bytes of JSON (a NUL is not needed). Each returns 0,
 * or -1 with one line in err and fc unchanged. id: the {drive_id} or
 * {iface_id} of the request's path, which the body's must equal. */
int fc_put_boot_source(struct fc_config *fc, const char *body, size_t len, struct errbuf *err);
int fc_put_machine_config(struct fc_config *fc, const char *body, size_t len, struct errbuf *err);
int fc_patch_machine_config(struct fc_config *fc, const char *body, size_t len, struct errbuf *err);
int fc_put_drive(struct fc_config *fc, const char *id, const char *body, size_t len,
		 struct errbuf *err);
int fc_put_network_interface(struct fc_config *fc, const char *id, const char *body, size_t len,
			     struct errbuf *err);
int fc_put_logger(struct fc_config *fc, const char *body, size_t len, struct errbuf *err);
/* PATCH /drives/ID (after the start): drive_id (equal to id), path_on_host
 * (a new image), rate_limiter (the buckets it gives replace the drive's).
 * The new path into path (FC_PATH_MAX bytes; "" when not given), the
 * limits into limits. fc (NULL: a command-line VM, checked by the caller)
 * must have a drive id. 0, or -1 with one line in err. fc is not changed:
 * fc_set_drive_path and fc_set_drive_limits record what the drive took, in
 * the configuration the VM runs (fc's, or the command line's). */
int fc_patch_drive(struct fc_config *fc, const char *id, const char *body, size_t len,
		   char *path, struct rl_update *limits, struct errbuf *err);
void fc_set_drive_path(struct vm_config *vm, const char *id, const char *path);
void fc_set_drive_limits(struct vm_config *vm, const char *id, const struct rl_update *u);
/* PATCH /network-interfaces/ID (after the start): iface_id, rx_rate_limiter
 * and tx_rate_limiter into limits[0] and [1]; as fc_patch_drive. */
int fc_patch_network_interface(struct fc_config *fc, const char *id, const char *body,
			       size_t len, struct rl_update limits[2], struct errbuf *err);
void fc_set_net_limits(struct vm_config *vm, const char *id, const struct rl_update limits[2]);
int fc_put_metrics(struct fc_config *fc, const char *body, size_t len, struct errbuf *err);

/* What ember does not have, by design or not yet: for an API path
 * ("/vsock", "/balloon/statistics", "/mmds/config", ...) or a config-file key
 * ("vsock", "mmds-config", ...), the one-line refusal ("ember has no vsock
 * devices"); NULL for anything else. */
const char *fc_unsupported(const char *path_or_key);

/* A whole config file (len bytes of JSON, at most FC_CONFIG_FILE_MAX): into
 * fc, which is replaced only when all of it is accepted (0); else -1 with one
 * line naming the key at fault and fc unchanged. "boot-source" is required. */
int fc_config_file_parse(struct fc_config *fc, const char *text, size_t len, struct errbuf *err);
/* The same from the file at path (larger files are refused before reading). */
int fc_config_file_load(struct fc_config *fc, const char *path, struct errbuf *err);

/* GET /vm/config: the configuration in Firecracker's config-file form (what
 * Firecracker does not have, as null or []), as a malloc'd string the caller
 * frees; NULL when out of memory or a path is not UTF-8. drives and
 * observe may be NULL (a
 * configuration from the command line): defaults. Ids of a configuration
 * from the command line are the devices' names ("vda", "net0"), as in
 * the metrics and PATCH /drives, and its --cmdline is
 * shown with ember's default in front, as the kernel gets it. */
char *fc_vm_config_json(const struct vm_config *vm, const struct fc_drive *drives,
			const struct fc_observe *observe);
char *fc_config_json(const struct fc_config *fc);
/* GET /machine-config. */
char *fc_machine_config_json(const struct vm_config *vm);

/* Whether two configurations are the same (strings by value). */
bool fc_config_equal(const struct fc_config *a, const struct fc_config *b);

#endif
