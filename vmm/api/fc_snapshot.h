/* fc_snapshot.h: the bodies of Firecracker's PUT /snapshot/create and PUT
 * /snapshot/load, parsed and checked (pure functions on buffers: the API
 * thread parses, the main thread acts). Firecracker's keys:
 *
 *   create: {"snapshot_type": "Full", "snapshot_path": P, "mem_file_path": M}
 *           ("Diff" is refused: ember takes Full snapshots only)
 *   load:   {"snapshot_path": P,
 *            "mem_backend": {"backend_type": "File", "backend_path": M}
 *              or the deprecated "mem_file_path": M,
 *            "resume_vm": bool, "enable_diff_snapshots": false,
 *            "track_dirty_pages": false,
 *            "network_overrides": [{"iface_id": ID, "host_dev_name": TAP}]}
 *           ("Uffd" is refused: ember maps the memory file itself)
 * Unknown keys, wrong types, empty or over-long paths are refused with one
 * line naming the key. */
#ifndef EMBER_FC_SNAPSHOT_H
#define EMBER_FC_SNAPSHOT_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmm/api/fc_config.h"
#include "vmm/config.h"
#include "vmm/lib/util.h"

struct fc_snapshot_create {
	char state_path[FC_PATH_MAX];
	char mem_path[FC_PATH_MAX];
};

struct fc_net_override {
	char iface_id[VM_ID_MAX + 1];
	char tap[IFNAMSIZ];
};

struct fc_snapshot_load {
	char state_path[FC_PATH_MAX];
	char mem_path[FC_PATH_MAX];
	bool resume;
	unsigned noverrides;
	struct fc_net_override overrides[VM_MAX_NETS];
};

/* 0 and *out filled, or -1 with err set and *out untouched. */
int fc_snapshot_create_parse(const char *body, size_t len, struct fc_snapshot_create *out,
			     struct errbuf *err);
int fc_snapshot_load_parse(const char *body, size_t len, struct fc_snapshot_load *out,
			   struct errbuf *err);

#endif
