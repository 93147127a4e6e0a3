"""libcprof's CPU profiler on real programs (tests/runtime/cpu/*.c, built with
gcc): preloaded with CPROF_CPU_PROFILE, or linked with libcprof.a and driven
through include/cprof.h.  Profiles are read back with cprof and with
`go tool pprof`.  Bounds on shares and totals are loose on purpose (the
machine may be loaded; no timing is asserted): they catch gross errors such
as a lost thread, a wrong weight or a wrong function."""
import os
import re
import resource
import shutil
import signal
import subprocess

import pytest

from conftest import ROOT, have_go

SRC = os.path.join(ROOT, "tests", "runtime", "cpu")
LIB = os.path.join(ROOT, "build", "libcprof.so")


@pytest.fixture(scope="module")
def progs(tmp_path_factory):
    """The test programs, compiled once; the runtime libraries made."""
    subprocess.run(["make", "-s", "-C", ROOT, "build/libcprof.so", "build/libcprof.a",
                    "build/libcprofcore.a"], check=True, capture_output=True, timeout=600)
    d = tmp_path_factory.mktemp("rtcpu")
    out = {}
    for name in ("shares", "own_sigprof", "forker", "blocked_sigprof", "clone_loop", "vfork_reset",
                 "fatal_reset", "all_signals", "sig_storm", "fork_storm"):
        exe = str(d / name)
        subprocess.run(["gcc", "-O2", "-g", "-o", exe, os.path.join(SRC, name + ".c"),
                        "-lpthread"], check=True)
        out[name] = exe
    exe = str(d / "shares_api")
    libs = subprocess.run(["pkg-config", "--libs", "libdw", "libelf", "zlib", "libpcre2-8"],
                          capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["gcc", "-DWITH_API", "-O2", "-g", "-I", os.path.join(ROOT, "include"),
                    "-o", exe, os.path.join(SRC, "shares.c"),
                    os.path.join(ROOT, "build", "libcprof.a"),
                    os.path.join(ROOT, "build", "libcprofcore.a"),
                    *libs, "-lstdc++", "-lpthread", "-ldl", "-lm"], check=True)
    out["shares_api"] = exe
    exe = str(d / "own_sigprof_api")
    subprocess.run(["gcc", "-DWITH_API", "-O2", "-g", "-I", os.path.join(ROOT, "include"),
                    "-o", exe, os.path.join(SRC, "own_sigprof.c"),
                    os.path.join(ROOT, "build", "libcprof.a"),
                    os.path.join(ROOT, "build", "libcprofcore.a"),
                    *libs, "-lstdc++", "-lpthread", "-ldl", "-lm"], check=True)
    out["own_sigprof_api"] = exe
    return out


def run_preloaded(args, prof, extra_env=None, timeout=120):
    env = dict(os.environ, LD_PRELOAD=LIB, CPROF_CPU_PROFILE=str(prof))
    for k in ("CPROF_CPU_HZ", "CPROF_CPU_PID", "CPROF_CPU_FOLLOW", "CPROF_CPU_PROFILE_PID"):
        env.pop(k, None)
    env.update(extra_env or {})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # started as a foreground job is: SIGINT at its default (a shell's
    # background job, as make and CI start the suite, inherits it ignored,
    # and the runtime keeps a program's ignored signals ignored)
    p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout,
                       preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p, cpu


def top_rows(cprof, prof):
    """{function: (flat seconds, cum seconds)} from cprof -top -unit=s."""
    r = cprof("-top", "-unit=s", str(prof))
    assert r.returncode == 0, r.stderr
    rows = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)s?\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)s?\s+[\d.]+%\s+(.*)$", line)
        if m:
            rows[m.group(3).strip()] = (float(m.group(1)), float(m.group(2)))
    return rows, r.stdout


def total_seconds(text):
    m = re.search(r"Total samples = ([\d.]+)(ms|s|us)", text)
    assert m, text
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "ms" else v / 1e6 if m.group(2) == "us" else v


@pytest.mark.parametrize("nthreads,secs", [(1, 1.2), (3, 0.8)])
def test_preloaded_shares_threads_and_total(cprof, progs, tmp_path, nthreads, secs):
    prof = tmp_path / "cpu.pb.gz"
    p, cpu = run_preloaded([progs["shares"], str(nthreads), str(secs)], prof)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    rows, text = top_rows(cprof, prof)
    a = rows["burn_a"][0]
    b = rows["burn_b"][0]
    c = rows["step_c (inline)"][0]
    tot = total_seconds(text)
    # 60/30/10 in flat time.  Wide bounds: 120-240 samples, and the kernel
    # checks CPU timers at its tick, so on a loaded machine (a thread
    # running in bursts shorter than a tick) a sample can land in the phase
    # after the one that spent the time; the accuracy benchmark measures
    # the real error, this test catches gross ones.
    assert 0.35 < a / tot < 0.80, text
    assert 0.15 < b / tot < 0.50, text
    assert 0.02 < c / tot < 0.25, text
    assert a > c and b > c, text
    # the inline frame's caller gets it as cumulative time
    assert rows["burn_c"][1] >= c
    # total sampled CPU against the process's CPU time (rusage)
    assert 0.6 * cpu < tot < 1.25 * cpu, (tot, cpu, text)
    assert tot > 0.6 * secs * nthreads
    # one label per thread, each with its share
    tags = cprof("-tags", str(prof)).stdout
    for i in range(nthreads):
        assert re.search(r": worker-%d\b" % i, tags), tags


def test_profile_contents_raw(cprof, progs, tmp_path):
    prof = tmp_path / "cpu.pb.gz"
    # 2 x 0.6 s: ~12 samples expected in step_c (10%); none has p < 1e-5
    p, _ = run_preloaded([progs["shares"], "2", "0.6"], prof)
    assert p.returncode == 0, p.stderr
    raw = cprof("-raw", str(prof)).stdout
    assert "PeriodType: cpu nanoseconds" in raw
    assert "Period: 10000000" in raw
    assert re.search(r"samples/count cpu/nanoseconds", raw), raw
    # the executable's mapping comes first, with its build ID and offset
    mappings = raw[raw.index("Mappings"):]
    first = mappings.splitlines()[1]
    assert progs["shares"] in first, mappings
    bid = subprocess.run(["readelf", "-n", progs["shares"]], capture_output=True,
                         text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", bid)
    assert m and m.group(1) in first, (first, bid)
    # file and line of the inlined frame
    r = cprof("-traces", "-lines", str(prof)).stdout
    assert re.search(r"step_c \S*shares\.c:\d+ \(inline\)\n\s+burn_c \S*shares\.c:\d+\n", r), r


@pytest.mark.skipif(not have_go(), reason="go tool pprof is not installed")
def test_go_pprof_reads_it_the_same(cprof, progs, tmp_path):
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([progs["shares"], "2", "0.3"], prof)
    assert p.returncode == 0, p.stderr
    for fmt in ("-top", "-traces", "-tags"):
        ours = cprof(fmt, str(prof))
        go = subprocess.run(["go", "tool", "pprof", fmt, str(prof)], capture_output=True,
                            text=True, env=dict(os.environ, TZ="UTC"), timeout=300)
        assert go.returncode == 0, go.stderr
        assert ours.stdout == go.stdout, fmt


@pytest.mark.parametrize("how,rc", [("return", 0), ("exit", 0),
                                    ("sigterm", -signal.SIGTERM),
                                    ("sigint", -signal.SIGINT)])
def test_written_at_exit(cprof, progs, tmp_path, how, rc):
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([progs["shares"], "1", "0.3", how], prof)
    # the program still dies by its signal
    assert p.returncode == rc, p.stderr
    rows, text = top_rows(cprof, prof)
    assert "burn_a" in rows, text
    assert total_seconds(text) > 0.1


@pytest.mark.parametrize("mode,rc", [("ign_reset", -signal.SIGINT),
                                     ("restore", -signal.SIGTERM),
                                     ("resethand", -signal.SIGABRT)])
def test_written_when_reset_to_default_later(cprof, progs, tmp_path, mode, rc):
    """A fatal signal's action set to SIG_DFL after the start (SIGINT
    inherited ignored, as a shell's background job has it, then reset; a
    crash handler that restores the default and raises again; a one-shot
    SA_RESETHAND handler that raises again): the program still dies of the
    signal, and the profile is written first."""
    prof = tmp_path / "cpu.pb.gz"
    env = dict(os.environ, LD_PRELOAD=LIB, CPROF_CPU_PROFILE=str(prof))
    for k in ("CPROF_CPU_HZ", "CPROF_CPU_FOLLOW", "CPROF_FOLLOW_FORK"):
        env.pop(k, None)
    p = subprocess.run([progs["fatal_reset"], mode], env=env, capture_output=True, text=True,
                       timeout=120,
                       preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert p.returncode == rc, (p.returncode, p.stdout + p.stderr)
    assert "query reports" not in p.stdout and "at start" not in p.stdout, p.stdout
    rows, text = top_rows(cprof, prof)
    assert "burn" in rows, text
    assert total_seconds(text) > 0.1, text


@pytest.mark.parametrize("mode,out", [("ignore", "alive"), ("query", "query ok"),
                                      ("vfork", "vfork ok")])
def test_program_sees_its_own_actions(cprof, progs, tmp_path, mode, out):
    """The program's queries report what it set (SIG_DFL where the
    runtime's handler stands in for it: shells and daemons test for
    SIG_DFL and SIG_IGN); SIG_IGN stays ignored; a vfork child's reset
    leaves the parent's view alone."""
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([progs["fatal_reset"], mode], prof)
    assert p.returncode == 0 and out in p.stdout, (p.returncode, p.stdout + p.stderr)
    rows, text = top_rows(cprof, prof)
    assert "burn" in rows, text


def test_actions_set_from_threads_and_handlers(cprof, progs, tmp_path):
    """Threads and a signal handler setting the fatal signals' actions at
    once: no deadlock, each query reads what was set last, and SIGTERM,
    left at SIG_DFL, still writes the profile as it kills the process."""
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([progs["sig_storm"]], prof, timeout=300)
    assert p.returncode == -signal.SIGTERM and "storm ok" in p.stdout, \
        (p.returncode, p.stdout + p.stderr)
    assert cprof("-top", str(prof)).returncode == 0


def test_fork_while_threads_set_actions(progs, tmp_path):
    """A child forked while another thread is inside the interposed
    sigaction (holding its lock) can still set its own actions: none of
    400 children gets stuck."""
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([progs["fork_storm"], "400"], prof, timeout=600)
    assert p.returncode == 0 and "stuck 0" in p.stdout, (p.returncode, p.stdout + p.stderr)


def test_program_handler_for_sigterm_is_kept(progs, tmp_path):
    """A program that ignores SIGTERM keeps ignoring it."""
    prof = tmp_path / "cpu.pb.gz"
    code = ("import signal,os,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "os.kill(os.getpid(), signal.SIGTERM); print('alive')")
    p, _ = run_preloaded(["python3", "-c", code], prof)
    assert p.returncode == 0 and p.stdout.strip() == "alive", p.stderr


def test_api_linked_static(cprof, progs, tmp_path):
    prof = tmp_path / "api.pb.gz"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPROF_")}
    p = subprocess.run([progs["shares_api"], "2", "0.3", "api", str(prof)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "second start: -20 cpu profiling already in use" in p.stdout
    assert "set_rate while running: -20" in p.stdout
    assert "second stop: -21" in p.stdout
    rows, text = top_rows(cprof, prof)
    assert "burn_a" in rows and "burn_b" in rows, text


def test_hz_1000(cprof, progs, tmp_path):
    prof = tmp_path / "cpu.pb.gz"
    p, cpu = run_preloaded([progs["shares"], "1", "0.5"], prof, {"CPROF_CPU_HZ": "1000"})
    assert p.returncode == 0 and p.stderr == "", p.stderr
    raw = cprof("-raw", str(prof)).stdout
    assert "Period: 1000000" in raw
    n = sum(int(m) for m in re.findall(r"^\s+(\d+)\s+\d+:", raw, re.M))
    # ~500 samples of 1 ms for 0.5 s of CPU (100 Hz would give ~50)
    assert n > 250, raw[:2000]
    _, text = top_rows(cprof, prof)
    assert 0.6 * cpu < total_seconds(text) < 1.25 * cpu


@pytest.mark.parametrize("value", ["abc", "0", "100000", "12x"])
def test_hz_bad_value_reported_once_and_profile_off(cprof, progs, tmp_path, value):
    """A bad rate is never reinterpreted: one line naming the variable, the
    value and the problem, and no CPU profile (the program runs as bare)."""
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([progs["shares"], "1", "0.2"], prof, {"CPROF_CPU_HZ": value})
    assert p.returncode == 0
    lines = [l for l in p.stderr.splitlines() if "CPROF_CPU_HZ" in l]
    assert lines == [f"cprof: ignoring CPROF_CPU_HZ={value}: not a whole number in 1..10000; "
                     "no CPU profile"], p.stderr
    assert not prof.exists()


def test_bad_profile_path_reported(progs, tmp_path):
    p, _ = run_preloaded([progs["shares"], "1", "0.05"], tmp_path / "no" / "such" / "f")
    assert p.returncode == 0
    assert p.stderr.count("cprof:") == 1 and "no/such/f" in p.stderr, p.stderr


@pytest.mark.parametrize("mode", ["sigaction", "signal", "sigset", "bsd_signal", "sysv_signal"])
def test_program_sigprof_handler_not_stolen(cprof, progs, tmp_path, mode):
    """A program with its own SIGPROF handler and ITIMER_PROF: its handler
    sees its itimer's signals and none of the runtime's, and the program
    is still profiled (the runtime's clocks move to a real-time signal the
    program does not use), without a word in its stderr."""
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([progs["own_sigprof"], mode], prof)
    # its handler saw its own itimer signals and none of the runtime's
    assert p.returncode == 0, p.stdout + p.stderr
    assert "foreign: 0" in p.stdout
    assert p.stderr == "", p.stderr
    rows, text = top_rows(cprof, prof)
    assert rows.get("main", (0, 0))[1] >= 0.1, text


def test_api_start_after_program_sigprof_handler(cprof, progs, tmp_path):
    """The program's SIGPROF handler is there before cprof_cpu_start (it
    failed with CPROF_ERR_SIGNAL): the profile starts on a real-time signal
    and the handler still sees only its own itimer's signals."""
    prof = tmp_path / "api.pb.gz"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPROF_")}
    p = subprocess.run([progs["own_sigprof_api"], "api", str(prof)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "foreign: 0" in p.stdout, p.stdout + p.stderr
    rows, text = top_rows(cprof, prof)
    assert rows.get("main", (0, 0))[1] >= 0.1, text


def test_program_taking_realtime_signals(cprof, progs, tmp_path):
    """The program takes SIGPROF, then the real-time signal the clocks had
    moved to: they move again, its handlers never see one of their
    signals, the signals it never set read SIG_DFL, and both phases are in
    the profile."""
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([progs["all_signals"], "some"], prof)
    assert p.returncode == 0 and "foreign 0" in p.stdout, p.stdout + p.stderr
    assert p.stderr == "", p.stderr
    rows, text = top_rows(cprof, prof)
    assert total_seconds(text) >= 0.2, text


def test_program_taking_every_signal(cprof, progs, tmp_path):
    """Handlers on every signal (Go's runtime does this): no free signal is
    left, so the clocks stay on their real-time signal with the program's
    handler chained; that handler never sees one of the clocks' signals,
    nothing is said, and the work is in the profile."""
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([progs["all_signals"], "all"], prof)
    assert p.returncode == 0 and "foreign 0" in p.stdout, p.stdout + p.stderr
    assert p.stderr == "", p.stderr
    rows, text = top_rows(cprof, prof)
    assert rows.get("burn", (0, 0))[1] >= 0.05, text


@pytest.mark.skipif(not have_go(), reason="go is not installed")
def test_go_cgo_program_profiled(cprof, tmp_path):
    """A Go program with cgo: Go's runtime puts its handler on every signal
    through libc's sigaction, so no real-time signal is free; the clocks
    stay on one with Go's handler chained behind them (it still gets the
    signal sent to it there), and the profile has Go's work (before:
    "CPU profiling stopped" and no sample)."""
    exe = str(tmp_path / "cgo_burn")
    env = dict(os.environ, CGO_ENABLED="1", GOFLAGS="-mod=mod", HOME=str(tmp_path),
               GOCACHE=os.environ.get("GOCACHE", str(tmp_path / "gocache")))
    subprocess.run(["go", "build", "-o", exe, "."], cwd=os.path.join(SRC, "cgo_burn"),
                   env=env, check=True, capture_output=True, timeout=600)
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([exe], prof)
    assert p.returncode == 0 and "got SIGRTMAX-3" in p.stdout, p.stdout + p.stderr
    assert "CPU profiling stopped" not in p.stderr, p.stderr
    rows, text = top_rows(cprof, prof)
    assert rows.get("main.burnGo", (0, 0))[1] >= 0.1, text


@pytest.mark.parametrize("mode", ["reset", "exec"])
def test_blocked_sigprof_not_left_queued(cprof, progs, tmp_path, mode):
    """A program that blocks every signal, then resets SIGPROF to the
    default (git's run-command before exec) or execs an image without the
    runtime: the clock's SIGPROF queued while blocked must not end it."""
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([progs["blocked_sigprof"], mode], prof, {"CPROF_CPU_HZ": "1000"})
    assert p.returncode == 0, (p.returncode, p.stdout + p.stderr)
    assert ("reset ok" if mode == "reset" else "unblock ok") in p.stdout
    if mode == "reset":     # the exec'd image, without the runtime, writes none
        assert cprof("-top", str(prof)).returncode == 0
        # a reset to the default is no handler of the program's: nothing
        # is said in its stderr (git, node and subshells do it at each spawn)
        assert "own SIGPROF handler" not in p.stderr, p.stderr


def test_vfork_child_resetting_sigprof_keeps_parent_profile(cprof, progs, tmp_path):
    """A vfork child that resets SIGPROF to the default before exec (what
    python's subprocess does for every handled signal): the child shares
    the parent's memory, and its reset stopped the parent's profile (0
    samples; python lost everything after its first subprocess).  The
    parent's work after the child is in the profile."""
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([progs["vfork_reset"], "300"], prof)
    assert p.returncode == 0 and "child 0" in p.stdout, p.stdout + p.stderr
    assert "own SIGPROF handler" not in p.stderr, p.stderr
    rows, text = top_rows(cprof, prof)
    total = total_seconds(text)
    assert total >= 0.1, text                   # ~0.3 s of CPU was burnt
    assert rows.get("work", (0, 0))[1] >= 0.8 * total, text


def test_raw_clone_samples_unwind_to_main(cprof, progs, tmp_path):
    """A loop of raw clone(CLONE_VM) children: most samples land as clone's
    system call returns, past the end of glibc's unwind table for clone;
    they were one-frame stacks ('clone' alone: 187 of ~320 samples
    truncated, main at 39%) and now unwind through the caller."""
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([progs["clone_loop"]], prof, {"CPROF_CPU_HZ": "1000"})
    assert p.returncode == 0 and "clones 1" in p.stdout, p.stdout + p.stderr
    rows, text = top_rows(cprof, prof)
    total = total_seconds(text)
    assert total > 0, text
    assert rows.get("main", (0, 0))[1] >= 0.8 * total, text


def test_fork_children_keep_working(cprof, progs, tmp_path):
    prof = tmp_path / "cpu.pb.gz"
    p, _ = run_preloaded([progs["forker"]], prof)
    assert p.returncode == 0 and "forker ok" in p.stdout, p.stdout + p.stderr
    rows, text = top_rows(cprof, prof)
    assert "parent_work" in rows, text
    # children wrote nothing anywhere
    assert sorted(os.listdir(tmp_path)) == ["cpu.pb.gz"]


def test_spawned_children_do_not_write_or_inherit(cprof, tmp_path):
    """python3 (profiled) runs ls through posix_spawn/vfork: ls neither
    profiles nor overwrites the parent's file, and does not inherit its
    descriptor."""
    prof = tmp_path / "cpu.pb.gz"
    code = ("import subprocess,sys; "
            "print(subprocess.run(['ls','-l','/proc/self/fd/'],capture_output=True,"
            "text=True).stdout); sum(i*i for i in range(2000000))")
    p, _ = run_preloaded(["python3", "-c", code], prof)
    assert p.returncode == 0, p.stderr
    assert str(prof) not in p.stdout, p.stdout
    assert "cpu.pb.gz" not in p.stdout
    r = cprof("-top", str(prof))
    assert r.returncode == 0 and "python" in r.stdout.splitlines()[0].lower(), r.stdout
