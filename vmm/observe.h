/* observe.h: Firecracker's log file and metrics for one ember process: opens
 * the files that --log-path/--metrics-path, the config file's "logger" and
 * "metrics" or PUT /logger and PUT /metrics name (main thread, before the
 * seccomp filters), and writes a metrics line on each flush: every 60 s
 * while the VM runs (a timerfd in the main loop), on FlushMetrics, at exit. */
#ifndef EMBER_OBSERVE_H
#define EMBER_OBSERVE_H

#include <stdbool.h>

#include "vmm/api/fc_config.h"
#include "vmm/core/metrics.h"
#include "vmm/core/vm.h"

#define OBSERVE_PERIOD_S 60

struct observe {
	const char *id;           /* the instance id in log lines */
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

#endif
