/* http.c: the HTTP/1.1 layer of the API socket (see http.h for what is
 * accepted and refused): the request parser of one connection, the response
 * writer and the fault body. */
#include "vmm/api/http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum {
	ST_HEAD, /* checking the head's bytes as they come */
	ST_BODY, /* head parsed into c->req, waiting for its body */
	ST_DONE, /* refused, or after a request without keep-alive */
};

int http_conn_init(struct http_conn *c, uint8_t *buf, size_t cap, size_t body_max,
		   struct errbuf *err)
{
	if (body_max > UINT32_MAX) { /* so Content-Length's count cannot overflow */
		err_set(err, "HTTP body limit of %zu bytes is above 4 GiB", body_max);
		return -1;
	}
	if (cap < HTTP_HEAD_MAX || cap - HTTP_HEAD_MAX < body_max) {
		err_set(err, "HTTP input buffer of %zu bytes cannot hold a %d-byte head and a "
			"%zu-byte body", cap, HTTP_HEAD_MAX, body_max);
		return -1;
	}
	*c = (struct http_conn){.buf = buf, .cap = cap, .body_max = body_max};
	return 0;
}

/* Drop the request handed out last; the next one starts at buf[0]. */
static void drop_taken(struct http_conn *c)
{
	if (!c->taken)
		return;
	memmove(c->buf, c->buf + c->taken, c->len - c->taken);
	c->len -= c->taken;
	c->taken = 0;
}

uint8_t *http_conn_room(struct http_conn *c, size_t *room)
{
	drop_taken(c);
	*room = c->state == ST_DONE ? 0 : c->cap - c->len;
	return c->buf + c->len;
}

void http_conn_received(struct http_conn *c, size_t n)
{
	if (c->state != ST_DONE && n <= c->cap - c->len)
		c->len += n;
}

size_t http_conn_feed(struct http_conn *c, const void *data, size_t len)
{
	size_t room;
	uint8_t *to = http_conn_room(c, &room);
	if (len > room)
		len = room;
	memcpy(to, data, len);
	http_conn_received(c, len);
	return len;
}

size_t http_conn_held(const struct http_conn *c)
{
	return c->len - c->taken;
}

/* The request is refused: the connection ends with this answer. */
static enum http_next refuse(struct http_conn *c, struct http_request *req, unsigned status)
{
	c->state = ST_DONE;
	*req = (struct http_request){.refusal = status};
	return HTTP_REFUSED;
}

/* Check the head's new bytes: CRLF line ends only, no control characters.
 * Returns the head's length once its blank line is in, 0 while it is not, or
 * the refusal as a negative status. */
static long scan_head(struct http_conn *c, struct errbuf *err)
{
	if (c->scan == 0) {
		/* Empty lines before the request line are skipped. */
		size_t skip = 0;
		while (skip + 2 <= c->len && c->buf[skip] == '\r' && c->buf[skip + 1] == '\n')
			skip += 2;
		c->taken = skip;
		drop_taken(c);
	}
	size_t i = c->scan;
	while (i < c->len && i < HTTP_HEAD_MAX) {
		uint8_t b = c->buf[i];
		if (b == '\r') {
			if (i + 1 >= HTTP_HEAD_MAX) {
				/* Its line would end past the limit: no head fits.
				 * (Waiting for the LF could wait for ever: with no
				 * body allowed the buffer is full here.) */
				err_set(err, "request head larger than %d bytes", HTTP_HEAD_MAX);
				return -431;
			}
			if (i + 1 >= c->len)
				break; /* its LF has not come yet */
			if (c->buf[i + 1] != '\n') {
				err_set(err, "bare CR in the request head");
				return -400;
			}
			bool blank = i == c->line;
			i += 2;
			c->line = i;
			if (blank) {
				c->scan = i;
				if (i > HTTP_HEAD_MAX)
					break;
				return (long)i;
			}
			continue;
		}
		if (b == '\n') {
			err_set(err, "bare LF in the request head (lines end in CRLF)");
			return -400;
		}
		if ((b < 0x20 && b != '\t') || b == 0x7f) {
			err_set(err, "control character 0x%02x in the request head", b);
			return -400;
		}
		i++;
	}
	c->scan = i;
	if (i >= HTTP_HEAD_MAX) {
		err_set(err, "request head larger than %d bytes", HTTP_HEAD_MAX);
		return -431;
	}
	return 0;
}

static bool is_tchar(uint8_t b)
{
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
	       (b && strchr("!#$%&'*+-.^_`|~", b));
}

/* How many bytes of s[0..end) are token characters. */
static size_t token_len(const char *s, size_t end)
{
	size_t i = 0;
	while (i < end && is_tchar((uint8_t)s[i]))
		i++;
	return i;
}

static bool is_ows(uint8_t b)
{
	return b == ' ' || b == '\t';
}

/* Narrow [*a, *b) to leave out spaces and tabs at both ends. */
static void trim_ows(const char **a, const char **b)
{
	while (*a < *b && is_ows((uint8_t)**a))
		(*a)++;
	while (*b > *a && is_ows((uint8_t)(*b)[-1]))
		(*b)--;
}

/* A header line's parts: name[name_len], value[value_len] (OWS trimmed). */
struct field {
	const char *name, *value;
	size_t name_len, value_len;
};

static bool field_is(const struct field *f, const char *name)
{
	return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

static bool value_is(const char *v, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(v, want, n) == 0;
}

/* What the headers say, gathered before the request is judged. */
struct head_info {
	bool has_length, too_large, chunked, close, keep_alive, bad_expect;
	uint64_t length;
};

/* The request line, buf[0..end) without its CRLF: fills the method, path,
 * query and version of req (NUL-terminating them in place). Returns 0 or the
 * refusal's status. */
static unsigned parse_request_line(char *s, size_t end, struct http_request *req,
				   struct errbuf *err)
{
	size_t i = token_len(s, end);
	if (i == 0 || i >= end || s[i] != ' ') {
		err_set(err, "malformed request line (want METHOD SP /path SP HTTP/1.1)");
		return 400;
	}
	s[i] = '\0';
	req->method_name = s;
	req->method = !strcmp(s, "GET")     ? HTTP_GET
		      : !strcmp(s, "PUT")   ? HTTP_PUT
		      : !strcmp(s, "PATCH") ? HTTP_PATCH
					    : HTTP_OTHER;
	size_t t = ++i;
	if (t >= end || s[t] != '/') {
		err_set(err, "request target is not a path starting with '/' (origin form)");
		return 400;
	}
	req->query = NULL;
	for (; i < end && s[i] != ' '; i++) {
		uint8_t b = (uint8_t)s[i];
		if (b < 0x21 || b > 0x7e || b == '#') {
			err_set(err, "request target holds a fragment or a byte that is not "
				     "printable ASCII");
			return 400;
		}
		if (b == '?' && !req->query) {
			s[i] = '\0';
			req->query = s + i + 1;
		}
	}
	if (i >= end) {
		err_set(err, "malformed request line (no HTTP version)");
		return 400;
	}
	s[i++] = '\0';
	req->path = s + t;
	const char *v = s + i;
	if (end - i != 8 || memcmp(v, "HTTP/", 5) || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
	    v[7] < '0' || v[7] > '9') {
		err_set(err, "malformed HTTP version in the request line");
		return 400;
	}
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) {
		err_set(err, "HTTP version %.8s not supported (HTTP/1.0 and HTTP/1.1 are)", v);
		return 505;
	}
	req->version = v[7] == '1' ? 11 : 10;
	return 0;
}

/* One header line s[0..end): split and checked into *f. Returns 0 or 400. */
static unsigned split_field(const char *s, size_t end, struct field *f, struct errbuf *err)
{
	size_t i = token_len(s, end);
	if (i == 0 || i >= end || s[i] != ':') {
		err_set(err, "malformed header line (want Name: value, no folding)");
		return 400;
	}
	const char *a = s + i + 1, *b = s + end;
	trim_ows(&a, &b);
	f->name = s;
	f->name_len = i;
	f->value = a;
	f->value_len = (size_t)(b - a);
	return 0;
}

/* Content-Length: digits only; a value above the limit (at most 4 GiB) marks
 * it too large (the count stops growing there, so it cannot overflow). */
static unsigned content_length(const struct field *f, uint64_t max, struct head_info *h,
			       struct errbuf *err)
{
	if (h->has_length) {
		err_set(err, "more than one Content-Length");
		return 400;
	}
	h->has_length = true;
	if (f->value_len == 0) {
		err_set(err, "empty Content-Length");
		return 400;
	}
	uint64_t n = 0;
	for (size_t i = 0; i < f->value_len; i++) {
		char d = f->value[i];
		if (d < '0' || d > '9') {
			err_set(err, "Content-Length is not a decimal number");
			return 400;
		}
		if (n <= max)
			n = n * 10 + (uint64_t)(d - '0');
	}
	h->too_large = n > max;
	h->length = n;
	return 0;
}

/* Connection: a comma-separated list of options; close and keep-alive count. */
static void connection_options(const struct field *f, struct head_info *h)
{
	const char *p = f->value, *end = f->value + f->value_len;
	while (p < end) {
		const char *q = memchr(p, ',', (size_t)(end - p));
		if (!q)
			q = end;
		const char *a = p, *b = q;
		trim_ows(&a, &b);
		if (value_is(a, (size_t)(b - a), "close"))
			h->close = true;
		else if (value_is(a, (size_t)(b - a), "keep-alive"))
			h->keep_alive = true;
		p = q + 1;
	}
}

/* One header: what it means for the request. Returns 0 or the refusal. */
static unsigned take_field(const struct field *f, uint64_t body_max, struct head_info *h,
			   struct http_request *req, struct errbuf *err)
{
	if (field_is(f, "Content-Length"))
		return content_length(f, body_max, h, err);
	if (field_is(f, "Transfer-Encoding"))
		h->chunked = true;
	else if (field_is(f, "Connection"))
		connection_options(f, h);
	else if (field_is(f, "Expect")) {
		if (value_is(f->value, f->value_len, "100-continue"))
			req->expect_continue = true;
		else
			h->bad_expect = true;
	}
	return 0;
}

/* The whole head, buf[0..head_len): into req. Returns 0 or the refusal. */
static unsigned parse_head(struct http_conn *c, size_t head_len, struct http_request *req,
			   struct errbuf *err)
{
	char *s = (char *)c->buf;
	*req = (struct http_request){.head_len = head_len};
	struct head_info h = {0};
	size_t end = (size_t)((char *)memchr(s, '\r', head_len) - s);
	unsigned status = parse_request_line(s, end, req, err);
	for (size_t at = end + 2; !status && at + 2 < head_len; at = end + 2) {
		end = at + (size_t)((char *)memchr(s + at, '\r', head_len - at) - (s + at));
		struct field f;
		status = split_field(s + at, end - at, &f, err);
		if (!status)
			status = take_field(&f, c->body_max, &h, req, err);
	}
	if (status)
		return status;
	if (h.chunked) {
		err_set(err, "Transfer-Encoding is not supported (send Content-Length)");
		return 501;
	}
	if (h.too_large) {
		err_set(err, "request body larger than the limit of %zu bytes", c->body_max);
		return 413;
	}
	if (!h.has_length && (req->method == HTTP_PUT || req->method == HTTP_PATCH)) {
		err_set(err, "%s request without Content-Length", req->method_name);
		return 411;
	}
	if (req->version == 10) {
		req->expect_continue = false; /* RFC 9110 10.1.1: ignored in HTTP/1.0 */
		req->keep_alive = h.keep_alive && !h.close;
	} else {
		if (h.bad_expect) {
			err_set(err, "unsupported Expect (only 100-continue is)");
			return 417;
		}
		req->keep_alive = !h.close;
	}
	req->body_len = (size_t)h.length;
	return 0;
}

enum http_next http_conn_next(struct http_conn *c, struct http_request *req, struct errbuf *err)
{
	drop_taken(c);
	if (c->state == ST_DONE) {
		*req = (struct http_request){0};
		return HTTP_CLOSE;
	}
	if (c->state == ST_HEAD) {
		long r = scan_head(c, err);
		if (r < 0)
			return refuse(c, req, (unsigned)-r);
		if (r == 0)
			return HTTP_NEED_MORE;
		unsigned status = parse_head(c, (size_t)r, &c->req, err);
		if (status)
			return refuse(c, req, status);
		c->state = ST_BODY;
		if (c->req.expect_continue && c->len - c->req.head_len < c->req.body_len) {
			*req = c->req;
			return HTTP_CONTINUE;
		}
	}
	if (c->len - c->req.head_len < c->req.body_len)
		return HTTP_NEED_MORE;
	c->req.body = c->buf + c->req.head_len;
	*req = c->req;
	c->taken = c->req.head_len + c->req.body_len;
	c->scan = c->line = 0;
	c->state = req->keep_alive ? ST_HEAD : ST_DONE;
	return HTTP_REQUEST;
}

const char *http_reason(unsigned status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "";
	}
}

size_t http_write_response(char *out, size_t cap, unsigned status, unsigned flags,
			   const void *body, size_t body_len)
{
	char head[192];
	int n;
	if (status < 100 || status > 999)
		return 0;
	if (status < 200) {
		n = snprintf(head, sizeof(head), "HTTP/1.1 %u %s\r\n\r\n", status,
			     http_reason(status));
		body_len = 0;
	} else if (status == 204 || status == 304) {
		n = snprintf(head, sizeof(head), "HTTP/1.1 %u %s\r\nServer: ember\r\n%s\r\n",
			     status, http_reason(status),
			     flags & HTTP_CLOSE_CONN ? "Connection: close\r\n" : "");
		body_len = 0;
	} else {
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %u %s\r\nServer: ember\r\nContent-Length: %zu\r\n%s%s\r\n",
			     status, http_reason(status), body_len,
			     flags & HTTP_JSON ? "Content-Type: application/json\r\n" : "",
			     flags & HTTP_CLOSE_CONN ? "Connection: close\r\n" : "");
	}
	if (n < 0 || (size_t)n >= sizeof(head) || (size_t)n > cap || body_len > cap - (size_t)n)
		return 0;
	memcpy(out, head, (size_t)n);
	if (body_len)
		memcpy(out + n, body, body_len);
	return (size_t)n + body_len;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const uint8_t *p)
{
	uint8_t lo = 0x80, hi = 0xbf;
	size_t n;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

size_t http_fault_body(char *out, size_t cap, const char *msg)
{
	static const char open[] = "{\"fault_message\":\"", close[] = "\"}";
	size_t n = 0;
	if (cap < sizeof(open) - 1)
		return 0;
	memcpy(out, open, sizeof(open) - 1);
	n = sizeof(open) - 1;
	for (const uint8_t *p = (const uint8_t *)msg; *p; p++) {
		char esc[7];
		size_t k;
		if (*p == '"' || *p == '\\')
			k = (size_t)snprintf(esc, sizeof(esc), "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			k = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
		else if (*p < 0x80)
			esc[0] = (char)*p, k = 1;
		else if ((k = utf8_len(p)))
			memcpy(esc, p, k), p += k - 1; /* well-formed UTF-8 as it is */
		else
			esc[0] = '?', k = 1; /* a byte that would make the JSON invalid */
		if (cap - n < k)
			return 0;
		memcpy(out + n, esc, k);
		n += k;
	}
	if (cap - n < sizeof(close))
		return 0;
	memcpy(out + n, close, sizeof(close)); /* with its NUL */
	return n + sizeof(close) - 1;
}
