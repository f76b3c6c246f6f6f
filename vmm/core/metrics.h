/* metrics.h: Firecracker's metrics line (docs/metrics.md): one JSON object,
 * one line, per flush: "utc_timestamp_ms", then the groups in the order of
 * the samples (vmm/observe.c puts them in Firecracker's): a group per
 * device ("block_ID", "net_ID") followed by its type's aggregate ("block",
 * "net"), and the groups that are not devices ("vcpu", "logger", ...). Counters
 * are what happened since the previous flush (Firecracker's SharedIncMetric):
 * sources report totals since ember started, and the metrics keep the last
 * totals they wrote, one slot per source, to turn them into deltas. A
 * counter its source marks as stored (Firecracker's SharedStoreMetric: a
 * latency, a start-up time, a flag) is written as it is, every time.
 *
 *	struct metrics_sample s[N];    each filled by its source (a device's
 *	                               metrics op, the vCPUs, the logger, the API)
 *	char *line = metrics_line(&state, s, n, utc_ms);   main thread
 */
#ifndef EMBER_METRICS_H
#define EMBER_METRICS_H

#include <stdint.h>

#define METRICS_COUNTERS_MAX 32  /* counters in one group */
#define METRICS_SLOTS 80         /* sources: the devices' slots, then the others */
#define METRICS_ID_MAX 64

struct metrics_sample {
	unsigned slot;                    /* the source's own slot, < METRICS_SLOTS */
	const char *group;                /* "block", "net", "vcpu", ... */
	char id[METRICS_ID_MAX + 1];      /* "": the group's aggregate only */
	const char *const *names;         /* Firecracker's counter names */
	unsigned n;
	uint64_t total[METRICS_COUNTERS_MAX]; /* since ember started */
	uint32_t stored;                  /* bit k: total[k] is a stored value,
					     written as it is, not as a delta */
};
#define METRICS_STORED(k) (1u << (k))

/* The totals written last, per slot. Zero it to start. */
struct metrics_state {
	uint64_t last[METRICS_SLOTS][METRICS_COUNTERS_MAX];
};

/* The line for these samples (malloc'd, newline-terminated; NULL: out of
 * memory), and remember their totals. Samples of one group have the same
 * names (and the same stored bits); each group's aggregate follows its
 * devices, in the order the groups first appear: the sum of their deltas,
 * or for a stored value the largest. A sample with an empty id is its
 * group's aggregate only (a device of which there is one, e.g. "uart"). */
char *metrics_line(struct metrics_state *st, const struct metrics_sample *s, unsigned n,
		   uint64_t utc_ms);

#endif
