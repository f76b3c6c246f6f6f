/* test_seccomp.c: the per-thread filters (seccomp.c) in forked children: every
 * kind installs; a thread keeps working with what its list allows (eventfds,
 * futexes, memory, exit_group); a forbidden call (openat, socket, execve) or a
 * forbidden ioctl request kills the process with SIGSYS after one log line
 * naming the thread and the call; main may signal only its own threads; another thread's filter is not inherited by
 * the threads it does not create; --seccomp off installs nothing. The
 * handler also writes its line to the log file and the metrics line
 * {"utc_timestamp_ms":N,"seccomp":{"num_faults":1}} to the metrics file,
 * under every kind's filter; any thread may send its own process a fatal
 * signal (to die of it), no other. */
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "virtio/blk/blk_seccomp.h"
#include "virtio/net/net_seccomp.h"
#include "vmm/core/seccomp.h"
#include "vmm/lib/sigsafe.h"
#include "vmm/pci/vfio_pci.h"

/* Run fn in a child whose stderr goes to a pipe; returns the wait status and
 * what the child wrote. */
static int in_child(void (*fn)(void), char *log, size_t loglen)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		fn();
		_exit(99); /* fn ends the child itself */
	}
	close(p[1]);
	size_t got = 0;
	ssize_t n;
	while (got + 1 < loglen && (n = read(p[0], log + got, loglen - 1 - got)) > 0)
		got += (size_t)n;
	log[got] = '\0';
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	return st;
}

/* Ends a filtered child with the bare exit_group (the sanitizers' _exit
 * would make calls the filters forbid, e.g. sigaltstack). */
static void quit(int status)
{
	syscall(SYS_exit_group, status);
}

static void setup_on(void)
{
	struct errbuf e;
	if (seccomp_setup(true, &e))
		quit(98);
}

static void vcpu_opens_file(void)
{
	setup_on();
	prctl(PR_SET_NAME, "vcpu3");
	if (seccomp_thread_install(SECCOMP_VCPU))
		quit(97);
	open("/", O_RDONLY);
	quit(0);
}

static void forbidden_openat_kills(void)
{
	char log[512];
	int st = in_child(vcpu_opens_file, log, sizeof(log));
	CHECK(WIFSIGNALED(st));
	CHECK_EQ(WTERMSIG(st), SIGSYS);
	CHECK_STR_EQ(log, "ember: seccomp: thread vcpu3 made forbidden syscall 257 (openat)\n");
}

static void blk_io_makes_socket(void)
{
	setup_on();
	prctl(PR_SET_NAME, "blk-io");
	if (seccomp_thread_install_allow(&blk_io_seccomp))
		quit(97);
	socket(AF_INET, SOCK_STREAM, 0);
	quit(0);
}

static void forbidden_socket_kills(void)
{
	char log[512];
	int st = in_child(blk_io_makes_socket, log, sizeof(log));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	CHECK(strstr(log, "thread blk-io made forbidden syscall 41 (socket)"));
}

static void main_execs(void)
{
	setup_on();
	if (seccomp_thread_install(SECCOMP_MAIN))
		quit(97);
	char *argv[] = {"true", NULL};
	execv("/bin/true", argv);
	quit(0);
}

static void forbidden_execve_kills_main(void)
{
	char log[512];
	int st = in_child(main_execs, log, sizeof(log));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	CHECK(strstr(log, "thread main made forbidden syscall 59 (execve)"));
}

static void vcpu_other_ioctl(void)
{
	setup_on();
	prctl(PR_SET_NAME, "vcpu0");
	if (seccomp_thread_install(SECCOMP_VCPU))
		quit(97);
	ioctl(-1, KVM_RUN, 0); /* allowed (EBADF) */
	ioctl(-1, KVM_CREATE_VCPU, 0); /* not in the vCPU list */
	quit(0);
}

static void forbidden_ioctl_request_kills(void)
{
	char log[512];
	int st = in_child(vcpu_other_ioctl, log, sizeof(log));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	CHECK(strstr(log, "thread vcpu0 made forbidden syscall 16 (ioctl)"));
}

/* What a device adds to the vCPU filter is allowed there, and only then:
 * TUNSETOFFLOAD (virtio-net's DRIVER_OK) with a NIC, a kill without one; an
 * allow list given twice counts once. */
static bool with_nic;
static void vcpu_sets_offload(void)
{
	setup_on();
	if (with_nic && (seccomp_vcpu_allow(&net_vcpu_seccomp) || seccomp_vcpu_allow(&net_vcpu_seccomp)))
		quit(98);
	int efd = eventfd(0, EFD_NONBLOCK);
	prctl(PR_SET_NAME, "vcpu2");
	if (seccomp_thread_install(SECCOMP_VCPU))
		quit(97);
	if (ioctl(efd, TUNSETOFFLOAD, 0) == 0) /* an eventfd: fails, unless killed */
		quit(96);
	quit(0);
}

static void device_vcpu_allow(void)
{
	char log[512];
	with_nic = true;
	int st = in_child(vcpu_sets_offload, log, sizeof(log));
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	with_nic = false;
	st = in_child(vcpu_sets_offload, log, sizeof(log));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	CHECK(strstr(log, "thread vcpu2 made forbidden syscall 16 (ioctl)"));
}

/* The main thread with a disk (PATCH /drives): a drive's open flags pass,
 * the same open with O_CREAT (or without a disk) kills. */
static bool creat_too;

static void main_reopens_disk(void)
{
	setup_on();
	if (seccomp_main_allow(&blk_main_seccomp) || seccomp_thread_install(SECCOMP_MAIN))
		quit(97);
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		quit(96);
	struct stat st;
	if (fstat(fd, &st) < 0 || flock(fd, LOCK_SH | LOCK_NB) < 0)
		quit(95);
	close(fd);
	if (creat_too)
		open("/tmp/ember-seccomp-test-never", O_RDWR | O_CLOEXEC | O_CREAT, 0600);
	quit(0);
}

static void main_disk_allow(void)
{
	char log[512];
	creat_too = false;
	int st = in_child(main_reopens_disk, log, sizeof(log));
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	creat_too = true;
	st = in_child(main_reopens_disk, log, sizeof(log));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	CHECK(strstr(log, "thread main made forbidden syscall 257 (openat)"));
	CHECK(access("/tmp/ember-seccomp-test-never", F_OK) != 0);
}

/* A vCPU thread with a passed-through device: pread/pwrite on its VFIO fd,
 * KVM_IRQFD and KVM_SET_USER_MEMORY_REGION work; pread on another fd kills. */
static int vfio_fd_pair[2];

static void vcpu_vfio_access(void)
{
	setup_on();
	seccomp_allow_vfio_fd(vfio_fd_pair[0]);
	if (seccomp_vcpu_allow(&vfio_vcpu_seccomp))
		quit(98);
	prctl(PR_SET_NAME, "vcpu1");
	if (seccomp_thread_install(SECCOMP_VCPU))
		quit(97);
	char b[4] = "ok";
	if (pwrite(vfio_fd_pair[0], b, 2, 0) != -1 || pread(vfio_fd_pair[0], b, 2, 0) != -1)
		quit(96); /* a pipe: ESPIPE, but allowed */
	ioctl(-1, KVM_IRQFD, 0);
	ioctl(-1, KVM_SET_USER_MEMORY_REGION, 0);
	pread(vfio_fd_pair[1], b, 2, 0); /* not the device's fd */
	quit(0);
}

static void vfio_fd_only(void)
{
	char log[512];
	CHECK_EQ(pipe(vfio_fd_pair), 0);
	int st = in_child(vcpu_vfio_access, log, sizeof(log));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	CHECK_STR_EQ(log, "ember: seccomp: thread vcpu1 made forbidden syscall 17 (pread64)\n");
	close(vfio_fd_pair[0]);
	close(vfio_fd_pair[1]);
}

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void net_io_steady_state(void)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	setup_on();
	prctl(PR_SET_NAME, "net-io");
	if (seccomp_thread_install_allow(&net_io_seccomp))
		quit(97);
	uint64_t v = 1;
	if (write(efd, &v, sizeof(v)) != sizeof(v) || read(efd, &v, sizeof(v)) != sizeof(v))
		quit(96);
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		quit(95);
	munmap(p, 1 << 20);
	/* TUNSETQUEUE (on an eventfd it just fails, without the filter's kill) */
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_DETACH_QUEUE;
	if (ioctl(efd, TUNSETQUEUE, &ifr) == 0)
		quit(93);
	quit(7);
}

static void allowed_calls_work(void)
{
	char log[512];
	int st = in_child(net_io_steady_state, log, sizeof(log));
	if (!WIFEXITED(st))
		printf("  child: %s", log);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 7);
	CHECK_STR_EQ(log, "");
}

static void main_signals_other_process(void)
{
	setup_on();
	if (seccomp_thread_install(SECCOMP_MAIN))
		quit(97);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), 0); /* itself: allowed */
	syscall(SYS_tgkill, 1, 1, 0); /* another process: not */
	quit(0);
}

static void tgkill_only_own_threads(void)
{
	char log[512];
	int st = in_child(main_signals_other_process, log, sizeof(log));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	CHECK(strstr(log, "thread main made forbidden syscall 234 (tgkill)"));
}

static void vcpu_maps_exec(void)
{
	setup_on();
	prctl(PR_SET_NAME, "vcpu1");
	if (seccomp_thread_install(SECCOMP_VCPU))
		quit(97);
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	quit(0);
}

static void executable_memory_kills(void)
{
	char log[512];
	int st = in_child(vcpu_maps_exec, log, sizeof(log));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	CHECK(strstr(log, "thread vcpu1 made forbidden syscall 9 (mmap)"));
}

static void every_kind_installs_child(void)
{
	setup_on();
	static const struct seccomp_allow *const devices[] = {&blk_io_seccomp, &net_io_seccomp};
	for (int k = 0; k < SECCOMP_KINDS + (int)ARRAY_SIZE(devices); k++) {
		pid_t pid = fork();
		if (pid == 0)
			quit((k < SECCOMP_KINDS ? seccomp_thread_install((enum seccomp_thread_kind)k)
						: seccomp_thread_install_allow(devices[k - SECCOMP_KINDS]))
				     ? 1
				     : 0);
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			quit(10 + k);
	}
	quit(0);
}

static void every_kind_installs(void)
{
	char log[512];
	int st = in_child(every_kind_installs_child, log, sizeof(log));
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	CHECK_STR_EQ(seccomp_kind_name(SECCOMP_API), "api");
	CHECK_STR_EQ(seccomp_kind_name(SECCOMP_VCPU), "vcpu");
}

static void off_installs_nothing_child(void)
{
	struct errbuf e;
	if (seccomp_setup(false, &e) || seccomp_enabled())
		quit(2);
	if (seccomp_thread_install(SECCOMP_VCPU))
		quit(3);
	int fd = open("/", O_RDONLY);
	quit(fd >= 0 && prctl(PR_GET_SECCOMP) == 0 ? 5 : 4);
}

static void off_installs_nothing(void)
{
	char log[512];
	int st = in_child(off_installs_nothing_child, log, sizeof(log));
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 5);
}

/* A thread created before its creator installs a filter does not get it. */
static void *sibling(void *arg)
{
	pthread_barrier_t *b = arg;
	pthread_barrier_wait(b); /* creator installed its filter */
	int fd = open("/", O_RDONLY); /* allowed here: no filter on this thread */
	quit(fd >= 0 ? 6 : 5);
	return NULL;
}

static void per_thread_child(void)
{
	setup_on();
	static pthread_barrier_t b;
	pthread_barrier_init(&b, NULL, 2);
	pthread_t t;
	pthread_create(&t, NULL, sibling, &b);
	if (seccomp_thread_install_allow(&blk_io_seccomp))
		quit(97);
	pthread_barrier_wait(&b);
	pthread_join(t, NULL); /* a futex wait: allowed; the sibling ends the process */
	quit(0);
}

static void filters_are_per_thread(void)
{
	char log[512];
	int st = in_child(per_thread_child, log, sizeof(log));
	/* The sibling's open succeeded and its quit(6) ended the process. */
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 6);
}

/* What a file the child wrote holds (a memfd shared across the fork). */
static void file_text(int fd, char *buf, size_t cap)
{
	ssize_t n = pread(fd, buf, cap - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
}

static int log_fd = -1, metrics_fd = -1;
static enum seccomp_thread_kind fault_kind;
static const struct seccomp_allow *fault_allow;
static const char *fault_thread;

/* A thread of fault_kind (or fault_allow's) with the log and metrics files
 * open makes a forbidden call. */
static void faults_with_files(void)
{
	setup_on();
	log_configure(log_fd, LOG_INFO, true, true, "vm-9");
	sigsafe_set_metrics_fd(metrics_fd);
	prctl(PR_SET_NAME, fault_thread);
	if (fault_allow ? seccomp_thread_install_allow(fault_allow)
			: seccomp_thread_install(fault_kind))
		quit(97);
	open("/", O_RDONLY);
	quit(0);
}

static void run_fault(enum seccomp_thread_kind kind, const struct seccomp_allow *allow,
		      const char *thread, int *st, char *err, char *lg, char *met, size_t cap)
{
	log_fd = memfd_create("log", 0);
	metrics_fd = memfd_create("metrics", 0);
	fault_kind = kind;
	fault_allow = allow;
	fault_thread = thread;
	*st = in_child(faults_with_files, err, cap);
	file_text(log_fd, lg, cap);
	file_text(metrics_fd, met, cap);
	close(log_fd);
	close(metrics_fd);
}

/* The metrics line is exactly {"utc_timestamp_ms":N,"seccomp":{"num_faults":1}}
 * with N about now. */
static bool metrics_line_ok(const char *met, uint64_t t0_ms)
{
	unsigned long long ms;
	int end = 0;
	if (sscanf(met, "{\"utc_timestamp_ms\":%llu,\"seccomp\":{\"num_faults\":1}}\n%n", &ms,
		   &end) != 1 || end == 0 || met[end] != '\0')
		return false;
	return ms >= t0_ms && ms < t0_ms + 10000;
}

static void fault_writes_log_and_metrics(void)
{
	char err[512], lg[512], met[512];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	time_t t0 = ts.tv_sec;
	int st;
	run_fault(SECCOMP_VCPU, NULL, "vcpu5", &st, err, lg, met, sizeof(err));
	/* Not time(): the coarse clock can still show the last second a few ms
	 * into the next, which the log line's clock already shows. */
	clock_gettime(CLOCK_REALTIME, &ts);
	time_t t1 = ts.tv_sec;
	CHECK(WIFSIGNALED(st));
	CHECK_EQ(WTERMSIG(st), SIGSYS);
	CHECK_STR_EQ(err, "ember: seccomp: thread vcpu5 made forbidden syscall 257 (openat)\n");
	CHECK(metrics_line_ok(met, (uint64_t)t0 * 1000));
	/* the log file's line, as log_at writes it: local time, [id:thread:LEVEL:origin] */
	const char *rest = strstr(lg, " [vm-9:vcpu5:ERROR:vmm/core/seccomp.c:");
	CHECK(rest != NULL);
	CHECK(strstr(rest, "] seccomp: thread vcpu5 made forbidden syscall 257 (openat)\n") != NULL);
	CHECK_EQ(rest - lg, 29); /* 2026-12-03T06:16:48.590382990 */
	bool time_ok = false;
	for (time_t t = t0; t <= t1 && !time_ok; t++) {
		char want[32];
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.", &tm);
		time_ok = strncmp(lg, want, strlen(want)) == 0;
	}
	if (!time_ok)
		printf("  log line: %s", lg);
	CHECK(time_ok);
}

/* Every kind of thread may make the handler's calls: each reports and dies
 * of SIGSYS with its metrics line written. */
static void every_kind_reports(void)
{
	static const struct {
		enum seccomp_thread_kind kind;
		const struct seccomp_allow *allow;
		const char *thread;
	} kinds[] = {
		{SECCOMP_MAIN, NULL, "main"},
		{SECCOMP_VCPU, NULL, "vcpu0"},
		{SECCOMP_API, NULL, "api"},
		{SECCOMP_KINDS, &blk_io_seccomp, "blk-io"},
		{SECCOMP_KINDS, &net_io_seccomp, "net-io"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		char err[512], lg[512], met[512], want[128];
		int st;
		run_fault(kinds[i].kind, kinds[i].allow, kinds[i].thread, &st, err, lg, met,
			  sizeof(err));
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
		snprintf(want, sizeof(want), "thread %s made forbidden syscall 257 (openat)\n",
			 kinds[i].thread);
		CHECK(strstr(err, want) && strstr(lg, want));
		CHECK(metrics_line_ok(met, (uint64_t)(time(NULL) - 5) * 1000));
	}
}

/* Without a metrics file or log file: the stderr line only. */
static void fault_without_files(void)
{
	char log[512];
	int st = in_child(vcpu_opens_file, log, sizeof(log));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	CHECK_EQ(sigsafe_metrics_fd(), -1);
	CHECK_EQ(seccomp_faults(), 0); /* the child's count is the child's */
}

/* A vCPU thread may send its own process a fatal signal (a handler that
 * ends ember does), not any other signal. */
static int self_signal;
static void vcpu_signals_itself(void)
{
	signal(self_signal, SIG_DFL); /* not a sanitizer's handler: the default, death */
	setup_on();
	prctl(PR_SET_NAME, "vcpu0");
	if (seccomp_thread_install(SECCOMP_VCPU))
		quit(97);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), self_signal);
	quit(0);
}

static void fatal_signal_to_self_allowed(void)
{
	char log[512];
	static const int fatal[] = {SIGXCPU, SIGBUS, SIGABRT, SIGSEGV};
	for (size_t i = 0; i < ARRAY_SIZE(fatal); i++) {
		self_signal = fatal[i];
		int st = in_child(vcpu_signals_itself, log, sizeof(log));
		CHECK(WIFSIGNALED(st));
		CHECK_EQ(WTERMSIG(st), fatal[i]);
	}
	self_signal = SIGUSR2;
	int st = in_child(vcpu_signals_itself, log, sizeof(log));
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	CHECK(strstr(log, "thread vcpu0 made forbidden syscall 234 (tgkill)"));
}

int main(void)
{
	RUN(forbidden_openat_kills);
	RUN(vfio_fd_only);
	RUN(device_vcpu_allow);
	RUN(main_disk_allow);
	RUN(forbidden_socket_kills);
	RUN(forbidden_execve_kills_main);
	RUN(forbidden_ioctl_request_kills);
	RUN(executable_memory_kills);
	RUN(tgkill_only_own_threads);
	RUN(allowed_calls_work);
	RUN(every_kind_installs);
	RUN(off_installs_nothing);
	RUN(filters_are_per_thread);
	RUN(fault_writes_log_and_metrics);
	RUN(every_kind_reports);
	RUN(fault_without_files);
	RUN(fatal_signal_to_self_allowed);
	return check_summary();
}
