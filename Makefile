# subsidy: build, test, demo, install. See README.md.
#   make            build/subsidy
#   make check      every test (unit + integration, then again under ASan+UBSan)
#   make demo       the whole nightly job on fixtures against a private PostgreSQL
#   make bench      benchmarks (scripts/bench), apart from the tests; BENCH_ARGS='--lines 10000000'
#   make property   the settlement property test on many random programmes (SEEDS=50)
#   make bench-settle  how a first night's settlement scales (scripts/bench-settle)
#   make bench-acts    how withdraw and the nights after it scale (scripts/bench-acts)
#   make fuzz       each fuzz target (fuzz/*.c) for FUZZ_SECONDS (scripts/fuzz); clang and libFuzzer
#   make install PREFIX=/usr/local

.DEFAULT_GOAL := all
PREFIX  ?= /usr/local
CC      ?= cc
PKGS    := glib-2.0 gio-2.0 libpq xlsxwriter
BASE_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror \
               -Wno-unused-parameter -g $(shell pkg-config --cflags $(PKGS))
OPT     ?= -O2
LIBS    := $(shell pkg-config --libs $(PKGS)) -lcsv -lm
TESTLIBS := $(shell pkg-config --libs criterion)
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRC      := $(sort $(wildcard src/*.c))
LIBSRC   := $(filter-out src/main.c,$(SRC))
UNIT     := $(sort $(wildcard tests/unit/*.c))
INTEG    := $(sort $(wildcard tests/integration/*.c))
HARNESS  := tests/harness.c
RESOURCES := $(sort $(wildcard sql/*.sql profiles/*.profile))
# Their names, rewritten only when the list changes: a file removed changes no file's time, and
# the embedded resources must lose it too.
RESOURCES_LIST := build/resources.list
$(shell mkdir -p build && l='$(RESOURCES)' && \
	{ [ "$$(cat $(RESOURCES_LIST) 2>/dev/null)" = "$$l" ] || printf '%s\n' "$$l" >$(RESOURCES_LIST); })

# Two build flavours share one set of rules: build/ (plain) and build/asan/ (sanitizers).
define flavour
$(1)/obj/%.o: src/%.c $$(wildcard src/*.h) | $(1)/obj
	@echo "  CC      $$@"
	@$$(CC) $$(BASE_CFLAGS) $(2) -Isrc -I$(1) -c $$< -o $$@
$(1)/obj/resources.o: $(1)/resources.c | $(1)/obj
	@echo "  CC      $$@"
	@$$(CC) $$(BASE_CFLAGS) $(2) -Wno-overlength-strings -c $$< -o $$@
$(1)/resources.c: $$(RESOURCES) $$(RESOURCES_LIST) scripts/resources | $(1)/obj
	@echo "  GEN     $$@"
	@scripts/resources $(1) $$(RESOURCES)
$(1)/libsubsidy.a: $$(patsubst src/%.c,$(1)/obj/%.o,$$(LIBSRC)) $(1)/obj/resources.o
	@echo "  AR      $$@"
	@rm -f $$@ && ar rcs $$@ $$^
$(1)/subsidy: $(1)/obj/main.o $(1)/libsubsidy.a
	@echo "  LINK    $$@"
	@$$(CC) $(2) -o $$@ $$^ $$(LIBS)
$(1)/test-unit: $$(UNIT) $(1)/libsubsidy.a $$(wildcard src/*.h tests/*.h)
	@echo "  LINK    $$@"
	@$$(CC) $$(BASE_CFLAGS) $(2) -Isrc -Itests -o $$@ $$(UNIT) $(1)/libsubsidy.a $$(LIBS) $$(TESTLIBS)
$(1)/test-integration: $$(INTEG) $$(HARNESS) $(1)/libsubsidy.a $$(wildcard src/*.h tests/*.h)
	@echo "  LINK    $$@"
	@$$(CC) $$(BASE_CFLAGS) $(2) -Isrc -Itests -o $$@ $$(INTEG) $$(HARNESS) $(1)/libsubsidy.a $$(LIBS) $$(TESTLIBS)
$(1)/obj:
	@mkdir -p $$@
endef

$(eval $(call flavour,build,$(OPT)))
$(eval $(call flavour,build/asan,-O1 $(SAN)))

# The fuzz flavour: the library built by clang with libFuzzer's coverage, ASan and UBSan, linked
# with one target per parser (fuzz/NAME.c -> build/fuzz/NAME). See fuzz/README.md.
FUZZ_CC   ?= clang
# clang warns of {0}-style initialisers that gcc accepts.
FUZZ_WARN := -Wno-missing-field-initializers
# Chunks of 4 KiB rather than 64 (manifest.h), so that inputs libFuzzer can grow cross them.
FUZZ_DEFS := -DMANIFEST_CHUNK_BYTES=4096
FUZZ_SAN  := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_SRC  := $(sort $(wildcard fuzz/*.c))
FUZZ_BINS := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_TARGETS ?= $(patsubst fuzz/%.c,%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60

build/fuzz/obj/%.o: src/%.c $(wildcard src/*.h) | build/fuzz/obj
	@echo "  CC      $@"
	@$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_WARN) $(FUZZ_DEFS) -O1 $(FUZZ_SAN) -Isrc -c $< -o $@
build/fuzz/obj/resources.o: build/fuzz/resources.c | build/fuzz/obj
	@echo "  CC      $@"
	@$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_WARN) -O1 -Wno-overlength-strings -c $< -o $@
build/fuzz/resources.c: $(RESOURCES) $(RESOURCES_LIST) scripts/resources | build/fuzz/obj
	@echo "  GEN     $@"
	@scripts/resources build/fuzz $(RESOURCES)
build/fuzz/libsubsidy.a: $(patsubst src/%.c,build/fuzz/obj/%.o,$(LIBSRC)) build/fuzz/obj/resources.o
	@echo "  AR      $@"
	@rm -f $@ && ar rcs $@ $^
$(FUZZ_BINS): build/fuzz/%: fuzz/%.c fuzz/fuzz.h build/fuzz/libsubsidy.a
	@echo "  LINK    $@"
	@$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_WARN) $(FUZZ_DEFS) -O1 $(subst fuzzer-no-link,fuzzer,$(FUZZ_SAN)) -Isrc -o $@ $< build/fuzz/libsubsidy.a $(LIBS)
build/fuzz/obj:
	@mkdir -p $@

.PHONY: all deps check test demo bench bench-settle bench-acts install clean asan property fuzz fuzz-build
all: build/subsidy

deps:
	scripts/deps

tests: build/subsidy build/test-unit build/test-integration
asan: build/asan/subsidy build/asan/test-unit build/asan/test-integration
fuzz-build: $(FUZZ_BINS)

fuzz: deps
	$(MAKE) fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz run $(FUZZ_TARGETS)

# The three flavours build in parallel unless the caller chose a -j of its own (on 2 cores,
# from clean: 1 min 21 s, against 2 min 7 s one file at a time).
NPROC   := $(shell nproc 2>/dev/null || echo 2)
PARALLEL = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC))

check: deps
	$(MAKE) $(PARALLEL) tests asan fuzz-build
	scripts/check

demo: deps
	$(MAKE) all
	scripts/demo

bench: deps
	$(MAKE) all build/bench-policy
	scripts/bench $(BENCH_ARGS)

SEEDS ?= 50
property: deps
	$(MAKE) tests
	scripts/property $(SEEDS)

bench-settle: deps
	$(MAKE) all
	scripts/bench-settle
	scripts/bench-settle --second-programme

bench-acts: deps
	$(MAKE) all
	scripts/bench-acts

build/bench-policy: scripts/bench-policy.c build/libsubsidy.a
	@echo "  LINK    $@"
	@$(CC) $(BASE_CFLAGS) $(OPT) -Isrc -o $@ $< build/libsubsidy.a $(LIBS)

install: build/subsidy
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/subsidy/profiles
	install -m 0755 build/subsidy $(DESTDIR)$(PREFIX)/bin/subsidy
	install -m 0644 man/subsidy.1 $(DESTDIR)$(PREFIX)/share/man/man1/subsidy.1
	install -m 0644 profiles/*.profile $(DESTDIR)$(PREFIX)/share/subsidy/profiles/

clean:
	rm -rf build
