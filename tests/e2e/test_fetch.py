"""URL sources against a real net/http/pprof server (tests/e2e/programs/fetch).

The Go program is built once per module and serves Go's /debug/pprof/
handlers on 127.0.0.1 (plus /stall/ that never answers); every fetch is
compared with `go tool pprof` on the profile cprof saved, or with what
go tool pprof itself prints for the same source.
"""
import os
import pty
import re
import select
import socket
import subprocess

import pytest

from conftest import ROOT, cprof_bin, have_go

pytestmark = pytest.mark.skipif(not have_go(), reason="go (golang-go) is not installed")

SAVED = re.compile(r"^Saved profile in (.+)$", re.M)
TLS_PORT = None     # the server's HTTPS port (self-signed certificate)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The running fetchsrv: its base URL (http://127.0.0.1:PORT)."""
    d = tmp_path_factory.mktemp("fetchsrv")
    exe = str(d / "fetchsrv")
    env = dict(os.environ, GO111MODULE="off", GOFLAGS="")
    subprocess.run(["go", "build", "-o", exe, "main.go"], check=True, env=env,
                   cwd=os.path.join(ROOT, "tests", "e2e", "programs", "fetch"), timeout=300)
    proc = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.match(r"PORT (\d+) TLS (\d+)", line)
    assert m, "fetchsrv did not start: %r" % line
    global TLS_PORT
    TLS_PORT = int(m.group(2))
    yield "http://127.0.0.1:%s" % m.group(1)
    proc.stdin.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def run(tmp_path):
    """Run cprof or go tool pprof with PPROF_TMPDIR in tmp_path."""
    def go(argv, timeout=120):
        env = dict(os.environ, TZ="UTC", PPROF_TMPDIR=str(tmp_path / "saved"))
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    return go


def pprof(*args):
    return ["go", "tool", "pprof", *args]


def saved_path(stderr):
    m = SAVED.findall(stderr)
    assert len(m) >= 1, stderr
    return m


@pytest.mark.parametrize("path,report", [
    ("/debug/pprof/profile?seconds=1", "-top"),
    ("/debug/pprof/heap", "-top"),
    ("/debug/pprof/heap", "-traces"),
    ("/debug/pprof/goroutine", "-top"),
    ("/debug/pprof/goroutine", "-traces"),
])
def test_fetched_report_equals_pprof_on_saved_file(server, run, path, report):
    r = run([cprof_bin(), report, server + path])
    assert r.returncode == 0, r.stderr
    assert "Fetching profile over HTTP from %s%s\n" % (server, path) in r.stderr
    (saved,) = saved_path(r.stderr)
    assert os.path.isfile(saved)
    assert r.stdout.strip(), "empty report"
    g = run(pprof(report, saved))
    assert g.returncode == 0, g.stderr
    assert r.stdout == g.stdout
    # and the saved file reads back to the same report in cprof
    c = run([cprof_bin(), report, saved])
    assert c.stdout == r.stdout


def test_saved_file_named_as_pprof(server, run, tmp_path):
    names = []
    for _ in range(2):
        r = run([cprof_bin(), "-top", server + "/debug/pprof/heap"])
        assert r.returncode == 0, r.stderr
        names += saved_path(r.stderr)
    assert [os.path.dirname(n) for n in names] == [str(tmp_path / "saved")] * 2
    base = [os.path.basename(n) for n in names]
    prefix = "pprof.fetchsrv.alloc_objects.alloc_space.inuse_objects.inuse_space."
    assert base == [prefix + "001.pb.gz", prefix + "002.pb.gz"]
    # go tool pprof names its copy the same way
    g = run(pprof("-top", server + "/debug/pprof/heap"))
    assert g.returncode == 0, g.stderr
    assert os.path.basename(saved_path(g.stderr)[0]) == prefix + "003.pb.gz"
    with open(names[0], "rb") as f:
        assert f.read(2) == b"\x1f\x8b"


def test_seconds_flag_and_default_path(server, run):
    hostport = server[len("http://"):]
    r = run([cprof_bin(), "-top", "-seconds=1", hostport])
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == "Fetching profile over HTTP from %s/debug/pprof/profile?seconds=1" % server
    assert lines[1] == "Please wait... (1s)"
    assert "Type: cpu" in r.stdout and "Duration: " in r.stdout


@pytest.mark.parametrize("src,extra", [
    ("{hp}/debug/pprof/heap?x=1&debug=0", []),
    ("{hp}/debug/pprof/heap?seconds=5&x=1", ["-seconds=1"]),
    ("{url}/", ["-seconds=1"]),
    ("{url}/debug/pprof/heap?a=x%20y+z&b=%2F&a=0", []),
    ("HTTP://127.0.0.1:{port}/debug/pprof/heap", []),
])
def test_url_spelling_as_pprof(server, run, src, extra):
    """The URL both tools say they fetch, for several spellings."""
    src = src.format(url=server, hp=server[len("http://"):], port=server.rsplit(":", 1)[1])
    r = run([cprof_bin(), "-top", *extra, src])
    g = run(pprof("-top", *extra, src))
    both = "cprof:\n%s\ngo tool pprof:\n%s" % (r.stderr, g.stderr)
    assert g.returncode == 0, both
    assert r.returncode == 0, both
    assert r.stderr.splitlines()[0] == g.stderr.splitlines()[0], both
    assert r.stderr.splitlines()[0].startswith("Fetching profile over HTTP from http://")


def test_404_as_pprof(server, run):
    url = server + "/debug/pprof/nosuchprofile"
    r = run([cprof_bin(), "-top", url])
    assert r.returncode == 2
    assert r.stdout == ""
    msg = "%s: server response: 404 Not Found - Unknown profile" % url
    assert r.stderr.splitlines()[-1] == "cprof: " + msg
    g = run(pprof("-top", url))
    assert msg in g.stderr.splitlines()


def test_plain_error_without_body(server, run):
    url = server + "/notpprof"
    r = run([cprof_bin(), "-top", url])
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1] == "cprof: %s: server response: 500 Internal Server Error" % url


def test_connection_refused(run):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    url = "http://127.0.0.1:%d/debug/pprof/heap" % port
    r = run([cprof_bin(), "-top", url])
    assert r.returncode == 2
    last = r.stderr.splitlines()[-1]
    assert last.startswith("cprof: %s: http fetch: " % url)
    assert "connect" in last.lower()
    assert len([l for l in r.stderr.splitlines() if l.startswith("cprof:")]) == 1


def test_stalled_server_times_out(server, run):
    url = server + "/stall/x"
    r = run([cprof_bin(), "-top", "-timeout=1", url], timeout=60)
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1] == (
        "cprof: %s: http fetch: no response from the server within 6s (timeout 1s + 5s, as pprof)" % url)


def test_not_a_profile(server, run):
    url = server + "/debug/pprof/cmdline"
    r = run([cprof_bin(), "-top", url])
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1].startswith("cprof: %s: " % url)


def test_remote_symbolization(server, run):
    """Go's debug=1 heap profile carries addresses only: names come from
    the server's /debug/pprof/symbol, as go tool pprof gets them."""
    url = server + "/debug/pprof/heap?debug=1"
    r = run([cprof_bin(), "-raw", "-symbolize=remote", url])
    assert r.returncode == 0, r.stderr
    locs = re.findall(r"^\s+\d+: (0x[0-9a-f]+) M=1 (\S+)", r.stdout, re.M)
    names = dict(locs)
    assert "main.allocate" in names.values(), r.stdout
    # the same address gets the same name from go tool pprof
    g = run(pprof("-raw", "-symbolize=remote", url))
    assert g.returncode == 0, g.stderr
    gnames = dict(re.findall(r"^\s+\d+: (0x[0-9a-f]+) M=1 (\S+)", g.stdout, re.M))
    common = set(names) & set(gnames)
    assert common
    assert {a: names[a] for a in common} == {a: gnames[a] for a in common}
    # without symbolization the names are missing
    n = run([cprof_bin(), "-raw", "-symbolize=none", url])
    assert "main.allocate" not in n.stdout


def test_several_urls_merged(server, run):
    url = server + "/debug/pprof/heap"
    r = run([cprof_bin(), "-top", url, url])
    assert r.returncode == 0, r.stderr
    a, b = saved_path(r.stderr)
    g = run(pprof("-top", a, b))
    assert r.stdout == g.stdout


def test_base_url(server, run):
    url = server + "/debug/pprof/goroutine"
    r = run([cprof_bin(), "-top", "-diff_base=" + url, url])
    assert r.returncode == 0, r.stderr
    src, base = sorted(saved_path(r.stderr))
    # the source is fetched first, then the base
    g = run(pprof("-top", "-diff_base=" + base, src))
    assert r.stdout == g.stdout


def test_countdown_on_a_terminal(server, tmp_path):
    """With stderr on a terminal, the wait is a line counting down."""
    master, slave = pty.openpty()
    env = dict(os.environ, TZ="UTC", PPROF_TMPDIR=str(tmp_path))
    p = subprocess.Popen([cprof_bin(), "-top", "-seconds=2", server + "/debug/pprof/profile"],
                         stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    out = b""
    while True:
        rd, _, _ = select.select([master], [], [], 30)
        if not rd:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    p.wait(timeout=30)
    os.close(master)
    text = out.decode()
    assert p.returncode == 0, text
    assert "Please wait... 2s left" in text
    assert "Please wait... (2s)" not in text
    assert "Saved profile in" in text


@pytest.mark.parametrize("src,is_url", [
    ("a:b", False),                 # "http://a:b" has a bad port: a file, as Go parses it
    ("dir/file:x", False),
    ("file:///no/such/file", False),
    ("no-such-file.pb.gz", False),
    ("127.0.0.1:{port}", True),     # host:port gets http:// and the CPU profile path
    ("localhost:{port}/debug/pprof/heap", True),
])
def test_what_is_a_url(run, tmp_path, src, is_url):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    src = src.format(port=port)
    r = run([cprof_bin(), "-top", src])
    assert r.returncode == 2
    fetched = r.stderr.startswith("Fetching profile over HTTP from http://")
    assert fetched == is_url, r.stderr
    if not is_url:
        assert r.stderr.startswith("cprof: %s: " % src), r.stderr


def test_response_size_is_capped(server, run, monkeypatch):
    monkeypatch.setenv("CPROF_FETCH_LIMIT", str(1 << 20))
    url = server + "/big"
    r = run([cprof_bin(), "-top", url])
    assert r.returncode == 2
    assert r.stderr.splitlines()[-1] == "cprof: %s: response larger than 1 MiB: refused" % url
    monkeypatch.setenv("CPROF_FETCH_LIMIT", str(8 << 20))
    r = run([cprof_bin(), "-top", url])
    assert r.returncode == 2
    assert "larger than" not in r.stderr     # all 4 MiB read, then not a profile


def test_https_insecure(server, run):
    """https checks the certificate; https+insecure:// does not, as pprof."""
    path = "127.0.0.1:%d/debug/pprof/heap" % TLS_PORT
    r = run([cprof_bin(), "-top", "https://" + path])
    assert r.returncode == 2
    last = r.stderr.splitlines()[-1]
    assert last.startswith("cprof: https://%s: http fetch: " % path), r.stderr
    assert "certificate" in last.lower(), last
    r = run([cprof_bin(), "-top", "https+insecure://" + path])
    assert r.returncode == 0, r.stderr
    assert "Fetching profile over HTTP from https+insecure://%s\n" % path in r.stderr
    assert "main.allocate" in r.stdout
    g = run(pprof("-top", saved_path(r.stderr)[0]))
    assert g.stdout == r.stdout


def test_sources_fetched_concurrently(server, run):
    """/pair/ answers only when two requests are in flight together: the
    source and the base are fetched at once, as pprof does."""
    r = run([cprof_bin(), "-top", "-base=" + server + "/pair/b", server + "/pair/a"])
    assert r.returncode == 0, r.stderr
    fetching = [l for l in r.stderr.splitlines() if l.startswith("Fetching")]
    assert fetching == ["Fetching profile over HTTP from %s/pair/a" % server,
                        "Fetching profile over HTTP from %s/pair/b" % server]
    assert len(saved_path(r.stderr)) == 2
