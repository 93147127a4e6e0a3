"""The runtime's environment values: one strict parser (src/runtime/
envparse.c).  A bad value gets exactly one stderr line naming the variable,
the value and what is wrong, and the feature it configures is off: never a
crash, never a silent reinterpretation ("no" is false, 99999 is no port,
11 is SIGSEGV and refused as SIGSEGV is, "-" is not a file)."""
import signal
import subprocess

import pytest

from conftest import skip_if_sanitized
from test_runtime_robust import runtime_env
from test_runtime_tree import prog  # noqa: F401  (the fixture: tests/runtime/tree/treeprog.c)


def env_for(extra):
    env = runtime_env(None, hz=None, extra=extra)
    for k in list(env):
        if k.startswith("CPROF_") and k not in extra:
            del env[k]
    return env


def run(args, extra, timeout=60, **kw):
    return subprocess.run(args, env=env_for(extra), capture_output=True, text=True,
                          timeout=timeout, **kw)


def one_line(stderr, name):
    lines = [l for l in stderr.splitlines() if name in l]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"cprof: ignoring {name.rstrip('=')}="), lines
    return lines[0]


@pytest.mark.parametrize("value", ["no", "false", "off", "0", "NO"])
def test_trusted_no_means_no(prog, value):
    """CPROF_HTTP_TRUSTED=no turned trusted mode on: 0.0.0.0 with no token."""
    r = run([prog, "50"], {"CPROF_HTTP": "0.0.0.0:0", "CPROF_HTTP_TRUSTED": value,
                           "CPROF_HTTP_GRACE": "0"})
    assert r.returncode == 0
    assert "serving on" not in r.stderr, r.stderr
    assert "refusing to serve on 0.0.0.0:0" in r.stderr, r.stderr


def test_trusted_yes_and_bad(prog):
    r = run([prog, "50"], {"CPROF_HTTP": "0.0.0.0:0", "CPROF_HTTP_TRUSTED": "yes",
                           "CPROF_HTTP_GRACE": "0"})
    assert "serving on 0.0.0.0:" in r.stderr, r.stderr
    r = run([prog, "50"], {"CPROF_HTTP": "127.0.0.1:0", "CPROF_HTTP_TRUSTED": "maybe",
                           "CPROF_HTTP_GRACE": "0"})
    line = one_line(r.stderr, "CPROF_HTTP_TRUSTED")
    assert "maybe: not a boolean" in line and line.endswith("; not serving")
    assert "serving on" not in r.stderr


@pytest.mark.parametrize("value", ["11", "SIGSEGV", "segv", "7", "SIGBUS", "8", "4", "5", "6",
                                   "SIGABRT", "31", "9", "KILL", "19", "STOP", "27", "PROF",
                                   "15", "TERM", "0", "65", "bogus", "USR1x"])
def test_dump_signal_refused(prog, tmp_path, value):
    """CPROF_DUMP_SIGNAL=11 was taken as a number where SIGSEGV by name was
    refused, and a segfaulting program then wrote dumps forever."""
    skip_if_sanitized('the test program faults on purpose and ASan reports it first')
    r = run([prog, "50", "segv"], {"CPROF_DUMP_SIGNAL": value, "CPROF_DUMP_DIR": str(tmp_path)},
            timeout=30)
    assert r.returncode == -signal.SIGSEGV, r.stderr
    line = one_line(r.stderr, "CPROF_DUMP_SIGNAL")
    assert line.endswith("; no dump signal"), line
    assert not list(tmp_path.glob("cprof-*")), sorted(tmp_path.iterdir())


@pytest.mark.parametrize("value", ["USR1", "SIGUSR2", "usr1", "10", "RTMIN+3", "SIGRTMAX-4"])
def test_dump_signal_accepted(prog, value):
    r = run([prog, "50"], {"CPROF_DUMP_SIGNAL": value})
    assert r.returncode == 0 and "CPROF_DUMP_SIGNAL" not in r.stderr, r.stderr


@pytest.mark.parametrize("addr,why", [("127.0.0.1:99999", "port"), ("127.0.0.1:-1", "port"),
                                      ("127.0.0.1:", "port"), ("127.0.0.1:80x", "port"),
                                      ("::1:0", "brackets"), ("unix:", "socket path"),
                                      ("localhost", "HOST:PORT")])
def test_bad_address_refused(prog, addr, why):
    """Port 99999 silently served on 34463 (99999 mod 65536)."""
    r = run([prog, "50"], {"CPROF_HTTP": addr, "CPROF_HTTP_GRACE": "0"})
    assert r.returncode == 0
    line = one_line(r.stderr, "CPROF_HTTP=")
    assert why in line and line.endswith("; not serving"), line
    assert "serving on" not in r.stderr.replace("not serving", ""), r.stderr


def test_tls_key_dash_is_not_stdin(prog, tmp_path):
    """A TLS key path of '-' read the program's stdin."""
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    r = subprocess.run([prog, "50"], env=env_for({"CPROF_HTTP": "127.0.0.1:0",
                                                  "CPROF_HTTP_GRACE": "0",
                                                  "CPROF_HTTP_TLS_CERT": str(cert),
                                                  "CPROF_HTTP_TLS_KEY": "-"}),
                       input="the program's own input\n", capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0
    line = one_line(r.stderr, "CPROF_HTTP_TLS_KEY")
    assert '"-" is not a file' in line and line.endswith("; not serving")


@pytest.mark.parametrize("name,value,conseq", [
    ("CPROF_CPU_HZ", "12x", "no CPU profile"),
    ("CPROF_HTTP_MAX_SECONDS", "5m", "not serving"),
    ("CPROF_HTTP_RATE", "0", "not serving"),
    ("CPROF_HEAP_RATE", "-5", "heap sampling off"),
    ("CPROF_HEAP_RATE", "99999999999999999999999", "heap sampling off"),
    ("CPROF_BLOCK_RATE", "10 ms", "block profile off"),
    ("CPROF_MUTEX_FRACTION", "1.5", "mutex profile off"),
    ("CPROF_WATCH_HEAP", "12Q", "no heap watchdog"),
    ("CPROF_WATCH_THREADS", "many", "no thread watchdog"),
    ("CPROF_FOLLOW_FORK", "sometimes", "forked children not profiled"),
])
def test_bad_values_one_line_feature_off(prog, tmp_path, name, value, conseq):
    extra = {name: value, "CPROF_CPU_PROFILE": str(tmp_path / "cpu.pb.gz")}
    if name.startswith("CPROF_HTTP"):
        extra.update({"CPROF_HTTP": "127.0.0.1:0", "CPROF_HTTP_GRACE": "0"})
    r = run([prog, "50"], extra)
    assert r.returncode == 0, r.stderr
    line = one_line(r.stderr, name + "=")
    assert line.endswith("; " + conseq), line
    if name == "CPROF_CPU_HZ":
        assert not (tmp_path / "cpu.pb.gz").exists()


@pytest.mark.parametrize("name,value", [("CPROF_HEAP_RATE", "4K"), ("CPROF_HEAP_RATE", "1MiB"),
                                        ("CPROF_BLOCK_RATE", "10ms"), ("CPROF_BLOCK_RATE", "5000"),
                                        ("CPROF_WATCH_HEAP", "1G"), ("CPROF_HTTP_GRACE", "0"),
                                        ("CPROF_FOLLOW_FORK", "yes")])
def test_units_accepted(prog, name, value):
    r = run([prog, "50"], {name: value})
    assert r.returncode == 0 and name not in r.stderr, r.stderr


def test_value_shown_safely(prog):
    """A long value or control bytes cannot flood or garble the line."""
    r = run([prog, "50"], {"CPROF_CPU_HZ": "\x1b[31m" + "9" * 5000})
    line = one_line(r.stderr, "CPROF_CPU_HZ")
    assert "\x1b" not in line and len(line) < 400, line
