/* observe.h: Firecracker's log file and metrics for one ember process: opens
 * the files that --log-path/--metrics-path, the config file's "logger" and
 * "metrics" or PUT /logger and PUT /metrics name (main thread, before the
 * seccomp filters), and writes a metrics line on each flush: when the VM
 * starts, every 60 s while it runs (a timerfd in the main loop), on
 * FlushMetrics, at exit.
 * The line has Firecracker's groups in Firecracker's order: api_server, the
 * drives' block_ID and block, get_api_requests, uart (and the i8042's),
 * latencies_us, logger, the NICs' net_ID and net, patch_api_requests,
 * put_api_requests, seccomp, vcpu, vmm, signals; the devices' groups only
 * once the VM exists. */
#ifndef EMBER_OBSERVE_H
#define EMBER_OBSERVE_H

#include <stdbool.h>

#include "vmm/api/fc_config.h"
#include "vmm/core/metrics.h"
#include "vmm/core/vm.h"

#define OBSERVE_PERIOD_S 60

struct observe {
	const char *id;           /* the instance id in log lines */
	uint64_t device_events;   /* the main thread's own for the devices (console input) */
	int log_fd;               /* the log file (-1: none; its path stays as opened) */
	int metrics_fd;           /* -1: no metrics */
	int timer_fd;             /* every OBSERVE_PERIOD_S once armed; -1: none */
	struct metrics_state st;
};

void observe_init(struct observe *o, const char *id);
/* Open what ob names and is not open yet (main thread, before its filter):
 * the log file with ob's level and flags, the metrics file and its timer.
 * 0, or -1 with the reason in e. */
int observe_open(struct observe *o, const struct fc_observe *ob, struct errbuf *e);
/* Start the 60 s timer (before the main thread's filter). */
void observe_arm(struct observe *o);
/* Write a metrics line (vm NULL: not started). 0, or -1 when there is no
 * metrics file or it could not be written. */
int observe_flush(struct observe *o, struct vm *vm);
void observe_close(struct observe *o);

/* Firecracker's "latencies_us": the last measurement of each, in us (any
 * thread). ember takes Full snapshots only: the Diff ones stay 0. */
enum observe_latency {
	OBSERVE_FULL_CREATE_SNAPSHOT,
	OBSERVE_DIFF_CREATE_SNAPSHOT,
	OBSERVE_LOAD_SNAPSHOT,
	OBSERVE_PAUSE_VM,                 /* PATCH /vm Paused: the request to its answer */
	OBSERVE_RESUME_VM,
	OBSERVE_VMM_FULL_CREATE_SNAPSHOT,
	OBSERVE_VMM_DIFF_CREATE_SNAPSHOT,
	OBSERVE_VMM_LOAD_SNAPSHOT,
	OBSERVE_VMM_PAUSE_VM,             /* vm_pause() on the main thread */
	OBSERVE_VMM_RESUME_VM,
	OBSERVE_LATENCIES
};
void observe_latency(enum observe_latency which, uint64_t us);

#endif
