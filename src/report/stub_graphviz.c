/* stub_graphviz.c - temporary stubs for dot.c and callgrind.c; deleted when those land. */
#include "report_int.h"
int cpr_print_dot(cpr_ctx *c, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "graph output is not built yet"); }
int cpr_print_callgrind(cpr_ctx *c, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "-callgrind is not built yet"); }
