"""The interactive shell (src/cli/shell.c).

Through a pipe the shell must print exactly what `go tool pprof` prints for
the same input: reports and prompts on stdout, the greeting, messages and
errors on stderr.  Through a pseudo-terminal (pexpect) it edits lines with
libedit: tab completion, history, Ctrl-D.
"""
import gzip
import os
import shutil
import stat
import subprocess

import pytest

from conftest import GOLDEN, ROOT, cprof_bin, have_go

PROFILES = ["cpu", "allocs", "heap", "block", "mutex", "goroutine", "threadcreate"]

# Options and per-command arguments: sample types and their shortcuts,
# filters set and cleared with ":", granularities, bool and choice options,
# numbers, -cum, -RE, >file, and pprof's error messages.
SCRIPT = "\n".join([
    "top5", "top -cum 3", "traces", "peek main -runtime", "tree 5",
    "focus=main", "top", ":", "hide=runtime", "top4 -cum", "lines", "top5",
    "functions=true", "granularity=files", "top3", "granularity=functions",
    "sample_index=0", "top3", "raw", "tags", "tags -bytes", "comments",
    "mean=true", "top3", "total_contentions", "mean_alloc_space", "alloc_space",
    "unit=ms", "top3", "nodefraction=0.1", "tree", "trim=false", "top3",
    "relative_percentages", "focus=sort", "top2", "ignore=x", "o",
    "top10 -cum main -runtime >top.txt", "top > top2.txt", "top >",
    "x=y", "sort=foo", "sort=cum", "cum", "cum=true", "trim=x", "nodecount",
    "nodecount 4", "nodecount4", "foo 3", "foo10", "10", "divide_by=2", "top2",
    "divide_by=0", "top2", "focus=(", "top", ":", "sample_index=9",
    "sample_index=nope", "sample_index=1", "top2", "list", "peek",
    "help top", "help traces", "help list", "help nodefraction_typo",
    "quit", "top",
]) + "\n"


def run_shell(cmd, cwd, script, env_extra=None):
    env = dict(os.environ, TZ="UTC")
    env.pop("TERM", None)
    if env_extra:
        env.update(env_extra)
    return subprocess.run(cmd, input=script, capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def pprof_and_cprof(tmp_path, profile, script, flags=()):
    a, b = tmp_path / "pprof", tmp_path / "cprof"
    a.mkdir()
    b.mkdir()
    src = os.path.join(GOLDEN, profile + ".pb.gz")
    ra = run_shell(["go", "tool", "pprof", *flags, src], a, script)
    rb = run_shell([cprof_bin(), *flags, src], b, script)
    return a, ra, b, rb


@pytest.mark.skipif(not have_go(), reason="go tool pprof is the reference")
@pytest.mark.parametrize("profile", PROFILES)
def test_pipe_matches_pprof(tmp_path, profile):
    a, ra, b, rb = pprof_and_cprof(tmp_path, profile, SCRIPT)
    assert rb.returncode == 0 == ra.returncode
    assert rb.stdout == ra.stdout
    assert rb.stderr == ra.stderr
    for name in ("top.txt", "top2.txt"):
        assert (b / name).read_text() == (a / name).read_text()


@pytest.mark.skipif(not have_go(), reason="go tool pprof is the reference")
def test_pipe_flags_become_options(tmp_path):
    # command-line flags are the shell's starting options
    script = "o\ntop\ntree\nflat\ntop\n"
    flags = ("-nodecount=4", "-cum", "-sample_index=alloc_objects", "-focus=main", "-lines")
    a, ra, b, rb = pprof_and_cprof(tmp_path, "allocs", script, flags)
    assert rb.stdout == ra.stdout
    assert rb.stderr == ra.stderr
    assert "nodecount                 = 4" in rb.stderr


@pytest.mark.skipif(not have_go(), reason="go tool pprof is the reference")
def test_pipe_last_line_without_newline(tmp_path):
    a, ra, b, rb = pprof_and_cprof(tmp_path, "cpu", "top2\ntraces")
    assert rb.stdout == ra.stdout and rb.stderr == ra.stderr
    assert rb.stdout.endswith("(pprof) ")


@pytest.mark.skipif(not have_go(), reason="go tool pprof is the reference")
def test_no_samples_hint(tmp_path):
    # a profile minus itself (-base) sums to zero in every sample type
    heap = os.path.join(GOLDEN, "heap.pb.gz")
    a, ra, b, rb = pprof_and_cprof(tmp_path, "heap", "o\ntop\n", ("-base=" + heap,))
    assert "No samples were found with the default sample value type." in rb.stderr
    assert rb.stderr == ra.stderr
    assert rb.stdout == ra.stdout


GRAPH_SCRIPT = "\n".join([
    "dot 5", "dot >g.dot", "callgrind", "callgrind >c.txt", "svg", "png", "proto",
    "list main.main", "peek main -runtime", "focus=sha256", "dot",
]) + "\n"


@pytest.mark.skipif(not have_go(), reason="go tool pprof is the reference")
@pytest.mark.parametrize("profile", ["cpu", "allocs"])
def test_pipe_graphs_and_files(tmp_path, profile):
    # run in the same directory one after the other: -list prints the cwd
    src = os.path.join(GOLDEN, profile + ".pb.gz")
    ra = run_shell(["go", "tool", "pprof", src], tmp_path, GRAPH_SCRIPT)
    want = {n: (tmp_path / n).read_bytes() for n in ("g.dot", "c.txt", "profile001.callgraph.out")}
    made = sorted(os.listdir(tmp_path))
    for n in made:
        os.unlink(tmp_path / n)
    rb = run_shell([cprof_bin(), src], tmp_path, GRAPH_SCRIPT)
    assert rb.stdout == ra.stdout
    assert rb.stderr == ra.stderr
    assert sorted(os.listdir(tmp_path)) == made
    for n, data in want.items():
        assert (tmp_path / n).read_bytes() == data, n


def test_proto_written_away_from_terminal(tmp_path, cprof):
    # report formats meant for files go to profileNNN.EXT in the current directory
    r = run_shell([cprof_bin(), os.path.join(GOLDEN, "cpu.pb.gz")], tmp_path,
                  "proto\nproto\n")
    assert r.returncode == 0
    if "not built yet" in r.stderr:
        pytest.skip("-proto is not built yet")
    assert "Generating report in profile001.pb.gz\n" in r.stderr
    assert "Generating report in profile002.pb.gz\n" in r.stderr
    with gzip.open(tmp_path / "profile001.pb.gz") as f:
        assert len(f.read()) > 100
    if have_go():
        top = subprocess.run(["go", "tool", "pprof", "-top", str(tmp_path / "profile001.pb.gz")],
                             capture_output=True, text=True, env=dict(os.environ, TZ="UTC"))
        assert "crypto/sha256.block" in top.stdout


def test_web_opens_browser(tmp_path):
    rec = tmp_path / "opened"
    browser = tmp_path / "browser.sh"
    browser.write_text("#!/bin/sh\necho \"$1\" > %s\n" % rec)
    browser.chmod(browser.stat().st_mode | stat.S_IEXEC)
    probe = run_shell([cprof_bin(), "-svg", os.path.join(GOLDEN, "cpu.pb.gz")], tmp_path, "")
    if probe.returncode != 0:
        pytest.skip("-svg is not built yet: " + probe.stderr.strip())
    r = run_shell([cprof_bin(), os.path.join(GOLDEN, "cpu.pb.gz")], tmp_path, "web\n",
                  {"BROWSER": str(browser), "TMPDIR": str(tmp_path)})
    assert r.returncode == 0
    path = r.stderr.split("Generating report in ")[1].split("\n")[0]
    assert os.path.dirname(path) == str(tmp_path) and path.endswith(".svg")
    for _ in range(100):
        if rec.exists() and rec.read_text().strip():
            break
        subprocess.run(["sleep", "0.05"])
    assert rec.read_text().strip() == path
    assert "<svg" in open(path).read()


def test_help_lists_every_command(tmp_path):
    r = run_shell([cprof_bin(), os.path.join(GOLDEN, "cpu.pb.gz")], tmp_path, "help\nhelp folded\n")
    assert r.returncode == 0
    for cmd in ("top", "traces", "peek", "tree", "raw", "tags", "comments", "list", "disasm",
                "dot", "svg", "png", "pdf", "callgrind", "proto", "folded", "flamegraph",
                "flamesvg", "web", "o/options", "q/quit/exit/^D"):
        assert "\n    %-16s " % cmd in r.stderr, cmd
    assert "Outputs collapsed stacks" in r.stderr
    assert r.stdout == "(pprof) (pprof) (pprof) "


def test_bounded_line(tmp_path):
    # a line longer than the shell takes is cut, not grown without bound
    r = run_shell([cprof_bin(), os.path.join(GOLDEN, "cpu.pb.gz")], tmp_path,
                  "x" * (3 << 20) + "\ntop1\n")
    assert r.returncode == 0
    assert "Showing top 1 nodes" in r.stdout


# ---- pseudo-terminal -------------------------------------------------------

pexpect = pytest.importorskip("pexpect")


def spawn(tmp_path, *args):
    env = dict(os.environ, TERM="xterm", HOME=str(tmp_path), TZ="UTC")
    return pexpect.spawn(cprof_bin(), [*args, os.path.join(GOLDEN, "cpu.pb.gz")], env=env,
                         encoding="utf-8", timeout=30, dimensions=(50, 200))


def test_terminal_session(tmp_path):
    c = spawn(tmp_path)
    c.expect_exact("Entering interactive mode")
    c.expect_exact("(pprof) ")
    # tab completes a command ...
    c.send("tra\t\r")
    c.expect_exact("-----------+-------")
    c.expect_exact("(pprof) ")
    # ... and a function name (a unique substring becomes the whole name)
    c.send("peek sha256.blo\t\r")
    c.expect_exact("Showing nodes accounting for")
    c.expect_exact("(pprof) ")
    # option values complete too
    c.send("sample_index=sam\t\r")
    c.expect_exact("(pprof) ")
    c.send("top3\r")
    c.expect_exact("Showing top 3 nodes")
    c.expect_exact("(pprof) ")
    # up-arrow recalls the last line
    c.send("\x1b[A\r")
    c.expect_exact("Showing top 3 nodes")
    c.expect_exact("(pprof) ")
    c.sendeof()
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0
    # libedit's history file escapes spaces as \\040
    hist = (tmp_path / ".cprof_history").read_text().replace("\\040", " ")
    assert "traces" in hist
    assert "peek crypto/sha256.block" in hist
    assert "sample_index=samples" in hist
    assert "top3" in hist


def test_terminal_history_persists(tmp_path):
    c = spawn(tmp_path)
    c.expect_exact("(pprof) ")
    c.send("top2 -cum\r")
    c.expect_exact("Showing top 2 nodes")
    c.expect_exact("(pprof) ")
    c.send("help\r")
    c.expect_exact("(pprof) ")
    c.send("\x1b[A\x1b[A\r")  # two lines back
    c.expect_exact("Showing top 2 nodes")
    c.expect_exact("(pprof) ")
    c.sendeof()
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0
    c = spawn(tmp_path)
    c.expect_exact("(pprof) ")
    c.send("\x1b[A\r")        # the previous session's last line
    c.expect_exact("Showing top 2 nodes")
    c.expect_exact("(pprof) ")
    c.send("quit\r")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0


def test_terminal_quit_and_errors(tmp_path):
    c = spawn(tmp_path)
    c.expect_exact("(pprof) ")
    c.send("nosuchcommand\r")
    c.expect_exact('unrecognized command: "nosuchcommand"')
    c.expect_exact("(pprof) ")
    c.send("nodecount 3\r")
    c.expect_exact("did you mean: nodecount=3")
    c.expect_exact("(pprof) ")
    c.sendeof()
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0
