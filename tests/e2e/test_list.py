"""-list=RE end to end: annotated source as go tool pprof prints it.

Goldens (tests/golden/list, written by Go 1.19's go tool pprof with the
command lines in cases.txt) are compared byte for byte, so these run without
Go; with Go installed the same arguments, and more, are also compared with
a live go tool pprof.  A real C program (tests/e2e/programs/list/hot.c,
built with gcc -O2 -g) is profiled with gperftools' libprofiler; pprof's own
symbolizer turns that profile into a symbolized profile.proto, and both
tools list it from the real source file.
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, cprof_bin, have_go

LISTDIR = os.path.join(ROOT, "tests", "golden", "list")
GOLDEN_GO = os.path.join(ROOT, "tests", "golden", "go")
GOROOT_SRC = "/usr/lib/go-1.19/src"
PROGRAMS = os.path.join(ROOT, "tests", "e2e", "programs", "list")
LIBPROFILER = "/usr/lib/x86_64-linux-gnu/libprofiler.so.0"

needs_go = pytest.mark.skipif(not have_go(), reason="needs go tool pprof")
needs_goroot = pytest.mark.skipif(not os.path.isdir(GOROOT_SRC), reason="needs Go 1.19's sources")


def cases():
    out = []
    with open(os.path.join(LISTDIR, "cases.txt")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, args = line.rstrip("\n").split("\t")
            out.append((name, args))
    return out


def run(args, cwd=ROOT, tool=None):
    cmd = (tool or [cprof_bin()]) + args
    env = dict(os.environ, TZ="UTC")
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize("name,args", cases(), ids=[c[0] for c in cases()])
def test_list_golden(name, args):
    if "@GOROOT@" in args and not os.path.isdir(GOROOT_SRC):
        pytest.skip("needs Go 1.19's sources")
    argv = args.replace("@GOROOT@", GOROOT_SRC).split(" ")
    r = run(argv)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(LISTDIR, name)) as f:
        want = f.read()
    assert r.stdout == want


def pprof_and_cprof(args, cwd=ROOT):
    g = run(args, cwd=cwd, tool=["go", "tool", "pprof"])
    c = run(args, cwd=cwd)
    return g, c


@needs_go
@needs_goroot
@pytest.mark.parametrize("prof", ["cpu", "heap", "allocs", "block", "mutex", "goroutine"])
@pytest.mark.parametrize("args", [
    ["-list=."],                                              # errors: no sources found
    ["-list=.", "-trim_path=corpus",
     "-source_path=tests/golden/list/src/corpus:" + GOROOT_SRC],
    ["-list=sort\\.|runtime\\.(mallocgc|main)$", "-source_path=" + GOROOT_SRC],
    ["-list=main\\.", "-source_path=tests/golden/list/src", "-focus=sortWork|alloc", "-unit=ms"],
    ["-list=main\\.", "-source_path=tests/golden/list/src", "-mean", "-divide_by=3"],
], ids=["nosrc", "trim", "stdlib", "focus", "mean"])
def test_list_matches_pprof(prof, args):
    g, c = pprof_and_cprof(args + [os.path.join(GOLDEN_GO, prof + ".pb.gz")])
    if g.returncode != 0 or "no matches found" in g.stdout + g.stderr:
        # pprof's error text; ours is the same message behind "cprof: "
        assert c.returncode == 2
        assert g.stderr.strip().splitlines()[-1] in c.stderr
        return
    assert c.returncode == 0, c.stderr
    assert c.stdout == g.stdout


def test_list_no_match_and_bad_regexp(cprof):
    prof = os.path.join(GOLDEN_GO, "cpu.pb.gz")
    r = cprof("-list=nosuchfunction", prof)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "no matches found for regexp: nosuchfunction" in r.stderr
    r = cprof("-list=(", prof)
    assert r.returncode == 2
    assert "parsing argument regexp (" in r.stderr


def test_list_search_path_defaults_to_cwd(tmp_path):
    """Without -source_path, files are searched from the current directory
    (and its parents), and the error names it."""
    r = run(["-list=main\\.hashLoop", os.path.join(GOLDEN_GO, "cpu.pb.gz")], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (" Error: could not find file corpus/main.go on path %s\n" % tmp_path) in r.stdout
    # found once the file is where the profile says, under the directory
    (tmp_path / "corpus").mkdir()
    shutil.copy(os.path.join(LISTDIR, "src", "corpus", "main.go"), tmp_path / "corpus")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    r = run(["-list=main\\.hashLoop", os.path.join(GOLDEN_GO, "cpu.pb.gz")], cwd=str(sub))
    assert "Error" not in r.stdout
    assert "     25:\t\ts := sha256.Sum256(b)\n" in r.stdout


def build_and_profile(tmp_path, pie=True):
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not cc:
        pytest.skip("needs a C compiler")
    if not os.path.exists(LIBPROFILER):
        pytest.skip("needs gperftools' libprofiler")
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


@needs_go
def test_list_c_program(tmp_path):
    """gperftools profile of a real C program, symbolized by pprof itself,
    listed by both tools from hot.c."""
    exe, prof = build_and_profile(tmp_path)
    sym = tmp_path / "sym.pb.gz"
    r = run(["-proto", "-output", str(sym), str(exe), str(prof)], cwd=str(tmp_path),
            tool=["go", "tool", "pprof"])
    assert r.returncode == 0, r.stderr
    # -symbolize=none: compare the listing, not the tools' symbolizers (ours
    # also names the libc frames pprof's leaves as addresses)
    for args in (["-list=^hot$"], ["-list=hot|cold|main"],
                 ["-list=.", "-source_path=" + PROGRAMS]):
        args = ["-symbolize=none"] + args
        g, c = pprof_and_cprof(args + [str(sym)], cwd=str(tmp_path))
        assert g.returncode == 0, g.stderr
        assert c.returncode == 0, c.stderr
        assert c.stdout == g.stdout
    # the hot loop's lines carry samples, read from the real file
    out = run(["-list=^hot$", str(sym)], cwd=str(tmp_path)).stdout
    assert "ROUTINE ======================== hot in " + os.path.join(PROGRAMS, "hot.c") in out
    body = [l for l in out.splitlines() if "s += (i * i) % 7" in l]
    assert body and body[0].split()[0] != ".", out


def test_list_c_program_own_symbolization(tmp_path):
    """The same through cprof's own symbolization (binary and profile)."""
    exe, prof = build_and_profile(tmp_path)
    top = run(["-top", str(exe), str(prof)], cwd=str(tmp_path))
    if top.returncode != 0 or not re.search(r"%\s+hot$", top.stdout, re.M):
        pytest.skip("cprof does not symbolize gperftools profiles yet")
    r = run(["-list=^hot$", str(exe), str(prof)], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "ROUTINE ======================== hot in " in r.stdout
    assert "s += (i * i) % 7" in r.stdout


@needs_go
def test_list_inline_call_sites(tmp_path):
    """Inlined frames (from cprof's symbolization with libdw): the inlined
    function's lines get the flat samples, its call site the cum; the
    listing of cprof's own symbolized profile is pprof's."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not cc or not os.path.exists(LIBPROFILER):
        pytest.skip("needs a C compiler and gperftools' libprofiler")
    src = os.path.join(PROGRAMS, "inl.c")
    exe, prof, sym = tmp_path / "inl", tmp_path / "inl.prof", tmp_path / "inl.pb.gz"
    subprocess.run([cc, "-O2", "-g", src, "-o", str(exe)], check=True)
    env = dict(os.environ, LD_PRELOAD=LIBPROFILER, CPUPROFILE=str(prof),
               CPUPROFILE_FREQUENCY="1000")
    n = 300
    for _ in range(4):
        subprocess.run([str(exe), str(n)], env=env, check=True, capture_output=True, timeout=300)
        if prof.exists() and prof.stat().st_size > 400:
            break
        n *= 2
    r = run(["-proto", "-output=" + str(sym), str(exe), str(prof)], cwd=str(tmp_path))
    if r.returncode != 0 or not sym.exists():
        pytest.skip("cprof cannot write symbolized profiles yet: " + r.stderr)
    top = run(["-top", str(sym)], cwd=str(tmp_path))
    if not re.search(r"%\s+step( \(inline\))?$", top.stdout, re.M):
        pytest.skip("cprof does not symbolize inline frames yet")
    for args in (["-list=^work$"], ["-list=step"], ["-list=."]):
        g, c = pprof_and_cprof(["-symbolize=none"] + args + [str(sym)], cwd=str(tmp_path))
        assert g.returncode == 0, g.stderr
        assert c.stdout == g.stdout
    out = run(["-list=^work$", str(sym)], cwd=str(tmp_path)).stdout
    call = [l for l in out.splitlines() if l.endswith("s = step(s, i);")]
    assert call and call[0].split()[0] == "." and call[0].split()[1] != ".", out
    out = run(["-list=^step$", str(sym)], cwd=str(tmp_path)).stdout
    body = [l for l in out.splitlines() if l.endswith("return s + (i * i) % 7 + (s >> 3);")]
    assert body and body[0].split()[0] != ".", out


def test_list_inlined_lines_before_start_print_no_error(tmp_path):
    """A libc sample whose inlined lines (vfprintf-process-arg.c) all lie
    before the function's start line: pprof reads no line of that file, so
    it prints the block's header without an error; a sample landing in
    printf made CI's listing differ from pprof's."""
    prof = os.path.join(ROOT, "tests", "golden", "list", "inlined_other_file.pb.gz")
    r = run(["-symbolize=none", "-list=__vfprintf_internal", prof], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    blocks = r.stdout.split("ROUTINE ======================== ")[1:]
    other = [b for b in blocks if b.startswith("__vfprintf_internal in stdio-common/vfprintf-process-arg.c")]
    own = [b for b in blocks if b.startswith("__vfprintf_internal in stdio-common/vfprintf-internal.c")]
    assert other and own, r.stdout
    assert "Error:" not in other[0], r.stdout
    assert "Error: could not find file stdio-common/vfprintf-internal.c" in own[0], r.stdout
    if have_go():
        g = run(["-symbolize=none", "-list=.", prof], cwd=str(tmp_path), tool=["go", "tool", "pprof"])
        c = run(["-symbolize=none", "-list=.", prof], cwd=str(tmp_path))
        assert g.returncode == 0, g.stderr
        assert c.stdout == g.stdout
