"""End to end: the profile.proto codec against go tool pprof.

A small C helper, built here against the same libcprofcore.a as $CPROF_BIN,
decodes a profile with cprof_decode_file and writes it back with
cprof_pb_write_file (or raw, unzipped).  For every profile of the Go corpus,
and for the same profiles as pprof itself writes them (samples first,
strings after the tables), go tool pprof must print exactly the same
reports for the original and the re-encoded file, Time: line included.
The helper also shows the error messages a user would see.
"""
import gzip
import os
import shutil
import subprocess

import pytest

from conftest import GOLDEN, ROOT, cprof_bin, have_go

HELPER_C = r"""
#include "cprof_core.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* recode IN OUT [raw]: decode IN (any format, "-" = stdin), write OUT */
int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: recode IN OUT [raw]\n");
        return 2;
    }
    cprof_profile *p = NULL;
    cprof_error e = { 0, "" };
    if (cprof_decode_file(argv[1], &p, &e)) {
        fprintf(stderr, "recode: %s: %s (%s)\n", argv[1], e.msg, cprof_strerror(e.code));
        return 1;
    }
    int rc;
    if (argc > 3 && strcmp(argv[3], "raw") == 0) {
        void *buf;
        size_t len;
        rc = cprof_pb_encode(p, false, &buf, &len, &e);
        if (!rc) {
            FILE *f = fopen(argv[2], "wb");
            rc = !f || fwrite(buf, 1, len, f) != len || fclose(f);
            free(buf);
        }
    } else {
        rc = cprof_pb_write_file(p, argv[2], &e);
    }
    cprof_profile_free(p);
    if (rc) {
        fprintf(stderr, "recode: %s: %s\n", argv[2], e.msg);
        return 1;
    }
    return 0;
}
"""

GOLDENS = sorted(f[:-len(".pb.gz")] for f in os.listdir(GOLDEN) if f.endswith(".pb.gz"))
REPORTS = [["-raw"], ["-top", "-nodefraction=0"], ["-traces"], ["-tags"]]
needs_go = pytest.mark.skipif(not have_go(), reason="go is not on PATH")


@pytest.fixture(scope="module")
def recode(tmp_path_factory):
    """Build the helper; returns a function running it."""
    bindir = os.path.dirname(os.path.abspath(cprof_bin()))
    lib = os.path.join(bindir, "libcprofcore.a")
    if not os.path.exists(lib):
        lib = os.path.join(ROOT, "build", "libcprofcore.a")
    if not os.path.exists(lib):
        pytest.skip("libcprofcore.a not built")
    d = tmp_path_factory.mktemp("recode")
    src = d / "recode.c"
    src.write_text(HELPER_C)
    exe = str(d / "recode")
    cmd = [os.environ.get("CC", "cc"), "-std=c11", "-D_GNU_SOURCE", "-g",
           "-I", os.path.join(ROOT, "src", "core"), str(src), lib, "-lz", "-lpcre2-8", "-lm",
           "-o", exe]
    if os.path.basename(bindir) == "build-san":
        cmd[1:1] = ["-fsanitize=address,undefined"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)

    def run(src_path, out_path, *extra, input=None):
        return subprocess.run([exe, str(src_path), str(out_path), *extra], input=input,
                              capture_output=True, timeout=300)
    return run


def pprof(*args):
    env = dict(os.environ, TZ="UTC", PPROF_TMPDIR=os.environ.get("TMPDIR", "/tmp"))
    r = subprocess.run(["go", "tool", "pprof", *args], capture_output=True, text=True,
                       env=env, timeout=300)
    return r.returncode, r.stdout, r.stderr


def assert_same_reports(orig, recoded):
    for args in REPORTS:
        want = pprof(*args, str(orig))
        got = pprof(*args, str(recoded))
        assert got == want, f"go tool pprof {' '.join(args)} differs"


@needs_go
@pytest.mark.parametrize("name", GOLDENS)
def test_go_profile_recoded_same_reports(recode, tmp_path, name):
    orig = os.path.join(GOLDEN, name + ".pb.gz")
    out = tmp_path / "recoded.pb.gz"
    r = recode(orig, out)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert_same_reports(orig, out)


@needs_go
@pytest.mark.parametrize("name", GOLDENS)
def test_pprof_written_profile_recoded_same_reports(recode, tmp_path, name):
    """pprof's own writer puts samples before everything they refer to."""
    orig = tmp_path / "pprof.pb.gz"
    with open(orig, "wb") as f:
        r = subprocess.run(["go", "tool", "pprof", "-proto", os.path.join(GOLDEN, name + ".pb.gz")],
                           stdout=f, stderr=subprocess.PIPE, timeout=300)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "recoded.pb.gz"
    r = recode(orig, out)
    assert r.returncode == 0, r.stderr
    assert_same_reports(orig, out)


@needs_go
def test_raw_output_readable_by_pprof(recode, tmp_path):
    orig = os.path.join(GOLDEN, "cpu.pb.gz")
    out = tmp_path / "cpu.pb"
    r = recode(orig, out, "raw")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:2] != b"\x1f\x8b"
    assert_same_reports(orig, out)


@pytest.mark.parametrize("name", GOLDENS)
def test_recoding_is_a_fixed_point(recode, tmp_path, name):
    """Encoding what we decoded from our own output gives the same bytes."""
    a, b = tmp_path / "a.pb.gz", tmp_path / "b.pb.gz"
    assert recode(os.path.join(GOLDEN, name + ".pb.gz"), a).returncode == 0
    assert recode(a, b).returncode == 0
    assert gzip.decompress(a.read_bytes()) == gzip.decompress(b.read_bytes())
    assert a.read_bytes() == b.read_bytes()


def test_stdin_and_uncompressed_input(recode, tmp_path):
    raw = gzip.decompress(open(os.path.join(GOLDEN, "cpu.pb.gz"), "rb").read())
    a, b = tmp_path / "a.pb.gz", tmp_path / "b.pb.gz"
    r = recode("-", a, input=raw)
    assert r.returncode == 0, r.stderr
    (tmp_path / "cpu.pb").write_bytes(raw)
    r = recode(tmp_path / "cpu.pb", b)
    assert r.returncode == 0, r.stderr
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("content,message", [
    (b"", "empty input file"),
    (gzip.compress(b""), "empty input file"),
    (b"\x07\x07\x07\x07\xff\xfe", "unrecognized profile format"),
    ("truncated-gzip", "truncated gzip data"),
    ("truncated-proto", "exceeds the"),
    ("concatenated", "concatenated profiles detected"),
    ("crc", "CRC mismatch"),
])
def test_errors_name_the_problem(recode, tmp_path, content, message):
    gz = open(os.path.join(GOLDEN, "goroutine.pb.gz"), "rb").read()
    raw = gzip.decompress(gz)
    if content == "truncated-gzip":
        content = gz[:len(gz) // 2]
    elif content == "truncated-proto":
        content = gzip.compress(raw[:len(raw) - 7])
    elif content == "concatenated":
        content = gz + gz
    elif content == "crc":
        content = gz[:-8] + bytes([gz[-8] ^ 1]) + gz[-7:]
    src = tmp_path / "in.prof"
    src.write_bytes(content)
    out = tmp_path / "out.pb.gz"
    r = recode(src, out)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert message in err, err
    assert "AddressSanitizer" not in err and "runtime error" not in err
    assert not out.exists()


def test_missing_input(recode, tmp_path):
    r = recode(tmp_path / "nope.pb.gz", tmp_path / "out.pb.gz")
    assert r.returncode == 1
    assert "No such file or directory" in r.stderr.decode()


LEGACY = os.path.join(ROOT, "tests", "golden", "legacy")


def test_stdin_gzip_and_pipes(recode, tmp_path):
    """Input streams from the descriptor: stdin, gzip'd or not, decodes as the file."""
    path = os.path.join(GOLDEN, "cpu.pb.gz")
    gz = open(path, "rb").read()
    a, b = tmp_path / "a.pb.gz", tmp_path / "b.pb.gz"
    assert recode(path, a).returncode == 0
    r = recode("-", b, input=gz)
    assert r.returncode == 0, r.stderr
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("name", ["growthz.txt", "contentionz.txt", "gperf_cpu64le.prof"])
def test_legacy_input_through_file_and_stdin(recode, tmp_path, name):
    """The legacy parsers get their whole input from a file or stdin, plain or gzip'd."""
    data = open(os.path.join(LEGACY, name), "rb").read()
    outs = []
    for i, content in enumerate([data, gzip.compress(data)]):
        src = tmp_path / f"in{i}"
        src.write_bytes(content)
        for how in ("file", "stdin"):
            out = tmp_path / f"out-{i}-{how}.pb.gz"
            r = recode(src, out) if how == "file" else recode("-", out, input=content)
            assert r.returncode == 0, r.stderr
            outs.append(gzip.decompress(out.read_bytes()))
    assert all(o == outs[0] for o in outs)


@pytest.mark.parametrize("content,message", [
    ("truncated-gzip", "truncated gzip data"),
    ("concatenated", "concatenated profiles detected"),
    ("crc", "CRC mismatch"),
    (b"\x07\x07\x07\x07\xff\xfe", "unrecognized profile format"),
])
def test_errors_through_stdin(recode, tmp_path, content, message):
    gz = open(os.path.join(GOLDEN, "goroutine.pb.gz"), "rb").read()
    if content == "truncated-gzip":
        content = gz[:len(gz) // 2]
    elif content == "concatenated":
        content = gz + gz
    elif content == "crc":
        content = gz[:-8] + bytes([gz[-8] ^ 1]) + gz[-7:]
    r = recode("-", tmp_path / "out.pb.gz", input=content)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert message in err, err
    assert err.count("\n") == 1, err


@pytest.fixture(scope="module")
def big_profile(tmp_path_factory):
    """A generated CPU profile of 2 MB (raw), larger than the decode window."""
    bindir = os.path.dirname(os.path.abspath(cprof_bin()))
    lib = os.path.join(bindir, "libcprofcore.a")
    if not os.path.exists(lib):
        pytest.skip("libcprofcore.a not built")
    d = tmp_path_factory.mktemp("big")
    gen = str(d / "gen")
    cmd = [os.environ.get("CC", "cc"), "-std=c11", "-D_GNU_SOURCE", "-O1",
           "-I", os.path.join(ROOT, "src", "core"), os.path.join(ROOT, "bench", "gen.c"), lib,
           "-lz", "-lpcre2-8", "-lm", "-o", gen]
    if os.path.basename(bindir) == "build-san":
        cmd[1:1] = ["-fsanitize=address,undefined"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    out = d / "big.pb.gz"
    subprocess.run([gen, "-type", "cpu", "-samples", "30000", "-locations", "5000",
                    "-functions", "1000", "-depth", "8:40", str(out)], check=True, timeout=300)
    return out


def test_big_profile_streams_from_file_stdin_and_raw(recode, tmp_path, big_profile):
    gz = big_profile.read_bytes()
    raw = gzip.decompress(gz)
    assert len(raw) > (1 << 20)
    (tmp_path / "big.pb").write_bytes(raw)
    outs = []
    for i, (src, inp) in enumerate([(big_profile, None), ("-", gz),
                                    (tmp_path / "big.pb", None), ("-", raw)]):
        out = tmp_path / f"out{i}.pb.gz"
        r = recode(src, out, input=inp)
        assert r.returncode == 0, r.stderr
        outs.append(out.read_bytes())
    assert all(o == outs[0] for o in outs)
    # damage far past the first window is reported as the parse sees it
    bad = tmp_path / "bad.pb.gz"
    bad.write_bytes(gzip.compress(raw + b"\x12\x05\x08"))
    r = recode(bad, tmp_path / "x.pb.gz")
    assert r.returncode == 1
    assert f"length 5 at offset {len(raw) + 1} exceeds the 1 bytes left" in r.stderr.decode()


@needs_go
def test_big_profile_recoded_same_top(recode, tmp_path, big_profile):
    out = tmp_path / "recoded.pb.gz"
    r = recode("-", out, input=big_profile.read_bytes())
    assert r.returncode == 0, r.stderr
    want = pprof("-top", "-nodecount=40", str(big_profile))
    assert want[0] == 0, want[2]
    assert pprof("-top", "-nodecount=40", str(out)) == want
