/*
 * graph_int.h - what the files of the call graph share (graph.h's layers):
 *
 *   graph_info.c    node identities (cpr_infos) and path cleaning
 *   graph_build.c   the steps of a build: values, node selection, edges
 *   graph.c         the build in pprof's order, output unit, labels
 *   graph_visual.c  dot's extras: entropy order, sample tags, redundant
 *                   residual edges
 *   graph_tree.c    pprof's call tree (-call_tree)
 *
 * The build state (gbuild) lives for one cpr_graph_build call; nothing here
 * is thread-safe or signal-safe.  Functions named cpr_gb_* are private to
 * these files.
 */
#ifndef CPROF_GRAPH_INT_H
#define CPROF_GRAPH_INT_H

#include "graph.h"

#include <stdint.h>
#include <stdlib.h>

/* Grow *pv (capacity *cap elements of el bytes) to hold need elements. */
static inline int grow(void **pv, size_t *cap, size_t need, size_t el)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return CPROF_ENOMEM;
		ncap *= 2;
	}
	size_t bytes;
	if (__builtin_mul_overflow(ncap, el, &bytes))
		return CPROF_ENOMEM;
	void *nv = realloc(*pv, bytes);
	if (!nv)
		return CPROF_ENOMEM;
	*pv = nv;
	*cap = ncap;
	return 0;
}

/* calloc with an overflow-checked count (never returns NULL for n == 0). */
static void *xcalloc(size_t n, size_t el)
{
	return calloc(n ? n : 1, el);
}

static void *xmalloc(size_t n, size_t el)
{
	size_t bytes;
	if (__builtin_mul_overflow(n ? n : 1, el, &bytes))
		return NULL;
	return malloc(bytes);
}

#define mix64 cprof_hash_u64

/* Go's int64(float64(v) * f) for the cutoffs (out-of-range saturates). */
static inline int64_t frac_of(int64_t v, double f)
{
	double d = (double)v * f;
	if (d >= 9.2233720368547758e18)
		return INT64_MIN;
	if (d <= -9.2233720368547758e18)
		return INT64_MIN;
	return (int64_t)d;
}

typedef struct nval {
	int64_t flat, flat_div, cum, cum_div;
} nval;

/* The state of one build. */
typedef struct gbuild {
	cpr_ctx *c;
	const cpr_gopts *go;
	cpr_graph *g;
	const cprof_profile *p;
	size_t ninfo;
	size_t nstacks;         /* all stacks of the profile */
	uint8_t *touched;       /* per stack: some sample with a value or divisor */
	int64_t *sw, *sdw;      /* per stack: summed value, divisor (sdw: -mean only) */
	nval *val;              /* per info */
	uint32_t *seen;         /* per info generation stamp */
	uint8_t *mask;          /* per info: kept (NULL: all) */
	uint8_t *emask;         /* per info: wants its edges (NULL: all) */
	bool in_flags;          /* only edges into listed nodes (in_flags_pass) */
	/* in_flags_pass: a two-row sketch of the pairs' summed |weight| (an
	 * upper bound of each pair's |weight|); pairs under the edge cut in
	 * either row cannot be kept and are never materialised */
	uint64_t *sk_sum;       /* 2 * sk_n */
	uint32_t *sk_cnt;       /* row 0: occurrences per bucket */
	size_t sk_n;            /* buckets per row, a power of two */
	uint64_t sk_cut;
	uint32_t *list;         /* listed infos */
	size_t nlist;
	uint64_t *ehash;        /* see edge_tag */
	size_t ehash_cap;
	unsigned ehash_bits;
	int64_t *score;         /* per info: entropy score (visual mode) */
	uint32_t *thash;        /* tag hash: tag index + 1, 0 = empty */
	size_t thash_cap;
	uint32_t *tree_orig;    /* call tree: per identity, the identity a tree
				   node copies (CPR_NIL: not a tree node) */
	cpr_map tmap;           /* call tree: (parent + 1, identity) -> node */
} gbuild;

/* The infos of location loc, or none when loc is out of range. */
static inline void loc_infos(const cpr_infos *t, const cprof_profile *p, uint32_t loc,
			     const uint32_t **v, size_t *n)
{
	if (loc >= p->locations.n) {
		*v = NULL;
		*n = 0;
		return;
	}
	*v = t->loc_info + t->loc_off[loc];
	*n = t->loc_off[loc + 1] - t->loc_off[loc];
}


/* A numeric "bytes" tag of one sample. */
typedef struct numtag {
	cprof_str name;
	int64_t value;
} numtag;

/* What both tag passes share: the "bytes" key and its unit, a cache of
 * each label set's joined string labels, and the current sample's numeric
 * tags. */
typedef struct tagctx {
	cprof_str bytes, unit;
	char unitname[64];
	cpr_map lcache;
	numtag *nt;
	size_t nt_cap;
} tagctx;

static inline bool is_negative(const nval *v)
{
	return v->flat < 0 || (v->flat == 0 && v->cum < 0);
}

/* graph_build.c: the steps of cpr_graph_build */
int cpr_gb_sum_stacks(gbuild *b);
void cpr_gb_cum_pass(gbuild *b);
void cpr_gb_flat_pass(gbuild *b);
void cpr_gb_select_nodes(gbuild *b);
void cpr_gb_keep_only(gbuild *b, size_t n);
int cpr_gb_in_flags_pass(gbuild *b, int64_t edge_cut);
int cpr_gb_edge_pass(gbuild *b, uint32_t part, uint32_t nparts);
int cpr_gb_adj_build(cpr_graph *g, bool sorted, bool all);
int cpr_gb_finish_nodes(gbuild *b);
int cpr_gb_trim_edges(cpr_graph *g, const cpr_gopts *go, int64_t edge_cut, bool trimmed_early);
void cpr_gb_node_in_flags(cpr_graph *g);
void cpr_gb_sort_list(gbuild *b);
/* graph_visual.c */
int cpr_gb_entropy_sort(gbuild *b);
int cpr_gb_entropy_of_edges(gbuild *b);
int cpr_gb_remove_redundant_edges(cpr_graph *g);
int cpr_gb_tags_build(gbuild *b, int64_t cut);
int cpr_gb_tags_index(cpr_graph *g);
size_t cpr_gb_visual_count(gbuild *b, size_t max);
int cpr_gb_tagctx_init(gbuild *b, tagctx *tc);
void cpr_gb_tagctx_free(gbuild *b, tagctx *tc);
int cpr_gb_sample_tags(gbuild *b, tagctx *tc, size_t i, cprof_str *lbl, size_t *nn);
int cpr_gb_tags_add(gbuild *b, uint32_t info, cprof_str lbl, const numtag *nt, size_t nn,
		    cprof_str unit, int64_t w, int64_t dw, bool flat);
void cpr_gb_trim_tags(cpr_graph *g, int64_t cut);
/* A sample with tags: its index, value, mean divisor, joined string labels
 * and number of numeric tags (in the tagctx). */
typedef struct cpr_tagged {
	size_t i;
	int64_t w, dw;
	cprof_str lbl;
	size_t nn;
} cpr_tagged;
typedef int (*cpr_gb_tag_sample_fn)(gbuild *b, const tagctx *tc, const cpr_tagged *s,
				     void *arg);
/* Zero the graph's tags, hand every sample with a value and tags to fn
 * (non-zero stops: out of memory), then TrimLowFrequencyTags(cut). */
int cpr_gb_tags_each(gbuild *b, int64_t cut, cpr_gb_tag_sample_fn fn, void *arg);
/* graph_tree.c */
int cpr_gb_tree_graph(gbuild *b);

#endif
