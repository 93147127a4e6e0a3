"""The deadlock profile (issue 6): wait-for cycles and stuck threads.

tests/runtime/threads/deadlock.c runs with the runtime preloaded (the
libcprof.so next to the cprof binary under test) and writes the profile
through cprof_deadlock_write in text (debug=1) and profile.proto (debug=0).
The wait records come from the interposed pthread primitives (sync*.c).
"""
import os
import re
import subprocess

import pytest

from conftest import ROOT, cprof_bin, have_go
from test_runtime_threads import preload_env, run

SRC = os.path.join(ROOT, "tests", "runtime", "threads", "deadlock.c")


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    exe = str(tmp_path_factory.mktemp("rtdeadlock") / "deadlock")
    subprocess.run(["gcc", "-O1", "-g", "-pthread", "-o", exe, SRC, "-ldl"], check=True)
    return exe


def profile(prog, mode, tmp_path, extra=None):
    r = run([prog, mode, str(tmp_path)], env=preload_env(extra))
    assert r.returncode == 0 and r.stdout == "written\n", r.stdout + r.stderr
    return (tmp_path / "deadlock.txt").read_text(), str(tmp_path / "deadlock.pb.gz")


def test_opposite_lock_order_is_a_cycle(prog, tmp_path):
    txt, pb = profile(prog, "cycle", tmp_path)
    assert txt.startswith("deadlock profile: 1 cycle, 0 stuck threads, 0 long waits"), txt
    m = re.search(r"^--- cycle 1: thread (\d+) -> thread (\d+) -> thread (\d+)$", txt, re.M)
    assert m and m.group(1) == m.group(3) and m.group(1) != m.group(2), txt
    blocks = txt.split("\n\n")[1:]
    assert len([b for b in blocks if b.strip()]) == 2, txt
    waits, holds = {}, {}
    for fn in ("lock_a_then_b", "lock_b_then_a"):
        b = [x for x in blocks if f"\t{fn}\t" in x]
        assert len(b) == 1, f"{fn} not in one thread's stack:\n{txt}"
        w = re.search(r"^waits for: mutex (0x[0-9a-f]+) held by thread (\d+)$", b[0], re.M)
        h = re.search(r"^holds: mutex (0x[0-9a-f]+)$", b[0], re.M)
        assert w and h, b[0]
        waits[fn], holds[fn] = w.group(1), h.group(1)
        assert re.search(r"^#\t0x[0-9a-f]+\tpthread_mutex_lock\t", b[0], re.M) or \
            "mutex_lock" in b[0], b[0]
    # each waits for the mutex the other holds
    assert waits["lock_a_then_b"] == holds["lock_b_then_a"]
    assert waits["lock_b_then_a"] == holds["lock_a_then_b"]
    assert waits["lock_a_then_b"] != waits["lock_b_then_a"]

    raw = run([cprof_bin(), "-raw", pb])
    assert raw.returncode == 0, raw.stderr
    assert "deadlock/count" in raw.stdout
    assert len(re.findall(r"kind:\[cycle\]", raw.stdout)) == 2, raw.stdout
    tags = run([cprof_bin(), "-tags", pb])
    assert tags.returncode == 0 and "cycle" in tags.stdout, tags.stdout
    top = run([cprof_bin(), "-top", "-tagfocus=kind=cycle", pb])
    assert top.returncode == 0, top.stderr
    assert "lock_a_then_b" in top.stdout and "lock_b_then_a" in top.stdout, top.stdout
    if have_go():
        g = subprocess.run(["go", "tool", "pprof", "-top", "-tagfocus=kind=cycle", pb],
                           capture_output=True, text=True, timeout=120)
        assert g.returncode == 0, g.stderr
        assert "lock_a_then_b" in g.stdout and "lock_b_then_a" in g.stdout, g.stdout


def test_healthy_program_reports_none(prog, tmp_path):
    txt, pb = profile(prog, "healthy", tmp_path, {"CPROF_DEADLOCK_THRESHOLD_MS": "10000"})
    assert txt.strip() == ("deadlock profile: 0 cycles, 0 stuck threads, 0 long waits "
                           "(threshold 10000ms)"), txt
    raw = run([cprof_bin(), "-raw", pb])
    assert raw.returncode == 0, raw.stderr
    assert "deadlock/count" in raw.stdout
    assert not re.search(r"kind:\[", raw.stdout), raw.stdout


def test_mutex_of_an_exited_thread(prog, tmp_path):
    """A thread waits on a mutex whose owner exited: stuck, once past the threshold."""
    txt, _ = profile(prog, "orphan", tmp_path, {"CPROF_DEADLOCK_THRESHOLD_MS": "100"})
    assert txt.startswith("deadlock profile: 0 cycles, 1 stuck thread, 0 long waits"), txt
    assert "--- owner exited" in txt
    assert re.search(r"^waits for: mutex 0x[0-9a-f]+ held by thread \d+ \(exited\)$", txt, re.M)
    assert "\twait_orphan\t" in txt, txt
    # under the threshold, not reported yet
    txt, _ = profile(prog, "orphan", tmp_path, {"CPROF_DEADLOCK_THRESHOLD_MS": "60000"})
    assert txt.startswith("deadlock profile: 0 cycles, 0 stuck threads"), txt


def test_rwlock_and_mutex_cycle(prog, tmp_path):
    """A writer holding an rwlock waits for a mutex whose owner waits to write."""
    txt, _ = profile(prog, "rwcycle", tmp_path)
    assert txt.startswith("deadlock profile: 1 cycle,"), txt
    wl = [b for b in txt.split("\n\n") if "\twrite_then_lock\t" in b]
    lw = [b for b in txt.split("\n\n") if "\tlock_then_write\t" in b]
    assert len(wl) == 1 and len(lw) == 1, txt
    assert re.search(r"^waits for: mutex 0x[0-9a-f]+ held by thread \d+$", wl[0], re.M), wl[0]
    assert re.search(r"^holds: rwlock 0x[0-9a-f]+$", wl[0], re.M), wl[0]
    assert re.search(r"^waits for: rwlock 0x[0-9a-f]+ held by thread \d+$", lw[0], re.M), lw[0]
    assert re.search(r"^holds: mutex 0x[0-9a-f]+$", lw[0], re.M), lw[0]


def test_relocked_mutex_is_a_cycle_of_one(prog, tmp_path):
    txt, _ = profile(prog, "self", tmp_path)
    assert txt.startswith("deadlock profile: 1 cycle,"), txt
    m = re.search(r"^--- cycle 1: thread (\d+) -> thread (\d+)$", txt, re.M)
    assert m and m.group(1) == m.group(2), txt
    assert re.search(rf"^waits for: mutex (0x[0-9a-f]+) held by thread {m.group(1)}$", txt, re.M)
    assert "\trelock\t" in txt, txt


def test_threads_joining_each_other(prog, tmp_path):
    txt, _ = profile(prog, "joins", tmp_path)
    assert txt.startswith("deadlock profile: 1 cycle,"), txt
    waits = re.findall(r"^waits for: thread 0x[0-9a-f]+ to exit \(thread (\d+)\)$", txt, re.M)
    tids = re.findall(r'^thread (\d+) "', txt, re.M)
    assert len(waits) == 2 and sorted(waits) == sorted(tids), txt
    assert txt.count("\tjoin_other\t") == 2, txt
