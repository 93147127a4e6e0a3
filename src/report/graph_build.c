/*
 * graph_build.c - the steps of building a call graph (graph.c runs them in
 * pprof's order): values per distinct stack, cum and flat passes, node
 * selection and order, the edges of the final node set (the whole set, a
 * subset for -peek, or only the listed nodes' incoming-edge flags for
 * -top), and the adjacency lists.  See graph.c for how it works; the build
 * state is graph_int.h's.  Not thread-safe; not signal-safe.
 */
#include "graph_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sum the sample values per distinct stack; mark the stacks that some
 * sample with a nonzero value or divisor touches (pprof skips the others). */
int cpr_gb_sum_stacks(gbuild *b)
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
void cpr_gb_cum_pass(gbuild *b)
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
void cpr_gb_flat_pass(gbuild *b)
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
void cpr_gb_select_nodes(gbuild *b)
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
void cpr_gb_keep_only(gbuild *b, size_t n)
{
	memset(b->mask, 0, b->ninfo);
	for (size_t i = 0; i < n; i++)
		b->mask[b->list[i]] = 1;
	cpr_gb_flat_pass(b);
	cpr_gb_select_nodes(b);
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
int cpr_gb_in_flags_pass(gbuild *b, int64_t edge_cut)
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

/* The last steps on the edges once the nodes are listed: the live incoming
 * edges of listed nodes under edge_cut are removed (pprof trims those only)
 * and counted in dropped_edges unless trimmed_early (edges were trimmed
 * before, and pprof then reports none), the redundant ones too for a
 * visual graph, and the adjacency is built. */
int cpr_gb_trim_edges(cpr_graph *g, const cpr_gopts *go, int64_t edge_cut, bool trimmed_early)
{
	size_t dropped = 0;
	for (size_t i = 0; i < g->nedges; i++) {
		cpr_edge *e = &g->edges[i];
		if (!e->removed && g->node_of[e->dst] != CPR_NIL && cpr_abs64(e->weight) < edge_cut) {
			e->removed = true;
			dropped++;
		}
	}
	g->dropped_edges = trimmed_early ? 0 : dropped;
	if (go->visual && cpr_gb_remove_redundant_edges(g))
		return CPROF_ENOMEM;
	return cpr_gb_adj_build(g, go->sort_edges || go->visual, false);
}

/* Each listed node's in_flags from its live incoming edges (adjacency
 * built). */
void cpr_gb_node_in_flags(cpr_graph *g)
{
	for (size_t i = 0; i < g->nnodes; i++) {
		cpr_node *n = &g->nodes[i];
		for (uint32_t k = 0; k < n->nin; k++)
			n->in_flags |= g->edges[g->in_edges[n->in_off + k]].inl ? CPR_IN_INLINE
										 : CPR_IN_CALL;
	}
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
