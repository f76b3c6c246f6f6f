/* test_i8042.c: the keyboard controller model (i8042.c) driven as Linux's
 * i8042 and atkbd drivers drive it: the probe's commands each answered at
 * once (self-test, command byte, the mouse-port loop-back that finds no
 * mouse, keyboard id, LEDs), IRQ 1 edges per byte, Ctrl+Alt+Del in scan code
 * set 1 (translated) and set 2, a full FIFO, the reset line, reads with
 * nothing waiting, and the saved state: a controller restored from it
 * answers as the saved one (IRQ 1 raised again), and truncated, corrupted,
 * other-version and out-of-range blobs are refused without touching it. */
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/core/snapshot_file.h"
#include "vmm/devices/i8042.h"

static struct i8042 k;
static unsigned rises, resets;
static bool line;

static void set_irq(void *ctx, bool level)
{
	CHECK(ctx == &k);
	if (level && !line)
		rises++;
	line = level;
}

static void cpu_reset(void *ctx)
{
	CHECK(ctx == &k);
	resets++;
}

static void setup(void)
{
	rises = resets = 0;
	line = false;
	i8042_init(&k, set_irq, cpu_reset, &k);
}

static uint8_t status(void)
{
	uint8_t v = 0xee;
	i8042_io(&k, I8042_CMD_PORT, &v, false);
	return v;
}

static uint8_t data(void)
{
	uint8_t v = 0xee;
	i8042_io(&k, I8042_DATA_PORT, &v, false);
	return v;
}

static void cmd(uint8_t c) { i8042_io(&k, I8042_CMD_PORT, &c, true); }
static void put(uint8_t d) { i8042_io(&k, I8042_DATA_PORT, &d, true); }

/* A controller command with one answer, polled as Linux's i8042_command
 * does (0xee, which no answer here is, when nothing waits). */
static uint8_t ask(uint8_t c)
{
	cmd(c);
	if (!(status() & I8042_STR_OBF))
		return 0xee;
	return data();
}

static void probe_answers_at_once(void)
{
	setup();
	CHECK_EQ(status() & I8042_STR_OBF, 0); /* nothing to flush */
	CHECK_EQ(ask(I8042_CMD_SELF_TEST), 0x55);
	uint8_t ctr = ask(I8042_CMD_READ_CTR);
	CHECK(ctr & I8042_CTR_XLATE);
	CHECK(ctr & I8042_CTR_KBDINT);
	/* Linux masks the interrupts while it probes (before, IRQ 1 is not
	 * yet its: the edges so far go nowhere) */
	cmd(I8042_CMD_WRITE_CTR);
	put((uint8_t)(ctr & ~I8042_CTR_KBDINT) | I8042_CTR_KBDDIS);
	rises = 0;
	CHECK_EQ(ask(I8042_CMD_READ_CTR), (uint8_t)(ctr & ~I8042_CTR_KBDINT) | I8042_CTR_KBDDIS);
	CHECK_EQ(ask(I8042_CMD_KBD_TEST), 0x00);
	/* mouse-port loop-back: the byte comes back without AUXDATA (0x20) */
	cmd(I8042_CMD_WRITE_AUX_OUT);
	put(0x5a);
	uint8_t st = status();
	CHECK(st & I8042_STR_OBF);
	CHECK_EQ(st & 0x20, 0);
	CHECK_EQ(data(), 0x5a);
	uint8_t aux = ask(I8042_CMD_AUX_TEST);
	CHECK(aux != 0 && aux != 0xfa && aux != 0xff); /* Linux: no mouse port */
	CHECK_EQ(rises, 0); /* polled, never interrupting */
	CHECK_EQ(resets, 0);
}

static void keyboard_commands_interrupt(void)
{
	setup(); /* KBDINT on */
	put(0xf2); /* GETID */
	CHECK_EQ(rises, 1);
	CHECK_EQ(data(), 0xfa);
	CHECK_EQ(rises, 2); /* the next byte is a new edge */
	CHECK_EQ(data(), 0xab);
	CHECK_EQ(data(), 0x41); /* 0x83 as the translating controller shows it */
	CHECK_EQ(rises, 3);
	CHECK(!line);
	put(0xed); /* LEDs and their parameter: an ACK each */
	CHECK_EQ(data(), 0xfa);
	put(0x00);
	CHECK_EQ(data(), 0xfa);
	put(0xf3); /* typematic rate */
	CHECK_EQ(data(), 0xfa);
	put(0x20);
	CHECK_EQ(data(), 0xfa);
	put(0xf0); /* which scan set */
	CHECK_EQ(data(), 0xfa);
	put(0x00);
	CHECK_EQ(data(), 0xfa);
	CHECK_EQ(data(), 0x41);
	put(0xf5);
	CHECK_EQ(data(), 0xfa);
	CHECK_EQ(k.scanning, 0);
	put(0xf4);
	CHECK_EQ(data(), 0xfa);
	CHECK_EQ(k.scanning, 1);
	put(0xff); /* reset: ACK, self-test passed */
	CHECK_EQ(data(), 0xfa);
	CHECK_EQ(data(), 0xaa);
	put(0xee);
	CHECK_EQ(data(), 0xee);
	CHECK_EQ(status() & I8042_STR_OBF, 0);
	struct i8042_counters c = i8042_counters(&k);
	CHECK_EQ(c.missed_read_count, 0);
	CHECK_EQ(c.missed_write_count, 0);
	CHECK_EQ(c.error_count, 0);
}

static void no_interrupt_without_kbdint(void)
{
	setup();
	cmd(I8042_CMD_WRITE_CTR);
	put(I8042_CTR_SYS | I8042_CTR_XLATE);
	put(0xf2);
	CHECK_EQ(rises, 0);
	CHECK(status() & I8042_STR_OBF);
	/* turning KBDINT on with a byte waiting raises the line */
	cmd(I8042_CMD_WRITE_CTR);
	put(I8042_CTR_SYS | I8042_CTR_XLATE | I8042_CTR_KBDINT);
	CHECK_EQ(rises, 1);
}

static void ctrl_alt_del_set1(void)
{
	setup();
	static const uint8_t want[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
	CHECK_EQ(i8042_ctrl_alt_del(&k), 0);
	CHECK_EQ(rises, 1);
	for (unsigned i = 0; i < sizeof(want); i++)
		CHECK_EQ(data(), want[i]);
	CHECK_EQ(rises, sizeof(want));
	CHECK_EQ(status() & I8042_STR_OBF, 0);
	CHECK(!line);
}

static void ctrl_alt_del_set2_untranslated(void)
{
	setup();
	cmd(I8042_CMD_WRITE_CTR);
	put(I8042_CTR_KBDINT | I8042_CTR_SYS); /* Linux's i8042.direct */
	static const uint8_t want[] = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14};
	CHECK_EQ(i8042_ctrl_alt_del(&k), 0);
	for (unsigned i = 0; i < sizeof(want); i++)
		CHECK_EQ(data(), want[i]);
}

static void full_fifo_refused_whole(void)
{
	setup();
	CHECK_EQ(i8042_ctrl_alt_del(&k), 0);
	CHECK_EQ(i8042_ctrl_alt_del(&k), 0); /* 16 bytes: full */
	CHECK_EQ(i8042_ctrl_alt_del(&k), -1);
	CHECK_EQ(k.count, I8042_FIFO);
	CHECK_EQ(i8042_counters(&k).missed_write_count, 1);
	put(0xf4); /* its ACK has no room either: lost, counted */
	CHECK_EQ(i8042_counters(&k).missed_write_count, 2);
	CHECK_EQ(data(), 0x1d);
}

static void empty_read_repeats_last(void)
{
	setup();
	CHECK_EQ(ask(I8042_CMD_SELF_TEST), 0x55);
	CHECK_EQ(data(), 0x55);
	CHECK_EQ(i8042_counters(&k).missed_read_count, 1);
	CHECK_EQ(i8042_counters(&k).read_count, 2);
}

static void reset_line(void)
{
	setup();
	cmd(I8042_CMD_RESET); /* Linux's reboot=k */
	CHECK_EQ(resets, 1);
	cmd(0xff); /* pulse nothing */
	CHECK_EQ(resets, 1);
	cmd(I8042_CMD_WRITE_OUTPUT);
	put(0x02); /* reset line low */
	CHECK_EQ(resets, 2);
	CHECK_EQ(ask(I8042_CMD_READ_OUTPUT), 0x02);
	CHECK_EQ(i8042_counters(&k).reset_count, 2);
	cmd(0x33); /* unknown command: counted, ignored */
	CHECK_EQ(i8042_counters(&k).error_count, 1);
	CHECK_EQ(status() & I8042_STR_OBF, 0);
}

static void status_bits(void)
{
	setup();
	uint8_t st = status();
	CHECK(st & I8042_STR_SYS);
	CHECK(st & I8042_STR_UNLOCKED);
	cmd(I8042_CMD_KBD_ENABLE);
	CHECK(status() & I8042_STR_CMDDAT);
	put(0xf4);
	CHECK_EQ(status() & I8042_STR_CMDDAT, 0);
	CHECK_EQ(data(), 0xfa);
	cmd(I8042_CMD_KBD_DISABLE);
	CHECK(ask(I8042_CMD_READ_CTR) & I8042_CTR_KBDDIS);
	cmd(I8042_CMD_AUX_ENABLE);
	CHECK_EQ(ask(I8042_CMD_READ_CTR) & I8042_CTR_AUXDIS, 0);
}

/* The controller a state is restored into, and its IRQ line. */
static struct i8042 t;
static unsigned t_calls;
static bool t_line;

static void t_irq(void *ctx, bool level)
{
	CHECK(ctx == &t);
	t_calls++;
	t_line = level;
}

static void t_setup(void)
{
	t_calls = 0;
	t_line = false;
	i8042_init(&t, t_irq, NULL, &t);
}

/* A guest mid-way: the mouse port enabled, the keyboard disabled at the
 * controller and its scanning off, the output port written, keys waiting in
 * a FIFO that wrapped, an LED command waiting for its parameter and a
 * command-byte write waiting for its data. */
static void busy_controller(void)
{
	setup();
	cmd(I8042_CMD_AUX_ENABLE);
	cmd(I8042_CMD_KBD_DISABLE);
	cmd(I8042_CMD_WRITE_OUTPUT);
	put(0xdf);
	put(0xf5);
	CHECK_EQ(data(), 0xfa);
	i8042_ctrl_alt_del(&k);
	for (unsigned i = 0; i < 6; i++)
		data();
	i8042_ctrl_alt_del(&k);
	put(0xed);
	cmd(I8042_CMD_WRITE_CTR);
}

/* Everything the guest can read, after the same writes, and IRQ 1's level
 * after each step, into out. */
static size_t transcript(struct i8042 *c, bool *irq, uint8_t *out, size_t cap)
{
	size_t n = 0;
#define ST() do { uint8_t v_ = 0xee; i8042_io(c, I8042_CMD_PORT, &v_, false); \
		if (n + 2 <= cap) { out[n++] = v_; out[n++] = *irq; } } while (0)
#define RD() do { uint8_t v_ = 0xee; i8042_io(c, I8042_DATA_PORT, &v_, false); \
		if (n + 2 <= cap) { out[n++] = v_; out[n++] = *irq; } } while (0)
#define CMD(x) do { uint8_t v_ = (x); i8042_io(c, I8042_CMD_PORT, &v_, true); } while (0)
#define PUT(x) do { uint8_t v_ = (x); i8042_io(c, I8042_DATA_PORT, &v_, true); } while (0)
	ST();
	for (unsigned i = 0; i <= I8042_FIFO; i++) {
		ST();
		RD();
	}
	PUT(0x47); /* the command byte's data: no command waits now */
	ST();
	PUT(0x02); /* the LEDs' parameter: its ACK */
	ST();
	RD();
	CMD(I8042_CMD_READ_CTR);
	RD();
	CMD(I8042_CMD_READ_OUTPUT);
	RD();
	PUT(0xf2);
	for (unsigned i = 0; i < 4; i++)
		RD();
	out[n++] = (uint8_t)i8042_ctrl_alt_del(c);
	for (unsigned i = 0; i < 9; i++)
		RD();
#undef ST
#undef RD
#undef CMD
#undef PUT
	return n;
}

static void state_round_trip(void)
{
	busy_controller();
	CHECK(line);
	CHECK_EQ(k.count, 11);
	uint8_t blob[I8042_STATE_MAX_BYTES];
	size_t n = i8042_save(&k, blob, sizeof(blob));
	CHECK(n > 0);
	CHECK_EQ(i8042_save(&k, blob, n - 1), 0);
	CHECK_EQ(i8042_save(&k, blob, sizeof(blob)), n);
	t_setup();
	struct errbuf err = {{0}};
	CHECK_EQ(i8042_restore(&t, blob, n, &err), 0);
	CHECK_MEM_EQ(&t.state, &k.state, sizeof(t.state));
	CHECK_EQ(t_calls, 1); /* IRQ 1 raised in the new VM */
	CHECK(t_line);
	static uint8_t a[512], b[512];
	size_t na = transcript(&k, &line, a, sizeof(a));
	size_t nb = transcript(&t, &t_line, b, sizeof(b));
	CHECK_EQ(na, nb);
	CHECK_MEM_EQ(a, b, na);
	CHECK_MEM_EQ(&t.state, &k.state, sizeof(t.state));

	/* Nothing waiting: the line stays low. */
	setup();
	n = i8042_save(&k, blob, sizeof(blob));
	t_setup();
	CHECK_EQ(i8042_restore(&t, blob, n, &err), 0);
	CHECK_EQ(t_calls, 0);
	CHECK_EQ(t.scanning, 1);
}

static void reseal(uint8_t *b, size_t n)
{
	uint32_t crc = snap_crc32c(0, b, n - 4);
	for (unsigned i = 0; i < 4; i++)
		b[n - 4 + i] = (uint8_t)(crc >> (8 * i));
}

/* A refusal: -1, one line naming the blob, t as it was built, no IRQ. */
static int refused(const uint8_t *b, size_t n, const char *want)
{
	t_setup();
	struct i8042_state before = t.state;
	struct errbuf err = {{0}};
	if (i8042_restore(&t, b, n, &err) != -1 || strncmp(err.msg, "i8042 state: ", 13) ||
	    strchr(err.msg, '\n') || (want && !strstr(err.msg, want)) ||
	    memcmp(&before, &t.state, sizeof(before)) || t_calls) {
		printf("  accepted or wrong refusal: \"%s\"\n", err.msg);
		return 0;
	}
	return 1;
}

static void state_refusals(void)
{
	busy_controller();
	uint8_t good[I8042_STATE_MAX_BYTES], b[I8042_STATE_MAX_BYTES];
	size_t n = i8042_save(&k, good, sizeof(good));
	CHECK_EQ(n, 12 + 8 + 8 + 8 + 8 + I8042_FIFO + 4);
	for (size_t len = 0; len < n; len++)
		CHECK(refused(good, len, NULL));
	for (size_t i = 0; i < n; i++) {
		memcpy(b, good, n);
		b[i] ^= 0x80;
		CHECK(refused(b, n, NULL));
	}
	memcpy(b, good, n);
	b[4] = 0, b[5] = 1; /* version 256 */
	reseal(b, n);
	CHECK(refused(b, n, "version 256"));

	static const struct { size_t off; uint8_t v; const char *want; } bad[] = {
		{22, 2, "flag"},                   /* last write a command: 2 */
		{25, 0xff, "flag"},                /* scanning */
		{23, I8042_CMD_READ_CTR, "controller command"},
		{23, I8042_CMD_RESET, "controller command"},
		{24, 0xf4, "keyboard command"},    /* enable takes no parameter */
		{26, 0, "IRQ line low"},           /* bytes wait, KBDINT on */
		{20, 0x00, "IRQ line high"},       /* KBDINT off, the line high */
		{36, 16, "head 16"},
		{40, 17, "count 17"},
		{43, 0x80, "count"},
	};
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		memcpy(b, good, n);
		b[bad[i].off] = bad[i].v;
		reseal(b, n);
		CHECK(refused(b, n, bad[i].want));
	}
	/* In range: a full FIFO from the last place, every pending command. */
	static const uint8_t ok_pending[] = {0, I8042_CMD_WRITE_CTR, I8042_CMD_WRITE_OUTPUT,
					     I8042_CMD_WRITE_KBD_OUT, I8042_CMD_WRITE_AUX_OUT,
					     I8042_CMD_WRITE_AUX};
	for (unsigned i = 0; i < sizeof(ok_pending); i++) {
		memcpy(b, good, n);
		b[23] = ok_pending[i];
		b[36] = 15;
		b[40] = 16;
		reseal(b, n);
		t_setup();
		struct errbuf err = {{0}};
		CHECK_EQ(i8042_restore(&t, b, n, &err), 0);
		CHECK_EQ(t.count, 16);
	}
}

int main(void)
{
	RUN(probe_answers_at_once);
	RUN(keyboard_commands_interrupt);
	RUN(no_interrupt_without_kbdint);
	RUN(ctrl_alt_del_set1);
	RUN(ctrl_alt_del_set2_untranslated);
	RUN(full_fifo_refused_whole);
	RUN(empty_read_repeats_last);
	RUN(reset_line);
	RUN(status_bits);
	RUN(state_round_trip);
	RUN(state_refusals);
	return check_summary();
}
