/* fc_limiter.h: Firecracker's RateLimiter object in JSON (the API's and the
 * config file's rate_limiter, rx_rate_limiter, tx_rate_limiter):
 *	{"bandwidth": {"size": N, "one_time_burst": N, "refill_time": MS},
 *	 "ops": {...}}
 * Either bucket may be absent or null (PUT: no bucket; PATCH: unchanged);
 * an empty bucket {} is none; size and refill_time are required in a
 * bucket that is not empty, and a size or refill_time of 0 means no bucket
 * (PATCH: remove it). Unknown keys and values that are not non-negative
 * integers are refused. */
#ifndef EMBER_FC_LIMITER_H
#define EMBER_FC_LIMITER_H

#include <jansson.h>

#include "vmm/core/rate_limiter.h"
#include "vmm/lib/util.h"

/* The largest size, burst and refill_time taken (beyond: refused). */
#define FC_LIMITER_MAX (1ull << 53)

/* v (NULL or null: nothing) into u (the buckets given). 0, or -1 with
 * "WHAT: KEY: why" in err. */
int fc_limiter_parse(const json_t *v, struct rl_update *u, const char *what, const char *key,
		     struct errbuf *err);
/* c as Firecracker shows it (null when it limits nothing); a new reference. */
json_t *fc_limiter_json(const struct rl_config *c);

#endif
