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
pair_run tests/vm/rel_exhaust.py
