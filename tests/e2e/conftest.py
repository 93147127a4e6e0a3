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
