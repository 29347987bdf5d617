# emperor — one non-recursive GNU Makefile.
#   make                 build/vassal, build/emperor, build/emperorctl, build/emperor-web
#   make test            cmocka unit tests + integration tests
#   make asan            the same tests under ASan+UBSan (build/asan/)
#   make fuzz            every libFuzzer target for FUZZ_SECONDS (default 10) each
#   make analyze         gcc -fanalyzer over every source file
#   make man             regenerate man/emperor-ini.5 and the README's uWSGI table
#   make deps            install the Debian packages needed to build, test and benchmark
#   make run             the emperor on conf.d/ (hello on 127.0.0.1:8080, Flask on :8081)
#   make install PREFIX=/usr DESTDIR=/tmp/pkg   (and uninstall)
#   make deb             a Debian package in build/deb/ (dpkg-buildpackage)
#   V=1 shows the commands; SANITIZE=address,undefined builds with sanitizers.

.DELETE_ON_ERROR:
.SUFFIXES:

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
CONFDIR ?= $(SYSCONFDIR)/apps.d
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
PKG_CONFIG ?= pkg-config
PYTHON ?= /usr/bin/python3

CFLAGS ?= -O2 -g
WARNFLAGS = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wsign-compare -Wno-format-nonliteral
PROJECT_CFLAGS = -std=gnu17 -D_GNU_SOURCE -pthread -MMD -MP -Ilib $(WARNFLAGS) \
                 -DPYTHON_EXECUTABLE='"$(PYTHON)"' -DVASSAL_INSTALL_PATH='"$(BINDIR)/vassal"' \
                 -DWEB_INSTALL_PATH='"$(SBINDIR)/emperor-web"'

ifneq ($(SANITIZE),)
  BUILD ?= build/asan
  PROJECT_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
  PROJECT_LDFLAGS += -fsanitize=$(SANITIZE)
else
  BUILD ?= build
endif

# pkg-config is asked when a recipe first needs its answer, then the answer is kept. Not while
# make reads this file: in `make deps test` on a fresh machine, `deps` installs the -dev packages
# only after that, and flags read at parse time would stay empty for the whole run.
pkgconf = $(or $(shell $(PKG_CONFIG) $(1) 2>/dev/null),$(error pkg-config $(1) found nothing: \
                run 'make deps' (as root) first))
PKGS = libsystemd libcjson
PKG_CFLAGS = $(eval PKG_CFLAGS := $(call pkgconf,--cflags $(PKGS) python3-embed))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $(call pkgconf,--libs $(PKGS)))$(PKG_LIBS)
PY_LIBS = $(eval PY_LIBS := $(call pkgconf,--libs python3-embed))$(PY_LIBS)
CMOCKA_LIBS = $(eval CMOCKA_LIBS := $(call pkgconf,--libs cmocka))$(CMOCKA_LIBS)
SQLITE_LIBS = $(eval SQLITE_LIBS := $(call pkgconf,--libs sqlite3))$(SQLITE_LIBS)

# `make deps` runs alone first, whatever -j says, so no recipe looks for a package it installs.
ifneq ($(filter deps,$(MAKECMDGOALS)),)
.NOTPARALLEL:
endif

ALL_CFLAGS = $(PROJECT_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(CPPFLAGS)
ALL_LDFLAGS = -pthread $(PROJECT_LDFLAGS) $(LDFLAGS)

ifeq ($(V),1)
  Q =
  say =
else
  Q = @
  say = @printf '  %-6s %s\n' $(1) $(2);
endif

LIB_SRCS := $(sort $(wildcard lib/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
VASSAL_SRCS := $(sort $(wildcard vassal/*.c))
VASSAL_OBJS := $(VASSAL_SRCS:%.c=$(BUILD)/obj/%.o)
# Every vassal object but main, so unit tests can link the vassal's modules.
VASSAL_MODS := $(filter-out $(BUILD)/obj/vassal/main.o,$(VASSAL_OBJS))

UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)

STORE_SRCS := $(sort $(wildcard store/*.c))
STORE_OBJS := $(STORE_SRCS:%.c=$(BUILD)/obj/%.o)
EMPEROR_SRCS := $(sort $(wildcard emperor/*.c))
EMPEROR_OBJS := $(EMPEROR_SRCS:%.c=$(BUILD)/obj/%.o)
CTL_SRCS := $(sort $(wildcard ctl/*.c))
CTL_OBJS := $(CTL_SRCS:%.c=$(BUILD)/obj/%.o)
WEB_SRCS := $(sort $(wildcard web/*.c))
WEB_OBJS := $(WEB_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/web/assets-table.o
# The dashboard's files, compiled into emperor-web: ours, and uPlot as `npm ci` installed it
# (package-lock.json pins it; it is never copied into the tree).
WEB_ASSETS := $(sort $(wildcard web/assets/*)) node_modules/uplot/dist/uPlot.iife.min.js \
              node_modules/uplot/dist/uPlot.min.css

PROGRAMS = $(BUILD)/vassal $(if $(EMPEROR_SRCS),$(BUILD)/emperor) $(if $(CTL_SRCS),$(BUILD)/emperorctl) \
           $(if $(WEB_SRCS),$(BUILD)/emperor-web)

all: $(PROGRAMS)
.PHONY: all

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libcommon.a: $(LIB_OBJS)
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^

# The stats store (store/): the emperor writes it, emperorctl and the API read it. Its users
# include its headers by -iquote, so no store header shadows a system one.
$(BUILD)/libstore.a: $(STORE_OBJS)
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^
STORE_INC = -iquote store

$(BUILD)/vassal: $(VASSAL_OBJS) $(BUILD)/libcommon.a
	$(call say,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(PY_LIBS)

$(BUILD)/obj/emperor/%.o $(BUILD)/obj/ctl/%.o: ALL_CFLAGS += $(STORE_INC)
$(BUILD)/emperor: $(EMPEROR_OBJS) $(BUILD)/libstore.a $(BUILD)/libcommon.a
	$(call say,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(SQLITE_LIBS) -lm

node_modules/uplot/dist/%:
	@echo "$@ is missing: run 'make deps' (npm ci) first" >&2; exit 1
$(BUILD)/web/assets-table.c: web/gen-assets.sh $(WEB_ASSETS)
	@mkdir -p $(@D)
	$(call say,GEN,$@)web/gen-assets.sh $(WEB_ASSETS) >$@
$(BUILD)/obj/web/assets-table.o: $(BUILD)/web/assets-table.c $(WEB_ASSETS)
	@mkdir -p $(@D)
	$(call say,CC,$@)$(CC) $(ALL_CFLAGS) -Iweb -c -o $@ $<
$(BUILD)/obj/web/%.o: ALL_CFLAGS += $(STORE_INC)
$(BUILD)/emperor-web: $(WEB_OBJS) $(BUILD)/libstore.a $(BUILD)/libcommon.a
	$(call say,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(SQLITE_LIBS) -lcrypt -lm

$(BUILD)/emperorctl: $(CTL_OBJS) $(BUILD)/libstore.a $(BUILD)/libcommon.a
	$(call say,LINK,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(SQLITE_LIBS) -lm

# A unit test links the lib and the store; a test of another module names its objects below.
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libstore.a $(BUILD)/libcommon.a
	@mkdir -p $(@D)
	$(call say,TEST,$@)$(CC) $(ALL_CFLAGS) $(STORE_INC) $(ALL_LDFLAGS) -Itests/unit -Ivassal -o $@ $< \
		$(filter %.o,$^) $(filter %.a,$^) $(PKG_LIBS) $(PY_LIBS) $(SQLITE_LIBS) $(CMOCKA_LIBS) -lm \
		$(TEST_LIBS)
$(BUILD)/tests/test-scan: $(BUILD)/obj/emperor/scan.o
$(BUILD)/tests/test-notify: $(BUILD)/obj/emperor/notify.o
# The vassal state machine with every emperor module but main (its ops are faked).
$(BUILD)/tests/test-instance: $(filter-out $(BUILD)/obj/emperor/main.o,$(EMPEROR_OBJS))
$(BUILD)/tests/test-request: $(BUILD)/obj/vassal/request.o $(BUILD)/obj/vassal/response.o
$(BUILD)/tests/test-response: $(BUILD)/obj/vassal/request.o $(BUILD)/obj/vassal/response.o
$(BUILD)/tests/test-logger: $(BUILD)/obj/vassal/logger.o
$(BUILD)/tests/test-logformat: $(BUILD)/obj/vassal/logformat.o
# config.o checks exec commands (exec.o), compiles the request log format (logformat.o) and
# builds the static file rules (static.o, which answers through request.o and response.o) and
# the daemons' and cron's (daemons.o, cron.o, logger.o); uid/gid names are lib's (users.c).
STATIC_OBJS = $(BUILD)/obj/vassal/static.o $(BUILD)/obj/vassal/request.o \
              $(BUILD)/obj/vassal/response.o
CONFIG_OBJS = $(BUILD)/obj/vassal/config.o $(BUILD)/obj/vassal/exec.o \
              $(BUILD)/obj/vassal/logformat.o $(STATIC_OBJS) \
              $(BUILD)/obj/vassal/daemons.o $(BUILD)/obj/vassal/cron.o $(BUILD)/obj/vassal/logger.o
$(BUILD)/tests/test-static: $(STATIC_OBJS)
$(BUILD)/tests/test-cron: $(BUILD)/obj/vassal/cron.o
$(BUILD)/tests/test-config: $(CONFIG_OBJS)
$(BUILD)/tests/test-socket: $(BUILD)/obj/vassal/socket.o $(CONFIG_OBJS)
$(BUILD)/tests/test-scoreboard: $(BUILD)/obj/vassal/scoreboard.o
$(BUILD)/tests/test-cputime: $(BUILD)/obj/vassal/cputime.o
$(BUILD)/tests/test-cheaper: $(BUILD)/obj/vassal/cheaper.o
$(BUILD)/tests/test-guard: $(BUILD)/obj/vassal/guard.o $(BUILD)/obj/vassal/scoreboard.o
$(BUILD)/tests/test-exec: $(BUILD)/obj/vassal/exec.o
$(BUILD)/tests/test-ctl-format: $(BUILD)/obj/ctl/format.o
$(BUILD)/tests/test-ctl-top: $(BUILD)/obj/ctl/top.o $(BUILD)/obj/ctl/format.o
$(BUILD)/tests/test-ctl-logs: $(BUILD)/obj/ctl/logs.o
$(BUILD)/tests/test-web: $(BUILD)/obj/web/metrics.o $(BUILD)/obj/web/buf.o $(BUILD)/obj/web/auth.o
$(BUILD)/tests/test-web: ALL_CFLAGS += -Iweb
$(BUILD)/tests/test-web: TEST_LIBS = -lcrypt

# libFuzzer targets: clang, each with the lib sources, ASan+UBSan.
FUZZ_CC ?= clang
# A target of an emperor module names it in FUZZ_EXTRA (and its libraries in FUZZ_LIBS).
build/fuzz/fuzz-block: FUZZ_EXTRA = store/block.c
build/fuzz/fuzz-block: store/block.c store/block.h
build/fuzz/fuzz-since: FUZZ_EXTRA = store/query.c store/block.c
build/fuzz/fuzz-since: FUZZ_LIBS = $(SQLITE_LIBS)
build/fuzz/fuzz-since: store/query.c store/query.h
build/fuzz/fuzz-logformat: FUZZ_EXTRA = -Ivassal vassal/logformat.c
build/fuzz/fuzz-logformat: vassal/logformat.c vassal/logformat.h
build/fuzz/fuzz-static: FUZZ_EXTRA = vassal/static.c vassal/request.c vassal/response.c
build/fuzz/fuzz-static: vassal/static.c vassal/static.h
build/fuzz/fuzz-cron: FUZZ_EXTRA = -iquote vassal vassal/cron.c
build/fuzz/fuzz-cron: vassal/cron.c vassal/cron.h
build/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) lib/*.h
	@mkdir -p $(@D)
	$(call say,FUZZ,$@)$(FUZZ_CC) -g -O1 -std=gnu17 -D_GNU_SOURCE -Ilib $(STORE_INC) \
		$(call pkgconf,--cflags libcjson libsystemd) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $< $(LIB_SRCS) \
		$(FUZZ_EXTRA) $(call pkgconf,--libs libcjson libsystemd) $(FUZZ_LIBS)

check-build: $(PROGRAMS) $(UNIT_BINS)
.PHONY: check-build

unit: check-build
	$(Q)tests/run-unit.sh $(UNIT_BINS)
integration: check-build
	$(Q)BUILD=$(BUILD) tests/integration/run.sh
test: check-build
	$(Q)tests/run-unit.sh $(UNIT_BINS) && BUILD=$(BUILD) tests/integration/run.sh
check: test
asan:
	$(Q)$(MAKE) --no-print-directory SANITIZE=address,undefined test
.PHONY: unit integration test check asan

# gcc's static analyzer over every source file; warnings are errors.
ANALYZE_SRCS = $(LIB_SRCS) $(STORE_SRCS) $(VASSAL_SRCS) $(EMPEROR_SRCS) $(CTL_SRCS) $(WEB_SRCS)
analyze:
	@mkdir -p $(BUILD)
	$(Q)for f in $(ANALYZE_SRCS); do \
		printf '  %-6s %s\n' ANALYZE $$f; \
		$(CC) -fanalyzer -Werror $(filter-out -MMD -MP,$(PROJECT_CFLAGS)) $(PKG_CFLAGS) $(STORE_INC) \
			-c -o $(BUILD)/analyze.o $$f || exit 1; \
	done
.PHONY: analyze

FUZZ_SECONDS ?= 10
fuzz: $(FUZZ_BINS)
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)
.PHONY: fuzz

DEBIAN_DEPS = build-essential pkg-config libsystemd-dev libcjson-dev libsqlite3-dev \
              libcmocka-dev python3-dev python3-flask python3-venv clang libclang-rt-14-dev \
              curl apache2-utils wrk nginx-light uwsgi uwsgi-plugin-python3 gunicorn procps \
              iproute2 binutils python3-prometheus-client python3-gevent \
              uwsgi-plugin-gevent-python3 systemd \
              debhelper dpkg-dev lintian libcrypt-dev whois chromium \
              $(NODE_DEPS)
# whois: mkpasswd (the dashboard's --http-auth hashes); nodejs, npm: uPlot and playwright-core
# from package-lock.json; chromium: the browser test's browser. A machine that has an npm
# already (a node of its own, whose package bundles npm and conflicts with Debian's) keeps it.
NODE_DEPS = $(if $(shell command -v npm 2>/dev/null),,nodejs npm)
deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
		--no-install-recommends $(DEBIAN_DEPS)
	npm ci --no-audit --no-fund
.PHONY: deps

run: $(PROGRAMS)
	mkdir -p run
	$(BUILD)/emperor --run-dir $(CURDIR)/run --state-dir $(CURDIR)/run/state conf.d
.PHONY: run

bench: $(PROGRAMS)
	bench/run.sh
.PHONY: bench

# The keep-alive load that times every response (bench/reload-paired.sh).
$(BUILD)/bench/timeline: bench/timeline.c
	@mkdir -p $(@D)
	$(call say,LINK,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

# The stats store's synthetic feeder (bench/store.sh).
$(BUILD)/bench/store-feed: bench/store-feed.c $(BUILD)/libstore.a $(BUILD)/libcommon.a
	@mkdir -p $(@D)
	$(call say,LINK,$@)$(CC) $(ALL_CFLAGS) $(STORE_INC) $(ALL_LDFLAGS) -o $@ $(filter %.c,$^) \
		$(filter %.o,$^) $(filter %.a,$^) $(PKG_LIBS) $(SQLITE_LIBS) -lm

# Installs the programs, man pages, the systemd unit (with this PREFIX's paths), the sysusers.d
# entry of the dashboard's user and an empty conf dir. DESTDIR stages it elsewhere; the staged
# emperor still finds its vassal (../bin/vassal beside its sbin/).
install: $(PROGRAMS)
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(CONFDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BUILD)/vassal $(BUILD)/emperorctl $(DESTDIR)$(BINDIR)/
	install -m 0755 $(BUILD)/emperor $(BUILD)/emperor-web $(DESTDIR)$(SBINDIR)/
	sed -e 's|/usr/sbin/emperor|$(SBINDIR)/emperor|' -e 's|/etc/apps\.d|$(CONFDIR)|' \
		systemd/emperor.service >$(DESTDIR)$(SYSTEMDUNITDIR)/emperor.service
	install -m 0644 systemd/emperor.sysusers $(DESTDIR)$(SYSUSERSDIR)/emperor.conf
	for m in man/*.[1-8]; do s=$${m##*.}; \
		install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/$${m##*/} || exit 1; done
# Leaves the conf dir and what is in it: those are the user's.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vassal $(DESTDIR)$(SBINDIR)/emperor $(DESTDIR)$(BINDIR)/emperorctl \
		$(DESTDIR)$(SBINDIR)/emperor-web
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/emperor.service $(DESTDIR)$(SYSUSERSDIR)/emperor.conf
	for m in man/*.[1-8]; do s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
.PHONY: install uninstall

# A Debian package (debian/, debhelper's dh) of the checkout as it is, in build/deb/.
deb:
	rm -rf build/deb && mkdir -p build/deb/src
	tar --exclude=./build --exclude=./.git --exclude=./run -cf - . | tar -xf - -C build/deb/src
	cd build/deb/src && dpkg-buildpackage -us -uc -b
	@ls build/deb/*.deb
.PHONY: deb

# The ini keys' reference, generated from the vassal's option table (vassal/optdoc.c):
# man/emperor-ini.5 and the README's "Coming from uWSGI" table. Run after adding a key;
# tests/integration/test-optdoc.sh fails while the committed ones differ.
man: $(BUILD)/vassal
	$(BUILD)/vassal --dump-options=man >man/emperor-ini.5.tmp && mv man/emperor-ini.5.tmp man/emperor-ini.5
	$(BUILD)/vassal --dump-options=readme >$(BUILD)/readme-table.md
	awk -v table=$(BUILD)/readme-table.md \
		'/^<!-- generated by `vassal --dump-options=readme`/ { while ((getline l <table) > 0) print l; skip = 1; next } \
		 skip && /^<!-- end of generated table -->/ { skip = 0; next } !skip' README.md >README.md.tmp && \
		mv README.md.tmp README.md
.PHONY: man

clean:
	rm -rf build
.PHONY: clean

-include $(shell find build -path build/deb -prune -o -name '*.d' -type f -print 2>/dev/null)
