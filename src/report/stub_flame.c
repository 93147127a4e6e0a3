/* stub_flame.c - temporary stubs for proto_out.c and flame.c; deleted when those land. */
#include "report_int.h"
int cpr_print_proto(cpr_ctx *c, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "-proto is not built yet"); }
int cpr_print_folded(cpr_ctx *c, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "-folded is not built yet"); }
int cpr_print_flamegraph(cpr_ctx *c, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "flame graphs are not built yet"); }
