/* seccomp.h: per-thread seccomp allow-lists (libseccomp). Every ember thread
 * installs the filter of its kind before the guest runs: only the system calls
 * (and, for ioctl, the request numbers) that thread needs in steady state.
 * Filters are per thread (no TSYNC): a thread created later starts with the
 * filter of the thread that created it, so every thread is created before its
 * creator installs its own filter, and the main thread installs last.
 *
 * A forbidden call raises SIGSYS (SCMP_ACT_TRAP, libseccomp's default
 * action of every filter); the handler writes
 *   ember: seccomp: thread vcpu0 made forbidden syscall 257 (openat)
 * to stderr with write(2), the same to the log file if one is open
 * (log_sigsafe), the metrics line
 *   {"utc_timestamp_ms":N,"seccomp":{"num_faults":1}}
 * to the metrics file if one is open (sigsafe_metrics_line), and then kills
 * the whole process with SIGSYS (an exit_group with a marker argument that
 * every filter answers with SCMP_ACT_KILL_PROCESS), so the parent sees
 * "killed by SIGSYS" (a shell's 159) and the log says who and what. The
 * handler's calls (write, clock_gettime, exit_group) are in every filter.
 *
 *	seccomp_setup(on, &err)              main thread, before any thread starts
 *	seccomp_vcpu_allow(&allow)           each device: what its emulation on
 *	                                     the vCPU threads needs
 *	seccomp_thread_install(SECCOMP_VCPU) on each thread, before its steady state
 *	seccomp_thread_install_allow(&allow) on a device's own thread
 *
 * ember's core knows the main, vCPU and API threads; what a device needs, on
 * its own thread or on the vCPUs, the device says (struct seccomp_allow, in
 * its device_ops), so a new device brings its rules with it.
 */
#ifndef EMBER_SECCOMP_H
#define EMBER_SECCOMP_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/lib/util.h"

enum seccomp_thread_kind {
	SECCOMP_MAIN,   /* signalfd/poll loop, console input, teardown */
	SECCOMP_VCPU,   /* KVM_RUN loop and the device emulation it calls */
	SECCOMP_API,    /* the API thread: its socket, poll */
	SECCOMP_KINDS
};

/* A system call allowed only when one argument (compared as 32 bits) has
 * one value; several rules for one call allow any of their values. */
struct seccomp_arg_rule {
	int call;                     /* SYS_* */
	unsigned arg;                 /* 0-5 */
	uint32_t value;
};

/* What a thread may call beyond the common set (memory without PROT_EXEC,
 * futex, read/write, signal return, thread exit, time): system call numbers
 * (SYS_*), ioctl with these request numbers only, and calls with an argument
 * pinned (args). */
struct seccomp_allow {
	const char *kind;             /* the thread kind: "blk-io", "net-io", ... */
	const int *calls;
	unsigned ncalls;
	const unsigned long *ioctls;
	unsigned nioctls;
	const struct seccomp_arg_rule *args;
	unsigned nargs;
};
#define SECCOMP_ALLOW(kind_, calls_, ioctls_)                                       \
	{                                                                           \
		.kind = (kind_), .calls = (calls_), .ncalls = ARRAY_SIZE(calls_),   \
		.ioctls = (ioctls_), .nioctls = ARRAY_SIZE(ioctls_)                 \
	}

/* Process-wide set-up: the SIGSYS handler and the syscall name table (once;
 * a later call only switches filters on or off). With on=false every
 * seccomp_thread_install is a no-op. Returns 0, or -1 with err. */
int seccomp_setup(bool on, struct errbuf *err);
bool seccomp_enabled(void);

/* Install the calling thread's filter. Logs one "ember: seccomp: ..." line and
 * returns -1 on failure. The thread's name (pthread_setname_np, or "main")
 * is what the SIGSYS report shows. */
int seccomp_thread_install(enum seccomp_thread_kind kind);
/* The same for a device's own thread: the common set and a's lists. */
int seccomp_thread_install_allow(const struct seccomp_allow *a);

/* What emulating a device on the vCPU threads needs, added to their filter
 * (before they install it). Up to SECCOMP_MAX_VCPU_ALLOWS; an allow list
 * given twice counts once. 0, or -1 when there is no room. */
#define SECCOMP_MAX_VCPU_ALLOWS 8
int seccomp_vcpu_allow(const struct seccomp_allow *a);
/* What a device's changes while the VM runs need on the main thread (a new
 * backing file for a drive: PATCH /drives), added to its filter (before it
 * installs it). Same rules as seccomp_vcpu_allow. */
int seccomp_main_allow(const struct seccomp_allow *a);

/* A passed-through device's VFIO fd (before the vCPU threads install their
 * filters): vCPU threads may pread/pwrite it (BAR and config accesses) and
 * call KVM_IRQFD (masking its MSI-X vectors). Up to SECCOMP_MAX_VFIO_FDS. */
#define SECCOMP_MAX_VFIO_FDS 8
void seccomp_allow_vfio_fd(int fd);

/* The API socket's folder (an O_PATH fd): the main thread may unlinkat in it
 * (removing the socket at exit), nowhere else. Before filters are installed. */
void seccomp_allow_unlinkat_dirfd(int fd);

/* Forbidden calls trapped so far (the handler counts before it reports;
 * the process ends with the first, so a metrics line written meanwhile by
 * another thread is the only other place that can show it). */
unsigned seccomp_faults(void);

/* The name of a thread kind ("main", "vcpu", "api"). */
const char *seccomp_kind_name(enum seccomp_thread_kind kind);

#endif
