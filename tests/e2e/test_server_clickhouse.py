"""The server's store on ClickHouse (src/server/store_ch*.c) against the
SQLite store, on a real ClickHouse (Debian's clickhouse-server 18.16)
started here on loopback with tools/clickhouse-local.sh and stopped at the
end, leaving nothing running.

The differential and failure tests themselves are C (tests/unit/
test_srv_clickhouse.c, which skips without a ClickHouse); this file gives
them a server: one node, and (test_cluster) the 2-shard x 2-replica
cluster with ZooKeeper.
"""
import os
import shutil
import socket
import subprocess

import pytest

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "tools", "clickhouse-local.sh")


def unit_bin():
    build = os.path.dirname(os.environ.get("CPROF_BIN", os.path.join(ROOT, "build", "cprof")))
    return os.path.join(build, "tests", "test_srv_clickhouse")


def free_base(span):
    """A base port with span free ports after it (checked, not reserved)."""
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        base = s.getsockname()[1]
        s.close()
        if base + span >= 65535:
            continue
        ok = True
        for p in range(base, base + span):
            t = socket.socket()
            try:
                t.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                t.close()
            if not ok:
                break
        if ok:
            return base
    pytest.skip("no free port range on loopback")


def need_clickhouse():
    if not os.path.exists("/usr/sbin/clickhouse-server"):
        pytest.skip("clickhouse-server is not installed (sudo ./setup.sh installs Debian's)")
    if not os.path.exists(unit_bin()):
        pytest.skip("%s not built (make)" % unit_bin())


class Server:
    def __init__(self, d, port, cluster):
        self.dir, self.port, self.cluster = d, port, cluster
        self.args = [SCRIPT, "start", d, "-port", str(port)] + (["-cluster"] if cluster else [])

    def start(self):
        r = subprocess.run(self.args, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(self.dir, "url")) as f:
            self.url = f.read().strip()

    def stop(self):
        subprocess.run([SCRIPT, "stop", self.dir], capture_output=True, timeout=120)

    def ctl(self):
        """A command that takes 'stop' or 'start' (for the restart test)."""
        extra = " -cluster" if self.cluster else ""
        return "sh -c '\"%s\" \"$0\" \"%s\" -port %d%s >/dev/null'" % (SCRIPT, self.dir,
                                                                      self.port, extra)


@pytest.fixture
def clickhouse(tmp_path):
    need_clickhouse()
    srv = Server(str(tmp_path / "ch"), free_base(4), False)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
    assert_nothing_left(srv)


def assert_nothing_left(srv):
    for root, _, files in os.walk(srv.dir):
        assert "pid" not in files, "a pid file is left in " + root


def run_unit(url, ctl=None, timeout=600):
    base = url.split("/cprof")[0]
    env = dict(os.environ, CPROF_TEST_CLICKHOUSE=base)
    if ctl:
        env["CPROF_TEST_CLICKHOUSE_CTL"] = ctl
    return subprocess.run([unit_bin()], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_one_node_same_answers_as_sqlite(clickhouse):
    r = run_unit(clickhouse.url, clickhouse.ctl())
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "[  PASSED  ] 13 test(s)" in out, out  # all but the cluster-only one
    # the restart test ran (not skipped) and the queue said what it dropped
    assert "restart:" in out, out
    assert "dropped" in out and "ingest buffer over 1 MB" in out, out


def test_script_stops_everything(tmp_path):
    need_clickhouse()
    srv = Server(str(tmp_path / "ch"), free_base(4), False)
    srv.start()
    pid = int(open(os.path.join(srv.dir, "node1", "pid")).read())
    srv.stop()
    assert not os.path.exists("/proc/%d" % pid) or \
        open("/proc/%d/stat" % pid).read().split()[2] == "Z"
    assert_nothing_left(srv)
    r = subprocess.run([SCRIPT, "start", str(tmp_path / "x"), "-port", "abc"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "-port" in r.stderr


def test_cluster_same_answers_as_sqlite(tmp_path):
    """2 shards x 2 replicas with ZooKeeper: ReplicatedMergeTree tables,
    Distributed tables over them; the same differential tests, then a
    replica stopped (queries, appends and a server's start still work)."""
    need_clickhouse()
    if not shutil.which("java"):
        pytest.skip("java missing: zookeeper is not installed (sudo ./setup.sh)")
    srv = Server(str(tmp_path / "cl"), free_base(52), True)
    try:
        srv.start()
        base, _, opts = srv.url.partition("/cprof?")
        env = dict(os.environ, CPROF_TEST_CLICKHOUSE=base, CPROF_TEST_CLICKHOUSE_OPTS=opts,
                   CPROF_TEST_CLICKHOUSE_NODECTL="sh -c '\"%s\" \"$0\"-node \"%s\" -port 1"
                   " >/dev/null'" % (SCRIPT, srv.dir))
        r = subprocess.run([unit_bin()], capture_output=True, text=True, env=env, timeout=900)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out
        assert "[       OK ] test_replica_down" in out, out
        assert "[       OK ] test_same_merges" in out, out
        assert "[       OK ] test_gauge_uneven_counts" in out, out
    finally:
        srv.stop()
    assert_nothing_left(srv)


def test_server_command_on_clickhouse(clickhouse, tmp_path):
    """`cprof server -storage=clickhouse://...`: a push is stored in
    ClickHouse and read back by cprof from /api/v1/profile."""
    import time
    import urllib.parse
    from conftest import cprof_bin
    from srvtools import Server
    s = Server(str(tmp_path / "state"), "-storage=" + clickhouse.url)
    try:
        assert "(clickhouse," in s.lines[0], s.lines
        st, _, body = s.push("chapp{env=test}", b"main;serve;parse 30\nmain;idle 5\n")
        assert st == 200, body
        q = urllib.parse.urlencode({"query": '{service_name="chapp"}', "type": "cpu",
                                    "from": "now-1h", "until": "now+1h"})
        url = s.url + "/api/v1/profile?" + q
        deadline, out = time.time() + 60, ""
        while time.time() < deadline:
            r = subprocess.run([cprof_bin(), "-top", url], capture_output=True, text=True,
                               timeout=120)
            out = r.stdout
            if r.returncode == 0 and "parse" in out:
                break
            time.sleep(1)
        assert "parse" in out and "idle" in out, out
    finally:
        rc, err = s.stop()
        assert rc == 0, err


def test_copy_command_moves_a_store(clickhouse, tmp_path):
    """`cprof server copy DIR URL`: what a SQLite server stored answers the
    same from a server on ClickHouse (flame graph, series, labels, kinds);
    a second run copies nothing; bad arguments exit 2 with one line."""
    import json
    import urllib.parse
    from conftest import cprof_bin
    from srvtools import Server
    data = str(tmp_path / "lite")
    s = Server(data)
    try:
        for app, body in (("shop{env=prod}", b"main;serve;parse 30\nmain;idle 5\n"),
                          ("db{env=prod}", b"main;query;scan 12\nmain;query;sort 4\n")):
            st, _, b = s.push(app, body)
            assert st == 200, b
    finally:
        rc, err = s.stop()
        assert rc == 0, err
    copy = [cprof_bin(), "server", "copy", data, clickhouse.url]
    r = subprocess.run(copy, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "copy: day " in r.stderr and "copy done: 2 items copied, 0 already there" in r.stderr
    r = subprocess.run(copy, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "copy done: 0 items copied, 2 already there" in r.stderr, \
        r.stderr

    q = urllib.parse.urlencode({"query": "{}", "type": "cpu", "from": "now-1h",
                                "until": "now+1h"})
    answers = []
    for args in ((), ("-storage=" + clickhouse.url,)):
        srv = Server(str(tmp_path / ("state%d" % len(answers))) if args else data, *args)
        try:
            got = {}
            for path in ("labels", "label/service_name/values", "types",
                         "profile?%s&format=flame" % q,
                         "series?%s&step=3600" % q):
                st, _, body = srv.request("/api/v1/" + path)
                assert st == 200, (path, body)
                got[path] = json.loads(body)
            top = subprocess.run([cprof_bin(), "-top", srv.url + "/api/v1/profile?" + q],
                                 capture_output=True, text=True, timeout=120)
            assert top.returncode == 0, top.stderr
            got["top"] = top.stdout
        finally:
            rc, err = srv.stop()
            assert rc == 0, err
        answers.append(got)
    assert "parse" in answers[0]["top"] and "scan" in answers[0]["top"]
    assert answers[0] == answers[1]

    for bad in ([], [data], [str(tmp_path / "nothing"), clickhouse.url]):
        r = subprocess.run([cprof_bin(), "server", "copy", *bad], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 2, r
        assert r.stderr.strip() and ("usage" in r.stderr or r.stderr.count("\n") == 1), \
            r.stderr
