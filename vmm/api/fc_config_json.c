/* fc_config_json.c: a configuration back into Firecracker's JSON, for
 * GET /vm/config (the config-file form, which fc_config_file_parse reads
 * back to the same configuration) and GET /machine-config (see
 * fc_config.h). The keys, their order and the nulls are Firecracker's. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/api/fc_config.h"
#include "vmm/api/fc_limiter.h"
#include "vmm/cmdline.h"

/* Building goes on after a failure: json_object_set_new and
 * json_array_append_new take NULL (an object or a value that could not be
 * made) and report it, and `ok` remembers. */
struct jb {
	bool ok;
};

static void set(struct jb *b, json_t *o, const char *key, json_t *v)
{
	if (!v || json_object_set_new(o, key, v))
		b->ok = false;
}

/* A string, or null for NULL (or "" when empty_is_null). Not UTF-8: fails. */
static json_t *str_or_null(struct jb *b, const char *s, bool empty_is_null)
{
	if (!s || (empty_is_null && !*s))
		return json_null();
	json_t *v = json_string(s);
	if (!v)
		b->ok = false;
	return v;
}

static json_t *machine(struct jb *b, const struct vm_config *vm)
{
	json_t *o = json_object();
	set(b, o, "vcpu_count", json_integer(vm->cpus));
	set(b, o, "mem_size_mib", json_integer((json_int_t)vm->mem_mib));
	set(b, o, "smt", json_false());
	set(b, o, "track_dirty_pages", json_false());
	set(b, o, "huge_pages", json_string("None"));
	return o;
}

/* boot_args as the kernel gets them (without the root device and the guest
 * command): a command-line configuration's --cmdline comes after ember's
 * default; null when nothing replaced or was added to the default. */
static json_t *boot_source(struct jb *b, const struct vm_config *vm)
{
	json_t *o = json_object();
	set(b, o, "kernel_image_path", str_or_null(b, vm->kernel ? vm->kernel : "", false));
	set(b, o, "initrd_path", str_or_null(b, vm->initrd, false));
	if (vm->cmdline && !vm->cmdline_replaces_default) {
		char *args;
		if (asprintf(&args, "%s %s", CMDLINE_DEFAULT, vm->cmdline) < 0) {
			b->ok = false;
		} else {
			set(b, o, "boot_args", str_or_null(b, args, false));
			free(args);
		}
	} else {
		set(b, o, "boot_args", str_or_null(b, vm->cmdline, false));
	}
	return o;
}

static json_t *drive(struct jb *b, const struct vm_config *vm, const struct fc_drive *x,
		     unsigned i)
{
	static const struct fc_drive none;
	const struct fc_drive *d = x ? &x[i] : &none;
	char id[VM_ID_MAX + 1];
	vm_config_disk_id(vm, i, id);
	json_t *o = json_object();
	set(b, o, "drive_id", str_or_null(b, id, false));
	set(b, o, "partuuid", str_or_null(b, d->partuuid, true));
	set(b, o, "is_root_device", json_boolean(i == 0 && vm->root_disk));
	set(b, o, "cache_type", json_string(d->writeback ? "Writeback" : "Unsafe"));
	set(b, o, "is_read_only", json_boolean(vm->disks[i].ro));
	set(b, o, "path_on_host", str_or_null(b, vm->disks[i].path, false));
	set(b, o, "rate_limiter", fc_limiter_json(&vm->disks[i].rl));
	set(b, o, "io_engine", json_string(d->async ? "Async" : "Sync"));
	set(b, o, "socket", json_null());
	return o;
}

static json_t *iface(struct jb *b, const struct vm_config *vm, unsigned i)
{
	const struct net_opts *n = &vm->nets[i];
	char id[VM_ID_MAX + 1], mac[18];
	vm_config_net_id(vm, i, id);
	net_format_mac(n->mac, mac);
	json_t *o = json_object();
	set(b, o, "iface_id", str_or_null(b, id, false));
	set(b, o, "host_dev_name", str_or_null(b, n->tap, false));
	set(b, o, "guest_mac", n->mac_set ? json_string(mac) : json_null());
	set(b, o, "mtu", n->mtu ? json_integer(n->mtu) : json_null());
	set(b, o, "rx_rate_limiter", fc_limiter_json(&n->rx));
	set(b, o, "tx_rate_limiter", fc_limiter_json(&n->tx));
	return o;
}

static json_t *logger(struct jb *b, const struct fc_observe *ob)
{
	static const char *const names[] = {"Off", "Trace", "Debug", "Info", "Warn", "Error"};
	json_t *o = json_object();
	set(b, o, "log_path", str_or_null(b, ob->log_path, true));
	set(b, o, "level", json_string(names[ob->level]));
	set(b, o, "show_level", json_boolean(ob->show_level));
	set(b, o, "show_log_origin", json_boolean(ob->show_log_origin));
	set(b, o, "module", str_or_null(b, ob->module, true));
	return o;
}

static json_t *metrics(struct jb *b, const struct fc_observe *ob)
{
	json_t *o = json_object();
	set(b, o, "metrics_path", str_or_null(b, ob->metrics_path, false));
	set(b, o, "emit_id", json_boolean(ob->emit_id));
	return o;
}

/* The object's text (compact, as Firecracker's), and o released. */
static char *dump(struct jb *b, json_t *o)
{
	char *s = b->ok && o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

char *fc_vm_config_json(const struct vm_config *vm, const struct fc_drive *drives,
			const struct fc_observe *observe)
{
	struct jb b = {true};
	json_t *o = json_object(), *d = json_array(), *n = json_array();
	if (!o || !d || !n) {
		json_decref(d);
		json_decref(n);
		b.ok = false;
		return dump(&b, o);
	}
	for (unsigned i = 0; i < vm->ndisks; i++)
		if (json_array_append_new(d, drive(&b, vm, drives, i)))
			b.ok = false;
	for (unsigned i = 0; i < vm->nnets; i++)
		if (json_array_append_new(n, iface(&b, vm, i)))
			b.ok = false;
	set(&b, o, "balloon", json_null());
	set(&b, o, "drives", d);
	set(&b, o, "boot-source", boot_source(&b, vm));
	set(&b, o, "cpu-config", json_null());
	set(&b, o, "logger", observe && observe->logger_set ? logger(&b, observe) : json_null());
	set(&b, o, "machine-config", machine(&b, vm));
	set(&b, o, "metrics", observe && observe->metrics_set ? metrics(&b, observe) : json_null());
	set(&b, o, "mmds-config", json_null());
	set(&b, o, "network-interfaces", n);
	set(&b, o, "vsock", json_null());
	set(&b, o, "entropy", json_null());
	set(&b, o, "pmem", json_array());
	set(&b, o, "memory-hotplug", json_null());
	return dump(&b, o);
}

char *fc_config_json(const struct fc_config *fc)
{
	return fc_vm_config_json(&fc->vm, fc->drives, &fc->observe);
}

char *fc_machine_config_json(const struct vm_config *vm)
{
	struct jb b = {true};
	return dump(&b, machine(&b, vm));
}
