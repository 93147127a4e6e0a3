"""libcprof's heap and allocs profiles on real C and C++ programs
(tests/runtime/heap/): the malloc family and operator new/delete
interposed, Go's sampling and formats, and the program never broken.

Each program is run bare and under LD_PRELOAD=libcprof.so (the library next
to the cprof binary under test, CPROF_BIN), and its output and exit status
must be the same.  Accuracy is checked at CPROF_HEAP_RATE=4096, where the
±10% bounds are > 5 standard deviations away (bench/heap_accuracy.sh
measures the default rate); exact figures at CPROF_HEAP_RATE=1.

Sanitizer flavour (build-san/): the ASan runtime defines malloc itself and
must come first in LD_PRELOAD, so it shadows libcprof.so's hooks; the
tests then run with libcprof.so first and ASan's link-order check off,
so the hooks are the program's and call ASan's allocator as the next one.
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import skip_if_sanitized, ROOT, cprof_bin, have_go

SRC = os.path.join(ROOT, "tests", "runtime", "heap")
LIBDIR = "/usr/lib/x86_64-linux-gnu"
JEMALLOC = os.path.join(LIBDIR, "libjemalloc.so.2")
TCMALLOC = os.path.join(LIBDIR, "libtcmalloc_minimal.so.4")
SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer")
MIB = 1 << 20


def runtime_lib():
    return os.path.join(os.path.dirname(os.path.abspath(cprof_bin())), "libcprof.so")


def sanitized():
    return "build-san" in runtime_lib()


def env_for(rate=None, profile=None, allocs=None, preload_after=None, preload_before=None,
            extra=None):
    lib = runtime_lib()
    assert os.path.exists(lib), f"{lib} is not built"
    env = dict(os.environ, TZ="UTC")
    for k in list(env):
        if k.startswith("CPROF_"):
            del env[k]
    parts = [lib]
    if sanitized():
        asan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                              text=True).stdout.strip()
        parts.append(asan)
        env["ASAN_OPTIONS"] = "verify_asan_link_order=0:detect_leaks=0:exitcode=86"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=87"
    if preload_before:
        parts = [preload_before] + parts
    if preload_after:
        parts.append(preload_after)
    env["LD_PRELOAD"] = " ".join(parts)
    if rate is not None:
        env["CPROF_HEAP_RATE"] = str(rate)
    if profile is not None:
        env["CPROF_HEAP_PROFILE"] = str(profile)
    if allocs is not None:
        env["CPROF_ALLOCS_PROFILE"] = str(allocs)
    env.update(extra or {})
    return env


@pytest.fixture(scope="module")
def progs(tmp_path_factory):
    d = tmp_path_factory.mktemp("rtheap")
    out = {}
    for name, src in (("accuracy", "accuracy.c"), ("stress", "stress.c"),
                      ("fork_threads", "fork_threads.c"), ("oom", "oom.c"),
                      ("bad_free", "bad_free.c"), ("cxx_stl", "cxx_stl.cc"),
                      ("periodic", "periodic.c")):
        exe = str(d / name)
        cc = "g++" if src.endswith(".cc") else "gcc"
        r = subprocess.run([cc, "-O1", "-g", "-pthread", "-o", exe, os.path.join(SRC, src), "-ldl"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        out[name] = exe
    exe = str(d / "alloc_family")
    r = subprocess.run(["gcc", "-O1", "-g", "-o", exe, os.path.join(SRC, "alloc_family.c"), "-ldl"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out["alloc_family"] = exe
    lib = str(d / "libplugin.so")
    r = subprocess.run(["gcc", "-O1", "-g", "-shared", "-fPIC", "-Wl,-z,relro,-z,now", "-o", lib,
                        os.path.join(SRC, "plugin.c")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out["plugin"] = lib
    shim = str(d / "shim.so")
    r = subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", shim, os.path.join(SRC, "shim.c"), "-ldl"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out["shim"] = shim
    return out


def run(args, env=None, timeout=120):
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)


def same_as_bare(args, env, timeout=120):
    bare = run(args, dict(os.environ), timeout)
    pre = run(args, env, timeout)
    assert not SANITIZER_REPORT.search(pre.stderr), pre.stderr
    assert pre.returncode == bare.returncode, (pre.returncode, bare.returncode, pre.stderr)
    assert pre.stdout == bare.stdout
    return pre


def top(cprof, prof, *flags):
    """{function: (flat bytes, cum bytes)} from cprof -top -unit=B."""
    r = cprof("-top", "-unit=B", "-nodecount=200", *flags, str(prof))
    assert r.returncode == 0, r.stderr
    rows = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*(\d+)B?\s+[-\d.]+%\s+[-\d.]+%\s+(\d+)B?\s+[-\d.]+%\s+(.*)$", line)
        if m:
            rows[m.group(3).strip()] = (int(m.group(1)), int(m.group(2)))
    return rows, r.stdout


def within(got, want, tol=0.10):
    return abs(got - want) <= tol * want


def test_accuracy_inuse_and_alloc(cprof, progs, tmp_path):
    prof = tmp_path / "heap.pb.gz"
    churn = 256
    p = same_as_bare([progs["accuracy"], str(churn)], env_for(4096, prof))
    assert p.stderr == "" or sanitized(), p.stderr
    rows, text = top(cprof, prof)
    assert within(rows["keep_small"][0], 10 * MIB), text
    assert within(rows["keep_large"][0], 30 * MIB), text
    assert rows.get("churn", (0, 0))[0] < 0.01 * 10 * MIB, text
    rows, text = top(cprof, prof, "-sample_index=alloc_space")
    assert within(rows["churn"][0], churn * MIB), text
    assert within(rows["keep_small"][0], 10 * MIB), text
    assert within(rows["keep_large"][0], 30 * MIB), text
    # objects: 10240 small blocks, 480 large ones
    text = cprof("-top", "-sample_index=inuse_objects", str(prof)).stdout
    objs = {}
    for line in text.splitlines():
        m = re.match(r"\s*(\d+)\s+[-\d.]+%\s+[-\d.]+%\s+(\d+)\s+[-\d.]+%\s+(.*)$", line)
        if m:
            objs[m.group(3).strip()] = int(m.group(1))
    assert within(objs["keep_small"], 10240), text
    assert within(objs["keep_large"], 480), text


def test_accuracy_at_the_default_rate(cprof, progs, tmp_path):
    """The stratified sampler: a run of allocations in one place gets its
    number of sample points give or take one, so 10 MiB in 1 KiB blocks
    (20 points at 512 KiB) is within 5% in every run, where Go's Poisson
    sampler has a standard deviation of 22%."""
    for i in range(3):
        prof = tmp_path / f"heap{i}.pb.gz"
        same_as_bare([progs["accuracy"], "64"], env_for(None, prof))
        rows, text = top(cprof, prof)
        assert within(rows["keep_small"][0], 10 * MIB, 0.051), text
        assert within(rows["keep_large"][0], 30 * MIB, 0.018), text
        rows, text = top(cprof, prof, "-sample_index=alloc_space")
        assert within(rows["churn"][0], 64 * MIB, 0.10), text


def test_periodic_pattern_and_exact_blocks(cprof, progs, tmp_path):
    """A pattern repeating every ~512 KiB (the rate) is charged in the
    right shares (points are independent within their strata: no
    aliasing), and blocks at or above the rate are recorded exactly."""
    prof = tmp_path / "heap.pb.gz"
    allocs = tmp_path / "allocs.pb.gz"
    same_as_bare([progs["periodic"], "1024"], env_for(None, prof, allocs))
    rounds = 1024 * 1024 // 500
    rows, text = top(cprof, allocs)
    assert within(rows["big_a"][0], rounds * (300 << 10)), text
    assert within(rows["small_b"][0], rounds * 200 * 1024), text
    rows, text = top(cprof, prof)
    assert rows["keep_exact"][0] == 20 * 600000, text
    r = cprof("-top", "-sample_index=inuse_objects", str(prof))
    assert re.search(r"^\s*20\s+\S+%\s+\S+%\s+20\s+\S+%\s+keep_exact$", r.stdout, re.M), r.stdout
    # Go's sampler on request: the same program, its own scaling
    prof2 = tmp_path / "heap2.pb.gz"
    same_as_bare([progs["periodic"], "64"],
                 env_for(None, prof2, extra={"CPROF_HEAP_SAMPLER": "poisson"}))
    rows, text = top(cprof, prof2)
    assert "keep_exact" in rows, text


def test_sampler_env_checked(progs, tmp_path):
    prof = tmp_path / "heap.pb.gz"
    p = same_as_bare([progs["accuracy"], "4"],
                     env_for(None, prof, extra={"CPROF_HEAP_SAMPLER": "gaussian"}))
    assert "cprof: ignoring CPROF_HEAP_SAMPLER=gaussian: not stratified or poisson" in p.stderr
    assert prof.stat().st_size > 0


def test_heap_sampled_only_when_readable(progs, tmp_path):
    """Preloaded for a CPU profile only, nobody can read the heap profile:
    no heap samples are taken (the text's Rate is 0); a dump directory, a
    heap file or an explicit rate turn sampling on."""
    cases = [({"CPROF_CPU_PROFILE": str(tmp_path / "cpu.pb.gz")}, "0"),
             ({"CPROF_DUMP_DIR": str(tmp_path)}, "524288"),
             ({"CPROF_HEAP_RATE": "65536"}, "65536"),
             ({"CPROF_ALLOCS_PROFILE": str(tmp_path / "allocs.pb.gz")}, "524288")]
    for extra, rate in cases:
        text = tmp_path / "heap.txt"
        same_as_bare([progs["accuracy"], "4", str(text)], env_for(None, extra=extra))
        t = text.read_text()
        assert f"# Rate = {rate}\n" in t, (extra, t[t.find("# Rate"):][:60])


def test_profile_format(cprof, progs, tmp_path):
    prof = tmp_path / "heap.pb.gz"
    allocs = tmp_path / "allocs.pb.gz"
    same_as_bare([progs["accuracy"], "16"], env_for(None, prof, allocs))
    raw = cprof("-raw", str(prof)).stdout
    assert "PeriodType: space bytes" in raw, raw[:500]
    assert "Period: 524288" in raw
    assert re.search(r"alloc_objects/count alloc_space/bytes inuse_objects/count "
                     r"\[?inuse_space/bytes\]?", raw), raw[:500]
    assert "bytes:[1024]" in raw or "bytes:[65536]" in raw, raw
    assert re.search(r"thread:\[\w", raw), raw
    # the default types: heap -> inuse_space, allocs -> alloc_space
    assert "Type: inuse_space" in cprof("-top", str(prof)).stdout
    assert "Type: alloc_space" in cprof("-top", str(allocs)).stdout


@pytest.mark.skipif(not have_go(), reason="go tool pprof is not installed")
@pytest.mark.parametrize("sampler", ["stratified", "poisson"])
def test_go_pprof_reads_it_the_same(cprof, progs, tmp_path, sampler):
    prof = tmp_path / "heap.pb.gz"
    text = tmp_path / "heap.txt"
    same_as_bare([progs["accuracy"], "16", str(text)],
                 env_for(8192, prof, extra={"CPROF_HEAP_SAMPLER": sampler}))
    env = dict(os.environ, TZ="UTC")
    for args in (["-top"], ["-traces"], ["-tags"], ["-top", "-sample_index=alloc_space"],
                 ["-top", "-sample_index=inuse_objects"]):
        ours = cprof(*args, str(prof))
        go = run(["go", "tool", "pprof", *args, str(prof)], env, 300)
        assert go.returncode == 0, go.stderr
        assert ours.stdout == go.stdout, args
    # the debug=1 text: Go's header with raw counts (Poisson, which readers
    # scale with Go's formula) or the estimates under the unsampled header
    # (stratified); our statistics
    t = text.read_text()
    header = "heap/16384" if sampler == "poisson" else "heapprofile"
    assert re.match(r"heap profile: \d+: \d+ \[\d+: \d+\] @ %s\n" % header, t), t[:200]
    for key in ("# Rate = 8192", "# Sampler = " + sampler, "# Arena = ", "# RSS = ", "# MaxRSS = ", "--- Memory map: ---"):
        assert key in t, key
    assert re.search(r"#\t0x[0-9a-f]+\tkeep_large\t\S*accuracy\.c:\d+", t), t[:2000]
    ours = cprof("-top", str(text))
    go = run(["go", "tool", "pprof", "-top", str(text)], env, 300)
    assert ours.returncode == 0 and go.returncode == 0, (ours.stderr, go.stderr)
    units = {"B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}

    def total(s):
        m = re.search(r"of ([\d.]+)(\w+) total", s)
        return float(m.group(1)) * units[m.group(2)]
    assert abs(total(ours.stdout) - total(go.stdout)) < 0.001 * total(go.stdout)
    assert "keep_large" in ours.stdout


def test_cxx_stl_aligned_new_exact(cprof, progs, tmp_path):
    skip_if_sanitized('the aligned operator new path is not sampled under ASan here (open)')
    prof = tmp_path / "heap.pb.gz"
    allocs = tmp_path / "allocs.pb.gz"
    p = same_as_bare([progs["cxx_stl"]], env_for(1, prof, allocs))
    assert "misaligned 0" in p.stdout
    rows, text = top(cprof, prof)
    # rate 1: every allocation, no scaling
    assert rows["keep_aligned"][0] == 1000 * 256, text
    assert rows["keep_array"][0] == 100 * 1000 * 4, text
    assert rows["fill_map"][1] >= 20000 * 41, text
    assert "fill_vector" not in rows or rows["fill_vector"][1] == 0, text
    rows, text = top(cprof, allocs)
    # allocs: the freed aligned arrays and nothrow objects count too
    assert rows["keep_aligned"][0] == 1000 * 256 + 100 * 3 * 256 + 100 * 256, text
    assert rows["fill_vector"][1] > 200000 * 8, text
    assert rows["churn_strings"][1] > 100000 * 100, text


@pytest.mark.parametrize("rate", [1, 64])
def test_threaded_stress(cprof, progs, tmp_path, rate):
    prof = tmp_path / "heap.pb.gz"
    p = same_as_bare([progs["stress"], "6", "8000"], env_for(rate, prof))
    assert "failures 0" in p.stdout
    rows, text = top(cprof, prof)
    assert rows.get("worker", (0, 0))[1] == 0, text    # everything freed
    rows, text = top(cprof, prof, "-sample_index=alloc_space")
    assert rows["worker"][1] > 10 * MIB, text


def test_fork_from_threads(progs, tmp_path):
    # ASan makes every fork copy its shadow mappings: fewer forks there
    n = "10" if sanitized() else "40"
    p = same_as_bare([progs["fork_threads"], n], env_for(16, tmp_path / "h.pb.gz"), timeout=120)
    assert "bad 0" in p.stdout


@pytest.mark.parametrize("rate", [1, 1024])
def test_out_of_memory(progs, tmp_path, rate):
    if sanitized():
        pytest.skip("ASan's allocator reserves address space beyond RLIMIT_AS")
    p = same_as_bare([progs["oom"]], env_for(rate, tmp_path / "h.pb.gz"))
    assert "malloc: NULL, errno ENOMEM" in p.stdout
    assert "realloc: NULL, old block intact" in p.stdout


@pytest.mark.parametrize("how", ["double", "invalid"])
def test_bad_free_as_without_us(progs, how):
    if sanitized():
        pytest.skip("ASan reports bad frees itself")
    bare = run([progs["bad_free"], how], dict(os.environ))
    pre = run([progs["bad_free"], how], env_for(1))
    assert bare.returncode == pre.returncode != 0
    assert bare.stdout == pre.stdout
    assert bare.stderr.splitlines()[0] == pre.stderr.splitlines()[0]


@pytest.mark.skipif(not os.path.exists(JEMALLOC) or not os.path.exists(TCMALLOC),
                    reason="jemalloc / tcmalloc_minimal not installed")
@pytest.mark.parametrize("where", ["after", "before"])
@pytest.mark.parametrize("alloc", [JEMALLOC, TCMALLOC])
def test_other_allocators(cprof, progs, tmp_path, alloc, where):
    """Over jemalloc or tcmalloc_minimal, preloaded after libcprof.so (the
    hooks come first) or before it (the hooks are shadowed; the runtime
    takes the program's calls over through the modules' GOTs, dlopen'ed
    ones included)."""
    if sanitized():
        pytest.skip("one allocator at a time under ASan")
    pos = {"preload_after": alloc} if where == "after" else {"preload_before": alloc}
    prof = tmp_path / "heap.pb.gz"
    p = same_as_bare([progs["accuracy"], "64"], env_for(4096, prof, **pos))
    assert "preloaded before libcprof.so" not in p.stderr, p.stderr
    rows, text = top(cprof, prof)
    assert within(rows["keep_small"][0], 10 * MIB), text
    assert within(rows["keep_large"][0], 30 * MIB), text
    # C++: operator new goes to the other allocator's malloc
    prof2 = tmp_path / "cxx.pb.gz"
    same_as_bare([progs["cxx_stl"]], env_for(1, prof2, **pos))
    rows, text = top(cprof, prof2)
    assert rows["keep_aligned"][0] == 256000, text
    # the rest of the family, blocks grown by our reallocarray over the
    # other allocator's realloc, and a library loaded later
    prof3 = tmp_path / "family.pb.gz"
    p = same_as_bare([progs["alloc_family"], progs["plugin"]], env_for(1, prof3, **pos))
    assert "family bad 0" in p.stdout
    rows, text = top(cprof, prof3)
    assert rows["keep_family"][0] == 64 * 65536, text
    assert rows["plugin_keep"][0] == 64 * 65536, text


def test_forwarding_shim_in_front(cprof, progs, tmp_path):
    """A malloc shim preloaded before libcprof.so forwards to the next
    malloc, which is the runtime's: the runtime must forward to the one
    after it (not back to the shim, a loop that overflowed the stack), and
    the program's allocations reach it through the shim."""
    if sanitized():
        pytest.skip("one preloaded allocator at a time under ASan")
    prof = tmp_path / "heap.pb.gz"
    p = same_as_bare([progs["accuracy"], "16"], env_for(None, prof, preload_before=progs["shim"]))
    assert "shim: calls seen" in p.stderr, p.stderr
    assert "preloaded before libcprof.so" not in p.stderr, p.stderr
    rows, text = top(cprof, prof)
    assert within(rows["keep_small"][1], 10 * MIB, 0.051), text
    assert within(rows["keep_large"][1], 30 * MIB, 0.018), text


@pytest.mark.skipif(not shutil.which("heaptrack"), reason="heaptrack is not installed")
def test_heaptrack_over_the_runtime(progs, tmp_path):
    """heaptrack puts its own forwarding preload first: both run, neither
    loops, and heaptrack still records the program's allocations."""
    if sanitized():
        pytest.skip("heaptrack and ASan do not mix")
    env = env_for(524288)
    bare = run([progs["accuracy"], "16"], dict(os.environ))
    p = run(["heaptrack", "-o", str(tmp_path / "ht"), progs["accuracy"], "16"], env, 300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert bare.stdout.strip() in p.stdout
    data = [f for f in os.listdir(tmp_path) if f.startswith("ht")]
    assert data, os.listdir(tmp_path)


def test_sanitizer_in_front_is_left_alone(progs, tmp_path):
    """A sanitizer preloaded before libcprof.so must see every allocation
    first: the runtime says the profile will be empty and patches nothing."""
    if sanitized():
        pytest.skip("the sanitizer pass already preloads its runtime")
    asan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                          text=True).stdout.strip()
    if not os.path.isabs(asan) or not os.path.exists(asan):
        pytest.skip("libasan is not installed")
    prof = tmp_path / "heap.pb.gz"
    env = env_for(4096, prof, preload_before=asan)
    env["ASAN_OPTIONS"] = "verify_asan_link_order=0:detect_leaks=0"
    p = run([progs["accuracy"], "1"], env)
    assert p.returncode == 0, p.stderr
    assert "malloc is provided by a library preloaded before libcprof.so" in p.stderr


def test_record_heap_and_allocs(cprof, progs, tmp_path):
    if sanitized():
        pytest.skip("record keeps a sanitizer runtime first, which shadows the hooks")
    heap = tmp_path / "h.pb.gz"
    allocs = tmp_path / "a.pb.gz"
    cpu = tmp_path / "cpu.pb.gz"
    env = dict(os.environ, TZ="UTC", CPROF_HEAP_RATE="4096")
    r = run([cprof_bin(), "record", "-o", str(cpu), f"--heap={heap}", f"--allocs={allocs}", "--",
             progs["accuracy"], "32"], env)
    assert r.returncode == 0, r.stderr
    assert f"heap profile written to {heap}" in r.stderr
    assert f"allocs profile written to {allocs}" in r.stderr
    rows, text = top(cprof, heap)
    assert within(rows["keep_large"][0], 30 * MIB), text
    assert "Type: alloc_space" in cprof("-top", str(allocs)).stdout
    rows, text = top(cprof, allocs)
    assert within(rows["churn"][0], 32 * MIB), text
    # an allocator already in LD_PRELOAD: record puts libcprof.so first
    if os.path.exists(JEMALLOC):
        heap3 = tmp_path / "h3.pb.gz"
        r = run([cprof_bin(), "record", "-o", str(tmp_path / "c3.pb.gz"), f"--heap={heap3}", "--",
                 progs["accuracy"], "1"], dict(env, LD_PRELOAD=JEMALLOC))
        assert r.returncode == 0, r.stderr
        assert "preloaded before libcprof.so" not in r.stderr
        rows, text = top(cprof, heap3)
        assert within(rows["keep_large"][0], 30 * MIB), text
    # a child started by the command is followed: its heap is in the merged
    # profile, labelled with its comm; --no-follow leaves it out
    heap2 = tmp_path / "h2.pb.gz"
    r = run([cprof_bin(), "record", "-o", str(tmp_path / "c2.pb.gz"), f"--heap={heap2}", "--",
             "sh", "-c", f"{progs['accuracy']} 1 >/dev/null; true"], env)
    assert r.returncode == 0, r.stderr
    rows, text = top(cprof, heap2)
    assert within(rows["keep_large"][0], 30 * MIB), text
    assert "accuracy" in cprof("-tags", str(heap2)).stdout
    heap4 = tmp_path / "h4.pb.gz"
    r = run([cprof_bin(), "record", "--no-follow", "-o", str(tmp_path / "c4.pb.gz"),
             f"--heap={heap4}", "--", "sh", "-c", f"{progs['accuracy']} 1 >/dev/null; true"], env)
    assert r.returncode == 0, r.stderr
    if heap4.exists():
        rows, _ = top(cprof, heap4)
        assert "keep_large" not in rows


def test_rate_env(cprof, progs, tmp_path):
    prof = tmp_path / "heap.pb.gz"
    p = run([progs["accuracy"], "1"], env_for("lots", prof))
    assert p.returncode == 0
    assert p.stderr.count("CPROF_HEAP_RATE=lots") == 1, p.stderr
    assert "Period: 524288" in cprof("-raw", str(prof)).stdout
    prof0 = tmp_path / "off.pb.gz"
    p = run([progs["accuracy"], "1"], env_for(0, prof0))
    assert p.returncode == 0, p.stderr
    rows, text = top(cprof, prof0)
    assert "keep_large" not in rows, text


def test_static_library(cprof, tmp_path):
    if sanitized():
        pytest.skip("the static library is tested in the plain build")
    subprocess.run(["make", "-s", "-C", ROOT, "build/libcprof.a", "build/libcprofcore.a"],
                   check=True, capture_output=True, timeout=600)
    exe = str(tmp_path / "accuracy_static")
    libs = subprocess.run(["pkg-config", "--libs", "libdw", "libelf", "zlib", "libpcre2-8",
                           "libmicrohttpd"], capture_output=True, text=True).stdout.split()
    r = subprocess.run(["gcc", "-O1", "-g", "-o", exe, os.path.join(SRC, "accuracy.c"),
                        os.path.join(ROOT, "build", "libcprof.a"),
                        os.path.join(ROOT, "build", "libcprofcore.a"), *libs, "-lstdc++",
                        "-lpthread", "-ldl", "-lm"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    prof = tmp_path / "heap.pb.gz"
    env = dict(os.environ, CPROF_HEAP_RATE="4096", CPROF_HEAP_PROFILE=str(prof))
    env.pop("LD_PRELOAD", None)
    p = run([exe, "8"], env)
    assert p.returncode == 0, p.stderr
    rows, text = top(cprof, prof)
    assert within(rows["keep_large"][0], 30 * MIB), text
