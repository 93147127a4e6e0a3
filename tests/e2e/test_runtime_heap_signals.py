"""The heap and allocs exit profiles (CPROF_HEAP_PROFILE, CPROF_ALLOCS_PROFILE,
`cprof record --heap`) written when the program is stopped by SIGTERM, SIGINT
or SIGHUP, as the CPU profile is: the runtime's handler has its writer
thread write the files, then the program still dies by its signal.

tests/runtime/heap/sigwait_heap.c keeps 16 blocks of 1 MiB from
keep_blocks (recorded exactly at the default rate), prints "ready PID",
and waits in pause() for the signal.

Sanitizer flavour (build-san/): as in test_runtime_heap.py, libcprof.so
goes first in LD_PRELOAD, then the ASan runtime, with ASan's link-order
check off.
"""
import os
import re
import signal
import subprocess

import pytest

from conftest import ROOT, cprof_bin
from test_runtime_heap import env_for as heap_env_for, sanitized

SRC = os.path.join(ROOT, "tests", "runtime", "heap")
SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer")
FATAL = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]


def env_for(heap=None, allocs=None, cpu=None):
    """test_runtime_heap's environment (preload, sanitizer flavour), with
    the exit files asked for."""
    return heap_env_for(None, heap, allocs,
                        extra={"CPROF_CPU_PROFILE": str(cpu)} if cpu is not None else None)


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    exe = str(tmp_path_factory.mktemp("rtheapsig") / "sigwait_heap")
    r = subprocess.run(["gcc", "-O1", "-g", "-o", exe, os.path.join(SRC, "sigwait_heap.c")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe


def default_signals(ignore=()):
    """For preexec_fn: the fatal signals at SIG_DFL (whatever the test
    runner left them at), those in ignore at SIG_IGN."""
    def fn():
        for s in FATAL:
            signal.signal(s, signal.SIG_IGN if s in ignore else signal.SIG_DFL)
    return fn


def start(args, env, ignore=()):
    """Start args, wait for its "ready PID" line; (Popen, pid)."""
    p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, preexec_fn=default_signals(ignore))
    line = p.stdout.readline()
    m = re.match(r"ready (\d+)$", line.strip())
    if not m:
        p.kill()
        out, err = p.communicate(timeout=30)
        pytest.fail(f"no ready line: {line!r} {out!r} {err!r}")
    return p, int(m.group(1))


def finish(p, timeout=60):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=30)
        pytest.fail(f"still running {timeout} s after the signal: {err}")
    assert not SANITIZER_REPORT.search(err), err
    return out, err


def top_functions(cprof, prof):
    assert os.path.exists(prof), f"{prof} was not written"
    assert os.path.getsize(prof) > 0, f"{prof} is empty"
    r = cprof("-top", "-nodecount=200", str(prof))
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("sig", FATAL, ids=lambda s: s.name)
def test_heap_profile_written_on_fatal_signal(cprof, prog, tmp_path, sig):
    heap = tmp_path / "heap.pb.gz"
    p, _ = start([prog], env_for(heap=heap))
    p.send_signal(sig)
    _, err = finish(p)
    # the program still dies by its signal
    assert p.returncode == -sig, (p.returncode, err)
    text = top_functions(cprof, heap)
    assert "keep_blocks" in text, text
    assert "Type: inuse_space" in text, text


@pytest.mark.parametrize("sig", FATAL, ids=lambda s: s.name)
def test_allocs_and_cpu_profiles_written_on_fatal_signal(cprof, prog, tmp_path, sig):
    """Both mechanisms asked for: one handler writes both files."""
    allocs = tmp_path / "allocs.pb.gz"
    cpu = tmp_path / "cpu.pb.gz"
    p, _ = start([prog, "cpu"], env_for(allocs=allocs, cpu=cpu))
    p.send_signal(sig)
    _, err = finish(p)
    assert p.returncode == -sig, (p.returncode, err)
    text = top_functions(cprof, allocs)
    assert "keep_blocks" in text, text
    assert "Type: alloc_space" in text, text
    text = top_functions(cprof, cpu)
    assert "burn_cpu" in text, text


def test_heap_and_allocs_both_written(cprof, prog, tmp_path):
    heap = tmp_path / "heap.pb.gz"
    allocs = tmp_path / "allocs.pb.gz"
    p, _ = start([prog], env_for(heap=heap, allocs=allocs))
    p.send_signal(signal.SIGTERM)
    finish(p)
    assert p.returncode == -signal.SIGTERM
    assert "keep_blocks" in top_functions(cprof, heap)
    assert "keep_blocks" in top_functions(cprof, allocs)


def test_program_handler_is_kept(cprof, prog, tmp_path):
    """The program's own SIGTERM handler runs; it exits, and the atexit
    path writes the profile."""
    heap = tmp_path / "heap.pb.gz"
    p, _ = start([prog, "handler"], env_for(heap=heap))
    p.send_signal(signal.SIGTERM)
    out, err = finish(p)
    assert p.returncode == 0, (p.returncode, err)
    assert out.strip() == "handled", out
    assert "keep_blocks" in top_functions(cprof, heap)


def test_ignored_signal_stays_ignored(cprof, prog, tmp_path):
    """A signal the program was started with at SIG_IGN (nohup) is left
    alone: SIGHUP does nothing; SIGTERM still writes and kills."""
    heap = tmp_path / "heap.pb.gz"
    p, _ = start([prog], env_for(heap=heap), ignore=(signal.SIGHUP,))
    p.send_signal(signal.SIGHUP)
    with pytest.raises(subprocess.TimeoutExpired):
        p.wait(timeout=1)
    assert not heap.exists()
    p.send_signal(signal.SIGTERM)
    finish(p)
    assert p.returncode == -signal.SIGTERM
    assert "keep_blocks" in top_functions(cprof, heap)


def test_nothing_without_a_file(prog, tmp_path):
    """Without a heap file, the signal kills at once, as without cprof."""
    p, _ = start([prog], env_for())
    p.send_signal(signal.SIGTERM)
    finish(p, timeout=10)
    assert p.returncode == -signal.SIGTERM


def test_record_heap_sigint_to_the_command(cprof, prog, tmp_path):
    """^C under `cprof record --heap`: record ignores SIGINT itself, the
    command writes its profiles on the way down, record reports them and
    dies of the same signal."""
    if sanitized():
        pytest.skip("record keeps a sanitizer runtime first, which shadows the hooks")
    heap = tmp_path / "h.pb.gz"
    cpu = tmp_path / "cpu.pb.gz"
    env = dict(os.environ, TZ="UTC")
    for k in list(env):
        if k.startswith("CPROF_"):
            del env[k]
    p, pid = start([cprof_bin(), "record", "-o", str(cpu), f"--heap={heap}", "--", prog], env)
    assert pid != p.pid
    os.kill(pid, signal.SIGINT)
    _, err = finish(p)
    assert p.returncode == -signal.SIGINT, (p.returncode, err)
    assert f"heap profile written to {heap}" in err, err
    assert "keep_blocks" in top_functions(cprof, heap)
    assert os.path.getsize(cpu) > 0


def test_second_signal_during_the_write(cprof, prog, tmp_path):
    """SIGTERM and SIGINT at once (^C twice): the process dies of one of
    them, the file is whole, and no handler waits for the other (a
    handler waiting on one it interrupted would take the 11 s bound).
    Whether the second arrives before, during or after the write is up to
    the scheduler: the write takes milliseconds."""
    heap = tmp_path / "heap.pb.gz"
    p, _ = start([prog], env_for(heap=heap))
    p.send_signal(signal.SIGTERM)
    p.send_signal(signal.SIGINT)
    finish(p, timeout=8)
    assert p.returncode in (-signal.SIGTERM, -signal.SIGINT), p.returncode
    assert "keep_blocks" in top_functions(cprof, heap)
