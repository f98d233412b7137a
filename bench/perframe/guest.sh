#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest half of bench/vmxnet3-perframe.sh (one vCPU, bench kernel, icount):
#
#   sh bench/perframe/guest.sh DIR
#
# DIR (on the shared repo) holds netmem.ko, the in-tree vmxnet3.ko, the patched copy built
# as vmxnet3_nmx.ko and nmx_napitsc.ko; results go there (phases.txt, samples.txt, ...);
# DIR/ctl drives the host's generator (bench/perframe/gen.py): run, pause, stop.
#
# NIC A (PCI 00:10.0) is bound to the in-tree vmxnet3 and NIC B (00:11.0) to vmxnet3_nmx
# through driver_override, both on one QEMU hub fed by the host: every frame reaches both.
# Phases (NMX_PF_FRAMES measured frames per NIC after NMX_PF_WARMUP warm-up frames):
#   page    A unpatched, B patched, nothing bound anywhere (netmem's static key off)
#   devmem  B's queue 0 bound to a 16 MiB udmabuf (netmemctl recv reads and releases),
#           A unpatched alongside (static key on)
set -eu
d=${1:?usage: guest.sh DIR}
N=${NMX_PF_FRAMES:-20000}
WARM=${NMX_PF_WARMUP:-2000}
CLI=target/release/netmemctl
dbg=/sys/kernel/debug/nmx_napitsc
A=0000:00:10.0
B=0000:00:11.0
ctl() { echo "$1" >"$d/ctl"; }
trap 'ctl stop' EXIT
ctl pause

echo "# perframe: $(uname -r), $(grep -c ^processor /proc/cpuinfo) vCPU, clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
# Nothing may transmit onto the hub (the other NIC would receive it): no IPv6, no address.
sysctl -qw net.ipv6.conf.all.disable_ipv6=1
sysctl -qw net.ipv6.conf.default.disable_ipv6=1
echo vmxnet3 >/sys/bus/pci/devices/$A/driver_override
echo vmxnet3_nmx >/sys/bus/pci/devices/$B/driver_override
insmod "$d/netmem.ko"
insmod "$d/vmxnet3.ko"
insmod "$d/vmxnet3_nmx.ko"
insmod "$d/nmx_napitsc.ko"
drv() { basename "$(readlink "/sys/bus/pci/devices/$1/driver")"; }
[ "$(drv $A)" = vmxnet3 ] && [ "$(drv $B)" = vmxnet3_nmx ] ||
	{ echo "# wrong drivers: A $(drv $A), B $(drv $B)"; exit 1; }
# The patched one is the one with netmem's call sites.
grep -qE ' vmxnet3_rq_devmem_bound[[:space:]]+\[vmxnet3_nmx\]$' /proc/kallsyms
! grep -qE ' vmxnet3_rq_devmem_bound[[:space:]]+\[vmxnet3\]$' /proc/kallsyms
ifA=$(ls /sys/bus/pci/devices/$A/net)
ifB=$(ls /sys/bus/pci/devices/$B/net)
echo "# A: $ifA on $(drv $A), B: $ifB on $(drv $B)"
for i in $ifA $ifB; do
	ip link set dev "$i" arp off
	ip link set dev "$i" up
done
up() { [ "$(cat /sys/class/net/$ifA/carrier)" = 1 ] && [ "$(cat /sys/class/net/$ifB/carrier)" = 1 ]; }
waitfor() { # waitfor SECONDS CMD...: until CMD succeeds
	t=$1; shift
	while ! "$@"; do
		t=$((t - 1)); [ "$t" -gt 0 ] || return 1
		sleep 1
	done
}
waitfor 30 up
echo "attach $ifA" >$dbg/ctl
echo "attach $ifB" >$dbg/ctl
cat $dbg/stats | sed 's/^/# napitsc: /'
# One TSC tick per instruction? 2 x 100000 instructions between the wrapper's TSC reads.
cat $dbg/calib >"$d/calib.txt"
echo "# napitsc $(cat "$d/calib.txt")"

# ntstat IF FIELD: a field of nmx_napitsc's stats line for IF (2 polls, 3 frames, 5 samples).
ntstat() { awk -v i="$1" -v f="$2" '$1 == i { print $f }' $dbg/stats; }
nic() { cat "/sys/class/net/$1/statistics/$2"; }
printf 'A %s vmxnet3\nB %s vmxnet3_nmx\n' "$ifA" "$ifB" >"$d/nics.txt"
: >"$d/phases.txt"
# phase NAME: run the generator until both NICs polled WARM + N more frames, then pause.
# phases.txt: NAME IFNAME first-sample end-sample rx_packets-delta rx_dropped-delta
phase() {
	sA=$(ntstat $ifA 5) fA=$(ntstat $ifA 3) pA=$(nic $ifA rx_packets) hA=$(nic $ifA rx_dropped)
	sB=$(ntstat $ifB 5) fB=$(ntstat $ifB 3) pB=$(nic $ifB rx_packets) hB=$(nic $ifB rx_dropped)
	ctl run
	enough() {
		[ $(($(ntstat $ifA 3) - fA)) -ge $((WARM + N)) ] && [ $(($(ntstat $ifB 3) - fB)) -ge $((WARM + N)) ]
	}
	waitfor 900 enough || { echo "# phase $1: frames did not arrive"; cat $dbg/stats; exit 1; }
	ctl pause
	sleep 2
	echo "$1 $ifA $sA $(ntstat $ifA 5) $(($(nic $ifA rx_packets) - pA)) $(($(nic $ifA rx_dropped) - hA))" >>"$d/phases.txt"
	echo "$1 $ifB $sB $(ntstat $ifB 5) $(($(nic $ifB rx_packets) - pB)) $(($(nic $ifB rx_dropped) - hB))" >>"$d/phases.txt"
	echo "# phase $1 done: $(tr '\n' ';' <$dbg/stats)"
}
# The page path: nothing bound anywhere.
phase page

# The devmem path: B's queue 0 on a 16 MiB udmabuf (4096 chunks: the default rings hold
# 1536), every record read and released by netmemctl.
$CLI recv --ifname "$ifB" --queue 0 --udmabuf 16M --timeout 1200 --json -q \
	>"$d/devmem-recv.json" 2>"$d/devmem-recv.err" &
recv=$!
bound() { $CLI show --json 2>/dev/null | grep -q '"id"'; }
waitfor 60 bound
waitfor 30 up
sleep 1
phase devmem
kill -INT $recv
wait $recv || { echo "# netmemctl recv failed"; cat "$d/devmem-recv.err"; exit 1; }
ctl stop
# Per-poll samples of both phases, then undo everything (a leak or a stuck binding fails).
cat $dbg/samples >"$d/samples.txt"
echo "detach $ifA" >$dbg/ctl
echo "detach $ifB" >$dbg/ctl
rmmod nmx_napitsc
rmmod vmxnet3_nmx
rmmod vmxnet3
rmmod netmem
echo "# perframe guest done"
