/* test_api_metrics.c: the API's counters (vmm/api/api_metrics.c, fed by
 * api.c and control.c): each request counted under its endpoint by its
 * path's first part, *_fails for answers of 400 and above, what Firecracker
 * does not count left alone; the groups' names, Firecracker's fields and
 * slots; the start-up times measured once, only once the process start is
 * known; a request the main thread never answers (control_close) and one it
 * can no longer take counted as sync_response_fails and
 * sync_vmm_send_timeout_count. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/api/api_metrics.h"
#include "vmm/api/control.h"

static struct metrics_sample s[API_METRICS_SAMPLES];

/* The current total of group's field ("" when there is none: ~0). */
static uint64_t total(const char *group, const char *field)
{
	api_metrics(s, 66);
	for (unsigned g = 0; g < API_METRICS_SAMPLES; g++) {
		if (strcmp(s[g].group, group) != 0)
			continue;
		for (unsigned k = 0; k < s[g].n; k++)
			if (strcmp(s[g].names[k], field) == 0)
				return s[g].total[k];
	}
	return ~0ull;
}

static void groups_and_fields(void)
{
	api_metrics(s, 66);
	static const char *const groups[] = {"api_server", "get_api_requests", "put_api_requests",
					     "patch_api_requests"};
	static const unsigned n[] = {4, 7, 26, 10};
	for (unsigned g = 0; g < API_METRICS_SAMPLES; g++) {
		CHECK_STR_EQ(s[g].group, groups[g]);
		CHECK_EQ(s[g].slot, 66 + g);
		CHECK_EQ(s[g].n, n[g]);
		CHECK_EQ(s[g].id[0], '\0');
		CHECK(s[g].n <= METRICS_COUNTERS_MAX);
	}
	CHECK_EQ(s[0].stored, METRICS_STORED(0) | METRICS_STORED(1)); /* the start-up times */
	CHECK_EQ(s[1].stored | s[2].stored | s[3].stored, 0);
	CHECK_STR_EQ(s[0].names[3], "sync_vmm_send_timeout_count");
	CHECK_STR_EQ(s[2].names[25], "hotplug_memory_fails");
	/* every *_fails follows its *_count */
	for (unsigned g = 1; g < API_METRICS_SAMPLES; g++)
		for (unsigned k = 1; k < s[g].n; k++)
			if (strstr(s[g].names[k], "_fails")) {
				size_t stem = strlen(s[g].names[k]) - strlen("_fails");
				CHECK(strncmp(s[g].names[k - 1], s[g].names[k], stem) == 0);
				CHECK_STR_EQ(s[g].names[k - 1] + stem, "_count");
			}
}

static void requests_counted_by_endpoint(void)
{
	uint64_t info = total("get_api_requests", "instance_info_count");
	uint64_t info_f = total("get_api_requests", "instance_info_fails");
	uint64_t drive = total("put_api_requests", "drive_count");
	uint64_t drive_f = total("put_api_requests", "drive_fails");
	uint64_t vsock_f = total("put_api_requests", "vsock_fails");
	uint64_t pmc = total("patch_api_requests", "machine_cfg_count");
	uint64_t pmc_f = total("patch_api_requests", "machine_cfg_fails");
	uint64_t ver = total("get_api_requests", "vmm_version_count");
	uint64_t hp = total("put_api_requests", "hotplug_memory_count");
	for (int i = 0; i < 5; i++)
		api_metrics_request(HTTP_GET, "/", 200);
	api_metrics_request(HTTP_GET, "/", 400); /* a body with a GET */
	api_metrics_request(HTTP_PUT, "/drives/rootfs", 204);
	api_metrics_request(HTTP_PUT, "/drives/x", 400);
	api_metrics_request(HTTP_PUT, "/drives", 400);
	api_metrics_request(HTTP_PUT, "/drivesx", 400);  /* another path */
	api_metrics_request(HTTP_PUT, "/vsock", 400);    /* ember has none: refused, counted */
	api_metrics_request(HTTP_PATCH, "/machine-config", 204);
	api_metrics_request(HTTP_PATCH, "/machine-config", 500);
	api_metrics_request(HTTP_GET, "/version", 200);
	api_metrics_request(HTTP_PUT, "/hotplug/memory", 400);
	api_metrics_request(HTTP_PUT, "/hotplug", 400);  /* not /hotplug/memory */
	api_metrics_request(HTTP_GET, "/vm/config", 200); /* Firecracker counts no such thing */
	api_metrics_request(HTTP_OTHER, "/", 405);
	CHECK_EQ(total("get_api_requests", "instance_info_count") - info, 6);
	CHECK_EQ(total("get_api_requests", "instance_info_fails") - info_f, 1);
	CHECK_EQ(total("put_api_requests", "drive_count") - drive, 3);
	CHECK_EQ(total("put_api_requests", "drive_fails") - drive_f, 2);
	CHECK_EQ(total("put_api_requests", "vsock_fails") - vsock_f, 1);
	CHECK_EQ(total("patch_api_requests", "machine_cfg_count") - pmc, 2);
	CHECK_EQ(total("patch_api_requests", "machine_cfg_fails") - pmc_f, 1);
	CHECK_EQ(total("get_api_requests", "vmm_version_count") - ver, 1);
	CHECK_EQ(total("put_api_requests", "hotplug_memory_count") - hp, 1);
}

static void startup_times_once(void)
{
	api_metrics_serving(); /* no process start yet: nothing */
	CHECK_EQ(total("api_server", "process_startup_time_us"), 0);
	api_metrics_process_start(now_ns() - 2000000); /* 2 ms ago */
	api_metrics_serving();
	uint64_t us = total("api_server", "process_startup_time_us");
	uint64_t cpu = total("api_server", "process_startup_time_cpu_us");
	CHECK(us >= 2000 && us < 10000000);
	CHECK(cpu > 0);
	usleep(2000);
	api_metrics_serving(); /* measured once */
	CHECK_EQ(total("api_server", "process_startup_time_us"), us);
}

static struct control ctl;
static int call_result = 1;

static void *caller(void *arg)
{
	(void)arg;
	call_result = control_call(&ctl, CONTROL_PAUSE, NULL, NULL, 0);
	return NULL;
}

static void unanswered_and_unsent(void)
{
	uint64_t fails = total("api_server", "sync_response_fails");
	uint64_t unsent = total("api_server", "sync_vmm_send_timeout_count");
	CHECK_EQ(control_init(&ctl), 0);
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, caller, NULL), 0);
	/* wait until the request is posted; the main thread never takes it */
	for (int i = 0; i < 5000; i++) {
		pthread_mutex_lock(&ctl.lock);
		bool waiting = ctl.waiting;
		pthread_mutex_unlock(&ctl.lock);
		if (waiting)
			break;
		usleep(1000);
	}
	control_close(&ctl, "exiting");
	/* counted by the close, before the caller even wakes */
	CHECK_EQ(total("api_server", "sync_response_fails") - fails, 1);
	pthread_join(t, NULL);
	CHECK_EQ(call_result, -1);
	CHECK_EQ(control_call(&ctl, CONTROL_RESUME, NULL, NULL, 0), -1);
	CHECK_EQ(total("api_server", "sync_vmm_send_timeout_count") - unsent, 1);
	CHECK_EQ(total("api_server", "sync_response_fails") - fails, 1);
	control_close(&ctl, "again"); /* nobody waits: nothing counted */
	CHECK_EQ(total("api_server", "sync_response_fails") - fails, 1);
	control_destroy(&ctl);
}

/* A request answered (taken and done) counts nothing. */
static void *answerer(void *arg)
{
	(void)arg;
	enum control_kind kind;
	const void *a;
	for (int i = 0; i < 5000; i++) {
		if (control_take(&ctl, &kind, &a)) {
			control_done(&ctl, 0, NULL);
			return NULL;
		}
		usleep(1000);
	}
	return NULL;
}

static void answered_counts_nothing(void)
{
	uint64_t fails = total("api_server", "sync_response_fails");
	uint64_t unsent = total("api_server", "sync_vmm_send_timeout_count");
	CHECK_EQ(control_init(&ctl), 0);
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, answerer, NULL), 0);
	CHECK_EQ(control_call(&ctl, CONTROL_PAUSE, NULL, NULL, 0), 0);
	pthread_join(t, NULL);
	control_close(&ctl, "exiting");
	CHECK_EQ(total("api_server", "sync_response_fails"), fails);
	CHECK_EQ(total("api_server", "sync_vmm_send_timeout_count"), unsent);
	control_destroy(&ctl);
}

int main(void)
{
	RUN(groups_and_fields);
	RUN(requests_counted_by_endpoint);
	RUN(startup_times_once);
	RUN(unanswered_and_unsent);
	RUN(answered_counts_nothing);
	return check_summary();
}
