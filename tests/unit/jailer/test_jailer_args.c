/* test_jailer_args.c: ember-jailer's argument parsing and checks (jailer/args.c):
 * required options, ids, uid/gid numbers, --cgroup and --resource-limit
 * syntax, defaults, --exec-in-place and what it excludes; and the rewriting
 * of ember's arguments for the jail: --kernel/--initrd/--disk/--console
 * file: in both forms, disk options kept, read-only kinds, name collisions,
 * words after "--" untouched, --net asking for /dev/net/tun; --log-path,
 * --metrics-path and --config-file brought in too (the config file's
 * contents: test_jailer_config.c); --vfio PCI addresses and the memlock
 * default they bring (from ember's --mem); --restore and --mem-file
 * (read-only files, /dev/net/tun); every option ember's --help lists with a
 * value known as one; --kernel-cache (an absolute
 * path; ember told to use the jail's /kernel-cache, first, guest words
 * after it untouched; refused when ember has its own; no file takes the
 * name). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "jailer/args.h"
#include "tests/unit/check.h"
#include "vmm/cli.h"

_Static_assert(EMBER_DEFAULT_MEM_MIB == VM_DEFAULT_MEM_MIB, "the jailer's copy of ember's --mem default");

static struct jail_opts o;
static struct errbuf err;
static char *argv_buf[64];

static int parse(const char *first, ...)
{
	int argc = 0;
	argv_buf[argc++] = "ember-jailer";
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		argv_buf[argc++] = (char *)a;
	va_end(ap);
	argv_buf[argc] = NULL;
	memset(&err, 0, sizeof(err));
	jail_opts_free(&o);
	return jail_parse_args(argc, argv_buf, &o, &err);
}

#define REQUIRED "--id", "vm-1", "--exec-file", "/usr/bin/ember", "--uid", "1000", "--gid", "1001"

#define EXPECT_ERR(pattern, ...)                                         \
	do {                                                             \
		CHECK_EQ(parse(__VA_ARGS__, NULL), -1);                  \
		if (!strstr(err.msg, pattern)) {                         \
			check_fail(__FILE__, __LINE__, "error '%s' lacks '%s'", err.msg, pattern); \
			return;                                          \
		}                                                        \
	} while (0)

static uint64_t rlimit_of(int resource)
{
	for (unsigned i = 0; i < o.nrlimits; i++)
		if (o.rlimits[i].resource == resource)
			return o.rlimits[i].value;
	return 12345;
}

static void minimal(void)
{
	CHECK_EQ(parse(REQUIRED, "--", "--kernel", "k", NULL), 0);
	CHECK_STR_EQ(o.id, "vm-1");
	CHECK_STR_EQ(o.exec_file, "/usr/bin/ember");
	CHECK_EQ(o.uid, 1000);
	CHECK_EQ(o.gid, 1001);
	CHECK_STR_EQ(o.chroot_base, "/srv/jailer");
	CHECK(!o.daemonize && !o.new_pid_ns && !o.exec_in_place && !o.keep_on_failure && !o.netns);
	CHECK_EQ(o.ncgroups, 0);
	CHECK_EQ(o.ember_argc, 2);
	CHECK_STR_EQ(o.ember_argv[0], "--kernel");
	/* defaults: nofile 2048, no core dumps */
	CHECK_EQ(rlimit_of(RLIMIT_NOFILE), 2048);
	CHECK_EQ(rlimit_of(RLIMIT_CORE), 0);
	CHECK_EQ(rlimit_of(RLIMIT_FSIZE), 12345);
}

static void all_options(void)
{
	CHECK_EQ(parse(REQUIRED, "--chroot-base=/run/j", "--cgroup", "memory.max=256M",
		       "--cgroup=cpu.max=50000 100000", "--cgroup", "pids.max=64",
		       "--cgroup", "cpuset.cpus=0", "--netns", "/var/run/netns/vm",
		       "--resource-limit", "fsize=1048576", "--resource-limit=nofile=64",
		       "--resource-limit", "core=unlimited", "--daemonize", "--new-pid-ns",
		       "--keep-on-failure", "--", "--kernel", "k", NULL), 0);
	CHECK_STR_EQ(o.chroot_base, "/run/j");
	CHECK_EQ(o.ncgroups, 4);
	CHECK_STR_EQ(o.cgroups[0].file, "memory.max");
	CHECK_STR_EQ(o.cgroups[0].value, "256M");
	CHECK_STR_EQ(o.cgroups[0].controller, "memory");
	CHECK_STR_EQ(o.cgroups[1].file, "cpu.max");
	CHECK_STR_EQ(o.cgroups[1].value, "50000 100000");
	CHECK_STR_EQ(o.cgroups[1].controller, "cpu");
	CHECK_STR_EQ(o.cgroups[3].controller, "cpuset");
	CHECK_STR_EQ(o.netns, "/var/run/netns/vm");
	CHECK_EQ(rlimit_of(RLIMIT_FSIZE), 1048576);
	CHECK_EQ(rlimit_of(RLIMIT_NOFILE), 64);
	CHECK_EQ(rlimit_of(RLIMIT_CORE), UINT64_MAX);
	CHECK(o.daemonize && o.new_pid_ns && o.keep_on_failure);
}

static void ids(void)
{
	CHECK(jail_id_valid("a"));
	CHECK(jail_id_valid("Vm-0123-abc"));
	char id[70];
	memset(id, 'x', 64);
	id[64] = '\0';
	CHECK(jail_id_valid(id));
	id[64] = 'x';
	id[65] = '\0';
	CHECK(!jail_id_valid(id));
	CHECK(!jail_id_valid(""));
	CHECK(!jail_id_valid("a_b"));
	CHECK(!jail_id_valid("../x"));
	CHECK(!jail_id_valid("a/b"));
	CHECK(!jail_id_valid("a b"));
	CHECK(!jail_id_valid("a.b"));
	EXPECT_ERR("--id: '../etc'", "--id", "../etc", "--exec-file", "e", "--uid", "1", "--gid", "1",
		   "--", "--kernel", "k");
}

static void required_and_shape(void)
{
	EXPECT_ERR("missing --id", "--exec-file", "e", "--uid", "1", "--gid", "1", "--", "x");
	EXPECT_ERR("missing --exec-file", "--id", "a", "--uid", "1", "--gid", "1", "--", "x");
	EXPECT_ERR("missing --uid", "--id", "a", "--exec-file", "e", "--gid", "1", "--", "x");
	EXPECT_ERR("missing --gid", "--id", "a", "--exec-file", "e", "--uid", "1", "--", "x");
	EXPECT_ERR("no ember arguments", REQUIRED);
	EXPECT_ERR("no ember arguments", REQUIRED, "--");
	EXPECT_ERR("unknown option '--frob'", REQUIRED, "--frob", "--", "x");
	EXPECT_ERR("unexpected argument 'x'", REQUIRED, "x", "--", "y");
	EXPECT_ERR("--netns needs a value", REQUIRED, "--netns");
	EXPECT_ERR("--daemonize takes no value", REQUIRED, "--daemonize=1", "--", "x");
	EXPECT_ERR("--chroot-base: 'rel/dir'", REQUIRED, "--chroot-base", "rel/dir", "--", "x");
	EXPECT_ERR("--exec-file: 'dir/'", "--id", "a", "--exec-file", "dir/", "--uid", "1", "--gid",
		   "1", "--", "x");
	CHECK_EQ(parse("--help", NULL), 0);
	CHECK(o.help);
}

static void exec_in_place(void)
{
	CHECK_EQ(parse(REQUIRED, "--exec-in-place", "--", "x", NULL), 0);
	CHECK(o.exec_in_place && !o.new_pid_ns && !o.daemonize);
	/* Those two start ember as a child. */
	EXPECT_ERR("--exec-in-place cannot be combined with --new-pid-ns", REQUIRED,
		   "--exec-in-place", "--new-pid-ns", "--", "x");
	EXPECT_ERR("--exec-in-place cannot be combined with --daemonize", REQUIRED, "--daemonize",
		   "--exec-in-place", "--", "x");
	EXPECT_ERR("--exec-in-place takes no value", REQUIRED, "--exec-in-place=1", "--", "x");
}

static void uid_gid_numbers(void)
{
	EXPECT_ERR("--uid: 'root'", "--id", "a", "--exec-file", "e", "--uid", "root", "--gid", "1", "--", "x");
	EXPECT_ERR("--uid: '-1'", "--id", "a", "--exec-file", "e", "--uid", "-1", "--gid", "1", "--", "x");
	EXPECT_ERR("--gid: '4294967295'", "--id", "a", "--exec-file", "e", "--uid", "1", "--gid",
		   "4294967295", "--", "x");
	EXPECT_ERR("--gid: ''", "--id", "a", "--exec-file", "e", "--uid", "1", "--gid", "", "--", "x");
	CHECK_EQ(parse("--id", "a", "--exec-file", "e", "--uid", "0", "--gid", "4294967294", "--", "x",
		       NULL), 0);
	CHECK_EQ(o.uid, 0);
	CHECK_EQ(o.gid, 4294967294u);
}

static void cgroup_syntax(void)
{
	EXPECT_ERR("not FILE=VALUE", REQUIRED, "--cgroup", "memory.max", "--", "x");
	EXPECT_ERR("not FILE=VALUE", REQUIRED, "--cgroup", "memory.max=", "--", "x");
	EXPECT_ERR("not FILE=VALUE", REQUIRED, "--cgroup", "=1", "--", "x");
	EXPECT_ERR("'cgroup.procs' is not a file of a cgroup v2 controller", REQUIRED, "--cgroup",
		   "cgroup.procs=1", "--", "x");
	EXPECT_ERR("'../memory.max'", REQUIRED, "--cgroup", "../memory.max=1", "--", "x");
	EXPECT_ERR("'memory/x.max'", REQUIRED, "--cgroup", "memory/x.max=1", "--", "x");
	EXPECT_ERR("'bogus.max'", REQUIRED, "--cgroup", "bogus.max=1", "--", "x");
	EXPECT_ERR("'memory'", REQUIRED, "--cgroup", "memory=1", "--", "x");
	EXPECT_ERR("'memory.'", REQUIRED, "--cgroup", "memory.=1", "--", "x");
	EXPECT_ERR("newline", REQUIRED, "--cgroup", "memory.max=1\n2", "--", "x");
	CHECK_EQ(parse(REQUIRED, "--cgroup", "memory.swap.max=0", "--", "x", NULL), 0);
	CHECK_STR_EQ(o.cgroups[0].controller, "memory");
}

static void rlimit_syntax(void)
{
	EXPECT_ERR("unknown limit 'stack'", REQUIRED, "--resource-limit", "stack=1", "--", "x");
	EXPECT_ERR("--resource-limit fsize: 'big'", REQUIRED, "--resource-limit", "fsize=big", "--", "x");
	EXPECT_ERR("--resource-limit nofile: ''", REQUIRED, "--resource-limit", "nofile", "--", "x");
	EXPECT_ERR("--resource-limit nofile: '-1'", REQUIRED, "--resource-limit", "nofile=-1", "--", "x");
	/* the last one wins */
	CHECK_EQ(parse(REQUIRED, "--resource-limit", "nofile=10", "--resource-limit", "nofile=20",
		       "--", "x", NULL), 0);
	CHECK_EQ(rlimit_of(RLIMIT_NOFILE), 20);
	CHECK_EQ(o.nrlimits, 2);
}

/* ---- planning the jail's files ---- */

static struct jail_plan plan;

static int build(const char *first, ...)
{
	static char *words[64];
	int n = 0;
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		words[n++] = (char *)a;
	va_end(ap);
	words[n] = NULL;
	jail_plan_free(&plan);
	memset(&err, 0, sizeof(err));
	return jail_plan_build(words, n, "ember", &plan, &err);
}

static void rewrites_paths(void)
{
	CHECK_EQ(build("--kernel", "/boot/vmlinuz", "--initrd=/b/initrd.gz", "--mem", "512",
		       "--disk", "/var/lib/vm/root.ext4,ro,id=ROOT", "--disk=../d2.img",
		       "--console", "file:/var/log/vm.log", "--cmdline", "--kernel /x", NULL), 0);
	CHECK_EQ(plan.argc, 13);
	CHECK_STR_EQ(plan.argv[0], "/ember");
	CHECK_STR_EQ(plan.argv[1], "--kernel");
	CHECK_STR_EQ(plan.argv[2], "/vmlinuz");
	CHECK_STR_EQ(plan.argv[3], "--initrd=/initrd.gz");
	CHECK_STR_EQ(plan.argv[4], "--mem");
	CHECK_STR_EQ(plan.argv[5], "512");
	CHECK_STR_EQ(plan.argv[6], "--disk");
	CHECK_STR_EQ(plan.argv[7], "/root.ext4,ro,id=ROOT");
	CHECK_STR_EQ(plan.argv[8], "--disk=/d2.img");
	CHECK_STR_EQ(plan.argv[9], "--console");
	CHECK_STR_EQ(plan.argv[10], "file:/vm.log");
	CHECK_STR_EQ(plan.argv[11], "--cmdline");
	CHECK_STR_EQ(plan.argv[12], "--kernel /x"); /* a value, not an option */
	CHECK(plan.argv[13] == NULL);
	CHECK_EQ(plan.nfiles, 5);
	CHECK_EQ(plan.files[0].kind, JF_KERNEL);
	CHECK_STR_EQ(plan.files[0].src, "/boot/vmlinuz");
	CHECK(plan.files[0].read_only);
	CHECK_EQ(plan.files[1].kind, JF_INITRD);
	CHECK(plan.files[1].read_only);
	CHECK_EQ(plan.files[2].kind, JF_DISK);
	CHECK_STR_EQ(plan.files[2].src, "/var/lib/vm/root.ext4");
	CHECK(plan.files[2].read_only);
	CHECK_STR_EQ(plan.files[3].src, "../d2.img");
	CHECK(!plan.files[3].read_only);
	CHECK_EQ(plan.files[4].kind, JF_CONSOLE);
	CHECK_STR_EQ(plan.files[4].src, "/var/log/vm.log");
	CHECK(!plan.files[4].read_only);
	CHECK(!plan.needs_tun);
}

static void guest_words_untouched(void)
{
	CHECK_EQ(build("--kernel", "k", "--", "--disk", "/etc/passwd", "--net", NULL), 0);
	CHECK_EQ(plan.nfiles, 1);
	CHECK_STR_EQ(plan.argv[2], "/k");
	CHECK_STR_EQ(plan.argv[3], "--");
	CHECK_STR_EQ(plan.argv[4], "--disk");
	CHECK_STR_EQ(plan.argv[5], "/etc/passwd");
	CHECK(!plan.needs_tun);
}

static void name_collisions(void)
{
	CHECK_EQ(build("--kernel", "/a/img", "--disk", "/b/img", "--disk", "/c/img,direct",
		       "--disk", "/d/ember", "--disk", "/e/dev", NULL), 0);
	CHECK_STR_EQ(plan.argv[2], "/img");
	CHECK_STR_EQ(plan.argv[4], "/1-img");
	CHECK_STR_EQ(plan.argv[6], "/2-img,direct");
	CHECK_STR_EQ(plan.argv[8], "/1-ember"); /* the binary's own name */
	CHECK_STR_EQ(plan.argv[10], "/1-dev");  /* the jail's /dev */
}

static void console_modes(void)
{
	CHECK_EQ(build("--kernel", "k", "--console", "none", NULL), 0);
	CHECK_EQ(plan.nfiles, 1);
	CHECK_STR_EQ(plan.argv[4], "none");
	CHECK_EQ(build("--kernel", "k", "--console=file:out.txt", NULL), 0);
	CHECK_STR_EQ(plan.argv[3], "--console=file:/out.txt");
	CHECK_EQ(plan.files[1].kind, JF_CONSOLE);
}

static void net_needs_tun(void)
{
	CHECK_EQ(build("--kernel", "k", "--net", "tap=tap0", NULL), 0);
	CHECK(plan.needs_tun);
	CHECK_STR_EQ(plan.argv[4], "tap=tap0");
	CHECK_EQ(build("--kernel", "k", "--net=tap=tap0", NULL), 0);
	CHECK(plan.needs_tun);
}

/* --api-sock: a path in the jail, its folder noted; the path stays as it is. */
static void api_socket(void)
{
	CHECK_EQ(build("--kernel", "k", "--api-sock", "/run/api.sock", NULL), 0);
	CHECK(plan.api_sock);
	CHECK_STR_EQ(plan.api_dir, "/run");
	CHECK_STR_EQ(plan.argv[4], "/run/api.sock");
	CHECK_EQ(build("--api-sock=/api.sock", NULL), 0);
	CHECK_STR_EQ(plan.api_dir, "");
	CHECK_STR_EQ(plan.argv[1], "--api-sock=/api.sock");
	CHECK_EQ(build("--api-sock", "run/api.sock", NULL), -1);
	CHECK(strstr(err.msg, "--api-sock 'run/api.sock': in a jail"));
	CHECK_EQ(build("--api-sock", "/run/../etc/x", NULL), -1);
	CHECK_EQ(build("--api-sock", "/run/", NULL), -1);
	CHECK_EQ(build("--api-sock", "/dev/api.sock", NULL), -1);
	CHECK_EQ(build("--api-sock", "//dev/api.sock", NULL), -1); /* /dev after all */
	CHECK_EQ(build("--api-sock", "/./api.sock", NULL), -1);     /* the jail's root chowned */
	CHECK_EQ(build("--api-sock", "/run/./api.sock", NULL), -1);
	CHECK_EQ(build("--api-sock", "/run/.", NULL), -1);
	CHECK_EQ(build("--kernel", "k", NULL), 0);
	CHECK(!plan.api_sock);
}

static void bad_paths(void)
{
	CHECK_EQ(build("--kernel", "/boot/", NULL), -1);
	CHECK(strstr(err.msg, "--kernel /boot/: not a file name"));
	CHECK_EQ(build("--disk", "/a/..,ro", NULL), -1);
	CHECK(strstr(err.msg, "not a file name"));
	CHECK_EQ(build("--disk", ",ro", NULL), -1);
	CHECK(strstr(err.msg, "--disk: empty path"));
	CHECK_EQ(build("--console", "file:", NULL), -1);
	/* a missing value is left for ember to report */
	CHECK_EQ(build("--kernel", NULL), 0);
	CHECK_EQ(plan.argc, 2);
	CHECK_STR_EQ(plan.argv[1], "--kernel");
}

/* --restore and --mem-file: read-only files in the jail; a snapshot may
 * hold NICs, so /dev/net/tun too; --net-override's value is no path. */
static void snapshot_files(void)
{
	CHECK_EQ(build("--restore", "/snap/vm.state", "--mem-file=/snap/vm.mem", "--net-override",
		       "net0=tap7", NULL), 0);
	CHECK_EQ(plan.argc, 6);
	CHECK_STR_EQ(plan.argv[2], "/vm.state");
	CHECK_STR_EQ(plan.argv[3], "--mem-file=/vm.mem");
	CHECK_STR_EQ(plan.argv[5], "net0=tap7");
	CHECK_EQ(plan.nfiles, 2);
	CHECK_EQ(plan.files[0].kind, JF_SNAPSHOT);
	CHECK_STR_EQ(plan.files[0].src, "/snap/vm.state");
	CHECK(plan.files[0].read_only);
	CHECK_EQ(plan.files[1].kind, JF_SNAPSHOT);
	CHECK(plan.files[1].read_only);
	CHECK(plan.needs_tun);
}

/* Every ember option that takes a value (as ember's own --help lists them)
 * is one whose value the jailer passes over: "--OPTION --kernel /x/k" never
 * brings /x/k in as ember's kernel. (--restore and --mem-file were missing
 * once, and their files never reached the jail.) */
static void knows_every_valued_ember_option(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		abort();
	cli_usage(f);
	fclose(f);
	unsigned n = 0;
	char misread[64] = "";
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		/* "  --NAME VALUE  help" takes a value; "  --NAME    help" does not. */
		if (strncmp(line, "  --", 4))
			continue;
		const char *name = line + 4;
		size_t nlen = strcspn(name, " ");
		if (name[nlen] != ' ' || name[nlen + 1] == ' ' || name[nlen + 1] == '\0')
			continue;
		static char opt[64];
		snprintf(opt, sizeof(opt), "--%.*s", (int)nlen, name);
		n++;
		if (build(opt, "--kernel", "/x/k", NULL) != 0)
			continue; /* the value was taken, and refused (--api-sock's) */
		for (unsigned i = 0; i < plan.nfiles; i++)
			if (plan.files[i].kind == JF_KERNEL && !strcmp(plan.files[i].src, "/x/k"))
				snprintf(misread, sizeof(misread), "%s", opt);
	}
	free(text);
	CHECK_STR_EQ(misread, "");
	CHECK(n >= 20);
}

static void kernel_cache_option(void)
{
	CHECK_EQ(parse(REQUIRED, "--kernel-cache", "/var/cache/ember", "--", "--kernel", "k", NULL), 0);
	CHECK_STR_EQ(o.kernel_cache, "/var/cache/ember");
	CHECK_EQ(parse(REQUIRED, "--kernel-cache=cache", "--", "--kernel", "k", NULL), -1);
	CHECK(strstr(err.msg, "--kernel-cache: 'cache' is not an absolute path"));
	/* ember is told, first; its own words and the guest's follow. */
	CHECK_EQ(build("--kernel", "/b/bzImage", "--", "--kernel-cache", "x", NULL), 0);
	CHECK(!plan.kernel_cache);
	CHECK_EQ(jail_plan_kernel_cache(&plan, &err), 0);
	CHECK_EQ(plan.argc, 8);
	CHECK_STR_EQ(plan.argv[0], "/ember");
	CHECK_STR_EQ(plan.argv[1], "--kernel-cache");
	CHECK_STR_EQ(plan.argv[2], "/kernel-cache");
	CHECK_STR_EQ(plan.argv[3], "--kernel");
	CHECK_STR_EQ(plan.argv[4], "/bzImage");
	CHECK_STR_EQ(plan.argv[5], "--");
	CHECK_STR_EQ(plan.argv[6], "--kernel-cache");
	CHECK_STR_EQ(plan.argv[7], "x");
	CHECK(plan.argv[8] == NULL);
	/* ember's own --kernel-cache (either form) with the jailer's: refused. */
	CHECK_EQ(build("--kernel", "k", "--kernel-cache", "off", NULL), 0);
	CHECK(plan.kernel_cache);
	CHECK_STR_EQ(plan.argv[4], "off");
	CHECK_EQ(jail_plan_kernel_cache(&plan, &err), -1);
	CHECK(strstr(err.msg, "given to both ember-jailer and ember"));
	CHECK_EQ(build("--kernel-cache=/c", "--kernel", "k", NULL), 0);
	CHECK(plan.kernel_cache);
	/* No file takes the cache's name in the jail. */
	CHECK_EQ(build("--kernel", "/a/kernel-cache", NULL), 0);
	CHECK_STR_EQ(plan.argv[2], "/1-kernel-cache");
}

static void bdf_syntax(void)
{
	char b[PCI_BDF_LEN];
	CHECK(pci_bdf_parse("0000:01:00.1", b));
	CHECK_STR_EQ(b, "0000:01:00.1");
	CHECK(pci_bdf_parse("00AB:Cd:1F.7", b));
	CHECK_STR_EQ(b, "00ab:cd:1f.7");
	CHECK(pci_bdf_parse("3a:00.0", b));
	CHECK_STR_EQ(b, "0000:3a:00.0");
	const char *bad[] = {"", "0000:01:00", "0000:01:20.0", "0000:01:00.8", "0000:01:00.1x",
			     "000:01:00.1", "0000-01:00.1", "0000:01:00:1", "0000:g1:00.1",
			     "../../../x", "0000:01:00.1 ", "1:0.0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pci_bdf_parse(bad[i], b))
			check_fail(__FILE__, __LINE__, "'%s' taken as a PCI address", bad[i]);
}

static void vfio_option(void)
{
	CHECK_EQ(parse(REQUIRED, "--vfio", "01:00.1", "--vfio=0000:02:00.3", "--", "--kernel", "k", NULL), 0);
	CHECK_EQ(o.nvfio, 2);
	CHECK_STR_EQ(o.vfio[0], "0000:01:00.1");
	CHECK_STR_EQ(o.vfio[1], "0000:02:00.3");
	EXPECT_ERR("--vfio: '01:00' is not a PCI address", REQUIRED, "--vfio", "01:00", "--", "k");
	EXPECT_ERR("--vfio 0000:01:00.1: given twice", REQUIRED, "--vfio", "01:00.1", "--vfio",
		   "0000:01:00.1", "--", "k");
	EXPECT_ERR("--vfio: at most 8", REQUIRED, "--vfio", "01:00.0", "--vfio", "01:00.1", "--vfio",
		   "01:00.2", "--vfio", "01:00.3", "--vfio", "01:00.4", "--vfio", "01:00.5", "--vfio",
		   "01:00.6", "--vfio", "01:00.7", "--vfio", "02:00.0", "--", "k");
	/* the error names the option even in the --vfio=BDF form */
	EXPECT_ERR("--vfio: 'x'", REQUIRED, "--vfio=x", "--", "k");
}

static void vfio_memlock_default(void)
{
	/* Without --vfio: no memlock limit is set. */
	CHECK_EQ(parse(REQUIRED, "--", "--kernel", "k", NULL), 0);
	jail_vfio_default_memlock(&o, 512);
	CHECK_EQ(rlimit_of(RLIMIT_MEMLOCK), 12345);
	/* With it: guest memory + the slack, from ember's --mem (or its default). */
	CHECK_EQ(parse(REQUIRED, "--vfio", "01:00.1", "--", "--kernel", "k", NULL), 0);
	CHECK_EQ(build("--kernel", "k", "--mem", "1024", NULL), 0);
	CHECK_EQ(plan.mem_mib, 1024);
	jail_vfio_default_memlock(&o, plan.mem_mib);
	CHECK_EQ(rlimit_of(RLIMIT_MEMLOCK), (1024ull + JAIL_VFIO_MEMLOCK_SLACK_MIB) << 20);
	CHECK_EQ(build("--kernel", "k", "--mem=2048", NULL), 0);
	CHECK_EQ(plan.mem_mib, 2048);
	CHECK_EQ(build("--kernel", "k", "--mem", "lots", NULL), 0);
	CHECK_EQ(plan.mem_mib, EMBER_DEFAULT_MEM_MIB);
	CHECK_EQ(build("--kernel", "k", "--", "--mem", "4096", NULL), 0);
	CHECK_EQ(plan.mem_mib, EMBER_DEFAULT_MEM_MIB);
	/* --resource-limit memlock wins. */
	CHECK_EQ(parse(REQUIRED, "--vfio", "01:00.1", "--resource-limit", "memlock=unlimited", "--",
		       "--kernel", "k", NULL), 0);
	jail_vfio_default_memlock(&o, 256);
	CHECK_EQ(rlimit_of(RLIMIT_MEMLOCK), UINT64_MAX);
}

static void ember_vfio_noted(void)
{
	CHECK_EQ(build("--kernel", "k", "--vfio", "01:00.1", "--vfio=0000:02:00.0", "--vfio", "bad",
		       "--", "--vfio", "03:00.0", NULL), 0);
	CHECK_EQ(plan.nvfio, 2); /* a bad one is ember's to report; guest words are not ember's */
	CHECK_STR_EQ(plan.vfio[0], "0000:01:00.1");
	CHECK_STR_EQ(plan.vfio[1], "0000:02:00.0");
	CHECK_STR_EQ(plan.argv[4], "01:00.1"); /* passed through unchanged */
	CHECK_EQ(parse(REQUIRED, "--vfio", "0000:02:00.0", "--", "--kernel", "k", NULL), 0);
	jail_vfio_merge(&o, &plan);
	CHECK_EQ(o.nvfio, 2);
	CHECK_STR_EQ(o.vfio[0], "0000:02:00.0");
	CHECK_STR_EQ(o.vfio[1], "0000:01:00.1");
}

/* --log-path and --metrics-path: files ember writes, brought in as the
 * console file is; --level's value is not taken for an option. */
static void log_and_metrics_paths(void)
{
	CHECK_EQ(build("--kernel", "k", "--log-path", "/var/log/vm.log", "--level", "Debug",
		       "--metrics-path=/run/vm.metrics", NULL), 0);
	CHECK_EQ(plan.argc, 8);
	CHECK_STR_EQ(plan.argv[4], "/vm.log");
	CHECK_STR_EQ(plan.argv[5], "--level");
	CHECK_STR_EQ(plan.argv[6], "Debug");
	CHECK_STR_EQ(plan.argv[7], "--metrics-path=/vm.metrics");
	CHECK_EQ(plan.nfiles, 3);
	CHECK_EQ(plan.files[1].kind, JF_LOG);
	CHECK_STR_EQ(plan.files[1].src, "/var/log/vm.log");
	CHECK(!plan.files[1].read_only);
	CHECK_STR_EQ(plan.files[1].what, "--log-path ");
	CHECK_EQ(plan.files[2].kind, JF_METRICS);
	CHECK(!plan.files[2].read_only);
	CHECK_STR_EQ(plan.files[2].what, "--metrics-path ");
	/* A value that looks like an option is still the value. */
	CHECK_EQ(build("--level", "--disk", "--metrics-path", "--kernel", NULL), 0);
	CHECK_EQ(plan.nfiles, 1);
	CHECK_EQ(plan.files[0].kind, JF_METRICS);
	CHECK_STR_EQ(plan.argv[4], "/--kernel");
	CHECK_EQ(build("--log-path", "/var/log/", NULL), -1);
	CHECK(strstr(err.msg, "--log-path /var/log/: not a file name"));
}

/* --config-file: a name in the jail for the rewritten copy (read later). */
static void config_file_option(void)
{
	CHECK_EQ(build("--config-file", "/etc/vm/vm.json", "--api-sock", "/run/api.sock",
		       "--no-api", NULL), 0);
	CHECK_EQ(plan.config, 0);
	CHECK_EQ(plan.files[0].kind, JF_CONFIG);
	CHECK_STR_EQ(plan.files[0].src, "/etc/vm/vm.json");
	CHECK_STR_EQ(plan.argv[2], "/vm.json");
	CHECK_STR_EQ(plan.argv[5], "--no-api");
	CHECK(plan.config_json == NULL); /* jail_config_load reads it */
	CHECK_EQ(build("--disk", "/a/vm.json", "--config-file=vm.json", NULL), 0);
	CHECK_EQ(plan.config, 1);
	CHECK_STR_EQ(plan.argv[3], "--config-file=/1-vm.json");
	CHECK_EQ(build("--config-file", "a.json", "--config-file", "b.json", NULL), -1);
	CHECK(strstr(err.msg, "--config-file given twice"));
	CHECK_EQ(build("--kernel", "k", NULL), 0);
	CHECK_EQ(plan.config, -1);
	/* What messages about each file start with. */
	CHECK_EQ(build("--kernel", "k", "--console", "file:c", "--disk=d", NULL), 0);
	CHECK_STR_EQ(plan.files[0].what, "--kernel ");
	CHECK_STR_EQ(plan.files[1].what, "--console file:");
	CHECK_STR_EQ(plan.files[2].what, "--disk ");
}

static void read_only_disk_option(void)
{
	CHECK_EQ(build("--disk", "a,id=ro", "--disk", "b,direct,ro", "--disk", "c,rox", NULL), 0);
	CHECK(!plan.files[0].read_only);
	CHECK(plan.files[1].read_only);
	CHECK(!plan.files[2].read_only);
}

int main(void)
{
	RUN(minimal);
	RUN(all_options);
	RUN(ids);
	RUN(required_and_shape);
	RUN(exec_in_place);
	RUN(uid_gid_numbers);
	RUN(cgroup_syntax);
	RUN(rlimit_syntax);
	RUN(rewrites_paths);
	RUN(guest_words_untouched);
	RUN(name_collisions);
	RUN(console_modes);
	RUN(net_needs_tun);
	RUN(bad_paths);
	RUN(api_socket);
	RUN(read_only_disk_option);
	RUN(log_and_metrics_paths);
	RUN(config_file_option);
	RUN(snapshot_files);
	RUN(knows_every_valued_ember_option);
	RUN(kernel_cache_option);
	RUN(bdf_syntax);
	RUN(ember_vfio_noted);
	RUN(vfio_option);
	RUN(vfio_memlock_default);
	jail_plan_free(&plan);
	jail_opts_free(&o);
	return check_summary();
}
