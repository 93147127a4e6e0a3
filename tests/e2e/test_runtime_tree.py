"""Process trees, wrappers and exit paths under the runtime.

Real wrappers from Debian (timeout, env, nohup, dash `sh -c`, `bash -c`,
make) start tests/runtime/tree/treeprog.c with CPROF_CPU_PROFILE (and the
heap profile, the endpoint) inherited.  Every process of the tree loads the
runtime; the profile (and the endpoint) must end up with the program meant,
none may be lost or overwritten, and a program that ends with _exit or a
crash still leaves its profile, written to a temporary file and renamed so
the old file is never truncated first (docs/ARCHITECTURE.md, "Process
trees").  Also `cprof record` on a shell script that starts several
programs, and its output check before the command runs.
"""
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import skip_if_sanitized, ROOT, cprof_bin, free_port
from test_runtime_robust import raw_samples, runtime_env, top

SRC = os.path.join(ROOT, "tests", "runtime", "tree", "treeprog.c")


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("tree") / "treeprog")
    subprocess.run(["gcc", "-O1", "-g", "-o", out, SRC], check=True)
    return out


def env_for(profile, extra=None, hz=250):
    env = runtime_env(str(profile) if profile else None, hz=hz, extra=extra)
    for k in list(env):
        if k.endswith("_TREE") and k.startswith("CPROF_"):
            del env[k]
    return env


def run(args, env, timeout=120, **kw):
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, **kw)


def functions(profile):
    return top(str(profile), 50)


@pytest.mark.parametrize("wrap", [
    ["timeout", "60", "env", "A=1"],
    ["nohup"],
    ["env", "-u", "NOTHING", "timeout", "30"],
])
def test_wrappers_leave_the_profile_to_the_program(prog, tmp_path, wrap):
    out = tmp_path / "cpu.pb.gz"
    r = run([*wrap, prog, "300"], env_for(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "burn_loop" in functions(out)
    # a wrapper that took a sample or two (its own few ms of CPU, now and
    # then: the sampling clocks fire when the CPU is used) has its profile
    # beside FILE, never in it
    others = [p for p in tmp_path.iterdir() if p.name.startswith("cpu.pb.gz.")]
    assert all("burn_loop" not in functions(p) for p in others), others


def test_dash_c_keeps_the_programs_profile(prog, tmp_path):
    """dash runs the program as a child and leaves with _exit: the file was
    0 bytes."""
    if not shutil.which("dash"):
        pytest.skip("dash not installed")
    out = tmp_path / "cpu.pb.gz"
    r = run(["dash", "-c", f"{prog} 300; true"], env_for(out))
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 0
    assert "burn_loop" in functions(out)


def test_bash_exec_of_last_command_does_not_overwrite(tmp_path):
    """bash -c 'loop; /bin/true' execs /bin/true in place: the loop's samples
    (bash's own) are written before the exec and /bin/true, which sampled
    nothing, does not replace them."""
    out = tmp_path / "cpu.pb.gz"
    r = run(["bash", "-c", "i=0; while [ $i -lt 60000 ]; do i=$((i+1)); done; /bin/true"],
            env_for(out, hz=1000))
    assert r.returncode == 0, r.stderr
    n, raw = raw_samples(str(out))
    assert n > 10, raw[:500]
    assert "bash" in functions(out).split("\n", 1)[0]


def test_exec_in_place_is_one_profile(prog, tmp_path):
    """A shell that samples, then execs the program in place (the same
    process): one profile with both images' samples, none beside it and no
    hand-over file left (it used to be the shell's samples in FILE and the
    program's in FILE.PID, or the shell's lost)."""
    out = tmp_path / "cpu.pb.gz"
    r = run(["bash", "-c", f"i=0; while [ $i -lt 40000 ]; do i=$((i+1)); done; exec {prog} 200"],
            env_for(out, hz=1000))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cpu.pb.gz"], sorted(tmp_path.iterdir())
    t = functions(out)
    assert "burn_loop" in t and "[bash]" in t, t


def test_make_leaves_the_profile_to_the_recipe(prog, tmp_path):
    if not shutil.which("make"):
        pytest.skip("make not installed")
    (tmp_path / "Makefile").write_text(f"all:\n\t{prog} 300\n")
    out = tmp_path / "cpu.pb.gz"
    r = run(["make", "-s"], env_for(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "burn_loop" in functions(out)


def test_two_programs_with_samples_lose_nothing(prog, tmp_path):
    """Without a pattern, FILE is the root's profile when the root sampled,
    else the first descendant's with samples; every other profile is
    beside it as FILE.PID, named on stderr."""
    out = tmp_path / "cpu.pb.gz"
    r = run(["sh", "-c", f"{prog} 200; {prog} 200 fork"], env_for(out))
    assert r.returncode == 0, r.stderr
    files = sorted(tmp_path.glob("cpu.pb.gz*"))
    assert out in files and 2 <= len(files) <= 3, (files, r.stderr)
    assert sum("burn_loop" in functions(f) for f in files) == 2, files
    for f in files:
        if f != out:
            assert str(f) in r.stderr, r.stderr


def test_descendants_say_nothing_on_their_stderr(prog, tmp_path):
    """A descendant whose profile goes beside FILE (FILE.PID) writes
    nothing on its own stderr, which its parent may read: Tcl's exec fails
    on any byte there (Debian's tclsh ran `exec sh -c ...` under
    CPROF_TRACE and died of the runtime's note).  The root names those
    files, once, at its end."""
    out = tmp_path / "cpu.pb.gz"
    e1, e2 = tmp_path / "err1", tmp_path / "err2"
    r = run(["sh", "-c", f"{prog} 200 2>{e1}; {prog} 200 2>{e2}"], env_for(out))
    assert r.returncode == 0, r.stderr
    files = sorted(tmp_path.glob("cpu.pb.gz*"))
    # sh itself may be sampled too (a slow build, a loaded machine): its
    # own profile is then a third file, which it names in a line of its own
    assert out in files and 2 <= len(files) <= 3, (files, r.stderr)
    assert e1.read_text() == "" and e2.read_text() == "", (e1.read_text(), e2.read_text())
    beside = [str(f) for f in files if f != out]
    assert all(r.stderr.count(b) == 1 for b in beside), r.stderr
    assert r.stderr.count("cprof:") == len(files) - 1, r.stderr
    assert sum("burn_loop" in functions(f) for f in files) == 2, files


def test_root_that_samples_keeps_the_file(prog, tmp_path):
    """A program that samples and starts a short one: FILE is the
    program's (the root's), the child's is FILE.PID."""
    out = tmp_path / "cpu.pb.gz"
    r = run(["bash", "-c", f"{prog} 50; i=0; while [ $i -lt 80000 ]; do i=$((i+1)); done"],
            env_for(out, hz=1000))
    assert r.returncode == 0, r.stderr
    files = sorted(tmp_path.glob("cpu.pb.gz*"))
    assert len(files) == 2, (files, r.stderr)
    assert "burn_loop" not in functions(out) and "[bash]" in functions(out)
    assert "burn_loop" in functions([f for f in files if f != out][0])


def test_pattern_gives_each_process_its_own_file(prog, tmp_path):
    out = tmp_path / "cpu.%e.%p.pb.gz"
    r = run(["sh", "-c", f"{prog} 150; {prog} 150"], env_for(out))
    assert r.returncode == 0, r.stderr
    mine = sorted(tmp_path.glob("cpu.treeprog.*.pb.gz"))
    assert len(mine) == 2, sorted(tmp_path.iterdir())
    assert all("burn_loop" in functions(f) for f in mine)
    assert not (tmp_path / "cpu.%e.%p.pb.gz").exists()


def test_bad_pattern_is_refused(prog, tmp_path):
    r = run([prog, "50"], env_for(tmp_path / "cpu.%z.pb.gz"))
    assert r.returncode == 0
    lines = [l for l in r.stderr.splitlines() if "CPROF_CPU_PROFILE" in l]
    assert len(lines) == 1 and "%p (pid)" in lines[0] and "no CPU profile" in lines[0], r.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("mode,status", [("_exit", 0), ("segv", -signal.SIGSEGV),
                                         ("abort", -signal.SIGABRT)])
def test_exit_paths_write_the_profile(prog, tmp_path, mode, status):
    skip_if_sanitized("ASan handles the program's faults itself")
    out = tmp_path / "cpu.pb.gz"
    out.write_bytes(b"old")
    r = run([prog, "300", mode], env_for(out))
    assert r.returncode == status, r.stderr
    assert "burn_loop" in functions(out)
    assert not list(tmp_path.glob("*.cprof-tmp.*"))


def test_old_file_kept_when_nothing_can_be_written(prog, tmp_path):
    """SIGKILL leaves no chance to write: the old file stays as it was (it
    used to be truncated to 0 bytes at start)."""
    out = tmp_path / "cpu.pb.gz"
    out.write_bytes(b"the previous run's profile")
    r = run([prog, "100", "kill"], env_for(out))
    assert r.returncode == -signal.SIGKILL
    assert out.read_bytes() == b"the previous run's profile"


def test_cpu_profile_excludes_exit_time_heap_work(prog, tmp_path):
    """Writing the heap profile at exit (symbolization) is the runtime's
    work: none of it in the CPU profile."""
    skip_if_sanitized("the heap profile under ASan's allocator comes out empty here (open)")
    out, heap = tmp_path / "cpu.pb.gz", tmp_path / "heap.pb.gz"
    r = run([prog, "100", "alloc"],
            env_for(out, {"CPROF_HEAP_PROFILE": str(heap), "CPROF_HEAP_RATE": "1"}, hz=2000))
    assert r.returncode == 0, r.stderr
    t = functions(out)
    assert "burn_loop" in t
    for f in ("cprof_heap_write", "rt_pb_finish", "cprof_symbolize", "rt_heap_exit_write",
              "rt_heap_build", "dwfl"):
        assert f not in t, t
    assert "keep_big" in top(str(heap), 50)


def test_forked_child_heap_followed(prog, tmp_path):
    """CPROF_FOLLOW_FORK=1 (record's default): a forked child writes its own
    heap profile too (it wrote none), and its first samples keep their
    stacks: the child had no table builder until its next pthread_create or
    dlopen, so keep_child's allocations, right after fork, stopped at the
    first module the parent had not built (6 of 6 runs)."""
    skip_if_sanitized("ASan's malloc is in front of the runtime's: no heap samples")
    heap = tmp_path / "heap.%p.pb.gz"
    env = env_for(None, {"CPROF_HEAP_PROFILE": str(heap), "CPROF_FOLLOW_FORK": "1"})
    r = run([prog, "50", "fork"], env)
    assert r.returncode == 0, r.stderr
    files = sorted(tmp_path.glob("heap.*.pb.gz"))
    assert len(files) == 2, files
    assert sum("keep_child" in top(str(f), 50) for f in files) == 1


# ---- the endpoint behind wrappers ------------------------------------------------------------

@pytest.mark.parametrize("wrap", [
    ["timeout", "60", "env", "A=1"],
    ["nohup", "sh", "-c"],
    ["bash", "-c"],
    ["make"],
])
def test_wrappers_leave_the_endpoint_to_the_program(prog, tmp_path, wrap):
    port = free_port()
    cmd = f"{prog} 100 serve"
    if wrap == ["make"]:
        if not shutil.which("make"):
            pytest.skip("make not installed")
        (tmp_path / "Makefile").write_text(f"all:\n\t{cmd}\n\ttrue\n")
        args = ["make", "-s"]
    elif wrap[-1] == "-c":
        args = [*wrap, f"{cmd}; true"]
    else:
        args = [*wrap, prog, "100", "serve"]
    env = env_for(None, {"CPROF_HTTP": f"127.0.0.1:{port}"})
    p = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        cmdline = served_cmdline(port, p)
        assert cmdline is not None, "nobody serves"
        assert cmdline.split("\x00")[0] == prog, cmdline
    finally:
        out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "address already in use" not in err.lower(), err
    assert err.count("serving on") == 1, err


def served_cmdline(port, proc, timeout=120):
    """The endpoint's /debug/pprof/cmdline at port, polled every 50 ms while
    proc runs (its endpoint lives 3 s once the program has started, however
    long the start takes under the sanitizer build on a loaded machine);
    None when nobody served before proc ended (or timeout seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = proc.poll() is not None
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/pprof/cmdline",
                                        timeout=30) as resp:
                return resp.read().decode()
        except OSError:
            if done:
                return None
        time.sleep(0.05)
    return None


@pytest.mark.parametrize("mode,ms", [("spawn", "0"), ("spawnbusy", "400")])
def test_program_that_starts_a_helper_at_once_still_serves(prog, mode, ms):
    """A program that runs another program in its first 300 ms (node's
    execSync at start) handed the endpoint off to it and never bound: no
    'serving on', nothing on the port.  After a hand-off the runtime keeps
    watching and binds once the helper has ended and the program lives on
    (spawn), or once the program uses CPU of its own while the helper,
    which does not serve, still runs (spawnbusy)."""
    port = free_port()
    env = env_for(None, {"CPROF_HTTP": f"127.0.0.1:{port}"})
    p = subprocess.Popen([prog, ms, mode], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        cmdline = served_cmdline(port, p)
    finally:
        out, err = p.communicate(timeout=60)
    assert cmdline is not None, "nobody serves: " + err
    assert cmdline.split("\x00")[:2] == [prog, ms], cmdline
    assert p.returncode == 0, err
    assert err.count("serving on") == 1 and "not serving" not in err, err


def test_program_that_starts_a_server_leaves_it_the_port(prog):
    """A program that starts a server of the tree at once and, once it
    serves, works on its own: the server keeps the port; the program's own
    tries meanwhile find it taken and say nothing; once the server has
    ended, the program binds."""
    port = free_port()
    env = env_for(None, {"CPROF_HTTP": f"127.0.0.1:{port}"})
    p = subprocess.Popen([prog, "600", "spawnserve"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        first = served_cmdline(port, p)
    finally:
        out, err = p.communicate(timeout=60)
    assert first is not None and first.split("\x00")[1:3] == ["0", "serve"], (first, err)
    assert p.returncode == 0, err
    assert err.count("serving on") == 2, err
    assert "not serving" not in err and "in use" not in err, err


@pytest.mark.skipif(not shutil.which("node"), reason="node not installed")
def test_node_that_runs_a_child_at_start_serves(tmp_path):
    """The same with Debian's Node.js: execSync at start, then a timer."""
    port = free_port()
    env = env_for(None, {"CPROF_HTTP": f"127.0.0.1:{port}"})
    p = subprocess.Popen(["node", "-e", 'require("child_process").execSync("true");'
                          " setTimeout(() => {}, 3000)"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        cmdline = served_cmdline(port, p)
    finally:
        out, err = p.communicate(timeout=60)
    assert cmdline is not None, "nobody serves: " + err
    assert cmdline.split("\x00")[0] == "node", cmdline
    assert p.returncode == 0, err
    assert err.count("serving on") == 1, err


TREE_SCRIPT = """
import os, subprocess, sys, time, urllib.request
port = os.environ["CPROF_HTTP"].rsplit(":", 1)[1]
ps = [subprocess.Popen(["sleep", "1.5"], stderr=subprocess.PIPE) for _ in range(2)]
served = ""
for _ in range(100):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/pprof/cmdline",
                                    timeout=5) as r:
            served = r.read().decode().split("\\0")[0]
            break
    except OSError:
        time.sleep(0.05)
print("port", port)
print("served", served)
for p in ps:
    _, err = p.communicate()
    print("child", repr(err.decode()))
"""


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "fixed"])
def test_descendants_behind_a_pipe_say_nothing(listen):
    """Children whose stderr is a pipe their parent reads (as ninja and
    make -O read their commands') print nothing there: a line would change
    the program's output.  With port 0 the root gives the tree one port
    (in CPROF_HTTP), which one child serves; the other finds it taken,
    silently, as with a fixed port."""
    if listen == "fixed":
        listen = f"127.0.0.1:{free_port()}"
    env = env_for(None, {"CPROF_HTTP": listen})
    if "ASAN_OPTIONS" in env:   # python3's own allocations at exit are not the runtime's
        env["ASAN_OPTIONS"] = env["ASAN_OPTIONS"].replace("detect_leaks=1", "detect_leaks=0")
    r = run(["/usr/bin/python3", "-c", TREE_SCRIPT], env)
    assert r.returncode == 0, r.stderr
    lines = dict(ln.split(" ", 1) for ln in r.stdout.splitlines())
    assert lines["port"] != "0", r.stdout
    if not listen.endswith(":0"):
        assert lines["port"] == listen.rsplit(":", 1)[1], r.stdout
    assert lines["served"] == "sleep", r.stdout + r.stderr
    children = [ln for ln in r.stdout.splitlines() if ln.startswith("child ")]
    assert children == ["child ''", "child ''"], r.stdout
    assert "serving on" not in r.stderr and "in use" not in r.stderr, r.stderr


def jobs(out):
    return sorted(re.sub(r"^\[\d+/\d+\] ", "", ln) for ln in out.splitlines())


@pytest.mark.skipif(not shutil.which("ninja"), reason="ninja not installed")
def test_ninja_output_is_its_own(tmp_path):
    """Debian's ninja, two jobs that outlive the endpoint's grace: its
    output is what it is without the runtime (no line of a command's
    endpoint among the commands' output it relays), and the build runs."""
    (tmp_path / "build.ninja").write_text(
        "rule slow\n  command = sleep 0.8 && echo built $out && touch $out\n"
        "build a: slow\nbuild b: slow\nbuild c: slow\n")
    bare = run(["ninja", "-j2"], {k: v for k, v in os.environ.items()
                                   if not k.startswith("CPROF_") and k != "LD_PRELOAD"},
               cwd=tmp_path)
    assert bare.returncode == 0, bare.stdout + bare.stderr
    for f in "abc":
        (tmp_path / f).unlink()
    for listen in ["127.0.0.1:0", f"127.0.0.1:{free_port()}"]:
        r = run(["ninja", "-j2"], env_for(None, {"CPROF_HTTP": listen}), cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "cprof" not in r.stdout and "cprof" not in r.stderr, r.stdout + r.stderr
        # the jobs end in either order: their lines without ninja's count
        assert jobs(r.stdout) == jobs(bare.stdout), (r.stdout, bare.stdout)
        for f in "abc":
            (tmp_path / f).unlink()


# ---- cprof record --------------------------------------------------------------------------

def record_env():
    env = env_for(None, hz=None)
    env["LD_PRELOAD"] = " ".join(p for p in env["LD_PRELOAD"].split() if "libcprof" not in p)
    if not env["LD_PRELOAD"]:
        del env["LD_PRELOAD"]
    return env


def test_record_script_of_several_programs(prog, tmp_path):
    skip_if_sanitized("record's merged tree is empty under ASan here (open)")
    script = tmp_path / "job.sh"
    script.write_text(f"#!/bin/sh\n{prog} 150\n{prog} 150 &\n{prog} 150 fork\nwait\n")
    script.chmod(0o755)
    out, heap = tmp_path / "cpu.pb.gz", tmp_path / "heap.pb.gz"
    r = run([cprof_bin(), "record", "-o", str(out), f"--heap={heap}", "--", str(script)],
            record_env())
    assert r.returncode == 0, r.stderr
    tags = run([cprof_bin(), "-tags", str(out)], record_env()).stdout
    pids = re.findall(r"^\s+\S+ \(\s*\S+%\):\s+(\d+)$", tags.split(" pid:", 1)[1].split("\n\n")[0],
                      re.M)
    assert len(set(pids)) >= 4, tags
    assert "treeprog" in tags
    t = functions(out)
    assert "burn_loop" in t and "child_loop" in t, t
    # the forked child's 8 MiB are in the merged heap profile, under its pid
    # (where they were allocated: test_forked_child_heap_followed)
    htags = run([cprof_bin(), "-tags", str(heap)], record_env()).stdout
    assert "treeprog" in htags and re.search(r"Total 8(\.\d+)?MB", htags), htags
    # nothing left behind but the two profiles
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cpu.pb.gz", "heap.pb.gz", "job.sh"]


def test_record_checks_the_output_before_running(tmp_path):
    marker = tmp_path / "ran"
    for o in ["/nonexistent/x.pb.gz", str(tmp_path)]:
        r = run([cprof_bin(), "record", "-o", o, "--", "touch", str(marker)], record_env())
        assert r.returncode == 2, r.stderr
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("cprof: record: -o "), r.stderr
        assert not marker.exists()


def test_followed_child_profile_starts_as_fork_returns(tmp_path):
    """A followed fork child's profile begins when fork returns in it: the
    fork handlers run before (the runtime's own, here the program's one
    that burns CPU) are not charged to the child's code."""
    exe = str(tmp_path / "forkhandler")
    subprocess.run(["gcc", "-O1", "-g", "-pthread", "-o", exe,
                    os.path.join(ROOT, "tests", "runtime", "tree", "forkhandler.c")], check=True)
    out = tmp_path / "cpu.%p.pb.gz"
    r = run([exe, "300"], env_for(out, extra={"CPROF_CPU_FOLLOW": "1"}))
    assert r.returncode == 0, r.stderr
    files = sorted(tmp_path.glob("cpu.*.pb.gz"))
    assert len(files) == 2, (files, r.stderr)
    child = [f for f in files if "child_work" in functions(f)]
    assert len(child) == 1, [(f, functions(f)) for f in files]
    assert "handler_burn" not in functions(child[0])
