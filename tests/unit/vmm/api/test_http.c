/* test_http.c: the API socket's HTTP/1.1 layer (vmm/api/http.c): requests fed
 * whole, in pieces and byte by byte, pipelined and kept alive or closed; every
 * refusal with its status and the connection closed after it; Expect:
 * 100-continue; the response writer's exact bytes and its bounds; the fault
 * body's JSON escaping and bounds. */
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/api/http.h"

static uint8_t buf[HTTP_CONN_BUF_SIZE(HTTP_BODY_MAX_DEFAULT)];
static struct http_conn conn;
static struct http_request req;
static struct errbuf err;

static int open_conn(size_t body_max)
{
	memset(&err, 0, sizeof(err));
	return http_conn_init(&conn, buf, HTTP_CONN_BUF_SIZE(body_max), body_max, &err);
}

/* Feed n bytes (all must fit), then take the next step. */
static int send_n(const void *s, size_t n)
{
	if (http_conn_feed(&conn, s, n) != n)
		return -1;
	memset(&req, 0xa5, sizeof(req));
	err.msg[0] = '\0';
	return (int)http_conn_next(&conn, &req, &err);
}

static int send_str(const char *s)
{
	return send_n(s, strlen(s));
}

static int next(void)
{
	return (int)http_conn_next(&conn, &req, &err);
}

static void simple_get(void)
{
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("GET /machine-config HTTP/1.1\r\nHost: localhost\r\n"
			  "Accept: application/json\r\n\r\n"), HTTP_REQUEST);
	CHECK_EQ(req.method, HTTP_GET);
	CHECK_STR_EQ(req.method_name, "GET");
	CHECK_STR_EQ(req.path, "/machine-config");
	CHECK(req.query == NULL);
	CHECK_EQ(req.version, 11);
	CHECK(req.keep_alive);
	CHECK(!req.expect_continue);
	CHECK_EQ(req.body_len, 0);
	CHECK_EQ(req.head_len, 75);
	CHECK_EQ(next(), HTTP_NEED_MORE);
}

static const char put_drive[] = "PUT /drives/rootfs HTTP/1.1\r\nHost: localhost\r\n"
				"Content-Type: application/json\r\nContent-Length: 27\r\n\r\n"
				"{\"drive_id\":\"rootfs\",\"x\":1}";

static void put_with_body(void)
{
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str(put_drive), HTTP_REQUEST);
	CHECK_EQ(req.method, HTTP_PUT);
	CHECK_STR_EQ(req.path, "/drives/rootfs");
	CHECK_EQ(req.body_len, 27);
	CHECK_MEM_EQ(req.body, "{\"drive_id\":\"rootfs\",\"x\":1}", 27);
	CHECK_EQ(next(), HTTP_NEED_MORE);
}

static void patch_and_other_methods(void)
{
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("PATCH /vm HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"), HTTP_REQUEST);
	CHECK_EQ(req.method, HTTP_PATCH);
	CHECK_EQ(send_str("DELETE /vm HTTP/1.1\r\n\r\n"), HTTP_REQUEST);
	CHECK_EQ(req.method, HTTP_OTHER);
	CHECK_STR_EQ(req.method_name, "DELETE");
	/* Methods are case-sensitive: "get" is not GET (the caller answers 405). */
	CHECK_EQ(send_str("get / HTTP/1.1\r\n\r\n"), HTTP_REQUEST);
	CHECK_EQ(req.method, HTTP_OTHER);
	CHECK_STR_EQ(req.method_name, "get");
}

static void body_split_across_feeds(void)
{
	const char *body = strstr(put_drive, "\r\n\r\n") + 4;
	size_t head = (size_t)(body - put_drive);
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_n(put_drive, head - 3), HTTP_NEED_MORE);
	CHECK_EQ(send_n(put_drive + head - 3, 3), HTTP_NEED_MORE);
	CHECK_EQ(send_n(body, 10), HTTP_NEED_MORE);
	CHECK_EQ(send_n(body + 10, 16), HTTP_NEED_MORE);
	CHECK_EQ(send_n(body + 26, 1), HTTP_REQUEST);
	CHECK_EQ(req.body_len, 27);
	CHECK_MEM_EQ(req.body, body, 27);
}

static void byte_by_byte(void)
{
	size_t n = strlen(put_drive);
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	for (size_t i = 0; i + 1 < n; i++)
		CHECK_EQ(send_n(put_drive + i, 1), HTTP_NEED_MORE);
	CHECK_EQ(send_n(put_drive + n - 1, 1), HTTP_REQUEST);
	CHECK_STR_EQ(req.path, "/drives/rootfs");
	CHECK_MEM_EQ(req.body, "{\"drive_id\":\"rootfs\",\"x\":1}", 27);
}

static void two_pipelined_in_one_feed(void)
{
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("PUT /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
			  "GET /b?x=1 HTTP/1.1\r\n\r\nPUT /c HTTP/1.1\r\nContent-Len"),
		 HTTP_REQUEST);
	CHECK_STR_EQ(req.path, "/a");
	CHECK_MEM_EQ(req.body, "abc", 3);
	CHECK_EQ(next(), HTTP_REQUEST);
	CHECK_STR_EQ(req.path, "/b");
	CHECK_STR_EQ(req.query, "x=1");
	CHECK_EQ(next(), HTTP_NEED_MORE);
	/* The rest of the third comes later. */
	CHECK_EQ(send_str("gth: 1\r\n\r\nz"), HTTP_REQUEST);
	CHECK_STR_EQ(req.path, "/c");
	CHECK_MEM_EQ(req.body, "z", 1);
	CHECK_EQ(next(), HTTP_NEED_MORE);
}

static void keep_alive_then_close(void)
{
	size_t room;
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("GET /a HTTP/1.1\r\n\r\n"), HTTP_REQUEST);
	CHECK(req.keep_alive);
	CHECK_EQ(send_str("GET /b HTTP/1.1\r\nConnection: close\r\n\r\nGET /c HTTP/1.1\r\n\r\n"),
		 HTTP_REQUEST);
	CHECK_STR_EQ(req.path, "/b");
	CHECK(!req.keep_alive);
	/* Nothing after a request that closes the connection is served. */
	CHECK_EQ(next(), HTTP_CLOSE);
	CHECK_EQ(next(), HTTP_CLOSE);
	http_conn_room(&conn, &room);
	CHECK_EQ(room, 0);
	CHECK_EQ(http_conn_feed(&conn, "x", 1), 0);
}

static void connection_options(void)
{
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n\r\n"), HTTP_REQUEST);
	CHECK(req.keep_alive);
	CHECK_EQ(send_str("GET / HTTP/1.1\r\nConnection: foo,, CLOSE \r\n\r\n"), HTTP_REQUEST);
	CHECK(!req.keep_alive);
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n"), HTTP_REQUEST);
	CHECK(req.keep_alive);
}

static void http10_closes_unless_keep_alive(void)
{
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), HTTP_REQUEST);
	CHECK_EQ(req.version, 10);
	CHECK(req.keep_alive);
	CHECK_EQ(send_str("GET /b HTTP/1.0\r\n\r\n"), HTTP_REQUEST);
	CHECK(!req.keep_alive);
	CHECK_EQ(next(), HTTP_CLOSE);
}

static void header_names_any_case(void)
{
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("PUT /a HTTP/1.1\r\ncontent-length: 2\r\n\r\nab"), HTTP_REQUEST);
	CHECK_EQ(req.body_len, 2);
	CHECK_EQ(send_str("PUT /a HTTP/1.1\r\nCONTENT-LENGTH:\t3 \t\r\n\r\nabc"), HTTP_REQUEST);
	CHECK_EQ(req.body_len, 3);
	CHECK_EQ(send_str("GET /a HTTP/1.1\r\ncOnNeCtIoN: ClOsE\r\n\r\n"), HTTP_REQUEST);
	CHECK(!req.keep_alive);
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("PUT /a HTTP/1.1\r\ntransfer-ENCODING: chunked\r\n\r\n"), HTTP_REFUSED);
	CHECK_EQ(req.refusal, 501);
}

static void query_kept_apart(void)
{
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("GET /a/b?c=d?e&f HTTP/1.1\r\n\r\n"), HTTP_REQUEST);
	CHECK_STR_EQ(req.path, "/a/b");
	CHECK_STR_EQ(req.query, "c=d?e&f");
	CHECK_EQ(send_str("GET /?  HTTP/1.1\r\n\r\n"), HTTP_REFUSED);
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("GET /x? HTTP/1.1\r\n\r\n"), HTTP_REQUEST);
	CHECK_STR_EQ(req.path, "/x");
	CHECK_STR_EQ(req.query, "");
	/* Nothing is percent-decoded. */
	CHECK_EQ(send_str("GET /a%20b HTTP/1.1\r\n\r\n"), HTTP_REQUEST);
	CHECK_STR_EQ(req.path, "/a%20b");
}

static void empty_lines_before_request_skipped(void)
{
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("\r\n\r"), HTTP_NEED_MORE);
	CHECK_EQ(send_str("\n\r\nGET /a HTTP/1.1\r\n\r\n\r\n"), HTTP_REQUEST);
	CHECK_STR_EQ(req.path, "/a");
	CHECK_EQ(next(), HTTP_NEED_MORE);
	CHECK_EQ(send_str("GET /b HTTP/1.1\r\n\r\n"), HTTP_REQUEST);
	CHECK_STR_EQ(req.path, "/b");
}

static void get_with_body(void)
{
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("GET /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nbodyGET /b HTTP/1.1\r\n\r\n"),
		 HTTP_REQUEST);
	CHECK_MEM_EQ(req.body, "body", 4);
	CHECK_EQ(next(), HTTP_REQUEST);
	CHECK_STR_EQ(req.path, "/b");
	CHECK_EQ(req.body_len, 0);
}

/* Each refused request: its status, a message, and the connection closed. */
static const struct {
	const char *req;
	size_t len;
	unsigned status;
} refusals[] = {
#define R(s, st) {s, sizeof(s) - 1, st}
	R("GET http://localhost/ HTTP/1.1\r\n\r\n", 400),
	R("OPTIONS * HTTP/1.1\r\n\r\n", 400),
	R("CONNECT localhost:80 HTTP/1.1\r\n\r\n", 400),
	R("GET /a#frag HTTP/1.1\r\n\r\n", 400),
	R("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 400),
	R("GET  / HTTP/1.1\r\n\r\n", 400),
	R("GET /  HTTP/1.1\r\n\r\n", 400),
	R("GET / HTTP/1.1 \r\n\r\n", 400),
	R("GET\t/ HTTP/1.1\r\n\r\n", 400),
	R("GET /\r\n\r\n", 400),
	R("GET / \r\n\r\n", 400),
	R(" GET / HTTP/1.1\r\n\r\n", 400),
	R("G(T / HTTP/1.1\r\n\r\n", 400),
	R("GET / http/1.1\r\n\r\n", 400),
	R("GET / HTTP/1\r\n\r\n", 400),
	R("GET / HTTP/1.10\r\n\r\n", 400),
	R("GET / HTTP/1.x\r\n\r\n", 400),
	R("GET / HTTP/2.0\r\n\r\n", 505),
	R("GET / HTTP/1.2\r\n\r\n", 505),
	R("GET / HTTP/0.9\r\n\r\n", 505),
	R("PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
	R("PUT /a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
	R("PUT /a HTTP/1.1\r\nContent-Length: 51201\r\n\r\n", 413),
	R("PUT /a HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 413),
	R("PUT /a HTTP/1.1\r\nContent-Length: 18446744073709551617\r\n\r\n", 413),
	R("PUT /a HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", 400),
	R("PUT /a HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 3\r\n\r\nab", 400),
	R("PUT /a HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nab", 400),
	R("PUT /a HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", 400),
	R("PUT /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
	R("PUT /a HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400),
	R("PUT /a HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400),
	R("PUT /a HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400),
	R("PUT /a HTTP/1.1\r\nContent-Length:\r\n\r\n", 400),
	R("PUT /a HTTP/1.1\r\n\r\n{}", 411),
	R("PATCH /vm HTTP/1.1\r\nHost: x\r\n\r\n", 411),
	R("GET / HTTP/1.1\n\n", 400),
	R("GET / HTTP/1.1\r\nHost: x\n\r\n", 400),
	R("GET / HTTP/1.1\rHost: x\r\n\r\n", 400),
	R("GET / HTTP/1.1\r\nHost: x\r\r\n\r\n", 400),
	R("GET /\0 HTTP/1.1\r\n\r\n", 400),
	R("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 400),
	R("GET /\x01 HTTP/1.1\r\n\r\n", 400),
	R("GET / HTTP/1.1\r\nHost: a\x1b[2J\r\n\r\n", 400),
	R("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 400),
	R("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
	R("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
	R("GET / HTTP/1.1\r\n: x\r\n\r\n", 400),
	R("GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400),
	R("GET / HTTP/1.1\r\nBad[name]: x\r\n\r\n", 400),
	R("PUT /a HTTP/1.1\r\nContent-Length: 2\r\nExpect: 200-ok\r\n\r\nab", 417),
#undef R
};

static void every_refusal(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(refusals); i++) {
		size_t room;
		CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
		int r = send_n(refusals[i].req, refusals[i].len);
		if (r != HTTP_REFUSED || req.refusal != refusals[i].status)
			printf("  refusal %zu: %d, status %u (%s)\n", i, r, req.refusal, err.msg);
		CHECK_EQ(r, HTTP_REFUSED);
		CHECK_EQ(req.refusal, refusals[i].status);
		CHECK(err.msg[0] != '\0');
		CHECK(!req.keep_alive);
		CHECK_EQ(next(), HTTP_CLOSE);
		http_conn_room(&conn, &room);
		CHECK_EQ(room, 0);
	}
}

/* The same refusals when the bytes come one at a time. */
static void every_refusal_byte_by_byte(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(refusals); i++) {
		int r = HTTP_NEED_MORE;
		CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
		for (size_t k = 0; k < refusals[i].len && r == HTTP_NEED_MORE; k++)
			r = send_n(refusals[i].req + k, 1);
		if (r != HTTP_REFUSED || req.refusal != refusals[i].status)
			printf("  refusal %zu: %d, status %u (%s)\n", i, r, req.refusal, err.msg);
		CHECK_EQ(r, HTTP_REFUSED);
		CHECK_EQ(req.refusal, refusals[i].status);
	}
}

/* A bare LF or a control character is refused as soon as it comes, not when
 * the head would end. */
static void refused_before_head_ends(void)
{
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("GET / HTTP/1.1\n"), HTTP_REFUSED);
	CHECK_EQ(req.refusal, 400);
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("GET / HTTP/1.1\r\nX: \x02"), HTTP_REFUSED);
	CHECK_EQ(req.refusal, 400);
}

/* A head of "GET / HTTP/1.1\r\nX: <pad>\r\n\r\n" exactly total bytes long. */
static size_t head_of(char *out, size_t total)
{
	static const char start[] = "GET / HTTP/1.1\r\nX: ";
	size_t n = sizeof(start) - 1;
	memcpy(out, start, n);
	memset(out + n, 'a', total - n - 4);
	memcpy(out + total - 4, "\r\n\r\n", 4);
	return total;
}

static void head_limit(void)
{
	static char h[HTTP_HEAD_MAX + 2];
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_n(h, head_of(h, HTTP_HEAD_MAX)), HTTP_REQUEST);
	CHECK_EQ(req.head_len, HTTP_HEAD_MAX);
	CHECK_EQ(send_n(h, head_of(h, HTTP_HEAD_MAX + 1)), HTTP_REFUSED);
	CHECK_EQ(req.refusal, 431);
	/* A head that never ends is refused once it passes the limit. */
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	memset(h, 'a', sizeof(h));
	memcpy(h, "GET / HTTP/1.1\r\nX: ", 19);
	CHECK_EQ(send_n(h, HTTP_HEAD_MAX - 1), HTTP_NEED_MORE);
	CHECK_EQ(send_n(h, 1), HTTP_REFUSED);
	CHECK_EQ(req.refusal, 431);
	/* With no body allowed the buffer is the head's limit: a CR as its last
	 * byte is refused at once, not waited on (its LF has no room; fuzz_http
	 * found the stall). */
	CHECK_EQ(open_conn(0), 0);
	memset(h, 'a', sizeof(h));
	memcpy(h, "GET / HTTP/1.1\r\nX: ", 19);
	h[HTTP_HEAD_MAX - 1] = '\r';
	CHECK_EQ(send_n(h, HTTP_HEAD_MAX), HTTP_REFUSED);
	CHECK_EQ(req.refusal, 431);
}

static void body_limit_is_a_parameter(void)
{
	CHECK_EQ(open_conn(16), 0);
	CHECK_EQ(send_str("PUT /a HTTP/1.1\r\nContent-Length: 16\r\n\r\n0123456789abcdef"),
		 HTTP_REQUEST);
	CHECK_EQ(req.body_len, 16);
	CHECK_EQ(send_str("PUT /a HTTP/1.1\r\nContent-Length: 17\r\n\r\n"), HTTP_REFUSED);
	CHECK_EQ(req.refusal, 413);
	CHECK(strstr(err.msg, "16 bytes") != NULL);
	/* The default: Firecracker's 51200 bytes. */
	static char big[HTTP_HEAD_MAX + HTTP_BODY_MAX_DEFAULT];
	int n = snprintf(big, sizeof(big), "PUT /a HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
			 HTTP_BODY_MAX_DEFAULT);
	memset(big + n, 'b', HTTP_BODY_MAX_DEFAULT);
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_n(big, (size_t)n + HTTP_BODY_MAX_DEFAULT), HTTP_REQUEST);
	CHECK_EQ(req.body_len, HTTP_BODY_MAX_DEFAULT);
}

static void init_checks_the_buffer(void)
{
	CHECK_EQ(http_conn_init(&conn, buf, HTTP_HEAD_MAX + 99, 100, &err), -1);
	CHECK(strstr(err.msg, "cannot hold") != NULL);
	CHECK_EQ(http_conn_init(&conn, buf, 100, 0, &err), -1);
	CHECK_EQ(http_conn_init(&conn, buf, SIZE_MAX, (size_t)UINT32_MAX + 1, &err), -1);
	CHECK_EQ(http_conn_init(&conn, buf, HTTP_HEAD_MAX, 0, &err), 0);
	CHECK_EQ(send_str("GET / HTTP/1.1\r\n\r\n"), HTTP_REQUEST);
}

static void expect_100_continue(void)
{
	static char body[2000];
	memset(body, 'j', sizeof(body));
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	CHECK_EQ(send_str("PUT /drives/d HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000\r\n"
			  "Expect: 100-continue\r\n\r\n"), HTTP_CONTINUE);
	CHECK(req.expect_continue);
	CHECK_STR_EQ(req.path, "/drives/d");
	CHECK_EQ(req.body_len, 2000);
	CHECK(req.body == NULL);
	CHECK_EQ(next(), HTTP_NEED_MORE);
	CHECK_EQ(send_n(body, 1000), HTTP_NEED_MORE);
	CHECK_EQ(send_n(body, 1000), HTTP_REQUEST);
	CHECK(req.expect_continue);
	CHECK_EQ(req.body_len, 2000);
	/* The body already here (the client did not wait): no 100 needed. */
	CHECK_EQ(send_str("PUT /a HTTP/1.1\r\nEXPECT: 100-Continue\r\nContent-Length: 1\r\n\r\nx"),
		 HTTP_REQUEST);
	/* No body, nothing to wait for. */
	CHECK_EQ(send_str("GET /a HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"), HTTP_REQUEST);
	/* HTTP/1.0: the expectation is ignored (RFC 9110 10.1.1), so is a bad one. */
	CHECK_EQ(send_str("PUT /a HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n"
			  "Content-Length: 1\r\n\r\n"), HTTP_NEED_MORE);
	CHECK_EQ(send_str("x"), HTTP_REQUEST);
	CHECK(!req.expect_continue);
	CHECK_EQ(send_str("PUT /a HTTP/1.0\r\nExpect: x\r\nContent-Length: 0\r\n\r\n"), HTTP_REQUEST);
}

/* A flood of pipelined requests: feed takes what fits, the rest waits. */
static void feed_takes_what_fits(void)
{
	static char flood[3 * HTTP_CONN_BUF_SIZE(64)];
	static const char one[] = "GET /f HTTP/1.1\r\n\r\n";
	size_t n = 0, served = 0, at = 0;
	while (n + sizeof(one) - 1 <= sizeof(flood)) {
		memcpy(flood + n, one, sizeof(one) - 1);
		n += sizeof(one) - 1;
	}
	CHECK_EQ(open_conn(64), 0);
	while (at < n) {
		size_t took = http_conn_feed(&conn, flood + at, n - at);
		CHECK(took > 0);
		at += took;
		int r;
		while ((r = next()) == HTTP_REQUEST) {
			CHECK_STR_EQ(req.path, "/f");
			served++;
		}
		CHECK_EQ(r, HTTP_NEED_MORE);
	}
	CHECK_EQ(served, n / (sizeof(one) - 1));
}

/* read() straight into the buffer. */
static void room_and_received(void)
{
	size_t room;
	CHECK_EQ(open_conn(HTTP_BODY_MAX_DEFAULT), 0);
	uint8_t *to = http_conn_room(&conn, &room);
	CHECK_EQ(room, sizeof(buf));
	memcpy(to, "GET /r HTTP/1.1\r\n\r\nGET", 22);
	http_conn_received(&conn, 22);
	CHECK_EQ(next(), HTTP_REQUEST);
	CHECK_STR_EQ(req.path, "/r");
	to = http_conn_room(&conn, &room);
	CHECK_EQ(room, sizeof(buf) - 3);
	CHECK(to == buf + 3);
	http_conn_received(&conn, room + 1); /* more than the room: ignored */
	CHECK_EQ(next(), HTTP_NEED_MORE);
}

static char out[512];

static void response_204_exact(void)
{
	static const char want[] = "HTTP/1.1 204 No Content\r\nServer: ember\r\n\r\n";
	CHECK_EQ(http_write_response(out, sizeof(out), 204, HTTP_JSON, "ignored", 7),
		 sizeof(want) - 1);
	CHECK_MEM_EQ(out, want, sizeof(want) - 1);
	static const char closing[] = "HTTP/1.1 204 No Content\r\nServer: ember\r\n"
				      "Connection: close\r\n\r\n";
	CHECK_EQ(http_write_response(out, sizeof(out), 204, HTTP_CLOSE_CONN, NULL, 0),
		 sizeof(closing) - 1);
	CHECK_MEM_EQ(out, closing, sizeof(closing) - 1);
}

static void response_400_with_fault_exact(void)
{
	static const char want[] = "HTTP/1.1 400 Bad Request\r\nServer: ember\r\n"
				   "Content-Length: 41\r\nContent-Type: application/json\r\n"
				   "Connection: close\r\n\r\n"
				   "{\"fault_message\":\"bad \\\"vcpu_count\\\": 0\"}";
	char fault[HTTP_FAULT_SIZE(64)];
	size_t n = http_fault_body(fault, sizeof(fault), "bad \"vcpu_count\": 0");
	CHECK_EQ(n, 41);
	CHECK_EQ(http_write_response(out, sizeof(out), 400, HTTP_JSON | HTTP_CLOSE_CONN, fault, n),
		 sizeof(want) - 1);
	CHECK_MEM_EQ(out, want, sizeof(want) - 1);
}

static void response_100_and_200(void)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	CHECK_EQ(http_write_response(out, sizeof(out), 100, HTTP_JSON, "x", 1), sizeof(cont) - 1);
	CHECK_MEM_EQ(out, cont, sizeof(cont) - 1);
	static const char ok[] = "HTTP/1.1 200 OK\r\nServer: ember\r\nContent-Length: 2\r\n"
				 "Content-Type: application/json\r\n\r\n{}";
	CHECK_EQ(http_write_response(out, sizeof(out), 200, HTTP_JSON, "{}", 2), sizeof(ok) - 1);
	CHECK_MEM_EQ(out, ok, sizeof(ok) - 1);
	static const char unknown[] = "HTTP/1.1 299 \r\nServer: ember\r\nContent-Length: 0\r\n\r\n";
	CHECK_EQ(http_write_response(out, sizeof(out), 299, 0, NULL, 0), sizeof(unknown) - 1);
	CHECK_MEM_EQ(out, unknown, sizeof(unknown) - 1);
	CHECK_EQ(http_write_response(out, sizeof(out), 99, 0, NULL, 0), 0);
	CHECK_EQ(http_write_response(out, sizeof(out), 1000, 0, NULL, 0), 0);
}

static void response_buffer_too_small(void)
{
	size_t n = http_write_response(out, sizeof(out), 404, HTTP_JSON, "{\"a\":1}", 7);
	CHECK(n > 7);
	char exact[sizeof(out)];
	memcpy(exact, out, n);
	memset(out, '#', sizeof(out));
	CHECK_EQ(http_write_response(out, n, 404, HTTP_JSON, "{\"a\":1}", 7), n);
	CHECK_MEM_EQ(out, exact, n);
	CHECK_EQ(out[n], '#');
	/* One byte short, of the body or of the head: nothing fits, nothing is written past. */
	memset(out, '#', sizeof(out));
	CHECK_EQ(http_write_response(out, n - 1, 404, HTTP_JSON, "{\"a\":1}", 7), 0);
	CHECK_EQ(http_write_response(out, n - 8, 404, HTTP_JSON, "{\"a\":1}", 7), 0);
	CHECK_EQ(http_write_response(out, 0, 204, 0, NULL, 0), 0);
	CHECK_EQ(out[n - 1], '#');
	CHECK_EQ(http_write_response(out, sizeof(out), 200, 0, "x", SIZE_MAX), 0);
}

static void reason_phrases(void)
{
	static const unsigned codes[] = {100, 200, 204, 400, 404, 405, 411,
					 413, 417, 431, 500, 501, 505};
	for (size_t i = 0; i < ARRAY_SIZE(codes); i++)
		CHECK(http_reason(codes[i])[0] != '\0');
	CHECK_STR_EQ(http_reason(413), "Payload Too Large");
	CHECK_STR_EQ(http_reason(405), "Method Not Allowed");
	CHECK_STR_EQ(http_reason(431), "Request Header Fields Too Large");
	CHECK_STR_EQ(http_reason(505), "HTTP Version Not Supported");
	CHECK_STR_EQ(http_reason(299), "");
}

static void fault_escaping(void)
{
	char f[256];
	CHECK_EQ(http_fault_body(f, sizeof(f), ""), 20);
	CHECK_STR_EQ(f, "{\"fault_message\":\"\"}");
	CHECK(http_fault_body(f, sizeof(f), "a\"b\\c\nd\te\x01\x1f\x7f caf\xc3\xa9/") > 0);
	CHECK_STR_EQ(f, "{\"fault_message\":\"a\\\"b\\\\c\\u000ad\\u0009e\\u0001\\u001f"
			"\\u007f caf\xc3\xa9/\"}");
	/* bytes that are not UTF-8 (a lone continuation byte, a cut sequence,
	 * an overlong form, a surrogate) would make invalid JSON: '?' */
	CHECK(http_fault_body(f, sizeof(f), "a\x80" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80" "e\xf0\x9f\x98\x80") > 0);
	CHECK_STR_EQ(f, "{\"fault_message\":\"a?b?c??d???e\xf0\x9f\x98\x80" "\"}");
}

static void fault_too_small(void)
{
	char f[64];
	const char *msg = "no such drive";
	size_t want = 18 + strlen(msg) + 2;
	memset(f, '#', sizeof(f));
	CHECK_EQ(http_fault_body(f, want + 1, msg), want);
	CHECK_EQ(f[want], '\0');
	memset(f, '#', sizeof(f));
	CHECK_EQ(http_fault_body(f, want, msg), 0);
	CHECK_EQ(f[want], '#');
	memset(f, '#', sizeof(f));
	CHECK_EQ(http_fault_body(f, 5, msg), 0);
	CHECK_EQ(f[5], '#');
	CHECK_EQ(http_fault_body(f, 0, ""), 0);
	/* An escape is never cut: "\u0001" does not fit in part. */
	CHECK_EQ(http_fault_body(f, 18 + 5 + 3, "\x01"), 0);
	CHECK_EQ(http_fault_body(f, 18 + 6 + 3, "\x01"), 26);
	/* HTTP_FAULT_SIZE holds the worst case. */
	char worst[HTTP_FAULT_SIZE(8)], ctl[9];
	memset(ctl, 0x02, 8);
	ctl[8] = '\0';
	CHECK_EQ(http_fault_body(worst, sizeof(worst), ctl), sizeof(worst) - 1);
}

int main(void)
{
	RUN(simple_get);
	RUN(put_with_body);
	RUN(patch_and_other_methods);
	RUN(body_split_across_feeds);
	RUN(byte_by_byte);
	RUN(two_pipelined_in_one_feed);
	RUN(keep_alive_then_close);
	RUN(connection_options);
	RUN(http10_closes_unless_keep_alive);
	RUN(header_names_any_case);
	RUN(query_kept_apart);
	RUN(empty_lines_before_request_skipped);
	RUN(get_with_body);
	RUN(every_refusal);
	RUN(every_refusal_byte_by_byte);
	RUN(refused_before_head_ends);
	RUN(head_limit);
	RUN(body_limit_is_a_parameter);
	RUN(init_checks_the_buffer);
	RUN(expect_100_continue);
	RUN(feed_takes_what_fits);
	RUN(room_and_received);
	RUN(response_204_exact);
	RUN(response_400_with_fault_exact);
	RUN(response_100_and_200);
	RUN(response_buffer_too_small);
	RUN(reason_phrases);
	RUN(fault_escaping);
	RUN(fault_too_small);
	return check_summary();
}
