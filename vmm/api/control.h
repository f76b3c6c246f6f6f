/* control.h: how the API thread asks the main thread, which owns the VM, to
 * act on it: start it, pause it, resume it, flush the metrics, press Ctrl+Alt+Del,
 * snapshot it or restore one. One request at a time: the API
 * thread posts it (control_call blocks until the main thread has carried it
 * out) and the main thread, woken through control.efd in its poll loop,
 * takes it (control_take), acts, and answers (control_done). Everything else
 * the API does (configuration before the start, state, version) needs no
 * main thread.
 *
 *	control_init(&c)                     main, before the API thread starts
 *	control_call(&c, CONTROL_PAUSE, NULL, msg, sizeof(msg))   API thread
 *	poll(c.efd) -> control_take(&c, &kind, &arg) ... control_done(&c, r, "why")  main
 *	control_destroy(&c)
 */
#ifndef EMBER_CONTROL_H
#define EMBER_CONTROL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmm/core/rate_limiter.h"

enum control_kind {
	CONTROL_START,  /* arg: the struct vm_config to build the VM from */
	CONTROL_PAUSE,
	CONTROL_RESUME,
	CONTROL_FLUSH_METRICS,  /* write a metrics line now */
	CONTROL_CTRL_ALT_DEL,   /* press Ctrl+Alt+Del on the guest's keyboard */
	CONTROL_SET_DRIVE,      /* a new image behind a drive (arg: struct control_drive) */
	CONTROL_SET_LIMITS,     /* new rate limits for a device (arg: struct control_limits) */
	CONTROL_OBSERVE,        /* before the start: open the log and metrics files
				   (arg: the struct fc_observe) */
	CONTROL_SNAPSHOT_CREATE, /* the paused VM into a snapshot (arg: struct fc_snapshot_create) */
	CONTROL_SNAPSHOT_LOAD,  /* before the start: restore a snapshot instead of
				   booting (arg: struct fc_snapshot_load) */
};

struct control_drive {
	const char *id;         /* the drive_id (or device name) */
	const char *path;       /* the new path_on_host */
};

struct control_limits {
	const char *id;                 /* the drive_id or iface_id (or device name) */
	const struct rl_update *u;      /* a drive's; a NIC's receive, transmit */
	unsigned n;                     /* 1 (drive) or 2 (NIC) */
};

struct control {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int efd;                 /* readable while a request waits */
	bool posted, done;
	bool waiting;            /* an API thread waits in control_call */
	enum control_kind kind;
	const void *arg;
	int result;
	char msg[256];           /* why it failed */
	bool closed;             /* control_close: no more requests */
};

/* 0, or -1 (errno) when the eventfd cannot be made. */
int control_init(struct control *c);
void control_destroy(struct control *c);

/* API thread: ask for kind and wait for the answer. 0, or -1 with the main
 * thread's reason in msg. */
int control_call(struct control *c, enum control_kind kind, const void *arg, char *msg,
		 size_t msglen);

/* Main thread, when efd is readable: the request waiting, if any (true). */
bool control_take(struct control *c, enum control_kind *kind, const void **arg);
/* Main thread: the answer to the request taken; msg (may be NULL) says why it
 * failed. */
void control_done(struct control *c, int result, const char *msg);
/* Main thread, on its way out: a request waiting, and every later one, fails
 * with msg (so the API thread never waits for a main thread that is gone).
 * The one waiting counts as api_server's sync_response_fails (here, before
 * the last metrics line), a later one as sync_vmm_send_timeout_count. */
void control_close(struct control *c, const char *msg);

#endif
