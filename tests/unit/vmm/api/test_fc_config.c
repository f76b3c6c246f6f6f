/* test_fc_config.c: Firecracker's JSON into ember's configuration and back
 * (vmm/api/fc_config.c, fc_config_json.c): each API body accepted with every
 * field, each refusal with its message and the configuration left exactly
 * as it was, PATCH semantics, drive replacement and the root device's place
 * and command line, the limits, the refusals of what ember does not have,
 * the config file (all or nothing, its size limit) and the round trip
 * config file -> configuration -> GET /vm/config -> the same configuration. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/api/fc_config.h"
#include "vmm/cmdline.h"

static struct fc_config fc, before, other;
static struct errbuf err;
static char line[4096];

#define J(s) (s), strlen(s)

static void reset(void)
{
	fc_config_free(&fc);
	fc_config_init(&fc);
	memset(&err, 0, sizeof(err));
}

/* Before a call that must be refused. */
static void snap(void)
{
	memcpy(&before, &fc, sizeof(fc));
	memset(&err, 0, sizeof(err));
}

/* r is a refusal whose one-line message holds want, and fc is byte for byte
 * what it was at snap(). */
static int refused(int r, const char *want, int at)
{
	if (r != -1) {
		check_fail(__FILE__, at, "accepted, expected a refusal with '%s'", want);
		return 0;
	}
	if (!strstr(err.msg, want) || strchr(err.msg, '\n')) {
		check_fail(__FILE__, at, "message '%s' does not hold '%s'", err.msg, want);
		return 0;
	}
	if (memcmp(&before, &fc, sizeof(fc)) != 0) {
		check_fail(__FILE__, at, "the configuration changed on a refusal ('%s')", err.msg);
		return 0;
	}
	return 1;
}
#define REFUSED(call, want)                                  \
	do {                                                 \
		snap();                                      \
		if (!refused((call), (want), __LINE__))      \
			return;                              \
	} while (0)
#define OK(call)                                                            \
	do {                                                                \
		memset(&err, 0, sizeof(err));                               \
		int ok_r_ = (call);                                         \
		if (ok_r_ != 0) {                                           \
			check_fail(__FILE__, __LINE__, "%s refused: %s", #call, err.msg); \
			return;                                             \
		}                                                           \
	} while (0)

typedef int (*put_fn)(struct fc_config *c, const char *body, size_t len, struct errbuf *e);
struct bad {
	put_fn put;
	const char *body, *want;
};

/* Each body refused by its put, with a message holding want, fc unchanged. */
static int all_refused(const struct bad *t, size_t n, int at)
{
	for (size_t i = 0; i < n; i++) {
		snap();
		if (!refused(t[i].put(&fc, t[i].body, strlen(t[i].body), &err), t[i].want, at))
			return 0;
	}
	return 1;
}
#define ALL_REFUSED(t)                                          \
	do {                                                    \
		if (!all_refused((t), ARRAY_SIZE(t), __LINE__)) \
			return;                                 \
	} while (0)

/* PUT /drives/b and PUT /network-interfaces/eth1. */
static int put_drive_b(struct fc_config *c, const char *body, size_t len, struct errbuf *e)
{
	return fc_put_drive(c, "b", body, len, e);
}

static int put_net_eth1(struct fc_config *c, const char *body, size_t len, struct errbuf *e)
{
	return fc_put_network_interface(c, "eth1", body, len, e);
}

static const char *kernel_line(void)
{
	if (cmdline_for_config(&fc.vm, line, sizeof(line), &err))
		return "(error)";
	return line;
}

static int put_drive(const char *id, const char *path, bool root, bool ro)
{
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"drive_id\":\"%s\",\"path_on_host\":\"%s\",\"is_root_device\":%s,\"is_read_only\":%s}",
		 id, path, root ? "true" : "false", ro ? "true" : "false");
	memset(&err, 0, sizeof(err));
	return fc_put_drive(&fc, id, J(body), &err);
}

/* ---- boot-source ---- */

static void boot_source_every_field(void)
{
	reset();
	OK(fc_put_boot_source(&fc, J("{\"kernel_image_path\":\"/k/vmlinux\",\"initrd_path\":\"/k/initrd\","
				     "\"boot_args\":\"console=ttyS0 reboot=k panic=1\"}"), &err));
	CHECK_STR_EQ(fc.vm.kernel, "/k/vmlinux");
	CHECK_STR_EQ(fc.vm.initrd, "/k/initrd");
	CHECK_STR_EQ(fc.vm.cmdline, "console=ttyS0 reboot=k panic=1");
	CHECK(fc.vm.cmdline_replaces_default);
	CHECK(fc.vm.kernel == fc.kernel && fc.vm.initrd == fc.initrd && fc.vm.cmdline == fc.cmdline);
	/* boot_args replace ember's default */
	CHECK_STR_EQ(kernel_line(), "console=ttyS0 reboot=k panic=1");
}

static void boot_source_kernel_only_keeps_default(void)
{
	reset();
	OK(fc_put_boot_source(&fc, J("{\"kernel_image_path\":\"/k\",\"initrd_path\":null}"), &err));
	CHECK_STR_EQ(fc.vm.kernel, "/k");
	CHECK(fc.vm.initrd == NULL && fc.vm.cmdline == NULL);
	CHECK(!fc.vm.cmdline_replaces_default);
	CHECK_STR_EQ(kernel_line(), CMDLINE_DEFAULT);
}

static void boot_source_replaced_whole(void)
{
	reset();
	OK(fc_put_boot_source(&fc, J("{\"kernel_image_path\":\"/a\",\"initrd_path\":\"/i\",\"boot_args\":\"x\"}"), &err));
	OK(fc_put_boot_source(&fc, J("{\"kernel_image_path\":\"/b\"}"), &err));
	CHECK_STR_EQ(fc.vm.kernel, "/b");
	CHECK(fc.vm.initrd == NULL && fc.initrd == NULL && fc.vm.cmdline == NULL);
	CHECK(!fc.vm.cmdline_replaces_default);
	/* an empty boot_args is an empty command line */
	OK(fc_put_boot_source(&fc, J("{\"kernel_image_path\":\"/b\",\"boot_args\":\"\"}"), &err));
	CHECK(fc.vm.cmdline_replaces_default);
	CHECK_STR_EQ(kernel_line(), "");
	reset(); /* frees; ASan's leak check sees the rest */
}

static void boot_source_refusals(void)
{
	reset();
	OK(fc_put_boot_source(&fc, J("{\"kernel_image_path\":\"/k\"}"), &err));
	static const struct bad t[] = {
		{fc_put_boot_source, "{\"initrd_path\":\"/i\"}",
		 "boot-source: missing field 'kernel_image_path'"},
		{fc_put_boot_source, "{\"kernel_image_path\":null}",
		 "kernel_image_path must not be null"},
		{fc_put_boot_source, "{\"kernel_image_path\":7}",
		 "kernel_image_path must be a string"},
		{fc_put_boot_source, "{\"kernel_image_path\":\"\"}",
		 "kernel_image_path must be a path"},
		{fc_put_boot_source, "{\"kernel_image_path\":\"/k\",\"bootargs\":\"x\"}",
		 "unknown field 'bootargs' (expected kernel_image_path, initrd_path, boot_args)"},
		{fc_put_boot_source, "{\"kernel_image_path\":\"/k\",\"boot_args\":\"a\\nb\"}",
		 "not printable ASCII"},
		{fc_put_boot_source, "{\"kernel_image_path\":\"/k\",\"boot_args\":\"caf\\u00e9\"}",
		 "not printable ASCII"},
		{fc_put_boot_source, "{\"kernel_image_path\":\"/k\"",
		 "boot-source: invalid JSON"},
		{fc_put_boot_source, "[\"/k\"]",
		 "boot-source: expected a JSON object"},
		{fc_put_boot_source, "{\"kernel_image_path\":\"/a\",\"kernel_image_path\":\"/b\"}",
		 "invalid JSON"},
		{fc_put_boot_source, "{\"kernel_image_path\":\"/a\\u0000b\"}",
		 "invalid JSON"},
	};
	ALL_REFUSED(t);
	REFUSED(fc_put_boot_source(&fc, "", 0, &err), "invalid JSON");
	/* the body's pieces in a message are one line of ASCII */
	REFUSED(fc_put_boot_source(&fc, J("{\"kernel_image_path\":\"/k\",\"a\\nb\\u00e9\":1}"), &err), "unknown field 'a?b?");
	CHECK_STR_EQ(fc.vm.kernel, "/k");
}

/* ---- machine-config ---- */

static void machine_put_every_field(void)
{
	reset();
	OK(fc_put_machine_config(&fc, J("{\"vcpu_count\":4,\"mem_size_mib\":1024,\"smt\":false,"
					"\"track_dirty_pages\":false,\"cpu_template\":\"None\",\"huge_pages\":\"None\"}"), &err));
	CHECK_EQ(fc.vm.cpus, 4);
	CHECK_EQ(fc.vm.mem_mib, 1024);
	OK(fc_put_machine_config(&fc, J("{\"vcpu_count\":254,\"mem_size_mib\":32}"), &err));
	CHECK_EQ(fc.vm.cpus, 254);
	CHECK_EQ(fc.vm.mem_mib, 32);
}

static void machine_put_needs_both(void)
{
	reset();
	static const struct bad t[] = {
		{fc_put_machine_config, "{\"mem_size_mib\":512}",
		 "machine-config: missing field 'vcpu_count'"},
		{fc_put_machine_config, "{\"vcpu_count\":2}",
		 "missing field 'mem_size_mib'"},
		{fc_put_machine_config, "{}",
		 "missing field 'vcpu_count'"},
	};
	ALL_REFUSED(t);
}

static void machine_limits(void)
{
	reset();
	static const struct bad t[] = {
		{fc_put_machine_config, "{\"vcpu_count\":0,\"mem_size_mib\":512}",
		 "vcpu_count must be from 1 to 254"},
		{fc_put_machine_config, "{\"vcpu_count\":255,\"mem_size_mib\":512}",
		 "vcpu_count must be from 1 to 254"},
		{fc_put_machine_config, "{\"vcpu_count\":-1,\"mem_size_mib\":512}",
		 "vcpu_count must be a non-negative integer"},
		{fc_put_machine_config, "{\"vcpu_count\":2.0,\"mem_size_mib\":512}",
		 "vcpu_count must be a non-negative integer"},
		{fc_put_machine_config, "{\"vcpu_count\":\"2\",\"mem_size_mib\":512}",
		 "vcpu_count must be a non-negative integer"},
		{fc_put_machine_config, "{\"vcpu_count\":1,\"mem_size_mib\":31}",
		 "mem_size_mib must be from 32 to 1073741824"},
		{fc_put_machine_config, "{\"vcpu_count\":1,\"mem_size_mib\":1073741825}",
		 "mem_size_mib must be from 32"},
		{fc_put_machine_config, "{\"vcpu_count\":1,\"mem_size_mib\":99999999999999999999}",
		 "invalid JSON"},
		{fc_put_machine_config, "{\"vcpu_count\":1,\"mem_size_mib\":64,\"gdb_socket_path\":\"/s\"}",
		 "unknown field 'gdb_socket_path'"},
	};
	ALL_REFUSED(t);
	CHECK_EQ(fc.vm.cpus, 1);
	CHECK_EQ(fc.vm.mem_mib, VM_DEFAULT_MEM_MIB);
}

static void machine_what_ember_lacks(void)
{
	reset();
	static const struct bad t[] = {
		{fc_put_machine_config, "{\"vcpu_count\":2,\"mem_size_mib\":512,\"smt\":true}",
		 "ember has no SMT"},
		{fc_put_machine_config, "{\"vcpu_count\":2,\"mem_size_mib\":512,\"track_dirty_pages\":true}",
		 "track_dirty_pages is not supported"},
		{fc_put_machine_config, "{\"vcpu_count\":2,\"mem_size_mib\":512,\"cpu_template\":\"T2\"}",
		 "ember has no CPU templates"},
		{fc_put_machine_config, "{\"vcpu_count\":2,\"mem_size_mib\":512,\"cpu_template\":\"none\"}",
		 "cpu_template must be \"None\""},
		{fc_put_machine_config, "{\"vcpu_count\":2,\"mem_size_mib\":512,\"huge_pages\":\"2M\"}",
		 "huge_pages must be \"None\""},
		{fc_patch_machine_config, "{\"smt\":true}",
		 "ember has no SMT"},
		{fc_patch_machine_config, "{\"huge_pages\":\"Transparent\"}",
		 "regular pages only"},
	};
	ALL_REFUSED(t);
}

static void machine_patch_changes_only_what_is_given(void)
{
	reset();
	OK(fc_put_machine_config(&fc, J("{\"vcpu_count\":4,\"mem_size_mib\":1024}"), &err));
	OK(fc_patch_machine_config(&fc, J("{\"mem_size_mib\":2048}"), &err));
	CHECK_EQ(fc.vm.cpus, 4);
	CHECK_EQ(fc.vm.mem_mib, 2048);
	OK(fc_patch_machine_config(&fc, J("{\"vcpu_count\":8}"), &err));
	CHECK_EQ(fc.vm.cpus, 8);
	CHECK_EQ(fc.vm.mem_mib, 2048);
	OK(fc_patch_machine_config(&fc, J("{\"smt\":false}"), &err));
	CHECK_EQ(fc.vm.cpus, 8);
	static const struct bad t[] = {
		{fc_patch_machine_config, "{}",
		 "machine-config: empty PATCH request"},
		{fc_patch_machine_config, "{\"vcpu_count\":null}",
		 "empty PATCH request"},
		{fc_patch_machine_config, "{\"vcpu_count\":300}",
		 "vcpu_count must be from 1"},
	};
	ALL_REFUSED(t);
}

/* ---- drives ---- */

static void drive_every_field(void)
{
	reset();
	OK(fc_put_drive(&fc, "rootfs", J("{\"drive_id\":\"rootfs\",\"path_on_host\":\"/img/root.ext4\","
				       "\"is_root_device\":true,\"is_read_only\":true,\"partuuid\":\"0eaa91a0-01\","
				       "\"cache_type\":\"Writeback\",\"io_engine\":\"Async\",\"rate_limiter\":null,\"socket\":null}"), &err));
	CHECK_EQ(fc.vm.ndisks, 1);
	CHECK_STR_EQ(fc.vm.disks[0].path, "/img/root.ext4");
	CHECK(fc.vm.disks[0].ro);
	CHECK(!fc.vm.disks[0].direct);
	CHECK_STR_EQ(fc.vm.disk_ids[0], "rootfs");
	CHECK(fc.vm.root_disk);
	CHECK_STR_EQ(fc.vm.root_partuuid, "0eaa91a0-01");
	CHECK_STR_EQ(fc.drives[0].partuuid, "0eaa91a0-01");
	CHECK(fc.drives[0].writeback && fc.drives[0].async);
	CHECK_STR_EQ(kernel_line(), CMDLINE_DEFAULT " root=PARTUUID=0eaa91a0-01 ro");
	/* the defaults: Unsafe, Sync, read-write */
	OK(fc_put_drive(&fc, "data_1", J("{\"drive_id\":\"data_1\",\"path_on_host\":\"/img/d\",\"is_root_device\":false}"), &err));
	CHECK_EQ(fc.vm.ndisks, 2);
	CHECK(!fc.vm.disks[1].ro && !fc.drives[1].writeback && !fc.drives[1].async);
	CHECK_STR_EQ(fc.drives[1].partuuid, "");
}

static void drive_patch(void)
{
	char path[FC_PATH_MAX];
	struct rl_update lim;
	reset();
	OK(put_drive("scratch", "/s.img", false, false));
	snap();
	OK(fc_patch_drive(&fc, "scratch", J("{\"drive_id\":\"scratch\",\"path_on_host\":\"/big.img\"}"), path, &lim, &err));
	CHECK_STR_EQ(path, "/big.img");
	CHECK_STR_EQ(fc.vm.disks[0].path, "/s.img"); /* not until the drive has it */
	OK(fc_patch_drive(&fc, "scratch", J("{\"drive_id\":\"scratch\",\"rate_limiter\":{}}"), path, &lim, &err));
	CHECK_STR_EQ(path, "");
	CHECK(!lim.bw_set && !lim.ops_set);
	OK(fc_patch_drive(&fc, "scratch", J("{\"drive_id\":\"scratch\",\"rate_limiter\":{\"ops\":{\"size\":10,\"refill_time\":100}}}"), path, &lim, &err));
	CHECK(!lim.bw_set && lim.ops_set);
	CHECK_EQ(lim.c.ops.size, 10);
	CHECK_EQ(lim.c.ops.refill_ms, 100);
	fc_set_drive_limits(&fc.vm, "scratch", &lim);
	CHECK_EQ(fc.vm.disks[0].rl.ops.size, 10);
	REFUSED(fc_patch_drive(&fc, "scratch", J("{\"drive_id\":\"scratch\",\"rate_limiter\":{\"ops\":{\"size\":10}}}"), path, &lim, &err),
		"missing field 'refill_time'");
	snap();
	REFUSED(fc_patch_drive(&fc, "scratch", J("{\"drive_id\":\"scratch\",\"is_read_only\":true}"), path, &lim, &err),
		"is_read_only");
	REFUSED(fc_patch_drive(&fc, "other", J("{\"drive_id\":\"other\",\"path_on_host\":\"/x\"}"), path, &lim, &err),
		"no drive 'other'");
	REFUSED(fc_patch_drive(&fc, "scratch", J("{\"drive_id\":\"other\",\"path_on_host\":\"/x\"}"), path, &lim, &err),
		"does not match");
	REFUSED(fc_patch_drive(&fc, "scratch", J("{\"drive_id\":\"scratch\",\"path_on_host\":\"\"}"), path, &lim, &err),
		"path_on_host must be a path");
	REFUSED(fc_patch_drive(&fc, "scratch", J("{\"drive_id\":\"scratch\""), path, &lim, &err), "invalid JSON");
	fc_set_drive_path(&fc.vm, "scratch", "/big.img");
	CHECK_STR_EQ(fc.vm.disks[0].path, "/big.img");
}

static void rate_limiters(void)
{
	reset();
	OK(fc_put_drive(&fc, "d", J("{\"drive_id\":\"d\",\"path_on_host\":\"/d\",\"is_root_device\":false,"
				   "\"rate_limiter\":{\"bandwidth\":{\"size\":4194304,\"refill_time\":1000,\"one_time_burst\":null},"
				   "\"ops\":{\"size\":200,\"one_time_burst\":50,\"refill_time\":1000}}}"), &err));
	CHECK_EQ(fc.vm.disks[0].rl.bw.size, 4194304);
	CHECK_EQ(fc.vm.disks[0].rl.bw.refill_ms, 1000);
	CHECK_EQ(fc.vm.disks[0].rl.ops.one_time_burst, 50);
	OK(fc_put_network_interface(&fc, "eth0", J("{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\","
				   "\"rx_rate_limiter\":{\"bandwidth\":{\"size\":2500000,\"refill_time\":1000}},"
				   "\"tx_rate_limiter\":{\"ops\":{\"size\":0,\"refill_time\":100}}}"), &err));
	CHECK_EQ(fc.vm.nets[0].rx.bw.size, 2500000);
	CHECK(!rl_config_on(&fc.vm.nets[0].tx)); /* size 0: no bucket */
	CHECK_EQ(fc.vm.nets[0].tx.ops.refill_ms, 0); /* stored as none, so GET gives null */
	/* GET gives them back, and they round-trip */
	char *j = fc_config_json(&fc);
	CHECK(j != NULL);
	CHECK(strstr(j, "\"rate_limiter\":{\"bandwidth\":{\"size\":4194304,\"one_time_burst\":null,\"refill_time\":1000},\"ops\":{\"size\":200,\"one_time_burst\":50,\"refill_time\":1000}}") != NULL);
	CHECK(strstr(j, "\"tx_rate_limiter\":null") != NULL);
	free(j);
	snap();
	static const char *const bad[] = {
		"{\"bandwidth\":{\"size\":-1,\"refill_time\":1}}",
		"{\"bandwidth\":{\"size\":1}}",
		"{\"bandwidth\":{\"refill_time\":1}}",
		"{\"bandwidth\":{\"size\":1,\"refill_time\":1,\"speed\":2}}",
		"{\"bw\":{}}",
		"{\"ops\":7}",
		"[1]",
		"{\"ops\":{\"size\":9007199254740993,\"refill_time\":1}}",
		"{\"ops\":{\"size\":\"10\",\"refill_time\":1}}",
	};
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		char body[512];
		snprintf(body, sizeof(body), "{\"drive_id\":\"d\",\"path_on_host\":\"/d\",\"is_root_device\":false,\"rate_limiter\":%s}", bad[i]);
		REFUSED(fc_put_drive(&fc, "d", J(body), &err), "rate_limiter");
	}
	/* PATCH of an interface: each limiter's buckets, or nothing */
	struct rl_update u[2];
	OK(fc_patch_network_interface(&fc, "eth0", J("{\"iface_id\":\"eth0\",\"tx_rate_limiter\":{\"bandwidth\":{\"size\":1000,\"refill_time\":10}}}"), u, &err));
	CHECK(!u[0].bw_set && !u[0].ops_set && u[1].bw_set && !u[1].ops_set);
	fc_set_net_limits(&fc.vm, "eth0", u);
	CHECK_EQ(fc.vm.nets[0].tx.bw.size, 1000);
	CHECK_EQ(fc.vm.nets[0].rx.bw.size, 2500000); /* unchanged */
	snap();
	REFUSED(fc_patch_network_interface(&fc, "eth1", J("{\"iface_id\":\"eth1\"}"), u, &err), "no network interface");
	REFUSED(fc_patch_network_interface(&fc, "eth0", J("{\"iface_id\":\"eth0\",\"host_dev_name\":\"x\"}"), u, &err), "unknown field");
}

static void drive_refusals(void)
{
	reset();
	OK(put_drive("a", "/a", false, false));
	REFUSED(fc_put_drive(&fc, "b", J("{\"drive_id\":\"c\",\"path_on_host\":\"/c\",\"is_root_device\":false}"), &err),
		"drives: the id from the path does not match the id from the body");
	REFUSED(fc_put_drive(&fc, "b-1", J("{\"drive_id\":\"b-1\",\"path_on_host\":\"/c\",\"is_root_device\":false}"), &err),
		"'b-1' is not an ID");
	REFUSED(fc_put_drive(&fc, "", J("{\"drive_id\":\"\",\"path_on_host\":\"/c\",\"is_root_device\":false}"), &err),
		"the ID cannot be empty");
	REFUSED(fc_put_drive(&fc, NULL, J("{\"drive_id\":\"x\",\"path_on_host\":\"/c\",\"is_root_device\":false}"), &err),
		"the ID cannot be empty");
	char id[80], body[256];
	memset(id, 'i', 65);
	id[65] = '\0';
	snprintf(body, sizeof(body), "{\"drive_id\":\"%s\",\"path_on_host\":\"/c\",\"is_root_device\":false}", id);
	REFUSED(fc_put_drive(&fc, id, J(body), &err), "is not an ID");
	id[64] = '\0'; /* 64 is fine */
	snprintf(body, sizeof(body), "{\"drive_id\":\"%s\",\"path_on_host\":\"/c\",\"is_root_device\":false}", id);
	OK(fc_put_drive(&fc, id, J(body), &err));
	static const struct bad t[] = {
		{put_drive_b, "{\"drive_id\":\"b\",\"path_on_host\":\"/b\"}",
		 "missing field 'is_root_device'"},
		{put_drive_b, "{\"drive_id\":\"b\",\"is_root_device\":false}",
		 "missing field 'path_on_host'"},
		{put_drive_b, "{\"drive_id\":\"b\",\"path_on_host\":\"/b\",\"is_root_device\":\"no\"}",
		 "is_root_device must be a boolean"},
		{put_drive_b, "{\"drive_id\":\"b\",\"path_on_host\":\"/b\",\"is_root_device\":false," "\"rate_limiter\":{\"bandwidth\":{\"size\":1,\"refill_time\":-100}}}",
		 "rate_limiter.bandwidth.refill_time must be an integer"},
		{put_drive_b, "{\"drive_id\":\"b\",\"is_root_device\":false,\"socket\":\"/s\"}",
		 "ember has no vhost-user block devices"},
		{put_drive_b, "{\"drive_id\":\"b\",\"path_on_host\":\"/b\",\"is_root_device\":false,\"cache_type\":\"None\"}",
		 "cache_type 'None' is not \"Unsafe\" or \"Writeback\""},
		{put_drive_b, "{\"drive_id\":\"b\",\"path_on_host\":\"/b\",\"is_root_device\":false,\"io_engine\":\"Uring\"}",
		 "io_engine 'Uring' is not \"Sync\" or \"Async\""},
		{put_drive_b, "{\"drive_id\":\"b\",\"path_on_host\":\"/b\",\"is_root_device\":true,\"partuuid\":\"a b\"}",
		 "partuuid 'a b' is not"},
		{put_drive_b, "{\"drive_id\":\"b\",\"path_on_host\":\"/b\",\"is_root_device\":false,\"is_readonly\":true}",
		 "unknown field 'is_readonly'"},
		{put_drive_b, "{\"drive_id\":\"b\",\"path_on_host\":\"\",\"is_root_device\":false}",
		 "path_on_host must be a path"},
	};
	ALL_REFUSED(t);
	CHECK_EQ(fc.vm.ndisks, 2);
}

static void drive_root_goes_first(void)
{
	reset();
	OK(fc_put_boot_source(&fc, J("{\"kernel_image_path\":\"/k\",\"boot_args\":\"console=ttyS0\"}"), &err));
	OK(put_drive("a", "/a", false, false));
	OK(put_drive("b", "/b", false, false));
	OK(put_drive("r", "/r", true, false)); /* a new root goes first: /dev/vda */
	CHECK_EQ(fc.vm.ndisks, 3);
	CHECK_STR_EQ(fc.vm.disk_ids[0], "r");
	CHECK_STR_EQ(fc.vm.disk_ids[1], "a");
	CHECK_STR_EQ(fc.vm.disk_ids[2], "b");
	CHECK_STR_EQ(fc.vm.disks[0].path, "/r");
	CHECK(fc.vm.root_disk);
	CHECK_STR_EQ(kernel_line(), "console=ttyS0 root=/dev/vda rw");
	/* one root only */
	REFUSED(put_drive("c", "/c", true, false), "a root block device already exists ('r')");
	REFUSED(put_drive("b", "/b", true, false), "a root block device already exists");
	/* the root replaced in place, read-only now */
	OK(put_drive("r", "/r2", true, true));
	CHECK_STR_EQ(fc.vm.disk_ids[0], "r");
	CHECK_STR_EQ(kernel_line(), "console=ttyS0 root=/dev/vda ro");
	/* no longer root: it keeps its place, and the command line loses root= */
	OK(put_drive("r", "/r2", false, false));
	CHECK(!fc.vm.root_disk);
	CHECK_STR_EQ(kernel_line(), "console=ttyS0");
	/* b made root trades places with the first drive, as Firecracker's swap */
	OK(put_drive("b", "/b", true, false));
	CHECK_STR_EQ(fc.vm.disk_ids[0], "b");
	CHECK_STR_EQ(fc.vm.disk_ids[1], "a");
	CHECK_STR_EQ(fc.vm.disk_ids[2], "r");
	CHECK_STR_EQ(fc.vm.disks[0].path, "/b");
	CHECK_STR_EQ(fc.vm.disks[2].path, "/r2");
	CHECK(fc.vm.root_disk);
}

static void drive_partuuid_goes_with_its_drive(void)
{
	reset();
	OK(fc_put_drive(&fc, "a", J("{\"drive_id\":\"a\",\"path_on_host\":\"/a\",\"is_root_device\":false,\"partuuid\":\"aaaa-01\",\"cache_type\":\"Writeback\"}"), &err));
	CHECK_STR_EQ(fc.vm.root_partuuid, ""); /* kept, but not root */
	OK(fc_put_drive(&fc, "r", J("{\"drive_id\":\"r\",\"path_on_host\":\"/r\",\"is_root_device\":true,\"partuuid\":\"rrrr-02\"}"), &err));
	CHECK_STR_EQ(fc.vm.root_partuuid, "rrrr-02");
	CHECK_STR_EQ(fc.drives[0].partuuid, "rrrr-02");
	CHECK_STR_EQ(fc.drives[1].partuuid, "aaaa-01");
	CHECK(fc.drives[1].writeback && !fc.drives[0].writeback);
	CHECK_STR_EQ(kernel_line(), CMDLINE_DEFAULT " root=PARTUUID=rrrr-02 rw");
}

static void drive_replaced_in_place(void)
{
	reset();
	OK(put_drive("a", "/a", false, false));
	OK(put_drive("b", "/b", false, false));
	OK(put_drive("a", "/a2", false, true));
	CHECK_EQ(fc.vm.ndisks, 2);
	CHECK_STR_EQ(fc.vm.disk_ids[0], "a");
	CHECK_STR_EQ(fc.vm.disks[0].path, "/a2");
	CHECK(fc.vm.disks[0].ro);
	CHECK_STR_EQ(fc.vm.disks[1].path, "/b");
}

static void drive_limit(void)
{
	reset();
	char id[16], path[16];
	for (unsigned i = 0; i < VM_MAX_DISKS; i++) {
		snprintf(id, sizeof(id), "d%u", i);
		snprintf(path, sizeof(path), "/d%u", i);
		OK(put_drive(id, path, false, false));
	}
	CHECK_EQ(fc.vm.ndisks, VM_MAX_DISKS);
	REFUSED(put_drive("more", "/m", false, false), "at most 16 drives");
	REFUSED(put_drive("more", "/m", true, false), "at most 16 drives");
	OK(put_drive("d3", "/new3", false, false)); /* a replacement still fits */
	OK(put_drive("d5", "/root5", true, false));
	CHECK_STR_EQ(fc.vm.disk_ids[0], "d5");
	CHECK_STR_EQ(fc.vm.disk_ids[5], "d0");
	CHECK_EQ(fc.vm.ndisks, VM_MAX_DISKS);
}

/* ---- network-interfaces ---- */

static void net_every_field(void)
{
	static const char body[] = "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\","
				   "\"guest_mac\":\"06:00:AC:10:00:02\",\"mtu\":9000,"
				   "\"rx_rate_limiter\":null,\"tx_rate_limiter\":null}";
	reset();
	OK(fc_put_network_interface(&fc, "eth0", J(body), &err));
	CHECK_EQ(fc.vm.nnets, 1);
	CHECK_STR_EQ(fc.vm.nets[0].tap, "tap0");
	CHECK_STR_EQ(fc.vm.net_ids[0], "eth0");
	CHECK(fc.vm.nets[0].mac_set);
	static const uint8_t mac[6] = {0x06, 0x00, 0xac, 0x10, 0x00, 0x02};
	CHECK_MEM_EQ(fc.vm.nets[0].mac, mac, 6);
	CHECK_EQ(fc.vm.nets[0].mtu, 9000);
	CHECK_EQ(fc.vm.nets[0].queues, 1);
	OK(fc_put_network_interface(&fc, "eth1", J("{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\"}"), &err));
	CHECK_EQ(fc.vm.nnets, 2);
	CHECK(!fc.vm.nets[1].mac_set);
	CHECK_EQ(fc.vm.nets[1].mtu, 0);
}

static void net_refusals(void)
{
	reset();
	OK(fc_put_network_interface(&fc, "eth0", J("{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"06:00:00:00:00:01\"}"), &err));
	static const struct bad t[] = {
		{put_net_eth1, "{\"iface_id\":\"eth2\",\"host_dev_name\":\"tap1\"}",
		 "network-interfaces: the id from the path does not match"},
		{put_net_eth1, "{\"iface_id\":\"eth1\"}",
		 "missing field 'host_dev_name'"},
		{put_net_eth1, "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap/1\"}",
		 "host_dev_name 'tap/1' is not 1-15 letters"},
		{put_net_eth1, "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap456789abcdef0\"}",
		 "host_dev_name 'tap456789abcdef0' is not"},
		{put_net_eth1, "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"guest_mac\":\"06:00:00:00:00\"}",
		 "guest_mac '06:00:00:00:00' is not a unicast MAC"},
		{put_net_eth1, "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"guest_mac\":\"01:00:5e:00:00:01\"}",
		 "is not a unicast MAC"},
		{put_net_eth1, "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"mtu\":67}",
		 "mtu must be from 68 to 65535"},
		{put_net_eth1, "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"mtu\":65536}",
		 "mtu must be from 68 to 65535"},
		{put_net_eth1, "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"rx_rate_limiter\":{\"ops\":{\"size\":10,\"refill\":100}}}",
		 "rx_rate_limiter.ops: unknown field 'refill'"},
		{put_net_eth1, "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"tx_rate_limiter\":{\"bandwidth\":{\"size\":1,\"refill_time\":1},\"ops\":[]}}",
		 "tx_rate_limiter.ops must be an object"},
		{put_net_eth1, "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap0\"}",
		 "host_dev_name 'tap0' is already used by interface 'eth0'"},
		{put_net_eth1, "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"guest_mac\":\"06:00:00:00:00:01\"}",
		 "the MAC address is already in use: 06:00:00:00:00:01"},
		{put_net_eth1, "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"allow_mmds_requests\":true}",
		 "unknown field 'allow_mmds_requests'"},
	};
	ALL_REFUSED(t);
	CHECK_EQ(fc.vm.nnets, 1);
}

/* Clients send rate limiters that limit nothing: accepted. */
static void empty_rate_limiters_accepted(void)
{
	reset();
	CHECK_EQ(put_drive_b(&fc, J("{\"drive_id\":\"b\",\"path_on_host\":\"/b\",\"is_root_device\":false,"
				  "\"rate_limiter\":{}}"), &err), 0);
	CHECK_EQ(put_drive_b(&fc, J("{\"drive_id\":\"b\",\"path_on_host\":\"/b\",\"is_root_device\":false,"
				  "\"rate_limiter\":{\"bandwidth\":null,\"ops\":{}}}"), &err), 0);
	CHECK_EQ(put_net_eth1(&fc, J("{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\","
				  "\"rx_rate_limiter\":{},\"tx_rate_limiter\":{\"bandwidth\":null}}"), &err), 0);
	CHECK_EQ(fc.vm.ndisks, 1);
	CHECK_EQ(fc.vm.nnets, 1);
}

static void net_replaced_in_place_and_limit(void)
{
	reset();
	char id[16], body[160];
	for (unsigned i = 0; i < VM_MAX_NETS; i++) {
		snprintf(id, sizeof(id), "eth%u", i);
		snprintf(body, sizeof(body), "{\"iface_id\":\"%s\",\"host_dev_name\":\"tap%u\"}", id, i);
		OK(fc_put_network_interface(&fc, id, J(body), &err));
	}
	REFUSED(fc_put_network_interface(&fc, "eth9", J("{\"iface_id\":\"eth9\",\"host_dev_name\":\"tap9\"}"), &err),
		"at most 8 network interfaces");
	/* the same id, its own TAP and MAC again: a replacement */
	OK(fc_put_network_interface(&fc, "eth2", J("{\"iface_id\":\"eth2\",\"host_dev_name\":\"tap2\",\"mtu\":1400}"), &err));
	OK(fc_put_network_interface(&fc, "eth2", J("{\"iface_id\":\"eth2\",\"host_dev_name\":\"tapx\"}"), &err));
	CHECK_EQ(fc.vm.nnets, VM_MAX_NETS);
	CHECK_STR_EQ(fc.vm.nets[2].tap, "tapx");
	CHECK_EQ(fc.vm.nets[2].mtu, 0);
	CHECK_STR_EQ(fc.vm.net_ids[2], "eth2");
}

/* ---- logger, metrics ---- */

static void logger_every_field(void)
{
	reset();
	CHECK(!fc.observe.logger_set);
	OK(fc_put_logger(&fc, J("{\"log_path\":\"/run/log.fifo\",\"level\":\"Debug\",\"show_level\":true,"
				"\"show_log_origin\":true,\"module\":\"api_server\"}"), &err));
	CHECK(fc.observe.logger_set);
	CHECK_STR_EQ(fc.observe.log_path, "/run/log.fifo");
	CHECK_EQ(fc.observe.level, FC_LOG_DEBUG);
	CHECK(fc.observe.show_level && fc.observe.show_log_origin);
	CHECK_STR_EQ(fc.observe.module, "api_server");
	/* a later PUT changes what it gives; levels are case-insensitive */
	OK(fc_put_logger(&fc, J("{\"level\":\"warning\"}"), &err));
	CHECK_EQ(fc.observe.level, FC_LOG_WARN);
	CHECK_STR_EQ(fc.observe.log_path, "/run/log.fifo");
	CHECK(fc.observe.show_level);
	static const struct {
		const char *s;
		enum fc_log_level l;
	} lv[] = {{"ERROR", FC_LOG_ERROR}, {"Warn", FC_LOG_WARN}, {"info", FC_LOG_INFO},
		  {"Trace", FC_LOG_TRACE}, {"Off", FC_LOG_OFF}};
	for (unsigned i = 0; i < ARRAY_SIZE(lv); i++) {
		char body[64];
		snprintf(body, sizeof(body), "{\"level\":\"%s\"}", lv[i].s);
		OK(fc_put_logger(&fc, J(body), &err));
		CHECK_EQ(fc.observe.level, lv[i].l);
	}
	static const struct bad t[] = {
		{fc_put_logger, "{\"level\":\"Verbose\"}",
		 "logger: level 'Verbose' is not one of Error, Warning, Info, Debug, Trace, Off"},
		{fc_put_logger, "{\"log_path\":\"/l\",\"colour\":true}",
		 "logger: unknown field 'colour'"},
		{fc_put_logger, "{\"show_level\":1}",
		 "show_level must be a boolean"},
		{fc_put_logger, "{\"log_path\":\"\"}",
		 "log_path must be a path"},
	};
	ALL_REFUSED(t);
}

static void metrics_once(void)
{
	reset();
	REFUSED(fc_put_metrics(&fc, J("{}"), &err), "metrics: missing field 'metrics_path'");
	REFUSED(fc_put_metrics(&fc, J("{\"metrics_path\":\"/m\",\"properties\":{\"a\":\"b\"}}"), &err),
		"ember does not add properties");
	OK(fc_put_metrics(&fc, J("{\"metrics_path\":\"/run/metrics.fifo\",\"emit_id\":true}"), &err));
	CHECK(fc.observe.metrics_set && fc.observe.emit_id);
	CHECK_STR_EQ(fc.observe.metrics_path, "/run/metrics.fifo");
	REFUSED(fc_put_metrics(&fc, J("{\"metrics_path\":\"/other\"}"), &err), "already configured");
}

/* ---- what ember does not have ---- */

static void unsupported_paths_and_keys(void)
{
	static const struct {
		const char *what, *want;
	} t[] = {
		{"/vsock", "ember has no vsock devices"},
		{"vsock", "ember has no vsock devices"},
		{"/balloon", "balloon"},
		{"/balloon/statistics", "balloon"},
		{"/balloon/hinting/start", "balloon"},
		{"balloon", "balloon"},
		{"/entropy", "entropy"},
		{"entropy", "entropy"},
		{"/pmem/p0", "virtio-pmem"},
		{"pmem", "virtio-pmem"},
		{"/mmds", "MMDS"},
		{"/mmds/config", "MMDS"},
		{"mmds-config", "MMDS"},
		{"/hotplug/memory", "memory hotplug"},
		{"memory-hotplug", "memory hotplug"},
		{"/cpu-config", "CPU templates"},
		{"cpu-config", "CPU templates"},
		{"/serial", "--console"},
	};
	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		const char *m = fc_unsupported(t[i].what);
		if (!m || !strstr(m, t[i].want)) {
			check_fail(__FILE__, __LINE__, "%s: '%s'", t[i].what, m ? m : "(null)");
			return;
		}
	}
	static const char *const fine[] = {"/drives/rootfs", "/boot-source", "/machine-config",
					   "/network-interfaces/eth0", "/logger", "/metrics",
					   "/actions", "drives", "boot-source", "/vsockets",
					   "mmds", "/", "", "/snapshot/create", "/snapshot/load", NULL};
	for (unsigned i = 0; i < ARRAY_SIZE(fine); i++)
		CHECK(fc_unsupported(fine[i]) == NULL);
}

/* ---- the config file ---- */

static const char full_file[] =
	"{\n"
	"  \"boot-source\": {\"kernel_image_path\": \"/k/vmlinux\", \"initrd_path\": \"/k/initrd\",\n"
	"                  \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\"},\n"
	"  \"drives\": [\n"
	"    {\"drive_id\": \"data\", \"path_on_host\": \"/img/data\", \"is_root_device\": false,\n"
	"     \"is_read_only\": false, \"cache_type\": \"Writeback\", \"io_engine\": \"Async\"},\n"
	"    {\"drive_id\": \"rootfs\", \"path_on_host\": \"/img/root\", \"is_root_device\": true,\n"
	"     \"is_read_only\": true, \"partuuid\": \"1234-01\"}\n"
	"  ],\n"
	"  \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 1024, \"smt\": false},\n"
	"  \"network-interfaces\": [\n"
	"    {\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"06:00:ac:10:00:02\", \"mtu\": 1500},\n"
	"    {\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\"}\n"
	"  ],\n"
	"  \"logger\": {\"log_path\": \"/run/fc.log\", \"level\": \"Info\", \"show_level\": true},\n"
	"  \"metrics\": {\"metrics_path\": \"/run/fc.metrics\"},\n"
	"  \"vsock\": null, \"balloon\": null, \"pmem\": [], \"mmds-config\": null\n"
	"}\n";

static void config_file_every_section(void)
{
	reset();
	OK(fc_config_file_parse(&fc, J(full_file), &err));
	CHECK_STR_EQ(fc.vm.kernel, "/k/vmlinux");
	CHECK_STR_EQ(fc.vm.initrd, "/k/initrd");
	CHECK_EQ(fc.vm.cpus, 2);
	CHECK_EQ(fc.vm.mem_mib, 1024);
	CHECK_EQ(fc.vm.ndisks, 2);
	CHECK_STR_EQ(fc.vm.disk_ids[0], "rootfs");
	CHECK_STR_EQ(fc.vm.disk_ids[1], "data");
	CHECK(fc.drives[1].writeback && fc.drives[1].async);
	CHECK_EQ(fc.vm.nnets, 2);
	CHECK_STR_EQ(fc.vm.net_ids[1], "eth1");
	CHECK_EQ(fc.vm.nets[0].mtu, 1500);
	CHECK(fc.observe.logger_set && fc.observe.show_level && fc.observe.metrics_set);
	CHECK_STR_EQ(kernel_line(), "console=ttyS0 reboot=k panic=1 root=PARTUUID=1234-01 ro" /* pci=off dropped */);
	CHECK(fc.vm.console == CONSOLE_STDIO && fc.vm.seccomp); /* the defaults stay */
}

static void config_file_replaces_everything(void)
{
	reset();
	OK(put_drive("old", "/old", false, false));
	OK(fc_put_machine_config(&fc, J("{\"vcpu_count\":8,\"mem_size_mib\":4096}"), &err));
	OK(fc_config_file_parse(&fc, J("{\"boot-source\":{\"kernel_image_path\":\"/k\"}}"), &err));
	CHECK_EQ(fc.vm.ndisks, 0);
	CHECK_EQ(fc.vm.cpus, 1);
	CHECK_EQ(fc.vm.mem_mib, VM_DEFAULT_MEM_MIB);
	CHECK_STR_EQ(fc.vm.kernel, "/k");
}

static void config_file_all_or_nothing(void)
{
	reset();
	OK(fc_config_file_parse(&fc, J(full_file), &err));
	static const struct {
		const char *doc, *want;
	} t[] = {
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":\"/a\",\"is_root_device\":false},"
		 "{\"drive_id\":\"b\",\"path_on_host\":\"/b\",\"is_root_device\":false,\"cache_type\":\"Fast\"}]}",
		 "drives[1]: cache_type 'Fast'"},
		{"{\"drives\":[]}", "boot-source: missing"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"vsock\":{\"guest_cid\":3,\"uds_path\":\"/v\"}}",
		 "vsock: ember has no vsock devices"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"pmem\":[{\"id\":\"p\",\"path_on_host\":\"/p\"}]}",
		 "pmem: ember has no virtio-pmem devices"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"balloon\":{\"amount_mib\":0}}", "balloon: ember has no balloon"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"mmds-config\":{\"network_interfaces\":[]}}", "mmds-config: ember has no MMDS"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"entropy\":{}}", "entropy: ember has no entropy"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"memory-hotplug\":{}}", "memory-hotplug: ember has no memory hotplug"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"cpu-config\":\"/t.json\"}", "cpu-config: ember has no custom CPU templates"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"machine_config\":{}}", "unknown key 'machine_config'"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"machine-config\":{\"vcpu_count\":2}}", "machine-config: missing field 'mem_size_mib'"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"network-interfaces\":[{\"iface_id\":\"a\",\"host_dev_name\":\"t\"},"
		 "{\"iface_id\":\"b\",\"host_dev_name\":\"t\"}]}", "network-interfaces[1]: host_dev_name 't' is already used"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"network-interfaces\":{}}", "network-interfaces: expected an array"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"drives\":[7]}", "drives[0]: expected a JSON object"},
		{"{\"boot-source\":\"/k\"}", "boot-source: expected a JSON object"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"drives\":[{\"drive_id\":\"a!\",\"path_on_host\":\"/a\",\"is_root_device\":false}]}",
		 "drives[0]: 'a!' is not an ID"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"logger\":{\"level\":\"loud\"}}", "logger: level 'loud'"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"metrics\":{}}", "metrics: missing field 'metrics_path'"},
		{"{\"boot-source\":{\"kernel_image_path\":\"/k\"},", "invalid JSON at line 1"},
		{"[]", "expected a JSON object"},
	};
	for (unsigned i = 0; i < ARRAY_SIZE(t); i++) {
		snap();
		if (!refused(fc_config_file_parse(&fc, J(t[i].doc), &err), t[i].want, __LINE__))
			return;
	}
	CHECK_STR_EQ(fc.vm.kernel, "/k/vmlinux");
}

static void config_file_size_limit(void)
{
	reset();
	size_t n = FC_CONFIG_FILE_MAX + 1;
	char *big = malloc(n);
	CHECK(big != NULL);
	memset(big, ' ', n);
	static const char doc[] = "{\"boot-source\":{\"kernel_image_path\":\"/k\"}}";
	memcpy(big, doc, sizeof(doc) - 1);
	snap();
	int r = fc_config_file_parse(&fc, big, n, &err);
	int ok = refused(r, "more than ember reads", __LINE__);
	OK(fc_config_file_parse(&fc, big, n - 1, &err)); /* blanks up to the limit are fine */
	free(big);
	CHECK(ok);
	CHECK_STR_EQ(fc.vm.kernel, "/k");
}

static void config_file_load(void)
{
	reset();
	char path[] = "/tmp/ember-fc-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, full_file, strlen(full_file)) == (ssize_t)strlen(full_file));
	OK(fc_config_file_load(&fc, path, &err));
	CHECK_EQ(fc.vm.ndisks, 2);
	/* a file larger than the limit is refused before it is read */
	CHECK(ftruncate(fd, FC_CONFIG_FILE_MAX + 1) == 0);
	close(fd);
	REFUSED(fc_config_file_load(&fc, path, &err), "is larger than 1048576 bytes");
	unlink(path);
	REFUSED(fc_config_file_load(&fc, path, &err), "No such file");
	REFUSED(fc_config_file_load(&fc, "/", &err), "cannot read config file '/'");
}

/* ---- back to JSON ---- */

static void machine_config_json(void)
{
	reset();
	OK(fc_put_machine_config(&fc, J("{\"vcpu_count\":2,\"mem_size_mib\":512}"), &err));
	char *s = fc_machine_config_json(&fc.vm);
	CHECK(s != NULL);
	int same = strcmp(s, "{\"vcpu_count\":2,\"mem_size_mib\":512,\"smt\":false,"
			     "\"track_dirty_pages\":false,\"huge_pages\":\"None\"}") == 0;
	if (!same)
		printf("  got %s\n", s);
	free(s);
	CHECK(same);
}

static void vm_config_json_is_firecrackers(void)
{
	reset();
	OK(fc_put_boot_source(&fc, J("{\"kernel_image_path\":\"/k\"}"), &err));
	OK(fc_put_drive(&fc, "root", J("{\"drive_id\":\"root\",\"path_on_host\":\"/r\",\"is_root_device\":true}"), &err));
	OK(fc_put_network_interface(&fc, "eth0", J("{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}"), &err));
	char *s = fc_config_json(&fc);
	CHECK(s != NULL);
	static const char want[] =
		"{\"balloon\":null,"
		"\"drives\":[{\"drive_id\":\"root\",\"partuuid\":null,\"is_root_device\":true,\"cache_type\":\"Unsafe\","
		"\"is_read_only\":false,\"path_on_host\":\"/r\",\"rate_limiter\":null,\"io_engine\":\"Sync\",\"socket\":null}],"
		"\"boot-source\":{\"kernel_image_path\":\"/k\",\"initrd_path\":null,\"boot_args\":null},"
		"\"cpu-config\":null,\"logger\":null,"
		"\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":256,\"smt\":false,\"track_dirty_pages\":false,\"huge_pages\":\"None\"},"
		"\"metrics\":null,\"mmds-config\":null,"
		"\"network-interfaces\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":null,\"mtu\":null,"
		"\"rx_rate_limiter\":null,\"tx_rate_limiter\":null}],"
		"\"vsock\":null,\"entropy\":null,\"pmem\":[],\"memory-hotplug\":null}";
	int same = strcmp(s, want) == 0;
	if (!same)
		printf("  got  %s\n  want %s\n", s, want);
	free(s);
	CHECK(same);
}

/* JSON of fc, parsed again as a config file into `other`: the same. */
static void round_trip_check(int at)
{
	char *s = fc_config_json(&fc);
	if (!s) {
		check_fail(__FILE__, at, "no JSON");
		return;
	}
	fc_config_init(&other);
	memset(&err, 0, sizeof(err));
	int r = fc_config_file_parse(&other, s, strlen(s), &err);
	bool same = r == 0 && fc_config_equal(&fc, &other);
	if (!same)
		check_fail(__FILE__, at, "round trip: %s (%s)", r ? err.msg : "not the same", s);
	free(s);
	fc_config_free(&other);
}

static void round_trip_config_file(void)
{
	reset();
	OK(fc_config_file_parse(&fc, J(full_file), &err));
	round_trip_check(__LINE__);
	CHECK(!check_state.case_failed);
	/* and with every drive order Firecracker's rules can make */
	OK(put_drive("rootfs", "/img/root", false, false)); /* no root now */
	round_trip_check(__LINE__);
	CHECK(!check_state.case_failed);
	OK(put_drive("data", "/img/data", true, false)); /* data swapped to the front */
	OK(fc_put_logger(&fc, J("{\"level\":\"Warning\",\"module\":\"vmm\"}"), &err));
	round_trip_check(__LINE__);
	CHECK(!check_state.case_failed);
}

static void round_trip_api_built(void)
{
	reset();
	OK(fc_put_boot_source(&fc, J("{\"kernel_image_path\":\"/k\",\"boot_args\":\"\"}"), &err));
	OK(fc_put_machine_config(&fc, J("{\"vcpu_count\":3,\"mem_size_mib\":100}"), &err));
	OK(put_drive("a", "/a", false, true));
	OK(fc_put_network_interface(&fc, "n", J("{\"iface_id\":\"n\",\"host_dev_name\":\"t\",\"guest_mac\":\"02:00:00:00:00:09\"}"), &err));
	round_trip_check(__LINE__);
	CHECK(!check_state.case_failed);
	/* changed configurations are not the same */
	fc_config_init(&other);
	CHECK(!fc_config_equal(&fc, &other));
	CHECK(fc_config_equal(&fc, &fc));
}

/* A command-line configuration (borrowed strings, no ids): made-up ids and
 * the command line as the kernel gets it. */
static void command_line_config_json(void)
{
	static struct vm_config c;
	vm_config_defaults(&c);
	c.kernel = "/k";
	c.cmdline = "loglevel=7";
	c.ndisks = 1;
	strcpy(c.disks[0].path, "/d");
	c.nnets = 1;
	strcpy(c.nets[0].tap, "tap0");
	c.nets[0].queues = 1;
	char *s = fc_vm_config_json(&c, NULL, NULL);
	CHECK(s != NULL);
	int ok = strstr(s, "\"drive_id\":\"vda\"") && strstr(s, "\"iface_id\":\"net0\"") &&
		 strstr(s, "\"boot_args\":\"" CMDLINE_DEFAULT " loglevel=7\"");
	if (!ok)
		printf("  got %s\n", s);
	reset();
	memset(&err, 0, sizeof(err));
	int r = fc_config_file_parse(&fc, s, strlen(s), &err);
	free(s);
	CHECK(ok);
	CHECK_EQ(r, 0);
	CHECK_STR_EQ(kernel_line(), CMDLINE_DEFAULT " loglevel=7");
	/* a path that is not UTF-8 cannot be JSON */
	c.kernel = "/k\xff";
	CHECK(fc_vm_config_json(&c, NULL, NULL) == NULL);
}

int main(void)
{
	RUN(boot_source_every_field);
	RUN(boot_source_kernel_only_keeps_default);
	RUN(boot_source_replaced_whole);
	RUN(boot_source_refusals);
	RUN(machine_put_every_field);
	RUN(machine_put_needs_both);
	RUN(machine_limits);
	RUN(machine_what_ember_lacks);
	RUN(machine_patch_changes_only_what_is_given);
	RUN(drive_every_field);
	RUN(drive_refusals);
	RUN(drive_patch);
	RUN(rate_limiters);
	RUN(drive_root_goes_first);
	RUN(drive_partuuid_goes_with_its_drive);
	RUN(drive_replaced_in_place);
	RUN(empty_rate_limiters_accepted);
	RUN(drive_limit);
	RUN(net_every_field);
	RUN(net_refusals);
	RUN(net_replaced_in_place_and_limit);
	RUN(logger_every_field);
	RUN(metrics_once);
	RUN(unsupported_paths_and_keys);
	RUN(config_file_every_section);
	RUN(config_file_replaces_everything);
	RUN(config_file_all_or_nothing);
	RUN(config_file_size_limit);
	RUN(config_file_load);
	RUN(machine_config_json);
	RUN(vm_config_json_is_firecrackers);
	RUN(round_trip_config_file);
	RUN(round_trip_api_built);
	RUN(command_line_config_json);
	fc_config_free(&fc);
	return check_summary();
}
