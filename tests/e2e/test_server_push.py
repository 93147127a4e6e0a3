"""The real @pyroscope/nodejs client (npm, tests/server/node_modules,
installed by setup.sh) pushing to `cprof server`: a Node program profiles
itself (wall time and heap) and flushes every second to the server's
/ingest; the server stores both kinds with the client's labels (unquoted
dotted values with slashes) and answers every push well within the flush
interval (the client never retries).  The profiles are read back with
cprof.  No timing is asserted.
"""
import os
import shutil
import subprocess
import urllib.parse

import pytest

from conftest import ROOT, cprof_bin
from srvtools import Server

NODE_DIR = os.path.join(ROOT, "tests", "server")
CLIENT = os.path.join(NODE_DIR, "node_modules", "@pyroscope", "nodejs")

pytestmark = pytest.mark.skipif(
    not shutil.which("node") or not os.path.isdir(CLIENT),
    reason="node or @pyroscope/nodejs (setup.sh: npm ci in tests/server) missing")


def q(**kw):
    return urllib.parse.urlencode(kw)


def test_pyroscope_nodejs_client(tmp_path):
    s = Server(str(tmp_path / "data"))
    try:
        env = dict(os.environ, SERVER=s.url, FLUSH_MS="1000", RUN_MS="4500",
                   DEBUG="pyroscope")
        r = subprocess.run(["node", "push.js"], cwd=NODE_DIR, env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0 and "done" in r.stdout, (r.stdout, r.stderr[-2000:])
        # the client logs a push the server refused; there must be none
        assert "rejected" not in r.stderr, r.stderr[-2000:]
        assert {"wall", "heap"} <= set(s.json("/api/v1/types")["types"])
        labels = set(s.json("/api/v1/labels")["labels"])
        assert {"service_name", "region", "version", "otel_scope_name",
                "process_runtime_name"} <= labels, labels
        assert s.json("/api/v1/label/region/values")["values"] == ["eu-west/1"]
        assert s.json("/api/v1/label/otel_scope_name/values")["values"] == \
            ["com.grafana.pyroscope/nodejs"]
        url = s.url + "/api/v1/profile?" + q(query='{service_name="nodeapp"}', type="wall")
        out = subprocess.run([cprof_bin(), "-top", url], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0 and "busy" in out.stdout, out.stdout + out.stderr
        # the sample labels the program set are kept
        tags = subprocess.run([cprof_bin(), "-tags", url], capture_output=True, text=True,
                              timeout=120)
        assert "handler" in tags.stdout and "work" in tags.stdout, tags.stdout
        # several pushes of each kind were stored: a series with points
        doc = s.json("/api/v1/series?" + q(query='{service_name="nodeapp"}', type="heap",
                                           step="1s"))
        assert doc["series"] and len(doc["series"][0]["points"]) >= 2, doc
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_pyroscope_nodejs_client_with_token(tmp_path):
    """The client's auth token (PYROSCOPE_AUTH_TOKEN) against -token: its
    pushes are accepted; the same client without it is refused (401)."""
    s = Server(str(tmp_path / "data"), "-token=n0de")
    try:
        base = dict(os.environ, SERVER=s.url, FLUSH_MS="1000", RUN_MS="2500", DEBUG="pyroscope")
        r = subprocess.run(["node", "push.js"], cwd=NODE_DIR, capture_output=True, text=True,
                           timeout=120, env=dict(base, PYROSCOPE_AUTH_TOKEN="n0de"))
        assert r.returncode == 0 and "rejected" not in r.stderr, r.stderr[-2000:]
        st, _, body = s.request("/api/v1/types", headers={"Authorization": "Bearer n0de"})
        assert st == 200 and b"wall" in body, body
        r = subprocess.run(["node", "push.js"], cwd=NODE_DIR, capture_output=True, text=True,
                           timeout=120, env=base)
        assert "rejected data ingest: HTTP 401" in r.stderr, r.stderr[-2000:]
    finally:
        rc, err = s.stop()
    assert rc == 0, err
