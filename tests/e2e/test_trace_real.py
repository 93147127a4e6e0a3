"""Real programs from Debian under the execution trace: they must keep
working, and their traces must hold their waits.

Each program runs bare and preloaded with the trace (CPROF_TRACE, whose
split of waits is auto; CPROF_TRACE_RUNNABLE=all; the flight recorder,
CPROF_TRACE_RING, dumped by the endpoint): its output and exit status must
be the bare run's, and the trace must read back as JSON with the waits the
program is known to make (python's sleeping threads, redis's epoll_wait
between requests, a shell pipeline's children): an interpreter with
threads, an event-loop server, fork and exec, which no program of ours
stands for.  The sanitizer build skips this file, as
test_real_programs.py does.
"""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import cprof_bin, free_port

TIMEOUT = 60


def runtime_lib():
    return os.path.join(os.path.dirname(os.path.abspath(cprof_bin())), "libcprof.so")


pytestmark = pytest.mark.skipif("build-san" in runtime_lib(),
                                reason="real programs run against the plain build only")


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CPROF_") and k != "LD_PRELOAD"}
    env.update(TZ="UTC", LC_ALL="C")
    env.update(extra or {})
    return env


def traced_env(trace, **extra):
    return clean_env(dict({"LD_PRELOAD": runtime_lib(), "CPROF_TRACE": str(trace)}, **extra))


def need(*progs):
    for p in progs:
        assert shutil.which(p), f"{p} is not installed: run ./setup.sh"


def waits_of(trace, reason=None):
    return [e for e in trace["traceEvents"] if e["ph"] == "X" and e.get("cat") == "blocked"
            and (reason is None or e["args"]["reason"] == reason)]


PY = r"""
import threading, time, subprocess, sys
out = threading.Lock()
def worker(i):
    for _ in range(5):
        time.sleep(0.03)
    with out:
        print("worker", i, "done")
ts = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
for t in ts: t.start()
for t in ts: t.join()
r = subprocess.run(["sh", "-c", "echo child; exit 3"], capture_output=True, text=True)
print("child said", r.stdout.strip(), "status", r.returncode)
print(sum(i * i for i in range(200000)))
sys.exit(4)
"""


@pytest.mark.parametrize("split", ["auto", "all"])
def test_python_threads_and_a_child(tmp_path, split):
    need("/usr/bin/python3")
    cmd = ["/usr/bin/python3", "-c", PY]
    bare = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=clean_env())
    f = tmp_path / "py.json"
    got = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                         env=traced_env(f, CPROF_TRACE_RUNNABLE=split))
    assert (got.returncode, sorted(got.stdout.splitlines())) == \
        (bare.returncode, sorted(bare.stdout.splitlines())) == (4, sorted(bare.stdout.splitlines()))
    assert [l for l in got.stderr.splitlines() if not l.startswith("cprof:")] == \
        bare.stderr.splitlines(), got.stderr
    trace = json.load(open(f))
    # each worker's 5 sleeps of 30 ms (the interpreter sleeps in select
    # or clock_nanosleep; the lock hand-offs are waits too)
    long_waits = [e for e in waits_of(trace) if e["args"]["wait_us"] >= 25000]
    assert len(long_waits) >= 15, [e["args"] for e in waits_of(trace)][:20]
    assert trace["otherData"]["schedstat_reads"] > 0


def test_shell_pipeline_under_the_flight_recorder(tmp_path):
    need("sh", "sort", "uniq", "tr")
    script = "seq 1 20000 | tr 0-9 a-j | sort | uniq -c | sort -rn | head -3; sleep 0.2; exit 5"
    bare = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=TIMEOUT,
                          env=clean_env())
    got = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=TIMEOUT,
                         env=clean_env({"LD_PRELOAD": runtime_lib(), "CPROF_TRACE_RING": "1"}))
    assert (got.returncode, got.stdout) == (bare.returncode, bare.stdout) == (5, bare.stdout)
    assert got.stderr == bare.stderr == "", got.stderr


def test_redis_traced_under_load_and_its_flight_recorder(tmp_path):
    need("redis-server", "redis-benchmark", "redis-cli")
    for mode in ("trace", "ring"):
        port, hport = free_port(), free_port()
        f = tmp_path / f"redis-{mode}.json"
        env = (traced_env(f) if mode == "trace" else
               clean_env({"LD_PRELOAD": runtime_lib(), "CPROF_TRACE_RING": "2",
                          "CPROF_HTTP": f"127.0.0.1:{hport}"}))
        srv = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        try:
            end = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert srv.poll() is None and time.monotonic() < end, "redis did not start"
                    time.sleep(0.05)
            b = subprocess.run(["redis-benchmark", "-p", str(port), "-n", "20000", "-c", "8",
                                "-t", "set,get", "-q"], capture_output=True, text=True,
                               timeout=TIMEOUT, env=clean_env())
            assert b.returncode == 0 and b.stdout.count("requests per second") == 2, b.stdout
            time.sleep(0.1)   # an idle epoll_wait, visited by the trace's thread,
            p = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                               text=True, timeout=TIMEOUT, env=clean_env())
            assert p.stdout.strip() == "PONG", p   # ended by this request
            if mode == "ring":
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{hport}/debug/pprof/trace?flight=1", timeout=30) as r:
                    f.write_bytes(r.read())
            c = subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"],
                               capture_output=True, text=True, timeout=TIMEOUT, env=clean_env())
            srv.wait(timeout=30)
        finally:
            if srv.poll() is None:
                srv.kill()
                srv.wait()
        assert srv.returncode == 0, srv.stderr.read()
        trace = json.load(open(f))
        polls = waits_of(trace, "epoll_wait")
        assert polls, (mode, trace["otherData"])
        assert "visited" in trace["otherData"]["runnable"], trace["otherData"]
        # the idle wait at the end (100 ms) is split: by the thread's own
        # reads under auto (its budget renewed), by a visit under long
        assert any(e["args"]["wait_us"] >= 20000 and "runnable_us" in e["args"]
                   for e in polls), (mode, [e["args"] for e in polls if e["args"]["wait_us"] > 5000])
