/*
 * shim.c - a malloc shim of the kind tracers and leak checkers preload
 * (heaptrack's preload library works this way): malloc, free, calloc and
 * realloc count the call and forward to the next definition
 * (dlsym(RTLD_NEXT)).  Preloaded before libcprof.so, that next definition
 * is the runtime's hook, so the runtime must forward to the allocator
 * after it, never back to the shim (which would loop).  Prints its counts
 * at exit to stderr.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

static void *(*next_malloc)(size_t);
static void (*next_free)(void *);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static unsigned long calls;
static char boot[4096];
static size_t boot_used;

static void init(void)
{
	if (!next_malloc) {
		next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
		next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
		next_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
		next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	}
}

void *malloc(size_t n)
{
	init();
	__atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
	return next_malloc(n);
}

void free(void *p)
{
	if ((char *)p >= boot && (char *)p < boot + sizeof boot)
		return;
	init();
	next_free(p);
}

void *calloc(size_t a, size_t b)
{
	if (!next_calloc) {
		/* dlsym's own calloc while init runs */
		size_t n = a * b, off = (boot_used + 15) & ~(size_t)15;
		if (off + n > sizeof boot)
			return NULL;
		boot_used = off + n;
		return boot + off;
	}
	__atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
	return next_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	init();
	__atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED);
	return next_realloc(p, n);
}

__attribute__((destructor)) static void report(void)
{
	fprintf(stderr, "shim: %s\n", calls > 0 ? "calls seen" : "no calls");
}
