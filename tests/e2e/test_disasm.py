"""-disasm=RE end to end, on a real C program profiled with gperftools.

tests/e2e/programs/list/hot.c is built with gcc -O2 -g and run under
libprofiler.  go tool pprof is the reference for the sample counts on each
instruction and for the layout of the header lines; it disassembles with
Go's own disassembler (Go syntax) and handles only non-PIE executables, so
the comparison uses a -no-pie build and compares values per address, while
instruction text is checked against objdump itself.  A PIE build checks
the load bias, a deleted binary the one-line error.
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, cprof_bin, have_go

PROGRAMS = os.path.join(ROOT, "tests", "e2e", "programs", "list")
GOLDEN_GO = os.path.join(ROOT, "tests", "golden", "go")
LIBPROFILER = "/usr/lib/x86_64-linux-gnu/libprofiler.so.0"
INST = re.compile(r"^ *(\S+) +(\S+) +([0-9a-f]+): (.*)$")

needs_go = pytest.mark.skipif(not have_go(), reason="needs go tool pprof")
needs_tools = pytest.mark.skipif(
    not (os.path.exists(LIBPROFILER) and shutil.which("objdump") and shutil.which("nm")
         and (shutil.which("cc") or shutil.which("gcc"))),
    reason="needs a C compiler, binutils and gperftools' libprofiler")


def run(args, cwd=None, tool=None):
    env = dict(os.environ, TZ="UTC")
    return subprocess.run((tool or [cprof_bin()]) + args, capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def build_and_profile(tmp_path, pie):
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    exe, prof = tmp_path / "hot", tmp_path / "hot.prof"
    flags = ["-O2", "-g"] + ([] if pie else ["-no-pie"])
    subprocess.run([cc, *flags, os.path.join(PROGRAMS, "hot.c"), "-o", str(exe)], check=True)
    env = dict(os.environ, LD_PRELOAD=LIBPROFILER, CPUPROFILE=str(prof),
               CPUPROFILE_FREQUENCY="1000")
    n = 300
    for _ in range(4):          # a loaded machine may need a longer run
        subprocess.run([str(exe), str(n)], env=env, check=True, capture_output=True, timeout=300)
        if prof.exists() and prof.stat().st_size > 400:
            break
        n *= 2
    return exe, prof


def rows(out):
    """{address: (flat, cum, text)} of the instruction lines."""
    r = {}
    for line in out.splitlines():
        m = INST.match(line)
        if m:
            r[int(m.group(3), 16)] = (m.group(1), m.group(2), m.group(4))
    return r


def headers(out):
    return [l for l in out.splitlines() if not INST.match(l) and not l.startswith(" " * 74)]


def nm_range(exe, name):
    out = subprocess.run(["nm", "-n", str(exe)], capture_output=True, text=True, check=True).stdout
    addrs = [int(l.split()[0], 16) for l in out.splitlines() if len(l.split()) == 3]
    start = [int(l.split()[0], 16) for l in out.splitlines() if l.split()[-1] == name][0]
    return start, min(a for a in addrs if a > start)


@needs_go
@needs_tools
def test_disasm_values_match_pprof(tmp_path):
    exe, prof = build_and_profile(tmp_path, pie=False)
    g = run(["-disasm=hot", str(exe), str(prof)], cwd=str(tmp_path), tool=["go", "tool", "pprof"])
    c = run(["-disasm=hot", str(exe), str(prof)], cwd=str(tmp_path))
    assert g.returncode == 0 and "ROUTINE" in g.stdout, g.stdout + g.stderr
    assert c.returncode == 0, c.stderr
    # Total, ROUTINE and (flat, cum) lines are the same
    assert headers(c.stdout) == headers(g.stdout)
    gr, cr = rows(g.stdout), rows(c.stdout)
    # every instruction pprof shows is ours too (ours runs to the next
    # symbol, as pprof's nm-based back end does), with the same counts
    assert set(gr) <= set(cr)
    for a in gr:
        assert gr[a][:2] == cr[a][:2], hex(a)
    assert any(v[0] != "." for v in cr.values())
    sampled = {a for a, v in cr.items() if v[:2] != (".", ".")}
    assert sampled <= set(gr)


@needs_tools
def test_disasm_layout_and_text(tmp_path):
    exe, prof = build_and_profile(tmp_path, pie=False)
    c = run(["-disasm=hot", str(exe), str(prof)], cwd=str(tmp_path))
    assert c.returncode == 0, c.stderr
    lines = c.stdout.splitlines()
    assert re.match(r"^Total: \d+(\.\d+)?m?s$", lines[0]), lines[0]
    assert lines[1] == "ROUTINE ======================== hot"
    assert re.match(r"^ {0,9}\S+ {1,10}\S+ \(flat, cum\) +\d.*% of Total$", lines[2])
    start, end = nm_range(exe, "hot")
    r = rows(c.stdout)
    assert min(r) == start and max(r) < end
    # instruction text is objdump's, and each line has pprof's columns
    od = subprocess.run(["objdump", "--disassemble", "--no-show-raw-insn",
                         "--start-address=%#x" % start, "--stop-address=%#x" % (end - 1),
                         str(exe)], capture_output=True, text=True, check=True).stdout
    want = {}
    for l in od.splitlines():
        m = re.match(r"^\s*([0-9a-f]+):\s+(.*)$", l)
        if m:
            want[int(m.group(1), 16)] = m.group(2).strip()
    for line in lines[3:]:
        if line.startswith(" " * 74):
            assert line[74] == ";"
            continue
        m = INST.match(line)
        assert m, line
        assert len(line.split(": ", 1)[0]) == 10 + 1 + 10 + 1 + 10
        a = int(m.group(3), 16)
        text = m.group(4)
        if ";" in text and len(text) > 40 and text[40] == ";":
            loc = text[41:]
            text = text[:40].rstrip()
            assert re.match(r"^hot hot\.c:\d+$", loc), loc
        assert text == want[a]
    # the samples sit on the loop of hot.c's line 10-11
    locs = re.findall(r";hot hot\.c:(\d+)", c.stdout)
    assert "11" in locs


@needs_tools
def test_disasm_pie_binary(tmp_path):
    """A position-independent executable: sample addresses are moved by the
    mapping's load bias onto the file addresses objdump prints."""
    exe, prof = build_and_profile(tmp_path, pie=True)
    c = run(["-disasm=hot|cold", str(exe), str(prof)], cwd=str(tmp_path))
    assert c.returncode == 0, c.stderr
    routines = re.findall(r"^ROUTINE =+ (\S+)$", c.stdout, re.M)
    assert routines == ["cold", "hot"]
    for name, block in zip(routines, re.split(r"^ROUTINE.*\n", c.stdout, flags=re.M)[1:]):
        start, end = nm_range(exe, name)
        r = rows(block)
        assert min(r) == start and max(r) < end
        flat = block.splitlines()[0].split()[0]
        assert flat != "0"
        assert any(v[0] != "." for v in r.values())


@needs_tools
def test_disasm_intel_and_address(tmp_path):
    exe, prof = build_and_profile(tmp_path, pie=False)
    c = run(["-disasm=hot", "-intel_syntax", str(exe), str(prof)], cwd=str(tmp_path))
    assert c.returncode == 0, c.stderr
    assert "%r" not in c.stdout and re.search(r"\bmov +\w+,\w+", c.stdout)
    start, end = nm_range(exe, "hot")
    # a regexp that parses as an address selects the symbol around it
    c = run(["-disasm=%#x" % (start + 4), str(exe), str(prof)], cwd=str(tmp_path))
    assert c.returncode == 0, c.stderr
    assert re.findall(r"^ROUTINE =+ (\S+)$", c.stdout, re.M) == ["hot"]


@needs_tools
def test_disasm_missing_binary(tmp_path):
    exe, prof = build_and_profile(tmp_path, pie=False)
    os.unlink(exe)
    c = run(["-disasm=hot", str(prof)], cwd=str(tmp_path))
    assert c.returncode == 2
    assert c.stdout == ""
    assert "open %s: no such file or directory\n" % exe in c.stderr
    assert "no matches found for regexp: hot" in c.stderr


@needs_go
def test_disasm_go_corpus_like_pprof():
    """The corpus' binary is not on this machine: the same message as pprof."""
    args = ["-disasm=main", os.path.join(GOLDEN_GO, "cpu.pb.gz")]
    g = run(args, tool=["go", "tool", "pprof"])
    c = run(args)
    assert c.returncode == 2 and c.stdout == ""
    for line in (g.stdout + g.stderr).strip().splitlines():
        assert line in c.stderr


@needs_tools
def test_disasm_cpp_demangled(tmp_path):
    """A C++ template in a namespace is found by its demangled name, which
    the ROUTINE line and the location notes show."""
    cxx = shutil.which("g++") or shutil.which("c++")
    if not cxx:
        pytest.skip("needs a C++ compiler")
    exe, prof = tmp_path / "spin", tmp_path / "spin.prof"
    subprocess.run([cxx, "-O2", "-g", os.path.join(PROGRAMS, "spin.cc"), "-o", str(exe)],
                   check=True)
    env = dict(os.environ, LD_PRELOAD=LIBPROFILER, CPUPROFILE=str(prof),
               CPUPROFILE_FREQUENCY="1000")
    n = 200
    for _ in range(4):
        subprocess.run([str(exe), str(n)], env=env, check=True, capture_output=True, timeout=300)
        if prof.exists() and prof.stat().st_size > 400:
            break
        n *= 2
    c = run(["-disasm=ns::spin", str(exe), str(prof)], cwd=str(tmp_path))
    assert c.returncode == 0, c.stderr
    assert re.findall(r"^ROUTINE =+ (.*)$", c.stdout, re.M) == [
        "unsigned long ns::spin<unsigned long>(unsigned long)"]
    assert ";unsigned long ns::spin<unsigned long>(unsigned long) spin.cc:" in c.stdout
    assert any(v[0] != "." for v in rows(c.stdout).values())
