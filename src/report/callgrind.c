/*
 * callgrind.c - -callgrind: the graph in the Callgrind format that
 * callgrind_annotate and KCachegrind read (pprof's printCallgrind).
 *
 * The graph is built at address granularity with object file names, no
 * trimming, nodes in flat order.  Each node is a cost line "address line
 * cost" under ob=/fl=/fn= headers that are repeated only when the object,
 * file or function changes; its outgoing edges follow as cfl=/cfn=/calls=
 * lines with the edge weight as inclusive cost.  Names are compressed the
 * Callgrind way: "(id) name" the first time, "(id)" after; addresses are
 * written relative to the previous node's when that is shorter.  Functions
 * that share a file and name but are different functions get " [i/n]"
 * suffixes in calls (getDisambiguatedNames).  Costs are integers in the
 * output unit, which is never scaled to show fractions.
 */
#include "graph.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* callgrindName: "(id) name" when new, "(id)" when seen; "" for none. */
static void put_name(FILE *f, cpr_map *m, const cprof_profile *p, cprof_str s, int *rc)
{
	if (!s || !*cprof_s(p, s))
		return;
	bool fresh = false;
	uint64_t *v = cpr_map_slot(m, s, m->n + 1, &fresh);
	if (!v) {
		*rc = CPROF_ENOMEM;
		return;
	}
	if (fresh)
		fprintf(f, "(%" PRIu64 ") %s", *v, cprof_s(p, s));
	else
		fprintf(f, "(%" PRIu64 ")", *v);
}

/* callgrindAddress: "*" when equal, "+N"/"-N" when shorter than 0x.... */
static void put_addr(FILE *f, const cpr_ninfo *prev, uint64_t cur)
{
	char abs_s[24], rel[24];
	snprintf(abs_s, sizeof abs_s, "0x%" PRIx64, cur);
	if (!prev) {
		fputs(abs_s, f);
		return;
	}
	if (prev->address == cur) {
		fputc('*', f);
		return;
	}
	snprintf(rel, sizeof rel, "%+" PRId64, (int64_t)(cur - prev->address));
	fputs(strlen(rel) < strlen(abs_s) ? rel : abs_s, f);
}

static int64_t scaled(const cpr_ctx *c, int64_t v)
{
	const char *u;
	double d = cpr_scale(v, c->sample_unit, c->output_unit, &u);
	if (!(d > -9.2233720368547758e18 && d < 9.2233720368547758e18))
		return INT64_MIN;
	return (int64_t)d;
}

/* The callgrind names of the nodes, disambiguated: disamb[i] is the name
 * string of node i (the function name, or "name [k/n]"). */
static int disambiguate(cpr_graph *g, cprof_profile *p, cprof_str *disamb)
{
	cpr_map count = { 0 }, index = { 0 };
	int rc = CPROF_ENOMEM;
	for (size_t i = 0; i < g->nnodes; i++) {
		const cpr_ninfo *k = &g->infos.v[g->nodes[i].info];
		uint64_t key = ((uint64_t)k->file << 32) | k->name;
		uint64_t *cnt = cpr_map_slot(&count, key, 0, NULL);
		bool fresh = false;
		uint64_t *ix = cpr_map_slot(&index, k->func, 0, &fresh);
		if (!cnt || !ix)
			goto out;
		if (fresh)
			*ix = (*cnt)++;
	}
	for (size_t i = 0; i < g->nnodes; i++) {
		const cpr_ninfo *k = &g->infos.v[g->nodes[i].info];
		uint64_t key = ((uint64_t)k->file << 32) | k->name;
		uint64_t n = *cpr_map_find(&count, key), ix = *cpr_map_find(&index, k->func);
		disamb[i] = k->name;
		if (n > 1) {
			char *s = NULL;
			if (asprintf(&s, "%s [%" PRIu64 "/%" PRIu64 "]", cprof_s(p, k->name), ix + 1, n) < 0)
				goto out;
			disamb[i] = cprof_intern_cstr(p, s);
			free(s);
			if (disamb[i] == CPROF_NONE)
				goto out;
		}
	}
	rc = 0;
out:
	cpr_map_free(&count);
	cpr_map_free(&index);
	return rc;
}

int cpr_print_callgrind(cpr_ctx *c, cprof_error *err)
{
	cpr_gopts go;
	cpr_gopts_init(&go, c);
	go.obj_names = true;
	go.sort_edges = true;
	go.call_tree = c->o->call_tree;
	cpr_graph g;
	int rc = cpr_graph_build(c, &go, &g, err);
	if (rc < 0)
		return rc;
	cpr_select_output_unit(c, &g, true);
	cprof_profile *p = c->p;
	FILE *f = c->out;
	cprof_str *disamb = calloc(g.nnodes ? g.nnodes : 1, sizeof *disamb);
	cpr_map objs = { 0 }, files = { 0 }, names = { 0 };
	if (!disamb || disambiguate(&g, p, disamb) < 0) {
		rc = CPROF_ENOMEM;
		goto out;
	}
	fprintf(f, "positions: instr line\n");
	fprintf(f, "events: %s(%s)\n", c->sample_type, c->output_unit);
	const cpr_ninfo *prev = NULL;
	for (size_t i = 0; i < g.nnodes && !rc; i++) {
		const cpr_node *n = &g.nodes[i];
		const cpr_ninfo *k = &g.infos.v[n->info];
		if (!prev || k->objfile != prev->objfile || k->file != prev->file ||
		    k->name != prev->name) {
			fputs("\nob=", f);
			put_name(f, &objs, p, k->objfile, &rc);
			fputs("\nfl=", f);
			put_name(f, &files, p, k->file, &rc);
			fputs("\nfn=", f);
			put_name(f, &names, p, k->name, &rc);
			fputc('\n', f);
		}
		put_addr(f, prev, k->address);
		fprintf(f, " %" PRId64 " %" PRId64 "\n", k->lineno, scaled(c, cpr_node_flat(n)));
		for (uint32_t e = 0; e < n->nout; e++) {
			uint32_t ei = g.out_edges[n->out_off + e];
			const cpr_edge *ed = &g.edges[ei];
			const cpr_ninfo *ck = &g.infos.v[ed->dst];
			uint32_t cn = g.node_of[ed->dst];
			fputs("cfl=", f);
			put_name(f, &files, p, ck->file, &rc);
			fputs("\ncfn=", f);
			put_name(f, &names, p, cn == CPR_NIL ? 0 : disamb[cn], &rc);
			fputs("\ncalls=0 ", f);
			put_addr(f, prev, ck->address);
			fprintf(f, " %" PRId64 "\n", ck->lineno);
			fprintf(f, "* * %" PRId64 "\n", scaled(c, ed->weight));
		}
		prev = k;
	}
out:
	free(disamb);
	cpr_map_free(&objs);
	cpr_map_free(&files);
	cpr_map_free(&names);
	cpr_graph_free(&g);
	if (rc < 0)
		return cprof_seterr(err, rc, "out of memory writing the callgrind report");
	return 0;
}
