/* blk_seccomp.h: what virtio-blk needs of seccomp (vmm/core/seccomp.h): its
 * I/O thread's allow list, what its emulation on the vCPU threads adds, and
 * what the main thread needs to put a new image behind a running drive. */
#ifndef EMBER_BLK_SECCOMP_H
#define EMBER_BLK_SECCOMP_H

#include "vmm/core/seccomp.h"

extern const struct seccomp_allow blk_io_seccomp;   /* the "blk-io" thread */
extern const struct seccomp_allow blk_vcpu_seccomp; /* on the vCPU threads */
extern const struct seccomp_allow blk_main_seccomp; /* a new image (PATCH /drives) */

#endif
