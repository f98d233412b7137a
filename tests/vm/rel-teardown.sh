#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Teardown-order matrix on the test NIC (tests/vm/teardown_matrix.py has the events, their
# preconditions, the rules that generate the orderings and what is checked after each).
#
#   sh tests/vm/rel-teardown.sh MODULES_DIR
#
# NMX_TEARDOWN selects the orderings run: cover3 (default: a 3-way sequence cover of the
# generated set, every three events in every relative order some ordering has), cover4,
# all, or a comma-separated list of orderings (e.g. CUDMRNF,RNCF). Called by
# tests/vm/run.sh with netmem and nmx_testnic loaded, ports down in the initial netns, no
# binding; leaves that state.
M=${1:?modules dir}
exec python3 tests/vm/teardown_matrix.py "$M" --select "${NMX_TEARDOWN:-cover3}"
