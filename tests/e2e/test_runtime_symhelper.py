"""The symbolizer process (cprof-symbolize, src/runtime/sym_helper.c and
sym_spawn.c): the profile files the preloaded runtime writes are named by
a helper process, never with libdw in the program.  Checked: the file is
symbolized and the program gets no SIGCHLD for the helper (it is not the
program's child); and whatever happens to the helper (missing, killed,
too slow, failing on its own), the program keeps its output and status,
the profile is still written, whole and unsymbolized (cprof names it when
reading), with one line on stderr saying why.  The bounded exit paths
(_exit, SIGTERM) are symbolized too."""
import os
import re
import subprocess
import time

import pytest

from conftest import ROOT

LIB = os.path.join(ROOT, "build", "libcprof.so")
HELPER = os.path.join(ROOT, "build", "cprof-symbolize")

# burns CPU, counts SIGCHLDs (written straight to stderr from the handler,
# so one that comes during the runtime's exit write shows too)
PROG = r"""
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static volatile unsigned long sink;
static void on_chld(int s) { (void)s; write(2, "PROGRAM GOT SIGCHLD\n", 20); }
__attribute__((noinline)) static void burn_here(unsigned long n) { for (unsigned long i = 0; i < n; i++) sink += i * i; }
int main(int argc, char **argv) {
    signal(SIGCHLD, on_chld);
    burn_here(argc > 1 ? strtoul(argv[1], 0, 10) : 150000000UL);
    puts("done");
    fflush(stdout);
    if (argc > 2 && argv[2][0] == 'x')     /* the bounded exit path */
        _exit(7);
    if (argc > 2 && argv[2][0] == 't')     /* a fatal signal's */
        raise(SIGTERM);
    if (argc > 2 && argv[2][0] == 'c') {   /* a daemon's: no stdin, stdout */
        close(0);
        close(1);
    }
    return 7;
}
"""


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    subprocess.run(["make", "-s", "-C", ROOT, "build/libcprof.so", "build/cprof-symbolize"],
                   check=True, capture_output=True, timeout=600)
    d = tmp_path_factory.mktemp("symhelper")
    (d / "p.c").write_text(PROG)
    subprocess.run(["cc", "-O1", "-g", "-o", str(d / "p"), str(d / "p.c")], check=True)
    return str(d / "p")


def run(prog, tmp_path, plugin_dir=None, **extra):
    prof = tmp_path / "cpu.pb.gz"
    env = dict(os.environ, LD_PRELOAD=LIB, CPROF_CPU_PROFILE=str(prof), **extra)
    if plugin_dir:
        env["CPROF_PLUGIN"] = str(plugin_dir)
    t0 = time.monotonic()
    r = subprocess.run([prog], env=env, capture_output=True, text=True, timeout=120)
    return r, prof, time.monotonic() - t0


def names_in_file(cprof, prof):
    """The function names the file itself holds (no symbolization when
    reading)."""
    raw = cprof("-raw", "-symbolize=none", str(prof))
    assert raw.returncode == 0, raw.stderr
    return raw.stdout.split("Locations")[1].split("Mappings")[0]


def assert_unsymbolized_but_whole(cprof, r, prof, why):
    assert r.returncode == 7 and r.stdout == "done\n", r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("cprof")]
    assert len(lines) == 1, r.stderr
    assert str(prof) in lines[0] and "without symbols" in lines[0], lines[0]
    assert re.search(why, lines[0]), lines[0]
    assert "burn_here" not in names_in_file(cprof, prof)
    # nothing lost: cprof names it from the binary when reading
    top = cprof("-top", "-symbolize=local", str(prof))
    assert top.returncode == 0 and "burn_here" in top.stdout, top.stdout + top.stderr
    leftovers = [f for f in os.listdir(prof.parent) if ".cprof-tmp." in f or ".sym." in f]
    assert leftovers == [], leftovers


def fake_helper(tmp_path, script):
    d = tmp_path / "plugins"
    d.mkdir()
    h = d / "cprof-symbolize"
    h.write_text("#!/bin/sh\n" + script + "\n")
    h.chmod(0o755)
    return d


def test_file_symbolized_by_the_helper_no_sigchld(prog, tmp_path, cprof):
    r, prof, _ = run(prog, tmp_path)
    assert r.returncode == 7 and r.stdout == "done\n", r.stderr
    assert "SIGCHLD" not in r.stderr, r.stderr   # the helper is not the program's child
    assert r.stderr == "", r.stderr
    assert "burn_here" in names_in_file(cprof, prof)
    assert [f for f in os.listdir(tmp_path) if f != "cpu.pb.gz"] == []


def test_program_without_standard_descriptors(prog, tmp_path, cprof):
    # the answer pipe then gets descriptors 0 and 1: still the helper's 3
    prof = tmp_path / "cpu.pb.gz"
    env = dict(os.environ, LD_PRELOAD=LIB, CPROF_CPU_PROFILE=str(prof))
    r = subprocess.run([prog, "150000000", "c"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 7 and r.stdout == "done\n", r.stderr
    assert r.stderr == "", r.stderr   # its answer came back
    assert "burn_here" in names_in_file(cprof, prof)


@pytest.mark.parametrize("how", ["x", "t"])
def test_bounded_exit_paths_symbolized(prog, tmp_path, cprof, how):
    # _exit (dash ends so) and SIGTERM: the collector writes within its
    # bound, the helper named the file within its share of it
    prof = tmp_path / "cpu.pb.gz"
    env = dict(os.environ, LD_PRELOAD=LIB, CPROF_CPU_PROFILE=str(prof))
    r = subprocess.run([prog, "150000000", how], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == (7 if how == "x" else -15), r.stderr
    assert r.stdout == "done\n" and "SIGCHLD" not in r.stderr, r.stderr
    assert "burn_here" in names_in_file(cprof, prof)


def test_every_profile_file_without_libdw_in_the_program(prog, tmp_path, cprof):
    # CPU, heap, mutex, block and threads files at exit: none loads the
    # symbolizer plugin (or libdw) into the program; the threads profile
    # (always stacks) is named in the file
    files = {k: tmp_path / f"{k.lower()}.pb.gz" for k in ("CPU", "HEAP", "MUTEX", "BLOCK",
                                                          "THREADS")}
    env = dict(os.environ, LD_PRELOAD=LIB, LD_DEBUG="files", CPROF_HEAP_RATE="1",
               **{f"CPROF_{k}_PROFILE": str(v) for k, v in files.items()})
    r = subprocess.run([prog], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 7 and r.stdout == "done\n", r.stderr[-2000:]
    by_pid = {}
    for pid, f in re.findall(r"^\s*(\d+):\s+file=(\S+)\s+\[\d+\];\s+(?:needed|dynamically loaded)",
                             r.stderr, re.M):
        by_pid.setdefault(int(pid), set()).add(f)
    mine = by_pid[min(by_pid)]
    assert not any("libcprof-sym" in f or "libdw" in f for f in mine), mine
    assert "burn_here" in names_in_file(cprof, files["CPU"])
    assert "main" in names_in_file(cprof, files["THREADS"])
    for f in files.values():
        assert f.stat().st_size > 0, f


def test_helper_missing(prog, tmp_path, cprof):
    empty = tmp_path / "empty"
    empty.mkdir()
    r, prof, _ = run(prog, tmp_path, empty)
    assert_unsymbolized_but_whole(cprof, r, prof, r"cannot run .*cprof-symbolize: No such file")


def test_helper_killed(prog, tmp_path, cprof):
    d = fake_helper(tmp_path, "kill -9 $$")
    r, prof, _ = run(prog, tmp_path, d)
    assert_unsymbolized_but_whole(cprof, r, prof, r"ended without an answer")


def test_helper_too_slow_is_stopped(prog, tmp_path, cprof):
    d = fake_helper(tmp_path, "echo $$ > \"$(dirname \"$0\")/pid\"; exec sleep 60")
    r, prof, took = run(prog, tmp_path, d, CPROF_SYMBOLIZE_TIMEOUT="1")
    assert_unsymbolized_but_whole(cprof, r, prof, r"took more than 1000 ms and was stopped")
    assert took < 30, took
    pid = int((d / "pid").read_text())
    for _ in range(100):   # killed (reaped by init, not by the program)
        if not os.path.exists(f"/proc/{pid}") or \
                open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z":
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the slow helper {pid} still runs")


def test_helper_stopped_while_writing_leaves_nothing(prog, tmp_path, cprof):
    # the real helper, then a hang: its temporary (TMP.sym.PID) is removed
    d = fake_helper(tmp_path, f"{HELPER} \"$@\" 3>/dev/null; "
                              "echo partial > \"$2.sym.$$\"; exec sleep 60")
    r, prof, _ = run(prog, tmp_path, d, CPROF_SYMBOLIZE_TIMEOUT="1")
    assert r.returncode == 7 and r.stdout == "done\n", r.stderr
    assert "took more than 1000 ms" in r.stderr, r.stderr
    leftovers = [f for f in os.listdir(tmp_path) if ".sym." in f or ".cprof-tmp." in f]
    assert leftovers == [], leftovers


def test_helper_fails_on_its_own(prog, tmp_path, cprof):
    # its own one line (here: it cannot read the file), the file unchanged
    d = fake_helper(tmp_path, f"exec {HELPER} \"$1\" /nonexistent/x \"$3\"")
    r, prof, _ = run(prog, tmp_path, d)
    assert_unsymbolized_but_whole(cprof, r, prof, r"cpu\.pb\.gz is written without symbols.*"
                                                   r"(No such file|cannot)")


def test_bad_timeout_value_one_line(prog, tmp_path, cprof):
    r, prof, _ = run(prog, tmp_path, CPROF_SYMBOLIZE_TIMEOUT="soon")
    assert r.returncode == 7 and r.stdout == "done\n"
    lines = [l for l in r.stderr.splitlines() if l.startswith("cprof")]
    assert len(lines) == 1 and "CPROF_SYMBOLIZE_TIMEOUT" in lines[0], r.stderr
    assert "burn_here" in names_in_file(cprof, prof)


def test_helper_command_line(tmp_path):
    r = subprocess.run([HELPER, str(tmp_path / "none.pb.gz")], capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, r.stderr
    assert "none.pb.gz" in r.stderr
    r = subprocess.run([HELPER], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr
