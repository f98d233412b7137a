#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Race: move the test NIC port to another netns while a dma-buf is bound to one of its
# queues, its ring is full of posted chunks and frames are landing in them.
#
#   sh tests/vm/race-move.sh MODULES_DIR
#
# Called by tests/vm/run.sh (NMX_SUITE=race) with netmem and nmx_testnic loaded and
# nmxt0/nmxt1 down in the initial netns; leaves them so. A netns move closes the device
# (ndo_stop returns every posted chunk) and netmem unbinds it: the binding must go once
# its chunks are home, the dma-buf must be released when its owner exits, nothing may
# trip the DMA API debugging or KASAN (ci/vm.sh fails on any splat), and the port must
# bind and receive into a dma-buf again in its new netns. Not possible from the KTAP
# module: 6.12 exports no way to create a netns in-kernel.
M=${1:?modules dir}
. tests/vm/tap.sh
CLI=target/release/netmemctl
ROUNDS=${NMX_MOVE_ROUNDS:-3}
A="ip netns exec mva"
ipa=10.0.0.1
ipb=10.0.0.2
recvpid=
sendpid=

cleanup() {
	[ -n "$sendpid" ] && kill "$sendpid" 2>/dev/null
	[ -n "$recvpid" ] && kill "$recvpid" 2>/dev/null
	wait 2>/dev/null
	for ns in mva mvb mvc; do
		for dev in nmxt0 nmxt1; do
			ip -n "$ns" link set "$dev" netns 1 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	ip link set nmxt0 down 2>/dev/null
	ip link set nmxt1 down 2>/dev/null
}
trap cleanup EXIT

# port_up NS: nmxt1 in netns NS, addressed and up.
port_up() {
	ip -n "$1" addr add $ipb/24 dev nmxt1 && ip -n "$1" link set nmxt1 up &&
		ip -n "$1" link set lo up
}

# no_binding NS: binding-get in netns NS succeeds and dumps nothing.
no_binding() {
	out=$(ip netns exec "$1" $CLI show --json) && ! echo "$out" | grep -q '"id"'
}

# alive PID: PID runs (not a zombie).
alive() {
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ]
}

# unbound_by_move ID NS: binding ID was unbound while its owner held it. Either the owner
# (recv) still runs and binding-get in NS finds the binding draining or gone, or the owner
# stopped on its own because rx-read said the binding was gone.
unbound_by_move() {
	if alive "$recvpid"; then
		out=$(ip netns exec "$2" $CLI show --id "$1" --json 2>&1)
		case "$out" in
		*ENOENT*|*'"state": "draining"'*) return 0 ;;
		esac
		return 1
	fi
	grep -q "rx-read failed.*ENOENT" /tmp/move-recv.err
}

log0=$(dmesg | wc -l)
ip netns add mva && ip netns add mvb && ip netns add mvc
ip link set nmxt0 netns mva && ip link set nmxt1 netns mvb
$A ip addr add $ipa/24 dev nmxt0 && $A ip link set nmxt0 up && $A ip link set lo up
port_up mvb
check "ping over the test NIC before the first move" $A ping -c 2 -W 5 $ipb

from=mvb
to=mvc
r=1
while [ "$r" -le "$ROUNDS" ]; do
	# Bound with the ring full of chunks (restart hook) and frames landing in them.
	ip netns exec $from $CLI recv --ifname nmxt1 --queue 1 --udmabuf 4M --port 9001 \
		--for 600 -q --json >/tmp/move-recv.json 2>/tmp/move-recv.err &
	recvpid=$!
	if ! wait_for 60 sh -c "ip netns exec $from $CLI show --json | grep -q '\"id\"'"; then
		nok "round $r: recv did not bind in $from"; diag /tmp/move-recv.err
		break
	fi
	$A $CLI send --dst $ipb --port 9001 --count 1000000 --size 1200 --rate 2000 \
		>/dev/null 2>&1 &
	sendpid=$!
	sleep 1
	ip netns exec $from $CLI show --json >/tmp/move-before.json 2>&1
	posted=$(grep -o '"chunks-posted": *[0-9]*' /tmp/move-before.json | grep -o '[0-9]*$')
	frames=$(grep -o '"alloc-fast": *[0-9]*' /tmp/move-before.json | grep -o '[0-9]*$')
	if [ "${posted:-0}" -gt 0 ]; then
		ok "round $r: before the move: $posted chunks posted, $frames fast allocations"
	else
		nok "round $r: no chunk posted before the move"; diag /tmp/move-before.json
	fi
	t0=$(date +%s)
	if ip -n $from link set nmxt1 netns $to 2>/tmp/move-ip.err; then
		ok "round $r: moved nmxt1 from $from to $to with a live binding under traffic ($(( $(date +%s) - t0 )) s)"
	else
		nok "round $r: ip link set nmxt1 netns $to"; diag /tmp/move-ip.err
		break
	fi
	# Its owner still holds it: only the move can have unbound it.
	id=$(grep -o '"id": *[0-9]*' /tmp/move-before.json | head -n1 | grep -o '[0-9]*$')
	if wait_for 20 unbound_by_move "$id" $from; then
		ok "round $r: the move unbound binding $id while its owner held it, and its chunks came home"
	else
		nok "round $r: binding $id not unbound by the move (owner alive: $(alive $recvpid && echo yes || echo no))"
		ip netns exec $from $CLI show --id "$id" --json 2>&1 | sed "s/^/# /"
		diag /tmp/move-before.json /tmp/move-recv.err
	fi
	kill "$sendpid" 2>/dev/null; wait "$sendpid" 2>/dev/null; sendpid=
	kill "$recvpid" 2>/dev/null; wait "$recvpid" 2>/dev/null; recvpid=
	check "round $r: no binding left in $from once its owner exited" wait_for 20 no_binding $from
	check "round $r: dma-buf released once its owner exited" \
		wait_for 20 sh -c '! grep -q udmabuf /sys/kernel/debug/dma_buf/bufinfo'

	# The port works in its new netns: pages, then a dma-buf again.
	port_up $to
	check "round $r: ping in $to after the move" $A ping -c 2 -W 5 $ipb
	ip netns exec $to $CLI recv --ifname nmxt1 --queue 1 --udmabuf 4M --verify --port 9001 \
		--frames 50 --timeout 60 --json >/tmp/move-recv.json 2>/tmp/move-recv.err &
	recvpid=$!
	if wait_for 60 sh -c "ip netns exec $to $CLI show --json | grep -q '\"id\"'"; then
		$A $CLI send --dst $ipb --port 9001 --count 50 --size 1000 >/dev/null 2>&1
		if wait "$recvpid"; then
			ok "round $r: devmem receive in $to after the move: $(cat /tmp/move-recv.json)"
		else
			nok "round $r: devmem receive in $to after the move"
			diag /tmp/move-recv.json /tmp/move-recv.err
		fi
	else
		nok "round $r: recv did not bind in $to"; diag /tmp/move-recv.err
		kill "$recvpid" 2>/dev/null; wait "$recvpid" 2>/dev/null
	fi
	recvpid=
	check "round $r: no binding left in $to" wait_for 20 no_binding $to
	tmp=$from; from=$to; to=$tmp
	r=$((r + 1))
done

# The harness's own splat rules (DMA-API errors, not its notices; KCSAN reports only with
# a netmem frame in a racing access), applied to what the moves logged.
dmesg | tail -n +$((log0 + 1)) >"$tap_log.k"
if ! bash ci/vm.sh --splats "$tap_log.k" --kcsan-scope netmem >"$tap_log" 2>&1; then
	nok "kernel log: reports since the first move"; diag "$tap_log"
else
	ok "kernel log: clean since the first move"
fi
check "no dma-buf left" wait_for 20 sh -c '! grep -q udmabuf /sys/kernel/debug/dma_buf/bufinfo'
tap_done
