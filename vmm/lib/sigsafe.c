/* sigsafe.c: async-signal-safe text and the metrics line of a dying ember
 * (sigsafe.h). */
#include "vmm/lib/sigsafe.h"

#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static atomic_int metrics_fd = -1;

void sigsafe_char(struct sigsafe_buf *b, char c)
{
	if (b->len < b->cap)
		b->p[b->len++] = c;
}

void sigsafe_str(struct sigsafe_buf *b, const char *s)
{
	while (*s)
		sigsafe_char(b, *s++);
}

void sigsafe_u64_pad(struct sigsafe_buf *b, uint64_t v, unsigned width)
{
	char tmp[20]; /* 2^64 has 20 digits */
	unsigned n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < sizeof(tmp));
	for (; width > n; width--)
		sigsafe_char(b, '0');
	while (n)
		sigsafe_char(b, tmp[--n]);
}

void sigsafe_u64(struct sigsafe_buf *b, uint64_t v)
{
	sigsafe_u64_pad(b, v, 1);
}

void sigsafe_set_metrics_fd(int fd)
{
	atomic_store(&metrics_fd, fd);
}

int sigsafe_metrics_fd(void)
{
	return atomic_load(&metrics_fd);
}

int sigsafe_metrics_line(const char *group, const char *field, uint64_t value)
{
	int fd = atomic_load(&metrics_fd);
	if (fd < 0)
		return -1;
	struct timespec ts = {0, 0};
	clock_gettime(CLOCK_REALTIME, &ts);
	char line[256];
	struct sigsafe_buf b = SIGSAFE_BUF(line);
	sigsafe_str(&b, "{\"utc_timestamp_ms\":");
	sigsafe_u64(&b, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	sigsafe_str(&b, ",\"");
	sigsafe_str(&b, group);
	sigsafe_str(&b, "\":{\"");
	sigsafe_str(&b, field);
	sigsafe_str(&b, "\":");
	sigsafe_u64(&b, value);
	sigsafe_str(&b, "}}\n");
	if (b.len == b.cap && line[b.len - 1] != '\n')
		return -1; /* cut: a broken line is worse than none */
	return write(fd, line, b.len) == (ssize_t)b.len ? 0 : -1;
}

/* Days since 1970-01-01 to a proleptic Gregorian date: count in 400-year
 * eras of 146097 days, each starting on March 1st so that the leap day is
 * the era-year's last. */
void sigsafe_civil(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
	int64_t z = days + 719468; /* days from 0000-03-01 */
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;                                    /* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             /* [0, 365] */
	int64_t mp = (5 * doy + 2) / 153;                                  /* March = 0 */
	*day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (*month <= 2);
}
