/*
 * merge.c - combining profiles: merge, scale, label, and making sample
 * types compatible, with the semantics of Go 1.19's pprof (profile.Merge,
 * Profile.Scale, Profile.SetLabel, measurement.ScaleProfiles, and newer
 * pprof's CompatibilizeSampleTypes).
 *
 * cprof_merge first reconciles units the way pprof's driver does before it
 * merges: every profile must have as many sample types; the i-th types of all
 * profiles must be compatible (names equal up to one trailing 's', units of
 * one family such as bytes/kilobytes or nanoseconds/seconds), and values are
 * rescaled to the finest unit present.  Then it rebuilds everything into a
 * new profile, source by source, sample by sample: mappings, functions and
 * locations are de-duplicated by pprof's keys (a mapping by its rounded size,
 * offset and build id or file; a function by its names, file and start line;
 * a location by its address relative to its mapping, that mapping, its lines
 * and is_folded), and samples with the same stack and labels are summed.
 * Samples whose values are all zero are dropped, and when summing produced a
 * zero sample the result is merged once more by itself, exactly as pprof
 * does, so that ids and orders equal pprof's.
 *
 * Each source gets memo tables indexed by its own string, mapping, function,
 * location, stack and label-set indices, so repeated stacks cost one lookup;
 * the output side uses open-addressed hash indexes over the output tables.
 *
 * cprof_compact (compact.c) gives the same result as merging one profile
 * alone, but rewrites the large tables (stacks, samples, values) where they
 * are and builds only the small ones anew with this file's merger.
 */
#include "merge_int.h"

#include <math.h>

#define WHAT "merge"

/* ---- units (pprof's internal/measurement) -------------------------------- */

/* pprof's sniffUnit and measurement.Scale, on cprof_util.h's unit table. */
#define NFAM CPROF_UNIT_NFAM
static double sniff_unit(const char *u, size_t n, int fam)
{
	const cprof_unit *x = cprof_unit_sniff(u, n, fam);
	return x ? x->factor : 0;
}
#define scale_units cprof_unit_scale

struct vt {
	const char *type, *unit;
	size_t tn, un;
};

static vt vt_of(const cprof_profile *p, cprof_vtype v)
{
	vt r = { cprof_s(p, v.type), cprof_s(p, v.unit), cprof_slen(p, v.type), cprof_slen(p, v.unit) };
	return r;
}

static bool compatible_types(vt a, vt b)
{
	size_t an = a.tn, bn = b.tn;
	if (an && a.type[an - 1] == 's')
		an--;
	if (bn && b.type[bn - 1] == 's')
		bn--;
	if (an != bn || memcmp(a.type, b.type, an) != 0)
		return false;
	if (a.un == b.un && memcmp(a.unit, b.unit, a.un) == 0)
		return true;
	for (int fam = 0; fam < NFAM; fam++)
		if (sniff_unit(a.unit, a.un, fam) != 0 && sniff_unit(b.unit, b.un, fam) != 0)
			return true;
	return false;
}

/* pprof's CommonValueType over ts[0..n), n >= 2: the index of the finest
 * type, or -1 with *bad set to the first incompatible pair. */
static long common_type(const vt *ts, size_t n, size_t *bad)
{
	size_t min = 0;
	for (size_t i = 1; i < n; i++) {
		if (!compatible_types(ts[min], ts[i])) {
			bad[0] = min;
			bad[1] = i;
			return -1;
		}
		if (scale_units(1, ts[i].unit, ts[i].un, ts[min].unit, ts[min].un) < 1)
			min = i;
	}
	return (long)min;
}

static bool vt_equal(vt a, vt b)
{
	return a.tn == b.tn && a.un == b.un && memcmp(a.type, b.type, a.tn) == 0 &&
	       memcmp(a.unit, b.unit, a.un) == 0;
}

/* pprof's ScaleN on one value: int64(math.Round(float64(v) * ratio)). */
static int64_t go_round(int64_t v, double ratio)
{
	return cp_go_f2i(round((double)v * ratio));
}

/* ---- hash indexes over output tables ---------------------------------------- */

static void ht_free(htab *t)
{
	free(t->slot);
	t->slot = NULL;
	t->cap = 0;
	CP_FREE(t->hash);
}

/* Room for one more element. */
static int ht_reserve(htab *t)
{
	if ((t->hash.n + 1) * 2 <= t->cap)
		return 0;
	size_t ncap = t->cap ? t->cap * 2 : 64;
	uint32_t *s = calloc(ncap, sizeof *s);
	if (!s)
		return CPROF_ENOMEM;
	for (size_t i = 0; i < t->hash.n; i++) {
		size_t j = t->hash.v[i] & (ncap - 1);
		while (s[j])
			j = (j + 1) & (ncap - 1);
		s[j] = (uint32_t)i + 1;
	}
	free(t->slot);
	t->slot = s;
	t->cap = ncap;
	return 0;
}

typedef bool (*ht_eq)(const void *ctx, uint32_t idx);

/* The element equal to the key in ctx, or CPROF_NONE; *pos is then where
 * to insert it.  Call ht_reserve first. */
static uint32_t ht_find(const htab *t, uint64_t h, ht_eq eq, const void *ctx, size_t *pos)
{
	size_t mask = t->cap - 1, j = h & mask;
	while (t->slot[j]) {
		uint32_t idx = t->slot[j] - 1;
		if (t->hash.v[idx] == h && eq(ctx, idx))
			return idx;
		j = (j + 1) & mask;
	}
	*pos = j;
	return CPROF_NONE;
}

/* Record element idx (== number of elements so far) at pos. */
static int ht_insert(htab *t, size_t pos, uint64_t h)
{
	if (CP_PUSH(t->hash, h))
		return CPROF_ENOMEM;
	t->slot[pos] = (uint32_t)t->hash.n;
	return 0;
}

/* ---- the merger -------------------------------------------------------------- */

static cprof_str map_str(merger *g, cprof_str s)
{
	if (s >= g->src->str_off.n)
		s = 0;
	if (g->str_memo[s] == CPROF_NONE)
		g->str_memo[s] = cprof_intern(g->p, cprof_s(g->src, s), cprof_slen(g->src, s));
	return g->str_memo[s];
}

static bool mkey_eq(const void *ctx, uint32_t idx)
{
	const merger *g = ctx;
	const mkey *k = &g->mkeys.v[g->mkeys.n], *o = &g->mkeys.v[idx];
	return k->size == o->size && k->offset == o->offset && k->file == o->file;
}

/* pprof's mapMapping. */
static int map_mapping(merger *g, uint32_t sm, minfo *out)
{
	if (sm == CPROF_NONE || sm >= g->src->mappings.n) {
		out->m = CPROF_NONE;
		out->delta = 0;
		return 0;
	}
	if (g->map_memo[sm].m != CPROF_NONE) {
		*out = g->map_memo[sm];
		return 0;
	}
	const cprof_mapping *m = &g->src->mappings.v[sm];
	mkey k;
	uint64_t size = m->limit - m->start;
	size = size + 0xfff;
	k.size = size - size % 0x1000;
	k.offset = m->offset;
	k.file = map_str(g, m->build_id ? m->build_id : m->file);
	if (k.file == CPROF_NONE || CP_RESERVE(g->mkeys, g->mkeys.n + 1) || ht_reserve(&g->maps))
		return CPROF_ENOMEM;
	g->mkeys.v[g->mkeys.n] = k;     /* the probe key, just past the end */
	uint64_t h = cp_hash_u64(cp_hash_u64(k.size ^ cp_hash_u64(k.offset)) + k.file);
	size_t pos;
	uint32_t found = ht_find(&g->maps, h, mkey_eq, g, &pos);
	if (found != CPROF_NONE) {
		minfo mi = { found, g->p->mappings.v[found].start - m->start };
		g->map_memo[sm] = *out = mi;
		return 0;
	}
	cprof_mapping nm = *m;
	nm.id = g->p->mappings.n + 1;
	nm.file = map_str(g, m->file);
	nm.build_id = map_str(g, m->build_id);
	if (nm.file == CPROF_NONE || nm.build_id == CPROF_NONE)
		return CPROF_ENOMEM;
	int64_t idx = cprof_add_mapping(g->p, &nm);
	if (idx < 0 || ht_insert(&g->maps, pos, h))
		return CPROF_ENOMEM;
	g->mkeys.n++;
	minfo mi = { (uint32_t)idx, 0 };
	g->map_memo[sm] = *out = mi;
	return 0;
}

static uint64_t func_hash(const cprof_function *f)
{
	uint64_t h = cp_hash_u64((uint64_t)f->start_line);
	h = cp_hash_u64(h + f->name);
	h = cp_hash_u64(h + f->system_name);
	return cp_hash_u64(h + f->filename);
}

static bool func_eq(const void *ctx, uint32_t idx)
{
	const merger *g = ctx;
	const cprof_function *k = &g->p->functions.v[g->p->functions.n], *o = &g->p->functions.v[idx];
	return k->start_line == o->start_line && k->name == o->name &&
	       k->system_name == o->system_name && k->filename == o->filename;
}

/* pprof's mapFunction. */
static int64_t map_function(merger *g, uint32_t sf)
{
	if (sf >= g->src->functions.n)
		return CPROF_EFORMAT;
	if (g->func_memo[sf] != CPROF_NONE)
		return g->func_memo[sf];
	const cprof_function *f = &g->src->functions.v[sf];
	cprof_function k = *f;
	k.name = map_str(g, f->name);
	k.system_name = map_str(g, f->system_name);
	k.filename = map_str(g, f->filename);
	if (k.name == CPROF_NONE || k.system_name == CPROF_NONE || k.filename == CPROF_NONE ||
	    CP_RESERVE(g->p->functions, g->p->functions.n + 1) || ht_reserve(&g->funcs))
		return CPROF_ENOMEM;
	k.id = g->p->functions.n + 1;
	g->p->functions.v[g->p->functions.n] = k;       /* probe */
	uint64_t h = func_hash(&k);
	size_t pos;
	uint32_t found = ht_find(&g->funcs, h, func_eq, g, &pos);
	if (found == CPROF_NONE) {
		int64_t idx = cprof_add_function(g->p, &k);
		if (idx < 0 || ht_insert(&g->funcs, pos, h))
			return CPROF_ENOMEM;
		found = (uint32_t)idx;
	}
	g->func_memo[sf] = found;
	return found;
}

typedef struct lkey {
	uint64_t addr;                  /* relative to the mapping's start */
	uint64_t mapping_id;            /* 0 = none */
	bool folded;
	const cprof_line *lines;
	size_t nline;
} lkey;

static lkey loc_key(const cprof_profile *p, const cprof_location *l)
{
	lkey k = { l->address, 0, l->is_folded, p->lines.v ? p->lines.v + l->line_off : NULL, l->nline };
	if (l->mapping != CPROF_NONE) {
		k.addr -= p->mappings.v[l->mapping].start;
		k.mapping_id = p->mappings.v[l->mapping].id;
	}
	return k;
}

static uint64_t lkey_hash(const lkey *k)
{
	uint64_t h = cp_hash_u64(k->addr ^ cp_hash_u64(k->mapping_id + 2 * (uint64_t)k->folded));
	for (size_t i = 0; i < k->nline; i++)
		h = cp_hash_u64(h + k->lines[i].function) ^ cp_hash_u64((uint64_t)k->lines[i].line + h);
	return cp_hash_u64(h + k->nline);
}

typedef struct lprobe {
	const merger *g;
	lkey k;
} lprobe;

static bool loc_eq(const void *ctx, uint32_t idx)
{
	const lprobe *pr = ctx;
	const cprof_profile *p = pr->g->p;
	lkey o = loc_key(p, &p->locations.v[idx]);
	if (o.addr != pr->k.addr || o.mapping_id != pr->k.mapping_id ||
	    o.folded != pr->k.folded || o.nline != pr->k.nline)
		return false;
	for (size_t i = 0; i < o.nline; i++)
		if (o.lines[i].function != pr->k.lines[i].function ||
		    o.lines[i].line != pr->k.lines[i].line)
			return false;
	return true;
}

/* pprof's mapLocation. */
int64_t cp_merge_location(merger *g, uint32_t sl)
{
	if (sl >= g->src->locations.n)
		return CPROF_EFORMAT;
	if (g->loc_memo[sl] != CPROF_NONE)
		return g->loc_memo[sl];
	const cprof_location *l = &g->src->locations.v[sl];
	minfo mi;
	int e = map_mapping(g, l->mapping, &mi);
	if (e)
		return e;
	if ((size_t)l->line_off + l->nline > g->src->lines.n)
		return CPROF_EFORMAT;
	g->lines.n = 0;
	if (CP_RESERVE(g->lines, l->nline))
		return CPROF_ENOMEM;
	for (uint32_t i = 0; i < l->nline; i++) {
		const cprof_line *sln = &g->src->lines.v[l->line_off + i];
		int64_t f = map_function(g, sln->function);
		if (f < 0)
			return f;
		cprof_line ln = { (uint32_t)f, sln->line, sln->column };
		g->lines.v[g->lines.n++] = ln;
	}
	cprof_location nl = *l;
	nl.id = g->p->locations.n + 1;
	nl.mapping = mi.m;
	nl.address = l->address + mi.delta;
	lprobe pr = { g, { nl.address, 0, nl.is_folded, g->lines.v, g->lines.n } };
	if (mi.m != CPROF_NONE) {
		pr.k.addr -= g->p->mappings.v[mi.m].start;
		pr.k.mapping_id = g->p->mappings.v[mi.m].id;
	}
	if (ht_reserve(&g->locs))
		return CPROF_ENOMEM;
	uint64_t h = lkey_hash(&pr.k);
	size_t pos;
	uint32_t found = ht_find(&g->locs, h, loc_eq, &pr, &pos);
	if (found == CPROF_NONE) {
		int64_t idx = cprof_add_location(g->p, &nl, g->lines.v, g->lines.n);
		if (idx < 0 || ht_insert(&g->locs, pos, h))
			return CPROF_ENOMEM;
		found = (uint32_t)idx;
	}
	g->loc_memo[sl] = found;
	return found;
}

int64_t cp_merge_stack(merger *g, uint32_t ss)
{
	if (ss >= cprof_nstacks(g->src))
		return CPROF_EFORMAT;
	if (g->stack_memo[ss] != CPROF_NONE)
		return g->stack_memo[ss];
	size_t n = cprof_stack_len(g->src, ss);
	const uint32_t *locs = n ? cprof_stack_locs(g->src, ss) : NULL;
	g->stk.n = 0;
	if (CP_RESERVE(g->stk, n))
		return CPROF_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int64_t l = cp_merge_location(g, locs[i]);
		if (l < 0)
			return l;
		g->stk.v[g->stk.n++] = (uint32_t)l;
	}
	int64_t st = cprof_intern_stack(g->p, g->stk.v, g->stk.n);
	if (st >= 0)
		g->stack_memo[ss] = (uint32_t)st;
	return st;
}

int64_t cp_merge_labels(merger *g, uint32_t sl)
{
	if (sl == 0)
		return 0;
	if (sl >= cprof_nlsets(g->src))
		return CPROF_EFORMAT;
	if (g->lset_memo[sl] != CPROF_NONE)
		return g->lset_memo[sl];
	size_t n = cprof_lset_len(g->src, sl);
	const cprof_label *ls = n ? cprof_lset(g->src, sl) : NULL;
	g->labs.n = 0;
	if (CP_RESERVE(g->labs, n))
		return CPROF_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		cprof_label l = { map_str(g, ls[i].key), ls[i].str ? map_str(g, ls[i].str) : 0,
				  ls[i].num, ls[i].unit ? map_str(g, ls[i].unit) : 0 };
		if (l.key == CPROF_NONE || l.str == CPROF_NONE || l.unit == CPROF_NONE)
			return CPROF_ENOMEM;
		g->labs.v[g->labs.n++] = l;
	}
	int64_t r = cprof_intern_labels(g->p, g->labs.v, g->labs.n);
	if (r >= 0)
		g->lset_memo[sl] = (uint32_t)r;
	return r;
}

uint64_t cp_merge_skey_hash(uint32_t stack, uint32_t labels)
{
	return cp_hash_u64(((uint64_t)stack << 32 | labels) ^ 0x9e3779b97f4a7c15ULL);
}

typedef struct sprobe {
	const cprof_profile *p;
	uint32_t stack, labels;
} sprobe;

static bool sample_eq(const void *ctx, uint32_t idx)
{
	const sprobe *s = ctx;
	return s->p->samples.v[idx].stack == s->stack && s->p->samples.v[idx].labels == s->labels;
}

/* Per-source unit reconciliation (ScaleProfiles). */
typedef struct srcscale {
	const double *ratio;            /* nvtypes ratios, or NULL for all ones */
} srcscale;

static void free_memos(merger *g)
{
	free(g->str_memo);
	free(g->func_memo);
	free(g->loc_memo);
	free(g->stack_memo);
	free(g->lset_memo);
	free(g->map_memo);
	g->str_memo = g->func_memo = g->loc_memo = g->stack_memo = g->lset_memo = NULL;
	g->map_memo = NULL;
}

static uint32_t *memo_new(size_t n)
{
	uint32_t *m = cp_alloc_n(n, sizeof *m);
	if (m)
		memset(m, 0xff, (n ? n : 1) * sizeof *m);
	return m;
}

/* Start on source src: memo tables indexed by its strings, functions,
 * locations, stacks, label sets and mappings, all "not yet seen"; and, for
 * the first source with mappings, its first mapping (the main binary) goes
 * first in the output, as pprof's Merge does. */
int cp_merge_memos_init(merger *g, const cprof_profile *src)
{
	g->src = src;
	g->str_memo = memo_new(src->str_off.n);
	g->func_memo = memo_new(src->functions.n);
	g->loc_memo = memo_new(src->locations.n);
	g->stack_memo = memo_new(cprof_nstacks(src));
	g->lset_memo = memo_new(cprof_nlsets(src));
	g->map_memo = cp_alloc_n(src->mappings.n, sizeof *g->map_memo);
	if (!g->str_memo || !g->func_memo || !g->loc_memo || !g->stack_memo || !g->lset_memo ||
	    !g->map_memo)
		return CPROF_ENOMEM;
	for (size_t i = 0; i < src->mappings.n; i++)
		g->map_memo[i].m = CPROF_NONE;
	if (g->p->mappings.n == 0 && src->mappings.n > 0) {
		minfo mi;
		return map_mapping(g, 0, &mi);
	}
	return 0;
}

static int merge_source(merger *g, const cprof_profile *src, const double *ratio)
{
	size_t nv = src->vtypes.n;
	int ret = 0;
	int64_t *vals = cp_alloc_n(nv, sizeof *vals);
	if (!vals) {
		ret = CPROF_ENOMEM;
		goto out;
	}
	if ((ret = cp_merge_memos_init(g, src)))
		goto out;
	for (size_t s = 0; s < src->samples.n; s++) {
		const int64_t *sv = cprof_sample_values(src, s);
		bool keep = ratio == NULL, nonzero = false;
		for (size_t i = 0; i < nv; i++) {
			vals[i] = sv[i];
			if (ratio && ratio[i] != 1) {
				vals[i] = go_round(sv[i], ratio[i]);
				keep = keep || vals[i] != 0;
			}
			nonzero = nonzero || vals[i] != 0;
		}
		if (!keep || !nonzero)
			continue;
		int64_t st = cp_merge_stack(g, src->samples.v[s].stack);
		if (st < 0) {
			ret = (int)st;
			goto out;
		}
		int64_t ls = cp_merge_labels(g, src->samples.v[s].labels);
		if (ls < 0) {
			ret = (int)ls;
			goto out;
		}
		if (ht_reserve(&g->samples)) {
			ret = CPROF_ENOMEM;
			goto out;
		}
		sprobe pr = { g->p, (uint32_t)st, (uint32_t)ls };
		uint64_t h = cp_merge_skey_hash(pr.stack, pr.labels);
		size_t pos;
		uint32_t found = ht_find(&g->samples, h, sample_eq, &pr, &pos);
		if (found != CPROF_NONE) {
			int64_t *dv = g->p->values.v + (size_t)found * nv;
			for (size_t i = 0; i < nv; i++)
				dv[i] = (int64_t)((uint64_t)dv[i] + (uint64_t)vals[i]);
			continue;
		}
		if (cprof_add_sample(g->p, pr.stack, pr.labels, vals) < 0 ||
		    ht_insert(&g->samples, pos, h)) {
			ret = CPROF_ENOMEM;
			goto out;
		}
	}
out:
	free(vals);
	free_memos(g);
	return ret;
}

static int add_comment_once(merger *g, const cprof_profile *src, cprof_str c)
{
	cprof_str s = cprof_intern(g->p, cprof_s(src, c), cprof_slen(src, c));
	if (s == CPROF_NONE)
		return CPROF_ENOMEM;
	if (s >= g->seen_comment.n) {
		if (CP_RESERVE(g->seen_comment, (size_t)s + 1))
			return CPROF_ENOMEM;
		memset(g->seen_comment.v + g->seen_comment.n, 0, s + 1 - g->seen_comment.n);
		g->seen_comment.n = (size_t)s + 1;
	}
	if (g->seen_comment.v[s])
		return 0;
	g->seen_comment.v[s] = 1;
	return cprof_add_comment(g->p, s);
}

static cprof_str copy_str(cprof_profile *dst, const char *s, size_t n)
{
	return cprof_intern(dst, s, n);
}

void cp_merger_free(merger *g)
{
	free_memos(g);
	ht_free(&g->maps);
	ht_free(&g->funcs);
	ht_free(&g->locs);
	ht_free(&g->samples);
	CP_FREE(g->mkeys);
	CP_FREE(g->lines);
	CP_FREE(g->stk);
	CP_FREE(g->labs);
	CP_FREE(g->seen_comment);
}

/* pprof's combineHeaders, into a new output profile g->p: sample and period
 * types (units[i] and punit, when given, replace the units), drop/keep
 * frames, the earliest time, the summed duration, the largest period
 * (periods[k], when given, is source k's period), comments without
 * repeats, the first default sample type (and doc URL).  On failure g->p
 * is freed. */
int cp_merge_headers(merger *g, cprof_profile *const *srcs, size_t n, const vt *units,
			 const vt *punit, const int64_t *periods)
{
	const cprof_profile *s0 = srcs[0];
	memset(g, 0, sizeof *g);
	if (!(g->p = cprof_profile_new()))
		return CPROF_ENOMEM;
	cprof_profile *p = g->p;
	for (size_t i = 0; i < s0->vtypes.n; i++) {
		vt t = vt_of(s0, s0->vtypes.v[i]);
		if (units)
			t.unit = units[i].unit, t.un = units[i].un;
		cprof_str a = copy_str(p, t.type, t.tn), b = copy_str(p, t.unit, t.un);
		if (a == CPROF_NONE || b == CPROF_NONE || cprof_add_vtype(p, a, b) < 0)
			goto enomem;
	}
	{
		vt t = vt_of(s0, s0->period_type);
		if (punit)
			t.unit = punit->unit, t.un = punit->un;
		p->period_type.type = copy_str(p, t.type, t.tn);
		p->period_type.unit = copy_str(p, t.unit, t.un);
		p->drop_frames = copy_str(p, cprof_s(s0, s0->drop_frames), cprof_slen(s0, s0->drop_frames));
		p->keep_frames = copy_str(p, cprof_s(s0, s0->keep_frames), cprof_slen(s0, s0->keep_frames));
		if (p->period_type.type == CPROF_NONE || p->period_type.unit == CPROF_NONE ||
		    p->drop_frames == CPROF_NONE || p->keep_frames == CPROF_NONE)
			goto enomem;
	}
	int64_t tn = 0, dur = 0, period = 0;
	for (size_t k = 0; k < n; k++) {
		const cprof_profile *s = srcs[k];
		int64_t sp = periods ? periods[k] : s->period;
		if (tn == 0 || s->time_nanos < tn)
			tn = s->time_nanos;
		dur = (int64_t)((uint64_t)dur + (uint64_t)s->duration_nanos);
		if (period == 0 || period < sp)
			period = sp;
		for (size_t c = 0; c < s->comments.n; c++)
			if (add_comment_once(g, s, s->comments.v[c]))
				goto enomem;
		if (!p->default_sample_type && cprof_slen(s, s->default_sample_type) &&
		    (p->default_sample_type = copy_str(p, cprof_s(s, s->default_sample_type),
						       cprof_slen(s, s->default_sample_type))) == CPROF_NONE)
			goto enomem;
		if (!p->doc_url && cprof_slen(s, s->doc_url) &&
		    (p->doc_url = copy_str(p, cprof_s(s, s->doc_url), cprof_slen(s, s->doc_url))) ==
			    CPROF_NONE)
			goto enomem;
	}
	p->time_nanos = tn;
	p->duration_nanos = dur;
	p->period = period;
	return 0;
enomem:
	cp_merger_free(g);
	cprof_profile_free(g->p);
	g->p = NULL;
	return CPROF_ENOMEM;
}

/* Merge srcs (already checked compatible) into a new profile.  units[i] and
 * punit, when given, replace the units of the result's types; ratios[k]
 * (NULL = none) rescales source k; periods[k] is source k's period. */
static int merge_core(cprof_profile *const *srcs, size_t n, const vt *units, const vt *punit,
		      double *const *ratios, const int64_t *periods, cprof_profile **out)
{
	merger g;
	int ret = cp_merge_headers(&g, srcs, n, units, punit, periods);
	if (ret)
		return ret;
	for (size_t k = 0; k < n; k++)
		if ((ret = merge_source(&g, srcs[k], ratios ? ratios[k] : NULL)))
			break;
	cp_merger_free(&g);
	if (ret) {
		cprof_profile_free(g.p);
		return ret;
	}
	*out = g.p;
	return 0;
}

bool cp_has_zero_sample(const cprof_profile *p)
{
	size_t nv = p->vtypes.n;
	for (size_t s = 0; s < p->samples.n; s++) {
		const int64_t *v = cprof_sample_values(p, s);
		size_t i;
		for (i = 0; i < nv; i++)
			if (v[i] != 0)
				break;
		if (i == nv)
			return true;
	}
	return false;
}

static void fmt_types(char *buf, size_t cap, const cprof_profile *p)
{
	size_t o = 0;
	buf[0] = 0;
	for (size_t i = 0; i < p->vtypes.n && o + 1 < cap; i++) {
		int w = snprintf(buf + o, cap - o, "%s%s/%s", i ? " " : "",
				 cprof_s(p, p->vtypes.v[i].type), cprof_s(p, p->vtypes.v[i].unit));
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

int cprof_merge(cprof_profile *const *srcs, size_t n, cprof_profile **out, cprof_error *err)
{
	if (out)
		*out = NULL;
	if (!out)
		return cprof_seterr(err, CPROF_EINVAL, WHAT ": no place for the result");
	if (!srcs || n == 0)
		return cprof_seterr(err, CPROF_EINVAL, WHAT ": no profiles to merge");
	for (size_t k = 0; k < n; k++)
		if (!srcs[k])
			return cprof_seterr(err, CPROF_EINVAL, WHAT ": profile %zu is missing", k + 1);
	size_t nv = srcs[0]->vtypes.n;
	vt *units = NULL, punit, *col = NULL;
	double **ratios = NULL;
	int64_t *periods = NULL;
	int ret = 0;
	cprof_profile *res = NULL;

	if (n > 1) {
		/* ScaleProfiles: common period and sample types */
		size_t bad[2];
		if (!(col = cp_alloc_n(n, sizeof *col)) ||
		    !(units = cp_alloc_n(nv, sizeof *units)) ||
		    !(ratios = calloc(n, sizeof *ratios)) ||
		    !(periods = cp_alloc_n(n, sizeof *periods))) {
			ret = CPROF_ENOMEM;
			goto out;
		}
		for (size_t k = 0; k < n; k++)
			col[k] = vt_of(srcs[k], srcs[k]->period_type);
		long m = common_type(col, n, bad);
		if (m < 0) {
			ret = cprof_seterr(err, CPROF_EMISMATCH,
					   WHAT ": profiles %zu and %zu have incompatible period types %.*s/%.*s and %.*s/%.*s",
					   bad[0] + 1, bad[1] + 1, (int)col[bad[0]].tn, col[bad[0]].type,
					   (int)col[bad[0]].un, col[bad[0]].unit, (int)col[bad[1]].tn,
					   col[bad[1]].type, (int)col[bad[1]].un, col[bad[1]].unit);
			goto out;
		}
		punit = col[m];
		for (size_t k = 0; k < n; k++) {
			double v = scale_units(srcs[k]->period, col[k].unit, col[k].un, punit.unit, punit.un);
			periods[k] = cp_go_f2i(v);
		}
		for (size_t k = 1; k < n; k++)
			if (srcs[k]->vtypes.n != nv) {
				ret = cprof_seterr(err, CPROF_EMISMATCH,
						   WHAT ": profile 1 has %zu sample types but profile %zu has %zu",
						   nv, k + 1, srcs[k]->vtypes.n);
				goto out;
			}
		for (size_t i = 0; i < nv; i++) {
			for (size_t k = 0; k < n; k++)
				col[k] = vt_of(srcs[k], srcs[k]->vtypes.v[i]);
			m = common_type(col, n, bad);
			if (m < 0) {
				ret = cprof_seterr(err, CPROF_EMISMATCH,
						   WHAT ": sample type %zu: %.*s/%.*s (profile %zu) and %.*s/%.*s (profile %zu) are incompatible",
						   i + 1, (int)col[bad[0]].tn, col[bad[0]].type,
						   (int)col[bad[0]].un, col[bad[0]].unit, bad[0] + 1,
						   (int)col[bad[1]].tn, col[bad[1]].type,
						   (int)col[bad[1]].un, col[bad[1]].unit, bad[1] + 1);
				goto out;
			}
			units[i] = col[m];
		}
		for (size_t k = 0; k < n; k++) {
			bool ones = true;
			double *r = cp_alloc_n(nv, sizeof *r);
			if (!r) {
				ret = CPROF_ENOMEM;
				goto out;
			}
			for (size_t i = 0; i < nv; i++) {
				vt t = vt_of(srcs[k], srcs[k]->vtypes.v[i]);
				r[i] = scale_units(1, t.unit, t.un, units[i].unit, units[i].un);
				ones = ones && r[i] == 1;
			}
			if (ones)
				free(r);
			else
				ratios[k] = r;
		}
		/* Merge's own check: after rescaling, names must be equal */
		vt p0 = vt_of(srcs[0], srcs[0]->period_type);
		for (size_t k = 1; k < n; k++) {
			vt pk = vt_of(srcs[k], srcs[k]->period_type);
			if (pk.tn != p0.tn || memcmp(pk.type, p0.type, p0.tn) != 0) {
				ret = cprof_seterr(err, CPROF_EMISMATCH,
						   WHAT ": profiles 1 and %zu have different period types %.*s and %.*s",
						   k + 1, (int)p0.tn, p0.type, (int)pk.tn, pk.type);
				goto out;
			}
			for (size_t i = 0; i < nv; i++) {
				vt a = vt_of(srcs[0], srcs[0]->vtypes.v[i]), b = vt_of(srcs[k], srcs[k]->vtypes.v[i]);
				a.unit = b.unit = "";
				a.un = b.un = 0;
				if (!vt_equal(a, b)) {
					char t1[120], t2[120];
					fmt_types(t1, sizeof t1, srcs[0]);
					fmt_types(t2, sizeof t2, srcs[k]);
					ret = cprof_seterr(err, CPROF_EMISMATCH,
							   WHAT ": incompatible sample types [%s] (profile 1) and [%s] (profile %zu)",
							   t1, t2, k + 1);
					goto out;
				}
			}
		}
	}

	ret = merge_core(srcs, n, n > 1 ? units : NULL, n > 1 ? &punit : NULL, ratios, periods, &res);
	/* summing produced zero samples: pprof merges the result once more */
	while (ret == 0 && cp_has_zero_sample(res)) {
		cprof_profile *again = NULL;
		ret = merge_core(&res, 1, NULL, NULL, NULL, NULL, &again);
		cprof_profile_free(res);
		res = again;
	}
	if (ret == 0)
		*out = res;
out:
	if (ratios)
		for (size_t k = 0; k < n; k++)
			free(ratios[k]);
	free(ratios);
	free(units);
	free(col);
	free(periods);
	if (ret == CPROF_ENOMEM)
		cprof_seterr(err, ret, WHAT ": out of memory");
	else if (ret == CPROF_EFORMAT)
		cprof_seterr(err, ret, WHAT ": a profile refers to a missing table entry");
	return ret;
}

/* ---- scale, label, compatibilize ------------------------------------------------- */

void cprof_scale(cprof_profile *p, double ratio)
{
	/* with no sample types pprof's ScaleN sees all ratios as 1 */
	if (!p || ratio == 1 || p->vtypes.n == 0)
		return;
	size_t nv = p->vtypes.n, keep = 0;
	for (size_t s = 0; s < p->samples.n; s++) {
		int64_t *v = p->values.v + s * nv;
		bool nonzero = false;
		for (size_t i = 0; i < nv; i++) {
			v[i] = go_round(v[i], ratio);
			nonzero = nonzero || v[i] != 0;
		}
		if (!nonzero)
			continue;
		if (keep != s) {
			p->samples.v[keep] = p->samples.v[s];
			memmove(p->values.v + keep * nv, v, nv * sizeof *v);
		}
		keep++;
	}
	p->samples.n = keep;
	p->values.n = keep * nv;
}

int cprof_add_label_all(cprof_profile *p, const char *key, const char *value)
{
	if (!p || !key || !value)
		return CPROF_EINVAL;
	cprof_str k = cprof_intern_cstr(p, key), v = cprof_intern_cstr(p, value);
	if (k == CPROF_NONE || v == CPROF_NONE)
		return CPROF_ENOMEM;
	size_t nsets = cprof_nlsets(p);
	uint32_t *memo = cp_alloc_n(nsets, sizeof *memo);
	CPROF_VEC(cprof_label) tmp = { 0 };
	int ret = 0;
	if (!memo)
		return CPROF_ENOMEM;
	memset(memo, 0xff, nsets * sizeof *memo);
	for (size_t s = 0; s < p->samples.n; s++) {
		uint32_t old = p->samples.v[s].labels;
		if (memo[old] == CPROF_NONE) {
			size_t n = cprof_lset_len(p, old);
			const cprof_label *ls;
			tmp.n = 0;
			if (CP_RESERVE(tmp, n + 1)) {
				ret = CPROF_ENOMEM;
				break;
			}
			ls = n ? cprof_lset(p, old) : NULL;
			for (size_t i = 0; i < n; i++)
				if (!(ls[i].key == k && ls[i].str != 0))
					tmp.v[tmp.n++] = ls[i];
			cprof_label l = { k, v, 0, 0 };
			tmp.v[tmp.n++] = l;
			int64_t r = cprof_intern_labels(p, tmp.v, tmp.n);
			if (r < 0) {
				ret = (int)r;
				break;
			}
			memo[old] = (uint32_t)r;
		}
		p->samples.v[s].labels = memo[old];
	}
	free(memo);
	CP_FREE(tmp);
	return ret;
}

int cprof_compatibilize(cprof_profile *const *ps, size_t n, cprof_error *err)
{
	if (!ps || n == 0)
		return cprof_seterr(err, CPROF_EINVAL, "compatibilize: no profiles");
	/* count each type name over all profiles, by interning the names */
	cprof_profile *names = cprof_profile_new();
	CPROF_VEC(uint32_t) cnt = { 0 };
	CPROF_VEC(cprof_str) common = { 0 };    /* ids in `names` */
	uint32_t *remap = NULL;
	int64_t *vals = NULL;
	int ret = 0;
	if (!names) {
		ret = CPROF_ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < ps[k]->vtypes.n; i++) {
			cprof_str t = ps[k]->vtypes.v[i].type;
			cprof_str id = cprof_intern(names, cprof_s(ps[k], t), cprof_slen(ps[k], t));
			if (id == CPROF_NONE || CP_RESERVE(cnt, (size_t)id + 1)) {
				ret = CPROF_ENOMEM;
				goto out;
			}
			while (cnt.n <= id)
				cnt.v[cnt.n++] = 0;
			cnt.v[id]++;
		}
	for (size_t i = 0; i < ps[0]->vtypes.n; i++) {
		cprof_str t = ps[0]->vtypes.v[i].type;
		cprof_str id = cprof_intern(names, cprof_s(ps[0], t), cprof_slen(ps[0], t));
		if (id != CPROF_NONE && cnt.v[id] == n && CP_PUSH(common, id)) {
			ret = CPROF_ENOMEM;
			goto out;
		}
	}
	if (common.n == 0) {
		ret = cprof_seterr(err, CPROF_EMISMATCH, "the profiles have no sample type in common");
		goto out;
	}
	if (!(remap = malloc(common.n * sizeof *remap))) {
		ret = CPROF_ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		cprof_profile *p = ps[k];
		const char *dflt = cprof_s(names, common.v[0]);
		size_t dfltn = cprof_slen(names, common.v[0]);
		bool modify = false;
		for (size_t i = 0; i < common.n; i++) {
			const char *want = cprof_s(names, common.v[i]);
			size_t wn = cprof_slen(names, common.v[i]), j;
			if (cprof_slen(p, p->default_sample_type) == wn &&
			    memcmp(cprof_s(p, p->default_sample_type), want, wn) == 0) {
				dflt = want;
				dfltn = wn;
			}
			for (j = 0; j < p->vtypes.n; j++)
				if (cprof_slen(p, p->vtypes.v[j].type) == wn &&
				    memcmp(cprof_s(p, p->vtypes.v[j].type), want, wn) == 0)
					break;
			if (j == p->vtypes.n) {
				ret = cprof_seterr(err, CPROF_EMISMATCH,
						   "profile %zu has no sample type \"%s\"", k + 1, want);
				goto out;
			}
			remap[i] = (uint32_t)j;
			modify = modify || j != i;
		}
		if (!modify && common.n == p->vtypes.n)
			continue;
		size_t nv = p->vtypes.n, nn = common.n;
		cprof_str d = cprof_intern(p, dflt, dfltn);
		vals = cp_alloc_n(p->samples.n, cp_mul(nn, sizeof *vals));
		if (d == CPROF_NONE || !vals) {
			ret = CPROF_ENOMEM;
			goto out;
		}
		for (size_t s = 0; s < p->samples.n; s++)
			for (size_t i = 0; i < nn; i++)
				vals[s * nn + i] = p->values.v[s * nv + remap[i]];
		cprof_vtype *nt = malloc(nn * sizeof *nt);
		if (!nt) {
			ret = CPROF_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < nn; i++)
			nt[i] = p->vtypes.v[remap[i]];
		memcpy(p->vtypes.v, nt, nn * sizeof *nt);
		free(nt);
		p->vtypes.n = nn;
		free(p->values.v);
		p->values.v = vals;
		p->values.n = p->values.cap = p->samples.n * nn;
		if (p->values.cap == 0)
			p->values.cap = 1;
		vals = NULL;
		p->default_sample_type = d;
	}
out:
	cprof_profile_free(names);
	CP_FREE(cnt);
	CP_FREE(common);
	free(remap);
	free(vals);
	if (ret == CPROF_ENOMEM)
		cprof_seterr(err, ret, "compatibilize: out of memory");
	return ret;
}
