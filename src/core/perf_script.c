/*
 * perf_script.c - the text of `perf script` turned into a profile, so that
 * perf.data recordings get every cprof report.
 *
 * The command (src/cli/perf.c) runs perf script with a fixed field list
 * (comm,pid,tid,period,event,ip,sym,dso, names not demangled), which prints
 * each sample as a header line followed by its callchain, leaf first, one
 * frame per indented line, and a blank line:
 *
 *     hot 25689/25689     250000 cpu-clock:
 *             1139 hot_spin (/tmp/hot)
 *             1187 main (/tmp/hot)
 *
 * A recording without callchains puts the one frame on the header line,
 * after the event, and right-aligns the command name.  The header is recognised by its shape from the right
 * of the command name (which may hold spaces): "PID/TID PERIOD EVENT:".  A
 * frame is "ADDR SYMBOL (DSO)"; the DSO is the last parenthesised group, so
 * symbols may hold spaces and parentheses.
 *
 * The profile: value types samples/count and, per distinct event in order
 * of appearance, EVENT/UNIT holding the period (nanoseconds for the clock
 * events, else count); each sample is 1 in the first column and its period
 * in its event's column.  One mapping per DSO (its path as the file; no
 * address range, as perf script prints DSO-relative addresses for shared
 * objects), one function per (symbol, DSO), one location per (DSO, address,
 * symbol).  "[unknown]" symbols give locations without lines, so a later
 * local symbolization may name them; the frames perf writes as address 0 of
 * "[unknown]" (the end of a broken user stack) are dropped.  Samples carry
 * the labels comm (string), pid and tid (numbers).
 *
 * Two passes: the first only finds the events (the value columns must be
 * known before the first sample is added), the second builds the profile.
 * Locations and functions are found again through small open-addressed
 * hash tables; everything grows through cp_reserve, stacks are capped at
 * PERF_MAX_FRAMES and events at PERF_MAX_EVENTS, so hostile text costs
 * memory in proportion to its size.
 */
#include "core_int.h"

#define WHAT "perf script output"
#define PERF_MAX_EVENTS 64
#define PERF_MAX_FRAMES 65536

typedef struct span {
	const char *s;
	size_t n;
} span;

/* A key -> index hash table (keys are hashed by the caller). */
typedef struct ptab {
	uint64_t *hv;               /* hash of the slot's element */
	uint32_t *ix;               /* element + 1; 0 = empty */
	size_t cap, n;
} ptab;

typedef struct lockey {
	uint32_t mapping, function;     /* function CPROF_NONE: no symbol */
	uint64_t addr;
} lockey;

typedef struct pstate {
	cprof_profile *p;
	const char *pos, *end;
	size_t lineno;
	span events[PERF_MAX_EVENTS];
	size_t nevents;
	ptab maps, funcs, locs;
	CPROF_VEC(lockey) lockeys;      /* by location index */
	CPROF_VEC(cprof_str) fn_dso;    /* function index -> its dso's string */
	CPROF_VEC(uint32_t) stk;
	cprof_error *err;
	span first_comm;                /* the first sample's command name */
} pstate;

static bool is_sp(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
static bool is_dig(int c) { return c >= '0' && c <= '9'; }

static void trim(span *t)
{
	while (t->n && is_sp((unsigned char)t->s[0]))
		t->s++, t->n--;
	while (t->n && is_sp((unsigned char)t->s[t->n - 1]))
		t->n--;
}

static bool span_eq(span a, const char *b)
{
	size_t n = strlen(b);
	return a.n == n && memcmp(a.s, b, n) == 0;
}

/* The next line (without its '\n'); false at the end. */
static bool next_line(pstate *st, span *l)
{
	if (st->pos >= st->end)
		return false;
	const char *nl = memchr(st->pos, '\n', (size_t)(st->end - st->pos));
	l->s = st->pos;
	l->n = nl ? (size_t)(nl - st->pos) : (size_t)(st->end - st->pos);
	st->pos = nl ? nl + 1 : st->end;
	st->lineno++;
	return true;
}

/* ---- hash tables ------------------------------------------------------------ */

static void ptab_free(ptab *t)
{
	free(t->hv);
	free(t->ix);
	memset(t, 0, sizeof *t);
}

static int ptab_grow(ptab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 256;
	if (ncap > SIZE_MAX / sizeof(uint64_t))
		return CPROF_ENOMEM;
	uint64_t *hv = calloc(ncap, sizeof *hv);
	uint32_t *ix = calloc(ncap, sizeof *ix);
	if (!hv || !ix) {
		free(hv);
		free(ix);
		return CPROF_ENOMEM;
	}
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->ix[i])
			continue;
		size_t j = (size_t)t->hv[i] & (ncap - 1);
		while (ix[j])
			j = (j + 1) & (ncap - 1);
		hv[j] = t->hv[i];
		ix[j] = t->ix[i];
	}
	free(t->hv);
	free(t->ix);
	t->hv = hv;
	t->ix = ix;
	t->cap = ncap;
	return 0;
}

/* The slot for hash h where eq(ctx, element) holds, or the empty slot to
 * fill.  Grows first when half full. */
static int64_t ptab_find(ptab *t, uint64_t h, bool (*eq)(const void *, uint32_t), const void *ctx)
{
	if ((t->n + 1) * 2 > t->cap && ptab_grow(t) < 0)
		return CPROF_ENOMEM;
	size_t j = (size_t)h & (t->cap - 1);
	while (t->ix[j]) {
		if (t->hv[j] == h && eq(ctx, t->ix[j] - 1))
			return (int64_t)j;
		j = (j + 1) & (t->cap - 1);
	}
	return (int64_t)j;
}

static void ptab_set(ptab *t, size_t slot, uint64_t h, uint32_t el)
{
	t->hv[slot] = h;
	t->ix[slot] = el + 1;
	t->n++;
}

/* ---- parsing ---------------------------------------------------------------- */

typedef struct frame {
	uint64_t addr;
	span sym, dso;
} frame;

/* "ADDR SYMBOL (DSO)". */
static bool parse_frame(span l, frame *f)
{
	trim(&l);
	size_t i = 0;
	uint64_t a = 0;
	int nd = 0;
	for (; i < l.n && !is_sp((unsigned char)l.s[i]); i++, nd++) {
		int c = (unsigned char)l.s[i], v;
		if (is_dig(c))
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return false;
		if (a >> 60)
			return false;           /* more than 64 bits */
		a = a << 4 | (uint64_t)v;
	}
	if (nd == 0)
		return false;
	span rest = { l.s + i, l.n - i };
	trim(&rest);
	f->addr = a;
	f->dso = (span){ "[unknown]", 9 };
	f->sym = rest;
	if (rest.n >= 2 && rest.s[rest.n - 1] == ')') {
		/* the last " (" opens the DSO; a bare "(DSO)" when there is no symbol */
		size_t k = rest.n - 1;
		while (k > 0 && !(rest.s[k] == '(' && (k == 0 || is_sp((unsigned char)rest.s[k - 1]))))
			k--;
		if (rest.s[k] == '(' && (k == 0 || is_sp((unsigned char)rest.s[k - 1]))) {
			f->dso = (span){ rest.s + k + 1, rest.n - k - 2 };
			f->sym = (span){ rest.s, k };
			trim(&f->sym);
		}
	}
	if (f->sym.n == 0)
		f->sym = (span){ "[unknown]", 9 };
	return true;
}

typedef struct header {
	span comm, event, rest;
	int64_t pid, tid, period;
} header;

static bool parse_int(span t, int64_t *v)
{
	if (t.n == 0 || t.n > 18)
		return false;
	int64_t r = 0;
	for (size_t i = 0; i < t.n; i++) {
		if (!is_dig((unsigned char)t.s[i]))
			return false;
		r = r * 10 + (t.s[i] - '0');
	}
	*v = r;
	return true;
}

/* "COMM PID/TID PERIOD EVENT: [FRAME]" */
static bool parse_header(span l, header *h)
{
	/* tokens, up to the first that ends with ':' after "PID/TID PERIOD" */
	span tok[3] = { { 0 } };        /* the last three tokens seen */
	size_t i = 0, ntok = 0;
	while (i < l.n) {
		while (i < l.n && is_sp((unsigned char)l.s[i]))
			i++;
		if (i >= l.n)
			break;
		size_t b = i;
		while (i < l.n && !is_sp((unsigned char)l.s[i]))
			i++;
		tok[0] = tok[1];
		tok[1] = tok[2];
		tok[2] = (span){ l.s + b, i - b };
		ntok++;
		if (ntok < 3 || tok[2].s[tok[2].n - 1] != ':' || tok[2].n < 2)
			continue;
		const char *slash = memchr(tok[0].s, '/', tok[0].n);
		if (!slash)
			continue;
		span pid = { tok[0].s, (size_t)(slash - tok[0].s) };
		span tid = { slash + 1, tok[0].n - pid.n - 1 };
		if (!parse_int(pid, &h->pid) || !parse_int(tid, &h->tid) || !parse_int(tok[1], &h->period))
			continue;
		h->comm = (span){ l.s, (size_t)(tok[0].s - l.s) };
		trim(&h->comm);
		h->event = (span){ tok[2].s, tok[2].n - 1 };
		h->rest = (span){ l.s + i, l.n - i };
		trim(&h->rest);
		return true;
	}
	return false;
}

/* ---- building ----------------------------------------------------------------- */

typedef struct mapctx {
	pstate *st;
	span dso;
} mapctx;

static bool map_eq(const void *ctx, uint32_t el)
{
	const mapctx *c = ctx;
	const cprof_profile *p = c->st->p;
	cprof_str f = p->mappings.v[el].file;
	return cprof_slen(p, f) == c->dso.n && memcmp(cprof_s(p, f), c->dso.s, c->dso.n) == 0;
}

static int64_t get_mapping(pstate *st, span dso)
{
	uint64_t h = cp_hash_bytes(dso.s, dso.n, 1);
	mapctx c = { st, dso };
	int64_t slot = ptab_find(&st->maps, h, map_eq, &c);
	if (slot < 0)
		return slot;
	if (st->maps.ix[slot])
		return st->maps.ix[slot] - 1;
	cprof_mapping m = { .id = st->p->mappings.n + 1 };
	if ((m.file = cprof_intern(st->p, dso.s, dso.n)) == CPROF_NONE)
		return CPROF_ENOMEM;
	m.has_functions = true;
	int64_t mi = cprof_add_mapping(st->p, &m);
	if (mi < 0)
		return mi;
	ptab_set(&st->maps, (size_t)slot, h, (uint32_t)mi);
	return mi;
}

typedef struct fnctx {
	pstate *st;
	cprof_str name, dso;
} fnctx;

static bool fn_eq(const void *ctx, uint32_t el)
{
	const fnctx *c = ctx;
	return c->st->p->functions.v[el].name == c->name && c->st->fn_dso.v[el] == c->dso;
}

static int64_t get_function(pstate *st, span sym, cprof_str dso)
{
	cprof_str name = cprof_intern(st->p, sym.s, sym.n);
	if (name == CPROF_NONE)
		return CPROF_ENOMEM;
	uint64_t h = cp_hash_u64((uint64_t)name << 32 | dso);
	fnctx c = { st, name, dso };
	int64_t slot = ptab_find(&st->funcs, h, fn_eq, &c);
	if (slot < 0)
		return slot;
	if (st->funcs.ix[slot])
		return st->funcs.ix[slot] - 1;
	cprof_function f = { .id = st->p->functions.n + 1, .name = name, .system_name = name };
	int64_t fi = cprof_add_function(st->p, &f);
	if (fi < 0 || CP_PUSH(st->fn_dso, dso) < 0)
		return CPROF_ENOMEM;
	ptab_set(&st->funcs, (size_t)slot, h, (uint32_t)fi);
	return fi;
}

typedef struct locctx {
	pstate *st;
	lockey k;
} locctx;

static bool loc_eq(const void *ctx, uint32_t el)
{
	const locctx *c = ctx;
	const lockey *k = &c->st->lockeys.v[el];
	return k->mapping == c->k.mapping && k->function == c->k.function && k->addr == c->k.addr;
}

static int64_t get_location(pstate *st, const frame *f)
{
	int64_t mi = get_mapping(st, f->dso);
	if (mi < 0)
		return mi;
	lockey k = { (uint32_t)mi, CPROF_NONE, f->addr };
	bool known = !span_eq(f->sym, "[unknown]");
	if (known) {
		int64_t fi = get_function(st, f->sym, st->p->mappings.v[mi].file);
		if (fi < 0)
			return fi;
		k.function = (uint32_t)fi;
	} else {
		st->p->mappings.v[mi].has_functions = false;
	}
	uint64_t h = cp_hash_u64(k.addr ^ cp_hash_u64((uint64_t)k.mapping << 32 | k.function));
	locctx c = { st, k };
	int64_t slot = ptab_find(&st->locs, h, loc_eq, &c);
	if (slot < 0)
		return slot;
	if (st->locs.ix[slot])
		return st->locs.ix[slot] - 1;
	cprof_location loc = { .id = st->p->locations.n + 1, .address = f->addr, .mapping = (uint32_t)mi };
	cprof_line ln = { .function = k.function };
	int64_t li = cprof_add_location(st->p, &loc, &ln, known ? 1 : 0);
	if (li < 0 || CP_PUSH(st->lockeys, k) < 0)
		return CPROF_ENOMEM;
	ptab_set(&st->locs, (size_t)slot, h, (uint32_t)li);
	return li;
}

static int add_frame(pstate *st, span l)
{
	frame f;
	if (!parse_frame(l, &f))
		return cprof_seterr(st->err, CPROF_EFORMAT, WHAT ": line %zu: not a callchain frame", st->lineno);
	if (f.addr == 0 && span_eq(f.sym, "[unknown]"))
		return 0;
	if (st->stk.n >= PERF_MAX_FRAMES)
		return cprof_seterr(st->err, CPROF_ELIMIT, WHAT ": line %zu: callchain deeper than %d frames",
				    st->lineno, PERF_MAX_FRAMES);
	int64_t li = get_location(st, &f);
	if (li < 0)
		return cprof_seterr(st->err, (int)li, "%s", cprof_strerror((int)li));
	if (CP_PUSH(st->stk, (uint32_t)li) < 0)
		return cprof_seterr(st->err, CPROF_ENOMEM, "out of memory");
	return 0;
}

static int event_index(pstate *st, span ev)
{
	for (size_t i = 0; i < st->nevents; i++)
		if (st->events[i].n == ev.n && memcmp(st->events[i].s, ev.s, ev.n) == 0)
			return (int)i;
	return -1;
}

static bool is_clock_event(span ev)
{
	return span_eq(ev, "cpu-clock") || span_eq(ev, "task-clock") ||
	       (ev.n > 10 && memcmp(ev.s, "cpu-clock:", 10) == 0) ||
	       (ev.n > 11 && memcmp(ev.s, "task-clock:", 11) == 0);
}

/* Finish the sample whose header is h (its frames are in st->stk). */
static int add_sample(pstate *st, const header *h)
{
	cprof_profile *p = st->p;
	int64_t sk = cprof_intern_stack(p, st->stk.v, st->stk.n);
	if (sk < 0)
		return cprof_seterr(st->err, (int)sk, "%s", cprof_strerror((int)sk));
	cprof_label lb[3] = { { 0 } };
	lb[0].key = cprof_intern_cstr(p, "comm");
	lb[0].str = cprof_intern(p, h->comm.s, h->comm.n);
	lb[1].key = cprof_intern_cstr(p, "pid");
	lb[1].num = h->pid;
	lb[2].key = cprof_intern_cstr(p, "tid");
	lb[2].num = h->tid;
	if (lb[0].key == CPROF_NONE || lb[0].str == CPROF_NONE || lb[1].key == CPROF_NONE ||
	    lb[2].key == CPROF_NONE)
		return cprof_seterr(st->err, CPROF_ENOMEM, "out of memory");
	/* an empty comm makes no string label */
	size_t nlb = 3;
	cprof_label *lp = lb;
	if (lb[0].str == 0)
		lp++, nlb--;
	int64_t ls = cprof_intern_labels(p, lp, nlb);
	if (ls < 0)
		return cprof_seterr(st->err, (int)ls, "%s", cprof_strerror((int)ls));
	int64_t v[1 + PERF_MAX_EVENTS] = { 0 };
	v[0] = 1;
	int e = event_index(st, h->event);
	if (e >= 0)
		v[1 + e] = h->period;
	int64_t r = cprof_add_sample(p, (uint32_t)sk, (uint32_t)ls, v);
	if (r < 0)
		return cprof_seterr(st->err, (int)r, "%s", cprof_strerror((int)r));
	st->stk.n = 0;
	return 0;
}

/* pprof takes the first mapping for the main binary ("File:" in reports):
 * put first the DSO named like the command (perf keeps 15 characters of
 * it), else the first DSO that is not a pseudo one ("[kernel.kallsyms]"). */
static void main_mapping_first(cprof_profile *p, span comm)
{
	size_t best = SIZE_MAX, fallback = SIZE_MAX;
	for (size_t i = 0; i < p->mappings.n; i++) {
		const char *f = cprof_s(p, p->mappings.v[i].file);
		const char *b = strrchr(f, '/');
		b = b ? b + 1 : f;
		if (b[0] == '[')
			continue;
		if (fallback == SIZE_MAX)
			fallback = i;
		if (comm.n && strncmp(b, comm.s, comm.n) == 0 && (comm.n >= 15 || b[comm.n] == 0)) {
			best = i;
			break;
		}
	}
	if (best == SIZE_MAX)
		best = fallback;
	if (best == SIZE_MAX || best == 0)
		return;
	cprof_mapping t = p->mappings.v[0];
	p->mappings.v[0] = p->mappings.v[best];
	p->mappings.v[best] = t;
	p->mappings.v[0].id = 1;
	p->mappings.v[best].id = best + 1;
	for (size_t i = 0; i < p->locations.n; i++) {
		uint32_t *m = &p->locations.v[i].mapping;
		if (*m == 0)
			*m = (uint32_t)best;
		else if (*m == best)
			*m = 0;
	}
}

static void pstate_free(pstate *st)
{
	ptab_free(&st->maps);
	ptab_free(&st->funcs);
	ptab_free(&st->locs);
	CP_FREE(st->lockeys);
	CP_FREE(st->fn_dso);
	CP_FREE(st->stk);
}

int cprof_perf_script_decode(const void *text, size_t len, cprof_profile **out, cprof_error *err)
{
	if (!out)
		return cprof_seterr(err, CPROF_EINVAL, "no place for the result");
	*out = NULL;
	if (len > 0 && !text)
		return cprof_seterr(err, CPROF_EINVAL, "no input");
	pstate st = { .pos = text, .end = (const char *)text + len, .err = err };
	span l;
	header h;
	size_t nheaders = 0;
	/* pass 1: the events */
	while (next_line(&st, &l)) {
		if (!parse_header(l, &h))
			continue;
		nheaders++;
		if (event_index(&st, h.event) < 0) {
			if (st.nevents == PERF_MAX_EVENTS)
				return cprof_seterr(err, CPROF_ELIMIT, WHAT ": more than %d events",
						    PERF_MAX_EVENTS);
			st.events[st.nevents++] = h.event;
		}
	}
	if (nheaders == 0) {
		/* nothing recorded is an empty profile; other text is not ours */
		st.pos = text;
		st.lineno = 0;
		while (next_line(&st, &l)) {
			trim(&l);
			if (l.n)
				return cprof_seterr(err, CPROF_EUNKNOWN, WHAT ": line %zu: not a sample header",
						    st.lineno);
		}
	}
	cprof_profile *p = st.p = cprof_profile_new();
	if (!p)
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory");
	int rc = 0;
	cprof_str samples = cprof_intern_cstr(p, "samples"), count = cprof_intern_cstr(p, "count");
	if (samples == CPROF_NONE || count == CPROF_NONE || cprof_add_vtype(p, samples, count) < 0)
		rc = CPROF_ENOMEM;
	for (size_t i = 0; i < st.nevents && rc == 0; i++) {
		cprof_str t = cprof_intern(p, st.events[i].s, st.events[i].n);
		cprof_str u = cprof_intern_cstr(p, is_clock_event(st.events[i]) ? "nanoseconds" : "count");
		if (t == CPROF_NONE || u == CPROF_NONE || cprof_add_vtype(p, t, u) < 0)
			rc = CPROF_ENOMEM;
		else if (st.nevents == 1)
			p->period_type = (cprof_vtype){ t, u };
	}
	if (rc < 0) {
		cprof_profile_free(p);
		return cprof_seterr(err, rc, "out of memory");
	}
	/* pass 2: the samples */
	st.pos = text;
	st.lineno = 0;
	bool in_sample = false;
	while (rc == 0 && next_line(&st, &l)) {
		span t = l;
		trim(&t);
		if (t.n == 0) {
			if (in_sample)
				rc = add_sample(&st, &h);
			in_sample = false;
			continue;
		}
		/* a header (without callchains perf right-aligns the command
		 * name, so it may be indented too), else a frame */
		header nh;
		if (parse_header(l, &nh)) {
			if (in_sample && (rc = add_sample(&st, &h)) < 0)
				break;
			h = nh;
			in_sample = true;
			if (!st.first_comm.s)
				st.first_comm = h.comm;
			if (h.rest.n)
				rc = add_frame(&st, h.rest);
			continue;
		}
		if (!in_sample) {
			rc = cprof_seterr(err, CPROF_EFORMAT, WHAT ": line %zu: a frame outside a sample",
					  st.lineno);
			break;
		}
		rc = add_frame(&st, l);
	}
	if (rc == 0 && in_sample)
		rc = add_sample(&st, &h);
	if (rc == 0)
		main_mapping_first(p, st.first_comm);
	if (rc == 0 && st.nevents == 1 && p->samples.n > 0)
		p->period = cprof_sample_values(p, 0)[1];
	pstate_free(&st);
	if (rc < 0) {
		cprof_profile_free(p);
		return rc;
	}
	*out = p;
	return 0;
}
