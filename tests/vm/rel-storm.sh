#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The concurrency storm (tests/vm/race-storm.sh) on the debug kernel, shorter: KCSAN (the
# race kernel's 60 s run) sees racing accesses and the audit lost chunks, but only KASAN
# sees a binding freed under a returner that is still in pool code while bindings come
# and go; NMX_STORM_SECS_DEBUG seconds (default 10) of churn give it that chance.
#
#   sh tests/vm/rel-storm.sh MODULES_DIR
NMX_STORM_SECS=${NMX_STORM_SECS_DEBUG:-10} exec sh tests/vm/race-storm.sh "$@"
