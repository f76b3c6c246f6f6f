/* cache_name.c: a kernel cache entry's name, and whose are trusted (cache_name.h). */
#include <stdio.h>

#include "vmm/lib/cache_name.h"

int kernel_cache_name(char *buf, size_t len, const char *kind, const struct stat *st)
{
	int n = snprintf(buf, len, "%s-%llx-%llx-%llx-%lld.%09ld-%lld.%09ld", kind,
			 (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
			 (unsigned long long)st->st_size, (long long)st->st_mtim.tv_sec,
			 st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

bool kernel_cache_trusted(const struct stat *st, uid_t uid)
{
	return (st->st_uid == uid || st->st_uid == 0) && !(st->st_mode & (S_IWGRP | S_IWOTH));
}
