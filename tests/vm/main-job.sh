#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guest half of `make run`: load netmem and the test NIC, bind a udmabuf to queue 1
# through netlink (netmemctl), push verified traffic into devmem, push the same traffic
# into pages on the same driver, snapshot the pool, run the benchmark, and leave the
# results in OUT (the repo is shared read-write).
#
#   tests/vm/main-job.sh MODULES_DIR OUT_DIR
set -eu
M=$1
OUT=$2
N=${NMX_RUN_FRAMES:-2000}
SIZE=${NMX_RUN_SIZE:-1400}
CLI=target/release/netmemctl
A="ip netns exec a"
B="ip netns exec b"
mkdir -p "$OUT"

insmod "$M/netmem.ko"
insmod "$M/tests/testnic/nmx_testnic.ko"
ip netns add a
ip netns add b
ip link set nmxt0 netns a
ip link set nmxt1 netns b
$A ip addr add 10.0.0.1/24 dev nmxt0
$A ip link set nmxt0 up
$B ip addr add 10.0.0.2/24 dev nmxt1
$B ip link set nmxt1 up
$A ping -c 1 -W 5 10.0.0.2 >/dev/null
echo "== booted $(uname -r), netmem loaded, test NIC up"

wait_binding() {
	i=0
	until $B $CLI show --json 2>/dev/null | grep -q '"id"'; do
		i=$((i + 1)); [ $i -lt 120 ] || return 1; sleep 0.5
	done
}

# Devmem: queue 1 bound to a 16 MiB udmabuf; UDP port 9001 steers to queue 1.
$B $CLI recv --ifname nmxt1 --queue 1 --udmabuf 16M --verify --port 9001 --frames "$N" \
	--timeout 300 --json >"$OUT/devmem.json" 2>"$OUT/devmem.err" &
recv=$!
wait_binding
echo "== bound a udmabuf to nmxt1 queue 1 through netlink:"
$B $CLI show
$A $CLI send --dst 10.0.0.2 --port 9001 --count "$N" --size "$SIZE" --json >"$OUT/send-devmem.json"
wait $recv
wait

# Pages: the same traffic on the same queue, now unbound, into an ordinary UDP socket.
$B $CLI sink --port 9001 --frames "$N" --timeout 300 --json >"$OUT/pages.json" &
sink=$!
sleep 1
$A $CLI send --dst 10.0.0.2 --port 9001 --count "$N" --size "$SIZE" --json >"$OUT/send-pages.json"
wait $sink
cp /sys/kernel/debug/nmx_testnic/stats "$OUT/testnic-stats.txt"

ip netns del a
ip netns del b
sleep 1
rmmod nmx_testnic
rmmod netmem

# Benchmark: loads and unloads netmem itself; results land in $OUT/bench.
if [ -f bench/run-guest.sh ] && [ -f "$M/bench/nmx_bench.ko" ]; then
	echo "== benchmark"
	sh bench/run-guest.sh --mods "$M" --out "$OUT/bench" --dmabuf-mb 64 -- unit=insn/op ${NMX_BENCH_ARGS:-}
fi
echo "== done"
