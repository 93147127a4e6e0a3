"""Conformance: cprof's reports equal go tool pprof's on the Go corpus.

tests/golden/go holds real Go profiles and go tool pprof's answers
(NAME.CMD.txt); tests/golden/golden.sh holds the exact command line behind
each CMD.  For every profile and command, cprof with the same flags must
print the same lines.  A golden that ends in "exit N" recorded a failure:
cprof must fail too, with the same message.
"""
import os
import re
import shlex

import pytest

from conftest import GOLDEN, ROOT

# Formats that belong to a later issue (#3: graphs and callgrind).
NOT_YET = {}


def golden_cases():
    script = open(os.path.join(ROOT, "tests", "golden", "golden.sh")).read()
    cmds = {}
    for m in re.finditer(r'run \$b\.(\$si|\w+)\.txt (.*) \$f', script):
        name, args = m.group(1), m.group(2)
        if name == "$si":
            for si in ("alloc_objects", "alloc_space", "inuse_objects", "inuse_space"):
                cmds[si] = [a.replace("$si", si) for a in shlex.split(args)]
        else:
            cmds[name] = shlex.split(args)
    cases = []
    for f in sorted(os.listdir(GOLDEN)):
        if not f.endswith(".pb.gz"):
            continue
        prof = f[:-len(".pb.gz")]
        for name, args in sorted(cmds.items()):
            gold = os.path.join(GOLDEN, f"{prof}.{name}.txt")
            if os.path.exists(gold):
                cases.append(pytest.param(prof, name, args, id=f"{prof}.{name}"))
    return cases


@pytest.mark.parametrize("prof,name,args", golden_cases())
def test_golden(cprof, prof, name, args):
    if name in NOT_YET:
        pytest.skip(NOT_YET[name])
    want = open(os.path.join(GOLDEN, f"{prof}.{name}.txt")).read()
    r = cprof(*args, os.path.join(GOLDEN, prof + ".pb.gz"))
    lines = want.splitlines()
    if lines and re.fullmatch(r"exit \d+", lines[-1]):
        assert r.returncode != 0, r.stdout
        msg = "\n".join(lines[:-1])
        assert msg in r.stderr, r.stderr
        return
    assert r.returncode == 0, r.stderr
    # pprof writes warnings to stderr before the report; compare both.
    got = r.stderr + r.stdout
    assert got.splitlines() == lines
