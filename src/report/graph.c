/*
 * graph.c - the call graph of the samples, its trimming, the report's output
 * unit and header lines: pprof's internal/graph (New, CreateNodes,
 * Nodes.Sort, the trimming steps) and report.newTrimmedGraph,
 * selectOutputUnit and reportLabels.  Node identities are graph_info.c's,
 * the visual extras graph_visual.c's, the call tree graph_tree.c's (see
 * graph_int.h).
 *
 * How it works.  Node identities are interned once per report (cpr_infos),
 * each with its printable name formatted once.  Samples are then summed per
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
 * flags: only the pairs into listed nodes, those that cannot reach the
 * edge cut ruled out first by a sketch of the pairs' weights (one walk),
 * the rest built one callee partition at a time under a memory budget.
 * Everything is index based; no allocation happens per sample or frame.
 */
#include "graph_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- graph construction ----------------------------------------------------- */

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

void cpr_gb_sort_list(gbuild *b)
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
int cpr_gb_edge_pass(gbuild *b, uint32_t part, uint32_t nparts)
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
		if (cpr_gb_edge_pass(b, (uint32_t)part, (uint32_t)nparts))
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
int cpr_gb_adj_build(cpr_graph *g, bool sorted, bool all)
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

/* Fill the listed nodes from the build state. */
int cpr_gb_finish_nodes(gbuild *b)
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
		if (cpr_gb_tree_graph(&b) == 0)
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
	if (go->visual ? cpr_gb_entropy_sort(&b) : (cpr_gb_sort_list(&b), 0))
		goto out;
	bool edges_trimmed_early = false;
	if (go->nodecount > 0) {
		edges_trimmed_early = true;
		size_t keep = (size_t)go->nodecount;
		if (go->visual && go->tags) {
			if (cpr_gb_tags_build(&b, node_cut))
				goto out;
			keep = cpr_gb_visual_count(&b, keep);
		}
		if (keep < b.nlist) {
			if (!b.mask && !(b.mask = xmalloc(b.ninfo, 1)))
				goto out;
			keep_only(&b, keep);
			if (go->visual ? cpr_gb_entropy_sort(&b) : (cpr_gb_sort_list(&b), 0))
				goto out;
			edges_trimmed_early = false;
		}
	}

	/* Edges of the final node set, then the edge fraction. */
	if (cpr_gb_finish_nodes(&b))
		goto out;
	if (go->edges == CPR_EDGES_IN_FLAGS) {
		if (in_flags_pass(&b, edge_cut) || cpr_gb_adj_build(g, false, false))
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
	if (cpr_gb_edge_pass(&b, 0, 1))
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
	if (go->visual && cpr_gb_remove_redundant_edges(g))
		goto out;
	if (cpr_gb_adj_build(g, go->sort_edges || go->visual, false))
		goto out;
	if (go->tags && (cpr_gb_tags_build(&b, node_cut) || cpr_gb_tags_index(g)))
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
