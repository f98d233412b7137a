#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot a netmem kernel under QEMU and run a command in it.
#
#   ci/vm.sh [--kernel BUILD_DIR] [--bench] [--timeout SEC] [--log FILE] [--smp N]
#            [--kcsan-scope all|netmem] -- CMD [ARGS...]
#   ci/vm.sh --verdict LOG [--kcsan-scope all|netmem]   (judge an existing console log)
#   ci/vm.sh --splats LOG [--kcsan-scope all|netmem]    (only its splat lines; exit 1 if
#                                                        any: also usable in the guest on dmesg)
#
# CMD runs as root in the guest, in the repo directory, on the host's own userspace (9p,
# read-only) with the repo and a per-run directory ($NMX_RUN=/run/nmx, results) writable.
# The console streams to stdout and to --log. Fails when CMD fails, a KTAP/TAP line says
# "not ok", the guest does not finish in time, or the kernel log shows a splat.
#
# Accelerator: TCG by default (KVM on this machine kind cannot boot a Linux guest); set
# NMX_KVM=1 on a host where it works. TCG is single-threaded (NMX_TCG_THREAD=multi to
# experiment): QEMU 7.2's multi-threaded TCG panics the guest ("Oops: int3") when a static
# key is patched while another vCPU executes the patch site, and netmem flips one on every
# first bind and last unbind. Two vCPUs still interleave (round-robin), so races stay
# reachable. --bench uses one-instruction-per-tick icount, so the guest clock counts
# instructions and timings are deterministic.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
kdir="" bench=0 timeout=600 logf="" smp=2 mem=2G verdict="" splats_of="" kcsan_scope=all
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kdir=$2; shift 2 ;;
	--bench) bench=1; shift ;;
	--timeout) timeout=$2; shift 2 ;;
	--log) logf=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--kcsan-scope) kcsan_scope=$2; shift 2 ;;
	--verdict) verdict=$2; shift 2 ;;
	--splats) splats_of=$2; shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
# Splats: anything here fails the run. Deliberately broad (a new kind of report should fail
# loudly rather than pass silently); NMX-EXPECT on a line exempts it (a test that provokes
# a report on purpose says so).
splat_re='BUG: |WARNING: |Oops|kernel BUG|KASAN|UBSAN|KFENCE|possible circular locking|possible recursive locking|inconsistent lock state|lockdep is turned off|turning off the locking correctness validator|DEBUG_LOCKS_WARN_ON|unreferenced object|stalled pool shutdown|DMA-API: |Call Trace:|general protection fault|refcount_t: |list_add corruption|list_del corruption|INFO: task .* blocked|blocked for more than|rcu: INFO: |detected stalls|self-detected stall|detected expedited stalls|RCU stall|soft lockup|hard LOCKUP|Kernel panic'
# ...except dma-debug's informational notices (its errors come through WARN(), with the
# device, "[device address=...]" and a "WARNING:" line, and stay splats).
info_re='DMA-API: (dma_debug_entry pool grown to|preallocated [0-9]+ debug entries|debugging enabled by kernel config|switching off dma-debug driver filter|enable driver filter for driver)|NMX-EXPECT'
# A KCSAN report is netmem's when one of the two racing accesses is made by our code (its
# title, or the first frame of an access stack, names it), or when both racing contexts run
# our code (each access stack has a frame of ours). Ours: a frame of one of our modules
# (" func+0x1c/0x80 [netmem]"), an nmx_ symbol, or a Rust symbol of the netmem_rs crate.
# Not bare "netmem"/"devmem": 6.12's page_pool and devmem core have functions by those
# names (page_pool_put_unrefed_netmem, net_devmem_bind_dmabuf). A stack is read only down to
# its first interrupt or exception entry (asm_sysvec_*, asm_common_interrupt, asm_exc_*):
# below is whatever the interrupt happened to hit. A race inside the core between a context
# that merely called in from our code and one that did not is the core's: seen on the race
# kernel, hrtimer_try_to_cancel (napi_disable in our restart hook) against the timer
# interrupt's __hrtimer_run_queues, and hrtimer_active over our static-key flip.
netmem_re='\[(netmem|nmx_[a-z0-9_]+)\]|nmx_|netmem_rs|netmem::'

# kcsan_filter LOG: the log with each KCSAN report (from "BUG: KCSAN:" to the "====="
# closing it) that is not netmem's (rule above) cut out; their titles go to stderr. Used
# with --kcsan-scope netmem: the race kernel instruments the whole core, whose races (every
# run here: hrtimer_active, tmigr_handle_remote, filemap_fault) are not ours to fix.
kcsan_filter() {
	NMX_RE=$netmem_re awk '
		function flush(   i) {
			if (ours || (any[1] && any[2])) { for (i = 1; i <= n; i++) print buf[i] }
			else { sub(/^.*BUG: /, "", buf[1]); print "[vm] ignored (not netmem'"'"'s): " buf[1] > "/dev/stderr" }
			n = 0; inrep = 0
		}
		BEGIN { re = ENVIRON["NMX_RE"] }  # not -v: awk would eat the backslashes
		/BUG: KCSAN: / {
			if (inrep) flush()
			inrep = 1; n = 0; ours = 0; st = 0; below = 0; first = 0; any[1] = any[2] = 0
		}
		inrep {
			buf[++n] = $0
			if (n == 1 && $0 ~ re) ours = 1
			if ($0 ~ / to 0x[0-9a-f]+ of [0-9]+ bytes by /) { st++; below = 0; first = 1; next }
			if ($0 ~ /\+0x[0-9a-f]+\/0x[0-9a-f]+/ && st > 0) {
				if ($0 ~ / asm_(sysvec_|common_interrupt|exc_)/) below = 1
				if (!below && $0 ~ re) { any[st] = 1; if (first) ours = 1 }
				first = 0
			}
			if (n > 1 && $0 ~ /====================/) flush()  # mawk: no {20,}
			next
		}
		{ print }
		END { if (inrep) flush() }' "$1"
}

# splat_lines LOG: the lines of LOG that are splats under the current --kcsan-scope.
splat_lines() {
	if [ "$kcsan_scope" = netmem ]; then
		kcsan_filter "$1" | grep -aE "$splat_re" | grep -avE "$info_re" || true
	else
		grep -aE "$splat_re" "$1" | grep -avE "$info_re" || true
	fi
}

# verdict LOG: 0 when the guest finished with status 0, no KTAP/TAP line says "not ok" and
# the kernel log has no splat; otherwise prints why and returns 1.
verdict() {
	local log=$1 fail=0 rc notok splats
	rc=$(sed -n 's/.*NMX-VM-RC=\([0-9]*\).*/\1/p' "$log" | tail -n1)
	if [ -z "$rc" ]; then
		echo "[vm] FAIL: guest did not finish (qemu exit ${qrc:-?}; 124 means timeout)" >&2
		fail=1
	elif [ "$rc" != 0 ]; then
		echo "[vm] FAIL: guest command exited $rc" >&2
		fail=1
	fi
	notok=$(grep -aE "^(\[[ 0-9.]+\] )?\s*not ok [0-9]+" "$log" | grep -av '# SKIP' || true)
	if [ -n "$notok" ]; then
		echo "[vm] FAIL: failing KTAP/TAP results:" >&2
		echo "$notok" >&2
		fail=1
	fi
	splats=$(splat_lines "$log")
	if [ -n "$splats" ]; then
		echo "[vm] FAIL: kernel splat in the log:" >&2
		echo "$splats" | head -n 20 >&2
		fail=1
		# A KCSAN title says little: the first counted report whole, both stacks, last,
		# so that a CI log cut to its tail still shows it.
		if echo "$splats" | grep -aq 'BUG: KCSAN: '; then
			echo "[vm] the first KCSAN report counted:" >&2
			if [ "$kcsan_scope" = netmem ]; then kcsan_filter "$log" 2>/dev/null; else cat "$log"; fi |
				awk '/BUG: KCSAN: / { p = 1 } p { print; if (++n > 1 && /====================/) exit }' |
				head -n 60 >&2
		fi
	fi
	return "$fail"
}

case "$kcsan_scope" in all|netmem) ;; *) echo "vm: --kcsan-scope all|netmem" >&2; exit 2 ;; esac
if [ -n "$splats_of" ]; then
	out=$(splat_lines "$splats_of")
	[ -z "$out" ] || { echo "$out"; exit 1; }
	exit 0
fi
if [ -n "$verdict" ]; then
	verdict "$verdict" || exit 1
	echo "[vm] PASS" >&2
	exit 0
fi

[ $# -gt 0 ] || { echo "usage: ci/vm.sh [--kernel DIR] [--bench] -- CMD | --verdict LOG" >&2; exit 2; }
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
	(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp.$$"
	mv "$initrd.tmp.$$" "$initrd"
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

accel=(-accel "tcg,thread=${NMX_TCG_THREAD:-single}" -cpu max)
if [ "$bench" = 1 ]; then
	# icount needs single-threaded TCG; vCPUs then run round-robin, still two of them.
	accel=(-accel tcg,thread=single -cpu max -icount shift=0,sleep=off)
fi
[ "${NMX_KVM:-0}" = 1 ] && accel=(-accel kvm -cpu host)

cmdline="console=ttyS0 panic=-1 tsc=reliable nmx.repo=$repo udmabuf.size_limit_mb=1024 loglevel=6"
echo "[vm] booting $bzimage (${accel[*]}, $smp vCPUs, $mem), timeout ${timeout}s" >&2
set +e
# NMX_VM_QEMU_ARGS: extra QEMU arguments, word-split, appended (e.g. NICs: tests/vm/vmxnet3.sh).
timeout --foreground -k 10 "$timeout" qemu-system-x86_64 -machine q35 "${accel[@]}" -smp "$smp" -m "$mem" \
	-nographic -no-reboot -kernel "$bzimage" -initrd "$initrd" -append "$cmdline" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$repo",mount_tag=repo,security_model=none \
	-virtfs local,path="$run",mount_tag=nmxrun,security_model=none \
	${NMX_VM_QEMU_ARGS:-} </dev/null 2>&1 | tee "$logf" | sed -u 's/\r$//'
qrc=${PIPESTATUS[0]}
set -e

fail=0
verdict "$logf" || fail=1
if [ -n "${NMX_VM_COPY:-}" ]; then cp -r "$run"/. "$NMX_VM_COPY"/; fi
[ "$fail" = 0 ] && echo "[vm] PASS" >&2
exit "$fail"
