#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install what netmem needs to build and test, idempotently (root, Debian bookworm).
# Skips whatever is already present, so a warm run costs a few dpkg queries.
set -euo pipefail

export PATH=$HOME/.cargo/bin:$PATH
log() { echo "[deps] $*" >&2; }

pkgs=(linux-source-6.12 make gcc clang lld llvm libclang-dev flex bison bc libelf-dev libssl-dev
      dwarves cpio kmod xz-utils zstd qemu-system-x86 busybox-static python3 python3-yaml
      python3-jsonschema iproute2 iputils-ping util-linux procps)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	log "apt-get install ${missing[*]}"
	[ "$(id -u)" = 0 ] || { log "need root to install packages"; exit 1; }
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v rustup >/dev/null || { log "rustup not found: netmem needs the machine's rustup toolchain"; exit 1; }
if [ ! -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
	log "rustup component add rust-src"
	rustup component add rust-src
fi
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
if ! bindgen --version 2>/dev/null | grep -q '0\.70\.1'; then
	log "cargo install bindgen-cli 0.70.1"
	cargo install --locked bindgen-cli --version 0.70.1
fi
log "ok"
