/* server.c: the API socket and its thread (see server.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/api/api_metrics.h"
#include "vmm/api/server.h"
#include "vmm/core/seccomp.h"
#include "vmm/lib/thread.h"

#define CONN_BUF HTTP_CONN_BUF_SIZE(HTTP_BODY_MAX_DEFAULT)

void api_reply_fault(struct api_reply *r, unsigned status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->status = status;
	r->len = http_fault_body(r->body, sizeof(r->body), msg);
}

/* Is there a listener at path? (A socket file nobody accepts on is stale.) */
static bool socket_alive(const struct sockaddr_un *a)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return true; /* cannot tell: leave it alone */
	int r = connect(fd, (const struct sockaddr *)a, sizeof(*a));
	int e = errno;
	close(fd);
	return r == 0 || e != ECONNREFUSED;
}

int api_server_open(struct api_server *s, const char *path, struct errbuf *err)
{
	memset(s, 0, sizeof(*s));
	s->listen_fd = s->stop_efd = s->dir_fd = -1;
	for (unsigned i = 0; i < API_MAX_CONNS; i++)
		s->conn[i].fd = -1;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(a.sun_path)) {
		err_set(err, "--api-sock: '%s' is too long for a socket path", path);
		return -1;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			err_set(err, "--api-sock: '%s' exists and is not a socket", path);
			return -1;
		}
		if (socket_alive(&a)) {
			err_set(err, "--api-sock: '%s' is in use (another ember?)", path);
			return -1;
		}
		unlink(path); /* stale */
	}
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		err_set(err, "--api-sock: cannot bind '%s': %s", path, strerror(errno));
		return -1;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	/* Removing it at exit happens under the main thread's seccomp filter,
	 * which allows unlinkat in this folder only. */
	char dir[sizeof(s->path)];
	snprintf(dir, sizeof(dir), "%s", s->path);
	char *slash = strrchr(dir, '/');
	s->name = strrchr(s->path, '/') ? strrchr(s->path, '/') + 1 : s->path;
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	s->dir_fd = open(slash ? dir : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd >= 0)
		seccomp_allow_unlinkat_dirfd(s->dir_fd);
	s->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (listen(s->listen_fd, API_MAX_CONNS) < 0 || s->stop_efd < 0) {
		err_set(err, "--api-sock: cannot listen on '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void conn_close(struct api_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

static void accept_one(struct api_server *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (unsigned i = 0; i < API_MAX_CONNS; i++) {
		struct api_conn *c = &s->conn[i];
		if (c->fd >= 0)
			continue;
		struct errbuf e;
		c->buf = malloc(CONN_BUF);
		if (!c->buf || http_conn_init(&c->http, c->buf, CONN_BUF, HTTP_BODY_MAX_DEFAULT, &e)) {
			free(c->buf);
			c->buf = NULL;
			break;
		}
		c->fd = fd;
		c->last = now_ns();
		return;
	}
	close(fd); /* too many at once: the client sees the connection closed */
}

/* Write all of out[len] (the socket is non-blocking; a client that does not
 * read its answers loses the connection). 0 or -1. */
static int send_all(int fd, const char *out, size_t len)
{
	while (len) {
		ssize_t n = send(fd, out, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN) {
				struct pollfd p = {fd, POLLOUT, 0};
				if (poll(&p, 1, 1000) == 1)
					continue;
			}
			return -1;
		}
		out += n;
		len -= (size_t)n;
	}
	return 0;
}

static int respond(struct api_server *s, int fd, unsigned status, unsigned flags, const char *body,
		   size_t len)
{
	size_t n = http_write_response(s->out, sizeof(s->out), status,
				       flags | (len ? HTTP_JSON : 0), body, len);
	return n ? send_all(fd, s->out, n) : -1;
}

/* Read what the client sent and answer every complete request. */
static void serve(struct api_server *s, struct api_conn *c)
{
	size_t room;
	uint8_t *in = http_conn_room(&c->http, &room);
	ssize_t n = room ? recv(c->fd, in, room, 0) : 0;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	http_conn_received(&c->http, (size_t)n);
	c->last = now_ns();
	for (;;) {
		struct http_request req;
		struct errbuf e = {{0}};
		enum http_next next = http_conn_next(&c->http, &req, &e);
		if (next == HTTP_NEED_MORE)
			return;
		if (next == HTTP_CONTINUE) {
			if (respond(s, c->fd, 100, 0, NULL, 0))
				break;
			continue;
		}
		if (next == HTTP_REFUSED) {
			api_reply_fault(&s->reply, req.refusal, "%s", e.msg);
			respond(s, c->fd, s->reply.status, HTTP_CLOSE_CONN, s->reply.body, s->reply.len);
			break;
		}
		if (next != HTTP_REQUEST)
			break;
		s->reply.status = 500;
		s->reply.len = 0;
		s->handler(s->ctx, &req, &s->reply);
		if (respond(s, c->fd, s->reply.status, req.keep_alive ? 0 : HTTP_CLOSE_CONN,
			    s->reply.body, s->reply.len))
			break;
	}
	conn_close(c);
}

static void *server_thread(void *arg)
{
	struct api_server *s = arg;
	pthread_setname_np(pthread_self(), "api");
	if (seccomp_thread_install(SECCOMP_API))
		return NULL; /* logged; the socket then answers nothing */
	api_metrics_serving(); /* the start-up time: from here on the socket is served */
	static struct pollfd p[2 + API_MAX_CONNS];
	for (;;) {
		p[0] = (struct pollfd){s->stop_efd, POLLIN, 0};
		p[1] = (struct pollfd){s->listen_fd, POLLIN, 0};
		bool open = false;
		uint64_t now = now_ns();
		for (unsigned i = 0; i < API_MAX_CONNS; i++) {
			if (s->conn[i].fd >= 0 && now - s->conn[i].last > API_IDLE_NS)
				conn_close(&s->conn[i]); /* silent too long */
			open |= s->conn[i].fd >= 0;
			p[2 + i] = (struct pollfd){s->conn[i].fd, POLLIN, 0};
		}
		if (poll(p, 2 + API_MAX_CONNS, open ? 1000 : -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (p[0].revents)
			return NULL;
		if (p[1].revents & POLLIN)
			accept_one(s);
		for (unsigned i = 0; i < API_MAX_CONNS; i++)
			if (s->conn[i].fd >= 0 && p[2 + i].revents)
				serve(s, &s->conn[i]);
	}
}

int api_server_start(struct api_server *s, api_handler_fn *handler, void *ctx,
		     struct errbuf *err)
{
	s->handler = handler;
	s->ctx = ctx;
	int r = thread_start(&s->thread, THREAD_STACK_API, server_thread, s);
	if (r) {
		err_set(err, "cannot start the API thread: %s", strerror(r));
		return -1;
	}
	s->started = true;
	return 0;
}

void api_server_close(struct api_server *s)
{
	if (s->started) {
		uint64_t one = 1;
		ssize_t w = write(s->stop_efd, &one, sizeof(one));
		(void)w;
		pthread_join(s->thread, NULL);
		s->started = false;
	}
	for (unsigned i = 0; i < API_MAX_CONNS; i++)
		conn_close(&s->conn[i]);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		if (s->dir_fd >= 0)
			unlinkat(s->dir_fd, s->name, 0);
	}
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	if (s->stop_efd >= 0)
		close(s->stop_efd);
	s->listen_fd = s->stop_efd = s->dir_fd = -1;
}
