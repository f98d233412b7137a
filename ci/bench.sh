#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`: netmem's microbenchmark (bench/), end to end.
#
#   ci/bench.sh [--smoke] [--kernel-flavour bench|test] [--loops N] [--rounds N]
#               [--dmabuf-mb N] [--tests MASK] [--bind-mb N] [--bind-rounds N]
#
# Builds (or reuses) the no-debug bench kernel and the modules, boots the kernel under QEMU
# TCG with `-icount shift=0,sleep=off` (one TSC tick per guest instruction, so every result
# is INSTRUCTIONS per operation, deterministic), runs bench/run-guest.sh in the guest, then
# writes into out/bench/: raw.txt (the module's output), results.tsv, summary.txt (ratios
# against the targets), chart.svg, kernel.config, cpu.txt, console.log.
# Then a bind-only pass over a --bind-mb udmabuf (1 GiB; 0: none), bound --bind-rounds
# times after a warm-up: netmem's own profile of each bind (time split, measured
# metadata) goes to raw-bind.txt and bind.txt (bench/bind_summary.py).
#
# --smoke: tiny loop counts; checks that every test ran and the output parses, never the
# timings. With --kernel-flavour test (or NMX_BENCH_FLAVOUR=test) it runs on the debug
# kernel, without icount. Results then go to out/bench-smoke/.
# NMX_KVM=1 (where KVM can boot a guest) reports TSC cycles instead of instructions.
# Then, unless NMX_BENCH_PERFRAME=0 (and not with --smoke, KVM or the test flavour),
# bench/vmxnet3-perframe.sh: vmxnet3's instructions per received frame, in-tree vs patched
# vs devmem, into out/bench/vmxnet3-perframe.txt (about 4 minutes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
export PATH=$HOME/.cargo/bin:$PATH

smoke=0 flavour=${NMX_BENCH_FLAVOUR:-bench} loops="" rounds="" mb="" tests=0x7f bind_mb="" bind_rounds=""
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) smoke=1; shift ;;
	--kernel-flavour) flavour=$2; shift 2 ;;
	--loops) loops=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--dmabuf-mb) mb=$2; shift 2 ;;
	--tests) tests=$2; shift 2 ;;
	--bind-mb) bind_mb=$2; shift 2 ;;
	--bind-rounds) bind_rounds=$2; shift 2 ;;
	*) echo "usage: ci/bench.sh [--smoke] [--kernel-flavour bench|test] [--loops N] [--rounds N] [--dmabuf-mb N] [--tests MASK] [--bind-mb N] [--bind-rounds N]" >&2; exit 2 ;;
	esac
done
if [ "$smoke" = 1 ]; then
	loops=${loops:-1000} rounds=${rounds:-3} mb=${mb:-16} bind_mb=${bind_mb:-64} bind_rounds=${bind_rounds:-1}
	out=$repo/out/bench-smoke
else
	loops=${loops:-1000000} rounds=${rounds:-11} mb=${mb:-64} bind_mb=${bind_mb:-1024} bind_rounds=${bind_rounds:-3}
	out=$repo/out/bench
fi
t0=$(date +%s)
step() { echo "== [bench $(( $(date +%s) - t0 ))s] $*" >&2; }

step "kernel ($flavour flavour)"
kdir=$(ci/kernel.sh "$flavour")
step "modules"
mods=$(ci/modules.sh "$flavour")
mkdir -p "$out"
rm -f "$out"/{raw.txt,raw-bind.txt,bind.txt,guest.txt,results.tsv,summary.txt,chart.svg}

vmargs=(--kernel "$kdir" --timeout "${NMX_BENCH_TIMEOUT:-1800}" --log "$out/console.log")
if [ "${NMX_KVM:-0}" = 1 ]; then
	unit=cycles/op
elif [ "$flavour" = bench ]; then
	vmargs+=(--bench)
	unit=insn/op
else
	# TCG without icount: the TSC follows the host clock through a translator; the numbers
	# only show that the tests ran.
	unit=tsc/op
fi

step "VM: loops=$loops rounds=$rounds dma-buf=${mb}MiB unit=$unit; bind pass: ${bind_mb}MiB x $bind_rounds"
mkdir -p "$out/vm"
NMX_VM_COPY=$out/vm ci/vm.sh "${vmargs[@]}" -- sh bench/run-guest.sh --mods "$mods" --out "$out" \
	--dmabuf-mb "$mb" --bind-mb "$bind_mb" --bind-rounds "$bind_rounds" \
	-- loops="$loops" rounds="$rounds" tests="$tests" unit="$unit"

cp "$kdir/.config" "$out/kernel.config"
{
	echo "host_cpu	$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "host_cpus	$(nproc)"
	echo "host_kernel	$(uname -r)"
	echo "qemu	$(qemu-system-x86_64 --version | head -n1)"
	if [ "${NMX_KVM:-0}" = 1 ]; then
		echo "guest_accel	kvm, -cpu host: the TSC counts cycles"
	elif [ "$flavour" = bench ]; then
		echo "guest_accel	TCG, -cpu max -icount shift=0,sleep=off: the TSC and ktime advance one tick per guest instruction; results are instructions per operation, not cycles (no cache misses, atomics cost as any instruction)"
	else
		echo "guest_accel	TCG, -cpu max, no icount: the TSC is not meaningful (smoke run)"
	fi
	cat "$out/guest.txt" 2>/dev/null || true
} > "$out/cpu.txt"

step "summary"
sargs=(--raw "$out/raw.txt" --out "$out" --cpu "$out/cpu.txt" --config "$out/kernel.config")
[ "$smoke" = 1 ] && sargs+=(--smoke)
python3 bench/summary.py "${sargs[@]}"
if [ "$bind_mb" -gt 0 ]; then
	step "bind pass summary"
	python3 bench/bind_summary.py --raw "$out/raw-bind.txt" --out "$out"
fi
if [ "${NMX_BENCH_PERFRAME:-1}" != 0 ] && [ "$smoke" = 0 ] && [ "$flavour" = bench ] &&
	[ "${NMX_KVM:-0}" != 1 ]; then
	step "vmxnet3 per-frame instructions (NMX_BENCH_PERFRAME=0 skips)"
	bench/vmxnet3-perframe.sh
fi
step "done: $out"
