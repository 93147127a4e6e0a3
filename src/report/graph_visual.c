/*
 * graph_visual.c - the visual graph's extras (-dot and the rendered
 * graphs): pprof's entropy node order, the sample tags of nodes (label and
 * "bytes" tags, trimmed like TrimLowFrequencyTags) that count against
 * -nodecount and become dot's nodelets, and the pruning of redundant
 * residual edges.  Works on graph.c's build state (graph_int.h) during
 * cpr_graph_build.  Not thread-safe; not signal-safe.
 */
#include "graph_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
int cpr_gb_remove_redundant_edges(cpr_graph *g)
{
	if (cpr_gb_adj_build(g, true, true))
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
int cpr_gb_entropy_of_edges(gbuild *b);

int cpr_gb_entropy_sort(gbuild *b)
{
	cpr_graph *g = b->g;
	g->nedges = 0;
	if (cpr_gb_edge_pass(b, 0, 1))
		return CPROF_ENOMEM;
	int rc = cpr_gb_entropy_of_edges(b);
	g->nedges = 0;
	return rc;
}

/* entropyScore of the listed nodes over the live edges g->edges, and the
 * sort. */
int cpr_gb_entropy_of_edges(gbuild *b)
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

/* The sample tags one sample adds to node info (Node.addSample). */
int cpr_gb_tags_add(gbuild *b, uint32_t info, cprof_str lbl, const numtag *nt, size_t nn,
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

int cpr_gb_tagctx_init(gbuild *b, tagctx *tc)
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

void cpr_gb_tagctx_free(gbuild *b, tagctx *tc)
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
int cpr_gb_sample_tags(gbuild *b, tagctx *tc, size_t i, cprof_str *lbl, size_t *nn)
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
void cpr_gb_trim_tags(cpr_graph *g, int64_t cut)
{
	size_t kept = 0;
	for (size_t i = 0; i < g->ntags; i++) {
		const cpr_tag *tg = &g->tags[i];
		if (cpr_abs64(tg->flat) >= cut || cpr_abs64(tg->cum) >= cut)
			g->tags[kept++] = *tg;
	}
	g->ntags = kept;
}

int cpr_gb_tags_each(gbuild *b, int64_t cut, cpr_gb_tag_sample_fn fn, void *arg)
{
	cprof_profile *p = b->c->p;
	b->g->ntags = 0;
	tagctx tc;
	if (cpr_gb_tagctx_init(b, &tc))
		return CPROF_ENOMEM;
	int rc = CPROF_ENOMEM;
	for (size_t i = 0; i < p->samples.n; i++) {
		cpr_tagged s = { .i = i, .w = cpr_value(b->c, i), .dw = cpr_meandiv(b->c, i) };
		if (s.w == 0 && s.dw == 0)
			continue;
		int has = cpr_gb_sample_tags(b, &tc, i, &s.lbl, &s.nn);
		if (has < 0)
			goto out;
		if (has && fn(b, &tc, &s, arg))
			goto out;
	}
	cpr_gb_trim_tags(b->g, cut);
	rc = 0;
out:
	cpr_gb_tagctx_free(b, &tc);
	return rc;
}

/* One sample's tags on every kept node of its stack, once each (seen[]
 * marks them with generation *gen). */
static int graph_tag_sample(gbuild *b, const tagctx *tc, const cpr_tagged *s, void *arg)
{
	uint32_t *gen = arg;
	cprof_profile *p = b->c->p;
	const cpr_infos *t = &b->g->infos;
	if (++*gen == 0) {
		memset(b->seen, 0, b->ninfo * sizeof *b->seen);
		*gen = 1;
	}
	uint32_t st = p->samples.v[s->i].stack;
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
			if (b->seen[id] != *gen) {
				b->seen[id] = *gen;
				if (cpr_gb_tags_add(b, id, s->lbl, tc->nt, s->nn, tc->unit, s->w, s->dw,
						    false))
					return CPROF_ENOMEM;
			}
			parent = id;
			residual = false;
		}
	}
	if (parent != CPR_NIL && !residual &&
	    cpr_gb_tags_add(b, parent, s->lbl, tc->nt, s->nn, tc->unit, s->w, s->dw, true))
		return CPROF_ENOMEM;
	return 0;
}

/* The tags of every kept node, then TrimLowFrequencyTags(cut). */
int cpr_gb_tags_build(gbuild *b, int64_t cut)
{
	free(b->thash);
	b->thash = NULL;
	b->thash_cap = 0;
	uint32_t gen = 0;
	memset(b->seen, 0, b->ninfo * sizeof *b->seen);
	return cpr_gb_tags_each(b, cut, graph_tag_sample, &gen);
}

/* selectTopNodes in visual mode: each node counts with its tags that have a
 * flat value (at most 4). */
size_t cpr_gb_visual_count(gbuild *b, size_t max)
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
int cpr_gb_tags_index(cpr_graph *g)
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
