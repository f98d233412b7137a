#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest half (TAP): the netmem-patched gve and mlx5_core load, link against netmem, and unload.
#
#   ci/vm.sh --kernel $(ci/kernel.sh test) -- sh tests/vm/drivers-load.sh \
#       NETMEM_DIR DRIVER_DIR... [--dep DEP.ko]...
#
# NETMEM_DIR holds netmem.ko (out/test); each DRIVER_DIR holds one patched module (gve.ko or
# mlx5_core.ko, as printed by ci/drivers-mlx5-gve.sh all test); --dep names an in-kernel
# module a driver needs that the test kernel builds as a module (mlx5_core: dimlib.ko, in
# the kernel build tree under lib/dim/). Module paths are host paths: the guest sees the
# host's root read-only, so the cache under /var/cache/netmem is readable as is.
#
# There is no gve or ConnectX device in the guest, so nothing probes: this proves the
# modules are built for this kernel, resolve every nmx_ symbol to netmem.ko, register
# their PCI/auxiliary drivers, and unload cleanly, with the debug kernel watching (ci/vm.sh
# fails the run on any splat). What only hardware proves is listed in docs/gve.md and
# docs/mlx5.md.
set +e
. tests/vm/tap.sh

M=${1:?netmem modules dir}
shift
dirs="" deps=""
while [ $# -gt 0 ]; do
	case "$1" in
	--dep) deps="$deps $2"; shift 2 ;;
	*) dirs="$dirs $1"; shift ;;
	esac
done

# ko_of DIR: the one module a driver dir holds.
ko_of() {
	for k in "$1"/gve.ko "$1"/mlx5_core.ko; do
		[ -f "$k" ] && { echo "$k"; return 0; }
	done
	return 1
}
modname() { basename "$1" .ko; }
loaded() { grep -q "^$1 " /proc/modules; }

# No in-tree copy may be loaded: the patched modules keep the in-tree names.
for n in gve mlx5_core; do
	if loaded "$n"; then nok "$n already loaded before the test (in-tree module?)"; fi
done

here_netmem=0
if ! loaded netmem; then
	check "insmod netmem.ko" insmod "$M/netmem.ko"
	here_netmem=1
fi

for d in $deps; do
	n=$(modname "$d")
	if loaded "$n"; then
		ok "dependency $n already loaded"
	else
		check "insmod dependency $n" insmod "$d"
	fi
done

dmesg -c >/dev/null 2>&1
# A marker proves the log checks below read a live kernel log.
echo "nmx-drivers-load: loading patched drivers" >/dev/kmsg
kos=""
for d in $dirs; do
	ko=$(ko_of "$d") || { nok "no gve.ko or mlx5_core.ko in $d"; continue; }
	kos="$kos $ko"
	n=$(modname "$ko")
	# What the module imports from netmem, read from the file itself.
	nm -u "$ko" 2>/dev/null | awk '$2 ~ /^nmx_/ { print $2 }' | sort -u >"/tmp/nmx-imports.$n"
	cnt=$(wc -l <"/tmp/nmx-imports.$n")
	if [ "$cnt" -gt 0 ]; then ok "$n imports $cnt nmx_ symbols"; else nok "$n imports no nmx_ symbol"; fi
	case " $(modinfo -F depends "$ko" 2>/dev/null | tr , ' ') " in
	*" netmem "*) ok "$n: modinfo depends lists netmem" ;;
	*) nok "$n: modinfo depends lacks netmem ($(modinfo -F depends "$ko" 2>/dev/null))" ;;
	esac
	vm=$(modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1)
	if [ "$vm" = "$(uname -r)" ]; then ok "$n: vermagic $vm"; else nok "$n: vermagic $vm, kernel $(uname -r)"; fi

	check "insmod $ko" insmod "$ko"
	if loaded "$n"; then ok "$n listed in /proc/modules"; else nok "$n not in /proc/modules"; fi

	# Every imported nmx_ symbol resolves to netmem.ko.
	miss=0
	: >"$tap_log.x"
	while read -r s; do
		if ! grep -qE "^[0-9a-f]+ [A-Za-z] $s[[:space:]]+\[netmem\]" /proc/kallsyms; then
			echo "$s not found as a netmem symbol in /proc/kallsyms" >>"$tap_log.x"
			miss=$((miss + 1))
		fi
	done <"/tmp/nmx-imports.$n"
	if [ "$miss" = 0 ]; then ok "$n: all $cnt nmx_ imports resolve to [netmem] in /proc/kallsyms"
	else nok "$n: $miss nmx_ imports unresolved"; diag "$tap_log.x"; fi
	case "$(awk -v m=netmem '$1 == m { print $4 }' /proc/modules)" in
	*"$n"*) ok "netmem used by $n" ;;
	*) nok "netmem not used by $n: $(awk -v m=netmem '$1 == m { print $4 }' /proc/modules)" ;;
	esac
done

# What each driver registered with no device present.
for ko in $kos; do
	case "$(modname "$ko")" in
	gve)
		if [ -d /sys/bus/pci/drivers/gve ]; then ok "gve: PCI driver registered, no device bound"
		else nok "gve: no /sys/bus/pci/drivers/gve"; fi ;;
	mlx5_core)
		if [ -d /sys/bus/pci/drivers/mlx5_core ]; then ok "mlx5_core: PCI driver registered"
		else nok "mlx5_core: no /sys/bus/pci/drivers/mlx5_core"; fi
		if [ -d /sys/bus/auxiliary/drivers/mlx5_core.eth ]; then
			ok "mlx5_core: auxiliary Ethernet driver mlx5_core.eth registered"
		else
			nok "mlx5_core: no auxiliary driver mlx5_core.eth"
		fi ;;
	esac
done

# A load-time WARN (mlx5_init() warns when the module is not named mlx5_core) or error.
dmesg >"$tap_log.d" 2>&1
if ! grep -q 'nmx-drivers-load: loading' "$tap_log.d"; then nok "kernel log readable (marker missing)"
elif grep -qE 'WARNING|BUG|Call Trace' "$tap_log.d"; then nok "kernel log clean after loading"; diag "$tap_log.d"
else ok "kernel log clean after loading ($(wc -l <"$tap_log.d") lines, marker included)"; diag "$tap_log.d"; fi

# Unload in reverse order, then what this test loaded.
rev=""
for ko in $kos; do rev="$ko $rev"; done
for ko in $rev; do
	n=$(modname "$ko")
	check "rmmod $n" rmmod "$n"
	if loaded "$n"; then nok "$n still loaded"; else ok "$n gone"; fi
done
for d in $deps; do
	n=$(modname "$d")
	check "rmmod dependency $n" rmmod "$n"
done
if [ "$here_netmem" = 1 ]; then
	check "rmmod netmem" rmmod netmem
fi
dmesg >"$tap_log.d" 2>&1
if grep -qE 'WARNING|BUG|Call Trace|leak' "$tap_log.d"; then nok "kernel log clean after unloading"; diag "$tap_log.d"
else ok "kernel log clean after unloading"; fi
rm -f /tmp/nmx-imports.*
tap_done
