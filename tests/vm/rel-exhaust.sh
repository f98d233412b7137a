#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Exhaustion: userspace never releases its tokens while traffic keeps arriving on the
# bound queue: drops are counted, nothing else stops, and RX into the dma-buf recovers once
# the tokens come back. The checks are in rel_exhaust.py.
#
#   sh tests/vm/rel-exhaust.sh MODULES_DIR
#
# Convention of tests/vm/run.sh (subtests): netmem and nmx_testnic loaded, nmxt0/nmxt1
# down in the initial netns, no binding; leaves it so.
M=${1:?modules dir}
cleanup() {
	for p in "exa nmxt0" "exb nmxt1"; do
		set -- $p
		ip -n "$1" link set "$2" down 2>/dev/null
		ip -n "$1" link set "$2" netns 1 2>/dev/null
		ip netns del "$1" 2>/dev/null
	done
	ip link set nmxt0 down 2>/dev/null
	ip link set nmxt1 down 2>/dev/null
}
trap cleanup EXIT
ip netns add exa && ip netns add exb &&
	ip link set nmxt0 netns exa && ip link set nmxt1 netns exb &&
	ip -n exa addr add 10.0.0.1/24 dev nmxt0 && ip -n exa link set nmxt0 up &&
	ip -n exb addr add 10.0.0.2/24 dev nmxt1 && ip -n exb link set nmxt1 up &&
	ip -n exa link set lo up && ip -n exb link set lo up || {
	echo "not ok 1 - topology (exa/exb)"; echo "1..1"; exit 1; }
[ -w /sys/kernel/debug/nmx_testnic/audit ] || {
	echo "not ok 1 - $M: nmx_testnic has no debugfs audit file"; echo "1..1"; exit 1; }
# ip netns exec mounts a fresh /sys: debugfs (the audit file, the NIC counters) again.
ip netns exec exb sh -c "mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug; exec python3 tests/vm/rel_exhaust.py"
