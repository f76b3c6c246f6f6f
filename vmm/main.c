/* main.c: ember's entry point: read the command line into a VM configuration,
 * build the VM from it (builder.c), run it until the guest or a signal ends
 * it, feeding console input to the UART, and exit with the guest's status. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vmm/builder.h"
#include "vmm/cli.h"
#include "vmm/core/vcpu.h"

#ifndef EMBER_VERSION
#define EMBER_VERSION "0.1.0"
#endif

#ifdef EMBER_TEST_HOOKS
/* Test builds only (build/tests/ember-testhooks): SIGRTMIN pauses the VM and
 * SIGRTMIN+1 resumes it, until the API can; each says on stderr what it did. */
#define TEST_PAUSE_SIGNAL SIGRTMIN
#define TEST_RESUME_SIGNAL (SIGRTMIN + 1)

static void test_hook_pause(struct vm *vm, int signo)
{
	uint64_t t0 = now_ns();
	if (signo == TEST_PAUSE_SIGNAL) {
		int r = vm_pause(vm);
		fprintf(stderr, "ember: test hook: %s in %llu us\n", r ? "pause FAILED" : "paused",
			(unsigned long long)((now_ns() - t0) / 1000));
	} else {
		vm_resume(vm);
		fprintf(stderr, "ember: test hook: resumed in %llu us\n",
			(unsigned long long)((now_ns() - t0) / 1000));
	}
}
#endif

/* Wait for the VM to stop, feeding console input to the UART meanwhile;
 * SIGUSR1 prints the VM's and every device's stats. Returns the exit status. */
static int run_loop(struct machine *m, int sig_fd)
{
	struct vm *vm = &m->vm;
	struct console *con = &m->con;
	bool input_open = con->in_fd >= 0;
	for (;;) {
		struct pollfd p[4] = {
			{vm->stop_efd, POLLIN, 0}, {sig_fd, POLLIN, 0}, {m->room_efd, POLLIN, 0},
			{-1, POLLIN, 0},
		};
		if (input_open && serial_rx_room(m->com1) > 0)
			p[3].fd = con->in_fd;
		if (poll(p, 4, -1) < 0) {
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
				vm_request_stop(vm, 128 + (int)si.ssi_signo);
				return vm->exit_status;
			}
		}
		if (p[2].revents & POLLIN) {
			uint64_t n;
			ssize_t r = read(m->room_efd, &n, sizeof(n));
			(void)r;
		}
		if (p[3].revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t buf[SERIAL_RX_FIFO];
			size_t room = serial_rx_room(m->com1);
			ssize_t n = read(con->in_fd, buf, room < sizeof(buf) ? room : sizeof(buf));
			if (n > 0)
				serial_receive(m->com1, buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				input_open = false; /* end of input: the guest just sees no more */
		}
	}
}

int main(int argc, char **argv)
{
	uint64_t start_ns = now_ns();
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
	 * blocked. */
	signal(SIGPIPE, SIG_IGN);
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

	struct machine m;
	int status = machine_build(&m, &o.vm, start_ns);
	if (status == 0) {
#ifdef EMBER_TEST_HOOKS
		/* Test builds only: EMBER_TEST_FORBIDDEN=main makes the main
		 * thread try to start a process, which its filter forbids. */
		const char *hook = getenv("EMBER_TEST_FORBIDDEN");
		if (hook && strcmp(hook, "main") == 0 && fork() == 0)
			_exit(0);
#endif
		vcpus_go(&m.vm);
		status = run_loop(&m, sig_fd);
	}
	machine_destroy(&m);
	return status;
}
