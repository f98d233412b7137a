#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Planted-defect check of ci/vm.sh's splat matcher (`make vm-selftest`).
#
#   ci/vm-selftest.sh [--kernel BUILD_DIR]
#
# Boots the kernel once and writes one line (or report) of every class the matcher must
# catch into /dev/kmsg, as the kernel prints them, plus dma-debug's "pool grown" notice,
# which it must not. The run must fail; then each class alone (the real console log with
# every other planted line cut out) must fail `ci/vm.sh --verdict`, the notice alone must
# pass, and a KCSAN report that is not netmem's (rule in ci/vm.sh) must pass only with
# --kcsan-scope netmem.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
kargs=()
[ "${1:-}" = --kernel ] && kargs=(--kernel "$2")

# class|line (a line of "\n"-separated lines is one report)
plants=(
	"oops|Oops: int3: 0000 [#1] PREEMPT SMP KASAN"
	"bug|BUG: unable to handle page fault for address: ffffc90000a00000"
	"warning|WARNING: CPU: 1 PID: 42 at net/core/page_pool.c:1097 page_pool_release_retry+0x1a/0x40"
	"kasan|KASAN: null-ptr-deref in range [0x0000000000000000-0x0000000000000007]"
	"lockdep|WARNING: possible circular locking dependency detected"
	"lockdep-off|turning off the locking correctness validator."
	"hung-task|INFO: task kworker/1:2:87 blocked for more than 122 seconds."
	"rcu-stall|rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:"
	"rcu-self|rcu: INFO: rcu_preempt self-detected stall on CPU"
	"soft-lockup|watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [python3:211]"
	"dma-api|DMA-API: nmx_testnic nmxt0: device driver frees DMA memory with wrong function [device address=0x0000000012345000] [size=4096 bytes] [mapped as page] [unmapped as single]"
	"kmemleak|unreferenced object 0xffff888012345600 (size 64):"
	"kcsan-netmem|==================================================================\nBUG: KCSAN: data-race in page_pool_alloc_pages / page_pool_put_unrefed_page\n\nwrite to 0xffff888004c3e0c8 of 8 bytes by interrupt on cpu 1:\n nmx_testnic_poll+0x2b4/0x6c0 [nmx_testnic]\n __napi_poll+0x61/0x2d0\n\nread to 0xffff888004c3e0c8 of 8 bytes by task 97 on cpu 0:\n page_pool_alloc_pages+0x31/0x60\n\nReported by Kernel Concurrency Sanitizer on:\n=================================================================="
	"kcsan-core|==================================================================\nBUG: KCSAN: data-race in page_pool_put_unrefed_netmem / hrtimer_active\n\nread to 0xffff88807dc1f208 of 8 bytes by interrupt on cpu 1:\n hrtimer_active+0x70/0xc0\n asm_sysvec_apic_timer_interrupt+0x16/0x20\n nmx_shim_devmem_live_dec+0xc/0x10 [netmem]\n\nwrite to 0xffff88807dc1f208 of 8 bytes by task 0 on cpu 0:\n page_pool_put_unrefed_netmem+0x5c/0x330\n\nReported by Kernel Concurrency Sanitizer on:\n=================================================================="
	"kcsan-caller|==================================================================\nBUG: KCSAN: data-race in __hrtimer_run_queues / hrtimer_try_to_cancel\n\nwrite to 0xffff88807dc1e940 of 8 bytes by interrupt on cpu 1:\n __hrtimer_run_queues+0x1f6/0x5c0\n hrtimer_interrupt+0x1a3/0x3f0\n\nread to 0xffff88807dc1e940 of 8 bytes by task 230 on cpu 0:\n hrtimer_try_to_cancel+0x42/0x1a0\n hrtimer_cancel+0x15/0x40\n napi_disable+0x8c/0xd0\n nmx_testnic_restart+0x53/0x1c0 [nmx_testnic]\n\nReported by Kernel Concurrency Sanitizer on:\n=================================================================="
	"kcsan-both|==================================================================\nBUG: KCSAN: data-race in list_del_entry_valid_or_report / __list_add_valid_or_report\n\nwrite to 0xffff888006a1c210 of 8 bytes by task 211 on cpu 1:\n __list_add_valid_or_report+0x30/0xb0\n nmx_shim_binding_publish+0x71/0x120 [netmem]\n\nread to 0xffff888006a1c210 of 8 bytes by task 215 on cpu 0:\n list_del_entry_valid_or_report+0x22/0xa0\n nmx_shim_binding_remove+0x3a/0x90 [netmem]\n\nReported by Kernel Concurrency Sanitizer on:\n=================================================================="
	"after-kcsan|BUG: sleeping function called from invalid context at kernel/locking/mutex.c:283"
	"notice|DMA-API: dma_debug_entry pool grown to 131072 (200%)"
)
out=$repo/out/vm-selftest
rm -rf "$out" && mkdir -p "$out"
{
	echo "# written by ci/vm-selftest.sh; one /dev/kmsg record per line, paced under the ratelimit"
	for p in "${plants[@]}"; do
		printf '%b\n' "${p#*|}" | while IFS= read -r l; do
			[ -n "$l" ] || l=" "
			printf "printf '%%s\\\\n' %q >/dev/kmsg; sleep 0.6\n" "$l"
		done
	done
} > "$out/plant.sh"

fail=0
if ci/vm.sh "${kargs[@]}" --timeout 600 --log "$out/console.log" -- sh "$out/plant.sh" >/dev/null 2>"$out/vm.err"; then
	echo "FAIL: the run with every class planted passed"; fail=1
else
	echo "ok: the run with every class planted failed ($(grep -c '^\[vm\] FAIL' "$out/vm.err") reason(s))"
fi

# log_with "CLASS..." NAME: the console log without the planted lines of every other class.
log_with() {
	local keep=" $1 " pats=() p l
	for p in "${plants[@]}"; do
		case "$keep" in *" ${p%%|*} "*) continue ;; esac
		while IFS= read -r l; do
			case "$l" in ""|=*|"Reported by"*) ;; *) pats+=(-e "$l") ;; esac
		done < <(printf '%b\n' "${p#*|}")
	done
	grep -avF "${pats[@]}" "$out/console.log" > "$out/log-$2"
}
# key_line CLASS: the first telling line of the class's plant.
key_line() {
	local p
	for p in "${plants[@]}"; do
		[ "${p%%|*}" = "$1" ] && printf '%b\n' "${p#*|}" | grep -av '^=*$' | head -n1
	done
}
# expect "CLASS..." pass|fail [vm.sh args]: the log with only these classes planted.
expect() {
	local cs=$1 c=${1// /+} want=$2 got=pass k; shift 2
	log_with "$cs" "$c"
	for k in $cs; do
		grep -aqF "$(key_line "$k")" "$out/log-$c" ||
			{ echo "FAIL: $k: the planted line is not in the console log"; fail=1; return; }
	done
	ci/vm.sh --verdict "$out/log-$c" "$@" >"$out/verdict-$c.txt" 2>&1 || got=fail
	if [ "$got" = "$want" ]; then
		echo "ok: $c ${*:+($*) }-> $got: $(grep -a -m1 -A1 'FAIL: kernel splat' "$out/verdict-$c.txt" | tail -n1 | cut -c1-110)"
	else
		echo "FAIL: $c ${*:+($*) }-> $got, wanted $want"; sed 's/^/    /' "$out/verdict-$c.txt"; fail=1
	fi
}
for p in "${plants[@]}"; do
	c=${p%%|*}
	case "$c" in notice|kcsan-core|kcsan-caller) ;; *) expect "$c" fail ;; esac
done
expect kcsan-netmem fail --kcsan-scope netmem
expect kcsan-core fail
expect kcsan-core pass --kcsan-scope netmem
# core code racing itself, one side merely called from ours: not netmem's
expect kcsan-caller pass --kcsan-scope netmem
# core code on both sides, each called from ours: netmem's (e.g. a lock we forgot)
expect kcsan-both fail --kcsan-scope netmem
# a report ignored there must not hide the splat after it
expect "kcsan-core after-kcsan" fail --kcsan-scope netmem
expect notice pass
[ "$fail" = 0 ] && echo "vm-selftest: all passed" || echo "vm-selftest: FAILED"
exit "$fail"
