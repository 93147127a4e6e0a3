/*
 * options.c - the report options and commands as tables (cprof_options.h),
 * with the web's URL parameters read through them.
 *
 * The tables are pprof's internal/driver configFields and commands in one
 * place: the command line's flags (src/cli/flags.c), the shell's variables,
 * help and completion (src/cli/shell.c) and the web's URL parameters
 * (cprof_ropts_from_url below, which report/webapi.c calls) all walk them,
 * so an option or a command is described once.  Rows are in the order
 * `cprof --help` lists them; the shell sorts its listings.
 *
 * To add a report option:
 *   1. a field in cprof_ropts (cprof_report.h) and its use in the report;
 *   2. one row in `cprof_options` below: name, type, O(field), the front ends
 *      that accept it (FLAG, SHELL, URL with its key; FLAME when the flame
 *      graph's tree depends on it), its default, its help (the shell's;
 *      its first line is the flag's unless flag_help says otherwise).
 *   3. its paragraph in docs/cprof.1 (OPTIONS).
 *   That is all the code: the flag, `cprof --help`, the shell's name=value,
 *   `o`, `help NAME`, its tab completion, the URL parameter and the web's
 *   flame cache key follow, and cprof_ropts_init sets the default.  (The
 *   web page offers the parameters it has menus for: a new menu is
 *   web/ui/ui.js's; the URL parameter works without one.)
 *   A choice option (one of a set of names, like granularity) also gets a
 *   cprof_optchoice array: each choice is a bare word in the shell and a
 *   boolean flag.
 * To add a report command (a format): a value in enum cprof_format
 *   (cprof_report.h), its printer in report.c, one row in `cprof_commands`
 *   below (FLAG for -name, SHELL for the shell's command; its usage and
 *   where the shell writes it), cprof_format_is_binary if its output is
 *   binary, and its paragraph in docs/cprof.1 (OUTPUT FORMATS).  The web
 *   API maps its own paths to formats (the `jobs` table of
 *   report/webapi.c): a row there serves it on the web.
 *
 * Threads: the tables are constant; every function is thread-safe.
 */
#include "cprof_options.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define O(f) offsetof(cprof_ropts, f)
#define NELEM(a) (sizeof(a) / sizeof(*(a)))

/* The shell prints option help with its trailing newline as given:
 * pprof's texts, byte for byte. */
static const cprof_optchoice sort_choices[] = {
	{ "cum", 1, "Sort entries based on cumulative weight\n", NULL },
	{ "flat", 0, "Sort entries based on own weight\n", NULL },
	{ NULL, 0, NULL, NULL },
};

static const cprof_optchoice gran_choices[] = {
	{ "functions", CPROF_GRAN_FUNCTIONS,
	  "Aggregate at the function level.\nThe file a function is defined in is ignored.\n",
	  "Aggregate at the function level (default)" },
	{ "filefunctions", CPROF_GRAN_FILEFUNCTIONS,
	  "Aggregate at the function level.\nFunctions of the same name in different files stay apart.\n",
	  "Aggregate at the function level, keeping files apart" },
	{ "files", CPROF_GRAN_FILES, "Aggregate at the file level.", NULL },
	{ "lines", CPROF_GRAN_LINES, "Aggregate at the source code line level.", NULL },
	{ "addresses", CPROF_GRAN_ADDRESSES,
	  "Aggregate at the address level.\nThe output shows the functions' addresses.\n", NULL },
	{ NULL, 0, NULL, NULL },
};

#define FS (CPROF_OPT_FLAG | CPROF_OPT_SHELL)
#define FSU (FS | CPROF_OPT_URL)
#define FSUF (FSU | CPROF_OPT_FLAME)

#define FILTER_HELP_TAG \
	"name=value limits the match to one tag.  Numbers: 1kb, 1kb:10kb,\n" \
	"memory=32mb:  Strings: foo, foo.*bar, mytag=foo.*bar\n"

/* name, type, field, front ends, URL key, default (number, string),
 * URL range and what it wants, choices, help, flag help */
const cprof_option cprof_options[] = {
	{ "output", CPROF_OT_STRING, O(output), FS, NULL, 0, NULL, 0, 0, NULL, NULL,
	  "Output filename for file-based outputs\n", NULL },
	{ "sort", CPROF_OT_CHOICE_BOOL, O(cum), FSU, "sort", 0, NULL, 0, 0, NULL, sort_choices,
	  "", NULL },
	{ "nodecount", CPROF_OT_INT, O(nodecount), FSU, "n", -1, NULL, -1, 1000000, "a node count",
	  NULL,
	  "Max number of nodes to show\n"
	  "Keeps the most significant locations.  In graphs, a dotted edge stands\n"
	  "for a path through nodes that were left out.\n", NULL },
	{ "nodefraction", CPROF_OT_FLOAT, O(nodefraction), FSU, "nf", 0.005, NULL, 0, 1,
	  "a fraction from 0 to 1", NULL, "Hide nodes below <f>*total", NULL },
	{ "edgefraction", CPROF_OT_FLOAT, O(edgefraction), FSU, "ef", 0.001, NULL, 0, 1,
	  "a fraction from 0 to 1", NULL, "Hide edges below <f>*total", NULL },
	{ "trim", CPROF_OT_BOOL, O(trim), FSU, "trim", 1, NULL, 0, 0, NULL, NULL,
	  "Honor nodefraction/edgefraction/nodecount defaults\n"
	  "trim=false shows the whole profile.\n", NULL },
	{ "sample_index", CPROF_OT_STRING, O(sample_index), FSUF, "si", 0, NULL, 0, 0, NULL, NULL,
	  "Sample value to report (0-based index or name)\n"
	  "A profile may carry several values per sample; sample_index=i picks\n"
	  "the i-th (from 0).\n", NULL },
	{ "mean", CPROF_OT_BOOL, O(mean), FSUF, "mean", 0, NULL, 0, 0, NULL, NULL,
	  "Average sample value over first value (count)\n"
	  "Heap profiles: bytes per allocation; time profiles: time per event.\n", NULL },
	{ "focus", CPROF_OT_STRING, O(focus), FSUF, "f", 0, NULL, 0, 0, NULL, NULL,
	  "Restricts to samples going through a node matching regexp\n"
	  "Samples with no frame matching the regexp are dropped.  A frame matches\n"
	  "by its function name, file name or object name.\n", NULL },
	{ "ignore", CPROF_OT_STRING, O(ignore), FSUF, "i", 0, NULL, 0, 0, NULL, NULL,
	  "Skips paths going through any nodes matching regexp\n"
	  "Samples with a frame matching the regexp are dropped.  A frame matches\n"
	  "by its function name, file name or object name.\n", NULL },
	{ "hide", CPROF_OT_STRING, O(hide), FSUF, "h", 0, NULL, 0, 0, NULL, NULL,
	  "Skips nodes matching regexp\n"
	  "Matching frames are removed; the rest of their samples stays.\n", NULL },
	{ "show", CPROF_OT_STRING, O(show), FSUF, "s", 0, NULL, 0, 0, NULL, NULL,
	  "Only show nodes matching regexp\n"
	  "Frames that do not match are removed; their samples stay.\n", NULL },
	{ "show_from", CPROF_OT_STRING, O(show_from), FSUF, "sf", 0, NULL, 0, 0, NULL, NULL,
	  "Drops functions above the highest matched frame.\n"
	  "Frames above (callers of) the outermost match are removed.\n", NULL },
	{ "prune_from", CPROF_OT_STRING, O(prune_from), FSUF, "prunefrom", 0, NULL, 0, 0, NULL, NULL,
	  "Drops any functions below the matched frame.\n"
	  "The matching frames and every frame called from them are removed from\n"
	  "each sample.\n", NULL },
	{ "tagfocus", CPROF_OT_STRING, O(tagfocus), FSUF, "tf", 0, NULL, 0, 0, NULL, NULL,
	  "Restricts to samples with tags in range or matched by regexp\n" FILTER_HELP_TAG, NULL },
	{ "tagignore", CPROF_OT_STRING, O(tagignore), FSUF, "ti", 0, NULL, 0, 0, NULL, NULL,
	  "Discard samples with tags in range or matched by regexp\n" FILTER_HELP_TAG, NULL },
	{ "tagshow", CPROF_OT_STRING, O(tagshow), FSUF, "ts", 0, NULL, 0, 0, NULL, NULL,
	  "Only consider tags matching this regexp\n"
	  "Other tags are left out of the reports.\n", NULL },
	{ "taghide", CPROF_OT_STRING, O(taghide), FSUF, "th", 0, NULL, 0, 0, NULL, NULL,
	  "Skip tags matching this regexp\n"
	  "Matching tags are left out of the reports.\n", NULL },
	{ "tagroot", CPROF_OT_STRING, O(tagroot), FS, NULL, 0, NULL, 0, 0, NULL, NULL,
	  "Adds pseudo stack frames for labels key/value pairs at the callstack root.\n"
	  "A comma-separated list of label keys; the first gives the outermost frames.\n", NULL },
	{ "tagleaf", CPROF_OT_STRING, O(tagleaf), FS, NULL, 0, NULL, 0, 0, NULL, NULL,
	  "Adds pseudo stack frames for labels key/value pairs at the callstack leaf.\n"
	  "A comma-separated list of label keys; the last gives the innermost frames.\n", NULL },
	{ "granularity", CPROF_OT_CHOICE, O(granularity), FSUF | CPROF_OPT_FLAG_NAME, "g",
	  CPROF_GRAN_FUNCTIONS, NULL, 0, 0, NULL, gran_choices,
	  "", "functions, filefunctions, files, lines or addresses" },
	{ "noinlines", CPROF_OT_BOOL, O(noinlines), FSUF, "noinlines", 0, NULL, 0, 0, NULL, NULL,
	  "Ignore inlines.\n"
	  "Inlined functions are counted in their first out-of-line caller.\n",
	  "Attribute inlined functions to their first out-of-line caller" },
	{ "unit", CPROF_OT_STRING, O(unit), FSUF, "unit", 0, "minimum", 0, 0, NULL, NULL,
	  "Measurement units to display\n"
	  "Values are scaled to this unit: seconds, milliseconds, nanoseconds... for\n"
	  "time, megabytes, kilobytes, bytes... for memory; \"auto\" scales each value\n"
	  "on its own, \"minimum\" uses the smallest natural unit of the report.\n",
	  "Measurement units to display (minimum, auto, or a unit such as ms, MB)" },
	{ "relative_percentages", CPROF_OT_BOOL, O(relative_percentages), FSU, "rel", 0, NULL, 0, 0,
	  NULL, NULL,
	  "Show percentages relative to focused subgraph\n"
	  "When false, percentages are of the whole profile before focus filters,\n"
	  "which keeps them comparable with the unfocused graph.\n", NULL },
	{ "compact_labels", CPROF_OT_BOOL, O(compact_labels), FSU, "compact", 0, NULL, 0, 0, NULL,
	  NULL, "Show minimal headers", NULL },
	{ "drop_negative", CPROF_OT_BOOL, O(drop_negative), FSUF, "dropneg", 0, NULL, 0, 0, NULL,
	  NULL,
	  "Ignore negative differences\n"
	  "Locations whose value is below zero are left out.\n", NULL },
	{ "divide_by", CPROF_OT_FLOAT, O(divide_by), FS, NULL, 1, NULL, 0, 0, NULL, NULL,
	  "Ratio to divide all samples before visualization\n"
	  "For instance the number of processors or of jobs.\n", NULL },
	{ "call_tree", CPROF_OT_BOOL, O(call_tree), FSU, "calltree", 0, NULL, 0, 0, NULL, NULL,
	  "Create a context-sensitive call tree\n"
	  "A function reached along different call paths is shown once per path.\n", NULL },
	{ "source_path", CPROF_OT_STRING, O(source_path), FS, NULL, 0, NULL, 0, 0, NULL, NULL,
	  "Search path for source files", "Search path for source files (':'-separated)" },
	{ "trim_path", CPROF_OT_STRING, O(trim_path), FS, NULL, 0, NULL, 0, 0, NULL, NULL,
	  "Path to trim from source paths before search", NULL },
	{ "intel_syntax", CPROF_OT_BOOL, O(intel_syntax), FSU, "intel", 0, NULL, 0, 0, NULL, NULL,
	  "Show assembly in Intel syntax\n"
	  "Used by disasm only.\n", NULL },
	{ "normalize", CPROF_OT_BOOL, O(normalize), FS, NULL, 0, NULL, 0, 0, NULL, NULL,
	  "Scales profile based on the base profile.\n"
	  "Applies when the profiles are loaded: set it with -normalize.\n", NULL },
};

const size_t cprof_noptions = NELEM(cprof_options);

const cprof_option *cprof_option_find(const char *name)
{
	for (size_t i = 0; i < NELEM(cprof_options); i++)
		if (strcmp(cprof_options[i].name, name) == 0)
			return &cprof_options[i];
	return NULL;
}

const cprof_option *cprof_option_find_choice(const char *name, const cprof_optchoice **choice)
{
	for (size_t i = 0; i < NELEM(cprof_options); i++)
		for (const cprof_optchoice *c = cprof_options[i].choices; c && c->name; c++)
			if (strcmp(c->name, name) == 0) {
				*choice = c;
				return &cprof_options[i];
			}
	return NULL;
}

void *cprof_option_field(cprof_ropts *o, const cprof_option *d)
{
	return (char *)o + d->off;
}

const void *cprof_option_cfield(const cprof_ropts *o, const cprof_option *d)
{
	return (const char *)o + d->off;
}

const cprof_optchoice *cprof_option_choice_of(const cprof_ropts *o, const cprof_option *d)
{
	const void *f = cprof_option_cfield(o, d);
	int v = d->type == CPROF_OT_CHOICE_BOOL ? *(const bool *)f : *(const int *)f;
	for (const cprof_optchoice *c = d->choices; c && c->name; c++)
		if (c->value == v)
			return c;
	return d->choices;
}

void cprof_option_set_choice(cprof_ropts *o, const cprof_option *d, const cprof_optchoice *c)
{
	void *f = cprof_option_field(o, d);
	if (d->type == CPROF_OT_CHOICE_BOOL)
		*(bool *)f = c->value != 0;
	else
		*(int *)f = c->value;
}

const char *cprof_option_flag_help(const cprof_option *d, const cprof_optchoice *c, char *buf,
				   size_t n)
{
	const char *fh = c ? c->flag_help : d->flag_help;
	const char *h = c ? c->help : d->help;
	if (fh)
		return fh;
	size_t l = strcspn(h, "\n");
	if (l && h[l - 1] == '.')
		l--;
	snprintf(buf, n, "%.*s", (int)l, h);
	return buf;
}

void cprof_ropts_init(cprof_ropts *o)
{
	memset(o, 0, sizeof *o);
	o->format = CPROF_FMT_TEXT;
	for (size_t i = 0; i < NELEM(cprof_options); i++) {
		const cprof_option *d = &cprof_options[i];
		void *f = cprof_option_field(o, d);
		switch (d->type) {
		case CPROF_OT_BOOL:
		case CPROF_OT_CHOICE_BOOL: *(bool *)f = d->dflt != 0; break;
		case CPROF_OT_INT:
		case CPROF_OT_CHOICE: *(int *)f = (int)d->dflt; break;
		case CPROF_OT_FLOAT: *(double *)f = d->dflt; break;
		case CPROF_OT_STRING: *(const char **)f = d->dflt_str; break;
		}
	}
}

/* ---- the web's URL parameters -------------------------------------------------- */

/* A number within [lo, hi], the whole text a number (an int: decimal). */
static bool url_number(const char *v, bool integer, double lo, double hi, double *out)
{
	char *e;
	double d = integer ? (double)strtol(v, &e, 10) : strtod(v, &e);
	if (e == v || *e || !isfinite(d) || d < lo || d > hi)
		return false;
	*out = d;
	return true;
}

/* "KEY: want a, b or c" for a choice option d. */
static void want_choices(const cprof_option *d, char *msg, size_t n)
{
	size_t w = (size_t)snprintf(msg, n, "%s: want ", d->url);
	for (const cprof_optchoice *c = d->choices; c->name && w < n; c++)
		w += (size_t)snprintf(msg + w, n - w, "%s%s", c == d->choices ? ""
				      : c[1].name ? ", " : " or ", c->name);
}

int cprof_ropts_from_url(cprof_ropts *o, cprof_query_get *get, void *ctx, char *msg, size_t n)
{
	for (size_t i = 0; i < NELEM(cprof_options); i++) {
		const cprof_option *d = &cprof_options[i];
		if (!(d->where & CPROF_OPT_URL))
			continue;
		const char *v = get(ctx, d->url);
		if (!v)
			continue;
		void *f = cprof_option_field(o, d);
		double x;
		switch (d->type) {
		case CPROF_OT_STRING:
			*(const char **)f = v;
			break;
		case CPROF_OT_BOOL:
			if (!strcmp(v, "t") || !strcmp(v, "true") || !strcmp(v, "1")) {
				*(bool *)f = true;
			} else if (!strcmp(v, "f") || !strcmp(v, "false") || !strcmp(v, "0")) {
				*(bool *)f = false;
			} else {
				snprintf(msg, n, "a boolean parameter takes t or f");
				return -1;
			}
			break;
		case CPROF_OT_INT:
		case CPROF_OT_FLOAT:
			if (!url_number(v, d->type == CPROF_OT_INT, d->url_min, d->url_max, &x)) {
				snprintf(msg, n, "%s: want %s", d->url, d->url_want);
				return -1;
			}
			if (d->type == CPROF_OT_INT)
				*(int *)f = (int)x;
			else
				*(double *)f = x;
			break;
		case CPROF_OT_CHOICE:
		case CPROF_OT_CHOICE_BOOL: {
			const cprof_optchoice *c = d->choices;
			while (c->name && strcmp(c->name, v) != 0)
				c++;
			if (!c->name) {
				want_choices(d, msg, n);
				return -1;
			}
			cprof_option_set_choice(o, d, c);
			break;
		}
		}
	}
	return 0;
}

char *cprof_ropts_flame_key(cprof_query_get *get, void *ctx)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return NULL;
	for (size_t i = 0; i < NELEM(cprof_options); i++) {
		const cprof_option *d = &cprof_options[i];
		if (!(d->where & CPROF_OPT_FLAME))
			continue;
		const char *v = get(ctx, d->url);
		fprintf(m, "%s=%s\x01", d->url, v ? v : "");
	}
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- commands ---------------------------------------------------------------- */

#define CF CPROF_OPT_FLAG
#define CS CPROF_OPT_SHELL
#define U(x) CPROF_USAGE_##x
#define V(x) CPROF_VIS_##x

/* name, format, takes a regexp, front ends, the shell's usage (and its text),
 * where the shell writes it (file suffix, viewer), help, flag help */
const cprof_command cprof_commands[] = {
	{ "top", CPROF_FMT_TEXT, false, CF | CS, U(REPORT_CUM), NULL, V(STDOUT), NULL, NULL,
	  "Outputs top entries in text form", NULL },
	{ "text", CPROF_FMT_TEXT, false, CF | CS, U(REPORT_CUM), NULL, V(STDOUT), NULL, NULL,
	  "Outputs top entries in text form", NULL },
	{ "traces", CPROF_FMT_TRACES, false, CF | CS, U(NONE), NULL, V(STDOUT), NULL, NULL,
	  "Outputs all profile samples in text form", NULL },
	{ "tree", CPROF_FMT_TREE, false, CF | CS, U(REPORT_CUM), NULL, V(STDOUT), NULL, NULL,
	  "Outputs a text rendering of call graph", NULL },
	{ "peek", CPROF_FMT_PEEK, true, CF | CS, U(TEXT),
	  "peek func_regex\nShow the callers and callees of the functions matching func_regex.",
	  V(STDOUT), NULL, NULL, "Output callers/callees of functions matching regexp", NULL },
	{ "raw", CPROF_FMT_RAW, false, CF | CS, U(NONE), NULL, V(STDOUT), NULL, NULL,
	  "Outputs a text representation of the raw profile", NULL },
	{ "tags", CPROF_FMT_TAGS, false, CF | CS, U(TEXT),
	  "tags [tag_regex]* [-ignore_regex]* [>file]\n"
	  "Show the tags whose key:value matches tag_regex and not ignore_regex.",
	  V(STDOUT), NULL, NULL, "Outputs all tags in the profile", NULL },
	{ "comments", CPROF_FMT_COMMENTS, false, CF | CS, U(NONE), NULL, V(STDOUT), NULL, NULL,
	  "Output all profile comments", NULL },
	{ "list", CPROF_FMT_LIST, true, CF | CS, U(LIST), NULL, V(STDOUT), NULL, NULL,
	  "Output annotated source for functions matching regexp", NULL },
	{ "disasm", CPROF_FMT_DISASM, true, CF | CS, U(LIST_REDIRECT), NULL, V(STDOUT), NULL, NULL,
	  "Output assembly listings annotated with samples", NULL },
	{ "dot", CPROF_FMT_DOT, false, CF | CS, U(GRAPH), NULL, V(STDOUT), NULL, NULL,
	  "Outputs a graph in DOT format", NULL },
	{ "svg", CPROF_FMT_SVG, false, CF | CS, U(GRAPH), NULL, V(AWAY), "svg", NULL,
	  "Outputs a graph in SVG format", NULL },
	{ "png", CPROF_FMT_PNG, false, CF | CS, U(GRAPH), NULL, V(AWAY), "png", NULL,
	  "Outputs a graph image in PNG format", NULL },
	{ "pdf", CPROF_FMT_PDF, false, CF | CS, U(GRAPH), NULL, V(AWAY), "pdf", NULL,
	  "Outputs a graph in PDF format", NULL },
	{ "ps", CPROF_FMT_PS, false, CF | CS, U(GRAPH), NULL, V(AWAY), "ps", NULL,
	  "Outputs a graph in PS format", NULL },
	{ "gif", CPROF_FMT_GIF, false, CF | CS, U(GRAPH), NULL, V(AWAY), "gif", NULL,
	  "Outputs a graph image in GIF format", NULL },
	{ "callgrind", CPROF_FMT_CALLGRIND, false, CF | CS, U(GRAPH), NULL, V(AWAY), "callgraph.out",
	  NULL, "Outputs a graph in callgrind format", NULL },
	{ "proto", CPROF_FMT_PROTO, false, CF | CS, U(NONE), NULL, V(AWAY), "pb.gz", NULL,
	  "Outputs the profile in compressed protobuf format", NULL },
	{ "folded", CPROF_FMT_FOLDED, false, CF | CS, U(GRAPH), NULL, V(STDOUT), NULL, NULL,
	  "Outputs collapsed stacks (root;...;leaf value)",
	  "Outputs collapsed stacks (root;...;leaf value), as FlameGraph reads" },
	{ "flamegraph", CPROF_FMT_FLAMEGRAPH, false, CF | CS, U(GRAPH), NULL, V(AWAY), "html", NULL,
	  "Outputs a self-contained interactive HTML flame graph", NULL },
	{ "flamesvg", CPROF_FMT_FLAMESVG, false, CF | CS, U(GRAPH), NULL, V(AWAY), "svg", NULL,
	  "Outputs a static SVG flame graph", NULL },
	/* the shell's viewers */
	{ "web", CPROF_FMT_SVG, false, CS, U(VIEW), NULL, V(VIEW), "svg", "",
	  "Visualize graph through web browser", NULL },
	{ "eog", CPROF_FMT_SVG, false, CS, U(VIEW), NULL, V(VIEW), "svg", "eog",
	  "Visualize graph through eog", NULL },
	{ "evince", CPROF_FMT_PDF, false, CS, U(VIEW), NULL, V(VIEW), "pdf", "evince",
	  "Visualize graph through evince", NULL },
	{ "gv", CPROF_FMT_PS, false, CS, U(VIEW), NULL, V(VIEW), "ps", "gv --noantialias",
	  "Visualize graph through gv", NULL },
	{ "kcachegrind", CPROF_FMT_CALLGRIND, false, CS, U(VIEW), NULL, V(VIEW), "grind",
	  "kcachegrind", "Visualize report in KCachegrind", NULL },
};

const size_t cprof_ncommands = NELEM(cprof_commands);

const cprof_command *cprof_command_find(const char *name, unsigned where)
{
	for (size_t i = 0; i < NELEM(cprof_commands); i++)
		if ((cprof_commands[i].where & where) && strcmp(cprof_commands[i].name, name) == 0)
			return &cprof_commands[i];
	return NULL;
}

bool cprof_format_is_binary(int format)
{
	return format == CPROF_FMT_PNG || format == CPROF_FMT_PDF || format == CPROF_FMT_PS ||
	       format == CPROF_FMT_GIF || format == CPROF_FMT_PROTO;
}
