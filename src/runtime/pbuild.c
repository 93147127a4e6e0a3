/*
 * pbuild.c - what every profile of the runtime shares: turning stacks of
 * program counters into a symbolized profile, Go's debug=1 text frames,
 * encoding into an output buffer (rt_base.c's rt_buf), and unwinding the
 * calling thread's own stack.
 *
 * A builder (rt_pb) wraps a cprof_profile whose sample types the caller
 * set.  rt_pb_stack interns a stack of pcs (one location per distinct pc,
 * through an open-addressed pc -> location table) and returns the
 * profile's stack index, so the caller adds samples with its own values
 * and labels.  rt_pb_finish adds the mappings of the process (the main
 * executable first, as pprof expects; /proc/self/maps read now, plus any
 * the caller remembered with rt_pb_note_map, for libraries unloaded since),
 * gives every location its mapping, and symbolizes in the process with the
 * core's libdw symbolizer (functions, files, lines, inline frames),
 * demangled.  The symbolizer is kept for the life of the process (one,
 * under a mutex), so later profiles reuse the binaries it has read.
 *
 * All of it allocates and reads files: never from a signal handler.  The
 * calling thread is marked as inside the runtime (rt_self_enter) for the
 * whole build, so the heap profiler does not sample the runtime's own
 * allocations.
 */
#include "rt_base.h"
#include "rt_unwind.h"
#include "rt_labels.h"
#include "rt_profile.h"
#include "rt_env.h"
#include "cprof.h"
#include "cprof_core.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rt_pb_encode(const cprof_profile *p, rt_buf *out)
{
	void *buf = NULL;
	size_t len = 0;
	cprof_error err = { 0 };
	rt_self_enter();
	int rc = cprof_pb_encode(p, true, &buf, &len, &err);
	if (rc >= 0)
		rt_buf_add(out, buf, len);
	free(buf);
	rt_self_leave();
	return rc < 0 || out->oom ? CPROF_ERR_NOMEM : 0;
}

/* ---- the builder --------------------------------------------------------------------- */

typedef struct pb_map {
	uint64_t start, end, off;
	char *path;
} pb_map;

typedef struct pcloc {
	uintptr_t pc;
	uint32_t loc;
	bool used;
} pcloc;

struct rt_pb {
	cprof_profile *p;
	CPROF_VEC(pb_map) maps;
	pcloc *pl;
	size_t plcap, pln;
	CPROF_VEC(uint32_t) stk;
	bool oom;
};

void rt_pb_note_map(rt_pb *b, uint64_t start, uint64_t end, uint64_t off, const char *path)
{
	for (size_t i = 0; i < b->maps.n; i++) {
		const pb_map *m = &b->maps.v[i];
		if (m->start == start && m->end == end && m->off == off && strcmp(m->path, path) == 0)
			return;
	}
	if (cprof_reserve((void **)&b->maps.v, &b->maps.cap, b->maps.n + 1, sizeof(pb_map)) < 0) {
		b->oom = true;
		return;
	}
	char *d = strdup(path);
	if (!d) {
		b->oom = true;
		return;
	}
	b->maps.v[b->maps.n++] = (pb_map){ start, end, off, d };
}

int rt_read_exec_maps(void (*fn)(void *ctx, uint64_t start, uint64_t end, uint64_t off,
				 const char *path), void *ctx)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return CPROF_ERR_SYSTEM;
	char line[4096 + 128];
	while (fgets(line, sizeof line, f)) {
		rt_maps_line m;   /* procparse.c (fuzzed) */
		if (rt_parse_maps_line(line, strlen(line), &m) != 0 || m.perms[2] != 'x')
			continue;
		if (!m.path || m.plen == 0)
			continue;   /* anonymous (JIT) code: no module */
		char *path = (char *)m.path;
		path[m.plen] = 0;
		fn(ctx, m.start, m.end, m.off, path);
	}
	fclose(f);
	return 0;
}

static void note_cb(void *ctx, uint64_t s, uint64_t e, uint64_t off, const char *path)
{
	rt_pb_note_map(ctx, s, e, off, path);
}


int rt_pb_commentf(cprof_profile *p, const char *fmt, ...)
{
	char c[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c, sizeof c, fmt, ap);
	va_end(ap);
	cprof_str s = cprof_intern_cstr(p, c);
	return s == CPROF_NONE || cprof_add_comment(p, s) < 0 ? CPROF_ERR_NOMEM : 0;
}

int rt_pb_count_head(cprof_profile *p, const char *type)
{
	cprof_str t = cprof_intern_cstr(p, type), c = cprof_intern_cstr(p, "count");
	if (t == CPROF_NONE || c == CPROF_NONE || cprof_add_vtype(p, t, c) < 0)
		return CPROF_ERR_NOMEM;
	p->period_type = (cprof_vtype){ t, c };
	p->period = 1;
	p->time_nanos = rt_clock_ns(CLOCK_REALTIME);
	return 0;
}

rt_pb *rt_pb_new(cprof_profile *p)
{
	rt_self_enter();
	rt_pb *b = calloc(1, sizeof *b);
	if (!b) {
		rt_self_leave();
		return NULL;
	}
	b->p = p;
	rt_read_exec_maps(note_cb, b);
	return b;
}

void rt_pb_free(rt_pb *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->maps.n; i++)
		free(b->maps.v[i].path);
	free(b->maps.v);
	free(b->pl);
	free(b->stk.v);
	free(b);
	rt_self_leave();
}

static int pl_grow(rt_pb *b)
{
	size_t nc = b->plcap ? b->plcap * 2 : 1024;
	pcloc *n = calloc(nc, sizeof *n);
	if (!n)
		return CPROF_ENOMEM;
	for (size_t i = 0; i < b->plcap; i++) {
		if (!b->pl[i].used)
			continue;
		size_t j = cprof_hash_u64(b->pl[i].pc) & (nc - 1);
		while (n[j].used)
			j = (j + 1) & (nc - 1);
		n[j] = b->pl[i];
	}
	free(b->pl);
	b->pl = n;
	b->plcap = nc;
	return 0;
}

int64_t rt_pb_loc(rt_pb *b, uintptr_t pc)
{
	if ((b->pln + 1) * 2 > b->plcap && pl_grow(b) < 0)
		return CPROF_ENOMEM;
	size_t j = cprof_hash_u64(pc) & (b->plcap - 1);
	while (b->pl[j].used && b->pl[j].pc != pc)
		j = (j + 1) & (b->plcap - 1);
	if (!b->pl[j].used) {
		cprof_location loc = { 0 };
		loc.id = b->p->locations.n + 1;
		loc.address = pc;
		loc.mapping = CPROF_NONE;   /* given at finish */
		int64_t li = cprof_add_location(b->p, &loc, NULL, 0);
		if (li < 0)
			return li;
		b->pl[j] = (pcloc){ pc, (uint32_t)li, true };
		b->pln++;
	}
	return b->pl[j].loc;
}

int64_t rt_pb_stack(rt_pb *b, const uintptr_t *pcs, size_t n)
{
	if (cprof_reserve((void **)&b->stk.v, &b->stk.cap, n + 1, sizeof(uint32_t)) < 0)
		return CPROF_ENOMEM;
	for (size_t f = 0; f < n; f++) {
		int64_t li = rt_pb_loc(b, pcs[f]);
		if (li < 0)
			return li;
		b->stk.v[f] = (uint32_t)li;
	}
	return cprof_intern_stack(b->p, b->stk.v, n);
}

int64_t rt_pb_pseudo(rt_pb *b, const char *name)
{
	cprof_profile *p = b->p;
	cprof_function fn = { 0 };
	fn.id = p->functions.n + 1;
	fn.name = fn.system_name = cprof_intern_cstr(p, name);
	int64_t fi = cprof_add_function(p, &fn);
	if (fi < 0 || fn.name == CPROF_NONE)
		return CPROF_ENOMEM;
	cprof_line ln = { (uint32_t)fi, 0, 0 };
	cprof_location loc = { 0 };
	loc.id = p->locations.n + 1;
	loc.mapping = CPROF_NONE;
	int64_t li = cprof_add_location(p, &loc, &ln, 1);
	if (li < 0)
		return li;
	uint32_t l32 = (uint32_t)li;
	return cprof_intern_stack(p, &l32, 1);
}

/* One symbolizer for the process, kept between profiles: it holds the
 * binaries' DWARF (decompressed once) and per-unit indexes, so a profile
 * served every few seconds does not parse libc's debug info every time.
 * A forked child starts with none (the parent's may be mid-use). */
static pthread_mutex_t sym_mu = PTHREAD_MUTEX_INITIALIZER;
static cprof_symbolizer *sym_cached;
static pthread_once_t sym_once = PTHREAD_ONCE_INIT;

static __attribute__((used)) cprof_symbolizer *sym_forgotten;   /* reachable: no leak report */

static void sym_fork_child(void)
{
	/* the parent may have been symbolizing: its state is dropped (leaked)
	 * and the lock made anew, so fork never waits for a symbolization */
	pthread_mutex_init(&sym_mu, NULL);
	sym_forgotten = sym_cached;
	sym_cached = NULL;
}

static void sym_init(void)
{
	pthread_atfork(NULL, NULL, sym_fork_child);
}

int64_t rt_pb_labels(rt_pb *b, uint32_t lset, const cprof_label *extra, size_t nextra)
{
	cprof_profile *p = b->p;
	const rt_lset *s = rt_labels_get(lset);
	size_t n = (s ? s->n : 0) + nextra;
	if (n == 0)
		return 0;
	cprof_label small[16];
	cprof_label *l = n <= 16 ? small : malloc(n * sizeof *l);
	if (!l)
		return CPROF_ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < nextra; i++)
		l[k++] = extra[i];
	if (s)
		for (uint32_t i = 0; i < s->n; i++) {
			cprof_label x = { 0 };
			x.key = cprof_intern_cstr(p, s->kv[2 * i]);
			x.str = cprof_intern_cstr(p, s->kv[2 * i + 1]);
			if (x.key == CPROF_NONE || x.str == CPROF_NONE) {
				if (l != small)
					free(l);
				return CPROF_ENOMEM;
			}
			if (!x.str)
				continue;   /* an empty value: Go drops it too */
			l[k++] = x;
		}
	int64_t r = cprof_intern_labels(p, l, k);
	if (l != small)
		free(l);
	return r;
}

static void quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

int rt_pb_finish(rt_pb *b)
{
	cprof_profile *p = b->p;
	if (b->oom)
		return CPROF_ENOMEM;
	char exe[PATH_MAX] = "";
	ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[el > 0 ? el : 0] = 0;
	uint32_t *mapidx = calloc(b->maps.n + 1, sizeof *mapidx);
	if (!mapidx)
		return CPROF_ENOMEM;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < b->maps.n; i++) {
			const pb_map *m = &b->maps.v[i];
			bool is_exe = exe[0] && strcmp(m->path, exe) == 0;
			if ((pass == 0) != is_exe)
				continue;
			char bid[128] = "";
			if (m->path[0] == '/' && cprof_elf_build_id(m->path, bid, sizeof bid, NULL) != 1)
				bid[0] = 0;
			cprof_mapping mp = { 0 };
			mp.id = p->mappings.n + 1;
			mp.start = m->start;
			mp.limit = m->end;
			mp.offset = m->off;
			mp.file = cprof_intern_cstr(p, m->path);
			mp.build_id = cprof_intern_cstr(p, bid);
			int64_t mi = cprof_add_mapping(p, &mp);
			if (mi < 0) {
				free(mapidx);
				return CPROF_ENOMEM;
			}
			mapidx[i] = (uint32_t)mi;
		}
	for (size_t k = 0; k < p->locations.n; k++) {
		cprof_location *l = &p->locations.v[k];
		if (l->mapping != CPROF_NONE || l->nline > 0)
			continue;   /* pseudo frames keep no mapping */
		for (size_t i = b->maps.n; i-- > 0;)
			if (l->address >= b->maps.v[i].start && l->address < b->maps.v[i].end) {
				l->mapping = mapidx[i];
				break;
			}
	}
	free(mapidx);
	cprof_symopts so = { 0 };
	so.warn = quiet;
	pthread_once(&sym_once, sym_init);
	pthread_mutex_lock(&sym_mu);
	if (!sym_cached)
		sym_cached = cprof_symbolizer_new();
	int64_t sr = sym_cached ? cprof_symbolizer_run(sym_cached, p, &so, NULL) : CPROF_ENOMEM;
	pthread_mutex_unlock(&sym_mu);
	if (sr < 0)
		return CPROF_ENOMEM;
	if (cprof_demangle_profile(p, CPROF_DEMANGLE_DEFAULT, false) < 0)
		return CPROF_ENOMEM;
	return 0;
}

/* ---- Go's debug=1 text ------------------------------------------------------------------- */

void rt_text_addrs(rt_buf *out, const cprof_profile *p, uint32_t stack)
{
	size_t n = cprof_stack_len(p, stack);
	const uint32_t *locs = cprof_stack_locs(p, stack);
	for (size_t i = 0; i < n; i++)
		rt_buf_printf(out, " %#llx", (unsigned long long)p->locations.v[locs[i]].address);
}

void rt_text_frames(rt_buf *out, const cprof_profile *p, uint32_t stack)
{
	size_t n = cprof_stack_len(p, stack);
	const uint32_t *locs = cprof_stack_locs(p, stack);
	for (size_t i = 0; i < n; i++) {
		const cprof_location *l = &p->locations.v[locs[i]];
		if (l->nline == 0) {
			rt_buf_printf(out, "#\t%#llx\n", (unsigned long long)l->address);
			continue;
		}
		/* inline frames first (innermost), as Go prints them */
		for (uint32_t k = 0; k < l->nline; k++) {
			const cprof_line *ln = &p->lines.v[l->line_off + k];
			const cprof_function *fn = &p->functions.v[ln->function];
			rt_buf_printf(out, "#\t%#llx\t%s\t%s:%lld\n", (unsigned long long)l->address,
				      cprof_s(p, fn->name), cprof_s(p, fn->filename), (long long)ln->line);
		}
	}
}

/* ---- the calling thread's stack ----------------------------------------------------------- */

__attribute__((noinline))
int rt_unwind_here(uintptr_t *pcs, int max, int skip)
{
	ucontext_t uc;
	uintptr_t pc, sp, fp;
	/* one asm statement: pc, sp and fp describe the same instant */
	__asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"
			 : "=r"(pc), "=r"(sp), "=r"(fp));
	uc.uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
	uc.uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
	uc.uc_mcontext.gregs[REG_RBP] = (greg_t)fp;
	uintptr_t tmp[RT_MAX_FRAMES];
	bool trunc = false;
	int want = max + skip + 1;
	if (want > RT_MAX_FRAMES)
		want = RT_MAX_FRAMES;
	/* a lazy registry: a walk that reached a module without its table
	 * keeps what it has and asks the runtime's builder thread for it
	 * (never built here: this runs inside the program's malloc, locks
	 * and thread starts).  The walk is the runtime's own work: a CPU
	 * sample landing in it is counted apart, never charged to the
	 * program's stack (on-demand unwind rows make it longer than a
	 * table lookup) */
	rt_self_enter();
	int n = rt_unwind_cached(&uc, tmp, want, &trunc);
	rt_self_leave();
	uintptr_t at = rt_unwind_unbuilt();
	if (at)
		rt_modules_ask(at);
	int first = skip + 1;   /* frame 0 is this function */
	if (n <= first)
		return 0;
	int k = n - first;
	if (k > max)
		k = max;
	memcpy(pcs, tmp + first, (size_t)k * sizeof *pcs);
	return k;
}
