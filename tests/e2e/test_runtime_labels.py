"""Labels on samples (issue 6): tests/runtime/sync/labels.c serves two kinds
of request inside cprof_do("request" = "fast" / "slow"), and creates one
thread inside cprof_do("job" = "inherit", CPROF_LABELS_INHERIT) and one
inside cprof_do("job" = "plain") without it.  The labels must show in the
CPU, mutex and block profiles (cprof -tags, -tagfocus; the debug=1 text),
be inherited by threads only when asked, and the C API must behave
(values, nesting, the wrong scope refused).

The program links the libcprof.so next to the cprof binary under test
(CPROF_BIN), so the sanitizer pass runs it against build-san/libcprof.so
with the ASan runtime preloaded.
"""
import os
import re
import subprocess

import pytest

from conftest import ROOT, cprof_bin, have_go
from test_runtime_sync import SANITIZER_REPORT, cum_ns, runtime_env, runtime_lib

SRC = os.path.join(ROOT, "tests", "runtime", "sync", "labels.c")


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    d = tmp_path_factory.mktemp("rtlabels")
    exe = str(d / "labels")
    libdir = os.path.dirname(runtime_lib())
    r = subprocess.run(["gcc", "-O2", "-g", "-pthread", "-I", os.path.join(ROOT, "include"),
                        "-o", exe, SRC, os.path.join(libdir, "libcprof.so"),
                        "-Wl,-rpath," + libdir], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    p = subprocess.run([exe, str(d)], capture_output=True, text=True, timeout=300,
                       env=runtime_env())
    assert not SANITIZER_REPORT.search(p.stderr), p.stderr[-4000:]
    assert p.returncode == 0, p.stdout + p.stderr
    return str(d), p.stdout


def cprof(*args):
    r = subprocess.run([cprof_bin(), *args], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, TZ="UTC"))
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_c_api(out):
    _, stdout = out
    assert stdout.splitlines()[:8] == [
        "api: before=none",
        "api: outer k=outer x=1",
        "api: inner k=inner x=1",
        "api: pop outer first=-6",     # not the innermost scope: CPROF_ERR_INVAL
        "api: pop inner=0",
        "api: after inner k=outer",
        "api: pop outer=0",
        "api: after=none",
    ], stdout
    assert "api: child inherit sees job=inherit" in stdout
    assert "api: child plain sees job=(none)" in stdout
    assert "failed" not in stdout, stdout


def test_mutex_samples_carry_labels(out):
    d, _ = out
    prof = os.path.join(d, "mutex.pb.gz")
    tags = cprof("-tags", prof)
    assert re.search(r"request: Total", tags), tags
    # slow requests hold the lock across a sleep: their unlocks carry the
    # delay.  A fast request holds it for nanoseconds: whether waiters are
    # queued at its unlock is up to the scheduler, so "fast" may be absent.
    assert re.search(r": slow\n", tags), tags
    slow = cum_ns(prof, "-tagfocus=request=slow")
    assert slow.get("serve_slow", 0) > 0 and "serve_fast" not in slow, slow
    if re.search(r": fast\n", tags):
        fast = cum_ns(prof, "-tagfocus=request=fast")
        assert "serve_slow" not in fast, fast
        assert slow["serve_slow"] > fast.get("serve_fast", 0)
    text = open(os.path.join(d, "mutex.txt")).read()
    assert re.search(r'^# labels: \{"request":"slow"\}\n#\t0x[0-9a-f]+\tpthread_mutex_unlock\t',
                     text, re.M), text[:2000]
    cprof("-top", os.path.join(d, "mutex.txt"))


def test_block_samples_carry_labels(out):
    d, _ = out
    prof = os.path.join(d, "block.pb.gz")
    tags = cprof("-tags", prof)
    assert re.search(r": slow\n", tags) and re.search(r": fast\n", tags), tags
    # the waiters: both kinds wait in pthread_mutex_lock
    for kind in ("slow", "fast"):
        rows = cum_ns(prof, f"-tagfocus=request={kind}")
        assert rows.get("serve_" + kind, 0) > 0, (kind, rows)
        other = "serve_" + ("fast" if kind == "slow" else "slow")
        assert other not in rows, (kind, rows)
    # the parent's joins happen inside the job labels
    job = cum_ns(prof, "-tagfocus=job=inherit")
    assert job.get("pthread_join", 0) > 0, job
    text = open(os.path.join(d, "block.txt")).read()
    assert '# labels: {"request":"fast"}' in text, text[:2000]


@pytest.mark.skipif(not have_go(), reason="go tool pprof is not installed")
def test_go_pprof_sees_the_same_tags(out):
    d, _ = out
    for name in ("mutex.pb.gz", "block.pb.gz", "cpu.pb.gz"):
        prof = os.path.join(d, name)
        go = subprocess.run(["go", "tool", "pprof", "-tags", prof], capture_output=True,
                            text=True, timeout=300, env=dict(os.environ, TZ="UTC"))
        assert go.returncode == 0, go.stderr
        assert go.stdout == cprof("-tags", prof), name
    # the debug=1 text with its "# labels:" lines reads the same in both
    for name in ("mutex.txt", "block.txt"):
        prof = os.path.join(d, name)
        go = subprocess.run(["go", "tool", "pprof", "-top", prof], capture_output=True,
                            text=True, timeout=300, env=dict(os.environ, TZ="UTC"))
        assert go.returncode == 0, go.stderr
        assert go.stdout == cprof("-top", prof), name


def test_cpu_samples_carry_labels_and_inheritance(out):
    d, _ = out
    prof = os.path.join(d, "cpu.pb.gz")
    tags = cprof("-tags", prof)
    assert re.search(r": slow\n", tags) and re.search(r": fast\n", tags), tags
    slow = cum_ns(prof, "-tagfocus=request=slow")
    assert slow.get("burn_slow", 0) > 0 and "burn_fast" not in slow, slow
    fast = cum_ns(prof, "-tagfocus=request=fast")
    assert fast.get("burn_fast", 0) > 0 and "burn_slow" not in fast, fast
    # created inside cprof_do(..., CPROF_LABELS_INHERIT): the child has them
    inh = cum_ns(prof, "-tagfocus=job=inherit")
    assert inh.get("child_inherit", 0) > 0, inh
    # created without the flag: the child's samples carry no job label
    plain = subprocess.run([cprof_bin(), "-top", "-tagfocus=job=plain", prof],
                           capture_output=True, text=True, timeout=120)
    assert "child_plain" not in plain.stdout, plain.stdout
    assert cum_ns(prof).get("child_plain", 0) > 0
    # -tagignore of the request label leaves the children's CPU
    rest = cum_ns(prof, "-tagignore=request=.")
    assert "burn_slow" not in rest and rest.get("child_plain", 0) > 0, rest
