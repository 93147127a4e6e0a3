/*
 * merge_int.h - what merge.c shares with compact.c: the merger (its hash
 * indexes over the output tables and its per-source memo tables) and the
 * steps of a merge that compaction runs with a scratch profile as output.
 * A merger belongs to one call; nothing here is thread-safe.
 */
#ifndef CPROF_MERGE_INT_H
#define CPROF_MERGE_INT_H

#include "legacy_int.h"

/* A sample type's name and unit, as merge.c compares them. */
typedef struct vt vt;

typedef struct htab {
	uint32_t *slot;                 /* element index + 1; 0 = empty */
	size_t cap;
	CPROF_VEC(uint64_t) hash;       /* the hash of element i */
} htab;

typedef struct mkey {
	uint64_t size, offset;
	cprof_str file;                 /* build id, else file, else "" */
} mkey;

typedef struct minfo {
	uint32_t m;                     /* output mapping or CPROF_NONE (not yet seen) */
	uint64_t delta;                 /* output start - source start */
} minfo;

typedef struct merger {
	cprof_profile *p;               /* the result */
	const cprof_profile *src;
	htab maps, funcs, locs, samples;
	CPROF_VEC(mkey) mkeys;
	/* memo tables of the current source */
	uint32_t *str_memo, *func_memo, *loc_memo, *stack_memo, *lset_memo;
	minfo *map_memo;
	/* scratch */
	CPROF_VEC(cprof_line) lines;
	CPROF_VEC(uint32_t) stk;
	CPROF_VEC(cprof_label) labs;
	CPROF_VEC(unsigned char) seen_comment;
} merger;

/* merge.c: the merger's steps that compaction reuses.  Each maps an index
 * of the current source (g->src, after cp_merge_memos_init) to the output
 * profile's (g->p), adding what is new; < 0 on error. */
int cp_merge_headers(merger *g, cprof_profile *const *srcs, size_t n, const vt *units,
		     const vt *punit, const int64_t *periods);
int cp_merge_memos_init(merger *g, const cprof_profile *src);
void cp_merger_free(merger *g);
int64_t cp_merge_location(merger *g, uint32_t sl);
int64_t cp_merge_stack(merger *g, uint32_t ss);
int64_t cp_merge_labels(merger *g, uint32_t sl);
/* The hash of a sample's key (its stack and label set). */
uint64_t cp_merge_skey_hash(uint32_t stack, uint32_t labels);
/* Does p have a sample whose values are all zero? */
bool cp_has_zero_sample(const cprof_profile *p);

#endif
