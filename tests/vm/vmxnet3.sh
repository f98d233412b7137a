#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# netmem on a real driver with real DMA: the patched vmxnet3 (drivers/vmxnet3/patches)
# receiving into a udmabuf under QEMU, on the debug kernel.
#
# Host:
#   tests/vm/vmxnet3.sh run [--flavour test|bench] [--kernel DIR] [--iommu] [--log FILE]
#       builds the driver (ci/drivers.sh vmxnet3 FLAVOUR; netmem's modules must be built:
#       ci/modules.sh FLAVOUR) and netmemctl, boots ci/vm.sh with the NICs below and runs
#       the guest half (about 4 to 9 minutes on the debug kernel under TCG). --iommu adds
#       QEMU's intel-iommu in front of the NICs. Default flavour: test (the debug kernel).
#   tests/vm/vmxnet3.sh qemu-args [--iommu]
#       the QEMU arguments alone (for NMX_VM_QEMU_ARGS): two vmxnet3 NICs on one QEMU hub
#       and nothing else on it, so no outside network. The guest drives both with the
#       patched vmxnet3.ko (QEMU has no other NIC our kernel config has a driver for; the
#       in-tree vmxnet3.ko is never loaded: same PCI driver name).
# Guest (TAP on the console):
#   tests/vm/vmxnet3.sh guest MODULES_DIR VMXNET3_KO
#       (netmem.ko is loaded unless it already is, and unloaded at the end only if loaded here)
#       NIC 1 (52:54:00:6e:6d:01) receives, in the initial netns; NIC 2 (…:02) sends, from
#       netns "snd"; static neighbours, UDP only. Page path, bind refusals, devmem receive
#       of verified frames into the udmabuf on queue 0 (QEMU's vmxnet3 has no RSS: every
#       frame lands on queue 0), refusals while bound, the same queue back on pages after
#       unbind, and rmmod of the driver with a binding live.
set -eu
RXMAC=52:54:00:6e:6d:01
TXMAC=52:54:00:6e:6d:02

qemu_args() {
	iommu=""
	[ "${1:-}" = --iommu ] && iommu="-device intel-iommu"
	echo "$iommu" \
		"-netdev hubport,id=nmxv0,hubid=7 -device vmxnet3,netdev=nmxv0,mac=$RXMAC,addr=0x10" \
		"-netdev hubport,id=nmxv1,hubid=7 -device vmxnet3,netdev=nmxv1,mac=$TXMAC,addr=0x11"
}

host_run() {
	here=$(cd "$(dirname "$0")" && pwd)
	repo=$(cd "$here/../.." && pwd)
	cd "$repo"
	kdir="" iommu="" flavour=test logf=$repo/out/logs/vmxnet3-console.log
	while [ $# -gt 0 ]; do
		case "$1" in
		--flavour) flavour=$2; shift 2 ;;
		--kernel) kdir=$2; shift 2 ;;
		--iommu) iommu=--iommu; logf=$repo/out/logs/vmxnet3-iommu-console.log; shift ;;
		--log) logf=$2; shift 2 ;;
		*) echo "vmxnet3.sh run: unknown option $1" >&2; exit 2 ;;
		esac
	done
	[ -n "$kdir" ] || kdir=$(ci/kernel.sh "$flavour")
	mods=${NMX_MODULES_OUT:-$repo/out/$flavour}
	[ -f "$mods/netmem.ko" ] || { echo "vmxnet3.sh: no $mods/netmem.ko: run ci/modules.sh $flavour" >&2; exit 2; }
	# The guest mounts tmpfs over these: modules there would not be found.
	case "$mods" in /tmp/*|/var/tmp/*|/run/*|/root/*)
		echo "vmxnet3.sh: $mods is hidden in the guest (tmpfs there)" >&2; exit 2 ;;
	esac
	ko=$(ci/drivers.sh --kernel "$kdir" vmxnet3 "$flavour")
	PATH=$HOME/.cargo/bin:$PATH cargo build --release -q -p netmemctl
	mkdir -p "$(dirname "$logf")"
	NMX_VM_QEMU_ARGS=$(qemu_args $iommu) ci/vm.sh --kernel "$kdir" --timeout "${NMX_VM_TIMEOUT:-900}" \
		--log "$logf" -- env NMX_VMX_OUT="$repo/out/vmxnet3-$flavour" \
		tests/vm/vmxnet3.sh guest "$mods" "$ko"
}

case "${1:-}" in
qemu-args) shift; qemu_args "$@"; exit 0 ;;
run) shift; host_run "$@"; exit $? ;;
guest) shift ;;
*) echo "usage: tests/vm/vmxnet3.sh run|qemu-args|guest ..." >&2; exit 2 ;;
esac

# ---------------------------------------------------------------- guest half
set +e
M=${1:?modules dir}
KO=${2:?patched vmxnet3.ko}
. tests/vm/tap.sh
CLI=target/release/netmemctl
S="ip netns exec snd"
RINGS="python3 tests/vm/ethtool_rings.py"
N=${NMX_VMX_FRAMES:-2000}
# Devmem frames per run: fewer than the 640 chunks a 4 MiB udmabuf has beyond the 384 the
# shrunk rings hold. A refill that finds the pool empty drops the frame (the driver's
# refill-or-drop rule), so a larger burst is lost in part whenever netmemctl reads and
# releases slower than QEMU delivers (the binding's "empty" counter counts those).
DEVN=${NMX_VMX_DEVMEM_FRAMES:-600}
SIZE=${NMX_VMX_SIZE:-1400}
RATE=${NMX_VMX_RATE:-4000}
IPR=10.77.0.1
IPS=10.77.0.2
# Results (netmemctl's JSON) land in the repo when the host asked for them (make run).
out=${NMX_VMX_OUT:-/run/nmx/vmxnet3}
rm -rf "$out" && mkdir -p "$out"

echo "# vmxnet3 + netmem on $(uname -r): $(cat /sys/bus/pci/devices/*/device | grep -c 0x07b0) vmxnet3 NICs," \
	"IOMMU groups: $(ls /sys/kernel/iommu_groups 2>/dev/null | wc -l)," \
	"DMAR in ACPI: $(ls /sys/firmware/acpi/tables/DMAR >/dev/null 2>&1 && echo yes || echo no)"

ifname_of() {
	for d in /sys/class/net/*; do
		[ "$(cat "$d/address")" = "$1" ] && { basename "$d"; return 0; }
	done
	return 1
}

# binding_json: `netmemctl show --json` (all bindings of this netns).
has_binding() { $CLI show --json 2>/dev/null | grep -q '"id"'; }

# json_get FILE KEY: a top-level number of a one-line JSON object.
json_get() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# --- modules: netmem, then the patched driver (never the in-tree one) ---
if grep -q '^vmxnet3 ' /proc/modules; then
	nok "no vmxnet3 module loaded before ours"; cat /proc/modules | sed 's/^/# /'
else
	ok "no vmxnet3 module loaded before ours"
fi
own_netmem=0
if grep -q '^netmem ' /proc/modules; then
	ok "netmem.ko already loaded"
else
	check "insmod netmem.ko" insmod "$M/netmem.ko" && own_netmem=1
fi
check "insmod the patched vmxnet3.ko ($KO)" insmod "$KO"
check "the loaded vmxnet3 is the patched one (vmxnet3_rq_devmem_bound in [vmxnet3])" \
	grep -qE ' vmxnet3_rq_devmem_bound[[:space:]]+\[vmxnet3\]$' /proc/kallsyms
wait_for 20 ifname_of $TXMAC
rx=$(ifname_of $RXMAC) || rx=""
tx=$(ifname_of $TXMAC) || tx=""
if [ -n "$rx" ] && [ -n "$tx" ]; then
	ok "two vmxnet3 interfaces: receiver $rx, sender $tx"
else
	nok "two vmxnet3 interfaces (receiver '$rx', sender '$tx')"; ip -o link | sed 's/^/# /'
	tap_done; exit 1
fi

# --- topology: sender in netns snd, static neighbours, UDP only ---
setup() {
	ip netns add snd &&
	ip link set "$tx" netns snd &&
	sysctl -qw net.ipv6.conf.all.disable_ipv6=1 &&
	$S sysctl -qw net.ipv6.conf.all.disable_ipv6=1 &&
	ip addr add $IPR/24 dev "$rx" && ip link set "$rx" up &&
	$S ip link set lo up && $S ip addr add $IPS/24 dev "$tx" && $S ip link set "$tx" up &&
	ip neigh replace $IPS lladdr $TXMAC dev "$rx" nud permanent &&
	$S ip neigh replace $IPR lladdr $RXMAC dev "$tx" nud permanent &&
	wait_for 20 grep -qx 1 "/sys/class/net/$rx/carrier" &&
	wait_for 20 $S grep -qx 1 "/sys/class/net/$tx/carrier"
}
check "sender $tx in netns snd, static neighbours, both links up" setup
echo "# rings of $rx: $($RINGS "$rx" 2>&1)"

# sink PORT NAME [COUNT [SIZE]]: COUNT (N) verified datagrams of SIZE bytes on an ordinary
# UDP socket (the page path).
sink() {
	$CLI sink --port "$1" --frames "${3:-$N}" --timeout 180 --json >"$out/$2.json" 2>"$out/$2.err" &
	sp=$!
	sleep 1
	$S $CLI send --dst $IPR --port "$1" --count "${3:-$N}" --size "${4:-$SIZE}" --rate "$RATE" \
		--json >"$out/send-$2.json" 2>>"$out/$2.err"
	wait $sp
}
if sink 9100 pages-before; then
	ok "page path: $N datagrams sent from $tx verified by a UDP socket on $rx ($(cat "$out/pages-before.json"))"
else
	nok "page path before any binding"; diag "$out/pages-before.err"; diag "$out/pages-before.json"
	ip -s link show "$rx" | sed 's/^/# /'
fi

# --- binding refusals before traffic ---
# Default rings (1024 + 512 buffers) need more than a 4 MiB udmabuf's 1024 chunks.
refuse "bind a 4 MiB udmabuf to queue 0 with the default rings (too few chunks to fill them)" \
	ENOBUFS $CLI bind --ifname "$rx" --queue 0 --udmabuf 4M --for 0
check "no binding left after the refusal" sh -c "! $CLI show --json | grep -q '\"id\"'"
check "queue 0 still receives into pages after the refused bind" sink 9101 pages-refused
check "shrink the rings to 256 + 128 buffers" $RINGS "$rx" rx 256 rx-jumbo 128

# --- devmem: every byte of N frames verified in the memfd ---
$CLI recv --ifname "$rx" --queue 0 --udmabuf 4M --verify --port 9001 --frames "$DEVN" \
	--timeout 300 --json -q >"$out/devmem.json" 2>"$out/devmem.err" &
recv=$!
if wait_for 60 has_binding; then
	ok "bound a 4 MiB udmabuf to $rx queue 0 through netlink"
	$CLI show | sed 's/^/# /'
else
	nok "bound a 4 MiB udmabuf to $rx queue 0 through netlink"; diag "$out/devmem.err"
fi
if ip link set dev "$rx" mtu 1400 >"$tap_log" 2>&1; then
	nok "MTU change while queue 0 is bound (accepted)"
elif grep -q "resource busy" "$tap_log"; then
	ok "MTU change while queue 0 is bound: $(tail -n1 "$tap_log") [EBUSY]"
else
	nok "MTU change while queue 0 is bound (wanted EBUSY)"; diag "$tap_log"
fi
refuse "ring size change while queue 0 is bound" EBUSY $RINGS "$rx" rx 512
$S $CLI send --dst $IPR --port 9001 --count "$DEVN" --size "$SIZE" --rate "$RATE" \
	--json >"$out/send-devmem.json" 2>"$out/send-devmem.err"
wait $recv
rc=$?
echo "# send: $(cat "$out/send-devmem.json" 2>/dev/null)"
if [ "$rc" = 0 ] && [ "$(json_get "$out/devmem.json" verified)" = "$DEVN" ] &&
	[ "$(json_get "$out/devmem.json" bad)" = 0 ]; then
	ok "devmem: $DEVN frames of $SIZE-byte UDP payload received into the udmabuf, every byte verified in the memfd"
else
	nok "devmem: $DEVN frames received into the udmabuf and verified (recv exit $rc)"; diag "$out/devmem.err"
fi
python3 - "$out/devmem.json" <<'PY' | sed 's/^/# /'
import json, sys
d = json.load(open(sys.argv[1]))
b = d.pop("binding", None) or {}
print("recv:", json.dumps(d))
print("binding at unbind:", json.dumps(b))
PY
check "no binding left after recv exited" sh -c "! $CLI show --json | grep -q '\"id\"'"

# --- the same queue back on pages after unbind ---
check "ring sizes change again once unbound (back to 1024 + 512)" $RINGS "$rx" rx 1024 rx-jumbo 512
if sink 9001 pages-after; then
	ok "after unbind, queue 0 receives into pages again: $N datagrams verified by a UDP socket on port 9001"
else
	nok "pages after unbind"; diag "$out/pages-after.err"; diag "$out/pages-after.json"
	ip -s link show "$rx" | sed 's/^/# /'
fi

# --- jumbo frames on pages: head page + body pages of ring 1 (queues re-created) ---
jumbo() {
	ip link set dev "$rx" mtu 9000 && $S ip link set dev "$tx" mtu 9000 &&
	wait_for 20 grep -qx 1 "/sys/class/net/$rx/carrier" &&
	sink 9102 pages-jumbo $((N / 4)) 8000
}
if jumbo; then
	ok "MTU 9000 (rx queues re-created and re-registered): $((N / 4)) datagrams of 8000 bytes, each a head page and body pages, verified by a UDP socket"
else
	nok "jumbo frames on pages"; diag "$out/pages-jumbo.err"; diag "$out/pages-jumbo.json"
	ip -s link show "$rx" | sed 's/^/# /'
fi

# --- rmmod of the driver with a binding live ---
$CLI bind --ifname "$rx" --queue 0 --udmabuf 16M >"$out/hold.out" 2>"$out/hold.err" &
hold=$!
if wait_for 60 has_binding; then
	ok "a 16 MiB udmabuf bound to queue 0 with the default rings at MTU 9000 (held by pid $hold)"
else
	nok "a 16 MiB udmabuf bound to queue 0 with the default rings at MTU 9000"; diag "$out/hold.err"
fi
# 50 jumbo frames (head + body buffers: a devmem frame must fit one, they are dropped), then
# 200 that fit; nobody reads them: they stay completed in the binding.
completed() {
	$CLI show --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["chunks-completed"])'
}
completed_ge() { [ "$(completed 2>/dev/null || echo 0)" -ge "$1" ]; }
$S $CLI send --dst $IPR --port 9001 --count 50 --size 8000 --rate "$RATE" >/dev/null 2>&1
$S $CLI send --dst $IPR --port 9001 --count 200 --size "$SIZE" --rate "$RATE" >/dev/null 2>&1
wait_for 30 completed_ge 200
sleep 2
c=$(completed 2>/dev/null)
if [ "$c" = 200 ]; then
	ok "devmem at MTU 9000: 50 frames longer than a buffer dropped, 200 that fit completed (chunks-completed $c)"
else
	nok "devmem at MTU 9000: 50 long frames dropped, 200 completed (chunks-completed '$c')"
	$CLI show | sed 's/^/# /'
fi
ip netns del snd
check "rmmod vmxnet3 with the binding live" rmmod vmxnet3
echo "# bindings after rmmod: $($CLI show --json 2>&1 | tr -d '\n' | cut -c1-400)"
kill "$hold" 2>/dev/null
wait "$hold" 2>/dev/null
check "no binding left once its holder exits" sh -c "! $CLI show --json | grep -q '\"id\"'"
[ "$own_netmem" = 0 ] || check "rmmod netmem" rmmod netmem

# DMA-API debug watched every map, sync and unmap of both NICs (page_pool pages, rings,
# the udmabuf's sg_table) and checked at driver release that nothing stayed mapped.
dd=/sys/kernel/debug/dma-api
if [ -r $dd/error_count ]; then
	if [ "$(cat $dd/disabled)" = N ] && [ "$(cat $dd/error_count)" = 0 ]; then
		ok "DMA-API debug active and quiet (error_count 0, $(cat $dd/nr_total_entries) entries)"
	else
		nok "DMA-API debug: disabled=$(cat $dd/disabled) error_count=$(cat $dd/error_count)"
	fi
else
	echo "# no $dd (kernel without DMA_API_DEBUG)"
fi
tap_done
