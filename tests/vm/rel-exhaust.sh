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
NSA=exa NSB=exb
. tests/vm/pair-netns.sh
trap pair_down EXIT
pair_up || { echo "not ok 1 - topology ($NSA/$NSB)"; echo "1..1"; exit 1; }
[ -w /sys/kernel/debug/nmx_testnic/audit ] || {
	echo "not ok 1 - $M: nmx_testnic has no debugfs audit file"; echo "1..1"; exit 1; }
ip netns exec exb python3 tests/vm/rel_exhaust.py
