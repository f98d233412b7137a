#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build (or reuse) a netmem kernel flavour in the cache and print its build directory.
#
#   ci/kernel.sh test|bench|race
#
# The cache lives outside the repo ($NETMEM_CACHE, default /var/cache/netmem) so it survives a
# fresh clone. A build is keyed on the kernel version and the hash of the config fragments, so a
# change to ci/kconfig/ builds a new tree and an unchanged one is reused at once.
set -euo pipefail

flavour=${1:?usage: ci/kernel.sh test|bench|race}
here=$(cd "$(dirname "$0")" && pwd)
cache=${NETMEM_CACHE:-/var/cache/netmem}
tarball=/usr/src/linux-source-6.12.tar.xz
src=$cache/src/linux-source-6.12
jobs=${NETMEM_JOBS:-$(nproc)}
export PATH=$HOME/.cargo/bin:$PATH

log() { echo "[kernel $flavour] $*" >&2; }

[ -f "$here/kconfig/$flavour.config" ] || { log "unknown flavour"; exit 2; }

if [ ! -f "$src/.netmem-unpacked" ]; then
	log "unpacking $tarball into $cache/src"
	rm -rf "$src" && mkdir -p "$cache/src"
	tar -C "$cache/src" -xf "$tarball"
	touch "$src/.netmem-unpacked"
fi
kver=$(make -s -C "$src" kernelversion)

frags=("$here/kconfig/base.config" "$here/kconfig/$flavour.config")
hash=$(cat "${frags[@]}" | sha256sum | cut -c1-12)
out=$cache/linux-$kver-$flavour-$hash
kmake=(make -C "$src" O="$out" LLVM=1 -j"$jobs")

# One build per tree at a time: a second caller waits for the first and reuses its result.
mkdir -p "$cache"
exec 9>"$cache/.lock-$flavour-$hash"
flock 9

if [ -f "$out/.netmem-built" ]; then
	log "cached: $out"
	echo "$out"
	exit 0
fi

mkdir -p "$out"
cat "${frags[@]}" > "$out/netmem.config"
log "configuring $kver (allnoconfig + ci/kconfig/{base,$flavour}.config) in $out"
"${kmake[@]}" -s KCONFIG_ALLCONFIG="$out/netmem.config" allnoconfig >/dev/null
"${kmake[@]}" -s rustavailable >/dev/null || { log "Rust toolchain not usable (run ci/deps.sh)"; exit 1; }

# A fragment line Kconfig silently dropped (unmet dependency) is a config bug: fail loudly.
missing=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=n) sym=${line%%=*}
		grep -q "^$sym=" "$out/.config" && { log "not disabled: $line"; missing=1; } ;;
	CONFIG_*) grep -qxF "$line" "$out/.config" || { log "not applied: $line"; missing=1; } ;;
	esac
done < "$out/netmem.config"
[ "$missing" = 0 ] || exit 1

# Progress: one line per stage and a running object count against the last build's total.
estimate=$(cat "$cache/objects-$flavour" "$cache"/objects-* 2>/dev/null | head -n1 || true)
estimate=${estimate:-1900}
log "building vmlinux, bzImage and modules with $jobs jobs (about $estimate objects)"
start=$(date +%s)
set +e
"${kmake[@]}" bzImage modules 2>&1 | tee "$out/build.log" | awk -v est="$estimate" -v tag="[kernel $flavour]" '
	/^  (CC|AS|RUSTC|LD|AR|BINDGEN|CC \[M\]|RUSTC \[M\]|LD \[M\])/ {
		n++
		if (n % 100 == 0) {
			pct = int(100 * n / est); if (pct > 99) pct = 99
			printf "%s %d/~%d objects (%d%%)\n", tag, n, est, pct > "/dev/stderr"
		}
	}
	/LD      vmlinux$/ { print tag " stage: linking vmlinux" > "/dev/stderr" }
	/BUILD   arch\/x86\/boot\/bzImage/ { print tag " stage: bzImage" > "/dev/stderr" }
	/MODPOST Module.symvers/ { print tag " stage: modpost" > "/dev/stderr" }
	/error:|Error [0-9]/ { print > "/dev/stderr" }
	END { print n > "/dev/stdout" }' > "$out/objects"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" != 0 ]; then
	log "build failed; last lines of $out/build.log:"
	tail -n 30 "$out/build.log" >&2
	exit 1
fi
cp "$out/objects" "$cache/objects-$flavour"
touch "$out/.netmem-built"
log "done in $(( $(date +%s) - start )) s: $out/arch/x86/boot/bzImage"
echo "$out"
