/* i8042.c: the keyboard controller and its keyboard (i8042.h). Pure device
 * logic on struct i8042: the ports, IRQ 1 and the reset line are the
 * caller's (i8042_device.c). Its state saved and restored for snapshots. */
#include <string.h>

#include "vmm/core/state_codec.h"
#include "vmm/devices/i8042.h"

/* Keyboard commands (written to 0x60 when no controller command waits). */
#define KBD_SET_LEDS 0xed
#define KBD_ECHO 0xee
#define KBD_SCAN_SET 0xf0
#define KBD_GET_ID 0xf2
#define KBD_SET_RATE 0xf3
#define KBD_ENABLE 0xf4
#define KBD_DISABLE 0xf5
#define KBD_DEFAULTS 0xf6
#define KBD_RESET 0xff
#define KBD_ACK 0xfa
#define KBD_BAT_OK 0xaa

#define COUNT(k, field) __atomic_fetch_add(&(k)->n.field, 1, __ATOMIC_RELAXED)

void i8042_init(struct i8042 *k, void (*set_irq)(void *, bool), void (*cpu_reset)(void *),
		void *ctx)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->set_irq = set_irq;
	k->cpu_reset = cpu_reset;
	k->ctx = ctx;
	/* As a PC BIOS leaves it: keyboard interrupt on, system flag, scan
	 * codes translated to set 1, the (absent) mouse port disabled. */
	k->ctr = I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_AUXDIS | I8042_CTR_XLATE;
	k->outport = 0x03; /* reset line high, A20 on */
	k->scanning = 1;
}

static uint8_t state_irq(const struct i8042_state *st)
{
	return st->count > 0 && (st->ctr & I8042_CTR_KBDINT);
}

static void update_irq(struct i8042 *k)
{
	uint8_t level = state_irq(&k->state);
	if (level != k->irq_level) {
		k->irq_level = level;
		if (k->set_irq)
			k->set_irq(k->ctx, level);
	}
}

/* Queue bytes the guest reads from 0x60; all or nothing. */
static int push(struct i8042 *k, const uint8_t *b, unsigned n)
{
	if (k->count + n > I8042_FIFO) {
		COUNT(k, missed_write_count);
		return -1;
	}
	for (unsigned i = 0; i < n; i++)
		k->fifo[(k->head + k->count++) % I8042_FIFO] = b[i];
	return 0;
}

static void push1(struct i8042 *k, uint8_t b)
{
	push(k, &b, 1);
}

static void reset_line(struct i8042 *k)
{
	COUNT(k, reset_count);
	if (k->cpu_reset)
		k->cpu_reset(k->ctx);
}

static void controller_command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case I8042_CMD_READ_CTR:
		push1(k, k->ctr);
		break;
	case I8042_CMD_WRITE_CTR:
	case I8042_CMD_WRITE_OUTPUT:
	case I8042_CMD_WRITE_KBD_OUT:
	case I8042_CMD_WRITE_AUX_OUT:
	case I8042_CMD_WRITE_AUX:
		k->pending = cmd;
		break;
	case I8042_CMD_AUX_DISABLE:
		k->ctr |= I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_ENABLE:
		k->ctr &= (uint8_t)~I8042_CTR_AUXDIS;
		break;
	case I8042_CMD_AUX_TEST:
		push1(k, 0x01); /* no mouse port: "clock line stuck low" */
		break;
	case I8042_CMD_SELF_TEST:
		push1(k, 0x55);
		break;
	case I8042_CMD_KBD_TEST:
		push1(k, 0x00);
		break;
	case I8042_CMD_KBD_DISABLE:
		k->ctr |= I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_KBD_ENABLE:
		k->ctr &= (uint8_t)~I8042_CTR_KBDDIS;
		break;
	case I8042_CMD_READ_INPUT:
		push1(k, 0x00);
		break;
	case I8042_CMD_READ_OUTPUT:
		push1(k, k->outport);
		break;
	default:
		if (cmd >= 0xf0) {
			/* pulse output lines: a 0 in bit 0 pulses the reset line */
			if (!(cmd & 1))
				reset_line(k);
		} else {
			COUNT(k, error_count);
		}
	}
}

/* The data byte a controller command waited for. */
static void controller_data(struct i8042 *k, uint8_t cmd, uint8_t v)
{
	switch (cmd) {
	case I8042_CMD_WRITE_CTR:
		k->ctr = v;
		break;
	case I8042_CMD_WRITE_OUTPUT:
		k->outport = v;
		if (!(v & 1))
			reset_line(k);
		break;
	case I8042_CMD_WRITE_KBD_OUT:
		push1(k, v);
		break;
	case I8042_CMD_WRITE_AUX_OUT:
		/* Loop-back through the mouse port. There is none: the byte
		 * comes back as the keyboard's (no AUXDATA status bit), which
		 * tells Linux's probe at once that there is no mouse port. */
		push1(k, v);
		break;
	default: /* I8042_CMD_WRITE_AUX: nothing is behind the mouse port */
		break;
	}
}

static void keyboard_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->kbd_pending;
	if (cmd) {
		/* the parameter of a command */
		k->kbd_pending = 0;
		if (cmd == KBD_SCAN_SET && v == 0) {
			/* which set: 2, as the translating controller shows it */
			uint8_t b[2] = {KBD_ACK, (k->ctr & I8042_CTR_XLATE) ? 0x41 : 0x02};
			push(k, b, 2);
		} else {
			push1(k, KBD_ACK);
		}
		return;
	}
	switch (v) {
	case KBD_SET_LEDS:
	case KBD_SET_RATE:
	case KBD_SCAN_SET:
		k->kbd_pending = v;
		push1(k, KBD_ACK);
		break;
	case KBD_ECHO:
		push1(k, KBD_ECHO);
		break;
	case KBD_GET_ID: {
		uint8_t b[3] = {KBD_ACK, 0xab, (k->ctr & I8042_CTR_XLATE) ? 0x41 : 0x83};
		push(k, b, 3);
		break;
	}
	case KBD_ENABLE:
		k->scanning = 1;
		push1(k, KBD_ACK);
		break;
	case KBD_DISABLE:
		k->scanning = 0;
		push1(k, KBD_ACK);
		break;
	case KBD_DEFAULTS:
		k->scanning = 1;
		push1(k, KBD_ACK);
		break;
	case KBD_RESET: {
		uint8_t b[2] = {KBD_ACK, KBD_BAT_OK};
		k->scanning = 1;
		push(k, b, 2);
		break;
	}
	default: /* typematic modes (0xf7-0xfd), resend: acknowledged */
		push1(k, KBD_ACK);
	}
}

void i8042_io(struct i8042 *k, uint16_t port, uint8_t *data, bool write)
{
	pthread_mutex_lock(&k->lock);
	if (!write && port == I8042_CMD_PORT) {
		uint8_t st = I8042_STR_UNLOCKED;
		if (k->count)
			st |= I8042_STR_OBF;
		if (k->ctr & I8042_CTR_SYS)
			st |= I8042_STR_SYS;
		if (k->last_cmd)
			st |= I8042_STR_CMDDAT;
		*data = st;
	} else if (!write) {
		COUNT(k, read_count);
		if (k->count) {
			k->last_read = k->fifo[k->head];
			k->head = (k->head + 1) % I8042_FIFO;
			k->count--;
			/* the line drops with the byte taken, so the next one
			 * (if any) is a new edge */
			if (k->irq_level) {
				k->irq_level = 0;
				if (k->set_irq)
					k->set_irq(k->ctx, false);
			}
		} else {
			COUNT(k, missed_read_count);
		}
		*data = k->last_read;
	} else if (port == I8042_CMD_PORT) {
		COUNT(k, write_count);
		k->last_cmd = 1;
		k->pending = 0;
		controller_command(k, *data);
	} else {
		COUNT(k, write_count);
		k->last_cmd = 0;
		uint8_t cmd = k->pending;
		k->pending = 0;
		if (cmd)
			controller_data(k, cmd, *data);
		else
			keyboard_write(k, *data);
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	/* press Ctrl, Alt, Delete; release them in reverse */
	static const uint8_t set1[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
	static const uint8_t set2[] = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14};
	pthread_mutex_lock(&k->lock);
	int r = (k->ctr & I8042_CTR_XLATE) ? push(k, set1, sizeof(set1)) : push(k, set2, sizeof(set2));
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	return r;
}

struct i8042_counters i8042_counters(struct i8042 *k)
{
	struct i8042_counters c;
	c.read_count = __atomic_load_n(&k->n.read_count, __ATOMIC_RELAXED);
	c.write_count = __atomic_load_n(&k->n.write_count, __ATOMIC_RELAXED);
	c.missed_read_count = __atomic_load_n(&k->n.missed_read_count, __ATOMIC_RELAXED);
	c.missed_write_count = __atomic_load_n(&k->n.missed_write_count, __ATOMIC_RELAXED);
	c.reset_count = __atomic_load_n(&k->n.reset_count, __ATOMIC_RELAXED);
	c.error_count = __atomic_load_n(&k->n.error_count, __ATOMIC_RELAXED);
	return c;
}

/* The saved state: the controller and keyboard, then the output FIFO. */
enum { SEC_CONTROLLER = 1, SEC_FIFO };

#define KS(m) CODEC_FIELD(struct i8042_state, m)
static const struct codec_field ctl_f[] = {
	KS(ctr), KS(outport), KS(last_cmd), KS(pending), KS(kbd_pending), KS(scanning),
	KS(irq_level), KS(last_read),
};
static const struct codec_field fifo_f[] = {
	KS(head), KS(count), CODEC_ARRAY(struct i8042_state, fifo),
};
static const struct codec_layout ctl_l = CODEC_LAYOUT(ctl_f), fifo_l = CODEC_LAYOUT(fifo_f);
/* Every member is in one of the layouts: a new one goes there too (and
 * I8042_STATE_VERSION up). */
_Static_assert(sizeof(struct i8042_state) == 8 + I8042_FIFO + 2 * 4,
	       "struct i8042_state changed: update its layouts");

size_t i8042_state_encode(const struct i8042_state *st, uint8_t *buf, size_t cap)
{
	struct codec_writer w;
	cw_begin(&w, buf, cap, I8042_STATE_MAGIC, I8042_STATE_VERSION);
	cw_section(&w, SEC_CONTROLLER);
	cw_struct(&w, st, &ctl_l);
	cw_section(&w, SEC_FIFO);
	cw_struct(&w, st, &fifo_l);
	return cw_finish(&w);
}

/* What i8042_io can have left: the half-done commands are ones that wait
 * for a byte (controller_command, keyboard_write). */
static int check_controller(struct codec_reader *r, const struct i8042_state *st)
{
	switch (st->pending) {
	case 0:
	case I8042_CMD_WRITE_CTR:
	case I8042_CMD_WRITE_OUTPUT:
	case I8042_CMD_WRITE_KBD_OUT:
	case I8042_CMD_WRITE_AUX_OUT:
	case I8042_CMD_WRITE_AUX:
		break;
	default:
		return cr_fail(r, "controller command %#x does not wait for a data byte", st->pending);
	}
	if (st->kbd_pending && st->kbd_pending != KBD_SET_LEDS && st->kbd_pending != KBD_SET_RATE &&
	    st->kbd_pending != KBD_SCAN_SET)
		return cr_fail(r, "keyboard command %#x does not wait for a parameter",
			       st->kbd_pending);
	if (st->last_cmd > 1 || st->scanning > 1 || st->irq_level > 1)
		return cr_fail(r, "a flag that is not 0 or 1 (last write a command %u, scanning %u, IRQ %u)",
			       st->last_cmd, st->scanning, st->irq_level);
	return 0;
}

int i8042_state_decode(const uint8_t *buf, size_t len, struct i8042_state *st,
		       struct errbuf *err)
{
	memset(st, 0, sizeof(*st));
	struct codec_reader r;
	size_t n;
	if (cr_begin(&r, buf, len, I8042_STATE_MAGIC, I8042_STATE_VERSION, "i8042 state", err))
		goto bad;
	if (cr_section(&r, SEC_CONTROLLER, "controller", &n) ||
	    cr_expect(&r, n, codec_layout_bytes(&ctl_l)) || cr_struct(&r, st, &ctl_l) ||
	    check_controller(&r, st))
		goto bad;
	if (cr_section(&r, SEC_FIFO, "output FIFO", &n) ||
	    cr_expect(&r, n, codec_layout_bytes(&fifo_l)) || cr_struct(&r, st, &fifo_l))
		goto bad;
	if (st->head >= I8042_FIFO || st->count > I8042_FIFO) {
		cr_fail(&r, "head %u, count %u: outside a FIFO of %u", st->head, st->count, I8042_FIFO);
		goto bad;
	}
	if (st->irq_level != state_irq(st)) {
		cr_fail(&r, "IRQ line %s with %u bytes waiting and the interrupt %s",
			st->irq_level ? "high" : "low", st->count,
			(st->ctr & I8042_CTR_KBDINT) ? "on" : "off");
		goto bad;
	}
	if (cr_end(&r))
		goto bad;
	return 0;
bad:
	memset(st, 0, sizeof(*st));
	return -1;
}

size_t i8042_save(struct i8042 *k, uint8_t *buf, size_t cap)
{
	pthread_mutex_lock(&k->lock);
	struct i8042_state st = k->state;
	pthread_mutex_unlock(&k->lock);
	return i8042_state_encode(&st, buf, cap);
}

int i8042_restore(struct i8042 *k, const uint8_t *buf, size_t len, struct errbuf *err)
{
	struct i8042_state st;
	if (i8042_state_decode(buf, len, &st, err))
		return -1;
	pthread_mutex_lock(&k->lock);
	bool was = k->irq_level;
	k->state = st;
	/* The new VM's line is low: raise it for the byte that waits. */
	if (k->set_irq && (st.irq_level || was))
		k->set_irq(k->ctx, st.irq_level);
	pthread_mutex_unlock(&k->lock);
	return 0;
}
