#!/bin/sh
# setup.sh - install what cprof needs to build and test on Debian 12.
#
# Checks which Debian packages are missing and installs them with apt-get
# when run as root; otherwise prints the exact apt-get line to run.  Does
# nothing (quickly) when everything is present.  Both of the README's
# commands start with it.
set -eu

# build: compiler, make, pkg-config, zlib (gzip), PCRE2 (pprof's regexps)
# tests: cmocka (unit), pytest (end to end), golang-go (go tool pprof, the
#        conformance reference), clang + compiler-rt (libFuzzer, sanitizers),
#        gperftools (real legacy CPU profiles), time (peak memory in bench)
# analysis: elfutils libdw (symbols, lines, inline frames, build IDs),
#        libcurl (URL sources), libedit (the shell), Graphviz (graphs),
#        binutils (objdump for -disasm), linux-perf (perf.data input)
# tests: valgrind (callgrind_annotate), tmux and pexpect (the shell)
# tests: chromium (renders the -flamegraph page headless), python3-pil (checks
#        its screenshot)
# symbolization: g++ (libstdc++'s __cxa_demangle, linked by the build; the
#        C++ test program), binutils' addr2line/objcopy (checks, debug files)
PKGS="gcc make pkg-config zlib1g-dev libpcre2-dev
      libdw-dev libelf-dev libcurl4-openssl-dev libedit-dev graphviz binutils linux-perf
      libcmocka-dev python3 python3-pytest python3-pexpect golang-go
      clang libclang-rt-14-dev valgrind tmux
      libgoogle-perftools-dev google-perftools time
      chromium python3-pil g++"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: missing Debian packages; run:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
echo "setup.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
