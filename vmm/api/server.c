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
	s->request_ns = API_REQUEST_NS;
	s->idle_ns = API_IDLE_NS;
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
	free(c->out);
	c->out = NULL;
	c->out_off = c->out_len = 0;
	c->since = 0;
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
		c->since = 0;
		return;
	}
	close(fd); /* too many at once: the client sees the connection closed */
}

/* Send what the socket takes of out[len] without waiting (it is
 * non-blocking): how many bytes, or -1 when the connection failed. */
static ssize_t send_some(struct api_conn *c, const char *out, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = send(c->fd, out + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return -1;
		done += (size_t)n;
		c->last = now_ns();
	}
	return (ssize_t)done;
}

/* Send the answer waiting in c->out. 0 once it is all sent, 1 while some still
 * waits for the client to read, -1 when the connection failed. */
static int conn_flush(struct api_conn *c)
{
	ssize_t n = send_some(c, c->out + c->out_off, c->out_len);
	if (n < 0)
		return -1;
	c->out_off += (size_t)n;
	c->out_len -= (size_t)n;
	return c->out_len ? 1 : 0;
}

/* Answer on c (nothing of its own waits to be sent): what the socket does not
 * take at once waits in c->out, and the clock of c's deadline starts again
 * for the client to read it. 0 when all is sent, 1 while some waits, -1 when
 * the connection failed. */
static int respond(struct api_server *s, struct api_conn *c, unsigned status, unsigned flags,
		   const char *body, size_t len)
{
	size_t n = http_write_response(s->out, sizeof(s->out), status,
				       flags | (len ? HTTP_JSON : 0), body, len);
	ssize_t sent = n ? send_some(c, s->out, n) : -1;
	if (sent < 0)
		return -1;
	if ((size_t)sent == n)
		return 0;
	if (!c->out && !(c->out = malloc(API_OUT_MAX)))
		return -1;
	memcpy(c->out, s->out + sent, n - (size_t)sent);
	c->out_off = 0;
	c->out_len = n - (size_t)sent;
	c->since = now_ns();
	return 1;
}

/* Answer the requests c holds, in order, until it needs more bytes or an
 * answer waits for the client to read (the rest follow once it has). */
static void answer(struct api_server *s, struct api_conn *c)
{
	for (;;) {
		struct http_request req;
		struct errbuf e = {{0}};
		enum http_next next = http_conn_next(&c->http, &req, &e);
		int r = -1; /* HTTP_CLOSE */
		if (next == HTTP_NEED_MORE) {
			if (!http_conn_held(&c->http))
				c->since = 0; /* between requests */
			return;
		}
		if (next == HTTP_CONTINUE)
			r = respond(s, c, 100, 0, NULL, 0);
		if (next == HTTP_REFUSED) {
			api_reply_fault(&s->reply, req.refusal, "%s", e.msg);
			r = respond(s, c, s->reply.status, HTTP_CLOSE_CONN, s->reply.body,
				    s->reply.len); /* HTTP_CLOSE next */
		}
		if (next == HTTP_REQUEST) {
			s->reply.status = 500;
			s->reply.len = 0;
			s->handler(s->ctx, &req, &s->reply);
			c->since = now_ns(); /* the next request's clock starts */
			r = respond(s, c, s->reply.status, req.keep_alive ? 0 : HTTP_CLOSE_CONN,
				    s->reply.body, s->reply.len);
		}
		if (r < 0)
			conn_close(c);
		if (r)
			return;
	}
}

/* Read what the client sent and answer what it completes. */
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
	if (!c->since)
		c->since = c->last; /* a request's first bytes */
	answer(s, c);
}

/* c's socket is ready: send what waits, or else read. */
static void conn_ready(struct api_server *s, struct api_conn *c)
{
	if (!c->out_len) {
		serve(s, c);
		return;
	}
	int r = conn_flush(c);
	if (r < 0)
		conn_close(c);
	else if (r == 0)
		answer(s, c); /* the requests that came with the one just answered */
}

/* How long c has left (ns): for its request or waiting answer, or to stay
 * silent between requests. 0: its time is up. */
static uint64_t conn_left(const struct api_server *s, const struct api_conn *c, uint64_t now)
{
	uint64_t from = c->since ? c->since : c->last;
	uint64_t limit = c->since ? s->request_ns : s->idle_ns;
	uint64_t gone = now > from ? now - from : 0;
	return gone < limit ? limit - gone : 0;
}

/* c's time is up: a request still coming in is answered 408 (one try, not
 * waiting), then c is closed. */
static void conn_expire(struct api_server *s, struct api_conn *c)
{
	if (c->since && !c->out_len) {
		api_reply_fault(&s->reply, 408, "the request did not come in full within %llu ms",
				(unsigned long long)(s->request_ns / 1000000));
		size_t n = http_write_response(s->out, sizeof(s->out), 408,
					       HTTP_CLOSE_CONN | HTTP_JSON, s->reply.body,
					       s->reply.len);
		if (n)
			send_some(c, s->out, n);
	}
	conn_close(c);
}

/* Milliseconds for poll to wait for ns (rounded up; -1: for ever). */
static int poll_ms(uint64_t ns)
{
	if (ns == UINT64_MAX)
		return -1;
	uint64_t ms = (ns + 999999) / 1000000;
	return ms > 60000 ? 60000 : (int)ms;
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
		uint64_t now = now_ns(), wait = UINT64_MAX;
		for (unsigned i = 0; i < API_MAX_CONNS; i++) {
			struct api_conn *c = &s->conn[i];
			if (c->fd >= 0 && conn_left(s, c, now) < wait)
				wait = conn_left(s, c, now);
			/* One waiting answer at a time: no reading until it is sent. */
			p[2 + i] = (struct pollfd){c->fd, c->out_len ? POLLOUT : POLLIN, 0};
		}
		if (poll(p, 2 + API_MAX_CONNS, poll_ms(wait)) < 0) {
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
				conn_ready(s, &s->conn[i]);
		/* After reading what came: what is left of a request was not sent. */
		now = now_ns();
		for (unsigned i = 0; i < API_MAX_CONNS; i++)
			if (s->conn[i].fd >= 0 && !conn_left(s, &s->conn[i], now))
				conn_expire(s, &s->conn[i]);
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
