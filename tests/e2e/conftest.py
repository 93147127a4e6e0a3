"""Shared fixtures of the end-to-end tests: the cprof binary and the repo."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(ROOT, "tests", "golden", "go")


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


def have_go():
    return shutil.which("go") is not None


def sanitizer_preload(lib):
    """(runtime to preload before lib, environment) for the sanitizer flavour
    lib was built in: build-san-thread/ is ThreadSanitizer (libtsan first;
    a race report fails the program with status 66), the other build-san*/
    AddressSanitizer+UBSan (libasan first, as before); none for build/."""
    flavour = os.path.basename(os.path.dirname(os.path.abspath(lib)))
    if not flavour.startswith("build-san"):
        return None, {}
    if flavour == "build-san-thread":
        so = subprocess.run(["gcc", "-print-file-name=libtsan.so"], capture_output=True,
                            text=True).stdout.strip()
        return so, {"TSAN_OPTIONS": "halt_on_error=0:exitcode=66:report_signal_unsafe=0"}
    so = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                        text=True).stdout.strip()
    return so, {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=86",
                "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=87"}
