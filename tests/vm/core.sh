#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The core's netlink guarantees on their own (tests/vm/core_nl.py), for quick runs and for
# planting defects:   ci/vm.sh --kernel DIR -- sh tests/vm/core.sh MODULES_DIR
# run.sh runs core_nl.py in its full topology too.
set -e
M=${1:?modules dir}
insmod "$M/netmem.ko"
insmod "$M/tests/testnic/nmx_testnic.ko"
ip netns add a && ip netns add b
ip link set nmxt0 netns a && ip link set nmxt1 netns b
ip netns exec a ip addr add 10.0.0.1/24 dev nmxt0
ip netns exec a ip link set nmxt0 up
ip netns exec b ip addr add 10.0.0.2/24 dev nmxt1
ip netns exec b ip link set nmxt1 up
ip netns exec b python3 tests/vm/core_nl.py || exit 1
ip netns del a
ip netns del b
rmmod nmx_testnic
rmmod netmem
