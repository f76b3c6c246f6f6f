/* observe.c: the log file and the metrics file (observe.h). */
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vmm/api/api_metrics.h"
#include "vmm/core/io_thread.h"
#include "vmm/lib/sigsafe.h"
#include "vmm/observe.h"
#include "vmm/signals.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "0.1.0"
#endif

/* Slots of the sources that are not devices (after the devices'). */
enum {
	SLOT_VCPU = DEVICE_LIST_MAX,
	SLOT_LOGGER,
	SLOT_API,                               /* API_METRICS_SAMPLES of them */
	SLOT_LATENCIES = SLOT_API + API_METRICS_SAMPLES,
	SLOT_SECCOMP,
	SLOT_VMM,
	SLOT_SIGNALS,
	SLOT_END
};
_Static_assert(SLOT_END <= METRICS_SLOTS, "metrics slots");
#define SAMPLES_MAX (DEVICE_LIST_MAX + SLOT_END - SLOT_VCPU)

/* Firecracker's order of the groups (the devices' among the others); a
 * group not named here comes last. */
static const char *const group_order[] = {
	"api_server", "balloon", "block", "get_api_requests", "i8042", "rtc", "uart",
	"latencies_us", "logger", "mmds", "net", "patch_api_requests", "put_api_requests",
	"seccomp", "vcpu", "vmm", "signals",
};

static const char *const latency_names[OBSERVE_LATENCIES] = {
	[OBSERVE_FULL_CREATE_SNAPSHOT] = "full_create_snapshot",
	[OBSERVE_DIFF_CREATE_SNAPSHOT] = "diff_create_snapshot",
	[OBSERVE_LOAD_SNAPSHOT] = "load_snapshot",
	[OBSERVE_PAUSE_VM] = "pause_vm",
	[OBSERVE_RESUME_VM] = "resume_vm",
	[OBSERVE_VMM_FULL_CREATE_SNAPSHOT] = "vmm_full_create_snapshot",
	[OBSERVE_VMM_DIFF_CREATE_SNAPSHOT] = "vmm_diff_create_snapshot",
	[OBSERVE_VMM_LOAD_SNAPSHOT] = "vmm_load_snapshot",
	[OBSERVE_VMM_PAUSE_VM] = "vmm_pause_vm",
	[OBSERVE_VMM_RESUME_VM] = "vmm_resume_vm",
};
static atomic_uint_fast64_t latencies[OBSERVE_LATENCIES]; /* us, the last of each */

static uint64_t metrics_failed;

void observe_latency(enum observe_latency which, uint64_t us)
{
	if (which < OBSERVE_LATENCIES)
		atomic_store_explicit(&latencies[which], us, memory_order_relaxed);
}

/* The samples of the sources that are not devices, from all[n]; the new n. */
static unsigned other_samples(struct observe *o, struct vm *vm, struct metrics_sample *all,
			      unsigned n)
{
	static const char *const logger_names[] = {"missed_log_count", "missed_metrics_count"};
	static const char *const seccomp_names[] = {"num_faults"};
	static const char *const vmm_names[] = {"device_events", "panic_count"};
	vm_metrics(vm, &all[n++], SLOT_VCPU);
	all[n++] = (struct metrics_sample){.slot = SLOT_LOGGER, .group = "logger",
					   .names = logger_names, .n = 2,
					   .total = {log_missed(), metrics_failed}};
	api_metrics(&all[n], SLOT_API);
	n += API_METRICS_SAMPLES;
	struct metrics_sample *l = &all[n++];
	*l = (struct metrics_sample){.slot = SLOT_LATENCIES, .group = "latencies_us",
				     .names = latency_names, .n = OBSERVE_LATENCIES,
				     .stored = (1u << OBSERVE_LATENCIES) - 1};
	for (unsigned k = 0; k < OBSERVE_LATENCIES; k++)
		l->total[k] = atomic_load_explicit(&latencies[k], memory_order_relaxed);
	all[n++] = (struct metrics_sample){.slot = SLOT_SECCOMP, .group = "seccomp",
					   .names = seccomp_names, .n = 1,
					   .total = {seccomp_faults()}, .stored = METRICS_STORED(0)};
	all[n++] = (struct metrics_sample){.slot = SLOT_VMM, .group = "vmm", .names = vmm_names,
					   .n = 2,
					   .total = {io_thread_events() + o->device_events,
						     signals_panics()},
					   .stored = METRICS_STORED(1)};
	signals_metrics(&all[n++], SLOT_SIGNALS);
	return n;
}

/* all[n] into s in group_order (stable: a group's devices keep their
 * order). */
static void order_groups(const struct metrics_sample *all, unsigned n, struct metrics_sample *s)
{
	unsigned out = 0;
	bool taken[SAMPLES_MAX] = {false};
	for (size_t g = 0; g <= ARRAY_SIZE(group_order); g++)
		for (unsigned i = 0; i < n; i++) {
			if (taken[i])
				continue;
			if (g < ARRAY_SIZE(group_order) && strcmp(all[i].group, group_order[g]) != 0)
				continue;
			s[out++] = all[i]; /* the last round takes what is left */
			taken[i] = true;
		}
}

void observe_init(struct observe *o, const char *id)
{
	memset(o, 0, sizeof(*o));
	o->id = id;
	log_set_thread("main");
	o->metrics_fd = -1;
	o->log_fd = -1;
	o->timer_fd = -1;
}

/* The log's or the metrics' file, or -1 with e set. */
static int open_file(const char *path, const char *what, struct errbuf *e)
{
	int fd = log_open_path(path);
	if (fd < 0)
		err_set(e, "cannot open the %s file %s: %s", what, path, strerror(-fd));
	return fd;
}

int observe_open(struct observe *o, const struct fc_observe *ob, struct errbuf *e)
{
	if (ob->logger_set && ob->log_path[0]) {
		bool first = o->log_fd < 0;
		if (first) {
			tzset(); /* local time in log lines: read the zone now, not under the filter */
			if ((o->log_fd = open_file(ob->log_path, "log", e)) < 0)
				return -1;
		}
		/* a later PUT /logger changes the level and flags, not the file */
		log_configure(o->log_fd, (enum log_level)ob->level, ob->show_level,
			      ob->show_log_origin, o->id);
		if (first)
			log_info("Running ember %s", EMBER_VERSION);
	}
	if (ob->metrics_set && ob->metrics_path[0] && o->metrics_fd < 0) {
		if ((o->metrics_fd = open_file(ob->metrics_path, "metrics", e)) < 0)
			return -1;
		sigsafe_set_metrics_fd(o->metrics_fd); /* for the handlers that end ember */
		/* jansson seeds its hash tables from /dev/urandom on first use:
		 * now, not under the main thread's filter */
		json_object_seed(0);
		o->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	}
	return 0;
}

void observe_arm(struct observe *o)
{
	struct itimerspec its = {{OBSERVE_PERIOD_S, 0}, {OBSERVE_PERIOD_S, 0}};
	if (o->timer_fd >= 0)
		timerfd_settime(o->timer_fd, 0, &its, NULL);
}

int observe_flush(struct observe *o, struct vm *vm)
{
	static struct metrics_sample all[SAMPLES_MAX], s[SAMPLES_MAX];
	if (o->metrics_fd < 0)
		return -1;
	unsigned n = vm ? device_list_metrics(&vm->devices, all) : 0;
	n = other_samples(o, vm, all, n);
	order_groups(all, n, s);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char *line = metrics_line(&o->st, s, n,
				  (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	if (!line) {
		metrics_failed++;
		return -1;
	}
	size_t len = strlen(line);
	ssize_t w = write(o->metrics_fd, line, len);
	free(line);
	if (w != (ssize_t)len) {
		metrics_failed++;
		log_warn("cannot write the metrics: %s", w < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

void observe_close(struct observe *o)
{
	sigsafe_set_metrics_fd(-1);
	if (o->metrics_fd >= 0)
		close(o->metrics_fd);
	if (o->timer_fd >= 0)
		close(o->timer_fd);
	o->metrics_fd = o->timer_fd = -1;
}
