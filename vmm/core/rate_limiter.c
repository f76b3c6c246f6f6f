/* rate_limiter.c: token buckets (rate_limiter.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>

#include "vmm/core/rate_limiter.h"

static void bucket_init(struct rl_bucket *b, const struct rl_bucket_config *c, uint64_t now)
{
	memset(b, 0, sizeof(*b));
	b->on = rl_bucket_config_on(c);
	if (!b->on)
		return;
	b->size = c->size > INT64_MAX / 2 ? INT64_MAX / 2 : c->size;
	b->refill_ns = c->refill_ms > UINT64_MAX / 1000000 ? UINT64_MAX : c->refill_ms * 1000000;
	b->burst = c->one_time_burst;
	b->budget = (int64_t)b->size;
	b->last_ns = now;
}

void rl_init(struct rate_limiter *rl, const struct rl_config *c, uint64_t now_ns)
{
	uint64_t throttled = rl->throttled, bytes = rl->bytes, ops = rl->ops_done;
	memset(rl, 0, sizeof(*rl));
	bucket_init(&rl->bw, &c->bw, now_ns);
	bucket_init(&rl->ops, &c->ops, now_ns);
	/* the counters run on across changes of limits */
	rl->throttled = throttled;
	rl->bytes = bytes;
	rl->ops_done = ops;
}

void rl_config_apply(struct rl_config *c, const struct rl_update *u)
{
	if (u->bw_set)
		c->bw = u->c.bw;
	if (u->ops_set)
		c->ops = u->c.ops;
}

void rl_update(struct rate_limiter *rl, const struct rl_update *u, uint64_t now_ns)
{
	if (u->bw_set)
		bucket_init(&rl->bw, &u->c.bw, now_ns);
	if (u->ops_set)
		bucket_init(&rl->ops, &u->c.ops, now_ns);
	rl->blocked = false;
}

/* size tokens per refill_ns, for the time since last_ns; the remainder of
 * the division is kept, so no time is lost to rounding. */
static void refill(struct rl_bucket *b, uint64_t now)
{
	if (!b->on || now <= b->last_ns)
		return;
	uint64_t dt = now - b->last_ns;
	b->last_ns = now;
	if (b->budget >= (int64_t)b->size) {
		b->frac = 0;
		return;
	}
	/* tokens = (dt * size + frac) / refill_ns, in 128 bits */
	unsigned __int128 t = (unsigned __int128)dt * b->size + b->frac;
	unsigned __int128 tokens = t / b->refill_ns;
	b->frac = (uint64_t)(t % b->refill_ns);
	uint64_t room = (uint64_t)((int64_t)b->size - b->budget);
	if (tokens >= room) {
		b->budget = (int64_t)b->size;
		b->frac = 0;
	} else {
		b->budget += (int64_t)tokens;
	}
}

/* How long from now until the bucket holds want tokens (0: it does). Its
 * refill counts from last_ns, which a caller's clock may be behind. */
static uint64_t wait_for(const struct rl_bucket *b, int64_t want, uint64_t now)
{
	if (!b->on || b->budget >= want)
		return 0;
	unsigned __int128 missing = (unsigned __int128)(uint64_t)(want - b->budget);
	unsigned __int128 ns = (missing * b->refill_ns - b->frac + b->size - 1) / b->size;
	if (b->last_ns > now)
		ns += b->last_ns - now;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

/* What of n the bucket's budget must pay (the burst pays first). */
static uint64_t after_burst(const struct rl_bucket *b, uint64_t n)
{
	return n > b->burst ? n - b->burst : 0;
}

/* Whether n tokens may be taken now, and how long to wait if not. A request
 * larger than the bucket waits for a full bucket, then goes (into debt). */
static bool fits(const struct rl_bucket *b, uint64_t n, uint64_t now, uint64_t *wait)
{
	if (!b->on)
		return true;
	uint64_t need = after_burst(b, n);
	if (need == 0)
		return true;
	uint64_t w = wait_for(b, need > b->size ? (int64_t)b->size : (int64_t)need, now);
	if (w == 0)
		return true;
	if (w > *wait)
		*wait = w;
	return false;
}

static void take(struct rl_bucket *b, uint64_t n)
{
	if (!b->on)
		return;
	uint64_t from_burst = n < b->burst ? n : b->burst;
	b->burst -= from_burst;
	n -= from_burst;
	b->budget -= n > (uint64_t)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)n;
}

/* The counters have one writer (the device's thread, or the main thread
 * under the device's lock) and readers elsewhere: relaxed stores, no
 * locked read-modify-write on every request. */
#define ADD(field, v) __atomic_store_n(&(field), (field) + (v), __ATOMIC_RELAXED)

static void refused(struct rate_limiter *rl)
{
	rl->blocked = true;
	ADD(rl->throttled, 1);
}

bool rl_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns, uint64_t *wait_ns)
{
	*wait_ns = 0;
	if (!rl_on(rl))
		goto pass;
	if (rl->blocked)
		return false;
	refill(&rl->bw, now_ns);
	refill(&rl->ops, now_ns);
	bool ok = fits(&rl->bw, bytes, now_ns, wait_ns);
	ok = fits(&rl->ops, 1, now_ns, wait_ns) && ok;
	if (!ok) {
		refused(rl);
		return false;
	}
	take(&rl->bw, bytes);
	take(&rl->ops, 1);
pass:
	ADD(rl->bytes, bytes);
	ADD(rl->ops_done, 1);
	return true;
}

bool rl_may_start(struct rate_limiter *rl, uint64_t now_ns, uint64_t *wait_ns)
{
	*wait_ns = 0;
	if (!rl_on(rl))
		return true;
	if (rl->blocked)
		return false;
	refill(&rl->bw, now_ns);
	refill(&rl->ops, now_ns);
	uint64_t w = 0;
	if (rl->bw.on && !rl->bw.burst)
		w = wait_for(&rl->bw, 1, now_ns);
	if (rl->ops.on && !rl->ops.burst) {
		uint64_t w2 = wait_for(&rl->ops, 1, now_ns);
		if (w2 > w)
			w = w2;
	}
	if (w == 0)
		return true;
	*wait_ns = w;
	refused(rl);
	return false;
}

void rl_charge(struct rate_limiter *rl, uint64_t bytes, uint64_t now_ns)
{
	if (rl_on(rl)) {
		refill(&rl->bw, now_ns);
		refill(&rl->ops, now_ns);
		take(&rl->bw, bytes);
		take(&rl->ops, 1);
	}
	ADD(rl->bytes, bytes);
	ADD(rl->ops_done, 1);
}

int rl_timer_arm(int timer_fd, uint64_t wait_ns)
{
	if (wait_ns < 1000)
		wait_ns = 1000;
	struct itimerspec its = {{0, 0}, {(time_t)(wait_ns / 1000000000u), (long)(wait_ns % 1000000000u)}};
	return timerfd_settime(timer_fd, 0, &its, NULL);
}

/* "4M" -> 4194304; the end of the number in *end. */
static int amount(const char *s, char **end, uint64_t *v)
{
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long long n = strtoull(s, end, 10);
	unsigned shift = 0;
	switch (**end) {
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	default: break;
	}
	if (shift) {
		(*end)++;
		if (n > (UINT64_MAX >> shift))
			return -1;
		n <<= shift;
	}
	*v = n;
	return 0;
}

int rl_parse_bucket(const char *s, struct rl_bucket_config *b)
{
	struct rl_bucket_config c = {0};
	char *end;
	if (amount(s, &end, &c.size) || *end != '/')
		return -1;
	s = end + 1;
	if (*s < '0' || *s > '9')
		return -1;
	c.refill_ms = strtoull(s, &end, 10);
	if (*end == '+') {
		if (amount(end + 1, &end, &c.one_time_burst))
			return -1;
	}
	if (*end || !c.size || !c.refill_ms)
		return -1;
	*b = c;
	return 0;
}
