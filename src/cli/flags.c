/*
 * flags.c - pprof's command-line flags, as tables.
 *
 * Go's flag package rules apply: "-name", "--name", "-name=value", and
 * "-name value" for flags that take a value; boolean flags take "=false".
 * Unlike Go's parser, flags may also follow the sources (a superset of
 * pprof's usage); "--" ends the flags.
 *
 * Adding a flag: add a row to `flags` below (name, kind, the cli_opts field
 * it sets, a one-line help) -- parsing, --help and error messages follow.
 * Adding a report format: add a row to `formats` with the cprof_format value
 * it selects, then handle that value in src/report/report.c.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_BOOL, K_INT, K_FLOAT, K_STR, K_LIST_BASE, K_LIST_DIFF };

struct flag {
	const char *name;
	enum kind kind;
	size_t off;             /* offset in cli_opts */
	const char *help;
};

#define O(f) offsetof(cli_opts, f)

static const struct flag flags[] = {
	/* report options (pprof's config) */
	{ "output", K_STR, O(output), "Output filename for file-based outputs" },
	{ "cum", K_BOOL, O(sort_cum), "Sort entries based on cumulative weight" },
	{ "flat", K_BOOL, O(sort_flat), "Sort entries based on own weight" },
	{ "nodecount", K_INT, O(r.nodecount), "Max number of nodes to show" },
	{ "nodefraction", K_FLOAT, O(r.nodefraction), "Hide nodes below <f>*total" },
	{ "edgefraction", K_FLOAT, O(r.edgefraction), "Hide edges below <f>*total" },
	{ "trim", K_BOOL, O(r.trim), "Honor nodefraction/edgefraction/nodecount defaults" },
	{ "sample_index", K_STR, O(r.sample_index), "Sample value to report (0-based index or name)" },
	{ "mean", K_BOOL, O(r.mean), "Average sample value over first value (count)" },
	{ "focus", K_STR, O(r.focus), "Restricts to samples going through a node matching regexp" },
	{ "ignore", K_STR, O(r.ignore), "Skips paths going through any nodes matching regexp" },
	{ "hide", K_STR, O(r.hide), "Skips nodes matching regexp" },
	{ "show", K_STR, O(r.show), "Only show nodes matching regexp" },
	{ "show_from", K_STR, O(r.show_from), "Drops functions above the highest matched frame" },
	{ "prune_from", K_STR, O(r.prune_from), "Drops any functions below the matched frame" },
	{ "tagfocus", K_STR, O(r.tagfocus), "Restricts to samples with tags in range or matched by regexp" },
	{ "tagignore", K_STR, O(r.tagignore), "Discard samples with tags in range or matched by regexp" },
	{ "tagshow", K_STR, O(r.tagshow), "Only consider tags matching this regexp" },
	{ "taghide", K_STR, O(r.taghide), "Skip tags matching this regexp" },
	{ "tagroot", K_STR, O(r.tagroot), "Adds pseudo stack frames for labels key/value pairs at the callstack root" },
	{ "tagleaf", K_STR, O(r.tagleaf), "Adds pseudo stack frames for labels key/value pairs at the callstack leaf" },
	{ "granularity", K_STR, O(granularity), "functions, filefunctions, files, lines or addresses" },
	{ "functions", K_BOOL, O(g_functions), "Aggregate at the function level (default)" },
	{ "filefunctions", K_BOOL, O(g_filefunctions), "Aggregate at the function level, keeping files apart" },
	{ "files", K_BOOL, O(g_files), "Aggregate at the file level" },
	{ "lines", K_BOOL, O(g_lines), "Aggregate at the source code line level" },
	{ "addresses", K_BOOL, O(g_addresses), "Aggregate at the address level" },
	{ "noinlines", K_BOOL, O(r.noinlines), "Attribute inlined functions to their first out-of-line caller" },
	{ "unit", K_STR, O(r.unit), "Measurement units to display (minimum, auto, or a unit such as ms, MB)" },
	{ "relative_percentages", K_BOOL, O(r.relative_percentages), "Show percentages relative to focused subgraph" },
	{ "compact_labels", K_BOOL, O(r.compact_labels), "Show minimal headers" },
	{ "drop_negative", K_BOOL, O(r.drop_negative), "Ignore negative differences" },
	{ "divide_by", K_FLOAT, O(r.divide_by), "Ratio to divide all samples before visualization" },
	{ "call_tree", K_BOOL, O(r.call_tree), "Create a context-sensitive call tree" },
	{ "source_path", K_STR, O(r.source_path), "Search path for source files (':'-separated)" },
	{ "trim_path", K_STR, O(r.trim_path), "Path to trim from source paths before search" },
	{ "intel_syntax", K_BOOL, O(r.intel_syntax), "Show assembly in Intel syntax" },
	{ "normalize", K_BOOL, O(normalize), "Scales profile based on the base profile" },
	/* sources */
	{ "base", K_LIST_BASE, O(bases), "Source of base profile for profile subtraction" },
	{ "diff_base", K_LIST_DIFF, O(bases), "Source of base profile for comparison" },
	{ "add_comment", K_STR, O(add_comment), "Annotation string to record in the profile" },
	{ "symbolize", K_STR, O(symbolize), "Options for profile symbolization" },
	{ "trace_pprof", K_STR, O(trace_pprof), "Read execution traces as a delay profile: sync, syscall or sched (go tool trace -pprof)" },
	{ "buildid", K_STR, O(buildid), "Override build id for first mapping" },
	{ "tools", K_STR, O(tools), "Path for object tool pathnames" },
	{ "seconds", K_INT, O(seconds), "Length of time for dynamic profiles" },
	{ "timeout", K_INT, O(timeout), "Timeout in seconds for fetching a profile" },
	{ "http", K_STR, O(http), "Present interactive web UI at the specified http host:port" },
	{ "no_browser", K_BOOL, O(no_browser), "Skip opening a browser for the interactive web UI" },
	/* legacy sample-index shortcuts */
	{ "inuse_space", K_BOOL, O(inuse_space), "Same as -sample_index=inuse_space" },
	{ "inuse_objects", K_BOOL, O(inuse_objects), "Same as -sample_index=inuse_objects" },
	{ "alloc_space", K_BOOL, O(alloc_space), "Same as -sample_index=alloc_space" },
	{ "alloc_objects", K_BOOL, O(alloc_objects), "Same as -sample_index=alloc_objects" },
	{ "total_delay", K_BOOL, O(total_delay), "Same as -sample_index=delay" },
	{ "contentions", K_BOOL, O(contentions), "Same as -sample_index=contentions" },
	{ "mean_delay", K_BOOL, O(mean_delay), "Same as -mean -sample_index=delay" },
	{ "help", K_BOOL, O(help), "Show this help" },
	{ "h", K_BOOL, O(help), NULL },
	{ "version", K_BOOL, O(version), "Print the version" },
};

struct format {
	const char *name;
	int format;             /* enum cprof_format */
	bool param;             /* takes a regexp: -peek=RE */
	const char *help;
};

static const struct format formats[] = {
	{ "top", CPROF_FMT_TEXT, false, "Outputs top entries in text form" },
	{ "text", CPROF_FMT_TEXT, false, "Outputs top entries in text form" },
	{ "traces", CPROF_FMT_TRACES, false, "Outputs all profile samples in text form" },
	{ "tree", CPROF_FMT_TREE, false, "Outputs a text rendering of call graph" },
	{ "peek", CPROF_FMT_PEEK, true, "Output callers/callees of functions matching regexp" },
	{ "raw", CPROF_FMT_RAW, false, "Outputs a text representation of the raw profile" },
	{ "tags", CPROF_FMT_TAGS, false, "Outputs all tags in the profile" },
	{ "comments", CPROF_FMT_COMMENTS, false, "Output all profile comments" },
	{ "list", CPROF_FMT_LIST, true, "Output annotated source for functions matching regexp" },
	{ "disasm", CPROF_FMT_DISASM, true, "Output assembly listings annotated with samples" },
	{ "dot", CPROF_FMT_DOT, false, "Outputs a graph in DOT format" },
	{ "svg", CPROF_FMT_SVG, false, "Outputs a graph in SVG format" },
	{ "png", CPROF_FMT_PNG, false, "Outputs a graph image in PNG format" },
	{ "pdf", CPROF_FMT_PDF, false, "Outputs a graph in PDF format" },
	{ "ps", CPROF_FMT_PS, false, "Outputs a graph in PS format" },
	{ "gif", CPROF_FMT_GIF, false, "Outputs a graph image in GIF format" },
	{ "callgrind", CPROF_FMT_CALLGRIND, false, "Outputs a graph in callgrind format" },
	{ "proto", CPROF_FMT_PROTO, false, "Outputs the profile in compressed protobuf format" },
	{ "folded", CPROF_FMT_FOLDED, false, "Outputs collapsed stacks (root;...;leaf value), as FlameGraph reads" },
	{ "flamegraph", CPROF_FMT_FLAMEGRAPH, false, "Outputs a self-contained interactive HTML flame graph" },
	{ "flamesvg", CPROF_FMT_FLAMESVG, false, "Outputs a static SVG flame graph" },
};

bool cli_format_is_binary(int format)
{
	return format == CPROF_FMT_PNG || format == CPROF_FMT_PDF || format == CPROF_FMT_PS ||
	       format == CPROF_FMT_GIF || format == CPROF_FMT_PROTO;
}

#define NELEM(a) (sizeof(a) / sizeof(*(a)))

void cli_opts_init(cli_opts *o)
{
	memset(o, 0, sizeof *o);
	cprof_ropts_init(&o->r);
	o->seconds = -1;
	o->timeout = -1;
}

void cli_usage(FILE *f)
{
	fprintf(f,
		"usage:\n"
		"  cprof <format> [options] [binary] <source> ...\n"
		"  cprof record [-o FILE] [--hz N] [--follow-fork] -- CMD ARGS...\n"
		"\n"
		"Reads profiles in profile.proto format (gzipped or not), Go's and gperftools'\n"
		"legacy formats, and folded stacks; several sources are merged.\n"
		"\n"
		"Output formats (select at most one):\n");
	for (size_t i = 0; i < NELEM(formats); i++) {
		char left[64];
		snprintf(left, sizeof left, "%s%s", formats[i].name, formats[i].param ? "=<regexp>" : "");
		fprintf(f, "    -%-20s %s\n", left, formats[i].help);
	}
	fprintf(f, "\nOptions:\n");
	for (size_t i = 0; i < NELEM(flags); i++) {
		if (!flags[i].help)
			continue;
		const char *arg = "";
		switch (flags[i].kind) {
		case K_INT: arg = "=<n>"; break;
		case K_FLOAT: arg = "=<f>"; break;
		case K_STR: case K_LIST_BASE: case K_LIST_DIFF: arg = "=<s>"; break;
		default: break;
		}
		char left[64];
		snprintf(left, sizeof left, "%s%s", flags[i].name, arg);
		fprintf(f, "    -%-20s %s\n", left, flags[i].help);
	}
	fprintf(f,
		"\n"
		"Sources are files (\"-\" is standard input) or URLs of a profile endpoint.\n"
		"With no output format, cprof opens an interactive shell.\n"
		"\n"
		"Environment:\n"
		"    TZ                    time zone of the Time: header line\n"
		"\n"
		"Examples:\n"
		"    cprof -top cpu.pb.gz\n"
		"    cprof -top -cum -nodecount=20 cpu.pb.gz\n"
		"    cprof -peek='sha256' cpu.pb.gz\n"
		"    cprof -top -sample_index=alloc_space heap.pb.gz\n"
		"    cprof -top -diff_base=before.pb.gz after.pb.gz\n");
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < NELEM(t); i++) {
		if (strcmp(s, t[i]) == 0) { *out = true; return 0; }
		if (strcmp(s, f[i]) == 0) { *out = false; return 0; }
	}
	return -1;
}

static int set_flag(cli_opts *o, const struct flag *fl, const char *val)
{
	char *base = (char *)o + fl->off;
	char *end;
	switch (fl->kind) {
	case K_BOOL:
		if (!val) {
			*(bool *)base = true;
			return 0;
		}
		if (parse_bool(val, (bool *)base) == 0)
			return 0;
		break;
	case K_INT: {
		errno = 0;
		long long v = strtoll(val, &end, 0);
		if (*val && !*end && !errno && v >= -2147483647LL - 1 && v <= 2147483647LL) {
			*(int *)base = (int)v;
			return 0;
		}
		break;
	}
	case K_FLOAT: {
		errno = 0;
		double v = strtod(val, &end);
		if (*val && !*end && !errno && !isnan(v)) {
			*(double *)base = v;
			return 0;
		}
		break;
	}
	case K_STR:
		*(const char **)base = val;
		return 0;
	case K_LIST_BASE:
	case K_LIST_DIFF:
		if (!*val)
			return 0;       /* pprof drops empty entries */
		if (o->nbases && o->diff_base != (fl->kind == K_LIST_DIFF))
			cli_die("-base and -diff_base flags cannot both be specified");
		if (o->nbases >= CLI_MAX_SOURCES)
			cli_die("too many base profiles (at most %d)", CLI_MAX_SOURCES);
		o->diff_base = fl->kind == K_LIST_DIFF;
		o->bases[o->nbases++] = val;
		return 0;
	}
	cli_die("invalid value \"%s\" for flag -%s: parse error (see 'cprof --help')", val, fl->name);
}

int cli_parse(cli_opts *o, int argc, char **argv)
{
	bool flags_done = false;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (flags_done || a[0] != '-' || a[1] == 0) {
			if (o->nsources >= CLI_MAX_SOURCES)
				cli_die("too many sources (at most %d)", CLI_MAX_SOURCES);
			o->sources[o->nsources++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			flags_done = true;
			continue;
		}
		char *name = a + 1 + (a[1] == '-');
		char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const char *val = eq ? eq + 1 : NULL;

		const struct format *fmt = NULL;
		for (size_t k = 0; k < NELEM(formats); k++)
			if (strlen(formats[k].name) == nlen && strncmp(formats[k].name, name, nlen) == 0)
				fmt = &formats[k];
		if (fmt) {
			if (fmt->param) {
				if (!val) {
					if (i + 1 >= argc)
						cli_die("flag needs an argument: -%s", fmt->name);
					val = argv[++i];
				}
				o->peek_re = (char *)val;
			} else if (val) {
				bool b;
				if (parse_bool(val, &b))
					cli_die("invalid value \"%s\" for flag -%s: parse error", val, fmt->name);
				if (!b)
					continue;
			}
			if (o->format_name && strcmp(o->format_name, fmt->name) != 0)
				cli_die("must set at most one output format (got -%s and -%s)",
					o->format_name, fmt->name);
			o->format_name = fmt->name;
			o->r.format = fmt->format;
			continue;
		}
		const struct flag *fl = NULL;
		for (size_t k = 0; k < NELEM(flags); k++)
			if (strlen(flags[k].name) == nlen && strncmp(flags[k].name, name, nlen) == 0)
				fl = &flags[k];
		if (!fl)
			cli_die("flag provided but not defined: -%.*s (see 'cprof --help')", (int)nlen, name);
		if (!val && fl->kind != K_BOOL) {
			if (i + 1 >= argc)
				cli_die("flag needs an argument: -%s", fl->name);
			val = argv[++i];
		}
		set_flag(o, fl, val);
	}
	if (o->help || o->version)
		return 0;

	/* granularity: at most one of the flags, or -granularity=NAME */
	static const char *const gnames[] = { "functions", "filefunctions", "files", "lines", "addresses" };
	bool gset[] = { o->g_functions, o->g_filefunctions, o->g_files, o->g_lines, o->g_addresses };
	int g = -1;
	for (int k = 0; k < 5; k++)
		if (gset[k]) {
			if (g >= 0)
				cli_die("conflicting options set: [%s %s]", gnames[g], gnames[k]);
			g = k;
		}
	if (o->granularity) {
		int k;
		for (k = 0; k < 5; k++)
			if (strcmp(o->granularity, gnames[k]) == 0)
				break;
		if (k == 5)
			cli_die("invalid value \"%s\" for flag -granularity: want functions, filefunctions, files, lines or addresses",
				o->granularity);
		if (g >= 0 && g != k)
			cli_die("conflicting options set: [%s %s]", gnames[g], gnames[k]);
		g = k;
	}
	if (g >= 0)
		o->r.granularity = g;   /* enum order matches gnames */
	if (o->sort_flat && o->sort_cum)
		cli_die("conflicting options set: [flat cum]");
	o->r.cum = o->sort_cum;

	/* legacy shortcuts, in pprof's order; the first one wins */
	struct { bool set; const char *si, *flag; } sc[] = {
		{ o->total_delay, "delay", "-total_delay" },
		{ o->mean_delay, "delay", "-mean_delay" },
		{ o->contentions, "contentions", "-contentions" },
		{ o->inuse_space, "inuse_space", "-inuse_space" },
		{ o->inuse_objects, "inuse_objects", "-inuse_objects" },
		{ o->alloc_space, "alloc_space", "-alloc_space" },
		{ o->alloc_objects, "alloc_objects", "-alloc_objects" },
	};
	for (size_t k = 0; k < NELEM(sc); k++) {
		if (!sc[k].set)
			continue;
		if (!o->r.sample_index || !*o->r.sample_index)
			o->r.sample_index = sc[k].si;
		else
			cli_warn("Multiple value selections, ignoring %s", sc[k].flag);
	}
	if (o->mean_delay)
		o->r.mean = true;
	if (o->r.format == CPROF_FMT_PEEK || o->r.format == CPROF_FMT_LIST ||
	    o->r.format == CPROF_FMT_DISASM)
		o->r.symbol = o->peek_re;
	if (o->no_browser && !o->http)
		cli_die("-no_browser only makes sense with -http");
	if (o->http && o->format_name)
		cli_die("-http is not compatible with an output format on the command line");
	if (o->normalize && !o->nbases)
		cli_die("must have base profile to normalize by");
	return 0;
}
