/*
 * tree.c - the -tree and -peek reports: pprof's printTree.
 *
 * Builds the trimmed graph (peek runs untrimmed: report.c turns trimming
 * off), then for each listed node, in the graph's order, a block: its
 * callers (incoming edges), the node's own flat/cum line, its callees
 * (outgoing edges); edges come in pprof's edge order and their percentages
 * are of the node's cum.  With a symbol regexp (peek, or tree with an
 * argument) only nodes whose printable name matches get a block, and the
 * running sum% covers only those.  A regexp that matches no node is an
 * error, and then nothing is printed (pprof discards the buffered report).
 * Edge weights print without the -mean divisor, as pprof's do.
 */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

#define SEPARATOR "----------------------------------------------------------+-------------"
#define LEGEND "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t "

static void print_edge(cpr_ctx *c, const cpr_graph *g, const cpr_edge *e, uint32_t other,
		       int64_t cum)
{
	char w[CPR_LBL], pct[CPR_LBL], pw[CPR_PADBUF];
	fprintf(c->out, "%s %s |   %s%s\n",
		cpr_pad(pw, sizeof pw, cpr_format_value(c, w, sizeof w, e->weight), 50),
		cpr_percentage(pct, sizeof pct, e->weight, cum), cpr_info_name(&g->infos, other),
		e->inl ? " (inline)" : "");
}

static bool matches(void *rx, const char *name)
{
	return cpr_regex_match(rx, name, strlen(name));
}

int cpr_print_tree(cpr_ctx *c, cprof_error *err)
{
	cpr_regex *rx = NULL;
	if (c->o->symbol) {
		rx = cpr_regex_compile(c->o->symbol, "parsing argument regexp", err);
		if (!rx)
			return err && err->code ? err->code : CPROF_EINVAL;
	}
	cpr_gopts go;
	cpr_graph g;
	cpr_gopts_init(&go, c);
	if (rx) {               /* only the matching nodes' edges are printed */
		go.edge_filter = matches;
		go.edge_filter_arg = rx;
	}
	int rc = cpr_graph_build(c, &go, &g, err);
	if (rc == 0)
		rc = cpr_regex_status(rx, err);     /* the edge filter's matches */
	if (rc < 0) {
		cpr_regex_free(rx);
		if (rc == CPROF_ELIMIT)
			cpr_graph_free(&g);
		return rc;
	}
	/* Match first: pprof prints nothing when no node matches. */
	uint8_t *match = NULL;
	if (rx) {
		match = calloc(g.nnodes ? g.nnodes : 1, 1);
		if (!match) {
			rc = cprof_seterr(err, CPROF_ENOMEM, "out of memory");
			goto out;
		}
		size_t matched = 0;
		for (size_t i = 0; i < g.nnodes; i++) {
			const char *name = cpr_node_name(&g, &g.nodes[i]);
			match[i] = cpr_regex_match(rx, name, strlen(name));
			matched += match[i];
		}
		if ((rc = cpr_regex_status(rx, err)) < 0)
			goto out;
		if (matched == 0) {
			rc = cprof_seterr(err, CPROF_EINVAL, "no matches found for regexp: %s",
					  c->o->symbol);
			goto out;
		}
	}
	cpr_select_output_unit(c, &g, false);
	cpr_print_report_labels(c, &g, false, c->out);
	fputs(SEPARATOR "\n" LEGEND "\n", c->out);
	int64_t sum = 0;
	for (size_t i = 0; i < g.nnodes; i++) {
		if (match && !match[i])
			continue;
		const cpr_node *n = &g.nodes[i];
		int64_t flat = cpr_node_flat(n), cum = cpr_node_cum(n);
		fputs(SEPARATOR "\n", c->out);
		cpr_node_sort_edges(&g, n);
		for (uint32_t k = 0; k < n->nin; k++) {
			const cpr_edge *e = &g.edges[g.in_edges[n->in_off + k]];
			print_edge(c, &g, e, e->src, cum);
		}
		sum = (int64_t)((uint64_t)sum + (uint64_t)flat);
		cpr_print_value_cols(c, flat, sum, cum, c->out);
		fprintf(c->out, "                | %s\n", cpr_node_name(&g, n));
		for (uint32_t k = 0; k < n->nout; k++) {
			const cpr_edge *e = &g.edges[g.out_edges[n->out_off + k]];
			print_edge(c, &g, e, e->dst, cum);
		}
	}
	if (g.nnodes > 0)
		fputs(SEPARATOR "\n", c->out);
	rc = 0;
out:
	free(match);
	cpr_regex_free(rx);
	cpr_graph_free(&g);
	return rc;
}
