/*
 * cprof_report.h - the reports layer: pprof's reports over a profile.
 *
 * The one public header of libcprofreport.a.  Depends only on the profile
 * core (cprof_core.h).  Used by the command, the web UI and the server.
 *
 * A report runs pprof's pipeline over a profile: tag pseudo-frames, filters
 * (focus, ignore, hide, show, show_from, prune_from, tag filters), the sample
 * value chosen by sample_index/mean, the total, aggregation at a granularity,
 * then one output format.  The text of every format matches go tool pprof's
 * row for row.
 *
 * Ownership and threads: cprof_report modifies the profile it is given (the
 * filters and aggregation are applied in place); pass a copy
 * (cprof_profile_dup) to keep the original.  Reports on different profiles
 * may run in parallel.  Nothing here is async-signal-safe.
 */
#ifndef CPROF_REPORT_H
#define CPROF_REPORT_H

#include "cprof_core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum cprof_format {
	CPROF_FMT_TEXT,     /* -top / -text */
	CPROF_FMT_TRACES,
	CPROF_FMT_PEEK,
	CPROF_FMT_TREE,
	CPROF_FMT_RAW,
	CPROF_FMT_TAGS,
	CPROF_FMT_COMMENTS,
	/* source and assembly (list.c, disasm.c) */
	CPROF_FMT_LIST,     /* -list=RE */
	CPROF_FMT_DISASM,   /* -disasm=RE */
	/* graphs (dot.c, callgrind.c) */
	CPROF_FMT_DOT,
	CPROF_FMT_SVG,      /* dot -Tsvg, with pan/zoom script */
	CPROF_FMT_PNG,
	CPROF_FMT_PDF,
	CPROF_FMT_PS,
	CPROF_FMT_GIF,
	CPROF_FMT_CALLGRIND,
	/* profiles and stacks (proto_out.c, flame.c) */
	CPROF_FMT_PROTO,    /* the filtered profile, profile.proto gzipped */
	CPROF_FMT_FOLDED,   /* collapsed stacks "root;...;leaf value" */
	CPROF_FMT_FLAMEGRAPH, /* self-contained interactive HTML flame graph */
	CPROF_FMT_FLAMESVG, /* static SVG flame graph */
};

enum cprof_granularity {
	CPROF_GRAN_FUNCTIONS,   /* pprof's default */
	CPROF_GRAN_FILEFUNCTIONS,
	CPROF_GRAN_FILES,
	CPROF_GRAN_LINES,
	CPROF_GRAN_ADDRESSES,
};

/* Options, with pprof's names and defaults (cprof_ropts_init).  Strings are
 * borrowed: they must outlive the cprof_report call.  Every option the
 * front ends set by name is a row of cprof_options (cprof_options.h): see
 * options.c for how to add one. */
typedef struct cprof_ropts {
	int format;                 /* enum cprof_format */
	const char *symbol;         /* the regexp argument of peek (and list...) */
	bool cum;                   /* sort by cum (-cum) */
	int nodecount;              /* -1: the format's default */
	double nodefraction;        /* 0.005 */
	double edgefraction;        /* 0.001 */
	bool trim;                  /* true */
	const char *sample_index;   /* NULL: default_sample_type or the last */
	bool mean;
	const char *focus, *ignore, *hide, *show, *show_from, *prune_from;
	const char *tagfocus, *tagignore, *tagshow, *taghide;
	const char *tagroot, *tagleaf;
	int granularity;            /* enum cprof_granularity */
	bool noinlines;
	const char *unit;           /* "minimum" */
	bool relative_percentages;
	bool compact_labels;
	bool drop_negative;
	double divide_by;           /* 1 */
	bool call_tree;
	const char *source_path;    /* -list: where to look for sources (':'-separated) */
	const char *trim_path;      /* -list: path prefixes to trim */
	bool intel_syntax;          /* -disasm */
	const char *title;          /* graphs and flame graphs: defaults to the main binary */
	/* carried for the front ends (pprof's config has them); cprof_report
	 * ignores them */
	const char *output;         /* where the front end writes the report */
	bool normalize;             /* scale the sources to the base (when loading) */
} cprof_ropts;

/* pprof's defaults, from the option table (cprof_options.h, options.c). */
void cprof_ropts_init(cprof_ropts *o);

/* Run the report described by o over p (modified in place), writing it to
 * out and warnings ("Focus expression matched no samples", ...) to warn.
 * Returns 0, or a negative CPROF_E* code with a one-line message in err
 * (bad regexp, unknown sample index, ...). */
int cprof_report(cprof_profile *p, const cprof_ropts *o, FILE *out, FILE *warn,
		 cprof_error *err);

#ifdef __cplusplus
}
#endif
#endif
