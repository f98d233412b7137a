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
cleanup() {
	for p in "seca nmxt0" "secb nmxt1"; do
		set -- $p
		ip -n "$1" link set "$2" down 2>/dev/null
		ip -n "$1" link set "$2" netns 1 2>/dev/null
		ip netns del "$1" 2>/dev/null
	done
	ip link set nmxt0 down 2>/dev/null
	ip link set nmxt1 down 2>/dev/null
}
trap cleanup EXIT
ip netns add seca && ip netns add secb &&
	ip link set nmxt0 netns seca && ip link set nmxt1 netns secb &&
	ip -n seca addr add 10.0.0.1/24 dev nmxt0 && ip -n seca link set nmxt0 up &&
	ip -n secb addr add 10.0.0.2/24 dev nmxt1 && ip -n secb link set nmxt1 up &&
	ip -n seca link set lo up && ip -n secb link set lo up || {
	echo "not ok 1 - topology (seca/secb)"; echo "1..1"; exit 1; }
[ -w /sys/kernel/debug/nmx_testnic/audit ] || {
	echo "not ok 1 - $M: nmx_testnic has no debugfs audit file"; echo "1..1"; exit 1; }
# ip netns exec mounts a fresh /sys: debugfs (the audit file, the NIC counters) again.
ip netns exec secb sh -c "mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug; exec python3 tests/vm/rel_security.py"
