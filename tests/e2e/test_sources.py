"""Loading sources as Go 1.19's pprof driver does, against `go tool pprof`.

Before merging, pprof's locateBinaries gives a profile without mappings a
fake mapping {ID 1} that holds every location (it shows in -raw, and merging
keys locations by it), then puts a [binary] argument or -buildid on the first
mapping (Go 1.19 replaces a build ID already there).  A single source is
merged alone (cprof_compact): equal samples combine, zero samples go, ids
are renumbered.  The profiles are written here as profile.proto by hand so
that they can lack what Go's runtime always writes.
"""
import gzip
import os
import subprocess

import pytest

from conftest import have_go

needs_go = pytest.mark.skipif(not have_go(), reason="needs go tool pprof")


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def vfield(f, n):
    return varint(f << 3) + varint(n)


def bfield(f, b):
    return varint(f << 3 | 2) + varint(len(b)) + b


def packed(f, ns):
    return bfield(f, b"".join(varint(n) for n in ns))


def profile(mapping=None, samples=None):
    """main -> work -> leaf, and an unsymbolized location; the samples
    repeat a stack and include a zero one.  mapping: (file, build_id) for
    one mapping holding every location, or None for no mappings."""
    strs = ["", "samples", "count", "main", "work", "leaf", "a.go"]
    if mapping:
        strs += [s for s in mapping if s]
    sid = {s: i for i, s in enumerate(strs)}
    out = bfield(1, vfield(1, sid["samples"]) + vfield(2, sid["count"]))
    for locs, v in samples or [([3, 2, 1], 3), ([4, 1], 3), ([3, 2, 1], 3), ([2, 1], 0)]:
        out += bfield(2, packed(1, locs) + packed(2, [v]))
    if mapping:
        m = vfield(1, 7) + vfield(2, 0x1000) + vfield(3, 0x2000)
        if mapping[0]:
            m += vfield(5, sid[mapping[0]])
        if mapping[1]:
            m += vfield(6, sid[mapping[1]])
        out += bfield(3, m)
    for i, (addr, fn, line) in enumerate([(0x1000, 1, 5), (0x1010, 2, 6), (0x1020, 3, 7),
                                          (0x1030, 0, 0)]):
        body = vfield(1, i + 1) + vfield(3, addr)
        if mapping:
            body += vfield(2, 7)
        if fn:
            body += bfield(4, vfield(1, fn) + vfield(2, line))
        out += bfield(4, body)
    for i, n in enumerate(["main", "work", "leaf"]):
        out += bfield(5, vfield(1, i + 1) + vfield(2, sid[n]) + vfield(3, sid[n]) +
                      vfield(4, sid["a.go"]))
    for s in strs:
        out += bfield(6, s.encode())
    out += bfield(11, vfield(1, sid["samples"]) + vfield(2, sid["count"])) + vfield(12, 1)
    return gzip.compress(out)


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def go_pprof(tmp_path, *args):
    env = dict(os.environ, HOME=str(tmp_path), PPROF_TMPDIR=str(tmp_path), TZ="UTC")
    r = subprocess.run(["go", "tool", "pprof", "-symbolize=none", *args],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def same(cprof, tmp_path, *args):
    mine = cprof(*args)
    assert mine.returncode == 0, mine.stderr
    assert mine.stdout == go_pprof(tmp_path, *args)
    return mine.stdout


def test_fake_mapping_holds_every_location(cprof, tmp_path):
    f = write(tmp_path, "nomap.pb.gz", profile())
    out = cprof("-raw", f).stdout
    assert out.endswith("Mappings\n1: 0x0/0x0/0x0   \n")
    locs = out[out.index("Locations\n"):out.index("Mappings\n")].splitlines()[1:]
    assert len(locs) == 4 and all(" M=1 " in l for l in locs)
    # repeated samples combined, the zero one gone
    assert "          6: 1 2 3 \n          3: 4 3 \n" in out


@needs_go
@pytest.mark.parametrize("args", [
    ["-raw"],
    ["-traces"],
    ["-raw", "-buildid=abc123"],
    ["-raw", "/bin/true"],
    ["-top", "-nodefraction=0"],
], ids=["raw", "traces", "buildid", "binary", "top"])
def test_no_mappings_as_pprof(cprof, tmp_path, args):
    f = write(tmp_path, "nomap.pb.gz", profile())
    same(cprof, tmp_path, *args, f)


@needs_go
def test_no_mappings_merged_and_based(cprof, tmp_path):
    f = write(tmp_path, "nomap.pb.gz", profile())
    g = write(tmp_path, "mapped.pb.gz", profile(mapping=("/bin/app", "")))
    same(cprof, tmp_path, "-raw", f, f)
    same(cprof, tmp_path, "-raw", f, g)
    same(cprof, tmp_path, "-raw", g, f)
    same(cprof, tmp_path, "-traces", "-base", f, f)
    same(cprof, tmp_path, "-raw", "-diff_base", g, f)


@needs_go
def test_overrides_on_first_mapping(cprof, tmp_path):
    f = write(tmp_path, "bid.pb.gz", profile(mapping=("/bin/app", "0ld1d")))
    out = same(cprof, tmp_path, "-raw", "-buildid=feed", f)
    assert "/bin/app feed" in out
    out = same(cprof, tmp_path, "-raw", "/bin/true", f)
    assert "/bin/true 0ld1d" in out
    # each source gets the override before they are merged
    g = write(tmp_path, "other.pb.gz", profile(mapping=("/bin/other", "")))
    same(cprof, tmp_path, "-raw", "-buildid=feed", f, g)


def test_single_source_compacted(cprof, tmp_path):
    """Unused mappings go, but the first stays first; ids renumber in the
    order samples meet them."""
    f = write(tmp_path, "m.pb.gz", profile(mapping=("/bin/app", ""),
                                           samples=[([2, 1], 0), ([4], 5), ([3, 1], 1)]))
    out = cprof("-raw", f).stdout
    assert "          5: 1 \n          1: 2 3 \n" in out
    assert "     1: 0x1030 M=1 \n     2: 0x1020 M=1 leaf a.go:7 s=0\n" in out
