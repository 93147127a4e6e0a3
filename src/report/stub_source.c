/* stub_source.c - temporary stub for disasm.c; deleted when it lands. */
#include "report_int.h"
int cpr_print_disasm(cpr_ctx *c, cprof_error *err) { return cprof_seterr(err, CPROF_EINVAL, "-disasm is not built yet"); }
