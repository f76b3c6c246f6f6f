/* test_metrics.c: Firecracker's metrics line from fake counters
 * (vmm/core/metrics.c): one JSON object on one line, utc_timestamp_ms first,
 * each device's group ("block_ID") before its type's aggregate ("block"),
 * groups in the order they first appear, counters as deltas since the last
 * line (a source whose totals went back counts from 0), the aggregate the
 * sum of the devices' deltas; stored values (latencies, flags) written as
 * they are every time, their aggregate the largest; a sample without an id
 * is its group's aggregate only; up to METRICS_COUNTERS_MAX counters. */
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

static const char *const lat_names[] = {"pause_vm", "resume_vm", "pauses"};

/* Stored values are written as they are (not as deltas), again and again,
 * next to delta counters of the same group. */
static void stored_values(void)
{
	memset(&st, 0, sizeof(st));
	struct metrics_sample l = {.slot = 5, .group = "latencies_us", .names = lat_names, .n = 3,
				   .total = {250, 0, 4},
				   .stored = METRICS_STORED(0) | METRICS_STORED(1)};
	json_t *j = parse(metrics_line(&st, &l, 1, 1));
	CHECK(j != NULL);
	CHECK_EQ(num(j, "latencies_us", "pause_vm"), 250);
	CHECK_EQ(num(j, "latencies_us", "resume_vm"), 0);
	CHECK_EQ(num(j, "latencies_us", "pauses"), 4);
	json_decref(j);
	/* nothing new: the stored values again, the counter 0 */
	j = parse(metrics_line(&st, &l, 1, 2));
	CHECK(j != NULL);
	CHECK_EQ(num(j, "latencies_us", "pause_vm"), 250);
	CHECK_EQ(num(j, "latencies_us", "pauses"), 0);
	json_decref(j);
	/* a smaller value replaces a larger one (the last measurement) */
	l.total[0] = 90;
	l.total[1] = 30;
	l.total[2] = 5;
	j = parse(metrics_line(&st, &l, 1, 3));
	CHECK(j != NULL);
	CHECK_EQ(num(j, "latencies_us", "pause_vm"), 90);
	CHECK_EQ(num(j, "latencies_us", "resume_vm"), 30);
	CHECK_EQ(num(j, "latencies_us", "pauses"), 1);
	json_decref(j);
}

/* Devices' stored values: each device's as it is, the aggregate the largest;
 * a sample without an id writes its group only. */
static void stored_aggregate_and_single_device(void)
{
	memset(&st, 0, sizeof(st));
	static const char *const names[] = {"bytes", "last_us"};
	struct metrics_sample d[3] = {
		{.slot = 0, .group = "block", .id = "a", .names = names, .n = 2, .total = {10, 7},
		 .stored = METRICS_STORED(1)},
		{.slot = 1, .group = "block", .id = "b", .names = names, .n = 2, .total = {5, 12},
		 .stored = METRICS_STORED(1)},
		{.slot = 2, .group = "uart", .names = names, .n = 2, .total = {3, 0},
		 .stored = METRICS_STORED(1)},
	};
	for (int round = 0; round < 2; round++) {
		json_t *j = parse(metrics_line(&st, d, 3, 1));
		CHECK(j != NULL);
		CHECK_EQ(json_object_size(j), 5); /* timestamp, block_a, block_b, block, uart */
		CHECK_EQ(num(j, "block_a", "last_us"), 7);
		CHECK_EQ(num(j, "block", "last_us"), 12);
		CHECK_EQ(num(j, "block", "bytes"), round ? 0 : 15);
		CHECK_EQ(num(j, "uart", "bytes"), round ? 0 : 3);
		CHECK(json_object_get(j, "uart_") == NULL);
		json_decref(j);
	}
}

/* A group of METRICS_COUNTERS_MAX counters (Firecracker's put_api_requests
 * has 26), the last one stored. */
static void widest_group(void)
{
	memset(&st, 0, sizeof(st));
	static char names_buf[METRICS_COUNTERS_MAX][8];
	static const char *names[METRICS_COUNTERS_MAX];
	struct metrics_sample w = {.slot = 79, .group = "put_api_requests", .names = names,
				   .n = METRICS_COUNTERS_MAX,
				   .stored = METRICS_STORED(METRICS_COUNTERS_MAX - 1)};
	for (unsigned k = 0; k < METRICS_COUNTERS_MAX; k++) {
		snprintf(names_buf[k], sizeof(names_buf[k]), "c%u", k);
		names[k] = names_buf[k];
		w.total[k] = k + 1;
	}
	free(metrics_line(&st, &w, 1, 1));
	json_t *j = parse(metrics_line(&st, &w, 1, 2));
	CHECK(j != NULL);
	CHECK_EQ(json_object_size(json_object_get(j, "put_api_requests")), METRICS_COUNTERS_MAX);
	CHECK_EQ(num(j, "put_api_requests", "c0"), 0);
	CHECK_EQ(num(j, "put_api_requests", "c31"), METRICS_COUNTERS_MAX);
	json_decref(j);
}

int main(void)
{
	RUN(shape_and_order);
	RUN(deltas_since_last_flush);
	RUN(no_samples);
	RUN(stored_values);
	RUN(stored_aggregate_and_single_device);
	RUN(widest_group);
	return check_summary();
}
