/* control.c: requests from the API thread to the main thread (control.h);
 * those that get no answer are counted (api_metrics.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/api/api_metrics.h"
#include "vmm/api/control.h"

int control_init(struct control *c)
{
	memset(c, 0, sizeof(*c));
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->efd < 0)
		return -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	return 0;
}

void control_destroy(struct control *c)
{
	if (c->efd < 0)
		return;
	close(c->efd);
	c->efd = -1;
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

int control_call(struct control *c, enum control_kind kind, const void *arg, char *msg,
		 size_t msglen)
{
	pthread_mutex_lock(&c->lock);
	if (c->closed) {
		if (msg && msglen)
			snprintf(msg, msglen, "%s", c->msg);
		pthread_mutex_unlock(&c->lock);
		api_metrics_sync_unsent();
		return -1;
	}
	c->kind = kind;
	c->arg = arg;
	c->posted = true;
	c->waiting = true;
	c->done = false;
	c->msg[0] = '\0';
	uint64_t one = 1;
	ssize_t w = write(c->efd, &one, sizeof(one));
	(void)w;
	while (!c->done && !c->closed)
		pthread_cond_wait(&c->cond, &c->lock);
	c->waiting = false;
	if (!c->done)
		c->result = -1; /* counted by control_close */
	int r = c->result;
	if (msg && msglen)
		snprintf(msg, msglen, "%s", c->msg);
	pthread_mutex_unlock(&c->lock);
	return r;
}

bool control_take(struct control *c, enum control_kind *kind, const void **arg)
{
	uint64_t n;
	ssize_t r = read(c->efd, &n, sizeof(n));
	(void)r;
	pthread_mutex_lock(&c->lock);
	bool got = c->posted;
	if (got) {
		c->posted = false;
		*kind = c->kind;
		*arg = c->arg;
	}
	pthread_mutex_unlock(&c->lock);
	return got;
}

void control_done(struct control *c, int result, const char *msg)
{
	pthread_mutex_lock(&c->lock);
	c->result = result;
	snprintf(c->msg, sizeof(c->msg), "%s", msg ? msg : "");
	c->done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void control_close(struct control *c, const char *msg)
{
	pthread_mutex_lock(&c->lock);
	if (c->waiting && !c->done && !c->closed)
		api_metrics_sync_unanswered(); /* now, so that the last metrics line has it */
	c->closed = true;
	c->posted = false;
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}
