/*
 * webapi_timeline.h - the web API's routes for an execution trace's
 * timeline (webapi_timeline.c), called by webapi.c.  Internal to
 * libcprofreport.a.  Thread-safe.
 */
#ifndef WEBAPI_TIMELINE_H
#define WEBAPI_TIMELINE_H

#include "cprof_webapi.h"

#include <stdbool.h>

/* Whether path is one of the timeline's (the page or data/timeline*). */
bool cpr_webapi_timeline_path(const char *path);
/* Whether it runs as a job (may read the whole trace). */
bool cpr_webapi_timeline_is_job(const char *path);
/* Answer it into w (zeroed by the caller); tl may be NULL (404). */
void cpr_webapi_timeline(const cprof_timeline *tl, const char *path, cprof_query_get *get,
			 void *ctx, cprof_webresp *w);

#endif
