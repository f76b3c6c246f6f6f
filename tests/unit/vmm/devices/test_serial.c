/* test_serial.c: the 16550A UART (serial.c) driven through serial_io as the
 * guest would: transmit to the output fd (a pipe), line status, the receive
 * FIFO (order, full FIFO, draining), interrupt identification priorities and
 * acknowledgement, IRQ line changes, the divisor latch, loopback mode with MSR
 * mirroring MCR, the scratch register, the rx-room eventfd, Firecracker's
 * "uart" counters (bytes read and written, flushes, lost and missed accesses,
 * output errors), and the saved state: a UART restored from it answers every
 * read as the saved one does (its IRQ line raised again, input let in), and
 * truncated, corrupted, other-version and out-of-range blobs are refused
 * without touching it. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/core/snapshot_file.h"
#include "vmm/devices/serial.h"

#define RBR 0
#define THR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

static struct serial s;
static int pipefd[2] = {-1, -1};
static unsigned irq_calls;
static bool irq_last;

static void set_irq(void *ctx, bool level)
{
	CHECK(ctx == &s);
	irq_calls++;
	irq_last = level;
}

static void setup(int efd)
{
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
	if (pipe2(pipefd, O_NONBLOCK) < 0)
		pipefd[0] = pipefd[1] = -1;
	irq_calls = 0;
	irq_last = false;
	serial_init(&s, pipefd[1], set_irq, &s, efd);
}

static uint8_t rd(unsigned reg)
{
	uint8_t v = 0xee;
	serial_io(&s, reg, &v, 1, false);
	return v;
}

static void wr(unsigned reg, uint8_t v) { serial_io(&s, reg, &v, 1, true); }

static void thr_reaches_output(void)
{
	setup(-1);
	CHECK(pipefd[0] >= 0);
	const char *msg = "hello\n";
	for (const char *c = msg; *c; c++)
		wr(THR, (uint8_t)*c);
	char buf[16] = {0};
	ssize_t n = read(pipefd[0], buf, sizeof(buf));
	CHECK_EQ(n, (ssize_t)strlen(msg));
	CHECK_STR_EQ(buf, msg);
}

static void thr_without_output_dropped(void)
{
	irq_calls = 0;
	serial_init(&s, -1, set_irq, &s, -1);
	wr(THR, 'x'); /* nowhere to go: no crash, line stays idle */
	CHECK_EQ(rd(LSR) & 0x60, 0x60);
}

static void lsr_thre_temt(void)
{
	setup(-1);
	uint8_t lsr = rd(LSR);
	CHECK_EQ(lsr & 0x60, 0x60); /* THRE | TEMT */
	CHECK_EQ(lsr & 0x01, 0);    /* no data */
	wr(THR, 'a');
	CHECK_EQ(rd(LSR) & 0x60, 0x60); /* transmission is instant */
}

static void dr_after_receive(void)
{
	setup(-1);
	CHECK_EQ(serial_receive(&s, (const uint8_t *)"x", 1), 1);
	CHECK_EQ(rd(LSR) & 0x01, 0x01);
	CHECK_EQ(rd(RBR), 'x');
	CHECK_EQ(rd(LSR) & 0x01, 0);
	CHECK_EQ(rd(RBR), 0); /* empty FIFO reads 0 */
}

static void rbr_pops_in_order(void)
{
	setup(-1);
	CHECK_EQ(serial_receive(&s, (const uint8_t *)"abc", 3), 3);
	CHECK_EQ(serial_receive(&s, (const uint8_t *)"de", 2), 2);
	wr(IER, 0x01); /* the guest listens: room is what the FIFO has left */
	s.rx_armed = true;
	CHECK_EQ(serial_rx_room(&s), SERIAL_RX_FIFO - 5);
	const char *want = "abcde";
	for (const char *c = want; *c; c++)
		CHECK_EQ(rd(RBR), (uint8_t)*c);
	CHECK_EQ(serial_rx_room(&s), SERIAL_RX_FIFO);
}

static void fifo_wraps_around(void)
{
	setup(-1);
	uint8_t buf[SERIAL_RX_FIFO];
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 200; i++)
			buf[i] = (uint8_t)(i + round);
		CHECK_EQ(serial_receive(&s, buf, 200), 200);
		for (unsigned i = 0; i < 200; i++)
			CHECK_EQ(rd(RBR), (uint8_t)(i + round));
	}
}

static void fifo_full_short_receive(void)
{
	setup(-1);
	uint8_t buf[SERIAL_RX_FIFO + 10];
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	CHECK_EQ(serial_receive(&s, buf, 100), 100);
	CHECK_EQ(serial_receive(&s, buf + 100, sizeof(buf) - 100), SERIAL_RX_FIFO - 100);
	CHECK_EQ(serial_rx_room(&s), 0);
	CHECK_EQ(serial_receive(&s, buf, 1), 0);
	for (unsigned i = 0; i < SERIAL_RX_FIFO; i++)
		CHECK_EQ(rd(RBR), (uint8_t)i);
	CHECK_EQ(rd(LSR) & 1, 0);
}

static void iir_priorities(void)
{
	setup(-1);
	CHECK_EQ(rd(IIR) & 0x0f, 0x01); /* nothing pending */
	wr(IER, 0x03);                  /* RDI | THRI: THR is empty, THRI fires at once */
	CHECK_EQ(rd(IER), 0x03);
	serial_receive(&s, (const uint8_t *)"q", 1);
	CHECK_EQ(rd(IIR) & 0x0f, 0x04); /* received data beats THR empty */
	CHECK_EQ(rd(IIR) & 0x0f, 0x04); /* and reading IIR does not acknowledge THRI */
	CHECK_EQ(rd(RBR), 'q');
	CHECK_EQ(rd(IIR) & 0x0f, 0x02); /* now THRI */
	CHECK_EQ(rd(IIR) & 0x0f, 0x01); /* acknowledged by the read */
	wr(THR, 'z');
	CHECK_EQ(rd(IIR) & 0x0f, 0x02); /* a new write makes THR empty again */
	CHECK_EQ(rd(IIR) & 0x0f, 0x01);
}

static void iir_fifo_bits(void)
{
	setup(-1);
	CHECK_EQ(rd(IIR) & 0xc0, 0);
	wr(FCR, 0x07); /* enable + clear both FIFOs */
	CHECK_EQ(rd(IIR) & 0xc0, 0xc0);
	serial_receive(&s, (const uint8_t *)"xy", 2);
	wr(FCR, 0x03); /* clear rx: arms input */
	CHECK_EQ(rd(LSR) & 1, 0);
	wr(IER, 0x01);
	CHECK_EQ(serial_rx_room(&s), SERIAL_RX_FIFO);
}

static void rdi_needs_ier(void)
{
	setup(-1);
	serial_receive(&s, (const uint8_t *)"q", 1);
	CHECK_EQ(rd(IIR) & 0x0f, 0x01); /* data, but RDI not enabled */
	CHECK_EQ(irq_calls, 0);
	wr(IER, 0x01);
	CHECK_EQ(rd(IIR) & 0x0f, 0x04);
	CHECK_EQ(irq_calls, 1);
	CHECK(irq_last);
}

static void irq_level_changes_only(void)
{
	setup(-1);
	wr(IER, 0x01);
	CHECK_EQ(irq_calls, 0); /* enabling RDI with nothing received: no change */
	serial_receive(&s, (const uint8_t *)"ab", 2);
	CHECK_EQ(irq_calls, 1);
	CHECK(irq_last);
	serial_receive(&s, (const uint8_t *)"c", 1);
	rd(LSR);
	rd(IIR);
	CHECK_EQ(irq_calls, 1); /* still high: no call */
	rd(RBR);
	rd(RBR);
	CHECK_EQ(irq_calls, 1);
	rd(RBR); /* FIFO empty: line drops */
	CHECK_EQ(irq_calls, 2);
	CHECK(!irq_last);
	rd(RBR);
	CHECK_EQ(irq_calls, 2);
	/* THRI: raised by enabling it, lowered by reading IIR */
	wr(IER, 0x03);
	CHECK_EQ(irq_calls, 3);
	CHECK(irq_last);
	rd(IIR);
	CHECK_EQ(irq_calls, 4);
	CHECK(!irq_last);
	wr(THR, 'x');
	CHECK_EQ(irq_calls, 5);
	CHECK(irq_last);
	wr(IER, 0x00); /* disabling interrupts lowers the line */
	CHECK_EQ(irq_calls, 6);
	CHECK(!irq_last);
}

static void dlab_divisor_latch(void)
{
	setup(-1);
	wr(IER, 0x05);
	wr(LCR, 0x83); /* DLAB + 8N1 */
	wr(0, 0x01);   /* DLL */
	wr(1, 0x02);   /* DLM */
	CHECK_EQ(rd(0), 0x01);
	CHECK_EQ(rd(1), 0x02);
	CHECK_EQ(rd(LCR), 0x83);
	wr(LCR, 0x03);
	CHECK_EQ(rd(IER), 0x05); /* IER untouched by the DLM write */
	wr(LCR, 0x83);
	CHECK_EQ(rd(0), 0x01); /* latch kept */
	CHECK_EQ(rd(1), 0x02);
	wr(LCR, 0x03);
	/* with DLAB set, offset 0 writes did not transmit */
	char buf[4];
	CHECK_EQ(read(pipefd[0], buf, sizeof(buf)), -1);
	/* and with DLAB set RBR does not pop */
	serial_receive(&s, (const uint8_t *)"r", 1);
	wr(LCR, 0x80);
	CHECK_EQ(rd(0), 0x01);
	wr(LCR, 0x00);
	CHECK_EQ(rd(RBR), 'r');
}

static void loopback(void)
{
	setup(-1);
	CHECK_EQ(rd(MSR) & 0xb0, 0xb0); /* DCD, DSR, CTS asserted normally */
	wr(MCR, 0x10);                  /* loop, all outputs off */
	CHECK_EQ(rd(MCR), 0x10);
	CHECK_EQ(rd(MSR) & 0xf0, 0x00);
	wr(MCR, 0x1f); /* loop + DTR RTS OUT1 OUT2 */
	CHECK_EQ(rd(MSR) & 0xf0, 0xf0);
	wr(MCR, 0x11); /* DTR -> DSR */
	CHECK_EQ(rd(MSR) & 0xf0, 0x20);
	wr(MCR, 0x12); /* RTS -> CTS */
	CHECK_EQ(rd(MSR) & 0xf0, 0x10);
	wr(MCR, 0x14); /* OUT1 -> RI */
	CHECK_EQ(rd(MSR) & 0xf0, 0x40);
	wr(MCR, 0x18); /* OUT2 -> DCD */
	CHECK_EQ(rd(MSR) & 0xf0, 0x80);
	wr(THR, 'L');
	wr(THR, 'M');
	CHECK_EQ(rd(LSR) & 1, 1);
	CHECK_EQ(rd(RBR), 'L');
	CHECK_EQ(rd(RBR), 'M');
	char buf[4];
	CHECK_EQ(read(pipefd[0], buf, sizeof(buf)), -1); /* nothing went out */
	wr(MCR, 0x0b);
	wr(THR, 'o');
	CHECK_EQ(read(pipefd[0], buf, sizeof(buf)), 1);
	CHECK_EQ(buf[0], 'o');
	CHECK_EQ(rd(LSR) & 1, 0);
}

static void scratch_register(void)
{
	setup(-1);
	for (unsigned v = 0; v < 256; v += 51) {
		wr(SCR, (uint8_t)v);
		CHECK_EQ(rd(SCR), v);
	}
	wr(LSR, 0x00); /* read-only: ignored */
	CHECK_EQ(rd(LSR) & 0x60, 0x60);
}

static uint64_t efd_count(int efd)
{
	uint64_t v = 0;
	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void rx_room_efd_on_drain(void)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	CHECK(efd >= 0);
	setup(efd);
	uint8_t buf[SERIAL_RX_FIFO];
	memset(buf, 'f', sizeof(buf));
	CHECK_EQ(serial_receive(&s, buf, 10), 10);
	rd(RBR);
	uint64_t early = efd_count(efd); /* not full: no signal */
	serial_receive(&s, buf, sizeof(buf));
	CHECK_EQ(serial_rx_room(&s), 0);
	uint64_t before = efd_count(efd);
	rd(RBR); /* full -> room */
	uint64_t after = efd_count(efd);
	rd(RBR);
	uint64_t again = efd_count(efd);
	close(efd);
	CHECK_EQ(early, 0);
	CHECK_EQ(before, 0);
	CHECK_EQ(after, 1);
	CHECK_EQ(again, 0);
}

static void rx_room_efd_on_fifo_clear(void)
{
	/* The guest may clear a full FIFO (the 8250 driver does at start-up);
	 * the input side must hear that there is room again. */
	int efd = eventfd(0, EFD_NONBLOCK);
	CHECK(efd >= 0);
	setup(efd);
	uint8_t buf[SERIAL_RX_FIFO];
	memset(buf, 'f', sizeof(buf));
	serial_receive(&s, buf, sizeof(buf));
	wr(FCR, 0x03);
	uint64_t n = efd_count(efd);
	wr(IER, 0x01);
	size_t room = serial_rx_room(&s);
	close(efd);
	CHECK_EQ(room, SERIAL_RX_FIFO);
	CHECK_EQ(n, 1);
}

static void no_input_until_guest_listens(void)
{
	/* Input offered before the guest's driver enables receive interrupts
	 * would be wiped by its FIFO reset: ember holds it back until then. */
	int efd = eventfd(0, EFD_NONBLOCK);
	CHECK(efd >= 0);
	setup(efd);
	size_t before = serial_rx_room(&s);
	wr(IER, 0x0f); /* the probe's interrupt-enable test: no FIFO reset yet */
	size_t probing = serial_rx_room(&s);
	wr(IER, 0x00);
	wr(FCR, 0x07); /* the driver opens the port: FIFO reset, then RDI */
	efd_count(efd);
	wr(IER, 0x05);
	uint64_t n = efd_count(efd);
	size_t after = serial_rx_room(&s);
	wr(IER, 0x00); /* throttled: no room again */
	size_t throttled = serial_rx_room(&s);
	close(efd);
	CHECK_EQ(before, 0);
	CHECK_EQ(probing, 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(after, SERIAL_RX_FIFO);
	CHECK_EQ(throttled, 0);
}

static struct serial_counters counters(void)
{
	struct serial_counters c;
	serial_counters(&s, &c);
	return c;
}

/* Bytes transmitted to the output and read from the FIFO; a read of the
 * empty FIFO is a missed read. */
static void counts_bytes_read_and_written(void)
{
	setup(-1);
	struct serial_counters c = counters();
	CHECK_EQ(c.write_count + c.read_count + c.flush_count + c.missed_read_count +
		 c.missed_write_count + c.error_count, 0);
	for (const char *m = "hello\n"; *m; m++)
		wr(THR, (uint8_t)*m);
	serial_receive(&s, (const uint8_t *)"ab", 2);
	rd(RBR);
	rd(RBR);
	rd(RBR); /* empty */
	rd(LSR); /* other registers count nothing */
	wr(SCR, 1);
	c = counters();
	CHECK_EQ(c.write_count, 6);
	CHECK_EQ(c.flush_count, 6);
	CHECK_EQ(c.read_count, 2);
	CHECK_EQ(c.missed_read_count, 1);
	CHECK_EQ(c.missed_write_count, 0);
	CHECK_EQ(c.error_count, 0);
	/* DLAB set: offset 0 is the divisor latch, no byte moves */
	wr(LCR, 0x80);
	wr(0, 3);
	rd(0);
	wr(LCR, 0x03);
	c = counters();
	CHECK_EQ(c.write_count, 6);
	CHECK_EQ(c.read_count + c.missed_read_count, 3);
}

/* Accesses wider than a byte reach no register (a read sees 0xff) and are
 * missed reads and writes, as Firecracker counts them. */
static void wide_accesses_missed(void)
{
	setup(-1);
	serial_receive(&s, (const uint8_t *)"k", 1);
	uint8_t w[4] = {'w', 'x', 'y', 'z'};
	serial_io(&s, THR, w, 2, true);
	serial_io(&s, SCR, w, 4, true);
	uint8_t r[4] = {0};
	serial_io(&s, RBR, r, 2, false);
	CHECK_EQ(r[0], 0xff);
	CHECK_EQ(r[1], 0xff);
	struct serial_counters c = counters();
	CHECK_EQ(c.missed_write_count, 2);
	CHECK_EQ(c.missed_read_count, 1);
	CHECK_EQ(c.write_count, 0);
	char buf[4];
	CHECK_EQ(read(pipefd[0], buf, sizeof(buf)), -1); /* nothing went out */
	CHECK_EQ(rd(SCR), 0);                            /* the scratch kept its value */
	CHECK_EQ(rd(RBR), 'k');                          /* the byte is still there */
}

/* Output that cannot be written (a full pipe, a reader gone) is an error and
 * a missed write; without an output every byte is missed; loopback into a
 * full FIFO loses the byte. */
static void lost_output_counted(void)
{
	setup(-1);
	char fill[4096];
	memset(fill, 'f', sizeof(fill));
	while (write(pipefd[1], fill, sizeof(fill)) > 0)
		; /* the pipe is full */
	wr(THR, 'a');
	struct serial_counters c = counters();
	CHECK_EQ(c.error_count, 1);
	CHECK_EQ(c.missed_write_count, 1);
	CHECK_EQ(c.write_count, 0);
	CHECK_EQ(c.flush_count, 0);

	setup(-1);
	close(pipefd[0]);
	pipefd[0] = open("/dev/null", O_RDONLY); /* setup closes it again */
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	wr(THR, 'b');
	wr(THR, 'c');
	signal(SIGPIPE, old);
	c = counters();
	CHECK_EQ(c.error_count, 2);
	CHECK_EQ(c.missed_write_count, 2);

	irq_calls = 0;
	serial_init(&s, -1, set_irq, &s, -1);
	wr(THR, 'd');
	c = counters();
	CHECK_EQ(c.missed_write_count, 1);
	CHECK_EQ(c.error_count, 0);

	setup(-1);
	wr(MCR, 0x10); /* loopback */
	uint8_t buf[SERIAL_RX_FIFO];
	memset(buf, 'l', sizeof(buf));
	CHECK_EQ(serial_receive(&s, buf, sizeof(buf) - 1), sizeof(buf) - 1);
	wr(THR, 'y'); /* the last place */
	wr(THR, 'z'); /* lost */
	c = counters();
	CHECK_EQ(c.write_count, 1);
	CHECK_EQ(c.missed_write_count, 1);
	CHECK_EQ(c.flush_count, 0);
}

/* The UART a state is restored into, and its IRQ line. */
static struct serial t;
static unsigned t_irq_calls;
static bool t_irq_last;

static void t_irq(void *ctx, bool level)
{
	CHECK(ctx == &t);
	t_irq_calls++;
	t_irq_last = level;
}

static void t_setup(int efd)
{
	t_irq_calls = 0;
	t_irq_last = false;
	serial_init(&t, -1, t_irq, &t, efd);
}

/* A guest that set the UART up and has input waiting in a FIFO that wrapped:
 * divisor 0x010c, 8N1, FIFOs on (input armed), RDI and THRI on, DTR, RTS,
 * OUT2, a scratch byte, 230 bytes waiting from place 150 on. */
static void busy_uart(void)
{
	setup(-1);
	wr(LCR, 0x80);
	wr(0, 0x0c);
	wr(1, 0x01);
	wr(LCR, 0x03);
	wr(FCR, 0xc7);
	wr(MCR, 0x0b);
	wr(SCR, 0x5a);
	uint8_t buf[200];
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7);
	serial_receive(&s, buf, 200);
	for (unsigned i = 0; i < 150; i++)
		rd(RBR);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 3 + 1);
	serial_receive(&s, buf, 180);
	wr(IER, 0x03);
}

/* Everything the guest can read, in an order that reaches each register
 * (reads with side effects included: IIR acknowledges THRE, LSR clears its
 * errors, RBR pops), and the IRQ line after each step, into out. */
static size_t transcript(struct serial *u, bool *line, uint8_t *out, size_t cap)
{
	size_t n = 0;
#define READ(reg) do { uint8_t v_ = 0xee; serial_io(u, (reg), &v_, 1, false); \
		if (n + 2 <= cap) { out[n++] = v_; out[n++] = *line; } } while (0)
#define WRITE(reg, val) do { uint8_t v_ = (val); serial_io(u, (reg), &v_, 1, true); } while (0)
	READ(IER); READ(LCR); READ(MCR); READ(MSR); READ(SCR); READ(LSR);
	uint8_t lcr = 0;
	serial_io(u, LCR, &lcr, 1, false);
	WRITE(LCR, lcr | 0x80);
	READ(0); READ(1);
	WRITE(LCR, lcr);
	READ(IIR); READ(IIR);
	for (unsigned i = 0; i <= SERIAL_RX_FIFO; i++) {
		READ(LSR); READ(IIR); READ(RBR);
	}
	READ(IIR); READ(IIR);
	WRITE(MCR, 0x1f); /* loopback: MSR mirrors MCR */
	READ(MSR);
#undef READ
#undef WRITE
	return n;
}

static void state_round_trip(void)
{
	busy_uart();
	CHECK(irq_last);
	static uint8_t blob[SERIAL_STATE_MAX_BYTES];
	size_t n = serial_save(&s, blob, sizeof(blob));
	CHECK(n > 0);
	CHECK_EQ(serial_save(&s, blob, n - 1), 0); /* too small: nothing */
	CHECK_EQ(serial_save(&s, blob, sizeof(blob)), n);
	int efd = eventfd(0, EFD_NONBLOCK);
	CHECK(efd >= 0);
	t_setup(efd);
	struct errbuf err = {{0}};
	CHECK_EQ(serial_restore(&t, blob, n, &err), 0);
	CHECK_MEM_EQ(&t.state, &s.state, sizeof(t.state));
	CHECK_EQ(t_irq_calls, 1); /* the new VM's line is raised */
	CHECK(t_irq_last);
	uint64_t v = 0;
	CHECK_EQ(read(efd, &v, sizeof(v)), (ssize_t)sizeof(v)); /* input may flow */
	close(efd);
	CHECK_EQ(serial_rx_room(&t), SERIAL_RX_FIFO - 230);

	static uint8_t a[4096], b[4096];
	size_t na = transcript(&s, &irq_last, a, sizeof(a));
	size_t nb = transcript(&t, &t_irq_last, b, sizeof(b));
	CHECK_EQ(na, nb);
	CHECK_MEM_EQ(a, b, na);
	CHECK(na > 2 * (2 * SERIAL_RX_FIFO + 12)); /* the FIFO was read through */
}

/* THR empty pending alone (no input), and a UART with nothing pending: the
 * line follows. */
static void state_thre_and_idle(void)
{
	setup(-1);
	wr(IER, 0x02);
	CHECK(irq_last);
	uint8_t blob[SERIAL_STATE_MAX_BYTES];
	size_t n = serial_save(&s, blob, sizeof(blob));
	CHECK(n > 0);
	t_setup(-1);
	struct errbuf err = {{0}};
	CHECK_EQ(serial_restore(&t, blob, n, &err), 0);
	CHECK(t_irq_last);
	uint8_t v = 0;
	serial_io(&t, IIR, &v, 1, false);
	CHECK_EQ(v & 0x0f, 0x02);
	CHECK(!t_irq_last); /* acknowledged as on the saved one */
	CHECK_EQ(serial_rx_room(&t), 0); /* never armed: input still waits */

	setup(-1);
	n = serial_save(&s, blob, sizeof(blob));
	t_setup(-1);
	CHECK_EQ(serial_restore(&t, blob, n, &err), 0);
	CHECK_EQ(t_irq_calls, 0);
	CHECK_EQ(t.mcr, 0x08);
}

static void reseal(uint8_t *b, size_t n)
{
	uint32_t crc = snap_crc32c(0, b, n - 4);
	for (unsigned i = 0; i < 4; i++)
		b[n - 4 + i] = (uint8_t)(crc >> (8 * i));
}

/* A refusal: -1, one line naming the blob, and t as it was built. */
static int refused(const uint8_t *b, size_t n, const char *want)
{
	t_setup(-1);
	struct serial_state before = t.state;
	struct errbuf err = {{0}};
	if (serial_restore(&t, b, n, &err) != -1 || strncmp(err.msg, "serial state: ", 14) ||
	    strchr(err.msg, '\n') || (want && !strstr(err.msg, want)) ||
	    memcmp(&before, &t.state, sizeof(before)) || t_irq_calls) {
		printf("  accepted or wrong refusal: \"%s\"\n", err.msg);
		return 0;
	}
	return 1;
}

static void state_refusals(void)
{
	busy_uart();
	uint8_t good[SERIAL_STATE_MAX_BYTES], b[SERIAL_STATE_MAX_BYTES];
	size_t n = serial_save(&s, good, sizeof(good));
	CHECK_EQ(n, 12 + 8 + 12 + 8 + 8 + SERIAL_RX_FIFO + 4);
	for (size_t len = 0; len < n; len++)
		CHECK(refused(good, len, NULL));
	for (size_t i = 0; i < n; i++) {
		memcpy(b, good, n);
		b[i] ^= 0x10;
		CHECK(refused(b, n, NULL));
	}
	memcpy(b, good, n);
	b[4] = 2; /* version */
	reseal(b, n);
	CHECK(refused(b, n, "version 2"));
	memcpy(b, good, n);
	b[0] = 'X';
	reseal(b, n);
	CHECK(refused(b, n, "magic"));

	/* One field at a time out of its range (the CRC made to match). */
	static const struct { size_t off; uint8_t v; const char *want; } bad[] = {
		{20, 0x13, "IER"},            /* reserved IER bit */
		{23, 0x2b, "MCR"},            /* reserved MCR bit */
		{29, 0xc3, "FCR"},            /* the clear-receive bit kept */
		{29, 0xc5, "FCR"},            /* the clear-transmit bit kept */
		{24, 0x01, "LSR"},            /* "data ready" is not an error bit */
		{21, 2, "flag"},              /* THR empty pending 2 */
		{31, 7, "flag"},              /* armed 7 */
		{30, 0, "IRQ line low"},      /* RDI pending, the line low */
		{41, 1, "head"},              /* head 150 + 256 */
		{45, 1, "count"},             /* count 230 + 256 */
		{20, 0x00, "IRQ line high"},  /* nothing enabled, the line high */
	};
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		memcpy(b, good, n);
		b[bad[i].off] = bad[i].v;
		reseal(b, n);
		CHECK(refused(b, n, bad[i].want));
	}
	memcpy(b, good, n);
	b[44] = 1, b[45] = 1, b[46] = 0; /* count 257 */
	reseal(b, n);
	CHECK(refused(b, n, "count 257"));
	memcpy(b, good, n);
	b[40] = 0, b[41] = 1; /* head 256 */
	reseal(b, n);
	CHECK(refused(b, n, "head 256"));
	memcpy(b, good, n);
	b[16] = 13; /* the registers section one byte longer */
	reseal(b, n);
	CHECK(refused(b, n, "registers"));
	/* The edges that are in range: a full FIFO, the last place. */
	memcpy(b, good, n);
	b[40] = 0xff, b[41] = 0, b[44] = 0, b[45] = 1;
	reseal(b, n);
	t_setup(-1);
	struct errbuf err = {{0}};
	CHECK_EQ(serial_restore(&t, b, n, &err), 0);
	CHECK_EQ(t.rx_head, SERIAL_RX_FIFO - 1);
	CHECK_EQ(t.rx_count, SERIAL_RX_FIFO);
}

int main(void)
{
	RUN(thr_reaches_output);
	RUN(thr_without_output_dropped);
	RUN(lsr_thre_temt);
	RUN(dr_after_receive);
	RUN(rbr_pops_in_order);
	RUN(fifo_wraps_around);
	RUN(fifo_full_short_receive);
	RUN(iir_priorities);
	RUN(iir_fifo_bits);
	RUN(rdi_needs_ier);
	RUN(irq_level_changes_only);
	RUN(dlab_divisor_latch);
	RUN(loopback);
	RUN(scratch_register);
	RUN(rx_room_efd_on_drain);
	RUN(rx_room_efd_on_fifo_clear);
	RUN(no_input_until_guest_listens);
	RUN(counts_bytes_read_and_written);
	RUN(wide_accesses_missed);
	RUN(lost_output_counted);
	RUN(state_round_trip);
	RUN(state_thre_and_idle);
	RUN(state_refusals);
	return check_summary();
}
