#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The in-VM suite of `make test` (runs as root in the guest, cwd = repo; see ci/vm.sh).
#
#   tests/vm/run.sh MODULES_DIR
#   NMX_SUITE=race tests/vm/run.sh MODULES_DIR
#
# TAP on the console. Covers: module load and the exported API, the in-kernel KTAP suite
# (layer + devmem_pool on a real udmabuf), ordinary traffic over the test NIC, the
# bind-dmabuf netlink family (every op and error, by netmemctl and by the kernel's ynl),
# socket-lifetime and netns rules, malformed messages, end-to-end devmem receive with
# payload verification, the benchmark smoke run, and unload.
#
# NMX_SUITE=race (the KCSAN kernel, ci/test.sh) runs only the concurrency subset: module
# load, the KTAP suite, then every tests/vm/race-*.sh as a TAP subtest. Each is called as
# `sh tests/vm/race-X.sh MODULES_DIR` with netmem and nmx_testnic loaded (nmxt0/nmxt1 in
# the initial netns, down), prints TAP, exits non-zero on failure and unloads nothing.
M=${1:?modules dir}
. tests/vm/tap.sh
CLI=target/release/netmemctl
YNL="python3 ${NMX_KSRC:-/var/cache/netmem/src/linux-source-6.12}/tools/net/ynl/cli.py --spec netmem/bind-dmabuf.yaml --no-schema"
A="ip netns exec a"
B="ip netns exec b"
ipa=10.0.0.1
ipb=10.0.0.2
suite=${NMX_SUITE:-full}

echo "# netmem in-VM suite ($suite) on $(uname -r), $(nproc) CPUs"

# The race kernel builds KCSAN in but off (no KCSAN_EARLY_ENABLE): switch it on before
# anything of ours loads, or the race suite checks nothing.
KCSAN=/sys/kernel/debug/kcsan
if [ "$suite" = race ]; then
	check "KCSAN on" sh -c "echo on >$KCSAN && grep -qx 'enabled: 1' $KCSAN"
fi

# netmem's exported API, read from the sources the modules were built from: every
# EXPORT_SYMBOL*(sym[, ns]) or NMX_EXPORT_RUST(sym) statement (macro definitions excluded).
api=$(cat "$M"/shim/*.c |
	sed -nE 's/^[[:space:]]*[A-Z_]*EXPORT[A-Z_]*\(([A-Za-z_][A-Za-z0-9_]*)(,[^)]*)?\);.*/\1/p' | sort -u)

# in_module SYM MOD: /proc/kallsyms has SYM defined by module MOD.
in_module() {
	grep -qE "^[0-9a-f]+ [A-Za-z] $1[[:space:]]+\[$2\]\$" /proc/kallsyms
}

# Every API symbol resolves in netmem.ko and has its ksymtab entry there (exported, not
# merely defined).
api_exported() {
	[ -n "$api" ] || { echo "no EXPORT statements found in $M/shim/*.c"; return 1; }
	bad=0
	for sym in $api; do
		in_module "$sym" netmem || { echo "$sym: not defined by [netmem] in /proc/kallsyms"; bad=1; }
		in_module "__ksymtab_$sym" netmem || { echo "$sym: no __ksymtab_$sym in [netmem]"; bad=1; }
	done
	[ "$bad" = 0 ] && echo "$(echo "$api" | wc -l) symbols: $(echo $api)"
}

# Every nmx_ symbol the test NIC leaves undefined is netmem API, provided by netmem.ko.
testnic_links() {
	und=$(nm -u "$M/tests/testnic/nmx_testnic.ko" | awk '$2 ~ /^nmx_/ { print $2 }' | sort -u)
	[ -n "$und" ] || { echo "nmx_testnic.ko uses no nmx_ symbol (nm -u)"; return 1; }
	bad=0
	for sym in $und; do
		echo "$api" | grep -qx "$sym" || { echo "$sym: used by the test NIC, not in netmem's exports"; bad=1; }
		in_module "$sym" netmem || { echo "$sym: not provided by [netmem] in /proc/kallsyms"; bad=1; }
	done
	[ "$bad" = 0 ] && echo "$(echo "$und" | wc -l) symbols: $(echo $und)"
}

BUFINFO=/sys/kernel/debug/dma_buf/bufinfo
# bufinfo_lacks PATTERN: the dma-buf debugfs list is readable and has no PATTERN in it.
bufinfo_lacks() { [ -r $BUFINFO ] && ! grep -q "$1" $BUFINFO; }
# no_binding NETNS [ID]: netmemctl's binding-get dump in NETNS succeeds and lists binding
# ID (default: any binding) not.
no_binding() {
	out=$(ip netns exec "$1" $CLI show --json) || return 1
	! echo "$out" | grep -qE "\"id\": ${2:-[0-9]+}([^0-9]|\$)"
}

# --- modules and the exported API ---
check "insmod netmem.ko" insmod "$M/netmem.ko"
if api_exported >"$tap_log" 2>&1; then
	ok "netmem exports its API ($(cat "$tap_log"))"
else
	nok "netmem exports its API"; diag "$tap_log"
fi
check "insmod nmx_testnic.ko (links against netmem's exports)" insmod "$M/tests/testnic/nmx_testnic.ko"
if testnic_links >"$tap_log" 2>&1; then
	ok "the test NIC's undefined nmx_ symbols all come from netmem ($(cat "$tap_log"))"
else
	nok "the test NIC's undefined nmx_ symbols all come from netmem"; diag "$tap_log"
fi
check "test NIC ports exist (nmxt0, nmxt1)" sh -c "ip link show nmxt0 && ip link show nmxt1"

# --- in-kernel KTAP suite: layer + devmem_pool on a real udmabuf ---
if [ -f "$M/tests/selftest/nmx_selftest.ko" ]; then
	check "insmod nmx_selftest.ko" insmod "$M/tests/selftest/nmx_selftest.ko"
	if python3 tests/vm/selftest.py >"$tap_log" 2>&1; then
		ok "KTAP selftest suite passed"; diag "$tap_log"
	else
		nok "KTAP selftest suite"; cat "$tap_log"
	fi
	check "rmmod nmx_selftest" rmmod nmx_selftest
else
	nok "nmx_selftest.ko was not built"
fi

# subtests GLOB: run each script as a TAP subtest (indented). Convention for every
# tests/vm/race-*.sh and rel-*.sh: called as `sh SCRIPT MODULES_DIR` with netmem and
# nmx_testnic loaded (nmxt0/nmxt1 in the initial netns, down, no binding); prints TAP,
# exits non-zero on failure, and leaves that state as it found it (it may reload the
# modules, but they are loaded when it returns).
subtests() {
	found=0
	for t in $1; do
		[ -f "$t" ] || continue
		found=1
		name=$(basename "$t" .sh)
		echo "# Subtest: $name"
		if sh "$t" "$M" >"$tap_log" 2>&1; then
			sed 's/^/    /' "$tap_log"; ok "$name"
		else
			sed 's/^/    /' "$tap_log"; nok "$name"
		fi
	done
	[ "$found" = 1 ] || echo "# no $1 yet"
}

# --- race suite: the concurrency scripts, then unload ---
if [ "$suite" = race ]; then
	subtests "tests/vm/race-*.sh"
	# KCSAN reports fail the run through ci/vm.sh; here only proof that it was watching.
	w=$(sed -n 's/^setup_watchpoints: //p' $KCSAN)
	if [ "${w:-0}" -gt 0 ]; then
		ok "KCSAN was watching: $(grep -E '^(setup_watchpoints|data_races|no_capacity):' $KCSAN | tr '\n' ' ')"
	else
		nok "KCSAN set up no watchpoint"; diag $KCSAN
	fi
	check "rmmod nmx_testnic" rmmod nmx_testnic
	check "rmmod netmem" rmmod netmem
	tap_done
	exit $?
fi

# --- reliability suite (tests/vm/rel-*.sh): teardown orders, fuzzing, faults, security ---
subtests "tests/vm/rel-*.sh"

# --- topology: the two ports in two netns ---
ip netns add a && ip netns add b
ip link set nmxt0 netns a && ip link set nmxt1 netns b
$A ip addr add $ipa/24 dev nmxt0 && $A ip link set nmxt0 up && $A ip link set lo up
$B ip addr add $ipb/24 dev nmxt1 && $B ip link set nmxt1 up && $B ip link set lo up
check "ping over the test NIC (unbound queues)" $A ping -c 3 -W 5 $ipb
check "TCP transfer over the test NIC (1 MiB, checksummed)" python3 tests/vm/tcp_xfer.py $ipb

# --- netlink: errors, by netmemctl (which prints the kernel's extack) ---
# cli.py prints the dump's list of replies: nothing bound yet, so exactly "[]".
if $B $YNL --dump binding-get >"$tap_log" 2>"$tap_log.err" && [ "$(tr -d ' \n' <"$tap_log")" = "[]" ]; then
	ok "ynl cli.py dump binding-get (empty)"
else
	nok "ynl cli.py dump binding-get (empty)"; diag "$tap_log" "$tap_log.err"
fi
refuse "chunk size not a power of two" EINVAL $B $CLI bind --ifname nmxt1 --queue 1 --udmabuf 1M --chunk-size 6000 --for 0
refuse "chunk size out of range (policy)" ERANGE $B $CLI bind --ifname nmxt1 --queue 1 --udmabuf 1M --chunk-size 131072 --for 0
refuse "chunk size larger than the dma-buf segments" EINVAL $B $CLI bind --ifname nmxt1 --queue 1 --udmabuf 1M --chunk-size 65536 --for 0
refuse "queue id out of range" ERANGE $B $CLI bind --ifname nmxt1 --queue 99 --udmabuf 1M --for 0
refuse "tx queue" EOPNOTSUPP $B $CLI bind --ifname nmxt1 --queue tx:1 --udmabuf 1M --for 0
refuse "device without netmem support (lo)" EOPNOTSUPP $B $CLI bind --ifname lo --queue 0 --udmabuf 1M --for 0
refuse "unknown ifindex in the caller's netns" ENODEV $B $CLI bind --ifindex 4242 --queue 1 --udmabuf 1M --for 0
refuse "fd that is not a dma-buf" EBADF $B sh -c "$CLI bind --ifname nmxt1 --queue 1 --dmabuf-fd 3 --for 0 3</etc/hostname"
refuse "no CAP_NET_ADMIN" EPERM $B setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	sh -c "$CLI bind --ifname nmxt1 --queue 1 --dmabuf-fd 3 --for 0 3</etc/hostname"
# ynl decodes the extack: EINVAL with the missing attribute named.
if $B $YNL --do bind-dmabuf --json '{"ifindex": 1}' >"$tap_log" 2>&1; then
	nok "ynl: bind-dmabuf without fd is refused (accepted)"; diag "$tap_log"
elif grep -q "Netlink error: Invalid argument" "$tap_log" && grep -q "'miss-type': 'fd'" "$tap_log"; then
	ok "ynl: bind-dmabuf without fd is refused: EINVAL, $(grep -o "'miss-type': 'fd'" "$tap_log")"
else
	nok "ynl: bind-dmabuf without fd: not EINVAL with miss-type fd"; diag "$tap_log"
fi
if $B python3 tests/vm/malformed.py >"$tap_log" 2>&1; then
	ok "malformed requests refused with the policy's errno and extack, nothing bound: $(tail -n1 "$tap_log")"
	diag "$tap_log"
else
	nok "malformed requests (exact errno, extack, no binding left)"; diag "$tap_log"
fi
if [ -f tests/vm/core_nl.py ]; then
	if $B python3 tests/vm/core_nl.py >"$tap_log" 2>&1; then
		ok "core netlink guarantees (no token lost on a full socket, dump order)"; diag "$tap_log"
	else
		nok "core netlink guarantees"; diag "$tap_log"
	fi
fi

# --- bindings belong to their socket and their netns ---
$B $CLI bind --ifname nmxt1 --queue 2 --udmabuf 4M >/tmp/bind2.id 2>/tmp/bind2.err &
bindpid=$!
if wait_for 60 grep -q . /tmp/bind2.id; then
	id=$(cat /tmp/bind2.id)
	ok "bind queue 2 through netlink (binding $id, held by pid $bindpid)"
	$B $CLI show --id "$id" --json >/tmp/show.json 2>&1
	if grep -q '"chunks-total": 1024' /tmp/show.json && grep -q '"chunk-size": 4096' /tmp/show.json; then
		ok "binding-get: 1024 chunks of 4096 bytes"
	else
		nok "binding-get fields"; diag /tmp/show.json
	fi
	check "ynl cli.py do binding-get (its id, 1024 chunks)" sh -c "$B $YNL --do binding-get --json '{\"id\": $id}' >$tap_log.ynl &&
		grep -q \"'id': $id,\" $tap_log.ynl && grep -q \"'chunks-total': 1024\" $tap_log.ynl"
	refuse "queue already bound" EEXIST $B $CLI bind --ifname nmxt1 --queue 2 --udmabuf 1M --for 0
	check "another netns does not see the binding in a dump" no_binding a "$id"
	refuse "another netns cannot binding-get it" ENOENT $A $CLI show --id "$id"
	refuse "another socket cannot unbind it" EPERM $B $CLI unbind --id "$id"
	if $B $YNL --do rx-read --json "{\"id\": $id}" >"$tap_log" 2>&1; then
		nok "another socket cannot read its records (accepted)"; diag "$tap_log"
	elif grep -q "Netlink error: Operation not permitted" "$tap_log" &&
		grep -q "binding belongs to another netlink socket" "$tap_log"; then
		ok "another socket cannot read its records: EPERM, binding belongs to another netlink socket"
	else
		nok "another socket cannot read its records (wanted EPERM, binding belongs to another socket)"; diag "$tap_log"
	fi
	kill -9 "$bindpid"; wait "$bindpid" 2>/dev/null
	if wait_for 20 no_binding b "$id"; then
		ok "kill -9 of the owner unbinds (socket close)"
	else
		nok "binding survived its socket"
	fi
	# The test NIC still has devmem buffers posted on queue 2; the next frame there makes
	# it switch back to pages, which returns them and lets netmem release the dma-buf.
	$A $CLI send --dst $ipb --port 9002 --count 4 --size 100 >/dev/null 2>&1
	check "dma-buf released once its chunks came home" wait_for 20 bufinfo_lacks udmabuf
else
	nok "bind queue 2 through netlink"; diag /tmp/bind2.err
	kill "$bindpid" 2>/dev/null
fi

# --- end to end: udmabuf -> bind queue 1 -> frames from the peer -> verify -> release ---
N=${NMX_E2E_FRAMES:-300}
$B $CLI recv --ifname nmxt1 --queue 1 --udmabuf 4M --verify --port 9001 --frames "$N" \
	--timeout 120 --json >/tmp/recv.json 2>/tmp/recv.err &
recvpid=$!
if wait_for 60 sh -c "$B $CLI show --json | grep -q '\"queue\|\"id\"'"; then
	$A ping -c 2 -W 5 $ipb >/dev/null 2>&1 && ok "ping while queue 1 is bound" || nok "ping while queue 1 is bound"
	$A $CLI send --dst $ipb --port 9001 --count "$N" --size 1200 >/dev/null 2>/tmp/send.err
	if wait "$recvpid"; then
		ok "devmem receive: $(cat /tmp/recv.json)"
	else
		nok "devmem receive"; diag /tmp/recv.json; diag /tmp/recv.err
	fi
else
	nok "recv did not bind"; diag /tmp/recv.err; kill "$recvpid" 2>/dev/null
fi
# Unbound again: the same queue carries ordinary traffic into pages, up to a UDP socket.
$B $CLI sink --port 9001 --frames 20 --timeout 60 --json >/tmp/sink.json 2>&1 &
sinkpid=$!
sleep 1
$A $CLI send --dst $ipb --port 9001 --count 20 --size 500 >/dev/null 2>&1
if wait "$sinkpid"; then
	ok "after unbind queue 1 receives into pages again: $(cat /tmp/sink.json)"
else
	nok "after unbind queue 1 receives into pages again"; diag /tmp/sink.json
fi
check "no binding left" no_binding b
check "no dma-buf left" wait_for 20 bufinfo_lacks udmabuf
diag /sys/kernel/debug/nmx_testnic/stats

# --- teardown in the hostile order: the driver and then netmem go while a binding is
# held by a live socket with chunks posted in the driver's ring ---
$B $CLI bind --ifname nmxt1 --queue 3 --udmabuf 4M >/tmp/bind3.id 2>/tmp/bind3.err &
holder=$!
if wait_for 60 grep -q . /tmp/bind3.id && grep -q nmx_testnic $BUFINFO; then
	ok "bind queue 3 and keep holding it (dma-buf attached to nmx_testnic)"
	$A $CLI send --dst $ipb --port 9003 --count 8 --size 200 >/dev/null 2>&1
else
	nok "bind queue 3"; diag /tmp/bind3.err
fi
ip netns del a; ip netns del b
sleep 1
check "rmmod nmx_testnic while its queue 3 is bound (netmem unmaps at once)" rmmod nmx_testnic
check "the dma-buf is detached from the gone device" wait_for 20 bufinfo_lacks nmx_testnic
check "rmmod netmem while the owner socket still holds the binding" rmmod netmem
kill -9 "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
check "no dma-buf left after the owner exits" wait_for 20 bufinfo_lacks udmabuf

# --- benchmark smoke run (tiny loops; ci/test.sh checks the output parses; timings are
# never asserted). Loads and unloads netmem itself, so it runs last. ---
if [ -f "$M/bench/nmx_bench.ko" ]; then
	check "benchmark smoke run" sh bench/run-guest.sh --mods "$M" --out out/bench-smoke \
		--dmabuf-mb 16 -- loops=1000 rounds=3 unit=tsc/op
	# A run that would measure nothing is refused, not an empty success.
	for bad in tests=0 tests=0x80 rounds=0; do
		rm -rf out/bench-bad
		if sh bench/run-guest.sh --mods "$M" --out out/bench-bad --dmabuf-mb 0 \
			-- loops=10 $bad unit=tsc/op >"$tap_log" 2>&1; then
			nok "benchmark refuses $bad (it ran)"; diag "$tap_log"
		elif grep -q "^NMXERR" out/bench-bad/raw.txt 2>/dev/null; then
			ok "benchmark refuses $bad: $(grep -m1 '^NMXERR' out/bench-bad/raw.txt | tr '\t' ' ')"
		else
			nok "benchmark refuses $bad (no NMXERR line)"; diag "$tap_log"
		fi
		rmmod nmx_bench 2>/dev/null; rmmod netmem 2>/dev/null
	done
else
	nok "nmx_bench.ko was not built"
fi
tap_done
