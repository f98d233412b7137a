# SPDX-License-Identifier: GPL-2.0
# Tiny TAP helpers for the in-VM suite (sourced). The plan line comes last ("1..N").

tap_n=0
tap_fail=0
tap_log=/tmp/tap.$$

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
nok() { tap_n=$((tap_n + 1)); tap_fail=$((tap_fail + 1)); echo "not ok $tap_n - $*"; }
diag() { sed 's/^/# /' "$@"; }

# check DESC CMD...: CMD must succeed.
check() {
	d=$1; shift
	if "$@" >"$tap_log" 2>&1; then ok "$d"; else nok "$d"; diag "$tap_log"; fi
}

# refuse DESC ERRNO CMD...: CMD must fail, printing the errno name (netmemctl prints
# "[EINVAL]" after the kernel's extack text) and some extack text.
refuse() {
	d=$1; e=$2; shift 2
	if "$@" >"$tap_log" 2>&1; then
		nok "$d (accepted)"; diag "$tap_log"
	elif grep -q "\[$e\]" "$tap_log"; then
		ok "$d: $(tail -n1 "$tap_log" | cut -c1-160)"
	else
		nok "$d (wanted $e)"; diag "$tap_log"
	fi
}

# wait_for SECONDS CMD...: retry CMD every 0.5 s.
wait_for() {
	t=$(( $1 * 2 )); shift
	while [ "$t" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5; t=$((t - 1))
	done
	return 1
}

tap_done() {
	echo "1..$tap_n"
	rm -f "$tap_log" "$tap_log".*
	[ "$tap_fail" = 0 ]
}
