"""The command line: pprof's flags, errors as one line and exit status 2."""
import gzip
import os

import pytest

from conftest import GOLDEN

CPU = os.path.join(GOLDEN, "cpu.pb.gz")
HEAP = os.path.join(GOLDEN, "heap.pb.gz")


def one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("cprof: "), r.stderr
    for n in needles:
        assert n in lines[0], r.stderr
    return lines[0]


def test_help_lists_flags(cprof):
    r = cprof("--help")
    assert r.returncode == 0
    for f in ("-top", "-traces", "-peek", "-tree", "-raw", "-tags", "-cum", "-nodecount",
              "-nodefraction", "-sample_index", "-mean", "-focus", "-ignore", "-hide", "-show",
              "-show_from", "-prune_from", "-tagfocus", "-tagignore", "-tagshow", "-taghide",
              "-granularity", "-functions", "-lines", "-files", "-addresses", "-unit",
              "-relative_percentages", "-output", "-base", "-diff_base", "-inuse_space",
              "-alloc_space", "-inuse_objects", "-alloc_objects"):
        assert f in r.stdout, f


def test_no_source(cprof):
    one_line_error(cprof("-top"), "no profile source")


def test_unknown_flag(cprof):
    one_line_error(cprof("-frobnicate", CPU), "-frobnicate")


def test_bad_flag_value(cprof):
    one_line_error(cprof("-top", "-nodecount=many", CPU), "nodecount", "many")


def test_two_formats(cprof):
    one_line_error(cprof("-top", "-traces", CPU), "at most one output format")


def test_base_and_diff_base(cprof):
    one_line_error(cprof("-top", "-base", CPU, "-diff_base", CPU, CPU), "cannot both")


def test_missing_file(cprof, tmp_path):
    p = str(tmp_path / "nope.pb.gz")
    one_line_error(cprof("-top", p), p)


def test_empty_file(cprof, tmp_path):
    p = tmp_path / "empty.pb"
    p.write_bytes(b"")
    one_line_error(cprof("-top", str(p)), str(p), "empty")


@pytest.mark.parametrize("cut", [1, 10, 100, 1000, 3000])
def test_truncated_raw_profile(cprof, tmp_path, cut):
    raw = gzip.decompress(open(CPU, "rb").read())
    p = tmp_path / "cut.pb"
    p.write_bytes(raw[:cut])
    one_line_error(cprof("-top", str(p)), str(p))


def test_truncated_gzip(cprof, tmp_path):
    data = open(CPU, "rb").read()
    p = tmp_path / "cut.pb.gz"
    p.write_bytes(data[: len(data) // 2])
    one_line_error(cprof("-top", str(p)), str(p))


def test_garbage(cprof, tmp_path):
    p = tmp_path / "garbage"
    p.write_bytes(os.urandom(4096))
    one_line_error(cprof("-top", str(p)), str(p))


def test_concatenated_profiles(cprof, tmp_path):
    raw = gzip.decompress(open(CPU, "rb").read())
    p = tmp_path / "two.pb"
    p.write_bytes(raw + raw)
    one_line_error(cprof("-top", str(p)), str(p), "concatenated")


def test_bad_sample_index(cprof):
    one_line_error(cprof("-top", "-sample_index=bogus", HEAP), "sample_index")


def test_bad_regexp(cprof):
    one_line_error(cprof("-top", "-focus=(", CPU), "focus", "regexp")


def test_output_file(cprof, tmp_path):
    out = tmp_path / "report.txt"
    r = cprof("-top", "-output", str(out), CPU)
    assert r.returncode == 0, r.stderr
    assert "Generating report in" in r.stderr
    assert "crypto/sha256.block" in out.read_text()
    assert r.stdout == ""


def test_stdin_source(cprof):
    data = open(CPU, "rb").read()
    import subprocess
    from conftest import cprof_bin
    r = subprocess.run([cprof_bin(), "-top", "-nodecount=3", "-"], input=data,
                       capture_output=True, env=dict(os.environ, TZ="UTC"))
    assert r.returncode == 0, r.stderr
    assert b"crypto/sha256.block" in r.stdout


def test_flags_after_source_and_double_dash(cprof):
    a = cprof("-top", "-nodecount=3", CPU)
    b = cprof(CPU, "--top", "--nodecount", "3")
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert a.stdout == b.stdout


def test_legacy_alias_equals_sample_index(cprof):
    a = cprof("-top", "-alloc_space", HEAP)
    b = cprof("-top", "-sample_index=alloc_space", HEAP)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    assert "Type: alloc_space" in a.stdout


def test_granularity_flag_forms(cprof):
    a = cprof("-top", "-lines", CPU)
    b = cprof("-top", "-granularity=lines", CPU)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    one_line_error(cprof("-top", "-lines", "-files", CPU), "conflicting")


def test_merge_two_sources_doubles(cprof):
    r = cprof("-top", "-nodecount=1", CPU, CPU)
    assert r.returncode == 0, r.stderr
    assert "of 2720ms total" in r.stdout  # as go tool pprof prints it


def test_base_subtracts_to_zero(cprof):
    r = cprof("-top", "-base", CPU, CPU)
    assert r.returncode == 0, r.stderr
    assert "Showing nodes accounting for 0, 0% of 0 total" in r.stdout


def test_diff_base_total_is_base(cprof):
    r = cprof("-top", "-nodecount=1", "-diff_base", CPU, CPU)
    assert r.returncode == 0, r.stderr
    assert "of 1.36s total" in r.stdout
