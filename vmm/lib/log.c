/* log.c: ember's log lines on stderr and in Firecracker's log file (log.h). */
#include "vmm/lib/log.h"

#include "vmm/lib/sigsafe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The log file's settings: written by the main thread before (or while)
 * other threads log; fd is published last. */
static struct {
	atomic_int fd;
	atomic_int level;
	atomic_bool show_level, show_origin;
	char id[LOG_ID_MAX + 1];
	atomic_uint_fast64_t missed;
	atomic_long utc_off; /* seconds east of UTC, for log_sigsafe */
} lg = {.fd = -1, .level = LOG_INFO};

/* Remember the local time's offset (tm from localtime_r). */
static void note_utc_off(const struct tm *tm)
{
	atomic_store_explicit(&lg.utc_off, tm->tm_gmtoff, memory_order_relaxed);
}

static __thread char thread_name[16];

static const char *const level_names[] = {
	[LOG_OFF] = "OFF",   [LOG_TRACE] = "TRACE", [LOG_DEBUG] = "DEBUG",
	[LOG_INFO] = "INFO", [LOG_WARN] = "WARN",   [LOG_ERROR] = "ERROR",
};

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level lv;
	} names[] = {
		{"error", LOG_ERROR}, {"warning", LOG_WARN}, {"warn", LOG_WARN}, {"info", LOG_INFO},
		{"debug", LOG_DEBUG}, {"trace", LOG_TRACE},  {"off", LOG_OFF},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].lv;
			return 0;
		}
	}
	return -1;
}

const char *log_level_name(enum log_level lv)
{
	return (unsigned)lv <= LOG_ERROR ? level_names[lv] : "?";
}

bool log_level_passes(enum log_level level, enum log_level lv)
{
	return level != LOG_OFF && lv >= level;
}

int log_open_path(const char *path)
{
	int fl = O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC;
	int fd = open(path, fl | O_CREAT, 0600);
	if (fd < 0 && errno == ENXIO) /* a named pipe nobody reads yet */
		fd = open(path, (fl & ~O_WRONLY) | O_RDWR);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return -EISDIR;
	}
	return fd;
}

void log_configure(int fd, enum log_level level, bool show_level, bool show_origin,
		   const char *id)
{
	int old = atomic_exchange(&lg.fd, -1);
	if (old >= 0 && old != fd)
		close(old);
	struct tm tm;
	time_t now = time(NULL);
	if (localtime_r(&now, &tm))
		note_utc_off(&tm);
	snprintf(lg.id, sizeof(lg.id), "%s", id ? id : "");
	atomic_store(&lg.level, (int)level);
	atomic_store(&lg.show_level, show_level);
	atomic_store(&lg.show_origin, show_origin);
	atomic_store(&lg.fd, fd);
}

void log_set_thread(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

const char *log_thread(void)
{
	return thread_name;
}

uint64_t log_missed(void)
{
	return atomic_load_explicit(&lg.missed, memory_order_relaxed);
}

size_t log_format_line(char *buf, size_t cap, const struct timespec *ts, const char *id,
		       const char *thread, enum log_level lv, bool show_level, const char *file,
		       int line, const char *msg)
{
	struct tm tm;
	time_t t = ts->tv_sec;
	localtime_r(&t, &tm);
	note_utc_off(&tm);
	char origin[128] = "";
	if (file)
		snprintf(origin, sizeof(origin), ":%s:%d", file, line);
	int n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09ld [%s%s%s%s%s%s] %s",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (long)ts->tv_nsec, id, id[0] ? ":" : "",
			 thread && thread[0] ? thread : "-", show_level ? ":" : "",
			 show_level ? log_level_name(lv) : "", origin, msg);
	if (n < 0 || cap == 0)
		return 0;
	size_t len = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
	if (len < cap - 1)
		buf[len++] = '\n';
	else
		buf[len - 1] = '\n';
	buf[len] = '\0';
	return len;
}

static void write_all(int fd, const char *s, size_t len)
{
	ssize_t r = write(fd, s, len);
	if (r != (ssize_t)len && fd != STDERR_FILENO)
		atomic_fetch_add_explicit(&lg.missed, 1, memory_order_relaxed);
}

void log_at(enum log_level lv, const char *file, int line, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lv >= LOG_WARN) {
		/* stderr as always; one write so threads' lines do not interleave */
		char out[LOG_LINE_MAX + 32];
		int n = snprintf(out, sizeof(out), "ember: %s%s\n", lv == LOG_WARN ? "warning: " : "",
				 msg);
		write_all(STDERR_FILENO, out, n < 0 ? 0 : (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1);
	}
	int fd = atomic_load(&lg.fd);
	if (fd < 0 || !log_level_passes((enum log_level)atomic_load(&lg.level), lv))
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char out[LOG_LINE_MAX + 256];
	size_t n = log_format_line(out, sizeof(out), &ts, lg.id, thread_name, lv,
				   atomic_load(&lg.show_level),
				   atomic_load(&lg.show_origin) ? file : NULL, line, msg);
	write_all(fd, out, n);
}

void log_sigsafe(enum log_level lv, const char *file, int line, const char *msg)
{
	char out[LOG_LINE_MAX + 256];
	struct sigsafe_buf b = SIGSAFE_BUF(out);
	if (lv >= LOG_WARN) {
		sigsafe_str(&b, lv == LOG_WARN ? "ember: warning: " : "ember: ");
		sigsafe_str(&b, msg);
		sigsafe_char(&b, '\n');
		write_all(STDERR_FILENO, out, b.len);
	}
	int fd = atomic_load(&lg.fd);
	if (fd < 0 || !log_level_passes((enum log_level)atomic_load(&lg.level), lv))
		return;
	/* log_format_line's format, by hand */
	struct timespec ts = {0, 0};
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t t = (int64_t)ts.tv_sec + atomic_load_explicit(&lg.utc_off, memory_order_relaxed);
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400, secs = t - days * 86400;
	int64_t year;
	unsigned month, day;
	sigsafe_civil(days, &year, &month, &day);
	b.len = 0;
	sigsafe_u64_pad(&b, (uint64_t)(year < 0 ? 0 : year), 4);
	sigsafe_char(&b, '-');
	sigsafe_u64_pad(&b, month, 2);
	sigsafe_char(&b, '-');
	sigsafe_u64_pad(&b, day, 2);
	sigsafe_char(&b, 'T');
	sigsafe_u64_pad(&b, (uint64_t)secs / 3600, 2);
	sigsafe_char(&b, ':');
	sigsafe_u64_pad(&b, (uint64_t)secs / 60 % 60, 2);
	sigsafe_char(&b, ':');
	sigsafe_u64_pad(&b, (uint64_t)secs % 60, 2);
	sigsafe_char(&b, '.');
	sigsafe_u64_pad(&b, (uint64_t)ts.tv_nsec, 9);
	sigsafe_str(&b, " [");
	if (lg.id[0]) {
		sigsafe_str(&b, lg.id);
		sigsafe_char(&b, ':');
	}
	sigsafe_str(&b, thread_name[0] ? thread_name : "-");
	if (atomic_load(&lg.show_level)) {
		sigsafe_char(&b, ':');
		sigsafe_str(&b, log_level_name(lv));
	}
	if (file && atomic_load(&lg.show_origin)) {
		sigsafe_char(&b, ':');
		sigsafe_str(&b, file);
		sigsafe_char(&b, ':');
		sigsafe_u64(&b, (uint64_t)(line < 0 ? 0 : line));
	}
	sigsafe_str(&b, "] ");
	sigsafe_str(&b, msg);
	if (b.len == b.cap)
		b.len--; /* cut: keep room for the newline */
	sigsafe_char(&b, '\n');
	write_all(fd, out, b.len);
}
