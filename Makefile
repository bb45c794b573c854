# herdsim build.
#
#   make            build bin/herdsim
#   make deps       install the Debian packages (apt-get)
#   make test       build and run every cmocka test
#   make asan       the tests under AddressSanitizer and UBSan, with the
#                   run queue's cached least vruntime checked at each use
#   make tsan       the threaded tests under ThreadSanitizer
#   make bench      print engine and end-to-end figures
#   make probes     build the spinner, sleeper and ring probes (docs/validation.md)
#   make run        run the default scenario under every policy
#   make examples   build the example policies as shared objects
#   make install    install herdsim, policy.h and herdsim.pc under PREFIX
#
# BUILD selects the object directory, so several builds can coexist.

BUILD    ?= build
CC       ?= gcc
PREFIX   ?= /usr/local
VERSION  := 0.1.0
# The commit, with -dirty when the working tree differs from it.
REVISION := $(shell git describe --always --dirty --abbrev=7 --match=NONE 2>/dev/null || echo unknown)

PKGS     := sqlite3 libcsv inih
CFLAGS   ?= -O2 -g
override CFLAGS += -std=c17 -Wall -Wextra -Wshadow -Wno-unused-parameter -pthread \
            -D_GNU_SOURCE -Isim -Ipolicies -Itraces -Ianalysis -I$(BUILD) \
            -DHS_VERSION='"$(VERSION)"'
override LDLIBS += -lsqlite3 -lcsv -linih -lz -lm -ldl -pthread

LIB_SRC  := $(filter-out sim/main.c,$(wildcard sim/*.c policies/*.c traces/*.c analysis/*.c))
LIB_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC)) $(BUILD)/embedded_files.o
EMBED    := $(sort $(wildcard traces/scenarios/*.ini sim/profiles/*.ini analysis/*.sql analysis/*.gp))
TESTS    := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
TEST_LIB := $(filter-out tests/test_%.c,$(wildcard tests/*.c))
# Extra libraries of one test only: TEST_LDLIBS_test_NAME.
TEST_LDLIBS_test_replay := -ljansson

# Shared objects of policies built outside the library: the examples,
# and the test fixtures (broken policies, a wrong ABI version).
PLUGIN_CFLAGS := -std=c17 -Wall -Wextra -O2 -g -fPIC -shared
EXAMPLES := $(patsubst policies/examples/%.c,$(BUILD)/examples/%.so,$(wildcard policies/examples/*.c))
TEST_POLICIES := $(patsubst tests/policies/%.c,$(BUILD)/tests/policies/%.so,$(wildcard tests/policies/*.c))

# pkg-config file for out-of-tree policies; PREFIX is filled in at install.
define PC_TEMPLATE
prefix=$(PREFIX)
includedir=$${prefix}/include

Name: herdsim
Description: policy contract of herdsim, for building refill policies as shared objects
Version: $(VERSION)
Cflags: -I$${includedir}/herdsim
endef
export PC_TEMPLATE

export HS_TEST_FILTER

.PHONY: all deps test asan tsan bench probes run clean install examples

all: bin/herdsim

ifeq ($(BUILD),build)
bin/herdsim: $(BUILD)/herdsim
	@mkdir -p bin
	cp $< $@
else
bin/herdsim: $(BUILD)/herdsim
endif

$(BUILD)/herdsim: $(BUILD)/sim/main.o $(BUILD)/libherdsim.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/libherdsim.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c $(wildcard sim/*.h policies/*.h traces/*.h analysis/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -c -o $@ $<

# HS_REVISION for the objects that record it.  The header is rewritten
# only when the revision changes, so a commit rebuilds just those objects
# and a binary never records the revision of an older build.
$(BUILD)/revision.h: FORCE
	@mkdir -p $(BUILD)
	@printf '#define HS_REVISION "%s"\n' '$(REVISION)' > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(BUILD)/sim/main.o $(BUILD)/sim/record.o $(BUILD)/sim/sweep.o: $(BUILD)/revision.h

.PHONY: FORCE
FORCE:

$(BUILD)/embedded_files.c: $(EMBED) scripts/embed.sh
	@mkdir -p $(BUILD)
	scripts/embed.sh $(EMBED) > $@.tmp && mv $@.tmp $@

$(BUILD)/embedded_files.o: $(BUILD)/embedded_files.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(TEST_LIB) $(BUILD)/libherdsim.a $(BUILD)/herdsim
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -DHS_BIN='"$(abspath $(BUILD)/herdsim)"' \
	    -DHS_SRCDIR='"$(CURDIR)"' -o $@ $< $(TEST_LIB) $(BUILD)/libherdsim.a \
	    $(LDFLAGS) $(LDLIBS) $(TEST_LDLIBS_$*) -lcmocka

$(BUILD)/examples/%.so: policies/examples/%.c policies/policy.h
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -Ipolicies -o $@ $<

$(BUILD)/tests/policies/%.so: tests/policies/%.c tests/policies/broken.h policies/policy.h
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -Ipolicies -o $@ $<

examples: $(EXAMPLES)

# The tests load the fixtures and the examples from the build directory.
$(TESTS): $(TEST_POLICIES) $(EXAMPLES)

# test_probes runs the probes that sit beside herdsim.
$(BUILD)/tests/test_probes: $(BUILD)/probe_native $(BUILD)/probe_sim

deps:
	scripts/deps.sh

test: $(TESTS)
	@scripts/run-tests.sh $(TESTS)

asan:
	$(MAKE) BUILD=build-asan CFLAGS='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -DHS_CHECK_RUNQUEUE' \
	    LDFLAGS='-fsanitize=address,undefined' test

tsan:
	$(MAKE) BUILD=build-tsan CFLAGS='-O1 -g -fsanitize=thread' LDFLAGS='-fsanitize=thread' \
	    HS_TEST_FILTER=threaded test

$(BUILD)/bench: bench/bench.c $(BUILD)/libherdsim.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libherdsim.a $(LDFLAGS) $(LDLIBS)

bench: $(BUILD)/bench bin/herdsim
	$(BUILD)/bench

# The spinner, sleeper and ring probes, native and simulated (docs/validation.md).
$(BUILD)/probe_native: bench/probe_native.c bench/probe_args.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -pthread

$(BUILD)/probe_sim: bench/probe_sim.c bench/probe_args.h $(BUILD)/libherdsim.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isim -Ipolicies -o $@ $< $(BUILD)/libherdsim.a $(LDFLAGS) $(LDLIBS)

probes: $(BUILD)/probe_native $(BUILD)/probe_sim

run: $(BUILD)/herdsim bin/herdsim
	bin/herdsim run

install: $(BUILD)/herdsim
	install -D -m 755 $(BUILD)/herdsim $(DESTDIR)$(PREFIX)/bin/herdsim
	install -D -m 644 policies/policy.h $(DESTDIR)$(PREFIX)/include/herdsim/policy.h
	@mkdir -p $(DESTDIR)$(PREFIX)/lib/pkgconfig
	printf '%s\n' "$$PC_TEMPLATE" > $(DESTDIR)$(PREFIX)/lib/pkgconfig/herdsim.pc

clean:
	rm -rf build build-asan build-tsan bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
