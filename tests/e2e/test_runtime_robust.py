"""The runtime never breaks the program it lives in.

Each test builds a real C or C++ program from tests/runtime/robust/, runs it
bare and under LD_PRELOAD=libcprof.so CPROF_CPU_PROFILE=... (1000 Hz, to
sample short runs densely), and checks that the program's output and exit
status are the same, that no sanitizer report appears, and that the profile
decodes with cprof as a CPU profile.

The library is the one next to the cprof binary under test (CPROF_BIN), so
`make SANITIZE=address,undefined check` runs these against build-san/
libcprof.so: the programs stay uninstrumented and the ASan runtime is
preloaded first (LD_PRELOAD="libasan.so build-san/libcprof.so"), with leak
detection on: the runtime must free what it allocates.
"""
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import skip_if_sanitized, ROOT, cprof_bin, sanitizer_preload

SRC = os.path.join(ROOT, "tests", "runtime", "robust")
PROGRAMS = {
    "threads_churn": "threads_churn.c",
    "dlopen_loop": "dlopen_loop.c",
    "fork_exec": "fork_exec.c",
    "sigprof_blocked": "sigprof_blocked.c",
    "own_sigprof": "own_sigprof.c",
    "cxx_throw": "cxx_throw.cc",
    "errno_keep": "errno_keep.c",
    "no_eintr": "no_eintr.c",
    "exec_fds": "exec_fds.c",
    "drop_privs": "drop_privs.c",
    "drop_caps": "drop_caps.c",
    "tsc_off": "tsc_off.c",
    "vfork_loop": "vfork_loop.c",
}
SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|"
                              r"WARNING: ThreadSanitizer")


def runtime_lib():
    return os.path.join(os.path.dirname(os.path.abspath(cprof_bin())), "libcprof.so")


def runtime_env(profile, hz=1000, extra=None):
    """The environment that preloads the runtime under test."""
    lib = runtime_lib()
    assert os.path.exists(lib), f"{lib} is not built"
    env = dict(os.environ, TZ="UTC")
    env["LD_PRELOAD"], san_env = sanitizer_preload(lib)
    env.update(san_env)
    if profile is not None:
        env["CPROF_CPU_PROFILE"] = profile
    if hz is not None:
        env["CPROF_CPU_HZ"] = str(hz)
    env.pop("CPROF_CPU_PID", None)
    env.pop("CPROF_CPU_FOLLOW", None)
    env.update(extra or {})
    return env


def build(srcname, out, shared=False):
    src = os.path.join(SRC, srcname)
    cc = "g++" if srcname.endswith(".cc") else "gcc"
    cmd = [cc, "-O1", "-g", "-pthread", "-o", out, src]
    if shared:
        cmd[1:1] = ["-shared", "-fPIC"]
    else:
        cmd.append("-ldl")
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def progs(tmp_path_factory):
    d = tmp_path_factory.mktemp("robust")
    jobs = [(src, str(d / name), False) for name, src in PROGRAMS.items()]
    jobs.append(("dlib.c", str(d / "dlib.so"), True))
    with ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(lambda j: build(*j), jobs))
    paths = {name: outs[i] for i, name in enumerate(PROGRAMS)}
    paths["dlib.so"] = outs[-1]
    return paths


def raw_samples(profile):
    """(total sample count, -raw text) of a profile, asserting it decodes as CPU."""
    r = subprocess.run([cprof_bin(), "-raw", profile], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, f"{profile} does not decode: {r.stderr}"
    assert "samples/count cpu/nanoseconds" in r.stdout, r.stdout[:500]
    assert re.search(r"^PeriodType: cpu nanoseconds", r.stdout, re.M), r.stdout[:300]
    body = r.stdout.split("Samples:", 1)[1].split("Locations", 1)[0]
    total = sum(int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+\d+:", body, re.M))
    return total, r.stdout


def top(profile, n=20):
    r = subprocess.run([cprof_bin(), "-top", f"-nodecount={n}", profile], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def compare(prog_args, tmp_path, hz=1000, extra=None, timeout=120):
    """Run bare and under the runtime; assert same stdout and status; return
    (profile path, runtime's CompletedProcess)."""
    bare = subprocess.run(prog_args, capture_output=True, text=True, timeout=timeout)
    profile = str(tmp_path / "cpu.pb.gz")
    under = subprocess.run(prog_args, capture_output=True, text=True, timeout=timeout,
                           env=runtime_env(profile, hz, extra))
    assert not SANITIZER_REPORT.search(under.stderr), under.stderr[-4000:]
    assert under.returncode == bare.returncode, (
        f"exit status {under.returncode} under the runtime, {bare.returncode} bare\n"
        f"stderr: {under.stderr[-3000:]}")
    assert under.stdout == bare.stdout, f"bare:\n{bare.stdout}\nunder the runtime:\n{under.stdout}"
    assert bare.returncode == 0, bare.stderr
    return profile, under


def test_threads_created_and_exiting_by_thousands(progs, tmp_path):
    profile, _ = compare([progs["threads_churn"]], tmp_path)
    n, _ = raw_samples(profile)
    # ~0.6 CPU-seconds of work in threads created after start, at 1000 Hz
    assert n >= 10, f"only {n} samples of the short-lived threads"
    assert "burn" in top(profile, 50)


# Not strict: how long a thread lives depends on the machine's load, and a
# loaded machine can let it reach the tick; an XPASS must not fail CI.
@pytest.mark.xfail(strict=False, reason="runtime limit (cpu.c): CPU timers fire at the kernel "
                   "tick, so threads living less than a tick are mostly unseen; remove this "
                   "mark when their CPU is sampled in full")
def test_short_lived_threads_sampled_in_full(progs, tmp_path):
    if "build-san" in runtime_lib():
        pytest.skip("under ASan each thread lives long enough for the tick: the limit hides")
    profile = str(tmp_path / "cpu.pb.gz")
    r = subprocess.run([progs["threads_churn"]], capture_output=True, text=True, timeout=120,
                       env=runtime_env(profile))
    assert r.returncode == 0, r.stderr
    rusage_ns = int(re.search(r"rusage_ns (\d+)", r.stderr).group(1))
    n, _ = raw_samples(profile)
    # 1000 Hz: a sample per CPU-millisecond
    assert n * 1e6 >= 0.8 * rusage_ns, f"{n} samples for {rusage_ns / 1e6:.0f} ms of CPU"


def test_dlopen_dlclose_loop_in_another_thread(progs, tmp_path):
    profile, _ = compare([progs["dlopen_loop"], progs["dlib.so"]], tmp_path)
    n, _ = raw_samples(profile)
    assert n > 0


def test_fork_vfork_posix_spawn_exec(progs, tmp_path):
    # the output includes the fork child's "profiling off" (it asks the
    # runtime through cprof_cpu_running) and every child's exit status
    profile, _ = compare([progs["fork_exec"]], tmp_path)
    n, _ = raw_samples(profile)
    assert n > 0
    # the profile at exit is the exec'd image's (stage2)
    assert "burn" in top(profile)


def test_threads_blocking_sigprof(progs, tmp_path):
    profile, _ = compare([progs["sigprof_blocked"]], tmp_path)
    n, _ = raw_samples(profile)
    assert n > 0


def test_program_with_its_own_sigprof_handler(progs, tmp_path):
    # the program checks that its handler counted its signals and is still
    # the installed one at the end; the runtime's clocks moved to a
    # real-time signal it does not use: nothing said, and it is profiled
    profile, under = compare([progs["own_sigprof"]], tmp_path)
    assert under.stderr == "", under.stderr
    n, _ = raw_samples(profile)
    assert n > 0


def test_cxx_exceptions_through_deep_stacks(progs, tmp_path):
    profile, _ = compare([progs["cxx_throw"]], tmp_path)
    n, _ = raw_samples(profile)
    assert n > 0


def test_errno_preserved_across_samples(progs, tmp_path):
    profile, _ = compare([progs["errno_keep"]], tmp_path)
    n, _ = raw_samples(profile)
    assert n > 0, "no sample landed in the errno checks: the test proved nothing"


def test_sleeping_calls_not_interrupted(progs, tmp_path):
    skip_if_sanitized('nanosleep sees EINTR under ASan since the merged runtime changes (open)')
    profile, under = compare([progs["no_eintr"]], tmp_path)
    assert "failed" not in under.stderr, under.stderr
    raw_samples(profile)


def test_sigterm_still_writes_the_profile(progs, tmp_path):
    """A fatal default-action signal ends the program as before (killed by
    SIGTERM) and the profile is written on the way."""
    prog = tmp_path / "spin"
    src = tmp_path / "spin.c"
    src.write_text('#include <stdio.h>\n#include <unistd.h>\n'
                   'int main(void){ volatile unsigned long x = 0; puts("ready"); fflush(stdout);\n'
                   ' for (;;) x++; }\n')
    subprocess.run(["gcc", "-O0", "-o", str(prog), str(src)], check=True)
    profile = str(tmp_path / "term.pb.gz")
    p = subprocess.Popen([str(prog)], stdout=subprocess.PIPE, text=True,
                         env=runtime_env(profile))
    assert p.stdout.readline() == "ready\n"
    import time
    time.sleep(0.3)
    p.terminate()
    rc = p.wait(timeout=60)
    assert rc == -15, f"exit status {rc}: the program must still die of SIGTERM"
    n, _ = raw_samples(profile)
    assert n > 0
    assert "main" in top(profile)


def test_exec_inherits_no_runtime_descriptor(progs):
    """After a symbolized profile (the symbolizer stays open with the ELF
    and debug files it read), an exec'd program inherits only the
    descriptors the test gave: 0, 1, 2."""
    r = subprocess.run([progs["exec_fds"]], capture_output=True, text=True, timeout=120,
                       env=runtime_env(None, hz=None))
    assert r.returncode == 0, r.stdout + r.stderr
    fds = {}
    for m in re.finditer(r" (\d+) -> (.*)$", r.stdout, re.M):
        if "/proc/" not in m.group(2):   # ls's own directory listing
            fds[int(m.group(1))] = m.group(2)
    assert set(fds) == {0, 1, 2}, fds


@pytest.mark.parametrize("profiles", ["cpu", "heap", "http"])
def test_dropping_privileges_keeps_the_program_alive(progs, tmp_path, profiles):
    """A program that drops root as setpriv does (keep-caps and capset on
    its own thread, then setresuid, setgroups, setresgid): glibc runs each
    call on every thread and aborted the program (SIGABRT) when the
    runtime's threads, which had lost their capabilities, failed it."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop privileges")
    extra = {"cpu": {}, "heap": {"CPROF_HEAP_PROFILE": str(tmp_path / "heap.pb.gz")},
             "http": {"CPROF_HTTP": "127.0.0.1:0", "CPROF_HTTP_GRACE": "0"}}[profiles]
    os.chmod(tmp_path, 0o777)   # nobody writes the profiles at exit
    profile = str(tmp_path / "cpu.pb.gz") if profiles == "cpu" else None
    r = subprocess.run([progs["drop_privs"]], capture_output=True, text=True, timeout=60,
                       env=runtime_env(profile, extra=extra))
    assert r.returncode == 0, f"status {r.returncode}: {r.stderr[-2000:]}"
    assert r.stdout == "uid 65534 gid 65534\n"


def test_dropping_privileges_as_a_runtime_thread_starts(progs, tmp_path):
    """The program starts the endpoint (a thread of the runtime's) and drops
    root at once; on one CPU under SCHED_FIFO the new thread first runs
    when glibc's setresuid broadcast waits for it, and took the call before
    the runtime knew it as its own: it lost its capabilities, failed the
    setresgid, and glibc aborted (as setpriv did in 2 of 6 corpus runs,
    its endpoint's server thread starting late).  Aborted in 10 of 10 runs
    before the fix (drop_privs.c says how it makes the order sure)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop privileges")
    os.chmod(tmp_path, 0o777)
    for i in range(5):
        r = subprocess.run([progs["drop_privs"], "api"],
                           capture_output=True, text=True, timeout=60, env=runtime_env(None))
        assert r.returncode == 0, f"run {i}: status {r.returncode}: {r.stderr[-2000:]}"
        assert r.stdout == "uid 65534 gid 65534\n"


def test_runtime_threads_drop_capabilities_with_the_program(progs, tmp_path):
    """The program keeps its capabilities through setresuid (keep-caps),
    then capsets them away: glibc broadcasts set*id calls but not capset,
    so the runtime's threads (collector, endpoint) kept root's permitted
    set as nobody (3 threads with CapPrm 000001fffeffffff before the
    fix)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop privileges")
    os.chmod(tmp_path, 0o777)
    profile = str(tmp_path / "cpu.pb.gz")
    for i in range(3):
        r = subprocess.run([progs["drop_caps"]], capture_output=True, text=True, timeout=60,
                           env=runtime_env(profile, extra={"CPROF_HTTP": "127.0.0.1:0",
                                                           "CPROF_HTTP_GRACE": "0"}))
        assert r.returncode == 0, f"run {i}: status {r.returncode}: {r.stdout} {r.stderr[-2000:]}"
        assert r.stdout == "caps dropped\n"


def test_rdtsc_made_to_fault(progs, tmp_path):
    """A program that makes rdtsc fault (PR_SET_TSC, as stress-ng's sigsegv
    stressor does): the SIGPROF handler read the clock through the vDSO's
    rdtsc with SIGSEGV blocked, and the kernel killed the process (stress-ng
    reported a corrupted bogo-ops counter); a thread's first allocation
    and a lock wait read it too, where the program's handler would run."""
    skip_if_sanitized("ASan's own runtime reads the clock with rdtsc in the program's threads "
                      "(the program faults under libasan alone)")
    extra = {"CPROF_HEAP_PROFILE": str(tmp_path / "heap.pb.gz"), "CPROF_HEAP_RATE": "1",
             "CPROF_MUTEX_PROFILE": str(tmp_path / "mutex.pb.gz"),
             "CPROF_BLOCK_PROFILE": str(tmp_path / "block.pb.gz")}
    profile, _ = compare([progs["tsc_off"]], tmp_path, hz=2000, extra=extra)
    n, _ = raw_samples(profile)
    assert n > 0


def test_vfork_samples_reach_main(progs, tmp_path):
    """Samples at the instruction after vfork's system call (most of a
    vfork loop's time): glibc keeps the return address in rdi there, and the
    walk read the stack slot the child had overwritten, so 81% of stress-ng
    vfork's samples never reached main."""
    skip_if_sanitized("ASan's vfork interceptor keeps the return address in its own spill "
                      "area, which no CFI describes")
    profile, _ = compare([progs["vfork_loop"]], tmp_path, hz=1000)
    r = subprocess.run([cprof_bin(), "-traces", profile], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    traces = r.stdout.split("-----------+")[1:]
    # stacks with a vfork frame (not the thread's name, vfork_loop: a
    # sample in ld.so's lazy binding is no vfork stack)
    vf = [t for t in traces
          if any("vfork" in ln for ln in t.splitlines() if "thread:" not in ln)]
    assert vf, r.stdout[-2000:]
    bad = [t for t in vf if "main" not in t]
    assert not bad, f"{len(bad)} of {len(vf)} vfork stacks miss main:\n{bad[0]}"
