/* server.h: the API's Unix socket and the thread that serves it. The thread
 * accepts connections (up to API_MAX_CONNS at once, each with its input
 * buffer only while it is open), reads requests with the HTTP layer (http.h),
 * hands each complete one to the handler and writes its answer; framing
 * errors are answered and the connection closed. No client can hold the
 * thread or a connection for long:
 *   - a request must come whole within API_REQUEST_NS of its first byte
 *     (else 408 and the connection closed), and a connection silent for
 *     API_IDLE_NS between requests is closed, so clients that trickle or
 *     stall mid-request cannot use up the connections;
 *   - answers are sent without waiting: what the socket does not take waits
 *     in the connection's own buffer (one answer at most) and goes out on
 *     POLLOUT, and its further (pipelined) requests are answered only once it
 *     is sent; an answer the client does not read within API_REQUEST_NS closes
 *     the connection. A client that never reads delays nobody else.
 * Its seccomp filter (the "api" kind) is installed before it serves anything.
 *
 *	api_server_open(&s, path, &err)      bind and listen (refuses a path
 *	                                     that exists and is not a stale socket)
 *	api_server_start(&s, handler, ctx, &err)
 *	api_server_close(&s)                 stop the thread, remove the socket
 */
#ifndef EMBER_API_SERVER_H
#define EMBER_API_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmm/api/http.h"

/* What the handler answers: a status and (for 200 and 400s) a JSON body. */
#define API_REPLY_MAX 65536
struct api_reply {
	unsigned status;
	size_t len;
	char body[API_REPLY_MAX];
};

/* Answer one request (on the API thread). */
typedef void api_handler_fn(void *ctx, const struct http_request *req, struct api_reply *r);

#define API_MAX_CONNS 128
/* How long a connection may stay silent between requests. */
#define API_IDLE_NS (30 * 1000000000ull)
/* How long a request may take to come in, from its first byte to its last
 * (head and body), and its answer to be taken by the client. A local client
 * sends its at most 59 KiB in well under a millisecond; 10 s leaves room for a
 * loaded host, and is shorter than what web servers give clients a network
 * away (Apache's mod_reqtimeout: 20 s for a head, nginx 60 s). Firecracker's
 * own server has no deadline (it serves 10 connections at most). */
#define API_REQUEST_NS (10 * 1000000000ull)
/* The longest response: the status line and headers, and the body. */
#define API_OUT_MAX (API_REPLY_MAX + 512)

struct api_conn {
	int fd;                      /* -1: free */
	uint64_t last;               /* now_ns() of its last bytes in or out */
	uint64_t since;              /* now_ns() its current request began (its first
				      * byte, or the answer before it) or its answer
				      * was left waiting; 0 between requests */
	uint8_t *buf;                /* HTTP_CONN_BUF_SIZE(HTTP_BODY_MAX_DEFAULT) */
	struct http_conn http;
	char *out;                   /* API_OUT_MAX, once an answer has had to wait */
	size_t out_off, out_len;     /* what waits for POLLOUT: out[out_off..+out_len) */
};

struct api_server {
	int listen_fd, stop_efd;
	char path[108];
	int dir_fd;                  /* the socket's folder: removed with unlinkat */
	const char *name;            /* its name in there (into path) */
	pthread_t thread;
	bool started;
	api_handler_fn *handler;
	void *ctx;
	uint64_t request_ns, idle_ns; /* API_REQUEST_NS, API_IDLE_NS (tests shorten them) */
	struct api_conn conn[API_MAX_CONNS];
	struct api_reply reply;      /* the thread's, one request at a time */
	char out[API_OUT_MAX];
};

/* Bind and listen on path. A path that exists is refused unless it is a
 * socket nobody listens on (a stale one, removed first). 0, or -1 with err. */
int api_server_open(struct api_server *s, const char *path, struct errbuf *err);
/* Start the thread (request_ns and idle_ns may be changed before). 0, or -1
 * with err. */
int api_server_start(struct api_server *s, api_handler_fn *handler, void *ctx,
		     struct errbuf *err);
/* Stop the thread (if started), close every fd and remove the socket. */
void api_server_close(struct api_server *s);

/* Set r to a fault: status and {"fault_message":"msg"}. */
void api_reply_fault(struct api_reply *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
