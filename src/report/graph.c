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
	if (cpr_gb_sum_stacks(&b))
		goto out;

	/* The complete graph. */
	cpr_gb_cum_pass(&b);
	cpr_gb_flat_pass(&b);
	cpr_gb_select_nodes(&b);
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
			cpr_gb_keep_only(&b, kept);
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
			cpr_gb_keep_only(&b, keep);
			if (go->visual ? cpr_gb_entropy_sort(&b) : (cpr_gb_sort_list(&b), 0))
				goto out;
			edges_trimmed_early = false;
		}
	}

	/* Edges of the final node set, then the edge fraction. */
	if (cpr_gb_finish_nodes(&b))
		goto out;
	if (go->edges == CPR_EDGES_IN_FLAGS) {
		if (cpr_gb_in_flags_pass(&b, edge_cut) || cpr_gb_adj_build(g, false, false))
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
	if (cpr_gb_trim_edges(g, go, edge_cut, edges_trimmed_early))
		goto out;
	if (go->tags && (cpr_gb_tags_build(&b, node_cut) || cpr_gb_tags_index(g)))
		goto out;
	cpr_gb_node_in_flags(g);
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
