/* stub_symbolize.c - temporary stub for symbolize.c (the -symbolize modes); deleted when it lands. */
#include "cli.h"
void cli_symbolize(cprof_profile *p, const cli_opts *o) { }
