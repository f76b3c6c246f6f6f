/* opt_table.h: command lines of "--name VALUE" / "--name=VALUE" options
 * driven by a table, up to "--": the parser and the option list of --help.
 * ember (vmm/cli.c) and ember-jailer (jailer/args.c) share them. */
#ifndef EMBER_OPT_TABLE_H
#define EMBER_OPT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "vmm/lib/util.h"

/* The first member of each entry of an option table. */
struct opt_def {
	const char *name; /* without the leading "--" */
	const char *arg;  /* what the value is, for --help; NULL: a flag */
	const char *help;
};

struct opt_table {
	const void *entries; /* n entries of stride bytes, each starting with an opt_def */
	size_t n, stride;
	const char *prog;    /* for "see PROG --help" */
	const char *after;   /* what goes after "--", for a stray word */
};

/* Called per option in order: entry index i, value (NULL for a flag).
 * Returns 0, or -1 with err set. */
typedef int (*opt_set_fn)(void *ctx, size_t i, const char *val, struct errbuf *err);

/* Parse argv[1..] up to "--". Returns the index of the first word after
 * "--" (argc when there is none; *dashdash says whether "--" was there), or
 * -1 with one line in err: an unknown option, a missing value, a value given
 * to a flag, a word that is not an option, or what set() refused. */
int opt_parse(const struct opt_table *t, int argc, char **argv, opt_set_fn set, void *ctx,
	      bool *dashdash, struct errbuf *err);

/* "  --name ARG   help" per option, the help from column width on. */
void opt_usage(const struct opt_table *t, FILE *f, int width);

#endif
