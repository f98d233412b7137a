# SPDX-License-Identifier: GPL-2.0
#
# netmem: `make test` (host + in-VM tests on the debug kernel) and `make run` (the main
# job: build, boot, bind a udmabuf through netlink, push traffic, benchmark, summary).
# Both install what they need (ci/deps.sh) and build the kernel into $(NETMEM_CACHE)
# (default /var/cache/netmem), outside the repo, so a second run is fast.
#
# Module sources are built by Kbuild (see ./Kbuild) against either kernel flavour:
#   make modules FLAVOUR=test|bench|race out/<flavour>/*.ko
#   make rust-analyzer                   rust-project.json for the kernel crates

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
FLAVOUR ?= test

.PHONY: all deps kernel modules cli host-test check test vm-selftest run bench objdump rust-analyzer clean

all: test

deps:
	@ci/deps.sh

kernel: deps
	@ci/kernel.sh $(FLAVOUR) >/dev/null

modules: deps
	@ci/modules.sh $(FLAVOUR) >/dev/null

cli: deps
	cargo build --release -q -p netmemctl

host-test: deps
	cargo test -q --workspace
	ci/ynl-gen.sh --check

# Style gates: rustfmt, clippy on the kernel crates (CLIPPY=1) and host crates, checkpatch.
check: deps
	ci/check.sh

test: deps
	@ci/test.sh

# Planted-defect check of the VM harness's splat matcher (one boot of the test kernel).
vm-selftest: deps
	@ci/vm-selftest.sh

run: deps
	@ci/run.sh

bench: deps
	@ci/bench.sh

# The page path's machine code, direct vs through netmem (docs/objdump-page-path.txt).
objdump: deps
	@ci/objdump.sh

rust-analyzer: deps
	@ci/rust-analyzer.sh $(FLAVOUR)

clean:
	rm -rf out target rust-project.json
