"""`cprof -trace_convert=perfetto`: the runtime's trace (tests/runtime/trace/
waits.c's "all" and "region" scenarios) converted to Perfetto's protobuf
trace format, decoded here by a small reader of the fields the converter
writes (no Perfetto library on the machine) and checked against the JSON:
every thread a track with its name, every X slice a begin/end pair on its
thread's track, every waker arrow a flow, every counter sample a counter
event on its series' track.  The field numbers and types below were
checked by hand against Perfetto's own .proto files (google/perfetto,
protos/perfetto/trace/: trace_packet.proto, track_event/track_event.proto,
track_descriptor.proto, process_ and thread_descriptor.proto,
debug_annotation.proto; flow_ids 47 and terminating_flow_ids 48 are
fixed64, the current fields, not the deprecated 36/42), as were what its
importer drops: a packet without trusted_packet_sequence_id or timestamp,
a thread descriptor without pid and tid, a counter event on a track
without TrackDescriptor.counter.  Perfetto's trace processor is not on
the machine, so the import itself is not run here."""
import json
import struct
import subprocess
from collections import Counter, defaultdict

import pytest

from conftest import cprof_bin
from test_trace import run, waits  # noqa: F401 (the fixture)

# the nested messages the converter writes: (message, field) -> message
NESTED = {("Trace", 1): "TracePacket", ("TracePacket", 11): "TrackEvent",
          ("TracePacket", 60): "TrackDescriptor", ("TrackDescriptor", 3): "Process",
          ("TrackDescriptor", 4): "Thread", ("TrackDescriptor", 8): "Counter",
          ("TrackEvent", 4): "DebugAnnotation"}
STRINGS = {("TrackDescriptor", 2), ("Process", 6), ("Thread", 5), ("TrackEvent", 22),
           ("TrackEvent", 23), ("DebugAnnotation", 10), ("DebugAnnotation", 6)}


def varint(b, i):
    v = shift = 0
    while True:
        assert i < len(b), "a varint runs past the end"
        v |= (b[i] & 0x7f) << shift
        shift += 7
        i += 1
        if not b[i - 1] & 0x80:
            return v, i
        assert shift < 70, "a varint too long"


def decode(b, msg="Trace"):
    """{field: [values]}; nested messages decoded, strings as str; every
    byte must belong to a field of a valid wire type."""
    out, i = defaultdict(list), 0
    while i < len(b):
        key, i = varint(b, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 1:
            assert i + 8 <= len(b)
            v = struct.unpack_from("<Q", b, i)[0]
            i += 8
        elif wt == 2:
            n, i = varint(b, i)
            assert i + n <= len(b), (msg, field, n)
            v = b[i:i + n]
            i += n
            if (msg, field) in NESTED:
                v = decode(v, NESTED[(msg, field)])
            elif (msg, field) in STRINGS:
                v = v.decode()
        else:
            raise AssertionError(f"wire type {wt} in {msg}.{field}")
        out[field].append(v)
    assert i == len(b)
    return out


def one(m, f, default=None):
    return m[f][0] if m.get(f) else default


def convert(trace_file, tmp_path):
    out = tmp_path / "t.pftrace"
    r = subprocess.run([cprof_bin(), "-trace_convert=perfetto", f"-output={out}", str(trace_file)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return decode(out.read_bytes())


@pytest.mark.parametrize("scenario", ["all", "region"])
def test_perfetto_conversion_matches_the_json(waits, tmp_path, scenario):  # noqa: F811
    f = tmp_path / f"{scenario}.json"
    run(waits, scenario, env={"CPROF_TRACE": str(f)})
    trace = json.load(open(f))
    evs = trace["traceEvents"]
    packets = convert(f, tmp_path)[1]
    assert all(one(p, 10) == 1 for p in packets)          # one sequence
    assert one(packets[0], 13) == 1                       # its state cleared first
    tracks, events = {}, []
    for p in packets:
        if 60 in p:
            d = p[60][0]
            tracks[one(d, 1)] = d
        if 11 in p:
            assert 8 in p, p                              # Perfetto drops an event without
            events.append((one(p, 8), p[11][0]))          # a timestamp
    # threads: a track each, named as the JSON names them
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in evs
             if e["ph"] == "M" and e["name"] == "thread_name"}
    by_thread = {}
    for u, d in tracks.items():
        if 4 in d:
            t = d[4][0]
            assert 1 in t and 2 in t, t                   # without pid and tid: dropped
            by_thread[(one(t, 1), one(t, 2))] = u
            assert one(d, 5) in tracks                    # under its process
            assert one(t, 5) == names.get((one(t, 1), one(t, 2))), t
    assert set(names) <= set(by_thread)
    # every event on a described track
    assert all(one(te, 11) in tracks for _, te in events)
    # X slices: a begin (its name) and an end each, balanced, per thread
    want = Counter((by_thread[(e["pid"], e["tid"])], e["name"]) for e in evs if e["ph"] == "X")
    got = Counter((one(te, 11), one(te, 23)) for _, te in events if one(te, 9) == 1
                  and one(te, 22) != "region")
    assert got == want
    depth = Counter()
    for ts, te in sorted(events, key=lambda x: x[0]):   # stable: file order at equal times
        if one(te, 9) in (1, 2):
            depth[one(te, 11)] += 1 if one(te, 9) == 1 else -1
            assert depth[one(te, 11)] >= 0
    assert all(v == 0 for v in depth.values())
    # waits keep their reason
    reasons = Counter(e["args"]["reason"] for e in evs if e["ph"] == "X" and e.get("cat") == "blocked")
    ann = Counter(one(a, 6) for _, te in events for a in te.get(4, []) if one(a, 10) == "reason")
    assert ann == reasons
    # the waker arrows: each flow id leaves once and ends once
    s_ids = sorted(e["id"] for e in evs if e["ph"] == "s")
    f_ids = sorted(e["id"] for e in evs if e["ph"] == "f")
    assert sorted(v for _, te in events for v in te.get(47, [])) == s_ids
    assert sorted(v for _, te in events for v in te.get(48, [])) == f_ids
    # counters: one event per sampled series value, on a counter track
    want_c = Counter(f'{e["name"]} {k}' for e in evs if e["ph"] == "C" for k in e["args"])
    got_c = Counter(one(tracks[one(te, 11)], 2) for _, te in events if one(te, 9) == 4)
    assert got_c == want_c and want_c["threads alive threads"] > 0
    assert all(8 in tracks[one(te, 11)] for _, te in events if one(te, 9) == 4)
    # regions: begin/end on the thread's regions track
    nb = sum(1 for e in evs if e["ph"] == "b")
    assert sum(1 for _, te in events if one(te, 22) == "region") == nb
    if scenario == "region":
        assert nb > 0


def test_perfetto_conversion_bad_input_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"traceEvents":[{"ph":"X",')
    for args, msg in (([f"-output={tmp_path / 'o'}", str(bad)], "not a Chrome trace"),
                      ([str(bad)], "-output=FILE is needed"),
                      ([f"-output={tmp_path / 'o'}", str(bad), str(bad)], "one trace at a time")):
        r = subprocess.run([cprof_bin(), "-trace_convert=perfetto", *args],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and msg in r.stderr, r.stderr
        assert r.stderr.strip().count("\n") == 0
    r = subprocess.run([cprof_bin(), "-trace_convert=systrace", f"-output={tmp_path / 'o'}", str(bad)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "want perfetto" in r.stderr
