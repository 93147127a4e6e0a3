/*
 * filter.c - the parts of pprof's report pipeline that reshape the profile
 * before a report looks at it: the profile's own drop_frames/keep_frames
 * (pprof's RemoveUninteresting, applied once at load time by pprof, here
 * first thing in a report), tagroot/tagleaf pseudo frames, the sample
 * filters of pprof's applyFocus (focus, ignore, hide, show, show_from,
 * tagfocus, tagignore, tagshow, taghide, prune_from) and the aggregation to
 * a granularity.
 *
 * pprof mutates its Location and Function records in place (hide trims a
 * location's inline lines for every sample that uses it; aggregation clears
 * function names).  The model here does the same: a location's line range is
 * narrowed in place, or re-pointed at a fresh copy of the kept lines at the
 * end of the line table when the kept lines are not contiguous, so -raw
 * prints every location where pprof does, with the lines pprof keeps.
 *
 * Samples point to interned stacks and label sets, so every per-sample
 * decision of pprof is taken once per distinct stack (or label set, or
 * stack and label-set pair for tag pseudo frames) and cached in an array
 * indexed by the old stack/set; the samples are then compacted in place,
 * keeping their order.  Regexp results are cached per function and per
 * mapping, so a filter costs one match per distinct name, not per frame.
 *
 * Regexps are regex.c's (PCRE2 in UTF mode with '$' meaning end of text,
 * matched unanchored like Go's MatchString, under match limits); a match
 * that hits a limit makes the filters fail with that error, checked after
 * each pass and before any "matched no samples" warning.
 */
#include "report_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- small shared helpers -------------------------------------------------- */

/* An array of n elements of size el, or NULL (also on overflow). */
static void *alloc_array(size_t n, size_t el)
{
	size_t bytes = cprof_mul_size(n ? n : 1, el);
	return bytes == SIZE_MAX ? NULL : malloc(bytes);
}



static void warnf(cpr_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(cpr_ctx *c, const char *fmt, ...)
{
	if (!c->warn)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(c->warn, fmt, ap);
	va_end(ap);
}

static void warn_no_match(cpr_ctx *c, bool matched, const char *what)
{
	if (!matched)
		warnf(c, "%s expression matched no samples\n", what);
}

static bool valid_fn(const cprof_profile *p, uint32_t fi)
{
	return fi < p->functions.n;
}

static bool valid_map(const cprof_profile *p, uint32_t mi)
{
	return mi < p->mappings.n;
}

/* ---- regexps --------------------------------------------------------------- */

enum { UNKNOWN = 0, NO = 1, YES = 2 };

typedef struct rx {
	cpr_regex *re;              /* NULL: the option is not set */
	uint8_t *fn;                /* per function: UNKNOWN/NO/YES */
	size_t nfn;
	uint8_t *map;               /* per mapping */
	size_t nmap;
} rx;

/* Compile pat (len bytes) into r (regex.c); on error set err to
 * "<prefix>error parsing regexp: <why>: `<part of pat>`".  name labels a
 * failed match. */
static int rx_compile_n(rx *r, const char *pat, size_t len, const char *name, const char *prefix,
			cprof_error *err)
{
	cprof_error e = { 0 };
	r->re = cpr_regex_new(pat, len, name, prefix, &e);
	if (!r->re)
		return cprof_seterr(err, e.code, "%s", e.msg);
	return 0;
}

/* pprof's compileRegexOption: nothing for an empty value. */
static int rx_option(rx *r, const char *name, const char *value, cprof_error *err)
{
	if (!value || !*value)
		return 0;
	char prefix[64];
	snprintf(prefix, sizeof prefix, "parsing %s regexp: ", name);
	return rx_compile_n(r, value, strlen(value), name, prefix, err);
}

static void rx_free(rx *r)
{
	cpr_regex_free(r->re);
	free(r->fn);
	free(r->map);
	memset(r, 0, sizeof *r);
}

/* A match that failed (a limit hit) answers false here; rx_status turns it
 * into the report's error before anything is printed. */
static bool rx_match(rx *r, const char *s, size_t len)
{
	return cpr_regex_match(r->re, s, len);
}

/* 0, or the error of the first failed match of any of the n regexps. */
static int rx_status(cprof_error *err, rx *const *rs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int rc = cpr_regex_status(rs[i]->re, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static bool rx_match_str(rx *r, const cprof_profile *p, cprof_str s)
{
	return rx_match(r, cprof_s(p, s), cprof_slen(p, s));
}

/* The cached answer for element i of n ((*v)[] made on first use:
 * without memory nothing is cached), or UNKNOWN. */
static int memo_get(uint8_t **v, size_t *nv, size_t n, size_t i)
{
	if (!*v && n) {
		*v = calloc(n, 1);
		*nv = *v ? n : 0;
	}
	return i < *nv ? (*v)[i] : UNKNOWN;
}

static bool memo_put(uint8_t *v, size_t nv, size_t i, bool m)
{
	if (i < nv)
		v[i] = m ? YES : NO;
	return m;
}

/* Does the function's name or file name match?  Cached per function. */
static bool rx_fn(rx *r, const cprof_profile *p, uint32_t fi)
{
	int c = memo_get(&r->fn, &r->nfn, p->functions.n, fi);
	if (c != UNKNOWN)
		return c == YES;
	const cprof_function *f = &p->functions.v[fi];
	return memo_put(r->fn, r->nfn, fi,
			rx_match_str(r, p, f->name) || rx_match_str(r, p, f->filename));
}

/* Does the mapping's file match?  Cached per mapping. */
static bool rx_map(rx *r, const cprof_profile *p, uint32_t mi)
{
	int c = memo_get(&r->map, &r->nmap, p->mappings.n, mi);
	if (c != UNKNOWN)
		return c == YES;
	return memo_put(r->map, r->nmap, mi, rx_match_str(r, p, p->mappings.v[mi].file));
}

static bool rx_line(rx *r, const cprof_profile *p, const cprof_line *ln)
{
	return valid_fn(p, ln->function) && rx_fn(r, p, ln->function);
}

static bool rx_loc_mapping(rx *r, const cprof_profile *p, const cprof_location *l)
{
	return valid_map(p, l->mapping) && rx_map(r, p, l->mapping);
}

/* pprof's Location.matchesName. */
static bool rx_loc(rx *r, const cprof_profile *p, const cprof_location *l)
{
	const cprof_line *ln = p->lines.v + l->line_off;
	for (uint32_t i = 0; i < l->nline; i++)
		if (rx_line(r, p, &ln[i]))
			return true;
	return rx_loc_mapping(r, p, l);
}

/* pprof's simplifyFunc: drop one leading '.', then cut at the first '('
 * that does not begin "(anonymous namespace)" or end "operator()". */
static size_t simplify_func(const char **s, size_t n)
{
	static const char anon[] = "(anonymous namespace)", op[] = "operator()";
	const char *f = *s;
	if (n && f[0] == '.') {
		f++;
		n--;
	}
	*s = f;
	for (size_t i = 0; i < n;) {
		if (n - i >= sizeof anon - 1 && memcmp(f + i, anon, sizeof anon - 1) == 0)
			i += sizeof anon - 1;
		else if (n - i >= sizeof op - 1 && memcmp(f + i, op, sizeof op - 1) == 0)
			i += sizeof op - 1;
		else if (f[i] == '(')
			return i;
		else
			i++;
	}
	return n;
}

/* ---- the per-call state ------------------------------------------------------ */

typedef struct fstate {
	cpr_ctx *c;
	cprof_profile *p;
	struct { uint32_t *v; size_t n, cap; } stk;     /* a stack being built */
	struct { uint8_t *v; size_t n, cap; } mask;     /* kept lines of a location */
	struct { cprof_label *v; size_t n, cap; } lab;  /* a label set being built */
	struct { char *v; size_t n, cap; } str;         /* a string being built */
} fstate;

/* Stack s of the profile being filtered: its locations, *n of them. */
static const uint32_t *stack_of(const fstate *f, uint32_t s, size_t *n)
{
	*n = cprof_stack_len(f->p, s);
	return cprof_stack_locs(f->p, s);
}

static void fstate_free(fstate *f)
{
	free(f->stk.v);
	free(f->mask.v);
	free(f->lab.v);
	free(f->str.v);
}

static int str_append(fstate *f, const char *s, size_t n)
{
	if (f->str.n + n + 1 < n || CPR_RESERVE(f->str, f->str.n + n + 1))
		return CPROF_ENOMEM;
	memcpy(f->str.v + f->str.n, s, n);
	f->str.n += n;
	f->str.v[f->str.n] = 0;
	return 0;
}

/* A mask with one entry per line of location li. */
static uint8_t *line_mask(fstate *f, uint32_t li)
{
	size_t n = f->p->locations.v[li].nline;
	if (CPR_RESERVE(f->mask, n ? n : 1))
		return NULL;
	memset(f->mask.v, 0, n ? n : 1);
	return f->mask.v;
}

/* Keep the lines of location li whose mask entry is set, in order. */
static int keep_lines(cprof_profile *p, uint32_t li, const uint8_t *mask)
{
	cprof_location *l = &p->locations.v[li];
	uint32_t n = l->nline, k = 0, first = 0, last = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!mask[i])
			continue;
		if (!k)
			first = i;
		last = i;
		k++;
	}
	if (k == n)
		return 0;
	if (k == 0) {
		l->nline = 0;
		return 0;
	}
	if (last - first + 1 == k) {
		l->line_off += first;
		l->nline = k;
		return 0;
	}
	if (p->lines.n + k > UINT32_MAX || CPR_RESERVE(p->lines, p->lines.n + k))
		return CPROF_ENOMEM;
	size_t off = p->lines.n;
	for (uint32_t i = 0; i < n; i++)
		if (mask[i])
			p->lines.v[p->lines.n++] = p->lines.v[l->line_off + i];
	l->line_off = (uint32_t)off;
	l->nline = k;
	return 0;
}

#define R_DROP ((int64_t)-1000)         /* a callback's "drop the samples" */
#define M_UNSET UINT32_MAX
#define M_DROP (UINT32_MAX - 1)

/* Answer for one distinct stack (or label set): the new index, R_DROP, or a
 * negative CPROF_E* code. */
typedef int64_t (*remap_fn)(fstate *f, uint32_t old, void *arg);

/* Remap every sample's stack (by_lset false) or label set (true) through fn,
 * once per distinct old index; samples mapped to R_DROP are removed. */
static int remap_samples(fstate *f, bool by_lset, remap_fn fn, void *arg)
{
	cprof_profile *p = f->p;
	size_t n0 = by_lset ? cprof_nlsets(p) : cprof_nstacks(p);
	uint32_t *map = alloc_array(n0, sizeof *map);
	if (!map)
		return CPROF_ENOMEM;
	for (size_t i = 0; i < n0; i++)
		map[i] = M_UNSET;
	size_t nv = p->vtypes.n, w = 0;
	for (size_t i = 0; i < p->samples.n; i++) {
		cprof_sample s = p->samples.v[i];
		uint32_t old = by_lset ? s.labels : s.stack;
		if (map[old] == M_UNSET) {
			int64_t r = fn(f, old, arg);
			if (r == R_DROP) {
				map[old] = M_DROP;
			} else if (r < 0) {
				free(map);
				return (int)r;
			} else {
				map[old] = (uint32_t)r;
			}
		}
		if (map[old] == M_DROP)
			continue;
		if (by_lset)
			s.labels = map[old];
		else
			s.stack = map[old];
		p->samples.v[w] = s;
		if (w != i && nv)
			memmove(p->values.v + w * nv, p->values.v + i * nv, nv * sizeof *p->values.v);
		w++;
	}
	p->samples.n = w;
	p->values.n = w * nv;
	free(map);
	return 0;
}

/* Intern locations [from, to) of stack s as a new stack. */
static int64_t sub_stack(fstate *f, uint32_t s, size_t from, size_t to)
{
	if (from == 0 && to == cprof_stack_len(f->p, s))
		return s;
	size_t n = to - from;
	if (CPR_RESERVE(f->stk, n ? n : 1))
		return CPROF_ENOMEM;
	if (n)
		memcpy(f->stk.v, cprof_stack_locs(f->p, s) + from, n * sizeof *f->stk.v);
	return cprof_intern_stack(f->p, f->stk.v, n);
}

/* ---- drop_frames / keep_frames (pprof's Profile.Prune) ------------------------ */

typedef struct prune_args {
	uint8_t *prune, *beneath;   /* per location */
} prune_args;

static int64_t prune_stack(fstate *f, uint32_t s, void *arg)
{
	const prune_args *a = arg;
	size_t n;
	const uint32_t *locs = stack_of(f, s, &n);
	bool user = false;
	for (size_t i = n; i-- > 0;) {
		uint32_t l = locs[i];
		if (!a->prune[l] && !a->beneath[l]) {
			user = true;
			continue;
		}
		if (!user)
			continue;
		if (a->prune[l])
			return sub_stack(f, s, i + 1, n);
		return sub_stack(f, s, i, n);
	}
	return s;
}

/* drop (and keep, when set) match the simplified name of function fi?
 * Cached per function in cache. */
static bool prune_fn(cprof_profile *p, uint32_t fi, rx *drop, rx *keep, uint8_t *cache)
{
	if (cache[fi] != UNKNOWN)
		return cache[fi] == YES;
	const cprof_function *fn = &p->functions.v[fi];
	bool m = false;
	if (fn->name) {
		const char *s = cprof_s(p, fn->name);
		size_t n = simplify_func(&s, cprof_slen(p, fn->name));
		m = rx_match(drop, s, n) && !(keep && keep->re && rx_match(keep, s, n));
	}
	cache[fi] = m ? YES : NO;
	return m;
}

static int remove_uninteresting(fstate *f, cprof_error *err)
{
	cprof_profile *p = f->p;
	if (!p->drop_frames)
		return 0;
	rx drop = { 0 }, keep = { 0 };
	cprof_error ignored = { 0 };
	int rc = 0;
	uint8_t *cache = NULL;
	prune_args a = { 0 };
	/* pprof ignores the error of a bad expression and prunes nothing. */
	const char *d = cprof_s(p, p->drop_frames), *k = cprof_s(p, p->keep_frames);
	size_t dn = cprof_slen(p, p->drop_frames), kn = cprof_slen(p, p->keep_frames);
	if (str_append(f, "^(", 2) || str_append(f, d, dn) || str_append(f, ")$", 2))
		return CPROF_ENOMEM;
	rc = rx_compile_n(&drop, f->str.v, f->str.n, "drop_frames", "", &ignored);
	f->str.n = 0;
	if (rc == CPROF_ENOMEM || !drop.re) {
		rc = rc == CPROF_ENOMEM ? rc : 0;
		goto out;
	}
	if (p->keep_frames) {
		if (str_append(f, "^(", 2) || str_append(f, k, kn) || str_append(f, ")$", 2)) {
			rc = CPROF_ENOMEM;
			goto out;
		}
		rc = rx_compile_n(&keep, f->str.v, f->str.n, "keep_frames", "", &ignored);
		f->str.n = 0;
		if (rc == CPROF_ENOMEM || !keep.re) {
			rc = rc == CPROF_ENOMEM ? rc : 0;
			goto out;
		}
	}
	rc = CPROF_ENOMEM;
	cache = calloc(p->functions.n ? p->functions.n : 1, 1);
	a.prune = calloc(p->locations.n ? p->locations.n : 1, 1);
	a.beneath = calloc(p->locations.n ? p->locations.n : 1, 1);
	if (!cache || !a.prune || !a.beneath)
		goto out;
	bool any = false;
	for (size_t li = 0; li < p->locations.n; li++) {
		cprof_location *l = &p->locations.v[li];
		if (!l->nline)
			continue;       /* also: no pointer arithmetic on an empty (NULL) line table */
		const cprof_line *ln = p->lines.v + l->line_off;
		int64_t i;
		for (i = (int64_t)l->nline - 1; i >= 0; i--)
			if (valid_fn(p, ln[i].function) &&
			    prune_fn(p, ln[i].function, &drop, &keep, cache))
				break;
		if (i < 0)
			continue;
		any = true;
		a.beneath[li] = 1;
		if (i == (int64_t)l->nline - 1) {
			a.prune[li] = 1;
		} else {
			l->line_off += (uint32_t)i + 1;
			l->nline -= (uint32_t)i + 1;
		}
	}
	if ((rc = rx_status(err, (rx *[]){ &drop, &keep }, 2)) < 0)
		goto out;
	rc = any ? remap_samples(f, false, prune_stack, &a) : 0;
out:
	free(cache);
	free(a.prune);
	free(a.beneath);
	rx_free(&drop);
	rx_free(&keep);
	return rc;
}

/* ---- numeric label units (pprof's NumLabelUnits) ----------------------------- */

#define NO_UNIT ((uint64_t)CPROF_NONE)

static int cmp_str_ids(const void *a, const void *b, void *p)
{
	return strcmp(cprof_s(p, *(const cprof_str *)a), cprof_s(p, *(const cprof_str *)b));
}

static int numunits_compute(cpr_ctx *c)
{
	cprof_profile *p = c->p;
	size_t nls = cprof_nlsets(p);
	uint8_t *seen = calloc(nls ? nls : 1, 1);
	cpr_map ignored = { 0 };
	cprof_str *pairs = NULL;
	int rc = CPROF_ENOMEM;
	if (!seen)
		goto out;
	c->numunits_ready = true;
	for (size_t i = 0; i < p->samples.n; i++) {
		uint32_t ls = p->samples.v[i].labels;
		if (seen[ls])
			continue;
		seen[ls] = 1;
		const cprof_label *l = cprof_lset(p, ls);
		for (size_t k = 0, n = cprof_lset_len(p, ls); k < n; k++) {
			if (l[k].str || !cpr_label_present(&l[k]))
				continue;
			uint64_t *u = cpr_map_slot(&c->numunits, l[k].key, NO_UNIT, NULL);
			if (!u)
				goto out;
			if (!l[k].unit)
				continue;
			if (*u == NO_UNIT)
				*u = l[k].unit;
			else if (*u != l[k].unit &&
				 !cpr_map_slot(&ignored, (uint64_t)l[k].key << 32 | l[k].unit, 0, NULL))
				goto out;
		}
	}
	/* Keys without any unit get one from their name. */
	cprof_str bytes = CPROF_NONE;
	for (size_t j = 0; j < c->numunits.cap; j++) {
		if (c->numunits.keys[j] == CPROF_U64MAP_EMPTY || c->numunits.vals[j] != NO_UNIT)
			continue;
		const char *key = cprof_s(p, (cprof_str)c->numunits.keys[j]);
		if (strcmp(key, "alignment") == 0 || strcmp(key, "request") == 0) {
			if (bytes == CPROF_NONE && (bytes = cprof_intern_cstr(p, "bytes")) == CPROF_NONE)
				goto out;
			c->numunits.vals[j] = bytes;
		} else {
			c->numunits.vals[j] = c->numunits.keys[j];
		}
	}
	/* "For tag K used unit U, also encountered unit(s) V, W" per key, by
	 * key name (pprof's order is its map's), units sorted. */
	if (ignored.n) {
		pairs = alloc_array(ignored.n, 2 * sizeof *pairs);
		if (!pairs)
			goto out;
		size_t np = 0;
		for (size_t j = 0; j < ignored.cap; j++)
			if (ignored.keys[j] != CPROF_U64MAP_EMPTY) {
				pairs[2 * np] = (cprof_str)(ignored.keys[j] >> 32);
				pairs[2 * np + 1] = (cprof_str)ignored.keys[j];
				np++;
			}
		/* sort by key name, then unit name: a stable pass per field */
		qsort_r(pairs, np, 2 * sizeof *pairs, cmp_str_ids, p);
		for (size_t i = 0; i < np;) {
			size_t j = i;
			while (j < np && pairs[2 * j] == pairs[2 * i])
				j++;
			cprof_str *units = alloc_array(j - i, sizeof *units);
			if (!units)
				goto out;
			for (size_t k = i; k < j; k++)
				units[k - i] = pairs[2 * k + 1];
			qsort_r(units, j - i, sizeof *units, cmp_str_ids, p);
			uint64_t *u = cpr_map_find(&c->numunits, pairs[2 * i]);
			warnf(c, "For tag %s used unit %s, also encountered unit(s) ",
			      cprof_s(p, pairs[2 * i]), u ? cprof_s(p, (cprof_str)*u) : "");
			for (size_t k = 0; k < j - i; k++)
				warnf(c, "%s%s", k ? ", " : "", cprof_s(p, units[k]));
			warnf(c, "\n");
			free(units);
			i = j;
		}
	}
	rc = 0;
out:
	cpr_map_free(&ignored);
	free(seen);
	free(pairs);
	return rc;
}

cprof_str cpr_num_label_unit(cpr_ctx *c, cprof_str key)
{
	if (!c->numunits_ready && numunits_compute(c) < 0)
		return 0;
	uint64_t *u = cpr_map_find(&c->numunits, key);
	return u ? (cprof_str)*u : 0;
}

void cpr_filter_free(cpr_ctx *c)
{
	cpr_map_free(&c->numunits);
	c->numunits_ready = false;
}

/* ---- tagroot / tagleaf pseudo frames (pprof's addLabelNodes) ----------------- */

typedef struct tagnode_args {
	cprof_str *keys;            /* root keys then leaf keys, as given */
	size_t nroot, nleaf;
	const char *unit;           /* the output unit */
	uint32_t *lset_locs;        /* per label set: nleaf leaf locs, nroot root locs */
	uint8_t *lset_done;
	cpr_map locs;               /* (name, key) -> location */
	cpr_map stacks;             /* (stack, label set) -> new stack */
	uint64_t next_loc, next_fn;
	bool rootm, leafm;
} tagnode_args;

/* The pseudo location for the values of key in label set ls (pprof's
 * formatLabelValues joined by ","), created when new.  *any is set when
 * the set has values for key. */
static int64_t tag_loc(fstate *f, tagnode_args *a, uint32_t ls, cprof_str key, bool *any)
{
	cprof_profile *p = f->p;
	const cprof_label *l = cprof_lset(p, ls);
	size_t n = cprof_lset_len(p, ls);
	bool units = false, first = true;
	f->str.n = 0;
	if (str_append(f, "", 0))
		return CPROF_ENOMEM;
	for (size_t k = 0; k < n; k++) {
		if (l[k].key != key || !cpr_label_present(&l[k]))
			continue;
		if (!l[k].str && l[k].unit)
			units = true;
		if (!l[k].str)
			continue;
		if ((!first && str_append(f, ",", 1)) ||
		    str_append(f, cprof_s(p, l[k].str), cprof_slen(p, l[k].str)))
			return CPROF_ENOMEM;
		first = false;
	}
	for (size_t k = 0; k < n; k++) {
		if (l[k].key != key || l[k].str || !cpr_label_present(&l[k]))
			continue;
		char buf[CPR_LBL];
		if (units)
			cpr_scaled_label(buf, sizeof buf, l[k].num, cprof_s(p, l[k].unit), a->unit);
		else
			cpr_scaled_label(buf, sizeof buf, l[k].num, "", "");
		if ((!first && str_append(f, ",", 1)) || str_append(f, buf, strlen(buf)))
			return CPROF_ENOMEM;
		first = false;
	}
	*any = *any || !first;
	cprof_str name = cprof_intern(p, f->str.v, f->str.n);
	if (name == CPROF_NONE)
		return CPROF_ENOMEM;
	bool fresh;
	uint64_t *slot = cpr_map_slot(&a->locs, (uint64_t)name << 32 | key, 0, &fresh);
	if (!slot)
		return CPROF_ENOMEM;
	if (!fresh)
		return (int64_t)*slot;
	cprof_function fn = { .id = a->next_fn++, .name = name, .filename = key };
	int64_t fi = cprof_add_function(p, &fn);
	if (fi < 0)
		return fi;
	cprof_location loc = { .id = a->next_loc++, .mapping = CPROF_NONE };
	cprof_line line = { .function = (uint32_t)fi };
	int64_t li = cprof_add_location(p, &loc, &line, 1);
	if (li < 0)
		return li;
	*slot = (uint64_t)li;
	return li;
}

static int tag_lset(fstate *f, tagnode_args *a, uint32_t ls)
{
	if (a->lset_done[ls])
		return 0;
	size_t k = a->nroot + a->nleaf;
	uint32_t *out = a->lset_locs + (size_t)ls * k;
	/* roots first, then leaves, each from the last key to the first (the
	 * order pprof creates them in) */
	bool any = false;
	for (size_t i = 0; i < a->nroot; i++) {
		int64_t l = tag_loc(f, a, ls, a->keys[a->nroot - 1 - i], &any);
		if (l < 0)
			return (int)l;
		out[a->nleaf + i] = (uint32_t)l;
	}
	a->rootm = a->rootm || any;
	any = false;
	for (size_t i = 0; i < a->nleaf; i++) {
		int64_t l = tag_loc(f, a, ls, a->keys[a->nroot + a->nleaf - 1 - i], &any);
		if (l < 0)
			return (int)l;
		out[i] = (uint32_t)l;
	}
	a->leafm = a->leafm || any;
	a->lset_done[ls] = 1;
	return 0;
}

/* Split a comma-separated key list, dropping empty names. */
static int split_keys(cprof_profile *p, const char *s, cprof_str *out, size_t *n)
{
	*n = 0;
	while (s && *s) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (len) {
			cprof_str k = cprof_intern(p, s, len);
			if (k == CPROF_NONE)
				return CPROF_ENOMEM;
			out[(*n)++] = k;
		}
		s = e ? e + 1 : NULL;
	}
	return 0;
}

static int add_label_nodes(fstate *f)
{
	cpr_ctx *c = f->c;
	cprof_profile *p = f->p;
	const char *root = c->o->tagroot ? c->o->tagroot : "";
	const char *leaf = c->o->tagleaf ? c->o->tagleaf : "";
	if (!*root && !*leaf)
		return 0;
	tagnode_args a = { .unit = c->o->unit ? c->o->unit : "minimum" };
	int rc = CPROF_ENOMEM;
	size_t maxk = strlen(root) + strlen(leaf) + 2;
	a.keys = alloc_array(maxk, sizeof *a.keys);
	if (!a.keys)
		goto out;
	if ((rc = split_keys(p, root, a.keys, &a.nroot)) < 0 ||
	    (rc = split_keys(p, leaf, a.keys + a.nroot, &a.nleaf)) < 0)
		goto out;
	size_t k = a.nroot + a.nleaf;
	if (k) {
		rc = CPROF_ENOMEM;
		for (size_t i = 0; i < p->locations.n; i++)
			if (p->locations.v[i].id >= a.next_loc)
				a.next_loc = p->locations.v[i].id;
		for (size_t i = 0; i < p->functions.n; i++)
			if (p->functions.v[i].id >= a.next_fn)
				a.next_fn = p->functions.v[i].id;
		a.next_loc++;
		a.next_fn++;
		size_t nls = cprof_nlsets(p);
		a.lset_locs = alloc_array(cprof_mul_size(nls, k), sizeof *a.lset_locs);
		a.lset_done = calloc(nls ? nls : 1, 1);
		if (!a.lset_locs || !a.lset_done)
			goto out;
		for (size_t i = 0; i < p->samples.n; i++) {
			cprof_sample *s = &p->samples.v[i];
			if ((rc = tag_lset(f, &a, s->labels)) < 0)
				goto out;
			bool fresh;
			uint64_t *slot = cpr_map_slot(&a.stacks, (uint64_t)s->stack << 32 | s->labels,
						      0, &fresh);
			rc = CPROF_ENOMEM;
			if (!slot)
				goto out;
			if (fresh) {
				size_t n = cprof_stack_len(p, s->stack);
				if (n + k < n || CPR_RESERVE(f->stk, n + k))
					goto out;
				const uint32_t *tl = a.lset_locs + (size_t)s->labels * k;
				memcpy(f->stk.v, tl, a.nleaf * sizeof *tl);
				memcpy(f->stk.v + a.nleaf, cprof_stack_locs(p, s->stack),
				       n * sizeof *f->stk.v);
				memcpy(f->stk.v + a.nleaf + n, tl + a.nleaf, a.nroot * sizeof *tl);
				int64_t ns = cprof_intern_stack(p, f->stk.v, n + k);
				if (ns < 0) {
					rc = (int)ns;
					goto out;
				}
				*slot = (uint64_t)ns;
			}
			s->stack = (uint32_t)*slot;
		}
	}
	warn_no_match(c, !*root || a.rootm, "TagRoot");
	warn_no_match(c, !*leaf || a.leafm, "TagLeaf");
	rc = 0;
out:
	free(a.keys);
	free(a.lset_locs);
	free(a.lset_done);
	cpr_map_free(&a.locs);
	cpr_map_free(&a.stacks);
	return rc;
}

int cpr_tag_roots_leaves(cpr_ctx *c, cprof_error *err)
{
	fstate f = { .c = c, .p = c->p };
	int rc = remove_uninteresting(&f, err);
	if (rc == 0 && !c->numunits_ready)
		rc = numunits_compute(c);
	if (rc == 0)
		rc = add_label_nodes(&f);
	fstate_free(&f);
	if (rc < 0)
		return cprof_seterr(err, rc, "%s", cprof_strerror(rc));    /* unless already set */
	return 0;
}

/* ---- tag filters (pprof's compileTagFilter) ------------------------------------ */

enum { T_EQ, T_GE, T_LE, T_RANGE };

typedef struct tagfilter {
	bool set;
	bool has_key;
	cprof_str key;
	bool numeric;
	int op;
	double lo, hi;
	char *unit;                 /* the unit values are compared in */
	rx *rxs;
	size_t nrx;
} tagfilter;

static void tagfilter_free(tagfilter *t)
{
	for (size_t i = 0; i < t->nrx; i++)
		rx_free(&t->rxs[i]);
	free(t->rxs);
	free(t->unit);
	memset(t, 0, sizeof *t);
}

/* 0, or the error of the first failed match of t's regexps. */
static int tagfilter_status(tagfilter *t, cprof_error *err)
{
	for (size_t i = 0; i < t->nrx; i++) {
		int rc = cpr_regex_status(t->rxs[i].re, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_alpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

/* One match of ([+-]?[[:digit:]]+)([[:alpha:]]+)? */
typedef struct range_m {
	size_t start, numend, end;
} range_m;

static size_t range_matches(const char *s, range_m *m, size_t max)
{
	size_t n = 0, len = strlen(s);
	for (size_t i = 0; i < len && n < max;) {
		size_t j = i;
		if ((s[j] == '+' || s[j] == '-') && is_digit(s[j + 1]))
			j++;
		if (!is_digit(s[j])) {
			i++;
			continue;
		}
		while (is_digit(s[j]))
			j++;
		m[n].start = i;
		m[n].numend = j;
		while (is_alpha(s[j]))
			j++;
		m[n].end = j;
		n++;
		i = j;
	}
	return n;
}

static int parse_int(const char *s, size_t n, int64_t *v, cprof_error *err)
{
	char buf[64];
	if (n >= sizeof buf)
		n = sizeof buf - 1;
	memcpy(buf, s, n);
	buf[n] = 0;
	errno = 0;
	char *end;
	long long x = strtoll(buf, &end, 10);
	if (errno || *end)
		return cprof_seterr(err, CPROF_EINVAL,
				    "failed to parse int %s: strconv.ParseInt: parsing \"%s\": value out of range",
				    buf, buf);
	*v = x;
	return 0;
}

/* pprof's parseTagFilterRange: 1 if value is a numeric range (t filled),
 * 0 if it is not, or a negative code. */
static int parse_range(tagfilter *t, const char *value, cprof_error *err)
{
	range_m m[2];
	size_t nm = range_matches(value, m, 2), len = strlen(value);
	if (nm == 0)
		return 0;
	int64_t v;
	int rc = parse_int(value + m[0].start, m[0].numend - m[0].start, &v, err);
	if (rc < 0)
		return rc;
	char u0[64], ucopy[64];
	snprintf(u0, sizeof u0, "%.*s", (int)(m[0].end - m[0].numend), value + m[0].numend);
	const char *unit = "";
	t->lo = cpr_scale(v, u0, u0, &unit);
	if (nm == 1) {
		if (m[0].start == 0 && m[0].end == len)
			t->op = T_EQ;
		else if (m[0].start == 0 && m[0].end + 1 == len && value[len - 1] == ':')
			t->op = T_GE;
		else if (m[0].start == 1 && value[0] == ':' && m[0].end == len)
			t->op = T_LE;
		else
			return 0;
	} else {
		if (m[0].start != 0 || value[m[0].end] != ':' || m[1].start != m[0].end + 1 ||
		    m[1].end != len)
			return 0;
		if ((rc = parse_int(value + m[1].start, m[1].numend - m[1].start, &v, err)) < 0)
			return rc;
		char u1[64];
		snprintf(u1, sizeof u1, "%.*s", (int)(m[1].end - m[1].numend), value + m[1].numend);
		snprintf(ucopy, sizeof ucopy, "%s", unit);
		const char *unit2 = "";
		t->hi = cpr_scale(v, u1, ucopy, &unit2);
		if (strcmp(ucopy, unit2) != 0)
			return 0;
		unit = ucopy;
		t->op = T_RANGE;
	}
	if (!(t->unit = strdup(unit)))
		return CPROF_ENOMEM;
	return 1;
}

static int tagfilter_compile(cpr_ctx *c, tagfilter *t, const char *name, const char *value,
			     cprof_error *err)
{
	if (!value || !*value)
		return 0;
	t->set = true;
	const char *eq = strchr(value, '=');
	if (eq) {
		/* "=x" has an empty key, which pprof treats as no key */
		t->has_key = eq != value;
		if ((t->key = cprof_intern(c->p, value, (size_t)(eq - value))) == CPROF_NONE)
			return CPROF_ENOMEM;
		value = eq + 1;
	}
	int rc = parse_range(t, value, err);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		t->numeric = true;
		warnf(c, "%s:Interpreted '%s' as range, not regexp\n", name, value);
		return 0;
	}
	size_t n = 1;
	for (const char *s = value; *s; s++)
		n += *s == ',';
	if (!(t->rxs = calloc(n, sizeof *t->rxs)))
		return CPROF_ENOMEM;
	char prefix[64];
	snprintf(prefix, sizeof prefix, "parsing %s regexp: ", name);
	for (const char *s = value;; t->nrx++) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		rc = rx_compile_n(&t->rxs[t->nrx], s, len, name, prefix, err);
		if (rc < 0)
			return rc;
		if (!e) {
			t->nrx++;
			break;
		}
		s = e + 1;
	}
	return 0;
}

static bool tag_num_match(cpr_ctx *c, const tagfilter *t, const cprof_label *l)
{
	const char *su = "";
	double v = cpr_scale(l->num, cprof_s(c->p, cpr_num_label_unit(c, l->key)), t->unit, &su);
	if (strcmp(su, t->unit) != 0)
		return false;
	switch (t->op) {
	case T_EQ: return v == t->lo;
	case T_GE: return v >= t->lo;
	case T_LE: return v <= t->lo;
	default: return v >= t->lo && v <= t->hi;
	}
}

/* Does the filter select label set ls?  <0 on ENOMEM. */
static int tagfilter_match(fstate *f, tagfilter *t, uint32_t ls)
{
	cprof_profile *p = f->p;
	const cprof_label *l = cprof_lset(p, ls);
	size_t n = cprof_lset_len(p, ls);
	if (t->numeric) {
		for (size_t k = 0; k < n; k++)
			if (!l[k].str && cpr_label_present(&l[k]) &&
			    (!t->has_key || l[k].key == t->key) && tag_num_match(f->c, t, &l[k]))
				return 1;
		return 0;
	}
	if (t->has_key) {
		for (size_t k = 0; k < n; k++)
			if (l[k].str && l[k].key == t->key)
				for (size_t r = 0; r < t->nrx; r++)
					if (rx_match_str(&t->rxs[r], p, l[k].str))
						return 1;
		return 0;
	}
	/* every regexp must match some "key:value" of the string labels */
	for (size_t r = 0; r < t->nrx; r++) {
		bool found = false;
		for (size_t k = 0; k < n && !found; k++) {
			if (!l[k].str)
				continue;
			f->str.n = 0;
			if (str_append(f, cprof_s(p, l[k].key), cprof_slen(p, l[k].key)) ||
			    str_append(f, ":", 1) ||
			    str_append(f, cprof_s(p, l[k].str), cprof_slen(p, l[k].str)))
				return CPROF_ENOMEM;
			found = rx_match(&t->rxs[r], f->str.v, f->str.n);
		}
		if (!found)
			return 0;
	}
	return 1;
}

typedef struct tagsel_args {
	tagfilter *focus, *ignore;
	bool fm, im;
} tagsel_args;

static int64_t tagsel_lset(fstate *f, uint32_t ls, void *arg)
{
	tagsel_args *a = arg;
	int focused = 1, ignored = 0;
	if (a->focus->set && (focused = tagfilter_match(f, a->focus, ls)) < 0)
		return focused;
	if (a->ignore->set && (ignored = tagfilter_match(f, a->ignore, ls)) < 0)
		return ignored;
	a->fm = a->fm || focused;
	a->im = a->im || ignored;
	return focused && !ignored ? ls : R_DROP;
}

/* ---- tagshow / taghide (pprof's FilterTagsByName) ------------------------------ */

typedef struct tagname_args {
	rx *show, *hide;
	cpr_map removed;            /* key -> 1 remove, 0 keep */
	bool sm, hm;
} tagname_args;

static int64_t tagname_lset(fstate *f, uint32_t ls, void *arg)
{
	tagname_args *a = arg;
	cprof_profile *p = f->p;
	size_t n = cprof_lset_len(p, ls);
	f->lab.n = 0;
	if (CPR_RESERVE(f->lab, n ? n : 1))
		return CPROF_ENOMEM;
	bool changed = false;
	for (size_t k = 0; k < n; k++) {
		cprof_label l = cprof_lset(p, ls)[k];
		if (!cpr_label_present(&l)) {
			changed = true;
			continue;
		}
		bool fresh;
		uint64_t *rm = cpr_map_slot(&a->removed, l.key, 0, &fresh);
		if (!rm)
			return CPROF_ENOMEM;
		if (fresh) {
			bool show = !a->show->re || rx_match_str(a->show, p, l.key);
			bool hide = a->hide->re && rx_match_str(a->hide, p, l.key);
			a->sm = a->sm || show;
			a->hm = a->hm || hide;
			*rm = !show || hide;
		}
		if (*rm)
			changed = true;
		else
			f->lab.v[f->lab.n++] = l;
	}
	if (!changed)
		return ls;
	return cprof_intern_labels(p, f->lab.v, f->lab.n);
}

/* ---- focus / ignore / hide / show (pprof's FilterSamplesByName) ---------------- */

enum { LOC_NONE = 0, LOC_FOCUS = 1, LOC_IGNORE = 2 };

typedef struct name_args {
	uint8_t *state;             /* per location: LOC_* */
	uint8_t *hidden;            /* per location */
	bool any_hidden;
} name_args;

static int64_t name_stack(fstate *f, uint32_t s, void *arg)
{
	name_args *a = arg;
	size_t n;
	const uint32_t *locs = stack_of(f, s, &n);
	bool focused = false;
	for (size_t i = 0; i < n; i++) {
		if (a->state[locs[i]] == LOC_IGNORE)
			return R_DROP;
		if (a->state[locs[i]] == LOC_FOCUS)
			focused = true;
	}
	if (!focused)
		return R_DROP;
	if (!a->any_hidden)
		return s;
	size_t k = 0;
	if (CPR_RESERVE(f->stk, n ? n : 1))
		return CPROF_ENOMEM;
	locs = cprof_stack_locs(f->p, s);
	for (size_t i = 0; i < n; i++)
		if (!a->hidden[locs[i]])
			f->stk.v[k++] = locs[i];
	if (k == 0)
		return R_DROP;
	if (k == n)
		return s;
	return cprof_intern_stack(f->p, f->stk.v, k);
}

/* keep_lines, then location li is hidden when no line is left: 1 hidden,
 * 0 not, or a negative code. */
static int mask_location(cprof_profile *p, uint32_t li, const uint8_t *mask, uint8_t *hidden)
{
	int rc = keep_lines(p, li, mask);
	if (rc < 0)
		return rc;
	if (p->locations.v[li].nline)
		return 0;
	hidden[li] = 1;
	return 1;
}

static int filter_by_name(fstate *f, rx *focus, rx *ignore, rx *hide, rx *show, bool *fm,
			  bool *im, bool *hm, bool *hnm)
{
	cprof_profile *p = f->p;
	name_args a = { 0 };
	size_t nl = p->locations.n ? p->locations.n : 1;
	int rc = CPROF_ENOMEM;
	a.state = calloc(nl, 1);
	a.hidden = calloc(nl, 1);
	if (!a.state || !a.hidden)
		goto out;
	for (uint32_t li = 0; li < p->locations.n; li++) {
		const cprof_location *l = &p->locations.v[li];
		if (ignore->re && rx_loc(ignore, p, l)) {
			*im = true;
			a.state[li] = LOC_IGNORE;
		} else if (!focus->re || rx_loc(focus, p, l)) {
			*fm = true;
			a.state[li] = LOC_FOCUS;
		}
		if (hide->re && rx_loc(hide, p, l)) {
			*hm = true;
			uint8_t *mask = line_mask(f, li);
			if (!mask)
				goto out;
			if (!rx_loc_mapping(hide, p, l))
				for (uint32_t i = 0; i < l->nline; i++)
					mask[i] = !rx_line(hide, p, &p->lines.v[l->line_off + i]);
			if ((rc = mask_location(p, li, mask, a.hidden)) < 0)
				goto out;
			rc = CPROF_ENOMEM;
			l = &p->locations.v[li];
		}
		if (show->re) {
			uint8_t *mask = line_mask(f, li);
			if (!mask)
				goto out;
			bool all = rx_loc_mapping(show, p, l);
			for (uint32_t i = 0; i < l->nline; i++) {
				const cprof_line *ln = &p->lines.v[l->line_off + i];
				mask[i] = all || !valid_fn(p, ln->function) || rx_fn(show, p, ln->function);
			}
			if ((rc = mask_location(p, li, mask, a.hidden)) < 0)
				goto out;
			if (rc == 0)
				*hnm = true;
			rc = CPROF_ENOMEM;
			l = &p->locations.v[li];
		}
		a.any_hidden = a.any_hidden || a.hidden[li];
	}
	rc = remap_samples(f, false, name_stack, &a);
out:
	free(a.state);
	free(a.hidden);
	return rc;
}

/* ---- show_from (pprof's ShowFrom) ------------------------------------------------ */

static int64_t showfrom_stack(fstate *f, uint32_t s, void *arg)
{
	const uint8_t *match = arg;
	const uint32_t *locs = cprof_stack_locs(f->p, s);
	for (size_t i = cprof_stack_len(f->p, s); i-- > 0;)
		if (match[locs[i]])
			return sub_stack(f, s, 0, i + 1);
	return R_DROP;
}

static int show_from(fstate *f, rx *sf, bool *matched)
{
	cprof_profile *p = f->p;
	uint8_t *match = calloc(p->locations.n ? p->locations.n : 1, 1);
	if (!match)
		return CPROF_ENOMEM;
	for (uint32_t li = 0; li < p->locations.n; li++) {
		cprof_location *l = &p->locations.v[li];
		if (rx_loc_mapping(sf, p, l)) {
			match[li] = 1;
		} else {
			for (uint32_t i = l->nline; i-- > 0;)
				if (rx_line(sf, p, &p->lines.v[l->line_off + i])) {
					l->nline = i + 1;
					match[li] = 1;
					break;
				}
		}
		*matched = *matched || match[li];
	}
	int rc = remap_samples(f, false, showfrom_stack, match);
	free(match);
	return rc;
}

/* ---- prune_from (pprof's PruneFrom) ----------------------------------------------- */

static int64_t prunefrom_stack(fstate *f, uint32_t s, void *arg)
{
	const uint8_t *beneath = arg;
	const uint32_t *locs = cprof_stack_locs(f->p, s);
	size_t n = cprof_stack_len(f->p, s);
	for (size_t i = 0; i < n; i++)
		if (beneath[locs[i]])
			return sub_stack(f, s, i, n);
	return s;
}

static int prune_from(fstate *f, rx *drop)
{
	cprof_profile *p = f->p;
	uint8_t *beneath = calloc(p->locations.n ? p->locations.n : 1, 1);
	uint8_t *cache = calloc(p->functions.n ? p->functions.n : 1, 1);
	int rc = CPROF_ENOMEM;
	if (!beneath || !cache)
		goto out;
	bool any = false;
	for (uint32_t li = 0; li < p->locations.n; li++) {
		cprof_location *l = &p->locations.v[li];
		for (uint32_t i = 0; i < l->nline; i++) {
			uint32_t fi = p->lines.v[l->line_off + i].function;
			if (valid_fn(p, fi) && prune_fn(p, fi, drop, NULL, cache)) {
				beneath[li] = 1;
				any = true;
				l->line_off += i;
				l->nline -= i;
				break;
			}
		}
	}
	rc = any ? remap_samples(f, false, prunefrom_stack, beneath) : 0;
out:
	free(beneath);
	free(cache);
	return rc;
}

/* ---- applyFocus ----------------------------------------------------------------- */

int cpr_apply_filters(cpr_ctx *c, cprof_error *err)
{
	const cprof_ropts *o = c->o;
	fstate f = { .c = c, .p = c->p };
	rx focus = { 0 }, ignore = { 0 }, hide = { 0 }, show = { 0 }, showfrom = { 0 };
	rx prunefrom = { 0 }, tagshow = { 0 }, taghide = { 0 };
	tagfilter tfocus = { 0 }, tignore = { 0 };
	int rc;
	if (!c->numunits_ready && (rc = numunits_compute(c)) < 0)
		goto out;
	/* compile everything first, in pprof's order: the first error wins */
	if ((rc = rx_option(&focus, "focus", o->focus, err)) < 0 ||
	    (rc = rx_option(&ignore, "ignore", o->ignore, err)) < 0 ||
	    (rc = rx_option(&hide, "hide", o->hide, err)) < 0 ||
	    (rc = rx_option(&show, "show", o->show, err)) < 0 ||
	    (rc = rx_option(&showfrom, "show_from", o->show_from, err)) < 0 ||
	    (rc = tagfilter_compile(c, &tfocus, "tagfocus", o->tagfocus, err)) < 0 ||
	    (rc = tagfilter_compile(c, &tignore, "tagignore", o->tagignore, err)) < 0 ||
	    (rc = rx_option(&prunefrom, "prune_from", o->prune_from, err)) < 0)
		goto out;

	bool fm = false, im = false, hm = false, hnm = false;
	if ((rc = filter_by_name(&f, &focus, &ignore, &hide, &show, &fm, &im, &hm, &hnm)) < 0 ||
	    (rc = rx_status(err, (rx *[]){ &focus, &ignore, &hide, &show }, 4)) < 0)
		goto out;
	warn_no_match(c, !focus.re || fm, "Focus");
	warn_no_match(c, !ignore.re || im, "Ignore");
	warn_no_match(c, !hide.re || hm, "Hide");
	warn_no_match(c, !show.re || hnm, "Show");

	bool sfm = false;
	if (showfrom.re && ((rc = show_from(&f, &showfrom, &sfm)) < 0 ||
			    (rc = rx_status(err, (rx *[]){ &showfrom }, 1)) < 0))
		goto out;
	warn_no_match(c, !showfrom.re || sfm, "ShowFrom");

	if (tfocus.set || tignore.set) {
		tagsel_args a = { .focus = &tfocus, .ignore = &tignore };
		if ((rc = remap_samples(&f, true, tagsel_lset, &a)) < 0 ||
		    (rc = tagfilter_status(&tfocus, err)) < 0 ||
		    (rc = tagfilter_status(&tignore, err)) < 0)
			goto out;
		warn_no_match(c, !tfocus.set || a.fm, "TagFocus");
		warn_no_match(c, !tignore.set || a.im, "TagIgnore");
	}

	int rxerr = rx_option(&tagshow, "tagshow", o->tagshow, err);
	if (rxerr == 0)
		rxerr = rx_option(&taghide, "taghide", o->taghide, err);
	if (rxerr == CPROF_ENOMEM) {
		rc = rxerr;
		goto out;
	}
	if (tagshow.re || taghide.re) {
		tagname_args a = { .show = &tagshow, .hide = &taghide };
		rc = remap_samples(&f, true, tagname_lset, &a);
		cpr_map_free(&a.removed);
		if (rc < 0 || (rc = rx_status(err, (rx *[]){ &tagshow, &taghide }, 2)) < 0)
			goto out;
		warn_no_match(c, !tagshow.re || a.sm, "TagShow");
		warn_no_match(c, !taghide.re || a.hm, "TagHide");
	}

	if (prunefrom.re && ((rc = prune_from(&f, &prunefrom)) < 0 ||
			     (rc = rx_status(err, (rx *[]){ &prunefrom }, 1)) < 0))
		goto out;
	rc = rxerr;
out:
	rx_free(&focus);
	rx_free(&ignore);
	rx_free(&hide);
	rx_free(&show);
	rx_free(&showfrom);
	rx_free(&prunefrom);
	rx_free(&tagshow);
	rx_free(&taghide);
	tagfilter_free(&tfocus);
	tagfilter_free(&tignore);
	fstate_free(&f);
	if (rc == CPROF_ENOMEM)
		return cprof_seterr(err, rc, "%s", cprof_strerror(rc));
	return rc;
}

/* ---- granularity (pprof's aggregate + Profile.Aggregate) ----------------------- */

int cpr_aggregate(cpr_ctx *c, cprof_error *err)
{
	cprof_profile *p = c->p;
	bool inlines = !c->o->noinlines, function = false, filename = false;
	bool linenumber = false, address = false;
	switch (c->o->granularity) {
	case CPROF_GRAN_ADDRESSES:
		if (inlines)
			return 0;
		function = filename = linenumber = address = true;
		break;
	case CPROF_GRAN_LINES:
		function = filename = linenumber = true;
		break;
	case CPROF_GRAN_FILES:
		filename = true;
		break;
	case CPROF_GRAN_FUNCTIONS:
		function = true;
		break;
	case CPROF_GRAN_FILEFUNCTIONS:
		function = filename = true;
		break;
	default:
		return cprof_seterr(err, CPROF_EINVAL, "unexpected granularity");
	}
	for (size_t i = 0; i < p->mappings.n; i++) {
		cprof_mapping *m = &p->mappings.v[i];
		m->has_inline_frames = m->has_inline_frames && inlines;
		m->has_functions = m->has_functions && function;
		m->has_filenames = m->has_filenames && filename;
		m->has_line_numbers = m->has_line_numbers && linenumber;
	}
	if (!function || !filename)
		for (size_t i = 0; i < p->functions.n; i++) {
			cprof_function *fn = &p->functions.v[i];
			if (!function)
				fn->name = fn->system_name = 0;
			if (!filename)
				fn->filename = 0;
		}
	if (!inlines || !address || !linenumber)
		for (size_t i = 0; i < p->locations.n; i++) {
			cprof_location *l = &p->locations.v[i];
			if (!inlines && l->nline > 1) {
				l->line_off += l->nline - 1;
				l->nline = 1;
			}
			if (!linenumber)
				for (uint32_t k = 0; k < l->nline; k++) {
					p->lines.v[l->line_off + k].line = 0;
					p->lines.v[l->line_off + k].column = 0;
				}
			if (!address)
				l->address = 0;
		}
	return 0;
}
