"""`cprof server` (src/server): the command, push ingest and the query API.

Every server runs on a free loopback port (-http=127.0.0.1:0) with its own
data directory, started and stopped by the test.  Profiles are pushed the
way Pyroscope's clients push them (POST /ingest, folded text, raw or
gzipped profile.proto, multipart) with urllib and curl, and read back with
`cprof` and `go tool pprof` from the query URLs.  Bad flags, config and
requests get one clear line (exit 2) or a JSON error with a 4xx status.
No timing is asserted.
"""
import gzip
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse

import pytest

from conftest import GOLDEN, cprof_bin, have_go
from srvtools import Server, gz, run_server

FOLDED = b"main;serve;parse 30\nmain;serve;write 10\nmain;idle 5\n"
NOW = int(time.time())


def q(**kw):
    return urllib.parse.urlencode(kw)


@pytest.fixture
def srv(tmp_path):
    s = Server(str(tmp_path / "data"))
    yield s
    rc, err = s.stop()
    assert rc == 0, err


def cprof_top(url, *extra):
    r = subprocess.run([cprof_bin(), "-top", *extra, url], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


# ---- the command --------------------------------------------------------------

def test_start_line_and_clean_stop(tmp_path):
    """One line says where it stores and listens; SIGTERM and SIGINT exit 0."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        s = Server(str(tmp_path / "data"))
        line = s.lines[0]
        assert str(tmp_path / "data") in line and s.url in line and "sqlite" in line, line
        rc, err = s.stop(sig)
        assert rc == 0, err


def test_default_data_dir(tmp_path):
    """Without -data it stores in ./cprof-data."""
    s = Server("./cprof-data", cwd=str(tmp_path))
    s.stop()
    s2 = subprocess.Popen([cprof_bin(), "server", "-http=127.0.0.1:0"], cwd=str(tmp_path),
                          stderr=subprocess.PIPE, text=True)
    line = s2.stderr.readline()
    s2.send_signal(signal.SIGTERM)
    s2.communicate(timeout=60)
    assert "./cprof-data" in line, line
    assert (tmp_path / "cprof-data").is_dir()


@pytest.mark.parametrize("args,want", [
    (["-bogus=1"], "unknown flag -bogus"),
    (["-storage=mysql://127.0.0.1:9000/db"], "want sqlite or clickhouse://"),
    (["-storage=clickhouse://127.0.0.1:1/db"], "-storage=clickhouse://127.0.0.1:1/db: "),
    (["-storage=clickhouse://u:secret@127.0.0.1:1/db"], "-storage=clickhouse://...@127.0.0.1:1/db"),
    (["-http=0.0.0.0:0"], "not a loopback address"),
    (["-http=127.0.0.1:99999"], "invalid port"),
    (["-retention=forever"], "-retention=forever"),
    (["-scrape=notaurl"], "-scrape=notaurl"),
    (["-config=/nonexistent/cprof.yaml"], "/nonexistent/cprof.yaml"),
    (["stray"], "unexpected argument"),
])
def test_bad_flags(tmp_path, args, want):
    r = run_server(f"-data={tmp_path}/d", *args)
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and want in lines[0], r.stderr
    assert "secret" not in r.stderr   # a password in a storage URL is never printed


def test_port_in_use(tmp_path, srv):
    port = srv.url.rsplit(":", 1)[1]
    r = run_server(f"-data={tmp_path}/d2", f"-http=127.0.0.1:{port}")
    assert r.returncode == 2 and "already in use" in r.stderr, r.stderr


CONFIG_ERRORS = [
    ("scrape_configs:\n  - job_name: a\n    scrape_intervl: 5s\n", ":3: scrape_intervl: unknown key"),
    ("scrape_configs:\n  - job_name: a\n    scrape_interval: soon\n", ":3: scrape_interval:"),
    ("retention: 7 days\n", ":1: retention:"),
    ("limits:\n  max_body: -5\n", ":2: max_body: "),
    ("limits:\n  max_body: .5\n", ":2: max_body: \".5\" is less than one byte"),   # was a 0-byte limit (fuzz_srv_config)
    ("limits:\n  max_bodies: 5\n", ":2: max_bodies: unknown key"),
    ("rules:\n  - name: r\n    when: cprof_threads >> 5\n", ":3: when:"),
    ("rules:\n  - when: cprof_threads > 5\n", "name: missing"),
    ("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [nocolon]\n",
     ":4: targets: target \"nocolon\" is not HOST:PORT"),
    ("scrape_configs:\n  - job_name: a\n    profiling_config:\n      pprof_config:\n"
     "        heap: {enabled: maybe}\n", ":5: enabled: \"maybe\" is not true or false"),
    ("scrape_configs: [\n", ":2: "),
    ("- just a list\n", ":1: (top): want a mapping"),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - {action: keep, regex: x}\n",
     ":4: source_labels: missing (action keep needs it)"),
    ("scrape_configs:\n  - job_name: a\n    relabel_configs:\n"
     "      - {source_labels: [x], regex: '[', target_label: y}\n", ":4: regex: bad regex"),
    ("scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [targets.txt]\n",
     ":4: files: \"targets.txt\" is not a .json, .yml or .yaml file"),
    ("scrape_configs:\n  - job_name: a\n    tls_config: {ca_file: missing.pem}\n",
     ":3: ca_file: cannot read "),
    ("scrape_configs:\n  - job_name: a\n    bearer_token: x\n    bearer_token_file: y\n",
     ":4: bearer_token_file: at most one of"),
]


@pytest.mark.parametrize("text,want", CONFIG_ERRORS)
def test_bad_config(tmp_path, text, want):
    """One line naming the file, the line and the key; exit 2."""
    cfg = tmp_path / "cprof.yaml"
    cfg.write_text(text)
    r = run_server(f"-data={tmp_path}/d", f"-config={cfg}")
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"cprof server: {cfg}:") and want in lines[0], r.stderr


def test_good_config(tmp_path):
    cfg = tmp_path / "cprof.yaml"
    cfg.write_text("""
retention: 30d
limits: {max_body: 1MiB, max_series_per_target: 50}
scrape_configs:
  - job_name: api
    scrape_interval: 10s
    scrape_timeout: 5s
    profiling_config:
      pprof_config:
        process_cpu: {enabled: true, path: /debug/pprof/profile, delta: true, seconds: 5s}
        memory: {enabled: false}
        fgprof: {enabled: true, path: /debug/fgprof, delta: true}
    static_configs:
      - targets: ["127.0.0.1:1"]
        labels: {env: test}
rules:
  - name: many-threads
    when: cprof_threads > 500
    cooldown: 5m
""")
    s = Server(str(tmp_path / "d"), f"-config={cfg}")
    try:
        t = s.json("/api/v1/targets")["targets"]
        assert len(t) == 1 and t[0]["labels"] == {"env": "test", "instance": "127.0.0.1:1",
                                                   "job": "api"}, t
    finally:
        assert s.stop()[0] == 0


# ---- push ---------------------------------------------------------------------

def test_push_folded_query_with_cprof_and_pprof(srv):
    """A folded push, read back from /api/v1/profile by cprof and go tool pprof."""
    st, _, body = srv.push("shop{env=prod,host=a.b.c/d}", FOLDED,
                           extra=f"&from={NOW - 10}&until={NOW}&sampleRate=100")
    assert st == 200, body
    url = srv.url + "/api/v1/profile?" + q(query='{service_name="shop",env="prod"}', type="cpu",
                                           **{"from": "now-1h", "until": "now"})
    out = cprof_top(url)
    assert "parse" in out and "write" in out and "idle" in out, out
    if have_go():
        r = subprocess.run(["go", "tool", "pprof", "-top", url], capture_output=True, text=True,
                           timeout=300, env=dict(os.environ, PPROF_TMPDIR="/tmp"))
        assert r.returncode == 0 and "parse" in r.stdout, r.stderr
    # the labels, with Pyroscope's sanitised names
    assert "env" in srv.json("/api/v1/labels")["labels"]
    assert srv.json("/api/v1/label/host/values")["values"] == ["a.b.c/d"]
    assert srv.json("/api/v1/label/service_name/values")["values"] == ["shop"]
    assert "cpu" in srv.json("/api/v1/types")["types"]


def test_push_pprof_raw_gzip_multipart(srv):
    """profile.proto raw, gzipped and in a multipart body (Pyroscope's newer clients)."""
    pb = open(os.path.join(GOLDEN, "cpu.pb.gz"), "rb").read()
    raw = gzip.decompress(pb)
    for app, body, headers in [
        ("rawapp", raw, {}),
        ("gzapp", pb, {"Content-Type": "application/octet-stream"}),
        ("mpapp", b"--XyZ\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"p\"\r\n"
                  b"Content-Type: application/octet-stream\r\n\r\n" + pb + b"\r\n--XyZ--\r\n",
         {"Content-Type": "multipart/form-data; boundary=XyZ"}),
    ]:
        st, _, b = srv.push(app, body, fmt="pprof", headers=headers, extra=f"&from={NOW}")
        assert st == 200, (app, b)
    for app in ("rawapp", "gzapp", "mpapp"):
        url = srv.url + "/api/v1/profile?" + q(query=f'{{service_name="{app}"}}', type="cpu")
        out = cprof_top(url)
        want = cprof_top(os.path.join(GOLDEN, "cpu.pb.gz"))
        # the same functions as the golden profile's top
        assert out.splitlines()[-1].split()[-1] == want.splitlines()[-1].split()[-1], (out, want)


def multipart(parts, boundary="pyroB"):
    """A multipart/form-data body of (field, bytes) parts, as Go's mime/multipart writes it."""
    out = b""
    for name, data in parts:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                f"filename=\"{name}.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), \
        {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_push_block_profile_kind(srv):
    """Go's block and mutex profiles have the same sample types (contentions/count,
    delay/nanoseconds): a push says which, as pyroscope-go does (the display names of
    its sample_type_config part), as Pyroscope's __name__ label does, or with type=."""
    block = open(os.path.join(GOLDEN, "block.pb.gz"), "rb").read()
    mutex = open(os.path.join(GOLDEN, "mutex.pb.gz"), "rb").read()
    stc_block = json.dumps({
        "contentions": {"display-name": "block_count", "units": "lock_samples"},
        "delay": {"display-name": "block_duration", "units": "lock_nanoseconds"}}).encode()
    stc_mutex = stc_block.replace(b"block_", b"mutex_")
    pushes = [
        ("gostc", block, "", multipart([("profile", block), ("sample_type_config", stc_block)])),
        ("gostcm", mutex, "", multipart([("profile", mutex), ("sample_type_config", stc_mutex)])),
        ("goname{__name__=block,env=x}", block, "", None),
        ("gotype", block, "&type=block", None),
        ("gonone", block, "", None),
    ]
    for name, body, extra, mp in pushes:
        data, headers = mp if mp else (body, {})
        st, _, b = srv.push(name, data, fmt="pprof", headers=headers, extra=f"&from={NOW}" + extra)
        assert st == 200, (name, b)
    want = {"gostc": "block", "gostcm": "mutex", "goname": "block", "gotype": "block",
            "gonone": "mutex"}
    for app, kind in want.items():
        sel = f'{{service_name="{app}"}}'
        other = "mutex" if kind == "block" else "block"
        st, _, b = srv.request("/api/v1/profile?" + q(query=sel, type=kind))
        assert st == 200 and b, (app, kind, st, b)
        doc = srv.json("/api/v1/series?" + q(query=sel, type=other))
        assert doc["series"] == [], (app, other, doc)
    # __name__ is Pyroscope's, not a label
    assert srv.json("/api/v1/label/env/values")["values"] == ["x"]
    assert "__name__" not in srv.json("/api/v1/labels")["labels"]
    # type= names a kind the sample types allow
    st, msg = srv.error("/ingest?" + q(name="bad", format="pprof", type="heap"), data=block,
                        method="POST")
    assert st == 400 and "type=heap" in msg and "mutex" in msg, msg
    st, msg = srv.error("/ingest?" + q(name="bad", format="pprof", type="bananas"), data=block,
                        method="POST")
    assert st == 400 and "not a profile kind" in msg, msg


def test_push_lines(srv):
    st, _, b = srv.push("linesapp", b"main;a;b\nmain;a;b\nmain;c\n", fmt="lines")
    assert st == 200, b
    out = cprof_top(srv.url + "/api/v1/profile?" + q(query='{service_name="linesapp"}', type="cpu"))
    assert "b" in out and "c" in out


def test_push_with_curl(srv):
    """curl, as a shell user would push; the unquoted dotted labels of @pyroscope/nodejs."""
    name = "curlapp{otel.scope.name=com.grafana.pyroscope/nodejs,process.runtime.version=20.20.2}"
    r = subprocess.run(["curl", "-sS", "-g", "-o", "/dev/null", "-w", "%{http_code}",
                        "--data-binary", "main;x 3",
                        srv.url + "/ingest?" + q(name=name, format="folded")],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout == "200", r
    assert srv.json("/api/v1/label/otel_scope_name/values")["values"] == \
        ["com.grafana.pyroscope/nodejs"]


@pytest.mark.parametrize("name,want", [
    ("", "name: missing"),
    ("{a=b}", "no application name"),
    ("app{a}", "without '='"),
    ("app{a=b", "no closing"),
    ("app{a=b}x", "after the closing"),
    ("app{9a=b}", "label name"),
    ("app{a=" + "v" * 2000 + "}", "longer than"),
    ("app{" + ",".join(f"k{i}=v" for i in range(80)) + "}", "more than"),
])
def test_push_bad_name(srv, name, want):
    st, msg = srv.error("/ingest?" + q(name=name, format="folded"), data=b"a 1", method="POST")
    assert st == 400 and want in msg, msg


def test_push_bad_bodies(srv):
    st, msg = srv.error("/ingest?" + q(name="a", format="pprof"), data=b"\x0a\xff\xff", method="POST")
    assert st == 400 and "profile.proto" in msg, msg
    st, msg = srv.error("/ingest?" + q(name="a", format="folded"), data=b"", method="POST")
    assert st == 400 and "empty" in msg, msg
    st, msg = srv.error("/ingest?" + q(name="a", format="jfr"), data=b"x", method="POST")
    assert st == 400 and "format" in msg, msg
    st, msg = srv.error("/ingest?" + q(name="a", format="pprof"), data=b"--b\r\n",
                        headers={"Content-Type": "multipart/form-data; boundary=b"}, method="POST")
    assert st == 400 and "multipart" in msg, msg
    st, msg = srv.error("/ingest?" + q(name="a"), method="GET")
    assert st == 405


def test_push_limits(tmp_path):
    """Body, inflated size and series per service are bounded: 413 and 429."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("limits: {max_body: 64KiB, max_decoded: 1MiB, max_series_per_target: 3}\n")
    s = Server(str(tmp_path / "d"), f"-config={cfg}")
    try:
        st, msg = s.error("/ingest?" + q(name="a", format="folded"), data=b"x" * 70000,
                          method="POST")
        assert st == 413 and "max_body" in msg, msg
        # chunked (no Content-Length): read to its end, dropped, 413
        big = tmp_path / "big"
        big.write_bytes(b"x" * 300000)
        r = subprocess.run(["curl", "-s", "-m", "60", "-H", "Transfer-Encoding: chunked",
                            "--data-binary", f"@{big}", "-w", " %{http_code}",
                            s.url + "/ingest?name=a&format=folded"],
                           capture_output=True, text=True, timeout=120)
        assert r.stdout.endswith(" 413") and "max_body" in r.stdout, r
        # a Content-Length of 10 GB: 413 before any body is sent
        import socket
        host, port = s.url.rsplit("/", 1)[1].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as sk:
            sk.sendall(b"POST /ingest?name=a&format=folded HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Length: 10000000000\r\n\r\n")
            assert b" 413 " in sk.recv(200).split(b"\r\n")[0]
        bomb = gz(b"\0" * (8 << 20))        # 8 MiB of zeros in ~8 KB
        st, msg = s.error("/ingest?" + q(name="a", format="pprof"), data=bomb, method="POST")
        assert st == 413 and "max_decoded" in msg, msg
        for i in range(3):
            assert s.push(f"svc{{i={i}}}", b"a 1")[0] == 200
        st, msg = s.error("/ingest?" + q(name="svc{i=9}", format="folded"), data=b"a 1",
                          method="POST")
        assert st == 429 and "svc" in msg, msg
        # the same series again is still fine; other services too
        assert s.push("svc{i=1}", b"a 1")[0] == 200
        assert s.push("other", b"a 1")[0] == 200
    finally:
        assert s.stop()[0] == 0


# ---- queries ------------------------------------------------------------------

@pytest.mark.parametrize("path,status,want", [
    ("/api/v1/profile?" + q(type="cpu", query="{a=~\"(\"}"), 400, "query:"),
    ("/api/v1/profile?" + q(type="Bad Kind!"), 400, "type:"),
    ("/api/v1/profile?" + q(type="cpu", **{"from": "yesterday"}), 400, "from:"),
    ("/api/v1/profile?" + q(type="cpu", **{"from": "now", "until": "now-1h"}), 400, "until"),
    ("/api/v1/profile?" + q(type="cpu", query='{service_name="nothing"}'), 404, "no cpu profiles"),
    ("/api/v1/diff?" + q(type="cpu"), 400, "base_from"),
    ("/api/v1/series?" + q(type="cpu", step="0.001s", **{"from": "now-7d"}), 400, "step"),
    ("/api/v1/series?" + q(type="metric"), 400, "name"),
    ("/api/v1/snapshots/abc", 400, "snapshot id"),
    ("/api/v1/nope", 404, "no such API path"),
    ("/nope", 404, "no such path"),
])
def test_query_errors(srv, path, status, want):
    st, msg = srv.error(path)
    assert st == status and want in msg, (st, msg)


def test_series_and_diff(srv):
    t0 = NOW - 600
    assert srv.push("ser", b"main;a 10\n", extra=f"&from={t0}&until={t0 + 10}")[0] == 200
    assert srv.push("ser", b"main;a 10\nmain;b 4\n", extra=f"&from={t0 + 300}&until={t0 + 310}")[0] == 200
    doc = srv.json("/api/v1/series?" + q(query='{service_name="ser"}', type="cpu",
                                         step="60s", **{"from": t0 - 60, "until": t0 + 400}))
    assert len(doc["series"]) == 1, doc
    s = doc["series"][0]
    assert s["labels"]["service_name"] == "ser"
    assert [p[1] for p in s["points"]] == [10 * 10000000, 14 * 10000000] or \
        [p[1] for p in s["points"]] == [10, 14], s
    # diff: the second window against the first: +4 b, a unchanged
    url = srv.url + "/api/v1/diff?" + q(query='{service_name="ser"}', type="cpu",
                                        **{"from": t0 + 200, "until": t0 + 400,
                                           "base_from": t0 - 60, "base_until": t0 + 100})
    assert "b" in cprof_top(url)
    r = subprocess.run([cprof_bin(), "-traces", url], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "pprof::base" in r.stdout, r.stdout


def test_restart_keeps_data(tmp_path):
    d = str(tmp_path / "data")
    s = Server(d)
    assert s.push("keep{k=v}", FOLDED)[0] == 200
    assert s.stop()[0] == 0
    s = Server(d)
    try:
        out = cprof_top(s.url + "/api/v1/profile?" + q(query='{service_name="keep"}', type="cpu"))
        assert "parse" in out
        assert "keep" in s.json("/api/v1/label/service_name/values")["values"]
    finally:
        assert s.stop()[0] == 0


def test_token(tmp_path):
    """With -token every request needs the bearer token; non-loopback needs one."""
    s = Server(str(tmp_path / "d"), "-token=s3cret", http="0.0.0.0:0")
    try:
        st, msg = s.error("/api/v1/types")
        assert st == 401 and "token" in msg
        st, msg = s.error("/api/v1/types", headers={"Authorization": "Bearer s3cre"})
        assert st == 401
        st, _, _ = s.request("/api/v1/types", headers={"Authorization": "Bearer s3cret"})
        assert st == 200
        st, _, b = s.request("/ingest?name=a&format=folded", data=b"a 1", method="POST",
                             headers={"Authorization": "Bearer s3cret"})
        assert st == 200, b
    finally:
        assert s.stop()[0] == 0


def test_merged_range_equals_merge_by_hand(srv, tmp_path):
    """A range of pushed profiles is what cprof merging the same files says."""
    files = [os.path.join(GOLDEN, "cpu.pb.gz"), os.path.join(GOLDEN, "cpu.pb.gz")]
    for i, f in enumerate(files):
        st, _, b = srv.push("merged", open(f, "rb").read(), fmt="pprof",
                            extra=f"&from={NOW - 100 * (i + 1)}&until={NOW - 100 * i}")
        assert st == 200, b

    def body(out):
        return out[out.index("Showing nodes"):]
    url = srv.url + "/api/v1/profile?" + q(query='{service_name="merged"}', type="cpu")
    got = cprof_top(url, "-nodecount=100000")
    r = subprocess.run([cprof_bin(), "-top", "-nodecount=100000", *files], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    want = r.stdout
    assert body(got) == body(want)


def test_flame_json(srv):
    """format=flame: the web API's flame graph JSON of a range and of a diff."""
    t0 = NOW - 600
    assert srv.push("fl", b"main;a 10\n", extra=f"&from={t0}&until={t0 + 10}")[0] == 200
    assert srv.push("fl", b"main;a 10\nmain;b 4\n", extra=f"&from={t0 + 300}&until={t0 + 310}")[0] == 200
    sel = '{service_name="fl"}'
    d = srv.json("/api/v1/profile?" + q(query=sel, type="cpu", format="flame",
                                        **{"from": t0 - 60, "until": t0 + 400}))
    assert {"main", "a", "b"} <= set(d["names"]), d
    d = srv.json("/api/v1/diff?" + q(query=sel, type="cpu", format="flame",
                                     **{"from": t0 + 200, "until": t0 + 400,
                                        "base_from": t0 - 60, "base_until": t0 + 100}))
    assert "after" in d and "before" in d and "b" in d["names"], d
    st, msg = srv.error("/api/v1/profile?" + q(type="cpu", format="svg"))
    assert st == 400 and "format" in msg


def test_kill9_keeps_flushed_data(tmp_path):
    """A push the server answered is committed within its flush second: after
    kill -9 and a restart it is there."""
    d = str(tmp_path / "data")
    s = Server(d)
    assert s.push("crash{k=v}", FOLDED)[0] == 200
    url_q = "/api/v1/profile?" + q(query='{service_name="crash"}', type="cpu")
    # a query flushes the store first: once it answers, the push is committed
    assert s.request(url_q)[0] == 200
    rc, _ = s.stop(signal.SIGKILL)
    assert rc == -signal.SIGKILL
    s = Server(d)
    try:
        assert "parse" in cprof_top(s.url + url_q)
    finally:
        assert s.stop()[0] == 0


def test_retention_drops_old_days(tmp_path):
    """-retention=1d: a profile pushed for three days ago (by a server that
    keeps everything) is gone after the retention pass a server with
    -retention=1d runs at its start; today's stays."""
    d = str(tmp_path / "data")
    s = Server(d, "-retention=0")      # keeps everything: the old day is stored
    old = NOW - 3 * 86400
    assert s.push("ret", FOLDED, extra=f"&from={old}&until={old + 10}")[0] == 200
    assert s.push("ret", FOLDED)[0] == 200
    sel = '{service_name="ret"}'
    old_q = "/api/v1/profile?" + q(query=sel, type="cpu", **{"from": old - 60, "until": old + 60})
    assert s.request(old_q)[0] == 200
    assert s.stop()[0] == 0
    s = Server(d, "-retention=1d")
    try:
        from srvtools import wait_for
        assert wait_for(lambda: s.request(old_q)[0] == 404, timeout=30), s.request(old_q)
        assert s.request("/api/v1/profile?" + q(query=sel, type="cpu"))[0] == 200
    finally:
        assert s.stop()[0] == 0


def test_example_config(tmp_path):
    """examples/cprof-server.yaml is a valid config."""
    from conftest import ROOT
    s = Server(str(tmp_path / "d"), "-config=" + os.path.join(ROOT, "examples", "cprof-server.yaml"))
    try:
        t = s.json("/api/v1/targets")["targets"]
        assert t[0]["job"] == "api" and t[0]["labels"]["env"] == "dev", t
    finally:
        assert s.stop()[0] == 0


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl not installed")
def test_tls_with_token(tmp_path):
    """HTTPS from PEM files, on all addresses with a token: curl pushes and
    queries over TLS; plain HTTP on that port gets nothing; a key that is
    not the certificate's, or one file alone, is one line and exit 2."""
    key, cert = str(tmp_path / "key.pem"), str(tmp_path / "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    s = Server(str(tmp_path / "d"), f"-tls_cert={cert}", f"-tls_key={key}", "-token=tk",
               http="0.0.0.0:0")
    try:
        assert s.url.startswith("https://"), s.lines
        url = s.url.replace("0.0.0.0", "127.0.0.1")
        auth = ["-H", "Authorization: Bearer tk"]
        r = subprocess.run(["curl", "-sSk", "-g", *auth, "-o", "/dev/null", "-w", "%{http_code}",
                            "--data-binary", "main;x 3", url + "/ingest?name=tls&format=folded"],
                           capture_output=True, text=True, timeout=60)
        assert r.stdout == "200", r
        r = subprocess.run(["curl", "-sSk", *auth, url + "/api/v1/label/service_name/values"],
                           capture_output=True, text=True, timeout=60)
        assert json.loads(r.stdout)["values"] == ["tls"], r
        # a browser's login over TLS: the session cookie is Secure
        r = subprocess.run(["curl", "-sSk", "-D", "-", "-o", "/dev/null", url + "/?token=tk"],
                           capture_output=True, text=True, timeout=60)
        ck = [l for l in r.stdout.splitlines() if l.lower().startswith("set-cookie:")]
        assert len(ck) == 1 and "; Secure" in ck[0] and "HttpOnly" in ck[0], r.stdout
        r = subprocess.run(["curl", "-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
                            url.replace("https", "http") + "/api/v1/types"],
                           capture_output=True, text=True, timeout=60)
        assert r.stdout != "200", r
    finally:
        assert s.stop()[0] == 0
    r = run_server(f"-data={tmp_path}/d2", f"-tls_cert={cert}")
    assert r.returncode == 2 and "go together" in r.stderr, r.stderr
    r = run_server(f"-data={tmp_path}/d2", f"-tls_cert={cert}", f"-tls_key={cert}",
                   "-http=127.0.0.1:0")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) >= 1, r.stderr
    assert "tls_key" in r.stderr, r.stderr
