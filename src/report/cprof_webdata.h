/*
 * cprof_webdata.h - the data behind the web views (issue 8): a flame
 * graph's tree as JSON, pruned to what can be seen at a zoom, and the
 * caller/callee ("sandwich") trees of one function.
 *
 * Part of libcprofreport.a, independent of any HTTP server: the web UI of
 * `cprof -http` (src/cli/webui.c) serves it, and the continuous profiling
 * server can serve the same JSON to the same front-end components
 * (web/flamegraph.js and the scripts in web/ui).
 *
 * The JSON is the data format of web/flamegraph.js (see its header):
 * { title, sampleType, unit, total, ratio, filters[], nodes[] (preorder,
 * four numbers a node: name index, self, cum, number of children), names[],
 * namePackage[], packages[], pruned{fraction,boxes} } plus, from here,
 * "zoom": the names from the root to the zoomed node, and "focus": the
 * zoomed node's index in nodes (its ancestors come first, one child each).
 *
 * Ownership and threads: a cprof_flame is immutable once built; writes on
 * one flame may run in parallel.  Nothing here is async-signal-safe.
 */
#ifndef CPROF_WEBDATA_H
#define CPROF_WEBDATA_H

#include "cprof_report.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cprof_flame cprof_flame;

/* Run the flame graph report (options o; its format is ignored) over p
 * (modified in place, as cprof_report) and keep its tree.  Warnings go to
 * warn.  Returns 0 and *out (free with cprof_flame_free), or a negative
 * CPROF_E* code with a message in err. */
int cprof_flame_build(cprof_profile *p, const cprof_ropts *o, FILE *warn, cprof_flame **out,
		      cprof_error *err);
void cprof_flame_free(cprof_flame *f);

/* Write the tree as JSON, zoomed to the node reached from the root by the
 * frame names zoom[0..nzoom) (as far as they match), its subtree's
 * children narrower than minfrac of the zoomed node merged into one
 * "(other)" box per parent.  Returns 0 or a negative CPROF_E* code. */
int cprof_flame_write(const cprof_flame *f, const char *const *zoom, size_t nzoom, double minfrac,
		      FILE *out);

/* The sandwich of the functions whose name is exactly `name`: with
 * callers false, the merged subtrees of its outermost occurrences (its
 * callees); with callers true, the stacks above it reversed (its callers),
 * each weighted by the occurrence's cum.  The root of the tree is `name`.
 * Pruned at minfrac of the root.  Returns 0 or a negative CPROF_E* code. */
int cprof_flame_write_sandwich(const cprof_flame *f, const char *name, bool callers, double minfrac,
			       FILE *out);

/* The diff of two trees (the profile and its base, each built alone):
 * their union, a frame's width the sum of its two values (as pprof's diff
 * flame graph), zoomed and pruned as cprof_flame_write.  The JSON adds
 * "after" and "before" (each node's cum in f and in base, in node order)
 * and "baseTotal"; a node's self is f's.  Frames only in the base have
 * names appended to the names table.  Returns 0 or a negative code. */
int cprof_flame_write_diff(const cprof_flame *f, const cprof_flame *base, const char *const *zoom,
			   size_t nzoom, double minfrac, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
