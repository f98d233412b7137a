#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the benchmark VM (ci/bench.sh boots it through ci/vm.sh):
#
#   sh bench/run-guest.sh --mods DIR --out DIR [--dmabuf-mb N] [--bind-mb N --bind-rounds N]
#                         -- [nmx_bench params...]
#
# Loads netmem.ko and nmx_bench.ko (params passed through), creates a udmabuf of N MiB
# (0: no devmem tests) from a sealed memfd, writes its fd to nmx_bench's debugfs "run"
# file from a task pinned to CPU 0 (the write returns when the whole run is over), and
# stores the output in DIR/raw.txt (the repo is shared read-write at the same path) and
# in the VM's run directory ($NMX_RUN, /run/nmx). With --bind-mb, a second run binds and
# unbinds a udmabuf of that size --bind-rounds times (+1 warm-up) and nothing else
# (tests=64): the bind time split and metadata at full scale, in DIR/raw-bind.txt.
# Unloads both modules at the end, so a leak or a stuck binding fails the run.
set -eu

mods="" out="" mb=64 bind_mb=0 bind_rounds=3
while [ $# -gt 0 ]; do
	case "$1" in
	--mods) mods=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--dmabuf-mb) mb=$2; shift 2 ;;
	--bind-mb) bind_mb=$2; shift 2 ;;
	--bind-rounds) bind_rounds=$2; shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
[ -n "$mods" ] && [ -n "$out" ] || { echo "usage: run-guest.sh --mods DIR --out DIR [--dmabuf-mb N] -- [params]" >&2; exit 2; }
run=${NMX_RUN:-/run/nmx}
mkdir -p "$out" "$run"
rm -f "$out/raw.txt" "$out/raw-bind.txt"

{
	echo "guest_kernel	$(uname -r)"
	echo "guest_cmdline	$(cat /proc/cmdline)"
	echo "guest_cpu	$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "guest_cpus	$(grep -c ^processor /proc/cpuinfo)"
	echo "guest_tsc_flags	$(grep -m1 ^flags /proc/cpuinfo | tr ' ' '\n' | grep -E '^(rdtscp|constant_tsc|nonstop_tsc|tsc_known_freq|hypervisor)$' | tr '\n' ' ')"
	echo "guest_clocksource	$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	for v in /sys/devices/system/cpu/vulnerabilities/*; do
		[ -f "$v" ] && echo "guest_vuln_${v##*/}	$(cat "$v")"
	done
} > "$out/guest.txt"

insmod "$mods/netmem.ko"
insmod "$mods/bench/nmx_bench.ko" "$@"

# run_bench MiB RAW: one run of the loaded module over a fresh udmabuf of MiB (0: none).
run_bench() {
python3 - "$1" "$2" <<'EOF'
import fcntl
import os
import struct
import sys

F_ADD_SEALS = 1033
F_SEAL_SHRINK = 2
UDMABUF_CREATE = 0x40187542  # _IOW('u', 0x42, struct udmabuf_create)
UDMABUF_FLAGS_CLOEXEC = 1

mb, raw = int(sys.argv[1]), sys.argv[2]
os.sched_setaffinity(0, {0})
fd = -1
if mb > 0:
    size = mb << 20
    memfd = os.memfd_create("nmx_bench", os.MFD_ALLOW_SEALING)
    os.ftruncate(memfd, size)
    fcntl.fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK)
    dev = os.open("/dev/udmabuf", os.O_RDWR)
    arg = bytearray(struct.pack("IIQQ", memfd, UDMABUF_FLAGS_CLOEXEC, 0, size))
    fd = fcntl.ioctl(dev, UDMABUF_CREATE, arg, True)
    os.close(dev)
    os.close(memfd)
    print(f"run-guest: udmabuf of {mb} MiB is fd {fd}", flush=True)

err = None
trigger = os.open("/sys/kernel/debug/nmx_bench/run", os.O_WRONLY)
try:
    os.write(trigger, str(fd).encode())
except OSError as e:
    err = e
os.close(trigger)
with open("/sys/kernel/debug/nmx_bench/results") as f:
    res = f.read()
with open(raw, "w") as f:
    f.write(res)
sys.stdout.write(res)
if err is not None:
    sys.exit(f"run-guest: the run failed: {err}")
if "NMXDONE" not in res:
    sys.exit("run-guest: the run did not finish")
EOF
}

run_bench "$mb" "$out/raw.txt"
cp "$out/raw.txt" "$out/guest.txt" "$run/"
if [ "$bind_mb" -gt 0 ]; then
	echo 64 > /sys/module/nmx_bench/parameters/tests
	echo "$bind_rounds" > /sys/module/nmx_bench/parameters/rounds
	run_bench "$bind_mb" "$out/raw-bind.txt"
	cp "$out/raw-bind.txt" "$run/"
fi
rmmod nmx_bench
rmmod netmem
dmesg > "$run/dmesg.txt"
echo "run-guest: done"
