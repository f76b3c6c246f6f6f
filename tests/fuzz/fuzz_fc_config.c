/* fuzz_fc_config.c: libFuzzer target for Firecracker's JSON into ember's
 * configuration (vmm/api/fc_config.c) and back (fc_config_json.c). The input
 * is a sequence of records separated by NUL bytes (which JSON text never
 * holds), applied in turn to one configuration:
 *   [0] op % 8: 0 config file, 1 PUT /boot-source, 2 PUT /machine-config,
 *       3 PATCH /machine-config, 4 PUT /drives/ID, 5 PUT /network-interfaces/ID,
 *       6 PUT /logger, 7 PUT /metrics
 *   [1] the path's ID (ops 4 and 5): one of ids[] below, modulo its size
 *   [2..] the body (or the whole config file), arbitrary bytes
 * Checked after each record: a refusal has a one-line message and leaves the
 * configuration byte for byte as it was; an accepted configuration keeps
 * the VM_MAX_* limits, one root drive at most and in front, unique ids and
 * TAPs, and strings owned by it; once it has a kernel, its GET /vm/config
 * JSON read back as a config file gives the same configuration. Each record
 * is also asked of fc_unsupported as a path. ASan sees the rest (and leaks). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/harness.h"
#include "vmm/api/fc_config.h"

static const char *const ids[] = {"rootfs", "data", "scratch", "eth0", "eth1", "x_1"};

static struct fc_config fc, before, again;

static void check_limits(void)
{
	const struct vm_config *c = &fc.vm;
	ASSERT(c->cpus >= 1 && c->cpus <= VM_MAX_CPUS);
	ASSERT(c->mem_mib >= VM_MIN_MEM_MIB && c->mem_mib <= VM_MAX_MEM_MIB);
	ASSERT(c->ndisks <= VM_MAX_DISKS && c->nnets <= VM_MAX_NETS && c->nvfio == 0);
	ASSERT(c->kernel == fc.kernel && c->initrd == fc.initrd && c->cmdline == fc.cmdline);
	ASSERT(!c->cmdline_replaces_default || c->cmdline);
	ASSERT(!c->root_disk || c->ndisks > 0);
	ASSERT(strcmp(c->root_partuuid, c->root_disk ? fc.drives[0].partuuid : "") == 0);
	for (unsigned i = 0; i < c->ndisks; i++) {
		ASSERT(name_ok(c->disk_ids[i], VM_ID_MAX, "_") && c->disks[i].path[0]);
		for (unsigned j = 0; j < i; j++)
			ASSERT(strcmp(c->disk_ids[i], c->disk_ids[j]) != 0);
	}
	for (unsigned i = 0; i < c->nnets; i++) {
		ASSERT(name_ok(c->net_ids[i], VM_ID_MAX, "_") && c->nets[i].tap[0] && c->nets[i].queues == 1);
		ASSERT(c->nets[i].mtu == 0 || (c->nets[i].mtu >= NET_MIN_MTU && c->nets[i].mtu <= NET_MAX_MTU));
		for (unsigned j = 0; j < i; j++) {
			ASSERT(strcmp(c->net_ids[i], c->net_ids[j]) != 0);
			ASSERT(strcmp(c->nets[i].tap, c->nets[j].tap) != 0);
		}
	}
}

static void round_trip(void)
{
	if (!fc.vm.kernel)
		return;
	char *s = fc_config_json(&fc);
	ASSERT(s);
	struct errbuf err = {{0}};
	fc_config_init(&again);
	ASSERT(fc_config_file_parse(&again, s, strlen(s), &err) == 0);
	ASSERT(fc_config_equal(&fc, &again));
	fc_config_free(&again);
	free(s);
	s = fc_machine_config_json(&fc.vm);
	ASSERT(s);
	free(s);
}

static void apply(const uint8_t *rec, size_t len)
{
	if (len == 0)
		return;
	const char *id = ids[len > 1 ? rec[1] % (sizeof(ids) / sizeof(ids[0])) : 0];
	const char *body = len > 2 ? (const char *)rec + 2 : "";
	size_t blen = len > 2 ? len - 2 : 0;
	struct errbuf err = {{0}};
	memcpy(&before, &fc, sizeof(fc));
	int r;
	switch (rec[0] % 8) {
	case 0: r = fc_config_file_parse(&fc, (const char *)rec + 1, len - 1, &err); break;
	case 1: r = fc_put_boot_source(&fc, body, blen, &err); break;
	case 2: r = fc_put_machine_config(&fc, body, blen, &err); break;
	case 3: r = fc_patch_machine_config(&fc, body, blen, &err); break;
	case 4: r = fc_put_drive(&fc, id, body, blen, &err); break;
	case 5: r = fc_put_network_interface(&fc, id, body, blen, &err); break;
	case 6: r = fc_put_logger(&fc, body, blen, &err); break;
	default: r = fc_put_metrics(&fc, body, blen, &err); break;
	}
	ASSERT(r == 0 || r == -1);
	if (r) {
		ASSERT(err.msg[0] && !strchr(err.msg, '\n'));
		ASSERT(memcmp(&before, &fc, sizeof(fc)) == 0);
	} else {
		check_limits();
		round_trip();
	}
	char path[256];
	size_t n = len - 1 < sizeof(path) - 1 ? len - 1 : sizeof(path) - 1;
	memcpy(path, rec + 1, n);
	path[n] = '\0';
	const char *why = fc_unsupported(path);
	ASSERT(!why || strlen(why) < ERRBUF_SIZE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fc_config_free(&fc); /* the first time, on zeroes: frees nothing */
	fc_config_init(&fc);
	size_t start = 0;
	for (size_t i = 0; i <= size; i++) {
		if (i == size || data[i] == 0) {
			apply(data + start, i - start);
			start = i + 1;
		}
	}
	fc_config_free(&fc);
	return 0;
}
