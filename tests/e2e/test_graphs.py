"""Graph outputs end to end: -dot against go tool pprof, Graphviz rendering
(-svg, -png, -pdf, -ps, -gif) of every corpus profile, and -callgrind read by
valgrind's callgrind_annotate from a real C program's gperftools profile.

The conformance goldens (test_conformance.py) hold pprof's -dot and
-callgrind for the corpus at the default options; here the same profiles go
through other option combinations, compared with a live go tool pprof.  The
combinations are those where pprof's answer is deterministic: pprof sorts
edges of equal |weight| and different sign, or equal names, in map order, so
its output changes from run to run there (cprof's order is fixed).
"""
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import GOLDEN, ROOT, cprof_bin, have_go

LIBPROFILER = "/usr/lib/x86_64-linux-gnu/libprofiler.so.0"
PROFILES = ["allocs", "block", "cpu", "goroutine", "heap", "mutex", "threadcreate"]

needs_go = pytest.mark.skipif(not have_go(), reason="needs go tool pprof")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz")
needs_profiler = pytest.mark.skipif(not os.path.exists(LIBPROFILER),
                                    reason="needs gperftools' libprofiler")


def run(args, tool=None, env=None, text=True):
    cmd = (tool or [cprof_bin()]) + args
    e = dict(os.environ, TZ="UTC", **(env or {}))
    return subprocess.run(cmd, capture_output=True, text=text, env=e, cwd=ROOT, timeout=300)


def gold(name):
    return os.path.join(GOLDEN, name + ".pb.gz")


# ---- -dot and -callgrind against go tool pprof ----------------------------------

DOT_ARGS = [
    ["-nodecount=10"],
    ["-nodecount=5", "-nodefraction=0"],
    ["-edgefraction=0.05"],
    ["-focus=main"],
    ["-hide=runtime"],
    ["-lines"],
    ["-files"],
    ["-addresses"],
    ["-cum"],
    ["-noinlines"],
    ["-nodecount=20", "-lines"],
]


@needs_go
@pytest.mark.parametrize("prof", ["cpu", "heap", "allocs", "goroutine"])
@pytest.mark.parametrize("args", DOT_ARGS, ids=lambda a: "_".join(a))
def test_dot_matches_pprof(prof, args):
    argv = ["-dot"] + args + [gold(prof)]
    g = run(argv, tool=["go", "tool", "pprof"])
    c = run(argv)
    assert c.returncode == 0, c.stderr
    assert c.stdout.splitlines() == g.stdout.splitlines()


@needs_go
@pytest.mark.parametrize("args", [
    ["-mean", "-sample_index=alloc_space", gold("allocs")],
    ["-diff_base=" + gold("heap"), gold("allocs")],
    ["-diff_base=" + gold("mutex"), gold("block")],          # red and green
    ["-diff_base=" + gold("block"), gold("mutex")],
    ["-base=" + gold("heap"), gold("allocs")],
    ["-diff_base=" + gold("allocs"), "-sample_index=alloc_space", gold("heap")],
    ["-tagfocus=bytes=1kb:", "-nodefraction=0", gold("heap")],
], ids=["mean", "diff_base", "diff_block", "diff_mutex", "base", "diff_base_space",
        "tagfocus"])
def test_dot_options_match_pprof(args):
    g = run(["-dot"] + args, tool=["go", "tool", "pprof"])
    c = run(["-dot"] + args)
    assert c.returncode == 0, c.stderr
    assert c.stdout.splitlines() == g.stdout.splitlines()


@needs_go
def test_diff_base_colours():
    """A diff graph has green (negative) and red (positive) nodes."""
    c = run(["-dot", "-diff_base=" + gold("mutex"), gold("block")])
    assert c.returncode == 0, c.stderr
    colours = {l.split('color="')[1][:7] for l in c.stdout.splitlines()
               if l.startswith("N") and ' color="' in l}
    assert any(col[1:3] == "b2" and col[3:5] < "b2" for col in colours)   # red
    assert any(col[3:5] == "b2" and col[1:3] < "b2" for col in colours)   # green


@needs_go
@pytest.mark.parametrize("prof", ["cpu", "heap", "allocs"])
@pytest.mark.parametrize("args", [["-lines"], ["-focus=main"], ["-functions"]],
                         ids=lambda a: "_".join(a))
def test_callgrind_matches_pprof(prof, args):
    argv = ["-callgrind"] + args + [gold(prof)]
    g = run(argv, tool=["go", "tool", "pprof"])
    c = run(argv)
    assert c.returncode == 0, c.stderr
    assert c.stdout.splitlines() == g.stdout.splitlines()


# ---- rendering through Graphviz ---------------------------------------------------

@needs_dot
@pytest.mark.parametrize("prof", PROFILES)
def test_svg_renders(prof, tmp_path):
    out = tmp_path / "g.svg"
    c = run(["-svg", "-output=" + str(out), gold(prof)])
    assert c.returncode == 0, c.stderr
    root = ET.parse(out).getroot()          # valid XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width") == "100%" and root.get("viewBox") is None
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert root.find("s:script", ns) is not None
    viewport = root.find("s:g[@id='viewport']", ns)
    assert viewport is not None
    graph = viewport.find("s:g[@id='graph0']", ns)
    assert graph is not None
    # one SVG node group per DOT node
    d = run(["-dot", gold(prof)])
    want = sum(1 for l in d.stdout.splitlines() if re.match(r"N\S+ \[label", l))
    nodes = [g for g in graph.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"]
    assert len(nodes) == want + 1           # and the legend box


@needs_dot
@pytest.mark.parametrize("prof", PROFILES)
def test_png_renders(prof, tmp_path):
    out = tmp_path / "g.png"
    c = run(["-png", "-output=" + str(out), gold(prof)])
    assert c.returncode == 0, c.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 1000


@needs_dot
@pytest.mark.parametrize("fmt,magic", [("pdf", b"%PDF-"), ("ps", b"%!PS"), ("gif", b"GIF8")])
def test_other_formats_render(fmt, magic, tmp_path):
    out = tmp_path / ("g." + fmt)
    c = run(["-" + fmt, "-output=" + str(out), gold("cpu")])
    assert c.returncode == 0, c.stderr
    assert out.read_bytes()[:len(magic)] == magic


def test_missing_dot_is_one_clear_line(tmp_path):
    c = run(["-svg", "-output=" + str(tmp_path / "g.svg"), gold("cpu")],
            env={"PATH": str(tmp_path)})
    assert c.returncode == 2
    errs = [l for l in c.stderr.splitlines() if l.startswith("cprof:")]
    assert errs == ["cprof: could not execute dot; install graphviz"], c.stderr


# ---- real programs -----------------------------------------------------------------

CPU_PROGRAM = r'''
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
static volatile double sink;
__attribute__((noinline)) static double work(int n)
{ double s = 0; for (int i = 0; i < n; i++) s += sqrt(i * 0.5 + 1.0); return s; }
__attribute__((noinline)) static double alpha(void) { return work(2000000); }
__attribute__((noinline)) static double beta(void) { return work(4000000); }
int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 40;
	for (int i = 0; i < n; i++) { sink += alpha(); sink += beta(); }
	printf("%f\n", sink);
	return 0;
}
'''

CXX_PROGRAM = r'''
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <sstream>
namespace {
template <typename T> struct Acc {
	T v{};
	__attribute__((noinline)) void add(int n) { for (int i = 0; i < n; i++) v += std::sqrt(i * 0.5 + 1.0); }
};
}
namespace ns {
struct Point { double x, y; };
__attribute__((noinline)) std::ostream &operator<<(std::ostream &o, const Point &p)
{
	double s = 0;
	for (int i = 0; i < 3000000; i++) s += std::sqrt(i + p.x);
	return o << p.x << "," << s;
}
}
int main(int argc, char **argv)
{
	int n = argc > 1 ? std::atoi(argv[1]) : 20;
	Acc<double> a;
	std::ostringstream os;
	for (int i = 0; i < n; i++) { a.add(3000000); os << ns::Point{1.0 * i, 2.0}; }
	std::printf("%f %zu\n", a.v, os.str().size());
	return 0;
}
'''


def profile_program(tmp_path, source, name, compiler, args):
    cc = shutil.which(compiler)
    if not cc:
        pytest.skip("needs " + compiler)
    src, exe, prof = tmp_path / name, tmp_path / "prog", tmp_path / "cpu.prof"
    src.write_text(source)
    subprocess.run([cc, "-O1", "-g", str(src), "-o", str(exe), "-lm"], check=True)
    env = dict(os.environ, LD_PRELOAD=LIBPROFILER, CPUPROFILE=str(prof),
               CPUPROFILE_FREQUENCY="1000")
    for _ in range(3):          # a loaded machine may need a longer run
        subprocess.run([str(exe), args], env=env, check=True, capture_output=True, timeout=300)
        if prof.exists() and prof.stat().st_size > 300:
            break
    return exe, prof


def cum_of(top, fn):
    """The cum column (ms) of function fn in cprof -top -unit=ms output."""
    for l in top.splitlines():
        f = l.split()
        if len(f) == 6 and f[5] == fn:
            return float(f[3].rstrip("ms"))
    return 0.0


@needs_profiler
@pytest.mark.skipif(shutil.which("callgrind_annotate") is None, reason="needs valgrind")
def test_callgrind_annotate_reads_gperftools_profile(tmp_path):
    exe, prof = profile_program(tmp_path, CPU_PROGRAM, "spin.c", "gcc", "40")
    out = tmp_path / "callgrind.out"
    c = run(["-callgrind", "-unit=ms", "-output=" + str(out), str(prof)])
    assert c.returncode == 0, c.stderr
    text = out.read_text()
    assert text.startswith("positions: instr line\nevents: cpu(ms)\n")
    top = run(["-top", "-unit=ms", str(prof)]).stdout
    total = float(top.split(" total")[0].split(" of ")[-1].rstrip("ms"))
    assert total > 0
    # the self costs of the cost lines add up to the profile's total
    self_cost, after_calls = 0, False
    for l in text.splitlines():
        if l.startswith("calls="):
            after_calls = True
            continue
        f = l.split()
        if len(f) == 3 and not l.startswith(("ob=", "fl=", "fn=", "cfl=", "cfn=", "positions:")):
            if not after_calls:
                self_cost += int(f[2])
            after_calls = False
    assert self_cost == total
    a = subprocess.run(["callgrind_annotate", "--inclusive=yes", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert a.returncode == 0, a.stderr
    assert "WARNING" not in a.stderr and "malformed" not in a.stderr, a.stderr
    per_fn = {}
    for l in a.stdout.splitlines():
        f = l.split()
        if len(f) >= 3 and ":" in f[-2] and f[0].replace(",", "").isdigit():
            per_fn[f[-2].split(":")[-1]] = int(f[0].replace(",", ""))
    # pprof's calls=0 lines: callgrind_annotate adds the call costs to the
    # caller, so each function shows its cum.  (A sample may land outside
    # work -- in main's loop, in libc -- so nothing here assumes they all
    # fall in work.)
    for fn in ("work", "alpha", "beta", "main"):
        assert per_fn.get(fn) == cum_of(top, fn), (fn, a.stdout, top)
    assert per_fn["alpha"] + per_fn["beta"] <= total


@needs_profiler
@needs_dot
def test_cxx_program_graph_renders(tmp_path):
    exe, prof = profile_program(tmp_path, CXX_PROGRAM, "tmpl.cc", "g++", "20")
    d = run(["-dot", "-nodefraction=0", str(prof)])
    assert d.returncode == 0, d.stderr
    assert "operator<<" in d.stdout
    r = subprocess.run(["dot", "-Tsvg"], input=d.stdout, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "syntax error" not in r.stderr, r.stderr
    out = tmp_path / "g.svg"
    c = run(["-svg", "-nodefraction=0", "-output=" + str(out), str(prof)])
    assert c.returncode == 0, c.stderr
    svg = out.read_text()
    ET.fromstring(svg)
    assert "operator&lt;&lt;" in svg


# ---- -call_tree ---------------------------------------------------------------------

@needs_go
@pytest.mark.parametrize("args", [
    ["-dot", "-call_tree", gold("heap")],
    ["-dot", "-call_tree", "-nodefraction=0", gold("allocs")],
    ["-dot", "-call_tree", "-nodecount=10", gold("cpu")],
    ["-dot", "-call_tree", gold("block")],
    ["-callgrind", "-call_tree", gold("heap")],
    ["-callgrind", "-call_tree", gold("goroutine")],
], ids=lambda a: "_".join(os.path.basename(x) for x in a))
def test_call_tree_matches_pprof(args):
    """pprof orders nodes of equal name in map order, so its call tree can
    change from run to run (goroutine.pb.gz has four answers: left out);
    these cases have one, and cprof's must be it."""
    c = run(args)
    assert c.returncode == 0, c.stderr
    seen = []
    for _ in range(6):
        g = run(args, tool=["go", "tool", "pprof"])
        if c.stdout == g.stdout:
            return
        seen.append(g.stdout)
    assert c.stdout.splitlines() == seen[0].splitlines()


def test_call_tree_is_a_tree():
    """In a call tree a function appears once per calling context."""
    c = run(["-dot", "-call_tree", "-nodefraction=0", "-nodecount=0", gold("cpu")])
    g = run(["-dot", "-nodefraction=0", "-nodecount=0", gold("cpu")])
    assert c.returncode == 0 and g.returncode == 0, c.stderr + g.stderr
    def nodes(out):
        return [l.split('tooltip="')[1].rsplit(" (", 1)[0] for l in out.splitlines()
                if re.match(r"N\d+ \[label", l)]
    tree, graph = nodes(c.stdout), nodes(g.stdout)
    assert len(set(graph)) == len(graph)
    assert set(tree) == set(graph) and len(tree) > len(graph)
    incoming = {}
    for l in c.stdout.splitlines():
        m = re.match(r"N\d+ -> (N\d+) \[", l)
        if m:
            incoming[m.group(1)] = incoming.get(m.group(1), 0) + 1
    assert incoming and max(incoming.values()) == 1
