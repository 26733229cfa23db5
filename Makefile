# gx-backend build: one non-recursive Makefile.
# libgxcommon.a from common/src, one binary per daemon directory, protobuf-c code generated under the build dir.
#   make            release build            make SANITIZE=1   ASan+UBSan build (objects in build/asan)
#   make test       install deps, build both modes, run every test, print "N passed, N failed"
#   make up / down  local stack              make deps         install missing Debian packages
#   make format     clang-format in place    make format-check list files that are not formatted (make test runs it)
#   make docs-assets the /docs page's Swagger UI files (npm ci) in build/docs-assets; make up does it too

SHELL := /bin/bash
.DEFAULT_GOAL := all
MODE := $(if $(filter 1,$(SANITIZE)),asan,release)
BUILDROOT ?= build
B := $(BUILDROOT)/$(MODE)
GEN := $(BUILDROOT)/gen

CC ?= cc
WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition -Wshadow \
	-Wpointer-arith -Wformat=2 -Wundef -Wvla -fno-common
CPPFLAGS_ALL := -D_GNU_SOURCE -Icommon/include -I$(GEN) -I/usr/include/postgresql -MMD -MP
ifeq ($(MODE),asan)
  OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDSAN := -fsanitize=address,undefined
else
  OPT := -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
  LDSAN :=
endif
CFLAGS_ALL := -std=c11 $(WARN) $(OPT) $(CFLAGS)
# generated protobuf-c code is not ours to lint
GENFLAGS := -std=c11 -Wall -Wno-unused-parameter $(OPT)
LIBS := -levent -levent_pthreads -lpq -lhiredis -lcjson -lmbedtls -lmbedx509 -lmbedcrypto \
	-lprotobuf-c -lgrpc -lgpr -lcrypto -lcrypt -lcrack -lpthread -lm

DAEMONS := svc-identity svc-admin svc-tokenomics svc-organization svc-loanpool svc-governance svc-tax \
	outbox-submitter projector
TOOLS := gxctl gx-fabric-peer
# directory of each tool's sources
SRCDIR_gxctl := common/gxctl
SRCDIR_gx-fabric-peer := test/fabric-peer
$(foreach d,$(DAEMONS),$(eval SRCDIR_$(d) := $(d)))

# --- protobuf-c generation -------------------------------------------------------------------------
PROTOS := $(shell find common/proto -name '*.proto' 2>/dev/null | sort)
PROTO_REL := $(patsubst common/proto/%,%,$(PROTOS))
# well-known types our .proto files import (protobuf-c does not ship them)
TS_PROTO := google/protobuf/timestamp.proto google/protobuf/any.proto
GEN_C := $(patsubst %.proto,$(GEN)/%.pb-c.c,$(PROTO_REL)) $(if $(PROTOS),$(patsubst %.proto,$(GEN)/%.pb-c.c,$(TS_PROTO)))
GEN_H := $(GEN_C:.c=.h)
GEN_STAMP := $(GEN)/.stamp

$(GEN_STAMP): $(PROTOS)
	@mkdir -p $(GEN)
	@if [ -n "$(PROTOS)" ]; then \
	  protoc-c -Icommon/proto -I/usr/include --c_out=$(GEN) $(PROTO_REL) && \
	  protoc-c -I/usr/include --c_out=$(GEN) $(TS_PROTO); fi
	@touch $@
$(GEN_C) $(GEN_H): $(GEN_STAMP) ;

GEN_OBJ := $(patsubst $(GEN)/%.c,$(B)/gen/%.o,$(GEN_C))
$(B)/gen/%.o: $(GEN)/%.c $(GEN_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(GENFLAGS) -I$(GEN) -c $< -o $@

# --- common library --------------------------------------------------------------------------------
COMMON_SRC := $(sort $(wildcard common/src/*.c))
COMMON_OBJ := $(patsubst %.c,$(B)/%.o,$(COMMON_SRC))
LIB := $(B)/libgxcommon.a

$(B)/%.o: %.c $(GEN_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c $< -o $@

# --- SQL migrations, embedded in the library (common/sql/NNNN_*.sql -> $(GEN)/gx_migrations.c) ----------------
SQL_FILES := $(sort $(wildcard common/sql/[0-9][0-9][0-9][0-9]_*.sql))
$(GEN)/gx_migrations.c: $(SQL_FILES) common/sql/embed.sh common/sql
	@mkdir -p $(GEN)
	common/sql/embed.sh $(SQL_FILES) > $@.tmp && mv $@.tmp $@
MIGRATIONS_OBJ := $(B)/gen/gx_migrations.o
$(MIGRATIONS_OBJ): $(GEN)/gx_migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c $< -o $@

$(LIB): $(COMMON_OBJ) $(GEN_OBJ) $(MIGRATIONS_OBJ)
	@rm -f $@
	ar rcs $@ $^

# --- binaries --------------------------------------------------------------------------------------
# a binary whose directory has no sources yet is simply not built
HAVE_SRC = $(strip $(wildcard $(SRCDIR_$(1))/*.c))
BUILT := $(foreach d,$(DAEMONS) $(TOOLS),$(if $(call HAVE_SRC,$(d)),$(d)))
BINS := $(addprefix $(B)/bin/,$(BUILT))
# a daemon directory's openapi.json is embedded as gx_openapi_doc[] (see gx/api.h)
$(GEN)/openapi/%.c: %/openapi.json common/embed-file.sh
	@mkdir -p $(dir $@)
	common/embed-file.sh gx_openapi_doc $< > $@.tmp && mv $@.tmp $@
$(B)/gen/openapi/%.o: $(GEN)/openapi/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c $< -o $@

define bin_rule
$(1)_OBJ := $$(patsubst %.c,$(B)/%.o,$$(sort $$(wildcard $$(SRCDIR_$(1))/*.c))) \
	$$(if $$(wildcard $$(SRCDIR_$(1))/openapi.json),$(B)/gen/openapi/$(1).o)
$(B)/bin/$(1): $$($(1)_OBJ) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $(LDSAN) -o $$@ $$($(1)_OBJ) $(LIB) $(LIBS)
endef
$(foreach d,$(DAEMONS) $(TOOLS),$(eval $(call bin_rule,$(d))))

# --- unit tests and fuzz targets -------------------------------------------------------------------
UNIT_SRC := $(sort $(wildcard test/unit/test_*.c))
UNIT_BIN := $(patsubst test/unit/%.c,$(B)/test/%,$(UNIT_SRC))
$(B)/test/%: $(B)/test/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $< $(LIB) $(LIBS)

# --- integration-test drivers: C programs under test/integration/ run by the Python tests -------------
ITEST_SRC := $(sort $(wildcard test/integration/*.c))
ITEST_BIN := $(patsubst test/integration/%.c,$(B)/itest/%,$(ITEST_SRC))
$(B)/itest/%: $(B)/test/integration/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $< $(LIB) $(LIBS)

# --- libFuzzer targets: test/fuzz/fuzz_*.c -> $(BUILDROOT)/fuzz/fuzz_*, with the common sources and the generated
# protobuf code compiled by clang for fuzzing (make fuzz-bins; make fuzz runs each for FUZZ_SECONDS on a scratch copy
# of its seed corpus test/fuzz/corpus/<name without fuzz_>) ---------------------------------------------------
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FZ := $(BUILDROOT)/fuzz
FUZZ_CFLAGS := -std=c11 -Wall -Wno-unused-parameter -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_SRC := $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_BIN := $(patsubst test/fuzz/%.c,$(FZ)/%,$(FUZZ_SRC))
FUZZ_LIB := $(FZ)/libgxcommon.a
$(FZ)/obj/%.o: %.c $(GEN_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS_ALL) $(FUZZ_CFLAGS) -c $< -o $@
$(FZ)/gen/%.o: $(GEN)/%.c $(GEN_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS_ALL) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_LIB): $(patsubst %.c,$(FZ)/obj/%.o,$(COMMON_SRC)) $(patsubst $(GEN)/%.c,$(FZ)/gen/%.o,$(GEN_C) $(GEN)/gx_migrations.c)
	@rm -f $@
	ar rcs $@ $^
$(FZ)/fuzz_%: $(FZ)/obj/test/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_LIB) $(LIBS)

fuzz-bins: $(FUZZ_BIN)
fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$${f##*/fuzz_}; w=$$(mktemp -d); mkdir -p test/fuzz/corpus/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(FZ)/crash-$$n- \
	    $$w test/fuzz/corpus/$$n 2>&1 | tail -n 12; rc=$${PIPESTATUS[0]}; rm -rf $$w; \
	  [ $$rc -eq 0 ] || { echo "fuzz_$$n failed (exit $$rc); reproducer in $(FZ)/crash-$$n-*"; exit 1; }; done

.PHONY: all bins unit-bins fuzz-bins clean deps test test-unit test-integration up down bench fuzz reliability images docs-assets demo smoke format format-check
all: $(BINS) $(UNIT_BIN) $(ITEST_BIN)
bins: $(BINS)
unit-bins: $(UNIT_BIN)

deps:
	@test/lib/deps.sh

test:
	@test/run-all.sh

test-unit: all
	@test/lib/run-unit.sh $(B)/test

up:
	@test/lib/stack.sh up
down:
	@test/lib/stack.sh down
smoke:
	@test/smoke.sh
# narrated walk through the write flow with curl against the running make up stack
demo:
	@BUILDROOT=$(BUILDROOT) test/demo.sh
# benchmarks (not part of make test): release build, then test/bench/run.py -> bench/results/<date>.json,
# bench/REPORT.md, bench/plots/*.svg; BENCH_ARGS e.g. "--quick" or "--only http"
bench:
	@$(MAKE) --no-print-directory SANITIZE= BUILDROOT=$(BUILDROOT) bins $(BUILDROOT)/release/itest/projector_chain
	@GX_BIN_DIR=$(abspath $(BUILDROOT)/release/bin) /usr/bin/python3 test/bench/run.py $(BENCH_ARGS)
images:
	@k8s/images/build.sh
# the Swagger UI files of every API's /docs page (npm ci of common/docs-ui), where make up points DOCS_ASSETS
docs-assets:
	@common/docs-ui/install.sh $(BUILDROOT)/docs-assets
# reliability suite against the ASan binaries, long profile (make test runs the short one); rewrites
# docs/reliability-report.md. GX_REL_PROFILE=short make reliability runs the short one here.
GX_REL_PROFILE ?= long
reliability:
	@$(MAKE) --no-print-directory -j2 BUILDROOT=$(BUILDROOT) SANITIZE=1 all
	@test/conformance/ensure-deps.sh
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:disable_coredump=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  GX_REL_PROFILE=$(GX_REL_PROFILE) GX_REL_FILE_TIMEOUT=1800 GX_BIN_DIR=$(abspath $(BUILDROOT)/asan/bin) \
	  bash test/suites/reliability.sh
test-integration: all
	@GX_BIN_DIR=$(abspath $(B)/bin) /usr/bin/python3 test/lib/runtests.py $(TESTS)

# --- formatting (.clang-format): every C source and header of the project, tracked or new (not build/ or ignored) ----
CLANG_FORMAT ?= clang-format
FORMAT_SRC = $(shell { git ls-files --cached --others --exclude-standard -- '*.c' '*.h' 2>/dev/null || \
	find common svc-* outbox-submitter projector test bench -name node_modules -prune -o \
	  \( -name '*.c' -o -name '*.h' \) -print 2>/dev/null; } | while read -r f; do [ -f "$$f" ] && echo "$$f"; done | sort)
format:
	@$(CLANG_FORMAT) -i $(FORMAT_SRC)
# exits 1 listing the files `make format` would change
format-check:
	@bad=$$(for f in $(FORMAT_SRC); do $(CLANG_FORMAT) --dry-run -Werror "$$f" >/dev/null 2>&1 || echo "$$f"; done); \
	if [ -n "$$bad" ]; then echo "not formatted (run make format):"; printf '  %s\n' $$bad; exit 1; fi; \
	echo "format-check: $(words $(FORMAT_SRC)) files formatted"

clean:
	rm -rf $(BUILDROOT)

-include $(shell find $(BUILDROOT) -name '*.d' 2>/dev/null)
