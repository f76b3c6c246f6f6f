/* test_cache_name.c: a kernel cache entry's name (vmm/lib/cache_name.c),
 * which ember and ember-jailer both make: kind, then the file's device,
 * inode and size in hex, its modification and change times with
 * nanoseconds (tests/jail/lib.sh's entry_name makes the same from stat(1));
 * a buffer too small for it is refused. */
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

int main(void)
{
	RUN(names_kind_and_identity);
	RUN(too_small_a_buffer);
	return check_summary();
}
