/*
 * flamejson.c - the flame graph's tree for the web views (issue 8): the
 * JSON of web/flamegraph.js pruned to what can be seen at a zoom, and the
 * caller/callee ("sandwich") trees of one function.  See cprof_webdata.h.
 *
 * How it works: cprof_flame_build runs the report pipeline with the
 * -flamegraph page's data as its output (flametree.c builds it in memory,
 * see flame.h) and keeps it: the header fields and the name/package tables
 * as the JSON text the page would carry, the names also decoded, and the
 * node array (preorder, four numbers a node) as arrays with each node's
 * parent and the end of its subtree.  That tree is already pruned at
 * CPR_FLAME_PRUNE (1/50000 of the total), so the one report pass bounds
 * the memory and a zoom never re-runs the report.
 *
 * cprof_flame_write walks from the root along the zoom names, writes the
 * ancestors as a chain (one child each) and then the zoomed node's subtree
 * with every child narrower than minfrac of the zoomed node merged into one
 * "(other)" box per parent: a page 1200 pixels wide asks for about 1/2400
 * and gets at most a few thousand boxes whatever the profile's size.
 *
 * The sandwich builds a second tree (a trie keyed by (parent, name) in an
 * open-addressed table) from the outermost occurrences of the function and
 * writes it the same way.  The diff builds the same kind of trie as the
 * union of two trees (the profile's and its base's, names matched as
 * strings), each node carrying both values; its width is their sum, so a
 * frame that vanished still shows (as pprof's diff flame graph does).
 */
#include "cprof_webdata.h"
#include "flame.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

/* A tree: parallel arrays, children as first-child / next-sibling lists. */
typedef struct wtree {
	uint32_t *name, *first, *next, *parent;
	int64_t *self, *cum;
	int64_t *va, *vb;               /* two: the cum of each side of a diff */
	bool two;
	uint32_t n, cap;
} wtree;

struct cprof_flame {
	char *doc;                      /* the JSON texts below (owned) */
	const char *head;               /* "{...": up to ,"nodes": */
	size_t headlen;
	const char *names_raw, *npkg_raw, *pkgs_raw;
	size_t names_len, npkg_len, pkgs_len;
	char **names;                   /* as a JSON reader decodes them */
	size_t nnames;
	int64_t total;                  /* the header's total */
	wtree t;
	uint32_t *end;                  /* preorder: end of the subtree of node i */
};

static int wt_grow(wtree *t)
{
	if (t->n < t->cap)
		return 0;
	if (t->cap > UINT32_MAX / 4)
		return CPROF_ELIMIT;
	uint32_t cap = t->cap ? t->cap * 2 : 256;
	uint32_t **u[] = { &t->name, &t->first, &t->next, &t->parent };
	for (size_t i = 0; i < sizeof u / sizeof *u; i++) {
		void *q = realloc(*u[i], (size_t)cap * sizeof(uint32_t));
		if (!q)
			return CPROF_ENOMEM;
		*u[i] = q;
	}
	int64_t **s[] = { &t->self, &t->cum, &t->va, &t->vb };
	for (size_t i = 0; i < (t->two ? 4u : 2u); i++) {
		void *q = realloc(*s[i], (size_t)cap * sizeof(int64_t));
		if (!q)
			return CPROF_ENOMEM;
		*s[i] = q;
	}
	t->cap = cap;
	return 0;
}

static void wt_free(wtree *t)
{
	free(t->name);
	free(t->first);
	free(t->next);
	free(t->parent);
	free(t->self);
	free(t->cum);
	free(t->va);
	free(t->vb);
	memset(t, 0, sizeof *t);
}

void cprof_flame_free(cprof_flame *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nnames; i++)
		free(f->names[i]);
	free(f->names);
	wt_free(&f->t);
	free(f->end);
	free(f->doc);
	free(f);
}

/* The string a JSON reader gets back from cpr_flame_json_str(s, n): s with
 * each byte that is not part of valid UTF-8 replaced by U+FFFD.  Malloc'd,
 * NUL-terminated; NULL when out of memory. */
static char *decoded(const char *s, size_t n)
{
	size_t cap;
	if (__builtin_mul_overflow(n, 3, &cap) || cap == SIZE_MAX)
		return NULL;
	char *o = malloc(cap + 1), *w = o;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t l = cpr_utf8_len((const unsigned char *)s + i, n - i);
		if (l == 0) {
			memcpy(w, "\xef\xbf\xbd", 3);
			w += 3;
			i++;
		} else {
			memcpy(w, s + i, l);
			w += l;
			i += l;
		}
	}
	*w = 0;
	return o;
}

/* Take d's tables: their JSON text into f->doc, the names decoded. */
static int take_tables(cprof_flame *f, const cpr_flame_data *d)
{
	size_t len = 0;
	FILE *m = open_memstream(&f->doc, &len);
	if (!m)
		return CPROF_ENOMEM;
	fwrite(d->head, 1, d->headlen, m);
	long at[4];
	at[0] = ftell(m);
	for (size_t i = 0; i < d->nnames; i++) {
		if (i)
			putc(',', m);
		cpr_flame_json_str(m, d->names[i].s, d->names[i].len);
	}
	at[1] = ftell(m);
	for (size_t i = 0; i < d->nnames; i++)
		fprintf(m, "%s%" PRId64, i ? "," : "", d->name_pkg[i]);
	at[2] = ftell(m);
	for (size_t i = 0; i < d->npkgs; i++) {
		if (i)
			putc(',', m);
		cpr_flame_json_str(m, d->pkgs[i].s, d->pkgs[i].len);
	}
	at[3] = ftell(m);
	if (fclose(m) != 0 || at[0] < 0 || at[1] < 0 || at[2] < 0 || at[3] < 0)
		return CPROF_ENOMEM;
	f->head = f->doc;
	f->headlen = (size_t)at[0];
	f->names_raw = f->doc + at[0];
	f->names_len = (size_t)(at[1] - at[0]);
	f->npkg_raw = f->doc + at[1];
	f->npkg_len = (size_t)(at[2] - at[1]);
	f->pkgs_raw = f->doc + at[2];
	f->pkgs_len = (size_t)(at[3] - at[2]);
	f->total = d->total;
	f->names = calloc(d->nnames ? d->nnames : 1, sizeof *f->names);
	if (!f->names)
		return CPROF_ENOMEM;
	for (size_t i = 0; i < d->nnames; i++) {
		if (!(f->names[i] = decoded(d->names[i].s, d->names[i].len)))
			return CPROF_ENOMEM;
		f->nnames = i + 1;
	}
	return 0;
}

/* Take d's nodes (preorder, each with its number of children) as a tree
 * with parents, first children and next siblings. */
static int take_nodes(cprof_flame *f, const cpr_flame_data *d)
{
	wtree *t = &f->t;
	uint32_t *stk = NULL, *left = NULL, *lastk = NULL;
	size_t sp = 0, scap = 0;
	int rc = 0;
	for (uint32_t i = 0; i < d->n; i++) {
		if ((rc = wt_grow(t)))
			goto out;
		t->n++;
		t->name[i] = d->name[i];
		t->self[i] = d->self[i];
		t->cum[i] = d->cum[i];
		t->first[i] = t->next[i] = NIL;
		while (sp && left[sp - 1] == 0)
			sp--;
		t->parent[i] = sp ? stk[sp - 1] : NIL;
		if (sp) {
			left[sp - 1]--;
			uint32_t par = stk[sp - 1];
			if (lastk[sp - 1] == NIL)
				t->first[par] = i;
			else
				t->next[lastk[sp - 1]] = i;
			lastk[sp - 1] = i;
		}
		if (sp == scap) {
			scap = scap ? scap * 2 : 64;
			uint32_t *a = realloc(stk, scap * sizeof *a);
			if (a)
				stk = a;
			uint32_t *b = a ? realloc(left, scap * sizeof *b) : NULL;
			if (b)
				left = b;
			uint32_t *c = b ? realloc(lastk, scap * sizeof *c) : NULL;
			if (!c) {
				rc = CPROF_ENOMEM;
				goto out;
			}
			lastk = c;
		}
		stk[sp] = i;
		lastk[sp] = NIL;
		left[sp++] = d->nkids[i];
	}
	if (t->n == 0)
		rc = CPROF_EINVAL;
out:
	free(stk);
	free(left);
	free(lastk);
	return rc;
}

int cprof_flame_build(cprof_profile *p, const cprof_ropts *o, FILE *warn, cprof_flame **out,
		      cprof_error *err)
{
	*out = NULL;
	cpr_flame_data d;
	int rc = cpr_report_flame(p, o, warn, &d, err);
	if (rc < 0)
		return rc;
	cprof_flame *f = calloc(1, sizeof *f);
	if (!f) {
		cpr_flame_data_free(&d);
		return cprof_seterr(err, CPROF_ENOMEM, "out of memory");
	}
	rc = take_tables(f, &d);
	if (rc == 0)
		rc = take_nodes(f, &d);
	cpr_flame_data_free(&d);
	if (rc == 0) {
		f->end = malloc((size_t)f->t.n * sizeof *f->end);
		if (!f->end)
			rc = CPROF_ENOMEM;
	}
	if (rc < 0) {
		cprof_flame_free(f);
		return cprof_seterr(err, rc, rc == CPROF_ENOMEM ? "out of memory"
				    : "the flame graph report has no data");
	}
	/* end of subtree: preorder, so the last descendant + 1 */
	for (uint32_t i = f->t.n; i-- > 0;) {
		uint32_t e = i + 1;
		for (uint32_t c = f->t.first[i]; c != NIL; c = f->t.next[c])
			e = f->end[c];
		f->end[i] = e;
	}
	*out = f;
	return 0;
}

/* ---- writing ---------------------------------------------------------------------- */

static void json_str(FILE *out, const char *s) { cprof_json_str(out, s, strlen(s)); }

typedef struct kid {
	uint32_t node;
	int64_t cum;
} kid;

static int cmp_kid(const void *a, const void *b)
{
	const kid *x = a, *y = b;
	int64_t ax = cpr_abs64(x->cum), ay = cpr_abs64(y->cum);
	if (ax != ay)
		return ax > ay ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

/* Write the subtree of `root` of t, pruned at thr, as nodes; the chain of
 * ancestors first.  other = the name index of "(other)". */
static int write_nodes(FILE *out, const wtree *t, const uint32_t *chain, size_t nchain, uint32_t root,
		       int64_t thr, uint32_t other, size_t *pruned, FILE *fa, FILE *fb)
{
	size_t written = 0;
	for (size_t i = 0; i < nchain; i++) {
		uint32_t c = chain[i];
		if (t->two) {
			fprintf(fa, "%s%" PRId64, written ? "," : "", t->va[c]);
			fprintf(fb, "%s%" PRId64, written ? "," : "", t->vb[c]);
		}
		fprintf(out, "%s%u,%" PRId64 ",%" PRId64 ",1", written++ ? "," : "", t->name[c], t->self[c],
			t->cum[c]);
	}
	/* stack entries: node, or NIL with the "(other)" values */
	typedef struct ent {
		uint32_t node;
		int64_t v, a, b;
	} ent;
	size_t cap = 256, sp = 0, kcap = 64;
	ent *stk = malloc(cap * sizeof *stk);
	kid *ks = malloc(kcap * sizeof *ks);
	if (!stk || !ks) {
		free(stk);
		free(ks);
		return CPROF_ENOMEM;
	}
	stk[sp++] = (ent){ root, 0, 0, 0 };
	int rc = 0;
	while (sp) {
		ent en = stk[--sp];
		uint32_t n = en.node;
		if (t->two) {
			fprintf(fa, "%s%" PRId64, written ? "," : "", n == NIL ? en.a : t->va[n]);
			fprintf(fb, "%s%" PRId64, written ? "," : "", n == NIL ? en.b : t->vb[n]);
		}
		if (n == NIL) {
			fprintf(out, "%s%u,%" PRId64 ",%" PRId64 ",0", written++ ? "," : "", other,
				t->two ? en.a : en.v, en.v);
			continue;
		}
		size_t nk = 0;
		int64_t osum = 0, oa = 0, ob = 0;
		for (uint32_t c = t->first[n]; c != NIL; c = t->next[c]) {
			if (t->cum[c] == 0)
				continue;
			if (cpr_abs64(t->cum[c]) < thr || t->name[c] == other) {
				osum = cpr_add64(osum, t->cum[c]);
				if (t->two) {
					oa = cpr_add64(oa, t->va[c]);
					ob = cpr_add64(ob, t->vb[c]);
				}
				(*pruned)++;
				continue;
			}
			if (nk == kcap) {
				kid *q = realloc(ks, (kcap *= 2) * sizeof *q);
				if (!q) {
					rc = CPROF_ENOMEM;
					goto out;
				}
				ks = q;
			}
			ks[nk++] = (kid){ c, t->cum[c] };
		}
		qsort(ks, nk, sizeof *ks, cmp_kid);
		fprintf(out, "%s%u,%" PRId64 ",%" PRId64 ",%zu", written++ ? "," : "", t->name[n], t->self[n],
			t->cum[n], nk + (osum != 0));
		if (sp + nk + 1 >= cap) {
			while (sp + nk + 1 >= cap)
				cap *= 2;
			ent *q = realloc(stk, cap * sizeof *q);
			if (!q) {
				rc = CPROF_ENOMEM;
				goto out;
			}
			stk = q;
		}
		if (osum != 0)
			stk[sp++] = (ent){ NIL, osum, oa, ob };
		for (size_t k = nk; k-- > 0;)
			stk[sp++] = (ent){ ks[k].node, 0, 0, 0 };
	}
out:
	free(stk);
	free(ks);
	return rc;
}

/* Names past f's own (a diff's base-only frames) */
typedef struct xnames {
	char **v;
	size_t n;
} xnames;

static const char *name_of(const cprof_flame *f, const xnames *x, uint32_t i)
{
	return i < f->nnames ? f->names[i] : x && i - f->nnames < x->n ? x->v[i - f->nnames] : "(other)";
}

static uint32_t other_index(const cprof_flame *f, const xnames *x)
{
	size_t n = f->nnames + (x ? x->n : 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(name_of(f, x, (uint32_t)i), "(other)") == 0)
			return (uint32_t)i;
	return (uint32_t)n;    /* appended by write_doc */
}

static int write_doc(const cprof_flame *f, const wtree *t, const uint32_t *chain, size_t nchain,
		     uint32_t root, double minfrac, FILE *out, const xnames *x, int64_t base_total)
{
	uint32_t other = other_index(f, x);
	char *abuf = NULL, *bbuf = NULL;
	size_t alen = 0, blen = 0;
	FILE *fa = NULL, *fb = NULL;
	if (t->two) {
		fa = open_memstream(&abuf, &alen);
		fb = open_memstream(&bbuf, &blen);
		if (!fa || !fb) {
			if (fa)
				fclose(fa);
			free(abuf);
			return CPROF_ENOMEM;
		}
	}
	int64_t thr = cpr_d2i64(ceil(fabs((double)t->cum[root]) * (minfrac > 0 ? minfrac : 0)));
	if (thr < 1)
		thr = 1;
	size_t pruned = 0;
	fwrite(f->head, 1, f->headlen, out);
	fputs(",\"nodes\":[", out);
	int rc = write_nodes(out, t, chain, nchain, root, thr, other, &pruned, fa, fb);
	if (fa && fclose(fa) != 0 && rc == 0)
		rc = CPROF_ENOMEM;
	if (fb && fclose(fb) != 0 && rc == 0)
		rc = CPROF_ENOMEM;
	if (rc < 0) {
		free(abuf);
		free(bbuf);
		return rc;
	}
	fputs("],\"names\":[", out);
	fwrite(f->names_raw, 1, f->names_len, out);
	size_t nx = x ? x->n : 0, all = f->nnames + nx;
	for (size_t i = 0; i < nx; i++) {
		if (f->nnames || i)
			putc(',', out);
		json_str(out, x->v[i]);
	}
	bool add = other == all;
	if (add)
		fputs(all ? ",\"(other)\"" : "\"(other)\"", out);
	fputs("],\"namePackage\":[", out);
	fwrite(f->npkg_raw, 1, f->npkg_len, out);
	for (size_t i = 0; i < nx + add; i++)
		fputs(f->npkg_len || i ? ",-1" : "-1", out);
	fputs("],\"packages\":[", out);
	fwrite(f->pkgs_raw, 1, f->pkgs_len, out);
	fprintf(out, "],\"pruned\":{\"fraction\":%g,\"boxes\":%zu},\"zoom\":[", minfrac, pruned);
	for (size_t i = 1; i < nchain; i++) {
		json_str(out, name_of(f, x, t->name[chain[i]]));
		putc(',', out);
	}
	if (nchain)
		json_str(out, name_of(f, x, t->name[root]));
	fprintf(out, "],\"focus\":%zu", nchain);
	if (t->two) {
		fputs(",\"after\":[", out);
		fwrite(abuf, 1, alen, out);
		fputs("],\"before\":[", out);
		fwrite(bbuf, 1, blen, out);
		fprintf(out, "],\"baseTotal\":%" PRId64, base_total);
	}
	fputs("}\n", out);
	free(abuf);
	free(bbuf);
	return ferror(out) ? CPROF_EIO : 0;
}

/* The node of t reached from root by the names zoom[] (as far as they
 * match); its ancestors into chain (room for nzoom). */
static uint32_t walk_zoom(const cprof_flame *f, const xnames *x, const wtree *t, const char *const *zoom,
			  size_t nzoom, uint32_t *chain, size_t *nchain)
{
	uint32_t node = 0;
	*nchain = 0;
	for (size_t z = 0; z < nzoom; z++) {
		uint32_t hit = NIL;
		for (uint32_t c = t->first[node]; c != NIL; c = t->next[c])
			if (strcmp(name_of(f, x, t->name[c]), zoom[z]) == 0) {
				hit = c;
				break;
			}
		if (hit == NIL)
			break;
		chain[(*nchain)++] = node;
		node = hit;
	}
	return node;
}

int cprof_flame_write(const cprof_flame *f, const char *const *zoom, size_t nzoom, double minfrac,
		      FILE *out)
{
	const wtree *t = &f->t;
	uint32_t *chain = malloc((nzoom + 1) * sizeof *chain);
	if (!chain)
		return CPROF_ENOMEM;
	size_t nchain = 0;
	uint32_t node = walk_zoom(f, NULL, t, zoom, nzoom, chain, &nchain);
	int rc = write_doc(f, t, chain, nchain, node, minfrac, out, NULL, 0);
	free(chain);
	return rc;
}

/* ---- the sandwich ------------------------------------------------------------------ */

typedef struct trie {
	wtree t;
	uint64_t *keys;
	uint32_t *vals;
	size_t hcap, used;
} trie;

#define mix cprof_hash_u64

/* the child of parent named name, created when absent; NIL on no memory */
static uint32_t trie_child(trie *r, uint32_t parent, uint32_t name)
{
	if (2 * (r->used + 1) > r->hcap) {
		size_t cap = r->hcap ? r->hcap * 2 : 1024;
		uint64_t *k = malloc(cap * sizeof *k);
		uint32_t *v = malloc(cap * sizeof *v);
		if (!k || !v) {
			free(k);
			free(v);
			return NIL;
		}
		memset(k, 0xff, cap * sizeof *k);
		for (size_t i = 0; i < r->hcap; i++)
			if (r->keys[i] != UINT64_MAX) {
				size_t j = mix(r->keys[i]) & (cap - 1);
				while (k[j] != UINT64_MAX)
					j = (j + 1) & (cap - 1);
				k[j] = r->keys[i];
				v[j] = r->vals[i];
			}
		free(r->keys);
		free(r->vals);
		r->keys = k;
		r->vals = v;
		r->hcap = cap;
	}
	uint64_t key = (uint64_t)parent << 32 | name;
	size_t j = mix(key) & (r->hcap - 1);
	while (r->keys[j] != UINT64_MAX) {
		if (r->keys[j] == key)
			return r->vals[j];
		j = (j + 1) & (r->hcap - 1);
	}
	wtree *t = &r->t;
	if (wt_grow(t))
		return NIL;
	uint32_t i = t->n++;
	t->name[i] = name;
	t->self[i] = t->cum[i] = 0;
	if (t->two)
		t->va[i] = t->vb[i] = 0;
	t->first[i] = NIL;
	t->parent[i] = parent;
	t->next[i] = t->first[parent];
	t->first[parent] = i;
	r->keys[j] = key;
	r->vals[j] = i;
	r->used++;
	return i;
}

int cprof_flame_write_sandwich(const cprof_flame *f, const char *name, bool callers, double minfrac,
			       FILE *out)
{
	const wtree *t = &f->t;
	uint32_t target = NIL;
	for (size_t i = 0; i < f->nnames; i++)
		if (strcmp(f->names[i], name) == 0)
			target = (uint32_t)i;
	trie r = { 0 };
	int rc = wt_grow(&r.t);
	if (rc)
		return rc;
	r.t.n = 1;
	r.t.name[0] = target == NIL ? other_index(f, NULL) : target;
	r.t.self[0] = r.t.cum[0] = 0;
	r.t.first[0] = r.t.next[0] = r.t.parent[0] = NIL;
	uint32_t *map = NULL;
	if (target != NIL && !callers && !(map = malloc((size_t)t->n * sizeof *map)))
		rc = CPROF_ENOMEM;
	for (uint32_t i = 1; target != NIL && rc == 0 && i < t->n; i++) {
		if (t->name[i] != target)
			continue;
		bool outer = true;
		for (uint32_t a = t->parent[i]; a != NIL && outer; a = t->parent[a])
			outer = t->name[a] != target;
		if (!outer)
			continue;
		r.t.cum[0] = cpr_add64(r.t.cum[0], t->cum[i]);
		if (callers) {
			uint32_t cur = 0;
			for (uint32_t a = t->parent[i]; a != NIL && a != 0; a = t->parent[a]) {
				if ((cur = trie_child(&r, cur, t->name[a])) == NIL) {
					rc = CPROF_ENOMEM;
					break;
				}
				r.t.cum[cur] = cpr_add64(r.t.cum[cur], t->cum[i]);
			}
			if (rc == 0) {
				if (cur == 0)
					r.t.self[0] = cpr_add64(r.t.self[0], t->cum[i]);
				else
					r.t.self[cur] = cpr_add64(r.t.self[cur], t->cum[i]);
			}
			continue;
		}
		r.t.self[0] = cpr_add64(r.t.self[0], t->self[i]);
		map[i] = 0;
		for (uint32_t j = i + 1; j < f->end[i]; j++) {
			uint32_t c = trie_child(&r, map[t->parent[j]], t->name[j]);
			if (c == NIL) {
				rc = CPROF_ENOMEM;
				break;
			}
			map[j] = c;
			r.t.self[c] = cpr_add64(r.t.self[c], t->self[j]);
			r.t.cum[c] = cpr_add64(r.t.cum[c], t->cum[j]);
		}
	}
	free(map);
	if (rc == 0)
		rc = write_doc(f, &r.t, NULL, 0, 0, minfrac, out, NULL, 0);
	wt_free(&r.t);
	free(r.keys);
	free(r.vals);
	return rc;
}

/* ---- the diff ---------------------------------------------------------------------- */

static uint32_t fnv(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

int cprof_flame_write_diff(const cprof_flame *f, const cprof_flame *b, const char *const *zoom,
			   size_t nzoom, double minfrac, FILE *out)
{
	int rc = 0;
	xnames x = { 0 };
	trie r = { 0 };
	r.t.two = true;
	uint32_t *bmap = malloc((b->nnames ? b->nnames : 1) * sizeof *bmap);
	uint32_t *mf = malloc((size_t)f->t.n * sizeof *mf), *mb = malloc((size_t)b->t.n * sizeof *mb);
	uint32_t *chain = malloc((nzoom + 1) * sizeof *chain);
	size_t hcap = 16;
	while (hcap < 2 * (f->nnames + b->nnames))
		hcap *= 2;
	uint32_t *h = calloc(hcap, sizeof *h);   /* merged name index + 1 */
	x.v = malloc((b->nnames ? b->nnames : 1) * sizeof *x.v);
	if (!bmap || !mf || !mb || !chain || !h || !x.v) {
		rc = CPROF_ENOMEM;
		goto out;
	}
	/* the base's names in the merged table: f's, then the base's others */
	for (size_t i = 0; i < f->nnames; i++) {
		size_t k = fnv(f->names[i]) & (hcap - 1);
		while (h[k])
			k = (k + 1) & (hcap - 1);
		h[k] = (uint32_t)i + 1;
	}
	for (size_t i = 0; i < b->nnames; i++) {
		size_t k = fnv(b->names[i]) & (hcap - 1);
		while (h[k] && strcmp(name_of(f, &x, h[k] - 1), b->names[i]) != 0)
			k = (k + 1) & (hcap - 1);
		if (!h[k]) {
			x.v[x.n++] = b->names[i];
			h[k] = (uint32_t)(f->nnames + x.n);
		}
		bmap[i] = h[k] - 1;
	}
	if ((rc = wt_grow(&r.t)))
		goto out;
	r.t.n = 1;
	r.t.name[0] = f->t.name[0];
	r.t.first[0] = r.t.next[0] = r.t.parent[0] = NIL;
	r.t.self[0] = f->t.self[0];
	r.t.va[0] = f->t.cum[0];
	r.t.vb[0] = b->t.cum[0];
	mf[0] = 0;
	for (uint32_t i = 1; i < f->t.n; i++) {
		uint32_t c = trie_child(&r, mf[f->t.parent[i]], f->t.name[i]);
		if (c == NIL) {
			rc = CPROF_ENOMEM;
			goto out;
		}
		mf[i] = c;
		r.t.self[c] = cpr_add64(r.t.self[c], f->t.self[i]);
		r.t.va[c] = cpr_add64(r.t.va[c], f->t.cum[i]);
	}
	mb[0] = 0;
	for (uint32_t i = 1; i < b->t.n; i++) {
		uint32_t c = trie_child(&r, mb[b->t.parent[i]], bmap[b->t.name[i]]);
		if (c == NIL) {
			rc = CPROF_ENOMEM;
			goto out;
		}
		mb[i] = c;
		r.t.vb[c] = cpr_add64(r.t.vb[c], b->t.cum[i]);
	}
	/* the width of a frame: both sides' values (pprof's diff flame graph) */
	for (uint32_t i = 0; i < r.t.n; i++)
		r.t.cum[i] = cpr_add64(cpr_abs64(r.t.va[i]), cpr_abs64(r.t.vb[i]));
	size_t nchain = 0;
	uint32_t node = walk_zoom(f, &x, &r.t, zoom, nzoom, chain, &nchain);
	rc = write_doc(f, &r.t, chain, nchain, node, minfrac, out, &x, b->total);
out:
	free(bmap);
	free(mf);
	free(mb);
	free(chain);
	free(h);
	free(x.v);
	wt_free(&r.t);
	free(r.keys);
	free(r.vals);
	return rc;
}
