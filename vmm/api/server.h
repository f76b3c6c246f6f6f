/* server.h: the API's Unix socket and the thread that serves it. The thread
 * accepts connections (up to API_MAX_CONNS at once, each with its input
 * buffer only while it is open; one silent for API_IDLE_NS is closed, so
 * clients that stall mid-request cannot use them all up), reads requests with the HTTP layer
 * (http.h), hands each complete one to the handler and writes its answer;
 * framing errors are answered and the connection closed. Its seccomp filter
 * (the "api" kind) is installed before it serves anything.
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
#define API_IDLE_NS (30 * 1000000000ull)

struct api_conn {
	int fd;                      /* -1: free */
	uint64_t last;               /* now_ns() of its last bytes */
	uint8_t *buf;                /* HTTP_CONN_BUF_SIZE(HTTP_BODY_MAX_DEFAULT) */
	struct http_conn http;
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
	struct api_conn conn[API_MAX_CONNS];
	struct api_reply reply;      /* the thread's, one request at a time */
	char out[API_REPLY_MAX + 512];
};

/* Bind and listen on path. A path that exists is refused unless it is a
 * socket nobody listens on (a stale one, removed first). 0, or -1 with err. */
int api_server_open(struct api_server *s, const char *path, struct errbuf *err);
/* Start the thread. 0, or -1 with err. */
int api_server_start(struct api_server *s, api_handler_fn *handler, void *ctx,
		     struct errbuf *err);
/* Stop the thread (if started), close every fd and remove the socket. */
void api_server_close(struct api_server *s);

/* Set r to a fault: status and {"fault_message":"msg"}. */
void api_reply_fault(struct api_reply *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
