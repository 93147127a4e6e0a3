/*
 * graph.c - the call graph of the samples, its trimming, the report's output
 * unit and header lines: pprof's internal/graph (New, CreateNodes,
 * NodeInfo, Nodes.Sort, the trimming steps) and report.newTrimmedGraph,
 * selectOutputUnit and reportLabels.
 *
 * How it works.  Node identities are interned once per report (cpr_infos):
 * every line of every location gets the identity pprof's nodeInfo would give
 * it at the report's granularity (re-applying what aggregation clears, so
 * the result does not depend on whether the profile was aggregated first),
 * and its printable name is formatted once.  Samples are then summed per
 * distinct stack (stacks are interned in the model), and each touched stack
 * is walked once from the root: a node gets a stack's value in its cum once
 * even when it recurs (generation stamps instead of per-sample sets), the
 * leaf gets the flat value.  pprof rebuilds the whole graph after each
 * trimming step; here the cum of a kept node cannot change when other nodes
 * are dropped, and the flat value only moves with whether the leaf is kept,
 * so a rebuild is a pass over the stack leaves.  Edges are built once, for
 * the final node set, with pprof's per-sample rules (an edge counted once
 * per stack, no self edges, residual when it jumps over dropped nodes,
 * inline when the callee is an inlined line of its location) in a hash
 * keyed by (caller, callee) identity.  A pair's weight and flags depend on
 * no other pair, so a report may ask for a subset: -peek only the edges of
 * matching nodes, -top only each node's "has inlined / ordinary callers"
 * flags, computed one callee partition at a time under a memory budget.
 * Everything is index based; no allocation happens per sample or frame.
 */
#include "graph.h"


#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---------------------------------------------------------- */

/* Grow *pv (capacity *cap elements of el bytes) to hold need elements. */
static int grow(void **pv, size_t *cap, size_t need, size_t el)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return CPROF_ENOMEM;
		ncap *= 2;
	}
	size_t bytes;
	if (__builtin_mul_overflow(ncap, el, &bytes))
		return CPROF_ENOMEM;
	void *nv = realloc(*pv, bytes);
	if (!nv)
		return CPROF_ENOMEM;
	*pv = nv;
	*cap = ncap;
	return 0;
}

/* calloc with an overflow-checked count (never returns NULL for n == 0). */
static void *xcalloc(size_t n, size_t el)
{
	return calloc(n ? n : 1, el);
}

static void *xmalloc(size_t n, size_t el)
{
	size_t bytes;
	if (__builtin_mul_overflow(n ? n : 1, el, &bytes))
		return NULL;
	return malloc(bytes);
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Go's int64(float64(v) * f) for the cutoffs (out-of-range saturates). */
static int64_t frac_of(int64_t v, double f)
{
	double d = (double)v * f;
	if (d >= 9.2233720368547758e18)
		return INT64_MIN;
	if (d <= -9.2233720368547758e18)
		return INT64_MIN;
	return (int64_t)d;
}

/* ---- paths ---------------------------------------------------------------- */

/* Go's filepath.Clean (Unix) of s[0..n) into out (room for n + 2 bytes);
 * returns the length written. */
size_t cpr_path_clean(const char *s, size_t n, char *out)
{
	if (n == 0) {
		out[0] = '.';
		return 1;
	}
	bool rooted = s[0] == '/';
	size_t r = 0, w = 0, dotdot = 0;
	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (s[r] == '/') {
			r++;
		} else if (s[r] == '.' && (r + 1 == n || s[r + 1] == '/')) {
			r++;
		} else if (s[r] == '.' && s[r + 1] == '.' && (r + 2 == n || s[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && s[r] != '/'; r++)
				out[w++] = s[r];
		}
	}
	if (w == 0)
		out[w++] = '.';
	return w;
}

/* pprof's trimPath with no -trim_path or -source_path: strip the prefixes
 * "/proc/self/cwd/./" and "/proc/self/cwd/". */
static const char *trim_path(const char *s, size_t *n)
{
	static const char *const pre[] = { "/proc/self/cwd/./", "/proc/self/cwd/" };
	for (size_t i = 0; i < 2; i++) {
		size_t l = strlen(pre[i]);
		if (*n >= l && memcmp(s, pre[i], l) == 0) {
			*n -= l;
			return s + l;
		}
	}
	return s;
}

/* filepath.Base, appended to the names arena by the caller. */
static void path_base(const char *s, size_t n, const char **b, size_t *bn)
{
	if (n == 0) {
		*b = ".";
		*bn = 1;
		return;
	}
	while (n > 0 && s[n - 1] == '/')
		n--;
	if (n == 0) {
		*b = "/";
		*bn = 1;
		return;
	}
	size_t i = n;
	while (i > 0 && s[i - 1] != '/')
		i--;
	*b = s + i;
	*bn = n - i;
}

/* ---- node identities -------------------------------------------------------- */

void cpr_gopts_init(cpr_gopts *go, const cpr_ctx *c)
{
	memset(go, 0, sizeof *go);
	go->granularity = c->o->granularity;
	go->noinlines = c->o->noinlines;
	go->trim_paths = true;
	go->drop_negative = c->o->drop_negative;
	go->cum_sort = c->o->cum;
	go->nodecount = c->nodecount;
	go->nodefraction = c->nodefraction;
	go->edgefraction = c->edgefraction;
}

static uint64_t info_hash(const cpr_ninfo *k)
{
	uint64_t h = mix64(((uint64_t)k->name << 32) ^ k->file);
	h = mix64(h ^ ((uint64_t)k->objfile << 17) ^ k->address);
	h = mix64(h ^ (uint64_t)k->start_line ^ ((uint64_t)k->lineno << 24));
	return h;
}

static bool info_eq(const cpr_ninfo *a, const cpr_ninfo *b)
{
	return a->name == b->name && a->file == b->file && a->objfile == b->objfile &&
	       a->address == b->address && a->start_line == b->start_line &&
	       a->lineno == b->lineno;
}

static int names_append(cpr_infos *t, const char *s, size_t n)
{
	size_t need;
	if (__builtin_add_overflow(t->names_len, n + 1, &need) ||
	    grow((void **)&t->names, &t->names_cap, need, 1))
		return CPROF_ENOMEM;
	memcpy(t->names + t->names_len, s, n);
	t->names_len += n;
	t->names[t->names_len] = 0;
	return 0;
}

/* NodeInfo.PrintableName: the name components joined by spaces. */
static int make_name(cpr_infos *t, cpr_ninfo *k)
{
	const cprof_profile *p = t->p;
	if (t->names_len > UINT32_MAX - 1)
		return CPROF_ENOMEM;
	k->pname = (uint32_t)t->names_len;
	size_t start = t->names_len;
	char buf[48];
	int rc = 0;
#define SEP() (t->names_len > start ? names_append(t, " ", 1) : 0)
	if (k->address) {
		int l = snprintf(buf, sizeof buf, "%016" PRIx64, k->address);
		rc |= names_append(t, buf, (size_t)l);
	}
	if (k->name) {
		rc |= SEP();
		rc |= names_append(t, cprof_s(p, k->name), cprof_slen(p, k->name));
	}
	if (k->lineno != 0) {
		rc |= SEP();
		rc |= names_append(t, cprof_s(p, k->file), cprof_slen(p, k->file));
		int l = snprintf(buf, sizeof buf, ":%" PRId64, k->lineno);
		rc |= names_append(t, buf, (size_t)l);
	} else if (k->file) {
		rc |= SEP();
		rc |= names_append(t, cprof_s(p, k->file), cprof_slen(p, k->file));
	} else if (k->name) {
		/* the function name says it all */
	} else if (k->objfile) {
		const char *b;
		size_t bn;
		path_base(cprof_s(p, k->objfile), cprof_slen(p, k->objfile), &b, &bn);
		rc |= SEP();
		rc |= names_append(t, "[", 1);
		rc |= names_append(t, b, bn);
		rc |= names_append(t, "]", 1);
	} else {
		rc |= SEP();
		rc |= names_append(t, "<unknown>", 9);
	}
#undef SEP
	if (rc)
		return CPROF_ENOMEM;
	if (t->names_len == start && names_append(t, "", 0))
		return CPROF_ENOMEM;
	k->plen = (uint32_t)(t->names_len - start);
	t->names_len++;         /* past the terminator names_append keeps */
	return 0;
}

static int info_rehash(cpr_infos *t, size_t cap)
{
	uint32_t *h = xcalloc(cap, sizeof *h);
	if (!h)
		return CPROF_ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		size_t j = info_hash(&t->v[i]) & (cap - 1);
		while (h[j])
			j = (j + 1) & (cap - 1);
		h[j] = (uint32_t)i + 1;
	}
	free(t->hash);
	t->hash = h;
	t->hash_cap = cap;
	return 0;
}

/* NodeMap.FindOrInsertNode: the index of identity k, added (with its
 * whole-function identity) when new.  Returns CPR_NIL when out of memory. */
static uint32_t info_intern(cpr_infos *t, cpr_ninfo k)
{
	if ((t->n + 1) * 2 > t->hash_cap &&
	    info_rehash(t, t->hash_cap ? t->hash_cap * 2 : 1024))
		return CPR_NIL;
	size_t mask = t->hash_cap - 1, j = info_hash(&k) & mask;
	while (t->hash[j]) {
		uint32_t id = t->hash[j] - 1;
		if (info_eq(&t->v[id], &k))
			return id;
		j = (j + 1) & mask;
	}
	if (t->n >= UINT32_MAX - 2 || grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v) ||
	    make_name(t, &k))
		return CPR_NIL;
	uint32_t id = (uint32_t)t->n++;
	k.func = id;
	t->v[id] = k;
	t->hash[j] = id + 1;
	if (k.address || k.lineno) {
		cpr_ninfo f = k;
		f.address = 0;
		f.lineno = 0;
		uint32_t fid = info_intern(t, f);
		if (fid == CPR_NIL)
			return CPR_NIL;
		t->v[id].func = fid;
	}
	return id;
}

void cpr_infos_free(cpr_infos *t)
{
	free(t->v);
	free(t->hash);
	free(t->names);
	free(t->loc_off);
	free(t->loc_info);
	memset(t, 0, sizeof *t);
}

int cpr_infos_build(cpr_infos *t, cprof_profile *p, const cpr_gopts *go, cprof_error *err)
{
	memset(t, 0, sizeof *t);
	t->p = p;
	bool keep_name = true, keep_file = true, keep_line = true, keep_addr = true;
	switch (go->granularity) {
	case CPROF_GRAN_FUNCTIONS:
		keep_file = keep_line = keep_addr = false;
		break;
	case CPROF_GRAN_FILEFUNCTIONS:
		keep_line = keep_addr = false;
		break;
	case CPROF_GRAN_FILES:
		keep_name = keep_line = keep_addr = false;
		break;
	case CPROF_GRAN_LINES:
		keep_addr = false;
		break;
	default:
		break;
	}
	size_t nf = p->functions.n, nl = p->locations.n;
	int rc = CPROF_ENOMEM;
	char *buf = NULL;
	size_t bufcap = 0;
	cprof_str *fclean = xcalloc(nf, sizeof *fclean);
	if (!fclean)
		goto fail;
	/* Clean (and trim) every source file name first: interning may move the
	 * profile's string arena, so no string pointer is held across it. */
	for (size_t i = 0; keep_file && i < nf; i++) {
		cprof_str fs = p->functions.v[i].filename;
		if (!fs)
			continue;
		size_t n = cprof_slen(p, fs);
		const char *s = cprof_s(p, fs);
		if (go->trim_paths)
			s = trim_path(s, &n);
		if (grow((void **)&buf, &bufcap, n + 2, 1))
			goto fail;
		size_t cn = cpr_path_clean(s, n, buf);
		if (cn == cprof_slen(p, fs) && memcmp(buf, cprof_s(p, fs), cn) == 0) {
			fclean[i] = fs;
			continue;
		}
		cprof_str id = cprof_intern(p, buf, cn);
		if (id == CPROF_NONE)
			goto fail;
		fclean[i] = id;
	}
	t->loc_off = xmalloc(nl + 1, sizeof *t->loc_off);
	if (!t->loc_off)
		goto fail;
	size_t li_cap = 0, li_n = 0;
	for (size_t l = 0; l < nl; l++) {
		const cprof_location *loc = &p->locations.v[l];
		cprof_str obj = 0;
		if (loc->mapping < p->mappings.n)
			obj = p->mappings.v[loc->mapping].file;
		uint64_t addr = keep_addr ? loc->address : 0;
		size_t nline = loc->nline, first = 0;
		if (loc->line_off > p->lines.n || nline > p->lines.n - loc->line_off)
			nline = 0;
		if (go->noinlines && nline > 1)
			first = nline - 1;
		t->loc_off[l] = (uint32_t)li_n;
		if (grow((void **)&t->loc_info, &li_cap, li_n + (nline ? nline - first : 1),
			 sizeof *t->loc_info))
			goto fail;
		if (li_n + (nline ? nline - first : 1) > UINT32_MAX)
			goto fail;
		if (nline == 0) {
			cpr_ninfo k = { .address = addr, .objfile = obj };
			uint32_t id = info_intern(t, k);
			if (id == CPR_NIL)
				goto fail;
			t->loc_info[li_n++] = id;
			continue;
		}
		for (size_t j = first; j < nline; j++) {
			const cprof_line *ln = &p->lines.v[loc->line_off + j];
			cpr_ninfo k = { .address = addr };
			if (ln->function >= nf) {
				k.objfile = obj;
			} else {
				const cprof_function *f = &p->functions.v[ln->function];
				k.name = keep_name ? f->name : 0;
				k.lineno = keep_line ? ln->line : 0;
				k.file = keep_file ? fclean[ln->function] : 0;
				if (go->obj_names || k.name == 0) {
					k.objfile = obj;
					k.start_line = f->start_line;
				}
			}
			uint32_t id = info_intern(t, k);
			if (id == CPR_NIL)
				goto fail;
			t->loc_info[li_n++] = id;
		}
	}
	t->loc_off[nl] = (uint32_t)li_n;
	free(fclean);
	free(buf);
	return 0;
fail:
	free(fclean);
	free(buf);
	cpr_infos_free(t);
	return cprof_seterr(err, rc, "out of memory building the graph");
}

/* fmt.Sprint of a NodeInfo: {Name OrigName Address File StartLine Lineno Objfile}. */
static char *info_sprint(const cpr_infos *t, uint32_t i)
{
	const cpr_ninfo *k = &t->v[i];
	const cprof_profile *p = t->p;
	char *s = NULL;
	if (asprintf(&s, "{%s  %" PRIu64 " %s %" PRId64 " %" PRId64 " %s}", cprof_s(p, k->name),
		     k->address, cprof_s(p, k->file), k->start_line, k->lineno,
		     cprof_s(p, k->objfile)) < 0)
		return NULL;
	return s;
}

int cpr_info_cmp_full(const cpr_infos *t, uint32_t a, uint32_t b)
{
	if (a == b)
		return 0;
	char *sa = info_sprint(t, a), *sb = info_sprint(t, b);
	int r = (sa && sb) ? strcmp(sa, sb) : (a < b ? -1 : 1);
	free(sa);
	free(sb);
	if (r == 0)
		r = a < b ? -1 : 1;
	return r;
}

/* ---- graph construction ----------------------------------------------------- */

typedef struct nval {
	int64_t flat, flat_div, cum, cum_div;
} nval;

/* The state of one build. */
typedef struct gbuild {
	cpr_ctx *c;
	const cpr_gopts *go;
	cpr_graph *g;
	const cprof_profile *p;
	size_t ninfo;
	size_t nstacks;         /* all stacks of the profile */
	uint8_t *touched;       /* per stack: some sample with a value or divisor */
	int64_t *sw, *sdw;      /* per stack: summed value, divisor (sdw: -mean only) */
	nval *val;              /* per info */
	uint32_t *seen;         /* per info generation stamp */
	uint8_t *mask;          /* per info: kept (NULL: all) */
	uint8_t *emask;         /* per info: wants its edges (NULL: all) */
	bool in_flags;          /* only edges into listed nodes (in_flags_pass) */
	/* in_flags_pass: a two-row sketch of the pairs' summed |weight| (an
	 * upper bound of each pair's |weight|); pairs under the edge cut in
	 * either row cannot be kept and are never materialised */
	uint64_t *sk_sum;       /* 2 * sk_n */
	uint32_t *sk_cnt;       /* row 0: occurrences per bucket */
	size_t sk_n;            /* buckets per row, a power of two */
	uint64_t sk_cut;
	uint32_t *list;         /* listed infos */
	size_t nlist;
	uint64_t *ehash;        /* see edge_tag */
	size_t ehash_cap;
	unsigned ehash_bits;
	int64_t *score;         /* per info: entropy score (visual mode) */
	uint32_t *thash;        /* tag hash: tag index + 1, 0 = empty */
	size_t thash_cap;
	uint32_t *tree_orig;    /* call tree: per identity, the identity a tree
				   node copies (CPR_NIL: not a tree node) */
	cpr_map tmap;           /* call tree: (parent + 1, identity) -> node */
} gbuild;

/* The infos of location loc, or none when loc is out of range. */
static inline void loc_infos(const cpr_infos *t, const cprof_profile *p, uint32_t loc,
			     const uint32_t **v, size_t *n)
{
	if (loc >= p->locations.n) {
		*v = NULL;
		*n = 0;
		return;
	}
	*v = t->loc_info + t->loc_off[loc];
	*n = t->loc_off[loc + 1] - t->loc_off[loc];
}

/* Sum the sample values per distinct stack; mark the stacks that some
 * sample with a nonzero value or divisor touches (pprof skips the others). */
static int sum_stacks(gbuild *b)
{
	const cprof_profile *p = b->p;
	size_t ns = cprof_nstacks(p);
	b->nstacks = ns;
	b->sw = xcalloc(ns, sizeof *b->sw);
	b->sdw = b->c->mean ? xcalloc(ns, sizeof *b->sdw) : NULL;
	b->touched = xcalloc(ns, 1);
	if (!b->sw || !b->touched || (b->c->mean && !b->sdw))
		return CPROF_ENOMEM;
	for (size_t i = 0; i < p->samples.n; i++) {
		uint32_t s = p->samples.v[i].stack;
		int64_t v = cpr_value(b->c, i), d = cpr_meandiv(b->c, i);
		if ((v == 0 && d == 0) || s >= ns)
			continue;
		b->touched[s] = 1;
		b->sw[s] = cpr_add64(b->sw[s], v);
		if (b->sdw)
			b->sdw[s] = cpr_add64(b->sdw[s], d);
	}
	return 0;
}

/* Cum values: every node of a stack once, all nodes kept. */
static void cum_pass(gbuild *b)
{
	const cprof_profile *p = b->p;
	const cpr_infos *t = &b->g->infos;
	memset(b->seen, 0, b->ninfo * sizeof *b->seen);
	for (size_t s = 0; s < b->nstacks; s++) {
		if (!b->touched[s])
			continue;
		uint32_t gen = (uint32_t)s + 1;
		int64_t w = b->sw[s], dw = b->sdw ? b->sdw[s] : 0;
		const uint32_t *locs = cprof_stack_locs(p, (uint32_t)s);
		for (size_t i = cprof_stack_len(p, (uint32_t)s); i-- > 0;) {
			const uint32_t *v;
			size_t n;
			loc_infos(t, p, locs[i], &v, &n);
			while (n-- > 0) {
				uint32_t id = v[n];
				if (b->seen[id] == gen)
					continue;
				b->seen[id] = gen;
				b->val[id].cum = cpr_add64(b->val[id].cum, w);
				b->val[id].cum_div = cpr_add64(b->val[id].cum_div, dw);
			}
		}
	}
}

/* Flat values: the leaf (innermost line of the first location) when kept. */
static void flat_pass(gbuild *b)
{
	const cprof_profile *p = b->p;
	const cpr_infos *t = &b->g->infos;
	for (size_t i = 0; i < b->ninfo; i++)
		b->val[i].flat = b->val[i].flat_div = 0;
	for (size_t s = 0; s < b->nstacks; s++) {
		if (!b->touched[s] || cprof_stack_len(p, (uint32_t)s) == 0)
			continue;
		const uint32_t *v;
		size_t n;
		loc_infos(t, p, cprof_stack_locs(p, (uint32_t)s)[0], &v, &n);
		if (n == 0 || (b->mask && !b->mask[v[0]]))
			continue;
		b->val[v[0]].flat = cpr_add64(b->val[v[0]].flat, b->sw[s]);
		if (b->sdw)
			b->val[v[0]].flat_div = cpr_add64(b->val[v[0]].flat_div, b->sdw[s]);
	}
}

static bool is_negative(const nval *v)
{
	return v->flat < 0 || (v->flat == 0 && v->cum < 0);
}

/* selectNodesForGraph over the kept infos. */
static void select_nodes(gbuild *b)
{
	b->nlist = 0;
	for (size_t i = 0; i < b->ninfo; i++) {
		const nval *v = &b->val[i];
		if (b->mask && !b->mask[i])
			continue;
		if (v->cum == 0 && v->flat == 0)
			continue;
		if (b->go->drop_negative && is_negative(v))
			continue;
		b->list[b->nlist++] = (uint32_t)i;
	}
}

/* Nodes.Sort: FlatNameOrder, or CumNameOrder with -cum. */
static int cmp_nodes(const void *pa, const void *pb, void *arg)
{
	const gbuild *b = arg;
	uint32_t x = *(const uint32_t *)pa, y = *(const uint32_t *)pb;
	const nval *l = &b->val[x], *r = &b->val[y];
	const cpr_infos *t = &b->g->infos;
	int64_t lv, rv;
	if (b->go->cum_sort) {
		lv = cpr_abs64(l->cum);
		rv = cpr_abs64(r->cum);
	} else {
		lv = cpr_abs64(l->flat);
		rv = cpr_abs64(r->flat);
	}
	if (lv != rv)
		return lv > rv ? -1 : 1;
	int c = strcmp(cpr_info_name(t, x), cpr_info_name(t, y));
	if (c)
		return c;
	if (b->go->cum_sort) {
		lv = cpr_abs64(l->flat);
		rv = cpr_abs64(r->flat);
	} else {
		lv = cpr_abs64(l->cum);
		rv = cpr_abs64(r->cum);
	}
	if (lv != rv)
		return lv > rv ? -1 : 1;
	return cpr_info_cmp_full(t, x, y);
}

static void sort_list(gbuild *b)
{
	qsort_r(b->list, b->nlist, sizeof *b->list, cmp_nodes, b);
}

/* Restrict the kept set to list[0..n) and recompute the flat values. */
static void keep_only(gbuild *b, size_t n)
{
	memset(b->mask, 0, b->ninfo);
	for (size_t i = 0; i < n; i++)
		b->mask[b->list[i]] = 1;
	flat_pass(b);
	select_nodes(b);
}

/* The edge hash: a slot holds the high half of the key's hash (the tag)
 * above the edge index + 1.  The bucket is the tag's top bits, so probing
 * past other keys rarely touches the edge array, and growing walks the old
 * table in order and fills the new one in order. */
static inline uint32_t edge_tag(uint32_t src, uint32_t dst)
{
	return (uint32_t)(mix64(((uint64_t)src << 32) | dst) >> 32);
}

static inline size_t edge_bucket(uint32_t tag, unsigned bits)
{
	return bits ? (size_t)(tag >> (32 - bits)) : 0;
}

static int ehash_grow(gbuild *b)
{
	unsigned bits = b->ehash_cap ? b->ehash_bits + 1 : 10;
	if (bits > 32)
		return CPROF_ENOMEM;
	size_t cap = (size_t)1 << bits;
	uint64_t *h = xcalloc(cap, sizeof *h);
	if (!h)
		return CPROF_ENOMEM;
	for (size_t i = 0; i < b->ehash_cap; i++) {
		uint64_t sl = b->ehash[i];
		if (!sl)
			continue;
		size_t j = edge_bucket((uint32_t)(sl >> 32), bits);
		while (h[j])
			j = (j + 1) & (cap - 1);
		h[j] = sl;
	}
	free(b->ehash);
	b->ehash = h;
	b->ehash_cap = cap;
	b->ehash_bits = bits;
	return 0;
}

/* Node.AddToEdgeDiv. */
static int add_edge(gbuild *b, uint32_t src, uint32_t dst, int64_t w, int64_t dw,
		    bool residual, bool inl)
{
	cpr_graph *g = b->g;
	if ((g->nedges + 1) * 4 > b->ehash_cap * 3 && ehash_grow(b))
		return CPROF_ENOMEM;
	size_t mask = b->ehash_cap - 1;
	uint32_t t = edge_tag(src, dst);
	uint64_t tag = (uint64_t)t << 32;
	size_t j = edge_bucket(t, b->ehash_bits);
	for (uint64_t sl; (sl = b->ehash[j]) != 0; j = (j + 1) & mask) {
		if ((sl & 0xffffffff00000000ULL) != tag)
			continue;
		uint32_t ei = (uint32_t)sl - 1;
		cpr_edge *e = &g->edges[ei];
		if (e->src == src && e->dst == dst) {
			e->weight = cpr_add64(e->weight, w);
			if (g->edge_div)
				g->edge_div[ei] = cpr_add64(g->edge_div[ei], dw);
			e->residual |= residual;
			e->inl &= inl;
			return 0;
		}
	}
	if (g->nedges >= INT32_MAX)
		return CPROF_ENOMEM;
	size_t cap = g->edges_cap;
	if (grow((void **)&g->edges, &g->edges_cap, g->nedges + 1, sizeof *g->edges))
		return CPROF_ENOMEM;
	if (b->c->mean && (g->edges_cap != cap || !g->edge_div)) {
		int64_t *d = realloc(g->edge_div, g->edges_cap * sizeof *d);
		if (!d)
			return CPROF_ENOMEM;
		g->edge_div = d;
	}
	g->edges[g->nedges] = (cpr_edge){ .src = src, .dst = dst, .weight = w,
					  .residual = residual, .inl = inl };
	if (g->edge_div)
		g->edge_div[g->nedges] = dw;
	b->ehash[j] = tag | ((uint64_t)g->nedges + 1);
	g->nedges++;
	return 0;
}

static inline void sketch_slots(const gbuild *b, uint64_t key, size_t *r0, size_t *r1)
{
	uint64_t h = mix64(key);
	*r0 = (size_t)h & (b->sk_n - 1);
	*r1 = b->sk_n + ((size_t)(h >> 32) & (b->sk_n - 1));
}

/* Can the pair key (caller << 32 | callee) weigh the edge cut or more? */
static inline bool sketch_keeps(const gbuild *b, uint64_t key)
{
	size_t r0, r1;
	sketch_slots(b, key, &r0, &r1);
	return b->sk_sum[r0] >= b->sk_cut && b->sk_sum[r1] >= b->sk_cut;
}

/* The edges of the final graph: newGraph's walk with the kept set.  Only
 * pairs whose callee falls in partition `part` of `nparts` (by identity)
 * and that touch a node of b->emask (when set) are materialised; a pair's
 * weight and flags do not depend on other pairs, so any subset is exact. */
static int edge_pass(gbuild *b, uint32_t part, uint32_t nparts)
{
	const cprof_profile *p = b->p;
	const cpr_graph *g = b->g;
	const cpr_infos *t = &g->infos;
	uint64_t *pairs = NULL;         /* (caller, callee) pairs added for this stack */
	size_t npairs = 0, pairs_cap = 0;
	int rc = 0;
	memset(b->seen, 0, b->ninfo * sizeof *b->seen);
	for (size_t s = 0; s < b->nstacks && !rc; s++) {
		if (!b->touched[s])
			continue;
		uint32_t gen = (uint32_t)s + 1;
		int64_t w = b->sw[s], dw = b->sdw ? b->sdw[s] : 0;
		const uint32_t *locs = cprof_stack_locs(p, (uint32_t)s);
		uint32_t parent = CPR_NIL;
		bool residual = false;
		npairs = 0;
		for (size_t i = cprof_stack_len(p, (uint32_t)s); i-- > 0 && !rc;) {
			const uint32_t *v;
			size_t n;
			loc_infos(t, p, locs[i], &v, &n);
			for (size_t ni = n; ni-- > 0;) {
				uint32_t id = v[ni];
				if (b->mask && !b->mask[id]) {
					residual = true;
					continue;
				}
				bool first = b->seen[id] != gen;
				b->seen[id] = gen;
				if (parent != CPR_NIL && id != parent) {
					uint64_t key = ((uint64_t)parent << 32) | id;
					bool dup = false;
					/* a pair can repeat only when its callee recurs */
					for (size_t q = 0; !first && q < npairs; q++)
						if (pairs[q] == key) {
							dup = true;
							break;
						}
					if (!dup && (id % nparts != part || (b->in_flags && g->node_of[id] == CPR_NIL) ||
						     (b->emask && !b->emask[id] && !b->emask[parent]) ||
						     (b->sk_sum && !sketch_keeps(b, key))))
						dup = true;     /* not wanted here: never added */
					if (!dup) {
						if (grow((void **)&pairs, &pairs_cap, npairs + 1, sizeof *pairs) ||
						    add_edge(b, parent, id, w, dw, residual, ni != n - 1)) {
							rc = CPROF_ENOMEM;
							break;
						}
						pairs[npairs++] = key;
					}
				}
				parent = id;
				residual = false;
			}
		}
	}
	free(pairs);
	free(b->ehash);
	b->ehash = NULL;
	b->ehash_cap = 0;
	return rc;
}

/* One walk of the touched stacks: the pairs into listed nodes, each
 * occurrence adding its stack's |value| to one bucket of each row
 * (saturating).  A pair's |weight| is at most the smaller of its two
 * buckets, so a pair with a bucket under the cut is trimmed in any case.
 * Returns an upper bound of the occurrences of the pairs that may be kept
 * (the occurrences counted in row 0's buckets that reach the cut). */
static size_t sketch_pass(gbuild *b)
{
	const cprof_profile *p = b->p;
	const cpr_infos *t = &b->g->infos;
	const uint32_t *node_of = b->g->node_of;
	for (size_t s = 0; s < b->nstacks; s++) {
		if (!b->touched[s])
			continue;
		int64_t w = b->sw[s];
		uint64_t aw = w < 0 ? 0 - (uint64_t)w : (uint64_t)w;
		const uint32_t *locs = cprof_stack_locs(p, (uint32_t)s);
		uint32_t parent = CPR_NIL;
		for (size_t i = cprof_stack_len(p, (uint32_t)s); i-- > 0;) {
			const uint32_t *v;
			size_t n;
			loc_infos(t, p, locs[i], &v, &n);
			for (size_t ni = n; ni-- > 0;) {
				uint32_t id = v[ni];
				if (b->mask && !b->mask[id])
					continue;
				if (parent != CPR_NIL && id != parent && node_of[id] != CPR_NIL) {
					size_t r0, r1;
					sketch_slots(b, ((uint64_t)parent << 32) | id, &r0, &r1);
					uint64_t *x = &b->sk_sum[r0], *y = &b->sk_sum[r1];
					*x = *x + aw < *x ? UINT64_MAX : *x + aw;
					*y = *y + aw < *y ? UINT64_MAX : *y + aw;
					if (b->sk_cnt[r0] < UINT32_MAX)
						b->sk_cnt[r0]++;
				}
				parent = id;
			}
		}
	}
	size_t bound = 0;
	for (size_t i = 0; i < b->sk_n; i++)
		if (b->sk_sum[i] >= b->sk_cut)
			bound += b->sk_cnt[i];
	return bound;
}

/* An upper bound of the edges into listed nodes: their frames in the
 * touched stacks. */
static size_t edge_bound(gbuild *b)
{
	const cprof_profile *p = b->p;
	const cpr_infos *t = &b->g->infos;
	size_t bound = 0;
	for (size_t s = 0; s < b->nstacks; s++) {
		if (!b->touched[s])
			continue;
		const uint32_t *locs = cprof_stack_locs(p, (uint32_t)s);
		for (size_t i = cprof_stack_len(p, (uint32_t)s); i-- > 0;) {
			const uint32_t *v;
			size_t n;
			loc_infos(t, p, locs[i], &v, &n);
			while (n-- > 0)
				bound += b->g->node_of[v[n]] != CPR_NIL;
		}
	}
	return bound;
}

/* The incoming-edge flags of the listed nodes only (-top), from the edges
 * into listed nodes (the only ones whose flags are printed), one callee
 * partition at a time, so that memory stays bounded however many edges
 * the graph has.  With no node listed there is nothing to do. */
static int in_flags_pass(gbuild *b, int64_t edge_cut)
{
	cpr_graph *g = b->g;
	if (g->nnodes == 0)
		return 0;
	b->in_flags = true;
	/* About 40 bytes per edge (record, hash slot, growth slack).  By
	 * default the edges may take as much memory as the profile's stack
	 * table, at least 16 MiB: a few passes over the stacks at most. */
	size_t budget = b->go->edge_budget;
	if (!budget) {
		budget = (size_t)16 << 20;
		if (b->p->stack_locs.n > budget / 4)
			budget = b->p->stack_locs.n * 4;
	}
	/* With an edge cut, a sketch of the pairs' weights (20 bytes a
	 * bucket, within the budget) rules out almost every pair in one walk:
	 * usually a single pass then materialises the few that may stay. */
	size_t bound;
	if (edge_cut > 0) {
		b->sk_n = 1024;
		while (b->sk_n * 2 * 20 <= budget && b->sk_n < ((size_t)1 << 26))
			b->sk_n *= 2;
		b->sk_cut = (uint64_t)edge_cut;
		b->sk_sum = xcalloc(2 * b->sk_n, sizeof *b->sk_sum);
		b->sk_cnt = xcalloc(b->sk_n, sizeof *b->sk_cnt);
		if (!b->sk_sum || !b->sk_cnt)
			return CPROF_ENOMEM;
		bound = sketch_pass(b);
		free(b->sk_cnt);
		b->sk_cnt = NULL;
	} else {
		bound = edge_bound(b);
	}
	size_t nparts = bound / (budget / 40 + 1) + 1;
	if (nparts > 64)
		nparts = 64;
	for (size_t part = 0; part < nparts; part++) {
		g->nedges = 0;
		if (edge_pass(b, (uint32_t)part, (uint32_t)nparts))
			return CPROF_ENOMEM;
		for (size_t i = 0; i < g->nedges; i++) {
			const cpr_edge *e = &g->edges[i];
			uint32_t n = g->node_of[e->dst];
			if (n == CPR_NIL || cpr_abs64(e->weight) < edge_cut)
				continue;
			g->nodes[n].in_flags |= e->inl ? CPR_IN_INLINE : CPR_IN_CALL;
		}
	}
	g->nedges = 0;
	free(g->edges);
	free(g->edge_div);
	g->edges = NULL;
	g->edge_div = NULL;
	g->edges_cap = 0;
	free(b->sk_sum);
	b->sk_sum = NULL;
	return 0;
}

/* Edge order: |weight| descending, then caller name, then callee name. */
static int cmp_edges(const void *pa, const void *pb, void *arg)
{
	const cpr_graph *g = arg;
	const cpr_edge *x = &g->edges[*(const uint32_t *)pa], *y = &g->edges[*(const uint32_t *)pb];
	if (x->weight != y->weight) {
		int64_t ax = cpr_abs64(x->weight), ay = cpr_abs64(y->weight);
		if (ax != ay)
			return ax > ay ? -1 : 1;
	}
	int c = strcmp(cpr_info_name(&g->infos, x->src), cpr_info_name(&g->infos, y->src));
	if (c)
		return c;
	c = strcmp(cpr_info_name(&g->infos, x->dst), cpr_info_name(&g->infos, y->dst));
	if (c)
		return c;
	return *(const uint32_t *)pa < *(const uint32_t *)pb ? -1 : 1;
}

void cpr_sort_edges(const cpr_graph *g, uint32_t *v, size_t n)
{
	qsort_r(v, n, sizeof *v, cmp_edges, (void *)g);
}

void cpr_node_sort_edges(const cpr_graph *g, const cpr_node *n)
{
	qsort_r(g->in_edges + n->in_off, n->nin, sizeof *g->in_edges, cmp_edges, (void *)g);
	qsort_r(g->out_edges + n->out_off, n->nout, sizeof *g->out_edges, cmp_edges, (void *)g);
}

/* Per-info adjacency over the live edges (CSR), the lists of listed nodes
 * sorted in edge order when asked (all of them for the redundancy pass). */
static int adj_build(cpr_graph *g, bool sorted, bool all)
{
	size_t ni = g->infos.n;
	free(g->in_off);
	free(g->out_off);
	free(g->in_edges);
	free(g->out_edges);
	g->in_off = xcalloc(ni + 1, sizeof *g->in_off);
	g->out_off = xcalloc(ni + 1, sizeof *g->out_off);
	g->in_edges = xmalloc(g->nedges, sizeof *g->in_edges);
	g->out_edges = xmalloc(g->nedges, sizeof *g->out_edges);
	if (!g->in_off || !g->out_off || !g->in_edges || !g->out_edges)
		return CPROF_ENOMEM;
	uint32_t *io = g->in_off, *oo = g->out_off;
	for (size_t i = 0; i < g->nedges; i++) {
		if (g->edges[i].removed)
			continue;
		io[g->edges[i].dst + 1]++;
		oo[g->edges[i].src + 1]++;
	}
	for (size_t i = 0; i < ni; i++) {
		io[i + 1] += io[i];
		oo[i + 1] += oo[i];
	}
	for (size_t i = 0; i < g->nedges; i++) {
		if (g->edges[i].removed)
			continue;
		g->in_edges[io[g->edges[i].dst]++] = (uint32_t)i;
		g->out_edges[oo[g->edges[i].src]++] = (uint32_t)i;
	}
	for (size_t i = ni; i > 0; i--) {
		io[i] = io[i - 1];
		oo[i] = oo[i - 1];
	}
	io[0] = oo[0] = 0;
	if (sorted) {
		for (size_t i = 0; i < ni; i++) {
			if (!all && g->node_of[i] == CPR_NIL)
				continue;
			qsort_r(g->in_edges + io[i], io[i + 1] - io[i], sizeof *g->in_edges, cmp_edges, g);
			qsort_r(g->out_edges + oo[i], oo[i + 1] - oo[i], sizeof *g->out_edges, cmp_edges,
				g);
		}
	}
	for (size_t i = 0; i < g->nnodes; i++) {
		cpr_node *n = &g->nodes[i];
		n->in_off = io[n->info];
		n->nin = io[n->info + 1] - io[n->info];
		n->out_off = oo[n->info];
		n->nout = oo[n->info + 1] - oo[n->info];
	}
	return 0;
}

/* isRedundantEdge: can e's caller reach e's callee without e? */
static bool redundant_edge(const cpr_graph *g, uint32_t ei, uint32_t *queue, uint32_t *seen,
			   uint32_t gen)
{
	const cpr_edge *e = &g->edges[ei];
	size_t qh = 0, qt = 0;
	queue[qt++] = e->dst;
	seen[e->dst] = gen;
	while (qh < qt) {
		uint32_t n = queue[qh++];
		for (uint32_t k = g->in_off[n]; k < g->in_off[n + 1]; k++) {
			const cpr_edge *ie = &g->edges[g->in_edges[k]];
			if (g->in_edges[k] == ei || ie->removed || seen[ie->src] == gen)
				continue;
			if (ie->src == e->src)
				return true;
			seen[ie->src] = gen;
			queue[qt++] = ie->src;
		}
	}
	return false;
}

/* RemoveRedundantEdges: drop residual edges whose callee stays reachable,
 * lightest first, stopping at a node's first non-residual edge. */
static int remove_redundant_edges(cpr_graph *g)
{
	if (adj_build(g, true, true))
		return CPROF_ENOMEM;
	uint32_t *queue = xmalloc(g->infos.n, sizeof *queue);
	uint32_t *seen = xcalloc(g->infos.n, sizeof *seen);
	if (!queue || !seen) {
		free(queue);
		free(seen);
		return CPROF_ENOMEM;
	}
	uint32_t gen = 0;
	for (size_t i = g->nnodes; i > 0; i--) {
		uint32_t n = g->nodes[i - 1].info;
		for (uint32_t k = g->in_off[n + 1]; k > g->in_off[n]; k--) {
			cpr_edge *e = &g->edges[g->in_edges[k - 1]];
			if (e->removed)
				continue;
			if (!e->residual)
				break;
			if (++gen == 0) {
				memset(seen, 0, g->infos.n * sizeof *seen);
				gen = 1;
			}
			if (redundant_edge(g, g->in_edges[k - 1], queue, seen, gen))
				e->removed = true;
		}
	}
	free(queue);
	free(seen);
	return 0;
}

/* ---- visual mode: entropy order and sample tags ------------------------- */

/* -frac*log2(frac) summed the way edgeEntropyScore does. */
static double entropy_term(int64_t w, int64_t total)
{
	double frac = (double)cpr_abs64(w) / (double)total;
	return -frac * log2(frac);
}

/* EntropyOrder: |score| descending (Go's wrapping abs), name, |flat| descending, NodeInfo. */
static int cmp_entropy(const void *pa, const void *pb, void *arg)
{
	const gbuild *b = arg;
	uint32_t x = *(const uint32_t *)pa, y = *(const uint32_t *)pb;
	int64_t sx = cpr_abs64(b->score[x]), sy = cpr_abs64(b->score[y]);
	if (sx != sy)
		return sx > sy ? -1 : 1;
	int c = strcmp(cpr_info_name(&b->g->infos, x), cpr_info_name(&b->g->infos, y));
	if (c)
		return c;
	int64_t lv = cpr_abs64(b->val[x].flat), rv = cpr_abs64(b->val[y].flat);
	if (lv != rv)
		return lv > rv ? -1 : 1;
	return cpr_info_cmp_full(&b->g->infos, x, y);
}

/* SortNodes in visual mode: entropyScore of every listed node over the
 * edges of the current kept set (before any edge trimming, as pprof sorts
 * before it trims), then the sort. */
static int entropy_of_edges(gbuild *b);

static int entropy_sort(gbuild *b)
{
	cpr_graph *g = b->g;
	g->nedges = 0;
	if (edge_pass(b, 0, 1))
		return CPROF_ENOMEM;
	int rc = entropy_of_edges(b);
	g->nedges = 0;
	return rc;
}

/* entropyScore of the listed nodes over the live edges g->edges, and the
 * sort. */
static int entropy_of_edges(gbuild *b)
{
	cpr_graph *g = b->g;
	size_t ni = b->ninfo;
	int64_t *tin = xcalloc(ni, sizeof *tin), *tout = xcalloc(ni, sizeof *tout);
	double *sin = xcalloc(ni, sizeof *sin), *sout = xcalloc(ni, sizeof *sout);
	uint8_t *has = xcalloc(ni, 1);  /* 1: has incoming, 2: has outgoing */
	if (!b->score)
		b->score = xcalloc(ni, sizeof *b->score);
	int rc = CPROF_ENOMEM;
	if (!tin || !tout || !sin || !sout || !has || !b->score)
		goto out;
	for (size_t i = 0; i < b->nlist; i++)
		tout[b->list[i]] = b->val[b->list[i]].flat;
	for (size_t i = 0; i < g->nedges; i++) {
		const cpr_edge *e = &g->edges[i];
		if (e->removed)
			continue;
		has[e->dst] |= 1;
		has[e->src] |= 2;
		if (e->weight > 0) {
			tin[e->dst] = cpr_add64(tin[e->dst], e->weight);
			tout[e->src] = cpr_add64(tout[e->src], e->weight);
		}
	}
	for (size_t i = 0; i < g->nedges; i++) {
		const cpr_edge *e = &g->edges[i];
		if (e->removed)
			continue;
		if (tin[e->dst] != 0)
			sin[e->dst] += entropy_term(e->weight, tin[e->dst]);
		if (tout[e->src] != 0)
			sout[e->src] += entropy_term(e->weight, tout[e->src]);
	}
	for (size_t i = 0; i < b->nlist; i++) {
		uint32_t id = b->list[i];
		const nval *v = &b->val[id];
		double score = 0;
		score += (has[id] & 1) ? sin[id] : 1;
		if (has[id] & 2) {
			double s = sout[id];
			if (tout[id] != 0 && v->flat > 0)
				s += entropy_term(v->flat, tout[id]);
			score += s;
		} else {
			score += 1;
		}
		b->score[id] = (int64_t)((uint64_t)cpr_d2i64(score * (double)v->cum) + (uint64_t)v->flat);
	}
	qsort_r(b->list, b->nlist, sizeof *b->list, cmp_entropy, b);
	rc = 0;
out:
	free(tin);
	free(tout);
	free(sin);
	free(sout);
	free(has);
	return rc;
}

static uint64_t tag_hash(uint32_t info, bool numeric, cprof_str lbl, cprof_str name)
{
	return mix64(mix64(((uint64_t)info << 32) | lbl) ^ ((uint64_t)name << 1) ^ numeric);
}

/* TagMap.findOrAddTag on node info: the index of the tag, or -1. */
static int64_t tag_find_add(gbuild *b, uint32_t info, bool numeric, cprof_str lbl,
			    cprof_str name, cprof_str unit, int64_t value)
{
	cpr_graph *g = b->g;
	if ((g->ntags + 1) * 2 > b->thash_cap) {
		size_t cap = b->thash_cap ? b->thash_cap * 2 : 256;
		uint32_t *h = xcalloc(cap, sizeof *h);
		if (!h)
			return -1;
		for (size_t i = 0; i < g->ntags; i++) {
			const cpr_tag *t = &g->tags[i];
			size_t j = tag_hash(t->info, t->numeric, t->lbl, t->name) & (cap - 1);
			while (h[j])
				j = (j + 1) & (cap - 1);
			h[j] = (uint32_t)i + 1;
		}
		free(b->thash);
		b->thash = h;
		b->thash_cap = cap;
	}
	size_t mask = b->thash_cap - 1, j = tag_hash(info, numeric, lbl, name) & mask;
	for (; b->thash[j]; j = (j + 1) & mask) {
		const cpr_tag *t = &g->tags[b->thash[j] - 1];
		if (t->info == info && t->numeric == numeric && t->lbl == lbl && t->name == name)
			return b->thash[j] - 1;
	}
	if (g->ntags >= UINT32_MAX - 1 ||
	    grow((void **)&g->tags, &g->tags_cap, g->ntags + 1, sizeof *g->tags))
		return -1;
	g->tags[g->ntags] = (cpr_tag){ .info = info, .numeric = numeric, .lbl = lbl, .name = name,
				       .unit = unit, .value = value };
	b->thash[j] = (uint32_t)g->ntags + 1;
	return (int64_t)g->ntags++;
}

typedef struct numtag {
	cprof_str name;
	int64_t value;
} numtag;

/* The sample tags one sample adds to node info (Node.addSample). */
static int tags_add(gbuild *b, uint32_t info, cprof_str lbl, const numtag *nt, size_t nn,
		    cprof_str unit, int64_t w, int64_t dw, bool flat)
{
	cpr_graph *g = b->g;
	for (size_t k = 0; k <= nn; k++) {
		int64_t ti;
		if (k == nn) {
			if (!lbl)
				break;
			ti = tag_find_add(b, info, false, lbl, lbl, 0, 0);
		} else {
			ti = tag_find_add(b, info, true, lbl, nt[k].name, unit, nt[k].value);
		}
		if (ti < 0)
			return CPROF_ENOMEM;
		cpr_tag *t = &g->tags[ti];
		if (flat) {
			t->flat = cpr_add64(t->flat, w);
			t->flat_div = cpr_add64(t->flat_div, dw);
		} else {
			t->cum = cpr_add64(t->cum, w);
			t->cum_div = cpr_add64(t->cum_div, dw);
		}
	}
	return 0;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* joinLabels of label set ls: its string labels (but pprof::base) as
 * "key:value", sorted, each escaped for dot, joined by a literal "\n";
 * 0 when there are none, CPROF_NONE when out of memory. */
static cprof_str join_labels(cprof_profile *p, uint32_t ls)
{
	const cprof_label *l = cprof_lset(p, ls);
	size_t n = cprof_lset_len(p, ls), m = 0;
	char **v = xcalloc(n, sizeof *v);
	if (!v)
		return CPROF_NONE;
	cprof_str id = CPROF_NONE;
	for (size_t k = 0; k < n; k++) {
		if (!l[k].str || strcmp(cprof_s(p, l[k].key), "pprof::base") == 0)
			continue;
		if (asprintf(&v[m], "%s:%s", cprof_s(p, l[k].key), cprof_s(p, l[k].str)) < 0)
			goto out;
		m++;
	}
	if (m == 0) {
		id = 0;
		goto out;
	}
	qsort(v, m, sizeof *v, cmp_cstr);
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	if (!f)
		goto out;
	for (size_t k = 0; k < m; k++) {
		if (k)
			fputs("\\n", f);
		for (const char *q = v[k]; *q; q++) {
			if (*q == '\\' || *q == '"')
				fputc('\\', f);
			if (*q == '\n')
				fputs("\\l", f);
			else
				fputc(*q, f);
		}
	}
	if (fclose(f) == 0) {
		id = cprof_intern(p, s, len);
	}
	free(s);
out:
	for (size_t k = 0; k < m; k++)
		free(v[k]);
	free(v);
	return id;
}

/* What both tag passes share: the "bytes" key and its unit, a cache of
 * each label set's joined string labels, and the current sample's numeric
 * tags. */
typedef struct tagctx {
	cprof_str bytes, unit;
	char unitname[64];
	cpr_map lcache;
	numtag *nt;
	size_t nt_cap;
} tagctx;

static int tagctx_init(gbuild *b, tagctx *tc)
{
	cprof_profile *p = b->c->p;
	memset(tc, 0, sizeof *tc);
	tc->bytes = cprof_intern(p, "bytes", 5);
	if (tc->bytes == CPROF_NONE)
		return CPROF_ENOMEM;
	tc->unit = cpr_num_label_unit(b->c, tc->bytes);
	if (!tc->unit)
		tc->unit = tc->bytes;
	snprintf(tc->unitname, sizeof tc->unitname, "%s", cprof_s(p, tc->unit));
	return 0;
}

static void tagctx_free(gbuild *b, tagctx *tc)
{
	free(b->thash);
	b->thash = NULL;
	b->thash_cap = 0;
	free(tc->nt);
	cpr_map_free(&tc->lcache);
}

/* Sample i's tags (report.newGraph keeps string labels and the "bytes"
 * numeric label; numeric tag names are ScaledLabel(v, unit, "minimum")):
 * *lbl its joined string labels (0: none), tc->nt[0..*nn) its numeric tags.
 * 1 when it has any tag and a valid stack, 0 when not, or CPROF_ENOMEM. */
static int sample_tags(gbuild *b, tagctx *tc, size_t i, cprof_str *lbl, size_t *nn)
{
	cprof_profile *p = b->c->p;
	uint32_t ls = p->samples.v[i].labels, st = p->samples.v[i].stack;
	if (cprof_lset_len(p, ls) == 0 || st >= cprof_nstacks(p))
		return 0;
	bool fresh = false;
	uint64_t *slot = cpr_map_slot(&tc->lcache, ls, 0, &fresh);
	if (!slot)
		return CPROF_ENOMEM;
	if (fresh) {
		cprof_str j = join_labels(p, ls);
		if (j == CPROF_NONE)
			return CPROF_ENOMEM;
		*slot = (uint64_t)j + 1;
	}
	*lbl = (cprof_str)(*slot - 1);
	const cprof_label *l = cprof_lset(p, ls);
	*nn = 0;
	for (size_t k = 0, n = cprof_lset_len(p, ls); k < n; k++) {
		if (l[k].str || l[k].key != tc->bytes || !cpr_label_present(&l[k]))
			continue;
		char buf[CPR_LBL];
		cpr_scaled_label(buf, sizeof buf, l[k].num, tc->unitname, "minimum");
		cprof_str name = cprof_intern_cstr(p, buf);
		if (name == CPROF_NONE || grow((void **)&tc->nt, &tc->nt_cap, *nn + 1, sizeof *tc->nt))
			return CPROF_ENOMEM;
		tc->nt[(*nn)++] = (numtag){ name, l[k].num };
	}
	return (*lbl || *nn) ? 1 : 0;
}

/* TrimLowFrequencyTags: keep the tags whose |flat| or |cum| reaches cut. */
static void trim_tags(cpr_graph *g, int64_t cut)
{
	size_t kept = 0;
	for (size_t i = 0; i < g->ntags; i++) {
		const cpr_tag *tg = &g->tags[i];
		if (cpr_abs64(tg->flat) >= cut || cpr_abs64(tg->cum) >= cut)
			g->tags[kept++] = *tg;
	}
	g->ntags = kept;
}

/* The tags of every kept node, then TrimLowFrequencyTags(cut). */
static int tags_build(gbuild *b, int64_t cut)
{
	cpr_graph *g = b->g;
	cprof_profile *p = b->c->p;
	const cpr_infos *t = &g->infos;
	g->ntags = 0;
	free(b->thash);
	b->thash = NULL;
	b->thash_cap = 0;
	tagctx tc;
	if (tagctx_init(b, &tc))
		return CPROF_ENOMEM;
	int rc = CPROF_ENOMEM;
	uint32_t gen = 0;
	memset(b->seen, 0, b->ninfo * sizeof *b->seen);
	for (size_t i = 0; i < p->samples.n; i++) {
		int64_t w = cpr_value(b->c, i), dw = cpr_meandiv(b->c, i);
		if (w == 0 && dw == 0)
			continue;
		cprof_str lbl;
		size_t nn;
		int has = sample_tags(b, &tc, i, &lbl, &nn);
		if (has < 0)
			goto out;
		if (!has)
			continue;
		if (++gen == 0) {
			memset(b->seen, 0, b->ninfo * sizeof *b->seen);
			gen = 1;
		}
		uint32_t st = p->samples.v[i].stack;
		const uint32_t *locs = cprof_stack_locs(p, st);
		uint32_t parent = CPR_NIL;
		bool residual = false;
		for (size_t fi = cprof_stack_len(p, st); fi-- > 0;) {
			const uint32_t *v;
			size_t n;
			loc_infos(t, p, locs[fi], &v, &n);
			for (size_t ni = n; ni-- > 0;) {
				uint32_t id = v[ni];
				if (b->mask && !b->mask[id]) {
					residual = true;
					continue;
				}
				if (b->seen[id] != gen) {
					b->seen[id] = gen;
					if (tags_add(b, id, lbl, tc.nt, nn, tc.unit, w, dw, false))
						goto out;
				}
				parent = id;
				residual = false;
			}
		}
		if (parent != CPR_NIL && !residual &&
		    tags_add(b, parent, lbl, tc.nt, nn, tc.unit, w, dw, true))
			goto out;
	}
	trim_tags(g, cut);
	rc = 0;
out:
	tagctx_free(b, &tc);
	return rc;
}

/* selectTopNodes in visual mode: each node counts with its tags that have a
 * flat value (at most 4). */
static size_t visual_count(gbuild *b, size_t max)
{
	cpr_graph *g = b->g;
	uint32_t *cnt = xcalloc(b->ninfo, sizeof *cnt);
	if (!cnt)
		return max;
	for (size_t i = 0; i < g->ntags; i++)
		if (g->tags[i].flat != 0)
			cnt[g->tags[i].info]++;
	size_t count = 0;
	for (size_t i = 0; i < b->nlist; i++) {
		size_t tg = cnt[b->list[i]];
		count += (tg > 4 ? 4 : tg) + 1;
		if (count >= max) {
			max = i + 1;
			break;
		}
	}
	free(cnt);
	return max;
}

/* Group the tags of the listed nodes by node (tag_off). */
static int tags_index(cpr_graph *g)
{
	g->tag_off = xcalloc(g->nnodes + 1, sizeof *g->tag_off);
	cpr_tag *v = xmalloc(g->ntags, sizeof *v);
	if (!g->tag_off || !v) {
		free(v);
		return CPROF_ENOMEM;
	}
	for (size_t i = 0; i < g->ntags; i++) {
		uint32_t n = g->node_of[g->tags[i].info];
		if (n != CPR_NIL)
			g->tag_off[n + 1]++;
	}
	for (size_t i = 0; i < g->nnodes; i++)
		g->tag_off[i + 1] += g->tag_off[i];
	size_t kept = g->tag_off[g->nnodes];
	for (size_t i = 0; i < g->ntags; i++) {
		uint32_t n = g->node_of[g->tags[i].info];
		if (n != CPR_NIL)
			v[g->tag_off[n]++] = g->tags[i];
	}
	for (size_t i = g->nnodes; i > 0; i--)
		g->tag_off[i] = g->tag_off[i - 1];
	g->tag_off[0] = 0;
	free(g->tags);
	g->tags = v;
	g->ntags = kept;
	g->tags_cap = kept;
	return 0;
}

/* Fill the listed nodes from the build state. */
static int finish_nodes(gbuild *b)
{
	cpr_graph *g = b->g;
	g->nodes = xcalloc(b->nlist, sizeof *g->nodes);
	if (!g->nodes)
		return CPROF_ENOMEM;
	g->nnodes = b->nlist;
	for (size_t i = 0; i < b->ninfo; i++)
		g->node_of[i] = CPR_NIL;
	for (size_t i = 0; i < b->nlist; i++) {
		uint32_t id = b->list[i];
		cpr_node *n = &g->nodes[i];
		n->info = id;
		n->flat = b->val[id].flat;
		n->flat_div = b->val[id].flat_div;
		n->cum = b->val[id].cum;
		n->cum_div = b->val[id].cum_div;
		g->node_of[id] = (uint32_t)i;
	}
	return 0;
}

/* ---- call trees (-call_tree) ------------------------------------------------ */

/* The tree node of identity info under tree node parent (CPR_NIL: a root),
 * added as a new identity (a copy of info's) when new: pprof's newTree
 * keeps one NodeMap per parent.  The node's Function is the node of the
 * whole-function identity under the same parent.  CPR_NIL when out of
 * memory. */
static uint32_t tree_node(cpr_infos *t, cpr_map *m, uint32_t parent, uint32_t info,
			  uint32_t **orig, size_t *ocap)
{
	uint64_t key = ((uint64_t)(parent == CPR_NIL ? 0 : parent + 1) << 32) | info;
	bool fresh = false;
	uint64_t *slot = cpr_map_slot(m, key, 0, &fresh);
	if (!slot)
		return CPR_NIL;
	if (!fresh)
		return (uint32_t)*slot;
	if (t->n >= UINT32_MAX - 2 || grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v))
		return CPR_NIL;
	if (grow((void **)orig, ocap, t->n + 1, sizeof **orig))
		return CPR_NIL;
	uint32_t id = (uint32_t)t->n++;
	*slot = id;
	(*orig)[id] = info;
	t->v[id] = t->v[info];
	t->v[id].func = id;
	uint32_t f = t->v[info].func;
	if (f != info) {
		uint32_t fid = tree_node(t, m, parent, f, orig, ocap);
		if (fid == CPR_NIL)
			return CPR_NIL;
		t->v[id].func = fid;
	}
	return id;
}

/* newTree: every sample walked from its root through the tree; values on
 * the nodes of its path, the flat value on its last, one edge per node
 * from its parent; tags (go->tags) likewise.  b->val, b->ninfo and the
 * edges (pedge: each node's edge from its parent) cover the tree nodes. */
static int tree_walk(gbuild *b, uint32_t **pedge)
{
	cpr_graph *g = b->g;
	cprof_profile *p = b->c->p;
	cpr_infos *t = &g->infos;
	size_t n0 = t->n;       /* tree nodes are the identities from here on */
	size_t vcap = 0, pcap = 0, ocap = 0;
	b->ninfo = 0;
	if (grow((void **)&b->tree_orig, &ocap, n0, sizeof *b->tree_orig))
		return CPROF_ENOMEM;
	for (size_t k = 0; k < n0; k++)
		b->tree_orig[k] = CPR_NIL;
	int rc = CPROF_ENOMEM;
	uint32_t *path = NULL;
	size_t path_cap = 0;
	for (size_t i = 0; i < p->samples.n; i++) {
		int64_t w = cpr_value(b->c, i), dw = cpr_meandiv(b->c, i);
		uint32_t st = p->samples.v[i].stack;
		if ((w == 0 && dw == 0) || st >= cprof_nstacks(p))
			continue;
		const uint32_t *locs = cprof_stack_locs(p, st);
		uint32_t parent = CPR_NIL;
		size_t depth = 0;
		for (size_t fi = cprof_stack_len(p, st); fi-- > 0;) {
			const uint32_t *v;
			size_t n;
			loc_infos(t, p, locs[fi], &v, &n);
			for (size_t ni = n; ni-- > 0;) {
				uint32_t info = v[ni];
				uint32_t id = tree_node(t, &b->tmap, parent, info, &b->tree_orig, &ocap);
				if (id == CPR_NIL)
					goto out;
				/* the identity tables may have moved */
				loc_infos(t, p, locs[fi], &v, &n);
				if (grow((void **)&b->val, &vcap, t->n, sizeof *b->val) ||
				    grow((void **)pedge, &pcap, t->n, sizeof **pedge))
					goto out;
				for (size_t k = b->ninfo; k < t->n; k++) {
					b->val[k] = (nval){ 0 };
					(*pedge)[k] = CPR_NIL;
				}
				b->ninfo = t->n;
				nval *nv = &b->val[id];
				nv->cum = cpr_add64(nv->cum, w);
				nv->cum_div = cpr_add64(nv->cum_div, dw);
				bool inl = ni != n - 1;
				if (parent != CPR_NIL) {
					uint32_t ei = (*pedge)[id];
					if (ei == CPR_NIL) {
						size_t cap = g->edges_cap;
						if (g->nedges >= INT32_MAX ||
						    grow((void **)&g->edges, &g->edges_cap, g->nedges + 1,
							 sizeof *g->edges))
							goto out;
						if (b->c->mean && (g->edges_cap != cap || !g->edge_div)) {
							int64_t *d = realloc(g->edge_div,
									     g->edges_cap * sizeof *d);
							if (!d)
								goto out;
							g->edge_div = d;
						}
						ei = (uint32_t)g->nedges++;
						g->edges[ei] = (cpr_edge){ .src = parent, .dst = id, .inl = inl };
						if (g->edge_div)
							g->edge_div[ei] = 0;
						(*pedge)[id] = ei;
					}
					cpr_edge *e = &g->edges[ei];
					e->weight = cpr_add64(e->weight, w);
					e->inl &= inl;
					if (g->edge_div)
						g->edge_div[ei] = cpr_add64(g->edge_div[ei], dw);
				}
				if (grow((void **)&path, &path_cap, depth + 1, sizeof *path))
					goto out;
				path[depth++] = id;
				parent = id;
			}
		}
		if (parent != CPR_NIL) {
			b->val[parent].flat = cpr_add64(b->val[parent].flat, w);
			b->val[parent].flat_div = cpr_add64(b->val[parent].flat_div, dw);
		}
	}
	if (grow((void **)&b->val, &vcap, t->n, sizeof *b->val) ||
	    grow((void **)pedge, &pcap, t->n, sizeof **pedge) ||
	    grow((void **)&b->tree_orig, &ocap, t->n, sizeof *b->tree_orig))
		goto out;
	for (size_t k = b->ninfo; k < t->n; k++) {
		b->val[k] = (nval){ 0 };
		(*pedge)[k] = CPR_NIL;
	}
	for (size_t k = 0; k < n0 && k < t->n; k++)
		b->tree_orig[k] = CPR_NIL;
	b->ninfo = t->n;
	rc = 0;
out:
	free(path);
	return rc;
}

/* Tags of the tree nodes: each sample's tags on the nodes of its path. */
static int tree_tags(gbuild *b, int64_t cut)
{
	cpr_graph *g = b->g;
	cprof_profile *p = b->c->p;
	const cpr_infos *t = &g->infos;
	tagctx tc;
	if (tagctx_init(b, &tc))
		return CPROF_ENOMEM;
	int rc = CPROF_ENOMEM;
	g->ntags = 0;
	for (size_t i = 0; i < p->samples.n; i++) {
		int64_t w = cpr_value(b->c, i), dw = cpr_meandiv(b->c, i);
		if (w == 0 && dw == 0)
			continue;
		cprof_str lbl;
		size_t nn;
		int has = sample_tags(b, &tc, i, &lbl, &nn);
		if (has < 0)
			goto out;
		if (!has)
			continue;
		uint32_t st = p->samples.v[i].stack;
		const uint32_t *locs = cprof_stack_locs(p, st);
		uint32_t parent = CPR_NIL;
		for (size_t fi = cprof_stack_len(p, st); fi-- > 0;) {
			const uint32_t *v;
			size_t n;
			loc_infos(t, p, locs[fi], &v, &n);
			for (size_t ni = n; ni-- > 0;) {
				uint64_t key = ((uint64_t)(parent == CPR_NIL ? 0 : parent + 1) << 32) | v[ni];
				uint64_t *id = cpr_map_find(&b->tmap, key);
				if (!id)
					continue;
				if (tags_add(b, (uint32_t)*id, lbl, tc.nt, nn, tc.unit, w, dw, false))
					goto out;
				parent = (uint32_t)*id;
			}
		}
		if (parent != CPR_NIL && tags_add(b, parent, lbl, tc.nt, nn, tc.unit, w, dw, true))
			goto out;
	}
	trim_tags(g, cut);
	rc = 0;
out:
	tagctx_free(b, &tc);
	return rc;
}

/* TrimTree: drop the listed nodes outside keep[]; the children of a
 * dropped node hang from its parent by residual edges (inline when every
 * edge they replace was), or become roots when it had none. */
static int trim_tree(gbuild *b, const uint8_t *keep)
{
	cpr_graph *g = b->g;
	uint8_t *gone = xcalloc(b->ninfo, 1);
	uint32_t *in = xmalloc(b->ninfo, sizeof *in);
	if (!gone || !in) {
		free(gone);
		free(in);
		return CPROF_ENOMEM;
	}
	for (size_t i = 0; i < b->nlist; i++)
		gone[b->list[i]] = !keep[b->list[i]];
	for (size_t i = 0; i < b->ninfo; i++)
		in[i] = CPR_NIL;
	for (size_t i = 0; i < g->nedges; i++)
		if (!g->edges[i].removed)
			in[g->edges[i].dst] = (uint32_t)i;
	/* new sources first, from the unmodified edges, then apply */
	uint32_t *nsrc = xmalloc(g->nedges, sizeof *nsrc);
	uint8_t *ninl = xmalloc(g->nedges, 1);
	if (!nsrc || !ninl) {
		free(gone);
		free(in);
		free(nsrc);
		free(ninl);
		return CPROF_ENOMEM;
	}
	for (size_t i = 0; i < g->nedges; i++) {
		const cpr_edge *e = &g->edges[i];
		nsrc[i] = e->src;
		ninl[i] = e->inl;
		if (e->removed || gone[e->dst])
			continue;
		uint32_t s = e->src;
		bool inl = e->inl;
		while (s != CPR_NIL && gone[s]) {
			uint32_t ie = in[s];
			if (ie == CPR_NIL) {
				s = CPR_NIL;
				break;
			}
			inl = inl && g->edges[ie].inl;
			s = g->edges[ie].src;
		}
		nsrc[i] = s;
		ninl[i] = inl;
	}
	for (size_t i = 0; i < g->nedges; i++) {
		cpr_edge *e = &g->edges[i];
		if (e->removed)
			continue;
		if (gone[e->dst] || nsrc[i] == CPR_NIL) {
			e->removed = true;
			continue;
		}
		if (nsrc[i] != e->src) {
			e->src = nsrc[i];
			e->residual = true;
			e->inl = ninl[i];
		}
	}
	size_t kept = 0;
	for (size_t i = 0; i < b->nlist; i++)
		if (!gone[b->list[i]])
			b->list[kept++] = b->list[i];
	b->nlist = kept;
	free(gone);
	free(in);
	free(nsrc);
	free(ninl);
	return 0;
}

/* The listed tree nodes: nonzero, and not negative with drop_negative. */
static void tree_select(gbuild *b)
{
	b->nlist = 0;
	for (size_t i = 0; i < b->ninfo; i++) {
		const nval *v = &b->val[i];
		if (b->tree_orig[i] == CPR_NIL || (v->cum == 0 && v->flat == 0))
			continue;
		if (b->go->drop_negative && is_negative(v))
			continue;
		b->list[b->nlist++] = (uint32_t)i;
	}
}

/* newTrimmedGraph with call_tree: the tree, then TrimTree for the node
 * fraction and the node count, the graph never rebuilt. */
static int tree_graph(gbuild *b)
{
	cpr_graph *g = b->g;
	const cpr_gopts *go = b->go;
	uint32_t *pedge = NULL;
	int rc = CPROF_ENOMEM;
	free(b->val);
	b->val = NULL;
	if (tree_walk(b, &pedge))
		goto out;
	free(pedge);
	pedge = NULL;
	free(b->list);
	free(b->seen);
	free(g->node_of);
	b->list = xmalloc(b->ninfo, sizeof *b->list);
	b->seen = xcalloc(b->ninfo, sizeof *b->seen);
	g->node_of = xmalloc(b->ninfo, sizeof *g->node_of);
	uint8_t *keep = xcalloc(b->ninfo, 1), *listed = xcalloc(b->ninfo, 1);
	if (!b->list || !b->seen || !g->node_of || !keep || !listed) {
		free(keep);
		free(listed);
		goto out;
	}
	tree_select(b);
	int64_t total = 0;
	for (size_t i = 0; i < b->nlist; i++)
		total = cpr_add64(total, b->val[b->list[i]].flat);
	int64_t node_cut = cpr_abs64(frac_of(total, go->nodefraction));
	int64_t edge_cut = cpr_abs64(frac_of(total, go->edgefraction));
	if (go->tags && tree_tags(b, 0)) {
		free(keep);
		free(listed);
		goto out;
	}
	if (node_cut > 0) {
		size_t before = b->nlist, k = 0;
		for (size_t i = 0; i < b->nlist; i++) {
			keep[b->list[i]] = cpr_abs64(b->val[b->list[i]].cum) >= node_cut;
			k += keep[b->list[i]];
		}
		if (k != before) {
			g->dropped_nodes = before - k;
			if (trim_tree(b, keep)) {
				free(keep);
		free(listed);
				goto out;
			}
		}
	}
	g->orig_count = b->nlist;
	if (go->visual ? entropy_of_edges(b) : (sort_list(b), 0)) {
		free(keep);
		free(listed);
		goto out;
	}
	bool edges_trimmed = false;
	if (go->nodecount > 0) {
		/* TrimLowFrequencyTags, TrimLowFrequencyEdges, then the top nodes */
		size_t kt = 0;
		for (size_t i = 0; i < g->ntags; i++)
			if (cpr_abs64(g->tags[i].flat) >= node_cut || cpr_abs64(g->tags[i].cum) >= node_cut)
				g->tags[kt++] = g->tags[i];
		g->ntags = kt;
		for (size_t i = 0; i < b->nlist; i++)
			listed[b->list[i]] = 1;
		for (size_t i = 0; i < g->nedges; i++) {
			cpr_edge *e = &g->edges[i];
			if (!e->removed && listed[e->dst] && cpr_abs64(e->weight) < edge_cut)
				e->removed = true;
		}
		edges_trimmed = true;
		size_t max = (size_t)go->nodecount;
		if (go->visual)
			max = visual_count(b, max);
		if (max < b->nlist) {
			memset(keep, 0, b->ninfo);
			for (size_t i = 0; i < max; i++)
				keep[b->list[i]] = 1;
			if (trim_tree(b, keep) || (go->visual ? entropy_of_edges(b) : (sort_list(b), 0))) {
				free(keep);
		free(listed);
				goto out;
			}
		}
	}
	free(keep);
		free(listed);
	if (finish_nodes(b))
		goto out;
	size_t dropped = 0;
	for (size_t i = 0; i < g->nedges; i++) {
		cpr_edge *e = &g->edges[i];
		if (!e->removed && g->node_of[e->dst] != CPR_NIL && cpr_abs64(e->weight) < edge_cut) {
			e->removed = true;
			dropped++;
		}
	}
	g->dropped_edges = edges_trimmed ? 0 : dropped;
	if (go->visual && remove_redundant_edges(g))
		goto out;
	if (adj_build(g, go->sort_edges || go->visual, false))
		goto out;
	for (size_t i = 0; i < g->nnodes; i++) {
		cpr_node *n = &g->nodes[i];
		for (uint32_t k = 0; k < n->nin; k++)
			n->in_flags |= g->edges[g->in_edges[n->in_off + k]].inl ? CPR_IN_INLINE
										 : CPR_IN_CALL;
	}
	if (go->tags) {
		size_t kt = 0;
		for (size_t i = 0; i < g->ntags; i++)
			if (cpr_abs64(g->tags[i].flat) >= node_cut || cpr_abs64(g->tags[i].cum) >= node_cut)
				g->tags[kt++] = g->tags[i];
		g->ntags = kt;
		if (tags_index(g))
			goto out;
	}
	rc = 0;
out:
	free(pedge);
	return rc;
}

void cpr_graph_free(cpr_graph *g)
{
	cpr_infos_free(&g->infos);
	free(g->nodes);
	free(g->node_of);
	free(g->edges);
	free(g->edge_div);
	free(g->in_off);
	free(g->out_off);
	free(g->in_edges);
	free(g->out_edges);
	free(g->tags);
	free(g->tag_off);
	memset(g, 0, sizeof *g);
}

int cpr_graph_build(cpr_ctx *c, const cpr_gopts *go, cpr_graph *g, cprof_error *err)
{
	memset(g, 0, sizeof *g);
	int rc = cpr_infos_build(&g->infos, c->p, go, err);
	if (rc < 0)
		return rc;
	gbuild b = { .c = c, .go = go, .g = g, .p = c->p, .ninfo = g->infos.n };
	rc = CPROF_ENOMEM;
	b.val = xcalloc(b.ninfo, sizeof *b.val);
	b.seen = xcalloc(b.ninfo, sizeof *b.seen);
	b.list = xmalloc(b.ninfo, sizeof *b.list);
	g->node_of = xmalloc(b.ninfo, sizeof *g->node_of);
	if (!b.val || !b.seen || !b.list || !g->node_of)
		goto out;
	if (go->call_tree) {
		if (tree_graph(&b) == 0)
			rc = 0;
		goto out;
	}
	if (sum_stacks(&b))
		goto out;

	/* The complete graph. */
	cum_pass(&b);
	flat_pass(&b);
	select_nodes(&b);
	int64_t total = 0;
	for (size_t i = 0; i < b.nlist; i++)
		total = cpr_add64(total, b.val[b.list[i]].flat);
	int64_t node_cut = cpr_abs64(frac_of(total, go->nodefraction));
	int64_t edge_cut = cpr_abs64(frac_of(total, go->edgefraction));

	/* Drop the nodes under the node fraction (by |cum|). */
	if (node_cut > 0) {
		size_t kept = 0;
		for (size_t i = 0; i < b.nlist; i++)
			if (cpr_abs64(b.val[b.list[i]].cum) >= node_cut)
				b.list[kept++] = b.list[i];
		if (kept != b.nlist) {
			g->dropped_nodes = b.nlist - kept;
			b.mask = xmalloc(b.ninfo, 1);
			if (!b.mask)
				goto out;
			b.nlist = kept;
			keep_only(&b, kept);
		}
	}
	g->orig_count = b.nlist;

	/* Keep the top nodecount nodes.  pprof trims the edges here already;
	 * when nothing is dropped its graph is not rebuilt, so its final edge
	 * trim finds nothing left to count. */
	if (go->visual ? entropy_sort(&b) : (sort_list(&b), 0))
		goto out;
	bool edges_trimmed_early = false;
	if (go->nodecount > 0) {
		edges_trimmed_early = true;
		size_t keep = (size_t)go->nodecount;
		if (go->visual && go->tags) {
			if (tags_build(&b, node_cut))
				goto out;
			keep = visual_count(&b, keep);
		}
		if (keep < b.nlist) {
			if (!b.mask && !(b.mask = xmalloc(b.ninfo, 1)))
				goto out;
			keep_only(&b, keep);
			if (go->visual ? entropy_sort(&b) : (sort_list(&b), 0))
				goto out;
			edges_trimmed_early = false;
		}
	}

	/* Edges of the final node set, then the edge fraction. */
	if (finish_nodes(&b))
		goto out;
	if (go->edges == CPR_EDGES_IN_FLAGS) {
		if (in_flags_pass(&b, edge_cut) || adj_build(g, false, false))
			goto out;
		rc = 0;
		goto out;
	}
	if (go->edge_filter) {
		if (!(b.emask = xcalloc(b.ninfo, 1)))
			goto out;
		for (size_t i = 0; i < g->nnodes; i++)
			b.emask[g->nodes[i].info] =
				go->edge_filter(go->edge_filter_arg, cpr_node_name(g, &g->nodes[i]));
	}
	if (edge_pass(&b, 0, 1))
		goto out;
	size_t dropped = 0;
	for (size_t i = 0; i < g->nedges; i++) {
		cpr_edge *e = &g->edges[i];
		/* pprof trims the incoming edges of listed nodes only */
		if (g->node_of[e->dst] != CPR_NIL && cpr_abs64(e->weight) < edge_cut) {
			e->removed = true;
			dropped++;
		}
	}
	g->dropped_edges = edges_trimmed_early ? 0 : dropped;
	if (go->visual && remove_redundant_edges(g))
		goto out;
	if (adj_build(g, go->sort_edges || go->visual, false))
		goto out;
	if (go->tags && (tags_build(&b, node_cut) || tags_index(g)))
		goto out;
	for (size_t i = 0; i < g->nnodes; i++) {
		cpr_node *n = &g->nodes[i];
		for (uint32_t k = 0; k < n->nin; k++)
			n->in_flags |= g->edges[g->in_edges[n->in_off + k]].inl ? CPR_IN_INLINE
										 : CPR_IN_CALL;
	}
	rc = 0;
out:
	free(b.touched);
	free(b.sw);
	free(b.sdw);
	free(b.val);
	free(b.seen);
	free(b.mask);
	free(b.emask);
	free(b.sk_sum);
	free(b.sk_cnt);
	free(b.list);
	free(b.ehash);
	free(b.score);
	free(b.thash);
	free(b.tree_orig);
	cpr_map_free(&b.tmap);
	if (rc < 0) {
		cpr_graph_free(g);
		return cprof_seterr(err, rc, "out of memory building the graph");
	}
	return 0;
}

/* ---- output unit and header lines ---------------------------------------- */

void cpr_select_output_unit(cpr_ctx *c, const cpr_graph *g, bool integral)
{
	if (strcmp(c->output_unit, "minimum") != 0 || g->nnodes == 0)
		return;
	int64_t minv = 0;
	for (size_t i = 0; i < g->nnodes; i++) {
		int64_t m = cpr_abs64(cpr_node_flat(&g->nodes[i]));
		if (m == 0)
			m = cpr_abs64(cpr_node_cum(&g->nodes[i]));
		if (m > 0 && (minv == 0 || m < minv))
			minv = m;
	}
	int64_t maxv = c->total;
	if (minv == 0)
		minv = maxv;
	if (c->ratio > 0 && c->ratio != 1) {
		minv = cpr_d2i64((double)minv * c->ratio);
		maxv = cpr_d2i64((double)maxv * c->ratio);
	}
	const char *minu = "", *maxu = "", *unit;
	cpr_scale(minv, c->sample_unit, "minimum", &minu);
	cpr_scale(maxv, c->sample_unit, "minimum", &maxu);
	unit = minu;
	if (strcmp(minu, maxu) != 0 && (int64_t)((uint64_t)minv * 100) < maxv && !integral)
		cpr_scale((int64_t)((uint64_t)minv * 100), c->sample_unit, "minimum", &unit);
	const char *u = *unit ? unit : c->sample_unit;
	size_t ul = strnlen(u, sizeof c->output_unit_buf - 1);
	memcpy(c->output_unit_buf, u, ul);
	c->output_unit_buf[ul] = 0;
	c->output_unit = c->output_unit_buf;
}

void cpr_print_report_labels(cpr_ctx *c, const cpr_graph *g, bool full_headers, FILE *out)
{
	char a[CPR_LBL], b[CPR_LBL], pct[CPR_LBL];
	if (full_headers || !c->o->compact_labels)
		cpr_print_profile_labels(c, out);
	int64_t flat = 0;
	for (size_t i = 0; i < g->nnodes; i++)
		flat = cpr_add64(flat, cpr_node_flat(&g->nodes[i]));
	cpr_print_active_filters(c, out);
	cpr_percentage(pct, sizeof pct, flat, c->total);
	const char *ps = pct;
	while (*ps == ' ')
		ps++;
	fprintf(out, "Showing nodes accounting for %s, %s of %s total\n",
		cpr_format_value(c, a, sizeof a, flat), ps,
		cpr_format_value(c, b, sizeof b, c->total));
	if (c->total != 0) {
		if (g->dropped_nodes > 0)
			fprintf(out, "Dropped %zu node%s (cum <= %s)\n", g->dropped_nodes,
				g->dropped_nodes > 1 ? "s" : "",
				cpr_format_value(c, a, sizeof a,
						 cpr_abs64(frac_of(c->total, c->nodefraction))));
		if (full_headers && g->dropped_edges > 0)
			fprintf(out, "Dropped %zu edge%s (freq <= %s)\n", g->dropped_edges,
				g->dropped_edges > 1 ? "s" : "",
				cpr_format_value(c, a, sizeof a,
						 cpr_abs64(frac_of(c->total, c->edgefraction))));
		if (g->nnodes > 0 && g->nnodes < g->orig_count)
			fprintf(out, "Showing top %zu nodes out of %zu\n", g->nnodes, g->orig_count);
	}
	if (full_headers)
		fprintf(out, "\nSee https://git.io/JfYMW for how to read the graph\n");
}

/* ---- formatting ---------------------------------------------------------- */

size_t cpr_runes(const char *s, size_t len)
{
	size_t r = 0;
	for (size_t i = 0; i < len; i++)
		r += ((unsigned char)s[i] & 0xc0) != 0x80;
	return r;
}

const char *cpr_pad(char *buf, size_t n, const char *s, int width)
{
	size_t len = strlen(s), r = cpr_runes(s, len);
	if (width < 0 || r >= (size_t)width || n == 0)
		return s;
	size_t pad = (size_t)width - r;
	if (pad + len + 1 > n)
		return s;
	memset(buf, ' ', pad);
	memcpy(buf + pad, s, len + 1);
	return buf;
}

