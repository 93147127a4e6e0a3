/*
 * webui.h - the web UI of the cprof command (`cprof -http=HOST:PORT`).
 * See webui.c.
 */
#ifndef CPROF_CLI_WEBUI_H
#define CPROF_CLI_WEBUI_H

#include "cli.h"

/* Serve the web UI for the sources in o on o->http until SIGINT/SIGTERM;
 * returns the exit status.  A bad -http value or a port in use is one line
 * on stderr and exit status 2. */
int cli_webui(cli_opts *o);

#endif
