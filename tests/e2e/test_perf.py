"""perf.data input: a real `perf record` of a small C program, read by cprof
through `perf script` (src/cli/perf.c, src/core/perf_script.c)."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import cprof_bin, have_go

PROG = r"""
#include <stdio.h>
static volatile double sink;
__attribute__((noinline)) static double perf_hot_loop(long n)
{
	double x = 0;
	for (long i = 0; i < n; i++)
		x += (double)(i % 7) * 0.5;
	return x;
}
__attribute__((noinline)) static double perf_cold_loop(long n)
{
	return perf_hot_loop(n / 8);
}
int main(void)
{
	for (int k = 0; k < 6; k++)
		sink += perf_hot_loop(10000000) + perf_cold_loop(10000000);
	printf("%f\n", sink);
	return 0;
}
"""


def _record(tmp, callgraph):
    """perf record the program; the reason it cannot, or None."""
    if not shutil.which("perf"):
        return "perf (Debian linux-perf) is not installed"
    src = tmp / "prog.c"
    src.write_text(PROG)
    exe = tmp / "perfprog"
    subprocess.run(["gcc", "-O0", "-g", "-fno-omit-frame-pointer", "-o", str(exe), str(src)],
                   check=True)
    data = tmp / "perf.data"
    argv = ["perf", "record", "-e", "cpu-clock", "-o", str(data)]
    if callgraph:
        argv.insert(2, "-g")
    r = subprocess.run(argv + ["--", str(exe)], capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or not data.exists():
        try:
            paranoid = open("/proc/sys/kernel/perf_event_paranoid").read().strip()
        except OSError:
            paranoid = "?"
        return ("perf record is not permitted here (kernel.perf_event_paranoid=%s): %s"
                % (paranoid, (r.stderr.strip().splitlines() or ["no message"])[-1]))
    return None


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("perf")
    why = _record(tmp, callgraph=True)
    if why:
        pytest.skip(why)
    return tmp / "perf.data"


def test_top_names_the_hot_function(cprof, recording):
    r = cprof("-top", str(recording))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "File: perfprog"
    assert lines[1] == "Type: cpu-clock"
    rows = [l for l in lines if re.match(r"^\s+[\d.]+\w*\s+[\d.]+%", l)]
    assert rows[0].split()[-1] == "perf_hot_loop", r.stdout
    # most of the time is in it
    assert float(rows[0].split()[1].rstrip("%")) > 50


def test_callchains_become_stacks(cprof, recording):
    r = cprof("-peek=perf_hot_loop$", str(recording))
    assert r.returncode == 0, r.stderr
    # its callers: main directly and through perf_cold_loop
    assert re.search(r"\|\s+main$", r.stdout, re.M), r.stdout
    assert re.search(r"\|\s+perf_cold_loop$", r.stdout, re.M), r.stdout
    t = cprof("-traces", str(recording))
    assert "comm:  perfprog" in t.stdout


def test_sample_counts_agree_with_perf(cprof, recording):
    """samples/count adds up to the samples perf itself reports."""
    st = subprocess.run(["perf", "script", "-i", str(recording), "-F", "period"],
                        capture_output=True, text=True)
    assert st.returncode == 0, st.stderr
    want = len([l for l in st.stdout.splitlines() if l.strip()])
    r = cprof("-top", "-sample_index=samples", str(recording))
    m = re.search(r"of (\d+) total", r.stdout)
    assert m, r.stdout
    assert int(m.group(1)) == want


@pytest.mark.skipif(not have_go(), reason="go (golang-go) is not installed")
def test_proto_of_perf_data_reads_in_go_pprof(cprof, recording, tmp_path):
    out = tmp_path / "perf.pb.gz"
    r = cprof("-proto", "-output=" + str(out), str(recording))
    if r.returncode != 0 and "not built" in r.stderr:
        pytest.skip("-proto is not built yet")
    assert r.returncode == 0, r.stderr
    g = subprocess.run(["go", "tool", "pprof", "-top", str(out)], capture_output=True,
                       text=True, env=dict(os.environ, TZ="UTC"))
    assert g.returncode == 0, g.stderr
    c = cprof("-top", str(recording))
    assert g.stdout == c.stdout


def test_without_callchains(cprof, tmp_path):
    why = _record(tmp_path, callgraph=False)
    if why:
        pytest.skip(why)
    r = cprof("-top", str(tmp_path / "perf.data"))
    assert r.returncode == 0, r.stderr
    rows = [l for l in r.stdout.splitlines() if re.match(r"^\s+[\d.]+\w*\s+[\d.]+%", l)]
    assert rows[0].split()[-1] == "perf_hot_loop", r.stdout


def test_broken_perf_data_is_one_line(cprof, tmp_path):
    bad = tmp_path / "bad.data"
    bad.write_bytes(b"PERFILE2" + b"\0" * 200)
    r = cprof("-top", str(bad))
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cprof: %s: perf script failed: " % bad), r.stderr


def test_missing_perf_is_one_line(cprof, tmp_path, monkeypatch):
    f = tmp_path / "x.data"
    f.write_bytes(b"PERFILE2" + b"\0" * 200)
    monkeypatch.setenv("CPROF_PERF", str(tmp_path / "no-such-perf"))
    r = cprof("-top", str(f))
    assert r.returncode == 2
    assert r.stderr.splitlines() == [
        "cprof: %s: reading perf.data needs perf (Debian package linux-perf): cannot run %s: "
        "No such file or directory" % (f, tmp_path / "no-such-perf")]


def test_script_text_parser_on_seeds(cprof, tmp_path, monkeypatch):
    """The fuzz seeds (perf script text from real recordings) are what the
    parser reads; run one through a fake perf that prints it."""
    seed = os.path.join(os.path.dirname(__file__), "..", "..", "fuzz", "seeds", "fuzz_perf",
                        "two_events_cxx.txt")
    fake = tmp_path / "fakeperf"
    fake.write_text("#!/bin/sh\ncat '%s'\n" % os.path.abspath(seed))
    fake.chmod(0o755)
    f = tmp_path / "y.data"
    f.write_bytes(b"PERFILE2")
    monkeypatch.setenv("CPROF_PERF", str(fake))
    r = cprof("-raw", str(f))
    assert r.returncode == 0, r.stderr
    head = r.stdout.splitlines()
    i = head.index("Samples:")
    assert head[i + 1].split() == ["samples/count", "cpu-clock/nanoseconds", "task-clock/nanoseconds"]
