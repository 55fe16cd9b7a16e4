# One binary (build/relayer), one static library of every module, one test binary per suite.
#   make            build build/relayer
#   make test       install missing Debian and npm packages, build, run every Criterion suite
#   make contracts  compile the Solidity contracts (solcjs) into build/contracts/NAME.json
#   make asan       the same under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   make fuzz       libFuzzer targets for every decoder, bounded by FUZZ_SECONDS each
#   make bench      the benchmarks (`relayer bench NAME`)
#   make demo       the demo story: two anvil chains and a whole cluster under `relayer up`

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

MODULES  := attest db collateral bridges/evm bridges/http relayer
LIB_SRC  := $(filter-out relayer/main.c,$(wildcard $(addsuffix /*.c,$(MODULES))))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/librelayer.a
BIN      := $(BUILD)/relayer

TEST_SRC := $(wildcard tests/*_test.c tests/crash/*_test.c tests/integration/*_test.c)
TEST_BIN := $(TEST_SRC:%.c=$(BUILD)/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 20

# Code only the tests link: the EVM harness (anvil nodes, the cast client) and the cluster harness
# (hub and node watchers as processes, the hub's ledger read back). They find node_modules, the
# compiled contracts and the relayer binary through these absolute paths.
TEST_SUPPORT_SRC := tests/evm_harness.c tests/cluster_harness.c
TEST_SUPPORT_OBJ := $(TEST_SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SUPPORT     := $(BUILD)/libtestsupport.a

# The npm toolchain (package-lock.json, installed by scripts/npm-deps.sh into node_modules) and the
# contracts it compiles. Contracts go to build/contracts whatever BUILD is: the asan build uses
# the same artifacts.
NPM_STAMP := node_modules/.rl-lock.sha256
CONTRACTS := build/contracts
SOL_SRC   := $(wildcard bridges/evm/contracts/*.sol)
SOL_NPM   := @chainlink/contracts/src/v0.8/tests/MockV3Aggregator.sol

.PHONY: all deps test asan fuzz bench demo clean contracts
all: deps $(BIN)

deps:
	@scripts/deps.sh
	@scripts/npm-deps.sh

contracts: $(CONTRACTS)/.stamp

$(CONTRACTS)/.stamp: $(SOL_SRC) scripts/evm/compile.mjs $(NPM_STAMP)
	node scripts/evm/compile.mjs --out $(CONTRACTS) $(SOL_SRC) $(SOL_NPM)
	@touch $@

# Only when node_modules is missing; `make deps` reinstalls when package-lock.json changes.
$(NPM_STAMP):
	scripts/npm-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/relayer/main.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(TEST_SUPPORT_OBJ): CPPFLAGS += -DRL_SOURCE_DIR='"$(abspath .)"' -DEVM_CONTRACTS_DIR='"$(abspath $(CONTRACTS))"' \
                                  -DRELAYER_BIN='"$(abspath $(BIN))"'

$(TEST_SUPPORT): $(TEST_SUPPORT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/%: tests/%.c tests/testutil.h tests/fixture.h $(TEST_SUPPORT) $(LIB) $(BIN)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DRELAYER_BIN='"$(abspath $(BIN))"' $< $(TEST_SUPPORT) $(LIB) $(LDFLAGS) \
	    $(LDLIBS) -lcriterion -o $@

test: deps
	@$(MAKE) --no-print-directory run-tests

# Every process the tests start (daemons, CLI runs, the suites) writes its sanitizer reports to
# build-asan/sanitizer/; run.sh fails the run when any is there (a daemon stopped by SIGTERM
# reports its leaks at exit, which no exit status the tests see would show).
SAN_LOGS := $(abspath build-asan/sanitizer)
asan: deps
	@rm -rf $(SAN_LOGS) && mkdir -p $(SAN_LOGS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(SAN_LOGS)/asan \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(SAN_LOGS)/ubsan \
	    LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 RL_SANITIZER_LOGS=$(SAN_LOGS) \
	    RL_TEST_SCALE=asan $(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT='-O1 -g' run-tests

.PHONY: run-tests
run-tests: $(BIN) $(TEST_BIN) contracts
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
	$(BIN) bench liquidation
	$(BIN) bench hostile

# The story on two anvil chains needs the binary, the compiled contracts and the npm toolchain.
demo: deps
	@$(MAKE) --no-print-directory $(BIN) contracts
	@scripts/demo.sh $(BIN)

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(BUILD)/obj/relayer/main.d $(TEST_SUPPORT_OBJ:.o=.d) $(TEST_BIN:=.d)
