"""`make install` and the pkg-config files it writes.

Installs into a temporary prefix (and, staged, with DESTDIR) and builds small
programs against the installed headers and libraries with nothing but
`pkg-config --cflags --libs`: one that decodes a profile with the core
(statically, `--static cprof-core`), one that profiles itself through the
runtime's API (`libcprof`, the shared library).
"""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, GOLDEN

CORE_PROG = r"""
#include <stdio.h>
#include <cprof/report.h>
int main(int argc, char **argv)
{
	cprof_profile *p = NULL;
	cprof_error err = {0};
	if (cprof_decode_file(argv[1], &p, &err) != 0) {
		fprintf(stderr, "decode failed\n");
		return 1;
	}
	printf("samples %zu\n", p->samples.n);
	cprof_profile_free(p);
	return 0;
}
"""

RT_PROG = r"""
#include <stdio.h>
#include <cprof/cprof.h>
static volatile unsigned long sink;
int main(int argc, char **argv)
{
	if (cprof_cpu_start(argv[1]) != 0) {
		fprintf(stderr, "start: %s\n", cprof_last_error());
		return 1;
	}
	for (unsigned long i = 0; i < 300000000UL; i++)
		sink += i * i;
	if (cprof_cpu_stop() != 0)
		return 1;
	puts("ok");
	return 0;
}
"""


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "SANITIZE", "B")}
    env.update(extra)
    return env


def make_install(prefix, destdir=None):
    args = ["make", "-C", ROOT, "--no-print-directory", "-s", "install", "PREFIX=" + prefix]
    if destdir:
        args.append("DESTDIR=" + destdir)
    r = subprocess.run(args, capture_output=True, text=True, env=clean_env(), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def pkg(args, pcdir, sysroot=None):
    env = clean_env(PKG_CONFIG_PATH=pcdir)
    if sysroot:
        env["PKG_CONFIG_SYSROOT_DIR"] = sysroot
    r = subprocess.run(["pkg-config", *args], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def build(tmp, name, src, flags):
    c = tmp / (name + ".c")
    c.write_text(src)
    exe = tmp / name
    r = subprocess.run(["cc", "-o", str(exe), str(c), *flags], capture_output=True, text=True)
    assert r.returncode == 0, " ".join(flags) + "\n" + r.stderr
    return exe


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    if not shutil.which("pkg-config"):
        pytest.skip("pkg-config not installed")
    prefix = tmp_path_factory.mktemp("prefix")
    make_install(str(prefix))
    return prefix


def test_pc_files_name_the_install_prefix(installed):
    for name in ("cprof-core", "libcprof"):
        pc = installed / "lib" / "pkgconfig" / (name + ".pc")
        assert pc.exists(), name
        assert ("prefix=%s\n" % installed) in pc.read_text()
    # one built earlier with another PREFIX must not leak in
    assert "/usr/local" not in (installed / "lib/pkgconfig/cprof-core.pc").read_text()


def test_core_links_statically(installed, tmp_path):
    pcdir = str(installed / "lib" / "pkgconfig")
    flags = pkg(["--cflags", "--libs", "--static", "cprof-core"], pcdir)
    exe = build(tmp_path, "core_prog", CORE_PROG, flags)
    # no shared cprof library exists for the core: the program must not need one
    out = subprocess.run(["ldd", str(exe)], capture_output=True, text=True).stdout
    assert "cprof" not in out
    r = subprocess.run([str(exe), os.path.join(GOLDEN, "cpu.pb.gz")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("samples ") and int(r.stdout.split()[1]) > 0


def test_runtime_links_and_profiles(installed, tmp_path, cprof):
    pcdir = str(installed / "lib" / "pkgconfig")
    flags = pkg(["--cflags", "--libs", "libcprof"], pcdir)
    assert "-lcprof" in flags
    exe = build(tmp_path, "rt_prog", RT_PROG, flags)
    out = tmp_path / "cpu.pb.gz"
    env = clean_env(LD_LIBRARY_PATH=str(installed / "lib"))
    r = subprocess.run([str(exe), str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"
    maps = subprocess.run(["ldd", str(exe)], capture_output=True, text=True, env=env).stdout
    assert str(installed / "lib" / "libcprof.so") in maps
    top = cprof("-top", str(out))
    assert top.returncode == 0, top.stderr
    assert "main" in top.stdout


def test_destdir_stages_without_baking_it_in(tmp_path):
    if not shutil.which("pkg-config"):
        pytest.skip("pkg-config not installed")
    stage = tmp_path / "stage"
    make_install("/opt/cprof-test", str(stage))
    pc = stage / "opt/cprof-test/lib/pkgconfig/cprof-core.pc"
    text = pc.read_text()
    assert "prefix=/opt/cprof-test\n" in text
    assert str(stage) not in text
    # through the sysroot, as a packager would build against the staged tree
    flags = pkg(["--cflags", "--libs", "--static", "cprof-core"], str(pc.parent), sysroot=str(stage))
    exe = build(tmp_path, "staged_prog", CORE_PROG, flags)
    r = subprocess.run([str(exe), os.path.join(GOLDEN, "heap.pb.gz")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
