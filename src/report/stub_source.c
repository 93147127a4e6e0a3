/* stub_source.c - temporary stubs for list.c and disasm.c; deleted when those land. */
#include "report_int.h"
int cpr_print_list(cpr_ctx *c, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "-list is not built yet"); }
int cpr_print_disasm(cpr_ctx *c, cprof_error *e) { return cprof_seterr(e, CPROF_EINVAL, "-disasm is not built yet"); }
