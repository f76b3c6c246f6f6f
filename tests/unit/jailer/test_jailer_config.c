/* test_jailer_config.c: ember's --config-file in a jail (jailer/config.c):
 * the files a Firecracker config file names become files of the jail's plan
 * (kernel and initrd read-only, drives read-only as is_read_only says, the log
 * and metrics files written; names kept apart), the rewritten document has
 * their in-jail paths and everything else as it was, and ember's own parser
 * reads it to the same VM but for the paths; interfaces ask for
 * /dev/net/tun, mem_size_mib sets the memlock base; absent and null
 * sections; each malformed part refused with one line naming it; reading the
 * file: missing, over 1 MiB (and exactly 1 MiB), errors prefixed with it. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jailer/args.h"
#include "tests/unit/check.h"
#include "vmm/api/fc_config.h"

_Static_assert(JAIL_CONFIG_FILE_MAX == FC_CONFIG_FILE_MAX, "the jailer reads what ember reads");

static struct jail_plan plan;
static struct errbuf err;

/* A fresh plan of ember's arguments (words, n of them). */
static int plan_of(char **words, int n, struct errbuf *e)
{
	jail_plan_free(&plan);
	memset(e, 0, sizeof(*e));
	return jail_plan_build(words, n, "ember", &plan, e);
}

/* The plan of `ember-jailer ... -- --config-file /cfg/vm.json ...`, then the
 * config file's text. */
static int with_config(const char *text)
{
	static char *words[] = {"--config-file", "/cfg/vm.json", "--api-sock", "/run/api.sock", NULL};
	if (plan_of(words, 4, &err))
		return -2;
	return jail_plan_config(&plan, text, strlen(text), &err);
}

#define EXPECT_REFUSED(pattern, text)                                                      \
	do {                                                                               \
		CHECK_EQ(with_config(text), -1);                                           \
		if (!strstr(err.msg, pattern)) {                                           \
			check_fail(__FILE__, __LINE__, "error '%s' lacks '%s'", err.msg, pattern); \
			return;                                                            \
		}                                                                          \
		CHECK(plan.config_json == NULL);                                           \
	} while (0)

static const char full[] =
	"{\"boot-source\": {\"kernel_image_path\": \"/boot/vmlinux\", \"initrd_path\": \"/boot/initrd.img\","
	" \"boot_args\": \"console=ttyS0 reboot=k panic=-1\"},"
	" \"drives\": ["
	"  {\"drive_id\": \"rootfs\", \"path_on_host\": \"/var/vm/root.ext4\", \"is_root_device\": true, \"is_read_only\": true},"
	"  {\"drive_id\": \"data\", \"path_on_host\": \"data.img\", \"is_root_device\": false, \"is_read_only\": false,"
	"   \"cache_type\": \"Writeback\"},"
	"  {\"drive_id\": \"scratch\", \"path_on_host\": \"/other/vmlinux\", \"is_root_device\": false, \"is_read_only\": null}],"
	" \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 1024},"
	" \"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}],"
	" \"logger\": {\"log_path\": \"/var/log/vm.json\", \"level\": \"Debug\", \"show_level\": true},"
	" \"metrics\": {\"metrics_path\": \"/run/vm.metrics\"},"
	" \"vsock\": null}";

static const char *str_at(json_t *doc, const char *sect, int idx, const char *key)
{
	json_t *o = json_object_get(doc, sect);
	if (idx >= 0)
		o = json_array_get(o, (size_t)idx);
	return json_string_value(json_object_get(o, key));
}

static void rewrites_named_files(void)
{
	CHECK_EQ(with_config(full), 0);
	/* vm.json (the copy), kernel, initrd, three drives, log, metrics */
	CHECK_EQ(plan.nfiles, 8);
	CHECK_EQ(plan.config, 0);
	CHECK_STR_EQ(plan.argv[2], "/vm.json");
	const struct { enum jail_file_kind kind; const char *src, *name; bool ro; } want[] = {
		{JF_CONFIG, "/cfg/vm.json", "vm.json", true},
		{JF_KERNEL, "/boot/vmlinux", "vmlinux", true},
		{JF_INITRD, "/boot/initrd.img", "initrd.img", true},
		{JF_DISK, "/var/vm/root.ext4", "root.ext4", true},
		{JF_DISK, "data.img", "data.img", false},
		{JF_DISK, "/other/vmlinux", "1-vmlinux", false},
		{JF_LOG, "/var/log/vm.json", "1-vm.json", false},
		{JF_METRICS, "/run/vm.metrics", "vm.metrics", false},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct jail_file *f = &plan.files[i];
		if (f->kind != want[i].kind || strcmp(f->src, want[i].src) ||
		    strcmp(f->name, want[i].name) || f->read_only != want[i].ro)
			check_fail(__FILE__, __LINE__, "file %zu: kind %d src %s name %s ro %d", i,
				   f->kind, f->src, f->name, f->read_only);
	}
	CHECK_STR_EQ(plan.files[4].what, "--config-file /cfg/vm.json: drives[1].path_on_host ");
	CHECK_STR_EQ(plan.files[1].what, "--config-file /cfg/vm.json: boot-source.kernel_image_path ");
	CHECK(plan.needs_tun);
	CHECK_EQ(plan.mem_mib, 1024);

	CHECK(plan.config_json != NULL);
	CHECK_EQ(plan.config_len, strlen(plan.config_json));
	json_error_t je;
	json_t *doc = json_loads(plan.config_json, 0, &je);
	CHECK(doc != NULL);
	CHECK_STR_EQ(str_at(doc, "boot-source", -1, "kernel_image_path"), "/vmlinux");
	CHECK_STR_EQ(str_at(doc, "boot-source", -1, "initrd_path"), "/initrd.img");
	CHECK_STR_EQ(str_at(doc, "boot-source", -1, "boot_args"), "console=ttyS0 reboot=k panic=-1");
	CHECK_STR_EQ(str_at(doc, "drives", 0, "path_on_host"), "/root.ext4");
	CHECK_STR_EQ(str_at(doc, "drives", 1, "path_on_host"), "/data.img");
	CHECK_STR_EQ(str_at(doc, "drives", 1, "cache_type"), "Writeback");
	CHECK_STR_EQ(str_at(doc, "drives", 2, "path_on_host"), "/1-vmlinux");
	CHECK_STR_EQ(str_at(doc, "logger", -1, "log_path"), "/1-vm.json");
	CHECK_STR_EQ(str_at(doc, "logger", -1, "level"), "Debug");
	CHECK_STR_EQ(str_at(doc, "metrics", -1, "metrics_path"), "/vm.metrics");
	CHECK_STR_EQ(str_at(doc, "network-interfaces", 0, "host_dev_name"), "tap0");
	CHECK(json_is_null(json_object_get(doc, "vsock")));
	/* The keys in their order. */
	const char *order[] = {"boot-source", "drives", "machine-config", "network-interfaces",
			       "logger", "metrics", "vsock"};
	size_t k = 0;
	const char *key;
	json_t *v;
	json_object_foreach(doc, key, v) {
		if (k >= 7 || strcmp(key, order[k]))
			check_fail(__FILE__, __LINE__, "key %zu is %s", k, key);
		k++;
	}
	json_decref(doc);
	CHECK_EQ(k, 7);
}

/* ember reads the copy to the same VM as the original, but for the paths. */
static void ember_reads_the_same_vm(void)
{
	CHECK_EQ(with_config(full), 0);
	static struct fc_config a, b;
	fc_config_init(&a);
	fc_config_init(&b);
	struct errbuf e;
	CHECK_EQ(fc_config_file_parse(&a, full, strlen(full), &e), 0);
	CHECK_EQ(fc_config_file_parse(&b, plan.config_json, plan.config_len, &e), 0);
	CHECK(!fc_config_equal(&a, &b));
	free(a.kernel);
	free(a.initrd);
	a.kernel = strdup("/vmlinux");
	a.initrd = strdup("/initrd.img");
	a.vm.kernel = a.kernel;
	a.vm.initrd = a.initrd;
	strcpy(a.vm.disks[0].path, "/root.ext4");
	strcpy(a.vm.disks[1].path, "/data.img");
	strcpy(a.vm.disks[2].path, "/1-vmlinux");
	strcpy(a.observe.log_path, "/1-vm.json");
	strcpy(a.observe.metrics_path, "/vm.metrics");
	CHECK(fc_config_equal(&a, &b));
	fc_config_free(&a);
	fc_config_free(&b);
}

static void absent_and_null_parts(void)
{
	CHECK_EQ(with_config("{\"boot-source\": {\"kernel_image_path\": \"k\", \"initrd_path\": null},"
			     " \"drives\": null, \"logger\": null, \"network-interfaces\": []}"), 0);
	CHECK_EQ(plan.nfiles, 2);
	CHECK_EQ(plan.files[1].kind, JF_KERNEL);
	CHECK_STR_EQ(plan.files[1].name, "k");
	CHECK(!plan.needs_tun);
	CHECK_EQ(plan.mem_mib, EMBER_DEFAULT_MEM_MIB);
	CHECK(strstr(plan.config_json, "\"initrd_path\": null"));
	/* A logger without a file (ember logs to stderr only); a bad memory
	 * size is ember's to refuse. */
	CHECK_EQ(with_config("{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"logger\": {\"level\": \"Info\"},"
			     " \"machine-config\": {\"mem_size_mib\": -1}}"), 0);
	CHECK_EQ(plan.nfiles, 2);
	CHECK_EQ(plan.mem_mib, EMBER_DEFAULT_MEM_MIB);
	/* Keys the jailer does not know are ember's to refuse. */
	CHECK_EQ(with_config("{\"boot-source\": {\"kernel_image_path\": \"k\", \"frob\": 1}, \"balloon\": {}}"), 0);
}

static void refused(void)
{
	EXPECT_REFUSED("invalid JSON at line 1 column", "{\"boot-source\": ");
	EXPECT_REFUSED("invalid JSON", "");
	EXPECT_REFUSED("expected a JSON object", "[]");
	EXPECT_REFUSED("duplicate object key", "{\"boot-source\": {\"kernel_image_path\": \"a\"},"
					      " \"boot-source\": {\"kernel_image_path\": \"b\"}}");
	EXPECT_REFUSED("boot-source: missing", "{\"drives\": []}");
	EXPECT_REFUSED("boot-source: missing", "{\"boot-source\": null}");
	EXPECT_REFUSED("boot-source: expected a JSON object", "{\"boot-source\": \"k\"}");
	EXPECT_REFUSED("boot-source.kernel_image_path: missing", "{\"boot-source\": {}}");
	EXPECT_REFUSED("boot-source.kernel_image_path must be a string",
		       "{\"boot-source\": {\"kernel_image_path\": 5}}");
	EXPECT_REFUSED("boot-source.initrd_path must be a string",
		       "{\"boot-source\": {\"kernel_image_path\": \"k\", \"initrd_path\": true}}");
	EXPECT_REFUSED("boot-source.kernel_image_path: empty path",
		       "{\"boot-source\": {\"kernel_image_path\": \"\"}}");
	EXPECT_REFUSED("boot-source.kernel_image_path /boot/: not a file name",
		       "{\"boot-source\": {\"kernel_image_path\": \"/boot/\"}}");
	EXPECT_REFUSED("drives: expected an array",
		       "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": {}}");
	EXPECT_REFUSED("drives[1]: expected a JSON object",
		       "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": [{\"path_on_host\": \"a\"}, 1]}");
	EXPECT_REFUSED("drives[0].path_on_host: missing",
		       "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": [{\"drive_id\": \"a\"}]}");
	EXPECT_REFUSED("drives[0].is_read_only must be a boolean",
		       "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": [{\"path_on_host\": \"a\", \"is_read_only\": \"yes\"}]}");
	EXPECT_REFUSED("drives[0].path_on_host /x/..: not a file name",
		       "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": [{\"path_on_host\": \"/x/..\"}]}");
	EXPECT_REFUSED("logger: expected a JSON object",
		       "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"logger\": []}");
	EXPECT_REFUSED("logger.log_path must be a string",
		       "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"logger\": {\"log_path\": 1}}");
	EXPECT_REFUSED("metrics.metrics_path must be a string",
		       "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"metrics\": {\"metrics_path\": {}}}");
	/* One line, whatever jansson quotes. */
	EXPECT_REFUSED("invalid JSON", "{\"boot-source\": \x01\n}");
	for (const char *c = err.msg; *c; c++)
		CHECK((unsigned char)*c >= ' ');
	/* More files than a jail holds. */
	char big[8192];
	size_t n = (size_t)snprintf(big, sizeof(big), "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": [");
	for (int i = 0; i < JAIL_MAX_FILES; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s{\"path_on_host\": \"d%d\"}", i ? "," : "", i);
	snprintf(big + n, sizeof(big) - n, "]}");
	EXPECT_REFUSED("too many files", big);
}

static void size_limit(void)
{
	char *text = malloc(JAIL_CONFIG_FILE_MAX + 1);
	CHECK(text != NULL);
	memset(text, ' ', JAIL_CONFIG_FILE_MAX + 1);
	const char doc[] = "{\"boot-source\": {\"kernel_image_path\": \"k\"}}";
	memcpy(text, doc, sizeof(doc) - 1);
	static char *words[] = {"--config-file", "vm.json", NULL};
	int r = plan_of(words, 2, &err);
	int at_limit = r ? r : jail_plan_config(&plan, text, JAIL_CONFIG_FILE_MAX, &err);
	r = plan_of(words, 2, &err);
	int over = r ? r : jail_plan_config(&plan, text, JAIL_CONFIG_FILE_MAX + 1, &err);
	free(text);
	CHECK_EQ(at_limit, 0);
	CHECK_EQ(over, -1);
	CHECK(strstr(err.msg, "1048577 bytes, more than ember reads (1048576)"));
}

/* jail_config_load: the file named by --config-file. */
static void loading(void)
{
	char path[] = "/tmp/ember-jailer-config-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	char *words[] = {"--config-file", path, NULL};
	const char doc[] = "{\"boot-source\": {\"kernel_image_path\": \"/boot/k\"}}";
	int ok = write(fd, doc, sizeof(doc) - 1) == (ssize_t)sizeof(doc) - 1;
	int r1 = plan_of(words, 2, &err);
	int r2 = jail_config_load(&plan, &err);
	bool rewritten = plan.config_json && strstr(plan.config_json, "\"/k\"");
	/* Over 1 MiB: refused without reading it. */
	int r3 = ftruncate(fd, JAIL_CONFIG_FILE_MAX + 1);
	struct errbuf big;
	int r4 = plan_of(words, 2, &big) ? -2 : jail_config_load(&plan, &big);
	/* Not JSON: the message says which file. */
	int r5 = ftruncate(fd, 0) | (int)pwrite(fd, "nope", 4, 0);
	struct errbuf bad;
	int r6 = plan_of(words, 2, &bad) ? -2 : jail_config_load(&plan, &bad);
	close(fd);
	unlink(path);
	CHECK(ok && r1 == 0 && r2 == 0 && rewritten);
	CHECK(r3 == 0 && r5 >= 0);
	CHECK_EQ(r4, -1);
	CHECK(strstr(big.msg, "--config-file /tmp/ember-jailer-config-"));
	CHECK(strstr(big.msg, ": larger than 1048576 bytes"));
	CHECK_EQ(r6, -1);
	CHECK(strstr(bad.msg, "--config-file /tmp/ember-jailer-config-"));
	CHECK(strstr(bad.msg, ": invalid JSON at line 1"));
	/* Missing. */
	char *missing[] = {"--config-file", "/nonexistent/vm.json", NULL};
	CHECK_EQ(plan_of(missing, 2, &err), 0);
	CHECK_EQ(jail_config_load(&plan, &err), -1);
	CHECK_STR_EQ(err.msg, "--config-file /nonexistent/vm.json: No such file or directory");
	/* Without --config-file there is nothing to read. */
	char *none[] = {"--kernel", "k", NULL};
	CHECK_EQ(plan_of(none, 2, &err), 0);
	CHECK_EQ(jail_config_load(&plan, &err), 0);
	CHECK(plan.config_json == NULL);
}

int main(void)
{
	RUN(rewrites_named_files);
	RUN(ember_reads_the_same_vm);
	RUN(absent_and_null_parts);
	RUN(refused);
	RUN(size_limit);
	RUN(loading);
	jail_plan_free(&plan);
	return check_summary();
}
