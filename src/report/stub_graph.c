/* stub_graph.c - temporary stubs for graph.c, text.c, tree.c, traces.c; deleted when those land. */
#include "report_int.h"
int cpr_print_text(cpr_ctx *c, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
int cpr_print_tree(cpr_ctx *c, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
int cpr_print_traces(cpr_ctx *c, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
