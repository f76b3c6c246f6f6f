/* fc_limiter.c: Firecracker's RateLimiter object in JSON (fc_limiter.h). */
#include <string.h>

#include "vmm/api/fc_limiter.h"

static int bucket(const json_t *v, bool *set, struct rl_bucket_config *b, const char *what,
		  const char *key, const char *name, struct errbuf *err)
{
	memset(b, 0, sizeof(*b));
	*set = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		err_set(err, "%s: %s.%s must be an object (size, one_time_burst, refill_time)", what,
			key, name);
		return -1;
	}
	*set = true;
	if (json_object_size(v) == 0)
		return 0; /* {}: no bucket */
	static const char *const fields[] = {"size", "one_time_burst", "refill_time"};
	uint64_t val[3] = {0, 0, 0};
	bool have[3] = {false, false, false};
	const char *k;
	json_t *x;
	json_object_foreach((json_t *)v, k, x) {
		int i = 0;
		while (i < 3 && strcmp(k, fields[i]) != 0)
			i++;
		if (i == 3) {
			err_set(err, "%s: %s.%s: unknown field '%.40s' (expected size, one_time_burst, "
				"refill_time)", what, key, name, k);
			return -1;
		}
		if (json_is_null(x) && i == 1)
			continue;
		if (!json_is_integer(x) || json_integer_value(x) < 0 ||
		    (uint64_t)json_integer_value(x) > FC_LIMITER_MAX) {
			err_set(err, "%s: %s.%s.%s must be an integer from 0 to 2^53", what, key, name,
				k);
			return -1;
		}
		val[i] = (uint64_t)json_integer_value(x);
		have[i] = true;
	}
	if (!have[0] || !have[2]) {
		err_set(err, "%s: %s.%s: missing field '%s'", what, key, name,
			have[0] ? "refill_time" : "size");
		return -1;
	}
	/* A size or refill_time of 0 is no bucket: stored as all zeros, so
	 * that the configuration reads back as it was given (null). */
	if (val[0] && val[2]) {
		b->size = val[0];
		b->one_time_burst = val[1];
		b->refill_ms = val[2];
	}
	return 0;
}

int fc_limiter_parse(const json_t *v, struct rl_update *u, const char *what, const char *key,
		     struct errbuf *err)
{
	memset(u, 0, sizeof(*u));
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		err_set(err, "%s: %s must be an object (bandwidth, ops)", what, key);
		return -1;
	}
	const char *k;
	json_t *x;
	json_object_foreach((json_t *)v, k, x) {
		if (strcmp(k, "bandwidth") != 0 && strcmp(k, "ops") != 0) {
			err_set(err, "%s: %s: unknown field '%.40s' (expected bandwidth, ops)", what, key,
				k);
			return -1;
		}
	}
	if (bucket(json_object_get(v, "bandwidth"), &u->bw_set, &u->c.bw, what, key, "bandwidth",
		   err) ||
	    bucket(json_object_get(v, "ops"), &u->ops_set, &u->c.ops, what, key, "ops", err))
		return -1;
	return 0;
}

static json_t *bucket_json(const struct rl_bucket_config *b)
{
	if (!rl_bucket_config_on(b))
		return json_null();
	json_t *o = json_object();
	json_object_set_new(o, "size", json_integer((json_int_t)b->size));
	json_object_set_new(o, "one_time_burst",
			    b->one_time_burst ? json_integer((json_int_t)b->one_time_burst) : json_null());
	json_object_set_new(o, "refill_time", json_integer((json_int_t)b->refill_ms));
	return o;
}

json_t *fc_limiter_json(const struct rl_config *c)
{
	if (!rl_config_on(c))
		return json_null();
	json_t *o = json_object();
	json_object_set_new(o, "bandwidth", bucket_json(&c->bw));
	json_object_set_new(o, "ops", bucket_json(&c->ops));
	return o;
}
