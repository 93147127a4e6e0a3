/* stub_graph.c - temporary stub for traces.c; deleted when it lands. */
#include "report_int.h"
int cpr_print_traces(cpr_ctx *c, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
