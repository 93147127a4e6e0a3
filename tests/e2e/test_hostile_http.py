"""Hostile clients against the two HTTP servers (issue 14): the web UI of
`cprof -http` and the runtime's /debug/pprof/ endpoint hold their ground.

Web UI: a slow request (a graph whose `dot` waits for the test) does not
keep a fast one from being answered; a crowd of idle connections does
not make it unreachable; a request naming another host (DNS rebinding)
gets 403; parallel requests over the shared flame caches answer as
serial ones.  Endpoint: a continuous profiler and a person asking for
CPU profiles at once (one gets 500, as Go) leave it serving; slow bodies
on every slot do not lock good requests out; the Host check on loopback.

The attacks are bounded loops on loopback; nothing asserts a timing: a
good request must be answered (with generous timeouts) while the attack
still holds its connections.
"""
import json
import os
import re
import resource
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import GOLDEN, cprof_bin
from test_http import Program, curl, progs  # noqa: F401  (progs is a fixture)

CPU = os.path.join(GOLDEN, "cpu.pb.gz")


class WebUI:
    def __init__(self, *args, env=None, nofile=None):
        e = dict(os.environ, TZ="UTC")
        e.update(env or {})

        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen([cprof_bin(), "-http=127.0.0.1:0", "-no_browser", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=e, preexec_fn=limit)
        line = self.proc.stdout.readline()
        m = re.match(r"Serving web UI on (http://(\S+):(\d+))", line)
        assert m, (line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.url, self.host, self.port = m.group(1), m.group(2), int(m.group(3))

    def get(self, path, timeout=60, headers=None):
        """(status, body) of a GET."""
        rq = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(rq, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=60)
        assert rc == 0, self.proc.stderr.read()


@pytest.fixture
def webui():
    started = []

    def start(*args, env=None, nofile=None):
        s = WebUI(*args, env=env, nofile=nofile)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


def held_dot(tmp_path):
    """A `dot` for CPROF_DOT that touches tmp_path/started, then waits (60 s
    at most) until tmp_path/release exists: (its path, started, release)."""
    started, release = tmp_path / "started", tmp_path / "release"
    dot = tmp_path / "slowdot"
    dot.write_text(f"#!/bin/sh\ntouch {started}\ni=0\n"
                   f"while [ ! -e {release} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n"
                   'exec dot "$@"\n')
    dot.chmod(0o755)
    return str(dot), started, release


def test_webui_fast_request_while_a_slow_one_runs(webui, tmp_path):
    """The graph's `dot` (CPROF_DOT) waits until the test releases it: the
    top report must be answered meanwhile (one request at a time, it waited
    for the graph)."""
    dot, started, release = held_dot(tmp_path)
    s = webui(CPU, env={"CPROF_DOT": dot})
    slow = {}
    th = threading.Thread(target=lambda: slow.update(r=s.get("/ui/data/graph", timeout=120)))
    th.start()
    try:
        for _ in range(600):
            if started.exists():
                break
            time.sleep(0.05)
        assert started.exists(), "the graph request did not reach dot"
        st, body = s.get("/ui/data/top?n=5", timeout=30)
        assert st == 200 and b"flat%" in body
        assert "r" not in slow, "the slow request ended before the fast one was answered"
        st, _ = s.get("/ui/data/flame?w=300", timeout=30)
        assert st == 200
    finally:
        release.write_text("")
        th.join(timeout=120)
    assert slow["r"][0] == 200 and b"<svg" in slow["r"][1]


def test_webui_queues_requests_beyond_its_jobs(webui, tmp_path):
    """12 graphs at once while `dot` is held: 8 run, the others wait in the
    queue; once released, all 12 are answered."""
    dot, _, release = held_dot(tmp_path)
    s = webui(CPU, env={"CPROF_DOT": dot})
    with ThreadPoolExecutor(12) as ex:
        futs = [ex.submit(s.get, f"/ui/data/graph?nf=0.0{i % 9 + 1}", 120) for i in range(12)]
        time.sleep(2)
        release.write_text("")
        got = [f.result() for f in futs]
    assert [st for st, _ in got] == [200] * 12
    assert all(b"<svg" in body for _, body in got)


def test_webui_parallel_requests_match_serial_ones(webui):
    """Flame trees of different filters built at once over the shared cache
    answer exactly as the same requests one at a time."""
    s = webui(CPU)
    queries = ["f=sha256", "f=sort", "i=runtime", "", "h=main", "f=sha256&w=100", "f=sort&w=50",
               "si=cpu"] * 3
    serial = {q: s.get("/ui/data/flame?" + q) for q in set(queries)}
    with ThreadPoolExecutor(8) as ex:
        got = list(ex.map(lambda q: s.get("/ui/data/flame?" + q), queries))
    for q, r in zip(queries, got):
        assert r[0] == 200 and json.loads(r[1]) == json.loads(serial[q][1]), q


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def test_webui_reachable_with_many_idle_connections(webui):
    """1,100 idle connections (more than the server's descriptors: a
    common limit of 1,024, more than the cap): a new client is still
    answered while they stay open."""
    s = webui(CPU, nofile=1024)
    n = min(1100, raise_nofile(1300) - 100)
    idle = []
    try:
        for _ in range(n):
            k = socket.socket()
            k.setblocking(False)
            k.connect_ex((s.host, s.port))
            idle.append(k)
            if len(idle) % 100 == 0:
                time.sleep(0.05)   # the backlog drains: they all connect
        time.sleep(2)
        for _ in range(6):
            try:
                st, body = s.get("/ui/data/top?n=3", timeout=10)
                if st == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the web UI did not answer while idle connections were open")
        assert b"flat%" in body
    finally:
        for k in idle:
            k.close()
    assert s.get("/ui/data/meta")[0] == 200


@pytest.mark.parametrize("host, status", [
    (None, 200),
    ("127.0.0.1:{port}", 200),
    ("localhost:{port}", 200),
    ("LOCALHOST.:{port}", 200),
    ("[::1]:{port}", 200),
    ("evil.example", 403),
    ("evil.example:{port}", 403),
    ("localhost:1", 403),
    ("localhost.evil.example:{port}", 403),
])
def test_webui_host_header(webui, host, status):
    s = webui(CPU)
    headers = {"Host": host.format(port=s.port)} if host else None
    for path in ["/ui/", "/ui/data/top?n=3"]:
        st, body = s.get(path, headers=headers)
        assert st == status, (path, st, body)
    if status == 403:
        assert b"Host" in body


# ---- the runtime's endpoint ---------------------------------------------------------------

def test_endpoint_cpu_profiles_from_a_profiler_and_a_person(progs):  # noqa: F811
    """A continuous profiler asks for 1-second CPU profiles back to back while
    a person asks for CPU profiles, /metrics and the heap: every CPU request
    is a profile (200) or Go's refusal (500); afterwards everything works."""
    prog = Program(progs["worker"])
    try:
        url = prog.url
        stop = threading.Event()

        def profiler():
            got = []
            while not stop.is_set() and len(got) < 8:
                got.append(curl(f"{url}/debug/pprof/profile?seconds=1", timeout=30)[0])
            return got

        def person():
            got = []
            for i in range(6):
                got.append(curl(f"{url}/debug/pprof/profile?seconds=1", timeout=30)[0])
                got.append(curl(f"{url}/metrics", timeout=30)[0])
                got.append(curl(f"{url}/debug/pprof/heap", timeout=30)[0])
            return got
        with ThreadPoolExecutor(3) as ex:
            a = ex.submit(profiler)
            b, c = ex.submit(person), ex.submit(person)
            pb, pc = b.result(timeout=300), c.result(timeout=300)
            stop.set()
            pa = a.result(timeout=300)
        cpu = pa + pb[0::3] + pc[0::3]
        assert set(cpu) <= {200, 500} and 200 in cpu and 500 in cpu, cpu
        assert set(pb[1::3] + pb[2::3] + pc[1::3] + pc[2::3]) == {200}
        for path in ["/metrics", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1",
                     "/debug/pprof/goroutine?debug=1"]:
            assert curl(url + path, timeout=30)[0] == 200, path
    finally:
        rc, _, err = prog.stop()
    assert rc == 0, err


def slow_attack(host, port, stop, n, body, every):
    """n connections each sending a request one byte every `every` seconds
    (body: a symbol POST of 1,000,000 bytes after whole headers; else the
    headers themselves, never finished), reconnecting when dropped; until
    stop is set (bounded)."""
    head = (b"POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Length: 1000000\r\n\r\n") if body else b"GET /debug/pprof/heap HTTP/1.1\r\n"
    socks = [None] * n
    dropped = 0
    for _ in range(int(300 / every)):   # 300 s at most
        for i in range(n):
            try:
                if socks[i] is None:
                    socks[i] = socket.create_connection((host, port), timeout=5)
                    socks[i].sendall(head)
                socks[i].sendall(b"0" if body else b"X")
            except OSError:
                dropped += 1
                if socks[i] is not None:
                    socks[i].close()
                socks[i] = None
        if stop.wait(every):
            break
    for k in socks:
        if k is not None:
            k.close()
    return dropped


@pytest.mark.parametrize("body, every", [(True, 1.5), (False, 0.5)], ids=["body", "headers"])
def test_endpoint_slow_requests_do_not_lock_out_good_ones(progs, body, every):  # noqa: F811
    """32 slow clients on the 32 slots (a body at a byte every 1.5 s, or
    headers at a byte every 0.5 s: faster than any idle timeout): 20 good
    requests made meanwhile are all served."""
    prog = Program(progs["worker"])
    try:
        host, port = prog.addr.rsplit(":", 1)
        stop = threading.Event()
        with ThreadPoolExecutor(1) as ex:
            attack = ex.submit(slow_attack, host, int(port), stop, 32, body, every)
            time.sleep(3)   # every slot taken, or tried
            got = []   # 0: no answer (curl's error)
            for _ in range(20):
                got.append(curl(f"{prog.url}/debug/pprof/goroutine?debug=1", timeout=60)[0])
            ok = got.count(200)
            running = not attack.done()
            stop.set()
            attack.result(timeout=400)
        assert running, "the attack ended before the good requests"
        assert ok == 20, f"{ok} of 20 good requests served during the attack: {got}"
    finally:
        rc, _, err = prog.stop()
    assert rc == 0, err


def test_endpoint_good_clients_in_the_round_that_drops_slow_ones(progs):  # noqa: F811
    """30 clients hold connections without finishing their headers (the
    server is crowded: each goes 2 s into its request); then the server's
    thread is not scheduled (SIGSTOP: a loaded machine) while 10 good
    clients connect and send whole requests.  When it runs again, one
    round drops the 30 slow ones and accepts the 10 good ones: all 10 are
    answered, though the dropped connections are still open in
    libmicrohttpd (which counted them against its limit, refused the good
    ones beyond it, and curl saw "Empty reply from server")."""
    prog = Program(progs["worker"])
    slow, good = [], []
    try:
        host, port = prog.addr.rsplit(":", 1)
        for _ in range(30):
            k = socket.create_connection((host, int(port)), timeout=30)
            k.sendall(b"GET /debug/pprof/heap HTTP/1.1\r\n")
            slow.append(k)
        prog.p.send_signal(signal.SIGSTOP)
        try:
            for _ in range(10):   # complete in the kernel's backlog meanwhile
                k = socket.create_connection((host, int(port)), timeout=60)
                k.sendall(b"GET /debug/pprof/cmdline HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Connection: close\r\n\r\n")
                good.append(k)
            time.sleep(3)   # every slow one is more than 2 s into its request
        finally:
            prog.p.send_signal(signal.SIGCONT)
        got = []
        for k in good:
            try:
                got.append(k.recv(12))
            except OSError as e:
                got.append(repr(e))
        assert got == [b"HTTP/1.1 200"] * 10, got
    finally:
        for k in slow + good:
            k.close()
        rc, _, err = prog.stop()
    assert rc == 0, err


@pytest.mark.parametrize("late", [False, True], ids=["request_in", "request_late"])
def test_endpoint_full_server_keeps_a_new_client(progs, late):  # noqa: F811
    """While the server's thread is not scheduled (SIGSTOP), a good client
    connects, then 32 slow ones send headers of a body they never send.
    When it runs again the server accepts them in that order, is full at
    the 33rd and must make room: not by evicting the good client, the
    oldest, whether its request is already there but not read yet
    (request_in) or comes half a second later, its process not scheduled
    meanwhile (request_late: the newcomers behind it must not push it out)."""
    prog = Program(progs["worker"])
    slow = []
    good = None
    req = b"GET /debug/pprof/cmdline HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    try:
        host, port = prog.addr.rsplit(":", 1)
        prog.p.send_signal(signal.SIGSTOP)
        try:
            good = socket.create_connection((host, int(port)), timeout=60)
            if not late:
                good.sendall(req)
            for _ in range(32):
                k = socket.create_connection((host, int(port)), timeout=60)
                k.sendall(b"POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Length: 1000\r\n\r\n")
                slow.append(k)
        finally:
            prog.p.send_signal(signal.SIGCONT)
        try:
            if late:
                time.sleep(0.5)
                good.sendall(req)
            got = good.recv(12)
        except OSError as e:
            got = repr(e)
        assert got == b"HTTP/1.1 200", got
    finally:
        for k in slow + [good]:
            if k is not None:
                k.close()
        rc, _, err = prog.stop()
    assert rc == 0, err


def test_endpoint_body_limits(progs):  # noqa: F811
    """A declared body over the symbol limit is refused at once (413) without
    being read; a body on any other path likewise."""
    prog = Program(progs["worker"])
    try:
        host, port = prog.addr.rsplit(":", 1)
        for path, length in [("/debug/pprof/symbol", 50000000), ("/debug/pprof/heap", 100000)]:
            with socket.create_connection((host, int(port)), timeout=15) as k:
                k.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          f"Content-Length: {length}\r\n\r\n".encode())
                data = k.recv(4096)
            assert data.startswith(b"HTTP/1.1 413"), (path, data)
    finally:
        rc, _, err = prog.stop()
    assert rc == 0, err


@pytest.mark.parametrize("host, status", [
    (None, 200),
    ("127.0.0.1:{port}", 200),
    ("localhost:{port}", 200),
    ("localhost", 200),
    ("evil.example:{port}", 403),
    ("evil.example", 403),
    ("127.0.0.1:1", 403),
])
def test_endpoint_host_header_on_loopback(progs, host, status):  # noqa: F811
    prog = Program(progs["worker"])
    try:
        port = prog.addr.rsplit(":", 1)[1]
        args = ["-H", "Host: " + host.format(port=port)] if host else []
        for path in ["/debug/pprof/", "/metrics", "/debug/pprof/heap?debug=1"]:
            st, _, body = curl(prog.url + path, *args, timeout=30)
            assert st == status, (path, st, body)
        # with a token, the token protects: any Host is served
    finally:
        rc, _, err = prog.stop()
    assert rc == 0, err


def test_endpoint_any_host_with_a_token(progs):  # noqa: F811
    prog = Program(progs["worker"], extra_env={"CPROF_TOKEN": "s3cret"})
    try:
        st, _, _ = curl(prog.url + "/metrics", "-H", "Host: evil.example",
                        "-H", "Authorization: Bearer s3cret", timeout=30)
        assert st == 200
    finally:
        rc, _, err = prog.stop()
    assert rc == 0, err
