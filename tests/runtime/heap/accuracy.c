/*
 * accuracy.c - known amounts under known functions, for the heap
 * profiler's accuracy test and benchmark: keep_small retains 10 MiB in
 * 1 KiB blocks, keep_large 30 MiB in 64 KiB blocks, churn allocates and
 * frees CHURN_MIB MiB (default 1024) in 4 KiB blocks, retaining nothing.
 * The retained blocks are still live at exit, when CPROF_HEAP_PROFILE is
 * written.
 *
 *   accuracy [CHURN_MIB [TEXT_FILE]]
 *
 * With TEXT_FILE, the heap profile's debug=1 text is also written there
 * through the API (found with dlsym, so the program runs bare too).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void **keep;
static size_t nkeep;

__attribute__((noinline)) static void keep_small(void)
{
	for (int i = 0; i < 10 * 1024; i++) {
		char *p = malloc(1024);
		p[0] = 1;
		keep[nkeep++] = p;
	}
}

__attribute__((noinline)) static void keep_large(void)
{
	for (int i = 0; i < 30 * 16; i++) {
		char *p = malloc(64 * 1024);
		p[0] = 1;
		keep[nkeep++] = p;
	}
}

__attribute__((noinline)) static void churn(long mib)
{
	volatile char sink = 0;
	for (long i = 0; i < mib * 256; i++) {
		char *p = malloc(4096);
		p[0] = (char)i;
		sink += p[0];
		free(p);
	}
}

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : 1024;
	keep = malloc(sizeof(void *) * (10 * 1024 + 30 * 16));
	keep_small();
	keep_large();
	churn(mib);
	printf("kept %zu blocks\n", nkeep);
	if (argc > 2) {
		int (*w)(int, int) = (int (*)(int, int))dlsym(RTLD_DEFAULT, "cprof_heap_write");
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (w && fd >= 0 && w(fd, 1) != 0)
			return 3;
		if (fd >= 0)
			close(fd);
	}
	return 0;
}
