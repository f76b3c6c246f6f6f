/* i8042.h: the PC keyboard controller (Intel 8042) with a PS/2 keyboard
 * behind it and no mouse. It is there for two things: the guest's
 * `reboot=k` path (command 0xFE pulses the CPU reset line: the VM ends with
 * status 0), and Ctrl+Alt+Del from the API (SendCtrlAltDel), which the
 * guest's keyboard driver (Linux's i8042 + atkbd) turns into a reboot or a
 * signal to init.
 *
 * The model answers every command Linux's probe sends at once (self-test,
 * command byte, keyboard id, LEDs, typematic rate, enable), so probing
 * costs no time-outs. One FIFO holds the bytes the guest reads from port
 * 0x60: controller answers and keyboard bytes. The keyboard interrupt (IRQ 1)
 * follows "output buffer full and the command byte's KBDINT bit set", so
 * each byte the guest takes, when another follows, makes a new edge. Its
 * state is saved and restored for snapshots. */
#ifndef EMBER_I8042_H
#define EMBER_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/lib/util.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_IRQ 1
#define I8042_FIFO 16

/* Status register bits (port 0x64, read). */
#define I8042_STR_OBF 0x01      /* output buffer full: a byte waits at 0x60 */
#define I8042_STR_SYS 0x04      /* system flag (the command byte's copy) */
#define I8042_STR_CMDDAT 0x08   /* the last write went to 0x64 */
#define I8042_STR_UNLOCKED 0x10 /* keyboard not inhibited */
/* Command byte bits. */
#define I8042_CTR_KBDINT 0x01
#define I8042_CTR_SYS 0x04
#define I8042_CTR_KBDDIS 0x10
#define I8042_CTR_AUXDIS 0x20
#define I8042_CTR_XLATE 0x40
/* Controller commands (port 0x64, write). */
#define I8042_CMD_READ_CTR 0x20
#define I8042_CMD_WRITE_CTR 0x60
#define I8042_CMD_AUX_DISABLE 0xa7
#define I8042_CMD_AUX_ENABLE 0xa8
#define I8042_CMD_AUX_TEST 0xa9
#define I8042_CMD_SELF_TEST 0xaa
#define I8042_CMD_KBD_TEST 0xab
#define I8042_CMD_KBD_DISABLE 0xad
#define I8042_CMD_KBD_ENABLE 0xae
#define I8042_CMD_READ_INPUT 0xc0
#define I8042_CMD_READ_OUTPUT 0xd0
#define I8042_CMD_WRITE_OUTPUT 0xd1
#define I8042_CMD_WRITE_KBD_OUT 0xd2
#define I8042_CMD_WRITE_AUX_OUT 0xd3
#define I8042_CMD_WRITE_AUX 0xd4
#define I8042_CMD_RESET 0xfe    /* pulse output line 0: CPU reset */

struct i8042_counters {
	uint64_t read_count;        /* bytes the guest read from 0x60 */
	uint64_t write_count;       /* bytes the guest wrote to 0x60 or 0x64 */
	uint64_t missed_read_count; /* reads of 0x60 with nothing waiting */
	uint64_t missed_write_count;/* bytes lost to a full FIFO */
	uint64_t reset_count;       /* CPU resets asked for */
	uint64_t error_count;       /* commands the model does not know */
};

struct i8042 {
	pthread_mutex_t lock;
	void (*set_irq)(void *ctx, bool level); /* IRQ 1's line */
	void (*cpu_reset)(void *ctx);           /* the guest pulsed the reset line */
	void *ctx;
	struct i8042_counters n;                /* relaxed atomics */

	/* What the guest sees (struct i8042_state). */
	STATE_GROUP(i8042_state, state,
		uint8_t ctr;         /* the command byte */
		uint8_t outport;     /* the output port (bit 0: reset line, high) */
		uint8_t last_cmd;    /* the last write was to 0x64 */
		uint8_t pending;     /* controller command waiting for its data byte (0: none) */
		uint8_t kbd_pending; /* keyboard command waiting for its parameter (0: none) */
		uint8_t scanning;    /* the keyboard sends keys (0xF4 enable, 0xF5 disable) */
		uint8_t irq_level;
		uint8_t last_read;   /* what 0x60 returns when nothing waits */
		uint8_t fifo[I8042_FIFO];
		uint32_t head, count;
	);
};

void i8042_init(struct i8042 *k, void (*set_irq)(void *, bool), void (*cpu_reset)(void *),
		void *ctx);
/* A one-byte access to port 0x60 or 0x64 (vCPU threads). */
void i8042_io(struct i8042 *k, uint16_t port, uint8_t *data, bool write);
/* Press and release Ctrl+Alt+Del (any thread): 0, or -1 when the FIFO has
 * no room for the whole sequence (nothing is queued then). */
int i8042_ctrl_alt_del(struct i8042 *k);
/* The counters so far. */
struct i8042_counters i8042_counters(struct i8042 *k);

/* Snapshots. The state is struct i8042_state as it is: the command byte,
 * the output port, the controller's and the keyboard's half-done commands,
 * whether the keyboard scans, the output FIFO and its ring position, the
 * last byte read and IRQ 1's level. The blob (vmm/core/state_codec.h): */
#define I8042_STATE_MAGIC 0x32344945u /* "EI42" */
#define I8042_STATE_VERSION 1
#define I8042_STATE_MAX_BYTES 256
/* Encode st into buf: its length, or 0 when cap is too small. */
size_t i8042_state_encode(const struct i8042_state *st, uint8_t *buf, size_t cap);
/* Decode len untrusted bytes into st, checking every field (flags 0 or 1,
 * a pending command one that waits for a byte, the FIFO's position and
 * count inside it, the IRQ level the one the FIFO and command byte give):
 * 0, or -1 with err one line ("i8042 state: ...") and st zeroed. */
int i8042_state_decode(const uint8_t *buf, size_t len, struct i8042_state *st,
		       struct errbuf *err);
/* The controller's state encoded into buf (under its lock): the length, or
 * 0 when cap is too small. */
size_t i8042_save(struct i8042 *k, uint8_t *buf, size_t cap);
/* Decode buf and, only when it is valid, make it the controller's state,
 * raising IRQ 1 again when a byte waits with the interrupt on. 0, or -1
 * with err set and k unchanged. */
int i8042_restore(struct i8042 *k, const uint8_t *buf, size_t len, struct errbuf *err);

#endif
