/*
 * flametree.c - the flame graph's pruned tree (cpr_flame_data, flame.h):
 * what the -flamegraph page and the web views show, built top down so that
 * only the boxes that are drawn are ever made.
 *
 * How it works.  Frames are named as flame.c names them (graph.c's node
 * identities at the report's granularity, inline frames as frames of their
 * own).  The samples are summed per distinct stack, and the stacks are
 * listed in the order of their first sample.  The root owns every stack
 * with a frame; a node's stacks are split by the frame that follows the
 * node's path (a counting sort: stable, linear, with per-identity scratch
 * counters), each group's sum being the child's cum.  A child narrower than
 * CPR_FLAME_PRUNE of the root is never split further: it only adds to its
 * parent's "(other)" box.  Nodes are emitted in preorder, children by cum
 * descending, then name, then creation order -- the order in which a trie
 * fed the samples one by one would have created them, which is the order
 * of each group's first stack, since groups keep the stacks' order.
 *
 * The work is the sum, over the boxes drawn, of the stacks through them:
 * at most the number of frames of the distinct stacks, usually far less,
 * and read in order rather than probed at random in a trie of every
 * distinct prefix (millions of nodes on large random-stack profiles).
 * Memory is a few words per distinct stack plus the drawn tree.  When every
 * location has one line, a stack's frame at depth k is read from the stack
 * table directly; otherwise the stacks' frames are laid out root first once.
 *
 * Not thread-safe (it works on one report's profile); not signal-safe.
 */
#include "flame.h"
#include "graph.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Interned strings for the JSON tables: string id -> table index. */
typedef struct jtab {
	cpr_map ix;
	uint32_t *ids;          /* table order -> string id in the profile */
	size_t n, cap;
} jtab;

void *cpr_flame_realloc(void *p, size_t n, size_t el)
{
	size_t b;
	if (__builtin_mul_overflow(n, el, &b))
		return NULL;
	return realloc(p, b ? b : 1);
}

static int64_t jtab_add(jtab *t, cprof_str id)
{
	bool fresh = false;
	uint64_t *v = cpr_map_slot(&t->ix, id, t->n, &fresh);
	if (!v)
		return CPROF_ENOMEM;
	if (fresh) {
		if (cpr_reserve((void **)&t->ids, &t->cap, t->n + 1, sizeof *t->ids))
			return CPROF_ENOMEM;
		t->ids[t->n++] = id;
	}
	return (int64_t)*v;
}

static void jtab_free(jtab *t)
{
	cpr_map_free(&t->ix);
	free(t->ids);
}

/* ---- shared with flame.c (see flame.h) --------------------------------------- */

static const char *base_name(const char *s)
{
	const char *b = strrchr(s, '/');
	return b ? b + 1 : s;
}

/* Intern s[0..n), which may point into p's own string arena (that moves
 * when interning grows it). */
static cprof_str intern_copy(cprof_profile *p, const char *s, size_t n)
{
	char *tmp = malloc(n ? n : 1);
	if (!tmp)
		return CPROF_NONE;
	memcpy(tmp, s, n);
	cprof_str id = cprof_intern(p, tmp, n);
	free(tmp);
	return id;
}

/* Whether p is a Go program's profile: the Go runtime's functions are in
 * every one of them (runtime.main, runtime.goexit), in no C program's. */
static bool go_profile(const cprof_profile *p)
{
	for (size_t i = 0; i < p->functions.n; i++) {
		cprof_str s = p->functions.v[i].name;
		if (s && cprof_slen(p, s) > 8 && memcmp(cprof_s(p, s), "runtime.", 8) == 0)
			return true;
	}
	return false;
}

/* The package of a name by its spelling alone (see cpr_flame_name_package). */
static bool name_has_package(const char *s, size_t n)
{
	const char *ps;
	size_t pn;
	cpr_flame_name_package(s, n, NULL, &ps, &pn);
	return pn > 0;
}

int cpr_flame_libs(cprof_profile *p, const cpr_infos *t, cprof_str **out)
{
	cprof_str *lib = calloc(t->n ? t->n : 1, sizeof *lib);
	*out = lib;
	if (!lib)
		return CPROF_ENOMEM;
	/* a Go program's frames are coloured by their package, as pprof does;
	 * only its C frames (cgo) by their library */
	bool go = go_profile(p);
	for (size_t l = 0; l < p->locations.n; l++) {
		const cprof_location *loc = &p->locations.v[l];
		if (loc->mapping >= p->mappings.n)
			continue;
		cprof_str file = p->mappings.v[loc->mapping].file;
		if (!file)
			continue;
		for (uint32_t k = t->loc_off[l]; k < t->loc_off[l + 1]; k++)
			if (!lib[t->loc_info[k]] &&
			    !(go && name_has_package(cpr_info_name(t, t->loc_info[k]),
						     cpr_info_name_len(t, t->loc_info[k])))) {
				const char *b = base_name(cprof_s(p, file));
				lib[t->loc_info[k]] = b == cprof_s(p, file) ? file : intern_copy(p, b, strlen(b));
				if (lib[t->loc_info[k]] == CPROF_NONE)
					return CPROF_ENOMEM;
			}
	}
	return 0;
}

int64_t cpr_flame_out_value(const cpr_ctx *c, int64_t v)
{
	if (c->ratio > 0 && c->ratio != 1)
		v = cpr_d2i64((double)v * c->ratio);
	return v;
}

/* The package of a frame, for colouring: its module (lib: the basename of
 * its location's mapping file, the program or a library, as
 * cpr_flame_libs gives it), else by its name's spelling the C++ scope
 * before the last "::" outside parentheses and templates or the Go package
 * path (up to the first '.' after the last '/'), else "". */
void cpr_flame_name_package(const char *s, size_t n, const char *lib, const char **ps, size_t *pn)
{
	if (lib) {
		*ps = lib;
		*pn = strlen(lib);
		return;
	}
	size_t end = n;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '(' || s[i] == '<' || s[i] == ' ') {
			end = i;
			break;
		}
	for (size_t i = end; i >= 2; i--)
		if (s[i - 1] == ':' && s[i - 2] == ':') {
			*ps = s;
			*pn = i - 2;
			return;
		}
	size_t slash = 0;
	for (size_t i = 0; i < end; i++)
		if (s[i] == '/')
			slash = i + 1;
	for (size_t i = slash; i < end; i++)
		if (s[i] == '.' && i > 0) {
			*ps = s;
			*pn = i;
			return;
		}
	*ps = "";
	*pn = 0;
}

/* The page title: -title, else the main binary's name, else "cprof". */
const char *cpr_flame_title(const cpr_ctx *c)
{
	if (c->o->title && *c->o->title)
		return c->o->title;
	const cprof_profile *p = c->p;
	if (p->mappings.n && p->mappings.v[0].file)
		return base_name(cprof_s(p, p->mappings.v[0].file));
	return "cprof";
}

/* ---- the pruned tree ------------------------------------------------------------ */

/* A child kept for drawing: its identity, value, stacks and creation rank. */
typedef struct fkid {
	uint32_t info, lo, n, rank;
	int64_t cum;
} fkid;

/* Pending work, preorder: a node (its stacks ids[lo, lo + n) at depth) or
 * an "(other)" box (info CPR_NIL). */
typedef struct fwork {
	uint32_t info, lo, n, depth;
	int64_t cum;
} fwork;

typedef struct fbuild {
	cpr_ctx *c;
	cprof_profile *p;
	cpr_flame_data *d;
	cpr_infos t;
	cprof_str *lib;         /* per identity (0: none) */
	int64_t thr;            /* smallest cum drawn */
	/* the distinct stacks with a frame, in the order of their first sample */
	uint32_t *ids, *tmp;
	size_t nids;
	int64_t *w;             /* per stack: the summed value */
	uint32_t *plen;         /* per stack: frames (lines) */
	bool direct;            /* one line per location: read the stack table */
	size_t *poff;           /* else: stack s's frames, root first, at path + poff[s] */
	uint32_t *path;
	/* per identity scratch: stacks in the current split, their sum, cursor */
	uint32_t *cnt, *pos;
	int64_t *sum;
	uint32_t *keys;         /* identities met in the current split, in order */
	fkid *kids;
	fwork *work;
	size_t nwork, work_cap;
	uint32_t cap;           /* of the node arrays of d */
	jtab names, pkgs;
	int64_t *pkg_of;        /* per name: package index, -1: not yet */
	size_t pkg_cap;
	cprof_str root_s, other_s;
} fbuild;

/* The frame at depth k (root first) of stack s. */
static inline uint32_t frame_at(const fbuild *b, uint32_t s, uint32_t k)
{
	if (b->direct) {
		const uint32_t *locs = cprof_stack_locs(b->p, s);
		return b->t.loc_info[b->t.loc_off[locs[b->plen[s] - 1 - k]]];
	}
	return b->path[b->poff[s] + k];
}

/* Sum the samples per stack and list the stacks with frames in the order
 * of their first sample. */
static int list_stacks(fbuild *b)
{
	cprof_profile *p = b->p;
	cpr_ctx *c = b->c;
	size_t ns = cprof_nstacks(p), nl = p->locations.n;
	b->w = calloc(ns ? ns : 1, sizeof *b->w);
	b->plen = malloc((ns ? ns : 1) * sizeof *b->plen);
	b->ids = malloc((ns ? ns : 1) * sizeof *b->ids);
	if (!b->w || !b->plen || !b->ids)
		return CPROF_ENOMEM;
	memset(b->plen, 0xff, (ns ? ns : 1) * sizeof *b->plen);
	b->direct = true;
	for (size_t l = 0; l < nl && b->direct; l++)
		b->direct = b->t.loc_off[l + 1] - b->t.loc_off[l] == 1;
	for (size_t i = 0; i < p->stack_locs.n && b->direct; i++)
		b->direct = p->stack_locs.v[i] < nl;
	size_t frames = 0;
	for (size_t i = 0; i < p->samples.n; i++) {
		uint32_t s = p->samples.v[i].stack;
		if (s >= ns)
			continue;
		if (b->plen[s] == UINT32_MAX) {
			const uint32_t *locs = cprof_stack_locs(p, s);
			size_t depth = cprof_stack_len(p, s), n = 0;
			if (b->direct) {
				n = depth;
			} else {
				for (size_t k = 0; k < depth; k++)
					if (locs[k] < nl)
						n += b->t.loc_off[locs[k] + 1] - b->t.loc_off[locs[k]];
			}
			if (n > UINT32_MAX - 1)
				return CPROF_ELIMIT;
			b->plen[s] = (uint32_t)n;
			if (n) {
				b->ids[b->nids++] = s;
				frames += n;
			}
		}
		if (b->plen[s] == 0)
			continue;       /* no frames */
		int64_t v = cpr_value(c, i), dv = cpr_meandiv(c, i);
		if (dv != 0)
			v = (v == INT64_MIN && dv == -1) ? v : v / dv;
		b->w[s] = cpr_add64(b->w[s], v);
	}
	if (b->nids > UINT32_MAX - 1)
		return CPROF_ELIMIT;
	b->tmp = malloc((b->nids ? b->nids : 1) * sizeof *b->tmp);
	if (!b->tmp)
		return CPROF_ENOMEM;
	if (b->direct)
		return 0;
	/* lay the frames out root first: a stack is leaf first, each
	 * location's lines innermost first */
	b->poff = malloc((ns ? ns : 1) * sizeof *b->poff);
	b->path = malloc((frames ? frames : 1) * sizeof *b->path);
	if (!b->poff || !b->path)
		return CPROF_ENOMEM;
	size_t at = 0;
	for (size_t i = 0; i < b->nids; i++) {
		uint32_t s = b->ids[i];
		const uint32_t *locs = cprof_stack_locs(p, s);
		size_t k = b->plen[s];
		b->poff[s] = at;
		for (size_t j = 0, depth = cprof_stack_len(p, s); j < depth; j++) {
			if (locs[j] >= nl)
				continue;
			for (uint32_t q = b->t.loc_off[locs[j]]; q < b->t.loc_off[locs[j] + 1]; q++)
				b->path[at + --k] = b->t.loc_info[q];
		}
		at += b->plen[s];
	}
	return 0;
}

static int node_grow(fbuild *b)
{
	cpr_flame_data *d = b->d;
	if (d->n < b->cap)
		return 0;
	if (b->cap > UINT32_MAX / 4)
		return CPROF_ELIMIT;
	uint32_t cap = b->cap ? b->cap * 2 : 1024;
	uint32_t *a;
	int64_t *v;
	if (!(a = cpr_flame_realloc(d->name, cap, sizeof *a)))
		return CPROF_ENOMEM;
	d->name = a;
	if (!(a = cpr_flame_realloc(d->nkids, cap, sizeof *a)))
		return CPROF_ENOMEM;
	d->nkids = a;
	if (!(v = cpr_flame_realloc(d->self, cap, sizeof *v)))
		return CPROF_ENOMEM;
	d->self = v;
	if (!(v = cpr_flame_realloc(d->cum, cap, sizeof *v)))
		return CPROF_ENOMEM;
	d->cum = v;
	b->cap = cap;
	return 0;
}

/* The names-table index of a node's name (info CPR_NIL with is_root: the
 * root; CPR_NIL otherwise: "(other)"), its package resolved on first use. */
static int64_t name_index(fbuild *b, uint32_t info, bool is_root)
{
	cprof_profile *p = b->p;
	cprof_str sid = is_root ? b->root_s : b->other_s;
	if (info != CPR_NIL) {
		const cpr_ninfo *k = &b->t.v[info];
		const char *pn = cpr_info_name(&b->t, info);
		size_t pl = cpr_info_name_len(&b->t, info);
		sid = k->name;
		if (!sid || cprof_slen(p, sid) != pl || memcmp(cprof_s(p, sid), pn, pl) != 0) {
			sid = cprof_intern(p, pn, pl);
			if (sid == CPROF_NONE)
				return CPROF_ENOMEM;
		}
	}
	int64_t ni = jtab_add(&b->names, sid);
	if (ni < 0)
		return ni;
	if ((size_t)ni >= b->pkg_cap) {
		size_t cap = b->pkg_cap ? b->pkg_cap * 2 : 256;
		int64_t *q = cpr_flame_realloc(b->pkg_of, cap, sizeof *q);
		if (!q)
			return CPROF_ENOMEM;
		for (size_t i = b->pkg_cap; i < cap; i++)
			q[i] = -1;
		b->pkg_of = q;
		b->pkg_cap = cap;
	}
	if (b->pkg_of[ni] < 0) {
		const char *ps;
		size_t pn;
		const char *lib = info != CPR_NIL && b->lib[info] ? cprof_s(p, b->lib[info]) : NULL;
		cpr_flame_name_package(cprof_s(p, b->names.ids[ni]), cprof_slen(p, b->names.ids[ni]), lib,
				       &ps, &pn);
		/* ps may point into the profile's arena, which interning moves */
		cprof_str pid = intern_copy(p, ps, pn);
		int64_t pi = pid == CPROF_NONE ? CPROF_ENOMEM : jtab_add(&b->pkgs, pid);
		if (pi < 0)
			return pi;
		b->pkg_of[ni] = pi;
	}
	return ni;
}

static int emit(fbuild *b, int64_t ni, int64_t self, int64_t cum, uint32_t nk)
{
	int rc = node_grow(b);
	if (rc)
		return rc;
	cpr_flame_data *d = b->d;
	d->name[d->n] = (uint32_t)ni;
	d->self[d->n] = cpr_flame_out_value(b->c, self);
	d->cum[d->n] = cpr_flame_out_value(b->c, cum);
	d->nkids[d->n] = nk;
	d->n++;
	return 0;
}

static int push(fbuild *b, fwork w)
{
	if (cpr_reserve((void **)&b->work, &b->work_cap, b->nwork + 1, sizeof *b->work))
		return CPROF_ENOMEM;
	b->work[b->nwork++] = w;
	return 0;
}

/* flame.c's child order for the page: cum descending, name, creation. */
static int cmp_kid(const void *pa, const void *pb, void *arg)
{
	const fbuild *b = arg;
	const fkid *x = pa, *y = pb;
	if (x->cum != y->cum)
		return x->cum > y->cum ? -1 : 1;
	size_t lx = cpr_info_name_len(&b->t, x->info), ly = cpr_info_name_len(&b->t, y->info);
	int r = memcmp(cpr_info_name(&b->t, x->info), cpr_info_name(&b->t, y->info), lx < ly ? lx : ly);
	if (r)
		return r;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->rank < y->rank ? -1 : 1;
}

/* Split the stacks of one node (ids[lo, lo + n), the node at depth),
 * emit it and queue its children. */
static int split(fbuild *b, const fwork *wk)
{
	uint32_t lo = wk->lo, hi = wk->lo + wk->n, depth = wk->depth, nkeys = 0;
	int64_t self = 0;
	for (uint32_t j = lo; j < hi; j++) {
		uint32_t s = b->ids[j];
		if (b->plen[s] == depth) {
			self = cpr_add64(self, b->w[s]);
			continue;
		}
		uint32_t k = frame_at(b, s, depth);
		if (b->cnt[k]++ == 0) {
			b->keys[nkeys++] = k;
			b->sum[k] = 0;
		}
		b->sum[k] = cpr_add64(b->sum[k], b->w[s]);
	}
	uint32_t at = lo;
	for (uint32_t i = 0; i < nkeys; i++) {
		b->pos[b->keys[i]] = at;
		at += b->cnt[b->keys[i]];
	}
	for (uint32_t j = lo; j < hi; j++) {
		uint32_t s = b->ids[j];
		if (b->plen[s] != depth)
			b->tmp[b->pos[frame_at(b, s, depth)]++] = s;
	}
	memcpy(b->ids + lo, b->tmp + lo, (size_t)(at - lo) * sizeof *b->ids);
	uint32_t nk = 0;
	int64_t other = 0;
	for (uint32_t i = 0; i < nkeys; i++) {
		uint32_t k = b->keys[i];
		int64_t kc = b->sum[k];
		if (kc >= b->thr) {
			b->kids[nk++] = (fkid){ .info = k, .lo = b->pos[k] - b->cnt[k], .n = b->cnt[k],
						.rank = i, .cum = kc };
		} else if (kc > 0) {
			other = cpr_add64(other, kc);
			b->d->pruned++;
		}
		b->cnt[k] = 0;
	}
	qsort_r(b->kids, nk, sizeof *b->kids, cmp_kid, b);
	int64_t ni = name_index(b, wk->info, depth == 0);
	if (ni < 0)
		return (int)ni;
	int rc = emit(b, ni, self, wk->cum, nk + (other > 0));
	if (rc)
		return rc;
	/* children in reverse, the "(other)" box first: drawn last */
	if (other > 0 && (rc = push(b, (fwork){ .info = CPR_NIL, .cum = other })))
		return rc;
	for (uint32_t i = nk; i-- > 0;) {
		const fkid *k = &b->kids[i];
		if ((rc = push(b, (fwork){ .info = k->info, .lo = k->lo, .n = k->n, .depth = depth + 1,
					   .cum = k->cum })))
			return rc;
	}
	return 0;
}

/* The header of the JSON document, up to the filters' closing bracket. */
static int write_head(fbuild *b)
{
	cpr_ctx *c = b->c;
	size_t len = 0;
	FILE *out = open_memstream(&b->d->head, &len);
	if (!out)
		return CPROF_ENOMEM;
	const char *title = cpr_flame_title(c);
	fputs("{\"version\":1,\"title\":", out);
	cpr_flame_json_str(out, title, strlen(title));
	fputs(",\"sampleType\":", out);
	cpr_flame_json_str(out, c->sample_type, strlen(c->sample_type));
	fputs(",\"unit\":", out);
	cpr_flame_json_str(out, c->sample_unit, strlen(c->sample_unit));
	fprintf(out, ",\"total\":%" PRId64 ",\"ratio\":%.17g", cpr_flame_out_value(c, c->total),
		c->ratio > 0 ? c->ratio : 1.0);
	fputs(",\"filters\":[", out);
	for (size_t i = 0; i < c->nactive; i++) {
		if (i)
			putc(',', out);
		cpr_flame_json_str(out, c->active_filters[i], strlen(c->active_filters[i]));
	}
	putc(']', out);
	if (fclose(out) != 0)
		return CPROF_ENOMEM;
	b->d->headlen = len;
	b->d->total = cpr_flame_out_value(c, c->total);
	return 0;
}

/* Copy the table's strings out of the profile. */
static int copy_table(const cprof_profile *p, const jtab *t, cpr_flame_str **out)
{
	*out = calloc(t->n ? t->n : 1, sizeof **out);
	if (!*out)
		return CPROF_ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		size_t n = cprof_slen(p, t->ids[i]);
		char *s = malloc(n + 1);
		if (!s)
			return CPROF_ENOMEM;
		memcpy(s, cprof_s(p, t->ids[i]), n);
		s[n] = 0;
		(*out)[i] = (cpr_flame_str){ s, n };
	}
	return 0;
}

void cpr_flame_data_free(cpr_flame_data *d)
{
	free(d->head);
	free(d->name);
	free(d->nkids);
	free(d->self);
	free(d->cum);
	for (size_t i = 0; d->names && i < d->nnames; i++)
		free(d->names[i].s);
	free(d->names);
	free(d->name_pkg);
	for (size_t i = 0; d->pkgs && i < d->npkgs; i++)
		free(d->pkgs[i].s);
	free(d->pkgs);
	memset(d, 0, sizeof *d);
}

int cpr_flame_data_build(cpr_ctx *c, cpr_flame_data *d, cprof_error *err)
{
	memset(d, 0, sizeof *d);
	fbuild b = { .c = c, .p = c->p, .d = d };
	cpr_gopts go;
	cpr_gopts_init(&go, c);
	int rc = cpr_infos_build(&b.t, b.p, &go, err);
	if (rc < 0)
		return rc;
	size_t ni = b.t.n ? b.t.n : 1;
	b.root_s = cprof_intern_cstr(b.p, "root");
	b.other_s = cprof_intern_cstr(b.p, "(other)");
	if (b.root_s == CPROF_NONE || b.other_s == CPROF_NONE || (rc = cpr_flame_libs(b.p, &b.t, &b.lib)) ||
	    (rc = write_head(&b)) || (rc = list_stacks(&b)))
		goto out;
	b.cnt = calloc(ni, sizeof *b.cnt);
	b.pos = malloc(ni * sizeof *b.pos);
	b.sum = malloc(ni * sizeof *b.sum);
	b.keys = malloc(ni * sizeof *b.keys);
	b.kids = malloc(ni * sizeof *b.kids);
	if (!b.cnt || !b.pos || !b.sum || !b.keys || !b.kids) {
		rc = CPROF_ENOMEM;
		goto out;
	}
	int64_t total = 0;
	for (size_t i = 0; i < b.nids; i++)
		total = cpr_add64(total, b.w[b.ids[i]]);
	b.thr = cpr_d2i64(ceil(fabs((double)total) * CPR_FLAME_PRUNE));
	if (b.thr < 1)
		b.thr = 1;
	if ((rc = push(&b, (fwork){ .info = CPR_NIL, .n = (uint32_t)b.nids, .cum = total })))
		goto out;
	bool root = true;
	while (b.nwork) {
		fwork wk = b.work[--b.nwork];
		if (wk.info == CPR_NIL && !root) {
			int64_t on = name_index(&b, CPR_NIL, false);
			if (on < 0 || (rc = emit(&b, on, wk.cum, wk.cum, 0))) {
				rc = on < 0 ? (int)on : rc;
				goto out;
			}
			continue;
		}
		root = false;
		if ((rc = split(&b, &wk)))
			goto out;
	}
	if ((rc = copy_table(b.p, &b.names, &d->names)))
		goto out;
	d->nnames = b.names.n;
	if ((rc = copy_table(b.p, &b.pkgs, &d->pkgs)))
		goto out;
	d->npkgs = b.pkgs.n;
	d->name_pkg = malloc((d->nnames ? d->nnames : 1) * sizeof *d->name_pkg);
	if (!d->name_pkg) {
		rc = CPROF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < d->nnames; i++)
		d->name_pkg[i] = b.pkg_of[i];
out:
	cpr_infos_free(&b.t);
	free(b.lib);
	free(b.ids);
	free(b.tmp);
	free(b.w);
	free(b.plen);
	free(b.poff);
	free(b.path);
	free(b.cnt);
	free(b.pos);
	free(b.sum);
	free(b.keys);
	free(b.kids);
	free(b.work);
	free(b.pkg_of);
	jtab_free(&b.names);
	jtab_free(&b.pkgs);
	if (rc < 0) {
		cpr_flame_data_free(d);
		if (rc == CPROF_ELIMIT)
			return cprof_seterr(err, rc, "too many distinct stacks for a flame graph");
		return err && err->code ? rc
			: cprof_seterr(err, rc, "out of memory building the stack tree");
	}
	return 0;
}
