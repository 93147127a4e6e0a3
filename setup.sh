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
# runtime: libmicrohttpd + GnuTLS (the HTTP endpoint and the web UI),
#        jemalloc and tcmalloc_minimal (the heap profiler on other allocators),
#        heaptrack (heap benchmark baseline), prometheus (promtool checks
#        /metrics), wrk (load on the endpoint), SQLite (a real CPU-bound
#        program for the overhead benchmark), memcached (a real threaded
#        server: the runtime's own waits stay out of its block profile)
# web UI tests: nodejs + npm (playwright-core, driving Debian's chromium)
# server (cprof server): libyaml (its YAML config), SQLite (its store, above),
#        libcurl (scraping, above); its tests push with the real
#        @pyroscope/nodejs client (npm, below)
# runtime in real programs (tests/e2e/test_runtime_real.py, bench/fork.sh,
#        and the corpus below)
# symbolization: g++ (libstdc++'s __cxa_demangle, linked by the build; the
#        C++ test program), binutils' addr2line/objcopy (checks, debug files)
# real programs the runtime must not break (tests/e2e/test_real_programs.py):
#        redis-server (jemalloc-linked) and redis-tools (redis-benchmark,
#        redis-cli), memcached, nginx (master and forked workers; wrk is
#        above), stress-ng (fork, vfork, clone, exec, signal, sigsegv, mutex,
#        futex... stressors), xz-utils, sqlite3, python3, gcc/g++ (above),
#        ninja-build (a build tool that relays its commands' stderr:
#        tests/e2e/test_runtime_tree.py)
# golang-1.19-src: the Catapult trace viewer go tool trace embeds
#        (cmd/trace/static/trace_viewer_full.html), which imports the
#        runtime's execution traces in tests/e2e/test_trace.py
# server on ClickHouse (src/server/store_ch*.c, tools/clickhouse-local.sh):
#        clickhouse-server and clickhouse-client (Debian's 18.16) and
#        zookeeper (3.8, for the replicated 2-shard x 2-replica cluster)
PKGS="gcc make pkg-config zlib1g-dev libpcre2-dev
      libdw-dev libelf-dev libcurl4-openssl-dev libedit-dev graphviz binutils linux-perf
      libcmocka-dev python3 python3-pytest python3-pexpect golang-go
      clang libclang-rt-14-dev valgrind tmux
      libgoogle-perftools-dev google-perftools time
      chromium python3-pil g++
      libmicrohttpd-dev libgnutls28-dev libjemalloc2 libjemalloc-dev
      libtcmalloc-minimal4 heaptrack prometheus wrk sqlite3 libsqlite3-dev
      nodejs redis-server redis-tools memcached nginx stress-ng xz-utils ninja-build
      libyaml-dev golang-1.19-src clickhouse-server clickhouse-client zookeeper"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
# npm: part of the machine's Node.js where it came with one; Debian's own
# package otherwise (it conflicts with Node.js builds that carry npm)
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
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
fi

# npm packages of the browser tests (playwright-core only: the browser is
# Debian's chromium), pinned by the lock file
cd "$(dirname "$0")"
if [ -f tests/browser/package-lock.json ] && [ ! -d tests/browser/node_modules/playwright-core ]; then
	echo "setup.sh: npm ci in tests/browser" >&2
	(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
# npm packages of the server tests (@pyroscope/nodejs, the real push client),
# pinned by the lock file
if [ -f tests/server/package-lock.json ] && [ ! -d tests/server/node_modules/@pyroscope/nodejs ]; then
	echo "setup.sh: npm ci in tests/server" >&2
	(cd tests/server && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
exit 0
