/* test_sigsafe.c: the async-signal-safe helpers of handlers that end ember
 * (vmm/lib/sigsafe.c): decimal numbers (0, padding, 2^64-1), text cut to the
 * buffer and never past it, calendar dates equal to gmtime's over +-2000
 * years, and the metrics line written to the registered fd only. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/lib/sigsafe.h"

static void numbers_and_text(void)
{
	char buf[64];
	struct sigsafe_buf b = SIGSAFE_BUF(buf);
	sigsafe_u64(&b, 0);
	sigsafe_char(&b, ' ');
	sigsafe_u64(&b, 18446744073709551615ull);
	sigsafe_char(&b, ' ');
	sigsafe_u64_pad(&b, 7, 3);
	sigsafe_char(&b, ' ');
	sigsafe_u64_pad(&b, 12345, 2);
	sigsafe_str(&b, " ok");
	CHECK_EQ(b.len, strlen("0 18446744073709551615 007 12345 ok"));
	buf[b.len] = '\0';
	CHECK_STR_EQ(buf, "0 18446744073709551615 007 12345 ok");
}

static void cut_to_the_buffer(void)
{
	char buf[8] = "zzzzzzz";
	char guard[4] = "ggg";
	struct sigsafe_buf b = {.p = buf, .len = 0, .cap = 5};
	sigsafe_str(&b, "abcdefgh");
	sigsafe_u64(&b, 99);
	CHECK_EQ(b.len, 5);
	CHECK(memcmp(buf, "abcdezz", 7) == 0);
	CHECK_STR_EQ(guard, "ggg");
}

static void dates_match_gmtime(void)
{
	/* every day for 2000 years either side of 1970, in steps that hit
	 * every month and leap years (and 1900, 2000, 2100) */
	for (int64_t days = -730000; days <= 730000; days += 13) {
		time_t t = (time_t)(days * 86400);
		struct tm tm;
		CHECK(gmtime_r(&t, &tm) != NULL);
		int64_t y;
		unsigned m, d;
		sigsafe_civil(days, &y, &m, &d);
		if (y != tm.tm_year + 1900 || m != (unsigned)tm.tm_mon + 1 || d != (unsigned)tm.tm_mday)
			printf("  day %lld: %lld-%u-%u, gmtime %d-%d-%d\n", (long long)days, (long long)y,
			       m, d, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		CHECK_EQ(y, tm.tm_year + 1900);
		CHECK_EQ(m, tm.tm_mon + 1);
		CHECK_EQ(d, tm.tm_mday);
	}
	int64_t y;
	unsigned m, d;
	sigsafe_civil(11016, &y, &m, &d); /* 2000-02-29 */
	CHECK(y == 2000 && m == 2 && d == 29);
	sigsafe_civil(-1, &y, &m, &d);
	CHECK(y == 1969 && m == 12 && d == 31);
}

static void metrics_line_to_its_fd(void)
{
	CHECK_EQ(sigsafe_metrics_fd(), -1);
	CHECK_EQ(sigsafe_metrics_line("signals", "sigbus", 1), -1); /* no file: nothing */
	int p[2];
	CHECK_EQ(pipe2(p, O_NONBLOCK), 0);
	sigsafe_set_metrics_fd(p[1]);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	CHECK_EQ(sigsafe_metrics_line("vmm", "panic_count", 1), 0);
	sigsafe_set_metrics_fd(-1);
	char buf[256] = {0};
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	close(p[1]);
	CHECK(n > 0);
	unsigned long long ms;
	int end = 0;
	CHECK_EQ(sscanf(buf, "{\"utc_timestamp_ms\":%llu,\"vmm\":{\"panic_count\":1}}\n%n", &ms, &end), 1);
	CHECK_EQ(end, n);
	uint64_t now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	CHECK(ms >= now_ms && ms < now_ms + 5000);
}

int main(void)
{
	RUN(numbers_and_text);
	RUN(cut_to_the_buffer);
	RUN(dates_match_gmtime);
	RUN(metrics_line_to_its_fd);
	return check_summary();
}
