/* stub_filter.c - temporary stubs for filter.c, raw.c, tags.c; deleted when those land. */
#include "report_int.h"
int cpr_tag_roots_leaves(cpr_ctx *c, cprof_error *e) { return 0; }
int cpr_apply_filters(cpr_ctx *c, cprof_error *e) { return 0; }
int cpr_aggregate(cpr_ctx *c, cprof_error *e) { return 0; }
int cpr_print_raw(cpr_ctx *c, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
int cpr_print_tags(cpr_ctx *c, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "not implemented"); }
