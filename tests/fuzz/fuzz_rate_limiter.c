/* fuzz_rate_limiter.c: libFuzzer target for the token buckets
 * (rate_limiter.c): limits (the API's, hostile) and a sequence of requests
 * on a clock the input moves. Invariants: a bucket never holds more than its
 * size; a refused request takes nothing and names a wait; once that wait
 * has passed (and the limiter is unblocked), a request that fits the bucket
 * passes, also when the clock given is behind the limiter's; the counters add up; no arithmetic overflows (UBSan).
 *
 * Input layout:
 *   [0..47]  bw and ops: size, one_time_burst, refill_ms (u64 LE each)
 *   [48..]   records of 9 bytes: kind (bit0-1: consume, may_start, charge,
 *            update), then u32 bytes and u32 nanoseconds the clock moves
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/harness.h"
#include "vmm/core/rate_limiter.h"

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void bucket_ok(const struct rl_bucket *b)
{
	if (b->on)
		ASSERT(b->budget <= (int64_t)b->size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 48)
		return 0;
	struct rl_config c;
	c.bw = (struct rl_bucket_config){le64(data), le64(data + 8), le64(data + 16)};
	c.ops = (struct rl_bucket_config){le64(data + 24), le64(data + 32), le64(data + 40)};
	struct rate_limiter rl;
	memset(&rl, 0, sizeof(rl));
	uint64_t now = 1;
	rl_init(&rl, &c, now);
	uint64_t passed = 0, charged = 0;
	for (size_t at = 48; at + 9 <= size; at += 9) {
		unsigned kind = data[at] & 3;
		uint64_t bytes = le32(data + at + 1);
		now += le32(data + at + 5);
		uint64_t wait = 0;
		if (kind == 0) {
			struct rate_limiter before = rl;
			if (rl_consume(&rl, bytes, now, &wait)) {
				passed++;
			} else {
				/* nothing taken */
				ASSERT(rl.bw.burst == before.bw.burst && rl.ops.burst == before.ops.burst);
				ASSERT(rl.ops_done == before.ops_done && rl.bytes == before.bytes);
				if (!before.blocked) {
					ASSERT(wait > 0);
					/* after the wait, the same request fits (unless the
					 * bucket is too large for the clock to matter) */
					rl_unblock(&rl);
					uint64_t w = wait;
					if (w < (1ull << 40) && bytes <= 1u << 30) {
						ASSERT(rl_consume(&rl, bytes, now + w, &wait));
						passed++;
						now += w;
					}
				}
				rl_unblock(&rl);
			}
		} else if (kind == 1) {
			bool was = rl.blocked;
			if (!rl_may_start(&rl, now, &wait))
				ASSERT(was || wait > 0);
			rl_unblock(&rl);
		} else if (kind == 2) {
			rl_charge(&rl, bytes, now);
			charged++;
		} else {
			struct rl_update u = {.bw_set = data[at] & 4, .ops_set = data[at] & 8,
					      .c = {.bw = {bytes, bytes / 2, (bytes & 0xff) + 1},
						    .ops = {bytes & 0xffff, 0, (bytes >> 16) + 1}}};
			rl_update(&rl, &u, now);
		}
		bucket_ok(&rl.bw);
		bucket_ok(&rl.ops);
	}
	ASSERT(rl.ops_done == passed + charged);
	return 0;
}
