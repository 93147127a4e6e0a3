/*
 * graph_tree.c - pprof's call tree (-call_tree: newTree, TrimTree): one
 * node per distinct path from a root, each a copy of its identity, trimmed
 * by splicing dropped nodes out (their children hang from their parent by
 * residual edges) without rebuilding.  Works on graph.c's build state
 * (graph_int.h) during cpr_graph_build.  Not thread-safe; not signal-safe.
 */
#include "graph_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* One sample's tags on the tree nodes of its path. */
static int tree_tag_sample(gbuild *b, const tagctx *tc, const cpr_tagged *s, void *arg)
{
	cprof_profile *p = b->c->p;
	const cpr_infos *t = &b->g->infos;
	uint32_t st = p->samples.v[s->i].stack;
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
			if (cpr_gb_tags_add(b, (uint32_t)*id, s->lbl, tc->nt, s->nn, tc->unit, s->w,
					    s->dw, false))
				return CPROF_ENOMEM;
			parent = (uint32_t)*id;
		}
	}
	if (parent != CPR_NIL &&
	    cpr_gb_tags_add(b, parent, s->lbl, tc->nt, s->nn, tc->unit, s->w, s->dw, true))
		return CPROF_ENOMEM;
	return 0;
}

/* Tags of the tree nodes: each sample's tags on the nodes of its path. */
static int tree_tags(gbuild *b, int64_t cut)
{
	return cpr_gb_tags_each(b, cut, tree_tag_sample, NULL);
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
int cpr_gb_tree_graph(gbuild *b)
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
	if (go->visual ? cpr_gb_entropy_of_edges(b) : (cpr_gb_sort_list(b), 0)) {
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
			max = cpr_gb_visual_count(b, max);
		if (max < b->nlist) {
			memset(keep, 0, b->ninfo);
			for (size_t i = 0; i < max; i++)
				keep[b->list[i]] = 1;
			if (trim_tree(b, keep) || (go->visual ? cpr_gb_entropy_of_edges(b) : (cpr_gb_sort_list(b), 0))) {
				free(keep);
		free(listed);
				goto out;
			}
		}
	}
	free(keep);
		free(listed);
	if (cpr_gb_finish_nodes(b))
		goto out;
	if (cpr_gb_trim_edges(g, go, edge_cut, edges_trimmed))
		goto out;
	cpr_gb_node_in_flags(g);
	if (go->tags) {
		size_t kt = 0;
		for (size_t i = 0; i < g->ntags; i++)
			if (cpr_abs64(g->tags[i].flat) >= node_cut || cpr_abs64(g->tags[i].cum) >= node_cut)
				g->tags[kt++] = g->tags[i];
		g->ntags = kt;
		if (cpr_gb_tags_index(g))
			goto out;
	}
	rc = 0;
out:
	free(pedge);
	return rc;
}
