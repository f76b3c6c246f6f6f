/* test_cache_name.c: a kernel cache entry's name (vmm/lib/cache_name.c),
 * which ember and ember-jailer both make: kind, then the file's device,
 * inode and size in hex, its modification and change times with
 * nanoseconds (tests/jail/lib.sh's entry_name makes the same from stat(1));
 * a buffer too small for it is refused; whose entries are trusted. */
#include <string.h>
#include <sys/stat.h>

#include "tests/unit/check.h"
#include "vmm/lib/cache_name.h"

static struct stat example(void)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_dev = 0xfe00;
	st.st_ino = 0x5104cb;
	st.st_size = 0xd887c0;
	st.st_mtim = (struct timespec){1796504378, 491561665};
	st.st_ctim = (struct timespec){1796504378, 7};
	return st;
}

static void names_kind_and_identity(void)
{
	struct stat st = example();
	char name[KERNEL_CACHE_NAME_MAX];
	CHECK_EQ(kernel_cache_name(name, sizeof(name), KERNEL_CACHE_VMLINUX, &st), 0);
	CHECK_STR_EQ(name, "vmlinux-fe00-5104cb-d887c0-1796504378.491561665-1796504378.000000007");
	CHECK_EQ(kernel_cache_name(name, sizeof(name), KERNEL_CACHE_INITRD, &st), 0);
	CHECK_STR_EQ(name, "initrd-fe00-5104cb-d887c0-1796504378.491561665-1796504378.000000007");
}

static void too_small_a_buffer(void)
{
	struct stat st = example();
	char name[20];
	CHECK_EQ(kernel_cache_name(name, sizeof(name), KERNEL_CACHE_VMLINUX, &st), -1);
}

/* Trusted: the user's own or root's, written by nobody else. */
static void trusted_owners(void)
{
	struct stat st = example();
	st.st_mode = S_IFREG | 0644;
	st.st_uid = 1000;
	CHECK(kernel_cache_trusted(&st, 1000));
	CHECK(!kernel_cache_trusted(&st, 1001));
	st.st_uid = 0;
	CHECK(kernel_cache_trusted(&st, 1001));
	st.st_mode = S_IFREG | 0664;
	CHECK(!kernel_cache_trusted(&st, 0));
	st.st_mode = S_IFDIR | 0757;
	CHECK(!kernel_cache_trusted(&st, 0));
}

int main(void)
{
	RUN(names_kind_and_identity);
	RUN(too_small_a_buffer);
	RUN(trusted_owners);
	return check_summary();
}
