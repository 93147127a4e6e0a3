"""Helpers of the server tests (tests/e2e/test_server*.py): start and stop
`cprof server` on a free loopback port, push and query it over HTTP; a
loopback HTTP(S) target to scrape (Target).

The server prints one line on stderr at start with the port it bound
(-http=127.0.0.1:0 picks a free one), so tests run in parallel."""
import gzip
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

from conftest import cprof_bin, stderr_until

LISTEN = re.compile(r"listening on (https?://\S+?)/")


class Server:
    """`cprof server` started with args in data dir `data`: .url, .lines."""

    def __init__(self, data, *args, http="127.0.0.1:0", cwd=None):
        self.argv = [cprof_bin(), "server", f"-http={http}", f"-data={data}", *args]
        self.p = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, cwd=cwd)
        m, self.lines = stderr_until(self.p, LISTEN)
        self.url = m.group(1) if m else None
        assert self.url, "server did not start: %r" % "".join(self.lines)

    def stop(self, sig=signal.SIGTERM):
        """Stop with sig; (exit status, stderr)."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
        _, err = self.p.communicate(timeout=60)
        return self.p.returncode, "".join(self.lines) + err

    def request(self, path, data=None, headers=None, method=None):
        """(status, headers, body bytes) of a request to the server."""
        req = urllib.request.Request(self.url + path, data=data, headers=headers or {},
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def push(self, name, body, fmt="folded", extra="", headers=None):
        q = urllib.parse.urlencode({"name": name, "format": fmt})
        return self.request(f"/ingest?{q}{extra}", data=body, headers=headers, method="POST")

    def json(self, path):
        st, _, body = self.request(path)
        assert st == 200, (path, st, body)
        return json.loads(body)

    def error(self, path, **kw):
        """(status, message) of a request that must fail with a JSON error."""
        st, h, body = self.request(path, **kw)
        assert st >= 400, (path, st, body)
        assert h.get("Content-Type", "").startswith("application/json"), h
        doc = json.loads(body)
        assert set(doc) == {"error"} and doc["error"], doc
        return st, doc["error"]


class Target:
    """A loopback HTTP(S) target: answer(path, headers) gives (status, body);
    every request is recorded as (path, headers)."""

    def __init__(self, answer, tls=None):
        import http.server
        self.seen = []
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with outer.lock:
                    outer.seen.append((self.path, dict(self.headers)))
                st, body = answer(self.path, self.headers)
                self.send_response(st)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        if tls:
            self.srv.socket = tls.wrap_socket(self.srv.socket, server_side=True)
        self.addr = f"127.0.0.1:{self.srv.server_address[1]}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def paths(self):
        with self.lock:
            return [p.split("?")[0] for p, _ in self.seen]

    def stop(self):
        self.srv.shutdown()


def run_server(*args, cwd=None, timeout=30):
    """`cprof server args` expected to exit at once (bad flags, config)."""
    return subprocess.run([cprof_bin(), "server", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def wait_for(pred, timeout=60, step=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def gz(b):
    return gzip.compress(b)
