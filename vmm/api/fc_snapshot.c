/* fc_snapshot.c: PUT /snapshot/create and /snapshot/load bodies, parsed with
 * jansson and checked before anything is set (fc_snapshot.h). */
#include "vmm/api/fc_snapshot.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "virtio/net/net.h"

static int path(json_t *o, const char *key, const char *what, char *out, struct errbuf *err)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= FC_PATH_MAX || strlen(json_string_value(v)) != json_string_length(v)) {
		err_set(err, "%s: %s must be a path (1-%d bytes)", what, key, FC_PATH_MAX - 1);
		return -1;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* Every key of o is one of keys (NULL-terminated). */
static int only(json_t *o, const char *const *keys, const char *what, struct errbuf *err)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		bool known = false;
		for (const char *const *p = keys; *p && !known; p++)
			known = strcmp(*p, k) == 0;
		if (!known) {
			err_set(err, "%s: unknown field '%s'", what, k);
			return -1;
		}
	}
	return 0;
}

static json_t *load(const char *body, size_t len, const char *what, struct errbuf *err)
{
	json_error_t je;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		err_set(err, "%s: not JSON: %s", what, je.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		err_set(err, "%s: not a JSON object", what);
		json_decref(o);
		return NULL;
	}
	return o;
}

static int get_bool(json_t *o, const char *key, bool *out, const char *what, struct errbuf *err)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		err_set(err, "%s: %s must be true or false", what, key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int fc_snapshot_create_parse(const char *body, size_t len, struct fc_snapshot_create *out,
			     struct errbuf *err)
{
	static const char *const keys[] = {"snapshot_type", "snapshot_path", "mem_file_path", NULL};
	const char *what = "snapshot/create";
	json_t *o = load(body, len, what, err);
	if (!o)
		return -1;
	struct fc_snapshot_create c;
	int r = -1;
	json_t *t = json_object_get(o, "snapshot_type");
	if (only(o, keys, what, err))
		goto out;
	if (t && !json_is_string(t)) {
		err_set(err, "%s: snapshot_type must be \"Full\"", what);
		goto out;
	}
	if (t && strcmp(json_string_value(t), "Full") != 0) {
		err_set(err, "%s: snapshot_type \"%.20s\" is not supported: ember takes Full "
			"snapshots only", what, json_string_value(t));
		goto out;
	}
	if (path(o, "snapshot_path", what, c.state_path, err) ||
	    path(o, "mem_file_path", what, c.mem_path, err))
		goto out;
	if (strcmp(c.state_path, c.mem_path) == 0) {
		err_set(err, "%s: snapshot_path and mem_file_path are the same file", what);
		goto out;
	}
	*out = c;
	r = 0;
out:
	json_decref(o);
	return r;
}

static int overrides(json_t *a, struct fc_snapshot_load *l, const char *what, struct errbuf *err)
{
	static const char *const keys[] = {"iface_id", "host_dev_name", NULL};
	if (!a)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > VM_MAX_NETS) {
		err_set(err, "%s: network_overrides must be an array of at most %d", what, VM_MAX_NETS);
		return -1;
	}
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e) {
		json_t *id = json_object_get(e, "iface_id"), *tap = json_object_get(e, "host_dev_name");
		if (!json_is_object(e) || only(e, keys, what, err) || !json_is_string(id) ||
		    !json_is_string(tap) || json_string_length(id) == 0 ||
		    json_string_length(id) > VM_ID_MAX ||
		    strlen(json_string_value(id)) != json_string_length(id) ||
		    !net_tap_name_ok(json_string_value(tap), json_string_length(tap))) {
			if (!err->msg[0] || !strstr(err->msg, "unknown field"))
				err_set(err, "%s: network_overrides[%zu] must be {\"iface_id\": ID, "
					"\"host_dev_name\": TAP} with a TAP name", what, i);
			return -1;
		}
		for (unsigned k = 0; k < l->noverrides; k++)
			if (strcmp(l->overrides[k].iface_id, json_string_value(id)) == 0) {
				err_set(err, "%s: network_overrides names '%s' twice", what,
					json_string_value(id));
				return -1;
			}
		struct fc_net_override *ov = &l->overrides[l->noverrides++];
		snprintf(ov->iface_id, sizeof(ov->iface_id), "%s", json_string_value(id));
		snprintf(ov->tap, sizeof(ov->tap), "%s", json_string_value(tap));
	}
	return 0;
}

int fc_snapshot_load_parse(const char *body, size_t len, struct fc_snapshot_load *out,
			   struct errbuf *err)
{
	static const char *const keys[] = {"snapshot_path", "mem_backend", "mem_file_path",
					   "resume_vm", "enable_diff_snapshots",
					   "track_dirty_pages", "network_overrides", NULL};
	static const char *const backend_keys[] = {"backend_type", "backend_path", NULL};
	const char *what = "snapshot/load";
	err->msg[0] = '\0';
	json_t *o = load(body, len, what, err);
	if (!o)
		return -1;
	struct fc_snapshot_load l;
	memset(&l, 0, sizeof(l));
	int r = -1;
	bool diff = false, dirty = false;
	json_t *mb = json_object_get(o, "mem_backend");
	if (only(o, keys, what, err) || path(o, "snapshot_path", what, l.state_path, err) ||
	    get_bool(o, "resume_vm", &l.resume, what, err) ||
	    get_bool(o, "enable_diff_snapshots", &diff, what, err) ||
	    get_bool(o, "track_dirty_pages", &dirty, what, err))
		goto out;
	if (diff || dirty) {
		err_set(err, "%s: %s is not supported: ember takes Full snapshots only", what,
			diff ? "enable_diff_snapshots" : "track_dirty_pages");
		goto out;
	}
	if (!mb == !json_object_get(o, "mem_file_path")) {
		err_set(err, "%s: give one of mem_backend and mem_file_path", what);
		goto out;
	}
	if (mb) {
		json_t *t = json_object_get(mb, "backend_type");
		if (!json_is_object(mb) || only(mb, backend_keys, what, err))
			goto bad_backend;
		if (!json_is_string(t))
			goto bad_backend;
		if (strcmp(json_string_value(t), "Uffd") == 0) {
			err_set(err, "%s: the Uffd memory backend is not supported: ember maps the "
				"memory file itself (backend_type \"File\")", what);
			goto out;
		}
		if (strcmp(json_string_value(t), "File") != 0)
			goto bad_backend;
		if (path(mb, "backend_path", what, l.mem_path, err))
			goto out;
	} else if (path(o, "mem_file_path", what, l.mem_path, err)) {
		goto out;
	}
	if (overrides(json_object_get(o, "network_overrides"), &l, what, err))
		goto out;
	*out = l;
	r = 0;
	goto out;
bad_backend:
	if (!strstr(err->msg, "unknown field"))
		err_set(err, "%s: mem_backend must be {\"backend_type\": \"File\", "
			"\"backend_path\": PATH}", what);
out:
	json_decref(o);
	return r;
}
