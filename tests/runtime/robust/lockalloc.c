/* lockalloc.c - a test allocator that behaves like jemalloc where it
 * matters to the runtime: every malloc, free, calloc, realloc... takes a
 * pthread mutex through the pthread_mutex_lock the program binds to (the
 * runtime's, when it interposes locks), and it must never be entered
 * again by the thread already inside it: if it is (the runtime's hook on
 * that mutex allocating, building tables through libdw, calling stdio),
 * it says so and aborts.  Preloaded before libcprof.so, it is the
 * program's allocator.
 *
 * Blocks: a 16-byte header (usable size, kind) before each; power-of-two
 * classes from 16 bytes to 1 MiB on free lists, carved from 4 MiB chunks
 * of mmap; larger and over-aligned blocks are mappings of their own (the
 * mapping's base and length in the 16 bytes before the header), unmapped
 * whole.  Correct, small,
 * slow on purpose (one lock for everything: contention, hence the
 * runtime's wait records, on every thread's allocations).  Build it with
 * -fno-builtin: gcc otherwise turns calloc's malloc + memset into a call
 * to calloc, itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NCLASS 17                      /* 16 B .. 1 MiB */
#define CHUNK (4u << 20)
#define HDR 16

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static void *freelist[NCLASS];
static char *bump, *bump_end;
static __thread int inside __attribute__((tls_model("initial-exec")));

static void reentered(const char *fn)
{
	static const char msg[] = "lockalloc: re-entered from inside the allocator's lock: ";
	(void)!write(2, msg, sizeof msg - 1);
	(void)!write(2, fn, strlen(fn));
	(void)!write(2, "\n", 1);
	abort();
}

static void enter(const char *fn)
{
	if (inside)
		reentered(fn);
	inside = 1;
	pthread_mutex_lock(&mu);
}

static void leave(void)
{
	pthread_mutex_unlock(&mu);
	inside = 0;
}

static int class_of(size_t n)
{
	int c = 0;
	size_t s = 16;
	while (s < n) {
		s <<= 1;
		c++;
	}
	return c;
}

#define KIND_MAP ((size_t)-1)

/* A mapping of its own for n bytes aligned to al (a power of two). */
static void *big(size_t n, size_t al)
{
	if (al < 16)
		al = 16;
	size_t total = n + al + 32 + 4095;
	if (total < n)
		return NULL;
	total &= ~(size_t)4095;
	char *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	uintptr_t a = ((uintptr_t)m + 32 + al - 1) & ~(uintptr_t)(al - 1);
	size_t *h = (size_t *)(a - 32);
	h[0] = (size_t)(uintptr_t)m;
	h[1] = total;
	h[2] = n;
	h[3] = KIND_MAP;
	return (void *)a;
}

void *malloc(size_t n)
{
	if (n > (1u << 20)) {
		void *p = big(n, 16);
		if (!p)
			errno = ENOMEM;
		return p;
	}
	enter("malloc");
	int c = class_of(n ? n : 1);
	size_t sz = (size_t)16 << c;
	char *p = freelist[c];
	if (p) {
		freelist[c] = *(void **)p;
	} else {
		if (!bump || bump + sz + HDR > bump_end) {
			char *m = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED) {
				leave();
				errno = ENOMEM;
				return NULL;
			}
			bump = m;
			bump_end = m + CHUNK;
		}
		char *h = bump;
		bump += sz + HDR;
		((size_t *)h)[0] = sz;
		((size_t *)h)[1] = (size_t)c;
		p = h + HDR;
	}
	leave();
	return p;
}

static size_t block_size(void *p)
{
	return ((size_t *)p)[-2];
}

void free(void *p)
{
	if (!p)
		return;
	size_t *h = (size_t *)p - 2;
	if (h[1] == KIND_MAP) {
		munmap((void *)(uintptr_t)h[-2], h[-1]);
		return;
	}
	enter("free");
	int c = (int)h[1];
	*(void **)p = freelist[c];
	freelist[c] = p;
	leave();
}

void *calloc(size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = malloc(n);
	if (p)
		memset(p, 0, n);
	return p;
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	size_t old = block_size(p);
	if (n <= old && n > 0)
		return p;
	void *q = malloc(n);
	if (q) {
		memcpy(q, p, old < n ? old : n);
		free(p);
	}
	return q;
}

void *reallocarray(void *p, size_t a, size_t b)
{
	size_t n;
	if (__builtin_mul_overflow(a, b, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n);
}

void *memalign(size_t al, size_t n)
{
	if (al <= 16)
		return malloc(n);
	if (al & (al - 1)) {
		errno = EINVAL;
		return NULL;
	}
	void *p = big(n, al);
	if (!p)
		errno = ENOMEM;
	return p;
}

int posix_memalign(void **out, size_t al, size_t n)
{
	if (al < sizeof(void *) || (al & (al - 1)))
		return EINVAL;
	void *p = memalign(al, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t al, size_t n)
{
	return memalign(al, n);
}

void *valloc(size_t n)
{
	return memalign(4096, n);
}

void *pvalloc(size_t n)
{
	return memalign(4096, (n + 4095) & ~(size_t)4095);
}

size_t malloc_usable_size(void *p)
{
	return p ? block_size(p) : 0;
}
