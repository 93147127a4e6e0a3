/* stub_shell.c - temporary stub for shell.c (the interactive shell); deleted when it lands. */
#include "cli.h"
int cli_shell(cli_opts *o, cprof_profile *p) { cli_die("no report format given and the interactive shell is not built yet; use a report flag such as -top"); }
