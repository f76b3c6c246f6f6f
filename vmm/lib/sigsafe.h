/* sigsafe.h: what a handler that ends ember (SIGSYS from a seccomp filter,
 * SIGSEGV, SIGBUS, ...) may use to say why before the process dies: only
 * async-signal-safe work (no malloc, no stdio, no locks): text built by hand
 * in the handler's own buffer, and the metrics line that names the cause,
 *
 *	{"utc_timestamp_ms":1700000000123,"seccomp":{"num_faults":1}}
 *
 * written with one write(2) to the metrics file, if one is open (the
 * metrics' owner registers its fd here). The log file's line is log.h's
 * log_sigsafe(). Any thread may call these, also under its seccomp filter:
 * they use write(2) and clock_gettime(2), which every filter allows.
 *
 *	char line[160];
 *	struct sigsafe_buf b = SIGSAFE_BUF(line);
 *	sigsafe_str(&b, "thread "); sigsafe_u64(&b, 42);   b.len bytes in line
 *	sigsafe_metrics_line("seccomp", "num_faults", 1);
 */
#ifndef EMBER_SIGSAFE_H
#define EMBER_SIGSAFE_H

#include <stddef.h>
#include <stdint.h>

/* Text into p[0..cap): what does not fit is cut, never overrun. */
struct sigsafe_buf {
	char *p;
	size_t len, cap;
};
#define SIGSAFE_BUF(arr) ((struct sigsafe_buf){.p = (arr), .len = 0, .cap = sizeof(arr)})

void sigsafe_str(struct sigsafe_buf *b, const char *s);
void sigsafe_char(struct sigsafe_buf *b, char c);
/* v in decimal, at least width digits (zero-padded). */
void sigsafe_u64(struct sigsafe_buf *b, uint64_t v);
void sigsafe_u64_pad(struct sigsafe_buf *b, uint64_t v, unsigned width);

/* The metrics file (-1: none). Set by the thread that opens and closes it. */
void sigsafe_set_metrics_fd(int fd);
int sigsafe_metrics_fd(void);
/* {"utc_timestamp_ms":N,"GROUP":{"FIELD":VALUE}} and a newline, one write,
 * to the metrics file if there is one. 0, or -1 (none, or not written). */
int sigsafe_metrics_line(const char *group, const char *field, uint64_t value);

/* The calendar date of a day counted from 1970-01-01 (may be negative):
 * for times written without localtime(3), which is not async-signal-safe. */
void sigsafe_civil(int64_t days, int64_t *year, unsigned *month, unsigned *day);

#endif
