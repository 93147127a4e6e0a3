"""cprof record: runs a real program under libcprof.so, forwards its exit
status, says where the profile is, and follows the processes the command
starts (fork and exec, as perf record): merged into one profile labelled
pid and comm, or one file each with --per-process; --no-follow keeps only
the command's own process."""
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import ROOT, cprof_bin, have_go
from test_runtime_robust import SRC, raw_samples, runtime_env, top


@pytest.fixture(scope="module")
def spawner(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("record") / "spawner")
    subprocess.run(["gcc", "-O1", "-g", "-o", out, os.path.join(SRC, "spawner.c")], check=True)
    return out


def record(*args, cwd=None):
    env = runtime_env(None, hz=None)
    # record adds the library itself; keep only a sanitizer runtime preloaded
    env["LD_PRELOAD"] = " ".join(p for p in env["LD_PRELOAD"].split() if "libcprof" not in p)
    if not env["LD_PRELOAD"]:
        del env["LD_PRELOAD"]
    env.pop("CPROF_CPU_PROFILE", None)
    env.pop("CPROF_CPU_HZ", None)
    return subprocess.run([cprof_bin(), "record", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def functions(profile):
    return top(profile, 50)


def tags(profile):
    r = subprocess.run([cprof_bin(), "-tags", str(profile)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def pids_of(profile, function):
    """The pid labels of the samples whose stack holds function."""
    r = subprocess.run([cprof_bin(), "-tags", "-focus=" + function, str(profile)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    block = r.stdout.split(" pid:", 1)[1].split("\n\n", 1)[0] if " pid:" in r.stdout else ""
    return set(re.findall(r"\):\s+(\d+)$", block, re.M))


def test_record_writes_profile_and_forwards_status(spawner, tmp_path):
    out = tmp_path / "p.pb.gz"
    r = record("-o", str(out), "--", spawner)
    assert r.returncode == 3, r.stderr
    assert r.stdout == "child done\nparent done, child status 0\n"
    assert f"cprof: profile written to {out}; read it with: cprof -top {out}" in r.stderr
    assert "2 processes merged" in r.stderr, r.stderr
    n, _ = raw_samples(str(out))
    assert n > 0
    t = functions(str(out))
    # followed by default: the exec'd child is in the same profile, under its own pid
    assert "parent_work" in t and "child_work" in t, t
    p, c = pids_of(out, "parent_work"), pids_of(out, "child_work")
    assert len(p) == 1 and len(c) == 1 and p != c, (p, c)
    assert "spawner" in tags(out)
    # no per-process file and no private directory left behind
    assert sorted(x.name for x in tmp_path.iterdir()) == ["p.pb.gz"]


def test_record_no_follow(spawner, tmp_path):
    out = tmp_path / "p.pb.gz"
    r = record("-o", str(out), "--no-follow", "--", spawner)
    assert r.returncode == 3, r.stderr
    t = functions(str(out))
    # the child inherits the preload but not the profile
    assert "parent_work" in t and "child_work" not in t, t
    assert not list(tmp_path.glob("p.pb.gz.*"))


def test_record_default_file_relative_to_cwd(spawner, tmp_path):
    r = record("--hz", "250", "--", spawner, cwd=str(tmp_path))
    assert r.returncode == 3, r.stderr
    f = tmp_path / "cpu.pb.gz"
    assert f"profile written to {f};" in r.stderr
    _, raw = raw_samples(str(f))
    # 250 Hz: a period of 4ms
    assert re.search(r"^Period: 4000000$", raw, re.M), raw[:300]


def test_record_per_process(spawner, tmp_path):
    out = tmp_path / "f.pb.gz"
    r = record("-o", str(out), "--per-process", "--", spawner)
    assert r.returncode == 3, r.stderr
    files = sorted(tmp_path.glob("f.pb.gz.*"))
    assert len(files) == 2, (files, r.stderr)
    for f in files:
        pid = f.name.rsplit(".", 1)[1]
        assert (f"cprof: profile of process {pid} written to {f}; read it with: "
                f"cprof -top {f}") in r.stderr
    tops = [functions(str(f)) for f in files]
    assert sum("parent_work" in t for t in tops) == 1, tops
    assert sum("child_work" in t for t in tops) == 1, tops


@pytest.mark.parametrize("follow", [False, True])
def test_record_fork_without_exec(spawner, tmp_path, follow):
    """A child made by fork() alone is followed by default (its samples
    under its own pid); with --no-follow the parent's profile is the only
    one."""
    out = tmp_path / "k.pb.gz"
    r = record("-o", str(out), *([] if follow else ["--no-follow"]), "--", spawner, "fork")
    assert r.returncode == 3, r.stderr
    assert r.stdout == "child done\nparent done, child status 0\n", r.stdout
    files = sorted(tmp_path.glob("k.pb.gz*"))
    assert files == [out], files
    t = functions(str(out))
    if not follow:
        assert "parent_work" in t and "child_work" not in t, t
        return
    # the child, forked after parent_work, profiles child_work alone
    assert "parent_work" in t and "child_work" in t, t
    p, c = pids_of(out, "parent_work"), pids_of(out, "child_work")
    assert len(p) == 1 and len(c) == 1 and p != c, (p, c)


def test_record_exec_keeps_profiling(spawner, tmp_path):
    """sh execs the program: the same process, so its profile is the one written."""
    out = tmp_path / "e.pb.gz"
    r = record("-o", str(out), "--", "sh", "-c", f"exec {spawner}")
    assert r.returncode == 3, r.stderr
    assert "parent_work" in functions(str(out))


def test_record_killed_by_signal(spawner, tmp_path):
    out = tmp_path / "k.pb.gz"
    r = record("-o", str(out), "--", spawner, "term")
    assert r.returncode == -signal.SIGTERM, (r.returncode, r.stderr)
    assert r.stdout == "terminating\n"
    assert "profile written to" in r.stderr
    assert "parent_work" in functions(str(out))


def test_record_errors(tmp_path):
    for args, msg in [(["--hz", "0", "--", "true"], "--hz 0"),
                      (["--hz", "abc", "--", "true"], "--hz abc"),
                      (["--bogus", "--", "true"], "unknown option --bogus"),
                      ([], "no command given"),
                      (["--"], "no command given")]:
        r = record(*args)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("cprof: record: ") and msg in lines[0], \
            (args, r.stderr)
    r = record("-o", str(tmp_path / "x.pb.gz"), "--", str(tmp_path / "no-such-program"))
    assert r.returncode == 127
    assert "no-such-program" in r.stderr
    assert "profile written" not in r.stderr


def test_record_help(cprof):
    r = cprof("record", "--help")
    assert r.returncode == 0 and "--follow-fork" in r.stdout
    assert "cprof record" in cprof("--help").stdout


@pytest.mark.skipif(not have_go(), reason="go tool pprof is not installed")
def test_record_profile_reads_the_same_in_go_pprof(spawner, tmp_path):
    out = str(tmp_path / "g.pb.gz")
    r = record("-o", out, "--", spawner)
    assert r.returncode == 3, r.stderr
    args = ["-top", "-nodecount=10", out]
    ours = subprocess.run([cprof_bin(), *args], capture_output=True, text=True,
                          env=dict(os.environ, TZ="UTC"))
    go = subprocess.run(["go", "tool", "pprof", *args], capture_output=True, text=True,
                        env=dict(os.environ, TZ="UTC", PPROF_BINARY_PATH=str(tmp_path)))
    assert go.returncode == 0, go.stderr
    assert ours.stdout == go.stdout, f"cprof:\n{ours.stdout}\ngo tool pprof:\n{go.stdout}"


def test_record_inside_a_profiled_process(spawner, tmp_path):
    """cprof record run by a process that is itself profiled (its runtime
    marked the environment as its own) still profiles the command."""
    outer, inner = tmp_path / "outer.pb.gz", tmp_path / "inner.pb.gz"
    env = runtime_env(str(outer), hz=None)
    r = subprocess.run([cprof_bin(), "record", "-o", str(inner), "--", spawner],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 3, r.stderr
    assert f"profile written to {inner};" in r.stderr
    assert "parent_work" in functions(str(inner))


def test_record_sync_and_thread_profiles(tmp_path):
    """--mutex, --block, --threads, --threadcreate, --deadlock ask the
    runtime for those profiles at exit; --mutex-fraction passes through."""
    prog = str(tmp_path / "contend")
    subprocess.run(["gcc", "-O1", "-g", "-pthread", "-o", prog,
                    os.path.join(ROOT, "tests", "runtime", "sync", "contend.c")], check=True)
    r = record("--mutex", "--block=block.txt", "--threads", "--threadcreate",
               "--deadlock", "--mutex-fraction=1", "--", prog, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    for name in ("mutex.pb.gz", "block.txt", "threads.pb.gz", "threadcreate.pb.gz",
                 "deadlock.pb.gz"):
        f = tmp_path / name
        assert f"profile written to {f};" in r.stderr, (name, r.stderr)
        assert f.stat().st_size > 0
    t = top(str(tmp_path / "mutex.pb.gz"), 20)
    assert "holder" in t and "quick_taker" in t, t
    assert "main" in top(str(tmp_path / "threadcreate.pb.gz"), 20)
    assert (tmp_path / "block.txt").read_text().startswith("--- contention:")


def test_record_bad_extra_options(tmp_path):
    r = record("--mutex-fraction", "--", "true")
    assert r.returncode == 2 and "--mutex-fraction needs a value" in r.stderr, r.stderr
    r = record("--mutex=same", "--block=same", "--", "true", cwd=str(tmp_path))
    assert r.returncode == 2 and "need different files" in r.stderr, r.stderr
    r = record("--mutex=", "--", "true")
    assert r.returncode == 2 and "empty file name" in r.stderr, r.stderr
