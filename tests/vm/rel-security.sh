#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Security of the bind-dmabuf family: capabilities (dropped, another uid, a socket passed
# by SCM_RIGHTS either way, a user namespace), netns isolation, token bounds, and
# unprivileged dumps against the owner and RTNL. The checks are in rel_security.py.
#
#   sh tests/vm/rel-security.sh MODULES_DIR
#
# Convention of tests/vm/run.sh (subtests): netmem and nmx_testnic loaded, nmxt0/nmxt1
# down in the initial netns, no binding; leaves it so.
M=${1:?modules dir}
NSA=seca NSB=secb
. tests/vm/pair-netns.sh
pair_run tests/vm/rel_security.py
