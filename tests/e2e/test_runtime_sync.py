"""The mutex and block profiles of libcprof (issue 6) on real programs
(tests/runtime/sync/*.c, built with gcc, run under LD_PRELOAD).

contend.c is the issue's test: eight threads share a mutex, slow_holder()
holds it across a 200 us sleep, quick_taker() takes it briefly, and the
program measures the truth itself (the waiting done while slow_holder held
the lock; the takers' total wait in pthread_mutex_lock).  semantics.c checks
that the interposed primitives behave exactly as libc's (same output bare
and preloaded) and feeds every kind of blocking call to the block profile.

The library is the one next to the cprof binary under test (CPROF_BIN), so
the sanitizer pass runs these against build-san/libcprof.so with the ASan
runtime preloaded first.  No timing is asserted: the profile's delays are
compared with what the program measured in the same run.
"""
import atexit
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import ROOT, cprof_bin, have_go, sanitizer_preload

SRC = os.path.join(ROOT, "tests", "runtime", "sync")
SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer")


_COPIES = {}


def runtime_lib():
    """A private copy of the libcprof.so next to CPROF_BIN, made once: the
    runtime symbolizes its own frames from the file at exit, so the file
    must not be rebuilt under a running test."""
    src = os.path.join(os.path.dirname(os.path.abspath(cprof_bin())), "libcprof.so")
    if src not in _COPIES:
        assert os.path.exists(src), f"{src} is not built"
        d = tempfile.mkdtemp(prefix="cprof-rt-")
        atexit.register(shutil.rmtree, d, True)
        _COPIES[src] = os.path.join(d, "libcprof.so")
        shutil.copy2(src, _COPIES[src])
        # its plugins (symbolization, the endpoint) and its symbolizer
        # process (profile files) are found next to it
        for plugin in ("libcprof-sym.so", "libcprof-http.so", "cprof-symbolize"):
            shutil.copy2(os.path.join(os.path.dirname(src), plugin), os.path.join(d, plugin))
    return _COPIES[src]


def runtime_env(extra=None):
    lib = runtime_lib()
    env = dict(os.environ, TZ="UTC")
    # the flavour of the library under test (runtime_lib copies it elsewhere)
    env["LD_PRELOAD"], san_env = sanitizer_preload(
        os.path.join(os.path.dirname(cprof_bin()), "libcprof.so"), lib)
    env.update(san_env)
    for k in list(env):
        if k.startswith("CPROF_"):
            del env[k]
    env.update(extra or {})
    return env


@pytest.fixture(scope="module")
def progs(tmp_path_factory):
    d = tmp_path_factory.mktemp("rtsync")
    out = {}
    for name in ("contend", "semantics"):
        exe = str(d / name)
        r = subprocess.run(["gcc", "-O2", "-g", "-pthread", "-o", exe,
                            os.path.join(SRC, name + ".c")], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        out[name] = exe
    return out


def run(args, extra, timeout=120):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                       env=runtime_env(extra))
    assert not SANITIZER_REPORT.search(p.stderr), p.stderr[-4000:]
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def cprof(*args):
    r = subprocess.run([cprof_bin(), *args], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, TZ="UTC"))
    assert r.returncode == 0, r.stderr
    return r.stdout


def cum_ns(profile, *extra):
    """{function: cum nanoseconds} from cprof -top -unit=ns."""
    rows = {}
    for line in cprof("-top", "-unit=ns", "-nodecount=200", "-nodefraction=0", *extra, profile).splitlines():
        m = re.match(r"\s*([\d.]+)(?:ns)?\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)(?:ns)?\s+[\d.]+%\s+(.*)$", line)
        if m:
            rows[m.group(3).strip()] = float(m.group(2))
    return rows


def truth(stdout):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", stdout)}


def contend(progs, tmp_path, rounds=1000, **env):
    mp = str(tmp_path / env.pop("mutex_name", "mutex.pb.gz"))
    bp = str(tmp_path / "block.pb.gz")
    e = {"CPROF_MUTEX_PROFILE": mp, "CPROF_BLOCK_PROFILE": bp}
    e.update(env)
    p = run([progs["contend"], str(rounds)], e)
    return truth(p.stdout), mp, bp


def test_mutex_profile_charges_the_slow_holder(progs, tmp_path):
    t, mp, bp = contend(progs, tmp_path, CPROF_MUTEX_FRACTION="1", CPROF_BLOCK_RATE="1")
    rows = cum_ns(mp)
    slow, quick = rows.get("slow_holder", 0), rows.get("quick_taker", 0)
    # the unlocker's stack is charged, the slow holder first
    assert slow > quick, rows
    assert rows.get("pthread_mutex_unlock", 0) >= slow, rows
    # close to the truth the program measured (waiting while slow_holder held)
    assert t["slow_ns"] > 0, t
    assert 0.75 * t["slow_ns"] < slow < 1.25 * t["slow_ns"], (t, rows)
    # the block profile shows the waiters: quick_taker in pthread_mutex_lock
    b = cum_ns(bp)
    assert 0.75 * t["waiters_ns"] < b.get("quick_taker", 0) < 1.25 * t["waiters_ns"], (t, b)
    assert b.get("pthread_mutex_lock", 0) >= b["quick_taker"], b
    traces = cprof("-traces", bp)
    assert re.search(r"pthread_mutex_lock\n\s+quick_taker\n", traces), traces[:3000]


def test_mutex_text_is_gos_format(progs, tmp_path):
    t, mp, _ = contend(progs, tmp_path, CPROF_MUTEX_FRACTION="1", CPROF_BLOCK_RATE="0",
                       mutex_name="mutex.txt")
    text = open(mp).read()
    lines = text.splitlines()
    assert lines[0:3] == ["--- mutex:", "cycles/second=1000000000", "sampling period=1"], lines[:3]
    m = re.match(r"(\d+) (\d+) @( 0x[0-9a-f]+)+$", lines[3])
    assert m, lines[3]
    # records sorted by delay: the slow holder's first
    assert re.match(r"#\t0x[0-9a-f]+\tpthread_mutex_unlock\t", lines[4]), lines[4]
    assert "\tslow_holder\t" in lines[5], text[:2000]
    assert 0.75 * t["slow_ns"] < int(m.group(1)) < 1.25 * t["slow_ns"], (t, lines[3])
    assert int(m.group(2)) > 0.5 * t["holds"], (t, lines[3])
    # cprof's legacy parser reads it, with the same total
    top = cprof("-top", "-unit=ns", mp)
    tot = float(re.search(r"of ([\d.]+)ns total", top).group(1))
    recs = sum(int(x) for x in re.findall(r"^(\d+) \d+ @", text, re.M))
    assert abs(tot - recs) <= 1, (tot, recs)
    if have_go():
        go = subprocess.run(["go", "tool", "pprof", "-top", "-unit=ns", mp], capture_output=True,
                            text=True, timeout=300, env=dict(os.environ, TZ="UTC"))
        assert go.returncode == 0, go.stderr
        assert go.stdout == top


def test_block_text_is_gos_format(progs, tmp_path):
    t, _, _ = contend(progs, tmp_path, rounds=300, CPROF_MUTEX_FRACTION="0",
                      CPROF_BLOCK_RATE="1", CPROF_BLOCK_PROFILE=str(tmp_path / "block.txt"))
    text = open(tmp_path / "block.txt").read()
    assert text.startswith("--- contention:\ncycles/second=1000000000\n"), text[:200]
    assert "sampling period" not in text
    assert re.search(r"^\d+ \d+ @( 0x[0-9a-f]+)+\n#\t0x[0-9a-f]+\tpthread_mutex_lock\t.*\n"
                     r"#\t0x[0-9a-f]+\tquick_taker\t", text, re.M), text[:2000]
    cprof("-top", str(tmp_path / "block.txt"))


def test_mutex_fraction_samples_and_scales(progs, tmp_path):
    # 1 in 4 events recorded, scaled by 4 in the profile.proto
    t, mp, _ = contend(progs, tmp_path, rounds=1000, CPROF_MUTEX_FRACTION="4",
                       CPROF_BLOCK_RATE="0")
    rows = cum_ns(mp)
    assert 0.5 * t["slow_ns"] < rows.get("slow_holder", 0) < 1.6 * t["slow_ns"], (t, rows)
    raw = cprof("-raw", mp)
    counts = [int(m) for m in re.findall(r"^\s+(\d+)\s+\d+:", raw.split("Samples:", 1)[1], re.M)]
    assert counts and all(c % 4 == 0 for c in counts), raw[:2000]


def test_block_rate_samples_and_unbiases(progs, tmp_path):
    # rate 1 ms: the ~100-200 us waits are sampled with probability d/rate
    # and counted rate/d times (Go's unbiasing), so the total stays right
    t, _, bp = contend(progs, tmp_path, rounds=1000, CPROF_MUTEX_FRACTION="0",
                       CPROF_BLOCK_RATE="1000000")
    b = cum_ns(bp)
    assert 0.5 * t["waiters_ns"] < b.get("quick_taker", 0) < 1.6 * t["waiters_ns"], (t, b)


def test_off_means_empty(progs, tmp_path):
    _, mp, bp = contend(progs, tmp_path, rounds=200, CPROF_MUTEX_FRACTION="0",
                        CPROF_BLOCK_RATE="0")
    for prof in (mp, bp):
        raw = cprof("-raw", prof)
        assert "contentions/count delay/nanoseconds" in raw, raw[:500]
        assert "PeriodType: contentions count" in raw, raw[:500]
        assert not re.search(r"^\s+\d+\s+\d+:", raw.split("Samples:", 1)[1], re.M), raw[:2000]


def test_defaults_are_on(progs, tmp_path):
    # no CPROF_MUTEX_FRACTION / CPROF_BLOCK_RATE: both profiles are on (1 in
    # 10 contended unlocks; one event per 10 ms blocked)
    t, mp, bp = contend(progs, tmp_path, rounds=1000, mutex_name="mutex.txt")
    text = open(mp).read()
    assert "sampling period=10\n" in text, text[:300]
    assert "\tslow_holder\t" in text, text[:2000]
    assert cum_ns(bp).get("quick_taker", 0) > 0


def test_bad_environment_is_reported_and_ignored(progs, tmp_path):
    p = subprocess.run([progs["contend"], "50"], capture_output=True, text=True, timeout=120,
                       env=runtime_env({"CPROF_MUTEX_FRACTION": "lots",
                                        "CPROF_BLOCK_RATE": "-3"}))
    assert p.returncode == 0
    assert "ignoring CPROF_MUTEX_FRACTION=lots" in p.stderr, p.stderr
    assert "ignoring CPROF_BLOCK_RATE=-3" in p.stderr, p.stderr


@pytest.mark.parametrize("env", [{}, {"CPROF_MUTEX_FRACTION": "1", "CPROF_BLOCK_RATE": "1"}])
def test_primitives_behave_as_libcs(progs, tmp_path, env):
    bare = subprocess.run([progs["semantics"]], capture_output=True, text=True, timeout=120)
    assert bare.returncode == 0, bare.stderr
    e = dict(env, CPROF_BLOCK_PROFILE=str(tmp_path / "b.pb.gz"),
             CPROF_MUTEX_PROFILE=str(tmp_path / "m.pb.gz"))
    under = run([progs["semantics"]], e)
    assert under.stdout == bare.stdout
    if env:
        # every interposed blocking call feeds the block profile
        rows = cum_ns(str(tmp_path / "b.pb.gz"))
        for fn in ("pthread_cond_wait", "pthread_cond_timedwait", "pthread_cond_clockwait",
                   "sem_wait", "sem_timedwait", "sem_clockwait", "pthread_join",
                   "pthread_timedjoin_np", "pthread_clockjoin_np", "pthread_barrier_wait",
                   "pthread_mutex_timedlock", "pthread_mutex_clocklock",
                   "pthread_rwlock_timedwrlock", "pthread_rwlock_clockwrlock"):
            assert rows.get(fn, 0) > 0, (fn, rows)
        # producers and consumers contend: the mutex profile charges unlocks
        # and condition waits (which release the mutex inside libc)
        m = cum_ns(str(tmp_path / "m.pb.gz"))
        assert m.get("pthread_mutex_unlock", 0) > 0, m


@pytest.mark.skipif(not have_go(), reason="go tool pprof is not installed")
@pytest.mark.parametrize("which", ["mutex", "block"])
def test_go_pprof_reads_them_the_same(progs, tmp_path, which):
    _, mp, bp = contend(progs, tmp_path, rounds=200, CPROF_MUTEX_FRACTION="2",
                        CPROF_BLOCK_RATE="1")
    prof = mp if which == "mutex" else bp
    for fmt in ("-top", "-traces"):
        ours = cprof(fmt, prof)
        go = subprocess.run(["go", "tool", "pprof", fmt, prof], capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, TZ="UTC"))
        assert go.returncode == 0, go.stderr
        assert go.stdout == ours, fmt


def test_cxx_std_mutex_and_condition_variable(tmp_path):
    exe = str(tmp_path / "cxx_mutex")
    r = subprocess.run(["g++", "-O2", "-g", "-pthread", "-o", exe,
                        os.path.join(SRC, "cxx_mutex.cc")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    mp, bp = str(tmp_path / "m.pb.gz"), str(tmp_path / "b.pb.gz")
    p = run([exe], {"CPROF_MUTEX_FRACTION": "1", "CPROF_BLOCK_RATE": "1",
                    "CPROF_MUTEX_PROFILE": mp, "CPROF_BLOCK_PROFILE": bp})
    assert p.stdout == "ok\n"
    m = cum_ns(mp)
    assert m.get("holder", 0) > m.get("taker", 0), m
    b = cum_ns(bp)
    assert b.get("taker", 0) > 0 and b.get("pthread_mutex_lock", 0) > 0, b
    assert b.get("cond_waiter", 0) > 0 and b.get("pthread_cond_wait", 0) > 0, b


def link_with_libcprof(tmp_path, name, flags):
    """tests/runtime/sync/NAME.c linked with this build's libcprof.a (and
    the sanitizers of a sanitizer build): the program's path."""
    bdir = os.path.dirname(os.path.abspath(cprof_bin()))
    libs = subprocess.run(["pkg-config", "--libs", "libdw", "libelf", "zlib", "libpcre2-8",
                           "libmicrohttpd"], capture_output=True, text=True,
                          check=True).stdout.split()
    san = ["-fsanitize=address,undefined"] if "build-san" in bdir else []
    exe = str(tmp_path / name)
    r = subprocess.run(["gcc", "-O1", "-g", *flags, "-pthread", "-rdynamic", *san,
                        "-I", os.path.join(ROOT, "include"),
                        "-I", os.path.join(ROOT, "src", "runtime"),
                        "-I", os.path.join(ROOT, "src", "core"), "-o", exe,
                        os.path.join(SRC, name + ".c"), os.path.join(bdir, "libcprof.a"),
                        os.path.join(bdir, "libcprofcore.a"), *libs, "-lstdc++", "-ldl", "-lm"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe


def test_waits_walk_no_stack_when_nothing_asks(tmp_path):
    """A blocking wait with no profile and no trace asked walks no stack
    (the wait record keeps the waiter's registers, not its stack): the
    runtime's unwinder, counted by wait_walks.c through
    -Wl,--wrap=rt_unwind_here, ran a handful of times (thread starts, a
    sampled early wait) in 2000 ping-pong rounds, not once or twice per
    wait as before.  A count, not a timing.  The same program checks that
    a snapshot still shows a blocked waiter's whole stack (deep_wait)."""
    exe = link_with_libcprof(tmp_path, "wait_walks", ["-Wl,--wrap=rt_unwind_here"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPROF_") and k != "LD_PRELOAD"}
    env.update(CPROF_MUTEX_FRACTION="0", CPROF_BLOCK_RATE="0", ASAN_OPTIONS="detect_leaks=0")
    p = subprocess.run([exe, "2000"], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    t = truth(p.stdout)
    assert t["rounds"] == 2000 and t["walks"] < 50, p.stdout
    assert t["deep"] == 1, p.stdout


def test_walks_read_the_runtimes_own_code_directly(tmp_path):
    """Every wait sampled (CPROF_BLOCK_RATE=1) and no profile written, so
    the walks have no unwind tables and start at an unknown row in the
    runtime's own rt_unwind_here: its code bytes (the sigreturn and
    system-call checks) are read with plain loads, the runtime's code being
    always mapped, not with a process_vm_readv per word as before (5 per
    walk).  code_probes.c counts the runtime's probes through its own
    syscall().  A count, not a timing: 12.7-20 per round before, 3-6
    after (the stack pages of walks that end truncated are still probed)."""
    exe = str(tmp_path / "code_probes")
    r = subprocess.run(["gcc", "-O2", "-g", "-pthread", "-o", exe,
                        os.path.join(SRC, "code_probes.c")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    p = run([exe, "1000"], {"CPROF_BLOCK_RATE": "1"})
    t = truth(p.stdout)
    assert t["rounds"] == 1000 and t["probes"] < 9 * 1000, p.stdout


def test_remembered_walks_are_the_callers_own(tmp_path):
    """A wait's stack walk is remembered per thread and reused only when
    every word it read is unchanged (unwind.c, rt_unwind_cached):
    wait_memo.c walks from g1() and g2(), identical frames at the same
    depth (the same registers at the walk's start), in a random order.
    Each walk must name its own caller (0 wrong, which a memo keyed on
    the registers alone fails), repeats must be remembered and
    alternations walked in full (a count, not a timing).  A profiling
    timer's handler walks as well, anywhere inside those walks: its own
    walks name it and the others stay right."""
    exe = link_with_libcprof(tmp_path, "wait_memo", ["-fno-omit-frame-pointer"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPROF_") and k != "LD_PRELOAD"}
    env.update(ASAN_OPTIONS="detect_leaks=0")
    rounds = 200000
    p = subprocess.run([exe, str(rounds)], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    t = truth(p.stdout)
    assert t["named"] == rounds and t["wrong"] == 0, p.stdout
    # about half the calls repeat the previous caller (remembered), the
    # other half alternate (walked); the timer handler's walks count too
    assert rounds <= t["hits"] + t["walks"] <= rounds + t["hwalks"], p.stdout
    assert rounds // 4 < t["hits"] and rounds // 4 < t["walks"], p.stdout
    assert t["hwalks"] > 0 and t["hwrong"] == 0, p.stdout
