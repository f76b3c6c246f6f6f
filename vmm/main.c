/* main.c: ember's entry point: read the command line (or a Firecracker config
 * file) into a VM configuration, serve the API socket when asked (vmm/api),
 * build the VM (builder.c) at once or when the API says InstanceStart, run
 * it until the guest or a signal ends it, feeding console input to the UART
 * and carrying out the API's pause and resume, and exit with the guest's
 * status. */
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "vmm/api/api.h"
#include "vmm/api/api_metrics.h"
#include "vmm/api/control.h"
#include "vmm/api/fc_config.h"
#include "vmm/api/fc_snapshot.h"
#include "vmm/api/server.h"
#include "vmm/builder.h"
#include "vmm/cli.h"
#include "vmm/core/vcpu.h"
#include "vmm/guest_load.h"
#include "vmm/observe.h"
#include "vmm/signals.h"
#include "vmm/snapshot.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "0.1.0"
#endif

/* The log file and the metrics. */
static struct observe obs;

/* vm_pause and vm_resume, timed as the metrics' latencies_us.vmm_pause_vm and
 * vmm_resume_vm when they changed the VM's state. */
static int pause_vm(struct vm *vm)
{
	bool was = vm->paused;
	uint64_t t0 = now_ns();
	int r = vm_pause(vm);
	if (!was)
		observe_latency(OBSERVE_VMM_PAUSE_VM, (now_ns() - t0) / 1000);
	return r;
}

static void resume_vm(struct vm *vm)
{
	bool was = vm->paused;
	uint64_t t0 = now_ns();
	vm_resume(vm);
	if (was)
		observe_latency(OBSERVE_VMM_RESUME_VM, (now_ns() - t0) / 1000);
}

#ifdef EMBER_TEST_HOOKS
/* Test builds only (build/tests/ember-testhooks): SIGRTMIN pauses the VM and
 * SIGRTMIN+1 resumes it, until the API can; each says on stderr what it did. */
#define TEST_PAUSE_SIGNAL SIGRTMIN
#define TEST_RESUME_SIGNAL (SIGRTMIN + 1)

static void test_hook_pause(struct vm *vm, int signo)
{
	uint64_t t0 = now_ns();
	if (signo == TEST_PAUSE_SIGNAL) {
		int r = pause_vm(vm);
		fprintf(stderr, "ember: test hook: %s in %llu us\n", r ? "pause FAILED" : "paused",
			(unsigned long long)((now_ns() - t0) / 1000));
	} else {
		resume_vm(vm);
		fprintf(stderr, "ember: test hook: resumed in %llu us\n",
			(unsigned long long)((now_ns() - t0) / 1000));
	}
}
#endif

/* The API (NULL without --api-sock). */
static struct api *api;

/* FlushMetrics: why it failed (r != 0), or NULL. */
static const char *flush_failure(int r, const char *why)
{
	if (!r)
		return NULL;
	if (obs.metrics_fd < 0)
		return "Cannot flush metrics: no metrics path was configured (--metrics-path, PUT /metrics).";
	return why;
}

static void set_state(enum api_state st)
{
	if (api)
		api_set_state(api, st);
}

/* PUT /snapshot/create: the paused VM and the configuration the API shows
 * into the two files. 0, or -1 with e set. */
static int create_snapshot(struct vm *vm, const struct fc_snapshot_create *c, struct errbuf *e)
{
	uint64_t t0 = now_ns();
	const struct vm_config *vc = api->cli_vm ? api->cli_vm : &api->cfg->vm;
	char *json = fc_vm_config_json(vc, api->cli_vm ? NULL : api->cfg->drives, NULL);
	if (!json) {
		err_set(e, "out of memory");
		return -1;
	}
	int r = snapshot_save(vm, vc, json, c->state_path, c->mem_path, e);
	free(json);
	if (r) {
		log_warn("snapshot: %s", e->msg);
		return -1;
	}
	observe_latency(OBSERVE_VMM_FULL_CREATE_SNAPSHOT, (now_ns() - t0) / 1000);
	log_info("snapshot saved: state %s, memory %s", c->state_path, c->mem_path);
	return 0;
}

/* What ember's command line decides for any VM, however it is configured
 * (the API, a config file, a snapshot): --seccomp, --boot-time and
 * --kernel-unpack, --initrd-unpack and --kernel-cache, from cli into vm. */
static void keep_cli_settings(struct vm_config *vm, const struct vm_config *cli)
{
	vm->seccomp = cli->seccomp;
	vm->boot_time = cli->boot_time;
	vm->kernel_unpack = cli->kernel_unpack;
	vm->kernel_cache = cli->kernel_cache;
	vm->initrd_unpack = cli->initrd_unpack;
}

/* Restore the snapshot (state, mem; its NICs moved to other TAPs by ov)
 * into m, its configuration into fc (fc's logger and metrics kept; the
 * command line's settings and the console from base). 0, or the exit status with the
 * error logged and in why. */
static int restore_vm(struct machine *m, struct fc_config *fc, const struct vm_config *base,
		      const char *state, const char *mem, const struct fc_net_override *ov,
		      unsigned nov, uint64_t start_ns, const char *start_what, struct errbuf *why)
{
	struct snapshot_in s;
	if (snapshot_open(&s, state, mem, why)) {
		log_error("%s", why->msg);
		return EXIT_USAGE;
	}
	int status = EXIT_USAGE;
	if (snapshot_config(&s, fc, why))
		goto fail;
	for (unsigned i = 0; i < nov; i++)
		if (snapshot_net_override(&fc->vm, ov[i].iface_id, ov[i].tap, why))
			goto fail;
	keep_cli_settings(&fc->vm, base);
	fc->vm.console = base->console;
	fc->vm.console_path = base->console_path;
	status = machine_build(m, &fc->vm, start_ns, start_what, &s, why);
	snapshot_close(&s);
	if (status == 0)
		log_info("VM restored from %s and %s", state, mem);
	return status;
fail:
	log_error("%s", why->msg);
	snapshot_close(&s);
	return status;
}

/* An API request for the running VM (main thread). */
static void api_request(struct machine *m)
{
	struct vm *vm = &m->vm;
	enum control_kind kind;
	const void *arg;
	if (!control_take(api->ctl, &kind, &arg))
		return;
	if (kind == CONTROL_START || kind == CONTROL_OBSERVE) {
		control_done(api->ctl, -1, "the microVM is already running");
	} else if (kind == CONTROL_FLUSH_METRICS) {
		int r = observe_flush(&obs, vm);
		control_done(api->ctl, r, flush_failure(r, "Cannot flush metrics: the write failed."));
	} else if (kind == CONTROL_CTRL_ALT_DEL) {
		int r = i8042_ctrl_alt_del(m->i8042);
		if (!r)
			log_info("Ctrl+Alt+Del sent to the guest's keyboard");
		control_done(api->ctl, r, r ? "Cannot send Ctrl+Alt+Del: the guest's keyboard "
					     "buffer is full (it has not read earlier keys)." : NULL);
	} else if (kind == CONTROL_SET_DRIVE) {
		const struct control_drive *cd = arg;
		struct device *d = device_list_find(&vm->devices, "virtio-blk", cd->id);
		struct errbuf e = {{0}};
		int r = -1;
		if (!d || !d->ops->set_backing)
			err_set(&e, "no drive '%s'", cd->id);
		else
			r = d->ops->set_backing(d, cd->path, &e);
		if (r)
			log_warn("PATCH /drives/%s: %s", cd->id, e.msg);
		control_done(api->ctl, r, r ? e.msg : NULL);
	} else if (kind == CONTROL_SET_LIMITS) {
		const struct control_limits *cl = arg;
		/* (n: 1 for PATCH /drives, 2 for PATCH /network-interfaces) */
		struct device *d = device_list_find(&vm->devices, cl->n == 1 ? "virtio-blk" : "virtio-net",
						    cl->id);
		struct errbuf e = {{0}};
		int r = -1;
		if (!d || !d->ops->set_rate_limits)
			err_set(&e, "no %s '%s'", cl->n == 1 ? "drive" : "network interface", cl->id);
		else
			r = d->ops->set_rate_limits(d, cl->u, cl->n, &e);
		if (!r)
			log_info("rate limits of %s changed", cl->id);
		control_done(api->ctl, r, r ? e.msg : NULL);
	} else if (kind == CONTROL_PAUSE) {
		int r = pause_vm(vm);
		if (!r) {
			set_state(API_PAUSED);
			log_info("VM paused");
		}
		control_done(api->ctl, r, r ? "the microVM did not pause within 1 s" : NULL);
	} else if (kind == CONTROL_RESUME) {
		resume_vm(vm);
		set_state(API_RUNNING);
		log_info("VM resumed");
		control_done(api->ctl, 0, NULL);
	} else if (kind == CONTROL_SNAPSHOT_CREATE) {
		struct errbuf e = {{0}};
		int r = create_snapshot(vm, arg, &e);
		control_done(api->ctl, r, r ? e.msg : NULL);
	} else if (kind == CONTROL_SNAPSHOT_LOAD) {
		control_done(api->ctl, -1, "the microVM is already running");
	} else {
		control_done(api->ctl, -1, "ember cannot do that (an unknown request)");
	}
}

/* Wait for the VM to stop, feeding console input to the UART meanwhile;
 * SIGUSR1 prints the VM's and every device's stats; the API's requests are
 * carried out. Returns the exit status. */
static int run_loop(struct machine *m, int sig_fd)
{
	struct vm *vm = &m->vm;
	struct console *con = &m->con;
	bool input_open = con->in_fd >= 0;
	for (;;) {
		struct pollfd p[6] = {
			{vm->stop_efd, POLLIN, 0}, {sig_fd, POLLIN, 0}, {m->room_efd, POLLIN, 0},
			{-1, POLLIN, 0}, {api ? api->ctl->efd : -1, POLLIN, 0}, {obs.timer_fd, POLLIN, 0},
		};
		if (input_open && serial_rx_room(m->com1) > 0)
			p[3].fd = con->in_fd;
		if (poll(p, 6, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			vm_request_stop(vm, EXIT_VM_ERROR);
		}
		if (atomic_load(&vm->stopping))
			return vm->exit_status;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sig_fd, &si, sizeof(si)) != sizeof(si)) {
				/* nothing read: poll again */
			} else if (si.ssi_signo == SIGUSR1) {
				vm_stats(vm, stderr);
				device_list_stats(&vm->devices, stderr);
#ifdef EMBER_TEST_HOOKS
			} else if ((int)si.ssi_signo == TEST_PAUSE_SIGNAL ||
				   (int)si.ssi_signo == TEST_RESUME_SIGNAL) {
				test_hook_pause(vm, (int)si.ssi_signo);
#endif
			} else {
				if (si.ssi_signo == SIGHUP)
					signals_hup();
				vm_request_stop(vm, 128 + (int)si.ssi_signo);
				return vm->exit_status;
			}
		}
		if (p[2].revents & POLLIN) { /* the UART has room for input again */
			uint64_t n;
			if (read(m->room_efd, &n, sizeof(n)) == sizeof(n))
				obs.device_events++;
		}
		if (p[4].revents & POLLIN)
			api_request(m);
		if (p[5].revents & POLLIN) { /* the metrics' 60 s */
			uint64_t n;
			if (read(obs.timer_fd, &n, sizeof(n)) == sizeof(n))
				observe_flush(&obs, vm);
		}
		if (p[3].revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t buf[SERIAL_RX_FIFO];
			size_t room = serial_rx_room(m->com1);
			ssize_t n = read(con->in_fd, buf, room < sizeof(buf) ? room : sizeof(buf));
			if (n > 0) {
				serial_receive(m->com1, buf, (size_t)n);
				obs.device_events++;
			}
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				input_open = false; /* end of input: the guest just sees no more */
		}
	}
}

/* Started with --api-sock and nothing to boot: carry out the API's requests
 * until InstanceStart builds the VM (0; *built), or a signal ends ember (its
 * exit status). A start that fails is answered with the reason, and the API
 * may try again. */
static int wait_for_start(struct machine *m, int sig_fd, const struct vm_config *base, bool *built,
			  bool *paused)
{
	for (;;) {
		struct pollfd p[2] = {{sig_fd, POLLIN, 0}, {api->ctl->efd, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			return EXIT_VM_ERROR;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sig_fd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGUSR1 &&
			    (int)si.ssi_signo < SIGRTMIN) {
				if (si.ssi_signo == SIGHUP)
					signals_hup();
				return 128 + (int)si.ssi_signo;
			}
		}
		enum control_kind kind;
		const void *arg;
		if (!(p[1].revents & POLLIN) || !control_take(api->ctl, &kind, &arg))
			continue;
		struct errbuf why;
		if (kind == CONTROL_OBSERVE) {
			int r = observe_open(&obs, arg, &why);
			control_done(api->ctl, r, r ? why.msg : NULL);
			continue;
		}
		if (kind == CONTROL_FLUSH_METRICS) {
			int r = observe_open(&obs, &api->cfg->observe, &why);
			if (!r && (r = observe_flush(&obs, NULL)))
				err_set(&why, "Cannot flush metrics: the write failed.");
			control_done(api->ctl, r, flush_failure(r, why.msg));
			continue;
		}
		if (kind != CONTROL_START && kind != CONTROL_SNAPSHOT_LOAD) {
			control_done(api->ctl, -1, "the microVM has not been started");
			continue;
		}
		if (observe_open(&obs, &api->cfg->observe, &why)) {
			control_done(api->ctl, -1, why.msg);
			continue;
		}
		observe_arm(&obs);
		if (kind == CONTROL_SNAPSHOT_LOAD) {
			const struct fc_snapshot_load *l = arg;
			uint64_t t0 = now_ns();
			if (restore_vm(m, api->cfg, base, l->state_path, l->mem_path, l->overrides,
				       l->noverrides, t0, "InstanceStart", &why) == 0) {
				observe_latency(OBSERVE_VMM_LOAD_SNAPSHOT, (now_ns() - t0) / 1000);
				*built = true;
				*paused = !l->resume;
				set_state(l->resume ? API_RUNNING : API_PAUSED);
				control_done(api->ctl, 0, NULL);
				return 0;
			}
			/* Back to an empty configuration, the logger and metrics kept. */
			struct fc_observe ob = api->cfg->observe;
			fc_config_free(api->cfg);
			fc_config_init(api->cfg);
			api->cfg->observe = ob;
			keep_cli_settings(&api->cfg->vm, base);
			machine_destroy(m);
			control_done(api->ctl, -1, why.msg);
			continue;
		}
		if (machine_build(m, arg, now_ns(), "InstanceStart", NULL, &why) == 0) {
			*built = true;
			set_state(API_RUNNING);
			control_done(api->ctl, 0, NULL);
			return 0;
		}
		machine_destroy(m);
		control_done(api->ctl, -1, why.msg);
	}
}

int main(int argc, char **argv)
{
	uint64_t start_ns = now_ns();
	api_metrics_process_start(start_ns);
	/* One malloc arena: a thread that meets contention would otherwise
	 * make its own, and glibc sizes the arena count by reading
	 * /sys/devices/system/cpu/online, an open that every thread's seccomp
	 * filter forbids (the API thread under load hit it). */
	mallopt(M_ARENA_MAX, 1);
	struct ember_opts o;
	struct errbuf err;
	if (cli_parse(argc, argv, &o, &err)) {
		log_error("%s", err.msg);
		return EXIT_USAGE;
	}
	if (o.help) {
		cli_usage(stdout);
		return 0;
	}
	if (o.version) {
		printf("ember %s\n", EMBER_VERSION);
		return 0;
	}

	/* Signals: the main thread takes SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1
	 * through a signalfd; every thread starts with them (and the vCPU kick)
	 * blocked. SIGPIPE is counted, the fatal ones reported and died of
	 * (signals.c). */
	if (signals_install()) {
		log_error("cannot install the signal handlers: %s", strerror(errno));
		return EXIT_VM_ERROR;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGUSR1);
#ifdef EMBER_TEST_HOOKS
	sigaddset(&set, TEST_PAUSE_SIGNAL);
	sigaddset(&set, TEST_RESUME_SIGNAL);
#endif
	int sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	/* The configuration: the command line's, a config file's, or (with
	 * --api-sock and neither) the one the API fills before InstanceStart. */
	static struct fc_config fcc;
	fc_config_init(&fcc);
	observe_init(&obs, o.id);
	const struct vm_config *boot = o.vm.kernel ? &o.vm : NULL;
	if (o.config_file) {
		if (fc_config_file_load(&fcc, o.config_file, &err)) {
			log_error("--config-file %s: %s", o.config_file, err.msg);
			return EXIT_USAGE;
		}
		boot = &fcc.vm;
	}
	keep_cli_settings(&fcc.vm, &o.vm);
	/* --log-path, --level, --metrics-path: where the config file says
	 * nothing (and before the API can). */
	cli_observe(&o, &fcc.observe);
	if (observe_open(&obs, &fcc.observe, &err)) {
		log_error("%s", err.msg);
		return EXIT_USAGE;
	}
	/* --fill-kernel-cache: no VM, no API, no signals to wait for. */
	if (o.fill_kernel_cache) {
		int st = guest_load_fill_cache(boot, stdout);
		fc_config_free(&fcc);
		observe_close(&obs);
		return st;
	}
	static struct control ctl;
	static struct api a;
	static struct api_server srv;
	if (o.api_sock) {
		/* The socket first: clients may connect (their requests wait
		 * in the backlog) while the rest is set up. */
		if (api_server_open(&srv, o.api_sock, &err)) {
			log_error("%s", err.msg);
			api_server_close(&srv);
			return EXIT_USAGE;
		}
		/* The API thread installs its filter as it starts, long before
		 * the VM's threads: seccomp is set up now (the command line's
		 * --seccomp holds for a VM the API starts too), and what would
		 * open files under the filter is done first: jansson's hash
		 * seed (/dev/urandom) and the time zone for log lines. */
		if (seccomp_setup(o.vm.seccomp, &err)) {
			log_error("%s", err.msg);
			api_server_close(&srv);
			return EXIT_VM_ERROR;
		}
		json_object_seed(0);
		tzset();
		if (control_init(&ctl)) {
			log_error("eventfd: %s", strerror(errno));
			api_server_close(&srv);
			return EXIT_VM_ERROR;
		}
		a = (struct api){.id = o.id, .cfg = &fcc, .ctl = &ctl,
				 .cli_vm = boot == &o.vm ? &o.vm : NULL,
				 .state_lock = PTHREAD_MUTEX_INITIALIZER,
				 .state_changed = PTHREAD_COND_INITIALIZER};
		atomic_init(&a.state, boot || o.restore ? API_STARTING : API_NOT_STARTED);
		if (api_server_start(&srv, api_handle, &a, &err)) {
			log_error("%s", err.msg);
			api_server_close(&srv);
			return EXIT_VM_ERROR;
		}
		api = &a;
	}

	struct machine m;
	struct errbuf why;
	bool built = false, paused = false;
	int status;
#ifdef EMBER_TEST_HOOKS
	/* Test builds only: EMBER_TEST_BUILD_DELAY_MS=N holds the main thread N
	 * ms before it builds the VM the command line, config file or --restore
	 * describes (the API's requests meanwhile wait for the build). */
	const char *delay = getenv("EMBER_TEST_BUILD_DELAY_MS");
	if (delay && (boot || o.restore))
		usleep((useconds_t)atoi(delay) * 1000);
#endif
	if (o.restore) {
		observe_arm(&obs);
		struct fc_net_override ov[VM_MAX_NETS];
		for (unsigned i = 0; i < o.n_net_override; i++) {
			snprintf(ov[i].iface_id, sizeof(ov[i].iface_id), "%s", o.net_override[i].id);
			snprintf(ov[i].tap, sizeof(ov[i].tap), "%s", o.net_override[i].tap);
		}
		status = restore_vm(&m, &fcc, &o.vm, o.restore, o.mem_file, ov, o.n_net_override,
				    start_ns, "ember started", &why);
		built = true;
	} else if (boot) {
		observe_arm(&obs);
		status = machine_build(&m, boot, start_ns, "ember started", NULL, &why);
		built = true;
	} else {
		status = wait_for_start(&m, sig_fd, &o.vm, &built, &paused);
	}
	if (status && api && atomic_load(&api->state) == API_STARTING)
		set_state(API_EXITING); /* the requests that waited are refused */
	if (status == 0) {
		if (!paused)
			set_state(API_RUNNING);
		log_info(paused ? "VM started paused" : "VM started");
		observe_flush(&obs, &m.vm); /* a metrics line at the start (InstanceStart) */
#ifdef EMBER_TEST_HOOKS
		/* Test builds only: EMBER_TEST_FORBIDDEN=main makes the main
		 * thread try to start a process, which its filter forbids. */
		const char *hook = getenv("EMBER_TEST_FORBIDDEN");
		if (hook && strcmp(hook, "main") == 0 && fork() == 0)
			_exit(0);
#endif
		vcpus_go(&m.vm, paused);
		if (paused && pause_vm(&m.vm))
			log_error("the restored VM did not pause");
		status = run_loop(&m, sig_fd);
	}
	log_info("ember exiting with status %d", status);
	if (api) /* a request it will not answer now counts in the last line */
		control_close(&ctl, "ember is exiting");
	observe_flush(&obs, built ? &m.vm : NULL); /* the metrics at exit */
	if (api)
		api_server_close(&srv);
	if (built)
		machine_destroy(&m);
	fc_config_free(&fcc);
	observe_close(&obs);
	return status;
}
