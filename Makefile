# odvpn build: one command, GNU make.
#   make            release build into build/
#   make asan       ASan+UBSan build into build-asan/
#   make fuzz       libFuzzer targets (clang) into build-fuzz/
#   make test       everything above, then the whole test suite (tests/run.sh)
#
# Every .c under src/ except the three program mains goes into one static library;
# each program and each test links against it and pulls only what it uses.

MODE    ?= release
ifeq ($(MODE),asan)
BUILD   ?= build-asan
OPT      = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDOPT    = -fsanitize=address,undefined
else ifeq ($(MODE),fuzz)
BUILD   ?= build-fuzz
CC       = clang
OPT      = -O1 -g -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer -DODVPN_FUZZ
LDOPT    = -fsanitize=address,undefined
else
BUILD   ?= build
OPT      = -O2 -g
LDOPT    =
endif

CC      ?= gcc
PKGS     = openssl sqlite3 libevent libevent_openssl jansson libcurl libnl-route-3.0
WARN     = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla -Wimplicit-fallthrough -Wundef \
           -Wno-unused-parameter
CFLAGS  += -std=c17 -D_GNU_SOURCE -fno-strict-aliasing -pthread $(WARN) $(OPT) -Isrc \
           $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread
TESTLIBS = $(shell pkg-config --libs cmocka)

MAINS    = src/device/main.c src/center/main.c src/cli/main.c
LIBSRC   = $(filter-out $(MAINS),$(shell find src -name '*.c' | sort))
LIBOBJ   = $(LIBSRC:%.c=$(BUILD)/%.o)
PROGS    = $(BUILD)/odvpnd $(BUILD)/odvpn-center $(BUILD)/odvpn
TESTSRC  = $(shell find tests -name 'test_*.c' | sort)
TESTBIN  = $(TESTSRC:%.c=$(BUILD)/%)
FUZZSRC  = $(wildcard fuzz/fuzz_*.c)
FUZZBIN  = $(FUZZSRC:fuzz/%.c=$(BUILD)/fuzz/%)
TOOLSRC  = $(wildcard tests/tools/*.c)
TOOLBIN  = $(TOOLSRC:%.c=$(BUILD)/%)

.PHONY: all asan fuzz test check clean
ifeq ($(MODE),fuzz)
all: $(FUZZBIN)
else
all: $(PROGS) $(TESTBIN) $(TOOLBIN)
endif

asan:
	$(MAKE) MODE=asan all
fuzz:
	$(MAKE) MODE=fuzz all

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libodvpn.a: $(LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/odvpnd: $(BUILD)/src/device/main.o $(BUILD)/libodvpn.a
	$(CC) $(LDOPT) -pthread -o $@ $^ $(LDLIBS)
$(BUILD)/odvpn-center: $(BUILD)/src/center/main.o $(BUILD)/libodvpn.a
	$(CC) $(LDOPT) -pthread -o $@ $^ $(LDLIBS)
$(BUILD)/odvpn: $(BUILD)/src/cli/main.o $(BUILD)/libodvpn.a
	$(CC) $(LDOPT) -pthread -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libodvpn.a
	$(CC) $(LDOPT) -pthread -o $@ $^ $(LDLIBS) $(TESTLIBS)

$(BUILD)/fuzz/%: $(BUILD)/fuzz/%.o $(BUILD)/libodvpn.a
	$(CC) $(LDOPT) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# the whole suite: release + sanitizer builds, fuzzers, then every layer of tests
test check:
	$(MAKE) -j$$(nproc) all
	$(MAKE) -j$$(nproc) MODE=asan all
	$(MAKE) -j$$(nproc) MODE=fuzz all
	tests/run.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
