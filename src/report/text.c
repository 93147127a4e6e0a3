/*
 * text.c - the -top / -text report: pprof's TextItems and printText.
 *
 * Builds the trimmed graph (graph.c), picks the report's output unit, prints
 * the header lines, then one row per listed node in the graph's order:
 * flat, flat%, running sum%, cum, cum%, the node's printable name and
 * " (inline)" when every surviving incoming edge is an inlined call, or
 * " (partial-inline)" when only some are.
 */
#include "graph.h"

void cpr_print_value_cols(cpr_ctx *c, int64_t flat, int64_t sum, int64_t cum, FILE *out)
{
	char fv[CPR_LBL], fp[CPR_LBL], sp[CPR_LBL], cv[CPR_LBL], cp[CPR_LBL];
	char pf[CPR_PADBUF], pc[CPR_PADBUF];
	fprintf(out, "%s %s %s %s %s",
		cpr_pad(pf, sizeof pf, cpr_format_value(c, fv, sizeof fv, flat), 10),
		cpr_percentage(fp, sizeof fp, flat, c->total),
		cpr_percentage(sp, sizeof sp, sum, c->total),
		cpr_pad(pc, sizeof pc, cpr_format_value(c, cv, sizeof cv, cum), 10),
		cpr_percentage(cp, sizeof cp, cum, c->total));
}

int cpr_print_text(cpr_ctx *c, cprof_error *err)
{
	cpr_gopts go;
	cpr_graph g;
	cpr_gopts_init(&go, c);
	go.edges = CPR_EDGES_IN_FLAGS;
	int rc = cpr_graph_build(c, &go, &g, err);
	if (rc < 0)
		return rc;
	cpr_select_output_unit(c, &g, false);
	cpr_print_report_labels(c, &g, false, c->out);
	fprintf(c->out, "%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum", "cum");
	int64_t sum = 0;
	for (size_t i = 0; i < g.nnodes; i++) {
		const cpr_node *n = &g.nodes[i];
		int64_t flat = cpr_node_flat(n), cum = cpr_node_cum(n);
		bool inl = n->in_flags & CPR_IN_INLINE, noinl = n->in_flags & CPR_IN_CALL;
		sum = (int64_t)((uint64_t)sum + (uint64_t)flat);
		cpr_print_value_cols(c, flat, sum, cum, c->out);
		fprintf(c->out, "  %s%s\n", cpr_node_name(&g, n),
			inl ? (noinl ? " (partial-inline)" : " (inline)") : "");
	}
	cpr_graph_free(&g);
	return 0;
}
