"""imports.py - the python3 case of tests/e2e/test_real_programs.py.

Imports fifteen standard modules (several load C extension modules with
dlopen: _json, _decimal, _sqlite3, _ctypes, _hashlib, zlib, _csv, _asyncio,
pyexpat...) and does a little deterministic work with each, printing one
line per module; the output is compared with a run without the runtime.
"""
import argparse
import asyncio
import csv
import ctypes
import decimal
import email.message
import hashlib
import http.client
import io
import json
import re
import sqlite3
import statistics
import unittest
import xml.etree.ElementTree as ET
import zlib

data = {"n": list(range(50)), "s": "x" * 10}
print("json", len(json.dumps(data, sort_keys=True)))
print("re", len(re.findall(r"\b\w{3}\b", "the cat sat on the mat with a hat")))
decimal.getcontext().prec = 30
print("decimal", decimal.Decimal(1) / decimal.Decimal(7))
con = sqlite3.connect(":memory:")
con.execute("create table t(a)")
con.executemany("insert into t values (?)", [(i,) for i in range(1000)])
print("sqlite3", con.execute("select sum(a), count(*) from t").fetchone())
m = email.message.EmailMessage()
m["Subject"] = "hello"
m.set_content("body")
print("email", len(m.as_string().splitlines()))
print("http.client", http.client.responses[404])
root = ET.fromstring("<a><b>1</b><b>2</b><c/></a>")
print("xml", [b.text for b in root.iter("b")])
p = argparse.ArgumentParser()
p.add_argument("--k", type=int, default=3)
print("argparse", p.parse_args(["--k", "7"]).k)


async def twice(x):
    await asyncio.sleep(0)
    return 2 * x


async def gather():
    return await asyncio.gather(*(twice(i) for i in range(5)))


print("asyncio", asyncio.run(gather()))
print("unittest", unittest.TestCase().assertEqual.__name__)
libc = ctypes.CDLL(None)
print("ctypes", libc.abs(-5))
print("hashlib", hashlib.sha256(b"cprof" * 1000).hexdigest()[:16])
print("zlib", zlib.crc32(zlib.compress(b"abc" * 10000)))
buf = io.StringIO()
csv.writer(buf).writerows([[1, "a,b"], [2, "c"]])
print("csv", buf.getvalue().splitlines())
print("statistics", statistics.median([3, 1, 4, 1, 5, 9, 2, 6]))
total = 0
for i in range(300000):
    total += i * i % 7
print("loop", total)
