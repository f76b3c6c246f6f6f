/* args.c: parse and check ember-jailer's command line, and plan the jail's
 * files from ember's own arguments (args.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "jailer/args.h"
#include "vmm/lib/opt_table.h"
#include "vmm/lib/pci_addr.h"

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{"as", RLIMIT_AS},         {"core", RLIMIT_CORE},   {"fsize", RLIMIT_FSIZE},
	{"memlock", RLIMIT_MEMLOCK}, {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC},
};

/* cgroup v2 controllers whose files --cgroup may write. */
static const char *const controllers[] = {"cpu", "cpuset", "hugetlb", "io", "memory", "misc",
					  "pids", "rdma"};

bool jail_id_valid(const char *id)
{
	return name_ok(id, JAIL_ID_MAX, "-");
}

const char *jail_basename(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static int parse_id_number(const char *flag, const char *v, uint32_t *out, struct errbuf *e)
{
	uint64_t n;
	if (parse_u64(v, 0, UINT32_MAX - 1, &n)) {
		err_set(e, "--%s: '%s' is not a number from 0 to %u", flag, v, UINT32_MAX - 1);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

static int add_cgroup(struct jail_opts *o, const char *v, struct errbuf *e)
{
	const char *eq = strchr(v, '=');
	if (!eq || eq == v || !eq[1]) {
		err_set(e, "--cgroup: '%s' is not FILE=VALUE (e.g. memory.max=512M)", v);
		return -1;
	}
	if (o->ncgroups >= JAIL_MAX_CGROUPS) {
		err_set(e, "--cgroup: at most %d", JAIL_MAX_CGROUPS);
		return -1;
	}
	size_t flen = (size_t)(eq - v);
	const char *dot = memchr(v, '.', flen);
	bool name_ok = dot && dot != v && dot + 1 < eq;
	for (const char *c = v; c < eq && name_ok; c++)
		name_ok = (*c >= 'a' && *c <= 'z') || *c == '_' || *c == '.';
	size_t clen = dot ? (size_t)(dot - v) : 0;
	bool known = false;
	for (size_t i = 0; name_ok && i < ARRAY_SIZE(controllers); i++)
		known |= strlen(controllers[i]) == clen && !strncmp(controllers[i], v, clen);
	if (!name_ok || !known) {
		err_set(e, "--cgroup: '%.*s' is not a file of a cgroup v2 controller (cpu, cpuset, "
			   "hugetlb, io, memory, misc, pids, rdma)", (int)flen, v);
		return -1;
	}
	if (strchr(eq + 1, '\n')) {
		err_set(e, "--cgroup %.*s: the value has a newline", (int)flen, v);
		return -1;
	}
	struct jail_cgroup *c = &o->cgroups[o->ncgroups++];
	char *file = strndup(v, flen);
	if (!file) {
		err_set(e, "out of memory");
		return -1;
	}
	c->file = file;
	c->value = eq + 1;
	snprintf(c->controller, sizeof(c->controller), "%.*s", (int)clen, v);
	return 0;
}

static void set_rlimit(struct jail_opts *o, int resource, const char *name, uint64_t value)
{
	for (unsigned i = 0; i < o->nrlimits; i++)
		if (o->rlimits[i].resource == resource) {
			o->rlimits[i].value = value;
			return;
		}
	o->rlimits[o->nrlimits++] = (struct jail_rlimit){resource, name, value};
}

static int add_rlimit(struct jail_opts *o, const char *v, struct errbuf *e)
{
	const char *eq = strchr(v, '=');
	size_t nlen = eq ? (size_t)(eq - v) : strlen(v);
	for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++) {
		if (strlen(rlimit_names[i].name) != nlen || strncmp(rlimit_names[i].name, v, nlen))
			continue;
		uint64_t n;
		if (!eq || (strcmp(eq + 1, "unlimited") && parse_u64(eq + 1, 0, UINT64_MAX - 1, &n))) {
			err_set(e, "--resource-limit %.*s: '%s' is not NAME=NUMBER or NAME=unlimited",
				(int)nlen, v, eq ? eq + 1 : "");
			return -1;
		}
		if (!strcmp(eq + 1, "unlimited"))
			n = UINT64_MAX;
		set_rlimit(o, rlimit_names[i].resource, rlimit_names[i].name, n);
		return 0;
	}
	err_set(e, "--resource-limit: unknown limit '%.*s' (as, core, fsize, memlock, nofile, nproc)",
		(int)nlen, v);
	return -1;
}

static const struct opt_def options[] = {
	{"id", "ID", "the VM's name: 1-64 letters, digits and '-' (required)"},
	{"exec-file", "PATH", "the static ember binary to copy into the jail (required)"},
	{"uid", "UID", "user ember runs as (required)"},
	{"gid", "GID", "group ember runs as, with no supplementary groups (required)"},
	{"chroot-base", "DIR", "jails go in DIR/ember/ID/root (default " JAIL_DEFAULT_BASE ")"},
	{"cgroup", "FILE=VALUE", "write VALUE to FILE of the VM's cgroup v2 group (repeatable), e.g. memory.max=512M"},
	{"netns", "PATH", "join this network namespace (e.g. /var/run/netns/NAME)"},
	{"vfio", "BDF", "make the PCI device BDF (e.g. 0000:01:00.1, bound to vfio-pci) usable in the jail: /dev/vfio/vfio and its IOMMU group's node; memlock defaults to guest memory + 64 MiB (repeatable)"},
	{"kernel-cache", "DIR", "a shared kernel cache (filled by `ember --kernel-cache DIR --fill-kernel-cache ...` as root or UID, a directory of theirs nobody else may write to): the entries of this VM's kernel and initrd are bind-mounted read-only into the jail's /kernel-cache, where ember reads the vmlinux of a bzImage and the archive of an initrd instead of decompressing them"},
	{"resource-limit", "NAME=VALUE", "set an rlimit: as, core, fsize, memlock, nofile, nproc (repeatable; defaults nofile=2048, core=0)"},
	{"daemonize", NULL, "detach: new session, stdio on /dev/null; the jailer exits 0 once ember runs"},
	{"new-pid-ns", NULL, "run ember as PID 1 of a new PID namespace"},
	{"exec-in-place", NULL, "become ember (same PID) instead of its child: slower, moving into the cgroup waits for an RCU grace period"},
	{"keep-on-failure", NULL, "leave a half-built jail (and cgroup) behind for debugging"},
	{"help", NULL, "show this help and exit"},
};

static const struct opt_table table = {
	options, ARRAY_SIZE(options), sizeof(options[0]), "ember-jailer", "ember's arguments",
};

void jail_usage(FILE *f)
{
	fprintf(f, "usage: ember-jailer --id ID --exec-file PATH --uid UID --gid GID [options] -- EMBER-ARGS...\n\n"
		   "Build a jail for one VM and run ember in it: DIR/ember/ID/root holds a copy of\n"
		   "ember, the device nodes it needs and the files its arguments name (their paths\n"
		   "are rewritten); ember runs there in its own cgroup and mount namespace, as\n"
		   "UID:GID with no capabilities and no_new_privs. ember starts as the jailer's\n"
		   "child, born in its cgroup; the jailer waits, passes SIGHUP, SIGINT, SIGQUIT,\n"
		   "SIGTERM, SIGUSR1 and SIGUSR2 on, and exits as ember did (killing the jailer\n"
		   "kills ember).\n\noptions:\n");
	opt_usage(&table, f, 22);
	fprintf(f, "\nexit status: ember's; 2 for bad arguments, 1 when the jail cannot be built.\n");
}

static int parse(int argc, char **argv, struct jail_opts *o, struct errbuf *err);

static int set_option(struct jail_opts *o, const char *name, const char *v, struct errbuf *e)
{
	if (!strcmp(name, "id")) {
		if (!jail_id_valid(v)) {
			err_set(e, "--id: '%s' is not 1-%d letters, digits and '-'", v, JAIL_ID_MAX);
			return -1;
		}
		o->id = v;
	} else if (!strcmp(name, "exec-file")) {
		if (!*v || !*jail_basename(v)) {
			err_set(e, "--exec-file: '%s' is not a file name", v);
			return -1;
		}
		o->exec_file = v;
	} else if (!strcmp(name, "uid")) {
		o->have_uid = true;
		return parse_id_number(name, v, &o->uid, e);
	} else if (!strcmp(name, "gid")) {
		o->have_gid = true;
		return parse_id_number(name, v, &o->gid, e);
	} else if (!strcmp(name, "chroot-base")) {
		if (v[0] != '/' || strlen(v) > 2048) {
			err_set(e, "--chroot-base: '%s' is not an absolute path", v);
			return -1;
		}
		o->chroot_base = v;
	} else if (!strcmp(name, "cgroup")) {
		return add_cgroup(o, v, e);
	} else if (!strcmp(name, "netns")) {
		if (!*v) {
			err_set(e, "--netns: empty path");
			return -1;
		}
		o->netns = v;
	} else if (!strcmp(name, "kernel-cache")) {
		if (v[0] != '/' || strlen(v) > 2048) {
			err_set(e, "--kernel-cache: '%s' is not an absolute path", v);
			return -1;
		}
		o->kernel_cache = v;
	} else if (!strcmp(name, "resource-limit")) {
		return add_rlimit(o, v, e);
	} else if (!strcmp(name, "vfio")) {
		return pci_bdf_add(o->vfio, &o->nvfio, JAIL_MAX_VFIO, v, e);
	} else if (!strcmp(name, "daemonize")) {
		o->daemonize = true;
	} else if (!strcmp(name, "new-pid-ns")) {
		o->new_pid_ns = true;
	} else if (!strcmp(name, "exec-in-place")) {
		o->exec_in_place = true;
	} else if (!strcmp(name, "keep-on-failure")) {
		o->keep_on_failure = true;
	} else if (!strcmp(name, "help")) {
		o->help = true;
	}
	return 0;
}

int jail_parse_args(int argc, char **argv, struct jail_opts *o, struct errbuf *err)
{
	memset(o, 0, sizeof(*o));
	int r = parse(argc, argv, o, err);
	if (r)
		jail_opts_free(o);
	return r;
}

static int set_one(void *ctx, size_t i, const char *val, struct errbuf *err)
{
	return set_option(ctx, options[i].name, val, err);
}

static int parse(int argc, char **argv, struct jail_opts *o, struct errbuf *err)
{
	o->chroot_base = JAIL_DEFAULT_BASE;
	set_rlimit(o, RLIMIT_NOFILE, "nofile", JAIL_DEFAULT_NOFILE);
	set_rlimit(o, RLIMIT_CORE, "core", 0);
	bool dashdash;
	int i = opt_parse(&table, argc, argv, set_one, o, &dashdash, err);
	if (i < 0)
		return -1;
	if (o->help)
		return 0;
	const char *missing = !o->id ? "--id ID" : !o->exec_file ? "--exec-file PATH"
			    : !o->have_uid ? "--uid UID" : !o->have_gid ? "--gid GID" : NULL;
	if (missing) {
		err_set(err, "missing %s", missing);
		return -1;
	}
	if (o->exec_in_place && (o->new_pid_ns || o->daemonize)) {
		err_set(err, "--exec-in-place cannot be combined with --%s (both start ember as a child)",
			o->new_pid_ns ? "new-pid-ns" : "daemonize");
		return -1;
	}
	if (!dashdash || i >= argc) {
		err_set(err, "no ember arguments (ember-jailer ... -- --kernel PATH ...)");
		return -1;
	}
	o->ember_argv = argv + i;
	o->ember_argc = argc - i;
	return 0;
}

void jail_vfio_merge(struct jail_opts *o, const struct jail_plan *p)
{
	/* pci_bdf_add skips (with an error nobody needs) one already there. */
	struct errbuf ignored;
	for (unsigned i = 0; i < p->nvfio; i++)
		(void)pci_bdf_add(o->vfio, &o->nvfio, JAIL_MAX_VFIO, p->vfio[i], &ignored);
}

void jail_vfio_default_memlock(struct jail_opts *o, uint64_t guest_mem_mib)
{
	if (!o->nvfio)
		return;
	for (unsigned i = 0; i < o->nrlimits; i++)
		if (o->rlimits[i].resource == RLIMIT_MEMLOCK)
			return; /* --resource-limit memlock=... */
	set_rlimit(o, RLIMIT_MEMLOCK, "memlock", (guest_mem_mib + JAIL_VFIO_MEMLOCK_SLACK_MIB) << 20);
}

void jail_opts_free(struct jail_opts *o)
{
	for (unsigned i = 0; i < o->ncgroups; i++)
		free(o->cgroups[i].file);
	o->ncgroups = 0;
}

/* ---- ember's arguments ---- */

/* ember's options that take a value (vmm/cli.c), so that a value is never
 * taken for an option. */
static const char *const ember_valued[] = {"kernel", "initrd", "cmdline", "cpus", "mem",
					   "console", "disk", "seccomp", "net", "irqchip", "vfio",
					   "api-sock", "config-file", "id", "log-path", "level",
					   "metrics-path", "kernel-cache", "kernel-unpack",
					   "initrd-unpack", "restore", "mem-file", "net-override"};

static bool ember_takes_value(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(ember_valued); i++)
		if (strlen(ember_valued[i]) == len && !strncmp(ember_valued[i], name, len))
			return true;
	return false;
}

static bool name_taken(const struct jail_plan *p, const char *name, const char *exec_name)
{
	if (!strcmp(name, exec_name) || !strcmp(name, "dev") || !strcmp(name, JAIL_KERNEL_CACHE_NAME))
		return true;
	for (unsigned i = 0; i < p->nfiles; i++)
		if (!strcmp(p->files[i].name, name))
			return true;
	return false;
}

struct jail_file *jail_plan_add_file(struct jail_plan *p, enum jail_file_kind kind,
				     const char *src, size_t srclen, bool ro, const char *flag,
				     struct errbuf *e)
{
	if (p->nfiles >= JAIL_MAX_FILES) {
		err_set(e, "too many files in ember's arguments (at most %d)", JAIL_MAX_FILES);
		return NULL;
	}
	struct jail_file *f = &p->files[p->nfiles];
	if (srclen == 0 || srclen >= sizeof(f->src)) {
		err_set(e, "%s: %s path", flag, srclen ? "too long a" : "empty");
		return NULL;
	}
	memcpy(f->src, src, srclen);
	f->src[srclen] = '\0';
	const char *base = jail_basename(f->src);
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..") || strlen(base) > 200) {
		err_set(e, "%s %s: not a file name", flag, f->src);
		return NULL;
	}
	snprintf(f->name, sizeof(f->name), "%s", base);
	for (unsigned n = 1; name_taken(p, f->name, p->exec_name); n++)
		snprintf(f->name, sizeof(f->name), "%u-%s", n, base);
	snprintf(f->what, sizeof(f->what), "%s%s", flag, kind == JF_CONSOLE ? " file:" : " ");
	f->kind = kind;
	f->read_only = ro;
	p->nfiles++;
	return f;
}

static bool disk_read_only(const char *opts)
{
	/* opts: ",ro,id=x,direct" (or ""): look for the "ro" word. */
	for (const char *k = opts; k && *k;) {
		k++; /* past ',' */
		const char *end = strchr(k, ',');
		size_t len = end ? (size_t)(end - k) : strlen(k);
		if (len == 2 && !strncmp(k, "ro", 2))
			return true;
		k = end;
	}
	return false;
}

int jail_plan_build(char **ember_argv, int ember_argc, const char *exec_name,
		    struct jail_plan *p, struct errbuf *err)
{
	/* Not a memset: files[] is ~170 KiB, and only the entries used are
	 * touched (each fully). */
	p->nfiles = 0;
	p->needs_tun = false;
	p->mem_mib = EMBER_DEFAULT_MEM_MIB;
	p->nvfio = 0;
	p->api_sock = false;
	p->api_dir[0] = '\0';
	p->kernel_cache = false;
	p->config = -1;
	p->config_json = NULL;
	p->config_len = 0;
	p->exec_name = exec_name;
	p->argc = 0;
	/* Rewritten words are at most "/name" + the original word. */
	size_t room = 0;
	for (int i = 0; i < ember_argc; i++)
		room += strlen(ember_argv[i]) + 300;
	room += strlen(exec_name) + 2;
	p->strings = malloc(room);
	/* argv[0], ember's words, two for jail_plan_kernel_cache, NULL */
	p->argv = calloc((size_t)ember_argc + 4, sizeof(char *));
	if (!p->strings || !p->argv) {
		jail_plan_free(p);
		err_set(err, "out of memory");
		return -1;
	}
	char *s = p->strings;
	int n = 0;
	p->argv[n++] = s;
	s += sprintf(s, "/%s", exec_name) + 1;
	bool guest_words = false;
	for (int i = 0; i < ember_argc; i++) {
		char *a = ember_argv[i];
		if (guest_words || strncmp(a, "--", 2)) {
			p->argv[n++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			guest_words = true;
			p->argv[n++] = a;
			continue;
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		/* A NIC, or a snapshot that may hold NICs (its state file is
		 * ember's to read, not the jailer's). */
		if ((nlen == 3 && !strncmp(name, "net", 3)) || (nlen == 7 && !strncmp(name, "restore", 7)))
			p->needs_tun = true;
		if (!ember_takes_value(name, nlen)) {
			p->argv[n++] = a;
			continue;
		}
		/* The value: after '=' in this word, or the next word. */
		const char *val;
		if (eq) {
			val = eq + 1;
		} else if (i + 1 < ember_argc) {
			p->argv[n++] = a;
			val = ember_argv[++i];
		} else {
			p->argv[n++] = a; /* ember will say the value is missing */
			continue;
		}
		char flag[24];
		snprintf(flag, sizeof(flag), "--%.*s", (int)(nlen < 16 ? nlen : 16), name);
		const char *path = NULL, *rest = "";
		size_t plen = 0;
		enum jail_file_kind kind = JF_KERNEL;
		bool ro = true;
		const char *prefix = "";
		if (!strcmp(flag, "--kernel") || !strcmp(flag, "--initrd")) {
			kind = flag[2] == 'k' ? JF_KERNEL : JF_INITRD;
			path = val;
			plen = strlen(val);
		} else if (!strcmp(flag, "--disk")) {
			kind = JF_DISK;
			path = val;
			rest = strchr(val, ',');
			plen = rest ? (size_t)(rest - val) : strlen(val);
			if (!rest)
				rest = "";
			ro = disk_read_only(rest);
		} else if (!strcmp(flag, "--console") && !strncmp(val, "file:", 5)) {
			kind = JF_CONSOLE;
			path = val + 5;
			plen = strlen(path);
			ro = false;
			prefix = "file:";
		} else if (!strcmp(flag, "--log-path") || !strcmp(flag, "--metrics-path")) {
			kind = flag[2] == 'l' ? JF_LOG : JF_METRICS;
			path = val;
			plen = strlen(val);
			ro = false;
		} else if (!strcmp(flag, "--restore") || !strcmp(flag, "--mem-file")) {
			kind = JF_SNAPSHOT;
			path = val;
			plen = strlen(val);
		} else if (!strcmp(flag, "--config-file")) {
			if (p->config >= 0) {
				err_set(err, "--config-file given twice");
				jail_plan_free(p);
				return -1;
			}
			kind = JF_CONFIG;
			path = val;
			plen = strlen(val);
			p->config = (int)p->nfiles;
		}
		uint64_t mib;
		if (!strcmp(flag, "--kernel-cache"))
			p->kernel_cache = true;
		if (!strcmp(flag, "--mem") && !parse_u64(val, 1, UINT64_MAX >> 21, &mib))
			p->mem_mib = mib; /* a bad value: ember says so */
		if (!strcmp(flag, "--api-sock")) {
			const char *slash = strrchr(val, '/');
			/* (no '//' or '/./' either: "//dev/s" is under /dev too, and
			 * the folder made for the socket is chowned to UID) */
			if (val[0] != '/' || strstr(val, "/..") || strstr(val, "//") ||
			    strstr(val, "/./") || !slash[1] || !strcmp(slash, "/.") ||
			    !strncmp(val, "/dev/", 5) || (size_t)(slash - val) >= sizeof(p->api_dir)) {
				err_set(err, "--api-sock '%s': in a jail, an absolute path in the jail, "
					"without '..', '.' or empty parts, not under /dev", val);
				jail_plan_free(p);
				return -1;
			}
			p->api_sock = true;
			snprintf(p->api_dir, sizeof(p->api_dir), "%.*s", (int)(slash - val), val);
		}
		struct errbuf ignored;
		if (!strcmp(flag, "--vfio"))
			(void)pci_bdf_add(p->vfio, &p->nvfio, JAIL_MAX_VFIO, val, &ignored);
		if (!path) {
			/* another valued option: keep it as it was */
			p->argv[n++] = eq ? a : (char *)val;
			continue;
		}
		if (!jail_plan_add_file(p, kind, path, plen, ro, flag, err)) {
			jail_plan_free(p);
			return -1;
		}
		const char *jname = p->files[p->nfiles - 1].name;
		p->argv[n++] = s;
		if (eq)
			s += sprintf(s, "%s=%s/%s%s", flag, prefix, jname, rest) + 1;
		else
			s += sprintf(s, "%s/%s%s", prefix, jname, rest) + 1;
	}
	p->argv[n] = NULL;
	p->argc = n;
	return 0;
}

int jail_plan_kernel_cache(struct jail_plan *p, struct errbuf *err)
{
	if (p->kernel_cache) {
		err_set(err, "--kernel-cache is given to both ember-jailer and ember: in a jail, ember "
			     "uses the jailer's (read-only); give it to the jailer only");
		return -1;
	}
	memmove(&p->argv[3], &p->argv[1], (size_t)p->argc * sizeof(char *)); /* with the NULL */
	p->argv[1] = (char *)"--kernel-cache";
	p->argv[2] = (char *)"/" JAIL_KERNEL_CACHE_NAME;
	p->argc += 2;
	p->kernel_cache = true;
	return 0;
}

void jail_plan_free(struct jail_plan *p)
{
	free(p->strings);
	free(p->argv);
	free(p->config_json);
	p->strings = NULL;
	p->argv = NULL;
	p->config_json = NULL;
}
