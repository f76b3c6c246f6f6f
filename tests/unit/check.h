/* check.h: ember's header-only unit-test harness (no external framework).
 *
 * A test binary is a list of cases, each a `static void name(void)`:
 *
 *	static void parses_header(void) { CHECK(x == 1); CHECK_EQ(y, 2); }
 *	int main(void) { RUN(parses_header); return check_summary(); }
 *
 * A failed CHECK prints "  file:line: expression" and returns from the function
 * it is in (later checks would often dereference what the failed one guarded);
 * a check failing inside a helper marks the running case failed too. Each case
 * prints one line: "ok NAME" or "FAIL NAME: first reason". check_summary()
 * prints "# BINARY: N passed, N failed" and returns the exit status (1 when any
 * case failed). tests/run-unit counts the ok/FAIL lines across binaries. */
#ifndef EMBER_TEST_CHECK_H
#define EMBER_TEST_CHECK_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static struct {
	unsigned passed, failed;
	int case_failed;
	char reason[512];
} check_state;

static void __attribute__((format(printf, 3, 4), unused))
check_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[448];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("  %s:%d: %s\n", file, line, msg);
	if (!check_state.case_failed)
		snprintf(check_state.reason, sizeof(check_state.reason), "%s:%d: %s", file, line, msg);
	check_state.case_failed = 1;
}

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			check_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);    \
			return;                                                       \
		}                                                                     \
	} while (0)

/* Integers of any width and signedness, compared as 64-bit values. */
#define CHECK_EQ(a, b)                                                                \
	do {                                                                          \
		uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);          \
		if (check_a_ != check_b_) {                                           \
			check_fail(__FILE__, __LINE__,                                \
				   "CHECK_EQ(%s, %s) failed: %#" PRIx64 " != %#" PRIx64 \
				   " (%" PRId64 " != %" PRId64 ")", #a, #b, check_a_, \
				   check_b_, (int64_t)check_a_, (int64_t)check_b_);   \
			return;                                                       \
		}                                                                     \
	} while (0)

#define CHECK_STR_EQ(a, b)                                                            \
	do {                                                                          \
		const char *check_a_ = (a), *check_b_ = (b);                          \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {      \
			check_fail(__FILE__, __LINE__,                                \
				   "CHECK_STR_EQ(%s, %s) failed: \"%s\" != \"%s\"",   \
				   #a, #b, check_a_ ? check_a_ : "(null)",            \
				   check_b_ ? check_b_ : "(null)");                   \
			return;                                                       \
		}                                                                     \
	} while (0)

#define CHECK_MEM_EQ(a, b, n)                                                         \
	do {                                                                          \
		if (memcmp((a), (b), (n)) != 0) {                                     \
			check_fail(__FILE__, __LINE__, "CHECK_MEM_EQ(%s, %s, %s) failed", \
				   #a, #b, #n);                                       \
			return;                                                       \
		}                                                                     \
	} while (0)

/* Run one case and print its line. */
static void __attribute__((unused)) check_run(const char *name, void (*fn)(void))
{
	check_state.case_failed = 0;
	check_state.reason[0] = '\0';
	fflush(stdout);
	fn();
	if (check_state.case_failed) {
		check_state.failed++;
		printf("FAIL %s: %s\n", name, check_state.reason);
	} else {
		check_state.passed++;
		printf("ok %s\n", name);
	}
	fflush(stdout);
}

#define RUN(fn) check_run(#fn, fn)

/* Print the binary's summary; returns its exit status. */
static int __attribute__((unused)) check_summary_named(const char *prog)
{
	const char *base = strrchr(prog, '/');
	base = base ? base + 1 : prog;
	const char *dot = strrchr(base, '.');
	int len = dot ? (int)(dot - base) : (int)strlen(base);
	printf("# %.*s: %u passed, %u failed\n", len, base, check_state.passed,
	       check_state.failed);
	fflush(stdout);
	return check_state.failed ? 1 : 0;
}

#define check_summary() check_summary_named(__FILE__)

#endif
