#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Guest instructions per received frame in vmxnet3's NAPI poll: the in-tree driver vs the
# netmem-patched one (drivers/vmxnet3/patches) on an unbound queue, and the patched one
# with its queue bound to a udmabuf (devmem). One boot, the same frames to both drivers.
#
#   bench/vmxnet3-perframe.sh [--frames N] [--warmup N] [--window N] [--rate FPS]
#
# How (details in docs/vmxnet3.md, "Instructions per frame"):
# - bench kernel (no debug), QEMU TCG `-icount shift=0,sleep=off`, ONE vCPU: the TSC
#   advances once per guest instruction and never warps while the vCPU runs.
# - two vmxnet3 NICs on one QEMU hub, fed by a host process (bench/perframe/gen.py) through
#   QEMU's UDP socket backend: the generator is outside the guest, every frame reaches both
#   NICs. NIC A is bound to the in-tree vmxnet3.ko (the bench kernel's own build), NIC B to
#   the patched series built as vmxnet3_nmx.ko (`ci/drivers.sh --name`), by driver_override.
# - nmx_napitsc.ko (bench/perframe/) wraps each NIC's napi->poll and reads the TSC around
#   it: the instructions of every poll, and the frames it returned.
# - frames of ethertype 0x88b5, which no protocol handles: the stack drops each right after
#   the driver hands it up, inside the poll, so a poll's instructions are the driver's RX
#   work, the refill, GRO and the skb's free (back to the driver's allocator), and nothing
#   of the sender's.
# Results: out/bench/vmxnet3-perframe.txt; raw data (per-poll samples) in out/bench-perframe/.
# `make bench` runs it after the microbenchmark unless NMX_BENCH_PERFRAME=0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
export PATH=$HOME/.cargo/bin:$PATH

frames=${NMX_PF_FRAMES:-20000} warmup=${NMX_PF_WARMUP:-2000} window=${NMX_PF_WINDOW:-2000}
rate=${NMX_PF_RATE:-2000}
while [ $# -gt 0 ]; do
	case "$1" in
	--frames) frames=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--window) window=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	*) echo "usage: bench/vmxnet3-perframe.sh [--frames N] [--warmup N] [--window N] [--rate FPS]" >&2; exit 2 ;;
	esac
done
out=$repo/out/bench
work=$repo/out/bench-perframe
t0=$(date +%s)
step() { echo "== [perframe $(( $(date +%s) - t0 ))s] $*" >&2; }

step "kernel, modules, drivers"
kdir=$(ci/kernel.sh bench)
mods=$(ci/modules.sh bench)
intree=$kdir/drivers/net/vmxnet3/vmxnet3.ko
[ -f "$intree" ] || { echo "perframe: no in-tree $intree" >&2; exit 2; }
patched=$(ci/drivers.sh --kernel "$kdir" --name vmxnet3_nmx vmxnet3 bench)
mkdir -p "$work/mod" "$out"
cp bench/perframe/Kbuild bench/perframe/nmx_napitsc.c "$work/mod/"
make -s -C "$kdir" M="$work/mod" LLVM=1 -j"$(nproc)" modules
cargo build --release -q -p netmemctl

run=$work/run
rm -rf "$run"
mkdir -p "$run"
cp "$mods/netmem.ko" "$intree" "$patched" "$work/mod/nmx_napitsc.ko" "$run/"
echo pause >"$run/ctl"
read -r port sink < <(python3 -c '
import socket
s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
for x in s:
    x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
mac=52:54:00:6e:6d:21
python3 bench/perframe/gen.py --port "$port" --sink "$sink" --ctl "$run/ctl" --rate "$rate" \
	--dst-mac "$mac" >"$run/gen.json" &
gen=$!
trap 'kill $gen 2>/dev/null || true' EXIT

# Both NICs have the generator's destination MAC: each frame is unicast to both.
qargs="-netdev socket,id=pfgen,udp=127.0.0.1:$sink,localaddr=127.0.0.1:$port"
qargs+=" -netdev hubport,id=pfhg,hubid=9,netdev=pfgen"
qargs+=" -netdev hubport,id=pfa,hubid=9 -device vmxnet3,netdev=pfa,mac=$mac,addr=0x10"
qargs+=" -netdev hubport,id=pfb,hubid=9 -device vmxnet3,netdev=pfb,mac=$mac,addr=0x11"
step "VM: 1 vCPU, icount; $frames frames (+$warmup warm-up) per NIC and phase at $rate frames/s"
NMX_VM_QEMU_ARGS=$qargs ci/vm.sh --kernel "$kdir" --bench --smp 1 --timeout "${NMX_PF_TIMEOUT:-1500}" \
	--log "$run/console.log" -- env NMX_PF_FRAMES="$frames" NMX_PF_WARMUP="$warmup" \
	sh bench/perframe/guest.sh "$run"
echo stop >"$run/ctl"
wait "$gen" || true
trap - EXIT

step "summary"
python3 bench/perframe/analyze.py --dir "$run" --warmup "$warmup" --window "$window" \
	--target 1.005 --kernel "$kdir" >"$out/vmxnet3-perframe.txt"
cat "$out/vmxnet3-perframe.txt"
step "done: $out/vmxnet3-perframe.txt"
