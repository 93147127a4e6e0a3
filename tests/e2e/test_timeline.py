"""cprof's timeline of an execution trace (web/timeline.js over
src/report/timeline.c) on a real trace: tests/runtime/trace/waits.c's
"mutex" scenario (a holder keeps a mutex 200 ms while three waiters wait)
recorded with CPROF_TRACE, served by `cprof -http`.  The endpoints are
checked against the program's own measurements; then Chromium
(tests/browser/timeline.mjs) checks the lanes, the wait with its reason,
the click (stack, reason, waker, arrow), that zoom and pan request only
the window shown, search, and the menu to the delay profiles.
Screenshots go to <build dir>/artifacts/timeline/.  No timing asserted.
"""
import json
import os
import subprocess
import sys
import time
import urllib.error

import pytest

from conftest import GOLDEN, cprof_bin
from test_trace import measured, run, waits  # noqa: F401 (the fixture)
from test_webui import BROWSER_DIR, Server, browser_missing, server  # noqa: F401

ARTIFACTS = os.path.join(os.path.dirname(cprof_bin()), "artifacts", "timeline")


@pytest.fixture(scope="module")
def mutex_trace(waits, tmp_path_factory):  # noqa: F811
    d = tmp_path_factory.mktemp("tltrace")
    f = d / "mutex.json"
    p = run(waits, "mutex", env={"CPROF_TRACE": str(f)})
    return str(f), measured(p.stdout)


def getj(srv, path):
    return json.loads(srv.get(path))


def get_built(srv, path):
    """A view of the trace's delay profiles: 503 until the loader thread
    has built them (webui_trace.c)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            return srv.get(path)
        except urllib.error.HTTPError as e:
            body = e.read().decode()
            if e.code != 503 or time.monotonic() > deadline:
                raise
            assert "still being built" in body, body
            time.sleep(0.2)


def test_endpoints_match_the_program(server, mutex_trace):  # noqa: F811
    f, truth = mutex_trace
    srv = server("-http=127.0.0.1:0", "-no_browser", f)
    meta = getj(srv, "/ui/data/timeline/meta")
    assert getj(srv, "/ui/data/meta")["timeline"] is True
    lanes = {l["tid"]: l for l in meta["lanes"]}
    start = json.load(open(f))["otherData"]["start_monotonic_ns"]
    for w in truth:
        ln = lanes[w["tid"]]["lane"]
        win = getj(srv, f"/ui/data/timeline?t0={meta['t0']}&t1={meta['t1']}&w=2000&lanes={ln}")
        it = win["lanes"][0]["items"]
        mx = [it[i:i + 5] for i in range(0, len(it), 5) if it[i + 2] < len(meta["states"]) and meta["states"][it[i + 2]] == "mutex"]
        assert len(mx) == 1, mx
        t0, t1, _, n, idx = mx[0]
        assert n == 1 and idx >= 0
        ev = getj(srv, f"/ui/data/timeline/event?lane={ln}&idx={idx}")
        # the wait (blocked + runnable) as the program measured it, within 1 ms
        assert abs(ev["wait"]["t0"] - (w["t0"] - start)) < 1e6, (ev, w)
        assert abs(ev["wait"]["t1"] - (w["t1"] - start)) < 1e6, (ev, w)
        assert ev["event"]["args"]["reason"] == "mutex"
        assert ev["waker"] and ev["waker"]["tid"] == w["waker"], (ev["waker"], w)
        assert ev["event"]["args"]["stack"][0].startswith("pthread_mutex_lock")
    # the sampled counters, each point as the trace has it
    want = [e for e in json.load(open(f))["traceEvents"]
            if e["ph"] == "C" and e["name"] == "threads alive"]
    got = [c for c in meta["counters"] if c["name"] == "threads alive"]
    assert want and len(got) == 1 and got[0]["series"] == "threads", meta["counters"]
    pts = got[0]["points"]
    assert [(round(pts[i] / 1e3, 3), pts[i + 1]) for i in range(0, len(pts), 2)] == \
        [(round(e["ts"], 3), e["args"]["threads"]) for e in want]
    s = getj(srv, "/ui/data/timeline/search?q=pthread_mutex_lock")
    assert len(s["matches"]) == len(truth) and not s["more"]
    # the delay profiles of the trace through tp=
    top = get_built(srv, "/ui/data/top?tp=sync").decode()
    assert "pthread_mutex_lock" in top and "usleep" not in top
    assert "usleep" in get_built(srv, "/ui/data/top?tp=syscall").decode()
    # without tp=: the -trace_pprof kind (sync by default)
    assert get_built(srv, "/ui/data/top").decode() == top


@pytest.mark.parametrize("query,msg", [
    ("t0=5&t1=1&w=100", "t0, t1"),
    ("t0=0&t1=10&w=0", "w:"),
    ("t0=0&t1=10&w=100&lanes=99", "lanes:"),
    ("t0=0&t1=10&w=100&lanes=0,x", "lanes:"),
])
def test_bad_window_is_400(server, mutex_trace, query, msg):  # noqa: F811
    srv = server("-http=127.0.0.1:0", "-no_browser", mutex_trace[0])
    with pytest.raises(urllib.error.HTTPError) as e:
        srv.get("/ui/data/timeline?" + query)
    assert e.value.code == 400
    assert msg in e.value.read().decode()


def test_no_trace_is_404(server, tmp_path):  # noqa: F811
    srv = server("-http=127.0.0.1:0", "-no_browser", os.path.join(GOLDEN, "cpu.pb.gz"))
    assert getj(srv, "/ui/data/meta")["timeline"] is False
    with pytest.raises(urllib.error.HTTPError) as e:
        srv.get("/ui/data/timeline/meta")
    assert e.value.code == 404


def test_broken_trace_is_one_line(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text('{"traceEvents":[{"ph":"X","ts":1,"dur":2,"cat":"running"},')
    r = subprocess.run([cprof_bin(), "-http=127.0.0.1:0", "-no_browser", str(f)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(f) in lines[0] and "not a Chrome trace" in lines[0], r.stderr


@pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))
def test_timeline_in_chromium(server, mutex_trace):  # noqa: F811
    f, truth = mutex_trace
    first = min(truth, key=lambda w: w["t0"])   # waiter0, woken by the holder
    names = {l["tid"]: l["name"] for l in json.loads(
        server("-http=127.0.0.1:0", "-no_browser", f).get("/ui/data/timeline/meta"))["lanes"]}
    srv = server("-http=127.0.0.1:0", "-no_browser", f)
    os.makedirs(ARTIFACTS, exist_ok=True)
    r = subprocess.run(["node", os.path.join(BROWSER_DIR, "timeline.mjs"), srv.url + "/ui/", ARTIFACTS,
                        f"waiter={names[first['tid']]}", f"waker={first['waker']}"],
                       capture_output=True, text=True, timeout=300, cwd=BROWSER_DIR)
    sys.stdout.write(r.stdout)
    fails = [l for l in r.stdout.splitlines() if l.startswith("FAIL")]
    assert r.returncode == 0 and not fails, "\n".join(fails) or r.stderr[-2000:]
    assert r.stdout.count("ok timeline/") >= 9


@pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))
def test_many_threads_scroll(server, tmp_path):  # noqa: F811
    """3,000 threads: more lanes than one canvas can be tall (the page
    keeps the canvas at the viewport and asks for the visible lanes)."""
    n = 3000
    ev = [{"ph": "X", "pid": 1, "tid": 10 + i, "cat": "running", "name": "running",
           "ts": i, "dur": 1000} for i in range(n)]
    f = tmp_path / "many.json"
    f.write_text(json.dumps({"traceEvents": ev}))
    srv = server("-http=127.0.0.1:0", "-no_browser", str(f))
    os.makedirs(ARTIFACTS, exist_ok=True)
    r = subprocess.run(["node", os.path.join(BROWSER_DIR, "timeline.mjs"), srv.url + "/ui/", ARTIFACTS,
                        f"many={n}"], capture_output=True, text=True, timeout=300, cwd=BROWSER_DIR)
    sys.stdout.write(r.stdout)
    assert r.returncode == 0 and "ok timeline/many-lanes-scroll" in r.stdout, r.stdout + r.stderr[-2000:]


def big_trace(path, n, broken_at=None):
    """n events of 4 threads in the runtime's layout (with a thread name,
    a counter and flows): over 8 MiB from ~70,000 on, so `cprof -http`
    reads it on a reader thread while it indexes.  broken_at: the event
    whose name gets a control character; returns its string's offset."""
    parts, off, bad = ['{"displayTimeUnit":"ns","traceEvents":[\n'], 0, None
    off = len(parts[0])
    for i in range(n):
        tid = 1 + i % 4
        if i % 2:
            e = ('{"ph":"X","pid":1,"tid":%d,"name":"blocked: mutex","cat":"blocked","ts":%d.125,'
                 '"dur":3.500,"args":{"reason":"mutex","stack":["lock a.c:1","w b.c:2"]}}' % (tid, i * 10))
        else:
            e = ('{"ph":"X","pid":1,"tid":%d,"name":"running","cat":"running","ts":%d,"dur":4}'
                 % (tid, i * 10))
        if i == broken_at:
            bad = off + e.index('"running"')   # the scanner names the string's start
            e = e.replace('running"', 'run\x01ing"', 1)
        e += ",\n"
        parts.append(e)
        off += len(e)
    parts.append('{"ph":"M","pid":1,"tid":1,"name":"thread_name","args":{"name":"main"}},\n'
                 '{"ph":"C","pid":1,"tid":1,"name":"threads","ts":5,"args":{"threads":4}},\n'
                 '{"ph":"s","pid":1,"tid":2,"name":"wake","cat":"wake","ts":11,"id":1},\n'
                 '{"ph":"f","pid":1,"tid":1,"name":"wake","cat":"wake","bp":"e","ts":20,"id":1}\n'
                 '],"otherData":{"producer":"cprof"}}\n')
    path.write_text("".join(parts))
    return bad


def test_large_trace_read_while_indexed(server, tmp_path):  # noqa: F811
    """A trace of more than 8 MiB is indexed while it is read
    (timeline_load.c): the index holds every event, and a fault deep in
    the file is refused with the offset the scanner finds in the whole
    bytes."""
    f = tmp_path / "big.json"
    n = 80000
    big_trace(f, n)
    assert f.stat().st_size > 8 << 20
    meta = getj(server("-http=127.0.0.1:0", "-no_browser", str(f)), "/ui/data/timeline/meta")
    assert (meta["events"], meta["slices"], meta["flows"]) == (n + 4, n, 1), \
        {k: meta[k] for k in ("events", "slices", "flows", "skipped")}
    assert len(meta["lanes"]) == 4 and meta["lanes"][0]["name"] == "main"
    assert meta["lanes"][0]["n"] == n // 4
    assert meta["counters"][0]["name"] == "threads"
    b = tmp_path / "broken.json"
    at = big_trace(b, n, broken_at=n - 10)
    r = subprocess.run([cprof_bin(), "-http=127.0.0.1:0", "-no_browser", str(b)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"control character in a string at byte {at}" in lines[0], \
        (at, r.stderr)


def other_threads(srv):
    """The names of the server's threads but its main one and the web
    server's: the delay profiles' loader while it lives."""
    pid, names = srv.proc.pid, []
    for t in os.listdir(f"/proc/{pid}/task"):
        if int(t) != pid:
            try:
                with open(f"/proc/{pid}/task/{t}/comm") as fh:
                    names.append(fh.read().strip())
            except FileNotFoundError:
                pass   # ended meanwhile
    return [n for n in names if not n.startswith("MHD")]


def wait_gone(srv, limit=60):
    deadline = time.monotonic() + limit
    while other_threads(srv) and time.monotonic() < deadline:
        time.sleep(0.05)
    return other_threads(srv)


def test_profiles_wait_for_the_first_window(server, tmp_path):  # noqa: F811
    """The delay profiles' loader (webui_trace.c) parses the whole trace
    again; at SCHED_IDLE it yields the CPU but not the caches, and made
    the first window's query of a large trace slower.  It waits: the
    timeline page's own requests before its first window leave it
    waiting; the first window starts it; with no page, another view or
    3 s does."""
    f = tmp_path / "small.json"
    big_trace(f, 2000)
    srv = server("-http=127.0.0.1:0", "-no_browser", str(f))
    srv.get("/ui/timeline")
    srv.get("/ui/static/timeline.js")
    meta = getj(srv, "/ui/data/timeline/meta")
    time.sleep(1)   # a parse of 2,000 events takes milliseconds: held, it waits
    assert other_threads(srv) == ["cprof"], other_threads(srv)
    getj(srv, f"/ui/data/timeline?t0={meta['t0']}&t1={meta['t1']}&w=100&lanes=0")
    assert wait_gone(srv) == []
    assert b"lock" in get_built(srv, "/ui/data/top?tp=sync")
    # nothing asked: it starts by itself
    srv2 = server("-http=127.0.0.1:0", "-no_browser", str(f))
    assert wait_gone(srv2) == []
    # another view asked for first: it starts for it
    srv3 = server("-http=127.0.0.1:0", "-no_browser", str(f))
    assert b"lock" in get_built(srv3, "/ui/data/top?tp=sync")
