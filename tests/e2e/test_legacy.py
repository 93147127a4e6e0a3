"""Legacy formats and merging, end to end against Go 1.19's `go tool pprof`.

The parsers and cprof_merge are driven through a small C helper built here
against the core library (so this does not depend on the command line): it
decodes files with cprof_decode_file, merges sources and -base/-diff_base
profiles the way pprof's driver does, and prints the result as `pprof -raw`
prints a profile.  Its output must equal `go tool pprof -raw -symbolize=none`
on the same inputs, apart from the Time line.  A real gperftools CPU profile is
recorded from a small C program run under libprofiler.  Tests that need go,
a C compiler or libprofiler skip when those are missing.
"""
import glob
import os
import shutil
import subprocess

import pytest

from conftest import GOLDEN, ROOT, cprof_bin, have_go

LEGACY = os.path.join(ROOT, "tests", "golden", "legacy")
LIBPROFILER = "/usr/lib/x86_64-linux-gnu/libprofiler.so.0"

HELPER = r'''
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cprof_core.h"

static void go_duration(int64_t d, char *out)
{
	char buf[48]; int w = sizeof buf;
	uint64_t u = d < 0 ? 0 - (uint64_t)d : (uint64_t)d, x;
	buf[--w] = 0;
	if (u < 1000000000ULL) {
		int prec, print = 0;
		buf[--w] = 's';
		if (u == 0) { strcpy(out, "0s"); return; }
		if (u < 1000) { prec = 0; buf[--w] = 'n'; }
		else if (u < 1000000) { prec = 3; buf[--w] = (char)0xb5; buf[--w] = (char)0xc2; }
		else { prec = 6; buf[--w] = 'm'; }
		for (int i = 0; i < prec; i++, u /= 10)
			if ((print = print || u % 10)) buf[--w] = (char)('0' + u % 10);
		if (print) buf[--w] = '.';
		do buf[--w] = (char)('0' + u % 10); while ((u /= 10));
	} else {
		int print = 0;
		buf[--w] = 's';
		for (int i = 0; i < 9; i++, u /= 10)
			if ((print = print || u % 10)) buf[--w] = (char)('0' + u % 10);
		if (print) buf[--w] = '.';
		x = u % 60;
		do buf[--w] = (char)('0' + x % 10); while ((x /= 10));
		if ((u /= 60)) {
			buf[--w] = 'm'; x = u % 60;
			do buf[--w] = (char)('0' + x % 10); while ((x /= 10));
			if ((u /= 60)) { buf[--w] = 'h'; do buf[--w] = (char)('0' + u % 10); while ((u /= 10)); }
		}
	}
	if (d < 0) buf[--w] = '-';
	const char *s = buf + w; size_t o = 0;
	for (int r = 0; s[o] && r < 4; r++) for (o++; (s[o] & 0xc0) == 0x80; o++) ;
	memcpy(out, s, o); out[o] = 0;
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void print_raw(const cprof_profile *p)
{
	for (size_t i = 0; i < p->comments.n; i++) printf("Comment: %s\n", cprof_s(p, p->comments.v[i]));
	printf("PeriodType: %s %s\n", cprof_s(p, p->period_type.type), cprof_s(p, p->period_type.unit));
	printf("Period: %" PRId64 "\n", p->period);
	if (p->duration_nanos) { char d[64]; go_duration(p->duration_nanos, d); printf("Duration: %s\n", d); }
	printf("Samples:\n");
	for (size_t i = 0; i < p->vtypes.n; i++) {
		const char *t = cprof_s(p, p->vtypes.v[i].type);
		printf("%s%s/%s%s", i ? " " : "", t, cprof_s(p, p->vtypes.v[i].unit),
		       strcmp(t, cprof_s(p, p->default_sample_type)) == 0 ? "[dflt]" : "");
	}
	printf("\n");
	for (size_t s = 0; s < p->samples.n; s++) {
		const int64_t *v = cprof_sample_values(p, s);
		for (size_t i = 0; i < p->vtypes.n; i++) printf(" %10" PRId64, v[i]);
		printf(": ");
		uint32_t st = p->samples.v[s].stack;
		for (size_t i = 0; i < cprof_stack_len(p, st); i++)
			printf("%" PRIu64 " ", p->locations.v[cprof_stack_locs(p, st)[i]].id);
		printf("\n");
		uint32_t ls = p->samples.v[s].labels;
		size_t n = cprof_lset_len(p, ls);
		const cprof_label *l = n ? cprof_lset(p, ls) : NULL;
		for (int numeric = 0; numeric < 2; numeric++) {
			char *items[64]; size_t k = 0;
			for (size_t i = 0; i < n && k < 64;) {
				if ((l[i].str == 0) != numeric) { i++; continue; }
				char b[8192]; int o = snprintf(b, sizeof b, "%s:[", cprof_s(p, l[i].key));
				size_t j = i;
				for (; j < n && l[j].key == l[i].key && (l[j].str == 0) == numeric; j++) {
					if (numeric)
						o += snprintf(b + o, sizeof b - o, "%s%" PRId64 "%s%s", j > i ? " " : "",
							      l[j].num, l[j].unit ? " " : "", cprof_s(p, l[j].unit));
					else
						o += snprintf(b + o, sizeof b - o, "%s%s", j > i ? " " : "", cprof_s(p, l[j].str));
				}
				snprintf(b + o, sizeof b - o, "]");
				items[k++] = strdup(b);
				i = j;
			}
			if (!k) continue;
			qsort(items, k, sizeof *items, cmpstr);
			printf("                ");
			for (size_t i = 0; i < k; i++) { printf("%s%s", i ? " " : "", items[i]); free(items[i]); }
			printf("\n");
		}
	}
	printf("Locations\n");
	for (size_t i = 0; i < p->locations.n; i++) {
		const cprof_location *l = &p->locations.v[i];
		printf("%6" PRIu64 ": 0x%" PRIx64 " ", l->id, l->address);
		if (l->mapping != CPROF_NONE) printf("M=%" PRIu64 " ", p->mappings.v[l->mapping].id);
		if (l->is_folded) printf("[F] ");
		if (!l->nline) printf("\n");
		for (uint32_t j = 0; j < l->nline; j++) {
			const cprof_line *ln = &p->lines.v[l->line_off + j];
			const cprof_function *fn = &p->functions.v[ln->function];
			if (j) printf("             ");
			printf("%s %s:%" PRId64 " s=%" PRId64, cprof_s(p, fn->name), cprof_s(p, fn->filename),
			       ln->line, fn->start_line);
			if (fn->name != fn->system_name) printf("(%s)", cprof_s(p, fn->system_name));
			printf("\n");
		}
	}
	printf("Mappings\n");
	for (size_t i = 0; i < p->mappings.n; i++) {
		const cprof_mapping *m = &p->mappings.v[i];
		printf("%" PRIu64 ": 0x%" PRIx64 "/0x%" PRIx64 "/0x%" PRIx64 " %s %s %s%s%s%s\n", m->id,
		       m->start, m->limit, m->offset, cprof_s(p, m->file), cprof_s(p, m->build_id),
		       m->has_functions ? "[FN]" : "", m->has_filenames ? "[FL]" : "",
		       m->has_line_numbers ? "[LN]" : "", m->has_inline_frames ? "[IN]" : "");
	}
}

static cprof_profile *load(const char *path)
{
	cprof_profile *p = NULL; cprof_error err = { 0 };
	int rc = cprof_decode_file(path, &p, &err);
	if (rc) { printf("error: %s\n", err.msg[0] ? err.msg : cprof_strerror(rc)); exit(1); }
	if (cprof_profile_check(p, &err)) { printf("check: %s\n", err.msg); exit(1); }
	/* pprof's driver (locateBinaries) gives a profile without mappings one
	 * empty mapping holding every location, before merging */
	if (p->mappings.n == 0) {
		cprof_mapping m = { .id = 1 };
		cprof_add_mapping(p, &m);
		for (size_t i = 0; i < p->locations.n; i++) p->locations.v[i].mapping = 0;
	}
	return p;
}

static cprof_profile *merge(cprof_profile **ps, size_t n)
{
	cprof_profile *m = NULL; cprof_error err = { 0 };
	if (cprof_merge(ps, n, &m, &err)) { printf("error: %s\n", err.msg); exit(1); }
	return m;
}

#define S(p, x) cprof_intern_cstr(p, x)
/* A small symbolized profile with the given units, written as profile.proto. */
static void mk(const char *path, const char *u1, const char *pu, int64_t period, uint64_t shift, int v)
{
	cprof_profile *p = cprof_profile_new();
	cprof_add_vtype(p, S(p, "samples"), S(p, "count"));
	cprof_add_vtype(p, S(p, "cpu"), S(p, u1));
	p->period_type.type = S(p, "cpu"); p->period_type.unit = S(p, pu); p->period = period;
	p->time_nanos = 1000 + v; p->duration_nanos = 5000000 * (v + 1);
	cprof_add_comment(p, S(p, "shared")); if (v) cprof_add_comment(p, S(p, "own"));
	cprof_mapping m = { .id = 1, .start = 0x400000 + shift, .limit = 0x500000 + shift, .file = S(p, "/bin/app"), .has_functions = true };
	cprof_mapping m2 = { .id = 2, .start = 0x7f000000 + shift, .limit = 0x7f100000 + shift, .file = S(p, "/lib/libc.so.6") };
	cprof_add_mapping(p, &m); cprof_add_mapping(p, &m2);
	const char *fn[] = { "main", "work", "leaf", "memcpy" };
	for (int i = 0; i < 4; i++) {
		cprof_function f = { .id = 10 + i, .name = S(p, fn[i]), .system_name = S(p, fn[i]), .filename = S(p, "app.c"), .start_line = i };
		cprof_add_function(p, &f);
		cprof_location l = { .id = 100 + i, .address = (i == 3 ? 0x7f000100 : 0x401000 + 0x10 * i) + shift, .mapping = i == 3 ? 1 : 0 };
		cprof_line ln = { (uint32_t)i, 10 + i, 0 };
		cprof_add_location(p, &l, &ln, 1);
	}
	uint32_t s1[] = { 2, 1, 0 }, s2[] = { 3, 1, 0 }, s3[] = { 1, 0 };
	int64_t st1 = cprof_intern_stack(p, s1, 3), st2 = cprof_intern_stack(p, s2, 3), st3 = cprof_intern_stack(p, s3, 2);
	cprof_label la = { S(p, "thread"), S(p, v ? "b" : "a"), 0, 0 }, lb = { S(p, "size"), 0, 64, S(p, "bytes") };
	int64_t l1 = cprof_intern_labels(p, &la, 1), l2 = cprof_intern_labels(p, &lb, 1);
	int64_t v1[] = { 3, 30 }, v2[] = { 1, 0 }, v3[] = { 2, 7 }, v4[] = { 0, 5 }, v5[] = { 4, 40 };
	cprof_add_sample(p, st1, 0, v1); cprof_add_sample(p, st2, 0, v2); cprof_add_sample(p, st1, l1, v3);
	cprof_add_sample(p, st3, l2, v4); cprof_add_sample(p, st1, 0, v5);
	if (v == 2) { p->default_sample_type = S(p, "samples"); p->drop_frames = S(p, "x"); }
	cprof_error err = { 0 };
	if (cprof_pb_write_file(p, path, &err)) { printf("error: %s\n", err.msg); exit(1); }
	cprof_profile_free(p);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "-mk")) {
		char b[4096];
#define MK(name, ...) snprintf(b, sizeof b, "%s/%s", argv[2], name), mk(b, __VA_ARGS__)
		MK("ms.pb.gz", "milliseconds", "milliseconds", 10, 0, 0);
		MK("ns.pb.gz", "nanoseconds", "nanoseconds", 10000000, 0x1000000, 1);
		MK("s.pb.gz", "seconds", "seconds", 1, 0x2000000, 2);
		MK("us.pb.gz", "microseconds", "us", 10000, 0, 1);
		return 0;
	}
	cprof_profile *srcs[32], *bases[32]; size_t ns = 0, nb = 0; int diff = 0, nomerge = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-base") || !strcmp(argv[i], "-diff_base")) {
			diff = argv[i][1] == 'd';
			if (++i < argc && nb < 32) bases[nb++] = load(argv[i]);
		} else if (!strcmp(argv[i], "-nomerge")) nomerge = 1;
		else if (ns < 32) srcs[ns++] = load(argv[i]);
	}
	if (!ns) { printf("usage: helper [-nomerge] [-base|-diff_base F] FILE...\n"); return 2; }
	cprof_profile *p = nomerge ? srcs[0] : merge(srcs, ns), *b = NULL, *pb = NULL;
	if (nb) {
		b = merge(bases, nb);
		if (diff) cprof_add_label_all(b, "pprof::base", "true");
		cprof_scale(b, -1);
		cprof_profile *two[2] = { p, b };
		pb = merge(two, 2);
	}
	print_raw(pb ? pb : p);
	cprof_profile_free(pb);
	cprof_profile_free(b);
	if (!nomerge) cprof_profile_free(p);
	for (size_t i = 0; i < ns; i++) cprof_profile_free(srcs[i]);
	for (size_t i = 0; i < nb; i++) cprof_profile_free(bases[i]);
	return 0;
}
'''


def build_dir():
    return os.path.dirname(os.path.abspath(cprof_bin()))


@pytest.fixture(scope="module")
def helper(tmp_path_factory):
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    lib = os.path.join(build_dir(), "libcprofcore.a")
    if not cc or not os.path.exists(lib):
        pytest.skip("needs a C compiler and %s" % lib)
    d = tmp_path_factory.mktemp("legacy_helper")
    src, exe = d / "helper.c", d / "helper"
    src.write_text(HELPER)
    flags = []
    if os.path.basename(build_dir()) == "build-san":
        flags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", "-O1", "-g", *flags,
                    "-I" + os.path.join(ROOT, "src", "core"), str(src), lib,
                    "-lz", "-lpcre2-8", "-lm", "-o", str(exe)], check=True)
    return str(exe)


def run_helper(helper, *args):
    r = subprocess.run([helper, *args], capture_output=True, text=True, timeout=300)
    return r


def go_raw(*args, tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), PPROF_TMPDIR=str(tmp_path))
    r = subprocess.run(["go", "tool", "pprof", "-raw", "-symbolize=none", *args],
                       capture_output=True, text=True, env=env, timeout=300)
    return r


def same_as_pprof(helper, tmp_path, *args):
    mine = run_helper(helper, *args)
    assert mine.returncode == 0, mine.stdout + mine.stderr
    go = go_raw(*args, tmp_path=tmp_path)
    assert go.returncode == 0, go.stderr
    want = "".join(l for l in go.stdout.splitlines(True) if not l.startswith("Time:"))
    assert mine.stdout == want
    return mine.stdout


needs_go = pytest.mark.skipif(not have_go(), reason="needs go tool pprof")


@needs_go
@pytest.mark.parametrize("name", ["heap", "goroutine", "mutex"])
def test_go_text_profiles(helper, tmp_path, name):
    out = same_as_pprof(helper, tmp_path, os.path.join(GOLDEN, name + ".txt"))
    assert "Samples:" in out


@needs_go
@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(LEGACY, "*.txt")) +
                                        glob.glob(os.path.join(LEGACY, "*.prof"))),
                         ids=os.path.basename)
def test_legacy_corpus(helper, tmp_path, path):
    same_as_pprof(helper, tmp_path, path)


CPU_PROGRAM = r'''
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static volatile double sink;
__attribute__((noinline)) static double work(int n)
{ double s = 0; for (int i = 0; i < n; i++) s += sqrt(i * 0.5 + 1.0); return s; }
__attribute__((noinline)) static double a(void) { return work(2000000); }
__attribute__((noinline)) static double b(void) { return work(4000000); }
__attribute__((noinline)) static void c(void)
{ char *p = malloc(1 << 20); memset(p, 1, 1 << 20); sink += p[100]; free(p); }
int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 40;
	for (int i = 0; i < n; i++) { sink += a(); sink += b(); c(); }
	printf("%f\n", sink);
	return 0;
}
'''


@needs_go
@pytest.mark.skipif(not os.path.exists(LIBPROFILER), reason="needs gperftools' libprofiler")
def test_gperftools_cpu_profile(helper, tmp_path):
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    src, exe, prof = tmp_path / "spin.c", tmp_path / "spin", tmp_path / "out.prof"
    src.write_text(CPU_PROGRAM)
    subprocess.run([cc, "-O1", "-g", str(src), "-o", str(exe), "-lm"], check=True)
    env = dict(os.environ, LD_PRELOAD=LIBPROFILER, CPUPROFILE=str(prof),
               CPUPROFILE_FREQUENCY="1000")
    for _ in range(3):          # a loaded machine may need a longer run
        subprocess.run([str(exe), "60"], env=env, check=True, capture_output=True, timeout=300)
        if prof.exists() and prof.stat().st_size > 200:
            break
    out = same_as_pprof(helper, tmp_path, str(prof))
    samples = [l for l in out.split("Locations")[0].splitlines() if l.startswith(" ")]
    assert samples, out
    assert "PeriodType: cpu nanoseconds" in out
    mappings = out.split("Mappings\n")[1]
    # the program itself is the main mapping, found by the heuristic
    assert mappings.splitlines()[0].split()[2] == str(exe)


@needs_go
@pytest.mark.parametrize("args", [
    ["cpu.pb.gz", "cpu.pb.gz"],
    ["heap.pb.gz", "allocs.pb.gz"],
    ["heap.txt", "heap.pb.gz"],
    ["goroutine.pb.gz", "goroutine.txt"],
    ["-base", "heap.pb.gz", "allocs.pb.gz"],
    ["-diff_base", "heap.pb.gz", "allocs.pb.gz"],
    ["-base", "mutex.pb.gz", "mutex.txt"],
    ["-diff_base", "block.pb.gz", "mutex.pb.gz"],
    ["-base", "cpu.pb.gz", "cpu.pb.gz"],
], ids=lambda a: "_".join(a))
def test_merge_matches_pprof(helper, tmp_path, args):
    same_as_pprof(helper, tmp_path, *[a if a.startswith("-") else os.path.join(GOLDEN, a)
                                      for a in args])


@needs_go
@pytest.mark.parametrize("args", [
    ["ms", "ns"], ["ns", "ms", "s"], ["s", "us"], ["us", "ms", "ns", "s"],
    ["-base", "ms", "ns"], ["-diff_base", "s", "ms"],
], ids=lambda a: "_".join(a))
def test_merge_units_match_pprof(helper, tmp_path, args):
    made = tmp_path / "pb"
    made.mkdir()
    r = run_helper(helper, "-mk", str(made))
    assert r.returncode == 0, r.stdout
    same_as_pprof(helper, tmp_path, *[a if a.startswith("-") else str(made / (a + ".pb.gz"))
                                      for a in args])


@needs_go
def test_profile_without_mappings(helper, tmp_path):
    f = tmp_path / "h.txt"
    f.write_text("heap profile: 1: 1 [1: 1] @ heapprofile\n1: 1 [1: 1] @ 0x1\n"
                 "MAPPED_LIBRARIES:\n" + "a" * 60000 + "\n")
    out = same_as_pprof(helper, tmp_path, str(f))
    assert out.endswith("Mappings\n1: 0x0/0x0/0x0   \n")


def test_errors_name_the_line(helper, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("heap profile: 1: 1 [1: 1] @ heap_v2/512\n1: 1 [1: 1] @ 0x1\nbroken\n")
    r = run_helper(helper, str(bad))
    assert r.returncode == 1
    assert r.stdout.strip().startswith("error: heap profile: line 3:"), r.stdout
    folded = tmp_path / "f.txt"
    folded.write_text("main;a 1\nmain;b two\n")
    r = run_helper(helper, str(folded))
    assert r.returncode == 1
    assert "folded stacks: line 2" in r.stdout, r.stdout
    mixed = tmp_path / "m.txt"
    mixed.write_text("goroutine profile: total 1\n1 @ 0x1\n")
    r = run_helper(helper, os.path.join(GOLDEN, "cpu.pb.gz"), str(mixed))
    assert r.returncode == 1
    assert "incompatible period types cpu/nanoseconds and goroutine/count" in r.stdout, r.stdout


def test_folded_stacks(helper, tmp_path):
    f = tmp_path / "stacks.folded"
    f.write_text("main;parse;lex 10\nmain;parse;lex 5\nmain;eval 3\n")
    r = run_helper(helper, str(f))
    assert r.returncode == 0, r.stdout
    # merged as pprof would: the two equal stacks become one sample
    assert "samples/count\n         15: 1 2 3 \n          3: 4 3 \n" in r.stdout, r.stdout
    assert "     1: 0x0 M=1 lex :0 s=0\n" in r.stdout, r.stdout
