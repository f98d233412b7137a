# SPDX-License-Identifier: GPL-2.0
# Sourced by rel-security.sh and rel-exhaust.sh: the test NIC's ports in two netns,
# nmxt0 = 10.0.0.1 in $NSA, nmxt1 = 10.0.0.2 in $NSB, and back. One `ip -batch` process
# per netns: every process costs seconds under TCG.

pair_up() {
	printf 'netns add %s\nnetns add %s\nlink set nmxt0 netns %s\nlink set nmxt1 netns %s\n' \
		"$NSA" "$NSB" "$NSA" "$NSB" | ip -batch - &&
	printf 'addr add 10.0.0.1/24 dev nmxt0\nlink set nmxt0 up\nlink set lo up\n' |
		ip -n "$NSA" -batch - &&
	printf 'addr add 10.0.0.2/24 dev nmxt1\nlink set nmxt1 up\nlink set lo up\n' |
		ip -n "$NSB" -batch -
}

# Back to the initial netns, down (addresses go with the move), netns deleted.
pair_down() {
	printf 'link set nmxt0 down\nlink set nmxt0 netns 1\n' | ip -force -n "$NSA" -batch - 2>/dev/null
	printf 'link set nmxt1 down\nlink set nmxt1 netns 1\n' | ip -force -n "$NSB" -batch - 2>/dev/null
	printf 'netns del %s\nnetns del %s\nlink set nmxt0 down\nlink set nmxt1 down\n' "$NSA" "$NSB" |
		ip -force -batch - 2>/dev/null
}

# pair_run SCRIPT: the pair up (down again on exit), the test NIC's audit file present,
# then `python3 SCRIPT` in $NSB; a failed setup is one failing TAP line.
pair_run() {
	trap pair_down EXIT
	pair_up || { echo "not ok 1 - topology ($NSA/$NSB)"; echo "1..1"; exit 1; }
	[ -w /sys/kernel/debug/nmx_testnic/audit ] || {
		echo "not ok 1 - $M: nmx_testnic has no debugfs audit file"; echo "1..1"; exit 1; }
	ip netns exec "$NSB" python3 "$1"
}
