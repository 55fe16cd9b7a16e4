# One binary (build/relayer), one static library of every module, one test binary per suite.
#   make            build build/relayer
#   make test       install missing Debian packages, build, run every Criterion suite
#   make asan       the same under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   make fuzz       libFuzzer targets for every decoder, bounded by FUZZ_SECONDS each
#   make bench      the benchmarks (`relayer bench NAME`)
#   make demo       the demo story

BUILD    ?= build
CC       ?= cc
LIBS     := libzmq libsodium lmdb libcurl libsecp256k1 nettle jansson inih gmp
CPPFLAGS += -I. -D_GNU_SOURCE -MMD -MP
OPT      ?= -O2 -g
CFLAGS   += $(OPT) -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla -fno-strict-aliasing \
            $(shell pkg-config --cflags $(LIBS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(LIBS) 2>/dev/null) -lpthread -lm
ifeq ($(FUZZ),1)
  CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
endif
ifeq ($(SAN),1)
  CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif

MODULES  := attest db collateral bridges/evm relayer
LIB_SRC  := $(filter-out relayer/main.c,$(wildcard $(addsuffix /*.c,$(MODULES))))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/librelayer.a
BIN      := $(BUILD)/relayer

TEST_SRC := $(wildcard tests/*_test.c tests/crash/*_test.c tests/integration/*_test.c)
TEST_BIN := $(TEST_SRC:%.c=$(BUILD)/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 20

.PHONY: all deps test asan fuzz bench demo clean
all: deps $(BIN)

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/relayer/main.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c tests/testutil.h tests/fixture.h $(LIB) $(BIN)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DRELAYER_BIN='"$(abspath $(BIN))"' $< $(LIB) $(LDFLAGS) \
	    $(LDLIBS) -lcriterion -o $@

test: deps
	@$(MAKE) --no-print-directory run-tests

asan: deps
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    RL_TEST_SCALE=asan $(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT='-O1 -g' run-tests

.PHONY: run-tests
run-tests: $(BIN) $(TEST_BIN)
	@tests/run.sh $(TEST_BIN)

fuzz: deps
	@$(MAKE) --no-print-directory $(BUILD)/fuzz-seeds
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT='-O1 -g' FUZZ=1 fuzz-bins
	@tests/fuzz/run.sh $(BUILD)/fuzz-seeds build-fuzz/fuzz $(FUZZ_SECONDS)

.PHONY: fuzz-bins
fuzz-bins: $(FUZZ_BIN)

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

$(BUILD)/fuzz-seeds: tests/fuzz/seeds.c tests/fuzz/fuzz.h $(LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

bench: all
	$(BIN) bench ingest
	$(BIN) bench replay
	$(BIN) bench bus
	$(BIN) bench margin

demo: all
	@scripts/demo.sh $(BIN)

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(BUILD)/obj/relayer/main.d $(TEST_BIN:=.d)
