/* test_cli.c: ember's option parser (cli.c): every option in both "--opt V"
 * and "--opt=V" forms, the defaults, "--" splitting off the guest command, the
 * errors (each with a message) for unknown options, missing values, values on
 * flags, bad numbers, bad console modes, stray arguments and a missing
 * --kernel, and --help/--version working without --kernel; --disk and --vfio
 * lists; --restore, --mem-file and --net-override. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/cli.h"

static struct ember_opts o;
static struct errbuf err;
static char *argv_buf[32];

/* Parse "ember" + the NULL-terminated words. */
static int parse(const char *first, ...)
{
	int argc = 0;
	argv_buf[argc++] = "ember";
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		argv_buf[argc++] = (char *)a;
	va_end(ap);
	argv_buf[argc] = NULL;
	memset(&err, 0, sizeof(err));
	return cli_parse(argc, argv_buf, &o, &err);
}

#define EXPECT_ERR(...)                                              \
	do {                                                         \
		CHECK_EQ(parse(__VA_ARGS__, NULL), -1);              \
		CHECK(err.msg[0] != '\0');                           \
	} while (0)

static void defaults(void)
{
	CHECK_EQ(parse("--kernel", "vmlinux", NULL), 0);
	CHECK_STR_EQ(o.vm.kernel, "vmlinux");
	CHECK(o.vm.initrd == NULL);
	CHECK(o.vm.cmdline == NULL);
	CHECK_EQ(o.vm.cpus, 1);
	CHECK_EQ(o.vm.mem_mib, 256);
	CHECK_EQ(o.vm.console, CONSOLE_STDIO);
	CHECK(o.vm.console_path == NULL);
	CHECK(!o.vm.boot_time);
	CHECK(!o.help);
	CHECK(!o.version);
	CHECK_EQ(o.vm.guest_argc, 0);
}

static void all_options_separate_values(void)
{
	CHECK_EQ(parse("--kernel", "k", "--initrd", "i", "--cmdline", "quiet x=1", "--cpus", "4",
		       "--mem", "1024", "--console", "none", "--boot-time", NULL), 0);
	CHECK_STR_EQ(o.vm.kernel, "k");
	CHECK_STR_EQ(o.vm.initrd, "i");
	CHECK_STR_EQ(o.vm.cmdline, "quiet x=1");
	CHECK_EQ(o.vm.cpus, 4);
	CHECK_EQ(o.vm.mem_mib, 1024);
	CHECK_EQ(o.vm.console, CONSOLE_NONE);
	CHECK(o.vm.boot_time);
	CHECK_EQ(o.vm.guest_argc, 0);
}

static void all_options_equals_values(void)
{
	CHECK_EQ(parse("--kernel=k", "--initrd=i", "--cmdline=a=b c", "--cpus=254", "--mem=32",
		       "--console=file:/tmp/out.log", NULL), 0);
	CHECK_STR_EQ(o.vm.kernel, "k");
	CHECK_STR_EQ(o.vm.initrd, "i");
	CHECK_STR_EQ(o.vm.cmdline, "a=b c"); /* only the first '=' splits */
	CHECK_EQ(o.vm.cpus, 254);
	CHECK_EQ(o.vm.mem_mib, 32);
	CHECK_EQ(o.vm.console, CONSOLE_FILE);
	CHECK_STR_EQ(o.vm.console_path, "/tmp/out.log");
}

static void console_modes(void)
{
	CHECK_EQ(parse("--kernel", "k", "--console", "file:x", "--console", "stdio", NULL), 0);
	CHECK_EQ(o.vm.console, CONSOLE_STDIO); /* the last one wins */
	CHECK_EQ(parse("--kernel", "k", "--console", "file:out", NULL), 0);
	CHECK_EQ(o.vm.console, CONSOLE_FILE);
	CHECK_STR_EQ(o.vm.console_path, "out");
	CHECK_EQ(parse("--kernel", "k", "--console=none", NULL), 0);
	CHECK_EQ(o.vm.console, CONSOLE_NONE);
}

static void empty_values_allowed_for_strings(void)
{
	CHECK_EQ(parse("--kernel", "k", "--cmdline=", NULL), 0);
	CHECK_STR_EQ(o.vm.cmdline, "");
	CHECK_EQ(parse("--kernel", "k", "--cmdline", "", NULL), 0);
	CHECK_STR_EQ(o.vm.cmdline, "");
}

static void value_looking_like_option(void)
{
	CHECK_EQ(parse("--kernel", "k", "--cmdline", "--foo", NULL), 0);
	CHECK_STR_EQ(o.vm.cmdline, "--foo");
}

static void double_dash_splits_guest_argv(void)
{
	CHECK_EQ(parse("--kernel", "k", "--", "/bin/sh", "-c", "--mem 5", "--", NULL), 0);
	CHECK_EQ(o.vm.guest_argc, 4);
	CHECK_STR_EQ(o.vm.guest_argv[0], "/bin/sh");
	CHECK_STR_EQ(o.vm.guest_argv[1], "-c");
	CHECK_STR_EQ(o.vm.guest_argv[2], "--mem 5");
	CHECK_STR_EQ(o.vm.guest_argv[3], "--");
	CHECK_EQ(o.vm.mem_mib, 256); /* words after -- are not options */
}

static void double_dash_at_end(void)
{
	CHECK_EQ(parse("--kernel", "k", "--", NULL), 0);
	CHECK_EQ(o.vm.guest_argc, 0);
}

static void options_before_double_dash_only(void)
{
	CHECK_EQ(parse("--", "--kernel", "k", NULL), -1); /* --kernel went to the guest */
	CHECK(err.msg[0] != '\0');
}

static void unknown_option(void)
{
	EXPECT_ERR("--kernel", "k", "--net", "x");
	CHECK(strstr(err.msg, "--net") != NULL);
	EXPECT_ERR("--kernel", "k", "--frobnicate=3");
	EXPECT_ERR("--kernel", "k", "--=x");
	EXPECT_ERR("--kernel", "k", "--kern", "x"); /* no prefix matching */
	EXPECT_ERR("--kernel", "k", "--kernelx", "x");
}

static void missing_value(void)
{
	EXPECT_ERR("--kernel");
	EXPECT_ERR("--kernel", "k", "--cpus");
	EXPECT_ERR("--kernel", "k", "--mem");
	EXPECT_ERR("--kernel", "k", "--initrd");
	EXPECT_ERR("--kernel", "k", "--cmdline");
	EXPECT_ERR("--kernel", "k", "--console");
}

static void value_on_flag(void)
{
	EXPECT_ERR("--kernel", "k", "--boot-time=1");
	EXPECT_ERR("--kernel", "k", "--help=yes");
	EXPECT_ERR("--kernel", "k", "--version=");
}

static void bad_numbers(void)
{
	static const char *const bad[] = {"0", "-1", "1x", "", "99999999999999999999",
					  " 1", "+1", "0x10", "1.5", "x"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_ERR("--kernel", "k", "--cpus", bad[i]);
		EXPECT_ERR("--kernel", "k", "--mem", bad[i]);
	}
	EXPECT_ERR("--kernel", "k", "--cpus", "255");
	EXPECT_ERR("--kernel", "k", "--cpus=1000");
	EXPECT_ERR("--kernel", "k", "--mem", "31");
	EXPECT_ERR("--kernel", "k", "--mem=18446744073709551615");
	CHECK(strstr(err.msg, "--mem") != NULL);
}

static void number_limits(void)
{
	CHECK_EQ(parse("--kernel", "k", "--cpus", "1", NULL), 0);
	CHECK_EQ(o.vm.cpus, 1);
	CHECK_EQ(parse("--kernel", "k", "--cpus", "254", NULL), 0);
	CHECK_EQ(o.vm.cpus, VM_MAX_CPUS);
	CHECK_EQ(parse("--kernel", "k", "--cpus", "007", NULL), 0);
	CHECK_EQ(o.vm.cpus, 7);
	CHECK_EQ(parse("--kernel", "k", "--mem", "32", NULL), 0);
	CHECK_EQ(o.vm.mem_mib, 32);
	CHECK_EQ(parse("--kernel", "k", "--mem", "65536", NULL), 0);
	CHECK_EQ(o.vm.mem_mib, 65536);
}

static void seccomp_modes(void)
{
	CHECK_EQ(parse("--kernel", "k", NULL), 0);
	CHECK(o.vm.seccomp); /* on by default */
	CHECK_EQ(parse("--kernel", "k", "--seccomp", "off", NULL), 0);
	CHECK(!o.vm.seccomp);
	CHECK_EQ(parse("--kernel", "k", "--seccomp=off", "--seccomp=on", NULL), 0);
	CHECK(o.vm.seccomp);
	EXPECT_ERR("--kernel", "k", "--seccomp", "no");
	EXPECT_ERR("--kernel", "k", "--seccomp", "");
	EXPECT_ERR("--kernel", "k", "--seccomp");
	CHECK(strstr(err.msg, "--seccomp needs a value"));
}

static void irqchip_modes(void)
{
	CHECK_EQ(parse("--kernel", "k", NULL), 0);
	CHECK(!o.vm.kernel_irqchip); /* split by default */
	CHECK_EQ(parse("--kernel", "k", "--irqchip", "kernel", NULL), 0);
	CHECK(o.vm.kernel_irqchip);
	CHECK_EQ(parse("--kernel", "k", "--irqchip=kernel", "--irqchip=split", NULL), 0);
	CHECK(!o.vm.kernel_irqchip);
	EXPECT_ERR("--kernel", "k", "--irqchip", "pic");
	CHECK(strstr(err.msg, "--irqchip: 'pic' is not split or kernel"));
	EXPECT_ERR("--kernel", "k", "--irqchip");
}

static void kernel_unpack_modes(void)
{
	CHECK_EQ(parse("--kernel", "k", NULL), 0);
	CHECK_EQ(o.vm.kernel_unpack, KERNEL_UNPACK_AUTO); /* by default */
	CHECK_EQ(parse("--kernel", "k", "--kernel-unpack", "off", NULL), 0);
	CHECK_EQ(o.vm.kernel_unpack, KERNEL_UNPACK_OFF);
	CHECK_EQ(parse("--kernel", "k", "--kernel-unpack", "all", NULL), 0);
	CHECK_EQ(o.vm.kernel_unpack, KERNEL_UNPACK_ALL);
	CHECK_EQ(parse("--kernel", "k", "--kernel-unpack=off", "--kernel-unpack=auto", NULL), 0);
	CHECK_EQ(o.vm.kernel_unpack, KERNEL_UNPACK_AUTO);
	EXPECT_ERR("--kernel", "k", "--kernel-unpack", "on");
	CHECK(strstr(err.msg, "--kernel-unpack: 'on' is not auto, all or off"));
	EXPECT_ERR("--kernel", "k", "--kernel-unpack", "");
	EXPECT_ERR("--kernel", "k", "--kernel-unpack");
	CHECK(strstr(err.msg, "--kernel-unpack needs a value"));
}

static void initrd_unpack_modes(void)
{
	CHECK_EQ(parse("--kernel", "k", NULL), 0);
	CHECK_EQ(o.vm.initrd_unpack, INITRD_UNPACK_AUTO); /* by default */
	CHECK_EQ(parse("--kernel", "k", "--initrd-unpack", "off", NULL), 0);
	CHECK_EQ(o.vm.initrd_unpack, INITRD_UNPACK_OFF);
	CHECK_EQ(parse("--kernel", "k", "--initrd-unpack", "all", NULL), 0);
	CHECK_EQ(o.vm.initrd_unpack, INITRD_UNPACK_ALL);
	CHECK_EQ(parse("--kernel", "k", "--initrd-unpack=all", "--initrd-unpack=auto", NULL), 0);
	CHECK_EQ(o.vm.initrd_unpack, INITRD_UNPACK_AUTO);
	EXPECT_ERR("--kernel", "k", "--initrd-unpack", "on");
	CHECK(strstr(err.msg, "--initrd-unpack: 'on' is not auto, all or off"));
	EXPECT_ERR("--kernel", "k", "--initrd-unpack");
	CHECK(strstr(err.msg, "--initrd-unpack needs a value"));
}

/* --kernel-cache: a directory or off; by default under $XDG_CACHE_HOME,
 * else $HOME/.cache (absolute paths only), else none. */
static void kernel_cache_dirs(void)
{
	char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	char *xdg = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
	setenv("XDG_CACHE_HOME", "/x/cache", 1);
	setenv("HOME", "/home/u", 1);
	int r1 = parse("--kernel", "k", NULL);
	char *d1 = o.vm.kernel_cache ? strdup(o.vm.kernel_cache) : NULL;
	unsetenv("XDG_CACHE_HOME");
	int r2 = parse("--kernel", "k", NULL);
	char *d2 = o.vm.kernel_cache ? strdup(o.vm.kernel_cache) : NULL;
	setenv("XDG_CACHE_HOME", "relative", 1);
	setenv("HOME", "also-relative", 1);
	int r3 = parse("--kernel", "k", NULL);
	const char *d3 = o.vm.kernel_cache;
	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	int r4 = parse("--kernel", "k", NULL);
	const char *d4 = o.vm.kernel_cache;
	if (home)
		setenv("HOME", home, 1);
	if (xdg)
		setenv("XDG_CACHE_HOME", xdg, 1);
	free(home), free(xdg);
	CHECK_EQ(r1 | r2 | r3 | r4, 0);
	CHECK(d1 && strcmp(d1, "/x/cache/ember/kernels") == 0);
	CHECK(d2 && strcmp(d2, "/home/u/.cache/ember/kernels") == 0);
	free(d1), free(d2);
	CHECK(d3 == NULL);
	CHECK(d4 == NULL);
	CHECK_EQ(parse("--kernel", "k", "--kernel-cache", "/var/cache/k", NULL), 0);
	CHECK(o.vm.kernel_cache && strcmp(o.vm.kernel_cache, "/var/cache/k") == 0);
	CHECK_EQ(parse("--kernel", "k", "--kernel-cache", "off", NULL), 0);
	CHECK(o.vm.kernel_cache == NULL);
	EXPECT_ERR("--kernel", "k", "--kernel-cache", "");
	CHECK(strstr(err.msg, "--kernel-cache: give a directory or off"));
	EXPECT_ERR("--kernel", "k", "--kernel-cache");
}

static void bad_console(void)
{
	EXPECT_ERR("--kernel", "k", "--console", "tty");
	EXPECT_ERR("--kernel", "k", "--console", "");
	EXPECT_ERR("--kernel", "k", "--console", "file:");
	EXPECT_ERR("--kernel", "k", "--console=file:");
	EXPECT_ERR("--kernel", "k", "--console", "file");
	EXPECT_ERR("--kernel", "k", "--console", "STDIO");
}

static void stray_positional(void)
{
	EXPECT_ERR("--kernel", "k", "vmlinux");
	CHECK(strstr(err.msg, "vmlinux") != NULL);
	EXPECT_ERR("vmlinux");
	EXPECT_ERR("--kernel", "k", "-m", "5");
	EXPECT_ERR("--kernel", "k", "-");
}

static void no_kernel(void)
{
	EXPECT_ERR("--cpus", "2");
	CHECK(strstr(err.msg, "kernel") != NULL);
	CHECK_EQ(parse(NULL), -1);
	CHECK(err.msg[0] != '\0');
}

static void help_and_version_without_kernel(void)
{
	CHECK_EQ(parse("--help", NULL), 0);
	CHECK(o.help);
	CHECK_EQ(parse("--version", NULL), 0);
	CHECK(o.version);
	CHECK(!o.help);
	/* errors before --help still count */
	EXPECT_ERR("--cpus", "0", "--help");
}

static void usage_lists_every_option(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK(f != NULL);
	cli_usage(f);
	fclose(f);
	static const char *const names[] = {"--kernel", "--initrd", "--cmdline", "--cpus",
					    "--mem", "--console", "--seccomp", "--boot-time", "--help",
					    "--version", "--disk", "--net", "--vfio", "--irqchip",
					    "--kernel-unpack", "--initrd-unpack", "--kernel-cache"};
	int all = 1;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strstr(text, names[i]))
			all = 0;
	free(text);
	CHECK(all);
}

static void disks(void)
{
	CHECK_EQ(parse("--kernel", "k", NULL), 0);
	CHECK_EQ(o.vm.ndisks, 0);
	CHECK_EQ(parse("--kernel", "k", "--disk", "a.img", "--disk=b.img,ro,id=SER1,direct", NULL), 0);
	CHECK_EQ(o.vm.ndisks, 2);
	CHECK_STR_EQ(o.vm.disks[0].path, "a.img");
	CHECK(!o.vm.disks[0].ro && !o.vm.disks[0].direct);
	CHECK_STR_EQ(o.vm.disks[1].path, "b.img");
	CHECK(o.vm.disks[1].ro && o.vm.disks[1].direct);
	CHECK_STR_EQ(o.vm.disks[1].serial, "SER1");
	EXPECT_ERR("--kernel", "k", "--disk");
	EXPECT_ERR("--kernel", "k", "--disk", "");
	CHECK(strstr(err.msg, "--disk") != NULL);
	EXPECT_ERR("--kernel", "k", "--disk", ",ro");
	EXPECT_ERR("--kernel", "k", "--disk", "a,bogus");
	CHECK(strstr(err.msg, "bogus") != NULL);
	EXPECT_ERR("--kernel", "k", "--disk", "a,id=");
	EXPECT_ERR("--kernel", "k", "--disk", "a,id=123456789012345678901");
	EXPECT_ERR("--kernel", "k", "--disk", "a,ro=1");
	/* at most VM_MAX_DISKS */
	const char *d = "--disk=x";
	CHECK_EQ(parse("--kernel", "k", d, d, d, d, d, d, d, d, d, d, d, d, d, d, d, d, NULL), 0);
	CHECK_EQ(o.vm.ndisks, 16);
	EXPECT_ERR("--kernel", "k", d, d, d, d, d, d, d, d, d, d, d, d, d, d, d, d, d);
	CHECK(strstr(err.msg, "at most") != NULL);
}

static void vfio_devices(void)
{
	CHECK_EQ(parse("--kernel", "k", NULL), 0);
	CHECK_EQ(o.vm.nvfio, 0);
	CHECK_EQ(parse("--kernel", "k", "--vfio", "01:00.1", "--vfio=0000:3A:10.7", NULL), 0);
	CHECK_EQ(o.vm.nvfio, 2);
	CHECK_STR_EQ(o.vm.vfio[0], "0000:01:00.1");
	CHECK_STR_EQ(o.vm.vfio[1], "0000:3a:10.7");
	EXPECT_ERR("--kernel", "k", "--vfio", "01:00");
	CHECK(strstr(err.msg, "--vfio: '01:00' is not a PCI address") != NULL);
	EXPECT_ERR("--kernel", "k", "--vfio", "/sys/bus/pci/devices/0000:01:00.1");
	EXPECT_ERR("--kernel", "k", "--vfio", "01:00.1", "--vfio", "0000:01:00.1");
	CHECK(strstr(err.msg, "given twice") != NULL);
	EXPECT_ERR("--kernel", "k", "--vfio");
	EXPECT_ERR("--kernel", "k", "--vfio=01:00.0", "--vfio=01:00.1", "--vfio=01:00.2",
		   "--vfio=01:00.3", "--vfio=01:00.4", "--vfio=01:00.5", "--vfio=01:00.6",
		   "--vfio=01:00.7", "--vfio=02:00.0");
	CHECK(strstr(err.msg, "at most 8") != NULL);
}

/* Firecracker's --log-path, --level (its names, any case) and
 * --metrics-path, into the logger and metrics configuration where a config
 * file said nothing. */
static void logger_and_metrics_flags(void)
{
	CHECK_EQ(parse("--kernel", "k", "--log-path", "/l", "--level", "debug", "--metrics-path=/m",
		       NULL), 0);
	CHECK_STR_EQ(o.log_path, "/l");
	CHECK(o.level_set);
	CHECK_EQ(o.level, LOG_DEBUG);
	CHECK_STR_EQ(o.metrics_path, "/m");
	struct fc_observe ob = {.level = FC_LOG_INFO};
	cli_observe(&o, &ob);
	CHECK(ob.logger_set && ob.metrics_set);
	CHECK_STR_EQ(ob.log_path, "/l");
	CHECK_EQ(ob.level, FC_LOG_DEBUG);
	CHECK_STR_EQ(ob.metrics_path, "/m");
	/* what the config file said stays */
	struct fc_observe cf = {.logger_set = true, .log_path = "/cf", .level = FC_LOG_ERROR};
	cli_observe(&o, &cf);
	CHECK_STR_EQ(cf.log_path, "/cf");
	CHECK_EQ(cf.level, FC_LOG_ERROR);
	CHECK_STR_EQ(cf.metrics_path, "/m");
	EXPECT_ERR("--kernel", "k", "--level", "Loud");
	CHECK(strstr(err.msg, "--level") != NULL);
	EXPECT_ERR("--kernel", "k", "--log-path", "");
	EXPECT_ERR("--kernel", "k", "--metrics-path", "");
	CHECK_EQ(parse("--kernel", "k", NULL), 0);
	struct fc_observe none = {.level = FC_LOG_INFO};
	cli_observe(&o, &none);
	CHECK(!none.logger_set && !none.metrics_set);
}

static void restore_options(void)
{
	CHECK_EQ(parse("--restore", "/s", "--mem-file=/m", "--net-override", "eth0=tap3",
		       "--net-override", "net1=tap4", "--api-sock", "/a", "--console", "none", NULL), 0);
	CHECK_STR_EQ(o.restore, "/s");
	CHECK_STR_EQ(o.mem_file, "/m");
	CHECK_EQ(o.n_net_override, 2u);
	CHECK_STR_EQ(o.net_override[0].id, "eth0");
	CHECK_STR_EQ(o.net_override[0].tap, "tap3");
	CHECK_STR_EQ(o.net_override[1].id, "net1");
	CHECK_STR_EQ(o.net_override[1].tap, "tap4");
	CHECK_STR_EQ(o.id, "anonymous-instance");
	EXPECT_ERR("--restore", "/s");
	CHECK(strstr(err.msg, "go together") != NULL);
	EXPECT_ERR("--mem-file", "/m", "--kernel", "k");
	EXPECT_ERR("--kernel", "k", "--net-override", "eth0=tap0");
	CHECK(strstr(err.msg, "needs --restore") != NULL);
	EXPECT_ERR("--restore", "/s", "--mem-file", "/m", "--net-override", "eth0");
	EXPECT_ERR("--restore", "/s", "--mem-file", "/m", "--net-override", "=tap0");
	EXPECT_ERR("--restore", "/s", "--mem-file", "/m", "--net-override", "eth0=bad/tap");
	/* the snapshot holds the VM: no kernel, sizes, devices or guest command */
	EXPECT_ERR("--restore", "/s", "--mem-file", "/m", "--kernel", "k");
	CHECK(strstr(err.msg, "the snapshot holds") != NULL);
	EXPECT_ERR("--restore", "/s", "--mem-file", "/m", "--cpus", "2");
	EXPECT_ERR("--restore", "/s", "--mem-file", "/m", "--mem", "512");
	EXPECT_ERR("--restore", "/s", "--mem-file", "/m", "--disk", "/d");
	EXPECT_ERR("--restore", "/s", "--mem-file", "/m", "--net", "tap=t");
	EXPECT_ERR("--restore", "/s", "--mem-file", "/m", "--config-file", "/c");
	EXPECT_ERR("--restore", "/s", "--mem-file", "/m", "--", "true");
}

int main(void)
{
	RUN(logger_and_metrics_flags);
	RUN(restore_options);
	RUN(defaults);
	RUN(all_options_separate_values);
	RUN(all_options_equals_values);
	RUN(console_modes);
	RUN(empty_values_allowed_for_strings);
	RUN(value_looking_like_option);
	RUN(double_dash_splits_guest_argv);
	RUN(double_dash_at_end);
	RUN(options_before_double_dash_only);
	RUN(unknown_option);
	RUN(missing_value);
	RUN(value_on_flag);
	RUN(bad_numbers);
	RUN(number_limits);
	RUN(bad_console);
	RUN(seccomp_modes);
	RUN(irqchip_modes);
	RUN(kernel_unpack_modes);
	RUN(initrd_unpack_modes);
	RUN(kernel_cache_dirs);
	RUN(stray_positional);
	RUN(no_kernel);
	RUN(help_and_version_without_kernel);
	RUN(usage_lists_every_option);
	RUN(disks);
	RUN(vfio_devices);
	return check_summary();
}
