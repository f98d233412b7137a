#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build netmem-patched copies of mlx5_core and gve as external modules; print each module's
# directory (one line per driver, in the order asked).
#
#   ci/drivers-mlx5-gve.sh [--kernel BUILD_DIR] [--src-only] gve|mlx5|all test|bench
#
# Same conventions as ci/drivers.sh (vmxnet3): the pristine driver comes from the kernel
# source ci/kernel.sh unpacked ($NETMEM_CACHE/src/linux-source-6.12), the series
# drivers/DRIVER/patches/*.patch is applied in order with `patch -p1`, and the copy is built
# against the flavour's kernel (`ci/kernel.sh FLAVOUR`, or --kernel) with netmem's headers
# (-I netmem/include) and netmem's Module.symvers (out/FLAVOUR/Module.symvers from
# ci/modules.sh; NMX_MODULES_OUT overrides the directory).
#
# Layouts (patch paths are relative to the copy's root):
#   gve   drivers/net/ethernet/google/gve/*            -> ROOT/            (gve.ko)
#   mlx5  drivers/net/ethernet/mellanox/mlx5/core/     -> ROOT/mlx5/core/  (mlx5_core.ko)
#         drivers/net/ethernet/mellanox/mlxfw/mlxfw.h  -> ROOT/mlxfw/      (fw.c includes it)
# mlx5_core keeps its name (mlx5_init() WARNs otherwise and the auxiliary Ethernet driver
# never binds): never load the in-tree module in the same guest. Same for gve.
#
# Each build is cached in $NETMEM_CACHE/drivers/DRIVER-FLAVOUR-HASH/, HASH covering the
# series, netmem's headers, the kernel build directory and this script: a warm run
# rebuilds nothing. --src-only applies the series to a fresh copy (no build) and prints
# the copy's root; the audit (ci/driver-audit.sh) reads that.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${NETMEM_CACHE:-/var/cache/netmem}
export PATH=$HOME/.cargo/bin:$PATH
kdir="" src_only=0
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kdir=$2; shift 2 ;;
	--src-only) src_only=1; shift ;;
	*) break ;;
	esac
done
usage="usage: ci/drivers-mlx5-gve.sh [--kernel BUILD_DIR] [--src-only] gve|mlx5|all test|bench"
what=${1:?$usage}
flavour=${2:-test}
case "$what" in
all) drivers=(gve mlx5) ;;
gve|mlx5) drivers=("$what") ;;
*) echo "$usage" >&2; exit 2 ;;
esac
ksrc=$cache/src/linux-source-6.12

# prepare DRIVER ROOT: pristine copy with the series applied.
prepare() {
	local drv=$1 root=$2 p
	rm -rf "$root"
	mkdir -p "$root"
	case "$drv" in
	gve) cp "$ksrc"/drivers/net/ethernet/google/gve/* "$root"/ ;;
	mlx5)
		mkdir -p "$root/mlx5" "$root/mlxfw"
		cp -r "$ksrc"/drivers/net/ethernet/mellanox/mlx5/core "$root/mlx5/"
		cp "$ksrc"/drivers/net/ethernet/mellanox/mlxfw/mlxfw.h "$root/mlxfw/" ;;
	esac
	for p in "$repo/drivers/$drv/patches"/*.patch; do
		echo "[drivers $drv] applying $(basename "$p")" >&2
		patch -p1 -d "$root" --forward --batch --quiet <"$p" >&2 ||
			{ echo "[drivers $drv] $(basename "$p") does not apply" >&2; return 1; }
	done
}

[ -d "$ksrc" ] || { echo "[drivers] no pristine source at $ksrc (ci/kernel.sh unpacks it)" >&2; exit 2; }
for drv in "${drivers[@]}"; do
	ls "$repo/drivers/$drv/patches"/*.patch >/dev/null 2>&1 ||
		{ echo "[drivers $drv] no patches in drivers/$drv/patches" >&2; exit 2; }
done

if [ "$src_only" = 1 ]; then
	for drv in "${drivers[@]}"; do
		root=$(mktemp -d "${TMPDIR:-/tmp}/nmx-$drv-src.XXXXXX")
		prepare "$drv" "$root"
		echo "$root"
	done
	exit 0
fi

[ -n "$kdir" ] || kdir=$("$here/kernel.sh" "$flavour")
[ -f "$kdir/Module.symvers" ] || { echo "[drivers] no kernel build in $kdir" >&2; exit 2; }
mods=${NMX_MODULES_OUT:-$repo/out/$flavour}
symvers=$mods/Module.symvers
[ -f "$symvers" ] || { echo "[drivers] no $symvers: run ci/modules.sh $flavour first" >&2; exit 2; }

for drv in "${drivers[@]}"; do
	log() { echo "[drivers $drv $flavour] $*" >&2; }
	hash=$( (cat "$repo/drivers/$drv/patches"/*.patch; cat "$repo"/netmem/include/nmx/*.h
		echo "$kdir"; cat "$0") | sha256sum | cut -c1-12)
	out=$cache/drivers/$drv-$flavour-$hash
	case "$drv" in
	gve) mdir=$out; ko=gve.ko ;;
	mlx5) mdir=$out/mlx5/core; ko=mlx5_core.ko ;;
	esac
	mkdir -p "$cache/drivers"
	exec 9>"$out.lock"
	flock 9
	if [ -f "$out/.netmem-built" ]; then
		log "cached: $mdir/$ko"
		echo "$mdir"
		exec 9>&-
		continue
	fi
	prepare "$drv" "$out"
	start=$(date +%s)
	log "make -C $kdir M=$mdir (KBUILD_EXTRA_SYMBOLS=$symvers)"
	make -s -C "$kdir" M="$mdir" LLVM=1 -j"${NETMEM_JOBS:-$(nproc)}" \
		KBUILD_EXTRA_SYMBOLS="$symvers" ccflags-y="-I$repo/netmem/include" modules >&2
	[ -f "$mdir/$ko" ] || { log "no $ko after the build"; exit 1; }
	touch "$out/.netmem-built"
	log "built in $(( $(date +%s) - start )) s: $mdir/$ko"
	echo "$mdir"
	exec 9>&-
done
