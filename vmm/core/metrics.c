/* metrics.c: Firecracker's metrics line from counter samples (metrics.h). */
#include "vmm/core/metrics.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *group_json(const struct metrics_sample *s, const uint64_t *v)
{
	json_t *g = json_object();
	for (unsigned i = 0; g && i < s->n; i++)
		json_object_set_new(g, s->names[i], json_integer((json_int_t)v[i]));
	return g;
}

char *metrics_line(struct metrics_state *st, const struct metrics_sample *s, unsigned n,
		   uint64_t utc_ms)
{
	json_t *root = json_object();
	if (!root)
		return NULL;
	json_object_set_new(root, "utc_timestamp_ms", json_integer((json_int_t)utc_ms));
	/* Deltas since the last line, per sample. */
	uint64_t (*delta)[METRICS_COUNTERS_MAX] = calloc(n ? n : 1, sizeof(*delta));
	if (!delta) {
		json_decref(root);
		return NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t *last = st->last[s[i].slot % METRICS_SLOTS];
		for (unsigned k = 0; k < s[i].n && k < METRICS_COUNTERS_MAX; k++) {
			if (s[i].stored & METRICS_STORED(k)) /* as it is */
				delta[i][k] = s[i].total[k];
			/* a source that started again (a reset) counts from 0 */
			else
				delta[i][k] = s[i].total[k] >= last[k] ? s[i].total[k] - last[k]
								       : s[i].total[k];
			last[k] = s[i].total[k];
		}
	}
	for (unsigned i = 0; i < n; i++) {
		bool first = true;
		for (unsigned j = 0; j < i; j++)
			first = first && strcmp(s[j].group, s[i].group) != 0;
		if (!first)
			continue;
		/* the group's devices, then their aggregate */
		uint64_t agg[METRICS_COUNTERS_MAX] = {0};
		for (unsigned j = i; j < n; j++) {
			if (strcmp(s[j].group, s[i].group) != 0)
				continue;
			for (unsigned k = 0; k < s[i].n && k < METRICS_COUNTERS_MAX; k++) {
				if (!(s[i].stored & METRICS_STORED(k)))
					agg[k] += delta[j][k];
				else if (delta[j][k] > agg[k])
					agg[k] = delta[j][k];
			}
			if (s[j].id[0]) {
				char key[METRICS_ID_MAX + 32];
				snprintf(key, sizeof(key), "%s_%s", s[j].group, s[j].id);
				json_object_set_new(root, key, group_json(&s[j], delta[j]));
			}
		}
		json_object_set_new(root, s[i].group, group_json(&s[i], agg));
	}
	free(delta);
	char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return NULL;
	size_t len = strlen(text);
	char *line = realloc(text, len + 2);
	if (!line) {
		free(text);
		return NULL;
	}
	line[len] = '\n';
	line[len + 1] = '\0';
	return line;
}
