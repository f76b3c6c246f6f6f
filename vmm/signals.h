/* signals.h: the signals ember counts and the ones it dies of, as
 * Firecracker's "signals" metrics group (and the "vmm" group's panic_count):
 *
 *  - SIGPIPE: counted (sigpipe), nothing else: the write that raised it
 *    fails with EPIPE, as when it was ignored.
 *  - SIGHUP: the main loop's signalfd takes it and stops the VM (status
 *    129); signals_hup() counts it (sighup).
 *  - SIGBUS, SIGSEGV, SIGILL, SIGXFSZ, SIGXCPU, SIGFPE, and SIGABRT (what
 *    abort() raises: ember's panic): fatal, on whichever thread they hit.
 *    The handler, async-signal-safe, counts the signal, restores the
 *    terminal (on the main thread, whose filter allows it, or on any with
 *    --seccomp off), writes
 *	ember: thread vcpu0 got SIGBUS (signal 7, code 2): ember exits
 *    on stderr and in the log file, the metrics line
 *	{"utc_timestamp_ms":N,"signals":{"sigbus":1}}
 *    ({"vmm":{"panic_count":1}} for SIGABRT; SIGFPE has no counter) to the
 *    metrics file if one is open, and then dies of the signal itself, so
 *    the exit status is the signal's (128 + N). Every seccomp filter lets a
 *    thread send its own process these signals.
 *
 *	signals_install()                  main, before any thread starts
 *	signals_metrics(&sample, slot)     the "signals" group
 */
#ifndef EMBER_SIGNALS_H
#define EMBER_SIGNALS_H

#include <stdint.h>

#include "vmm/core/metrics.h"

/* The handlers above (SIGPIPE's and the fatal ones). 0, or -1 (errno). */
int signals_install(void);
/* A SIGHUP was taken (the main loop's signalfd). */
void signals_hup(void);
/* Firecracker's "signals" group: sigbus, sigsegv, sigxfsz, sigxcpu, sigpipe,
 * sighup, sigill (all but sigpipe stored values, as Firecracker's). */
void signals_metrics(struct metrics_sample *s, unsigned slot);
/* How often abort() was called (SIGABRT): the "vmm" group's panic_count. */
uint64_t signals_panics(void);

#endif
