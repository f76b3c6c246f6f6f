/* serial.c: 16550A UART emulation. Transmission is instant (THR always empty);
 * received bytes wait in a FIFO. The IRQ line follows the pending interrupt.
 * Firecracker's "uart" counters count what the guest did (serial.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vmm/devices/serial.h"

#define UART_RX 0  /* DLAB=0: RBR / THR, DLAB=1: DLL */
#define UART_IER 1 /* DLAB=1: DLM */
#define UART_IIR 2 /* write: FCR */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI 0x01
#define IER_THRI 0x02
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

void serial_init(struct serial *s, int out_fd, void (*set_irq)(void *, bool), void *ctx,
		 int rx_room_efd)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->set_irq = set_irq;
	s->irq_ctx = ctx;
	s->rx_room_efd = rx_room_efd;
	s->mcr = MCR_OUT2;
	s->msr = MSR_DCD | MSR_DSR | MSR_CTS;
}

static uint8_t iir(const struct serial *s)
{
	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI;
	if ((s->ier & IER_THRI) && s->iir_pending_thr)
		return IIR_THRI;
	return IIR_NO_INT;
}

static void update_irq(struct serial *s)
{
	bool level = iir(s) != IIR_NO_INT;
	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->set_irq)
			s->set_irq(s->irq_ctx, level);
	}
}

#define COUNT(s, field) __atomic_fetch_add(&(s)->counters.field, 1, __ATOMIC_RELAXED)

/* false: the FIFO is full and b is lost */
static bool rx_push(struct serial *s, uint8_t b)
{
	if (s->rx_count == SERIAL_RX_FIFO)
		return false;
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_FIFO] = b;
	s->rx_count++;
	return true;
}

static void transmit(struct serial *s, uint8_t b)
{
	if (s->mcr & MCR_LOOP) {
		if (rx_push(s, b))
			COUNT(s, write_count);
		else
			COUNT(s, missed_write_count);
		return;
	}
	if (s->out_fd < 0) {
		COUNT(s, missed_write_count);
		return;
	}
	for (;;) {
		ssize_t r = write(s->out_fd, &b, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 1) {
			COUNT(s, write_count);
			COUNT(s, flush_count);
		} else {
			/* a console that went away (EPIPE, EIO) or is full (EAGAIN)
			 * loses output, not the VM */
			COUNT(s, error_count);
			COUNT(s, missed_write_count);
		}
		return;
	}
}

/* Tell the input side that the guest can take bytes again. */
static void signal_room(struct serial *s)
{
	if (s->rx_room_efd >= 0) {
		uint64_t one = 1;
		ssize_t r = write(s->rx_room_efd, &one, sizeof(one));
		(void)r;
	}
}

static uint8_t read_reg(struct serial *s, unsigned off)
{
	bool dlab = s->lcr & LCR_DLAB;
	switch (off) {
	case UART_RX:
		if (dlab)
			return s->dll;
		if (!s->rx_count) {
			COUNT(s, missed_read_count);
			return 0;
		}
		COUNT(s, read_count);
		{
			uint8_t b = s->rx[s->rx_head];
			bool was_full = s->rx_count == SERIAL_RX_FIFO;
			s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
			s->rx_count--;
			if (was_full)
				signal_room(s);
			return b;
		}
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR: {
		uint8_t v = iir(s);
		if (v == IIR_THRI)
			s->iir_pending_thr = 0; /* reading IIR acknowledges THRE */
		return v | ((s->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
	}
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR: {
		uint8_t v = LSR_THRE | LSR_TEMT | s->lsr_err | (s->rx_count ? LSR_DR : 0);
		s->lsr_err = 0;
		return v;
	}
	case UART_MSR:
		if (s->mcr & MCR_LOOP)
			return (uint8_t)(((s->mcr & MCR_DTR) ? MSR_DSR : 0) |
					 ((s->mcr & MCR_RTS) ? MSR_CTS : 0) |
					 ((s->mcr & MCR_OUT1) ? MSR_RI : 0) |
					 ((s->mcr & MCR_OUT2) ? MSR_DCD : 0));
		return s->msr;
	default:
		return s->scr;
	}
}

static void write_reg(struct serial *s, unsigned off, uint8_t v)
{
	bool dlab = s->lcr & LCR_DLAB;
	switch (off) {
	case UART_RX:
		if (dlab) {
			s->dll = v;
		} else {
			transmit(s, v);
			s->iir_pending_thr = 1;
		}
		break;
	case UART_IER:
		if (dlab) {
			s->dlm = v;
		} else {
			if (!(s->ier & IER_THRI) && (v & IER_THRI))
				s->iir_pending_thr = 1; /* THR is empty: enabling THRI fires at once */
			if (!(s->ier & IER_RDI) && (v & IER_RDI))
				signal_room(s); /* the guest now listens: input may flow */
			s->ier = v & 0x0f;
		}
		break;
	case UART_IIR:
		s->fcr = v & (uint8_t)~(FCR_CLEAR_RX | 0x04);
		if (v & FCR_CLEAR_RX) {
			s->rx_armed = true;
			/* a full FIFO emptied: the input side waits to hear of room */
			if (s->rx_count == SERIAL_RX_FIFO)
				signal_room(s);
			s->rx_count = 0;
		}
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}

void serial_io(struct serial *s, unsigned offset, uint8_t *data, unsigned size, bool write)
{
	if (size != 1) {
		if (write) {
			COUNT(s, missed_write_count);
		} else {
			COUNT(s, missed_read_count);
			memset(data, 0xff, size);
		}
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (write)
		write_reg(s, offset & 7, *data);
	else
		*data = read_reg(s, offset & 7);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&s->lock);
	size_t n = 0;
	while (n < len && s->rx_count < SERIAL_RX_FIFO)
		rx_push(s, buf[n++]);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_rx_room(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	/* Input waits in the host's pipe or terminal, instead of being lost,
	 * until the guest's driver has opened the port: it resets the FIFO and
	 * then enables receive interrupts (it disables them to throttle, too).
	 * Linux's UART probe sets the interrupt bits briefly before any FIFO
	 * reset; that must not open the gate, or its later reset eats input. */
	size_t room = (s->ier & IER_RDI) && s->rx_armed ? SERIAL_RX_FIFO - s->rx_count : 0;
	pthread_mutex_unlock(&s->lock);
	return room;
}

void serial_counters(struct serial *s, struct serial_counters *out)
{
#define LOAD(field) out->field = __atomic_load_n(&s->counters.field, __ATOMIC_RELAXED)
	LOAD(error_count);
	LOAD(flush_count);
	LOAD(missed_read_count);
	LOAD(missed_write_count);
	LOAD(read_count);
	LOAD(write_count);
#undef LOAD
}
