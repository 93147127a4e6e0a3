/*
 * compact.c - cprof_compact: a profile merged by itself (what
 * cprof_merge(&p, 1) gives, Go pprof's Profile.Compact), in place.
 *
 * The small tables are rebuilt by merge.c's merger (merge_int.h) into a
 * scratch profile; the large ones (stacks, samples, values) are rewritten
 * where they are.  The design is below.  Not thread-safe: it rewrites p.
 */
#include "merge_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- compaction in place ---------------------------------------------------------- */

/*
 * cprof_compact gives p the tables cprof_merge(&p, 1) would build, without a
 * second profile.  The merger above runs unchanged with a scratch profile as
 * its output, so strings, mappings, functions, locations, lines and label
 * sets (all small: distinct content) come out exactly as merge makes them.
 * The large tables are rewritten in p itself:
 *
 *   - samples and values: a sample equal to an earlier one (same new stack
 *     and label set) is added into it, an all-zero one is dropped, and the
 *     rest move down to the next free row.  The first sample of each new
 *     stack is found through head[stack]; only a stack met again with other
 *     labels needs a hash index (usually empty);
 *   - stacks: when the samples meet stacks for the first time in index order
 *     (what every decoder produces: stacks are interned as samples are read),
 *     stack i's new form, its locations mapped, is written at or before where
 *     old stack i starts, so stack_locs is rewritten front to back.  Distinct
 *     stacks stay distinct while no two locations have become one; from the
 *     first time two have (or from the start, when p's stack index is stale
 *     and so vouches for nothing), an index of the new stacks finds a new
 *     stack equal to an earlier one, which is then not kept.  Otherwise (a
 *     profile built by hand or transformed) the stacks are interned into the
 *     scratch profile as merge does, which costs a copy of the stack table.
 *
 * Extra memory: the scratch tables (reserved at their upper bound, the old
 * tables' lengths, so they never reallocate; pages never written cost
 * nothing), memo arrays indexed by old strings, functions, locations,
 * stacks and label sets, and the merger's indexes over the new mappings,
 * functions and locations.  head[] lives in p's stack hash array, stale
 * during the rewrite anyway; p's stack index is freed first and rebuilt at
 * the end, and every table is shrunk to its length.
 */

typedef struct compactor {
	merger g;                       /* g.p: the new small tables; g.src: p */
	cprof_profile *p;
	size_t nz;                      /* samples that are not all zero */
	bool inplace;                   /* new stacks overwrite old ones in p */
	size_t w;                       /* in place: stack_locs words written */
	uint32_t nst;                   /* in place: new stacks */
	size_t nmapped;                 /* in place: old locations mapped */
	uint32_t *sidx;                 /* in place, when needed: new stack + 1 */
	size_t sidx_cap;
	uint32_t *head;                 /* first output sample of each new stack */
	uint32_t nhead;
	uint32_t *ovf;                  /* output sample + 1 of the other samples */
	size_t ovf_n, ovf_cap;
} compactor;

/* A power of two at least 16 with n <= 3/4 of it, or 0 when too large. */
static size_t table_cap(size_t n)
{
	size_t cap = 16;
	while (cap - cap / 4 < n) {
		if (cap > SIZE_MAX / 4)
			return 0;
		cap *= 2;
	}
	return cap;
}

static bool zero_row(const int64_t *v, size_t nv)
{
	for (size_t i = 0; i < nv; i++)
		if (v[i] != 0)
			return false;
	return true;
}

/* What merging would check of the samples it keeps (stack and label set in
 * range, a row of values each), how many it keeps (c->nz), and whether their
 * stacks are met for the first time in index order (c->inplace). */
static int compact_scan(compactor *c)
{
	const cprof_profile *p = c->p;
	size_t ns = cprof_nstacks(p), nls = cprof_nlsets(p), nv = p->vtypes.n;
	c->nz = 0;
	c->inplace = true;
	if (p->values.n != cp_mul(p->samples.n, nv))
		return CPROF_EFORMAT;
	uint64_t *seen = calloc(ns / 64 + 1, sizeof *seen);
	if (!seen)
		return CPROF_ENOMEM;
	uint32_t max = 0;
	bool any = false;
	for (size_t i = 0; i < p->samples.n; i++) {
		cprof_sample s = p->samples.v[i];
		if (nv == 0 || zero_row(p->values.v + i * nv, nv))
			continue;
		if (s.stack >= ns || s.labels >= nls) {
			free(seen);
			return CPROF_EFORMAT;
		}
		c->nz++;
		uint64_t bit = (uint64_t)1 << (s.stack % 64);
		if (!any || s.stack > max) {
			any = true;
			max = s.stack;
			seen[s.stack / 64] |= bit;
		} else if (!(seen[s.stack / 64] & bit)) {
			c->inplace = false;
		}
	}
	free(seen);
	return 0;
}

static uint32_t cstack_hash(const uint32_t *locs, size_t n)
{
	return (uint32_t)cp_hash_bytes(locs, n * sizeof *locs, n);
}

/* In place: the slot of the new stack equal to locs[0..n) in the index of
 * new stacks, or of the empty slot where it goes. */
static size_t sidx_find(const compactor *c, const uint32_t *locs, size_t n)
{
	const cprof_profile *p = c->p;
	size_t mask = c->sidx_cap - 1, j = cstack_hash(locs, n) & mask;
	for (; c->sidx[j]; j = (j + 1) & mask) {
		uint32_t k = c->sidx[j] - 1, ka = p->stack_off.v[k];
		if (p->stack_off.v[k + 1] - ka == n &&
		    (n == 0 || memcmp(p->stack_locs.v + ka, locs, n * sizeof *locs) == 0))
			break;
	}
	return j;
}

/* In place: index the c->nst new stacks written so far. */
static int sidx_build(compactor *c)
{
	size_t ns = cprof_nstacks(c->p);
	c->sidx_cap = table_cap(c->nz < ns ? c->nz : ns);
	if (!c->sidx_cap || !(c->sidx = calloc(c->sidx_cap, sizeof *c->sidx)))
		return CPROF_ENOMEM;
	for (uint32_t k = 0; k < c->nst; k++) {
		uint32_t ka = c->p->stack_off.v[k], n = c->p->stack_off.v[k + 1] - ka;
		size_t j = sidx_find(c, n ? c->p->stack_locs.v + ka : NULL, n);
		c->sidx[j] = k + 1;
	}
	return 0;
}

/* The new index of old stack s (merge's map_stack).  In place, the new
 * stack is written at c->w, which is never past where s starts. */
static int64_t compact_stack(compactor *c, uint32_t s)
{
	merger *g = &c->g;
	cprof_profile *p = c->p;
	if (!c->inplace)
		return cp_merge_stack(g, s);
	if (g->stack_memo[s] != CPROF_NONE)
		return g->stack_memo[s];
	uint32_t a = p->stack_off.v[s], b = p->stack_off.v[s + 1];
	if (b < a || b > p->stack_locs.n || c->w > a)
		return CPROF_EFORMAT;
	size_t n = b - a;
	uint32_t *locs = p->stack_locs.v, *dst = n ? locs + c->w : NULL;
	for (size_t i = 0; i < n; i++) {
		uint32_t old = locs[a + i];             /* read before written */
		if (old < p->locations.n && g->loc_memo[old] == CPROF_NONE)
			c->nmapped++;
		int64_t l = cp_merge_location(g, old);
		if (l < 0)
			return l;
		dst[i] = (uint32_t)l;
	}
	/* two locations became one: new stacks may now be equal */
	if (!c->sidx && c->nmapped != g->p->locations.n) {
		int e = sidx_build(c);
		if (e)
			return e;
	}
	size_t j = 0;
	if (c->sidx) {
		j = sidx_find(c, dst, n);
		if (c->sidx[j]) {
			g->stack_memo[s] = c->sidx[j] - 1;
			return c->sidx[j] - 1;
		}
	}
	/* k <= s: old stacks 0..s-1 gave at most s new ones, so stack_off[k+1]
	 * is at most stack_off[s+1], already read (and equal to it when k == s) */
	uint32_t k = c->nst++;
	c->w += n;
	p->stack_off.v[k + 1] = (uint32_t)c->w;
	if (c->sidx)
		c->sidx[j] = k + 1;
	g->stack_memo[s] = k;
	return k;
}

static size_t ovf_slot(const compactor *c, uint32_t st, uint32_t ls)
{
	const cprof_sample *sv = c->p->samples.v;
	size_t mask = c->ovf_cap - 1, j = cp_merge_skey_hash(st, ls) & mask;
	for (; c->ovf[j]; j = (j + 1) & mask)
		if (sv[c->ovf[j] - 1].stack == st && sv[c->ovf[j] - 1].labels == ls)
			break;
	return j;
}

/* Room for one more sample in the overflow index. */
static int ovf_reserve(compactor *c)
{
	if (c->ovf_cap - c->ovf_cap / 4 > c->ovf_n)
		return 0;
	size_t ocap = c->ovf_cap, ncap = ocap ? ocap * 2 : 64;
	uint32_t *old = c->ovf;
	if (ncap > SIZE_MAX / 8 || !(c->ovf = calloc(ncap, sizeof *c->ovf))) {
		c->ovf = old;
		return CPROF_ENOMEM;
	}
	c->ovf_cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i]) {
			const cprof_sample *s = &c->p->samples.v[old[i] - 1];
			c->ovf[ovf_slot(c, s->stack, s->labels)] = old[i];
		}
	free(old);
	return 0;
}

/* Combine and move the samples down, building the new tables on the way. */
static int compact_samples(compactor *c)
{
	cprof_profile *p = c->p;
	size_t nv = p->vtypes.n, out = 0;
	for (size_t i = 0; i < p->samples.n && nv; i++) {
		const int64_t *v = p->values.v + i * nv;
		cprof_sample s = p->samples.v[i];
		if (zero_row(v, nv))
			continue;
		int64_t st = compact_stack(c, s.stack);
		if (st < 0)
			return (int)st;
		int64_t ls = cp_merge_labels(&c->g, s.labels);
		if (ls < 0)
			return (int)ls;
		uint32_t into = CPROF_NONE;
		size_t j = 0;
		if ((uint32_t)st == c->nhead) {
			c->head[c->nhead++] = (uint32_t)out;    /* a new stack: a new sample */
		} else if (p->samples.v[c->head[st]].labels == ls) {
			into = c->head[st];
		} else {
			if (ovf_reserve(c))
				return CPROF_ENOMEM;
			j = ovf_slot(c, (uint32_t)st, (uint32_t)ls);
			if (c->ovf[j])
				into = c->ovf[j] - 1;
			else
				c->ovf[j] = (uint32_t)out + 1, c->ovf_n++;
		}
		if (into != CPROF_NONE) {
			int64_t *dv = p->values.v + (size_t)into * nv;
			for (size_t k = 0; k < nv; k++)
				dv[k] = (int64_t)((uint64_t)dv[k] + (uint64_t)v[k]);
			continue;
		}
		p->samples.v[out].stack = (uint32_t)st;
		p->samples.v[out].labels = (uint32_t)ls;
		if (out != i)
			memmove(p->values.v + out * nv, v, nv * sizeof *v);
		out++;
	}
	p->samples.n = out;
	p->values.n = out * nv;
	return 0;
}

/* p takes q's tables, keeping its own samples and values (and, in place,
 * its stacks); q is left with what p had, for freeing. */
static void compact_adopt(cprof_profile *p, cprof_profile *q, bool inplace)
{
	cprof_profile old = *p;
	*p = *q;
	p->samples = old.samples;
	p->values = old.values;
	memset(&old.samples, 0, sizeof old.samples);
	memset(&old.values, 0, sizeof old.values);
	if (inplace) {
		p->stack_off = old.stack_off;
		p->stack_locs = old.stack_locs;
		p->stack_hv = old.stack_hv;
		p->stack_hash = old.stack_hash;
		p->stack_hash_cap = old.stack_hash_cap;
		old.stack_off = q->stack_off;
		old.stack_locs = q->stack_locs;
		old.stack_hv = q->stack_hv;
		old.stack_hash = q->stack_hash;
		old.stack_hash_cap = q->stack_hash_cap;
	}
	*q = old;
}

/* Capacity exactly n (at least 1) for an empty or short vector. */
static int reserve_exact(void **v, size_t *cap, size_t n, size_t el)
{
	if (n == 0)
		n = 1;
	if (*cap >= n)
		return 0;
	size_t b = cp_mul(n, el);
	void *nv = b == SIZE_MAX ? NULL : realloc(*v, b);
	if (!nv)
		return CPROF_ENOMEM;
	*v = nv;
	*cap = n;
	return 0;
}
#define RESERVE_EXACT(vec, n) reserve_exact((void **)&(vec).v, &(vec).cap, (n), sizeof *(vec).v)

static void shrink(void **v, size_t *cap, size_t n, size_t el)
{
	if (!*v || *cap <= n || (n == 0 && *cap == 1))
		return;
	size_t b = cp_mul(n ? n : 1, el);
	void *nv = b == SIZE_MAX ? NULL : realloc(*v, b);
	if (nv) {
		*v = nv;
		*cap = n ? n : 1;
	}
}
#define SHRINK(vec) shrink((void **)&(vec).v, &(vec).cap, (vec).n, sizeof *(vec).v)

static void shrink_all(cprof_profile *p)
{
	shrink((void **)&p->str_arena, &p->str_arena_cap, p->str_arena_len, 1);
	SHRINK(p->str_off);
	SHRINK(p->str_len);
	SHRINK(p->vtypes);
	SHRINK(p->mappings);
	SHRINK(p->functions);
	SHRINK(p->lines);
	SHRINK(p->locations);
	SHRINK(p->stack_off);
	SHRINK(p->stack_locs);
	SHRINK(p->stack_hv);
	SHRINK(p->lset_off);
	SHRINK(p->lset_labels);
	SHRINK(p->samples);
	SHRINK(p->values);
	SHRINK(p->comments);
}

/* The scratch tables at their upper bounds (what p has), so that they are
 * written in place and never copied by a reallocation. */
static int reserve_scratch(cprof_profile *q, const cprof_profile *p)
{
	if (reserve_exact((void **)&q->str_arena, &q->str_arena_cap, p->str_arena_len + 1, 1) ||
	    RESERVE_EXACT(q->str_off, p->str_off.n + 1) || RESERVE_EXACT(q->str_len, p->str_off.n + 1) ||
	    RESERVE_EXACT(q->mappings, p->mappings.n) || RESERVE_EXACT(q->functions, p->functions.n) ||
	    RESERVE_EXACT(q->lines, p->lines.n) || RESERVE_EXACT(q->locations, p->locations.n) ||
	    RESERVE_EXACT(q->lset_off, p->lset_off.n) || RESERVE_EXACT(q->lset_labels, p->lset_labels.n))
		return CPROF_ENOMEM;
	return 0;
}

/* One merge of p by itself, in place.  On failure after the rewrite began,
 * p is left with no samples or stacks (consistent, for freeing). */
static int compact_once(cprof_profile *p)
{
	compactor c;
	memset(&c, 0, sizeof c);
	c.p = p;
	int ret = compact_scan(&c);
	if (ret)
		return ret;
	cprof_profile *self[1] = { p };
	if ((ret = cp_merge_headers(&c.g, self, 1, NULL, NULL, NULL)))
		return ret;
	size_t ns = cprof_nstacks(p), maxst = c.nz < ns ? c.nz : ns;
	/* a stale stack index does not vouch for distinct stacks */
	bool distinct = p->stack_hv.n == ns && p->stack_hash;
	if ((ret = reserve_scratch(c.g.p, p)) || (ret = cp_merge_memos_init(&c.g, p)) ||
	    (ret = RESERVE_EXACT(p->stack_hv, maxst)) ||
	    (c.inplace && !distinct && (ret = sidx_build(&c))))
		goto fail;
	/* p's stack index and hashes are stale from here on; head[] takes the
	 * hash array */
	free(p->stack_hash);
	p->stack_hash = NULL;
	p->stack_hash_cap = 0;
	p->stack_hv.n = 0;
	c.head = p->stack_hv.v;
	ret = compact_samples(&c);
	if (ret) {
		p->samples.n = p->values.n = 0;
		if (c.inplace)
			p->stack_off.n = 1, p->stack_locs.n = 0;
		goto fail;
	}
	free(c.sidx);
	free(c.ovf);
	c.sidx = c.ovf = NULL;
	cp_merger_free(&c.g);
	if (c.inplace) {
		p->stack_off.n = (size_t)c.nst + 1;
		p->stack_locs.n = c.w;
		p->stack_hv.n = c.nst;  /* shrunk to this, then recomputed */
	}
	compact_adopt(p, c.g.p, c.inplace);
	cprof_profile_free(c.g.p);
	shrink_all(p);
	/* in place, the stacks need their index (and hashes) rebuilt; it
	 * reads stack_locs.v, which must not be NULL even when empty */
	if (!c.inplace)
		return 0;
	return (!p->stack_locs.v && RESERVE_EXACT(p->stack_locs, 1)) ? CPROF_ENOMEM
								      : cp_rehash_stacks(p);
fail:
	free(c.sidx);
	free(c.ovf);
	cp_merger_free(&c.g);
	cprof_profile_free(c.g.p);
	return ret;
}

int cprof_compact(cprof_profile *p, cprof_error *err)
{
	if (!p)
		return cprof_seterr(err, CPROF_EINVAL, "compact: no profile");
	int ret;
	/* as cprof_merge: summing produced zero samples, so once more */
	do
		ret = compact_once(p);
	while (ret == 0 && cp_has_zero_sample(p));
	if (ret == CPROF_ENOMEM)
		cprof_seterr(err, ret, "compact: out of memory");
	else if (ret == CPROF_EFORMAT)
		cprof_seterr(err, ret, "compact: the profile refers to a missing table entry");
	return ret;
}
