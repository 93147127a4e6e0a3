"""`cprof server`'s targets: where they come from and how they are reached
(src/server/config.c, relabel.c, discovery.c, scrape.c, rules.c).

- profiling_config.path_prefix: a target serving its profiles under a
  prefix is scraped there, and a rule's snapshots are fetched there too;
- file_sd_configs and relabel_configs: target files (JSON and YAML)
  changed, broken, added and removed under a running server;
- TLS and credentials: the runtime's own endpoint (CPROF_TOKEN, HTTPS from
  a self-signed certificate made here) scraped with ca_file and
  authorization.credentials_file; Go's net/http/pprof behind basic auth
  (built with Debian's go); a loopback target checking basic_auth,
  bearer_token_file (rotated while the server runs) and a client
  certificate (cert_file/key_file);
- limits.max_series_per_target on scraped series: the excess refused,
  counted, and named in /api/v1/targets.

Every service is on loopback, started and stopped here; waits are bounded
polls, no timing is asserted.
"""
import base64
import json
import os
import re
import shutil
import ssl
import subprocess
import threading
import urllib.parse

import pytest

from conftest import GOLDEN, ROOT, have_go, sanitized_build
from srvtools import Server, Target, wait_for
from test_http import Program
from test_server_scrape import worker  # noqa: F401 (the fixture: worker.c built)

PROFILES = ("process_cpu", "heap", "memory", "mutex", "block", "goroutine", "threadcreate")
HEAP = open(os.path.join(GOLDEN, "heap.pb.gz"), "rb").read()
FILES = {"heap": HEAP,
         "goroutine": open(os.path.join(GOLDEN, "goroutine.pb.gz"), "rb").read(),
         "profile": open(os.path.join(GOLDEN, "cpu.pb.gz"), "rb").read()}


def q(**kw):
    return urllib.parse.urlencode(kw)


def off(keep=()):
    return "".join(f"        {p}: {{enabled: false}}\n" for p in PROFILES if p not in keep)


def heap_job(name, rest="", prefix=""):
    """A job scraping only the heap every second (a generous timeout: a TLS
    handshake under the sanitizers is slow); rest: more of its keys
    (4-space indented lines)."""
    pre = f"      path_prefix: {prefix}\n" if prefix else ""
    return (f"  - job_name: {name}\n    scrape_interval: 1s\n    scrape_timeout: 20s\n"
            f"    profiling_config:\n{pre}"
            f"      pprof_config:\n{off(keep=('heap',))}{rest}")


def targets(s):
    return s.json("/api/v1/targets")["targets"]


# ---- path_prefix ------------------------------------------------------------------


def test_path_prefix_for_scrapes_and_rule_snapshots(tmp_path):
    """A target serving its profiles under /app/pprof (Parca's path_prefix):
    the heap is scraped there, and a rule's snapshots (heap, goroutine,
    profile?seconds=) are fetched there too; nothing is asked under
    /debug/pprof."""
    def answer(path, h):
        p = path.split("?")[0]
        if p == "/metrics":
            return 200, b"app_queue_depth 1000\n"
        if p.startswith("/app/pprof/") and p[len("/app/pprof/"):] in FILES:
            return 200, FILES[p[len("/app/pprof/"):]]
        return 404, b"no"
    t = Target(answer)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("scrape_configs:\n" + heap_job("pre", f"""    static_configs:
      - targets: ["{t.addr}"]
""", prefix="/app/pprof/") + """rules:
  - {name: deep, when: 'app_queue_depth > 500', cooldown: 1h, seconds: 1s}
""")
    s = Server(str(tmp_path / "data"), f"-config={cfg}")
    try:
        snaps = wait_for(lambda: len(s.json("/api/v1/snapshots")["snapshots"]) >= 3 and
                         s.json("/api/v1/snapshots")["snapshots"], timeout=90)
        assert snaps, (s.json("/api/v1/snapshots"), t.paths())
        assert sorted(x["type"] for x in snaps) == ["cpu", "goroutine", "heap"], snaps
        assert wait_for(lambda: s.request("/api/v1/profile?" + q(query='{job="pre"}', type="heap"))[0]
                        == 200, timeout=60)
        paths = set(t.paths())
        assert {"/app/pprof/heap", "/app/pprof/goroutine", "/app/pprof/profile"} <= paths, paths
        assert not [p for p in paths if p.startswith("/debug/")], paths
    finally:
        rc, err = s.stop()
        t.stop()
    assert rc == 0, err


# ---- file_sd_configs and relabel_configs ---------------------------------------------


def test_file_sd_and_relabel_under_a_running_server(tmp_path):
    """Targets from files that change while the server runs: a JSON file
    of two groups, relabelled (keep by env, the file's name as a label,
    the port from __address__, k8s_ labels mapped, __metrics_path__ per
    target); the file rewritten (a target goes, another comes); a broken
    version (its targets kept, one line on stderr naming file and line);
    a second, YAML file; the first file removed."""
    hits = {}
    lock = threading.Lock()

    def mk(name):
        def answer(path, h):
            with lock:
                hits.setdefault(name, []).append(path)
            p = path.split("?")[0]
            if p in ("/metrics", "/custom"):
                return 200, b"x 1\n"
            return (200, HEAP) if p == "/debug/pprof/heap" else (404, b"")
        return Target(answer)
    a, b, c = mk("a"), mk("b"), mk("c")
    sd = tmp_path / "sd"
    sd.mkdir()
    f1 = sd / "fleet.json"

    def write(path, text):
        tmp = str(path) + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)      # as a deployment tool writes it
    write(f1, json.dumps([
        {"targets": [a.addr], "labels": {"env": "prod", "k8s_pod": "a-1", "drop_me": "x"}},
        {"targets": [b.addr], "labels": {"env": "dev"}},
    ]))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("scrape_configs:\n" + heap_job("sd", f"""    file_sd_configs:
      - files: ["sd/*.json", "sd/*.yaml"]
        refresh_interval: 1h
    relabel_configs:
      - {{action: keep, source_labels: [env], regex: 'prod|staging'}}
      - source_labels: [__meta_filepath]
        regex: '.*/([a-z]+)\\.(json|yaml)'
        target_label: source
      - source_labels: [__address__]
        regex: '.*:(\\d+)'
        target_label: port
      - {{action: labelmap, regex: 'k8s_(.+)', replacement: 'pod_$1'}}
      - {{action: labeldrop, regex: 'k8s_.*|drop_.*'}}
      - source_labels: [custom]
        regex: 'yes'
        target_label: __metrics_path__
        replacement: /custom
"""))
    s = Server(str(tmp_path / "data"), f"-config={cfg}")

    def by_inst():
        return {x["labels"]["instance"]: x for x in targets(s)}
    try:
        t = by_inst()
        assert set(t) == {a.addr}, t       # the first read is there at start
        assert t[a.addr]["labels"] == {"job": "sd", "instance": a.addr, "env": "prod",
                                       "source": "fleet", "port": a.addr.split(":")[1],
                                       "pod_pod": "a-1"}, t
        assert wait_for(lambda: s.request("/api/v1/profile?" + q(
            query=f'{{job="sd",instance="{a.addr}",source="fleet"}}', type="heap"))[0] == 200,
            timeout=60)
        # rewritten: a goes, b is prod now, with its own metrics path
        write(f1, json.dumps([{"targets": [b.addr], "labels": {"env": "prod", "custom": "yes"}}]))
        assert wait_for(lambda: set(by_inst()) == {b.addr}, timeout=30), by_inst()
        assert wait_for(lambda: "/custom" in hits.get("b", []), timeout=30), hits
        assert "/metrics" not in hits.get("b", []), hits
        n_a = len(hits.get("a", []))
        # broken: b stays
        write(f1, '[{"targets": ["' + b.addr + '"], "labels": {"env": "prod"}\n')
        yml = sd / "more.yaml"
        write(yml, f"- targets: ['{c.addr}']\n  labels:\n    env: staging\n")
        assert wait_for(lambda: set(by_inst()) == {b.addr, c.addr}, timeout=30), by_inst()
        assert by_inst()[c.addr]["labels"]["source"] == "more"
        # the first file removed: only the YAML file's target
        os.unlink(f1)
        assert wait_for(lambda: set(by_inst()) == {c.addr}, timeout=30), by_inst()
        # a is no longer asked (at most a request in flight at its removal)
        assert len(hits.get("a", [])) <= n_a + 2, hits
    finally:
        rc, err = s.stop()
        for x in (a, b, c):
            x.stop()
    assert rc == 0, err
    bad = [ln for ln in err.splitlines() if "file_sd of job sd" in ln]
    assert len(bad) == 1 and f"{f1}:2:" in bad[0] and "previous targets are kept" in bad[0], err


def test_file_sd_refresh_interval_rereads_an_unchanged_looking_file(tmp_path):
    """A file rewritten in place with the same size, inode and modification
    time (nothing a poll of its stat sees) is read again at
    refresh_interval: its new target replaces the old."""
    a = Target(lambda p, h: (200, HEAP))
    b = Target(lambda p, h: (200, HEAP))
    assert len(a.addr) == len(b.addr)
    f = tmp_path / "t.json"
    f.write_text(json.dumps([{"targets": [a.addr]}]))
    st = os.stat(f)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("scrape_configs:\n" + heap_job("r", """    file_sd_configs:
      - files: [t.json]
        refresh_interval: 3s
"""))
    s = Server(str(tmp_path / "data"), f"-config={cfg}")
    try:
        assert [x["labels"]["instance"] for x in targets(s)] == [a.addr]
        with open(f, "r+") as fh:             # same inode, same size
            fh.write(json.dumps([{"targets": [b.addr]}]))
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert wait_for(lambda: [x["labels"]["instance"] for x in targets(s)] == [b.addr],
                        timeout=30), targets(s)
    finally:
        rc, err = s.stop()
        a.stop()
        b.stop()
    assert rc == 0, err


def test_file_sd_churn_while_scrapes_and_snapshots_run(tmp_path):
    """Targets that come and go while their scrapes and a rule's snapshots
    are in flight (slow answers): the file flips between two targets 15
    times; the server ends with the last file's target, nothing is
    scraped from a target after it went for longer than its requests in
    flight, and it stops cleanly (exit 0: under the sanitizer build, no
    use after free and no leak)."""
    import time

    def mk():
        def answer(path, h):
            p = path.split("?")[0]
            if p == "/metrics":
                return 200, b"app_queue_depth 1000\n"
            time.sleep(0.3)
            name = p.rsplit("/", 1)[-1]
            return (200, FILES[name]) if name in FILES else (404, b"")
        return Target(answer)
    a, b = mk(), mk()
    f = tmp_path / "t.json"

    def write(addr):
        tmp = str(f) + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(json.dumps([{"targets": [addr]}]))
        os.replace(tmp, f)
    write(a.addr)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("scrape_configs:\n" + heap_job("churn", """    file_sd_configs:
      - files: [t.json]
""") + "rules:\n  - {name: r, when: 'app_queue_depth > 500', cooldown: 0s, seconds: 1s}\n")
    s = Server(str(tmp_path / "data"), f"-config={cfg}")
    try:
        for i in range(15):
            write(b.addr if i % 2 == 0 else a.addr)
            time.sleep(0.7)
        assert wait_for(lambda: [x["labels"]["instance"] for x in targets(s)] == [b.addr],
                        timeout=30), targets(s)
        # a's requests in flight end (slow answers, and a loaded machine
        # may deliver one late): until none has come for 2 s; a server
        # still scraping a every second never gets there
        last = [len(a.seen), time.monotonic()]

        def quiet():
            if len(a.seen) != last[0]:
                last[:] = [len(a.seen), time.monotonic()]
            return time.monotonic() - last[1] >= 2
        assert wait_for(quiet, timeout=60, step=0.1), a.seen[-5:]
        n = len(a.seen)
        time.sleep(3)
        assert len(a.seen) == n, a.seen[n:]
        assert s.json("/api/v1/snapshots")["snapshots"], "no rule fired"
    finally:
        rc, err = s.stop()
        a.stop()
        b.stop()
    assert rc == 0, err


# ---- TLS and credentials ---------------------------------------------------------------


def make_cert(d, cn):
    key, cert = str(d / f"{cn}.key"), str(d / f"{cn}.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", f"/CN={cn}",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, cert


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")
def test_runtime_endpoint_with_token_and_tls(tmp_path, worker):
    """The runtime's endpoint over HTTPS with CPROF_TOKEN: scraped with the
    certificate as ca_file and the token from credentials_file (up, heap
    stored); a wrong token is 401, a missing CA a certificate error
    (both down, with that error); insecure_skip_verify with bearer_token
    is up."""
    key, cert = make_cert(tmp_path, "target")
    prog = Program(worker, secs=300, extra_env={"CPROF_TOKEN": "s3cret", "CPROF_HTTP_TLS_CERT": cert,
                                                "CPROF_HTTP_TLS_KEY": key})
    assert prog.url and prog.url.startswith("https://"), prog.lines
    (tmp_path / "tok").write_text("s3cret\n")
    (tmp_path / "wrong").write_text("nope\n")
    def job(name, auth):
        return heap_job(name, f"""    scheme: https
{auth}    static_configs:
      - targets: ["{prog.addr}"]
""")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("scrape_configs:\n" +
                   job("good", "    tls_config: {ca_file: target.pem}\n"
                               "    authorization: {credentials_file: tok}\n") +
                   job("badtoken", "    tls_config: {ca_file: target.pem}\n"
                                   "    authorization: {type: Bearer, credentials_file: wrong}\n") +
                   job("noca", "    bearer_token: s3cret\n") +
                   job("insecure", "    tls_config: {insecure_skip_verify: true}\n"
                                   "    bearer_token: s3cret\n"))
    s = Server(str(tmp_path / "data"), f"-config={cfg}")
    try:
        # each target's own state: a scrape can also end in the 5 s connect
        # timeout when the sanitizer build's TLS handshake runs on a loaded
        # machine (down, "SSL connection timeout"), and each target has
        # its own scrape phase: the next scrape a second later decides
        def reaches(name, state, error):
            def now():
                x = {x["job"]: x for x in targets(s)}[name]
                return x["state"] == state and error(x["last_error"])
            return wait_for(now, timeout=120)
        assert reaches("good", "up", lambda e: e == ""), targets(s)
        assert reaches("insecure", "up", lambda e: True), targets(s)
        assert reaches("badtoken", "down", lambda e: "HTTP status 401" in e), targets(s)
        assert reaches("noca", "down", lambda e: "certificate" in e.lower()), targets(s)
        assert wait_for(lambda: s.request("/api/v1/profile?" + q(query='{job="good"}', type="heap"))[0]
                        == 200, timeout=60)
    finally:
        rc, err = s.stop()
        prog.stop(asan_exit_hang=True)
    assert rc == 0, err


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")
def test_basic_auth_rotated_bearer_file_and_client_cert(tmp_path):
    """basic_auth with password_file; bearer_token_file re-read at each
    request (the token rotated while the server runs is sent from then
    on); an HTTPS target that requires a client certificate, reached with
    cert_file/key_file (and refused without)."""
    key, cert = make_cert(tmp_path, "srv")
    ckey, ccert = make_cert(tmp_path, "client")
    want_basic = "Basic " + base64.b64encode(b"prof:pa ss").decode()
    tokens = {"t1"}

    def answer_basic(path, h):
        return (200, HEAP) if h.get("Authorization") == want_basic else (401, b"who?")

    def answer_bearer(path, h):
        ok = h.get("Authorization", "").removeprefix("Bearer ") in tokens
        return (200, HEAP) if ok else (401, b"who?")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(ccert)
    tb, tt = Target(answer_basic), Target(answer_bearer)
    tc = Target(lambda p, h: (200, HEAP), tls=ctx)
    (tmp_path / "pw").write_text("pa ss\n")
    tokfile = tmp_path / "token"
    tokfile.write_text("t0")
    def job(name, keys, t):
        return heap_job(name, f'    metrics_path: ""\n{keys}    static_configs: [{{targets: ["{t.addr}"]}}]\n')
    cfg = tmp_path / "c.yaml"
    cfg.write_text("scrape_configs:\n" +
                   job("basic", "    basic_auth: {username: prof, password_file: pw}\n", tb) +
                   job("bearer", "    bearer_token_file: token\n", tt) +
                   job("mtls", "    scheme: https\n    tls_config: {ca_file: srv.pem, "
                               "cert_file: client.pem, key_file: client.key}\n", tc) +
                   job("nocert", "    scheme: https\n    tls_config: {ca_file: srv.pem}\n", tc))
    s = Server(str(tmp_path / "data"), f"-config={cfg}")
    try:
        def job(name):
            return {x["job"]: x for x in targets(s)}[name]
        assert wait_for(lambda: job("basic")["state"] == "up", timeout=60), targets(s)
        assert wait_for(lambda: job("mtls")["state"] == "up", timeout=60), targets(s)
        assert wait_for(lambda: job("nocert")["state"] == "down", timeout=60), targets(s)
        # down for the token, not for a scrape a loaded machine timed out
        assert wait_for(lambda: (lambda x: x["state"] == "down" and
                                 "HTTP status 401" in x["last_error"])(job("bearer")),
                        timeout=60), targets(s)
        # the token rotated in its file: the next scrapes send it
        tokens.add("t1")
        tokfile.write_text("t1\n")
        assert wait_for(lambda: job("bearer")["state"] == "up", timeout=60), targets(s)
        sent = {h.get("Authorization") for _, h in tt.seen}
        assert sent == {"Bearer t0", "Bearer t1"}, sent
    finally:
        rc, err = s.stop()
        for t in (tb, tt, tc):
            t.stop()
    assert rc == 0, err


@pytest.mark.skipif(not have_go(), reason="go (golang-go) is not installed")
def test_go_pprof_behind_basic_auth(tmp_path):
    """Go's net/http/pprof behind basic auth (tests/e2e/programs/pprofauth):
    with the credentials (password from password_file) its heap and
    goroutine profiles are stored; with a wrong password the target is
    down with Go's 401."""
    exe = str(tmp_path / "pprofauth")
    env = dict(os.environ, GO111MODULE="off", GOFLAGS="")
    subprocess.run(["go", "build", "-o", exe, "main.go"], check=True, env=env, timeout=300,
                   cwd=os.path.join(ROOT, "tests", "e2e", "programs", "pprofauth"))
    go = subprocess.Popen([exe, "scraper", "pa:ss w0rd"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
    try:
        m = re.match(r"PORT (\d+)", go.stdout.readline())
        assert m
        (tmp_path / "pw").write_text("pa:ss w0rd\n")
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"""scrape_configs:
  - job_name: gosvc
    scrape_interval: 1s
    basic_auth: {{username: scraper, password_file: pw}}
    static_configs: [{{targets: ["127.0.0.1:{m.group(1)}"]}}]
  - job_name: wrong
    scrape_interval: 1s
    metrics_path: ""
    basic_auth: {{username: scraper, password: nope}}
    static_configs: [{{targets: ["127.0.0.1:{m.group(1)}"]}}]
""")
        s = Server(str(tmp_path / "data"), f"-config={cfg}")
        try:
            assert wait_for(lambda: all(s.request("/api/v1/profile?" + q(query='{job="gosvc"}', type=k))[0]
                                        == 200 for k in ("heap", "goroutine")), timeout=120), targets(s)
            # Each target keeps its own scrape phase: the wrong one may not have
            # been tried yet when the good one's profiles are in.
            assert wait_for(lambda: {x["job"]: x for x in targets(s)}["wrong"]["state"] != "unknown",
                            timeout=60), targets(s)
            t = {x["job"]: x for x in targets(s)}
            assert t["gosvc"]["state"] == "up", t
            assert t["wrong"]["state"] == "down" and "HTTP status 401" in t["wrong"]["last_error"], t
        finally:
            rc, err = s.stop()
        assert rc == 0, err
    finally:
        go.stdin.close()
        go.wait(timeout=30)


# ---- limits on scraped series ------------------------------------------------------------


def test_series_limit_applies_to_scraped_series(tmp_path):
    """limits.max_series_per_target: 8 for a target whose /metrics carries
    30 label sets of one metric: what fits is stored, the excess refused
    and counted (series_refused), last_error says so, the target stays
    up; a second target of its own has its own budget."""
    def answer(path, h):
        p = path.split("?")[0]
        if p == "/metrics":
            return 200, "".join(f'app_requests_total{{path="/p{i}"}} {i}\n'
                                for i in range(30)).encode()
        return (200, HEAP) if p == "/debug/pprof/heap" else (404, b"")
    t1, t2 = Target(answer), Target(answer)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("limits: {max_series_per_target: 8}\nscrape_configs:\n" + heap_job("many", f"""\
    static_configs:
      - targets: ["{t1.addr}", "{t2.addr}"]
"""))
    s = Server(str(tmp_path / "data"), f"-config={cfg}")
    try:
        def refused():
            t = targets(s)
            return t if all(x["series_refused"] > 0 for x in t) else None
        t = wait_for(refused, timeout=60)
        assert t, targets(s)
        for x in t:
            assert x["state"] == "up", x
            assert "refused" in x["last_error"] and "max_series_per_target (8)" in x["last_error"], x
        doc = s.json("/api/v1/series?" + q(type="metric", name="app_requests_total", step="10s",
                                           **{"from": "now-10m"}))
        per = {}
        for x in doc["series"]:
            per[x["labels"]["instance"]] = per.get(x["labels"]["instance"], 0) + 1
        # the heap's series and the metric series share each target's 8
        assert set(per) == {t1.addr, t2.addr} and all(7 <= n <= 8 for n in per.values()), per
    finally:
        rc, err = s.stop()
        t1.stop()
        t2.stop()
    assert rc == 0, err


# ---- memory per target ---------------------------------------------------------------------


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def test_discovered_targets_cost_little_memory(tmp_path):
    """2,000 discovered targets (closed ports) cost the server a few KB
    each: a target's labels are kept packed, not as fixed label arrays
    (~150 KB a target before, 300 MB for these)."""
    sd = tmp_path / "t.json"
    sd.write_text(json.dumps([{"targets": [f"127.0.0.1:{20000 + i}" for i in range(2000)],
                               "labels": {"env": "prod", "team": "t" * 100}}]))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""scrape_configs:
  - job_name: many
    scrape_interval: 60s
    file_sd_configs: [{{files: ["{sd}"]}}]
""")
    s = Server(str(tmp_path / "data"), f"-config={cfg}")
    try:
        assert wait_for(lambda: len(targets(s)) == 2000, timeout=120), len(targets(s))
        t = targets(s)[0]
        assert t["labels"]["team"] == "t" * 100 and t["labels"]["env"] == "prod", t
        # (ASan's shadow memory and quarantine make resident sizes meaningless)
        grown = rss_kb(s.p.pid)
        assert sanitized_build() or grown < 64 * 1024, f"{grown} kB resident with 2,000 targets"
    finally:
        rc, err = s.stop()
    assert rc == 0, err
