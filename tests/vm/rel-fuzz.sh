#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A shorter netlink fuzz (tests/vm/fuzz.sh, 5,000 messages by default) on the debug
# kernel, so that KASAN, lockdep and kmemleak see fuzzed requests with traffic flowing; the
# 100,000-message run is tests/vm/race-fuzz.sh on the race kernel (the debug kernel costs
# about 1.5 ms of guest time per message).
NMX_FUZZ_COUNT=${NMX_FUZZ_COUNT_DEBUG:-5000} exec sh tests/vm/fuzz.sh "$@"
