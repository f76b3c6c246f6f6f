/* fuzz_api.c: libFuzzer target for the API's request handling (api.c with
 * fc_config.c behind it): a sequence of requests from a hostile client. The
 * input is a list of records: a method byte (GET, PUT, PATCH, other; bit 7:
 * the VM counts as started from then on), a path
 * length byte and the path, a body length (two bytes, little-endian) and the
 * body. The main thread is gone (its control channel closed), so an
 * InstanceStart or a pause is answered with a 400 and nothing waits.
 * Invariants: every answer is 200, 204 or a 4xx/500 whose body is a JSON
 * fault; a refused request changes nothing (GET /vm/config answers the same
 * before and after it); the configuration stays within ember's limits. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/harness.h"
#include "vmm/api/api.h"

static struct fc_config cfg;
static struct control ctl;
static struct api a;
static struct api_reply reply;

static void handle(enum http_method m, const char *name, const char *path, const uint8_t *body,
		   size_t len)
{
	struct http_request req = {.method = m, .method_name = name, .path = path,
				   .version = 11, .keep_alive = true, .body = body,
				   .body_len = len};
	reply.status = 0;
	reply.len = 0;
	api_handle(&a, &req, &reply);
}

static char *vm_config_now(void)
{
	handle(HTTP_GET, "GET", "/vm/config", NULL, 0);
	ASSERT(reply.status == 200);
	char *s = malloc(reply.len + 1);
	ASSERT(s);
	memcpy(s, reply.body, reply.len);
	s[reply.len] = '\0';
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		ASSERT(control_init(&ctl) == 0);
		control_close(&ctl, "the main thread is gone (fuzzing)");
		ready = true;
	}
	fc_config_init(&cfg);
	a = (struct api){.id = "fuzz", .cfg = &cfg, .ctl = &ctl};
	atomic_init(&a.state, API_NOT_STARTED);
	static const enum http_method methods[] = {HTTP_GET, HTTP_PUT, HTTP_PATCH, HTTP_OTHER};
	static const char *const names[] = {"GET", "PUT", "PATCH", "DELETE"};
	size_t at = 0;
	while (at + 4 <= size) {
		/* bit 7 of the method byte: from this request on, the VM runs
		 * (the after-start paths: PATCH /drives, pause, ...) */
		if (data[at] & 0x80)
			atomic_store(&a.state, API_RUNNING);
		unsigned mi = data[at++] & 3;
		size_t plen = data[at++];
		if (at + plen + 2 > size)
			break;
		char path[257];
		path[0] = '/';
		memcpy(path + 1, data + at, plen);
		path[plen + 1] = '\0';
		at += plen;
		size_t blen = data[at] | (size_t)data[at + 1] << 8;
		at += 2;
		if (blen > size - at)
			blen = size - at;
		const uint8_t *body = data + at;
		at += blen;
		if (strlen(path) != plen + 1)
			continue; /* the HTTP layer never hands over a NUL in the path */
		char *before = vm_config_now();
		handle(methods[mi], names[mi], path, blen ? body : NULL, blen);
		unsigned st = reply.status;
		ASSERT(st == 200 || st == 204 || st == 400 || st == 413 || st == 500);
		if (st >= 400) {
			json_error_t je;
			json_t *j = json_loadb(reply.body, reply.len, 0, &je);
			ASSERT(j && json_is_string(json_object_get(j, "fault_message")));
			json_decref(j);
			char *after = vm_config_now();
			ASSERT(strcmp(before, after) == 0);
			free(after);
		}
		free(before);
		ASSERT(cfg.vm.cpus >= 1 && cfg.vm.cpus <= VM_MAX_CPUS);
		ASSERT(cfg.vm.ndisks <= VM_MAX_DISKS && cfg.vm.nnets <= VM_MAX_NETS);
	}
	fc_config_free(&cfg);
	return 0;
}
