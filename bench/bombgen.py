#!/usr/bin/env python3
"""Hostile inputs for bench/bombs.sh and tests/e2e/test_hostile_input.py.

    bombgen.py KIND OUT [MiB]

Each is a small gzip file that inflates to MiB mebibytes (default 4096):
one deflate member of 16 MiB of the pattern, repeated (gzip allows many
members), so even a 4 GiB bomb is written in a fraction of a second.
  zeros          zeros (not a profile at all)
  text           "a\\n" lines (plausible text: the legacy parsers' copy)
  folded         "a;b 1\\n" lines: valid folded stacks, one sample a line
  empty_samples  profile.proto: a sample type, then empty Sample messages
  strings        profile.proto: empty string_table entries
  big_string     profile.proto: one string_table entry of MiB bytes
  long_stack     profile.proto: one Sample whose location list is MiB ids
"""
import sys
import zlib

CHUNK = 16 << 20


def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def member(data):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def repeat_to(unit, size):
    return (unit * (size // len(unit) + 1))[:size]


def main():
    kind, out = sys.argv[1], sys.argv[2]
    total = (int(sys.argv[3]) if len(sys.argv) > 3 else 4096) << 20
    head = b""
    if kind == "zeros":
        unit = b"\0"
    elif kind == "text":
        unit = b"a\n"
    elif kind == "folded":
        unit = b"a;b 1\n"
    elif kind == "empty_samples":
        # sample_type {type: 1, unit: 2} and the strings, then 12 00 ...
        head = b"\x0a\x04\x08\x01\x10\x02" + b"\x32\x00\x32\x01s\x32\x01c"
        unit = b"\x12\x00"
    elif kind == "strings":
        unit = b"\x32\x00"
    elif kind == "big_string":
        n = total - 16
        head = b"\x32\x00\x32" + varint(n)
        unit = b"a"
    elif kind == "long_stack":
        n = total - 16
        head = b"\x32\x00\x12" + varint(n + len(varint(n)) + 1) + b"\x0a" + varint(n)
        unit = b"\x01"
    else:
        sys.exit("unknown kind " + kind)
    chunk = repeat_to(unit, CHUNK)
    body = total - len(head)
    with open(out, "wb") as f:
        if head:
            f.write(member(head))
        m = member(chunk)
        for _ in range(body // CHUNK):
            f.write(m)
        if body % CHUNK:
            f.write(member(chunk[: body % CHUNK]))


if __name__ == "__main__":
    main()
