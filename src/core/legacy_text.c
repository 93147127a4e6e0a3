/*
 * legacy_text.c - two line-oriented legacy formats, read as pprof's
 * parseGoCount and parseContention do:
 *
 *  - Go's count profiles in debug=1 text (goroutine, threadcreate, any
 *    "NAME profile: total N" header): records "N @ 0x.. 0x..", one value
 *    NAME/count; Go's "# labels:" and "#\t0x..." lines are comments.
 *  - contention profiles: "--- contentionz " (C++), "--- mutex:" and
 *    "--- contention:" (Go's mutex and block debug=1), then "key = value"
 *    attributes (cycles/second, sampling period, ms since reset, discarded
 *    samples), then records "cycles count @ 0x..".  Values are
 *    contentions/count and delay/nanoseconds, un-sampled by the sampling
 *    period and converted from cycles with cycles/second.
 *
 * Every address is a return address and is moved back by one byte onto the
 * call.  A memory map may follow either format (see legacy_common.c).
 */
#include "legacy_int.h"

static int too_long(cprof_error *err, const char *what, size_t lineno)
{
	return cprof_seterr(err, CPROF_EFORMAT, "%s: line %zu is longer than %d bytes", what,
			    lineno, CP_LINE_MAX);
}

/* The end of a text decoder: the sections before the memory map skipped,
 * then cp_legacy_done. */
static int finish(cp_legacy *b, int ret, cp_lines *L, enum cp_frames_kind kind, const char *what,
		  cprof_profile **out, cprof_error *err)
{
	if (ret == 0 && cp_legacy_skip_sections(L) == CPROF_ELIMIT)
		ret = too_long(err, what, L->lineno);
	return cp_legacy_done(b, ret, L, false, kind, what, out, err);
}

/* ---- Go count profiles ------------------------------------------------------- */

/* countStartRE: \A(\S+) profile: total \d+\z */
static bool count_header(const char *s, size_t n, size_t *name_len)
{
	static const char mid[] = " profile: total ";
	size_t i = 0, ml = sizeof mid - 1;
	while (i < n && !cp_is_gospace(s[i]))
		i++;
	if (i == 0 || n - i < ml + 1 || memcmp(s + i, mid, ml) != 0)
		return false;
	for (size_t j = i + ml; j < n; j++)
		if (!cp_is_digit(s[j]))
			return false;
	*name_len = i;
	return true;
}

/* countRE: \A(\d+) @(( 0x[0-9a-f]+)+)\z; *at is where the addresses start. */
static bool count_record(const char *s, size_t n, size_t *num_len, size_t *at)
{
	size_t i = 0;
	while (i < n && cp_is_digit(s[i]))
		i++;
	if (i == 0 || n - i < 2 || s[i] != ' ' || s[i + 1] != '@')
		return false;
	*num_len = i;
	*at = i + 2;
	i += 2;
	if (i == n)
		return false;
	while (i < n) {
		if (n - i < 4 || s[i] != ' ' || s[i + 1] != '0' || s[i + 2] != 'x')
			return false;
		size_t j = i + 3;
		while (j < n && (cp_is_digit(s[j]) || (s[j] >= 'a' && s[j] <= 'f')))
			j++;
		if (j == i + 3)
			return false;
		i = j;
	}
	return true;
}

int cprof_legacy_count(const void *data, size_t len, cprof_profile **out, cprof_error *err)
{
	cp_lines L;
	int r;
	size_t nl;
	if (!out)
		return cprof_seterr(err, CPROF_EINVAL, "no place for the profile");
	*out = NULL;
	if (!data)
		return CPROF_EUNKNOWN;
	cp_lines_init(&L, data, len);
	while ((r = cp_lines_next(&L)) == 1 && cp_is_space_or_comment(L.s, L.n))
		;
	if (r != 1 || !count_header(L.s, L.n, &nl))
		return CPROF_EUNKNOWN;

	char what[96];
	snprintf(what, sizeof what, "%.*s profile", (int)(nl > 60 ? 60 : nl), L.s);
	cp_legacy b;
	int ret = cp_legacy_init(&b, 1);
	if (ret)
		return cprof_seterr(err, ret, "%s: out of memory", what);
	cprof_profile *p = b.p;
	cprof_str type = cprof_intern(p, L.s, nl), unit = cprof_intern_cstr(p, "count");
	if (type == CPROF_NONE || unit == CPROF_NONE || cprof_add_vtype(p, type, unit) < 0) {
		ret = CPROF_ENOMEM;
		goto fail;
	}
	p->period_type.type = type;
	p->period_type.unit = unit;
	p->period = 1;

	while ((r = cp_lines_next(&L)) == 1) {
		if (cp_is_space_or_comment(L.s, L.n))
			continue;
		if (cp_has_prefix(L.s, L.n, "---"))
			break;
		size_t numl, at;
		int64_t v;
		if (!count_record(L.s, L.n, &numl, &at)) {
			ret = cprof_seterr(err, CPROF_EFORMAT,
					   "%s: line %zu: not a record (want \"N @ 0x...\")", what, L.lineno);
			goto fail;
		}
		if (!cp_go_parse_int(L.s, numl, 0, &v)) {
			ret = cprof_seterr(err, CPROF_EFORMAT, "%s: line %zu: bad count", what, L.lineno);
			goto fail;
		}
		ret = cp_legacy_hex_frames(&b, L.s + at, L.n - at);
		if (ret == CPROF_EFORMAT)
			ret = cprof_seterr(err, ret, "%s: line %zu: address does not fit 64 bits",
					   what, L.lineno);
		if (ret || (ret = cp_legacy_sample(&b, &v, 0)))
			goto fail;
	}
	if (r == CPROF_ELIMIT)
		ret = too_long(err, what, L.lineno);
fail:
	return finish(&b, ret, &L, CP_FRAMES_CPU, what, out, err);
}

/* ---- contention profiles ------------------------------------------------------ */

#define CWHAT "contention profile"

typedef struct span {
	const char *s;
	size_t n;
} span;

/* contentionSampleRE, (\d+) *(\d+) @([ x0-9a-f]*), searched for in the line
 * with backtracking's preferences: for each run of digits, first
 * "RUN spaces DIGITS @", then the run split before its last digit when
 * " @" follows it directly. */
static bool contention_record(const char *s, size_t n, span *g)
{
	size_t a = 0;
	while (a < n) {
		if (!cp_is_digit(s[a])) {
			a++;
			continue;
		}
		size_t r1 = a;
		while (r1 < n && cp_is_digit(s[r1]))
			r1++;
		size_t j = r1, at = 0;
		while (j < n && s[j] == ' ')
			j++;
		if (j > r1 && j < n && cp_is_digit(s[j])) {
			size_t r2 = j;
			while (r2 < n && cp_is_digit(s[r2]))
				r2++;
			if (n - r2 >= 2 && s[r2] == ' ' && s[r2 + 1] == '@') {
				g[0] = (span){ s + a, r1 - a };
				g[1] = (span){ s + j, r2 - j };
				at = r2 + 2;
			}
		}
		if (!at && r1 - a >= 2 && n - r1 >= 2 && s[r1] == ' ' && s[r1 + 1] == '@') {
			g[0] = (span){ s + a, r1 - 1 - a };
			g[1] = (span){ s + r1 - 1, 1 };
			at = r1 + 2;
		}
		if (at) {
			g[2] = (span){ s + at, cp_addr_run(s, n, at) - at };
			return true;
		}
		a = r1;
	}
	return false;
}

static bool key_is(const char *k, size_t kn, const char *lit)
{
	return kn == strlen(lit) && memcmp(k, lit, kn) == 0;
}

int cprof_legacy_contention(const void *data, size_t len, cprof_profile **out, cprof_error *err)
{
	cp_lines L;
	int r;
	if (!out)
		return cprof_seterr(err, CPROF_EINVAL, "no place for the profile");
	*out = NULL;
	if (!data)
		return CPROF_EUNKNOWN;
	cp_lines_init(&L, data, len);
	if (cp_lines_next(&L) != 1 ||
	    !(cp_has_prefix(L.s, L.n, "--- contentionz ") || cp_has_prefix(L.s, L.n, "--- mutex:") ||
	      cp_has_prefix(L.s, L.n, "--- contention:")))
		return CPROF_EUNKNOWN;

	cp_legacy b;
	int ret = cp_legacy_init(&b, 2);
	if (ret)
		return cprof_seterr(err, ret, CWHAT ": out of memory");
	cprof_profile *p = b.p;
	p->period = 1;
	if ((ret = cp_legacy_period_type(p, "contentions", "count")) ||
	    (ret = cp_legacy_vtype(p, "contentions", "count")) ||
	    (ret = cp_legacy_vtype(p, "delay", "nanoseconds")))
		goto fail;

	/* attributes: "key = value" lines up to the first record */
	int64_t cpuhz = 0;
	const char *s;
	size_t n;
	while ((r = cp_lines_next_text(&L, &s, &n)) == 1) {
		if (cp_has_prefix(s, n, "---"))
			break;
		const char *eq = memchr(s, '=', n);
		if (!eq)
			break;
		const char *k = s, *v = eq + 1;
		size_t kn = (size_t)(eq - s), vn = n - kn - 1;
		cp_trim_space(&k, &kn);
		cp_trim_space(&v, &vn);
		int64_t x;
		bool ok = cp_go_parse_int(v, vn, 0, &x);
		if (key_is(k, kn, "cycles/second") && ok) {
			cpuhz = x;
		} else if (key_is(k, kn, "sampling period") && ok) {
			p->period = x;
		} else if (key_is(k, kn, "ms since reset") && ok) {
			p->duration_nanos = cp_wmul(cp_wmul(x, 1000), 1000);
		} else if (key_is(k, kn, "discarded samples")) {
			/* ignored */
		} else if (key_is(k, kn, "format") || key_is(k, kn, "resolution")) {
			ret = cprof_seterr(err, CPROF_EFORMAT,
					   CWHAT ": line %zu: Java contention profiles are not supported",
					   L.lineno);
			goto fail;
		} else if (key_is(k, kn, "cycles/second") || key_is(k, kn, "sampling period") ||
			   key_is(k, kn, "ms since reset")) {
			ret = cprof_seterr(err, CPROF_EFORMAT, CWHAT ": line %zu: bad number for %.*s",
					   L.lineno, (int)kn, k);
			goto fail;
		} else {
			ret = cprof_seterr(err, CPROF_EFORMAT, CWHAT ": line %zu: unknown attribute",
					   L.lineno);
			goto fail;
		}
	}
	if (r == CPROF_ELIMIT) {
		ret = too_long(err, CWHAT, L.lineno);
		goto fail;
	}

	/* records, from the line that ended the attributes */
	int64_t period = p->period;
	for (;;) {
		s = L.s;
		n = L.n;
		cp_trim_space(&s, &n);
		if (cp_has_prefix(s, n, "---"))
			break;
		if (n != 0 && s[0] != '#') {
			span g[3];
			int64_t v1, v2;
			if (!contention_record(s, n, g)) {
				ret = cprof_seterr(err, CPROF_EFORMAT,
						   CWHAT ": line %zu: not a record (want \"CYCLES COUNT @ 0x...\")",
						   L.lineno);
				goto fail;
			}
			if (!cp_go_parse_int(g[0].s, g[0].n, 10, &v1) ||
			    !cp_go_parse_int(g[1].s, g[1].n, 10, &v2)) {
				ret = cprof_seterr(err, CPROF_EFORMAT, CWHAT ": line %zu: value out of range",
						   L.lineno);
				goto fail;
			}
			if (period > 0) {
				if (cpuhz > 0) {
					double ghz = (double)cpuhz / 1e9;
					v1 = cp_go_f2i((double)v1 * (double)period / ghz);
				}
				v2 = cp_wmul(v2, period);
			}
			ret = cp_legacy_hex_frames(&b, g[2].s, g[2].n);
			if (ret == CPROF_EFORMAT)
				ret = cprof_seterr(err, ret, CWHAT ": line %zu: address does not fit 64 bits",
						   L.lineno);
			int64_t vals[2] = { v2, v1 };
			if (ret || (ret = cp_legacy_sample(&b, vals, 0)))
				goto fail;
		}
		if ((r = cp_lines_next(&L)) != 1)
			break;
	}
	if (r == CPROF_ELIMIT)
		ret = too_long(err, CWHAT, L.lineno);
fail:
	return finish(&b, ret, &L, CP_FRAMES_LOCK, CWHAT, out, err);
}
