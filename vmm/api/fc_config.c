/* fc_config.c: Firecracker's API bodies and config file into a struct
 * fc_config (see fc_config.h). Each body is checked whole (keys, types,
 * values, limits) before anything changes, so a refusal changes nothing;
 * the config file is applied to a fresh configuration that replaces the
 * caller's only when every part of it was accepted. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vmm/api/fc_config.h"
#include "vmm/api/fc_limiter.h"
#include "vmm/arch/x86/layout.h"

void fc_config_init(struct fc_config *fc)
{
	memset(fc, 0, sizeof(*fc));
	vm_config_defaults(&fc->vm);
	fc->observe.level = FC_LOG_INFO;
}

void fc_config_free(struct fc_config *fc)
{
	free(fc->kernel);
	free(fc->initrd);
	free(fc->cmdline);
	fc_config_init(fc);
}

/* ---- checking a body's keys and types ---- */

enum kind {
	K_STR,
	K_BOOL,
	K_UINT,
	K_NULL, /* a feature ember lacks: only null (or absent) passes, else `why` */
	K_LIMIT, /* a rate limiter (fc_limiter.h) */
};

struct field {
	const char *key;
	enum kind kind;
	bool required;
	const char *why;
};

static const struct field *find_field(const struct field *f, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].key, key) == 0)
			return &f[i];
	return NULL;
}

/* Every key of o is one of f's, of its kind (null counts as absent, except
 * for a required field), and every required one is there. */
static int check_fields(const json_t *o, const struct field *f, size_t n, const char *what,
			struct errbuf *err)
{
	static const char *const kind_name[] = {"a string", "a boolean", "a non-negative integer"};
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)o, key, v) {
		const struct field *d = find_field(f, n, key);
		if (!d) {
			char list[200];
			size_t len = 0;
			list[0] = '\0';
			for (size_t i = 0; i < n && len < sizeof(list); i++)
				len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
							i ? ", " : "", f[i].key);
			err_set(err, "%s: unknown field '%.40s' (expected %s)", what, key, list);
			return -1;
		}
		if (json_is_null(v)) {
			if (d->required) {
				err_set(err, "%s: %s must not be null", what, key);
				return -1;
			}
			continue;
		}
		bool ok = true;
		switch (d->kind) {
		case K_STR: ok = json_is_string(v); break;
		case K_BOOL: ok = json_is_boolean(v); break;
		case K_UINT: ok = json_is_integer(v) && json_integer_value(v) >= 0; break;
		case K_NULL:
			err_set(err, "%s: %s: %s", what, key, d->why);
			return -1;
		case K_LIMIT: {
			struct rl_update u;
			if (fc_limiter_parse(v, &u, what, key, err))
				return -1;
			continue;
		}
		}
		if (!ok) {
			err_set(err, "%s: %s must be %s", what, key, kind_name[d->kind]);
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (f[i].required && !json_object_get(o, f[i].key)) {
			err_set(err, "%s: missing field '%s'", what, f[i].key);
			return -1;
		}
	}
	return 0;
}

/* Field values, once check_fields passed: NULL / false / not present. */
static const char *get_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool get_bool(const json_t *o, const char *key, bool dflt)
{
	const json_t *v = json_object_get(o, key);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static bool get_uint(const json_t *o, const char *key, uint64_t *out)
{
	const json_t *v = json_object_get(o, key);
	if (!json_is_integer(v))
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

/* A path: not empty, shorter than FC_PATH_MAX (s may be NULL: not given). */
static int check_path(const char *s, const char *what, const char *key, struct errbuf *err)
{
	if (s && (!*s || strlen(s) >= FC_PATH_MAX)) {
		err_set(err, "%s: %s must be a path of 1 to %d bytes", what, key, FC_PATH_MAX - 1);
		return -1;
	}
	return 0;
}

/* Firecracker's resource ids: letters, digits and '_'; ember's: at most VM_ID_MAX. */
static int check_id(const char *id, const char *what, struct errbuf *err)
{
	if (!id || !*id) {
		err_set(err, "%s: the ID cannot be empty", what);
		return -1;
	}
	if (!name_ok(id, VM_ID_MAX, "_")) {
		err_set(err, "%s: '%.40s%s' is not an ID: API resource IDs are 1 to %d letters, digits and underscores",
			what, id, strlen(id) > 40 ? "..." : "", VM_ID_MAX);
		return -1;
	}
	return 0;
}

/* The id of the request's path, and the body's, which must be the same. */
static int check_ids(const char *path_id, const char *body_id, const char *what,
		     struct errbuf *err)
{
	if (check_id(path_id, what, err))
		return -1;
	if (strcmp(path_id, body_id) != 0) {
		err_set(err, "%s: the id from the path does not match the id from the body ('%.64s')",
			what, body_id);
		return -1;
	}
	return 0;
}

/* A device's body (a drive, an interface): its fields, and its id (under
 * key) equal to the path's (path_id NULL: a config file's list, no path).
 * Returns the id, or NULL with err set. */
static const char *device_id(const json_t *o, const struct field *f, size_t n, const char *key,
			     const char *path_id, const char *what, struct errbuf *err)
{
	if (check_fields(o, f, n, what, err))
		return NULL;
	const char *id = get_str(o, key);
	if (path_id ? check_ids(path_id, id, what, err) : check_id(id, what, err))
		return NULL;
	return id;
}

/* Replace *slot with a copy of s (NULL: none); the copies are made by the
 * caller first (dup_all), so that this cannot fail. */
static void replace(char **slot, char *copy)
{
	free(*slot);
	*slot = copy;
}

static int dup_or_null(const char *s, char **out, struct errbuf *err)
{
	*out = NULL;
	if (s && !(*out = strdup(s))) {
		err_set(err, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- boot-source ---- */

static const struct field boot_fields[] = {
	{"kernel_image_path", K_STR, true}, {"initrd_path", K_STR}, {"boot_args", K_STR},
};

static int apply_boot_source(struct fc_config *fc, const json_t *o, const char *what,
			     struct errbuf *err)
{
	if (check_fields(o, boot_fields, ARRAY_SIZE(boot_fields), what, err))
		return -1;
	const char *kernel = get_str(o, "kernel_image_path"), *initrd = get_str(o, "initrd_path");
	const char *args = get_str(o, "boot_args");
	if (check_path(kernel, what, "kernel_image_path", err) ||
	    check_path(initrd, what, "initrd_path", err))
		return -1;
	if (args) {
		size_t n = strlen(args);
		if (n >= LAYOUT_CMDLINE_MAX) {
			err_set(err, "%s: boot_args is %zu bytes, at most %d", what, n,
				LAYOUT_CMDLINE_MAX - 1);
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			if (args[i] < ' ' || args[i] > '~') {
				err_set(err, "%s: boot_args holds a character that is not printable ASCII (byte %zu), which a kernel command line cannot carry",
					what, i);
				return -1;
			}
		}
	}
	char *k, *i, *a;
	if (dup_or_null(kernel, &k, err))
		return -1;
	if (dup_or_null(initrd, &i, err) || dup_or_null(args, &a, err)) {
		free(k);
		free(i);
		return -1;
	}
	replace(&fc->kernel, k);
	replace(&fc->initrd, i);
	replace(&fc->cmdline, a);
	fc->vm.kernel = k;
	fc->vm.initrd = i;
	fc->vm.cmdline = a;
	fc->vm.cmdline_replaces_default = a != NULL;
	return 0;
}

/* ---- machine-config ---- */

static const struct field machine_fields[] = {
	{"vcpu_count", K_UINT}, {"mem_size_mib", K_UINT}, {"smt", K_BOOL},
	{"track_dirty_pages", K_BOOL}, {"cpu_template", K_STR}, {"huge_pages", K_STR},
};

/* put: the PUT form (vcpu_count and mem_size_mib required); else PATCH
 * (only what is given changes, and something must be). */
static int apply_machine_config(struct fc_config *fc, const json_t *o, bool put,
				const char *what, struct errbuf *err)
{
	if (check_fields(o, machine_fields, ARRAY_SIZE(machine_fields), what, err))
		return -1;
	uint64_t cpus = fc->vm.cpus, mem = fc->vm.mem_mib;
	bool have_cpus = get_uint(o, "vcpu_count", &cpus), have_mem = get_uint(o, "mem_size_mib", &mem);
	if (put && (!have_cpus || !have_mem)) {
		err_set(err, "%s: missing field '%s'", what, have_cpus ? "mem_size_mib" : "vcpu_count");
		return -1;
	}
	const char *tmpl = get_str(o, "cpu_template"), *huge = get_str(o, "huge_pages");
	if (!put && !have_cpus && !have_mem && !tmpl && !huge &&
	    !json_is_boolean(json_object_get(o, "smt")) &&
	    !json_is_boolean(json_object_get(o, "track_dirty_pages"))) {
		err_set(err, "%s: empty PATCH request", what);
		return -1;
	}
	if (cpus < 1 || cpus > VM_MAX_CPUS) {
		err_set(err, "%s: vcpu_count must be from 1 to %d", what, VM_MAX_CPUS);
		return -1;
	}
	if (mem < VM_MIN_MEM_MIB || mem > VM_MAX_MEM_MIB) {
		err_set(err, "%s: mem_size_mib must be from %d to %llu", what, VM_MIN_MEM_MIB,
			(unsigned long long)VM_MAX_MEM_MIB);
		return -1;
	}
	if (get_bool(o, "smt", false)) {
		err_set(err, "%s: ember has no SMT (simultaneous multithreading): smt must be false", what);
		return -1;
	}
	if (get_bool(o, "track_dirty_pages", false)) {
		err_set(err, "%s: track_dirty_pages is not supported: ember takes Full snapshots only (no Diff)", what);
		return -1;
	}
	if (tmpl && strcmp(tmpl, "None") != 0) {
		err_set(err, "%s: ember has no CPU templates (the guest sees KVM's CPUID): cpu_template must be \"None\"",
			what);
		return -1;
	}
	if (huge && strcmp(huge, "None") != 0) {
		err_set(err, "%s: ember backs guest memory with regular pages only: huge_pages must be \"None\"",
			what);
		return -1;
	}
	fc->vm.cpus = (unsigned)cpus;
	fc->vm.mem_mib = mem;
	return 0;
}

/* A rate limiter check_fields has accepted, into c (a PUT: absent buckets
 * are none). */
static void limiter(const json_t *o, const char *key, struct rl_config *c)
{
	struct rl_update u;
	struct errbuf ignored;
	memset(c, 0, sizeof(*c));
	if (!fc_limiter_parse(json_object_get(o, key), &u, "", key, &ignored))
		rl_config_apply(c, &u);
}

/* ---- drives ---- */

static const struct field drive_fields[] = {
	{"drive_id", K_STR, true}, {"path_on_host", K_STR}, {"is_root_device", K_BOOL, true},
	{"is_read_only", K_BOOL}, {"partuuid", K_STR}, {"cache_type", K_STR}, {"io_engine", K_STR},
	{"rate_limiter", K_LIMIT},
	{"socket", K_NULL, false, "ember has no vhost-user block devices"},
};

/* One of two words: *second says which (absent: false). */
static int pick(const json_t *o, const char *key, const char *first, const char *second,
		bool *is_second, const char *what, struct errbuf *err)
{
	const char *s = get_str(o, key);
	*is_second = false;
	if (!s || strcmp(s, first) == 0)
		return 0;
	if (strcmp(s, second) == 0) {
		*is_second = true;
		return 0;
	}
	err_set(err, "%s: %s '%.40s' is not \"%s\" or \"%s\"", what, key, s, first, second);
	return -1;
}

/* Drive i and drive j trade places, with everything that goes with them. */
static void swap_drives(struct fc_config *fc, unsigned i, unsigned j)
{
	struct vm_config *c = &fc->vm;
	struct blk_opts b = c->disks[i];
	c->disks[i] = c->disks[j];
	c->disks[j] = b;
	struct fc_drive d = fc->drives[i];
	fc->drives[i] = fc->drives[j];
	fc->drives[j] = d;
	char id[VM_ID_MAX + 1];
	memcpy(id, c->disk_ids[i], sizeof(id));
	memcpy(c->disk_ids[i], c->disk_ids[j], sizeof(id));
	memcpy(c->disk_ids[j], id, sizeof(id));
}

static int apply_drive(struct fc_config *fc, const char *path_id, const json_t *o,
		       const char *what, struct errbuf *err)
{
	struct vm_config *c = &fc->vm;
	const char *id = device_id(o, drive_fields, ARRAY_SIZE(drive_fields), "drive_id", path_id,
				   what, err);
	if (!id)
		return -1;
	const char *path = get_str(o, "path_on_host"), *partuuid = get_str(o, "partuuid");
	if (!path) {
		err_set(err, "%s: missing field 'path_on_host' (ember has no vhost-user drives)", what);
		return -1;
	}
	if (check_path(path, what, "path_on_host", err))
		return -1;
	struct fc_drive x = {.writeback = false};
	if (pick(o, "cache_type", "Unsafe", "Writeback", &x.writeback, what, err) ||
	    pick(o, "io_engine", "Sync", "Async", &x.async, what, err))
		return -1;
	if (partuuid) {
		if (!name_ok(partuuid, VM_PARTUUID_MAX, "-/=")) {
			err_set(err, "%s: partuuid '%.40s' is not 1 to %d letters, digits, '-', '/' or '='",
				what, partuuid, VM_PARTUUID_MAX);
			return -1;
		}
		strcpy(x.partuuid, partuuid);
	}
	bool root = get_bool(o, "is_root_device", false);
	int pos = vm_config_find_disk(c, id);
	if (root && c->root_disk && pos != 0) {
		err_set(err, "%s: a root block device already exists ('%s')", what, c->disk_ids[0]);
		return -1;
	}
	if (pos < 0 && c->ndisks >= VM_MAX_DISKS) {
		err_set(err, "%s: at most %d drives", what, VM_MAX_DISKS);
		return -1;
	}
	struct blk_opts b;
	memset(&b, 0, sizeof(b));
	strcpy(b.path, path);
	b.ro = get_bool(o, "is_read_only", false);
	limiter(o, "rate_limiter", &b.rl);

	/* Firecracker's order: a new root drive goes first, a new other one
	 * last; a replaced drive keeps its place, unless it became the root,
	 * which trades places with the first. */
	unsigned at;
	if (pos >= 0) {
		at = (unsigned)pos;
	} else if (root) {
		memmove(&c->disks[1], &c->disks[0], c->ndisks * sizeof(c->disks[0]));
		memmove(&fc->drives[1], &fc->drives[0], c->ndisks * sizeof(fc->drives[0]));
		memmove(&c->disk_ids[1], &c->disk_ids[0], c->ndisks * sizeof(c->disk_ids[0]));
		c->ndisks++;
		at = 0;
	} else {
		at = c->ndisks++;
	}
	c->disks[at] = b;
	fc->drives[at] = x;
	memset(c->disk_ids[at], 0, sizeof(c->disk_ids[at]));
	strcpy(c->disk_ids[at], id);
	if (root && at != 0)
		swap_drives(fc, 0, at);
	if (root || at == 0)
		c->root_disk = root;
	memset(c->root_partuuid, 0, sizeof(c->root_partuuid));
	if (c->root_disk)
		strcpy(c->root_partuuid, fc->drives[0].partuuid);
	return 0;
}

/* ---- network-interfaces ---- */

static const struct field net_fields[] = {
	{"iface_id", K_STR, true}, {"host_dev_name", K_STR, true}, {"guest_mac", K_STR},
	{"mtu", K_UINT},
	{"rx_rate_limiter", K_LIMIT},
	{"tx_rate_limiter", K_LIMIT},
};

static int apply_net(struct fc_config *fc, const char *path_id, const json_t *o,
		     const char *what, struct errbuf *err)
{
	struct vm_config *c = &fc->vm;
	const char *id = device_id(o, net_fields, ARRAY_SIZE(net_fields), "iface_id", path_id, what,
				   err);
	if (!id)
		return -1;
	const char *tap = get_str(o, "host_dev_name"), *mac = get_str(o, "guest_mac");
	struct net_opts n;
	memset(&n, 0, sizeof(n));
	n.queues = 1;
	if (!net_tap_name_ok(tap, strlen(tap))) {
		err_set(err, "%s: host_dev_name '%.40s' is not 1-%d letters, digits, '-', '_' or '.'",
			what, tap, IFNAMSIZ - 1);
		return -1;
	}
	strcpy(n.tap, tap);
	limiter(o, "rx_rate_limiter", &n.rx);
	limiter(o, "tx_rate_limiter", &n.tx);
	if (mac) {
		if (!net_parse_mac(mac, strlen(mac), n.mac)) {
			err_set(err, "%s: guest_mac '%.40s' is not a unicast MAC like 06:00:ac:10:00:02",
				what, mac);
			return -1;
		}
		n.mac_set = true;
	}
	uint64_t mtu;
	if (get_uint(o, "mtu", &mtu)) {
		if (mtu < NET_MIN_MTU || mtu > NET_MAX_MTU) {
			err_set(err, "%s: mtu must be from %u to %u", what, NET_MIN_MTU, NET_MAX_MTU);
			return -1;
		}
		n.mtu = (unsigned)mtu;
	}
	int pos = vm_config_find_net(c, id);
	for (unsigned i = 0; i < c->nnets; i++) {
		if ((int)i == pos)
			continue;
		if (strcmp(c->nets[i].tap, n.tap) == 0) {
			err_set(err, "%s: host_dev_name '%s' is already used by interface '%s'", what,
				n.tap, c->net_ids[i]);
			return -1;
		}
		if (n.mac_set && c->nets[i].mac_set && memcmp(c->nets[i].mac, n.mac, 6) == 0) {
			err_set(err, "%s: the MAC address is already in use: %s", what, mac);
			return -1;
		}
	}
	if (pos < 0 && c->nnets >= VM_MAX_NETS) {
		err_set(err, "%s: at most %d network interfaces", what, VM_MAX_NETS);
		return -1;
	}
	unsigned at = pos >= 0 ? (unsigned)pos : c->nnets++;
	c->nets[at] = n;
	memset(c->net_ids[at], 0, sizeof(c->net_ids[at]));
	strcpy(c->net_ids[at], id);
	return 0;
}

/* ---- logger and metrics ---- */

static const struct field logger_fields[] = {
	{"log_path", K_STR}, {"level", K_STR}, {"show_level", K_BOOL}, {"show_log_origin", K_BOOL},
	{"module", K_STR},
};

/* As Firecracker: each field given replaces the one before; the others stay. */
static int apply_logger(struct fc_config *fc, const json_t *o, const char *what,
			struct errbuf *err)
{
	struct fc_observe *ob = &fc->observe;
	if (check_fields(o, logger_fields, ARRAY_SIZE(logger_fields), what, err))
		return -1;
	const char *path = get_str(o, "log_path"), *level = get_str(o, "level");
	const char *module = get_str(o, "module");
	if (check_path(path, what, "log_path", err))
		return -1;
	if (module && strlen(module) >= FC_MODULE_MAX) {
		err_set(err, "%s: module is longer than %d bytes", what, FC_MODULE_MAX - 1);
		return -1;
	}
	enum fc_log_level lv = ob->level;
	if (level) {
		enum log_level parsed;
		if (log_level_parse(level, &parsed)) {
			err_set(err, "%s: level '%.40s' is not one of Error, Warning, Info, Debug, Trace, Off",
				what, level);
			return -1;
		}
		lv = (enum fc_log_level)parsed; /* the same order */
	}
	ob->logger_set = true;
	if (path)
		strcpy(ob->log_path, path);
	if (module)
		strcpy(ob->module, module);
	ob->level = lv;
	ob->show_level = get_bool(o, "show_level", ob->show_level);
	ob->show_log_origin = get_bool(o, "show_log_origin", ob->show_log_origin);
	return 0;
}

static const struct field metrics_fields[] = {
	{"metrics_path", K_STR, true}, {"emit_id", K_BOOL},
	{"properties", K_NULL, false, "ember does not add properties to its metrics lines"},
};

/* As Firecracker: the metrics are configured once. */
static int apply_metrics(struct fc_config *fc, const json_t *o, const char *what,
			 struct errbuf *err)
{
	struct fc_observe *ob = &fc->observe;
	if (check_fields(o, metrics_fields, ARRAY_SIZE(metrics_fields), what, err))
		return -1;
	const char *path = get_str(o, "metrics_path");
	if (check_path(path, what, "metrics_path", err))
		return -1;
	if (ob->metrics_set) {
		err_set(err, "%s: the metrics are already configured (once only)", what);
		return -1;
	}
	ob->metrics_set = true;
	strcpy(ob->metrics_path, path);
	ob->emit_id = get_bool(o, "emit_id", false);
	return 0;
}

/* ---- what ember does not have ---- */

static const struct {
	const char *path; /* the API's, without the leading '/'; its sub-paths too */
	const char *key;  /* the config file's, or NULL */
	bool array;       /* the config file's value is an array ([] passes) */
	const char *why;
} unsupported[] = {
	{"vsock", "vsock", false, "ember has no vsock devices"},
	{"balloon", "balloon", false, "ember has no balloon device"},
	{"entropy", "entropy", false, "ember has no entropy (virtio-rng) device"},
	{"pmem", "pmem", true, "ember has no virtio-pmem devices"},
	{"mmds/config", "mmds-config", false, "ember has no MMDS (microVM metadata service) to configure"},
	{"mmds", NULL, false, "ember has no MMDS (microVM metadata service)"},
	{"hotplug/memory", "memory-hotplug", false, "ember has no memory hotplug (virtio-mem)"},
	{"cpu-config", "cpu-config", false, "ember has no custom CPU templates: the guest sees KVM's supported CPUID"},
	{"serial", "serial", false, "ember's serial console is chosen on its command line (--console), not through the API"},
};

static int unsupported_index(const char *s)
{
	if (!s)
		return -1;
	bool path = *s == '/';
	for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++) {
		size_t n = strlen(unsupported[i].path);
		if (path && strncmp(s + 1, unsupported[i].path, n) == 0 &&
		    (s[n + 1] == '\0' || s[n + 1] == '/'))
			return (int)i;
		if (!path && unsupported[i].key && strcmp(s, unsupported[i].key) == 0)
			return (int)i;
	}
	return -1;
}

const char *fc_unsupported(const char *path_or_key)
{
	int i = unsupported_index(path_or_key);
	return i < 0 ? NULL : unsupported[i].why;
}

/* ---- the API's bodies ---- */

/* what: the message's prefix (NULL: none, a whole config file). */
static json_t *load_object(const char *text, size_t len, const char *what, struct errbuf *err)
{
	json_error_t je;
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		err_set(err, "%s%sinvalid JSON at line %d column %d: %s", what ? what : "",
			what ? ": " : "", je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		err_set(err, "%s%sexpected a JSON object", what ? what : "", what ? ": " : "");
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A refusal's message holds pieces of the body (keys, values, jansson's
 * token): its control and non-ASCII bytes become '?', so that it stays one
 * line of plain ASCII, which a JSON fault message carries as it is. */
static int refusal(struct errbuf *err)
{
	for (char *p = err->msg; *p; p++)
		if (*p < ' ' || *p > '~')
			*p = '?';
	return -1;
}

typedef int (*apply_fn)(struct fc_config *fc, const json_t *o, const char *what,
			struct errbuf *err);
/* A drive's or an interface's: with the id of the request's path. */
typedef int (*device_fn)(struct fc_config *fc, const char *path_id, const json_t *o,
			 const char *what, struct errbuf *err);

/* One body, applied by fn, or by dfn with the path's id. */
static int put_body(struct fc_config *fc, const char *body, size_t len, apply_fn fn,
		    device_fn dfn, const char *id, const char *what, struct errbuf *err)
{
	json_t *o = load_object(body, len, what, err);
	if (!o)
		return refusal(err);
	int r = fn ? fn(fc, o, what, err) : dfn(fc, id ? id : "", o, what, err);
	json_decref(o);
	return r ? refusal(err) : 0;
}

static int apply_machine_put(struct fc_config *fc, const json_t *o, const char *what,
			     struct errbuf *err)
{
	return apply_machine_config(fc, o, true, what, err);
}

static int apply_machine_patch(struct fc_config *fc, const json_t *o, const char *what,
			       struct errbuf *err)
{
	return apply_machine_config(fc, o, false, what, err);
}

int fc_put_boot_source(struct fc_config *fc, const char *body, size_t len, struct errbuf *err)
{
	return put_body(fc, body, len, apply_boot_source, NULL, NULL, "boot-source", err);
}

int fc_put_machine_config(struct fc_config *fc, const char *body, size_t len, struct errbuf *err)
{
	return put_body(fc, body, len, apply_machine_put, NULL, NULL, "machine-config", err);
}

int fc_patch_machine_config(struct fc_config *fc, const char *body, size_t len,
			    struct errbuf *err)
{
	return put_body(fc, body, len, apply_machine_patch, NULL, NULL, "machine-config", err);
}

int fc_put_logger(struct fc_config *fc, const char *body, size_t len, struct errbuf *err)
{
	return put_body(fc, body, len, apply_logger, NULL, NULL, "logger", err);
}

int fc_put_metrics(struct fc_config *fc, const char *body, size_t len, struct errbuf *err)
{
	return put_body(fc, body, len, apply_metrics, NULL, NULL, "metrics", err);
}

int fc_put_drive(struct fc_config *fc, const char *id, const char *body, size_t len,
		 struct errbuf *err)
{
	return put_body(fc, body, len, NULL, apply_drive, id, "drives", err);
}

/* PATCH /drives/ID: Firecracker's PartialDrive. */
static const struct field drive_patch_fields[] = {
	{"drive_id", K_STR, true}, {"path_on_host", K_STR},
	{"rate_limiter", K_LIMIT},
};

int fc_patch_drive(struct fc_config *fc, const char *id, const char *body, size_t len,
		   char *path, struct rl_update *limits, struct errbuf *err)
{
	path[0] = 0;
	memset(limits, 0, sizeof(*limits));
	json_t *o = load_object(body, len, "drives", err);
	if (!o)
		return refusal(err);
	int r = -1;
	const char *p = get_str(o, "path_on_host");
	if (!device_id(o, drive_patch_fields, ARRAY_SIZE(drive_patch_fields), "drive_id", id,
		       "drives", err) ||
	    check_path(p, "drives", "path_on_host", err))
		goto out;
	if (fc && vm_config_find_disk(&fc->vm, id) < 0) {
		err_set(err, "drives: no drive '%s'", id);
		goto out;
	}
	if (p)
		snprintf(path, FC_PATH_MAX, "%s", p);
	fc_limiter_parse(json_object_get(o, "rate_limiter"), limits, "drives", "rate_limiter", err);
	r = 0;
out:
	json_decref(o);
	return r ? refusal(err) : 0;
}

void fc_set_drive_path(struct vm_config *vm, const char *id, const char *path)
{
	int i = vm_config_find_disk(vm, id);
	if (i >= 0)
		snprintf(vm->disks[i].path, sizeof(vm->disks[i].path), "%s", path);
}

void fc_set_drive_limits(struct vm_config *vm, const char *id, const struct rl_update *u)
{
	int i = vm_config_find_disk(vm, id);
	if (i >= 0)
		rl_config_apply(&vm->disks[i].rl, u);
}

/* PATCH /network-interfaces/ID: Firecracker's PartialNetworkInterface. */
static const struct field net_patch_fields[] = {
	{"iface_id", K_STR, true}, {"rx_rate_limiter", K_LIMIT}, {"tx_rate_limiter", K_LIMIT},
};

int fc_patch_network_interface(struct fc_config *fc, const char *id, const char *body,
			       size_t len, struct rl_update limits[2], struct errbuf *err)
{
	memset(limits, 0, 2 * sizeof(*limits));
	json_t *o = load_object(body, len, "network-interfaces", err);
	if (!o)
		return refusal(err);
	int r = -1;
	if (!device_id(o, net_patch_fields, ARRAY_SIZE(net_patch_fields), "iface_id", id,
		       "network-interfaces", err))
		goto out;
	if (fc && vm_config_find_net(&fc->vm, id) < 0) {
		err_set(err, "network-interfaces: no network interface '%s'", id);
		goto out;
	}
	fc_limiter_parse(json_object_get(o, "rx_rate_limiter"), &limits[0], "network-interfaces",
			 "rx_rate_limiter", err);
	fc_limiter_parse(json_object_get(o, "tx_rate_limiter"), &limits[1], "network-interfaces",
			 "tx_rate_limiter", err);
	r = 0;
out:
	json_decref(o);
	return r ? refusal(err) : 0;
}

void fc_set_net_limits(struct vm_config *vm, const char *id, const struct rl_update limits[2])
{
	int i = vm_config_find_net(vm, id);
	if (i >= 0) {
		rl_config_apply(&vm->nets[i].rx, &limits[0]);
		rl_config_apply(&vm->nets[i].tx, &limits[1]);
	}
}

int fc_put_network_interface(struct fc_config *fc, const char *id, const char *body, size_t len,
			     struct errbuf *err)
{
	return put_body(fc, body, len, NULL, apply_net, id, "network-interfaces", err);
}

/* ---- the config file ---- */

/* An object under key (required or not). */
static int section(struct fc_config *fc, const json_t *doc, const char *key, bool required,
		   apply_fn fn, struct errbuf *err)
{
	const json_t *o = json_object_get(doc, key);
	if (!o || json_is_null(o)) {
		if (required)
			err_set(err, "%s: missing (a config file needs one)", key);
		return required ? -1 : 0;
	}
	if (!json_is_object(o)) {
		err_set(err, "%s: expected a JSON object", key);
		return -1;
	}
	return fn(fc, o, key, err);
}

/* An array of objects under key, each applied as its PUT. */
static int device_list(struct fc_config *fc, const json_t *doc, const char *key, bool drives,
		       struct errbuf *err)
{
	const json_t *a = json_object_get(doc, key);
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a)) {
		err_set(err, "%s: expected an array", key);
		return -1;
	}
	size_t i;
	const json_t *o;
	json_array_foreach(a, i, o) {
		char what[48];
		snprintf(what, sizeof(what), "%s[%zu]", key, i);
		if (!json_is_object(o)) {
			err_set(err, "%s: expected a JSON object", what);
			return -1;
		}
		if (drives ? apply_drive(fc, NULL, o, what, err) : apply_net(fc, NULL, o, what, err))
			return -1;
	}
	return 0;
}

static const char *const file_keys[] = {"boot-source", "drives", "machine-config",
					"network-interfaces", "logger", "metrics"};

static int check_file_keys(const json_t *doc, struct errbuf *err)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)doc, key, v) {
		size_t i = 0;
		while (i < ARRAY_SIZE(file_keys) && strcmp(key, file_keys[i]) != 0)
			i++;
		if (i < ARRAY_SIZE(file_keys))
			continue;
		int u = unsupported_index(key);
		if (u >= 0) {
			if (json_is_null(v) || (unsupported[u].array && json_is_array(v) &&
						json_array_size(v) == 0))
				continue;
			err_set(err, "%s: %s", key, unsupported[u].why);
			return -1;
		}
		err_set(err, "unknown key '%.40s' (expected boot-source, drives, machine-config, network-interfaces, logger, metrics)",
			key);
		return -1;
	}
	return 0;
}

int fc_config_file_parse(struct fc_config *fc, const char *text, size_t len, struct errbuf *err)
{
	if (len > FC_CONFIG_FILE_MAX) {
		err_set(err, "the config file is %zu bytes, more than ember reads (%u)", len,
			FC_CONFIG_FILE_MAX);
		return -1;
	}
	json_t *doc = load_object(text, len, NULL, err);
	if (!doc)
		return refusal(err);
	struct fc_config *n = malloc(sizeof(*n));
	if (!n) {
		json_decref(doc);
		err_set(err, "out of memory");
		return -1;
	}
	fc_config_init(n);
	/* Firecracker's order: machine, boot source, drives, interfaces. */
	int r = check_file_keys(doc, err);
	if (!r)
		r = section(n, doc, "machine-config", false, apply_machine_put, err);
	if (!r)
		r = section(n, doc, "boot-source", true, apply_boot_source, err);
	if (!r)
		r = device_list(n, doc, "drives", true, err);
	if (!r)
		r = device_list(n, doc, "network-interfaces", false, err);
	if (!r)
		r = section(n, doc, "logger", false, apply_logger, err);
	if (!r)
		r = section(n, doc, "metrics", false, apply_metrics, err);
	json_decref(doc);
	if (r) {
		fc_config_free(n);
	} else {
		fc_config_free(fc);
		*fc = *n;
	}
	free(n);
	return r ? refusal(err) : 0;
}

int fc_config_file_load(struct fc_config *fc, const char *path, struct errbuf *err)
{
	uint8_t *buf;
	size_t len;
	int r = read_file_max(path, FC_CONFIG_FILE_MAX, &buf, &len);
	if (r == -EFBIG)
		err_set(err, "config file '%s' is larger than %u bytes", path, FC_CONFIG_FILE_MAX);
	else if (r < 0)
		err_set(err, "cannot read config file '%s': %s", path, strerror(-r));
	if (r < 0)
		return refusal(err);
	r = fc_config_file_parse(fc, (const char *)buf, len, err);
	free(buf);
	if (r) {
		err_prefix(err, "config file '%s'", path);
		return refusal(err);
	}
	return 0;
}

/* ---- comparing ---- */

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

bool fc_config_equal(const struct fc_config *a, const struct fc_config *b)
{
	const struct vm_config *x = &a->vm, *y = &b->vm;
	if (!str_eq(x->kernel, y->kernel) || !str_eq(x->initrd, y->initrd) ||
	    !str_eq(x->cmdline, y->cmdline) || !str_eq(x->console_path, y->console_path) ||
	    x->cmdline_replaces_default != y->cmdline_replaces_default ||
	    x->guest_argc != y->guest_argc || x->cpus != y->cpus || x->mem_mib != y->mem_mib ||
	    x->console != y->console || x->boot_time != y->boot_time ||
	    x->seccomp != y->seccomp || x->kernel_irqchip != y->kernel_irqchip ||
	    x->ndisks != y->ndisks || x->nnets != y->nnets || x->nvfio != y->nvfio ||
	    x->root_disk != y->root_disk || strcmp(x->root_partuuid, y->root_partuuid) != 0)
		return false;
	for (unsigned i = 0; i < x->ndisks; i++) {
		const struct blk_opts *p = &x->disks[i], *q = &y->disks[i];
		const struct fc_drive *d = &a->drives[i], *e = &b->drives[i];
		if (strcmp(p->path, q->path) != 0 || p->ro != q->ro || p->direct != q->direct ||
		    strcmp(p->serial, q->serial) != 0 || strcmp(x->disk_ids[i], y->disk_ids[i]) != 0 ||
		    strcmp(d->partuuid, e->partuuid) != 0 || d->writeback != e->writeback ||
		    d->async != e->async || memcmp(&p->rl, &q->rl, sizeof(p->rl)) != 0)
			return false;
	}
	for (unsigned i = 0; i < x->nnets; i++) {
		const struct net_opts *p = &x->nets[i], *q = &y->nets[i];
		if (strcmp(p->tap, q->tap) != 0 || p->mac_set != q->mac_set ||
		    (p->mac_set && memcmp(p->mac, q->mac, 6) != 0) || p->queues != q->queues ||
		    p->mtu != q->mtu || strcmp(x->net_ids[i], y->net_ids[i]) != 0 ||
		    memcmp(&p->rx, &q->rx, sizeof(p->rx)) != 0 || memcmp(&p->tx, &q->tx, sizeof(p->tx)) != 0)
			return false;
	}
	for (unsigned i = 0; i < x->nvfio; i++)
		if (strcmp(x->vfio[i], y->vfio[i]) != 0)
			return false;
	const struct fc_observe *o = &a->observe, *p = &b->observe;
	return o->logger_set == p->logger_set && strcmp(o->log_path, p->log_path) == 0 &&
	       o->level == p->level && o->show_level == p->show_level &&
	       o->show_log_origin == p->show_log_origin && strcmp(o->module, p->module) == 0 &&
	       o->metrics_set == p->metrics_set &&
	       strcmp(o->metrics_path, p->metrics_path) == 0 && o->emit_id == p->emit_id;
}
