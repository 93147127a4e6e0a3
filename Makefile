# cprof - build, test and install.
#
#   make                      build/cprof (and the libraries)
#   make test                 every test: unit (cmocka), end-to-end and conformance
#                             (pytest), fuzz smoke runs, and the unit+e2e suites again
#                             under AddressSanitizer+UndefinedBehaviorSanitizer
#   make check                unit + e2e only, for the current build flavour
#   make SANITIZE=address     (or undefined, or address,undefined) a sanitizer build
#                             in build-san*/, tested by `make check SANITIZE=...`
#   make tsan                 the runtime's e2e tests under ThreadSanitizer
#                             (build-san-thread/)
#   make fuzz                 longer fuzzing runs (FUZZ_SECONDS per target)
#   make install PREFIX=/usr/local DESTDIR=
#   make bench                the benchmarks in bench/ (see docs/PERFORMANCE.md)
#
# Layers (see docs/ARCHITECTURE.md): src/core <- src/report <- src/cli, and
# src/core <- src/report <- src/server (libcprofserver.a; never includes src/cli).
# Each layer is a static library; a file in a lower layer never includes a
# header of a higher one.  New .c files are picked up by wildcard.

CC      ?= cc
CLANG   ?= clang
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

PKGS    := zlib libpcre2-8 libdw libelf libcurl libedit libmicrohttpd gnutls
# the server (src/server): libyaml reads its config
PKGS    += yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lz -lpcre2-8 -ldw -lelf -lcurl -ledit -lmicrohttpd -lgnutls -lyaml)
# libstdc++: __cxa_demangle, the C++ demangler of src/core/demangle.c
PKG_LIBS   += -lstdc++

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter -Wformat=2 -Wvla
ifeq ($(CI),true)
WARN    += -Werror
endif
OPT     ?= -O2 -g
CFLAGS  ?=
# Layers (core <- runtime; core <- reports <- {CLI, server}): each layer's
# objects see only the include paths of the layers below it and its own, so
# a lower layer that includes a higher one's header fails to build.  Tests,
# fuzz targets and generated sources see them all.
INC_core    := -Isrc/core
INC_report  := $(INC_core) -Isrc/report
INC_server  := $(INC_report) -Isrc/server
INC_cli     := $(INC_report) -Isrc/server -Isrc/cli
INC_runtime := -Iinclude $(INC_core) -Isrc/runtime
INC_all     := -Iinclude -Isrc/core -Isrc/report -Isrc/cli -Isrc/runtime -Isrc/server
layer_inc    = $(if $(filter src/%,$(1)),$(INC_$(word 2,$(subst /, ,$(1)))),$(INC_all))
BASE_CPPFLAGS := -D_GNU_SOURCE $(PKG_CFLAGS) -DCPROF_VERSION='"$(VERSION)"'
CPPFLAGS += $(BASE_CPPFLAGS) $(INC_all)
ALL_CFLAGS = -std=c11 $(OPT) $(WARN) -fPIC $(CFLAGS)
LDLIBS  += $(PKG_LIBS) -lm
# the server's store (src/server/store_sqlite*.c)
SERVER_LIBS := -lsqlite3 -lpthread

comma   := ,
ifdef SANITIZE
# one build directory per sanitizer set, so flavours never share objects;
# `make test`'s flavour (address,undefined) is build-san/
ifeq ($(SANITIZE),address$(comma)undefined)
B       := build-san
else
B       := build-san-$(subst $(comma),-,$(SANITIZE))
endif
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
ifeq ($(SANITIZE),thread)
# ThreadSanitizer: libtsan, while it initializes, calls functions the
# runtime interposes: the malloc family (heap_hooks.c), sigaction (sigwrap.c).
# Instrumented code run then crashes (TSan's thread state is not set up),
# so those files are built without TSan; the shared tables they feed
# (heap_table.c, threads.c, sync_wrap.c, labels.c, collector.c) stay
# instrumented.
TSAN_OFF := heap_hooks cpu sigwrap
$(TSAN_OFF:%=$(B)/obj/src/runtime/%.o): ALL_CFLAGS += -fno-sanitize=thread
endif
else
B       := build
endif

CORE_SRC   := $(wildcard src/core/*.c)
REPORT_SRC := $(wildcard src/report/*.c)
CLI_SRC    := $(wildcard src/cli/*.c)
SERVER_SRC := $(wildcard src/server/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
FUZZ_SRC   := $(wildcard fuzz/fuzz_*.c)

CORE_OBJ   := $(CORE_SRC:%.c=$(B)/obj/%.o)
REPORT_OBJ := $(REPORT_SRC:%.c=$(B)/obj/%.o)
# web/* (the flame graph page's script and style) embedded into the reports
WEB_GEN    := build/gen/web_assets.c
REPORT_OBJ += $(B)/obj/$(WEB_GEN:.c=.o)
CLI_OBJ    := $(CLI_SRC:%.c=$(B)/obj/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(B)/obj/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
# The runtime (src/runtime): libcprof.so for LD_PRELOAD, libcprof.a to link.
# libcprof.so is light: it links only libc's libraries; what needs others
# is in two plugins it loads with dlopen on first use (src/runtime/plugin.h):
# libcprof-sym.so (the core's symbolizer, demangler, decoder, zlib) and
# libcprof-http.so (http_server.c: libmicrohttpd, GnuTLS).  plugin_load.c
# (the light side) is in libcprof.so only; libcprof.a links everything.
RT_LIGHT_SRC := src/runtime/plugin_load.c src/runtime/rt_math.c src/runtime/sym_spawn.c
RT_PLUG_SRC  := src/runtime/plugin_sym.c src/runtime/plugin_http.c
# cprof-symbolize: the process that symbolizes the profile files the
# runtime writes (so the profiled program never maps libdw); installed
# next to libcprof.so, as the plugins are
RT_HELPER_SRC := src/runtime/sym_helper.c
RT_SRC     := $(filter-out $(RT_LIGHT_SRC) $(RT_PLUG_SRC) $(RT_HELPER_SRC),$(wildcard src/runtime/*.c))
RT_OBJ     := $(RT_SRC:%.c=$(B)/obj/%.o)
RT_HTTP_OBJ := $(B)/obj/src/runtime/http_server.o
RT_LIGHT_OBJ := $(filter-out $(RT_HTTP_OBJ),$(RT_OBJ)) $(RT_LIGHT_SRC:%.c=$(B)/obj/%.o)
# core objects that need a library beyond libc: never in libcprof.so
CORE_HEAVY_OBJ := $(addprefix $(B)/obj/src/core/,symbolize.o demangle.o io.o legacy_common.o regex.o)
RT_LIBS    := $(shell pkg-config --libs zlib libpcre2-8 libdw libelf libmicrohttpd 2>/dev/null || echo -lz -lpcre2-8 -ldw -lelf -lmicrohttpd) -lpthread -ldl -lm -lstdc++
# no -lm: rt_math.c's hidden exp, log and round (one library fewer to map,
# copy at every fork and tear down at every child's exit)
RT_LIGHT_LIBS := -lpthread -ldl
RT_SYM_LIBS  := $(shell pkg-config --libs zlib libdw libelf libpcre2-8 2>/dev/null || echo -lz -ldw -lelf -lpcre2-8) -lstdc++ -lm
RT_HTTP_LIBS := $(shell pkg-config --libs zlib libmicrohttpd 2>/dev/null || echo -lz -lmicrohttpd) -lpthread
RT_A       := $(if $(RT_SRC),$(B)/libcprof.a)
RT_TARGETS := $(if $(RT_SRC),$(B)/libcprof.so $(B)/libcprof-sym.so $(B)/libcprof-http.so $(B)/cprof-symbolize $(B)/libcprof.a)
FUZZ_BIN   := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)

.PHONY: all test check unit e2e fuzz-smoke fuzz sanitize install clean bench demo
all: $(B)/cprof $(B)/libcprofreport.a $(B)/libcprofserver.a $(RT_TARGETS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CPPFLAGS) $(call layer_inc,$<) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# issue 8: web/ui/* (the web UI's page, script and style) embedded as well;
# web/server/* is the server's page (src/server/ui.c serves it)
WEB_FILES  := $(wildcard web/*.js web/*.css web/ui/*.js web/ui/*.css web/ui/*.html) \
              $(wildcard web/server/*.js web/server/*.css web/server/*.html web/server/*.svg)
$(WEB_GEN): web/embed.sh $(WEB_FILES)
	@mkdir -p $(dir $@)
	sh web/embed.sh $@ $(WEB_FILES)

$(B)/libcprofcore.a: $(CORE_OBJ)
	@mkdir -p $(B)
	rm -f $@ && ar rcs $@ $^

$(B)/libcprofreport.a: $(REPORT_OBJ)
	@mkdir -p $(B)
	rm -f $@ && ar rcs $@ $^

# The continuous-profiling server's library (src/server): store, selectors,
# time parsing and the server's front half; layered on the reports and core.
$(B)/libcprofserver.a: $(SERVER_OBJ)
	@mkdir -p $(B)
	rm -f $@ && ar rcs $@ $^

$(B)/cprof: $(CLI_OBJ) $(B)/libcprofserver.a $(B)/libcprofreport.a $(B)/libcprofcore.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(B)/libcprofserver.a $(B)/libcprofreport.a $(B)/libcprofcore.a $(LDLIBS) $(SERVER_LIBS)

$(B)/libcprof.a: $(RT_OBJ)
	@mkdir -p $(B)
	rm -f $@ && ar rcs $@ $^

# The preloadable runtime: its objects and the core objects they use (from
# an archive of the light ones), exporting only the public API and what it
# interposes (src/runtime/libcprof.map), bound at load time (-z now) so no
# lazy PLT resolution ever runs in a signal handler; -z defs: a reference
# to anything outside libc's libraries fails the link.
$(B)/libcprofcore-light.a: $(filter-out $(CORE_HEAVY_OBJ),$(CORE_OBJ))
	@mkdir -p $(B)
	rm -f $@ && ar rcs $@ $^

# (the plugins are built with it: it is not whole without them)
$(B)/libcprof.so: $(RT_LIGHT_OBJ) $(B)/libcprofcore-light.a src/runtime/libcprof.map \
                  | $(B)/libcprof-sym.so $(B)/libcprof-http.so $(B)/cprof-symbolize
	$(CC) -shared $(ALL_CFLAGS) $(LDFLAGS) -Wl,-z,now -Wl,-z,defs -Wl,--version-script=src/runtime/libcprof.map \
	      -o $@ $(RT_LIGHT_OBJ) $(B)/libcprofcore-light.a $(RT_LIGHT_LIBS)

# The plugins (installed next to libcprof.so): one exported entry each
# (src/runtime/plugin.map), the core objects they need from the archive.
$(B)/libcprof-sym.so: $(B)/obj/src/runtime/plugin_sym.o $(B)/libcprofcore.a src/runtime/plugin.map
	$(CC) -shared $(ALL_CFLAGS) $(LDFLAGS) -Wl,-z,now -Wl,-z,defs -Wl,--version-script=src/runtime/plugin.map \
	      -o $@ $(B)/obj/src/runtime/plugin_sym.o $(B)/libcprofcore.a $(RT_SYM_LIBS)

$(B)/cprof-symbolize: $(B)/obj/src/runtime/sym_helper.o $(B)/libcprofcore.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(B)/obj/src/runtime/sym_helper.o $(B)/libcprofcore.a $(RT_SYM_LIBS)

$(B)/libcprof-http.so: $(B)/obj/src/runtime/plugin_http.o $(RT_HTTP_OBJ) $(B)/libcprofcore.a src/runtime/plugin.map
	$(CC) -shared $(ALL_CFLAGS) $(LDFLAGS) -Wl,-z,now -Wl,-z,defs -Wl,--version-script=src/runtime/plugin.map \
	      -o $@ $(B)/obj/src/runtime/plugin_http.o $(RT_HTTP_OBJ) $(B)/libcprofcore.a $(RT_HTTP_LIBS)

# ---- tests -----------------------------------------------------------------

# A unit test links only its own layer and those below: the core's and
# the reports' tests never see the runtime (its malloc and lock wrappers);
# the runtime's tests (RT_UNIT) link libcprof.a.
RT_UNIT := $(addprefix $(B)/tests/,$(notdir $(basename $(wildcard tests/unit/test_rt_*.c))) \
             test_unwind test_ehframe test_http_parse test_errors)
$(B)/tests/%: tests/unit/%.c $(B)/libcprofreport.a $(B)/libcprofcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libcprofreport.a $(B)/libcprofcore.a $(LDLIBS) -lpthread -ldl -lcmocka
$(RT_UNIT): $(B)/tests/%: tests/unit/%.c $(RT_A) $(B)/libcprofreport.a $(B)/libcprofcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(RT_A) $(B)/libcprofreport.a $(B)/libcprofcore.a $(LDLIBS) -lpthread -ldl -lcmocka

# The allocation-failure driver: linked with the test-only shim
# tests/unit/failalloc.c, every malloc-family call of the core, the reports
# and the runtime wrapped (-Wl,--wrap) so the shim can fail the nth one.
FAILALLOC_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=reallocarray,--wrap=strdup,--wrap=strndup,--wrap=free
$(B)/tests/test_failalloc: tests/unit/test_failalloc.c tests/unit/failalloc.c tests/unit/failalloc.h $(RT_A) $(B)/libcprofreport.a $(B)/libcprofcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) $(FAILALLOC_WRAP) -o $@ tests/unit/test_failalloc.c tests/unit/failalloc.c \
	      $(RT_A) $(B)/libcprofreport.a $(B)/libcprofcore.a $(LDLIBS) -lpthread -ldl -lcmocka

# The server's unit tests (tests/unit/test_srv_*.c) link libcprofserver.a
$(B)/tests/test_srv_%: tests/unit/test_srv_%.c $(B)/libcprofserver.a $(B)/libcprofreport.a $(B)/libcprofcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libcprofserver.a $(B)/libcprofreport.a $(B)/libcprofcore.a $(LDLIBS) $(SERVER_LIBS) -lpthread -ldl -lcmocka

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; CPROF_SRCDIR=$(CURDIR) $$t; done

PYTEST ?= /usr/bin/python3 -m pytest
e2e: $(B)/cprof $(RT_TARGETS)
	CPROF_BIN=$(CURDIR)/$(B)/cprof $(PYTEST) -q tests/e2e

check: unit e2e

# ThreadSanitizer over the runtime: libcprof.so built with TSan
# (build-san-thread/) and preloaded, before libtsan, into the runtime's
# test programs (tests/runtime/), whose wait records, registry, label
# slots and collector then run under TSan.  The unit binaries cannot run
# under TSan: linked with libcprof.a they define malloc, which libtsan
# calls while it installs its interceptors, before it can run anything.
TSAN_E2E := tests/e2e/test_runtime_sync.py tests/e2e/test_runtime_robust.py
.PHONY: tsan
tsan:
	$(MAKE) SANITIZE=thread all
	CPROF_BIN=$(CURDIR)/build-san-thread/cprof $(PYTEST) -q $(TSAN_E2E)

# The sanitizer pass of `make test`: unit and e2e suites built with ASan+UBSan.
sanitize:
	$(MAKE) SANITIZE=address,undefined check

# Fuzz targets are built with clang's libFuzzer (always unsanitized-by-make:
# they carry -fsanitize=fuzzer,address,undefined themselves).
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
# The core and the reports are compiled once for all targets, instrumented
# (fuzzer-no-link: coverage without libFuzzer's main), into one archive each
# target links; a target compiles only its own file (and the .c it includes).
FUZZ_LIB_CFLAGS := -std=c11 -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_OBJ := $(patsubst %.c,build/fuzz/obj/%.o,$(CORE_SRC) $(REPORT_SRC) $(WEB_GEN))
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CLANG) $(BASE_CPPFLAGS) $(call layer_inc,$<) $(FUZZ_LIB_CFLAGS) -MMD -MP -c -o $@ $<
build/fuzz/libfuzzdeps.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $^
build/fuzz/%: fuzz/%.c build/fuzz/libfuzzdeps.a
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -o $@ $< build/fuzz/libfuzzdeps.a $(PKG_LIBS) -lm
# fuzz_shell compiles the shell in (src/cli/shell.c)
build/fuzz/fuzz_shell: src/cli/shell.c src/cli/cli.h
# fuzz_unwind_tables compiles the unwinder's table builder in
build/fuzz/fuzz_unwind_tables: src/runtime/unwind_tables.c src/runtime/ehframe.c src/runtime/ehframe.h src/runtime/rt_unwind.h src/runtime/rt_base.h
# issue 7: fuzz_http compiles the HTTP endpoint's request parser in
build/fuzz/fuzz_http: src/runtime/http_parse.c src/runtime/http_int.h src/runtime/rt_profile.h src/runtime/rt_base.h
# fuzz_webui_params compiles the web UI's URL parameters in (src/cli/webui_params.c)
build/fuzz/fuzz_webui_params: src/cli/webui_params.c src/cli/webui_params.h
# fuzz_fetch and fuzz_flags compile the URL/symbol parsers and the flags parser in
build/fuzz/fuzz_fetch: src/cli/fetch.c src/cli/cli.h
build/fuzz/fuzz_flags: src/cli/flags.c src/cli/cli.h
build/fuzz/fuzz_flame build/fuzz/fuzz_report build/fuzz/fuzz_flamejson: fuzz/fuzz_run.h
# the server's selector and time parsers
build/fuzz/fuzz_srv_selector: src/server/selector.c src/server/store.h
build/fuzz/fuzz_srv_time: src/server/timeparse.c src/server/store.h
build/fuzz/fuzz_srv_codec: src/server/store_codec.c src/server/store_int.h src/server/store.h
# the push parsers and the YAML config, compiled in
build/fuzz/fuzz_srv_ingest: src/server/ingest_parse.c src/server/srvutil.c src/server/server_int.h
build/fuzz/fuzz_srv_config: src/server/config.c src/server/srvutil.c src/server/timeparse.c src/server/selector.c src/server/relabel.c src/server/server_int.h
# the web UI's analysis paths (src/server/ui_path.c)
build/fuzz/fuzz_srv_ui_path: src/server/ui_path.c src/server/server_int.h
# fuzz_rtenv compiles the runtime's environment and /proc parsers in
build/fuzz/fuzz_rtenv: src/runtime/envparse.c src/runtime/procparse.c src/runtime/rt_env.h

FUZZ_RUNS    ?= 3000
FUZZ_SECONDS ?= 120
fuzz-smoke: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); \
	  mkdir -p build/fuzz/corpus-$$n; \
	  echo "== $$n ($(FUZZ_RUNS) runs)"; \
	  $$f -runs=$(FUZZ_RUNS) -max_len=65536 -rss_limit_mb=1024 -timeout=10 \
	      build/fuzz/corpus-$$n fuzz/seeds/$$n 2>build/fuzz/$$n.log || { tail -40 build/fuzz/$$n.log; exit 1; }; \
	  tail -1 build/fuzz/$$n.log; echo "== $$n: passed"; done

fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=1048576 -rss_limit_mb=2048 -timeout=10 \
	      build/fuzz/corpus-$$n fuzz/seeds/$$n; done

test: all
	@MAKE="$(MAKE)" tests/run.sh

# The README's main job (issue 8): build the demo service (examples/), run it
# under the runtime and serve its CPU, heap, mutex and thread profiles in the
# web UI, printing the URLs (Ctrl-C stops; NO_BROWSER=1 opens no browser).
demo: all
	BUILD=$(B) examples/demo.sh

# ---- benchmarks, install ------------------------------------------------------

bench: all
	bench/run.sh

# The synthetic fleet's driver (bench/server_ingest.c), linked once here
# for the server benches (server_ingest.sh, server_clickhouse.sh,
# server_ui.sh), which call `make $(B)/bench/server_ingest`.
$(B)/bench/server_ingest: bench/server_ingest.c $(B)/libcprofserver.a $(B)/libcprofcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O2 -g -Isrc/core -Isrc/server -o $@ $< $(B)/libcprofserver.a \
	      $(B)/libcprofcore.a $(LDLIBS) $(SERVER_LIBS)

# The pkg-config files are written here, not at build time, so they name the
# PREFIX given to `make install` (DESTDIR only stages the files).
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g'
# The public headers, installed under PREFIX/include/cprof/ by their
# public names (cprof/cprof.h the runtime, cprof/core.h, cprof/report.h,
# cprof/errors.h the one error vocabulary they share): the includes between
# them are renamed on the way.  Everything else (cprof_util.h, *_int.h) is
# internal and never installed.
INSTALL_HDR = sed -e 's/"cprof_errors\.h"/"errors.h"/g' -e 's/"cprof_core\.h"/"core.h"/g' \
                  -e 's|"\.\./\.\./include/cprof_errors\.h"|"errors.h"|g'
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	           $(DESTDIR)$(PREFIX)/include/cprof $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(B)/cprof $(DESTDIR)$(PREFIX)/bin/cprof
	install -m 644 $(B)/libcprofcore.a $(B)/libcprofreport.a $(DESTDIR)$(PREFIX)/lib/
	$(INSTALL_HDR) include/cprof_errors.h > $(DESTDIR)$(PREFIX)/include/cprof/errors.h
	$(INSTALL_HDR) src/core/cprof_core.h > $(DESTDIR)$(PREFIX)/include/cprof/core.h
	$(INSTALL_HDR) src/report/cprof_report.h > $(DESTDIR)$(PREFIX)/include/cprof/report.h
	$(PC_SED) pkgconfig/cprof-core.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/cprof-core.pc
	install -m 644 docs/cprof.1 $(DESTDIR)$(PREFIX)/share/man/man1/cprof.1
	$(if $(RT_SRC),install -m 755 $(B)/libcprof.so $(DESTDIR)$(PREFIX)/lib/libcprof.so)
	$(if $(RT_SRC),install -m 755 $(B)/libcprof-sym.so $(B)/libcprof-http.so $(B)/cprof-symbolize $(DESTDIR)$(PREFIX)/lib/)
	$(if $(RT_SRC),install -m 644 $(B)/libcprof.a $(DESTDIR)$(PREFIX)/lib/libcprof.a)
	$(if $(RT_SRC),$(INSTALL_HDR) include/cprof.h > $(DESTDIR)$(PREFIX)/include/cprof/cprof.h)
	$(if $(RT_SRC),$(PC_SED) pkgconfig/libcprof.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libcprof.pc)

clean:
	rm -rf build build-san build-san-*

-include $(CORE_OBJ:.o=.d) $(REPORT_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(SERVER_OBJ:.o=.d) $(RT_OBJ:.o=.d) \
         $(RT_LIGHT_SRC:%.c=$(B)/obj/%.d) $(RT_PLUG_SRC:%.c=$(B)/obj/%.d) $(RT_HELPER_SRC:%.c=$(B)/obj/%.d) $(FUZZ_OBJ:.o=.d)
