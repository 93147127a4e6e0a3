/*
 * symserver.c - pprof's symbol server protocol, without its transport: the
 * request body for a mapping's unsymbolized addresses, and the answer
 * applied to the profile (the command's remote symbolization and the
 * server's use it; the HTTP exchange is theirs).
 *
 * The answer is parsed as pprof's symbolz does: every whole line that holds
 * (0x[[:xdigit:]]+)\s+(.*) gives an address a name; each distinct name
 * becomes one function (name and system name), and each answered location
 * of the mapping gets one line of it, the last answer for an address
 * winning.  Addresses are looked up by binary search over the sorted
 * answers, so a large answer costs n log n, not n x locations.
 *
 * Thread-safety: each function touches only the profile it is given.
 */
#include "core_int.h"

#include <stdio.h>

bool cprof_mapping_symbolizable(const cprof_profile *p, uint32_t mi)
{
	if (!p || mi >= p->mappings.n)
		return false;
	const char *f = cprof_s(p, p->mappings.v[mi].file);
	const char *b = strrchr(f, '/');
	b = b ? b + 1 : f;
	return !(b[0] == '[' || strncmp(b, "linux-vdso", 10) == 0 ||
		 strncmp(f, "/dev/dri/", 9) == 0);
}

int cprof_symbol_request(const cprof_profile *p, uint32_t mi, char **body, size_t *len,
			 cprof_error *err)
{
	if (!p || !body || !len || mi >= p->mappings.n)
		return cprof_seterr(err, CPROF_EINVAL, "no such mapping");
	CPROF_VEC(char) b = { 0 };
	*body = NULL;
	*len = 0;
	for (size_t li = 0; li < p->locations.n; li++) {
		const cprof_location *L = &p->locations.v[li];
		if (L->mapping != mi || L->address == 0 || L->nline != 0)
			continue;
		char a[24];
		int k = snprintf(a, sizeof a, "%s0x%llx", b.n ? "+" : "",
				 (unsigned long long)L->address);
		if (CP_RESERVE(b, cp_add(b.n, (size_t)k + 1))) {
			CP_FREE(b);
			return cprof_seterr(err, CPROF_ENOMEM, "out of memory");
		}
		memcpy(b.v + b.n, a, (size_t)k + 1);
		b.n += (size_t)k;
	}
	*body = b.v;
	*len = b.n;
	return 0;
}

typedef struct addr_name {
	uint64_t addr;
	size_t seq;                 /* answer order: the last answer for an address wins */
	uint32_t fn;                /* function index */
} addr_name;

static int an_cmp(const void *a, const void *b)
{
	const addr_name *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* Parse the answer into an (sorted by address, then answer order), adding a
 * function per distinct name.  0 or a CPROF_E* code. */
static int parse_answer(cprof_profile *p, const char *s, const char *end, addr_name **out,
			size_t *nout, cprof_error *err)
{
	CPROF_VEC(addr_name) an = { 0 };
	CPROF_VEC(uint32_t) fn_of = { 0 };  /* string id -> function index + 1 (0: none yet) */
	int ret = 0;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl)
			break;      /* pprof reads whole lines only */
		const char *l = s, *h = NULL, *e = NULL;
		s = nl + 1;
		for (const char *t = l; t + 2 < nl && !h; t++) {
			if (t[0] != '0' || t[1] != 'x' || cprof_hexval((unsigned char)t[2]) < 0)
				continue;
			e = t + 2;
			while (e < nl && cprof_hexval((unsigned char)*e) >= 0)
				e++;
			if (e < nl && is_space((unsigned char)*e))
				h = t;
		}
		if (!h)
			continue;
		uint64_t a = 0;
		const char *d = h + 2;
		while (d < e && *d == '0')
			d++;
		if (e - d > 16) {
			/* ParseUint overflows: pprof fails the answer */
			ret = cprof_seterr(err, CPROF_EFORMAT, "unparsable address in the answer");
			break;
		}
		for (; d < e; d++)
			a = a * 16 + (uint64_t)cprof_hexval((unsigned char)*d);
		while (e < nl && is_space((unsigned char)*e))
			e++;
		cprof_str name = cprof_intern(p, e, (size_t)(nl - e));
		if (name == CPROF_NONE) {
			ret = CPROF_ENOMEM;
			break;
		}
		if (name >= fn_of.n) {
			size_t nn = cprof_nstrings(p);
			if (CP_RESERVE(fn_of, nn)) {
				ret = CPROF_ENOMEM;
				break;
			}
			memset(fn_of.v + fn_of.n, 0, (nn - fn_of.n) * sizeof *fn_of.v);
			fn_of.n = nn;
		}
		if (!fn_of.v[name]) {
			cprof_function f = { .id = p->functions.n + 1, .name = name, .system_name = name };
			int64_t r = cprof_add_function(p, &f);
			if (r < 0) {
				ret = (int)r;
				break;
			}
			fn_of.v[name] = (uint32_t)r + 1;
		}
		addr_name x = { a, an.n, fn_of.v[name] - 1 };
		if ((ret = CP_PUSH(an, x)) < 0)
			break;
	}
	CP_FREE(fn_of);
	if (ret < 0) {
		CP_FREE(an);
		return ret == CPROF_ENOMEM ? cprof_seterr(err, ret, "out of memory") : ret;
	}
	if (an.n)
		qsort(an.v, an.n, sizeof *an.v, an_cmp);
	*out = an.v;
	*nout = an.n;
	return 0;
}

int cprof_apply_symbols(cprof_profile *p, uint32_t mi, const char *answer, size_t len,
			cprof_error *err)
{
	if (!p || mi >= p->mappings.n || (!answer && len))
		return cprof_seterr(err, CPROF_EINVAL, "no such mapping");
	addr_name *an = NULL;
	size_t nan = 0;
	int ret = answer ? parse_answer(p, answer, answer + len, &an, &nan, err) : 0;
	if (ret < 0 || nan == 0) {
		free(an);
		return ret;
	}
	for (size_t li = 0; li < p->locations.n; li++) {
		cprof_location *L = &p->locations.v[li];
		if (L->mapping != mi)
			continue;
		size_t lo = 0, hi = nan;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (an[mid].addr < L->address)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == nan || an[lo].addr != L->address)
			continue;
		while (lo + 1 < nan && an[lo + 1].addr == L->address)
			lo++;
		cprof_line line = { .function = an[lo].fn };
		if (p->lines.n >= UINT32_MAX || CP_PUSH(p->lines, line) < 0) {
			ret = cprof_seterr(err, CPROF_ENOMEM, "out of memory");
			break;
		}
		L->line_off = (uint32_t)(p->lines.n - 1);
		L->nline = 1;
	}
	free(an);
	return ret;
}
