/* snapshot.h: a paused VM into a snapshot (a state file and a memory file),
 * and a snapshot back into a VM that the builder makes from the
 * configuration saved in it.
 *
 * The state file (vmm/core/snapshot_file.h) holds, one section each:
 *   "config"      the VM's configuration, Firecracker's config-file JSON
 *                 (GET /vm/config's form, without the logger and metrics)
 *   "ember"       what that JSON has no key for: the IRQ chip, each disk's
 *                 O_DIRECT and serial, each NIC's queue pairs and its MAC
 *   "cpu0" ...    each vCPU (vmm/arch/x86/vcpu_state.h)
 *   "vm"          the VM's state outside the vCPUs (vmm/arch/x86/vm_state.h)
 *   device ids    each device's save op ("com1", "ioapic", "vda", "net0")
 * The memory file is guest RAM, byte for byte, with holes for zero pages.
 *
 * Saving (main thread, VM paused):   snapshot_save()
 * Restoring (a new ember):
 *	snapshot_open(&s, state, mem)          the files, all of them checked
 *	snapshot_config(&s, &fc)               the VM to build
 *	machine_build(..., &s)                 which calls, in order,
 *	  snapshot_restore_devices(&s, vm)     after the devices are attached
 *	  snapshot_restore_vcpus(&s, vm)       after vcpus_create
 *	snapshot_close(&s)
 *
 * The files are trusted to come from ember (README: users must protect
 * them, as they would the guest's disk), but a damaged or foreign one is
 * refused with one line before anything starts. */
#ifndef EMBER_SNAPSHOT_H
#define EMBER_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/api/fc_config.h"
#include "vmm/config.h"
#include "vmm/core/snapshot_file.h"
#include "vmm/core/vm.h"
#include "vmm/lib/util.h"

/* Save vm (paused) with its configuration c, whose config-file JSON is
 * config_json, into state_path and mem_path (created or truncated, 0600).
 * A VM with a device that cannot be saved (VFIO) is refused before any file
 * is touched. 0, or -1 with err set. */
int snapshot_save(struct vm *vm, const struct vm_config *c, const char *config_json,
		  const char *state_path, const char *mem_path, struct errbuf *err);

/* Whether every device of vm can be saved (none is passed through). */
bool snapshot_possible(const struct vm *vm);

/* What the main thread needs to save snapshots while the VM runs under its
 * seccomp filter (the state files' creation and writes). */
extern const struct seccomp_allow snapshot_main_seccomp;

struct snapshot_in {
	uint8_t *buf;          /* the state file */
	struct snap_file f;
	int mem_fd;            /* the memory file, open read-only */
	uint64_t mem_bytes;    /* its size */
};

/* Read and check the state file; open the memory file. 0, or -1 with err
 * set and nothing held. */
int snapshot_open(struct snapshot_in *s, const char *state_path, const char *mem_path,
		  struct errbuf *err);
void snapshot_close(struct snapshot_in *s);

/* The saved configuration into fc (fc_config_init'ed by the caller; its
 * observe settings are left as they are), with the "ember" section's
 * fields; the memory file must be its RAM's size. 0, or -1 with err set. */
int snapshot_config(const struct snapshot_in *s, struct fc_config *fc, struct errbuf *err);

/* Apply "iface_id=TAP": the NIC whose id (or device name, "net0") is
 * iface_id gets the TAP host_dev_name. 0, or -1 with err set (no such NIC, a
 * bad TAP name). */
int snapshot_net_override(struct vm_config *c, const char *iface_id, const char *tap,
			  struct errbuf *err);

/* Into a VM built from snapshot_config's configuration: every device's
 * state (a section for each, none left over), then the VM's. */
int snapshot_restore_devices(const struct snapshot_in *s, struct vm *vm, struct errbuf *err);
/* After vcpus_create: every vCPU's state and one TSC for all. */
int snapshot_restore_vcpus(const struct snapshot_in *s, struct vm *vm, struct errbuf *err);

#endif
