/* stub_fetch.c - temporary stubs for fetch.c (URL sources, remote symbolization); deleted when it lands. */
#include "cli.h"
#include <string.h>
bool cli_is_url(const char *src) { return strstr(src, "://") != NULL; }
cprof_profile *cli_fetch_profile(const cli_opts *o, const char *url) { cli_die("%s: fetching profiles over HTTP is not built yet", url); }
int cli_symbolize_remote(cprof_profile *p, const cli_opts *o, const char *url) { return 0; }
