/*
 * legacy_heap.c - heap profiles in text (gperftools' heapz/heapprofile, the
 * growthz and fragmentationz variants, and Go's heap/allocs debug=1 output),
 * read as pprof's parseHeap does.
 *
 * The first line is the header, "heap profile: N: N [N: N] @ KIND/RATE".
 * KIND heap_v2 and heapz_v2 mean Poisson sampling at RATE bytes, "heap"
 * (Go's legacy format) the same at RATE/2, heapprofile unsampled; growthz and
 * fragmentationz are unsampled too.  When the header's alloc numbers differ
 * from its in-use numbers there are four values per sample
 * (alloc_objects, alloc_space, inuse_objects, inuse_space), otherwise two
 * (objects, space).  Records "inuse_n: inuse_b [alloc_n: alloc_b] @ 0x.."
 * follow, each un-sampled as count/(1-exp(-avg/rate)) with Go's own exp()
 * so that the numbers equal pprof's to the last unit, and labelled with the
 * block size `bytes`.  Comment lines (Go's "#\t0x..." frames, the
 * "# runtime.MemStats" block) are skipped; a memory map may follow
 * "MAPPED_LIBRARIES:" or "--- Memory map: ---".
 *
 * pprof matches the header and records with unanchored regexps; the matchers
 * below search the same way (leftmost match), by hand.
 */
#include "legacy_int.h"

#include <math.h>

#define WHAT "heap profile"

/* ---- Go's math.Exp on amd64 ---------------------------------------------- */

static double from_bits(uint64_t b)
{
	double d;
	memcpy(&d, &b, sizeof d);
	return d;
}

/* Go 1.19's exp for amd64 (a reduced-range Taylor series; two variants,
 * chosen by whether the CPU has FMA), so that un-sampled values round as
 * pprof's do.  glibc's exp differs in the last bit for ~1 in 10 inputs. */
static double go_exp(double x, bool usefma)
{
	static const double c[] = {
		0.5, 1.0, 2.0, 1.6666666666666666667e-1, 4.1666666666666666667e-2,
		8.3333333333333333333e-3, 1.3888888888888888889e-3,
		1.9841269841269841270e-4, 2.4801587301587301587e-5,
	};
	const double ln2u = 0.69314718055966295651160180568695068359375;
	const double ln2l = 0.28235290563031577122588448175013436025525412068e-12;
	uint64_t bx;
	memcpy(&bx, &x, sizeof bx);
	if ((bx & ~(1ULL << 63)) >= 0x7FF0000000000000ULL)
		return bx == 0xFFF0000000000000ULL ? 0 : x;
	if (x > 7.09782712893384e+02)
		return INFINITY;
	double t = rint(1.4426950408889634073599246810018920 * x);
	int32_t e = (t >= -2147483648.0 && t < 2147483648.0) ? (int32_t)t : INT32_MIN;
	double k = (double)e, x0 = x, x1;
	if (usefma) {
		x0 = fma(-ln2u, k, x0);
		x0 = fma(-ln2l, k, x0);
		x0 *= 0.0625;
		x1 = c[8];
		x1 = fma(x1, x0, c[7]);
		x1 = fma(x1, x0, c[6]);
		x1 = fma(x1, x0, c[5]);
		x1 = fma(x1, x0, c[4]);
		x1 = fma(x1, x0, c[3]);
		x1 = fma(x1, x0, c[0]);
		x1 = fma(x1, x0, c[1]);
		x0 = x0 * x1;
		for (int i = 0; i < 3; i++) {
			x1 = x0 + 2.0;
			x0 = x0 * x1;
		}
		x1 = x0 + 2.0;
		x0 = fma(x0, x1, 1.0);
	} else {
		double m;
		m = ln2u * k;
		x0 -= m;
		m = ln2l * k;
		x0 -= m;
		x0 *= 0.0625;
		x1 = c[8];
		for (int i = 7; i >= 3; i--) {
			x1 *= x0;
			x1 += c[i];
		}
		x1 *= x0;
		x1 += c[0];
		x1 *= x0;
		x1 += c[1];
		x0 = x1 * x0;
		for (int i = 0; i < 4; i++) {
			x1 = 2.0 + x0;
			x0 = x0 * x1;
		}
		x0 += 1.0;
	}
	int64_t be = (int64_t)e + 0x3FF;
	if (be <= 0) {
		if (be < -52)
			return 0;
		x0 *= from_bits((uint64_t)(be + 0x3FE) << 52);
		return x0 * from_bits(1ULL << 52);
	}
	if (be >= 0x7FF)
		return INFINITY;
	return x0 * from_bits((uint64_t)be << 52);
}

static bool cpu_has_fma(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma");
#else
	return true;
#endif
}

/* pprof's scaleHeapSample. */
static void unsample(int64_t *count, int64_t *size, int64_t rate, bool usefma)
{
	if (*count == 0 || *size == 0) {
		*count = *size = 0;
		return;
	}
	if (rate <= 1)
		return;
	double avg = (double)*size / (double)*count;
	double scale = 1 / (1 - go_exp(-avg / (double)rate, usefma));
	*count = cp_go_f2i((double)*count * scale);
	*size = cp_go_f2i((double)*size * scale);
}

/* ---- matching -------------------------------------------------------------- */

typedef struct span {
	const char *s;
	size_t n;
} span;

static size_t skip_sp(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] == ' ')
		i++;
	return i;
}

/* \d+ at i: its end, or 0 when there is no digit. */
static size_t digits(const char *s, size_t n, size_t i, span *g)
{
	size_t j = i;
	while (j < n && cp_is_digit(s[j]))
		j++;
	if (j == i)
		return 0;
	if (g) {
		g->s = s + i;
		g->n = j - i;
	}
	return j;
}

/* " *(\d+): *(\d+) *\[ *(\d+): *(\d+) *" then ']' at the returned index
 * (0 = no match).  g[0..3] get the numbers. */
static size_t header_numbers(const char *s, size_t n, size_t i, span *g)
{
	i = skip_sp(s, n, i);
	if (!(i = digits(s, n, i, &g[0])) || i >= n || s[i] != ':')
		return 0;
	i = skip_sp(s, n, i + 1);
	if (!(i = digits(s, n, i, &g[1])))
		return 0;
	i = skip_sp(s, n, i);
	if (i >= n || s[i] != '[')
		return 0;
	i = skip_sp(s, n, i + 1);
	if (!(i = digits(s, n, i, &g[2])) || i >= n || s[i] != ':')
		return 0;
	i = skip_sp(s, n, i + 1);
	if (!(i = digits(s, n, i, &g[3])))
		return 0;
	i = skip_sp(s, n, i);
	if (i >= n || s[i] != ']')
		return 0;
	return i;
}

enum hkind { H_HEAP, H_GROWTH, H_FRAG };

typedef struct header {
	span g[6];      /* inuse n, inuse b, alloc n, alloc b, kind, rate */
} header;

static bool is_kind_char(int c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || cp_is_digit(c);
}

/* The three header patterns, each searched for anywhere in the line. */
static bool match_header(const char *s, size_t n, enum hkind kind, header *h)
{
	static const char lead[] = "heap profile:";
	size_t ll = sizeof lead - 1;
	for (size_t at = 0; at + ll <= n; at++) {
		const char *f = memmem(s + at, n - at, lead, ll);
		if (!f)
			return false;
		at = (size_t)(f - s);
		size_t i = header_numbers(s, n, at + ll, h->g);
		if (!i)
			continue;
		i++;                    /* ']' */
		if (kind == H_HEAP) {
			i = skip_sp(s, n, i);
			if (i >= n || s[i] != '@')
				continue;
			i = skip_sp(s, n, i + 1);
			if (n - i < 4 || memcmp(s + i, "heap", 4) != 0)
				continue;
			size_t j = i + 4;
			while (j < n && is_kind_char(s[j]))
				j++;
			h->g[4] = (span){ s + i, j - i };
			if (j < n && s[j] == '/')
				j++;
			size_t k = j;
			while (k < n && cp_is_digit(s[k]))
				k++;
			h->g[5] = (span){ s + j, k - j };
			return true;
		}
		const char *tail = kind == H_GROWTH ? " @ growth" : " @ fragmentation";
		size_t tl = strlen(tail);
		if (n - i >= tl && memcmp(s + i, tail, tl) == 0)
			return true;
	}
	return false;
}

static bool span_eq(span a, const char *lit)
{
	return a.n == strlen(lit) && memcmp(a.s, lit, a.n) == 0;
}

static bool span_eq2(span a, span b)
{
	return a.n == b.n && memcmp(a.s, b.s, a.n) == 0;
}

/* pprof's heapSampleRE,
 *   (-?\d+): *(-?\d+) *\[ *(\d+): *(\d+) *] @([ x0-9a-f]*)
 * searched for in the line.  A match from inside a run of digits ends the
 * same way as one from the run's start, so only run starts (and a '-'
 * before one) need trying. */
static bool match_sample(const char *s, size_t n, span *g)
{
	for (size_t st = 0; st < n; st++) {
		bool cand = (s[st] == '-' && st + 1 < n && cp_is_digit(s[st + 1])) ||
			    (cp_is_digit(s[st]) && (st == 0 || !cp_is_digit(s[st - 1])));
		if (!cand)
			continue;
		size_t i = st + (s[st] == '-');
		if (!(i = digits(s, n, i, NULL)) || i >= n || s[i] != ':')
			continue;
		g[0] = (span){ s + st, i - st };
		i = skip_sp(s, n, i + 1);
		size_t v = i;
		if (i < n && s[i] == '-')
			i++;
		if (!(i = digits(s, n, i, NULL)))
			continue;
		g[1] = (span){ s + v, i - v };
		i = skip_sp(s, n, i);
		if (i >= n || s[i] != '[')
			continue;
		i = skip_sp(s, n, i + 1);
		if (!(i = digits(s, n, i, &g[2])) || i >= n || s[i] != ':')
			continue;
		i = skip_sp(s, n, i + 1);
		if (!(i = digits(s, n, i, &g[3])))
			continue;
		i = skip_sp(s, n, i);
		if (n - i < 3 || s[i] != ']' || s[i + 1] != ' ' || s[i + 2] != '@')
			continue;
		i += 3;
		g[4] = (span){ s + i, cp_addr_run(s, n, i) - i };
		return true;
	}
	return false;
}

/* ---- the parser ---------------------------------------------------------------- */

typedef struct hstate {
	cp_legacy *b;
	bool v2, has_alloc, usefma;
	int64_t rate;
	size_t lineno;
	cprof_error *err;
} hstate;

static int add_values(hstate *h, span cs, span ss, const char *label, int64_t *vals,
		      int64_t *blocksize)
{
	int64_t count, size;
	if (!cp_go_parse_int(cs.s, cs.n, 10, &count) || !cp_go_parse_int(ss.s, ss.n, 10, &size))
		return cprof_seterr(h->err, CPROF_EFORMAT, WHAT ": line %zu: %s value out of range",
				    h->lineno, label);
	if (count == 0 && size != 0)
		return cprof_seterr(h->err, CPROF_EFORMAT,
				    WHAT ": line %zu: %s count was 0 but %s bytes was %" PRId64,
				    h->lineno, label, label, size);
	if (count != 0) {
		*blocksize = (count == -1) ? (int64_t)(0 - (uint64_t)size) : size / count;
		if (h->v2)
			unsample(&count, &size, h->rate, h->usefma);
	}
	vals[0] = count;
	vals[1] = size;
	return 0;
}

static int sample_line(hstate *h, const char *s, size_t n)
{
	span g[5];
	int64_t vals[4], blocksize = 0;
	int e;
	if (!match_sample(s, n, g))
		return cprof_seterr(h->err, CPROF_EFORMAT,
				    WHAT ": line %zu: not a sample (want \"N: N [N: N] @ 0x...\")",
				    h->lineno);
	size_t k = 0;
	if (h->has_alloc) {
		if ((e = add_values(h, g[2], g[3], "allocation", vals, &blocksize)))
			return e;
		k = 2;
	}
	if ((e = add_values(h, g[0], g[1], "inuse", vals + k, &blocksize)))
		return e;
	e = cp_legacy_hex_frames(h->b, g[4].s, g[4].n);
	if (e == CPROF_EFORMAT)
		return cprof_seterr(h->err, e, WHAT ": line %zu: address does not fit 64 bits",
				    h->lineno);
	if (e)
		return e;
	return cp_legacy_sample(h->b, vals, blocksize);
}

int cprof_legacy_heap(const void *data, size_t len, cprof_profile **out, cprof_error *err)
{
	cp_lines L;
	header hd;
	enum hkind kind;
	if (!out)
		return cprof_seterr(err, CPROF_EINVAL, "no place for the profile");
	*out = NULL;
	if (!data)
		return CPROF_EUNKNOWN;
	cp_lines_init(&L, data, len);
	if (cp_lines_next(&L) != 1)
		return CPROF_EUNKNOWN;
	if (match_header(L.s, L.n, H_HEAP, &hd))
		kind = H_HEAP;
	else if (match_header(L.s, L.n, H_GROWTH, &hd))
		kind = H_GROWTH;
	else if (match_header(L.s, L.n, H_FRAG, &hd))
		kind = H_FRAG;
	else
		return CPROF_EUNKNOWN;

	hstate h = { 0 };
	int64_t period = 1;
	if (kind == H_HEAP) {
		period = 0;
		if (hd.g[5].n && !cp_go_parse_int(hd.g[5].s, hd.g[5].n, 10, &period))
			return CPROF_EUNKNOWN;
		h.has_alloc = (!span_eq2(hd.g[2], hd.g[0]) && !span_eq(hd.g[2], "0")) ||
			      (!span_eq2(hd.g[3], hd.g[1]) && !span_eq(hd.g[3], "0"));
		if (span_eq(hd.g[4], "heapz_v2") || span_eq(hd.g[4], "heap_v2")) {
			h.v2 = true;
		} else if (span_eq(hd.g[4], "heapprofile")) {
			period = 1;
		} else if (span_eq(hd.g[4], "heap")) {
			h.v2 = true;
			period /= 2;
		} else {
			return CPROF_EUNKNOWN;
		}
	}
	h.rate = period;
	h.usefma = cpu_has_fma();
	h.err = err;

	cp_legacy b;
	int ret = cp_legacy_init(&b, h.has_alloc ? 4 : 2);
	if (ret)
		return cprof_seterr(err, ret, WHAT ": out of memory");
	h.b = &b;
	b.with_bytes = true;
	cprof_profile *p = b.p;
	p->period = period;
	if ((ret = cp_legacy_period_type(p, "space", "bytes")))
		goto fail;
	if (h.has_alloc) {
		if ((ret = cp_legacy_vtype(p, "alloc_objects", "count")) ||
		    (ret = cp_legacy_vtype(p, "alloc_space", "bytes")) ||
		    (ret = cp_legacy_vtype(p, "inuse_objects", "count")) ||
		    (ret = cp_legacy_vtype(p, "inuse_space", "bytes")))
			goto fail;
	} else {
		if ((ret = cp_legacy_vtype(p, "objects", "count")) ||
		    (ret = cp_legacy_vtype(p, "space", "bytes")))
			goto fail;
	}

	int r;
	const char *s;
	size_t n;
	while ((r = cp_lines_next_text(&L, &s, &n)) == 1) {
		if (cp_is_map_sentinel(s, n))
			break;
		h.lineno = L.lineno;
		if ((ret = sample_line(&h, s, n)))
			goto fail;
	}
	if (r == 1 || r == 0)
		r = cp_legacy_skip_sections(&L);
	if (r == CPROF_ELIMIT) {
		ret = cprof_seterr(err, CPROF_EFORMAT, WHAT ": line %zu is longer than %d bytes",
				   L.lineno, CP_LINE_MAX);
		goto fail;
	}
fail:
	return cp_legacy_done(&b, ret, &L, false, CP_FRAMES_HEAP, WHAT, out, err);
}
