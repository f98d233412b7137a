#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Style gates (`make check`, also run by `make test`): rustfmt and clippy on the kernel
# crates (the kernel's .rustfmt.toml, CLIPPY=1 with its lint set) and the host crates,
# checkpatch on our C. Generated files are the generators' business and are skipped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
export PATH=$HOME/.cargo/bin:$PATH
kdir=$(ci/kernel.sh test)
ksrc=${KSRC:-${NETMEM_CACHE:-/var/cache/netmem}/src/linux-source-6.12}
fail=0
mkdir -p "$repo/out"

krs=(netmem/netmem_rs.rs bench/nmx_bench_rs.rs)
for f in "${krs[@]}"; do
	[ -f "$f" ] || continue
	rustfmt --edition 2021 --config-path "$ksrc/.rustfmt.toml" --check "$f" || fail=1
done
cargo fmt --all --check || fail=1
cargo clippy -q --workspace --all-targets -- -D warnings || fail=1

# Kernel crates under clippy, in a scratch copy so the regular build is not disturbed.
if ! NMX_MODULES_OUT="$repo/out/clippy" ci/modules.sh test CLIPPY=1 2>"$repo/out/clippy.log" >/dev/null ||
	grep -E '^(warning|error)' "$repo/out/clippy.log"; then
	echo "clippy (CLIPPY=1) on the kernel crates is not clean: out/clippy.log" >&2
	fail=1
fi

mapfile -t cfiles < <(git ls-files '*.c' '*.h' | grep -v '^shim/gen/\|^shim/include/uapi/')
for f in "${cfiles[@]}"; do
	out=$("$ksrc/scripts/checkpatch.pl" --no-tree --strict --quiet --terse --show-types \
		--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG -f "$f" 2>&1) || { echo "$out"; fail=1; }
done
[ "$fail" = 0 ] && echo "check: rustfmt, clippy and checkpatch are clean" >&2
exit "$fail"
