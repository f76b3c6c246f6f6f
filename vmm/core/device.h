/* device.h: the one contract every device keeps with the VM. A device embeds
 * a struct device, fills in its ops and registers with vm_add_device(); from
 * then on the VM owns it: it starts the devices before the vCPUs run, asks
 * them for stats (SIGUSR1) and counters (the metrics line), pauses and resumes them
 * with the vCPUs, and destroys them in the reverse of their order.
 *
 * Every op may be NULL: a device with nothing to start, pause, report or
 * free leaves it out. save/restore answer "not supported" when NULL (VFIO:
 * a passed-through device's state is in the hardware, so a VM with one
 * cannot be snapshot). A device states what seccomp must allow its own thread, if it
 * has one, and what its emulation adds on the vCPU threads, so the filters
 * follow the device list and seccomp.c knows no device. */
#ifndef EMBER_DEVICE_H
#define EMBER_DEVICE_H

#include <stddef.h>
#include <stdio.h>

#include "vmm/core/metrics.h"
#include "vmm/core/rate_limiter.h"
#include "vmm/core/seccomp.h"
#include "vmm/lib/util.h"

struct device;
struct vm;
struct pci_device;

struct device_ops {
	const char *type;                     /* "virtio-blk", "serial", ... */
	/* What the thread the device starts may call (NULL: no thread), and
	 * what the vCPU threads need for its emulation besides the core's
	 * (NULL: nothing). */
	const struct seccomp_allow *thread;
	const struct seccomp_allow *vcpu;
	/* What the main thread needs for the device's changes while the VM
	 * runs (set_backing), or NULL. */
	const struct seccomp_allow *main;
	/* A PCI device whose host resources were opened before the VM
	 * existed (disks, TAPs, passed-through devices): create it in vm (its
	 * memory, interrupt routes, ioeventfds). Its PCI function, which the
	 * builder puts on the bus, or NULL with e set. Platform devices are
	 * created straight into the VM. */
	struct pci_device *(*attach)(struct device *d, struct vm *vm, struct errbuf *e);
	/* Before the vCPUs run; a device with a thread returns once that
	 * thread has its seccomp filter. 0, or -1 with e set. */
	int (*start)(struct device *d, struct errbuf *e);
	/* Quiesce: finish what is in flight (used entries and interrupts
	 * delivered), then touch no guest memory until resume. The vCPUs are
	 * already out of the guest. 0, or -1 when it could not. */
	int (*pause)(struct device *d);
	/* Go on after pause (kick every queue once: the guest may have added
	 * buffers while the device was paused). */
	void (*resume)(struct device *d);
	/* Put a new host resource behind the running device (PATCH /drives:
	 * a new disk image, whose size the guest is told). Main thread. 0, or
	 * -1 with e set and the device unchanged. */
	int (*set_backing)(struct device *d, const char *path, struct errbuf *e);
	/* New rate limits while the VM runs (PATCH): n updates, 1 for a disk,
	 * 2 for a NIC (receive, transmit). Main thread. 0, or -1 with e set
	 * (n does not fit the device). */
	int (*set_rate_limits)(struct device *d, const struct rl_update *u, unsigned n,
			       struct errbuf *e);
	/* The guest-visible state back to power-on (a VM reset). */
	void (*reset)(struct device *d);
	/* One or more JSON lines (newline-terminated) describing the device. */
	void (*stats)(struct device *d, FILE *out);
	/* Its counters for the metrics line (main thread, any time after
	 * attach): group, names, n and the totals since it was created (its
	 * threads add with relaxed atomics; the metrics make them deltas;
	 * stored marks values written as they are). s->id comes set to the
	 * device's id ("block_ID"); a device of which a VM has one (the UART,
	 * the i8042) empties it: Firecracker writes its group alone ("uart"). */
	void (*metrics)(struct device *d, struct metrics_sample *s);
	/* The guest-visible state as plain data into buf (cap bytes, at
	 * least DEVICE_STATE_MAX); *len is set to what was written. Main
	 * thread, the VM paused (vm_pause(): the vCPUs parked with their last
	 * instruction completed, every device quiesced, nothing in flight).
	 * The bytes are a state_codec blob (vmm/core/state_codec.h) with the
	 * device kind's own magic and version. Host resources (files, TAPs,
	 * fds) are not state: the restoring ember opens them again from the
	 * configuration saved with the snapshot. 0, or -1 with e set. */
	int (*save)(struct device *d, void *buf, size_t cap, size_t *len, struct errbuf *e);
	/* Load what save wrote (untrusted bytes: every field checked; a
	 * refusal is one line in e and leaves the device as it was built)
	 * into a device built from the same configuration. Main thread,
	 * after attach (a PCI device is on the bus) and with guest memory
	 * already holding the snapshot's contents, before start; no vCPU has
	 * run. It sets up again what follows from the guest-visible state
	 * (MSI routes and irqfds, ioeventfds, BARs the guest moved). start
	 * then keeps that state (no reset) and kicks each ready queue once,
	 * as resume does. 0, or -1 with e set. */
	int (*restore)(struct device *d, const void *buf, size_t len, struct errbuf *e);
	/* Stop its thread (if started) and free everything it holds,
	 * including itself when it was allocated. The vCPUs have stopped. */
	void (*destroy)(struct device *d);
};

struct device {
	const struct device_ops *ops;
	char id[16];                          /* "com1", "vda", "net0", "vfio0" */
	char api_id[METRICS_ID_MAX + 1];      /* the API's drive_id or iface_id ("": id) */
};

/* Set d's ops and id (printf-style). */
void device_init(struct device *d, const struct device_ops *ops, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* d's destroy op, if it has one (a device not yet handed to the VM). */
void device_destroy(struct device *d);

/* The most bytes one device's saved state may take. */
#define DEVICE_STATE_MAX (256u * 1024u)

/* The ops, NULL-safe: save/restore without an op fail with "not supported". */
int device_save(struct device *d, void *buf, size_t cap, size_t *len, struct errbuf *e);
int device_restore(struct device *d, const void *buf, size_t len, struct errbuf *e);
/* save and restore ops for a device with no guest-visible state (the exit
 * ports, ACPI power-off): nothing saved; restore takes only nothing. */
int device_save_none(struct device *d, void *buf, size_t cap, size_t *len, struct errbuf *e);
int device_restore_none(struct device *d, const void *buf, size_t len, struct errbuf *e);

/* The VM's devices, in the order they were added. */
#define DEVICE_LIST_MAX 64
struct device_list {
	struct device *dev[DEVICE_LIST_MAX];
	unsigned n;
};

/* Add d (the list takes it over: destroy_all destroys it). 0, or -1 when full. */
int device_list_add(struct device_list *l, struct device *d);
/* Add each device's vCPU and main-thread allow lists to those filters
 * (before the threads install them). 0, or -1 with e set. */
int device_list_seccomp(struct device_list *l, struct errbuf *e);
/* The device of that type (its ops' type) the API calls api_id
 * (or, without one, whose id is api_id), or NULL. A drive and a network
 * interface may share an id: the API's paths say which is meant. */
struct device *device_list_find(struct device_list *l, const char *type, const char *api_id);
/* Start each in order; stops at the first failure (-1, e names the device). */
int device_list_start(struct device_list *l, struct errbuf *e);
/* Pause each in order; resume in reverse. pause returns -1 when one failed
 * (the others are paused all the same). */
int device_list_pause(struct device_list *l);
void device_list_resume(struct device_list *l);
void device_list_reset(struct device_list *l);
void device_list_stats(struct device_list *l, FILE *out);
/* A sample for each device with a metrics op, slot = its place in the list,
 * id = its api_id or id, into s (room for DEVICE_LIST_MAX). Their number. */
unsigned device_list_metrics(struct device_list *l, struct metrics_sample *s);
/* Destroy each, last added first, and empty the list. */
void device_list_destroy(struct device_list *l);
#endif
