#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot a netmem kernel under QEMU and run a command in it.
#
#   ci/vm.sh [--kernel BUILD_DIR] [--bench] [--timeout SEC] [--log FILE] -- CMD [ARGS...]
#
# CMD runs as root in the guest, in the repo directory, on the host's own userspace (9p,
# read-only) with the repo and a per-run directory ($NMX_RUN=/run/nmx, results) writable.
# The console streams to stdout and to --log. Fails when CMD fails, a KTAP/TAP line says
# "not ok", the guest does not finish in time, or the kernel log shows a splat.
#
# Accelerator: TCG by default (KVM on this machine kind cannot boot a Linux guest); set
# NMX_KVM=1 on a host where it works. --bench uses one-instruction-per-tick icount, so the
# guest clock counts instructions and timings are deterministic.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
kdir="" bench=0 timeout=600 logf="" smp=2 mem=2G
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kdir=$2; shift 2 ;;
	--bench) bench=1; shift ;;
	--timeout) timeout=$2; shift 2 ;;
	--log) logf=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: ci/vm.sh [--kernel DIR] [--bench] -- CMD" >&2; exit 2; }
[ -n "$kdir" ] || kdir=$("$here/kernel.sh" test)
bzimage=$kdir/arch/x86/boot/bzImage
[ -f "$bzimage" ] || { echo "vm: no kernel at $bzimage" >&2; exit 2; }

cache=${NETMEM_CACHE:-/var/cache/netmem}
initrd=$cache/initramfs-$( (sha256sum "$here/guest/init"; dpkg-query -W busybox-static) | sha256sum | cut -c1-12).cpio.gz
if [ ! -f "$initrd" ]; then
	stage=$(mktemp -d)
	mkdir -p "$stage"/{bin,dev,proc,sys,host}
	cp /bin/busybox "$stage/bin/busybox"
	cp "$here/guest/init" "$stage/init"
	chmod +x "$stage/init"
	(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$stage"
fi

run=$(mktemp -d /tmp/nmx-vm.XXXXXX)
trap 'rm -rf "$run"' EXIT
{
	echo "set -e"
	echo "export NMX_KSRC=$cache/src/linux-source-6.12"
	printf '%q ' "$@"
	echo
} > "$run/cmd.sh"
[ -n "$logf" ] || logf=$run/console.log
mkdir -p "$(dirname "$logf")"

accel=(-accel tcg,thread=multi -cpu max)
if [ "$bench" = 1 ]; then
	# icount needs single-threaded TCG; vCPUs then run round-robin, still two of them.
	accel=(-accel tcg -cpu max -icount shift=0,sleep=off)
fi
[ "${NMX_KVM:-0}" = 1 ] && accel=(-accel kvm -cpu host)

cmdline="console=ttyS0 panic=-1 tsc=reliable nmx.repo=$repo udmabuf.size_limit_mb=1024 loglevel=6"
echo "[vm] booting $bzimage (${accel[*]}, $smp vCPUs, $mem), timeout ${timeout}s" >&2
set +e
timeout --foreground -k 10 "$timeout" qemu-system-x86_64 -machine q35 "${accel[@]}" -smp "$smp" -m "$mem" \
	-nographic -no-reboot -kernel "$bzimage" -initrd "$initrd" -append "$cmdline" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$repo",mount_tag=repo,security_model=none \
	-virtfs local,path="$run",mount_tag=nmxrun,security_model=none \
	</dev/null 2>&1 | tee "$logf" | sed -u 's/\r$//'
qrc=${PIPESTATUS[0]}
set -e

fail=0
rc=$(sed -n 's/.*NMX-VM-RC=\([0-9]*\).*/\1/p' "$logf" | tail -n1)
if [ -z "$rc" ]; then
	echo "[vm] FAIL: guest did not finish (qemu exit $qrc; 124 means timeout)" >&2
	fail=1
elif [ "$rc" != 0 ]; then
	echo "[vm] FAIL: guest command exited $rc" >&2
	fail=1
fi
notok=$(grep -aE "^(\[[ 0-9.]+\] )?\s*not ok [0-9]+" "$logf" | grep -av '# SKIP' || true)
if [ -n "$notok" ]; then
	echo "[vm] FAIL: failing KTAP/TAP results:" >&2
	echo "$notok" >&2
	fail=1
fi
splat='BUG: |WARNING: |Oops|kernel BUG|KASAN|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|lockdep|unreferenced object|stalled pool shutdown|DMA-API: |Call Trace:|general protection fault|refcount_t: |list_add corruption|list_del corruption|INFO: task .* blocked|rcu_sched self-detected stall|RCU stall|Kernel panic'
splats=$(grep -aE "$splat" "$logf" | grep -av 'NMX-EXPECT' || true)
if [ -n "$splats" ]; then
	echo "[vm] FAIL: kernel splat in the log:" >&2
	echo "$splats" | head -n 20 >&2
	fail=1
fi
if [ -n "${NMX_VM_COPY:-}" ]; then cp -r "$run"/. "$NMX_VM_COPY"/; fi
[ "$fail" = 0 ] && echo "[vm] PASS" >&2
exit "$fail"
