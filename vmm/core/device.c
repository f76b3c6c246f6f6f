/* device.c: the device contract's NULL-safe calls and the VM's device list
 * (see device.h). */
#include <stdarg.h>
#include <string.h>

#include "vmm/core/device.h"

void device_init(struct device *d, const struct device_ops *ops, const char *fmt, ...)
{
	d->ops = ops;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->id, sizeof(d->id), fmt, ap);
	va_end(ap);
}

void device_destroy(struct device *d)
{
	if (d->ops->destroy)
		d->ops->destroy(d);
}

int device_save(struct device *d, void *buf, size_t cap, size_t *len, struct errbuf *e)
{
	*len = 0;
	if (!d->ops->save) {
		err_set(e, "%s (%s): saving its state is not supported", d->id, d->ops->type);
		return -1;
	}
	return d->ops->save(d, buf, cap, len, e);
}

int device_restore(struct device *d, const void *buf, size_t len, struct errbuf *e)
{
	if (!d->ops->restore) {
		err_set(e, "%s (%s): restoring its state is not supported", d->id, d->ops->type);
		return -1;
	}
	return d->ops->restore(d, buf, len, e);
}

int device_save_none(struct device *d, void *buf, size_t cap, size_t *len, struct errbuf *e)
{
	(void)d, (void)buf, (void)cap, (void)e;
	*len = 0;
	return 0;
}

int device_restore_none(struct device *d, const void *buf, size_t len, struct errbuf *e)
{
	(void)buf;
	if (len) {
		err_set(e, "%s (%s): a state of %zu bytes for a device that has none", d->id,
			d->ops->type, len);
		return -1;
	}
	return 0;
}

int device_list_add(struct device_list *l, struct device *d)
{
	if (l->n >= DEVICE_LIST_MAX)
		return -1;
	l->dev[l->n++] = d;
	return 0;
}

int device_list_seccomp(struct device_list *l, struct errbuf *e)
{
	for (unsigned i = 0; i < l->n; i++) {
		struct device *d = l->dev[i];
		if (d->ops->vcpu && seccomp_vcpu_allow(d->ops->vcpu)) {
			err_set(e, "%s: too many seccomp allow lists for the vCPU threads", d->id);
			return -1;
		}
		if (d->ops->main && seccomp_main_allow(d->ops->main)) {
			err_set(e, "%s: too many seccomp allow lists for the main thread", d->id);
			return -1;
		}
	}
	return 0;
}

struct device *device_list_find(struct device_list *l, const char *type, const char *api_id)
{
	for (unsigned i = 0; i < l->n; i++) {
		struct device *d = l->dev[i];
		if (strcmp(d->ops->type, type) == 0 &&
		    strcmp(d->api_id[0] ? d->api_id : d->id, api_id) == 0)
			return d;
	}
	return NULL;
}

int device_list_start(struct device_list *l, struct errbuf *e)
{
	for (unsigned i = 0; i < l->n; i++) {
		struct device *d = l->dev[i];
		if (d->ops->start && d->ops->start(d, e))
			return -1;
	}
	return 0;
}

int device_list_pause(struct device_list *l)
{
	int r = 0;
	for (unsigned i = 0; i < l->n; i++) {
		struct device *d = l->dev[i];
		if (d->ops->pause && d->ops->pause(d)) {
			log_error("%s: could not pause", d->id);
			r = -1;
		}
	}
	return r;
}

void device_list_resume(struct device_list *l)
{
	for (unsigned i = l->n; i-- > 0;) {
		struct device *d = l->dev[i];
		if (d->ops->resume)
			d->ops->resume(d);
	}
}

void device_list_reset(struct device_list *l)
{
	for (unsigned i = 0; i < l->n; i++) {
		struct device *d = l->dev[i];
		if (d->ops->reset)
			d->ops->reset(d);
	}
}

void device_list_stats(struct device_list *l, FILE *out)
{
	for (unsigned i = 0; i < l->n; i++) {
		struct device *d = l->dev[i];
		if (d->ops->stats)
			d->ops->stats(d, out);
	}
	fflush(out);
}

void device_list_destroy(struct device_list *l)
{
	while (l->n > 0) {
		device_destroy(l->dev[--l->n]);
	}
}


unsigned device_list_metrics(struct device_list *l, struct metrics_sample *s)
{
	unsigned n = 0;
	for (unsigned i = 0; i < l->n; i++) {
		struct device *d = l->dev[i];
		if (!d->ops->metrics)
			continue;
		memset(&s[n], 0, sizeof(s[n]));
		s[n].slot = i;
		snprintf(s[n].id, sizeof(s[n].id), "%s", d->api_id[0] ? d->api_id : d->id);
		d->ops->metrics(d, &s[n]);
		n++;
	}
	return n;
}
