/* opt_table.c: table-driven "--name VALUE" parsing and --help (see opt_table.h). */
#include <string.h>

#include "vmm/lib/opt_table.h"

static const struct opt_def *entry(const struct opt_table *t, size_t i)
{
	return (const struct opt_def *)((const char *)t->entries + i * t->stride);
}

static long find(const struct opt_table *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->n; i++)
		if (strlen(entry(t, i)->name) == len && strncmp(entry(t, i)->name, name, len) == 0)
			return (long)i;
	return -1;
}

int opt_parse(const struct opt_table *t, int argc, char **argv, opt_set_fn set, void *ctx,
	      bool *dashdash, struct errbuf *err)
{
	*dashdash = false;
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			*dashdash = true;
			return i + 1;
		}
		if (strncmp(a, "--", 2) != 0) {
			err_set(err, "unexpected argument '%s' (%s go after --)", a, t->after);
			return -1;
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		long k = find(t, name, nlen);
		if (k < 0) {
			err_set(err, "unknown option '%.*s' (see %s --help)", (int)nlen + 2, a, t->prog);
			return -1;
		}
		const struct opt_def *d = entry(t, (size_t)k);
		const char *val = NULL;
		if (d->arg) {
			if (eq) {
				val = eq + 1;
			} else if (i + 1 < argc) {
				val = argv[++i];
			} else {
				err_set(err, "--%s needs a value (%s)", d->name, d->arg);
				return -1;
			}
		} else if (eq) {
			err_set(err, "--%s takes no value", d->name);
			return -1;
		}
		if (set(ctx, (size_t)k, val, err))
			return -1;
	}
	return i;
}

void opt_usage(const struct opt_table *t, FILE *f, int width)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct opt_def *d = entry(t, i);
		char left[160];
		snprintf(left, sizeof(left), "--%s%s%s", d->name, d->arg ? " " : "", d->arg ? d->arg : "");
		if ((int)strlen(left) > width)
			fprintf(f, "  %s\n  %-*s %s\n", left, width, "", d->help);
		else
			fprintf(f, "  %-*s %s\n", width, left, d->help);
	}
}
