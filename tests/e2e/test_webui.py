"""The web UI (issue 8): `cprof -http=HOST:PORT -no_browser ...` started on a
free port, driven in Debian's Chromium by tests/browser/webui.mjs
(playwright-core) as a person would use it: every view on corpus profiles
and on a real C program's profile, zoom, search, sample types, refine,
diff, download, keyboard, light and dark themes.  Screenshots are kept in
<build dir>/artifacts/webui/.  The sanitizer build runs the same suites
(about 7 s more) except the two that preload the runtime into a program;
CPROF_WEBUI_SMOKE=1 runs only the flame graph and top views.
Also the command's errors: a bad -http value, a port in use."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import GOLDEN, ROOT, cprof_bin

BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SANITIZED = "build-san" in cprof_bin()
ARTIFACTS = os.path.join(os.path.dirname(cprof_bin()), "artifacts", "webui")


def browser_missing():
    if not shutil.which("node"):
        return "node is not installed (setup.sh installs it)"
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (setup.sh installs Debian's chromium)"
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        return "tests/browser/node_modules lacks playwright-core (run: cd tests/browser && npm ci)"
    return None


needs_browser = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))


class Server:
    def __init__(self, *args, env=None):
        e = dict(os.environ, TZ="UTC")
        e.update(env or {})
        self.proc = subprocess.Popen([cprof_bin(), *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=e)
        line = self.proc.stdout.readline()  # blocks until served or exited
        m = re.match(r"Serving web UI on (http://\S+)", line)
        if not m:
            err = self.proc.stderr.read()
            self.proc.wait(timeout=30)
            raise AssertionError(f"no URL: {line!r} {err!r}")
        self.url = m.group(1)

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=120) as r:
            return r.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        assert rc == 0, f"server exited {rc}: {self.proc.stderr.read()}"


@pytest.fixture
def server():
    started = []

    def start(*args, env=None):
        s = Server(*args, env=env)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


def run_suite(suite, url, **extra):
    os.makedirs(ARTIFACTS, exist_ok=True)
    args = ["node", os.path.join(BROWSER_DIR, "webui.mjs"), suite, url, ARTIFACTS]
    args += [f"{k}={v}" for k, v in extra.items()]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=BROWSER_DIR)
    sys.stdout.write(r.stdout)
    fails = [l for l in r.stdout.splitlines() if l.startswith("FAIL")]
    assert r.returncode == 0 and not fails, "\n".join(fails) or r.stderr[-2000:]
    assert "ok " in r.stdout


def flame_share(srv, query):
    d = json.loads(srv.get("/ui/data/flame?" + query))
    return "%.2f" % (100.0 * d["nodes"][2] / d["total"])


@needs_browser
def test_corpus_views(server):
    s = server("-http=127.0.0.1:0", "-no_browser", os.path.join(GOLDEN, "cpu.pb.gz"))
    if os.environ.get("CPROF_WEBUI_SMOKE"):
        run_suite("smoke", s.url, title="cpu", search="sha256")
        return
    # the search's share, from the server's focused flame tree (not the page)
    run_suite("corpus", s.url, title="cpu", search="sha256", searchPct=flame_share(s, "f=sha256"),
              topName="crypto/sha256.block", sandwich="runtime.mallocgc")


@needs_browser
def test_sample_type_and_granularity(server, cprof):
    heap = os.path.join(GOLDEN, "heap.pb.gz")
    top = cprof("-top", "-sample_index=alloc_space", heap).stdout
    total = re.search(r"of (\S+) total", top).group(1)
    s = server("-http=127.0.0.1:0", "-no_browser", heap)
    run_suite("heap", s.url, allocTotal=total)


@needs_browser
def test_diff_flame_graph(server, cprof, tmp_path):
    cpu = os.path.join(GOLDEN, "cpu.pb.gz")
    # base: only the sort work; after: everything but sort.pdqsort's stacks,
    # so pdqsort vanished, sort's share shrank, the rest grew
    base, new = str(tmp_path / "base.pb.gz"), str(tmp_path / "new.pb.gz")
    r = cprof("-proto", "-focus=sort", "-output=" + base, cpu)
    assert r.returncode == 0, r.stderr
    r = cprof("-proto", "-ignore=pdqsort", "-output=" + new, cpu)
    assert r.returncode == 0, r.stderr
    s = server("-http=127.0.0.1:0", "-no_browser", "-diff_base=" + base, new)
    meta = json.loads(s.get("/ui/data/meta"))
    assert meta["hasBase"] and meta["diffBase"]
    b = json.loads(s.get("/ui/data/flame?which=base&w=100000"))
    a = json.loads(s.get("/ui/data/flame?w=100000"))
    d = json.loads(s.get("/ui/data/flame?which=diff&w=100000"))
    assert d["total"] == a["total"] and d["baseTotal"] == b["total"]
    n = len(d["nodes"]) // 4
    assert len(d["after"]) == len(d["before"]) == n
    # the root's width is both sides; each side's value is its own total
    assert d["after"][0] == a["total"] and d["before"][0] == b["total"]
    assert d["nodes"][2] == a["total"] + b["total"]
    # a frame only in the base is in the union, with nothing after
    gone = [i for i in range(n) if d["names"][d["nodes"][4 * i]] == "sort.pdqsort"]
    assert gone and all(d["after"][i] == 0 and d["before"][i] > 0 for i in gone)
    run_suite("diff", s.url)


@pytest.fixture(scope="module")
def c_profile(tmp_path_factory):
    """A real C program (tests/e2e/programs/hot.c) profiled by cprof record."""
    d = tmp_path_factory.mktemp("webui-c")
    exe = str(d / "hot")
    subprocess.run(["cc", "-O2", "-g", "-fno-omit-frame-pointer", "-o", exe,
                    os.path.join(ROOT, "tests", "e2e", "programs", "hot.c")], check=True)
    prof = str(d / "hot.pb.gz")
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join(p for p in env.get("LD_PRELOAD", "").split() if "libcprof" not in p)
    r = subprocess.run([cprof_bin(), "record", "-o", prof, "--", exe, "1"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0 and os.path.exists(prof), r.stderr
    return exe, prof


@needs_browser
@pytest.mark.skipif(SANITIZED, reason="cprof record under the sanitizer build preloads an ASan runtime "
                    "into an uninstrumented program")
def test_c_program_views(server, c_profile):
    exe, prof = c_profile
    s = server("-http=127.0.0.1:0", "-no_browser", "-source_path=" + os.path.join(ROOT, "tests", "e2e", "programs"),
               exe, prof)
    run_suite("cprog", s.url, title="cpu", search="hot_loop", searchPct=flame_share(s, "f=hot_loop"))


@pytest.fixture(scope="module")
def deep_profile(tmp_path_factory):
    """A deep C++ program (tests/e2e/programs/deep.cc: a recursive class
    template 110 calls deep over the program, libstdc++, libc and libm)
    profiled by the runtime preloaded (CPROF_CPU_PROFILE)."""
    lib = os.path.join(os.path.dirname(cprof_bin()), "libcprof.so")
    if not shutil.which("g++") or not os.path.exists(lib):
        pytest.skip("needs g++ and " + lib)
    d = tmp_path_factory.mktemp("webui-deep")
    exe = str(d / "deep")
    subprocess.run(["g++", "-O2", "-g", "-fno-omit-frame-pointer", "-o", exe,
                    os.path.join(ROOT, "tests", "e2e", "programs", "deep.cc")], check=True)
    prof = str(d / "deep.pb.gz")
    env = dict(os.environ, LD_PRELOAD=lib, CPROF_CPU_PROFILE=prof)
    r = subprocess.run([exe, "1.5"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and os.path.exists(prof), r.stderr
    return exe, prof


@needs_browser
@pytest.mark.skipif(SANITIZED, reason="preloads the plain build's runtime into a program")
def test_deep_cxx_views(server, deep_profile):
    """What a new user meets first on a native program: the root of a deep
    C++ profile on screen, frames coloured by module, the keyboard, the
    sandwich's names, Source and Disassemble on the hottest function that
    has them (plain notes, not errors, for those that have not), the graph
    fitted to its width; and (every suite) the header at 1400 and 1280 px
    and no favicon request."""
    exe, prof = deep_profile
    s = server("-http=127.0.0.1:0", "-no_browser",
               "-source_path=" + os.path.join(ROOT, "tests", "e2e", "programs"), exe, prof)
    run_suite("deep", s.url)


@pytest.mark.skipif(SANITIZED, reason="preloads the plain build's runtime into a program")
def test_pick_endpoint(server, deep_profile):
    """data/pick (the function Source and Disassemble open on): the hottest
    with source, the hotter ones passed over named with their reason."""
    exe, prof = deep_profile
    s = server("-http=127.0.0.1:0", "-no_browser",
               "-source_path=" + os.path.join(ROOT, "tests", "e2e", "programs"), exe, prof)
    d = json.loads(s.get("/ui/data/pick?view=source&i=crunch"))
    assert d["name"].startswith("deep::") and d["f"] == "^" + d["name"] + "$"   # no metacharacters
    assert "ROUTINE" in d["text"] and " Error: " not in d["text"], d["text"][:300]
    # each passed over for its reason: its file not found (relative to the
    # search path, or an absolute path that does not exist: "open ...") or,
    # a sample in [vdso] or a stripped library, no function at all; which
    # of libc's and libstdc++'s functions are hotter depends on the samples
    assert d["skipped"] and all("could not find file" in x["why"] or x["why"].startswith("open ") or
                                (x["name"].startswith("[") and "without symbols" in x["why"])
                                for x in d["skipped"]), d["skipped"]
    # the listing's last routine counts too (here the only one)
    d = json.loads(s.get("/ui/data/pick?view=source&s=%5Emain%24"))
    assert d["name"] == "main" and d["considered"] == 1, d
    d = json.loads(s.get("/ui/data/pick?view=disasm&i=crunch"))
    assert d["name"].startswith("deep::") and "ROUTINE" in d["text"], d
    # libm has no symbol table to read; [vdso], no file, is not the reason
    assert d["skipped"] and all("[vdso]" not in x["why"] for x in d["skipped"]), d["skipped"]
    with pytest.raises(urllib.error.HTTPError) as e:
        s.get("/ui/data/pick?view=nonsense")
    assert e.value.code == 400


def test_pick_endpoint_with_nothing_to_show(server):
    """A profile whose binary and sources are elsewhere: no function picked,
    each one passed over with its reason; the disassembly tries are bounded."""
    s = server("-http=127.0.0.1:0", "-no_browser", os.path.join(GOLDEN, "cpu.pb.gz"))
    d = json.loads(s.get("/ui/data/pick?view=source"))
    assert d["f"] == "" and d["text"] == "" and d["considered"] > 8
    assert len(d["skipped"]) == 8 and d["more"] == d["considered"] - 8
    assert all("could not find file" in x["why"] for x in d["skipped"]), d["skipped"]
    d = json.loads(s.get("/ui/data/pick?view=disasm"))
    assert d["f"] == "" and d["considered"] == 8 and d["more"] == 0
    assert all(x["why"].startswith("open /") and "no such file" in x["why"] for x in d["skipped"]), d


def test_endpoints_without_browser(server, cprof, tmp_path):
    """The data API alone: zoomed and pruned flame JSON, top text, download."""
    cpu = os.path.join(GOLDEN, "cpu.pb.gz")
    s = server("-http=127.0.0.1:0", "-no_browser", cpu)
    full = json.loads(s.get("/ui/data/flame?w=100000"))
    narrow = json.loads(s.get("/ui/data/flame?w=10"))
    assert len(narrow["nodes"]) < len(full["nodes"]), "no pruning at a narrow width"
    assert narrow["nodes"][2] == full["nodes"][2] == full["total"]
    assert narrow["pruned"]["boxes"] > 0
    # zoom: the chain from the root, then the zoomed node's subtree
    z = json.loads(s.get("/ui/data/flame?zoom=main.main.func1%0Amain.hashLoop"))
    assert z["zoom"] == ["main.main.func1", "main.hashLoop"] and z["focus"] == 2
    names = z["names"]
    assert [names[z["nodes"][4 * i]] for i in (1, 2)] == ["main.main.func1", "main.hashLoop"]
    top = cprof("-top", "-nodecount=500", cpu).stdout
    assert s.get("/ui/data/top").decode() == top
    dl = tmp_path / "dl.pb.gz"
    dl.write_bytes(s.get("/ui/download?f=sort"))

    def rows(*args):
        out = cprof("-top", "-nodefraction=0", "-unit=ms", *args).stdout.split("cum%\n", 1)[1]
        return [(l.split()[0], l.split()[3], l.split(None, 5)[5]) for l in out.splitlines()]
    want = rows("-focus=sort", cpu)
    assert len(want) > 5 and rows(str(dl)) == want
    if shutil.which("go"):
        g = subprocess.run(["go", "tool", "pprof", "-top", str(dl)], capture_output=True, text=True,
                           timeout=120)
        assert g.returncode == 0 and "sort.partition" in g.stdout, g.stderr
    assert s.get("/").startswith(b"<!DOCTYPE html>")  # redirected to /ui/
    with pytest.raises(urllib.error.HTTPError) as e:
        s.get("/ui/data/top?f=(")
    assert e.value.code == 400 and b"missing closing )" in e.value.read()


def test_meta_json_with_invalid_utf8(server, tmp_path):
    """A source whose name is not UTF-8 reaches the page's JSON as U+FFFD:
    the meta answer stays valid JSON (raw bytes made JSON.parse fail)."""
    src = tmp_path / os.fsdecode(b"bad\xffname.folded")
    src.write_text("main;work 3\nmain;idle 1\n")
    s = server("-http=127.0.0.1:0", "-no_browser", str(src))
    raw = s.get("/ui/data/meta")
    assert b"\xff" not in raw
    meta = json.loads(raw)
    assert any("bad\ufffdname.folded" in x for x in meta["sources"]), meta


@pytest.mark.parametrize("value, msg", [
    ("nonsense", "-http: invalid address"),
    ("localhost:99999", "-http: invalid port"),
    ("localhost:12ab", "-http: invalid port"),
])
def test_bad_http_value(cprof, value, msg):
    r = cprof("-http=" + value, os.path.join(GOLDEN, "cpu.pb.gz"))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and msg in r.stderr, r.stderr


@pytest.mark.parametrize("value", ["abc", "0", "-5", "100000000"])
def test_bad_deadline(value):
    """CPROF_WEB_DEADLINE_MS (each job's time limit) is checked: one line, exit 2."""
    env = dict(os.environ, TZ="UTC", CPROF_WEB_DEADLINE_MS=value)
    r = subprocess.run([cprof_bin(), "-http=127.0.0.1:0", "-no_browser",
                        os.path.join(GOLDEN, "cpu.pb.gz")], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "CPROF_WEB_DEADLINE_MS=" + value in r.stderr, r.stderr


def test_deadline_answers_503(server):
    """A job that runs past the deadline is a 503 with one line of JSON; the
    cheap answers and later jobs are served as before.  The deadline (1 ms)
    is shorter than any graph through dot takes, so this cannot race."""
    if not shutil.which("dot"):
        pytest.skip("Graphviz dot is not installed")
    s = server("-http=127.0.0.1:0", "-no_browser", os.path.join(GOLDEN, "cpu.pb.gz"),
               env={"CPROF_WEB_DEADLINE_MS": "1"})
    with pytest.raises(urllib.error.HTTPError) as e:
        s.get("/ui/data/graph")
    assert e.value.code == 503
    body = e.value.read()
    assert body.count(b"\n") == 1
    assert "deadline of 1 ms" in json.loads(body)["error"]
    assert b"sampleTypes" in s.get("/ui/data/meta")


def test_port_in_use(cprof):
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        sk.listen(1)
        port = sk.getsockname()[1]
        r = cprof(f"-http=127.0.0.1:{port}", "-no_browser", os.path.join(GOLDEN, "cpu.pb.gz"))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "already in use" in r.stderr, r.stderr


def test_opens_browser(server, tmp_path):
    """Without -no_browser, $BROWSER gets the page's URL."""
    got = tmp_path / "url"
    fake = tmp_path / "browser.sh"
    fake.write_text(f"#!/bin/sh\necho \"$1\" > {got}.tmp && mv {got}.tmp {got}\n")
    fake.chmod(0o755)
    s = server("-http=127.0.0.1:0", os.path.join(GOLDEN, "cpu.pb.gz"), env={"BROWSER": str(fake)})
    deadline = time.monotonic() + 60   # the sanitizer build on a loaded machine
    while not got.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got.exists(), "$BROWSER was not run"
    assert got.read_text().strip() == s.url + "/ui/"


@pytest.mark.skipif(SANITIZED, reason="the demo preloads the plain build's runtime")
def test_demo_script_serves_each_profile(tmp_path):
    """examples/demo.sh (make demo): the demo service's profiles, each served
    with its shape's function in it."""
    build = os.path.dirname(cprof_bin())
    if not os.path.exists(os.path.join(build, "libcprof.so")):
        pytest.skip("no libcprof.so in " + build)
    out, err = tmp_path / "out", tmp_path / "err"
    env = dict(os.environ, NO_BROWSER="1", BUILD=os.path.relpath(build, ROOT))
    env["LD_PRELOAD"] = ""
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.Popen([os.path.join(ROOT, "examples", "demo.sh"), "1"], stdout=o, stderr=e,
                             env=env, cwd=ROOT, start_new_session=True)
    try:
        for _ in range(1200):
            if "demo.sh: serving" in err.read_text() or p.poll() is not None:
                break
            time.sleep(0.1)
        assert "demo.sh: serving" in err.read_text(), err.read_text()
        urls = dict(l.split() for l in out.read_text().splitlines())
        assert "cpu" in urls, out.read_text()
        shapes = {"cpu": "validate_email", "heap": "format_record", "mutex": "cache_refresh",
                  "threads": "watch_subscription"}
        for kind, url in urls.items():
            q = "&si=alloc_space" if kind == "heap" else ""
            with urllib.request.urlopen(url + "data/flame?w=100000" + q, timeout=60) as r:
                d = json.loads(r.read())
            assert shapes[kind] in d["names"], (kind, d["names"][:20])
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=60)


def test_base_and_sources_read_once(cprof, tmp_path):
    """With a base, the web UI reads every file once: named pipes (which
    can be read only once) as the base and the source serve the combined
    profile and each side of the diff flame graph."""
    import threading
    cpu = os.path.join(GOLDEN, "cpu.pb.gz")
    base_file, new_file = str(tmp_path / "base.pb.gz"), str(tmp_path / "new.pb.gz")
    assert cprof("-proto", "-focus=sort", "-output=" + base_file, cpu).returncode == 0
    assert cprof("-proto", "-ignore=pdqsort", "-output=" + new_file, cpu).returncode == 0
    fifos = []
    for name, src in (("base.fifo", base_file), ("new.fifo", new_file)):
        f = str(tmp_path / name)
        os.mkfifo(f)
        fifos.append(f)

        def feed(f=f, src=src):
            with open(f, "wb") as w, open(src, "rb") as r:
                w.write(r.read())
        threading.Thread(target=feed, daemon=True).start()
    p = subprocess.Popen([cprof_bin(), "-http=127.0.0.1:0", "-no_browser",
                          "-diff_base=" + fifos[0], fifos[1]],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, p.kill)   # a second read of a pipe never ends
    watchdog.start()
    try:
        line = p.stdout.readline()
        m = re.match(r"Serving web UI on (http://\S+)", line)
        assert m, (line, p.stderr.read() if p.poll() is not None else "")
        url = m.group(1)
        get = lambda q: json.loads(urllib.request.urlopen(url + q, timeout=120).read())
        b = get("/ui/data/flame?which=base&w=100000")
        a = get("/ui/data/flame?w=100000")
        d = get("/ui/data/flame?which=diff&w=100000")
        assert b["total"] > 0 and a["total"] > 0
        assert d["total"] == a["total"] and d["baseTotal"] == b["total"]
    finally:
        watchdog.cancel()
        p.kill()
        p.wait(timeout=30)
