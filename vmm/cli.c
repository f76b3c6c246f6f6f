/* cli.c: parse ember's command line. Options are "--name VALUE" or
 * "--name=VALUE"; everything after "--" is the guest command. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli.h"
#include "vmm/cmdline.h"
#include "vmm/lib/opt_table.h"

/* Each option sets a field of the VM's configuration, except --help and
 * --version, which say what to do instead (flag). */
struct cli_option {
	struct opt_def d;
	int (*set)(struct vm_config *c, const char *val, struct errbuf *err);
	int (*flag)(struct ember_opts *o, const char *val, struct errbuf *err);
};

static int set_kernel(struct vm_config *o, const char *v, struct errbuf *e)
{
	(void)e;
	o->kernel = v;
	return 0;
}

static int set_initrd(struct vm_config *o, const char *v, struct errbuf *e)
{
	(void)e;
	o->initrd = v;
	return 0;
}

static int set_cmdline(struct vm_config *o, const char *v, struct errbuf *e)
{
	(void)e;
	o->cmdline = v;
	return 0;
}

static int set_cpus(struct vm_config *o, const char *v, struct errbuf *e)
{
	uint64_t n;
	if (parse_u64(v, 1, VM_MAX_CPUS, &n)) {
		err_set(e, "--cpus: '%s' is not a number from 1 to %d", v, VM_MAX_CPUS);
		return -1;
	}
	o->cpus = (unsigned)n;
	return 0;
}

static int set_mem(struct vm_config *o, const char *v, struct errbuf *e)
{
	uint64_t n;
	if (parse_u64(v, VM_MIN_MEM_MIB, VM_MAX_MEM_MIB, &n)) {
		err_set(e, "--mem: '%s' is not a size in MiB of at least %d", v, VM_MIN_MEM_MIB);
		return -1;
	}
	o->mem_mib = n;
	return 0;
}

static int set_console(struct vm_config *o, const char *v, struct errbuf *e)
{
	if (strcmp(v, "stdio") == 0) {
		o->console = CONSOLE_STDIO;
	} else if (strcmp(v, "none") == 0) {
		o->console = CONSOLE_NONE;
	} else if (strncmp(v, "file:", 5) == 0 && v[5]) {
		o->console = CONSOLE_FILE;
		o->console_path = v + 5;
	} else {
		err_set(e, "--console: '%s' is not one of none, stdio, file:PATH", v);
		return -1;
	}
	return 0;
}

static int set_disk(struct vm_config *o, const char *v, struct errbuf *e)
{
	if (o->ndisks >= VM_MAX_DISKS) {
		err_set(e, "--disk: at most %d disks", VM_MAX_DISKS);
		return -1;
	}
	if (blk_parse_opt(v, &o->disks[o->ndisks], e))
		return -1;
	o->ndisks++;
	return 0;
}

/* One of two words: *out = false for the first, true for the second. */
static int pick(const char *flag, const char *v, const char *first, const char *second, bool *out,
		struct errbuf *e)
{
	if (strcmp(v, first) != 0 && strcmp(v, second) != 0) {
		err_set(e, "--%s: '%s' is not %s or %s", flag, v, first, second);
		return -1;
	}
	*out = strcmp(v, second) == 0;
	return 0;
}

static int set_seccomp(struct vm_config *o, const char *v, struct errbuf *e)
{
	bool off;
	if (pick("seccomp", v, "on", "off", &off, e))
		return -1;
	o->seccomp = !off;
	return 0;
}

static int set_irqchip(struct vm_config *o, const char *v, struct errbuf *e)
{
	return pick("irqchip", v, "split", "kernel", &o->kernel_irqchip, e);
}

/* --kernel-unpack and --initrd-unpack: off, auto or all, as 0, 1, 2 (the
 * order of both enums); -1 with e set for anything else. */
static int unpack_mode(const char *flag, const char *v, struct errbuf *e)
{
	static const char *const names[] = {"off", "auto", "all"};
	for (int i = 0; i < 3; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	err_set(e, "--%s: '%s' is not auto, all or off", flag, v);
	return -1;
}

static int set_kernel_unpack(struct vm_config *o, const char *v, struct errbuf *e)
{
	_Static_assert(KERNEL_UNPACK_OFF == 0 && KERNEL_UNPACK_AUTO == 1 && KERNEL_UNPACK_ALL == 2,
		       "unpack_mode's order");
	int m = unpack_mode("kernel-unpack", v, e);
	if (m < 0)
		return -1;
	o->kernel_unpack = (enum kernel_unpack)m;
	return 0;
}

static int set_initrd_unpack(struct vm_config *o, const char *v, struct errbuf *e)
{
	_Static_assert(INITRD_UNPACK_OFF == 0 && INITRD_UNPACK_AUTO == 1 && INITRD_UNPACK_ALL == 2,
		       "unpack_mode's order");
	int m = unpack_mode("initrd-unpack", v, e);
	if (m < 0)
		return -1;
	o->initrd_unpack = (enum initrd_unpack)m;
	return 0;
}

static int set_kernel_cache(struct vm_config *o, const char *v, struct errbuf *e)
{
	if (!*v) {
		err_set(e, "--kernel-cache: give a directory or off");
		return -1;
	}
	o->kernel_cache = strcmp(v, "off") ? v : NULL;
	return 0;
}

/* The kernel cache's default place: $XDG_CACHE_HOME/ember/kernels, else
 * $HOME/.cache/ember/kernels (the XDG base directory rule); none when
 * neither is set (as under ember-jailer, which passes neither on). */
static const char *default_kernel_cache(void)
{
	static char path[PATH_MAX];
	const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
	int n;
	if (x && x[0] == '/')
		n = snprintf(path, sizeof(path), "%s/ember/kernels", x);
	else if (h && h[0] == '/')
		n = snprintf(path, sizeof(path), "%s/.cache/ember/kernels", h);
	else
		return NULL;
	return n > 0 && (size_t)n < sizeof(path) ? path : NULL;
}

static int set_net(struct vm_config *o, const char *v, struct errbuf *e)
{
	if (o->nnets >= VM_MAX_NETS) {
		err_set(e, "--net: at most %d NICs", VM_MAX_NETS);
		return -1;
	}
	if (net_parse_opt(v, &o->nets[o->nnets], e))
		return -1;
	for (unsigned i = 0; i < o->nnets; i++) {
		if (strcmp(o->nets[i].tap, o->nets[o->nnets].tap) == 0) {
			err_set(e, "--net: tap=%s given twice", o->nets[i].tap);
			return -1;
		}
	}
	o->nnets++;
	return 0;
}

static int set_vfio(struct vm_config *o, const char *v, struct errbuf *e)
{
	return pci_bdf_add(o->vfio, &o->nvfio, VM_MAX_VFIO, v, e);
}

static int set_boot_time(struct vm_config *o, const char *v, struct errbuf *e)
{
	(void)v, (void)e;
	o->boot_time = true;
	return 0;
}

static int set_api_sock(struct ember_opts *o, const char *v, struct errbuf *e)
{
	if (!v[0] || strlen(v) >= 108) { /* sun_path */
		err_set(e, "--api-sock: '%s' is not a socket path (1-107 bytes)", v);
		return -1;
	}
	o->api_sock = v;
	return 0;
}

static int set_config_file(struct ember_opts *o, const char *v, struct errbuf *e)
{
	(void)e;
	o->config_file = v;
	return 0;
}

static int set_no_api(struct ember_opts *o, const char *v, struct errbuf *e)
{
	(void)v, (void)e;
	o->no_api = true;
	return 0;
}

/* Firecracker's rule: 1-64 letters, digits and '-'. */
static int set_id(struct ember_opts *o, const char *v, struct errbuf *e)
{
	size_t n = strlen(v);
	bool ok = n >= 1 && n <= EMBER_ID_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		     (v[i] >= '0' && v[i] <= '9') || v[i] == '-';
	if (!ok) {
		err_set(e, "--id: '%s' is not 1-%d letters, digits and '-'", v, EMBER_ID_MAX);
		return -1;
	}
	o->id = v;
	return 0;
}

static int set_path(const char *flag, const char **out, const char *v, struct errbuf *e)
{
	if (!v[0] || strlen(v) >= FC_PATH_MAX) {
		err_set(e, "--%s: '%.40s' is not a path (1-%d bytes)", flag, v, FC_PATH_MAX - 1);
		return -1;
	}
	*out = v;
	return 0;
}

static int set_log_path(struct ember_opts *o, const char *v, struct errbuf *e)
{
	return set_path("log-path", &o->log_path, v, e);
}

static int set_metrics_path(struct ember_opts *o, const char *v, struct errbuf *e)
{
	return set_path("metrics-path", &o->metrics_path, v, e);
}

static int set_level(struct ember_opts *o, const char *v, struct errbuf *e)
{
	if (log_level_parse(v, &o->level)) {
		err_set(e, "--level: '%s' is not one of Error, Warning, Info, Debug, Trace, Off", v);
		return -1;
	}
	o->level_set = true;
	return 0;
}

void cli_observe(const struct ember_opts *o, struct fc_observe *ob)
{
	if (!ob->logger_set && (o->log_path || o->level_set)) {
		ob->logger_set = true;
		if (o->log_path)
			snprintf(ob->log_path, sizeof(ob->log_path), "%s", o->log_path);
		if (o->level_set)
			ob->level = (enum fc_log_level)o->level;
	}
	if (!ob->metrics_set && o->metrics_path) {
		ob->metrics_set = true;
		snprintf(ob->metrics_path, sizeof(ob->metrics_path), "%s", o->metrics_path);
	}
}

static int set_restore(struct ember_opts *o, const char *v, struct errbuf *e)
{
	return set_path("restore", &o->restore, v, e);
}

static int set_mem_file(struct ember_opts *o, const char *v, struct errbuf *e)
{
	return set_path("mem-file", &o->mem_file, v, e);
}

/* ID=TAP: the restored NIC ID (its iface_id, or net0, net1, ...) on TAP. */
static int set_net_override(struct ember_opts *o, const char *v, struct errbuf *e)
{
	const char *eq = strchr(v, '=');
	unsigned n = o->n_net_override;
	if (!eq || eq == v || (size_t)(eq - v) > VM_ID_MAX || !net_tap_name_ok(eq + 1, strlen(eq + 1))) {
		err_set(e, "--net-override: '%s' is not ID=TAP (an interface id and a TAP name)", v);
		return -1;
	}
	if (n == VM_MAX_NETS) {
		err_set(e, "--net-override: at most %d", VM_MAX_NETS);
		return -1;
	}
	snprintf(o->net_override_buf[n], sizeof(o->net_override_buf[n]), "%.*s", (int)(eq - v), v);
	o->net_override[n].id = o->net_override_buf[n];
	o->net_override[n].tap = eq + 1;
	o->n_net_override++;
	return 0;
}

static int set_fill_kernel_cache(struct ember_opts *o, const char *v, struct errbuf *e)
{
	(void)v, (void)e;
	o->fill_kernel_cache = true;
	return 0;
}

static int set_help(struct ember_opts *o, const char *v, struct errbuf *e)
{
	(void)v, (void)e;
	o->help = true;
	return 0;
}

static int set_version(struct ember_opts *o, const char *v, struct errbuf *e)
{
	(void)v, (void)e;
	o->version = true;
	return 0;
}

static const struct cli_option options[] = {
	{{"kernel", "PATH", "guest kernel: ELF vmlinux (PVH or 64-bit entry) or bzImage (required)"}, set_kernel},
	{{"kernel-unpack", "auto|all|off", "a bzImage: auto (default): ember decompresses the kernel inside when it is LZ4, zstd or gzip and boots it through PVH when it has a PVH entry, else boots the bzImage; all: XZ too (no faster than the guest's own decompressor); off: always boot the bzImage, which decompresses itself in the guest"}, set_kernel_unpack},
	{{"initrd-unpack", "auto|all|off", "an initrd that is a compressed cpio archive (gzip, zstd, XZ or LZ4), alone or after uncompressed ones (CPU microcode): auto (default): ember decompresses it into guest RAM and keeps the result in the kernel cache, so the guest's kernel is handed plain archives as its initrd and does not decompress them; without a kernel cache, zstd and LZ4 are left to the guest, which decompresses them faster; all: ember decompresses every format, cache or not; off: the guest decompresses it"}, set_initrd_unpack},
	{{"kernel-cache", "DIR|off", "where ember keeps the vmlinux files it unpacks from bzImages and the archives it decompresses from initrds, so the next boot with the same file reads it instead of decompressing it (of each kind the 4 most recently used; a vmlinux ~50 MiB; default $XDG_CACHE_HOME/ember/kernels or ~/.cache/ember/kernels); off: keep none"}, set_kernel_cache},
	{{"fill-kernel-cache", NULL, "load --kernel and --initrd (or the config file's) as a boot would, keep what ember decompresses in the kernel cache, say on stdout where each stands, and exit without running a VM (no /dev/kvm needed): how a cache shared with jails (ember-jailer --kernel-cache) is filled"}, NULL, set_fill_kernel_cache},
	{{"initrd", "PATH", "initial ramdisk"}, set_initrd},
	{{"cmdline", "STR", "kernel command line, appended to ember's: \"" CMDLINE_DEFAULT "\""}, set_cmdline},
	{{"cpus", "N", "number of vCPUs, 1-254 (default 1)"}, set_cpus},
	{{"mem", "MiB", "guest memory in MiB, at least 32 (default 256)"}, set_mem},
	{{"console", "MODE", "serial console: stdio (default), none, or file:PATH"}, set_console},
	{{"disk", "PATH[,ro][,id=SERIAL][,direct][,bw=BYTES/MS[+BURST]][,ops=N/MS[+BURST]]", "virtio-blk disk (repeatable; the first is /dev/vda): read-only, serial, O_DIRECT; rate limits: at most BYTES (K, M, G: KiB, MiB, GiB) or N requests per MS milliseconds, plus a one-time BURST (e.g. bw=4M/1000,ops=200/1000)"}, set_disk},
	{{"irqchip", "split|kernel", "interrupt controllers: split (default): local APICs in KVM, IOAPIC in ember, no PIC or PIT; kernel: KVM's IOAPIC, PIC and PIT (slower to create and destroy)"}, set_irqchip},
	{{"seccomp", "on|off", "per-thread seccomp filters (default on); off is for debugging only"}, set_seccomp},
	{{"net", "tap=NAME[,mac=MAC][,queues=N][,mtu=N][,rx-bw=..][,rx-ops=..][,tx-bw=..][,tx-ops=..]", "virtio-net NIC on a TAP (repeatable; eth0, eth1, ...), created if missing; queues: 1-8 queue pairs; mtu: set the TAP's MTU (the guest gets the TAP's); rate limits for receive (rx, host to guest) and transmit (tx), as --disk's bw= and ops= (frames); SIGUSR1 prints each NIC's counters and queue state as JSON on stderr"}, set_net},
	{{"vfio", "BDF", "pass the host PCI device BDF (e.g. 0000:01:00.1, an SR-IOV VF bound to vfio-pci) through to the guest (repeatable): its memory BARs and MSI-X on ember's PCI bus, all guest RAM pinned for its DMA (RLIMIT_MEMLOCK must allow it)"}, set_vfio},
	{{"boot-time", NULL, "print on stderr how long after ember started guest userspace began"}, set_boot_time},
	{{"api-sock", "PATH", "serve the Firecracker-compatible API on a Unix socket at PATH (removed at exit); without --kernel or --config-file, wait for the VM's configuration and InstanceStart there"}, NULL, set_api_sock},
	{{"config-file", "PATH", "boot the VM Firecracker's JSON config file describes (boot-source, machine-config, drives, network-interfaces, ...) instead of --kernel and the device options"}, NULL, set_config_file},
	{{"no-api", NULL, "with --config-file: serve no API"}, NULL, set_no_api},
	{{"id", "ID", "the VM's name in the API (1-64 letters, digits and '-'; default anonymous-instance)"}, NULL, set_id},
	{{"log-path", "PATH", "also write ember's log lines to PATH (a file, created if missing, or a named pipe) in Firecracker's format"}, NULL, set_log_path},
	{{"level", "LEVEL", "the log file's level: Error, Warning, Info (default), Debug, Trace or Off"}, NULL, set_level},
	{{"metrics-path", "PATH", "write Firecracker's metrics as a JSON line to PATH when the VM starts, every 60 s, on FlushMetrics and at exit"}, NULL, set_metrics_path},
	{{"restore", "STATE", "restore the snapshot whose state file is STATE (with --mem-file) and run it, instead of booting: its configuration, devices and guest come from the snapshot"}, NULL, set_restore},
	{{"mem-file", "MEM", "the snapshot's memory file (mapped privately: pages load on first touch, and clones of one snapshot share them)"}, NULL, set_mem_file},
	{{"net-override", "ID=TAP", "with --restore: put the snapshot's NIC ID (its iface_id, or net0, net1, ...) on TAP (repeatable)"}, NULL, set_net_override},
	{{"help", NULL, "show this help and exit"}, NULL, set_help},
	{{"version", NULL, "show ember's version and exit"}, NULL, set_version},
};

static const struct opt_table table = {
	options, ARRAY_SIZE(options), sizeof(options[0]), "ember", "guest commands",
};

void cli_usage(FILE *f)
{
	fprintf(f, "usage: ember --kernel PATH [options] [-- GUEST-COMMAND [ARGS...]]\n\n"
		   "Boot a Linux kernel in a KVM microVM. Words after -- go on the kernel\n"
		   "command line after \" -- \", so the guest's init runs them; ember exits with\n"
		   "the status the guest reports on port 0x501 (0 on guest reboot or power-off).\n\n"
		   "options:\n");
	opt_usage(&table, f, 18);
	fprintf(f, "\nexit status: the guest's, or 2 for bad input, %d for a VM failure,\n"
		   "128+N when ember is stopped by signal N.\n", EXIT_VM_ERROR);
}

static int set_one(void *ctx, size_t i, const char *val, struct errbuf *err)
{
	struct ember_opts *o = ctx;
	if (options[i].flag)
		return options[i].flag(o, val, err);
	return options[i].set(&o->vm, val, err);
}

int cli_parse(int argc, char **argv, struct ember_opts *o, struct errbuf *err)
{
	memset(o, 0, sizeof(*o));
	vm_config_defaults(&o->vm);
	o->vm.kernel_cache = default_kernel_cache();
	bool dashdash;
	int i = opt_parse(&table, argc, argv, set_one, o, &dashdash, err);
	if (i < 0)
		return -1;
	o->vm.guest_argv = argv + i;
	o->vm.guest_argc = i < argc ? (size_t)(argc - i) : 0;
	if (o->help || o->version)
		return 0;
	if (!o->id)
		o->id = "anonymous-instance";
	if (o->no_api && !o->config_file) {
		err_set(err, "--no-api needs --config-file");
		return -1;
	}
	if (o->no_api && o->api_sock) {
		err_set(err, "--no-api and --api-sock: give one");
		return -1;
	}
	if (o->config_file && o->vm.kernel) {
		err_set(err, "--config-file and --kernel: give one (the config file names the kernel)");
		return -1;
	}
	if (!o->restore != !o->mem_file) {
		err_set(err, "--restore and --mem-file go together (a snapshot's state and memory files)");
		return -1;
	}
	if (o->n_net_override && !o->restore) {
		err_set(err, "--net-override needs --restore");
		return -1;
	}
	if (o->fill_kernel_cache && (o->api_sock || o->restore || !(o->vm.kernel || o->config_file))) {
		err_set(err, "--fill-kernel-cache: %s",
			o->api_sock ? "not with --api-sock (it runs no VM)"
			: o->restore ? "not with --restore (a snapshot holds its kernel in its memory file)"
				     : "no kernel given (--kernel PATH, or --config-file PATH)");
		return -1;
	}
	if (o->restore) {
		struct vm_config d;
		vm_config_defaults(&d);
		if (o->config_file || o->vm.kernel || o->vm.initrd || o->vm.cmdline || o->vm.ndisks ||
		    o->vm.nnets || o->vm.nvfio || o->vm.cpus != d.cpus || o->vm.mem_mib != d.mem_mib ||
		    o->vm.guest_argc) {
			err_set(err, "--restore: the snapshot holds the VM's kernel, vCPUs, memory and "
				"devices (no --kernel, --config-file, --cpus, --mem, --disk, --net, --vfio "
				"or guest command)");
			return -1;
		}
		return 0;
	}
	if (!o->vm.kernel && !o->config_file && !o->api_sock) {
		err_set(err, "no kernel given (--kernel PATH, or --config-file PATH, or --api-sock PATH)");
		return -1;
	}
	return 0;
}
