#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Netlink fuzz of the bind-dmabuf family by target/release/nlfuzz (tests/nlfuzz): many
# messages from several sockets, some owning live bindings on nmxt1 queues that receive
# the fuzzer's own UDP traffic from nmxt0 in another netns. Every reply must be an error
# with an extack message (or one of the message-less core cases the fuzzer predicts from
# the header), an ACK, or an answer that parses against the spec and agrees with the
# fuzzer's model; netmem's audit must pass for every live binding during and after the
# run. Then: no binding left once the sockets closed, no udmabuf left in the dma-buf
# debugfs list, and nothing for kmemleak to report.
#
#   sh tests/vm/fuzz.sh MODULES_DIR     (run by tests/vm/rel-fuzz.sh and race-fuzz.sh)
#
# NMX_FUZZ_COUNT messages (default 100000), NMX_FUZZ_SEED (default: from the clock; the
# seed is printed, `--seed N` replays it). Called by tests/vm/run.sh with netmem and
# nmx_testnic loaded and nmxt0/nmxt1 down in the initial netns, no binding; leaves them so.
M=${1:?modules dir}
. tests/vm/tap.sh
CLI=target/release/netmemctl
FUZZ=target/release/nlfuzz
COUNT=${NMX_FUZZ_COUNT:-100000}
SEED=${NMX_FUZZ_SEED:-$(date +%s)}
BUFINFO=/sys/kernel/debug/dma_buf/bufinfo
KMEMLEAK=/sys/kernel/debug/kmemleak
AUDIT=/sys/kernel/debug/nmx_testnic/audit

cleanup() {
	ip -n fza link set nmxt0 netns 1 2>/dev/null
	ip -n fzb link set nmxt1 netns 1 2>/dev/null
	ip netns del fza 2>/dev/null
	ip netns del fzb 2>/dev/null
	ip link set nmxt0 down 2>/dev/null
	ip link set nmxt1 down 2>/dev/null
}
trap cleanup EXIT

# no_binding [NETNS]: netmemctl's dump (in NETNS, default the initial one) lists none.
no_binding() {
	out=$(${1:+ip netns exec "$1"} $CLI show --json) && ! echo "$out" | grep -q '"id"'
}
bufinfo_lacks() { [ -r $BUFINFO ] && ! grep -q "$1" $BUFINFO; }

echo "# nlfuzz seed $SEED, $COUNT messages"
ip netns add fza && ip netns add fzb &&
	ip link set nmxt0 netns fza && ip link set nmxt1 netns fzb &&
	ip -n fza addr add 10.0.0.1/24 dev nmxt0 && ip -n fza link set nmxt0 up &&
	ip -n fza link set lo up &&
	ip -n fzb addr add 10.0.0.2/24 dev nmxt1 && ip -n fzb link set nmxt1 up &&
	ip -n fzb link set lo up
check "ports in two netns, up" ip -n fza link show nmxt0 up
[ -w $AUDIT ] || nok "the test NIC's audit file $AUDIT is missing"

t0=$(date +%s)
# ip netns exec mounts a sysfs of its own (no debugfs): the audit file goes in as fd 3.
if ip netns exec fzb $FUZZ --seed "$SEED" --count "$COUNT" --ifname nmxt1 --queues 1,2,3 \
	--traffic-netns fza --dst 10.0.0.2 --audit /proc/self/fd/3 3>>$AUDIT >"$tap_log" 2>&1; then
	ok "nlfuzz seed $SEED: $(grep -m1 'messages in' "$tap_log" | sed 's/^nlfuzz: //') ($(( $(date +%s) - t0 )) s)"
	diag "$tap_log"
else
	nok "nlfuzz seed $SEED (reproduce: NMX_FUZZ_SEED=$SEED)"; diag "$tap_log"
fi
check "no binding left in the fuzz netns" no_binding fzb
cleanup
check "no binding left in the initial netns" no_binding
check "every udmabuf released (dma_buf/bufinfo)" wait_for 20 bufinfo_lacks udmabuf

# kmemleak: the guest's init also scans twice after the whole suite (ci/vm.sh fails the run
# on any report); a scan here (7-30 s under TCG) names the fuzz as the culprit. It only
# reports objects older than 5 s.
if [ "${NMX_FUZZ_KMEMLEAK:-1}" = 0 ]; then
	echo "# kmemleak: left to the scan after the suite (NMX_FUZZ_KMEMLEAK=0)"
elif [ -w $KMEMLEAK ]; then
	sleep 5
	t1=$(date +%s)
	echo scan >$KMEMLEAK
	if grep -q "unreferenced object" $KMEMLEAK; then
		nok "kmemleak scan after the fuzz"; head -n 40 $KMEMLEAK | diag /dev/stdin
	else
		ok "kmemleak scan after the fuzz: nothing to report ($(( $(date +%s) - t1 )) s)"
	fi
else
	nok "no kmemleak in debugfs"
fi
tap_done
