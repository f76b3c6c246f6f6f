/* test_fc_snapshot.c: the bodies of PUT /snapshot/create and /snapshot/load
 * (vmm/api/fc_snapshot.c): Firecracker's forms accepted with every field;
 * Diff, Uffd, unknown keys, wrong types, bad paths and bad overrides
 * refused with one line naming the problem, the output left untouched. */
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/api/fc_snapshot.h"

#define J(s) (s), strlen(s)

static struct errbuf err;

static void accepts_create(void)
{
	struct fc_snapshot_create c;
	CHECK_EQ(fc_snapshot_create_parse(J("{\"snapshot_type\":\"Full\",\"snapshot_path\":\"/s\","
					    "\"mem_file_path\":\"/m\"}"), &c, &err), 0);
	CHECK_STR_EQ(c.state_path, "/s");
	CHECK_STR_EQ(c.mem_path, "/m");
	/* snapshot_type is optional (Full) */
	CHECK_EQ(fc_snapshot_create_parse(J("{\"snapshot_path\":\"/a\",\"mem_file_path\":\"/b\"}"),
					  &c, &err), 0);
	CHECK_STR_EQ(c.state_path, "/a");
}

/* body is refused with a message holding want, and the output untouched. */
static void create_refused(const char *body, const char *want)
{
	struct fc_snapshot_create c, before;
	memset(&c, 0x5a, sizeof(c));
	memcpy(&before, &c, sizeof(c));
	memset(&err, 0, sizeof(err));
	CHECK_EQ(fc_snapshot_create_parse(J(body), &c, &err), -1);
	if (!strstr(err.msg, want) || strchr(err.msg, '\n'))
		check_fail(__FILE__, __LINE__, "'%s': message '%s', want '%s'", body, err.msg, want);
	CHECK(memcmp(&c, &before, sizeof(c)) == 0);
}

static void refuses_create(void)
{
	create_refused("{\"snapshot_type\":\"Diff\",\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\"}",
		       "Full snapshots only");
	create_refused("{\"snapshot_type\":7,\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\"}",
		       "snapshot_type");
	create_refused("{\"snapshot_path\":\"/s\"}", "mem_file_path");
	create_refused("{\"snapshot_path\":\"\",\"mem_file_path\":\"/m\"}", "snapshot_path");
	create_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/s\"}", "the same file");
	create_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"version\":\"1\"}",
		       "unknown field 'version'");
	create_refused("{\"snapshot_path\":\"/s\\u0000x\",\"mem_file_path\":\"/m\"}", "u0000");
	create_refused("[1]", "not a JSON object");
	create_refused("{", "not JSON");
	static char big[FC_PATH_MAX + 64];
	strcpy(big, "{\"snapshot_path\":\"");
	memset(big + strlen(big), 'a', FC_PATH_MAX);
	strcat(big, "\",\"mem_file_path\":\"/m\"}");
	create_refused(big, "snapshot_path");
}

static void accepts_load(void)
{
	struct fc_snapshot_load l;
	CHECK_EQ(fc_snapshot_load_parse(
			 J("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"File\","
			   "\"backend_path\":\"/m\"},\"resume_vm\":true,\"enable_diff_snapshots\":false,"
			   "\"track_dirty_pages\":false,\"network_overrides\":[{\"iface_id\":\"eth0\","
			   "\"host_dev_name\":\"tap7\"},{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap8\"}]}"),
			 &l, &err), 0);
	CHECK_STR_EQ(l.state_path, "/s");
	CHECK_STR_EQ(l.mem_path, "/m");
	CHECK(l.resume);
	CHECK_EQ(l.noverrides, 2u);
	CHECK_STR_EQ(l.overrides[1].iface_id, "eth1");
	CHECK_STR_EQ(l.overrides[1].tap, "tap8");
	/* the deprecated form; resume_vm defaults to false */
	CHECK_EQ(fc_snapshot_load_parse(J("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/old\"}"),
					&l, &err), 0);
	CHECK_STR_EQ(l.mem_path, "/old");
	CHECK(!l.resume);
	CHECK_EQ(l.noverrides, 0u);
}

static void load_refused(const char *body, const char *want)
{
	struct fc_snapshot_load l, before;
	memset(&l, 0x5a, sizeof(l));
	memcpy(&before, &l, sizeof(l));
	memset(&err, 0, sizeof(err));
	CHECK_EQ(fc_snapshot_load_parse(J(body), &l, &err), -1);
	if (!strstr(err.msg, want) || strchr(err.msg, '\n'))
		check_fail(__FILE__, __LINE__, "'%s': message '%s', want '%s'", body, err.msg, want);
	CHECK(memcmp(&l, &before, sizeof(l)) == 0);
}

static void refuses_load(void)
{
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"Uffd\","
		     "\"backend_path\":\"/u\"}}", "Uffd");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"Disk\","
		     "\"backend_path\":\"/u\"}}", "mem_backend must be");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"File\"}}",
		     "backend_path");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_backend\":{\"backend_type\":\"File\","
		     "\"backend_path\":\"/m\",\"x\":1}}", "unknown field 'x'");
	load_refused("{\"snapshot_path\":\"/s\"}", "one of mem_backend and mem_file_path");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"mem_backend\":"
		     "{\"backend_type\":\"File\",\"backend_path\":\"/m\"}}", "one of mem_backend");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"resume_vm\":1}",
		     "resume_vm must be true or false");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"enable_diff_snapshots\":true}",
		     "Full snapshots only");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"track_dirty_pages\":true}",
		     "track_dirty_pages");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"network_overrides\":{}}",
		     "network_overrides must be an array");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"network_overrides\":"
		     "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"bad/name\"}]}", "network_overrides[0]");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"network_overrides\":"
		     "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"mac\":\"x\"}]}",
		     "unknown field 'mac'");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"network_overrides\":"
		     "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"},"
		     "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap1\"}]}", "names 'eth0' twice");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"network_overrides\":"
		     "[1,2,3,4,5,6,7,8,9]}", "at most 8");
	load_refused("{\"mem_file_path\":\"/m\"}", "snapshot_path");
	load_refused("{\"snapshot_path\":\"/s\",\"mem_file_path\":\"/m\",\"other\":1}",
		     "unknown field 'other'");
}

int main(void)
{
	RUN(accepts_create);
	RUN(refuses_create);
	RUN(accepts_load);
	RUN(refuses_load);
	return check_summary();
}
