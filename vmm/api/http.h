/* http.h: the HTTP/1.1 layer of ember's API socket (Firecracker's REST API):
 * an incremental request parser for one connection, the response writer and
 * the {"fault_message":"..."} body. Pure functions on buffers the caller
 * owns: no sockets, threads or allocation.
 *
 * What the parser accepts (the client is hostile; anything else is refused
 * with a status, and a refused connection is closed):
 *   - request line "METHOD SP /path[?query] SP HTTP/1.x" with single spaces;
 *     any token method (GET, PUT and PATCH are named, the caller answers 405
 *     to the others); the target in origin form only (starts with '/', printable
 *     ASCII, no '#': absolute, authority and asterisk forms are 400); the query
 *     is split off at the first '?' and handed over separately, nothing is
 *     percent-decoded; HTTP/1.0 and HTTP/1.1 (another HTTP/d.d is 505);
 *   - lines end in CRLF only: a bare LF or a bare CR is 400; NUL, DEL and
 *     control characters other than HTAB in the head are 400; empty lines before
 *     the request line are skipped (RFC 9112 2.2); obs-fold is 400;
 *   - a head (request line, headers, blank line) of at most HTTP_HEAD_MAX
 *     bytes, else 431;
 *   - headers: names are case-insensitive tokens followed directly by ':';
 *     Content-Length (digits only, once, at most the body limit: else 400, or
 *     413 when too large), Transfer-Encoding (any: 501, as Firecracker),
 *     Connection (close, keep-alive), Expect (100-continue, else 417); the
 *     others are only checked for syntax. PUT and PATCH without Content-Length
 *     are 411. Host is not required.
 * HTTP/1.1 connections stay open unless the client says "Connection: close";
 * HTTP/1.0 ones close unless it says "Connection: keep-alive". */
#ifndef EMBER_API_HTTP_H
#define EMBER_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/lib/util.h"

/* The longest request head: request line, headers and the blank line. */
#define HTTP_HEAD_MAX 8192
/* Firecracker's default API payload limit (--api-payload-limit). */
#define HTTP_BODY_MAX_DEFAULT 51200
/* The input buffer a connection needs for a body limit: one whole request. */
#define HTTP_CONN_BUF_SIZE(body_max) (HTTP_HEAD_MAX + (size_t)(body_max))

enum http_method { HTTP_OTHER, HTTP_GET, HTTP_PUT, HTTP_PATCH };

/* One request. The strings and the body point into the connection's buffer
 * and stay valid until the next call of an http_conn_* function on it. */
struct http_request {
	enum http_method method;
	const char *method_name; /* as sent, e.g. "DELETE" for HTTP_OTHER */
	const char *path;        /* starts with '/', without the query */
	const char *query;       /* what followed the first '?' ("" for "/a?"), or NULL */
	unsigned version;        /* 10 or 11 */
	bool keep_alive;         /* the connection stays open after the response */
	bool expect_continue;    /* the client waits for "100 Continue" before the body */
	size_t head_len;         /* bytes of the head, blank line included */
	const uint8_t *body;     /* body_len bytes (Content-Length), not NUL-terminated */
	size_t body_len;
	unsigned refusal;        /* HTTP_REFUSED: the status to answer */
};

enum http_next {
	HTTP_NEED_MORE, /* no complete request yet: feed more bytes */
	HTTP_CONTINUE,  /* the head of a request with Expect: 100-continue is in
			 * (req has all but the body): answer "100 Continue", feed on */
	HTTP_REQUEST,   /* req is a complete request; what follows it stays for the next */
	HTTP_REFUSED,   /* req->refusal is the status and err says why (a fault
			 * message): answer it with Connection: close, then close */
	HTTP_CLOSE,     /* after a refusal or a request without keep-alive: close */
};

/* One connection's parser state over the caller's input buffer. */
struct http_conn {
	uint8_t *buf;
	size_t cap, body_max;
	size_t len;      /* bytes held, from buf[0] */
	size_t scan;     /* head bytes checked so far */
	size_t line;     /* where the head line being checked starts */
	size_t taken;    /* bytes of the request handed out, dropped on the next call */
	int state;
	struct http_request req; /* the parsed head, while its body comes in */
};

/* Set up c over buf[cap] for bodies of at most body_max bytes (4 GiB at the
 * most). Returns 0, or -1 with err set when cap is smaller than
 * HTTP_CONN_BUF_SIZE(body_max) or body_max is above 4 GiB. */
int http_conn_init(struct http_conn *c, uint8_t *buf, size_t cap, size_t body_max,
		   struct errbuf *err);

/* Where the next input bytes go (for a read() straight into the buffer) and
 * how many fit (*room; 0 once the connection is to be closed); then
 * http_conn_received(c, n) with n <= *room. */
uint8_t *http_conn_room(struct http_conn *c, size_t *room);
void http_conn_received(struct http_conn *c, size_t n);
/* Copy in what fits of data[len]; returns how many bytes were taken. */
size_t http_conn_feed(struct http_conn *c, const void *data, size_t len);

/* How many bytes it holds that no request handed out has taken: 0 between
 * requests, else part of the next one (or of several pipelined ones). */
size_t http_conn_held(const struct http_conn *c);

/* The next step of the connection (see enum http_next). */
enum http_next http_conn_next(struct http_conn *c, struct http_request *req, struct errbuf *err);

/* The standard reason phrase of a status ("" for one it does not know). */
const char *http_reason(unsigned status);

/* Response flags. */
#define HTTP_JSON 1u  /* Content-Type: application/json */
#define HTTP_CLOSE_CONN 2u /* Connection: close */

/* Write "HTTP/1.1 <status> <reason>", Server, Content-Length, the flags'
 * headers, the blank line and body[body_len] into out[cap] (not
 * NUL-terminated). A 1xx response is its status line alone; 204 and 304
 * responses carry no body, Content-Length or Content-Type (RFC 9110), whatever
 * body is given. Returns the length, or 0 when status is not three digits or
 * the response does not fit in cap. */
size_t http_write_response(char *out, size_t cap, unsigned status, unsigned flags,
			   const void *body, size_t body_len);

/* What a fault body for a message of n bytes needs at most, NUL included. */
#define HTTP_FAULT_SIZE(n) (6 * (size_t)(n) + sizeof("{\"fault_message\":\"\"}"))
/* Write {"fault_message":"<msg>"} into out[cap], NUL-terminated, with msg as a
 * JSON string (\" \\ and \u00XX for control characters and DEL; well-formed
 * UTF-8 as it is, and '?' for any other byte, so the body is always JSON). Returns its length, or 0 when it does not fit (nothing is
 * written past out[cap - 1]). */
size_t http_fault_body(char *out, size_t cap, const char *msg);

#endif
