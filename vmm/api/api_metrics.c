/* api_metrics.c: the API's counters as Firecracker's api_server,
 * get_api_requests, put_api_requests and patch_api_requests groups
 * (api_metrics.h). */
#include "vmm/api/api_metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "vmm/lib/util.h"

enum { SRV_START_US, SRV_START_CPU_US, SRV_SYNC_RESPONSE_FAILS, SRV_SYNC_SEND_TIMEOUTS, SRV_N };
static const char *const server_names[SRV_N] = {
	"process_startup_time_us", "process_startup_time_cpu_us", "sync_response_fails",
	"sync_vmm_send_timeout_count",
};

/* Firecracker's fields, in its order. */
static const char *const get_names[] = {
	"instance_info_count", "instance_info_fails", "machine_cfg_count", "machine_cfg_fails",
	"mmds_count", "vmm_version_count", "hotplug_memory_count",
};
static const char *const put_names[] = {
	"actions_count", "actions_fails", "boot_source_count", "boot_source_fails",
	"drive_count", "drive_fails", "logger_count", "logger_fails",
	"machine_cfg_count", "machine_cfg_fails", "cpu_cfg_count", "cpu_cfg_fails",
	"metrics_count", "metrics_fails", "network_count", "network_fails",
	"mmds_count", "mmds_fails", "vsock_count", "vsock_fails",
	"pmem_count", "pmem_fails", "serial_count", "serial_fails",
	"hotplug_memory_count", "hotplug_memory_fails",
};
static const char *const patch_names[] = {
	"drive_count", "drive_fails", "network_count", "network_fails",
	"machine_cfg_count", "machine_cfg_fails", "mmds_count", "mmds_fails",
	"hotplug_memory_count", "hotplug_memory_fails",
};

/* An endpoint: its method, the first part of its path ("" for "/"; a "/"
 * in it: the path starts with all of it), and where its counters are. */
struct endpoint {
	enum http_method method;
	const char *first;
	const char *count;   /* the name of its _count field */
	bool fails;          /* its _fails field follows */
};
static const struct endpoint endpoints[] = {
	{HTTP_GET, "", "instance_info_count", true},
	{HTTP_GET, "machine-config", "machine_cfg_count", true},
	{HTTP_GET, "mmds", "mmds_count", false},
	{HTTP_GET, "version", "vmm_version_count", false},
	{HTTP_GET, "hotplug/memory", "hotplug_memory_count", false},
	{HTTP_PUT, "actions", "actions_count", true},
	{HTTP_PUT, "boot-source", "boot_source_count", true},
	{HTTP_PUT, "drives", "drive_count", true},
	{HTTP_PUT, "logger", "logger_count", true},
	{HTTP_PUT, "machine-config", "machine_cfg_count", true},
	{HTTP_PUT, "cpu-config", "cpu_cfg_count", true},
	{HTTP_PUT, "metrics", "metrics_count", true},
	{HTTP_PUT, "network-interfaces", "network_count", true},
	{HTTP_PUT, "mmds", "mmds_count", true},
	{HTTP_PUT, "vsock", "vsock_count", true},
	{HTTP_PUT, "pmem", "pmem_count", true},
	{HTTP_PUT, "serial", "serial_count", true},
	{HTTP_PUT, "hotplug/memory", "hotplug_memory_count", true},
	{HTTP_PATCH, "drives", "drive_count", true},
	{HTTP_PATCH, "network-interfaces", "network_count", true},
	{HTTP_PATCH, "machine-config", "machine_cfg_count", true},
	{HTTP_PATCH, "mmds", "mmds_count", true},
	{HTTP_PATCH, "hotplug/memory", "hotplug_memory_count", true},
};

static atomic_uint_fast64_t server[SRV_N];
static atomic_uint_fast64_t get_counts[ARRAY_SIZE(get_names)];
static atomic_uint_fast64_t put_counts[ARRAY_SIZE(put_names)];
static atomic_uint_fast64_t patch_counts[ARRAY_SIZE(patch_names)];
static atomic_uint_fast64_t start_ns; /* 0: not known */

void api_metrics_process_start(uint64_t mono_ns)
{
	atomic_store(&start_ns, mono_ns);
}

void api_metrics_serving(void)
{
	uint64_t t0 = atomic_load(&start_ns);
	struct timespec cpu;
	if (!t0 || atomic_load(&server[SRV_START_US]) ||
	    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) < 0)
		return;
	uint64_t now = now_ns();
	uint64_t us = now > t0 ? (now - t0) / 1000 : 0;
	atomic_store(&server[SRV_START_CPU_US],
		     (uint64_t)cpu.tv_sec * 1000000 + (uint64_t)cpu.tv_nsec / 1000);
	atomic_store(&server[SRV_START_US], us ? us : 1); /* 1 us at least: it was measured */
}

void api_metrics_sync_unsent(void)
{
	atomic_fetch_add_explicit(&server[SRV_SYNC_SEND_TIMEOUTS], 1, memory_order_relaxed);
}

void api_metrics_sync_unanswered(void)
{
	atomic_fetch_add_explicit(&server[SRV_SYNC_RESPONSE_FAILS], 1, memory_order_relaxed);
}

/* Does path ("/drives/x") start with the endpoint's first part ("drives")? */
static bool path_is(const char *path, const char *first)
{
	if (*path++ != '/')
		return false;
	size_t n = strlen(first);
	return strncmp(path, first, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

void api_metrics_request(enum http_method method, const char *path, unsigned status)
{
	atomic_uint_fast64_t *counts;
	const char *const *names;
	size_t n;
	switch (method) {
	case HTTP_GET:
		counts = get_counts, names = get_names, n = ARRAY_SIZE(get_names);
		break;
	case HTTP_PUT:
		counts = put_counts, names = put_names, n = ARRAY_SIZE(put_names);
		break;
	case HTTP_PATCH:
		counts = patch_counts, names = patch_names, n = ARRAY_SIZE(patch_names);
		break;
	default:
		return;
	}
	for (size_t e = 0; e < ARRAY_SIZE(endpoints); e++) {
		const struct endpoint *ep = &endpoints[e];
		if (ep->method != method || !path_is(path, ep->first))
			continue;
		for (size_t k = 0; k < n; k++) {
			if (strcmp(names[k], ep->count) != 0)
				continue;
			atomic_fetch_add_explicit(&counts[k], 1, memory_order_relaxed);
			if (ep->fails && status >= 400 && k + 1 < n)
				atomic_fetch_add_explicit(&counts[k + 1], 1, memory_order_relaxed);
			return;
		}
	}
}

static void fill(struct metrics_sample *s, unsigned slot, const char *group,
		 const char *const *names, unsigned n, atomic_uint_fast64_t *counts)
{
	memset(s, 0, sizeof(*s));
	s->slot = slot;
	s->group = group;
	s->names = names;
	s->n = n;
	for (unsigned k = 0; k < n; k++)
		s->total[k] = atomic_load_explicit(&counts[k], memory_order_relaxed);
}

void api_metrics(struct metrics_sample *s, unsigned slot)
{
	fill(&s[0], slot, "api_server", server_names, SRV_N, server);
	s[0].stored = METRICS_STORED(SRV_START_US) | METRICS_STORED(SRV_START_CPU_US);
	fill(&s[1], slot + 1, "get_api_requests", get_names, ARRAY_SIZE(get_names), get_counts);
	fill(&s[2], slot + 2, "put_api_requests", put_names, ARRAY_SIZE(put_names), put_counts);
	fill(&s[3], slot + 3, "patch_api_requests", patch_names, ARRAY_SIZE(patch_names),
	     patch_counts);
}
