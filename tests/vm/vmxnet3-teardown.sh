#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The teardown-order matrix (tests/vm/teardown_matrix.py) on the patched vmxnet3 with real
# device DMA: boots the debug kernel with the two vmxnet3 NICs of tests/vm/vmxnet3.sh
# (receiver 52:54:00:6e:6d:01 bound on queue 0, sender ...:02 in a netns) and runs the
# orderings there; R is rmmod vmxnet3 (a PCI driver: DMA-API debug also checks at driver
# release that nothing stays mapped).
#
#   tests/vm/vmxnet3-teardown.sh [ORDERINGS]     (host; default cover3, as NMX_TEARDOWN)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
kdir=$(ci/kernel.sh test)
mods=${NMX_MODULES_OUT:-$repo/out/test}
[ -f "$mods/netmem.ko" ] || { echo "no $mods/netmem.ko: run ci/modules.sh test" >&2; exit 2; }
ko=$(ci/drivers.sh --kernel "$kdir" vmxnet3 test)
NMX_VM_QEMU_ARGS=$(tests/vm/vmxnet3.sh qemu-args) ci/vm.sh --kernel "$kdir" \
	--timeout "${NMX_VM_TIMEOUT:-1500}" --log "$repo/out/logs/vmxnet3-teardown.log" -- \
	python3 tests/vm/teardown_matrix.py "$mods" --driver vmxnet3 --ko "$ko" --select "${1:-cover3}"
