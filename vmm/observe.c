/* observe.c: the log file and the metrics file (observe.h). */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vmm/lib/sigsafe.h"
#include "vmm/observe.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "0.1.0"
#endif

/* Slots of the sources that are not devices (after the devices'). */
#define SLOT_VCPU DEVICE_LIST_MAX
#define SLOT_LOGGER (DEVICE_LIST_MAX + 1)

static uint64_t metrics_failed;

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
	static const char *const logger_names[] = {"missed_log_count", "missed_metrics_count"};
	static struct metrics_sample s[DEVICE_LIST_MAX + 2];
	if (o->metrics_fd < 0)
		return -1;
	unsigned n = vm ? device_list_metrics(&vm->devices, s) : 0;
	vm_metrics(vm, &s[n++], SLOT_VCPU);
	struct metrics_sample *lg = &s[n++];
	memset(lg, 0, sizeof(*lg));
	*lg = (struct metrics_sample){.slot = SLOT_LOGGER, .group = "logger", .names = logger_names,
				      .n = 2, .total = {log_missed(), metrics_failed}};
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
