/* api.h: ember's Firecracker-compatible API: each request's method and path
 * to what it does, with Firecracker's status codes and fault messages. It
 * runs on the API thread (server.h): the configuration before the start is
 * the API's own (struct fc_config); starting, pausing and resuming the VM go
 * to the main thread (control.h), which owns the VM.
 *
 *	GET  /  /version  /vm/config  /machine-config
 *	PUT  /boot-source  /machine-config  /drives/ID  /network-interfaces/ID
 *	     /logger  /metrics                       (before the start)
 *	PATCH /machine-config                        (before the start)
 *	PUT  /actions {"action_type": "InstanceStart"}
 *	PATCH /vm {"state": "Paused" | "Resumed"}
 *	PUT  /snapshot/create (paused)  /snapshot/load (before the start)
 * What ember does not have (vsock, balloon, entropy, pmem, MMDS, ...) and
 * what is not built yet is a 400 saying so.
 */
#ifndef EMBER_API_H
#define EMBER_API_H

#include <pthread.h>
#include <stdatomic.h>

#include "vmm/api/control.h"
#include "vmm/api/fc_config.h"
#include "vmm/api/server.h"

/* API_STARTING: ember builds the VM its command line, config file or
 * --restore describes; requests wait until it runs (or API_EXITING: it did
 * not start, and they are refused), as Firecracker serves none then. */
enum api_state { API_NOT_STARTED, API_RUNNING, API_PAUSED, API_STARTING, API_EXITING };

struct api {
	const char *id;               /* --id */
	struct fc_config *cfg;        /* the configuration the API edits and starts */
	/* After the start, GET /vm/config shows the configuration the VM runs:
	 * cfg, or (a VM the command line described) this one. */
	struct vm_config *cli_vm;
	struct control *ctl;
	bool machine_configured;      /* a PUT or PATCH /machine-config was taken:
				       * no /snapshot/load then, as in Firecracker */
	atomic_int state;             /* enum api_state, set by the main thread */
	pthread_mutex_t state_lock;   /* with state_changed: waiting out API_STARTING */
	pthread_cond_t state_changed;
};

/* The main thread's word on the VM's state (wakes requests waiting for it). */
void api_set_state(struct api *a, enum api_state st);

/* The server's handler (api_handler_fn): ctx is the struct api. */
void api_handle(void *ctx, const struct http_request *req, struct api_reply *r);

#endif
