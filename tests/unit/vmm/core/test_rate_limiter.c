/* test_rate_limiter.c: the token buckets (rate_limiter.c) on a fake clock:
 * a bucket starts full and refills continuously, capped at its size; the
 * one-time burst goes first and never comes back; a refused request takes
 * nothing and says how long to wait, and fits exactly then; a request larger
 * than the bucket waits for a full bucket, goes, and leaves a debt that
 * delays what follows; the ops bucket counts requests; a change of limits
 * starts full; size or refill time 0 is no bucket; the command-line form. */
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/core/rate_limiter.h"

#define MS 1000000ull

static struct rate_limiter rl;

static void bw_only(void)
{
	/* 1000 bytes per 100 ms */
	struct rl_config c = {.bw = {.size = 1000, .refill_ms = 100}};
	uint64_t now = 5 * MS, w;
	rl_init(&rl, &c, now);
	CHECK(rl_on(&rl));
	CHECK(rl_consume(&rl, 600, now, &w));
	CHECK(rl_consume(&rl, 400, now, &w)); /* full at start: 1000 */
	CHECK(!rl_consume(&rl, 100, now, &w));
	CHECK_EQ(w, 10 * MS);                 /* 100 bytes take 10 ms */
	CHECK(rl.blocked);
	CHECK(!rl_consume(&rl, 1, now + 20 * MS, &w)); /* blocked until unblocked */
	rl_unblock(&rl);
	CHECK(!rl_consume(&rl, 100, now + 9 * MS, &w)); /* 90 bytes back */
	CHECK_EQ(w, 1 * MS);
	rl_unblock(&rl);
	CHECK(rl_consume(&rl, 100, now + 10 * MS, &w)); /* exactly then */
	CHECK_EQ(rl.throttled, 2);
	CHECK_EQ(rl.bytes, 1100);
	CHECK_EQ(rl.ops_done, 3);
}

static void refill_capped(void)
{
	struct rl_config c = {.bw = {.size = 1000, .refill_ms = 100}};
	uint64_t w;
	rl_init(&rl, &c, 0);
	CHECK(rl_consume(&rl, 1000, 0, &w));
	/* a long idle time refills to the size, not beyond */
	CHECK(rl_consume(&rl, 1000, 10000 * MS, &w));
	CHECK(!rl_consume(&rl, 1, 10000 * MS, &w));
	rl_unblock(&rl);
	/* refill in small steps loses nothing to rounding: 1 ms = 10 bytes */
	uint64_t t0 = 10000 * MS, t = t0;
	for (int i = 0; i < 300; i++) {
		t += MS / 3;
		CHECK(!rl_consume(&rl, 1000, t, &w));
		rl_unblock(&rl);
	}
	CHECK(rl_consume(&rl, 1000, t0 + 100 * MS, &w));
}

static void burst_first_never_back(void)
{
	struct rl_config c = {.bw = {.size = 100, .refill_ms = 1000, .one_time_burst = 500}};
	uint64_t w;
	rl_init(&rl, &c, 0);
	CHECK(rl_consume(&rl, 500, 0, &w)); /* the burst */
	CHECK(rl_consume(&rl, 100, 0, &w)); /* the bucket */
	CHECK(!rl_consume(&rl, 50, 0, &w));
	CHECK_EQ(w, 500 * MS);
	rl_unblock(&rl);
	/* much later: the bucket is full again, the burst stays spent */
	CHECK(rl_consume(&rl, 100, 100000 * MS, &w));
	CHECK(!rl_consume(&rl, 1, 100000 * MS, &w));
}

static void oversize_goes_then_debt(void)
{
	struct rl_config c = {.bw = {.size = 1000, .refill_ms = 100}};
	uint64_t w;
	rl_init(&rl, &c, 0);
	CHECK(rl_consume(&rl, 200, 0, &w));
	/* 5000 > size: waits for a full bucket (200 bytes = 20 ms) ... */
	CHECK(!rl_consume(&rl, 5000, 0, &w));
	CHECK_EQ(w, 20 * MS);
	rl_unblock(&rl);
	/* ... then goes, and 4000 bytes of debt plus 1 wanted: 400.1 ms */
	CHECK(rl_consume(&rl, 5000, 20 * MS, &w));
	CHECK(!rl_consume(&rl, 1, 20 * MS, &w));
	CHECK_EQ(w, 4001 * MS / 10);
	rl_unblock(&rl);
	CHECK(rl_consume(&rl, 1, 20 * MS + 4001 * MS / 10, &w));
}

static void ops_bucket(void)
{
	/* 200 requests per second, any size */
	struct rl_config c = {.ops = {.size = 200, .refill_ms = 1000}};
	uint64_t w;
	rl_init(&rl, &c, 0);
	for (int i = 0; i < 200; i++)
		CHECK(rl_consume(&rl, 1 << 20, 0, &w));
	CHECK(!rl_consume(&rl, 0, 0, &w));
	CHECK_EQ(w, 5 * MS);
	rl_unblock(&rl);
	/* over 10 s: 2000 more, not one more */
	unsigned n = 0;
	for (uint64_t t = 5 * MS; t <= 10005 * MS; t += MS) {
		while (rl_consume(&rl, 4096, t, &w))
			n++;
		rl_unblock(&rl);
	}
	CHECK_EQ(n, 2001);
}

static void both_buckets_all_or_nothing(void)
{
	struct rl_config c = {.bw = {.size = 1000, .refill_ms = 100}, .ops = {.size = 2, .refill_ms = 100}};
	uint64_t w;
	rl_init(&rl, &c, 0);
	CHECK(rl_consume(&rl, 100, 0, &w));
	CHECK(rl_consume(&rl, 100, 0, &w));
	/* ops is out: refused, and no bytes taken meanwhile */
	CHECK(!rl_consume(&rl, 100, 0, &w));
	CHECK_EQ(w, 50 * MS);
	CHECK_EQ(rl.bw.budget, 800);
	/* bytes short: refused, no op taken */
	struct rl_config c2 = {.bw = {.size = 1000, .refill_ms = 100}, .ops = {.size = 10, .refill_ms = 100}};
	rl_init(&rl, &c2, 0);
	CHECK(rl_consume(&rl, 900, 0, &w));
	CHECK(!rl_consume(&rl, 200, 0, &w));
	CHECK_EQ(w, 10 * MS);
	CHECK_EQ(rl.ops.budget, 9);
}

static void may_start_and_charge(void)
{
	memset(&rl, 0, sizeof(rl));
	struct rl_config c = {.bw = {.size = 1000, .refill_ms = 100}};
	uint64_t w;
	rl_init(&rl, &c, 0);
	CHECK(rl_may_start(&rl, 0, &w));
	rl_charge(&rl, 3000, 0); /* a frame received: debt 2000 */
	CHECK(!rl_may_start(&rl, 0, &w));
	CHECK_EQ(w, 2001 * MS / 10); /* the debt and one byte */
	rl_unblock(&rl);
	CHECK(rl_may_start(&rl, 2001 * MS / 10, &w));
	CHECK_EQ(rl.bytes, 3000);
}

static void change_starts_full(void)
{
	memset(&rl, 0, sizeof(rl));
	struct rl_config c = {.bw = {.size = 1000, .refill_ms = 100}};
	uint64_t w;
	rl_init(&rl, &c, 0);
	CHECK(rl_consume(&rl, 1000, 0, &w));
	CHECK(!rl_consume(&rl, 1000, 0, &w));
	struct rl_config c2 = {.bw = {.size = 5000, .refill_ms = 100}};
	rl_init(&rl, &c2, 0);
	CHECK(!rl.blocked);
	CHECK(rl_consume(&rl, 5000, 0, &w));
	CHECK_EQ(rl.throttled, 1); /* the counters run on */
	CHECK_EQ(rl.bytes, 6000);
	/* size 0 / refill 0: no bucket, nothing limited */
	struct rl_config off = {.bw = {.size = 0, .refill_ms = 100}, .ops = {.size = 10, .refill_ms = 0}};
	rl_init(&rl, &off, 0);
	CHECK(!rl_on(&rl));
	for (int i = 0; i < 1000; i++)
		CHECK(rl_consume(&rl, 1 << 30, 0, &w));
}

static void update_keeps_what_is_not_given(void)
{
	memset(&rl, 0, sizeof(rl));
	struct rl_config c = {.bw = {.size = 1000, .refill_ms = 100}, .ops = {.size = 2, .refill_ms = 100}};
	uint64_t w;
	rl_init(&rl, &c, 0);
	CHECK(rl_consume(&rl, 1000, 0, &w));
	CHECK(!rl_consume(&rl, 1000, 0, &w));
	/* a new ops bucket only: bytes still owed, ops full */
	struct rl_update u = {.ops_set = true, .c.ops = {.size = 50, .refill_ms = 100}};
	rl_update(&rl, &u, 0);
	CHECK(!rl.blocked);
	CHECK_EQ(rl.ops.budget, 50);
	CHECK_EQ(rl.bw.budget, 0);
	CHECK(!rl_consume(&rl, 1, 0, &w));
	/* the byte bucket removed (size 0): nothing but ops limits */
	struct rl_update off = {.bw_set = true};
	rl_update(&rl, &off, 0);
	CHECK(!rl.bw.on);
	CHECK(rl_consume(&rl, 1 << 30, 0, &w));
	struct rl_config cfg = c;
	rl_config_apply(&cfg, &u);
	rl_config_apply(&cfg, &off);
	CHECK_EQ(cfg.ops.size, 50);
	CHECK(!rl_bucket_config_on(&cfg.bw));
}

static void parse_bucket(void)
{
	struct rl_bucket_config b;
	CHECK_EQ(rl_parse_bucket("4M/1000", &b), 0);
	CHECK_EQ(b.size, 4u << 20);
	CHECK_EQ(b.refill_ms, 1000);
	CHECK_EQ(b.one_time_burst, 0);
	CHECK_EQ(rl_parse_bucket("200/1000+50", &b), 0);
	CHECK_EQ(b.size, 200);
	CHECK_EQ(b.one_time_burst, 50);
	CHECK_EQ(rl_parse_bucket("1k/10+2G", &b), 0);
	CHECK_EQ(b.size, 1024);
	CHECK_EQ(b.one_time_burst, 2ull << 30);
	const char *bad[] = {"", "4M", "4M/", "/100", "0/100", "4M/0", "-1/100", "4X/100",
			     "4M/100+", "4M/100+x", "4M/100ms", "99999999999999999999G/1"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(rl_parse_bucket(bad[i], &b), -1);
}

int main(void)
{
	RUN(bw_only);
	RUN(refill_capped);
	RUN(burst_first_never_back);
	RUN(oversize_goes_then_debt);
	RUN(ops_bucket);
	RUN(both_buckets_all_or_nothing);
	RUN(may_start_and_charge);
	RUN(change_starts_full);
	RUN(update_keeps_what_is_not_given);
	RUN(parse_bucket);
	return check_summary();
}
