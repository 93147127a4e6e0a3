/*
 * test_legacy.c - the legacy parsers (gperftools CPU, heap, Go count,
 * contention) and folded stacks.
 *
 * The golden tests parse a file, merge it alone as pprof's driver does, print
 * it the way `go tool pprof -raw` prints a profile and compare with what Go
 * 1.19's pprof printed for the same file (tests/golden/legacy/NAME.raw; the
 * README there says how they were made).  The other tests pin down
 * recognition, errors and line numbers, drop/keep frames, and folded stacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cprof_core.h"

typedef int (*parser_fn)(const void *, size_t, cprof_profile **, cprof_error *);

static const parser_fn parsers[] = {
	cprof_legacy_gperf_cpu, cprof_legacy_heap, cprof_legacy_count,
	cprof_legacy_contention, cprof_folded_decode,
};

/* ---- helpers ------------------------------------------------------------- */

static char *slurp(const char *rel, size_t *len)
{
	const char *root = getenv("CPROF_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", root ? root : ".", rel);
	FILE *f = fopen(path, "rb");
	if (!f) {
		print_error("cannot open %s\n", path);
		fail();
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	for (size_t r; (r = fread(buf + n, 1, cap - n, f)) > 0;) {
		n += r;
		if (n == cap)
			buf = realloc(buf, (cap *= 2) + 1);
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

/* Parse as pprof's parseLegacy would: the first parser that recognises it. */
static int parse_any(const void *d, size_t n, cprof_profile **out, cprof_error *err)
{
	int rc = CPROF_EUNKNOWN;
	for (size_t i = 0; i < sizeof parsers / sizeof *parsers && rc == CPROF_EUNKNOWN; i++) {
		rc = parsers[i](d, n, out, err);
		if (rc == CPROF_EUNKNOWN)
			assert_int_equal(err->code, 0);  /* EUNKNOWN never sets a message */
	}
	return rc;
}

typedef struct sbuf {
	char *s;
	size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int w = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if ((size_t)w < b->cap - b->n) {
			b->n += (size_t)w;
			return;
		}
		b->cap = (b->cap + (size_t)w + 1) * 2;
		b->s = realloc(b->s, b->cap);
	}
}

/* Go's time.Duration.String() cut to 4 runes (pprof's "%.4v"). */
static void go_duration(int64_t d, char *out)
{
	char buf[48];
	int w = sizeof buf;
	uint64_t u = d < 0 ? 0 - (uint64_t)d : (uint64_t)d;
	buf[--w] = 0;
	if (u < 1000000000ULL) {
		int prec;
		buf[--w] = 's';
		if (u == 0) {
			strcpy(out, "0s");
			return;
		}
		if (u < 1000) {
			prec = 0;
			buf[--w] = 'n';
		} else if (u < 1000000) {
			prec = 3;
			buf[--w] = (char)0xb5;
			buf[--w] = (char)0xc2;
		} else {
			prec = 6;
			buf[--w] = 'm';
		}
		int print = 0;
		for (int i = 0; i < prec; i++, u /= 10)
			if ((print = print || u % 10))
				buf[--w] = (char)('0' + u % 10);
		if (print)
			buf[--w] = '.';
		do
			buf[--w] = (char)('0' + u % 10);
		while ((u /= 10));
	} else {
		buf[--w] = 's';
		int print = 0;
		for (int i = 0; i < 9; i++, u /= 10)
			if ((print = print || u % 10))
				buf[--w] = (char)('0' + u % 10);
		if (print)
			buf[--w] = '.';
		uint64_t x = u % 60;
		do
			buf[--w] = (char)('0' + x % 10);
		while ((x /= 10));
		if ((u /= 60)) {
			buf[--w] = 'm';
			x = u % 60;
			do
				buf[--w] = (char)('0' + x % 10);
			while ((x /= 10));
			if ((u /= 60)) {
				buf[--w] = 'h';
				do
					buf[--w] = (char)('0' + u % 10);
				while ((u /= 10));
			}
		}
	}
	if (d < 0)
		buf[--w] = '-';
	const char *s = buf + w;
	size_t o = 0;
	for (int runes = 0; s[o] && runes < 4; runes++)
		for (o++; (s[o] & 0xc0) == 0x80; o++)
			;
	memcpy(out, s, o);
	out[o] = 0;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* pprof's Profile.String(), without the Time line. */
static char *render_raw(const cprof_profile *p)
{
	sbuf b = { malloc(4096), 0, 4096 };
	for (size_t i = 0; i < p->comments.n; i++)
		sb_printf(&b, "Comment: %s\n", cprof_s(p, p->comments.v[i]));
	sb_printf(&b, "PeriodType: %s %s\n", cprof_s(p, p->period_type.type),
		  cprof_s(p, p->period_type.unit));
	sb_printf(&b, "Period: %" PRId64 "\n", p->period);
	if (p->duration_nanos) {
		char d[64];
		go_duration(p->duration_nanos, d);
		sb_printf(&b, "Duration: %s\n", d);
	}
	sb_printf(&b, "Samples:\n");
	for (size_t i = 0; i < p->vtypes.n; i++) {
		const char *t = cprof_s(p, p->vtypes.v[i].type);
		sb_printf(&b, "%s%s/%s%s", i ? " " : "", t, cprof_s(p, p->vtypes.v[i].unit),
			  strcmp(t, cprof_s(p, p->default_sample_type)) == 0 ? "[dflt]" : "");
	}
	sb_printf(&b, "\n");
	for (size_t s = 0; s < p->samples.n; s++) {
		const int64_t *v = cprof_sample_values(p, s);
		for (size_t i = 0; i < p->vtypes.n; i++)
			sb_printf(&b, " %10" PRId64, v[i]);
		sb_printf(&b, ": ");
		uint32_t st = p->samples.v[s].stack;
		for (size_t i = 0; i < cprof_stack_len(p, st); i++)
			sb_printf(&b, "%" PRIu64 " ", p->locations.v[cprof_stack_locs(p, st)[i]].id);
		sb_printf(&b, "\n");
		uint32_t ls = p->samples.v[s].labels;
		size_t n = cprof_lset_len(p, ls);
		const cprof_label *l = cprof_lset(p, ls);
		for (int numeric = 0; numeric < 2; numeric++) {
			char *items[64];
			size_t k = 0;
			for (size_t i = 0; i < n && k < 64;) {
				if ((l[i].str == 0) != numeric) {
					i++;
					continue;
				}
				sbuf it = { malloc(64), 0, 64 };
				sb_printf(&it, "%s:[", cprof_s(p, l[i].key));
				size_t j = i;
				for (; j < n && l[j].key == l[i].key && (l[j].str == 0) == numeric; j++) {
					if (numeric)
						sb_printf(&it, "%s%" PRId64 "%s%s", j > i ? " " : "", l[j].num,
							  l[j].unit ? " " : "", cprof_s(p, l[j].unit));
					else
						sb_printf(&it, "%s%s", j > i ? " " : "", cprof_s(p, l[j].str));
				}
				sb_printf(&it, "]");
				items[k++] = it.s;
				i = j;
			}
			if (!k)
				continue;
			qsort(items, k, sizeof *items, cmpstr);
			sb_printf(&b, "                ");
			for (size_t i = 0; i < k; i++) {
				sb_printf(&b, "%s%s", i ? " " : "", items[i]);
				free(items[i]);
			}
			sb_printf(&b, "\n");
		}
	}
	sb_printf(&b, "Locations\n");
	for (size_t i = 0; i < p->locations.n; i++) {
		const cprof_location *l = &p->locations.v[i];
		sb_printf(&b, "%6" PRIu64 ": 0x%" PRIx64 " ", l->id, l->address);
		if (l->mapping != CPROF_NONE)
			sb_printf(&b, "M=%" PRIu64 " ", p->mappings.v[l->mapping].id);
		if (l->is_folded)
			sb_printf(&b, "[F] ");
		if (!l->nline)
			sb_printf(&b, "\n");
		for (uint32_t j = 0; j < l->nline; j++) {
			const cprof_line *ln = &p->lines.v[l->line_off + j];
			const cprof_function *fn = &p->functions.v[ln->function];
			if (j)
				sb_printf(&b, "             ");
			sb_printf(&b, "%s %s:%" PRId64 " s=%" PRId64, cprof_s(p, fn->name),
				  cprof_s(p, fn->filename), ln->line, fn->start_line);
			if (fn->name != fn->system_name)
				sb_printf(&b, "(%s)", cprof_s(p, fn->system_name));
			sb_printf(&b, "\n");
		}
	}
	sb_printf(&b, "Mappings\n");
	for (size_t i = 0; i < p->mappings.n; i++) {
		const cprof_mapping *m = &p->mappings.v[i];
		sb_printf(&b, "%" PRIu64 ": 0x%" PRIx64 "/0x%" PRIx64 "/0x%" PRIx64 " %s %s %s%s%s%s\n",
			  m->id, m->start, m->limit, m->offset, cprof_s(p, m->file),
			  cprof_s(p, m->build_id), m->has_functions ? "[FN]" : "",
			  m->has_filenames ? "[FL]" : "", m->has_line_numbers ? "[LN]" : "",
			  m->has_inline_frames ? "[IN]" : "");
	}
	return b.s;
}

/* Parse `input`, merge it alone, and compare -raw with `expected`. */
static void check_golden(const char *input, const char *expected)
{
	size_t n, en;
	char *d = slurp(input, &n), *want = slurp(expected, &en);
	cprof_profile *p = NULL, *m = NULL;
	cprof_error err = { 0 };
	int rc = parse_any(d, n, &p, &err);
	if (rc) {
		print_error("%s: %d %s\n", input, rc, err.msg);
		fail();
	}
	assert_int_equal(cprof_profile_check(p, &err), 0);
	assert_int_equal(cprof_merge(&p, 1, &m, &err), 0);
	assert_int_equal(cprof_profile_check(m, &err), 0);
	char *got = render_raw(m);
	if (strcmp(got, want) != 0) {
		/* point at the first differing line */
		size_t i = 0, line = 1;
		while (got[i] && got[i] == want[i]) {
			if (got[i] == '\n')
				line++;
			i++;
		}
		print_error("%s: -raw differs from %s at line %zu\n", input, expected, line);
		fail();
	}
	free(got);
	free(d);
	free(want);
	cprof_profile_free(p);
	cprof_profile_free(m);
}

static void expect_error(parser_fn fn, const char *text, int code, const char *needle)
{
	cprof_profile *p = (cprof_profile *)1;
	cprof_error err = { 0 };
	int rc = fn(text, strlen(text), &p, &err);
	if (rc != code || (needle && !strstr(err.msg, needle))) {
		print_error("want %d \"%s\", got %d \"%s\" for input:\n%s\n", code,
			    needle ? needle : "", rc, err.msg, text);
		fail();
	}
	assert_null(p);
	if (code == CPROF_EUNKNOWN)
		assert_int_equal(err.code, 0);
}

static int64_t total(const cprof_profile *p, size_t vt)
{
	int64_t t = 0;
	for (size_t s = 0; s < p->samples.n; s++)
		t += cprof_sample_values(p, s)[vt];
	return t;
}

/* ---- golden comparisons with go tool pprof -raw ----------------------------- */

static void test_go_corpus(void **state)
{
	check_golden("tests/golden/go/heap.txt", "tests/golden/legacy/go_heap.raw");
	check_golden("tests/golden/go/goroutine.txt", "tests/golden/legacy/go_goroutine.raw");
	check_golden("tests/golden/go/mutex.txt", "tests/golden/legacy/go_mutex.raw");
}

static void test_synthetic_goldens(void **state)
{
	static const char *const names[] = {
		"heap_v2_maps.txt", "heapprofile_brief_map.txt", "growthz.txt", "fragmentationz.txt",
		"heap_go_legacy_odd.txt", "heapz_v2_search.txt", "heap_v2_zero.txt",
		"heap_map_heuristics.txt", "heap_map_hostile.txt", "goroutine_maps.txt", "goroutine_map_main.txt",
		"threadcreate_comments.txt", "contentionz.txt", "contention_hex_hz.txt",
		"mutex_period.txt", "gperf_cpu32le.prof", "gperf_cpu32be.prof", "gperf_cpu64le.prof",
		"gperf_cpu64be.prof", "gperf_cpu_no_trailer.prof", "gperf_cpu_real.prof",
	};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char in[256], out[256];
		snprintf(in, sizeof in, "tests/golden/legacy/%s", names[i]);
		snprintf(out, sizeof out, "tests/golden/legacy/%.*s.raw",
			 (int)(strrchr(names[i], '.') - names[i]), names[i]);
		check_golden(in, out);
	}
}

/* The numbers pprof reports for the Go corpus, independent of the printer. */
static void test_go_corpus_values(void **state)
{
	size_t n;
	char *d = slurp("tests/golden/go/heap.txt", &n);
	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	assert_int_equal(cprof_legacy_heap(d, n, &p, &err), 0);
	assert_int_equal(p->vtypes.n, 4);
	assert_string_equal(cprof_s(p, p->vtypes.v[0].type), "alloc_objects");
	assert_string_equal(cprof_s(p, p->vtypes.v[3].type), "inuse_space");
	assert_string_equal(cprof_s(p, p->period_type.type), "space");
	assert_int_equal(p->period, 4096);      /* heap/8192 is twice the rate */
	/* first record "2600: 12646400 [2600: 12646400]" un-sampled at 4096 */
	const int64_t *v = cprof_sample_values(p, 0);
	assert_int_equal(v[0], 3740);
	assert_int_equal(v[1], 18195807);
	assert_int_equal(v[2], 3740);
	assert_int_equal(v[3], 18195807);
	assert_string_equal(cprof_s(p, p->drop_frames) + 0, "calloc|cfree|malloc|free|memalign|do_memalign|(__)?posix_memalign|pvalloc|valloc|realloc|tcmalloc::.*|tc_calloc|tc_cfree|tc_malloc|tc_free|tc_memalign|tc_posix_memalign|tc_pvalloc|tc_valloc|tc_realloc|tc_new|tc_delete|tc_newarray|tc_deletearray|tc_new_nothrow|tc_newarray_nothrow|malloc_zone_malloc|malloc_zone_calloc|malloc_zone_valloc|malloc_zone_realloc|malloc_zone_memalign|malloc_zone_free|runtime\\..*|BaseArena::.*|(::)?do_malloc_no_errno|(::)?do_malloc_pages|(::)?do_malloc|DoSampledAllocation|MallocedMemBlock::MallocedMemBlock|_M_allocate|__builtin_(vec_)?delete|__builtin_(vec_)?new|__gnu_cxx::new_allocator::allocate|__libc_malloc|__malloc_alloc_template::allocate|allocate|cpp_alloc|operator new(\\[\\])?|simple_alloc::allocate");
	assert_string_equal(cprof_s(p, p->keep_frames),
			    "runtime\\.panic|runtime\\.reflectcall|runtime\\.call[0-9]*");
	/* the one fake mapping covers everything */
	assert_int_equal(p->mappings.n, 1);
	assert_int_equal(p->mappings.v[0].limit, UINT64_MAX);
	cprof_profile_free(p);
	free(d);

	d = slurp("tests/golden/go/goroutine.txt", &n);
	assert_int_equal(cprof_legacy_count(d, n, &p, &err), 0);
	assert_int_equal(p->samples.n, 3);
	assert_int_equal(total(p, 0), 49);
	assert_string_equal(cprof_s(p, p->vtypes.v[0].type), "goroutine");
	assert_string_equal(cprof_s(p, p->drop_frames),
			    "ProfileData::Add|ProfileData::prof_handler|CpuProfiler::prof_handler|__pthread_sighandler|__restore");
	/* the leaf 0x438656 is moved back onto the call */
	assert_int_equal(p->locations.v[cprof_stack_locs(p, p->samples.v[0].stack)[0]].address, 0x438655);
	assert_int_equal(cprof_lset_len(p, p->samples.v[0].labels), 0);   /* # labels: ignored */
	cprof_profile_free(p);
	free(d);

	d = slurp("tests/golden/go/mutex.txt", &n);
	assert_int_equal(cprof_legacy_contention(d, n, &p, &err), 0);
	assert_int_equal(p->samples.n, 4);
	v = cprof_sample_values(p, 0);
	assert_int_equal(v[0], 43);
	assert_int_equal(v[1], 363553078);     /* 943827560 cycles at 2.596 GHz */
	assert_true(strstr(cprof_s(p, p->drop_frames), "RecordLockProfileData") != NULL);
	cprof_profile_free(p);
	free(d);
}

/* ---- recognition and errors --------------------------------------------------- */

static void test_recognition(void **state)
{
	static const char *const others[] = {
		"", "\n\n", "hello world\n", "heap profile: garbage\n",
		"--- threadz 1 ---\n", "goroutine 1 [running]:\nmain.main()\n",
		"heap profile: 1: 2 [3: 4] @ heapx_v2/5\n",
	};
	for (size_t i = 0; i < sizeof others / sizeof *others; i++)
		for (size_t k = 0; k < 4; k++)
			expect_error(parsers[k], others[i], CPROF_EUNKNOWN, NULL);
	/* each parser leaves the others' formats alone */
	expect_error(cprof_legacy_heap, "goroutine profile: total 1\n1 @ 0x1\n", CPROF_EUNKNOWN, NULL);
	expect_error(cprof_legacy_count, "--- mutex:\n1 1 @ 0x1\n", CPROF_EUNKNOWN, NULL);
	expect_error(cprof_legacy_contention, "heap profile: 1: 1 [1: 1] @ heapprofile\n",
		     CPROF_EUNKNOWN, NULL);
	expect_error(cprof_folded_decode, "heap profile: 1: 1 [1: 1] @ heapprofile\n",
		     CPROF_EUNKNOWN, NULL);
	expect_error(cprof_folded_decode, "\x1f\x8b\x08\x00", CPROF_EUNKNOWN, NULL);
	/* a first line longer than pprof's scanner takes is not recognised */
	size_t big = 70000;
	char *s = malloc(big + 64);
	strcpy(s, "heap profile: 1: 1 [1: 1] @ heapprofile ");
	memset(s + strlen(s), 'x', big);
	s[big] = 0;
	expect_error(cprof_legacy_heap, s, CPROF_EUNKNOWN, NULL);
	free(s);
}

static void test_heap_errors(void **state)
{
	expect_error(cprof_legacy_heap,
		     "heap profile: 1: 1 [1: 1] @ heap_v2/10\n1: 1 [1: 1] @ 0x1\nnonsense\n",
		     CPROF_EFORMAT, "line 3");
	expect_error(cprof_legacy_heap,
		     "heap profile: 1: 1 [2: 2] @ heap_v2/10\n\n0: 5 [1: 1] @ 0x1\n",
		     CPROF_EFORMAT, "line 3: inuse count was 0 but inuse bytes was 5");
	expect_error(cprof_legacy_heap,
		     "heap profile: 1: 1 [2: 2] @ heap_v2/10\n1: 1 [0: 1] @ 0x1\n",
		     CPROF_EFORMAT, "allocation count was 0");
	expect_error(cprof_legacy_heap,
		     "heap profile: 1: 1 [1: 1] @ heapprofile\n99999999999999999999: 1 [1: 1] @ 0x1\n",
		     CPROF_EFORMAT, "line 2");
	expect_error(cprof_legacy_heap,
		     "heap profile: 1: 1 [1: 1] @ heapprofile\n1: 1 [1: 1] @ 0x11111111111111111\n",
		     CPROF_EFORMAT, "line 2: address does not fit 64 bits");
	/* a later line too long for pprof's scanner */
	size_t big = 70000;
	char *s = malloc(big + 128);
	int k = sprintf(s, "heap profile: 1: 1 [1: 1] @ heapprofile\n1: 1 [1: 1] @ 0x1\n# ");
	memset(s + k, 'x', big);
	s[k + big] = 0;
	expect_error(cprof_legacy_heap, s, CPROF_EFORMAT, "line 3 is longer than");
	free(s);
}

static void test_count_errors(void **state)
{
	expect_error(cprof_legacy_count, "goroutine profile: total 2\n1 @ 0x1\n1 @ junk\n",
		     CPROF_EFORMAT, "goroutine profile: line 3");
	/* counts are read with base 0, so 08 is not a number, as in pprof */
	expect_error(cprof_legacy_count, "goroutine profile: total 2\n08 @ 0x1\n",
		     CPROF_EFORMAT, "line 2: bad count");
	/* trailing space makes the header not match, exactly as pprof's regexp */
	expect_error(cprof_legacy_count, "goroutine profile: total 2 \n1 @ 0x1\n",
		     CPROF_EUNKNOWN, NULL);
	/* a leading 0 means octal */
	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	const char *t = "# leading comment\n\nthreadcreate profile: total 8\n010 @ 0x10 0x20\n";
	assert_int_equal(cprof_legacy_count(t, strlen(t), &p, &err), 0);
	assert_int_equal(cprof_sample_values(p, 0)[0], 8);
	assert_int_equal(p->locations.v[0].address, 0xf);
	assert_int_equal(p->locations.v[1].address, 0x1f);
	cprof_profile_free(p);
}

static void test_contention(void **state)
{
	expect_error(cprof_legacy_contention, "--- mutex:\nfoo = 1\n1 1 @ 0x1\n", CPROF_EFORMAT,
		     "line 2: unknown attribute");
	expect_error(cprof_legacy_contention, "--- mutex:\ncycles/second = fast\n1 1 @ 0x1\n",
		     CPROF_EFORMAT, "line 2: bad number for cycles/second");
	expect_error(cprof_legacy_contention, "--- contentionz 1 ---\nformat = java\n",
		     CPROF_EFORMAT, "Java");
	expect_error(cprof_legacy_contention, "--- mutex:\n1 1 @ 0x1\n\nwhat\n", CPROF_EFORMAT,
		     "line 4: not a record");

	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	const char *t = "--- contentionz 1 ---\n"
			"cycles/second = 1000000000\n"
			"sampling period = 10\n"
			"ms since reset = 1500\n"
			"discarded samples = 0\n"
			"  \n"
			"# a comment\n"
			"200 3 @ 0x1000 0x2000\n"
			"77 @ 0x3000\n"                 /* backtracking: cycles 7, count 7 */
			"--- Memory map: ---\n"
			"00001000-00004000 r-xp 00000000 00:00 0 /bin/locker\n";
	assert_int_equal(cprof_legacy_contention(t, strlen(t), &p, &err), 0);
	assert_int_equal(p->period, 10);
	assert_int_equal(p->duration_nanos, 1500000000);
	assert_int_equal(p->samples.n, 2);
	const int64_t *v = cprof_sample_values(p, 0);
	assert_int_equal(v[0], 30);             /* count * period */
	assert_int_equal(v[1], 2000);           /* cycles * period / GHz */
	v = cprof_sample_values(p, 1);
	assert_int_equal(v[0], 70);
	assert_int_equal(v[1], 70);
	/* 0x1000-1 falls below the mapping: pprof's fake mapping takes it */
	assert_int_equal(p->mappings.n, 2);
	assert_string_equal(cprof_s(p, p->mappings.v[0].file), "/bin/locker");
	assert_int_equal(p->locations.v[0].address, 0xfff);
	assert_int_equal(p->locations.v[0].mapping, 1);
	assert_int_equal(p->mappings.v[1].limit, UINT64_MAX);
	assert_int_equal(p->locations.v[1].mapping, 0);
	cprof_profile_free(p);
}

static void test_gperf_errors(void **state)
{
	/* header words 0 3 0 period 0, then a record claiming more words than exist */
	uint64_t w[] = { 0, 3, 0, 100, 0, 1, 1000 };
	expect_error(cprof_legacy_gperf_cpu, "", CPROF_EUNKNOWN, NULL);
	cprof_profile *p = (cprof_profile *)1;
	cprof_error err = { 0 };
	assert_int_equal(cprof_legacy_gperf_cpu(w, sizeof w, &p, &err), CPROF_EFORMAT);
	assert_non_null(strstr(err.msg, "truncated record at byte 40"));
	assert_null(p);
	/* period 0 is not a header */
	uint64_t z[] = { 0, 3, 0, 0, 0 };
	memset(&err, 0, sizeof err);
	assert_int_equal(cprof_legacy_gperf_cpu(z, sizeof z, &p, &err), CPROF_EUNKNOWN);
	assert_int_equal(err.code, 0);
	/* Java's variant */
	uint32_t j[] = { 0, 3, 1, 100, 0 };
	assert_int_equal(cprof_legacy_gperf_cpu(j, sizeof j, &p, &err), CPROF_EFORMAT);
	assert_non_null(strstr(err.msg, "Java"));
	/* header only: an empty profile */
	uint32_t h[] = { 0, 3, 0, 100, 0 };
	memset(&err, 0, sizeof err);
	assert_int_equal(cprof_legacy_gperf_cpu(h, sizeof h, &p, &err), 0);
	assert_int_equal(p->samples.n, 0);
	assert_int_equal(p->period, 100000);
	assert_int_equal(cprof_profile_check(p, &err), 0);
	cprof_profile_free(p);
}

/* ---- folded stacks ------------------------------------------------------------- */

static void test_folded(void **state)
{
	const char *t = "main;run;parse 10\n"
			"\n"
			"main;run;operator new[] (std::size_t) 5\r\n"
			"main;run;parse 3\n"
			"  main;idle\t2  \n"
			"main;;run; 1\n";
	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	assert_int_equal(cprof_folded_decode(t, strlen(t), &p, &err), 0);
	assert_int_equal(cprof_profile_check(p, &err), 0);
	assert_int_equal(p->vtypes.n, 1);
	assert_string_equal(cprof_s(p, p->vtypes.v[0].type), "samples");
	assert_string_equal(cprof_s(p, p->vtypes.v[0].unit), "count");
	assert_int_equal(p->samples.n, 5);
	assert_int_equal(total(p, 0), 21);
	/* main, run, parse, operator new..., idle: one function and location each */
	assert_int_equal(p->functions.n, 5);
	assert_int_equal(p->locations.n, 5);
	/* leaf first */
	uint32_t st = p->samples.v[1].stack;
	assert_int_equal(cprof_stack_len(p, st), 3);
	const cprof_location *leaf = &p->locations.v[cprof_stack_locs(p, st)[0]];
	assert_int_equal(leaf->mapping, CPROF_NONE);
	assert_int_equal(leaf->address, 0);
	assert_string_equal(cprof_s(p, p->functions.v[p->lines.v[leaf->line_off].function].name),
			    "operator new[] (std::size_t)");
	/* equal stacks share one interned stack */
	assert_int_equal(p->samples.v[0].stack, p->samples.v[2].stack);
	/* empty frames are skipped */
	assert_int_equal(cprof_stack_len(p, p->samples.v[4].stack), 2);
	cprof_profile_free(p);

	expect_error(cprof_folded_decode, "a;b 1\nc;d\n", CPROF_EFORMAT, "folded stacks: line 2");
	expect_error(cprof_folded_decode, "a;b 1\n\n\nc;d 1x\n", CPROF_EFORMAT, "line 4");
	expect_error(cprof_folded_decode, "a;b 1\n;; 3\n", CPROF_EFORMAT, "line 2");
	expect_error(cprof_folded_decode, "a;b 1\nx 99999999999999999999\n", CPROF_EFORMAT, "line 2");
	expect_error(cprof_folded_decode, "just some text\n", CPROF_EUNKNOWN, NULL);
	expect_error(cprof_folded_decode, "42\n", CPROF_EUNKNOWN, NULL);
	expect_error(cprof_folded_decode, "\n\n  \n", CPROF_EUNKNOWN, NULL);
}

static void test_folded_large(void **state)
{
	/* many lines, few distinct frames: memory follows distinct content */
	size_t lines = 200000;
	sbuf b = { malloc(1 << 20), 0, 1 << 20 };
	for (size_t i = 0; i < lines; i++)
		sb_printf(&b, "main;worker%zu;compute;leaf%zu %zu\n", i % 7, i % 13, i % 5 + 1);
	cprof_profile *p = NULL;
	cprof_error err = { 0 };
	assert_int_equal(cprof_folded_decode(b.s, b.n, &p, &err), 0);
	assert_int_equal(p->samples.n, lines);
	assert_int_equal(p->functions.n, 1 + 7 + 1 + 13);
	assert_true(cprof_nstacks(p) <= 7 * 13);
	cprof_profile_free(p);
	free(b.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_go_corpus),
		cmocka_unit_test(test_synthetic_goldens),
		cmocka_unit_test(test_go_corpus_values),
		cmocka_unit_test(test_recognition),
		cmocka_unit_test(test_heap_errors),
		cmocka_unit_test(test_count_errors),
		cmocka_unit_test(test_contention),
		cmocka_unit_test(test_gperf_errors),
		cmocka_unit_test(test_folded),
		cmocka_unit_test(test_folded_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
