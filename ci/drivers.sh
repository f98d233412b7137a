#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build a netmem-patched copy of an in-tree driver as an external module; print its .ko path.
#
#   ci/drivers.sh [--kernel BUILD_DIR] [--name NAME] DRIVER FLAVOUR
#                                             (DRIVER: vmxnet3; FLAVOUR: test|bench|race)
#
# Copies the pristine driver from the kernel source ci/kernel.sh unpacked
# ($NETMEM_CACHE/src/linux-source-6.12/drivers/net/DRIVER), applies the series
# drivers/DRIVER/patches/*.patch in order with `patch -p1` (paths are relative to the
# driver's directory), and builds it against the flavour's kernel (`ci/kernel.sh FLAVOUR`,
# or --kernel) with netmem's headers (-I netmem/include) and netmem's Module.symvers
# (out/FLAVOUR/Module.symvers from ci/modules.sh; NMX_MODULES_OUT overrides the directory).
#
# The build is cached in $NETMEM_CACHE/drivers/DRIVER-FLAVOUR-HASH/, HASH covering the
# series, netmem's headers, the kernel build directory, netmem's Module.symvers and this
# script: a warm run rebuilds nothing. The module keeps its in-tree name (vmxnet3.ko, PCI driver "vmxnet3"):
# never load the in-tree module in the same guest.
# --name NAME builds the same patched source as NAME.ko with PCI driver name NAME instead
# (the series untouched: the copy's driver-name string is rewritten and a Kbuild names the
# module), so it can sit next to the in-tree module, each NIC bound to one of them through
# driver_override (bench/vmxnet3-perframe.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${NETMEM_CACHE:-/var/cache/netmem}
export PATH=$HOME/.cargo/bin:$PATH
kdir="" name=""
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kdir=$2; shift 2 ;;
	--name) name=$2; shift 2 ;;
	*) break ;;
	esac
done
usage="usage: ci/drivers.sh [--kernel BUILD_DIR] [--name NAME] vmxnet3 test|bench|race"
drv=${1:?$usage}
flavour=${2:?$usage}

log() { echo "[drivers $drv $flavour] $*" >&2; }

case "$drv" in
vmxnet3) srcrel=drivers/net/vmxnet3 ;;
*) log "unknown driver (known: vmxnet3)"; exit 2 ;;
esac
series=$repo/drivers/$drv/patches
ls "$series"/*.patch >/dev/null 2>&1 || { log "no patches in $series"; exit 2; }

[ -n "$kdir" ] || kdir=$("$here/kernel.sh" "$flavour")
[ -f "$kdir/Module.symvers" ] || { log "no kernel build in $kdir"; exit 2; }
src=$cache/src/linux-source-6.12/$srcrel
[ -d "$src" ] || { log "no pristine source at $src (ci/kernel.sh unpacks it)"; exit 2; }
mods=${NMX_MODULES_OUT:-$repo/out/$flavour}
symvers=$mods/Module.symvers
[ -f "$symvers" ] || { log "no $symvers: run ci/modules.sh $flavour first"; exit 2; }

[ -n "$name" ] || name=$drv
case "$name" in *[!a-z0-9_]*) log "--name: [a-z0-9_] only"; exit 2 ;; esac
hash=$( (cat "$series"/*.patch; cat "$repo"/netmem/include/nmx/*.h; echo "$kdir $name"; cat "$0" "$symvers") |
	sha256sum | cut -c1-12)
out=$cache/drivers/$name-$flavour-$hash
mkdir -p "$cache/drivers"
exec 9>"$out.lock"
flock 9

if [ -f "$out/.netmem-built" ]; then
	log "cached: $out/$drv.ko"
	echo "$out/$name.ko"
	exit 0
fi

rm -rf "$out"
mkdir -p "$out"
cp "$src"/* "$out"/
for p in "$series"/*.patch; do
	log "applying $(basename "$p")"
	patch -p1 -d "$out" --forward --batch --quiet <"$p" >&2 ||
		{ log "$(basename "$p") does not apply to $src"; exit 1; }
done
if [ "$name" != "$drv" ]; then
	# vmxnet3_drv.c: `char vmxnet3_driver_name[] = "vmxnet3";` names the PCI driver (and
	# ethtool's driver field). Kbuild wins over the copied Makefile.
	sed -i "s/^char vmxnet3_driver_name\[\] = \"vmxnet3\";\$/char vmxnet3_driver_name[] = \"$name\";/" \
		"$out/vmxnet3_drv.c"
	grep -q "^char vmxnet3_driver_name\[\] = \"$name\";\$" "$out/vmxnet3_drv.c" ||
		{ log "cannot rename the PCI driver in vmxnet3_drv.c"; exit 1; }
	printf 'obj-m += %s.o\n%s-y := vmxnet3_drv.o vmxnet3_ethtool.o vmxnet3_xdp.o\n' "$name" "$name" >"$out/Kbuild"
fi
log "make -C $kdir M=$out (KBUILD_EXTRA_SYMBOLS=$symvers)"
make -s -C "$kdir" M="$out" LLVM=1 -j"${NETMEM_JOBS:-$(nproc)}" \
	KBUILD_EXTRA_SYMBOLS="$symvers" ccflags-y="-I$repo/netmem/include" modules >&2
touch "$out/.netmem-built"
echo "$out/$name.ko"
