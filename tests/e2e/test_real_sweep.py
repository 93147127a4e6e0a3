"""Programs found breaking in a sweep of Debian's programs that the corpus
(test_real_programs.py) does not name; each case is bounded and short.

- curl: symbolizing at exit went through libdw's debuginfod client, which
  ran libcurl's global init (libssh2, OpenSSL engines) inside curl after its
  atexit handlers had cleaned OpenSSL up: SIGSEGV in 6 of 10 runs, and exits
  held for 5-10 s by a network query.
- ssh-keygen, openssl, node: the same at exit (every libcrypto user).
- git gc: git's run-command blocks every signal, forks, resets every action
  to SIG_DFL and execs; a followed child's clock SIGPROF queued while
  blocked killed it ("pack-refs died of signal 27").
"""
import os
import shutil
import socket
import subprocess

import pytest

from conftest import cprof_bin, skip_if_sanitized


def lib():
    return os.path.join(os.path.dirname(os.path.abspath(cprof_bin())), "libcprof.so")


def env(tmp, **extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("CPROF_") and k != "LD_PRELOAD"}
    e.update(LD_PRELOAD=lib(), CPROF_HTTP="127.0.0.1:0", CPROF_HTTP_GRACE="0",
             CPROF_HEAP_PROFILE=os.path.join(tmp, "heap.%p.pb.gz"), CPROF_HEAP_RATE="4096",
             CPROF_CPU_PROFILE=os.path.join(tmp, "cpu.%p.pb.gz"), CPROF_CPU_HZ="1000",
             CPROF_FOLLOW_FORK="1", LC_ALL="C", HOME=str(tmp))
    e.update(extra)
    return e


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_curl_exit_symbolization(tmp_path):
    skip_if_sanitized("third-party programs preload the plain build only (ASan must come first)")
    assert shutil.which("curl"), "curl is not installed: run ./setup.sh"
    url = f"http://127.0.0.1:{closed_port()}/"
    for i in range(5):
        p = subprocess.run(["curl", "-s", url], env=env(str(tmp_path)),
                           capture_output=True, timeout=60)
        # 7: could not connect, as without the runtime
        assert p.returncode == 7, (i, p.returncode, p.stderr[-500:])
    for f in os.listdir(tmp_path):
        if f.endswith(".pb.gz"):
            r = subprocess.run([cprof_bin(), "-top", str(tmp_path / f)], capture_output=True)
            assert r.returncode == 0, (f, r.stderr)


def test_ssh_keygen_exit_symbolization(tmp_path):
    """ssh-keygen (libcrypto) crashed the same way at exit, in every run."""
    skip_if_sanitized("third-party programs preload the plain build only (ASan must come first)")
    assert shutil.which("ssh-keygen"), "ssh-keygen is not installed: run ./setup.sh"
    prof = tmp_path / "prof"
    prof.mkdir()
    key = str(tmp_path / "k")
    p = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key],
                       env=env(str(prof)), capture_output=True, timeout=60)
    assert p.returncode == 0, (p.returncode, p.stderr[-500:])
    p = subprocess.run(["ssh-keygen", "-y", "-f", key], env=env(str(prof)),
                       capture_output=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith(b"ssh-ed25519 "), (p.returncode, p.stderr[-500:])


def test_git_gc_children(tmp_path):
    skip_if_sanitized("third-party programs preload the plain build only (ASan must come first)")
    assert shutil.which("git"), "git is not installed: run ./setup.sh"
    repo = tmp_path / "r"
    bare = {k: v for k, v in env(str(tmp_path)).items()
            if not k.startswith("CPROF_") and k != "LD_PRELOAD"}
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=bare)
    for i in range(3):
        (repo / f"f{i}").write_text(str(i))
        subprocess.run(["git", "-c", "user.email=a@b", "-c", "user.name=a", "add", f"f{i}"],
                       cwd=repo, check=True, env=bare)
        subprocess.run(["git", "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm",
                        f"c{i}"], cwd=repo, check=True, env=bare)
    prof = tmp_path / "prof"
    prof.mkdir()
    p = subprocess.run(["git", "gc", "-q"], cwd=repo, env=env(str(prof)),
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr[-800:]
    assert b"died of signal" not in p.stderr, p.stderr[-800:]
