#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Concurrency storm: the KTAP case "storm" of nmx_selftest (tests/selftest/nmx_storm.c)
# for NMX_STORM_SECS seconds (default 60): on every CPU at once a NAPI thread allocates,
# completes, recycles and hands chunks to another CPU, and a user thread returns them
# (remote put, remote completion), reads records and releases tokens, while bindings come
# and go, failed restarts roll back and a driver thread restarts queues. Mid-storm and at
# the end netmem's independent audit must hold for every binding, the driver- and
# user-held counts must match netmem's, and every binding must end with all its chunks
# home. The operation counts come out as TAP diagnostics.
#
#   sh tests/vm/race-storm.sh MODULES_DIR
#
# Called by tests/vm/run.sh (the race suite, KCSAN kernel; tests/vm/rel-storm.sh runs a
# shorter one on the debug kernel) with netmem and nmx_testnic loaded; loads and unloads
# nmx_selftest itself and touches no port.
M=${1:?modules dir}
. tests/vm/tap.sh
SECS=${NMX_STORM_SECS:-60}

check "insmod nmx_selftest.ko only=storm storm_secs=$SECS" \
	insmod "$M/tests/selftest/nmx_selftest.ko" only=storm storm_secs="$SECS"
t0=$(date +%s)
if python3 tests/vm/selftest.py >"$tap_log" 2>&1 && grep -qx "ok [0-9]* storm" "$tap_log"; then
	ok "storm: $SECS s on $(nproc) CPUs, audit exact, every chunk home ($(( $(date +%s) - t0 )) s)"
	grep -v "SKIP not selected" "$tap_log" | diag
else
	nok "storm: $SECS s on $(nproc) CPUs"
	grep -v "SKIP not selected" "$tap_log" | sed 's/^/# /'
fi
check "rmmod nmx_selftest" rmmod nmx_selftest
tap_done
