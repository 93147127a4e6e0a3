/*
 * graph_info.c - node identities (pprof's NodeInfo) of every location line
 * at a report's granularity, interned so that equal identities share one
 * index, with their printable names formatted once (see graph.h,
 * cpr_infos); and Go's filepath.Clean for source file names.
 *
 * Every line of every location gets the identity pprof's nodeInfo would
 * give it, re-applying what aggregation clears, so the result does not
 * depend on whether the profile was aggregated first.  Identities live in
 * one array with an open-addressed index; names in one NUL-separated
 * buffer.  Not thread-safe (it interns cleaned file names into the
 * profile); not signal-safe.
 */
#include "graph_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- paths ---------------------------------------------------------------- */

/* Go's filepath.Clean (Unix) of s[0..n) into out (room for n + 2 bytes);
 * returns the length written. */
size_t cpr_path_clean(const char *s, size_t n, char *out)
{
	if (n == 0) {
		out[0] = '.';
		return 1;
	}
	bool rooted = s[0] == '/';
	size_t r = 0, w = 0, dotdot = 0;
	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (s[r] == '/') {
			r++;
		} else if (s[r] == '.' && (r + 1 == n || s[r + 1] == '/')) {
			r++;
		} else if (s[r] == '.' && s[r + 1] == '.' && (r + 2 == n || s[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && s[r] != '/'; r++)
				out[w++] = s[r];
		}
	}
	if (w == 0)
		out[w++] = '.';
	return w;
}

/* pprof's trimPath with no -trim_path or -source_path: strip the prefixes
 * "/proc/self/cwd/./" and "/proc/self/cwd/". */
static const char *trim_path(const char *s, size_t *n)
{
	static const char *const pre[] = { "/proc/self/cwd/./", "/proc/self/cwd/" };
	for (size_t i = 0; i < 2; i++) {
		size_t l = strlen(pre[i]);
		if (*n >= l && memcmp(s, pre[i], l) == 0) {
			*n -= l;
			return s + l;
		}
	}
	return s;
}

/* ---- node identities -------------------------------------------------------- */

void cpr_gopts_init(cpr_gopts *go, const cpr_ctx *c)
{
	memset(go, 0, sizeof *go);
	go->granularity = c->o->granularity;
	go->noinlines = c->o->noinlines;
	go->trim_paths = true;
	go->drop_negative = c->o->drop_negative;
	go->cum_sort = c->o->cum;
	go->nodecount = c->nodecount;
	go->nodefraction = c->nodefraction;
	go->edgefraction = c->edgefraction;
}

static uint64_t info_hash(const cpr_ninfo *k)
{
	uint64_t h = mix64(((uint64_t)k->name << 32) ^ k->file);
	h = mix64(h ^ ((uint64_t)k->objfile << 17) ^ k->address);
	h = mix64(h ^ (uint64_t)k->start_line ^ ((uint64_t)k->lineno << 24));
	return h;
}

static bool info_eq(const cpr_ninfo *a, const cpr_ninfo *b)
{
	return a->name == b->name && a->file == b->file && a->objfile == b->objfile &&
	       a->address == b->address && a->start_line == b->start_line &&
	       a->lineno == b->lineno;
}

static int names_append(cpr_infos *t, const char *s, size_t n)
{
	size_t need;
	if (__builtin_add_overflow(t->names_len, n + 1, &need) ||
	    grow((void **)&t->names, &t->names_cap, need, 1))
		return CPROF_ENOMEM;
	memcpy(t->names + t->names_len, s, n);
	t->names_len += n;
	t->names[t->names_len] = 0;
	return 0;
}

/* NodeInfo.PrintableName: the name components joined by spaces. */
static int make_name(cpr_infos *t, cpr_ninfo *k)
{
	const cprof_profile *p = t->p;
	if (t->names_len > UINT32_MAX - 1)
		return CPROF_ENOMEM;
	k->pname = (uint32_t)t->names_len;
	size_t start = t->names_len;
	char buf[48];
	int rc = 0;
#define SEP() (t->names_len > start ? names_append(t, " ", 1) : 0)
	if (k->address) {
		int l = snprintf(buf, sizeof buf, "%016" PRIx64, k->address);
		rc |= names_append(t, buf, (size_t)l);
	}
	if (k->name) {
		rc |= SEP();
		rc |= names_append(t, cprof_s(p, k->name), cprof_slen(p, k->name));
	}
	if (k->lineno != 0) {
		rc |= SEP();
		rc |= names_append(t, cprof_s(p, k->file), cprof_slen(p, k->file));
		int l = snprintf(buf, sizeof buf, ":%" PRId64, k->lineno);
		rc |= names_append(t, buf, (size_t)l);
	} else if (k->file) {
		rc |= SEP();
		rc |= names_append(t, cprof_s(p, k->file), cprof_slen(p, k->file));
	} else if (k->name) {
		/* the function name says it all */
	} else if (k->objfile) {
		const char *b;
		size_t bn;
		/* filepath.Base, appended to the names arena below */
		cprof_path_base(cprof_s(p, k->objfile), cprof_slen(p, k->objfile), &b, &bn);
		rc |= SEP();
		rc |= names_append(t, "[", 1);
		rc |= names_append(t, b, bn);
		rc |= names_append(t, "]", 1);
	} else {
		rc |= SEP();
		rc |= names_append(t, "<unknown>", 9);
	}
#undef SEP
	if (rc)
		return CPROF_ENOMEM;
	if (t->names_len == start && names_append(t, "", 0))
		return CPROF_ENOMEM;
	k->plen = (uint32_t)(t->names_len - start);
	t->names_len++;         /* past the terminator names_append keeps */
	return 0;
}

static int info_rehash(cpr_infos *t, size_t cap)
{
	uint32_t *h = xcalloc(cap, sizeof *h);
	if (!h)
		return CPROF_ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		size_t j = info_hash(&t->v[i]) & (cap - 1);
		while (h[j])
			j = (j + 1) & (cap - 1);
		h[j] = (uint32_t)i + 1;
	}
	free(t->hash);
	t->hash = h;
	t->hash_cap = cap;
	return 0;
}

/* NodeMap.FindOrInsertNode: the index of identity k, added (with its
 * whole-function identity) when new.  Returns CPR_NIL when out of memory. */
static uint32_t info_intern(cpr_infos *t, cpr_ninfo k)
{
	if ((t->n + 1) * 2 > t->hash_cap &&
	    info_rehash(t, t->hash_cap ? t->hash_cap * 2 : 1024))
		return CPR_NIL;
	size_t mask = t->hash_cap - 1, j = info_hash(&k) & mask;
	while (t->hash[j]) {
		uint32_t id = t->hash[j] - 1;
		if (info_eq(&t->v[id], &k))
			return id;
		j = (j + 1) & mask;
	}
	if (t->n >= UINT32_MAX - 2 || grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v) ||
	    make_name(t, &k))
		return CPR_NIL;
	uint32_t id = (uint32_t)t->n++;
	k.func = id;
	t->v[id] = k;
	t->hash[j] = id + 1;
	if (k.address || k.lineno) {
		cpr_ninfo f = k;
		f.address = 0;
		f.lineno = 0;
		uint32_t fid = info_intern(t, f);
		if (fid == CPR_NIL)
			return CPR_NIL;
		t->v[id].func = fid;
	}
	return id;
}

void cpr_infos_free(cpr_infos *t)
{
	free(t->v);
	free(t->hash);
	free(t->names);
	free(t->loc_off);
	free(t->loc_info);
	memset(t, 0, sizeof *t);
}

int cpr_infos_build(cpr_infos *t, cprof_profile *p, const cpr_gopts *go, cprof_error *err)
{
	memset(t, 0, sizeof *t);
	t->p = p;
	bool keep_name = true, keep_file = true, keep_line = true, keep_addr = true;
	switch (go->granularity) {
	case CPROF_GRAN_FUNCTIONS:
		keep_file = keep_line = keep_addr = false;
		break;
	case CPROF_GRAN_FILEFUNCTIONS:
		keep_line = keep_addr = false;
		break;
	case CPROF_GRAN_FILES:
		keep_name = keep_line = keep_addr = false;
		break;
	case CPROF_GRAN_LINES:
		keep_addr = false;
		break;
	default:
		break;
	}
	size_t nf = p->functions.n, nl = p->locations.n;
	int rc = CPROF_ENOMEM;
	char *buf = NULL;
	size_t bufcap = 0;
	cprof_str *fclean = xcalloc(nf, sizeof *fclean);
	if (!fclean)
		goto fail;
	/* Clean (and trim) every source file name first: interning may move the
	 * profile's string arena, so no string pointer is held across it. */
	for (size_t i = 0; keep_file && i < nf; i++) {
		cprof_str fs = p->functions.v[i].filename;
		if (!fs)
			continue;
		size_t n = cprof_slen(p, fs);
		const char *s = cprof_s(p, fs);
		if (go->trim_paths)
			s = trim_path(s, &n);
		if (grow((void **)&buf, &bufcap, n + 2, 1))
			goto fail;
		size_t cn = cpr_path_clean(s, n, buf);
		if (cn == cprof_slen(p, fs) && memcmp(buf, cprof_s(p, fs), cn) == 0) {
			fclean[i] = fs;
			continue;
		}
		cprof_str id = cprof_intern(p, buf, cn);
		if (id == CPROF_NONE)
			goto fail;
		fclean[i] = id;
	}
	t->loc_off = xmalloc(nl + 1, sizeof *t->loc_off);
	if (!t->loc_off)
		goto fail;
	size_t li_cap = 0, li_n = 0;
	for (size_t l = 0; l < nl; l++) {
		const cprof_location *loc = &p->locations.v[l];
		cprof_str obj = 0;
		if (loc->mapping < p->mappings.n)
			obj = p->mappings.v[loc->mapping].file;
		uint64_t addr = keep_addr ? loc->address : 0;
		size_t nline = loc->nline, first = 0;
		if (loc->line_off > p->lines.n || nline > p->lines.n - loc->line_off)
			nline = 0;
		if (go->noinlines && nline > 1)
			first = nline - 1;
		t->loc_off[l] = (uint32_t)li_n;
		if (grow((void **)&t->loc_info, &li_cap, li_n + (nline ? nline - first : 1),
			 sizeof *t->loc_info))
			goto fail;
		if (li_n + (nline ? nline - first : 1) > UINT32_MAX)
			goto fail;
		if (nline == 0) {
			cpr_ninfo k = { .address = addr, .objfile = obj };
			uint32_t id = info_intern(t, k);
			if (id == CPR_NIL)
				goto fail;
			t->loc_info[li_n++] = id;
			continue;
		}
		for (size_t j = first; j < nline; j++) {
			const cprof_line *ln = &p->lines.v[loc->line_off + j];
			cpr_ninfo k = { .address = addr };
			if (ln->function >= nf) {
				k.objfile = obj;
			} else {
				const cprof_function *f = &p->functions.v[ln->function];
				k.name = keep_name ? f->name : 0;
				k.lineno = keep_line ? ln->line : 0;
				k.file = keep_file ? fclean[ln->function] : 0;
				if (go->obj_names || k.name == 0) {
					k.objfile = obj;
					k.start_line = f->start_line;
				}
			}
			uint32_t id = info_intern(t, k);
			if (id == CPR_NIL)
				goto fail;
			t->loc_info[li_n++] = id;
		}
	}
	t->loc_off[nl] = (uint32_t)li_n;
	free(fclean);
	free(buf);
	return 0;
fail:
	free(fclean);
	free(buf);
	cpr_infos_free(t);
	return cprof_seterr(err, rc, "out of memory building the graph");
}

/* fmt.Sprint of a NodeInfo: {Name OrigName Address File StartLine Lineno Objfile}. */
static char *info_sprint(const cpr_infos *t, uint32_t i)
{
	const cpr_ninfo *k = &t->v[i];
	const cprof_profile *p = t->p;
	char *s = NULL;
	if (asprintf(&s, "{%s  %" PRIu64 " %s %" PRId64 " %" PRId64 " %s}", cprof_s(p, k->name),
		     k->address, cprof_s(p, k->file), k->start_line, k->lineno,
		     cprof_s(p, k->objfile)) < 0)
		return NULL;
	return s;
}

int cpr_info_cmp_full(const cpr_infos *t, uint32_t a, uint32_t b)
{
	if (a == b)
		return 0;
	char *sa = info_sprint(t, a), *sb = info_sprint(t, b);
	int r = (sa && sb) ? strcmp(sa, sb) : (a < b ? -1 : 1);
	free(sa);
	free(sb);
	if (r == 0)
		r = a < b ? -1 : 1;
	return r;
}
