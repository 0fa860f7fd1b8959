# kc - one static binary: store, control plane, node agent and client.
#
#   make            build ./kc (static, musl, stripped)
#   make run        build, then start `kc server --role=all` (DATA_DIR=/var/lib/kc)
#   make test       unit tests (ASan+UBSan, TSan pass), integration tests on the real ./kc,
#                   and a short run of every fuzzer
#   make fuzz       run each fuzzer for FUZZ_SECONDS (default 600)
#   make bench      benchmarks in tests/bench/ (see docs/benchmarks.md)
#   make format     apply .clang-format
#
# Tools that are missing are installed by contrib/install-tools.sh when running as root on
# Debian; third-party sources are fetched by contrib/fetch-deps.sh into build/deps.

BUILD      ?= build
DATA_DIR   ?= /var/lib/kc
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 10
V          ?= 0

ifeq ($(V),0)
Q := @
else
Q :=
endif

# CI builds with -Werror.
ifneq ($(CI),)
WERROR ?= 1
endif
WERROR ?= 0


# ---------------------------------------------------------------------------------------------
# kc's own sources (explicit lists; main.c is separate so tests can link everything else)

LIB_SRCS := lib/alloc.c lib/err.c lib/log.c lib/str.c lib/vec.c lib/map.c lib/clock.c lib/fs.c \
	lib/json.c lib/yaml.c lib/base64.c lib/crypto.c lib/x509.c lib/jwt.c lib/quantity.c \
	lib/promtext.c

NET_SRCS := net/addr.c net/loop.c net/transport.c net/tls.c net/http_parse.c \
	net/http_server.c net/http_client.c net/ws.c net/router.c net/netlink.c

STORE_SRCS := store/mvcc.c store/mvcc_read.c store/mvcc_cmd.c store/keyidx.c store/watch.c \
	store/raft/raft.c store/raft/raft_log.c store/raft/raft_progress.c store/raft/raft_conf.c \
	store/raft/raft_codec.c store/raft/raft_memstore.c store/raft_sqlite.c store/walckpt.c store/peer.c store/snapshot.c store/store.c \
	store/gateway.c store/gateway_store.c store/kv_local.c store/remote.c store/remote_json.c

API_SRCS := roles/apiserver/apiserver.c roles/apiserver/status.c roles/apiserver/registry.c \
	roles/apiserver/handlers.c roles/apiserver/gc.c roles/apiserver/schema.c roles/apiserver/nodeproxy.c roles/apiserver/nodecert.c \
	roles/apiserver/resmetrics.c \
	roles/apiserver/kinds.c roles/apiserver/patch.c roles/apiserver/selector.c \
	roles/apiserver/table.c roles/apiserver/discovery.c roles/apiserver/openapi.c \
	roles/apiserver/auth.c roles/apiserver/rbac.c roles/apiserver/rbac_bootstrap.c \
	roles/apiserver/protobuf.c \
	$(BUILD)/gen/schema_text.c

CLIENT_SRCS := roles/client/kubeconfig.c roles/client/rest.c roles/client/kprint.c \
	roles/client/kapply.c roles/client/kubectl.c roles/client/kexec.c

RUNTIME_SRCS := runtime/tar.c runtime/tar_input.c runtime/image_ref.c runtime/image_store.c \
	runtime/image_unpack.c runtime/image_import.c runtime/image_pull.c \
	runtime/cgroup.c runtime/cgroup_v1.c runtime/cgroup_v2.c runtime/devfilter.c runtime/seccomp.c \
	runtime/container.c runtime/container_spec.c runtime/shim.c \
	runtime/netns.c runtime/podnet.c

CONTROLLER_SRCS := roles/client/apiclient.c roles/client/informer.c roles/client/workqueue.c \
	roles/client/events.c roles/controllers/ctrl_util.c roles/controllers/ctrlmgr.c \
	roles/controllers/deployment.c roles/controllers/replicaset.c roles/controllers/endpoints.c \
	roles/controllers/serviceaccount.c roles/controllers/nodeipam.c \
	roles/controllers/nodelifecycle.c roles/scheduler/sched_filter.c roles/scheduler/scheduler.c

KUBELET_SRCS := roles/kubelet/kubelet.c roles/kubelet/node.c roles/kubelet/podsync.c \
	roles/kubelet/podutil.c roles/kubelet/crilog.c roles/kubelet/nodeapi.c roles/kubelet/join.c \
	roles/kubelet/staticpod.c

CLI_SRCS := roles/config.c roles/pki.c roles/server.c roles/storesrv.c roles/storectl.c \
	roles/imagectl.c roles/runtimectl.c

# EXTRA_SRCS: modules under construction, for private builds
# (make ASAN_DIR=build/asan-x EXTRA_SRCS="a.c b.c" build/asan-x/test_a).
EXTRA_SRCS ?=
KC_SRCS := $(LIB_SRCS) $(NET_SRCS) $(STORE_SRCS) $(API_SRCS) $(CLIENT_SRCS) $(RUNTIME_SRCS) \
	$(CONTROLLER_SRCS) $(KUBELET_SRCS) $(CLI_SRCS) $(EXTRA_SRCS)
MAIN_SRC := main.c

# ---------------------------------------------------------------------------------------------
# flags

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
	-Wformat=2 -Wvla -Wcast-qual -Wno-unused-parameter -Wno-format-nonliteral \
	-Wno-missing-field-initializers -Wno-format-truncation
ifeq ($(WERROR),1)
WARN += -Werror
endif

DEPS_DIR := $(BUILD)/deps
DSRC     := $(DEPS_DIR)/src

# Both toolchains must agree on these: they change mbedTLS struct layouts. HAVE_FDATASYNC: SQLite
# otherwise syncs with fsync(), which also flushes the mtime (a journal commit on ext4 at every
# Raft append); the WAL is overwritten in place, so fdatasync() is what durability needs.
DEP_DEFS := -DMBEDTLS_THREADING_C -DMBEDTLS_THREADING_PTHREAD -DCJSON_NESTING_LIMIT=512 \
	-DSQLITE_THREADSAFE=2 -DSQLITE_DQS=0 -DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_OMIT_LOAD_EXTENSION \
	-DSQLITE_OMIT_DEPRECATED -DSQLITE_OMIT_SHARED_CACHE -DSQLITE_LIKE_DOESNT_MATCH_BLOBS \
	-DSQLITE_USE_ALLOCA -DSQLITE_DEFAULT_FOREIGN_KEYS=0 -DHAVE_USLEEP=1 -DHAVE_FDATASYNC=1 \
	-DYAML_VERSION_STRING='"0.2.5"' -DYAML_VERSION_MAJOR=0 -DYAML_VERSION_MINOR=2 \
	-DYAML_VERSION_PATCH=5 -DYAML_DECLARE_STATIC -DMBEDTLS_GCM_ALT
DEP_INCS := -Inet/mbedtls_alt -I$(DSRC)/mbedtls/include -I$(DSRC)/cjson -I$(DSRC)/libyaml/include -I$(BUILD)/sqlite \
	-I$(DSRC)/zlib

KC_DEFS := -D_GNU_SOURCE
KC_CPPFLAGS := -I. -I$(BUILD)/gen $(DEP_INCS) $(DEP_DEFS)

# The static binary: musl. musl-gcc does not search /usr/include, so kernel UAPI headers come
# through a folder of symlinks.
MUSL_CC      := musl-gcc
MUSL_DIR     := $(BUILD)/musl
MUSL_INC     := $(MUSL_DIR)/include
MUSL_CFLAGS  := -std=c11 -O2 -g -fno-strict-aliasing -fstack-protector-strong -isystem $(MUSL_INC)
MUSL_LDFLAGS := -static -Wl,--gc-sections -Wl,-O1
ifneq ($(DEBUG),1)
MUSL_LDFLAGS += -s
endif

# Unit tests: glibc with AddressSanitizer + UBSan; a ThreadSanitizer pass for the threaded code.
HOST_CC      := gcc
ASAN_DIR     := $(BUILD)/asan
ASAN_CFLAGS  := -std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
TSAN_DIR     := $(BUILD)/tsan
TSAN_CFLAGS  := -std=c11 -O1 -g -fsanitize=thread
DEPHOST_DIR  := $(BUILD)/host
DEPHOST_CFLAGS := -O2 -g -fPIC

# Fuzzers: clang + libFuzzer.
FUZZ_CC      := clang
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_CFLAGS  := -std=c11 -O1 -g -fsanitize=fuzzer-no-link,address,undefined
# clang-only: after WARN, which is written for gcc (SQL text is split across string literals).
FUZZ_WARN    := -Wno-unknown-warning-option -Wno-string-concatenation

# ---------------------------------------------------------------------------------------------
# third-party libraries, compiled from the fetched upstream sources with our flags

MBEDTLS_SRCS = $(sort $(wildcard $(DSRC)/mbedtls/library/*.c))
# kc's AES-GCM replaces mbedTLS's gcm.c (MBEDTLS_GCM_ALT in DEP_DEFS): it is part of the library.
MBEDTLS_ALT_SRCS := net/aes_gcm.c
MBEDTLS_ALT_HDRS := net/mbedtls_alt/gcm_alt.h
YAML_SRCS    = $(sort $(wildcard $(DSRC)/libyaml/src/*.c))
CJSON_SRCS   = $(DSRC)/cjson/cJSON.c
SQLITE_SRC   = $(BUILD)/sqlite/sqlite3.c
# zlib without the gz* file API (kc only inflates and, in tests, deflates in memory).
ZLIB_SRCS    = $(addprefix $(DSRC)/zlib/,adler32.c crc32.c deflate.c infback.c inffast.c inflate.c \
	inftrees.c trees.c zutil.c)

DEPS_STAMP   := $(DSRC)/.fetched

.PHONY: all run test unit-test tsan-test integration-test fuzz fuzz-smoke bench format clean \
	distclean deps tools-build tools-test tools-fuzz tools-bench

all: kc

# Keep intermediate objects (test and fuzz objects are otherwise deleted after linking).
.SECONDARY:

tools-build:
	$(Q)sh contrib/install-tools.sh build
tools-test:
	$(Q)sh contrib/install-tools.sh test
tools-fuzz:
	$(Q)sh contrib/install-tools.sh fuzz
tools-bench:
	$(Q)sh contrib/install-tools.sh bench

$(DEPS_STAMP): contrib/fetch-deps.sh contrib/deps.sha256 | tools-build
	$(Q)sh contrib/fetch-deps.sh $(DEPS_DIR)
	$(Q)touch $@

deps: $(DEPS_STAMP)

# The SQLite amalgamation is generated once from the full source tree (needs tclsh).
$(SQLITE_SRC): $(DEPS_STAMP)
	@echo "  GEN     $@"
	$(Q)rm -rf $(BUILD)/sqlite-bld && mkdir -p $(BUILD)/sqlite-bld $(BUILD)/sqlite
	$(Q)cd $(BUILD)/sqlite-bld && $(abspath $(DSRC))/sqlite/configure --disable-tcl >/dev/null \
		&& $(MAKE) -s sqlite3.c >/dev/null
	$(Q)cp $(BUILD)/sqlite-bld/sqlite3.c $(BUILD)/sqlite-bld/sqlite3.h $(BUILD)/sqlite/

$(MUSL_INC)/.stamp:
	$(Q)mkdir -p $(MUSL_INC)
	$(Q)ln -sfn /usr/include/linux $(MUSL_INC)/linux
	$(Q)ln -sfn /usr/include/asm-generic $(MUSL_INC)/asm-generic
	$(Q)ln -sfn /usr/include/x86_64-linux-gnu/asm $(MUSL_INC)/asm
	$(Q)touch $@

# The dependencies' defines, rewritten only when they change: archives built with others rebuild.
DEP_DEFS_STAMP := $(BUILD)/gen/dep_defs
$(DEP_DEFS_STAMP): .FORCE
	$(Q)mkdir -p $(dir $@)
	$(Q)echo '$(subst ','"'"',$(DEP_DEFS))' >$@.tmp; if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

# dep_lib(dir, cc, cflags): archives for one toolchain
define dep_lib
$(1)/libmbedtls.a: $(DEPS_STAMP) $(DEP_DEFS_STAMP) $(MBEDTLS_ALT_SRCS) $(MBEDTLS_ALT_HDRS)
	@echo "  AR      $$@"
	$(Q)rm -rf $(1)/mbedtls-obj && mkdir -p $(1)/mbedtls-obj
	$(Q)cd $(1)/mbedtls-obj && for f in $$(abspath $$(MBEDTLS_SRCS) $$(MBEDTLS_ALT_SRCS)); do \
		$(2) $(3) -w -I$(abspath net/mbedtls_alt) -I$(abspath $(DSRC))/mbedtls/include \
		$(DEP_DEFS) -c $$$$f || exit 1; done
	$(Q)ar rcs $$@ $(1)/mbedtls-obj/*.o
$(1)/libyaml.a: $(DEPS_STAMP) $(DEP_DEFS_STAMP)
	@echo "  AR      $$@"
	$(Q)rm -rf $(1)/yaml-obj && mkdir -p $(1)/yaml-obj
	$(Q)cd $(1)/yaml-obj && for f in $$(abspath $$(YAML_SRCS)); do \
		$(2) $(3) -w -I$(abspath $(DSRC))/libyaml/include $(DEP_DEFS) -c $$$$f || exit 1; done
	$(Q)ar rcs $$@ $(1)/yaml-obj/*.o
$(1)/libcjson.a: $(DEPS_STAMP) $(DEP_DEFS_STAMP)
	@echo "  AR      $$@"
	$(Q)mkdir -p $(1)
	$(Q)$(2) $(3) -w $(DEP_DEFS) -c $$(CJSON_SRCS) -o $(1)/cJSON.o
	$(Q)ar rcs $$@ $(1)/cJSON.o
$(1)/libsqlite3.a: $(SQLITE_SRC) $(DEP_DEFS_STAMP)
	@echo "  AR      $$@"
	$(Q)mkdir -p $(1)
	$(Q)$(2) $(3) -w $(DEP_DEFS) -c $(SQLITE_SRC) -o $(1)/sqlite3.o
	$(Q)ar rcs $$@ $(1)/sqlite3.o
$(1)/libz.a: $(DEPS_STAMP)
	@echo "  AR      $$@"
	$(Q)rm -rf $(1)/zlib-obj && mkdir -p $(1)/zlib-obj
	$(Q)cd $(1)/zlib-obj && for f in $$(abspath $$(ZLIB_SRCS)); do \
		$(2) $(3) -w -DHAVE_HIDDEN -c $$$$f || exit 1; done
	$(Q)ar rcs $$@ $(1)/zlib-obj/*.o
endef

MUSL_DEPS := $(MUSL_DIR)/libmbedtls.a $(MUSL_DIR)/libyaml.a $(MUSL_DIR)/libcjson.a \
	$(MUSL_DIR)/libsqlite3.a $(MUSL_DIR)/libz.a
HOST_DEPS := $(DEPHOST_DIR)/libmbedtls.a $(DEPHOST_DIR)/libyaml.a $(DEPHOST_DIR)/libcjson.a \
	$(DEPHOST_DIR)/libsqlite3.a $(DEPHOST_DIR)/libz.a

$(eval $(call dep_lib,$(MUSL_DIR),$(MUSL_CC),-O2 -fno-strict-aliasing -isystem $(abspath $(MUSL_INC))))
$(eval $(call dep_lib,$(DEPHOST_DIR),$(HOST_CC),$(DEPHOST_CFLAGS)))
$(MUSL_DEPS): | $(MUSL_INC)/.stamp

# Header prerequisites come from -MMD; dep headers exist once the sources are fetched.
DEP_HEADERS := $(DEPS_STAMP) $(SQLITE_SRC) $(BUILD)/gen/kc_version.h

# ---------------------------------------------------------------------------------------------
# kc

MUSL_OBJS := $(patsubst %.c,$(MUSL_DIR)/obj/%.o,$(KC_SRCS) $(MAIN_SRC))

$(MUSL_DIR)/obj/%.o: %.c | $(DEP_HEADERS) $(MUSL_INC)/.stamp tools-build
	@echo "  CC      $<"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(MUSL_CC) $(MUSL_CFLAGS) $(WARN) $(KC_DEFS) $(KC_CPPFLAGS) -MMD -MP -c $< -o $@

kc: $(MUSL_OBJS) $(MUSL_DEPS)
	@echo "  LD      $@"
	$(Q)$(MUSL_CC) $(MUSL_LDFLAGS) -o $@ $(MUSL_OBJS) $(MUSL_DEPS) -lpthread

# The schema text (roles/apiserver/types/*.kcs, in sorted order, each preceded by a "#file <name>"
# line so that parse errors name the file) as one C string for roles/apiserver/schema.c. Rewritten
# only when it changes; '?' is escaped so that no trigraph can form.
$(BUILD)/gen/schema_text.c: .FORCE
	$(Q)mkdir -p $(dir $@)
	$(Q){ echo '/* generated by the Makefile from roles/apiserver/types/ (the .kcs files): do not edit */'; \
	echo 'extern const char kc_schema_text[];'; echo 'const char kc_schema_text[] ='; \
	LC_ALL=C awk 'FNR == 1 { n = FILENAME; sub(/.*\//, "", n); print "\"#file " n "\\n\"" } \
		{ sub(/\r$$/, ""); gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\?/, "\\?"); \
		  print "\"" $$0 "\\n\"" }' $(sort $(wildcard roles/apiserver/types/*.kcs)) /dev/null; \
	echo '"";'; } >$@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

# Build info for `kc version`: rewritten only when the version or the commit changes, so an
# unchanged tree rebuilds nothing. The date is the commit's, which keeps builds reproducible.
$(BUILD)/gen/kc_version.h: .FORCE
	$(Q)mkdir -p $(dir $@)
	$(Q)v=$$(cat VERSION); c=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
	d=$$(git log -1 --format=%cI 2>/dev/null || echo unknown); \
	git diff --quiet HEAD -- 2>/dev/null || c="$$c-dirty"; \
	printf '#define KC_VERSION "%s"\n#define KC_GIT_COMMIT "%s"\n#define KC_BUILD_DATE "%s"\n' \
		"$$v" "$$c" "$$d" >$@.tmp; \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
.PHONY: .FORCE
.FORCE:

run: kc
	./kc server --role=all --data-dir $(DATA_DIR)

# ---------------------------------------------------------------------------------------------
# tests

ASAN_OBJS := $(patsubst %.c,$(ASAN_DIR)/obj/%.o,$(KC_SRCS))
TSAN_OBJS := $(patsubst %.c,$(TSAN_DIR)/obj/%.o,$(KC_SRCS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(ASAN_DIR)/%,$(UNIT_SRCS))
# Modules with threads also run under ThreadSanitizer.
TSAN_TESTS := test_loop test_http_server test_http_client test_tls test_crypto test_mvcc test_keyidx test_store test_walckpt \
	test_schema test_openapi test_handlers
TSAN_BINS := $(patsubst %,$(TSAN_DIR)/%,$(filter $(TSAN_TESTS),$(basename $(notdir $(UNIT_SRCS)))))
TEST_LIBS := $(HOST_DEPS) -lcmocka -lpthread -lm
TESTLIB_SRCS := $(sort $(wildcard tests/lib/*.c))

$(ASAN_DIR)/obj/%.o: %.c | $(DEP_HEADERS) tools-test
	@echo "  CC      $< (asan)"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOST_CC) $(ASAN_CFLAGS) $(WARN) $(KC_DEFS) $(KC_CPPFLAGS) -MMD -MP -c $< -o $@

$(TSAN_DIR)/obj/%.o: %.c | $(DEP_HEADERS) tools-test
	@echo "  CC      $< (tsan)"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(HOST_CC) $(TSAN_CFLAGS) $(WARN) $(KC_DEFS) $(KC_CPPFLAGS) -MMD -MP -c $< -o $@

$(ASAN_DIR)/libkc.a: $(ASAN_OBJS) $(patsubst %.c,$(ASAN_DIR)/obj/%.o,$(TESTLIB_SRCS))
	$(Q)rm -f $@ && ar rcs $@ $^
$(TSAN_DIR)/libkc.a: $(TSAN_OBJS) $(patsubst %.c,$(TSAN_DIR)/obj/%.o,$(TESTLIB_SRCS))
	$(Q)rm -f $@ && ar rcs $@ $^

$(ASAN_DIR)/test_%: $(ASAN_DIR)/obj/tests/unit/test_%.o $(ASAN_DIR)/libkc.a $(HOST_DEPS)
	$(Q)$(HOST_CC) $(ASAN_CFLAGS) -o $@ $< $(ASAN_DIR)/libkc.a $(TEST_LIBS)
$(TSAN_DIR)/test_%: $(TSAN_DIR)/obj/tests/unit/test_%.o $(TSAN_DIR)/libkc.a $(HOST_DEPS)
	$(Q)$(HOST_CC) $(TSAN_CFLAGS) -o $@ $< $(TSAN_DIR)/libkc.a $(TEST_LIBS)

unit-test: $(UNIT_BINS)
	$(Q)sh tests/run-unit.sh $(UNIT_BINS)

tsan-test: $(TSAN_BINS)
	$(Q)sh tests/run-unit.sh $(TSAN_BINS)

integration-test: kc
	$(Q)sh tests/integration/run.sh

# `make test` runs every layer and ends with one "N passed, N failed" line for all of them.
test: kc $(UNIT_BINS) $(TSAN_BINS) fuzz-build | tools-test
	$(Q)KC_FUZZ_DIR=$(FUZZ_DIR) FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) \
		sh tests/run-all.sh "$(UNIT_BINS)" "$(TSAN_BINS)"

# ---------------------------------------------------------------------------------------------
# fuzzing

FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(FUZZ_SRCS))
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(KC_SRCS))

$(FUZZ_DIR)/obj/%.o: %.c | $(DEP_HEADERS) tools-fuzz
	@echo "  CC      $< (fuzz)"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN) $(FUZZ_WARN) $(KC_DEFS) $(KC_CPPFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_DIR)/libkc.a: $(FUZZ_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_DIR)/libkc.a $(HOST_DEPS)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_DIR)/libkc.a $(HOST_DEPS) -lpthread -lm

.PHONY: fuzz-build
fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	$(Q)KC_FUZZ_DIR=$(FUZZ_DIR) sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(notdir $(FUZZ_BINS))

fuzz-smoke: $(FUZZ_BINS)
	$(Q)KC_FUZZ_DIR=$(FUZZ_DIR) sh tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(notdir $(FUZZ_BINS))

# ---------------------------------------------------------------------------------------------

# Benchmark programs are built exactly like kc (musl, -O2, static).
BENCH_BINS := build/bench/httpd_bench build/bench/kvload build/bench/apiload build/bench/gcmspeed
build/bench/%: tests/bench/%.c $(patsubst %.c,$(MUSL_DIR)/obj/%.o,$(KC_SRCS)) $(MUSL_DEPS) | $(DEP_HEADERS)
	@echo "  LD      $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(MUSL_CC) $(MUSL_CFLAGS) $(WARN) $(KC_DEFS) $(KC_CPPFLAGS) $(MUSL_LDFLAGS) -o $@ $< \
		$(patsubst %.c,$(MUSL_DIR)/obj/%.o,$(KC_SRCS)) $(MUSL_DEPS) -lpthread

# Fault-test programs (tests/fault/: faultload and its linearizability checker), built like the
# benchmarks; tests/integration/t_store_fault.sh asks for build/fault/faultload.
build/fault/%: tests/fault/%.c tests/fault/linearize.c tests/fault/linearize.h \
		$(patsubst %.c,$(MUSL_DIR)/obj/%.o,$(LIB_SRCS) $(NET_SRCS)) $(MUSL_DEPS) | $(DEP_HEADERS)
	@echo "  LD      $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(MUSL_CC) $(MUSL_CFLAGS) $(WARN) $(KC_DEFS) $(KC_CPPFLAGS) $(MUSL_LDFLAGS) -o $@ $< \
		$(filter-out $<,tests/fault/linearize.c) \
		$(patsubst %.c,$(MUSL_DIR)/obj/%.o,$(LIB_SRCS) $(NET_SRCS)) $(MUSL_DEPS) -lpthread

bench: kc $(BENCH_BINS) | tools-bench
	$(Q)sh tests/bench/run.sh

format:
	clang-format -i $(filter-out $(BUILD)/gen/%,$(KC_SRCS)) $(MAIN_SRC) $(wildcard lib/*.h net/*.h roles/*/*.h) \
		$(UNIT_SRCS) $(FUZZ_SRCS)

clean:
	rm -rf kc $(MUSL_DIR)/obj $(ASAN_DIR) $(TSAN_DIR) $(FUZZ_DIR)

distclean:
	rm -rf kc $(BUILD)

-include $(shell find $(BUILD) -path '*/obj/*' -name '*.d' -type f 2>/dev/null)
