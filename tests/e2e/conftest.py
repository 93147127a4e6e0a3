"""Shared fixtures of the end-to-end tests: the cprof binary and the repo."""
import os
import shutil
import signal
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(ROOT, "tests", "golden", "go")

# The suite runs in the environment a clean CI machine gives it, whatever
# the developer's shell holds: no CPROF_* setting (a CPROF_HTTP, CPROF_CPU
# or CPROF_TOKEN there would reach every preloaded program and every cprof
# the tests start; the suite's own knobs are kept), no PPROF_* search path
# or directory, times in UTC (reports print dates in local time).  Each
# test that wants one of these sets it in its child's environment.
for _k in list(os.environ):
    if ((_k.startswith("CPROF_") and _k not in ("CPROF_BIN", "CPROF_WEBUI_SMOKE"))
            or _k.startswith("PPROF_")):
        del os.environ[_k]
os.environ["TZ"] = "UTC"

# make and CI start the suite as a background job, where SIGINT and SIGQUIT
# are ignored, and an ignored disposition survives exec: every program the
# tests start would ignore ^C (and the runtime rightly keeps ignored signals
# ignored).  Set them as a terminal's foreground job has them, so children
# start with both at their defaults; a test that wants one ignored says so.
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def cprof_bin():
    return os.environ.get("CPROF_BIN", os.path.join(ROOT, "build", "cprof"))


@pytest.fixture
def cprof():
    """Run cprof with args; returns CompletedProcess (text, TZ=UTC)."""
    def run(*args, input=None, check=False):
        env = dict(os.environ, TZ="UTC")
        return subprocess.run([cprof_bin(), *args], input=input, capture_output=True,
                              text=True, env=env, check=check, timeout=300)
    return run


def sanitized_build():
    """Are the tests running against a build-san*/ flavour (make sanitize)?"""
    return os.path.basename(os.path.dirname(cprof_bin())).startswith("build-san")


def skip_if_sanitized(why):
    if sanitized_build():
        pytest.skip("under the sanitizer build: " + why)


def have_go():
    return shutil.which("go") is not None


def sanitizer_preload(lib, path=None):
    """(LD_PRELOAD value, environment) for the runtime lib in the sanitizer
    flavour it was built in (path: where the copy to preload is, default
    lib).  build-san-thread/ is ThreadSanitizer: libcprof.so comes before
    libtsan, so that its pthread_create trampoline runs inside TSan's (a
    thread TSan has set up) and TSan's own calls while it initializes reach
    the runtime's uninstrumented hooks; a report makes the program exit 66.
    The other build-san*/ are AddressSanitizer+UBSan: libasan first, as it
    requires.  build/: the library alone."""
    path = path or lib
    flavour = os.path.basename(os.path.dirname(os.path.abspath(lib)))
    if not flavour.startswith("build-san"):
        return path, {}
    if flavour == "build-san-thread":
        so = subprocess.run(["gcc", "-print-file-name=libtsan.so"], capture_output=True,
                            text=True).stdout.strip()
        return f"{path} {so}", {"TSAN_OPTIONS": "halt_on_error=0:exitcode=66"}
    so = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                        text=True).stdout.strip()
    return f"{so} {path}", {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=86",
                            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=87"}


def free_port():
    """A TCP port on 127.0.0.1 that nothing holds, for a program that must
    be told its port before it starts (a server's config, CPROF_HTTP when
    the test is about that port).  Taken below the kernel's ephemeral
    range: a port from bind(0) is also one connect() hands out as a local
    port, so between this check and the program's bind any connection on
    the machine could take it; below the range only another explicit bind
    can.  Where a program can listen on port 0 and say where, prefer that."""
    import random
    import socket
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.SystemRandom()
    for _ in range(200 if low > 2048 else 0):   # no room below a range from 1024
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    with socket.socket() as s:   # a crowded range: any free port then
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


READ_SYSCALL = {"x86_64": 0, "aarch64": 63}


def wait_in_read(pid, fd=0, timeout=120):
    """Wait until process pid is blocked in read(fd) (/proc/PID/syscall);
    then a test's input comes after the read began, however slowly the
    program started (the sanitizer build, a loaded machine).  True when
    seen; False at the timeout or when the process ended."""
    import time
    nr = READ_SYSCALL.get(os.uname().machine)
    assert nr is not None, "wait_in_read: the read system call's number on this machine"
    want = f"{nr} {fd:#x} "
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/syscall") as f:
                if f.read().startswith(want):
                    return True
        except OSError:
            return False
        time.sleep(0.02)
    return False


def stderr_until(p, pattern, stop=None, timeout=30):
    """Read a started process's stderr line by line until a line matches
    the regexp pattern (or one starts with stop, or timeout seconds pass,
    or it ends): (the match or None, the lines read)."""
    import re
    import selectors
    import time
    lines, m = [], None
    sel = selectors.DefaultSelector()
    sel.register(p.stderr, selectors.EVENT_READ)
    deadline = time.time() + timeout
    while time.time() < deadline and m is None:
        if not sel.select(timeout=1):
            continue
        line = p.stderr.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(pattern, line)
        if stop and line.startswith(stop):
            break
    sel.close()
    return m, lines
