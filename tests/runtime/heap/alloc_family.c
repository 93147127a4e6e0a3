/*
 * alloc_family.c - the malloc family's less common members and a library
 * loaded with dlopen, for the heap profiler's tests with another
 * allocator in LD_PRELOAD (before or after libcprof.so): reallocarray
 * (which jemalloc and tcmalloc lack, so the runtime's own serves it and
 * must grow blocks of the allocator in front), memalign, valloc,
 * posix_memalign, aligned_alloc, calloc and malloc_usable_size; keep_family
 * keeps 4 MiB in 64 KiB blocks.  With a library path argument, dlopens it
 * and calls its plugin_keep (4 MiB more), so a profile shows whether the
 * library's allocations were seen.
 *
 *   alloc_family [PLUGIN.so]
 */
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *kept[64];

__attribute__((noinline)) static int churn_family(void)
{
	int bad = 0;
	void *p = NULL;
	for (int i = 1; i <= 300; i++) {
		void *q = reallocarray(p, (size_t)i, 64);
		if (!q)
			return 100;
		memset((char *)q + (size_t)(i - 1) * 64, i & 0xff, 64);
		p = q;
	}
	for (int i = 1; i <= 300; i++)
		bad += ((unsigned char *)p)[(size_t)(i - 1) * 64] != (i & 0xff);
	bad += malloc_usable_size(p) < 300 * 64;
	free(p);
	void *a = memalign(256, 1000), *b = valloc(5000), *c = aligned_alloc(64, 640);
	void *d = NULL;
	bad += posix_memalign(&d, 128, 3000) != 0;
	bad += ((unsigned long)a & 255) || ((unsigned long)c & 63) || ((unsigned long)d & 127);
	unsigned char *z = calloc(1000, 3);
	for (int i = 0; z && i < 3000; i++)
		bad += z[i] != 0;
	free(a);
	free(b);
	free(c);
	free(d);
	free(z);
	return bad;
}

__attribute__((noinline)) static void keep_family(void)
{
	for (int i = 0; i < 64; i++) {
		kept[i] = malloc(64 << 10);
		memset(kept[i], 1, 64);
	}
}

int main(int argc, char **argv)
{
	int bad = churn_family();
	keep_family();
	if (argc > 1) {
		void *h = dlopen(argv[1], RTLD_NOW);
		void (*keep)(void) = h ? (void (*)(void))dlsym(h, "plugin_keep") : NULL;
		if (!keep) {
			printf("no plugin: %s\n", dlerror());
			return 2;
		}
		keep();
	}
	printf("family bad %d\n", bad);
	return bad != 0;
}
