"""The runtime in real programs: it never crashes, deadlocks or slows them.

Programs from tests/runtime/robust/ reproduce, in a few lines, what broke
real programs (each says which), and Debian's own programs (gcc, g++,
redis-server with jemalloc, nginx with forked workers, stress-ng) are run
under LD_PRELOAD=libcprof.so and under `cprof record`, with and without
profiles.  Each must keep its output and exit status and end when it
should.  Programs that are not installed are skipped (setup.sh installs
them).
"""
import os
import shutil
import subprocess

import pytest

from conftest import cprof_bin
from test_runtime_robust import SRC, runtime_lib

def preload_env(extra=None):
    """The environment with only the runtime preloaded (no profile)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPROF_")}
    env["LD_PRELOAD"] = runtime_lib()
    env.update(extra or {})
    return env


def cc(src, out, *flags):
    r = subprocess.run(["gcc", "-O2", "-g", "-pthread", *flags, "-o", str(out),
                        os.path.join(SRC, src), "-ldl"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(out)


# ---- allocator lookup -------------------------------------------------------

def test_canonical_plt_free_is_not_an_allocator_in_front(tmp_path):
    """A non-PIE program taking free's address (cc1 does) ran free into a
    jump to 0 or an endless recursion (exit 139)."""
    prog = cc("canon_free.c", tmp_path / "canon", "-fno-pic", "-no-pie")
    for extra in ({}, {"CPROF_HEAP_PROFILE": str(tmp_path / "heap.pb.gz"), "CPROF_HEAP_RATE": "1"}):
        r = subprocess.run([prog], capture_output=True, text=True, timeout=60,
                           env=preload_env(extra))
        assert (r.returncode, r.stdout) == (0, "ok\n"), (extra, r.returncode, r.stderr[-2000:])


C_FILE = "#include <stdio.h>\nstruct p { int x, y; };\n" \
         "int main(void) { struct p a = { 1, 2 }; printf(\"%d\\n\", a.x + a.y); return 0; }\n"
CXX_FILE = "#include <map>\n#include <string>\n#include <vector>\n#include <iostream>\n" \
           "int main() { std::map<std::string, std::vector<int>> m;\n" \
           "  for (int i = 0; i < 100; i++) m[std::to_string(i)].push_back(i);\n" \
           "  std::cout << m.size() << std::endl; }\n"


@pytest.mark.parametrize("lang", ["c", "c++"])
def test_gcc_and_gxx_compile_under_the_runtime(lang, tmp_path):
    compiler, name, text = ("gcc", "x.c", C_FILE) if lang == "c" else ("g++", "x.cpp", CXX_FILE)
    if not shutil.which(compiler):
        pytest.skip(f"{compiler} is not installed")
    src = tmp_path / name
    src.write_text(text)
    obj = tmp_path / "x.o"
    r = subprocess.run([compiler, "-O2", "-c", str(src), "-o", str(obj)], capture_output=True,
                       text=True, timeout=120, env=preload_env())
    assert r.returncode == 0 and obj.exists(), r.stderr[-3000:]
    obj.unlink()
    heap = tmp_path / "heap.pb.gz"
    r = subprocess.run([cprof_bin(), "record", "-o", str(tmp_path / "cpu.pb.gz"),
                        f"--heap={heap}", "--", compiler, "-O2", "-c", str(src), "-o", str(obj)],
                       capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert r.returncode == 0 and obj.exists(), r.stderr[-3000:]
    assert "internal compiler error" not in r.stderr
