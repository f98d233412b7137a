#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build netmem's kernel modules for one kernel flavour.
#
#   ci/modules.sh test|bench|race [make args...]
#
# Modules built against the debug, bench and race (KCSAN) kernels differ, so each flavour
# builds in its own copy of the module sources, out/<flavour>/ (mtimes kept: rebuilds stay
# incremental). NMX_MODULES_OUT overrides the output directory.
set -euo pipefail
flavour=${1:?usage: ci/modules.sh test|bench|race}
shift
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
kdir=$("$here/kernel.sh" "$flavour")
out=${NMX_MODULES_OUT:-$repo/out/$flavour}
export PATH=$HOME/.cargo/bin:$PATH

mkdir -p "$out"
# NMX_MODULES_EXCLUDE="bench ..." leaves module directories out (work in progress elsewhere).
excl=()
for d in ${NMX_MODULES_EXCLUDE:-}; do excl+=(--exclude="$d"); rm -rf "${out:?}/$d"; done
(cd "$repo" && tar -c --exclude=target --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' "${excl[@]}" \
	Kbuild netmem/include netmem/*.rs devmem/*.rs devmem/core/src shim tests bench) |
	tar -x -C "$out"
# The test and race flavours get netmem's data-path test hooks (Kbuild: NMX_TESTING).
testing=()
case $flavour in test|race) testing=(NMX_TESTING=1) ;; esac
echo "[modules $flavour] make -C $kdir M=$out ${testing[*]}" >&2
make -s -C "$kdir" M="$out" LLVM=1 -j"$(nproc)" "${testing[@]}" "$@" modules
echo "$out"
