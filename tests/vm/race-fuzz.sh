#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The full netlink fuzz (tests/vm/fuzz.sh, 100,000 messages by default) on the race kernel:
# KCSAN watches the family's C glue and the netlink core while traffic flows and bindings
# come and go. That kernel has no kmemleak; rel-fuzz.sh runs a shorter fuzz on the debug
# kernel, where KASAN and kmemleak watch it.
NMX_FUZZ_KMEMLEAK=0 NMX_FUZZ_COUNT=${NMX_FUZZ_COUNT:-100000} exec sh tests/vm/fuzz.sh "$@"
