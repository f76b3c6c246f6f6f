/* api.c: the API's requests, Firecracker's paths, bodies, status codes and
 * fault messages (see api.h); each answer is counted (api_metrics.h). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/api/api.h"
#include "vmm/api/api_metrics.h"
#include "vmm/api/fc_snapshot.h"
#include "vmm/observe.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "0.1.0"
#endif

static const char *const state_names[] = {
	[API_NOT_STARTED] = "Not started", [API_RUNNING] = "Running", [API_PAUSED] = "Paused",
	[API_STARTING] = "Not started", [API_EXITING] = "Not started",
};

static void reply_json(struct api_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void reply_json(struct api_reply *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(r->body, sizeof(r->body), fmt, ap);
	va_end(ap);
	r->status = 200;
	r->len = n < 0 ? 0 : (size_t)n < sizeof(r->body) ? (size_t)n : sizeof(r->body) - 1;
}

/* A malloc'd JSON document (NULL: out of memory) as the 200 body. */
static void reply_doc(struct api_reply *r, char *doc)
{
	if (!doc) {
		api_reply_fault(r, 500, "out of memory");
		return;
	}
	size_t n = strlen(doc);
	if (n >= sizeof(r->body)) {
		api_reply_fault(r, 500, "the answer is larger than %zu bytes", sizeof(r->body));
	} else {
		memcpy(r->body, doc, n);
		r->status = 200;
		r->len = n;
	}
	free(doc);
}

static void reply_ok(struct api_reply *r)
{
	r->status = 204;
	r->len = 0;
}

/* The one string member `key` of a JSON object body, strictly: the object
 * has that key and no other. 0 with *out (into buf), or -1 with a fault. */
static int one_string(const struct http_request *req, const char *key, char *buf, size_t cap,
		      struct api_reply *r)
{
	json_error_t je;
	json_t *j = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		api_reply_fault(r, 400,
				"An error occurred when deserializing the json body of a request: %s.",
				je.text);
		return -1;
	}
	const char *v = NULL;
	int ok = json_unpack_ex(j, &je, JSON_STRICT, "{s:s}", key, &v);
	if (ok == 0)
		snprintf(buf, cap, "%s", v);
	json_decref(j);
	if (ok != 0) {
		api_reply_fault(r, 400,
				"An error occurred when deserializing the json body of a request: %s.",
				je.text);
		return -1;
	}
	return 0;
}

static enum api_state state(const struct api *a)
{
	return (enum api_state)atomic_load(&a->state);
}

static void get_root(struct api *a, struct api_reply *r)
{
	reply_json(r, "{\"id\":\"%s\",\"state\":\"%s\",\"vmm_version\":\"%s\",\"app_name\":\"ember\"}",
		   a->id, state_names[state(a)], EMBER_VERSION);
}

static bool not_started(struct api *a, struct api_reply *r)
{
	if (state(a) != API_NOT_STARTED)
		return false;
	api_reply_fault(r, 400, "The requested operation is not supported before starting the "
			"microVM.");
	return true;
}

static void put_actions(struct api *a, const struct http_request *req, struct api_reply *r)
{
	char action[64];
	if (one_string(req, "action_type", action, sizeof(action), r))
		return;
	log_info("API: PUT /actions %s", action);
	if (strcmp(action, "InstanceStart") == 0) {
		if (state(a) != API_NOT_STARTED) {
			api_reply_fault(r, 400, "The microVM is already running.");
			return;
		}
		char msg[256];
		if (control_call(a->ctl, CONTROL_START, &a->cfg->vm, msg, sizeof(msg)))
			api_reply_fault(r, 400, "Cannot start the microVM: %s", msg);
		else
			reply_ok(r);
	} else if (strcmp(action, "FlushMetrics") == 0) {
		char msg[256];
		if (not_started(a, r)) /* as in Firecracker */
			return;
		if (control_call(a->ctl, CONTROL_FLUSH_METRICS, NULL, msg, sizeof(msg)))
			api_reply_fault(r, 400, "%s", msg);
		else
			reply_ok(r);
	} else if (strcmp(action, "SendCtrlAltDel") == 0) {
		char msg[256];
		if (state(a) == API_NOT_STARTED)
			api_reply_fault(r, 400, "The microVM has not been started.");
		else if (control_call(a->ctl, CONTROL_CTRL_ALT_DEL, NULL, msg, sizeof(msg)))
			api_reply_fault(r, 400, "%s", msg);
		else
			reply_ok(r);
	} else {
		api_reply_fault(r, 400, "An error occurred when deserializing the json body of a "
				"request: unknown action_type '%s'.", action);
	}
}

static void patch_vm(struct api *a, const struct http_request *req, struct api_reply *r)
{
	uint64_t t0 = now_ns();
	char st[64];
	if (one_string(req, "state", st, sizeof(st), r))
		return;
	enum control_kind kind;
	if (strcmp(st, "Paused") == 0)
		kind = CONTROL_PAUSE;
	else if (strcmp(st, "Resumed") == 0)
		kind = CONTROL_RESUME;
	else {
		api_reply_fault(r, 400, "An error occurred when deserializing the json body of a "
				"request: unknown state '%s' (Paused or Resumed).", st);
		return;
	}
	if (state(a) == API_NOT_STARTED) {
		api_reply_fault(r, 400, "The microVM has not been started.");
		return;
	}
	char msg[256];
	if (control_call(a->ctl, kind, NULL, msg, sizeof(msg)))
		api_reply_fault(r, 400, "%s", msg);
	else
		reply_ok(r);
	/* the metrics' latencies_us.pause_vm, resume_vm: from the request to its answer */
	observe_latency(kind == CONTROL_PAUSE ? OBSERVE_PAUSE_VM : OBSERVE_RESUME_VM,
			(now_ns() - t0) / 1000);
}

/* New rate limits for the running device id (n: 1 for a drive, 2 for a
 * NIC's receive and transmit); 0, or -1 with the fault answered. */
static int set_limits(struct api *a, const char *id, const struct rl_update *u, unsigned n,
		      struct api_reply *r)
{
	bool any = false;
	for (unsigned i = 0; i < n; i++)
		any |= u[i].bw_set || u[i].ops_set;
	if (!any)
		return 0;
	struct control_limits cl = {.id = id, .u = u, .n = n};
	char msg[256];
	if (control_call(a->ctl, CONTROL_SET_LIMITS, &cl, msg, sizeof(msg))) {
		api_reply_fault(r, 400, "Cannot update the rate limiters of '%s': %s", id, msg);
		return -1;
	}
	return 0;
}

/* The configuration the running VM was built from, which PATCH requests
 * keep up to date (GET /vm/config and snapshots show it). */
static struct vm_config *running_config(struct api *a)
{
	return a->cli_vm ? a->cli_vm : &a->cfg->vm;
}

/* PATCH /drives/ID: after the start, a new image (path_on_host), which the
 * main thread puts behind the running drive, and new rate limits; the
 * configuration then shows them. */
static void patch_drive(struct api *a, const struct http_request *req, const char *id,
			struct api_reply *r)
{
	if (not_started(a, r))
		return;
	struct errbuf e = {{0}};
	char path[FC_PATH_MAX];
	struct rl_update u;
	if (fc_patch_drive(a->cli_vm ? NULL : a->cfg, id, (const char *)req->body, req->body_len,
			   path, &u, &e)) {
		api_reply_fault(r, 400, "%s", e.msg);
		return;
	}
	if (path[0]) {
		struct control_drive cd = {.id = id, .path = path};
		char msg[256];
		if (control_call(a->ctl, CONTROL_SET_DRIVE, &cd, msg, sizeof(msg))) {
			api_reply_fault(r, 400, "Cannot update the drive '%s': %s", id, msg);
			return;
		}
		fc_set_drive_path(running_config(a), id, path);
	}
	if (set_limits(a, id, &u, 1, r))
		return;
	fc_set_drive_limits(running_config(a), id, &u);
	reply_ok(r);
}

/* PATCH /network-interfaces/ID: after the start, new receive and transmit
 * rate limits. */
static void patch_net(struct api *a, const struct http_request *req, const char *id,
		      struct api_reply *r)
{
	if (not_started(a, r))
		return;
	struct errbuf e = {{0}};
	struct rl_update u[2];
	if (fc_patch_network_interface(a->cli_vm ? NULL : a->cfg, id, (const char *)req->body,
				       req->body_len, u, &e)) {
		api_reply_fault(r, 400, "%s", e.msg);
		return;
	}
	if (set_limits(a, id, u, 2, r))
		return;
	fc_set_net_limits(running_config(a), id, u);
	reply_ok(r);
}

/* PUT /snapshot/create: the paused VM into a state and a memory file. */
static void put_snapshot_create(struct api *a, const struct http_request *req,
				struct api_reply *r)
{
	uint64_t t0 = now_ns();
	if (not_started(a, r))
		return;
	struct errbuf e = {{0}};
	struct fc_snapshot_create c;
	if (fc_snapshot_create_parse((const char *)req->body, req->body_len, &c, &e)) {
		api_reply_fault(r, 400, "%s", e.msg);
		return;
	}
	char msg[256];
	if (control_call(a->ctl, CONTROL_SNAPSHOT_CREATE, &c, msg, sizeof(msg)))
		api_reply_fault(r, 400, "Cannot create the snapshot: %s", msg);
	else
		reply_ok(r);
	observe_latency(OBSERVE_FULL_CREATE_SNAPSHOT, (now_ns() - t0) / 1000);
}

/* PUT /snapshot/load: on a fresh ember, restore a snapshot instead of
 * booting; the VM comes up paused unless resume_vm. */
static void put_snapshot_load(struct api *a, const struct http_request *req, struct api_reply *r)
{
	uint64_t t0 = now_ns();
	if (state(a) != API_NOT_STARTED) {
		api_reply_fault(r, 400, "Loading a microVM snapshot is not allowed after the "
				"microVM started.");
		return;
	}
	const struct vm_config *c = &a->cfg->vm;
	if (c->kernel || c->ndisks || c->nnets || a->cli_vm || a->machine_configured) {
		api_reply_fault(r, 400, "Loading a microVM snapshot is not allowed after configuring "
				"boot-specific resources.");
		return;
	}
	struct errbuf e = {{0}};
	struct fc_snapshot_load l;
	if (fc_snapshot_load_parse((const char *)req->body, req->body_len, &l, &e)) {
		api_reply_fault(r, 400, "%s", e.msg);
		return;
	}
	char msg[256];
	if (control_call(a->ctl, CONTROL_SNAPSHOT_LOAD, &l, msg, sizeof(msg)))
		api_reply_fault(r, 400, "Cannot load the snapshot: %s", msg);
	else
		reply_ok(r);
	observe_latency(OBSERVE_LOAD_SNAPSHOT, (now_ns() - t0) / 1000);
}

/* The configuration requests: before the start only. */
typedef int put_fn(struct fc_config *fc, const char *body, size_t len, struct errbuf *err);
typedef int put_id_fn(struct fc_config *fc, const char *id, const char *body, size_t len,
		      struct errbuf *err);

static void configure(struct api *a, const struct http_request *req, put_fn *fn, put_id_fn *idfn,
		      const char *id, struct api_reply *r)
{
	if (state(a) != API_NOT_STARTED) {
		api_reply_fault(r, 400,
				"The requested operation is not supported after starting the microVM.");
		return;
	}
	struct errbuf e = {{0}};
	const char *body = (const char *)req->body;
	int rc = idfn ? idfn(a->cfg, id, body, req->body_len, &e)
		      : fn(a->cfg, body, req->body_len, &e);
	if (rc) {
		api_reply_fault(r, 400, "%s", e.msg);
		return;
	}
	if (fn == fc_put_machine_config || fn == fc_patch_machine_config)
		a->machine_configured = true;
	reply_ok(r);
}

/* PUT /logger, PUT /metrics: the main thread opens the files at once (the
 * API thread cannot), so that what follows is logged; a file that cannot be
 * opened is a 400 and the configuration stays as it was. */
static void configure_observe(struct api *a, const struct http_request *req, put_fn *fn,
			      struct api_reply *r)
{
	struct fc_observe before = a->cfg->observe;
	configure(a, req, fn, NULL, NULL, r);
	char msg[256];
	if (r->status == 204 &&
	    control_call(a->ctl, CONTROL_OBSERVE, &a->cfg->observe, msg, sizeof(msg))) {
		a->cfg->observe = before;
		api_reply_fault(r, 400, "%s", msg);
	}
}

/* "/drives/ID" -> "ID" (empty: NULL). */
static const char *path_id(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(path, prefix, n) != 0 || path[n] != '/' || !path[n + 1])
		return NULL;
	return path + n + 1;
}

static void route(struct api *a, const struct http_request *req, struct api_reply *r)
{
	const char *p = req->path;
	bool body = req->body_len > 0;
	const char *id;
	const char *why;

	if (!(req->method == HTTP_PUT && strcmp(p, "/actions") == 0))
		log_info("API: %s %s", req->method_name, p);
	if (req->method == HTTP_GET && body) {
		api_reply_fault(r, 400, "GET request cannot have a body.");
		return;
	}
	if ((req->method == HTTP_PUT || req->method == HTTP_PATCH) && !body) {
		api_reply_fault(r, 400, "Empty %s request.", req->method_name);
		return;
	}
	if (req->method == HTTP_GET) {
		if (strcmp(p, "/") == 0)
			return get_root(a, r);
		if (strcmp(p, "/version") == 0)
			return reply_json(r, "{\"firecracker_version\":\"%s\"}", EMBER_VERSION);
		if (strcmp(p, "/machine-config") == 0)
			return reply_doc(r, fc_machine_config_json(a->cli_vm ? a->cli_vm : &a->cfg->vm));
		if (strcmp(p, "/vm/config") == 0)
			return reply_doc(r, a->cli_vm ? fc_vm_config_json(a->cli_vm, NULL, NULL)
						      : fc_config_json(a->cfg));
	} else if (req->method == HTTP_PUT) {
		if (strcmp(p, "/actions") == 0)
			return put_actions(a, req, r);
		if (strcmp(p, "/boot-source") == 0)
			return configure(a, req, fc_put_boot_source, NULL, NULL, r);
		if (strcmp(p, "/machine-config") == 0)
			return configure(a, req, fc_put_machine_config, NULL, NULL, r);
		if (strcmp(p, "/logger") == 0)
			return configure_observe(a, req, fc_put_logger, r);
		if (strcmp(p, "/metrics") == 0)
			return configure_observe(a, req, fc_put_metrics, r);
		if ((id = path_id(p, "/drives")))
			return configure(a, req, NULL, fc_put_drive, id, r);
		if ((id = path_id(p, "/network-interfaces")))
			return configure(a, req, NULL, fc_put_network_interface, id, r);
		if (strcmp(p, "/snapshot/create") == 0)
			return put_snapshot_create(a, req, r);
		if (strcmp(p, "/snapshot/load") == 0)
			return put_snapshot_load(a, req, r);
	} else if (req->method == HTTP_PATCH) {
		if (strcmp(p, "/vm") == 0)
			return patch_vm(a, req, r);
		if (strcmp(p, "/machine-config") == 0)
			return configure(a, req, fc_patch_machine_config, NULL, NULL, r);
		if ((id = path_id(p, "/drives")))
			return patch_drive(a, req, id, r);
		if ((id = path_id(p, "/network-interfaces")))
			return patch_net(a, req, id, r);
	}
	if ((why = fc_unsupported(p))) {
		api_reply_fault(r, 400, "%s", why);
		return;
	}
	api_reply_fault(r, 400, "Invalid request method and/or path: %s %s.", req->method_name, p);
}

void api_set_state(struct api *a, enum api_state st)
{
	pthread_mutex_lock(&a->state_lock);
	atomic_store(&a->state, st);
	pthread_cond_broadcast(&a->state_changed);
	pthread_mutex_unlock(&a->state_lock);
}

void api_handle(void *ctx, const struct http_request *req, struct api_reply *r)
{
	struct api *a = ctx;
	/* While the main thread builds the VM it reads the configuration that
	 * requests would change: they wait. */
	if (state(a) == API_STARTING) {
		pthread_mutex_lock(&a->state_lock);
		while (state(a) == API_STARTING)
			pthread_cond_wait(&a->state_changed, &a->state_lock);
		pthread_mutex_unlock(&a->state_lock);
	}
	if (state(a) == API_EXITING)
		api_reply_fault(r, 400, "ember is exiting: the microVM did not start.");
	else
		route(a, req, r);
	api_metrics_request(req->method, req->path, r->status);
}
