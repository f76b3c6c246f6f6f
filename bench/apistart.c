/* apistart.c: how soon ember's API answers. Starts `ember --api-sock SOCK`
 * (plus the given arguments), connects to SOCK again and again until it
 * accepts, sends GET / and reads the answer, then stops ember with SIGTERM
 * and prints one line: "ACCEPT_US ANSWER_US CPU_US STATUS" (wall time from
 * the fork to the socket accepting and to the whole answer read; ember's CPU
 * time, user + system, over its whole life; its exit status).
 *	apistart SOCK EMBER [ARGS...] */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000LL + t.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: apistart SOCK EMBER [ARGS...]\n");
		return 2;
	}
	const char *sock = argv[1];
	unlink(sock);
	char **args = calloc((size_t)argc + 2, sizeof(*args));
	if (!args)
		return 1;
	args[0] = argv[2];
	args[1] = "--api-sock";
	args[2] = (char *)sock;
	for (int i = 3; i < argc; i++)
		args[i] = argv[i];
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	long long t0 = now_us();
	pid_t pid = fork();
	if (pid == 0) {
		execv(args[0], args);
		perror(args[0]);
		_exit(127);
	}
	long long accept_us = -1, answer_us = -1;
	for (long long deadline = t0 + 5000000; now_us() < deadline;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			accept_us = now_us() - t0;
			static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
			char buf[1024];
			if (write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1))
				while (read(fd, buf, sizeof(buf)) > 0)
					;
			answer_us = now_us() - t0;
			close(fd);
			break;
		}
		if (fd >= 0)
			close(fd);
		usleep(20);
	}
	kill(pid, SIGTERM);
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0)
		return 1;
	long long cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
			ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
	printf("%lld %lld %lld %d\n", accept_us, answer_us, cpu,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return accept_us < 0;
}
