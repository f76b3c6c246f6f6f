/* test_blk_uring.c: virtio-blk requests end to end (blk.c + blk_uring.c +
 * virtqueue.c) against a temporary file through a real io_uring, with the
 * rings built in 1 MiB of fake guest RAM: write then read back (header split,
 * status byte sharing a data segment), one submit and one interrupt per batch,
 * FLUSH, GET_ID, DISCARD and WRITE_ZEROES, past-the-end and overflowing
 * sectors, read-only disks, unknown types, malformed chains (missing or
 * readable status, looping chain: DEVICE_NEEDS_RESET, no crash), failing
 * back-ends (EISDIR, ENOSPC from /dev/full, short read past EOF) that fail one
 * request while the queue keeps working, running out of slots, EVENT_IDX,
 * reset with I/O in flight, and a VM pause with I/O in flight (it completes,
 * with its used entries and one interrupt; nothing is popped until resume). */
#include <endian.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "virtio/blk/blk_uring.h"
#include "tests/unit/check.h"
#include "vmm/core/guest_mem.h"

#define RAM_SIZE MiB(1)
#define QSIZE 64
#define DESC_GPA 0x1000ull
#define AVAIL_GPA 0x2000ull
#define USED_GPA 0x3000ull
#define HDR_GPA 0x10000ull  /* request headers and status bytes */
#define DATA_GPA 0x80000ull /* data buffers */
#define DISK_SIZE MiB(1)

static uint8_t *ram;
static struct guest_mem gm;
static struct virtqueue vq;
static struct blk_disk disk;
static struct blk_queue_io q;
static char path[64];
static unsigned notified, resets;
static unsigned next_desc;
static uint64_t next_hdr;

static unsigned notified_qi = ~0u;
static void on_notify(void *ctx, unsigned qi) { (void)ctx; notified_qi = qi; notified++; }
static void on_reset(void *ctx) { (void)ctx; resets++; }

static bool q_up, disk_up;

static void teardown(void)
{
	if (q_up)
		blk_uring_teardown(&q);
	if (disk_up)
		blk_disk_close(&disk);
	q_up = disk_up = false;
	if (path[0])
		unlink(path);
	path[0] = '\0';
}

/* Fresh RAM and queue; the disk is a 1 MiB temporary file unless `fd` >= 0
 * (then that fd, with `size`). depth: ring depth (in-flight limit). */
static int setup_disk(bool ro, int fd, uint64_t size, unsigned depth, bool event_idx)
{
	teardown();
	free(ram);
	ram = calloc(1, RAM_SIZE);
	if (!ram)
		return -1;
	gm_wrap(&gm, ram, RAM_SIZE);
	memset(&vq, 0, sizeof(vq));
	vq.mem = &gm;
	vq.size = QSIZE;
	vq.desc_gpa = DESC_GPA;
	vq.avail_gpa = AVAIL_GPA;
	vq.used_gpa = USED_GPA;
	vq.event_idx = event_idx;
	vq.indirect = true;
	if (vq_enable(&vq) < 0)
		return -1;
	notified = resets = 0;
	next_desc = 0;
	next_hdr = HDR_GPA;

	struct errbuf e;
	if (fd < 0) {
		struct blk_opts o;
		strcpy(path, "/tmp/ember-blku-XXXXXX");
		int t = mkstemp(path);
		if (t < 0 || ftruncate(t, (off_t)DISK_SIZE) < 0)
			return -1;
		close(t);
		if (blk_parse_opt(path, &o, &e) < 0)
			return -1;
		strcpy(o.serial, "ember-disk-0");
		o.ro = ro;
		if (blk_disk_open(&disk, &o, &e) < 0)
			return -1;
		disk_up = true;
	} else {
		memset(&disk, 0, sizeof(disk));
		disk.fd = fd;
		disk.size = size;
		disk.ro = ro;
		disk.lbs = 512;
		disk.pbs = 4096;
		memcpy(disk.serial, "ember-disk-0", 12);
		disk_up = true;
	}
	struct blk_callbacks cb = {.notify = on_notify, .needs_reset = on_reset, .ctx = NULL,
				   .qi = 3};
	if (blk_uring_setup(&q, &disk, depth, &cb, &e) < 0) {
		printf("  blk_uring_setup: %s\n", e.msg);
		return -1;
	}
	q_up = true;
	blk_queue_attach(&q, &vq, true);
	return 0;
}

static int setup(bool ro) { return setup_disk(ro, -1, 0, QSIZE, false); }

static struct vring_avail *avail(void) { return (struct vring_avail *)(ram + AVAIL_GPA); }
static struct vring_used *used(void) { return (struct vring_used *)(ram + USED_GPA); }

/* A chain of segments; returns its head. */
struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

static uint16_t add_chain(const struct seg *s, unsigned n)
{
	uint16_t head = (uint16_t)(next_desc % QSIZE);
	for (unsigned i = 0; i < n; i++) {
		unsigned d = next_desc++ % QSIZE;
		struct vring_desc v = {
			.addr = s[i].gpa, .len = s[i].len,
			.flags = (uint16_t)((s[i].w ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = (uint16_t)(next_desc % QSIZE)};
		memcpy(ram + DESC_GPA + 16 * d, &v, sizeof(v));
	}
	struct vring_avail *a = avail();
	a->ring[a->idx % QSIZE] = head;
	a->idx++;
	return head;
}

/* A header in RAM; returns its gpa. */
static uint64_t hdr(uint32_t type, uint64_t sector)
{
	uint64_t g = next_hdr;
	next_hdr += 64;
	struct virtio_blk_outhdr h = {.type = htole32(type), .sector = htole64(sector)};
	memcpy(ram + g, &h, sizeof(h));
	ram[g + 32] = 0xee; /* status byte slot at +32, poisoned */
	return g;
}

/* Simple requests: header, one data segment (if len), status at hdr+32. */
static uint64_t simple(uint32_t type, uint64_t sector, uint64_t data_gpa, uint32_t len)
{
	uint64_t h = hdr(type, sector);
	struct seg s[3];
	unsigned n = 0;
	s[n++] = (struct seg){h, 16, false};
	if (len)
		s[n++] = (struct seg){data_gpa, len, type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID};
	s[n++] = (struct seg){h + 32, 1, true};
	add_chain(s, n);
	return h + 32;
}

/* Kick and wait for every request in flight. */
static int run(void)
{
	int r = blk_queue_kick(&q);
	for (int i = 0; q.inflight && i < 1000; i++)
		blk_queue_complete(&q, true);
	return r;
}

static uint32_t used_len(unsigned i) { return le32toh(used()->ring[i % QSIZE].len); }
static uint16_t used_idx(void) { return le16toh(used()->idx); }

static void fill(uint64_t gpa, uint8_t seed, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		ram[gpa + i] = (uint8_t)(seed + i * 7);
}

/* ---- cases ---- */

static void ring_is_restricted(void)
{
	CHECK_EQ(setup(false), 0);
	CHECK(q.restricted);
	CHECK(q.efd >= 0);
	teardown();
}

static void write_then_read_back(void)
{
	CHECK_EQ(setup(false), 0);
	/* OUT 2048 bytes at sector 10: header split 10+6, data 100+1000+948 */
	uint64_t h = hdr(VIRTIO_BLK_T_OUT, 10);
	memcpy(ram + HDR_GPA + 0x1000, ram + h + 10, 6);
	fill(DATA_GPA, 1, 2048);
	struct seg w[] = {{h, 10, false}, {HDR_GPA + 0x1000, 6, false},
			  {DATA_GPA, 100, false}, {DATA_GPA + 100, 1000, false},
			  {DATA_GPA + 1100, 948, false}, {h + 32, 1, true}};
	uint16_t head = add_chain(w, ARRAY_SIZE(w));
	CHECK_EQ(run(), 0);
	CHECK_EQ(used_idx(), 1);
	CHECK_EQ(le32toh(used()->ring[0].id), head);
	CHECK_EQ(used_len(0), 1);
	CHECK_EQ(ram[h + 32], VIRTIO_BLK_S_OK);
	uint8_t file[2048];
	CHECK_EQ(pread(disk.fd, file, sizeof(file), 10 * 512), 2048);
	CHECK_MEM_EQ(file, ram + DATA_GPA, 2048);

	/* IN the same sectors: 1536 + (512 data + status) in one segment */
	uint64_t h2 = hdr(VIRTIO_BLK_T_IN, 10);
	struct seg r[] = {{h2, 16, false}, {DATA_GPA + 0x10000, 1536, true},
			  {DATA_GPA + 0x20000, 513, true}};
	ram[DATA_GPA + 0x20000 + 512] = 0xee;
	add_chain(r, ARRAY_SIZE(r));
	CHECK_EQ(run(), 0);
	CHECK_EQ(used_idx(), 2);
	CHECK_EQ(used_len(1), 2049);
	CHECK_EQ(ram[DATA_GPA + 0x20000 + 512], VIRTIO_BLK_S_OK);
	CHECK_MEM_EQ(ram + DATA_GPA + 0x10000, ram + DATA_GPA, 1536);
	CHECK_MEM_EQ(ram + DATA_GPA + 0x20000, ram + DATA_GPA + 1536, 512);
	teardown();
}

static void batch_one_submit_one_interrupt(void)
{
	CHECK_EQ(setup(false), 0);
	uint64_t st[5];
	for (unsigned i = 0; i < 4; i++) {
		fill(DATA_GPA + i * 4096, (uint8_t)(i * 31), 4096);
		st[i] = simple(VIRTIO_BLK_T_OUT, 8 * i, DATA_GPA + i * 4096, 4096);
	}
	st[4] = simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	uint64_t batches = q.batches;
	CHECK_EQ(blk_queue_kick(&q), 0);
	CHECK_EQ(q.batches, batches + 1); /* one io_uring_submit for five requests */
	CHECK_EQ(q.inflight, 5);
	CHECK_EQ(notified, 0);
	while (q.inflight)
		blk_queue_complete(&q, true);
	CHECK(notified >= 1 && notified <= 5);
	CHECK_EQ(notified_qi, 3); /* the queue index the callbacks were given */
	CHECK_EQ(used_idx(), 5);
	for (unsigned i = 0; i < 5; i++)
		CHECK_EQ(ram[st[i]], VIRTIO_BLK_S_OK);
	/* the FLUSH (IO_DRAIN) completed after every write before it */
	CHECK_EQ(le32toh(used()->ring[4].id), 4 * 3);
	uint8_t file[4096];
	CHECK_EQ(pread(disk.fd, file, sizeof(file), 3 * 4096), 4096);
	CHECK_MEM_EQ(file, ram + DATA_GPA + 3 * 4096, 4096);
	teardown();
}

static void flush_and_get_id(void)
{
	CHECK_EQ(setup(false), 0);
	uint64_t s1 = simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	memset(ram + DATA_GPA, 0xaa, 64);
	uint64_t s2 = simple(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 20);
	CHECK_EQ(run(), 0);
	CHECK_EQ(ram[s1], VIRTIO_BLK_S_OK);
	CHECK_EQ(ram[s2], VIRTIO_BLK_S_OK);
	CHECK_EQ(used_idx(), 2);
	CHECK_MEM_EQ(ram + DATA_GPA, "ember-disk-0\0\0\0\0\0\0\0\0", 20);
	CHECK_EQ(ram[DATA_GPA + 20], 0xaa);
	/* GET_ID is answered inline, FLUSH after the ring: both are in used */
	CHECK(used_len(0) == 21 || used_len(1) == 21);
	teardown();
}

static int file_is_zero(uint64_t off, uint32_t len)
{
	uint8_t b[8192];
	if (len > sizeof(b) || pread(disk.fd, b, len, (off_t)off) != (ssize_t)len)
		return 0;
	for (uint32_t i = 0; i < len; i++)
		if (b[i])
			return 0;
	return 1;
}

static uint64_t range_req(uint32_t type, uint64_t sector, uint32_t num, uint32_t flags)
{
	uint64_t h = hdr(type, 0);
	struct virtio_blk_discard_write_zeroes dw = {.sector = htole64(sector),
						     .num_sectors = htole32(num),
						     .flags = htole32(flags)};
	memcpy(ram + h + 16, &dw, sizeof(dw));
	struct seg s[] = {{h, 32, false}, {h + 32, 1, true}};
	add_chain(s, 2);
	return h + 32;
}

static void discard_and_write_zeroes(void)
{
	CHECK_EQ(setup(false), 0);
	CHECK(blk_disk_write_zeroes(&disk));
	uint8_t pat[16 * 4096];
	memset(pat, 0x5c, sizeof(pat));
	CHECK_EQ(pwrite(disk.fd, pat, sizeof(pat), 0), (ssize_t)sizeof(pat));
	uint64_t s1 = range_req(VIRTIO_BLK_T_WRITE_ZEROES, 8, 8, 0);
	uint64_t s2 = range_req(VIRTIO_BLK_T_WRITE_ZEROES, 32, 16, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	uint64_t s3 = blk_disk_discard(&disk) ? range_req(VIRTIO_BLK_T_DISCARD, 64, 16, 0) : 0;
	CHECK_EQ(run(), 0);
	CHECK_EQ(ram[s1], VIRTIO_BLK_S_OK);
	CHECK_EQ(ram[s2], VIRTIO_BLK_S_OK);
	CHECK(file_is_zero(8 * 512, 8 * 512));
	CHECK(file_is_zero(32 * 512, 16 * 512));
	if (s3) {
		CHECK_EQ(ram[s3], VIRTIO_BLK_S_OK);
		CHECK(file_is_zero(64 * 512, 16 * 512));
	}
	/* neighbours untouched */
	CHECK(!file_is_zero(7 * 512, 512));
	CHECK(!file_is_zero(16 * 512, 512));
	CHECK(!file_is_zero(48 * 512, 512));
	/* past the end */
	uint64_t s4 = range_req(VIRTIO_BLK_T_WRITE_ZEROES, DISK_SIZE / 512 - 1, 2, 0);
	CHECK_EQ(run(), 0);
	CHECK_EQ(ram[s4], VIRTIO_BLK_S_IOERR);
	teardown();
}

static void errors_fail_one_request(void)
{
	CHECK_EQ(setup(false), 0);
	uint64_t a = simple(VIRTIO_BLK_T_IN, DISK_SIZE / 512, DATA_GPA, 512); /* past end */
	uint64_t b = simple(VIRTIO_BLK_T_OUT, 1ull << 55, DATA_GPA, 512);     /* overflows */
	uint64_t c = simple(VIRTIO_BLK_T_IN, UINT64_MAX, DATA_GPA, 512);
	uint64_t d = simple(99, 0, 0, 0);                                     /* unknown */
	uint64_t e = simple(VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, DATA_GPA, 512); /* last */
	uint64_t f = simple(VIRTIO_BLK_T_IN, 0, DATA_GPA, 100);               /* not sectors */
	CHECK_EQ(run(), 0);
	CHECK_EQ(ram[a], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(ram[b], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(ram[c], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(ram[d], VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(ram[e], VIRTIO_BLK_S_OK);
	CHECK_EQ(ram[f], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(used_idx(), 6);
	CHECK_EQ(resets, 0);
	CHECK_EQ(used_len(0), 1);
	teardown();
}

static void read_only_disk(void)
{
	CHECK_EQ(setup(true), 0);
	CHECK_EQ(fcntl(disk.fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	fill(DATA_GPA, 9, 512);
	uint64_t a = simple(VIRTIO_BLK_T_OUT, 0, DATA_GPA, 512);
	uint64_t b = range_req(VIRTIO_BLK_T_DISCARD, 0, 8, 0);
	uint64_t c = range_req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0);
	uint64_t d = simple(VIRTIO_BLK_T_IN, 0, DATA_GPA + 4096, 512);
	uint64_t e = simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	CHECK_EQ(run(), 0);
	CHECK_EQ(ram[a], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(ram[b], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(ram[c], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(ram[d], VIRTIO_BLK_S_OK);
	CHECK_EQ(ram[e], VIRTIO_BLK_S_OK);
	CHECK(file_is_zero(0, 512));
	teardown();
}

static void missing_status_needs_reset(void)
{
	CHECK_EQ(setup(false), 0);
	uint64_t ok = simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	uint64_t h = hdr(VIRTIO_BLK_T_FLUSH, 0);
	struct seg s[] = {{h, 17, false}}; /* "status" readable */
	add_chain(s, 1);
	simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0); /* never popped */
	CHECK_EQ(run(), -1);
	CHECK_EQ(resets, 1);
	CHECK_EQ(ram[ok], VIRTIO_BLK_S_OK);
	CHECK_EQ(used_idx(), 1);
	CHECK_EQ(run(), -1); /* stays stopped, no second callback */
	CHECK_EQ(resets, 1);
	CHECK_EQ(used_idx(), 1);
	teardown();

	CHECK_EQ(setup(false), 0); /* no status at all: header only */
	h = hdr(VIRTIO_BLK_T_IN, 0);
	struct seg s2[] = {{h, 16, false}, {DATA_GPA, 512, false}};
	add_chain(s2, 2);
	CHECK_EQ(run(), -1);
	CHECK_EQ(resets, 1);
	teardown();
}

static void bad_chain_needs_reset(void)
{
	CHECK_EQ(setup(false), 0);
	/* descriptor 0 -> 1 -> 0: a loop; vq_pop returns -1 */
	struct vring_desc l0 = {.addr = HDR_GPA, .len = 16, .flags = VRING_DESC_F_NEXT, .next = 1};
	struct vring_desc l1 = {.addr = HDR_GPA, .len = 16, .flags = VRING_DESC_F_NEXT, .next = 0};
	memcpy(ram + DESC_GPA, &l0, 16);
	memcpy(ram + DESC_GPA + 16, &l1, 16);
	avail()->ring[0] = 0;
	avail()->idx = 1;
	CHECK_EQ(run(), -1);
	CHECK_EQ(resets, 1);
	CHECK_EQ(used_idx(), 0);
	/* after a reset and re-attach the queue works again */
	blk_queue_quiesce(&q);
	CHECK_EQ(vq_enable(&vq), 0);
	memset(avail(), 0, 64);
	next_desc = 0;
	blk_queue_attach(&q, &vq, true);
	uint64_t s = simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	CHECK_EQ(run(), 0);
	CHECK_EQ(ram[s], VIRTIO_BLK_S_OK);
	teardown();
}

static void wrong_direction_is_ioerr(void)
{
	CHECK_EQ(setup(false), 0);
	uint64_t h = hdr(VIRTIO_BLK_T_IN, 0); /* IN with readable data */
	struct seg s[] = {{h, 16, false}, {DATA_GPA, 512, false}, {h + 32, 1, true}};
	add_chain(s, 3);
	uint64_t h2 = hdr(VIRTIO_BLK_T_OUT, 0); /* OUT with writable data */
	struct seg s2[] = {{h2, 16, false}, {DATA_GPA, 512, true}, {h2 + 32, 1, true}};
	add_chain(s2, 3);
	CHECK_EQ(run(), 0);
	CHECK_EQ(ram[h + 32], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(ram[h2 + 32], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(resets, 0);
	CHECK(file_is_zero(0, 512));
	teardown();
}

static void backend_errors(void)
{
	/* A directory: reads fail with EISDIR, the queue keeps going. */
	int dfd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	CHECK_EQ(setup_disk(false, dfd, MiB(1), QSIZE, false), 0);
	uint64_t a = simple(VIRTIO_BLK_T_IN, 0, DATA_GPA, 512);
	uint64_t b = simple(VIRTIO_BLK_T_OUT, 0, DATA_GPA, 512);
	uint64_t c = simple(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA + 4096, 20);
	CHECK_EQ(run(), 0);
	CHECK_EQ(ram[a], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(ram[b], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(ram[c], VIRTIO_BLK_S_OK);
	CHECK_EQ(resets, 0);
	uint64_t d = simple(VIRTIO_BLK_T_IN, 8, DATA_GPA, 512);
	CHECK_EQ(run(), 0);
	CHECK_EQ(ram[d], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(used_idx(), 4);
	teardown();

	/* /dev/full: writes fail with ENOSPC, reads succeed (zeroes). */
	int ffd = open("/dev/full", O_RDWR | O_CLOEXEC);
	CHECK(ffd >= 0);
	CHECK_EQ(setup_disk(false, ffd, MiB(1), QSIZE, false), 0);
	fill(DATA_GPA, 3, 1024);
	a = simple(VIRTIO_BLK_T_OUT, 0, DATA_GPA, 512);
	b = simple(VIRTIO_BLK_T_IN, 0, DATA_GPA + 512, 512);
	CHECK_EQ(run(), 0);
	CHECK_EQ(ram[a], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(ram[b], VIRTIO_BLK_S_OK);
	CHECK_EQ(ram[DATA_GPA + 512], 0);
	teardown();

	/* A disk claiming more than its file holds: a short read is IOERR. */
	char p[] = "/tmp/ember-blks-XXXXXX";
	int sfd = mkstemp(p);
	CHECK(sfd >= 0);
	unlink(p);
	CHECK_EQ(ftruncate(sfd, 4096), 0);
	CHECK_EQ(setup_disk(false, sfd, MiB(1), QSIZE, false), 0);
	a = simple(VIRTIO_BLK_T_IN, 6, DATA_GPA, 1024); /* 1024 asked, 1024 there */
	b = simple(VIRTIO_BLK_T_IN, 7, DATA_GPA + 4096, 1024); /* 512 there */
	c = simple(VIRTIO_BLK_T_IN, 100, DATA_GPA + 8192, 512); /* none */
	CHECK_EQ(run(), 0);
	CHECK_EQ(ram[a], VIRTIO_BLK_S_OK);
	CHECK_EQ(ram[b], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(ram[c], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(used_len(1), 1);
	teardown();
}

static void out_of_slots_resumes(void)
{
	CHECK_EQ(setup_disk(false, -1, 0, 2, false), 0); /* two requests in flight at most */
	uint64_t st[6];
	for (unsigned i = 0; i < 6; i++)
		st[i] = simple(VIRTIO_BLK_T_IN, i, DATA_GPA + 4096 * i, 512);
	CHECK_EQ(blk_queue_kick(&q), 0);
	CHECK(q.inflight <= 2);
	for (int i = 0; q.inflight && i < 100; i++)
		blk_queue_complete(&q, true);
	CHECK_EQ(used_idx(), 6);
	for (unsigned i = 0; i < 6; i++)
		CHECK_EQ(ram[st[i]], VIRTIO_BLK_S_OK);
	teardown();
}

static void event_idx_avail_event(void)
{
	CHECK_EQ(setup_disk(false, -1, 0, QSIZE, true), 0);
	uint16_t *used_event = &avail()->ring[QSIZE];
	uint16_t *avail_event = (uint16_t *)&used()->ring[QSIZE];
	*used_event = 0; /* interrupt after the first used entry */
	simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	simple(VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 20);
	CHECK_EQ(run(), 0);
	CHECK_EQ(*avail_event, 2); /* kick me when buffer 2 arrives */
	CHECK_EQ(used_idx(), 2);
	CHECK(notified >= 1);
	unsigned before = notified;
	*used_event = 100; /* far away: no interrupt */
	simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	CHECK_EQ(run(), 0);
	CHECK_EQ(used_idx(), 3);
	CHECK_EQ(notified, before);
	teardown();
}

static void reset_with_io_in_flight(void)
{
	CHECK_EQ(setup(false), 0);
	for (unsigned i = 0; i < 8; i++)
		simple(VIRTIO_BLK_T_IN, i, DATA_GPA + 4096 * i, 4096);
	CHECK_EQ(blk_queue_kick(&q), 0);
	CHECK_EQ(q.inflight, 8);
	blk_queue_quiesce(&q);
	CHECK_EQ(q.inflight, 0);
	CHECK_EQ(used_idx(), 0); /* dropped, never pushed */
	CHECK_EQ(q.nfree, q.nslots);
	CHECK_EQ(blk_queue_complete(&q, false), 0);
	teardown();
}

static void pause_with_io_in_flight(void)
{
	CHECK_EQ(setup(false), 0);
	for (unsigned i = 0; i < 8; i++)
		simple(VIRTIO_BLK_T_IN, i, DATA_GPA + 4096 * i, 4096);
	CHECK_EQ(blk_queue_kick(&q), 0);
	CHECK_EQ(q.inflight, 8);
	unsigned n0 = notified;
	CHECK_EQ(blk_queue_pause(&q, now_ns() + 1000000000ull), 0);
	CHECK_EQ(q.inflight, 0);
	CHECK_EQ(used_idx(), 8); /* completed and used, not dropped */
	CHECK(notified > n0);
	/* Paused: a new request stays in the ring, kicked or not. */
	uint64_t st = simple(VIRTIO_BLK_T_IN, 9, DATA_GPA + 0x40000, 4096);
	CHECK_EQ(blk_queue_kick(&q), 0);
	CHECK_EQ(q.inflight, 0);
	CHECK_EQ(blk_queue_complete(&q, false), 0);
	CHECK_EQ(used_idx(), 8);
	CHECK_EQ(vq.last_avail, 8);
	/* Resumed (the transport kicks the queue): served. */
	blk_queue_resume(&q);
	CHECK_EQ(run(), 0);
	CHECK_EQ(used_idx(), 9);
	CHECK_EQ(ram[st], VIRTIO_BLK_S_OK);
	teardown();
}

/* A rate-limited queue: 16 KiB of reads per second (a burst-free bucket
 * starting full) lets four 4 KiB reads through; the fifth goes back to the
 * ring (last_avail rolled back, nothing used) and the timer is armed for the
 * time the bucket needs; once it fires (unblocked), the kick serves it.
 * GET_ID and FLUSH cost no bytes; with an ops bucket they count as ops. */
static void rate_limited_queue(void)
{
	CHECK_EQ(setup(false), 0);
	struct rate_limiter rl = {0};
	struct rl_config c = {.bw = {.size = 16384, .refill_ms = 1000}};
	rl_init(&rl, &c, now_ns());
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	CHECK(tfd >= 0);
	q.rl = &rl;
	q.rl_timer_fd = tfd;
	uint64_t st[6];
	for (unsigned i = 0; i < 6; i++)
		st[i] = simple(VIRTIO_BLK_T_IN, i, DATA_GPA + 4096 * i, 4096);
	CHECK_EQ(run(), 0);
	CHECK_EQ(used_idx(), 4);
	CHECK_EQ(vq.last_avail, 4); /* the fifth went back */
	CHECK(q.throttled);
	CHECK(rl.blocked);
	CHECK_EQ(rl.throttled, 1);
	struct itimerspec its;
	CHECK_EQ(timerfd_gettime(tfd, &its), 0);
	uint64_t armed = (uint64_t)its.it_value.tv_sec * 1000000000u + (uint64_t)its.it_value.tv_nsec;
	CHECK(armed > 200000000u && armed <= 250000000u); /* 4 KiB at 16 KiB/s: 250 ms */
	/* a kick while refusing serves nothing and arms nothing new */
	CHECK_EQ(run(), 0);
	CHECK_EQ(used_idx(), 4);
	CHECK_EQ(rl.throttled, 1); /* one wait, counted once */
	/* the timer fired: the bucket has refilled (a whole second of it, so both go) */
	rl_unblock(&rl);
	rl.bw.last_ns -= 1000000000ull;
	CHECK_EQ(run(), 0);
	CHECK_EQ(used_idx(), 6);
	CHECK(!q.throttled);
	CHECK_EQ(ram[st[4]], VIRTIO_BLK_S_OK);
	CHECK_EQ(ram[st[5]], VIRTIO_BLK_S_OK);
	CHECK_EQ(rl.bytes, 6 * 4096);
	/* a flush costs an op, no bytes: passes an empty byte bucket */
	uint64_t fl = simple(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	CHECK_EQ(run(), 0);
	CHECK_EQ(ram[fl], VIRTIO_BLK_S_OK);
	CHECK_EQ(rl.ops_done, 7);
	close(tfd);
	q.rl = NULL;
	teardown();
}

static void writethrough_without_flush(void)
{
	CHECK_EQ(setup(false), 0);
	blk_queue_attach(&q, &vq, false);
	CHECK(q.writethrough);
	fill(DATA_GPA, 77, 512);
	uint64_t a = simple(VIRTIO_BLK_T_OUT, 3, DATA_GPA, 512);
	CHECK_EQ(run(), 0);
	CHECK_EQ(ram[a], VIRTIO_BLK_S_OK);
	uint8_t b[512];
	CHECK_EQ(pread(disk.fd, b, 512, 3 * 512), 512);
	CHECK_MEM_EQ(b, ram + DATA_GPA, 512);
	teardown();
}

int main(void)
{
	RUN(ring_is_restricted);
	RUN(write_then_read_back);
	RUN(batch_one_submit_one_interrupt);
	RUN(flush_and_get_id);
	RUN(discard_and_write_zeroes);
	RUN(errors_fail_one_request);
	RUN(read_only_disk);
	RUN(missing_status_needs_reset);
	RUN(bad_chain_needs_reset);
	RUN(wrong_direction_is_ioerr);
	RUN(backend_errors);
	RUN(out_of_slots_resumes);
	RUN(event_idx_avail_event);
	RUN(reset_with_io_in_flight);
	RUN(writethrough_without_flush);
	RUN(rate_limited_queue);
	RUN(pause_with_io_in_flight);
	teardown();
	free(ram);
	return check_summary();
}
