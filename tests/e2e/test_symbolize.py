"""Symbolization of address-only profiles of real programs.

C and C++ programs in tests/e2e/programs are built with gcc/g++ -O2 -g and
profiled with gperftools' libprofiler (LD_PRELOAD, CPUPROFILE), which
records addresses and /proc/self/maps only.  cprof must name the right
functions, files, lines and inline frames: checked against addr2line -fi
on the same addresses and against go tool pprof's function names; for a
PIE, a non-PIE executable and a shared library; for stripped binaries whose
debug information is found through a build-id directory in
PPROF_BINARY_PATH or through .gnu_debuglink; a build ID that does not match
is refused with pprof's warning; C++ names in each demangling mode;
-symbolize=none leaves addresses.
"""
import os
import re
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PROGS = os.path.join(HERE, "programs")
LIBPROFILER = "/usr/lib/x86_64-linux-gnu/libprofiler.so.0"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(LIBPROFILER) and shutil.which("gcc") and shutil.which("addr2line")),
    reason="needs gperftools' libprofiler, gcc and addr2line")


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def profile(prog, out, secs="0.6", env=None):
    e = dict(os.environ, LD_PRELOAD=LIBPROFILER, CPUPROFILE=out, CPUPROFILE_FREQUENCY="1000")
    e.update(env or {})
    subprocess.run([prog, secs], check=True, capture_output=True, env=e, timeout=60)
    assert os.path.getsize(out) > 0
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build and profile every program once for the module."""
    d = tmp_path_factory.mktemp("sym")
    src = os.path.join(PROGS, "hot.c")
    lib = str(d / "libhotlib.so")
    sh("gcc", "-O2", "-g", "-fPIC", "-shared", "-o", lib, os.path.join(PROGS, "hotlib.c"))
    b = {"dir": str(d), "lib": lib}
    for name, extra in (("pie", ["-fPIE", "-pie"]), ("nopie", ["-fno-PIE", "-no-pie"])):
        exe = str(d / ("hot_" + name))
        sh("gcc", "-O2", "-g", "-DWITH_LIB", *extra, "-o", exe, src, "-L" + str(d), "-lhotlib",
           "-Wl,-rpath," + str(d))
        b[name] = exe
        b[name + "_prof"] = profile(exe, str(d / (name + ".prof")))
    # stripped copies: debug info by build ID in a directory, or by debuglink
    exe = b["pie"]
    bid = sh("readelf", "-n", exe).stdout.split("Build ID: ")[1].split()[0]
    ddir = d / "debugdir" / bid[:2]
    ddir.mkdir(parents=True)
    sh("objcopy", "--only-keep-debug", exe, str(ddir / (bid[2:] + ".debug")))
    stripped = str(d / "hot_stripped")
    sh("objcopy", "--strip-all", exe, stripped)
    b["stripped"], b["stripped_prof"] = stripped, profile(stripped, str(d / "stripped.prof"))
    b["debugdir"] = str(d / "debugdir")
    ld = d / "linked"
    ld.mkdir()
    linked = str(ld / "hot_linked")
    sh("objcopy", "--only-keep-debug", exe, str(ld / "hot_linked.debug"))
    sh("objcopy", "--strip-debug", "--add-gnu-debuglink=" + str(ld / "hot_linked.debug"), exe, linked)
    b["linked"], b["linked_prof"] = linked, profile(linked, str(d / "linked.prof"))
    if shutil.which("g++"):
        cxx = str(d / "cxx")
        sh("g++", "-O2", "-g", "-o", cxx, os.path.join(PROGS, "cxx.cc"))
        b["cxx"], b["cxx_prof"] = cxx, profile(cxx, str(d / "cxx.prof"))
    return b


def clean_env(**kw):
    env = {k: v for k, v in os.environ.items() if k not in ("PPROF_BINARY_PATH", "CPROF_BINARY_PATH")}
    env["HOME"] = "/nonexistent"
    env.update(kw)
    return env


def run(args, env=None):
    r = subprocess.run([os.environ.get("CPROF_BIN", os.path.join(HERE, "..", "..", "build", "cprof")),
                        *args], capture_output=True, text=True, env=env or clean_env(TZ="UTC"),
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r


def top_names(out):
    """Function names of a -top report."""
    names = []
    for line in out.splitlines():
        m = re.match(r"\s*\S+\s+\S+%\s+\S+%\s+\S+\s+\S+%\s+(.*)$", line)
        if m:
            names.append(re.sub(r" \((partial-)?inline\)$", "", m.group(1)))
    return names


def raw_locations(out):
    """{address: (mapping id, [(function, file, line), ...])} from -raw."""
    locs, cur = {}, None
    sect = out.split("\nLocations\n", 1)[1].split("\nMappings\n", 1)[0]
    for line in sect.splitlines():
        m = re.match(r"\s*\d+: (0x[0-9a-f]+) M=(\d+) (.*)", line)
        if m:
            cur = locs.setdefault(int(m.group(1), 16), (int(m.group(2)), []))
            rest = m.group(3)
        elif cur is not None:
            rest = line.strip()
        else:
            continue
        f = re.match(r"(.*) (\S*):(\d+) s=\d+$", rest)
        if f:
            cur[1].append((f.group(1), f.group(2), int(f.group(3))))
    return locs


def raw_mappings(out):
    maps = {}
    for line in out.split("\nMappings\n", 1)[1].splitlines():
        m = re.match(r"(\d+): (0x[0-9a-f]+)/(0x[0-9a-f]+)/(0x[0-9a-f]+) (\S+)", line)
        if m:
            maps[int(m.group(1))] = tuple(int(m.group(i), 16) for i in (2, 3, 4)) + (m.group(5),)
    return maps


def file_vaddr(path, start, offset, addr):
    """The ELF virtual address of a runtime address, from the PT_LOAD table."""
    fo = addr - start + offset
    for line in sh("readelf", "-lW", path).stdout.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            off, va, fsz = int(f[1], 16), int(f[2], 16), int(f[4], 16)
            if off <= fo < off + fsz:
                return fo - off + va
    raise AssertionError("no PT_LOAD for %#x in %s" % (addr, path))


def addr2line(path, vaddrs):
    """addr2line -fi: per address, frames innermost first as (func, file, line)."""
    out = sh("addr2line", "-fi", "-a", "-e", path, *["%#x" % a for a in vaddrs]).stdout.splitlines()
    res, cur = [], None
    i = 0
    while i < len(out):
        if out[i].startswith("0x"):
            cur = []
            res.append(cur)
            i += 1
            continue
        fn, loc = out[i], out[i + 1]
        file, _, line = loc.rpartition(":")
        line = line.split()[0]
        cur.append((fn, "" if file == "??" else file, int(line) if line.isdigit() else 0))
        i += 2
    return res


def test_top_names_the_functions(built):
    out = run(["-top", built["pie_prof"]]).stdout
    names = top_names(out)
    for fn in ("hot_loop", "cmp_int", "sort_work", "main", "lib_spin", "mix"):
        assert fn in names, out
    assert re.search(r"\bmix \(inline\)", out), out
    assert not any(n.startswith("0x") for n in names), out


@pytest.mark.parametrize("kind", ["pie", "nopie"])
def test_frames_match_addr2line(built, kind):
    """Every location in the program and its library: the same functions,
    files and lines, inline frames included, as addr2line -fi."""
    out = run(["-raw", built[kind + "_prof"]]).stdout
    locs, maps = raw_locations(out), raw_mappings(out)
    checked = 0
    for path in (built[kind], built["lib"]):
        mids = [i for i, m in maps.items() if m[3] == path]
        assert mids, (path, maps)
        mine = sorted((a, l) for a, l in locs.items() if l[0] in mids)
        assert mine
        start, _, offset, _ = maps[mine[0][1][0]]
        vaddrs = [file_vaddr(path, maps[l[0]][0], maps[l[0]][2], a) for a, l in mine]
        want = addr2line(path, vaddrs)
        for (a, (_, frames)), w in zip(mine, want):
            w = [(f, fl, ln) for f, fl, ln in w if f != "??"]
            assert [f[0] for f in frames] == [x[0] for x in w], (hex(a), frames, w)
            assert [f[2] for f in frames] == [x[2] for x in w], (hex(a), frames, w)
            assert [os.path.basename(f[1]) for f in frames] == \
                [os.path.basename(x[1]) for x in w], (hex(a), frames, w)
            checked += 1
    assert checked >= 8


def test_lines_and_traces(built):
    out = run(["-top", "-lines", built["pie_prof"]]).stdout
    src = os.path.join(PROGS, "hot.c")
    text = open(src).read().splitlines()
    mix_line = 1 + next(i for i, l in enumerate(text) if "x = x * 1.0000001" in l)
    assert re.search(r"mix \S*hot\.c:%d \(inline\)" % mix_line, out), out
    assert re.search(r"lib_spin \S*hotlib\.c:\d+", out), out
    tr = run(["-traces", built["pie_prof"]]).stdout
    # an inlined frame is followed by the function it was inlined into
    assert re.search(r"\s+mix \(inline\)\n\s+hot_loop\n\s+main\n", tr), tr
    assert re.search(r"\s+cmp_int\n(\s+\S+( \(inline\))?\n)*?\s+sort_work\n", tr), tr   # the qsort callback


def test_agrees_with_go_pprof(built):
    if not shutil.which("go"):
        pytest.skip("no go")
    go = subprocess.run(["go", "tool", "pprof", "-top", built["pie_prof"]], capture_output=True,
                        text=True, env=clean_env(), timeout=120)
    assert go.returncode == 0, go.stderr
    theirs = {n for n in top_names(go.stdout) if not n.startswith("[")}
    ours = set(top_names(run(["-top", built["pie_prof"]]).stdout))
    assert {"hot_loop", "cmp_int"} <= theirs
    assert theirs <= ours, (theirs, ours)


def test_symbolize_none_leaves_addresses(built):
    out = run(["-top", "-symbolize=none", built["pie_prof"]]).stdout
    assert "hot_loop" not in out and "cmp_int" not in out, out
    raw = run(["-raw", "-symbolize=none", built["pie_prof"]]).stdout
    assert all(not frames for _, frames in raw_locations(raw).values())


def test_fastlocal_names_without_lines(built):
    out = run(["-top", "-lines", "-symbolize=fastlocal", built["pie_prof"]]).stdout
    assert re.search(r"  hot_loop\s*$", out, re.M), out
    assert "hot.c:" not in out


def test_stripped_needs_its_debug_file(built):
    out = run(["-top", "-lines", built["stripped_prof"]]).stdout
    assert "hot_loop" not in out, out
    env = clean_env(PPROF_BINARY_PATH=built["debugdir"], TZ="UTC")
    out = run(["-top", "-lines", built["stripped_prof"]], env=env).stdout
    assert re.search(r"hot_loop \S*hot\.c:\d+", out), out
    assert "mix" in out
    env = clean_env(CPROF_BINARY_PATH=built["debugdir"], TZ="UTC")
    assert "hot_loop" in run(["-top", built["stripped_prof"]], env=env).stdout


def test_debuglink(built):
    out = run(["-top", "-lines", built["linked_prof"]]).stdout
    assert re.search(r"hot_loop \S*hot\.c:\d+", out), out


def test_build_id_mismatch_refused(built, tmp_path):
    """A build ID that is not the file's: the search-path copy is ignored
    and the mapping's own file refused, each with pprof's warning."""
    shutil.copy(built["pie"], tmp_path / os.path.basename(built["pie"]))
    real = sh("readelf", "-n", built["pie"]).stdout.split("Build ID: ")[1].split()[0]
    env = clean_env(PPROF_BINARY_PATH=str(tmp_path), TZ="UTC")
    r = run(["-top", "-buildid=deadbeef", built["pie_prof"]], env=env)
    assert "Ignoring local file %s/%s: build-id mismatch (deadbeef != %s)" % (
        tmp_path, os.path.basename(built["pie"]), real) in r.stderr, r.stderr
    assert "Local symbolization failed for hot_pie (build ID deadbeef): build ID mismatch" \
        in r.stderr, r.stderr
    assert "hot_loop" not in r.stdout
    # the right ID: found in the search path, symbolized, and named there
    r = run(["-top", "-buildid=" + real, built["pie_prof"]], env=env)
    assert "hot_loop" in r.stdout and "mismatch" not in r.stderr, r.stderr


def test_missing_binary_warns(built, tmp_path):
    gone = tmp_path / "gone"
    shutil.copy(built["pie"], gone)
    prof = profile(str(gone), str(tmp_path / "gone.prof"))
    os.unlink(gone)
    r = run(["-top", prof])
    assert "Local symbolization failed for gone: open %s: no such file or directory" % gone \
        in r.stderr, r.stderr
    assert "Some binary filenames not available. Symbolization may be incomplete.\n" \
        "Try setting PPROF_BINARY_PATH to the search path for local binaries." in r.stderr
    # the [binary] argument names the file instead
    r = run(["-top", built["pie"], prof])
    assert "hot_loop" in r.stdout, r.stderr


@pytest.mark.parametrize("mode,names", [
    ("", ["geo::Vec::operator+", "spin", "geo::Acc::add"]),
    (":demangle=templates", ["geo::Vec::operator+", "spin<double>", "geo::Acc<double>::add"]),
    (":demangle=full", ["geo::Vec::operator+(geo::Vec const&) const",
                        "double spin<double>(double, long)",
                        "geo::Acc<double>::add(std::vector<double, std::allocator<double> > const&)"]),
    (":demangle=none", ["_ZNK3geo3VecplERKS0_", "_Z4spinIdET_S0_l",
                        "_ZN3geo3AccIdE3addERKSt6vectorIdSaIdEE"]),
])
def test_cxx_demangling(built, mode, names):
    if "cxx" not in built:
        pytest.skip("no g++")
    out = run(["-top", "-nodecount=100", "-symbolize=local" + mode, built["cxx_prof"]]).stdout
    got = top_names(out)
    for n in names[:2]:
        assert n in got, (n, out)


def test_unknown_option_warns(built):
    r = run(["-top", "-symbolize=bogus", built["pie_prof"]])
    assert "ignoring unrecognized symbolization option: bogus" in r.stderr
    assert "hot_loop" in r.stdout


@pytest.fixture(scope="module")
def plt_built(tmp_path_factory):
    """plt.c calling libtiny.so's tiny() through its PLT, and pread on a
    multi-threaded path, built as perf's three PLT layouts: lazy .plt
    (PIE), .plt.sec with IBT, and a non-PIE (.plt.got for the address
    taken); each profiled."""
    d = tmp_path_factory.mktemp("plt")
    sh("gcc", "-O2", "-g", "-fPIC", "-shared", "-o", str(d / "libtiny.so"),
       os.path.join(PROGS, "pltlib.c"))
    out = {}
    for name, extra in (("lazy", []), ("ibt", ["-fcf-protection=full", "-Wl,-z,ibtplt"]),
                        ("nopie", ["-fno-PIE", "-no-pie"])):
        exe = str(d / ("plt_" + name))
        sh("gcc", "-O2", "-g", "-DPREAD", "-pthread", *extra, "-o", exe,
           os.path.join(PROGS, "plt.c"), "-L" + str(d), "-ltiny", "-Wl,-rpath," + str(d))
        out[name] = (exe, profile(exe, str(d / (name + ".prof"))))
    return out


@pytest.mark.parametrize("kind", ["lazy", "ibt", "nopie"])
def test_plt_stubs_named_fn_at_plt(plt_built, kind):
    """Samples in a PLT stub are `tiny@plt` (perf's name), not `_init`."""
    exe, prof = plt_built[kind]
    r = run(["-top", "-nodecount=20", exe, prof])
    assert r.returncode == 0, r.stderr
    names = top_names(r.stdout)
    assert "tiny@plt" in names, r.stdout
    assert "_init" not in names, r.stdout


def test_no_self_inline_frames(plt_built):
    """glibc's __libc_pread64 holds an inline copy of itself: one frame,
    with the inner frame's line (addr2line -i shows two)."""
    exe, prof = plt_built["lazy"]
    r = run(["-raw", exe, prof])
    assert r.returncode == 0, r.stderr
    locs = raw_locations(r.stdout)
    pread = [fr for _, fr in locs.values() if fr and fr[-1][0] == "__libc_pread64"]
    assert pread, r.stdout
    for _, frames in locs.values():
        for inner, outer in zip(frames, frames[1:]):
            assert inner[0] != outer[0], frames
