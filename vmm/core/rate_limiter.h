/* rate_limiter.h: Firecracker's rate limiter (its RateLimiter object): two
 * token buckets, bandwidth (bytes) and ops (requests), each with a size, a
 * refill time and an optional one-time burst.
 *
 * A bucket starts full and refills continuously, size tokens per refill_time
 * ms, never above size; the one-time burst is spent first and never comes
 * back. A size or refill time of 0 means no bucket (no limit). A request that
 * would overdraw either bucket is refused whole (nothing is taken) and the
 * caller is told how long until it would fit: the device gives the request
 * back to its queue and arms the limiter's timer. A request larger than the
 * bucket itself goes through and leaves the bucket in debt (it empties it
 * and more): what follows waits until the debt is paid, so the average rate
 * holds. rl_charge takes what a request already done cost (received frames,
 * whose size is known only afterwards), debt allowed.
 *
 * Pure arithmetic on a clock the caller passes (ns), so the unit tests use a
 * fake one; not locked: the device's lock covers it. */
#ifndef EMBER_RATE_LIMITER_H
#define EMBER_RATE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

/* One bucket's configuration, as the API gives it. */
struct rl_bucket_config {
	uint64_t size;            /* tokens; 0: no bucket */
	uint64_t one_time_burst;  /* extra tokens, spent first, once */
	uint64_t refill_ms;       /* time to refill size tokens; 0: no bucket */
};

struct rl_config {
	struct rl_bucket_config bw, ops;
};

static inline bool rl_bucket_config_on(const struct rl_bucket_config *b)
{
	return b->size && b->refill_ms;
}

static inline bool rl_config_on(const struct rl_config *c)
{
	return rl_bucket_config_on(&c->bw) || rl_bucket_config_on(&c->ops);
}

/* A change of limits (PATCH): the buckets given replace the old ones (a
 * size or refill time of 0 removes one), the others stay as they are. */
struct rl_update {
	bool bw_set, ops_set;
	struct rl_config c;
};

/* What c becomes after u. */
void rl_config_apply(struct rl_config *c, const struct rl_update *u);

struct rl_bucket {
	bool on;
	uint64_t size, refill_ns;
	uint64_t burst;           /* one-time burst left */
	int64_t budget;           /* tokens now (negative: debt) */
	uint64_t last_ns;         /* when budget was last refilled */
	uint64_t frac;            /* refill remainder (token * ns), carried over */
};

struct rate_limiter {
	struct rl_bucket bw, ops;
	bool blocked;             /* refused, its timer armed: refuse at once */
	/* counters (the device's lock; read with relaxed loads) */
	uint64_t throttled;       /* requests refused (each made the device wait) */
	uint64_t bytes, ops_done; /* what it let through */
};

/* Set up from c (both buckets full) at now_ns; also what a change of limits
 * while the guest runs does (the new buckets start full). */
void rl_init(struct rate_limiter *rl, const struct rl_config *c, uint64_t now_ns);
/* Change limits while the guest runs: the buckets u gives start anew and
 * full, the others keep their state; whatever the limiter was refusing may
 * be tried again (rl->blocked is cleared: wake the device). */
void rl_update(struct rate_limiter *rl, const struct rl_update *u, uint64_t now_ns);
/* Whether it limits anything. */
static inline bool rl_on(const struct rate_limiter *rl)
{
	return rl->bw.on || rl->ops.on;
}
/* Take bytes and one op for a request. true: go on. false: refused, nothing
 * taken, rl->blocked set and *wait_ns how long until it would fit (arm the
 * timer for that, then call rl_unblock when it fires). */
bool rl_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns, uint64_t *wait_ns);
/* Whether a request of unknown size may start (both buckets above zero),
 * else as rl_consume's refusal (*wait_ns until they are). */
bool rl_may_start(struct rate_limiter *rl, uint64_t now_ns, uint64_t *wait_ns);
/* Take what a request that already happened cost (debt allowed). */
void rl_charge(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns);
/* The timer fired: take requests again. */
static inline void rl_unblock(struct rate_limiter *rl)
{
	rl->blocked = false;
}

/* Arm a timerfd (CLOCK_MONOTONIC) to fire once, wait_ns from now (at
 * least 1 us). 0, or -1 (errno). */
int rl_timer_arm(int timer_fd, uint64_t wait_ns);

/* Parse a command-line bucket "AMOUNT/MS[+BURST]" (AMOUNT and BURST with an
 * optional K, M or G suffix, powers of 1024) into b. 0, or -1. */
int rl_parse_bucket(const char *s, struct rl_bucket_config *b);

#endif
