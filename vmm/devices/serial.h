/* serial.h: a 16550A UART (8250 family) at 0x3f8 / IRQ 4, the guest console,
 * its counters (Firecracker's "uart" metrics group), and its saved state for
 * snapshots (struct serial_state as a state_codec blob). */
#ifndef EMBER_SERIAL_H
#define EMBER_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/lib/util.h"

#define SERIAL_COM1_PORT 0x3f8
#define SERIAL_COM1_IRQ 4
#define SERIAL_RX_FIFO 256

/* What happened since serial_init, as Firecracker's "uart" counters. The
 * vCPUs (and the console input) add under the lock; serial_counters() reads
 * them from any thread. ember does not buffer output: each byte the guest
 * transmits is one write(2) to out_fd, so a flush is a write that worked. */
struct serial_counters {
	uint64_t error_count;        /* write(2)s to out_fd that failed (EPIPE, EIO, EAGAIN, ...) */
	uint64_t flush_count;        /* write(2)s to out_fd that worked */
	uint64_t missed_read_count;  /* reads that got no data: the receive buffer empty, or
				      * wider than a byte (ignored) */
	uint64_t missed_write_count; /* bytes transmitted and lost (no out_fd, a failed write,
				      * loopback into a full FIFO), and writes wider than a
				      * byte (ignored) */
	uint64_t read_count;         /* bytes the guest read from the receive buffer */
	uint64_t write_count;        /* bytes the guest transmitted that went out (out_fd, or
				      * back in, in loopback mode) */
};

struct serial {
	pthread_mutex_t lock;
	/* where transmitted bytes go (-1: dropped) */
	int out_fd;
	/* raise or lower the IRQ line */
	void (*set_irq)(void *ctx, bool level);
	void *irq_ctx;
	/* eventfd written when the receive FIFO regains room (-1: none) */
	int rx_room_efd;
	/* asked when a write to out_fd is interrupted by a signal: true drops
	 * the byte (counted as missed) instead of writing it again (NULL: never) */
	bool (*give_up)(void);
	struct serial_counters counters; /* relaxed atomics */

	/* What the guest sees (struct serial_state). */
	STATE_GROUP(serial_state, state,
		uint8_t ier, iir_pending_thr, lcr, mcr, lsr_err, msr, scr, dll, dlm, fcr;
		uint8_t irq_level;
		uint8_t rx_armed; /* the guest has reset the receive FIFO: input may flow */
		uint8_t rx[SERIAL_RX_FIFO];
		uint32_t rx_head, rx_count;
	);
};

void serial_init(struct serial *s, int out_fd, void (*set_irq)(void *, bool), void *ctx,
		 int rx_room_efd);
/* Port access, offset 0-7 from the base, size bytes at data. Only byte
 * accesses reach a register; a wider one is ignored (a read sees 0xff) and
 * counted as missed, as Firecracker does. */
void serial_io(struct serial *s, unsigned offset, uint8_t *data, unsigned size, bool write);
/* Queue input bytes; returns how many fit. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);
/* How many input bytes the guest can take now: free FIFO room, or 0 while
 * its receive interrupt is off. rx_room_efd is written when this may grow. */
size_t serial_rx_room(struct serial *s);
/* The counters so far. */
void serial_counters(struct serial *s, struct serial_counters *out);

/* Snapshots. The state is struct serial_state as it is (every register,
 * the receive FIFO and its ring position, the pending THR-empty interrupt,
 * the IRQ line's level); the output fd, the IRQ callback and the eventfd are
 * the host's and not in it. The blob (vmm/core/state_codec.h): */
#define SERIAL_STATE_MAGIC 0x52455345u /* "ESER" */
#define SERIAL_STATE_VERSION 1
#define SERIAL_STATE_MAX_BYTES 512
/* Encode st into buf: its length, or 0 when cap is too small. */
size_t serial_state_encode(const struct serial_state *st, uint8_t *buf, size_t cap);
/* Decode len untrusted bytes into st, checking every field (reserved bits
 * clear, the FIFO's position and count inside it, the IRQ level the one the
 * registers give): 0, or -1 with err one line ("serial state: ...") and st
 * zeroed. */
int serial_state_decode(const uint8_t *buf, size_t len, struct serial_state *st,
			struct errbuf *err);
/* The UART's state encoded into buf (under its lock): the length, or 0 when
 * cap is too small. */
size_t serial_save(struct serial *s, uint8_t *buf, size_t cap);
/* Decode buf and, only when it is valid, make it the UART's state: the IRQ
 * line is raised again if an interrupt is pending, and rx_room_efd is
 * signalled if the guest can take input. 0, or -1 with err set and s
 * unchanged. */
int serial_restore(struct serial *s, const uint8_t *buf, size_t len, struct errbuf *err);

#endif
