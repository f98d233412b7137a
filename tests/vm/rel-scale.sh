#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Scale (tests/vm/scale.py): a large binding (traffic flowing, its ring posted, tokens
# held) torn down by kill -9 of its owner within a bound, with no splat (RCU stall
# detection is built in; the test kernel has no soft-lockup or hung-task detector); then
# bind/unbind cycles of a small udmabuf with memory flat (unreclaimable slab and
# MemAvailable compared before and after, after a warm-up, within a tolerance).
#
#   sh tests/vm/rel-scale.sh MODULES_DIR
#
# NMX_SCALE_MIB (binding size, default 64), NMX_SCALE_BOUND (seconds from the kill to the
# binding and dma-buf gone, default 60), NMX_SCALE_CYCLES (default 300),
# NMX_SCALE_SLAB_KIB / NMX_SCALE_AVAIL_KIB (tolerances, default 1024 / 4096).
# NMX_SCALE_FULL=1: the 1 GiB binding (262,144 chunks of 4 KiB; udmabuf's limit here is
# 1024 MB, set by ci/vm.sh), a bound of 900 s and 2000 cycles (tens of minutes under TCG).
# Called by tests/vm/run.sh with netmem and nmx_testnic loaded, ports down in the initial
# netns, no binding; leaves that state.
M=${1:?modules dir}
mib=${NMX_SCALE_MIB:-64}
bound=${NMX_SCALE_BOUND:-60}
cycles=${NMX_SCALE_CYCLES:-300}
if [ "${NMX_SCALE_FULL:-0}" = 1 ]; then
	mib=1024
	bound=${NMX_SCALE_BOUND:-900}
	cycles=${NMX_SCALE_CYCLES:-2000}
fi
ip netns add scpeer
ip link set nmxt0 netns scpeer
ip -n scpeer addr add 10.0.0.1/24 dev nmxt0
ip -n scpeer link set nmxt0 up
ip addr add 10.0.0.2/24 dev nmxt1
ip link set nmxt1 up
ip -n scpeer neigh replace 10.0.0.2 lladdr "$(cat /sys/class/net/nmxt1/address)" dev nmxt0 nud permanent
python3 tests/vm/scale.py "$mib" "$bound" "$cycles" \
	"${NMX_SCALE_SLAB_KIB:-1024}" "${NMX_SCALE_AVAIL_KIB:-4096}"
rc=$?
ip link set nmxt1 down
ip addr flush dev nmxt1
ip -n scpeer link set nmxt0 down
ip -n scpeer addr flush dev nmxt0
ip -n scpeer link set nmxt0 netns 1
ip netns del scpeer
exit $rc
