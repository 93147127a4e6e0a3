/*
 * timeline_load.c - a trace file read and indexed at once
 * (cprof_timeline_load): the bytes are read() in chunks by a reader
 * thread into one buffer while the calling thread indexes what is in
 * (timeline.c's fed build), so that on two CPUs the kernel's copy of a
 * large trace and the index overlap instead of following each other.
 *
 * Design: the buffer is allocated once at the file's size (+1, to see a
 * file that grew).  The reader reads chunk after chunk and publishes how
 * many bytes are in (an atomic with release order; a mutex and condition
 * variable only to wake a waiting indexer); the indexer never reads past
 * that (cprof_tl_feed_wait, acquire order), so no byte is read while it
 * is written.  Once every byte is in, and not before (the end of the
 * file is checked: a file that changed size is read again as below), the
 * reader indexes the second half of what the indexer has left
 * (cprof_tl_half_run) and the indexer merges it when it gets there, as
 * the two halves of cprof_timeline_build are.  The result is the index
 * cprof_timeline_build makes of the same bytes, byte for byte.
 *
 * The bytes are read, not mapped: a trace rewritten or truncated while
 * it is served must not kill the command with SIGBUS.  When the file
 * changes size while it is read, or a read fails, what was built is
 * dropped and the file is read whole again, then indexed
 * (cprof_read_file: its errors are the ones reported).  A file that is not
 * regular, small, or one CPU: read whole, then indexed (tests can force
 * the fed build: cprof_tl_load).  The timeline records which of these
 * built it (cprof_tl_built), since all give the same index.
 *
 * Threads: the reader blocks every signal (they stay the caller's
 * threads'), shares only the feed and the buffer, and is joined before
 * cprof_timeline_load returns, whatever happens.  Thread-safe on
 * distinct calls; not async-signal-safe.
 */
#include "cprof_timeline.h"
#include "timeline_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1u << 20)            /* bytes per read() */
#define MARGIN (64u << 10)          /* bytes ahead of an event waited for */
#define STREAM_MIN (8u << 20)       /* below: read, then indexed */
#define FED_SPLIT_MIN (4u << 20)    /* below left when read: no second half */

size_t cprof_tl_feed_wait(cprof_tl_feed *f, size_t want)
{
	size_t n = atomic_load_explicit(&f->avail, memory_order_acquire);
	if (n >= want)
		return n;
	pthread_mutex_lock(&f->mu);
	if (want > f->want) {
		f->want = want;
		if (f->lazy)
			pthread_cond_broadcast(&f->cv);
	}
	while ((n = atomic_load_explicit(&f->avail, memory_order_acquire)) < want &&
	       atomic_load(&f->state) == TL_FEED_READING)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* The reader's source: a file, or (tests) bytes in memory. */
typedef struct src {
	cprof_tl_feed f;
	int fd;                         /* -1: mem */
	const char *mem;
	size_t memlen, memat;
	size_t chunk;
} src;

static void publish(cprof_tl_feed *f, size_t n, int state)
{
	pthread_mutex_lock(&f->mu);
	atomic_store_explicit(&f->avail, n, memory_order_release);
	if (state != TL_FEED_READING)
		atomic_store(&f->state, state);
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static ssize_t src_read(src *s, char *to, size_t n)
{
	if (s->fd >= 0)
		return read(s->fd, to, n);
	size_t k = s->memlen - s->memat < n ? s->memlen - s->memat : n;
	memcpy(to, s->mem + s->memat, k);
	s->memat += k;
	return (ssize_t)k;
}

/* The pages of to[0..n) made present and writable in one call
 * (MADV_POPULATE_WRITE, Linux 5.14) before read() copies into them,
 * instead of a page fault each inside its copy.  Best effort: refused
 * (an older kernel), read() faults them in as before.  The range is
 * widened to whole pages, which are the buffer's mapping's (a large
 * malloc is a mapping of its own) or, for a buffer in the heap, pages
 * of the heap: populating changes no byte. */
static void prefault(char *to, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	static _Atomic int refused;
	long pg = sysconf(_SC_PAGESIZE);
	if (n == 0 || pg <= 0 || atomic_load_explicit(&refused, memory_order_relaxed))
		return;
	uintptr_t m = (uintptr_t)pg - 1, a = (uintptr_t)to & ~m;
	uintptr_t z = ((uintptr_t)to + n + m) & ~m;
	if (madvise((void *)a, z - a, MADV_POPULATE_WRITE) != 0 && errno == EINVAL)
		atomic_store_explicit(&refused, 1, memory_order_relaxed);   /* not this kernel */
#else
	(void)to;
	(void)n;
#endif
}

/* The reader thread: every byte in order, then the second half. */
static void *reader_main(void *arg)
{
	src *s = arg;
	cprof_tl_feed *f = &s->f;
	size_t n = 0, cap = f->len + 1;   /* + 1: a byte more is a file that grew */
	int state = TL_FEED_DONE;
	while (n < cap) {
		if (f->lazy) {   /* the fewest bytes the index can do with */
			pthread_mutex_lock(&f->mu);
			while (f->want <= n && n < f->len)   /* at len: the end's check */
				pthread_cond_wait(&f->cv, &f->mu);
			pthread_mutex_unlock(&f->mu);
		}
		size_t want = cap - n < s->chunk ? cap - n : s->chunk;
		prefault(f->data + n, want);
		ssize_t r = src_read(s, f->data + n, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			state = TL_FEED_FAILED;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n < f->len)
			publish(f, n, TL_FEED_READING);
	}
	if (n != f->len)
		state = TL_FEED_FAILED;   /* changed size while read: read again */
	/* every byte, and only with the end checked: a complete build is
	 * one of the whole file */
	publish(f, state == TL_FEED_DONE ? n : atomic_load(&f->avail), state);
	if (state == TL_FEED_DONE)
		cprof_tl_half_run(f);
	return NULL;
}

/* Read and index through s (its f.len and f.data set): 0, < 0 with err,
 * or 1: not built (the reading failed or no thread), read again. */
static int load_fed(src *s, cprof_timeline **out, cprof_error *err)
{
	cprof_tl_feed *f = &s->f;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int made = pthread_create(&f->reader, NULL, reader_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	int rc = made == 0 ? cprof_tl_build_fed(f, out, err) : 1;
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	return rc;
}

static void opts_or_default(const cprof_tl_load_opts *o, src *s)
{
	s->chunk = o && o->chunk ? o->chunk : CHUNK;
	s->f.margin = o && o->margin ? o->margin : MARGIN;
	s->f.split_min = o && o->split_min ? o->split_min : FED_SPLIT_MIN;
	s->f.lazy = o && o->lazy;
}

int cprof_tl_load(const char *path, size_t max, bool fed,
		  void **data, size_t *len, cprof_timeline **out, cprof_error *err)
{
	*data = NULL;
	*len = 0;
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	bool tried = false;   /* the fed build, which failed reading */
	if (fd >= 0 && (fed || sysconf(_SC_NPROCESSORS_ONLN) > 1) && fstat(fd, &st) == 0 &&
	    S_ISREG(st.st_mode) && (fed || st.st_size >= (off_t)STREAM_MIN) &&
	    (uint64_t)st.st_size <= max && (uint64_t)st.st_size < SIZE_MAX) {
		src s = { .fd = fd };
		opts_or_default(NULL, &s);
		s.f.len = (size_t)st.st_size;
		s.f.data = malloc(s.f.len + 1);
		int rc = s.f.data ? load_fed(&s, out, err) : 1;
		close(fd);
		if (rc <= 0) {
			if (rc == 0) {
				*data = s.f.data;
				*len = s.f.len;
			} else {
				free(s.f.data);
			}
			return rc;
		}
		free(s.f.data);
		fd = -1;
		tried = true;
	}
	if (fd >= 0)
		close(fd);
	/* read whole, then indexed (the errors of each as they are) */
	void *d = NULL;
	size_t n = 0;
	int rc = cprof_read_file(path, max, &d, &n, err);
	if (rc < 0)
		return rc;
	rc = cprof_timeline_build(d, n, out, err);
	if (rc < 0) {
		free(d);
		return rc;
	}
	if (tried)
		cprof_tl_set_built(*out, CPROF_TL_BUILT_READ_AGAIN);
	*data = d;
	*len = n;
	return 0;
}

int cprof_timeline_load(const char *path, size_t max, void **data, size_t *len,
			cprof_timeline **out, cprof_error *err)
{
	return cprof_tl_load(path, max, false, data, len, out, err);
}

int cprof_timeline_load_mem(const char *mem, size_t memlen, size_t expect,
			    const cprof_tl_load_opts *o, void **data, cprof_timeline **out,
			    cprof_error *err)
{
	*data = NULL;
	*out = NULL;
	src s = { .fd = -1, .mem = mem, .memlen = memlen };
	opts_or_default(o, &s);
	s.f.len = expect;
	if (expect == SIZE_MAX || !(s.f.data = malloc(expect + 1)))
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory reading input");
	int rc = load_fed(&s, out, err);
	if (rc == 0) {
		*data = s.f.data;
		return 0;
	}
	free(s.f.data);
	if (rc < 0)
		return rc;
	/* read again whole: what the file path does */
	char *d = malloc(memlen ? memlen : 1);
	if (!d)
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory reading input");
	if (memlen)
		memcpy(d, mem, memlen);
	rc = cprof_timeline_build(d, memlen, out, err);
	if (rc < 0) {
		free(d);
		return rc;
	}
	cprof_tl_set_built(*out, CPROF_TL_BUILT_READ_AGAIN);
	*data = d;
	return 0;
}
