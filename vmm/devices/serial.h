/* serial.h: a 16550A UART (8250 family) at 0x3f8 / IRQ 4, the guest console. */
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

struct serial {
	pthread_mutex_t lock;
	/* where transmitted bytes go (-1: dropped) */
	int out_fd;
	/* raise or lower the IRQ line */
	void (*set_irq)(void *ctx, bool level);
	void *irq_ctx;
	/* eventfd written when the receive FIFO regains room (-1: none) */
	int rx_room_efd;

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
/* Port access, offset 0-7 from the base. */
void serial_io(struct serial *s, unsigned offset, uint8_t *data, bool write);
/* Queue input bytes; returns how many fit. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);
/* How many input bytes the guest can take now: free FIFO room, or 0 while
 * its receive interrupt is off. rx_room_efd is written when this may grow. */
size_t serial_rx_room(struct serial *s);

#endif
