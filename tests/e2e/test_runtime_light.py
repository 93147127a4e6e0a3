"""The light preload: libcprof.so links only libc's libraries; what needs
others (symbolization with libdw, libstdc++'s demangler and zlib in
libcprof-sym.so; the endpoint's libmicrohttpd and GnuTLS in
libcprof-http.so) is loaded with dlopen when first used.  Checked with ldd,
/proc/PID/maps of preloaded programs, LD_DEBUG=files (what the loader
opened), and with the plugins missing (CPROF_PLUGIN naming an empty
directory): programs run and exit as without the runtime, and profiles are
still written (addresses and mappings, gzip of stored blocks), which cprof
symbolizes afterwards."""
import gzip
import os
import re
import subprocess
import time

import pytest

from conftest import ROOT

LIB = os.path.join(ROOT, "build", "libcprof.so")
# glibc 2.36's own libraries (and the vdso), the only ones libcprof.so may map
LIBC_LIBS = {"linux-vdso.so.1", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2",
             "librt.so.1", "ld-linux-x86-64.so.2"}

BURN = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static volatile unsigned long sink;
__attribute__((noinline)) static void burn(unsigned long n) { for (unsigned long i = 0; i < n; i++) sink += i * i; }
int main(int argc, char **argv) {
    unsigned long n = argc > 1 ? strtoul(argv[1], 0, 10) : 200000000UL;
    burn(n);
    char *p = malloc(1000);
    strcpy(p, "done");
    if (argc > 2) sleep((unsigned)atoi(argv[2]));
    printf("%s\n", p);
    free(p);
    return 7;
}
"""


@pytest.fixture(scope="module")
def burn(tmp_path_factory):
    subprocess.run(["make", "-s", "-C", ROOT, "build/libcprof.so"], check=True,
                   capture_output=True, timeout=600)
    d = tmp_path_factory.mktemp("light")
    src = d / "burn.c"
    src.write_text(BURN)
    exe = d / "burn"
    subprocess.run(["cc", "-O1", "-g", "-o", str(exe), str(src)], check=True)
    return str(exe)


def mapped_libs(pid):
    with open(f"/proc/{pid}/maps") as f:
        return {os.path.basename(m) for m in re.findall(r"(/\S+\.so[.\d]*)$", f.read(), re.M)}


def libs_while_running(burn, env, settle=1.0):
    """Run burn briefly then asleep; its mapped libraries while asleep, its
    exit status, stdout and stderr."""
    p = subprocess.Popen([burn, "1000", "3"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(settle)
        libs = mapped_libs(p.pid)
    finally:
        out, err = p.communicate(timeout=60)
    return libs, p.returncode, out, err


def libc_only(libs):
    return {l for l in libs if l not in LIBC_LIBS and not re.match(r"lib(c|m)[-.]", l)
            and l != "libcprof.so"}


def test_ldd_lists_only_libc_libraries():
    out = subprocess.run(["ldd", LIB], capture_output=True, text=True, check=True).stdout
    names = {os.path.basename(line.split()[0]) for line in out.splitlines() if line.strip()}
    assert names <= LIBC_LIBS, names - LIBC_LIBS


@pytest.mark.parametrize("env", [{}, {"CPROF_CPU_PROFILE": "cpu.pb.gz"},
                                 {"CPROF_HEAP_PROFILE": "heap.pb.gz"},
                                 {"CPROF_CPU_PROFILE": "c.pb.gz", "CPROF_HEAP_PROFILE": "h.pb.gz",
                                  "CPROF_MUTEX_PROFILE": "m.pb.gz",
                                  "CPROF_BLOCK_PROFILE": "b.pb.gz"}])
def test_preloaded_process_maps_only_libc(burn, tmp_path, env):
    full = dict(os.environ, LD_PRELOAD=LIB, **{k: str(tmp_path / v) for k, v in env.items()})
    libs, rc, out, err = libs_while_running(burn, full)
    assert "libcprof.so" in libs
    assert libc_only(libs) == set(), libs
    assert rc == 7 and out == "done\n", err


def loaded_files(stderr):
    """The libraries LD_DEBUG=files shows the loader opening."""
    return set(re.findall(r"file=(\S+)\s+\[\d+\];\s+(?:needed|dynamically loaded)", stderr))


def test_profile_files_symbolized_without_libdw_in_the_program(burn, tmp_path, cprof):
    env = dict(os.environ, LD_PRELOAD=LIB, LD_DEBUG="files")
    # /bin/true: nothing sampled, nothing to name: no plugin, still a valid profile
    r = subprocess.run(["/bin/true"], env=dict(env, CPROF_CPU_PROFILE=str(tmp_path / "t.pb.gz")),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    files = loaded_files(r.stderr)
    assert not any("libcprof-sym" in f or "libdw" in f for f in files), files
    top = cprof("-top", str(tmp_path / "t.pb.gz"))
    assert top.returncode == 0, top.stderr
    # samples: named by the helper process (cprof-symbolize), never with
    # the symbolizer plugin or libdw in the program
    prof = tmp_path / "b.pb.gz"
    r = subprocess.run([burn], env=dict(env, CPROF_CPU_PROFILE=str(prof),
                                        CPROF_HEAP_PROFILE=str(tmp_path / "h.pb.gz"),
                                        CPROF_HEAP_RATE="1"),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 7
    # LD_DEBUG is the helper's too (its environment is the program's less
    # the preload): the lines are told apart by pid
    pid_files = {}
    for pid, f in re.findall(r"^\s*(\d+):\s+file=(\S+)\s+\[\d+\];\s+(?:needed|dynamically loaded)",
                             r.stderr, re.M):
        pid_files.setdefault(pid, set()).add(f)
    prog_pid = min(pid_files, key=int)   # the program started first
    assert not any("libcprof-sym" in f or "libdw" in f or "gnutls" in f
                   for f in pid_files[prog_pid]), pid_files[prog_pid]
    assert any("libdw" in f for p, fs in pid_files.items() if p != prog_pid for f in fs), pid_files
    # the file itself has the names (no symbolization when reading)
    rawtext = cprof("-raw", "-symbolize=none", str(prof)).stdout
    assert "burn" in rawtext.split("Locations")[1].split("Mappings")[0], rawtext[:2000]
    assert " main" in cprof("-top", "-symbolize=none", str(tmp_path / "h.pb.gz")).stdout


def test_endpoint_loads_its_plugin(burn, tmp_path):
    env = dict(os.environ, LD_PRELOAD=LIB, CPROF_HTTP="127.0.0.1:0")
    libs, rc, out, err = libs_while_running(burn, env, settle=1.5)
    assert "serving on 127.0.0.1:" in err
    assert "libcprof-http.so" in libs and "libcprof-sym.so" not in libs, libs
    assert rc == 7


def test_plugins_missing_program_runs_and_profile_is_written(burn, tmp_path, cprof):
    empty = tmp_path / "empty"
    empty.mkdir()
    prof = tmp_path / "cpu.pb.gz"
    env = dict(os.environ, LD_PRELOAD=LIB, CPROF_PLUGIN=str(empty), CPROF_CPU_PROFILE=str(prof),
               CPROF_HEAP_PROFILE=str(tmp_path / "heap.pb.gz"))
    r = subprocess.run([burn], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 7 and r.stdout == "done\n"
    # one line for the CPU profile: its symbolizer process is not there
    # (the heap profile says the same only when an allocation happened to
    # be sampled: burn allocates little, but the sampling is random)
    lines = [l for l in r.stderr.splitlines() if l.startswith("cprof:")]
    cpu = [l for l in lines if "cpu.pb.gz" in l]
    assert len(cpu) == 1, r.stderr
    assert all("heap.pb.gz" in l and "without symbols" in l for l in lines if l not in cpu), \
        r.stderr
    assert "without symbols" in cpu[0], cpu[0]
    assert "cprof-symbolize: No such file" in cpu[0], cpu[0]
    raw = gzip.decompress(prof.read_bytes())   # a valid gzip stream
    assert len(raw) > 0
    # addresses only in the file; cprof names them from the binary afterwards
    rawtext = cprof("-raw", "-symbolize=none", str(prof)).stdout
    assert "burn" not in rawtext.split("Locations")[1].split("Mappings")[0]
    top = cprof("-top", "-symbolize=local", str(prof))
    assert top.returncode == 0 and " burn" in top.stdout, top.stdout + top.stderr
    assert (tmp_path / "heap.pb.gz").stat().st_size > 0


def test_plugins_missing_endpoint_refuses_program_runs(burn, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    env = dict(os.environ, LD_PRELOAD=LIB, CPROF_PLUGIN=str(empty), CPROF_HTTP="127.0.0.1:0")
    r = subprocess.run([burn, "1000", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 7 and r.stdout == "done\n"
    assert re.search(r"cprof: not serving: cannot load .*libcprof-http\.so", r.stderr), r.stderr


def test_table_builder_calls_only_async_signal_safe_functions():
    """The unwind-table builder (unwind_tables.c, ehframe.c) may run while
    the program holds its allocator's lock: it calls no malloc, no stdio,
    no lock, nothing but these (async-signal-safe, or pure memory)
    functions of libc and its own."""
    allowed = {"open", "close", "fstat", "mmap", "munmap", "mremap", "memchr", "memcmp",
               "memcpy", "memset", "memmove"}
    subprocess.run(["make", "-s", "-C", ROOT, "build/libcprof.so"], check=True,
                   capture_output=True, timeout=600)
    for obj in ("ehframe.o", "unwind_tables.o"):
        path = os.path.join(ROOT, "build", "obj", "src", "runtime", obj)
        out = subprocess.run(["nm", "-u", path], capture_output=True, text=True, check=True).stdout
        used = {line.split()[-1] for line in out.splitlines() if line.strip()}
        ours = {u for u in used if u.startswith("rt_")}
        assert used - ours <= allowed, (obj, sorted(used - ours - allowed))
