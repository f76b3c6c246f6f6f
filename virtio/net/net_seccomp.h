/* net_seccomp.h: what virtio-net needs of seccomp (vmm/core/seccomp.h): its
 * I/O thread's allow list, and what its emulation on the vCPU threads adds. */
#ifndef EMBER_NET_SECCOMP_H
#define EMBER_NET_SECCOMP_H

#include "vmm/core/seccomp.h"

extern const struct seccomp_allow net_io_seccomp;   /* the "net-io" thread */
extern const struct seccomp_allow net_vcpu_seccomp; /* on the vCPU threads */
extern const struct seccomp_allow net_main_seccomp; /* new rate limits (PATCH) */

#endif
