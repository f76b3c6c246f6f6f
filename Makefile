# Makefile: builds ember (build/ember), its tests, sanitizer build and guest images.
#   make            build/ember and build/ember-jailer
#   make test       every test (unit natively, unit under ASan+UBSan, KVM and lab tests)
#   make unit       unit tests only;  make asan: unit tests under ASan+UBSan
#   make guest      guest kernel, initramfs and root image into build/guest (and
#                   iperf3 for the network benchmark)
#   make demo       boot the default guest running `uname -a`
#   make bench      benchmarks (tables on stdout)
#   make deps       install the Debian packages everything needs

CC ?= gcc
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
	  -D_GNU_SOURCE -DEMBER_VERSION='"$(VERSION)"' -MMD -MP -I.
LDFLAGS ?=
# liblz4, liblzma, libzstd and zlib decompress a bzImage's kernel (kernel_decompress.c).
LDLIBS += -luring -lseccomp -ljansson -llz4 -llzma -lzstd -lz -pthread
# ember is linked statically: no dynamic loader work at start-up.
STATIC ?= -static

B := build
# Every include is written from the root (-I.); tests/layers checks that they
# point one way (see README's layout table).
VMM_SRC := $(sort $(shell find vmm virtio -name '*.c'))
VMM_LIB_SRC := $(filter-out vmm/main.c,$(VMM_SRC))
VMM_OBJ := $(VMM_SRC:%.c=$(B)/obj/%.o)
VMM_LIB_OBJ := $(VMM_LIB_SRC:%.c=$(B)/obj/%.o)
JAILER_SRC := $(wildcard jailer/*.c)
JAILER_OBJ := $(JAILER_SRC:%.c=$(B)/obj/%.o)
# What the unit tests link of the jailer: argument parsing, path planning and
# the config file's rewriting.
JAILER_LIB_SRC := jailer/args.c jailer/config.c
# What ember and the jailer share.
LIB_SRC := $(wildcard vmm/lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
JAILER_LIB_OBJ := $(JAILER_LIB_SRC:%.c=$(B)/obj/%.o)
ASAN_JAILER_LIB_OBJ := $(JAILER_LIB_SRC:%.c=$(B)/asan/%.o)
# Unit tests mirror the tree: tests/unit/vmm/core/test_mmio.c tests vmm/core/mmio.c.
UNIT_SRC := $(sort $(shell find tests/unit -name 'test_*.c'))
UNIT_NAMES := $(basename $(notdir $(UNIT_SRC)))
UNIT_BIN := $(UNIT_NAMES:%=$(B)/tests/%)
vpath test_%.c $(sort $(dir $(UNIT_SRC)))
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_LIB_OBJ := $(VMM_LIB_SRC:%.c=$(B)/asan/%.o)
ASAN_UNIT_BIN := $(UNIT_NAMES:%=$(B)/asan/tests/%)

.PHONY: all test unit asan kvm-tests lab-tests guest demo bench deps clean
all: $(B)/ember $(B)/ember-jailer $(B)/tests/ember-testhooks $(B)/tests/mkpayload $(B)/tests/nopvh $(B)/tests/vfio_probe $(B)/bench/runstat $(B)/bench/apistart $(B)/bench/blkbench \
	$(B)/bench/seccomp_cost $(B)/bench/kernel_load $(B)/tests/vcpu_state

$(B)/ember: $(VMM_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) $(STATIC) -o $@ $^ $(LDLIBS)

# The jailer builds paths from parts whose lengths it bounds where they come
# in (--chroot-base, the id, file names, mount points), so PATH_MAX buffers
# cannot overflow; gcc cannot see those bounds.
$(B)/obj/jailer/%.o $(B)/asan/jailer/%.o: CFLAGS += -Wno-format-truncation

# The jailer (static too: it copies itself nowhere, but runs anywhere; with
# jansson for ember's config file, as ember links it).
$(B)/ember-jailer: $(JAILER_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) $(STATIC) -o $@ $^ -ljansson

$(B)/obj/%.o: %.c | $(B)/layers.ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# ember with test hooks (-DEMBER_TEST_HOOKS, e.g. EMBER_TEST_FORBIDDEN=vcpu makes
# a vCPU thread make a forbidden system call): for the tests only.
TESTHOOKS_OBJ := $(VMM_SRC:%.c=$(B)/testhooks/%.o)
$(B)/tests/ember-testhooks: $(TESTHOOKS_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $(STATIC) -o $@ $^ $(LDLIBS)

$(B)/testhooks/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DEMBER_TEST_HOOKS -c -o $@ $<

$(B)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

# Unit tests: each tests/unit/.../test_X.c links against the VMM's objects.
$(B)/tests/test_%: test_%.c tests/unit/check.h $(VMM_LIB_OBJ) $(JAILER_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(VMM_LIB_OBJ) $(JAILER_LIB_OBJ) $(LDLIBS)

$(B)/asan/tests/test_%: test_%.c tests/unit/check.h $(ASAN_LIB_OBJ) $(ASAN_JAILER_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $< $(ASAN_LIB_OBJ) \
		$(ASAN_JAILER_LIB_OBJ) $(LDLIBS)

# Writes the tiny PVH payloads the KVM tests and the start-up benchmark boot.
$(B)/tests/mkpayload: tests/kvm/mkpayload.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

$(B)/bench/apistart: bench/apistart.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

$(B)/bench/runstat: bench/runstat.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

# What the seccomp filters add per system call (bench/seccomp.sh).
$(B)/bench/seccomp_cost: bench/seccomp_cost.c $(B)/obj/vmm/core/seccomp.o $(B)/obj/vmm/lib/util.o $(B)/obj/vmm/lib/reader.o $(B)/obj/vmm/lib/log.o \
		$(B)/obj/vmm/lib/sigsafe.o \
		$(B)/obj/virtio/blk/blk_seccomp.o $(B)/obj/virtio/net/net_seccomp.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter %.c %.o,$^) -lseccomp

# Loading a bzImage's kernel: unpacking, the kernel cache, the vmlinux file;
# and the initrd (bench/run; native, no KVM).
KERNEL_LOAD_OBJ := $(addprefix $(B)/obj/vmm/arch/x86/,kernel_cache.o kernel_image.o kernel_elf.o \
	kernel_bzimage.o kernel_decompress.o kernel_unpack.o initrd_unpack.o boot_info.o layout.o) \
	$(B)/obj/vmm/core/guest_mem.o $(B)/obj/vmm/core/mem_layout.o $(LIB_OBJ)
$(B)/bench/kernel_load: bench/kernel_load.c $(KERNEL_LOAD_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter %.c %.o,$^) -llz4 -llzma -lzstd -lz -pthread

# The guest side of the block benchmark (static: it runs in the guest).
$(B)/bench/blkbench: bench/blkbench.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -static -pthread -o $@ $<

# The vCPU state test (tests/kvm/vcpu_state.sh) makes VMs with ember's own
# code: linked with the VMM's objects, and again under ASan+UBSan.
$(B)/tests/vcpu_state: tests/tools/vcpu_state.c $(VMM_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(VMM_LIB_OBJ) $(LDLIBS)
$(B)/asan/tests/vcpu_state: tests/tools/vcpu_state.c $(ASAN_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $< $(ASAN_LIB_OBJ) $(LDLIBS)

# Test tools. vfio_probe runs in a jail in ember's place: static.
$(B)/tests/vfio_probe: tests/tools/vfio_probe.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -static -o $@ $<
$(B)/tests/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

# The layering rule: an include may only point down (tests/layers says the
# order); any other stops the build.
$(B)/layers.ok: tests/layers $(shell find vmm virtio jailer -name '*.[ch]')
	@mkdir -p $(B)
	@tests/layers
	@touch $@

unit: $(UNIT_BIN)
	@tests/run-unit $(UNIT_BIN)

asan: $(ASAN_UNIT_BIN) $(B)/asan/tests/vcpu_state
	@tests/run-unit $(ASAN_UNIT_BIN)

guest:
	rootfs/build.sh $(B)/guest
	rootfs/iperf3.sh $(B)/guest

test: all $(UNIT_BIN) $(ASAN_UNIT_BIN) $(B)/asan/tests/vcpu_state guest
	tests/run-all

demo: all guest
	tests/demo

bench: all guest
	bench/run

deps:
	tests/deps

clean:
	rm -rf $(B)

# Keep the sanitizer objects between runs.
.SECONDARY: $(ASAN_LIB_OBJ) $(ASAN_JAILER_LIB_OBJ)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# Fuzzers (libFuzzer, clang 14): each tests/fuzz/fuzz_X.c becomes build/fuzz/fuzz_X,
# linked with the VMM's objects built by clang with the same sanitizers.
#   make fuzz       build them
#   make fuzz-run   run each for FUZZ_SECONDS (default 60) from its seed corpus
#                   tests/fuzz/corpus/X (new inputs go to build/fuzz/corpus/X,
#                   crashes to build/fuzz/artifacts/X-*)
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# No -Werror here: clang warns about things gcc (the build compiler) accepts.
FUZZ_CFLAGS := -g -O1 -std=gnu11 -Wall -Wextra -Wno-missing-field-initializers \
	       -Wno-gnu-variable-sized-type-not-at-end \
	       -D_GNU_SOURCE -DEMBER_VERSION='"$(VERSION)"' -MMD -MP -I.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)
FUZZ_LIB_OBJ := $(VMM_LIB_SRC:%.c=$(B)/fuzz/obj/%.o)

.PHONY: fuzz fuzz-run
fuzz: $(FUZZ_BIN)

$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c -o $@ $<

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< \
		$(FUZZ_LIB_OBJ) $(LDLIBS)

fuzz-run: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do \
		n=$${f##*/fuzz_}; \
		mkdir -p $(B)/fuzz/corpus/$$n $(B)/fuzz/artifacts tests/fuzz/corpus/$$n; \
		echo "== $$f for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix=$(B)/fuzz/artifacts/$$n- \
			$(B)/fuzz/corpus/$$n tests/fuzz/corpus/$$n; \
	done

.SECONDARY: $(FUZZ_LIB_OBJ)
