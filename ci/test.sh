#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make test`: host tests, generated-code check, module build, then the in-VM suite on the
# debug (KASAN, lockdep, kmemleak, DMA-API debug, PREEMPT, fault injection) kernel, then its
# concurrency subset on the race kernel (KCSAN, PREEMPT, lockdep; KCSAN excludes KASAN, so
# it is a second kernel). Fails on any failure or splat.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
export PATH=$HOME/.cargo/bin:$PATH
t0=$(date +%s)
step() { echo "== [$(( $(date +%s) - t0 ))s] $*" >&2; }

step "kernel (test flavour)"
kdir=$(ci/kernel.sh test)
step "host: cargo test"
cargo test -q --workspace 2>&1 | grep -vE '^(running|$)' | grep -E 'test result|FAILED|panicked|error' || true
cargo test -q --workspace >/dev/null
step "host: loom model of the return ring"
RUSTFLAGS="--cfg loom" cargo test -q --release -p devmem-core --test loom_ring --target-dir target/loom >/dev/null
step "netlink: generated code matches the spec"
ci/ynl-gen.sh --check
step "style: rustfmt, clippy (CLIPPY=1), checkpatch"
ci/check.sh
step "modules"
ci/modules.sh test >/dev/null
step "cli"
cargo build --release -q -p netmemctl -p nlfuzz
step "kernel (race flavour)"
rkdir=$(ci/kernel.sh race)
step "modules (race)"
ci/modules.sh race >/dev/null
step "drivers: audit of the patched RX paths (and the audit's own planted failure)"
ci/driver-audit.sh >/dev/null
ci/driver-audit.sh --selftest >/dev/null
step "drivers: patched vmxnet3, gve, mlx5 (cached on the series and netmem's headers)"
vmx_ko=$(ci/drivers.sh --kernel "$kdir" vmxnet3 test)
# shellcheck disable=SC2207
drv_kos=($(ci/drivers-mlx5-gve.sh --kernel "$kdir" all test))

# The VMs are single-threaded TCG, one host CPU each: two lanes run side by side, each
# with its console in out/logs/lane-*.out, printed when the lane is done.
mkdir -p out/logs
rm -rf out/bench-smoke

# Lane 1: the whole in-VM suite on the debug kernel.
lane_debug() {
	ci/vm.sh --kernel "$kdir" --timeout "${NMX_VM_TIMEOUT:-1500}" --log out/logs/test-console.log \
		-- tests/vm/run.sh out/test
}

# Lane 2: the concurrency subset on the race kernel (only KCSAN reports with a netmem
# frame fail the run, rule in ci/vm.sh: the race kernel also reports benign core races),
# then the patched drivers on the debug kernel.
lane_race_drivers() {
	echo "== VM race suite (KCSAN): module load, KTAP suite, tests/vm/race-*.sh"
	ci/vm.sh --kernel "$rkdir" --kcsan-scope netmem --timeout "${NMX_VM_TIMEOUT:-1500}" \
		--log out/logs/race-console.log -- env NMX_SUITE=race tests/vm/run.sh out/race || return
	echo "== VM: patched gve and mlx5_core load, import netmem's API, unload clean"
	ci/vm.sh --kernel "$kdir" --timeout "${NMX_VM_TIMEOUT:-900}" \
		--log out/logs/drivers-load-console.log \
		-- sh tests/vm/drivers-load.sh out/test "${drv_kos[@]}" --dep "$kdir/lib/dim/dimlib.ko" ||
		return
	echo "== VM: patched vmxnet3 end to end with device DMA ($vmx_ko)"
	tests/vm/vmxnet3.sh run --kernel "$kdir" || return
	echo "== VM: teardown-order matrix on the patched vmxnet3 (cover3)"
	tests/vm/vmxnet3-teardown.sh cover3
}

step "VM lanes: [debug suite] || [race suite, drivers load, vmxnet3 end to end and teardown matrix]"
lane_debug >out/logs/lane-debug.out 2>&1 &
pid_debug=$!
lane_race_drivers >out/logs/lane-race-drivers.out 2>&1 &
pid_race=$!
rc_debug=0 rc_race=0
wait "$pid_debug" || rc_debug=$?
step "lane debug suite done (rc $rc_debug)"
cat out/logs/lane-debug.out
wait "$pid_race" || rc_race=$?
step "lane race + drivers done (rc $rc_race)"
cat out/logs/lane-race-drivers.out
[ "$rc_debug" = 0 ] && [ "$rc_race" = 0 ] || { step "FAILED"; exit 1; }
step "benchmark smoke output parses"
python3 bench/summary.py --raw out/bench-smoke/raw.txt --out out/bench-smoke --smoke \
	--config "$kdir/.config" >/dev/null
step "all passed"
