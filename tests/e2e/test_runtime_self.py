"""The runtime is invisible in its own profiles.

Its own work on the program's threads (symbolizing, building unwind tables
at dlopen, writing profiles at exit) is never charged to the program's CPU
profile (a comment counts it); its own threads (named cprof-...) are never
sampled, their waits never recorded in the block or mutex profiles, and
thread snapshots leave them out unless asked (?runtime=1,
CPROF_THREADS_RUNTIME=1).  Real programs from Debian where the defects
were seen (python3 importing modules, sqlite3, memcached), and a program
of the tests' own (tests/runtime/self/).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import ROOT, cprof_bin, free_port

SRC = os.path.join(ROOT, "tests", "runtime", "self")
# the runtime's own code and the libraries only it uses in these programs
# (a leaf frame's line starts with the sample's value; libelf's elf_get*
# has no underscore after get: elf_get_dynamic_info is ld.so's, a dlopen's)
RUNTIME_FRAME = re.compile(r"^\s+(?:[\d.]+[mun]?s\s+)?(rt_\w+|cprof_\w+|collector_main|server_main|job_main|"
                           r"dwfl_\w+|dwarf_\w+|gelf_\w+|elf(?:32|64)?_(?:begin|get(?!_)|compress|strptr|raw|next|"
                           r"end|memory)\w*|MHD_\w+)\b", re.M)
RUNTIME_LIB = re.compile(r"\[(libdw|libelf|libz|libmicrohttpd)[-.]")


def build_dir():
    return os.path.dirname(os.path.abspath(cprof_bin()))


def sanitized():
    return "build-san" in build_dir()


def preload_env(extra):
    lib = os.path.join(build_dir(), "libcprof.so")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPROF_")}
    env["TZ"] = "UTC"
    if sanitized():
        asan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                              text=True).stdout.strip()
        env["LD_PRELOAD"] = f"{asan} {lib}"
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0:exitcode=86"
    else:
        env["LD_PRELOAD"] = lib
    env.update(extra)
    return env


def traces(path):
    r = subprocess.run([cprof_bin(), "-traces", path], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, TZ="UTC"))
    assert r.returncode == 0, r.stderr
    return r.stdout


def comments(path):
    r = subprocess.run([cprof_bin(), "-raw", path], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return [l for l in r.stdout.splitlines() if l.startswith("Comment:")]


# Under ASan, a preloaded program that calls setlocale (sleep, python3)
# never exits: p11-kit's destructor (GnuTLS's, linked by libcprof.so) waits
# on glibc's setlocale lock at exit.  Not this file's subject; the
# library split takes GnuTLS out of the preload.
HANGS_UNDER_ASAN = "ASan + preload: setlocale'ing programs hang in p11-kit's exit destructor"


def runtime_frames(text):
    return sorted(set(RUNTIME_FRAME.findall(text)) | set(RUNTIME_LIB.findall(text)))


@pytest.fixture(scope="module")
def selfwork(tmp_path_factory):
    exe = str(tmp_path_factory.mktemp("rtself") / "selfwork")
    subprocess.run(["gcc", "-O1", "-g", "-o", exe, os.path.join(SRC, "selfwork.c"), "-ldl"],
                   check=True)
    return exe


def test_runtime_work_on_program_thread_not_charged(selfwork, tmp_path):
    """The program thread alternates its own loop with the runtime's
    symbolizing (a threads profile written on that thread): the CPU profile
    shows the loop only, and counts the runtime's samples in a comment."""
    prof = str(tmp_path / "cpu.pb.gz")
    r = subprocess.run([selfwork, "500"], env=preload_env({"CPROF_CPU_PROFILE": prof}),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    t = traces(prof)
    assert "burn" in t
    assert runtime_frames(t) == [], t
    assert any("of the runtime's own work on the program's threads not shown" in c
               for c in comments(prof)), comments(prof)


PY_IMPORTS = ("import json, decimal, email.parser, http.client, xml.dom.minidom, sqlite3, "
              "ssl, csv, hashlib, asyncio, ctypes, unittest, zipfile, lzma, bz2, "
              "xml.etree.ElementTree, argparse, logging.handlers, tarfile, uuid\n")


def test_python_imports_cpu_profile_has_no_runtime_work(tmp_path):
    """python3 importing 20 modules: the tables built for each dlopen'ed
    extension and the profile's symbolization at exit are not python's."""
    py = "/usr/bin/python3"
    if sanitized():
        pytest.skip(HANGS_UNDER_ASAN)
    if not os.path.exists(py):
        pytest.skip("no /usr/bin/python3")
    seen = []
    for i in range(3):
        prof = str(tmp_path / f"py{i}.pb.gz")
        r = subprocess.run([py, "-c", PY_IMPORTS],
                           env=preload_env({"CPROF_CPU_PROFILE": prof, "CPROF_CPU_HZ": "1000"}),
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        seen += runtime_frames(traces(prof))
    assert seen == [], seen


def test_interposed_malloc_is_named_malloc(tmp_path):
    """A sample in the interposed malloc's own instructions (its sampling
    countdown, before the tail jump to libc's) is the program calling
    malloc: its name was the runtime's, rt_heap_malloc (malloc was the
    alias), counted as runtime work in python's profile now and then.
    30 million malloc/free pairs leave tens of samples there."""
    if sanitized():
        pytest.skip("ASan's malloc is in front of the runtime's")
    exe = str(tmp_path / "mallocloop")
    subprocess.run(["gcc", "-O1", "-g", "-o", exe, os.path.join(SRC, "mallocloop.c")],
                   check=True)
    prof = str(tmp_path / "cpu.pb.gz")
    r = subprocess.run([exe, "30"], env=preload_env({"CPROF_CPU_PROFILE": prof,
                                                     "CPROF_CPU_HZ": "1000"}),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    t = traces(prof)
    assert runtime_frames(t) == [], t
    assert re.search(r"\smalloc$", t, re.M), t


SQL = """WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<1000000)
SELECT count(*), sum(x*x%7) FROM c;
CREATE TABLE t(a,b);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<50000)
INSERT INTO t SELECT x, hex(randomblob(16)) FROM c;
SELECT count(*) FROM t WHERE b LIKE 'A%';
"""


def test_sqlite_block_profile_has_no_runtime_waits(tmp_path):
    """sqlite3 is single-threaded: with the CPU profiler's collector
    running, its block profile was 100% the collector's timed waits."""
    if not shutil.which("sqlite3"):
        pytest.skip("no sqlite3")
    block, cpu = str(tmp_path / "block.txt"), str(tmp_path / "cpu.pb.gz")
    r = subprocess.run(["sqlite3", ":memory:"], input=SQL, capture_output=True, text=True,
                       env=preload_env({"CPROF_CPU_PROFILE": cpu, "CPROF_BLOCK_PROFILE": block}),
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("1000000|")
    text = open(block).read()
    assert text.startswith("--- contention:")
    assert "collector" not in text and "@" not in text, text
    assert runtime_frames(traces(cpu)) == []


def test_memcached_block_profile_has_no_runtime_waits(tmp_path):
    """memcached under load with every profile: the block profile holds
    memcached's own waits only (the collector's were half of it)."""
    if not shutil.which("memcached"):
        pytest.skip("no memcached (setup.sh installs it)")
    block, cpu = str(tmp_path / "block.txt"), str(tmp_path / "cpu.pb.gz")
    port = free_port()
    p = subprocess.Popen(["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", "2",
                          "-u", "root"],
                         env=preload_env({"CPROF_CPU_PROFILE": cpu,
                                          "CPROF_BLOCK_PROFILE": block,
                                          "CPROF_BLOCK_RATE": "1"}),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                c = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("memcached did not listen")
        with c:
            f = c.makefile("rwb")
            for i in range(2000):
                f.write(b"set k%d 0 0 5\r\nvalue\r\n" % (i % 50))
                f.write(b"get k%d\r\n" % (i % 50))
            f.flush()
            for i in range(2000):
                assert f.readline() == b"STORED\r\n"
                while f.readline() != b"END\r\n":
                    pass
        time.sleep(0.3)
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)
    text = open(block).read()
    assert text.startswith("--- contention:"), text
    assert "collector" not in text and "libcprof" not in text, text
    assert runtime_frames(text) == [], text


def fetch(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as r:
        return r.read().decode()


def test_snapshots_hide_runtime_threads(tmp_path):
    """The endpoint's thread dumps list the program's threads only; with
    runtime=1 the runtime's, each named cprof-..., too."""
    port = free_port()
    p = subprocess.Popen(["sleep", "30"],
                         env=preload_env({"CPROF_HTTP": f"127.0.0.1:{port}",
                                          "CPROF_CPU_PROFILE": str(tmp_path / "c.pb.gz")}),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            try:
                dump = fetch(port, "/debug/pprof/goroutine?debug=2")
                break
            except OSError:
                time.sleep(0.05)
        names = re.findall(r"^name: (.*)$", dump, re.M)
        assert names == ["sleep"], dump
        one = fetch(port, "/debug/pprof/goroutine?debug=1")
        assert "threads profile: total 1\n" in one, one
        allt = fetch(port, "/debug/pprof/goroutine?debug=2&runtime=1")
        names = re.findall(r"^name: (.*)$", allt, re.M)
        assert names.count("sleep") == 1, allt
        others = [n for n in names if n != "sleep"]
        assert "cprof-collector" in others and "cprof-http" in others, names
        assert all(n.startswith("cprof-") for n in others), names
    finally:
        p.kill()
        p.communicate()


def test_threads_file_profile_hides_runtime_threads(tmp_path):
    """The threads profile written at exit: the same rule, and
    CPROF_THREADS_RUNTIME=1 to see the runtime's threads."""
    if sanitized():
        pytest.skip(HANGS_UNDER_ASAN)
    for show in (False, True):
        out = str(tmp_path / f"threads{int(show)}.txt")
        extra = {"CPROF_CPU_PROFILE": str(tmp_path / "c.pb.gz"),
                 "CPROF_THREADS_PROFILE": out, "CPROF_THREADS_DEBUG": "2"}
        if show:
            extra["CPROF_THREADS_RUNTIME"] = "1"
        r = subprocess.run(["sleep", "0.2"], env=preload_env(extra), capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        names = re.findall(r"^name: (.*)$", open(out).read(), re.M)
        if show:
            assert "cprof-collector" in names, names
        else:
            assert names == ["sleep"], names
