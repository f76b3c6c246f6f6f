/* log.h: ember's log lines. log_error and log_warn write "ember: ..." on
 * stderr, as always; with a log file (--log-path, PUT /logger) every line at
 * or above the configured level also goes there in Firecracker's format:
 *
 *	2026-12-03T06:11:31.123456789 [anonymous-instance:main:INFO:vmm/main.c:42] VM started
 *
 * (local time with nanoseconds, [instance id:thread name(:LEVEL with
 * show_level)(:file:line with show_log_origin)], the message). log_info and
 * log_debug lines go to the log file only. Any thread may log: each line is
 * one write(2) on a file opened with O_APPEND before the seccomp filters. */
#ifndef EMBER_LOG_H
#define EMBER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Firecracker's levels, least to most severe (Off: no log file lines). */
enum log_level { LOG_OFF, LOG_TRACE, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

#define LOG_LINE_MAX 1024 /* a message's bytes, at most (longer ones are cut) */
#define LOG_ID_MAX 64     /* the instance id's bytes, at most */

void log_at(enum log_level lv, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* "ember: <message>" (errors) and "ember: warning: <message>" (warnings) on
 * stderr and in the log file; info and debug only in the log file. */
#define log_error(...) log_at(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

/* Firecracker's level names, any case: Error, Warning (or Warn), Info,
 * Debug, Trace, Off. 0, or -1 for anything else. */
int log_level_parse(const char *s, enum log_level *out);
/* "ERROR", "WARN", "INFO", "DEBUG", "TRACE" ("OFF"). */
const char *log_level_name(enum log_level lv);

/* Open path for the log or the metrics: O_WRONLY|O_APPEND|O_NONBLOCK|O_CLOEXEC,
 * created (0600) when it does not exist, as Firecracker does; a named pipe
 * with no reader yet is opened read-write (as Firecracker opens it) so that
 * the open does not fail. The fd, or -errno. Before the seccomp filters. */
int log_open_path(const char *path);

/* Send lines at or above level to fd (-1: none) as instance id. The log
 * takes fd over (a later call closes the one before). */
void log_configure(int fd, enum log_level level, bool show_level, bool show_origin,
		   const char *id);
/* The calling thread's name in log lines (at most 15 bytes; "-" when unset). */
void log_set_thread(const char *name);

/* One log file line for msg, newline included, into buf (cap bytes; cut to
 * fit): the format above. ts: wall-clock time. Returns its length. */
size_t log_format_line(char *buf, size_t cap, const struct timespec *ts, const char *id,
		       const char *thread, enum log_level lv, bool show_level, const char *file,
		       int line, const char *msg);
/* Whether a line at lv reaches a log file set to level. */
bool log_level_passes(enum log_level level, enum log_level lv);

/* Lines that could not be written to the log file (a full pipe, say), for
 * the metrics' "logger" group. */
uint64_t log_missed(void);

/* log_at for a handler that ends ember (SIGSYS, SIGSEGV, ...): the same
 * "ember: ..." line on stderr (lv >= LOG_WARN) and the same log-file line,
 * built without stdio, malloc or localtime(3) (async-signal-safe; the local
 * time uses the UTC offset of the last log_at or log_configure). msg is
 * written as it is (no format). */
void log_sigsafe(enum log_level lv, const char *file, int line, const char *msg);
/* The calling thread's name as log_set_thread set it ("" when unset). */
const char *log_thread(void);

#endif
