/* test_device.c: the device contract and the VM's device list (device.c):
 * start in order and stop at the first failure, destroy last-added first,
 * pause every device even when one fails and resume in reverse, stats in
 * order, NULL ops skipped, save/restore "not supported" without an op, a
 * full list refused; and STATE_GROUP state (util.h): the members and the
 * plain struct are the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "virtio/virtqueue.h"
#include "vmm/core/device.h"
#include "vmm/devices/serial.h"

/* A device that logs each call as "<op><id>" into a shared trace. */
static char trace[256];
static void note(const char *op, const struct device *d)
{
	strncat(trace, op, sizeof(trace) - strlen(trace) - 1);
	strncat(trace, d->id, sizeof(trace) - strlen(trace) - 1);
	strncat(trace, " ", sizeof(trace) - strlen(trace) - 1);
}

struct fake {
	struct device dev;
	bool fail_start, fail_pause;
};

static int f_start(struct device *d, struct errbuf *e)
{
	note("start", d);
	if (container_of(d, struct fake, dev)->fail_start) {
		err_set(e, "%s would not start", d->id);
		return -1;
	}
	return 0;
}
static int f_pause(struct device *d)
{
	note("pause", d);
	return container_of(d, struct fake, dev)->fail_pause ? -1 : 0;
}
static void f_resume(struct device *d) { note("resume", d); }
static void f_stats(struct device *d, FILE *out) { fprintf(out, "{\"device\":\"%s\"}\n", d->id); }
static void f_destroy(struct device *d) { note("destroy", d); }

static const struct device_ops full = {.type = "fake", .start = f_start,
				       .pause = f_pause, .resume = f_resume, .stats = f_stats,
				       .destroy = f_destroy};
static const struct device_ops bare = {.type = "bare"};

static struct fake a, b, c;
static struct device_list list;

static void setup(void)
{
	memset(&list, 0, sizeof(list));
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	device_init(&a.dev, &full, "a");
	device_init(&b.dev, &bare, "b%d", 1);
	device_init(&c.dev, &full, "c");
	trace[0] = '\0';
	device_list_add(&list, &a.dev);
	device_list_add(&list, &b.dev);
	device_list_add(&list, &c.dev);
}

static void start_in_order_and_destroy_in_reverse(void)
{
	setup();
	CHECK_STR_EQ(b.dev.id, "b1");
	struct errbuf e = {{0}};
	CHECK_EQ(device_list_start(&list, &e), 0);
	device_list_destroy(&list);
	CHECK_EQ(list.n, 0);
	CHECK_STR_EQ(trace, "starta startc destroyc destroya ");
}

static void start_stops_at_first_failure(void)
{
	setup();
	a.fail_start = true;
	struct errbuf e = {{0}};
	CHECK_EQ(device_list_start(&list, &e), -1);
	CHECK_STR_EQ(e.msg, "a would not start");
	CHECK_STR_EQ(trace, "starta ");
}

static void pause_all_resume_in_reverse(void)
{
	setup();
	a.fail_pause = true; /* reported, and the others are paused all the same */
	CHECK_EQ(device_list_pause(&list), -1);
	device_list_resume(&list);
	CHECK_STR_EQ(trace, "pausea pausec resumec resumea ");
	a.fail_pause = false;
	trace[0] = '\0';
	CHECK_EQ(device_list_pause(&list), 0);
}

static void stats_in_order(void)
{
	setup();
	char buf[256] = {0};
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	CHECK(f != NULL);
	device_list_stats(&list, f);
	fclose(f);
	CHECK_STR_EQ(buf, "{\"device\":\"a\"}\n{\"device\":\"c\"}\n");
}

static void save_restore_not_supported(void)
{
	setup();
	struct errbuf e = {{0}};
	uint8_t buf[16];
	size_t len = 99;
	CHECK_EQ(device_save(&b.dev, buf, sizeof(buf), &len, &e), -1);
	CHECK_EQ(len, 0);
	CHECK_STR_EQ(e.msg, "b1 (bare): saving its state is not supported");
	CHECK_EQ(device_restore(&a.dev, buf, sizeof(buf), &e), -1);
	CHECK_STR_EQ(e.msg, "a (fake): restoring its state is not supported");
}

static void full_list_refused(void)
{
	memset(&list, 0, sizeof(list));
	for (unsigned i = 0; i < DEVICE_LIST_MAX; i++)
		CHECK_EQ(device_list_add(&list, &a.dev), 0);
	CHECK_EQ(device_list_add(&list, &b.dev), -1);
	CHECK_EQ(list.n, DEVICE_LIST_MAX);
}

/* The state a device embeds is the members themselves, as one plain struct. */
static void state_group_aliases_members(void)
{
	struct virtqueue vq;
	memset(&vq, 0, sizeof(vq));
	vq.size = 256;
	vq.last_avail = 7;
	vq.event_idx = 1;
	CHECK_EQ(vq.state.size, 256);
	CHECK_EQ(vq.state.last_avail, 7);
	struct vq_state copy = vq.state;
	vq.state.used_idx = 5;
	CHECK_EQ(vq.used_idx, 5);
	vq.state = copy;
	CHECK_EQ(vq.used_idx, 0);
	CHECK_EQ(vq.event_idx, 1);

	struct serial s;
	memset(&s, 0, sizeof(s));
	s.lcr = 0x83;
	s.rx_count = 3;
	CHECK_EQ(s.state.lcr, 0x83);
	CHECK_EQ(s.state.rx_count, 3);
	CHECK((void *)&s.state == (void *)&s.ier);
}

int main(void)
{
	RUN(start_in_order_and_destroy_in_reverse);
	RUN(start_stops_at_first_failure);
	RUN(pause_all_resume_in_reverse);
	RUN(stats_in_order);
	RUN(save_restore_not_supported);
	RUN(full_list_refused);
	RUN(state_group_aliases_members);
	return check_summary();
}
