/* test_metrics.c: Firecracker's metrics line from fake counters
 * (vmm/core/metrics.c): one JSON object on one line, utc_timestamp_ms first,
 * each device's group ("block_ID") before its type's aggregate ("block"),
 * groups in the order they first appear, counters as deltas since the last
 * line (a source whose totals went back counts from 0), the aggregate the
 * sum of the devices' deltas. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/core/metrics.h"

static const char *const blk_names[] = {"read_bytes", "write_bytes"};
static const char *const cpu_names[] = {"exit_io_in"};

static struct metrics_state st;
static struct metrics_sample s[3];

static void samples(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1, uint64_t c)
{
	memset(s, 0, sizeof(s));
	s[0] = (struct metrics_sample){.slot = 0, .group = "block", .id = "rootfs",
				       .names = blk_names, .n = 2, .total = {a0, a1}};
	s[1] = (struct metrics_sample){.slot = 1, .group = "block", .id = "data",
				       .names = blk_names, .n = 2, .total = {b0, b1}};
	s[2] = (struct metrics_sample){.slot = 70, .group = "vcpu", .names = cpu_names, .n = 1,
				       .total = {c}};
}

static uint64_t num(json_t *root, const char *group, const char *key)
{
	return (uint64_t)json_integer_value(json_object_get(json_object_get(root, group), key));
}

static json_t *parse(char *line)
{
	size_t n = strlen(line);
	json_t *j = NULL;
	if (n && line[n - 1] == '\n' && !memchr(line, '\n', n - 1))
		j = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	free(line);
	return j;
}

static void shape_and_order(void)
{
	memset(&st, 0, sizeof(st));
	samples(100, 10, 5, 1, 7);
	char *line = metrics_line(&st, s, 3, 1700000000123ull);
	CHECK(line != NULL);
	CHECK(strncmp(line, "{\"utc_timestamp_ms\":1700000000123,\"block_rootfs\":", 49) == 0);
	const char *a = strstr(line, "\"block_data\""), *b = strstr(line, "\"block\":");
	const char *c = strstr(line, "\"vcpu\":");
	CHECK(a && b && c && a < b && b < c);
	json_t *j = parse(line);
	CHECK(j != NULL);
	CHECK_EQ(json_object_size(j), 5);
	CHECK_EQ(num(j, "block_rootfs", "read_bytes"), 100);
	CHECK_EQ(num(j, "block_data", "write_bytes"), 1);
	CHECK_EQ(num(j, "block", "read_bytes"), 105);
	CHECK_EQ(num(j, "block", "write_bytes"), 11);
	CHECK_EQ(num(j, "vcpu", "exit_io_in"), 7);
	CHECK(json_object_get(j, "vcpu_") == NULL);
	json_decref(j);
}

static void deltas_since_last_flush(void)
{
	memset(&st, 0, sizeof(st));
	samples(100, 10, 5, 1, 7);
	free(metrics_line(&st, s, 3, 1));
	samples(150, 10, 5, 4, 7);
	json_t *j = parse(metrics_line(&st, s, 3, 2));
	CHECK(j != NULL);
	CHECK_EQ(num(j, "block_rootfs", "read_bytes"), 50);
	CHECK_EQ(num(j, "block_rootfs", "write_bytes"), 0);
	CHECK_EQ(num(j, "block_data", "write_bytes"), 3);
	CHECK_EQ(num(j, "block", "read_bytes"), 50);
	CHECK_EQ(num(j, "block", "write_bytes"), 3);
	CHECK_EQ(num(j, "vcpu", "exit_io_in"), 0);
	json_decref(j);
	/* totals that went back (the source started again) count from 0 */
	samples(20, 10, 5, 4, 7);
	j = parse(metrics_line(&st, s, 3, 3));
	CHECK(j != NULL);
	CHECK_EQ(num(j, "block_rootfs", "read_bytes"), 20);
	json_decref(j);
}

static void no_samples(void)
{
	memset(&st, 0, sizeof(st));
	json_t *j = parse(metrics_line(&st, s, 0, 42));
	CHECK(j != NULL);
	CHECK_EQ(json_object_size(j), 1);
	CHECK_EQ(json_integer_value(json_object_get(j, "utc_timestamp_ms")), 42);
	json_decref(j);
}

int main(void)
{
	RUN(shape_and_order);
	RUN(deltas_since_last_flush);
	RUN(no_samples);
	return check_summary();
}
