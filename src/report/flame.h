/*
 * flame.h - the flame graph's data between the files that make and use it:
 * flametree.c builds the pruned tree of a report's samples, flame.c writes
 * it into the -flamegraph page, flamejson.c keeps it for the web views
 * (cprof_flame_build) without going through the page's text.
 *
 * cpr_flame_data is the JSON document of web/flamegraph.js in memory:
 * the header (version, title, sample type, unit, total, ratio, filters) as
 * its JSON text, the nodes in preorder (name index, self, cum, number of
 * children; values as printed, -divide_by applied), the names and package
 * tables as their strings, and the number of boxes merged into "(other)".
 * It owns all its memory and refers to no profile: it outlives the report.
 * Immutable once built; reading it from several threads is safe.
 */
#ifndef CPROF_FLAME_H
#define CPROF_FLAME_H

#include "graph.h"

#include <stdint.h>
#include <stdio.h>

/* HTML and web views: boxes narrower than this fraction of the root merge
 * into one "(other)" box per parent. */
#define CPR_FLAME_PRUNE (1.0 / 50000)

typedef struct cpr_flame_str {
	char *s;                /* malloc'd, NUL-terminated, may hold NULs */
	size_t len;
} cpr_flame_str;

typedef struct cpr_flame_data {
	char *head;             /* "{\"version\":1, ... \"filters\":[...]" */
	size_t headlen;
	int64_t total;          /* the header's total (as printed) */
	uint32_t n;             /* nodes, preorder; node 0 is the root */
	uint32_t *name, *nkids;
	int64_t *self, *cum;
	cpr_flame_str *names;   /* the names table, in order of first use */
	int64_t *name_pkg;      /* per name: its package's index */
	size_t nnames;
	cpr_flame_str *pkgs;    /* the packages table */
	size_t npkgs;
	size_t pruned;          /* boxes merged into "(other)" */
} cpr_flame_data;

/* flametree.c: the pruned flame tree of c's samples (the -flamegraph
 * page's data).  Returns 0 with *d filled (free with cpr_flame_data_free),
 * or a negative CPROF_E* code with err set.  Adds strings to c->p. */
int cpr_flame_data_build(cpr_ctx *c, cpr_flame_data *d, cprof_error *err);
void cpr_flame_data_free(cpr_flame_data *d);
/* report.c: cprof_report's pipeline (options o, format ignored) with the
 * flame graph's data as its output instead of a page.  Same contract as
 * cpr_flame_data_build; p is modified in place as by cprof_report. */
int cpr_report_flame(cprof_profile *p, const cprof_ropts *o, FILE *warn, cpr_flame_data *d,
		     cprof_error *err);

/* flametree.c: realloc(p, n * el) with the product overflow-checked (NULL
 * then, p untouched); never asks for 0 bytes. */
void *cpr_flame_realloc(void *p, size_t n, size_t el);
/* flametree.c: s[0..n) as a JSON string safe inside <script> ('<', '>', '&',
 * U+2028/9 escaped, invalid UTF-8 replaced by U+FFFD). */
#define cpr_flame_json_str cprof_json_str
/* flametree.c: the length of the valid UTF-8 sequence at s (n > 0 bytes
 * left), or 0 when it is not one. */
static inline size_t cpr_utf8_len(const unsigned char *s, size_t n)
{
	return s[0] < 0x80 ? 1 : cprof_utf8_len(s, n, NULL);   /* the core's counts no ASCII */
}
/* flametree.c: the package of a frame for colouring: its module (lib) when
 * known, else from its name. */
void cpr_flame_name_package(const char *s, size_t n, const char *lib, const char **ps, size_t *pn);
/* flametree.c: the page title: -title, else the main binary's name, else "cprof". */
const char *cpr_flame_title(const cpr_ctx *c);
/* flametree.c: per identity of t, the basename of its location's mapping file
 * (0: none; and none for a Go profile's frames that name their package),
 * interned into p; *out is malloc'd (free it even on error). */
int cpr_flame_libs(cprof_profile *p, const cpr_infos *t, cprof_str **out);
/* flametree.c: a value as printed (-divide_by applied). */
int64_t cpr_flame_out_value(const cpr_ctx *c, int64_t v);

#endif
