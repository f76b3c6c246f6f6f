/* config.c: ember's --config-file in a jail. The jailer reads the config file
 * (Firecracker's JSON, with jansson, as ember does: at most 1 MiB, duplicate
 * keys refused), makes each host file it names a file of the jail's plan
 * (kernel and initrd read-only, drives read-only with is_read_only, the log
 * and metrics files written), and keeps the same document with those paths
 * rewritten to their names in the jail; fs.c writes it into the jail for
 * UID:GID. Only what the jailer needs is checked here: the rest (every other
 * key and value) is ember's to check, as it would be without a jail. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jailer/args.h"

/* The path under key in o (what: "boot-source.kernel_image_path", for
 * messages) as a file of the plan, and o's value its path in the jail.
 * Absent or null: nothing (or an error when required). */
static int rewrite_path(struct jail_plan *p, json_t *o, const char *key, bool required,
			enum jail_file_kind kind, bool ro, const char *what, struct errbuf *err)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		if (required)
			err_set(err, "%s: missing (ember needs it)", what);
		return required ? -1 : 0;
	}
	if (!json_is_string(v)) {
		err_set(err, "%s must be a string", what);
		return -1;
	}
	/* jansson refuses \u0000 in strings (no JSON_ALLOW_NUL): the path is
	 * the whole string. */
	const char *path = json_string_value(v);
	struct jail_file *f = jail_plan_add_file(p, kind, path, strlen(path), ro, what, err);
	if (!f)
		return -1;
	/* Messages about the file (fs.c) name the config file too. */
	snprintf(f->what, sizeof(f->what), "--config-file %.200s: %s ",
		 p->config >= 0 ? p->files[p->config].src : "", what);
	char jailed[sizeof(f->name) + 1];
	snprintf(jailed, sizeof(jailed), "/%s", f->name);
	if (json_object_set_new(o, key, json_string(jailed))) {
		err_set(err, "out of memory");
		return -1;
	}
	return 0;
}

/* A section that is an object, or absent/null (NULL, 0), or an error. */
static int section(json_t *doc, const char *key, bool required, json_t **out, struct errbuf *err)
{
	json_t *o = json_object_get(doc, key);
	*out = NULL;
	if (!o || json_is_null(o)) {
		if (required)
			err_set(err, "%s: missing (a config file needs one)", key);
		return required ? -1 : 0;
	}
	if (!json_is_object(o)) {
		err_set(err, "%s: expected a JSON object", key);
		return -1;
	}
	*out = o;
	return 0;
}

static int drives(struct jail_plan *p, json_t *doc, struct errbuf *err)
{
	json_t *a = json_object_get(doc, "drives");
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a)) {
		err_set(err, "drives: expected an array");
		return -1;
	}
	size_t i;
	json_t *d;
	json_array_foreach(a, i, d) {
		char what[64];
		snprintf(what, sizeof(what), "drives[%zu]", i);
		if (!json_is_object(d)) {
			err_set(err, "%s: expected a JSON object", what);
			return -1;
		}
		json_t *ro = json_object_get(d, "is_read_only");
		if (ro && !json_is_null(ro) && !json_is_boolean(ro)) {
			err_set(err, "%s.is_read_only must be a boolean", what);
			return -1;
		}
		size_t n = strlen(what);
		snprintf(what + n, sizeof(what) - n, ".path_on_host");
		if (rewrite_path(p, d, "path_on_host", true, JF_DISK, json_is_true(ro), what, err))
			return -1;
	}
	return 0;
}

/* The rest of what the jail needs: /dev/net/tun for interfaces, the guest's
 * memory for the VFIO memlock default. Values ember would refuse are left
 * for it to refuse. */
static void noted(struct jail_plan *p, json_t *doc)
{
	json_t *nets = json_object_get(doc, "network-interfaces");
	if (json_is_array(nets) && json_array_size(nets) > 0)
		p->needs_tun = true;
	json_t *mc = json_object_get(doc, "machine-config");
	json_t *mem = json_is_object(mc) ? json_object_get(mc, "mem_size_mib") : NULL;
	if (json_is_integer(mem) && json_integer_value(mem) > 0 &&
	    (uint64_t)json_integer_value(mem) <= UINT64_MAX >> 21)
		p->mem_mib = (uint64_t)json_integer_value(mem);
}

/* Control bytes in a message (jansson quotes the token it choked on) become
 * '?': a refusal stays one line. */
static int refusal(struct errbuf *err)
{
	for (char *c = err->msg; *c; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			*c = '?';
	return -1;
}

int jail_plan_config(struct jail_plan *p, const char *text, size_t len, struct errbuf *err)
{
	if (len > JAIL_CONFIG_FILE_MAX) {
		err_set(err, "%zu bytes, more than ember reads (%u)", len, JAIL_CONFIG_FILE_MAX);
		return -1;
	}
	json_error_t je;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		err_set(err, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
		return refusal(err);
	}
	json_t *boot, *logger, *metrics;
	int r = -1;
	if (!json_is_object(doc)) {
		err_set(err, "expected a JSON object");
		goto out;
	}
	if (section(doc, "boot-source", true, &boot, err) ||
	    rewrite_path(p, boot, "kernel_image_path", true, JF_KERNEL, true,
			 "boot-source.kernel_image_path", err) ||
	    rewrite_path(p, boot, "initrd_path", false, JF_INITRD, true, "boot-source.initrd_path",
			 err) ||
	    drives(p, doc, err) || section(doc, "logger", false, &logger, err) ||
	    (logger && rewrite_path(p, logger, "log_path", false, JF_LOG, false, "logger.log_path",
				    err)) ||
	    section(doc, "metrics", false, &metrics, err) ||
	    (metrics && rewrite_path(p, metrics, "metrics_path", false, JF_METRICS, false,
				     "metrics.metrics_path", err)))
		goto out;
	noted(p, doc);
	/* Key order is kept (jansson keeps insertion order). */
	char *s = json_dumps(doc, JSON_INDENT(2));
	if (!s) {
		err_set(err, "out of memory");
		goto out;
	}
	free(p->config_json);
	p->config_json = s;
	p->config_len = strlen(s);
	r = 0;
out:
	json_decref(doc);
	return r ? refusal(err) : 0;
}

int jail_config_load(struct jail_plan *p, struct errbuf *err)
{
	if (p->config < 0)
		return 0;
	const char *path = p->files[p->config].src;
	uint8_t *buf;
	size_t len;
	int r = read_file_max(path, JAIL_CONFIG_FILE_MAX, &buf, &len);
	if (r == -EFBIG) {
		err_set(err, "--config-file %s: larger than %u bytes (ember reads at most 1 MiB)", path,
			JAIL_CONFIG_FILE_MAX);
		return refusal(err);
	}
	if (r < 0) {
		err_set(err, "--config-file %s: %s", path, strerror(-r));
		return refusal(err);
	}
	r = jail_plan_config(p, (const char *)buf, len, err);
	free(buf);
	if (r) {
		err_prefix(err, "--config-file %s", path);
		return refusal(err);
	}
	return 0;
}
