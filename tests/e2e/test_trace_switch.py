"""The execution trace's switch records (CPROF_TRACE_SWITCH=1,
trace_switch.c): a PERF_RECORD_SWITCH ring per program thread where the
kernel allows it (perf_event_paranoid <= 2), refused and replaced by
schedstat where it does not.

The truth is the deterministic program tests/runtime/trace/waits.c
("runnable": a SCHED_IDLE waiter and two CPU hogs pinned to CPU 0): each hog
reads its own run_delay around its run, the waiter its run_delay around its
wait and the time from the signal to its return.  The trace's runnable time
must match them (10 % + 1 ms), measured the other way: from the switch
records.  The refusal is real: noperf.c installs a seccomp filter that makes
the kernel answer perf_event_open with EACCES, as perf_event_paranoid 3 does.
No timing of the machine is asserted.
"""
import json
import os
import subprocess

import pytest

from conftest import ROOT
from test_trace import waits, run, measured, blocked, TOL_US  # noqa: F401 (fixture)
from test_http import progs  # noqa: F401 (fixture)
from test_webui import server  # noqa: F401 (fixture)

NOPERF_SRC = os.path.join(ROOT, "tests", "runtime", "trace", "noperf.c")


def paranoid():
    try:
        with open("/proc/sys/kernel/perf_event_paranoid") as f:
            return int(f.read())
    except OSError:
        return 99


@pytest.fixture(scope="module")
def noperf(tmp_path_factory):
    exe = str(tmp_path_factory.mktemp("noperf") / "noperf")
    r = subprocess.run(["gcc", "-O2", "-Wall", "-o", exe, NOPERF_SRC],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return exe


def switch_trace(exe, scenario, tmp_path, wrapper=(), **env):
    f = tmp_path / f"{scenario}.json"
    p = run(*wrapper, exe, scenario,
            env=dict({"CPROF_TRACE": str(f), "CPROF_TRACE_SWITCH": "1"}, **env))
    with open(f) as fh:
        return json.load(fh), p


def lines(stdout, word):
    return [ln.split() for ln in stdout.splitlines() if ln.split()[:1] == [word]]


def need_switch(trace):
    sw = trace["otherData"].get("switch_records", {})
    if "refused" in sw and paranoid() > 2:
        pytest.skip("perf_event_paranoid > 2: " + sw["refused"])
    assert "threads" in sw, trace["otherData"]
    return sw


def test_runnable_from_switch_records_matches_schedstat_and_the_program(waits, tmp_path):
    trace, p = switch_trace(waits, "runnable", tmp_path)
    sw = need_switch(trace)
    assert sw["lost"] == 0 and sw["threads_without"] == 0, sw
    ev = trace["traceEvents"]
    # the waiter: woken by the signal, then waiting for CPU 0 behind the
    # hogs; the trace's runnable part is the switch records' (switch-in
    # less the waker's signal), checked against the run_delay the waiter
    # read and the signal-to-return time it measured
    (w,) = [x for x in measured(p.stdout) if x["kind"] == "cond"]
    (own_rd,) = [int(x[2]) / 1000 for x in lines(p.stdout, "runnable")]
    (own_woken,) = [int(x[2]) / 1000 for x in lines(p.stdout, "woken")]
    (e,) = blocked(trace, w["tid"], "cond")
    got = e["args"]["runnable_us"]
    assert e["args"]["runnable_from"] == "switch", e["args"]
    assert abs(got - own_woken) <= 0.1 * own_woken + 1000, (got, own_woken)
    if own_rd >= 0:
        assert abs(got - own_rd) <= 0.1 * own_rd + 1000, (got, own_rd)
    # the hogs never wait in a call: their runnable time is the stretches
    # they were preempted, drawn between their running ones, and adds up
    # to the run_delay each read over its own run
    start = trace["otherData"]["start_monotonic_ns"] / 1000
    hogs = lines(p.stdout, "hog")
    assert len(hogs) == 2
    for _, tid, t0, t1, rd in hogs:
        tid, t0, t1, rd = int(tid), int(t0) / 1000, int(t1) / 1000, int(rd) / 1000
        if rd < 0:
            continue
        total = 0.0
        for x in ev:
            # preempted while running, or the runnable end of a wait (a
            # read of its schedstat that was preempted)
            if x["ph"] == "X" and x["tid"] == tid and x["name"] == "runnable":
                a, b = max(start + x["ts"], t0), min(start + x["ts"] + x["dur"], t1)
                total += max(0.0, b - a)
        assert abs(total - rd) <= 0.1 * rd + 1000, (tid, total, rd)
    # the slices of each thread still tile its life: no overlap
    by_tid = {}
    for x in ev:
        if x["ph"] == "X":
            by_tid.setdefault(x["tid"], []).append((x["ts"], x["ts"] + x["dur"]))
    for tid, v in by_tid.items():
        v.sort()
        for (a0, a1), (b0, b1) in zip(v, v[1:]):
            assert b0 >= a1 - 0.01, (tid, (a0, a1), (b0, b1))


def test_runtime_threads_never_appear(waits, tmp_path):
    trace, p = switch_trace(waits, "runnable", tmp_path)
    need_switch(trace)
    names = {x["tid"]: x["args"]["name"] for x in trace["traceEvents"]
             if x["ph"] == "M" and x["name"] == "thread_name"}
    assert not any(n.startswith("cprof") for n in names.values()), names
    lanes = {x["tid"] for x in trace["traceEvents"] if x["ph"] == "X"}
    assert lanes <= set(names), (lanes, names)


def test_every_wait_still_as_the_program_measured_it(waits, tmp_path):
    """The switch records change how runnable time is found, not the waits."""
    trace, p = switch_trace(waits, "all", tmp_path)
    need_switch(trace)
    start = trace["otherData"]["start_monotonic_ns"]
    truth = measured(p.stdout)
    assert truth
    for w in truth:
        got = [e for e in blocked(trace, w["tid"], w["kind"])
               if w["t0"] / 1000 - TOL_US < start / 1000 + e["ts"] < w["t1"] / 1000]
        assert len(got) == 1, (w, got)
        e = got[0]
        assert abs(e["dur"] + e["args"].get("runnable_us", 0) - e["args"]["wait_us"]) < 0.01
        assert e["args"]["runnable_from"] == "switch", e["args"]


def test_refused_by_seccomp_is_one_line_and_schedstat(waits, noperf, tmp_path):
    """A real refusal: the kernel answers perf_event_open with EACCES (a
    seccomp filter); the trace says why once and splits waits with
    schedstat as without switch records."""
    trace, p = switch_trace(waits, "runnable", tmp_path, wrapper=(noperf,))
    said = [ln for ln in p.stderr.splitlines() if "CPROF_TRACE_SWITCH" in ln]
    assert len(said) == 1, p.stderr
    assert "perf_event_open refused (EACCES" in said[0] and "schedstat" in said[0], said
    sw = trace["otherData"]["switch_records"]
    assert "EACCES" in sw["refused"], sw
    assert trace["otherData"]["runnable"].startswith("schedstat run_delay"), trace["otherData"]
    (w,) = [x for x in measured(p.stdout) if x["kind"] == "cond"]
    (e,) = blocked(trace, w["tid"], "cond")
    assert e["args"]["runnable_from"] == "schedstat", e["args"]
    assert not [x for x in trace["traceEvents"] if x.get("args", {}).get("preempted")]


def test_program_closing_every_descriptor_meets_none_of_ours(waits, tmp_path):
    """No descriptor is kept for a ring (the mapping holds the event): the
    program that closes every descriptor and reuses the numbers keeps its
    files, and the waits after it still have switch records."""
    trace, p = switch_trace(waits, "closefds", tmp_path)
    need_switch(trace)
    assert "closefds ok" in p.stdout, p.stdout
    truth = measured(p.stdout)
    assert len(truth) == 2
    start = trace["otherData"]["start_monotonic_ns"] / 1000
    for w in truth:
        (e,) = [x for x in blocked(trace, w["tid"], "cond")
                if abs(start + x["ts"] - w["t0"] / 1000) < TOL_US]
        assert e["args"]["runnable_from"] == "switch", e["args"]


def test_bad_value_is_one_line(waits, tmp_path):
    trace, p = switch_trace(waits, "cond", tmp_path, CPROF_TRACE_SWITCH="sometimes")
    said = [ln for ln in p.stderr.splitlines() if "CPROF_TRACE_SWITCH" in ln]
    assert len(said) == 1 and "sometimes" in said[0], p.stderr
    assert "switch_records" not in trace["otherData"]


def test_endpoint_switch_parameter(progs):
    """/debug/pprof/trace?switch=1 asks for switch records for that trace
    only; the next trace without it has none."""
    from test_http import Program, curl
    prog = Program(progs["worker"], secs=900)
    try:
        assert prog.url, "".join(prog.lines)
        st, _, body = curl(f"{prog.url}/debug/pprof/trace?seconds=1&switch=1")
        assert st == 200, body[:300]
        d = json.loads(body)
        sw = d["otherData"]["switch_records"]
        if "refused" in sw and paranoid() > 2:
            pytest.skip("perf_event_paranoid > 2")
        assert sw["threads"] >= 1 and sw["lost"] == 0, sw
        names = {e["tid"]: e["args"]["name"] for e in d["traceEvents"]
                 if e["ph"] == "M" and e["name"] == "thread_name"}
        assert not any(n.startswith("cprof") for n in names.values()), names
        st, _, body = curl(f"{prog.url}/debug/pprof/trace?seconds=1")
        assert st == 200 and "switch_records" not in json.loads(body)["otherData"]
    finally:
        rc, out, err = prog.stop()
    assert rc == 0, err


def test_catapult_and_cprof_read_a_switch_trace(waits, tmp_path):
    """The slices the switch records add (preempted "runnable", "blocked:
    untraced") import into the Catapult viewer without a warning, and
    cprof's delay profiles read the trace."""
    import shutil
    from test_trace import VIEWER
    from test_webui import browser_missing
    trace, p = switch_trace(waits, "runnable", tmp_path)
    need_switch(trace)
    f = str(tmp_path / "runnable.json")
    r = subprocess.run([os.environ.get("CPROF_BIN", "cprof"), "-top", "-trace_pprof=sched", f],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    if browser_missing() or not os.path.isdir(VIEWER) or not shutil.which("node"):
        pytest.skip("no Chromium/node or no Catapult viewer")
    r = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "catapult.mjs"), f, VIEWER],
                       capture_output=True, text=True, timeout=180,
                       cwd=os.path.join(ROOT, "tests", "browser"))
    assert r.returncode == 0, r.stderr
    model = json.loads(r.stdout)
    assert model["warnings"] == [] and model["page_errors"] == [], model
    assert "runnable" in model["threads"]["hog"]["names"], model["threads"]["hog"]


def test_cprof_timeline_serves_the_switch_slices(waits, server, tmp_path):  # noqa: F811
    """cprof's own timeline indexes the slices the switch records add: a
    hog's lane holds runnable stretches, and each of its slices answers a
    click (the untraced and preempted ones have no stack)."""
    trace, p = switch_trace(waits, "runnable", tmp_path)
    need_switch(trace)
    srv = server("-http=127.0.0.1:0", "-no_browser", str(tmp_path / "runnable.json"))
    meta = json.loads(srv.get("/ui/data/timeline/meta"))
    (_, tid, *_), _ = lines(p.stdout, "hog")
    (lane,) = [ln["lane"] for ln in meta["lanes"] if ln["tid"] == int(tid)]
    win = json.loads(srv.get(f"/ui/data/timeline?t0={meta['t0']}&t1={meta['t1']}&w=4000&lanes={lane}"))
    it = win["lanes"][0]["items"]
    states = {meta["states"][it[i + 2]] for i in range(0, len(it), 5)
              if it[i + 2] < len(meta["states"])}
    assert "runnable" in states, states
    clicked = 0
    for i in range(0, len(it), 5):
        if it[i + 3] == 1 and it[i + 4] >= 0:
            ev = json.loads(srv.get(f"/ui/data/timeline/event?lane={lane}&idx={it[i + 4]}"))
            assert ev["event"]["name"] in ("running", "runnable", "blocked: untraced") or \
                ev["event"]["name"].startswith(("blocked", "sleeping")), ev
            clicked += 1
    assert clicked > 0
