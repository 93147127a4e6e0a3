/*
 * rt_base.c - the runtime's base unit: the helpers every feature calls
 * and that call nothing back in the runtime, so that the features' files
 * depend on this one instead of on each other (api.c, pbuild.c, env.c and
 * self.c held them before).  Its clock reads are rtclock.c, a leaf too.
 *
 *   - the calling thread's runtime depth (rt_self_enter / rt_self_leave,
 *     self.c's first mark: see there);
 *   - the calling thread's last error (rt_set_error, cprof_last_error);
 *   - the growable output buffer (rt_buf_*) and writing it to a descriptor;
 *   - whether the process wants stacks at start (rt_wants_stacks).
 *
 * The depth and the last error are initial-exec TLS: each thread its own,
 * no lock.  The buffer belongs to its caller and allocates (never from a
 * signal handler).
 */
#include "rt_base.h"
#include "rt_env.h"
#include "cprof.h"
#include "cprof_core.h"
#include "cprof_util.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- inside the runtime ----------------------------------------------------------- */

__thread __attribute__((tls_model("initial-exec"))) int rt_self_depth_v;

/* [AS-safe]; each thread its own depth */
RT_EDGE_TEXT void rt_self_enter(void) { rt_self_depth_v++; }
RT_EDGE_TEXT void rt_self_leave(void) { rt_self_depth_v--; }

extern const char __start_cprof_edge[], __stop_cprof_edge[];

bool rt_edge_text(uintptr_t pc)
{
	return pc >= (uintptr_t)__start_cprof_edge && pc < (uintptr_t)__stop_cprof_edge;
}

/* ---- the last error ----------------------------------------------------------------- */

static __thread __attribute__((tls_model("initial-exec"))) char last_err[256];

void rt_set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_err, sizeof last_err, fmt, ap);
	va_end(ap);
}

void rt_clear_error(void)
{
	last_err[0] = 0;
}

const char *cprof_last_error(void)
{
	return last_err;
}

/* ---- output buffer ------------------------------------------------------------------ */

void rt_buf_add(rt_buf *b, const void *d, size_t n)
{
	if (b->oom || n == 0)
		return;
	size_t need = cprof_add_size(b->n, n);
	if (need == SIZE_MAX || cprof_reserve((void **)&b->p, &b->cap, need + 1, 1) < 0) {
		b->oom = true;
		return;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
	b->p[b->n] = 0;
}

void rt_buf_printf(rt_buf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n < sizeof small) {
		rt_buf_add(b, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rt_buf_add(b, big, (size_t)n);
	free(big);
}

void rt_buf_free(rt_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

int rt_write_all(int fd, const void *d, size_t n, const char *what)
{
	const char *p = d;
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rt_set_error("cannot write the %s profile: %s", what,
				     w < 0 ? strerror(errno) : "short write");
			return CPROF_ERR_IO;
		}
		done += (size_t)w;
	}
	return 0;
}

int rt_buf_write_fd(const rt_buf *b, int fd, const char *what)
{
	if (b->oom) {
		rt_set_error("cannot build the %s profile: out of memory", what);
		return CPROF_ERR_NOMEM;
	}
	return rt_write_all(fd, b->p, b->n, what);
}

/* ---- stacks wanted ------------------------------------------------------------------ */

/* Whether this process was asked for any profile or the endpoint: then
 * the unwinder's module registry (tens of ms of CPU: the unwind tables of
 * every loaded library) is worth building at start.  A process that was
 * not (the many programs a profiled command may start, with the preload
 * inherited) skips it, unless the runtime is linked into the program: its pthread_create records only the call site and
 * heap samples have no stack until a profile is started. */
/* dl_iterate_phdr: is addr in the first object (the main program)?
 * Returning 1 stops the walk after it. */
struct in_main { uintptr_t addr; bool found; };
static int in_main_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct in_main *m = data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && m->addr >= lo && m->addr < lo + ph->p_memsz)
			m->found = true;
	}
	return 1;
}

static bool wants_stacks_scan(void)
{
	extern char **environ;
	/* linked into the program (libcprof.a): the program chose the runtime */
	struct in_main m = { (uintptr_t)&wants_stacks_scan, false };
	dl_iterate_phdr(in_main_cb, &m);
	if (m.found)
		return true;
	/* under a sanitizer, pthread_create's caller is the sanitizer's
	 * interceptor: only a real unwind finds the program's frame */
	if (dlsym(RTLD_DEFAULT, "__asan_init") || dlsym(RTLD_DEFAULT, "__tsan_init"))
		return true;
	static const char *const also[] = { "CPROF_HTTP=", "CPROF_HEAP_RATE=", "CPROF_DUMP_SIGNAL=",
					    "CPROF_DUMP_DIR=", "CPROF_WATCH_HEAP=",
					    "CPROF_WATCH_THREADS=", "CPROF_TRACE=" };
	for (char **e = environ; e && *e; e++) {
		const char *v = *e;
		if (strncmp(v, "CPROF_", 6) != 0)
			continue;
		const char *eq = strchr(v, '=');
		if (!eq || !eq[1])
			continue;
		if (eq - v > 14 && strncmp(eq - 8, "_PROFILE", 8) == 0)
			return true;
		for (size_t i = 0; i < sizeof also / sizeof also[0]; i++)
			if (strncmp(v, also[i], strlen(also[i])) == 0)
				return true;
	}
	return false;
}

/* Decided once, from the environment the process started with (the
 * constructors call it, before the program can change its environment). */
bool rt_wants_stacks(void)
{
	static _Atomic int cached = -1;
	int v = atomic_load(&cached);
	if (v < 0) {
		v = wants_stacks_scan();
		atomic_store(&cached, v);
	}
	return v;
}

int rt_thread_sigqueue(pid_t pid, int tid, int sig, int value)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = pid;
	si.si_uid = getuid();
	si.si_value.sival_int = value;
	return (int)syscall(SYS_rt_tgsigqueueinfo, (long)pid, (long)tid, (long)sig, &si);
}
