/*
 * failalloc.c - allocation-failure injection for the unit tests, as SQLite's
 * and curl's torture tests do it, without touching production code paths.
 *
 * A test binary is linked with -Wl,--wrap=malloc,--wrap=calloc,... and this
 * file: every call to those functions from the objects on its link line
 * (the test, libcprofcore.a, libcprofreport.a, libcprof.a) reaches
 * __wrap_NAME here, which counts it and either fails it (NULL, errno
 * ENOMEM) or passes it to the real function (__real_NAME).  Calls made
 * inside shared libraries (libc's own fopen, zlib's inflate state, libdw)
 * are not wrapped: they are not the code under test.
 *
 *   failalloc_arm(n, sticky)   fail the nth allocation from now (and, when
 *                              sticky, every one after it);
 *   CPROF_FAIL_ALLOC=N[+]      the same from the environment, at the first
 *                              allocation (N+ is sticky), for running any
 *                              linked test binary by hand.
 *
 * Leaks: the wrappers keep the set of blocks they handed out (an open
 * addressing table of pointers, allocated with the real malloc, with a
 * fixed ceiling; past it blocks are simply not tracked), so a driver can
 * check that a call that failed freed everything it had allocated
 * (failalloc_live before and after).  free() of a block the wrappers did
 * not hand out (libc's getline, open_memstream buffers) is passed through
 * untracked.
 *
 * Threads: only the thread that armed the shim (failalloc_arm, or the
 * first to allocate when armed from the environment) is counted, failed
 * and tracked; every other thread's calls (the runtime's background
 * threads, when libcprof.a is linked in) go straight to the real
 * functions, so the counts are deterministic and the unsynchronized state
 * here is only ever touched by one thread.
 */
#include "failalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t sz);
void *__real_realloc(void *p, size_t n);
void *__real_reallocarray(void *p, size_t n, size_t sz);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void __real_free(void *p);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t sz);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_reallocarray(void *p, size_t n, size_t sz);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void __wrap_free(void *p);

static unsigned long fail_at, calls, failed;
static bool sticky, env_read;
static pthread_t owner;
static _Atomic bool owned;

/* Before any arming, the first thread to allocate (the main thread, in the
 * loader, before the program can start another) is the one counted. */
static void claim(void)
{
	owner = pthread_self();
	owned = true;
}

/* Is the caller the thread this shim counts? */
static bool mine(void)
{
	return owned && pthread_equal(pthread_self(), owner);
}

/* ---- the live-block set ------------------------------------------------- */

#define LIVE_BITS 20                    /* 1M slots: the ceiling */
#define LIVE_CAP ((size_t)1 << LIVE_BITS)
#define TOMB ((uintptr_t)1)
static uintptr_t *live_tab;
static size_t live_n;

static size_t slot_of(uintptr_t p)
{
	return (size_t)((p >> 4) * 0x9e3779b97f4a7c15ull >> (64 - LIVE_BITS));
}

static void live_add(void *p)
{
	if (!p)
		return;
	if (!live_tab) {
		live_tab = __real_calloc(LIVE_CAP, sizeof *live_tab);
		if (!live_tab)
			return;
	}
	if (live_n >= LIVE_CAP / 2)
		return;                 /* past the ceiling: untracked */
	size_t i = slot_of((uintptr_t)p);
	while (live_tab[i] && live_tab[i] != TOMB)
		i = (i + 1) & (LIVE_CAP - 1);
	live_tab[i] = (uintptr_t)p;
	live_n++;
}

static void live_del(void *p)
{
	if (!p || !live_tab)
		return;
	size_t i = slot_of((uintptr_t)p);
	while (live_tab[i]) {
		if (live_tab[i] == (uintptr_t)p) {
			live_tab[i] = TOMB;
			live_n--;
			return;
		}
		i = (i + 1) & (LIVE_CAP - 1);
	}
}

size_t failalloc_live(void)
{
	return live_n;
}

/* ---- arming --------------------------------------------------------------- */

void failalloc_arm(unsigned long n, bool st)
{
	owner = pthread_self();
	owned = true;
	env_read = true;
	fail_at = n;
	sticky = st;
	calls = 0;
	failed = 0;
}

void failalloc_disarm(void)
{
	fail_at = 0;
	sticky = false;
}

unsigned long failalloc_failed(void)
{
	return failed;
}

/* Should this allocation fail?  Counts it (the caller is mine()). */
static bool fail_now(void)
{
	if (!env_read) {
		env_read = true;
		const char *v = getenv("CPROF_FAIL_ALLOC");
		if (v && *v) {
			char *end;
			unsigned long n = strtoul(v, &end, 10);
			if (n > 0 && (*end == 0 || (end[0] == '+' && end[1] == 0)))
				failalloc_arm(n, *end == '+');
		}
	}
	calls++;
	if (fail_at && (calls == fail_at || (sticky && calls > fail_at))) {
		failed++;
		errno = ENOMEM;
		return true;
	}
	return false;
}

/* ---- the wrappers ---------------------------------------------------------- */

void *__wrap_malloc(size_t n)
{
	if (!owned)
		claim();
	if (!mine())
		return __real_malloc(n);
	if (fail_now())
		return NULL;
	void *p = __real_malloc(n);
	live_add(p);
	return p;
}

void *__wrap_calloc(size_t n, size_t sz)
{
	if (!owned)
		claim();
	if (!mine())
		return __real_calloc(n, sz);
	if (fail_now())
		return NULL;
	void *p = __real_calloc(n, sz);
	live_add(p);
	return p;
}

void *__wrap_realloc(void *p, size_t n)
{
	if (!mine())
		return __real_realloc(p, n);
	if (fail_now())
		return NULL;            /* p stays valid, as realloc's failure leaves it */
	void *q = __real_realloc(p, n);
	if (q || n == 0) {
		live_del(p);
		live_add(q);
	}
	return q;
}

void *__wrap_reallocarray(void *p, size_t n, size_t sz)
{
	if (!mine())
		return __real_reallocarray(p, n, sz);
	if (fail_now())
		return NULL;
	void *q = __real_reallocarray(p, n, sz);
	if (q) {
		live_del(p);
		live_add(q);
	}
	return q;
}

char *__wrap_strdup(const char *s)
{
	if (!owned)
		claim();
	if (!mine())
		return __real_strdup(s);
	if (fail_now())
		return NULL;
	char *p = __real_strdup(s);
	live_add(p);
	return p;
}

char *__wrap_strndup(const char *s, size_t n)
{
	if (!owned)
		claim();
	if (!mine())
		return __real_strndup(s, n);
	if (fail_now())
		return NULL;
	char *p = __real_strndup(s, n);
	live_add(p);
	return p;
}

void __wrap_free(void *p)
{
	if (mine())
		live_del(p);
	__real_free(p);
}
