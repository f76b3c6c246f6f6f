/* test_log.c: the log file's lines (vmm/lib/log.c): Firecracker's format
 * (time with nanoseconds, [id:thread(:LEVEL)(:file:line)]) with and without
 * level and origin, cut to the buffer; the level filter; Firecracker's level
 * names in any case; log_at writing to a configured file only at or above
 * its level, and stderr untouched for info lines; log_open_path creating a
 * missing file and opening a named pipe nobody reads; log_sigsafe (the
 * async-signal-safe form for handlers that end ember) writing the line
 * log_at writes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/lib/log.h"

static const struct timespec ts = {1700000000, 123456789};

static void format_plain(void)
{
	char buf[256], want[64];
	size_t n = log_format_line(buf, sizeof(buf), &ts, "vm-1", "main", LOG_INFO, false, NULL,
				   0, "VM started");
	CHECK_EQ(n, strlen(buf));
	struct tm tm;
	time_t t = ts.tv_sec;
	localtime_r(&t, &tm);
	strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.123456789 ", &tm);
	CHECK(strncmp(buf, want, strlen(want)) == 0);
	CHECK_STR_EQ(buf + strlen(want), "[vm-1:main] VM started\n");
}

static void format_level_and_origin(void)
{
	char buf[256];
	log_format_line(buf, sizeof(buf), &ts, "vm-1", "vcpu0", LOG_WARN, true, "vmm/main.c", 42,
			"x");
	CHECK(strstr(buf, " [vm-1:vcpu0:WARN:vmm/main.c:42] x\n") != NULL);
	/* no id, no thread name */
	log_format_line(buf, sizeof(buf), &ts, "", "", LOG_ERROR, true, NULL, 0, "y");
	CHECK(strstr(buf, " [-:ERROR] y\n") != NULL);
}

static void format_cut_to_buffer(void)
{
	char buf[40];
	size_t n = log_format_line(buf, sizeof(buf), &ts, "vm-1", "main", LOG_INFO, false, NULL, 0,
				   "a message longer than the buffer it goes into");
	CHECK_EQ(n, sizeof(buf) - 1);
	CHECK_EQ(buf[n - 1], '\n');
	CHECK_EQ(buf[n], '\0');
}

static void level_names(void)
{
	/* Firecracker's names in other cases, and the levels they mean */
	const char *names[] = {"Error", "WARNING", "warn", "info", "Debug", "trace", "Off"};
	const enum log_level want[] = {LOG_ERROR, LOG_WARN,  LOG_WARN, LOG_INFO,
				       LOG_DEBUG, LOG_TRACE, LOG_OFF};
	enum log_level lv;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		CHECK_EQ(log_level_parse(names[i], &lv), 0);
		CHECK_EQ(lv, want[i]);
	}
	CHECK_EQ(log_level_parse("", &lv), -1);
	CHECK_EQ(log_level_parse("Errors", &lv), -1);
	CHECK_STR_EQ(log_level_name(LOG_WARN), "WARN");
}

static void level_filter(void)
{
	CHECK(log_level_passes(LOG_INFO, LOG_ERROR));
	CHECK(log_level_passes(LOG_INFO, LOG_WARN));
	CHECK(log_level_passes(LOG_INFO, LOG_INFO));
	CHECK(!log_level_passes(LOG_INFO, LOG_DEBUG));
	CHECK(log_level_passes(LOG_TRACE, LOG_TRACE));
	CHECK(!log_level_passes(LOG_ERROR, LOG_WARN));
	CHECK(!log_level_passes(LOG_OFF, LOG_ERROR));
}

static char dir[] = "/tmp/ember-test-log.XXXXXX";

static size_t file_text(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

static void log_file_gets_lines_at_its_level(void)
{
	char path[128], text[1024];
	snprintf(path, sizeof(path), "%s/log", dir);
	int fd = log_open_path(path); /* created */
	CHECK(fd >= 0);
	struct stat st;
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	log_set_thread("tester");
	log_configure(fd, LOG_WARN, true, false, "vm-9");
	log_info("not this %d", 1);
	log_debug("nor this");
	log_warn("a warning %d", 2); /* also "ember: warning: ..." on stderr */
	file_text(path, text, sizeof(text));
	CHECK(strstr(text, " [vm-9:tester:WARN] a warning 2\n") != NULL);
	CHECK(strstr(text, "not this") == NULL);
	CHECK(strstr(text, "nor this") == NULL);
	log_configure(fd, LOG_DEBUG, false, true, "vm-9");
	log_debug("with origin");
	file_text(path, text, sizeof(text));
	CHECK(strstr(text, " [vm-9:tester:tests/unit/vmm/lib/test_log.c:") != NULL);
	log_configure(-1, LOG_INFO, false, false, ""); /* closes fd */
	CHECK_EQ(log_missed(), 0);
	unlink(path);
}

static void opens_a_fifo_without_reader(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK_EQ(mkfifo(path, 0600), 0);
	int fd = log_open_path(path);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "x\n", 2), 2);
	close(fd);
	unlink(path);
	snprintf(path, sizeof(path), "%s/no/such/file", dir);
	CHECK(log_open_path(path) < 0);
	CHECK(log_open_path(dir) < 0); /* a directory */
}

/* log_sigsafe's line is log_at's: the same time (to the second, local
 * time), the same [id:thread:LEVEL:origin], the same message; the level
 * filter holds. */
static void sigsafe_line_is_log_at_line(void)
{
	char path[128], text[1024];
	snprintf(path, sizeof(path), "%s/sigsafe", dir);
	int fd = log_open_path(path);
	CHECK(fd >= 0);
	log_set_thread("vcpu7");
	CHECK_STR_EQ(log_thread(), "vcpu7");
	log_configure(fd, LOG_INFO, true, true, "vm-3");
	log_info("%s", "the same words");
	log_sigsafe(LOG_INFO, "vmm/x.c", 12, "the same words");
	log_sigsafe(LOG_DEBUG, "vmm/x.c", 13, "below the level");
	log_configure(fd, LOG_INFO, false, false, "");
	log_sigsafe(LOG_INFO, "vmm/x.c", 14, "plain");
	log_configure(-1, LOG_INFO, false, false, "");
	file_text(path, text, sizeof(text));
	unlink(path);
	char *a = text, *b = strchr(a, '\n');
	CHECK(b != NULL);
	*b++ = '\0';
	char *c = strchr(b, '\n');
	CHECK(c != NULL);
	*c++ = '\0';
	CHECK(strchr(c, '\n') != NULL && strchr(c, '\n')[1] == '\0'); /* three lines */
	CHECK(strstr(a, " [vm-3:vcpu7:INFO:tests/unit/vmm/lib/test_log.c:") != NULL);
	CHECK(strstr(a, "] the same words") != NULL);
	CHECK_STR_EQ(b + 29, " [vm-3:vcpu7:INFO:vmm/x.c:12] the same words");
	CHECK_EQ(strlen(a) > 30 && a[29] == ' ', 1);
	/* YYYY-MM-DDTHH:MM:SS.nnnnnnnnn: the same second, or the next */
	struct tm ta = {0}, tb = {0};
	CHECK(strptime(a, "%Y-%m-%dT%H:%M:%S.", &ta) == a + 20);
	CHECK(strptime(b, "%Y-%m-%dT%H:%M:%S.", &tb) == b + 20);
	double diff = difftime(timegm(&tb), timegm(&ta));
	CHECK(diff >= 0 && diff <= 1);
	CHECK(strncmp(c + 29, " [vcpu7] plain\n", 15) == 0);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	RUN(format_plain);
	RUN(format_level_and_origin);
	RUN(format_cut_to_buffer);
	RUN(level_names);
	RUN(level_filter);
	RUN(log_file_gets_lines_at_its_level);
	RUN(opens_a_fifo_without_reader);
	RUN(sigsafe_line_is_log_at_line);
	rmdir(dir);
	return check_summary();
}
