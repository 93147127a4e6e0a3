"""The web UI of `cprof server` (web/server/, src/server/ui.c), driven in
Debian's Chromium by tests/browser/server_ui.mjs as a person would use it,
against a real server: fed by pushes (two services, one in two versions
whose `format` frame triples in its second hour) and scraping a C program
under the runtime (tests/runtime/http/worker.c) with a rule that pins
snapshots at once, plus a target that is down.  Every control, the drag
on the chart, both comparisons, the snapshot marks and pages, the empty
states, both themes; screenshots in <build dir>/artifacts/server_ui/.
Also the endpoints the page added, without a browser: series?limit=,
diff?base_query=, the flame's w= pruning, the assets' ETag."""
import gzip
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse

import pytest

from conftest import ROOT, cprof_bin, skip_if_sanitized
from srvtools import Server, wait_for
from test_http import Program
from test_server_scrape import worker  # noqa: F401 (the fixture: the worker program built)
from test_webui import BROWSER_DIR, needs_browser

ARTIFACTS = os.path.join(os.path.dirname(cprof_bin()), "artifacts", "server_ui")


def q(**kw):
    return urllib.parse.urlencode(kw)


def feed(s, now=None):
    """Pushes over the last two hours: api v1, api v2 (format x3 in the
    second hour), worker v1, one every two minutes each."""
    now = int(now or time.time())
    for svc, ver in (("api", "1"), ("api", "2"), ("worker", "1")):
        for k in range(0, 120, 2):
            t = now - 7200 + k * 60
            grow = 3 if ver == "2" and k > 60 else 1
            body = ("main;serve;parse %d\nmain;serve;render;format %d\nmain;gc %d\n"
                    % (100 + k % 7, 40 * grow, 10)).encode()
            st, _, b = s.push(f"{svc}{{version={ver},env=prod}}", body,
                              extra=f"&from={t}&until={t + 10}")
            assert st == 200, b


def run_suite(suite, url, **extra):
    os.makedirs(ARTIFACTS, exist_ok=True)
    args = ["node", os.path.join(BROWSER_DIR, "server_ui.mjs"), suite, url, ARTIFACTS]
    args += [f"{k}={v}" for k, v in extra.items()]
    r = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=BROWSER_DIR,
                       env=dict(os.environ, TZ="UTC"))
    sys.stdout.write(r.stdout)
    fails = [l for l in r.stdout.splitlines() if l.startswith("FAIL")]
    assert r.returncode == 0 and not fails, "\n".join(fails) or r.stderr[-2000:]
    assert "ok " in r.stdout


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, worker):
    """A server with pushes, a scraped program, a down target and a rule."""
    d = tmp_path_factory.mktemp("fleet")
    prog = Program(worker, secs=900)
    assert prog.url, prog.lines
    cfg = d / "cprof.yaml"
    cfg.write_text(f"""
scrape_configs:
  - job_name: native
    scrape_interval: 2s
    static_configs:
      - targets: ["{prog.addr}"]
      - targets: ["127.0.0.1:1"]
rules:
  - name: up-rule
    when: cprof_uptime_seconds > 0
    job: native
    cooldown: 1h
    seconds: 1s
""")
    s = Server(str(d / "data"), f"-config={cfg}")
    try:
        feed(s)
        sel = f'{{instance="{prog.addr}"}}'
        assert wait_for(lambda: s.request("/api/v1/profile?" + q(query=sel, type="cpu"))[0] == 200
                        and s.request("/api/v1/profile?" + q(query=sel, type="heap"))[0] == 200,
                        timeout=120), s.json("/api/v1/types")
        assert wait_for(lambda: s.json("/api/v1/snapshots")["snapshots"], timeout=120)
        assert wait_for(lambda: any(t["state"] == "down"
                                    for t in s.json("/api/v1/targets")["targets"]), timeout=60)
        yield s, prog
    finally:
        s.stop()
        prog.stop()


@needs_browser
def test_fleet_page(fleet):
    s, prog = fleet
    run_suite("fleet", s.url, instance=prog.addr)


@needs_browser
def test_empty_page(tmp_path):
    s = Server(str(tmp_path / "data"))
    try:
        run_suite("empty", s.url)
    finally:
        s.stop()


@needs_browser
def test_flame_zoom_asks_server(tmp_path):
    """Zooming into a frame loads the server's tree pruned at that zoom:
    leaves too narrow for the overview appear."""
    s = Server(str(tmp_path / "data"))
    try:
        body = "main;big 9000\n" + "".join("main;mid;leaf_%d 1\n" % i for i in range(1000))
        st, _, b = s.push("deep{env=test}", body.encode())
        assert st == 200, b
        run_suite("zoom", s.url)
    finally:
        s.stop()


@needs_browser
def test_mixed_units_one_type(tmp_path):
    """A kind with folded pushes (samples) and runtime CPU profiles
    (nanoseconds): the chart shows one sample type, named on the page."""
    s = Server(str(tmp_path / "data"))
    try:
        st, _, b = s.push("fold{env=test}", b"main;work 50\nmain;idle 5\n")
        assert st == 200, b
        pb = open(os.path.join(ROOT, "tests", "golden", "go", "cpu.pb.gz"), "rb").read()
        st, _, b = s.push("rt{env=test}", pb, fmt="pprof", extra="&from=%d" % (time.time() - 60))
        assert st == 200, b
        run_suite("mixed", s.url)
    finally:
        s.stop()


@needs_browser
def test_login_page(tmp_path):
    """With -token the browser logs in through the form and the page works
    on the session cookie (tests/e2e/test_server_login.py checks the HTTP)."""
    s = Server(str(tmp_path / "data"), "-token=br0wser")
    try:
        st, _, b = s.request("/ingest?name=first%7Benv%3Dtest%7D&format=folded",
                             data=b"main;work;compute 42\nmain;idle 8\n", method="POST",
                             headers={"Authorization": "Bearer br0wser"})
        assert st == 200, b
        run_suite("login", s.url, token="br0wser")
    finally:
        s.stop()


def test_series_limit(fleet):
    """limit=N: the N largest series, the rest summed into one."""
    s, _ = fleet
    args = dict(type="cpu", query='{env="prod"}', step="10m", **{"from": "now-3h"})
    full = s.json("/api/v1/series?" + q(**args))["series"]
    assert len(full) == 3
    top = s.json("/api/v1/series?" + q(limit=1, **args))["series"]
    assert len(top) == 2
    total = lambda ser: sum(p[1] for x in ser for p in x["points"])
    biggest = max(full, key=lambda x: sum(p[1] for p in x["points"]))
    assert top[0]["labels"] == biggest["labels"]
    assert top[1]["labels"] == {"__other__": "2 more series"}
    assert total(top) == total(full)
    st, msg = s.error("/api/v1/series?" + q(limit=0, **args))
    assert st == 400 and "limit" in msg


def test_diff_of_label_sets(fleet):
    """diff?base_query=: two selectors over one window, in pprof and flame."""
    s, _ = fleet
    args = dict(type="cpu", query='{version="2"}', base_query='{version="1",service_name="api"}',
                **{"from": "now-3h"})
    d = s.json("/api/v1/diff?" + q(format="flame", **args))
    assert d["total"] > d["baseTotal"] > 0
    names = d["names"]
    i = [k for k in range(len(d["nodes"]) // 4) if names[d["nodes"][4 * k]] == "format"][0]
    assert d["after"][i] > 1.5 * d["before"][i]
    st, _, body = s.request("/api/v1/diff?" + q(**args))
    assert st == 200 and gzip.decompress(body)
    st, msg = s.error("/api/v1/diff?" + q(type="cpu", base_query="{bad"))
    assert st == 400 and msg.startswith("base_query:")
    st, msg = s.error("/api/v1/diff?" + q(type="cpu"))
    assert st == 400 and "base_query" in msg


def test_flame_width_prunes(fleet):
    """w=: boxes under a quarter pixel are merged; zoom= zooms."""
    s, prog = fleet
    args = dict(type="cpu", query=f'{{instance="{prog.addr}"}}', **{"from": "now-1h"})
    wide = s.json("/api/v1/profile?" + q(format="flame", w=100000, **args))
    narrow = s.json("/api/v1/profile?" + q(format="flame", w=10, **args))
    assert len(narrow["nodes"]) <= len(wide["nodes"])
    assert narrow["total"] == wide["total"]
    for w in ("5", "x", "1e9"):
        st, msg = s.error("/api/v1/profile?" + q(format="flame", w=w, **args))
        assert st == 400 and msg.startswith("w:")
    push = dict(type="cpu", query='{service_name="api"}', **{"from": "now-3h"})
    z = s.json("/api/v1/profile?" + q(format="flame", zoom="main\nserve", **push))
    assert [z["names"][z["nodes"][4 * i]] for i in (1, 2)] == ["main", "serve"]
    assert z["zoom"] == ["main", "serve"]


def test_assets_and_routes(fleet):
    s, _ = fleet
    for path in ("/", "/targets", "/snapshots"):
        st, h, body = s.request(path)
        assert st == 200 and h["Content-Type"].startswith("text/html") and b"srv.js" in body
        assert h["Cache-Control"] == "no-cache" and h["ETag"]
    st, h, _ = s.request("/static/srv.js", headers={"If-None-Match": s.request("/static/srv.js")[1]["ETag"]})
    assert st == 304
    st, h, _ = s.request("/favicon.ico")
    assert st == 200 and h["Content-Type"] == "image/svg+xml"
    for bad in ("/static/../x", "/static/index.html", "/static/nope.js"):
        assert s.error(bad)[0] == 404
    assert s.error("/", data=b"x", method="POST")[0] == 405
    st, _, body = s.request("/api")
    assert st == 200 and b"/api/v1/profile" in body
    # the analysis views: the CLI's page over the window's merged profile,
    # the window in the path (/analysis/KIND/FROM/UNTIL/SELECTOR-IN-HEX/)
    now = int(time.time())
    win = lambda sel: f"/analysis/cpu/{now - 10800}/{now}/{sel.encode().hex() or '-'}/"
    st, _, body = s.request(win('{service_name="api"}') + "flamegraph")
    assert st == 200 and b"ui.js" in body
    st, _, body = s.request(win('{service_name="api"}') + "data/top")
    assert st == 200 and b"parse" in body, body
    meta = json.loads(s.request(win("") + "data/meta")[2])
    assert meta["sampleTypes"], meta
    st, msg = s.error(win('{service_name="nope"}') + "data/top")
    assert st == 404 and "no cpu profiles" in msg
    for bad in ("/analysis/cpu/1/2/", "/analysis/cpu/1/2/7/data/top", "/analysis/cpu/1/2/zz/data/top",
                "/analysis/snapshot/x/data/top"):
        assert s.error(bad)[0] == 400, bad
    sid = s.json("/api/v1/snapshots")["snapshots"][0]["id"]
    st, _, body = s.request(f"/analysis/snapshot/{sid}/data/top")
    assert st == 200, body
    assert s.error("/analysis/snapshot/999999/data/top")[0] == 404


def test_demo_serves_the_page(tmp_path):
    """make demo (examples/demo.sh): the server's page answers at the URL
    it prints, and the demo service's CPU profiles reach it."""
    skip_if_sanitized("the demo service preloads the plain build only (ASan must come first)")
    import re
    import signal
    import urllib.request
    build = os.path.dirname(cprof_bin())
    if not os.path.exists(os.path.join(build, "libcprof.so")):
        pytest.skip("no libcprof.so in " + build)
    out, err = tmp_path / "out", tmp_path / "err"
    env = dict(os.environ, NO_BROWSER="1", BUILD=os.path.relpath(build, ROOT), LD_PRELOAD="")
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.Popen([os.path.join(ROOT, "examples", "demo.sh"), "1"], stdout=o, stderr=e,
                             env=env, cwd=ROOT, start_new_session=True)
    try:
        assert wait_for(lambda: "demo.sh: serving" in err.read_text() or p.poll() is not None,
                        timeout=120)
        m = re.search(r"its page: (http://\S+/) ", err.read_text())
        assert m, err.read_text()
        with urllib.request.urlopen(m.group(1), timeout=30) as r:
            assert b"srv.js" in r.read()
        cpu = m.group(1) + "api/v1/profile?type=cpu&from=now-10m"

        def has_cpu():
            try:
                with urllib.request.urlopen(cpu, timeout=30) as r:
                    return r.status == 200
            except urllib.error.HTTPError:
                return False
        assert wait_for(has_cpu, timeout=90), err.read_text()
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=60)
