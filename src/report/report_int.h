/*
 * report_int.h - private interfaces between the files of the reports layer.
 * Names carry the second prefix `cpr_`.  See cprof_report.h for the layer.
 *
 *   measure.c   units and number formatting (pprof's measurement package,
 *               rpt.formatValue)
 *   report.c    cprof_report: the pipeline and the format dispatch
 *   header.c    the header lines (File:, Type:, Time:, Duration:, ...)
 *   filter.c    focus/ignore/hide/show/show_from/prune_from, tag filters,
 *               tagroot/tagleaf, drop_frames, aggregation at a granularity
 *   graph.c     the call graph of the samples, trimming, output unit
 *               (graph_info.c identities, graph_visual.c dot extras,
 *               graph_tree.c call trees)
 *   text.c      -top/-text           tree.c    -tree and -peek
 *   traces.c    -traces              raw.c     -raw
 *   tags.c      -tags
 *   regex.c     regular expressions with Go's error wording
 *   list.c      -list               disasm.c  -disasm
 *   dot.c       -dot/-svg/-png/-pdf callgrind.c -callgrind
 *   proto_out.c -proto              flame.c   -folded, flame graphs (HTML, SVG)
 *                                   flametree.c  the flame graph page's data
 */
#ifndef CPROF_REPORT_INT_H
#define CPROF_REPORT_INT_H

#include "cprof_report.h"
#include "cprof_util.h"

#include <stdio.h>

/* ---- measure.c ----------------------------------------------------------- */

/* Index of the unit family (memory, time, GCU) that knows `unit`, or -1. */
int cpr_unit_family(const char *unit);
/* Scale value from unit `from` to unit `to` ("auto"/"minimum" pick the best);
 * *unit_out gets the printed unit name (static storage). */
double cpr_scale(int64_t value, const char *from, const char *to, const char **unit_out);
/* "%.2f" minus ".00", plus unit; "0" for zero.  Returns buf. */
char *cpr_fmt_float_label(char *buf, size_t n, double v, const char *unit);
char *cpr_scaled_label(char *buf, size_t n, int64_t value, const char *from, const char *to);
char *cpr_label(char *buf, size_t n, int64_t value, const char *unit); /* to "auto" */
/* pprof's Percentage: "  100%", "%5.2f%%", "%5.2g%%". */
char *cpr_percentage(char *buf, size_t n, int64_t value, int64_t total);
/* Go's time.Duration String(). */
char *cpr_go_duration(char *buf, size_t n, int64_t nanos);

#define CPR_LBL 64   /* enough for any label above */

/* ---- filter.c: helpers shared with raw.c and tags.c ---------------------- */

/* The core's growable-vector helper (cprof_reserve). */
#define cpr_reserve cprof_reserve
#define CPR_RESERVE(vec, need) \
	cpr_reserve((void **)&(vec).v, &(vec).cap, (need), sizeof(*(vec).v))

/* The u64 -> u64 hash map of cprof_util.h under the reports' names. */
#define cpr_map cprof_u64map
#define cpr_map_slot cprof_u64map_slot
#define cpr_map_find cprof_u64map_find
#define cpr_map_free cprof_u64map_free

/* Whether pprof sees the label at all: its decoder drops numeric labels
 * whose value is 0 and that have no unit. */
static inline bool cpr_label_present(const cprof_label *l)
{
	return l->str != 0 || l->num != 0 || l->unit != 0;
}

/* ---- report.c: the state of one report ---------------------------------- */

typedef struct cpr_ctx {
	cprof_profile *p;
	const cprof_ropts *o;
	FILE *out, *warn;
	int vi;                 /* index of the sample value reported */
	bool mean;              /* divide by value 0 (-mean) */
	const char *sample_type;/* type name as printed ("mean_" prefixed if mean) */
	char sample_type_buf[128];
	char sample_unit[64];   /* lowercased unit of the chosen type */
	const char *output_unit;/* o->unit, possibly replaced by the graph's choice */
	char output_unit_buf[32];
	double ratio;           /* 1/divide_by (0 or 1: none) */
	int64_t total;
	int nodecount;          /* after the format's default is applied */
	double nodefraction, edgefraction;
	const char *active_filters[16]; /* "focus=RE", ...  (strings owned by ctx) */
	char *active_filter_mem[16];
	size_t nactive;
	/* filter.c: pprof's NumLabelUnits (numeric label key -> unit string),
	 * taken from the profile before any filter; see cpr_num_label_unit */
	cpr_map numunits;
	bool numunits_ready;
} cpr_ctx;

/* Go's int64 arithmetic, which wraps: |v| (|INT64_MIN| is INT64_MIN, as
 * in Go) and a + b.  Values come from the input, so nothing may overflow. */
static inline int64_t cpr_abs64(int64_t v)
{
	return v < 0 ? (int64_t)(0 - (uint64_t)v) : v;
}
static inline int64_t cpr_add64(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}
/* Go's int64(f) on amd64: out of range and NaN give INT64_MIN (a C cast
 * of those is undefined). */
static inline int64_t cpr_d2i64(double f)
{
	return f >= -9223372036854775808.0 && f < 9223372036854775808.0 ? (int64_t)f : INT64_MIN;
}
/* a / b for b != 0, with Go's INT64_MIN / -1 == INT64_MIN (C traps). */
static inline int64_t cpr_div64(int64_t a, int64_t b)
{
	return b == -1 ? (int64_t)(0 - (uint64_t)a) : a / b;
}

/* The value of sample i (value vi, or vi/value0 handled by callers). */
static inline int64_t cpr_value(const cpr_ctx *c, size_t i)
{
	return cprof_sample_values(c->p, i)[c->vi];
}
static inline int64_t cpr_meandiv(const cpr_ctx *c, size_t i)
{
	return c->mean ? cprof_sample_values(c->p, i)[0] : 0;
}
/* measure.c: rpt.formatValue: apply c's ratio, then ScaledLabel(v,
 * sample_unit, output_unit). */
char *cpr_format_value(const cpr_ctx *c, char *buf, size_t n, int64_t v);
/* True if sample i carries the label pprof::base=true (a -diff_base sample). */
bool cpr_is_diff_base(const cpr_ctx *c, size_t i);

/* ---- the one PCRE2 wrapper (core/regex.c, cprof_util.h) under the
 * reports' names ---------------------------------------------------------- */
#define CPR_RX_MATCH_LIMIT CPROF_RX_MATCH_LIMIT
#define CPR_RX_DEPTH_LIMIT CPROF_RX_DEPTH_LIMIT
#define cpr_regex cprof_regex
#define cpr_regex_new cprof_regex_new
#define cpr_regex_compile cprof_regex_compile
#define cpr_regex_match cprof_regex_match
#define cpr_regex_status cprof_regex_status
#define cpr_regex_free cprof_regex_free
#define cpr_regex_errtext cprof_regex_errtext

#define cpr_deadline_set cprof_deadline_set
#define cpr_deadline_passed cprof_deadline_passed

/* list.c, shared with disasm.c: the edge filter that keeps none (the
 * annotated reports print no edges), and a value as -list prints it
 * ("." for 0). */
bool cpr_no_edges(void *arg, const char *name);
const char *cpr_value_or_dot(const cpr_ctx *c, char *buf, size_t n, int64_t v);

/* graph.c: Go's filepath.Clean (Unix) of s[0..n) into out, which has room
 * for n + 2 bytes; returns the length written (no NUL added). */
size_t cpr_path_clean(const char *s, size_t n, char *out);

/* ---- header.c ------------------------------------------------------------ */

/* Print pprof's ProfileLabels lines (File, Build ID, comments, Type, Time,
 * Duration), each followed by '\n'. */
void cpr_print_profile_labels(cpr_ctx *c, FILE *out);
/* The "Active filters:" lines (if any). */
void cpr_print_active_filters(cpr_ctx *c, FILE *out);

/* ---- filter.c ------------------------------------------------------------ */

/* Add tagroot/tagleaf pseudo frames (before filtering). */
int cpr_tag_roots_leaves(cpr_ctx *c, cprof_error *err);
/* pprof's applyFocus: focus/ignore/hide/show/show_from/prune_from,
 * tagfocus/tagignore/tagshow/taghide, drop_frames; records active filters in
 * c and prints "X expression matched no samples" warnings to c->warn. */
int cpr_apply_filters(cpr_ctx *c, cprof_error *err);
/* pprof's aggregate(): reduce locations to the granularity. */
int cpr_aggregate(cpr_ctx *c, cprof_error *err);
/* The unit pprof gives numeric label `key` (NumLabelUnits: the first unit
 * seen, else "bytes" for request/alignment, else the key); 0 if the key
 * has no numeric labels or memory ran out. */
cprof_str cpr_num_label_unit(cpr_ctx *c, cprof_str key);
/* Free what the filters kept in c (called once at the end of a report). */
void cpr_filter_free(cpr_ctx *c);

/* ---- formats -------------------------------------------------------------- */

int cpr_print_text(cpr_ctx *c, cprof_error *err);     /* text.c */
int cpr_print_tree(cpr_ctx *c, cprof_error *err);     /* tree.c: tree and peek */
int cpr_print_traces(cpr_ctx *c, cprof_error *err);   /* traces.c */
int cpr_print_raw(cpr_ctx *c, cprof_error *err);      /* raw.c */
int cpr_print_tags(cpr_ctx *c, cprof_error *err);     /* tags.c */
int cpr_print_comments(cpr_ctx *c, cprof_error *err); /* report.c */
int cpr_print_list(cpr_ctx *c, cprof_error *err);     /* list.c */
int cpr_print_disasm(cpr_ctx *c, cprof_error *err);   /* disasm.c */
/* disasm.c: its parsers of objdump's and nm's output run over text (for
 * fuzz_disasm); the number of instructions and symbols found, or < 0. */
int cpr_disasm_parse(const char *text, size_t len, const char *re, cprof_error *err);
int cpr_print_dot(cpr_ctx *c, cprof_error *err);      /* dot.c: dot, and svg/png/pdf/ps/gif through Graphviz */
int cpr_print_callgrind(cpr_ctx *c, cprof_error *err);/* callgrind.c */
int cpr_print_proto(cpr_ctx *c, cprof_error *err);    /* proto_out.c */
int cpr_print_folded(cpr_ctx *c, cprof_error *err);   /* flame.c */
int cpr_print_flamegraph(cpr_ctx *c, cprof_error *err); /* flame.c: HTML and SVG */

/* ---- web assets: the files in web/, embedded by web/embed.sh (build/gen) ---- */

/* The bytes of web/NAME (NUL-terminated, length in *len), or NULL. */
const char *cpr_web_asset(const char *name, size_t *len);

#endif
