/* snapshot.c: a paused VM into a state file and a memory file, and those
 * files back into a new VM (the order and what each section holds:
 * snapshot.h). */
#include "vmm/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/arch/x86/vcpu_state.h"
#include "vmm/arch/x86/vm_state.h"
#include "vmm/core/state_codec.h"

#define TAG_CONFIG "config"
#define TAG_EMBER "ember"
#define TAG_VM "vm"

/* The "ember" section: a state_codec blob. */
#define EMBER_CFG_MAGIC 0x47464345u /* "ECFG" */
#define EMBER_CFG_VERSION 1
#define EMBER_CFG_MAX 4096

/* ---- the "ember" section ---- */

static size_t ember_cfg_encode(const struct vm_config *c, const struct vm *vm, uint8_t *buf,
			       size_t cap)
{
	struct codec_writer w;
	cw_begin(&w, buf, cap, EMBER_CFG_MAGIC, EMBER_CFG_VERSION);
	cw_section(&w, 1);
	cw_u32(&w, vm->kernel_irqchip);
	cw_u32(&w, c->ndisks);
	cw_u32(&w, c->nnets);
	cw_section(&w, 2);
	for (unsigned i = 0; i < c->ndisks; i++) {
		cw_u32(&w, c->disks[i].direct);
		cw_bytes(&w, c->disks[i].serial, sizeof(c->disks[i].serial));
	}
	cw_section(&w, 3);
	for (unsigned i = 0; i < c->nnets; i++) {
		uint8_t mac[6];
		if (c->nets[i].mac_set)
			memcpy(mac, c->nets[i].mac, 6);
		else
			net_default_mac(c->nets[i].tap, i, mac);
		cw_u32(&w, c->nets[i].queues);
		cw_bytes(&w, mac, 6);
	}
	return cw_finish(&w);
}

static int ember_cfg_decode(const uint8_t *buf, size_t len, struct vm_config *c,
			    struct errbuf *err)
{
	struct codec_reader r;
	size_t n;
	uint32_t irq, nd, nn;
	if (cr_begin(&r, buf, len, EMBER_CFG_MAGIC, EMBER_CFG_VERSION, "ember's configuration", err) ||
	    cr_section(&r, 1, "counts", &n) || cr_expect(&r, n, 12) || cr_u32(&r, &irq) ||
	    cr_u32(&r, &nd) || cr_u32(&r, &nn))
		return -1;
	if (irq > 1 || nd != c->ndisks || nn != c->nnets)
		return cr_fail(&r, "%u disks and %u NICs, the configuration has %u and %u", nd, nn,
			       c->ndisks, c->nnets);
	struct blk_opts disks[VM_MAX_DISKS];
	struct net_opts nets[VM_MAX_NETS];
	memcpy(disks, c->disks, sizeof(disks));
	memcpy(nets, c->nets, sizeof(nets));
	if (cr_section(&r, 2, "disks", &n) ||
	    cr_expect(&r, n, nd * (4 + sizeof(disks[0].serial))))
		return -1;
	for (unsigned i = 0; i < nd; i++) {
		uint32_t direct;
		if (cr_u32(&r, &direct) || cr_bytes(&r, disks[i].serial, sizeof(disks[i].serial)))
			return -1;
		if (direct > 1 || disks[i].serial[sizeof(disks[i].serial) - 1])
			return cr_fail(&r, "disk %u: a bad O_DIRECT flag or serial", i);
		disks[i].direct = direct;
	}
	if (cr_section(&r, 3, "NICs", &n) || cr_expect(&r, n, nn * 10))
		return -1;
	for (unsigned i = 0; i < nn; i++) {
		uint32_t q;
		uint8_t mac[6];
		if (cr_u32(&r, &q) || cr_bytes(&r, mac, 6))
			return -1;
		if (q < 1 || q > NET_MAX_PAIRS)
			return cr_fail(&r, "NIC %u: %u queue pairs", i, q);
		nets[i].queues = q;
		memcpy(nets[i].mac, mac, 6);
		nets[i].mac_set = true;
	}
	if (cr_end(&r))
		return -1;
	c->kernel_irqchip = irq;
	memcpy(c->disks, disks, sizeof(disks));
	memcpy(c->nets, nets, sizeof(nets));
	return 0;
}

/* ---- saving ---- */

/* Open path for writing, created if missing (0600); truncated at once only
 * with trunc (the memory file is checked first: gm_save_file). */
static int create_file(const char *path, bool trunc, struct errbuf *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | (trunc ? O_TRUNC : 0) | O_CLOEXEC, 0600);
	if (fd < 0)
		err_set(err, "cannot create '%s': %s", path, strerror(errno));
	return fd;
}

/* Every vCPU's state, then the VM's (kvmclock last), into w. */
static int save_kvm_state(struct vm *vm, struct snap_writer *w, struct errbuf *err)
{
	int r = -1;
	struct x86_vcpu_state *vs = malloc(sizeof(*vs));
	uint8_t *blob = malloc(X86_VCPU_STATE_MAX_BYTES);
	struct x86_vm_state *ms = malloc(sizeof(*ms));
	if (!vs || !blob || !ms) {
		err_set(err, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < vm->ncpus; i++) {
		char tag[16];
		snprintf(tag, sizeof(tag), "cpu%u", i);
		if (x86_vcpu_state_save(vm->vcpus[i].fd, vm->kvm_fd, vs, err)) {
			err_prefix(err, "vCPU %u", i);
			goto out;
		}
		size_t n = x86_vcpu_state_encode(vs, blob, X86_VCPU_STATE_MAX_BYTES);
		if (!n) {
			err_set(err, "vCPU %u: its state does not encode", i);
			goto out;
		}
		if (snap_writer_add(w, tag, X86_VCPU_STATE_VERSION, blob, n, err))
			goto out;
	}
	if (x86_vm_state_save(vm, ms, err))
		goto out;
	size_t n = x86_vm_state_encode(ms, blob, X86_VCPU_STATE_MAX_BYTES);
	if (!n) {
		err_set(err, "the VM's state does not encode");
		goto out;
	}
	r = snap_writer_add(w, TAG_VM, X86_VM_STATE_VERSION, blob, n, err);
out:
	free(vs);
	free(blob);
	free(ms);
	return r;
}

static int save_devices(struct vm *vm, struct snap_writer *w, struct errbuf *err)
{
	for (unsigned i = 0; i < vm->devices.n; i++) {
		struct device *d = vm->devices.dev[i];
		void *p = snap_writer_begin(w, d->id, 1, DEVICE_STATE_MAX, err);
		if (!p)
			return -1;
		size_t len = 0;
		if (device_save(d, p, DEVICE_STATE_MAX, &len, err) || snap_writer_end(w, len, err)) {
			snap_writer_cancel(w);
			return -1;
		}
	}
	return 0;
}

/* The first device of vm that cannot be saved (a passed-through one), or NULL. */
static struct device *unsaveable(const struct vm *vm)
{
	for (unsigned i = 0; i < vm->devices.n; i++)
		if (!vm->devices.dev[i]->ops->save)
			return vm->devices.dev[i];
	return NULL;
}

bool snapshot_possible(const struct vm *vm)
{
	return !unsaveable(vm);
}

int snapshot_save(struct vm *vm, const struct vm_config *c, const char *config_json,
		  const char *state_path, const char *mem_path, struct errbuf *err)
{
	if (!vm->paused) {
		err_set(err, "the microVM must be paused to take a snapshot");
		return -1;
	}
	struct device *d = unsaveable(vm);
	if (d) {
		err_set(err, "%s (%s) cannot be saved: a passed-through device's state is in "
			"the hardware", d->id, d->ops->type);
		return -1;
	}
	struct snap_writer w;
	snap_writer_init(&w);
	uint8_t ecfg[EMBER_CFG_MAX];
	size_t elen = ember_cfg_encode(c, vm, ecfg, sizeof(ecfg));
	uint8_t *file = NULL;
	size_t flen = 0;
	int sfd = -1, mfd = -1, r = -1;
	if (!elen) {
		err_set(err, "ember's configuration does not encode");
		goto out;
	}
	if (snap_writer_add(&w, TAG_CONFIG, 1, config_json, strlen(config_json), err) ||
	    snap_writer_add(&w, TAG_EMBER, EMBER_CFG_VERSION, ecfg, elen, err) ||
	    save_kvm_state(vm, &w, err) || save_devices(vm, &w, err) ||
	    snap_writer_finish(&w, &file, &flen, err))
		goto out;
	/* The memory file first: a state file exists only with its memory. */
	if ((mfd = create_file(mem_path, false, err)) < 0)
		goto out;
	int e = gm_save_file(&vm->mem, mfd);
	if (e == -EBUSY) {
		err_set(err, "'%s' is the memory file this VM was restored from and runs on", mem_path);
		goto out;
	}
	if (e) {
		err_set(err, "cannot write '%s': %s", mem_path, strerror(-e));
		goto out;
	}
	if ((sfd = create_file(state_path, true, err)) < 0)
		goto out;
	if ((e = write_full(sfd, file, flen))) {
		err_set(err, "cannot write '%s': %s", state_path, strerror(-e));
		goto out;
	}
	r = 0;
out:
	if (sfd >= 0)
		close(sfd);
	if (mfd >= 0)
		close(mfd);
	free(file);
	snap_writer_free(&w);
	return r;
}

static const int save_calls[] = {SYS_ftruncate, SYS_pwrite64, SYS_fstat, SYS_newfstatat};
static const struct seccomp_arg_rule save_args[] = {
	{SYS_openat, 2, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC},
	{SYS_openat, 2, O_WRONLY | O_CREAT | O_CLOEXEC},
};
static const unsigned long save_ioctls[] = {
	KVM_CHECK_EXTENSION, KVM_GET_MSR_INDEX_LIST, KVM_GET_MSR_FEATURE_INDEX_LIST,
	KVM_GET_MP_STATE, KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_XSAVE, KVM_GET_XSAVE2,
	KVM_GET_XCRS, KVM_GET_DEBUGREGS, KVM_GET_LAPIC, KVM_GET_MSRS, KVM_GET_VCPU_EVENTS,
	KVM_GET_CPUID2, KVM_GET_TSC_KHZ, KVM_HAS_DEVICE_ATTR, KVM_GET_DEVICE_ATTR,
	KVM_GET_CLOCK, KVM_GET_IRQCHIP, KVM_GET_PIT2,
};
const struct seccomp_allow snapshot_main_seccomp = {
	.kind = "main", .calls = save_calls, .ncalls = ARRAY_SIZE(save_calls),
	.ioctls = save_ioctls, .nioctls = ARRAY_SIZE(save_ioctls),
	.args = save_args, .nargs = ARRAY_SIZE(save_args),
};

/* ---- restoring ---- */

int snapshot_open(struct snapshot_in *s, const char *state_path, const char *mem_path,
		  struct errbuf *err)
{
	memset(s, 0, sizeof(*s));
	s->mem_fd = -1;
	if (snap_file_load(state_path, &s->buf, &s->f, err))
		return -1;
	s->mem_fd = open(mem_path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (s->mem_fd < 0 || fstat(s->mem_fd, &st) < 0) {
		err_set(err, "memory file '%s': %s", mem_path, strerror(errno));
		snapshot_close(s);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(err, "memory file '%s': not a regular file", mem_path);
		snapshot_close(s);
		return -1;
	}
	s->mem_bytes = (uint64_t)st.st_size;
	return 0;
}

void snapshot_close(struct snapshot_in *s)
{
	free(s->buf);
	s->buf = NULL;
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	s->mem_fd = -1;
}

int snapshot_config(const struct snapshot_in *s, struct fc_config *fc, struct errbuf *err)
{
	const uint8_t *p;
	uint64_t n;
	if (!snap_file_find(&s->f, TAG_CONFIG, &p, &n, NULL)) {
		err_set(err, "snapshot: no configuration section");
		return -1;
	}
	struct fc_config tmp;
	fc_config_init(&tmp);
	if (fc_config_file_parse(&tmp, (const char *)p, (size_t)n, err)) {
		err_prefix(err, "snapshot: its configuration");
		fc_config_free(&tmp);
		return -1;
	}
	if (!snap_file_find(&s->f, TAG_EMBER, &p, &n, NULL)) {
		err_set(err, "snapshot: no 'ember' section");
		fc_config_free(&tmp);
		return -1;
	}
	if (ember_cfg_decode(p, (size_t)n, &tmp.vm, err)) {
		err_prefix(err, "snapshot");
		fc_config_free(&tmp);
		return -1;
	}
	if (s->mem_bytes != MiB(tmp.vm.mem_mib)) {
		err_set(err, "snapshot: the memory file has %llu bytes, the VM %llu MiB of RAM",
			(unsigned long long)s->mem_bytes, (unsigned long long)tmp.vm.mem_mib);
		fc_config_free(&tmp);
		return -1;
	}
	tmp.observe = fc->observe;
	fc_config_free(fc);
	*fc = tmp;
	return 0;
}

int snapshot_net_override(struct vm_config *c, const char *iface_id, const char *tap,
			  struct errbuf *err)
{
	if (!net_tap_name_ok(tap, strlen(tap))) {
		err_set(err, "network override '%s': '%s' is not a TAP name", iface_id, tap);
		return -1;
	}
	for (unsigned i = 0; i < c->nnets; i++) {
		char name[16];
		snprintf(name, sizeof(name), "net%u", i);
		if (strcmp(c->net_ids[i][0] ? c->net_ids[i] : name, iface_id) == 0) {
			snprintf(c->nets[i].tap, sizeof(c->nets[i].tap), "%s", tap);
			return 0;
		}
	}
	err_set(err, "network override: the snapshot has no network interface '%s'", iface_id);
	return -1;
}

int snapshot_restore_devices(const struct snapshot_in *s, struct vm *vm, struct errbuf *err)
{
	/* Every section is the configuration's, a vCPU's, the VM's, or a
	 * device's this VM has: a snapshot with more state than the VM is not
	 * this VM's. */
	size_t pos = 0;
	struct snap_section sec;
	while (snap_file_next(&s->f, &pos, &sec)) {
		unsigned cpu;
		char canon[SNAP_TAG_SIZE + 1];
		if (!strcmp(sec.tag, TAG_CONFIG) || !strcmp(sec.tag, TAG_EMBER) || !strcmp(sec.tag, TAG_VM))
			continue;
		/* "cpuN" exactly as the saving wrote it ("cpu01" is no vCPU's) */
		if (sscanf(sec.tag, "cpu%u", &cpu) == 1 && cpu < vm->ncpus &&
		    snprintf(canon, sizeof(canon), "cpu%u", cpu) > 0 && !strcmp(canon, sec.tag))
			continue;
		bool found = false;
		for (unsigned i = 0; i < vm->devices.n && !found; i++)
			found = !strcmp(vm->devices.dev[i]->id, sec.tag);
		if (!found) {
			err_set(err, "snapshot: state for '%s', which this VM does not have", sec.tag);
			return -1;
		}
	}
	for (unsigned i = 0; i < vm->devices.n; i++) {
		struct device *d = vm->devices.dev[i];
		const uint8_t *p;
		uint64_t n;
		if (!snap_file_find(&s->f, d->id, &p, &n, NULL)) {
			err_set(err, "snapshot: no state for device %s (%s)", d->id, d->ops->type);
			return -1;
		}
		if (device_restore(d, p, (size_t)n, err)) {
			err_prefix(err, "snapshot: device %s", d->id);
			return -1;
		}
	}
	const uint8_t *p;
	uint64_t n;
	if (!snap_file_find(&s->f, TAG_VM, &p, &n, NULL)) {
		err_set(err, "snapshot: no VM state");
		return -1;
	}
	struct x86_vm_state *ms = malloc(sizeof(*ms));
	if (!ms) {
		err_set(err, "out of memory");
		return -1;
	}
	int r = x86_vm_state_decode(p, (size_t)n, ms, err) || x86_vm_state_restore(vm, ms, err) ? -1 : 0;
	if (r)
		err_prefix(err, "snapshot");
	free(ms);
	return r;
}

int snapshot_restore_vcpus(const struct snapshot_in *s, struct vm *vm, struct errbuf *err)
{
	struct x86_vcpu_state *st = calloc(vm->ncpus, sizeof(*st));
	int *fds = calloc(vm->ncpus, sizeof(*fds));
	int r = -1;
	if (!st || !fds) {
		err_set(err, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < vm->ncpus; i++) {
		char tag[16];
		snprintf(tag, sizeof(tag), "cpu%u", i);
		const uint8_t *p;
		uint64_t n;
		if (!snap_file_find(&s->f, tag, &p, &n, NULL)) {
			err_set(err, "snapshot: no state for vCPU %u", i);
			goto out;
		}
		fds[i] = vm->vcpus[i].fd;
		if (x86_vcpu_state_decode(p, (size_t)n, &st[i], err) ||
		    x86_vcpu_state_restore(fds[i], vm->kvm_fd, &st[i], err)) {
			err_prefix(err, "snapshot: vCPU %u", i);
			goto out;
		}
	}
	if (x86_vcpus_restore_tsc(fds, st, vm->ncpus, err)) {
		err_prefix(err, "snapshot");
		goto out;
	}
	r = 0;
out:
	free(st);
	free(fds);
	return r;
}
