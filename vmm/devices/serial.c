/* serial.c: 16550A UART emulation. Transmission is instant (THR always empty;
 * the byte is written to the console outside the UART's lock);
 * received bytes wait in a FIFO. The IRQ line follows the pending interrupt.
 * Firecracker's "uart" counters count what the guest did (serial.h), and its
 * state is saved and restored for snapshots. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vmm/core/state_codec.h"
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

static uint8_t state_iir(const struct serial_state *st)
{
	if ((st->ier & IER_RDI) && st->rx_count)
		return IIR_RDI;
	if ((st->ier & IER_THRI) && st->iir_pending_thr)
		return IIR_THRI;
	return IIR_NO_INT;
}

static uint8_t iir(const struct serial *s)
{
	return state_iir(&s->state);
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

/* A byte the guest put in THR, under the lock: looped back, or dropped with
 * no console. Returns the byte when it is for out_fd, which the caller
 * writes with emit() after letting go of the lock, else -1. */
static int transmit(struct serial *s, uint8_t b)
{
	if (s->mcr & MCR_LOOP) {
		if (rx_push(s, b))
			COUNT(s, write_count);
		else
			COUNT(s, missed_write_count);
		return -1;
	}
	if (s->out_fd < 0) {
		COUNT(s, missed_write_count);
		return -1;
	}
	return b;
}

/* Write a transmitted byte to the console, without the lock: a console
 * nobody reads blocks the vCPU here, but not the input side, a pause or a
 * stop (give_up). */
static void emit(struct serial *s, uint8_t b)
{
	for (;;) {
		ssize_t r = write(s->out_fd, &b, 1);
		if (r < 0 && errno == EINTR && !(s->give_up && s->give_up()))
			continue;
		if (r == 1) {
			COUNT(s, write_count);
			COUNT(s, flush_count);
		} else {
			/* a console that went away (EPIPE, EIO), is full (EAGAIN)
			 * or holds up a pause or a stop (EINTR) loses output, not
			 * the VM */
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

/* Returns a byte for emit(), or -1 (see transmit). */
static int write_reg(struct serial *s, unsigned off, uint8_t v)
{
	bool dlab = s->lcr & LCR_DLAB;
	int out = -1;
	switch (off) {
	case UART_RX:
		if (dlab) {
			s->dll = v;
		} else {
			out = transmit(s, v);
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
	return out;
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
	int out = -1;
	if (write)
		out = write_reg(s, offset & 7, *data);
	else
		*data = read_reg(s, offset & 7);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	if (out >= 0)
		emit(s, (uint8_t)out);
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

/* The saved state: two sections, the registers and the receive FIFO. */
enum { SEC_REGS = 1, SEC_RX };

#define SS(m) CODEC_FIELD(struct serial_state, m)
static const struct codec_field regs_f[] = {
	SS(ier), SS(iir_pending_thr), SS(lcr), SS(mcr), SS(lsr_err), SS(msr), SS(scr),
	SS(dll), SS(dlm), SS(fcr), SS(irq_level), SS(rx_armed),
};
static const struct codec_field rx_f[] = {
	SS(rx_head), SS(rx_count), CODEC_ARRAY(struct serial_state, rx),
};
static const struct codec_layout regs_l = CODEC_LAYOUT(regs_f), rx_l = CODEC_LAYOUT(rx_f);
/* Every member is in one of the layouts: a new one goes there too (and
 * SERIAL_STATE_VERSION up). */
_Static_assert(sizeof(struct serial_state) == 12 + 2 * 4 + SERIAL_RX_FIFO,
	       "struct serial_state changed: update its layouts");

#define LSR_ERRORS 0x9e /* overrun, parity, framing, break, error in the FIFO */

size_t serial_state_encode(const struct serial_state *st, uint8_t *buf, size_t cap)
{
	struct codec_writer w;
	cw_begin(&w, buf, cap, SERIAL_STATE_MAGIC, SERIAL_STATE_VERSION);
	cw_section(&w, SEC_REGS);
	cw_struct(&w, st, &regs_l);
	cw_section(&w, SEC_RX);
	cw_struct(&w, st, &rx_l);
	return cw_finish(&w);
}

/* What the registers can hold: a state serial_io could have made. */
static int check_regs(struct codec_reader *r, const struct serial_state *st)
{
	if (st->ier & ~0x0f)
		return cr_fail(r, "IER %#x has reserved bits set", st->ier);
	if (st->mcr & ~0x1f)
		return cr_fail(r, "MCR %#x has reserved bits set", st->mcr);
	if (st->fcr & (FCR_CLEAR_RX | 0x04))
		return cr_fail(r, "FCR %#x keeps a self-clearing bit", st->fcr);
	if (st->lsr_err & ~LSR_ERRORS)
		return cr_fail(r, "LSR error bits %#x are not error bits", st->lsr_err);
	if (st->iir_pending_thr > 1 || st->irq_level > 1 || st->rx_armed > 1)
		return cr_fail(r, "a flag that is not 0 or 1 (THR empty %u, IRQ %u, armed %u)",
			       st->iir_pending_thr, st->irq_level, st->rx_armed);
	return 0;
}

int serial_state_decode(const uint8_t *buf, size_t len, struct serial_state *st,
			struct errbuf *err)
{
	memset(st, 0, sizeof(*st));
	struct codec_reader r;
	size_t n;
	if (cr_begin(&r, buf, len, SERIAL_STATE_MAGIC, SERIAL_STATE_VERSION, "serial state", err))
		goto bad;
	if (cr_section(&r, SEC_REGS, "registers", &n) ||
	    cr_expect(&r, n, codec_layout_bytes(&regs_l)) || cr_struct(&r, st, &regs_l) ||
	    check_regs(&r, st))
		goto bad;
	if (cr_section(&r, SEC_RX, "receive FIFO", &n) ||
	    cr_expect(&r, n, codec_layout_bytes(&rx_l)) || cr_struct(&r, st, &rx_l))
		goto bad;
	if (st->rx_head >= SERIAL_RX_FIFO || st->rx_count > SERIAL_RX_FIFO) {
		cr_fail(&r, "head %u, count %u: outside a FIFO of %u", st->rx_head, st->rx_count,
			SERIAL_RX_FIFO);
		goto bad;
	}
	if (st->irq_level != (state_iir(st) != IIR_NO_INT)) {
		cr_fail(&r, "IRQ line %s while the registers say %s", st->irq_level ? "high" : "low",
			st->irq_level ? "no interrupt is pending" : "one is pending");
		goto bad;
	}
	if (cr_end(&r))
		goto bad;
	return 0;
bad:
	memset(st, 0, sizeof(*st));
	return -1;
}

size_t serial_save(struct serial *s, uint8_t *buf, size_t cap)
{
	pthread_mutex_lock(&s->lock);
	struct serial_state st = s->state;
	pthread_mutex_unlock(&s->lock);
	return serial_state_encode(&st, buf, cap);
}

int serial_restore(struct serial *s, const uint8_t *buf, size_t len, struct errbuf *err)
{
	struct serial_state st;
	if (serial_state_decode(buf, len, &st, err))
		return -1;
	pthread_mutex_lock(&s->lock);
	bool was = s->irq_level;
	s->state = st;
	/* The new VM's line is low: raise it for a pending interrupt. */
	if (s->set_irq && (st.irq_level || was))
		s->set_irq(s->irq_ctx, st.irq_level);
	pthread_mutex_unlock(&s->lock);
	/* The input side waits for room it was never told of. */
	if (serial_rx_room(s))
		signal_room(s);
	return 0;
}
