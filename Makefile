# gx-backend build: one non-recursive Makefile.
# libgxcommon.a from common/src, one binary per daemon directory, protobuf-c code generated under the build dir.
#   make            release build            make SANITIZE=1   ASan+UBSan build (objects in build/asan)
#   make test       install deps, build both modes, run every test, print "N passed, N failed"
#   make up / down  local stack              make deps         install missing Debian packages

SHELL := /bin/bash
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
	-lprotobuf-c -lgrpc -lgpr -lcrypt -lpthread -lm

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

$(LIB): $(COMMON_OBJ) $(GEN_OBJ)
	@rm -f $@
	ar rcs $@ $^

# --- binaries --------------------------------------------------------------------------------------
BINS := $(addprefix $(B)/bin/,$(DAEMONS) $(TOOLS))
define bin_rule
$(1)_OBJ := $$(patsubst %.c,$(B)/%.o,$$(sort $$(wildcard $$(SRCDIR_$(1))/*.c)))
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

.PHONY: all bins unit-bins clean deps test test-unit test-integration up down bench fuzz reliability images demo smoke format
all: $(BINS) $(UNIT_BIN)
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

clean:
	rm -rf $(BUILDROOT)

-include $(shell find $(BUILDROOT) -name '*.d' 2>/dev/null)
