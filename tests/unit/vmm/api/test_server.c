/* test_server.c: the API socket's server (vmm/api/server.c) with real clients
 * on its Unix socket and short deadlines: a request trickled in byte by byte
 * answered 408 and closed at its deadline; every connection held that way
 * freed for new clients; a client that pipelines requests with large answers
 * and does not read delays no other client, and still gets every answer, in
 * order, once it reads; an answer never read closes the connection at the
 * deadline; idle keep-alive connections kept for the idle time only; Expect:
 * 100-continue. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/api/server.h"

#define MS 1000000ull
/* The body of an answer to GET /big/N: larger than a socket buffer takes in
 * a few answers. */
#define BIG 60000

static struct api_server srv;
static char dir[64], path[96];
static char got[4 << 20]; /* what a client read */

/* GET /big/N: {"n":N,"pad":"xx...x"} of BIG bytes; PUT: 204; else
 * {"path":"PATH"}. */
static void handler(void *ctx, const struct http_request *req, struct api_reply *r)
{
	(void)ctx;
	unsigned n;
	r->status = 200;
	if (sscanf(req->path, "/big/%u", &n) == 1) {
		int k = snprintf(r->body, sizeof(r->body), "{\"n\":%u,\"pad\":\"", n);
		memset(r->body + k, 'x', BIG - 2 - (size_t)k);
		memcpy(r->body + BIG - 2, "\"}", 2);
		r->len = BIG;
	} else if (req->method == HTTP_PUT) {
		r->status = 204;
		r->len = 0;
	} else {
		r->len = (size_t)snprintf(r->body, sizeof(r->body), "{\"path\":\"%s\"}", req->path);
	}
}

/* Serve on a fresh socket with these deadlines. 0 or -1. */
static int start(uint64_t request_ns, uint64_t idle_ns)
{
	struct errbuf err = {{0}};
	snprintf(dir, sizeof(dir), "/tmp/ember-api-server.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/api.sock", dir);
	if (api_server_open(&srv, path, &err))
		return -1;
	srv.request_ns = request_ns;
	srv.idle_ns = idle_ns;
	return api_server_start(&srv, handler, NULL, &err);
}

static void stop(void)
{
	api_server_close(&srv);
	rmdir(dir);
}

static int client(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool send_str(int fd, const char *s)
{
	return send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s);
}

static bool readable(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, ms) == 1;
}

static unsigned count_answers(size_t len, bool *in_order);

/* Read into got (NUL-terminated) until the server closes the connection, n
 * bytes or (unless 0) as many whole answers are in, or ms pass. Returns the
 * bytes read; *closed tells whether the connection ended (EOF, or a reset
 * after the data). */
static size_t read_until(int fd, size_t n, unsigned answers, int ms, bool *closed)
{
	uint64_t end = now_ns() + (uint64_t)ms * MS;
	size_t len = 0;
	bool in_order;
	*closed = false;
	while (len < n && len < sizeof(got) - 1 &&
	       (!answers || count_answers(len, &in_order) < answers)) {
		uint64_t now = now_ns();
		if (now >= end || !readable(fd, (int)((end - now + MS - 1) / MS)))
			break;
		ssize_t r = recv(fd, got + len, sizeof(got) - 1 - len, 0);
		if (r <= 0) {
			*closed = r == 0 || errno == ECONNRESET;
			break;
		}
		len += (size_t)r;
		got[len] = '\0';
	}
	got[len] = '\0';
	return len;
}

/* How many whole answers got[0..len) holds; each body must hold "n":i for
 * the i-th (answers to GET /big/i, i from 0), else *in_order turns false. */
static unsigned count_answers(size_t len, bool *in_order)
{
	unsigned k = 0;
	size_t at = 0;
	*in_order = true;
	for (;;) {
		char *end = strstr(got + at, "\r\n\r\n");
		char *cl = strstr(got + at, "Content-Length: ");
		if (!end || !cl || cl > end)
			return k;
		size_t body = (size_t)(end + 4 - got), blen = strtoul(cl + 16, NULL, 10);
		if (body + blen > len)
			return k;
		char want[32];
		int w = snprintf(want, sizeof(want), "{\"n\":%u,", k);
		if (blen < (size_t)w || memcmp(got + body, want, (size_t)w))
			*in_order = false;
		at = body + blen;
		k++;
	}
}

/* A request sent one byte every 50 ms never finishes: at its deadline it is
 * answered 408 and the connection is closed (every byte used to restart the
 * 30 s idle clock, so it was held for ever). */
static void trickled_request_answered_408(void)
{
	CHECK_EQ(start(300 * MS, API_IDLE_NS), 0);
	int fd = client();
	CHECK(fd >= 0);
	static const char head[] = "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
				   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	uint64_t t0 = now_ns();
	bool answered = false;
	for (size_t i = 0; i < sizeof(head) - 1 && !answered; i++) {
		send(fd, head + i, 1, MSG_NOSIGNAL); /* fails once the server has closed */
		answered = readable(fd, 50);
	}
	bool closed;
	read_until(fd, sizeof(got), 0, 1000, &closed);
	uint64_t took = now_ns() - t0;
	close(fd);
	stop();
	CHECK(answered);
	CHECK(closed);
	CHECK(strncmp(got, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
	CHECK(strstr(got, "Connection: close\r\n") != NULL);
	CHECK(strstr(got, "\"fault_message\":\"the request did not come in full within 300 ms\""));
	CHECK(took >= 300 * MS);
}

/* Every connection taken by a request that never finishes: a new client is
 * turned away while they last, and served once their deadline has freed
 * them; each of them got its 408. */
static void stalled_requests_free_their_connections(void)
{
	static int fd[API_MAX_CONNS];
	CHECK_EQ(start(1000 * MS, API_IDLE_NS), 0);
	uint64_t t0 = now_ns();
	unsigned opened = 0;
	for (unsigned i = 0; i < API_MAX_CONNS; i++) {
		fd[i] = client();
		opened += fd[i] >= 0 && send_str(fd[i], "GET / HTTP/1.1\r\nHost: loc");
	}
	bool closed;
	int late = client();
	if (late >= 0) /* may fail: the server closes it at once */
		send_str(late, "GET /late HTTP/1.1\r\n\r\n");
	size_t n = read_until(late, sizeof(got), 0, 2000, &closed);
	bool turned_away = n == 0 && closed && now_ns() - t0 < 1000 * MS;
	close(late);
	usleep(1500 * 1000); /* past the deadline */
	late = client();
	bool sent = late >= 0 && send_str(late, "GET /late HTTP/1.1\r\n\r\n");
	read_until(late, sizeof(got), 0, 2000, &closed);
	bool served = strncmp(got, "HTTP/1.1 200 OK\r\n", 17) == 0 &&
		      strstr(got, "{\"path\":\"/late\"}") != NULL;
	close(late);
	unsigned timed_out = 0;
	for (unsigned i = 0; i < API_MAX_CONNS; i++) {
		if (fd[i] < 0)
			continue;
		read_until(fd[i], sizeof(got), 0, 1000, &closed);
		timed_out += closed && strncmp(got, "HTTP/1.1 408 ", 13) == 0;
		close(fd[i]);
	}
	stop();
	CHECK_EQ(opened, API_MAX_CONNS);
	CHECK(sent);
	CHECK(turned_away); /* the premise: every connection was taken */
	CHECK(served);
	CHECK_EQ(timed_out, API_MAX_CONNS);
}

/* Send GET /big/0 .. /big/(n-1) pipelined, in one go. */
static bool send_big(int fd, unsigned n)
{
	char req[64 * 64] = "";
	size_t len = 0;
	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(req + len, sizeof(req) - len,
					"GET /big/%u HTTP/1.1\r\nHost: l\r\n\r\n", i);
	return len < sizeof(req) && send_str(fd, req);
}

/* The bytes of one answer to GET /big/N. */
static size_t big_answer_len(void)
{
	static char body[BIG], out[API_OUT_MAX];
	return http_write_response(out, sizeof(out), 200, HTTP_JSON, body, BIG);
}

/* One request on a new connection: how long its answer took (ms), or ~0
 * when it did not come. */
static uint64_t timed_get(void)
{
	uint64_t t0 = now_ns();
	int fd = client();
	bool closed;
	if (fd < 0 || !send_str(fd, "GET /quick HTTP/1.1\r\nConnection: close\r\n\r\n")) {
		if (fd >= 0)
			close(fd);
		return ~0ull;
	}
	read_until(fd, sizeof(got), 0, 3000, &closed);
	close(fd);
	bool ok = closed && strstr(got, "{\"path\":\"/quick\"}") != NULL;
	return ok ? (now_ns() - t0) / MS : ~0ull;
}

/* A client pipelines 40 requests whose answers (2.4 MB) are far more than
 * its socket takes, and does not read: other clients are answered at once
 * (the thread used to wait 1 s on it, then close it), and once it reads it
 * gets all 40 answers, in order. */
static void non_reading_client_delays_nobody(void)
{
	CHECK_EQ(start(API_REQUEST_NS, API_IDLE_NS), 0);
	int a = client();
	bool sent = a >= 0 && send_big(a, 40);
	usleep(50 * 1000); /* the server is at its answers */
	uint64_t worst = 0;
	for (int i = 0; i < 5; i++) {
		uint64_t ms = timed_get();
		worst = ms > worst ? ms : worst;
	}
	size_t all = 40 * big_answer_len();
	bool closed;
	size_t n = read_until(a, all, 40, 5000, &closed);
	bool in_order;
	unsigned answers = count_answers(n, &in_order);
	close(a);
	stop();
	CHECK(sent);
	CHECK(worst < 900); /* (it was 1 s and more; margin for a loaded machine) */
	CHECK_EQ(n, all);
	CHECK_EQ(answers, 40);
	CHECK(in_order);
	CHECK(!closed); /* kept alive */
}

/* Answers the client does not read within the deadline: the connection is
 * closed (its slot freed), without the answers still to come. */
static void unread_answer_closes_at_the_deadline(void)
{
	CHECK_EQ(start(300 * MS, API_IDLE_NS), 0);
	int a = client();
	bool sent = a >= 0 && send_big(a, 40);
	usleep(1000 * 1000);
	bool closed;
	size_t n = read_until(a, sizeof(got), 0, 3000, &closed);
	bool in_order;
	unsigned answers = count_answers(n, &in_order);
	close(a);
	stop();
	CHECK(sent);
	CHECK(closed);
	CHECK(answers < 40);
	CHECK(in_order);
}

/* Between requests only the idle time counts: a keep-alive connection silent
 * for longer than the request deadline is still served; one silent for the
 * idle time is closed. */
static void idle_keep_alive_kept_for_the_idle_time(void)
{
	CHECK_EQ(start(200 * MS, 2000 * MS), 0);
	int fd = client();
	bool closed, ok = fd >= 0;
	for (int i = 0; i < 2 && ok; i++) {
		ok = send_str(fd, "GET /again HTTP/1.1\r\n\r\n");
		size_t n = read_until(fd, sizeof(got), 1, 2000, &closed);
		ok &= !closed && n > 0 && strstr(got, "{\"path\":\"/again\"}") != NULL;
		usleep(500 * 1000); /* longer than the request deadline */
	}
	read_until(fd, sizeof(got), 0, 5000, &closed); /* silent past the idle time */
	close(fd);
	stop();
	CHECK(ok);
	CHECK(closed);
	CHECK_EQ(got[0], '\0');
}

/* Expect: 100-continue: "100 Continue" first, the answer after the body. */
static void expect_continue(void)
{
	CHECK_EQ(start(API_REQUEST_NS, API_IDLE_NS), 0);
	int fd = client();
	bool closed;
	bool ok = fd >= 0 && send_str(fd, "PUT /x HTTP/1.1\r\nContent-Length: 2\r\n"
					  "Expect: 100-continue\r\n\r\n");
	read_until(fd, 25, 0, 2000, &closed);
	ok &= strcmp(got, "HTTP/1.1 100 Continue\r\n\r\n") == 0;
	ok &= send_str(fd, "{}");
	read_until(fd, sizeof(got), 0, 500, &closed);
	close(fd);
	stop();
	CHECK(ok);
	CHECK(strncmp(got, "HTTP/1.1 204 No Content\r\n", 25) == 0);
}

int main(void)
{
	RUN(trickled_request_answered_408);
	RUN(stalled_requests_free_their_connections);
	RUN(non_reading_client_delays_nobody);
	RUN(unread_answer_closes_at_the_deadline);
	RUN(idle_keep_alive_kept_for_the_idle_time);
	RUN(expect_continue);
	return check_summary();
}
