/*
 * folded.c - folded ("collapsed") stacks, as FlameGraph's stackcollapse-*
 * scripts and speedscope write them: one line per stack,
 *
 *     main;parse;lex 42
 *
 * frames from the root to the leaf separated by ';', then white space and a
 * non-negative integer count.  Frames may contain spaces (only the last
 * space-separated token is the count).  Blank lines are skipped, as are empty
 * frames.  The input counts as folded only if its first non-blank line
 * parses; after that a line that does not parse is an error naming it.
 *
 * The profile has one value type, samples/count.  Each distinct frame name
 * becomes one function and one location without address or mapping; a table
 * indexed by the interned name's string id finds them again, so a frame costs
 * at most one hash lookup however long the input is, and none when it equals
 * the frame at the same depth on the line before (sorted collapsed output).
 */
#include "core_int.h"

#define WHAT "folded stacks"

typedef struct frame {
	const char *s;                  /* into the input, which outlives the parse */
	size_t n;
	uint32_t loc;
} frame;

typedef struct fstate {
	cprof_profile *p;
	CPROF_VEC(uint32_t) loc_of;     /* string id -> location index, or CPROF_NONE */
	CPROF_VEC(uint32_t) stk;
	CPROF_VEC(frame) prev, cur;     /* the frames of the previous and this line */
} fstate;

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_blank(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* The location for frame name s[0..n). */
static int64_t frame_loc(fstate *f, const char *s, size_t n)
{
	cprof_profile *p = f->p;
	cprof_str id = cprof_intern(p, s, n);
	if (id == CPROF_NONE)
		return CPROF_ENOMEM;
	if (id >= f->loc_of.n) {
		if (CP_RESERVE(f->loc_of, (size_t)id + 1))
			return CPROF_ENOMEM;
		while (f->loc_of.n <= id)
			f->loc_of.v[f->loc_of.n++] = CPROF_NONE;
	}
	if (f->loc_of.v[id] != CPROF_NONE)
		return f->loc_of.v[id];
	cprof_function fn = { 0 };
	fn.id = p->functions.n + 1;
	fn.name = fn.system_name = id;
	int64_t fi = cprof_add_function(p, &fn);
	if (fi < 0)
		return fi;
	cprof_location loc = { 0 };
	cprof_line line = { (uint32_t)fi, 0, 0 };
	loc.id = p->locations.n + 1;
	loc.mapping = CPROF_NONE;
	int64_t li = cprof_add_location(p, &loc, &line, 1);
	if (li < 0)
		return li;
	f->loc_of.v[id] = (uint32_t)li;
	return li;
}

/* fold_line's answer for a line that does not parse: apart from every
 * CPROF_E* code (CPROF_ENOMEM is -1), so that running out of memory is not
 * taken for input in another format. */
#define NOT_FOLDED (-1000)

/* One line, already without its newline.  1 = a sample was added, 0 = the
 * line is blank, NOT_FOLDED = it does not parse; or a negative CPROF_E* code. */
static int fold_line(fstate *f, const char *s, size_t n)
{
	while (n && is_blank(s[n - 1]))
		n--;
	while (n && is_blank(s[0])) {
		s++;
		n--;
	}
	if (n == 0)
		return 0;
	size_t i = n;
	while (i && is_digit(s[i - 1]))
		i--;
	if (i == n || i == 0 || (s[i - 1] != ' ' && s[i - 1] != '\t'))
		return NOT_FOLDED;
	uint64_t count = 0;
	for (size_t j = i; j < n; j++) {
		unsigned d = (unsigned)(s[j] - '0');
		if (count > (uint64_t)(INT64_MAX - d) / 10)
			return NOT_FOLDED;
		count = count * 10 + d;
	}
	size_t sn = i - 1;
	while (sn && is_blank(s[sn - 1]))
		sn--;
	if (sn == 0 || memchr(s, '\0', sn))
		return NOT_FOLDED;
	/* Stack collapsers sort their output, so a frame usually equals the
	 * one at the same depth on the previous line: compare with that first
	 * and intern only when it differs. */
	f->stk.n = 0;
	f->cur.n = 0;
	for (size_t a = 0; a <= sn;) {
		const char *semi = memchr(s + a, ';', sn - a);
		size_t b = semi ? (size_t)(semi - s) : sn;
		if (b > a) {
			size_t depth = f->stk.n;
			int64_t li;
			if (depth < f->prev.n && f->prev.v[depth].n == b - a &&
			    memcmp(f->prev.v[depth].s, s + a, b - a) == 0)
				li = f->prev.v[depth].loc;
			else if ((li = frame_loc(f, s + a, b - a)) < 0)
				return (int)li;
			frame fr = { s + a, b - a, (uint32_t)li };
			if (CP_PUSH(f->stk, (uint32_t)li) || CP_PUSH(f->cur, fr))
				return CPROF_ENOMEM;
		}
		a = b + 1;
	}
	{
		CPROF_VEC(frame) t;
		memcpy(&t, &f->prev, sizeof t);
		memcpy(&f->prev, &f->cur, sizeof t);
		memcpy(&f->cur, &t, sizeof t);
	}
	if (f->stk.n == 0)
		return NOT_FOLDED;
	for (size_t a = 0, b = f->stk.n - 1; a < b; a++, b--) {
		uint32_t t = f->stk.v[a];
		f->stk.v[a] = f->stk.v[b];
		f->stk.v[b] = t;
	}
	int64_t st = cprof_intern_stack(f->p, f->stk.v, f->stk.n);
	if (st < 0)
		return (int)st;
	int64_t v = (int64_t)count;
	if (cprof_add_sample(f->p, (uint32_t)st, 0, &v) < 0)
		return CPROF_ENOMEM;
	return 1;
}

int cprof_folded_decode(const void *data, size_t len, cprof_profile **out, cprof_error *err)
{
	fstate f = { 0 };
	const char *d = data;
	size_t pos = 0, lineno = 0;
	bool seen = false;
	int ret = 0;
	if (!out)
		return cprof_seterr(err, CPROF_EINVAL, "no place for the profile");
	*out = NULL;
	if (!data || len == 0)
		return CPROF_EUNKNOWN;
	/* Cheap refusal of binary data before any allocation. */
	size_t probe = len < 512 ? len : 512;
	if (memchr(d, '\0', probe))
		return CPROF_EUNKNOWN;
	if (!(f.p = cprof_profile_new()))
		return cprof_seterr(err, CPROF_ENOMEM, WHAT ": out of memory");
	cprof_str samples = cprof_intern_cstr(f.p, "samples"), count = cprof_intern_cstr(f.p, "count");
	if (samples == CPROF_NONE || count == CPROF_NONE || cprof_add_vtype(f.p, samples, count) < 0) {
		ret = CPROF_ENOMEM;
		goto out;
	}
	f.p->period_type.type = samples;
	f.p->period_type.unit = count;
	f.p->period = 1;
	while (pos < len) {
		const char *s = d + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl != NULL);
		lineno++;
		int r = fold_line(&f, s, n);
		if (r == NOT_FOLDED) {
			ret = seen ? cprof_seterr(err, CPROF_EFORMAT,
						  WHAT ": line %zu: not \"frame;frame;... COUNT\"", lineno)
				   : CPROF_EUNKNOWN;
			goto out;
		}
		if (r < 0) {
			ret = r;
			goto out;
		}
		if (r == 1)
			seen = true;
	}
	if (!seen)
		ret = CPROF_EUNKNOWN;
out:
	CP_FREE(f.loc_of);
	CP_FREE(f.stk);
	CP_FREE(f.prev);
	CP_FREE(f.cur);
	if (ret) {
		if (ret == CPROF_ENOMEM)
			cprof_seterr(err, ret, WHAT ": out of memory");
		cprof_profile_free(f.p);
		return ret;
	}
	*out = f.p;
	return 0;
}
