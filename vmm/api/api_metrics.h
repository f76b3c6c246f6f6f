/* api_metrics.h: the API's counters for the metrics line, as Firecracker's
 * groups:
 *   "api_server": process_startup_time_us and process_startup_time_cpu_us
 *     (stored: from the process's start to the API thread serving its
 *     socket, wall-clock from main()'s first line, CPU time the process's
 *     own, which counts from its exec), sync_response_fails (requests for
 *     the main thread that it took or was sent but never answered: it was
 *     on its way out) and sync_vmm_send_timeout_count (requests that could
 *     not be handed to it any more);
 *   "get_api_requests", "put_api_requests", "patch_api_requests": for each
 *     endpoint Firecracker counts, *_count is every request to it (by its
 *     path's first part: "/drives/x" is drive) and *_fails those answered
 *     with an error (4xx, 5xx). Endpoints ember refuses (vsock, mmds, ...)
 *     count too: a request to them is answered with a 400.
 * One set for the process; any thread adds (relaxed atomics), the main
 * thread reads.
 *
 *	api_metrics_process_start(now_ns())       main, first thing
 *	api_metrics_serving()                     the API thread, ready to serve
 *	api_metrics_request(method, path, status) after each answer
 *	api_metrics(s, slot)                      the four samples
 */
#ifndef EMBER_API_METRICS_H
#define EMBER_API_METRICS_H

#include <stdint.h>

#include "vmm/api/http.h"
#include "vmm/core/metrics.h"

/* When the process started (CLOCK_MONOTONIC ns, as now_ns()). */
void api_metrics_process_start(uint64_t mono_ns);
/* The API thread is about to serve: the start-up times are measured now
 * (once; nothing without api_metrics_process_start). */
void api_metrics_serving(void);
/* A request was answered with status. */
void api_metrics_request(enum http_method method, const char *path, unsigned status);
/* A request for the main thread was not handed over (it takes no more),
 * or was handed over and not answered. */
void api_metrics_sync_unsent(void);
void api_metrics_sync_unanswered(void);

/* "api_server", "get_api_requests", "put_api_requests",
 * "patch_api_requests" into s[0..3], slots slot..slot+3. */
#define API_METRICS_SAMPLES 4
void api_metrics(struct metrics_sample *s, unsigned slot);

#endif
