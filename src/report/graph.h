/*
 * graph.h - the call graph of a profile's samples, as pprof's internal/graph
 * builds it for its text and visual reports: identities in graph_info.c,
 * the graph in graph.c, dot's extras in graph_visual.c, call trees in
 * graph_tree.c (their shared build state: graph_int.h).
 *
 * Two layers:
 *
 *   cpr_infos  the node identities ("NodeInfo": function name, cleaned file
 *              name, address, line, start line, object file) of every
 *              location line of the profile at one granularity, interned so
 *              that equal identities share one index; each location maps to
 *              the list of its line identities, innermost first.  -traces
 *              uses this layer alone.
 *   cpr_graph  nodes (flat, cum, and their -mean divisors), edges between
 *              them (weight, divisor, inline and residual flags), built from
 *              the samples and trimmed like pprof's newTrimmedGraph: node
 *              fraction, node count, edge fraction.  Nodes come sorted in
 *              pprof's flat or cum order; every node carries its incoming
 *              and outgoing edges (sorted in pprof's edge order with
 *              sort_edges, or per node by cpr_node_sort_edges).
 *
 * Edges reference node identities (info indices), because pprof keeps edges
 * to nodes that are not listed in the graph (zero or dropped-negative
 * nodes); cpr_graph.node_of maps an info index to its listed node or
 * CPR_NIL.  Reports that need fewer edges say so (cpr_gopts.edges,
 * edge_filter) and the graph builds only those.
 *
 * Usage: cpr_gopts_init(&go, c), adjust go, cpr_graph_build(c, &go, &g,
 * err), cpr_select_output_unit, cpr_print_report_labels, walk g.nodes,
 * cpr_graph_free.  The profile must not change while the graph lives.
 *
 * Visual mode (go.visual, -dot and the rendered graphs) sorts nodes in
 * pprof's entropy order, counts each node's tags against -nodecount and
 * prunes redundant residual edges.  go.tags collects the sample tags of the
 * listed nodes (pprof's LabelTags and the "bytes" NumericTags, trimmed like
 * TrimLowFrequencyTags) for the dot nodelets.
 *
 * go.call_tree builds pprof's call tree instead (newTree, TrimTree): one
 * node per distinct path from a root, each a copy of its identity, trimmed
 * by splicing dropped nodes out (their children hang from their parent by
 * residual edges) without rebuilding.
 */
#ifndef CPROF_GRAPH_H
#define CPROF_GRAPH_H

#include "report_int.h"

#include <stdbool.h>
#include <stdint.h>

#define CPR_NIL UINT32_MAX

enum { CPR_EDGES_ALL, CPR_EDGES_IN_FLAGS };
/* cpr_node.in_flags: the node has a surviving incoming edge that is an
 * inlined call / an ordinary call (pprof's "(inline)", "(partial-inline)"). */
enum { CPR_IN_INLINE = 1, CPR_IN_CALL = 2 };

/* ---- node identities ----------------------------------------------------- */

typedef struct cpr_ninfo {
	cprof_str name;         /* function name (0: none) */
	cprof_str file;         /* source file, cleaned (0: none) */
	cprof_str objfile;      /* mapping file, when kept (0: none) */
	uint64_t address;
	int64_t start_line, lineno;
	uint32_t func;          /* the info of the whole function (address and line
				   zeroed): pprof's Node.Function; itself if equal */
	uint32_t pname;         /* offset of the printable name in cpr_infos.names */
	uint32_t plen;          /* its length */
} cpr_ninfo;

typedef struct cpr_gopts {
	int granularity;        /* enum cprof_granularity */
	bool noinlines;
	bool obj_names;         /* keep object file names (raw, list, callgrind) */
	bool trim_paths;        /* pprof's trimPath on source files (graphs, not traces) */
	bool drop_negative;
	bool cum_sort;
	bool visual;            /* dot: entropy order, tag-aware node count,
				   prune redundant residual edges */
	bool tags;              /* collect sample tags on nodes (cpr_graph.tags) */
	bool call_tree;         /* pprof's call tree: one node per calling context */
	bool sort_edges;        /* sort each listed node's edges in pprof's order */
	int edges;              /* CPR_EDGES_ALL, or CPR_EDGES_IN_FLAGS: only each
				   node's in_flags (-top; memory stays bounded) */
	size_t edge_budget;     /* CPR_EDGES_IN_FLAGS: bytes of edges at a time (0: the
				   size of the stack table, at least 16 MiB) */
	/* When set, only edges with a listed end whose printable name passes
	 * edge_filter are built (peek builds the matching nodes' edges). */
	bool (*edge_filter)(void *arg, const char *name);
	void *edge_filter_arg;
	int nodecount;          /* 0: all */
	double nodefraction, edgefraction;
} cpr_gopts;

typedef struct cpr_infos {
	cprof_profile *p;
	cpr_ninfo *v;
	size_t n, cap;
	uint32_t *hash;         /* open addressing: info index + 1, 0 = empty */
	size_t hash_cap;
	char *names;            /* printable names, NUL-terminated */
	size_t names_len, names_cap;
	uint32_t *loc_off;      /* location l's infos: loc_info[loc_off[l] .. loc_off[l+1]) */
	uint32_t *loc_info;
} cpr_infos;

/* The options of the report in c: granularity, sorting, trimming. */
void cpr_gopts_init(cpr_gopts *go, const cpr_ctx *c);

/* Build the identities of every location of p (which may get new strings:
 * cleaned file names are interned into it). */
int cpr_infos_build(cpr_infos *t, cprof_profile *p, const cpr_gopts *go, cprof_error *err);
void cpr_infos_free(cpr_infos *t);

static inline const char *cpr_info_name(const cpr_infos *t, uint32_t i)
{
	return t->names + t->v[i].pname;
}
static inline size_t cpr_info_name_len(const cpr_infos *t, uint32_t i)
{
	return t->v[i].plen;
}
/* pprof's fmt.Sprint(NodeInfo) order, the last tie-break between nodes. */
int cpr_info_cmp_full(const cpr_infos *t, uint32_t a, uint32_t b);

/* ---- the graph ---------------------------------------------------------- */

typedef struct cpr_node {
	uint32_t info;
	int64_t flat, flat_div, cum, cum_div;
	uint32_t in_off, nin;   /* its incoming edges: cpr_graph.in_edges[in_off ..] */
	uint32_t out_off, nout; /* its outgoing edges: cpr_graph.out_edges[out_off ..] */
	uint8_t in_flags;       /* CPR_IN_* */
} cpr_node;

typedef struct cpr_edge {
	uint32_t src, dst;      /* info indices */
	int64_t weight;         /* the divisor (-mean) is in cpr_graph.edge_div */
	bool residual, inl;
	bool removed;           /* trimmed (kept in the array, left out of the lists) */
} cpr_edge;

/* A sample tag on a node (pprof's Tag): a label tag (numeric false: the
 * sample's string labels "key:value" joined by a literal "\\n", escaped for
 * dot) or a numeric "bytes" tag under the label set lbl (0: none). */
typedef struct cpr_tag {
	uint32_t info;
	bool numeric;
	cprof_str lbl;          /* the joined string labels (0: none) */
	cprof_str name;         /* label tag: lbl; numeric tag: formatted value */
	cprof_str unit;         /* numeric tags: the label's unit */
	int64_t value;          /* numeric tags: the label's value */
	int64_t flat, flat_div, cum, cum_div;
} cpr_tag;

static inline int64_t cpr_tag_flat(const cpr_tag *t)
{
	return t->flat_div ? t->flat / t->flat_div : t->flat;
}
static inline int64_t cpr_tag_cum(const cpr_tag *t)
{
	return t->cum_div ? t->cum / t->cum_div : t->cum;
}

typedef struct cpr_graph {
	cpr_infos infos;
	cpr_node *nodes;        /* listed nodes, sorted */
	size_t nnodes;
	uint32_t *node_of;      /* info index -> index in nodes, or CPR_NIL */
	cpr_edge *edges;
	size_t nedges, edges_cap;
	int64_t *edge_div;      /* per edge weight divisor, -mean only (else NULL) */
	/* adjacency of every identity over the live edges: the incoming edges
	 * of info i are in_edges[in_off[i] .. in_off[i+1]), likewise out */
	uint32_t *in_off, *out_off;
	uint32_t *in_edges, *out_edges;
	size_t orig_count;      /* nodes before the node-count selection */
	size_t dropped_nodes, dropped_edges;
	/* go.tags: the tags of listed node i are tags[tag_off[i] .. tag_off[i+1]) */
	cpr_tag *tags;
	size_t ntags, tags_cap;
	uint32_t *tag_off;
} cpr_graph;

static inline int64_t cpr_node_flat(const cpr_node *n)
{
	return n->flat_div ? n->flat / n->flat_div : n->flat;
}
static inline int64_t cpr_node_cum(const cpr_node *n)
{
	return n->cum_div ? n->cum / n->cum_div : n->cum;
}
/* Edge.WeightValue. */
static inline int64_t cpr_edge_weight(const cpr_graph *g, uint32_t ei)
{
	int64_t d = g->edge_div ? g->edge_div[ei] : 0;
	return d ? g->edges[ei].weight / d : g->edges[ei].weight;
}
static inline const char *cpr_node_name(const cpr_graph *g, const cpr_node *n)
{
	return cpr_info_name(&g->infos, n->info);
}

/* pprof's newTrimmedGraph over the samples of c->p (value c->vi, divisor
 * value 0 with c->mean).  g is initialised here; free with cpr_graph_free. */
int cpr_graph_build(cpr_ctx *c, const cpr_gopts *go, cpr_graph *g, cprof_error *err);
void cpr_graph_free(cpr_graph *g);

/* Sort n's incoming and outgoing edges in pprof's edge order (|weight|
 * descending, caller name, callee name), for graphs built without
 * sort_edges: a report that prints few nodes sorts only those. */
void cpr_node_sort_edges(const cpr_graph *g, const cpr_node *n);

/* Sort v[0..n) (edge indices) in pprof's edge order (EdgeMap.Sort). */
void cpr_sort_edges(const cpr_graph *g, uint32_t *v, size_t n);

/* pprof's selectOutputUnit: with unit "minimum", pick the report's unit from
 * the smallest listed value and the total; sets c->output_unit.  integral
 * (callgrind) never scales the minimum up to show it as 0.01. */
void cpr_select_output_unit(cpr_ctx *c, const cpr_graph *g, bool integral);

/* pprof's reportLabels: the profile labels (when full_headers or not
 * compact_labels), active filters, "Showing nodes accounting for ...",
 * "Dropped ...", "Showing top N nodes out of M"; each line ends in '\n'.
 * full_headers (dot) also counts dropped edges and adds the help line. */
void cpr_print_report_labels(cpr_ctx *c, const cpr_graph *g, bool full_headers, FILE *out);

/* ---- formatting ----------------------------------------------------------- */

/* Go's fmt "%<width>s": s padded on the left with spaces to width runes
 * (Go counts UTF-8 code points, C's printf bytes).  Returns buf, or s
 * itself when it is wide enough. */
const char *cpr_pad(char *buf, size_t n, const char *s, int width);
/* The number of runes Go counts in s[0..len). */
size_t cpr_runes(const char *s, size_t len);

#define CPR_PADBUF (CPR_LBL + 64)

/* The five value columns of a -text or -tree row ("flat flat% sum% cum
 * cum%", pprof's widths, no newline) to out. */
void cpr_print_value_cols(cpr_ctx *c, int64_t flat, int64_t sum, int64_t cum, FILE *out);

/* dot.c: pprof's ShortenFunctionName (Go package paths, Java packages and
 * C++ namespaces dropped) as a fresh string; NULL when out of memory. */
char *cpr_shorten_name(const char *name);


#endif
