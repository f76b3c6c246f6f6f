/* fuzz_http.c: libFuzzer target for the API socket's HTTP layer
 * (vmm/api/http.c), which a hostile client drives. The input is what the
 * client sends, fed to one connection in chunks the input chooses, with a
 * body limit it chooses:
 *   [0]   chunking: 0 all at once, 1 byte by byte, else sizes 1..[0] drawn
 *         from a generator seeded with [0]
 *   [1]   body limit: bit 7 set, Firecracker's 51200; else ([1] & 0x7f) * 8
 *   [2..] the bytes
 * The input buffer is allocated with exactly the size the connection needs,
 * so ASan flags a byte read past it. Checked against the bytes as sent: a
 * request starts where the last one ended (after empty lines), its head ends
 * in CRLF CRLF, its body is the next body_len bytes and body_len is the
 * Content-Length of its head (0 without one), at most the limit; its path
 * starts with '/' and is printable ASCII without '?', '#' or space; feeding
 * never stalls while the parser wants more; a refusal has one of the statuses
 * the parser documents and a message whose fault body and response fit the
 * buffers meant for them; after a refusal or a request without keep-alive the
 * connection only says close. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/fuzz/harness.h"
#include "vmm/api/http.h"

#define HDR 2

static uint32_t rng;

static size_t chunk_size(uint8_t mode)
{
	if (mode == 0)
		return SIZE_MAX;
	if (mode == 1)
		return 1;
	rng = rng * 1103515245u + 12345u;
	return 1 + (rng >> 16) % mode;
}

/* The Content-Length the head h[0..n) (CRLF lines, checked) gives, or 0. */
static uint64_t content_length(const uint8_t *h, size_t n)
{
	static const char name[] = "content-length:";
	const uint8_t *line = memchr(h, '\n', n);
	while (line && (size_t)(line + 1 - h) < n) {
		const uint8_t *p = line + 1, *end = h + n;
		line = memchr(p, '\n', (size_t)(end - p));
		if ((size_t)(end - p) < sizeof(name) - 1 ||
		    strncasecmp((const char *)p, name, sizeof(name) - 1))
			continue;
		uint64_t v = 0;
		for (p += sizeof(name) - 1; *p == ' ' || *p == '\t'; p++)
			;
		for (; *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		return v;
	}
	return 0;
}

static bool printable(const char *s, bool query)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e || *s == '#' || (*s == '?' && !query))
			return false;
	return true;
}

/* A refusal: its status, and its answer built as the server will. */
static void check_refusal(const struct http_request *req, const struct errbuf *err)
{
	static const unsigned statuses[] = {400, 411, 413, 417, 431, 501, 505};
	bool known = false;
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		known |= req->refusal == statuses[i];
	ASSERT(known);
	ASSERT(err->msg[0] != '\0');
	char fault[HTTP_FAULT_SIZE(ERRBUF_SIZE)];
	size_t n = http_fault_body(fault, sizeof(fault), err->msg);
	ASSERT(n > 0 && n < sizeof(fault) && fault[n] == '\0');
	for (size_t i = 0; i < n; i++)
		ASSERT((uint8_t)fault[i] >= 0x20 && fault[i] != 0x7f);
	char out[HTTP_FAULT_SIZE(ERRBUF_SIZE) + 256];
	size_t len = http_write_response(out, sizeof(out), req->refusal,
					 HTTP_JSON | HTTP_CLOSE_CONN, fault, n);
	ASSERT(len > n && !memcmp(out, "HTTP/1.1 ", 9) && !memcmp(out + len - n, fault, n));
	ASSERT(http_write_response(out, len - 1, req->refusal, HTTP_JSON | HTTP_CLOSE_CONN,
				   fault, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HDR)
		return 0;
	uint8_t mode = data[0];
	size_t body_max = data[1] & 0x80 ? HTTP_BODY_MAX_DEFAULT : (size_t)(data[1] & 0x7f) * 8;
	const uint8_t *in = data + HDR;
	size_t n = size - HDR, fed = 0, start = 0;
	size_t cap = HTTP_CONN_BUF_SIZE(body_max);
	uint8_t *buf = malloc(cap);
	struct http_conn c;
	struct http_request req;
	struct errbuf err = {{0}};
	ASSERT(buf && http_conn_init(&c, buf, cap, body_max, &err) == 0);
	rng = mode;
	bool done = false;
	while (!done) {
		size_t want = chunk_size(mode);
		size_t took = http_conn_feed(&c, in + fed, want < n - fed ? want : n - fed);
		fed += took;
		enum http_next r;
		while ((r = http_conn_next(&c, &req, &err)) == HTTP_REQUEST ||
		       r == HTTP_CONTINUE) {
			ASSERT(req.path && req.path[0] == '/' && printable(req.path, false));
			ASSERT(!req.query || printable(req.query, true));
			ASSERT(req.method_name && req.method_name[0]);
			ASSERT(req.version == 10 || req.version == 11);
			ASSERT(req.body_len <= body_max && req.head_len <= HTTP_HEAD_MAX);
			/* Where it is in the bytes as sent: after empty lines. */
			while (start + 2 <= fed && in[start] == '\r' && in[start + 1] == '\n')
				start += 2;
			ASSERT(start + req.head_len <= fed);
			const uint8_t *head = in + start;
			ASSERT(!memcmp(head + req.head_len - 4, "\r\n\r\n", 4));
			ASSERT(content_length(head, req.head_len) == req.body_len);
			if (r == HTTP_CONTINUE) {
				ASSERT(req.expect_continue && !req.body);
				ASSERT(fed - start - req.head_len < req.body_len);
				char cont[64];
				ASSERT(http_write_response(cont, sizeof(cont), 100, 0, NULL, 0) == 25);
				continue;
			}
			ASSERT(req.body == buf + req.head_len);
			ASSERT(start + req.head_len + req.body_len <= fed);
			ASSERT(!memcmp(req.body, head + req.head_len, req.body_len));
			start += req.head_len + req.body_len;
			if (!req.keep_alive) {
				ASSERT(http_conn_next(&c, &req, &err) == HTTP_CLOSE);
				done = true;
				break;
			}
		}
		if (r == HTTP_REFUSED) {
			check_refusal(&req, &err);
			ASSERT(http_conn_next(&c, &req, &err) == HTTP_CLOSE);
			done = true;
		} else if (r == HTTP_CLOSE) {
			done = true;
		} else if (!done) {
			/* The parser wants more: it must have room for it. */
			ASSERT(took > 0 || fed == n);
			done = fed == n;
		}
	}
	free(buf);
	return 0;
}
