#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make rust-analyzer`: rust-project.json for the kernel crates of this repo.
#
# The kernel's `make M=... rust-analyzer` trips over O= build trees in 6.12 (it looks for
# rust/Makefile in the wrong directory), so run its generator directly. The generator finds
# crate roots by a `<stem>.o` in a Kbuild next to the file; netmem's root is listed in the
# top-level Kbuild (netmem/netmem_rs.o), so it is added here. The host crates use Cargo.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
export PATH=$HOME/.cargo/bin:$PATH
kdir=$("$here/kernel.sh" "${1:-test}")
ksrc=${NETMEM_CACHE:-/var/cache/netmem}/src/linux-source-6.12
sysroot=$(rustc --print sysroot)
edition=2021
rustc --version | awk '{split($2, v, "."); exit !(v[1] > 1 || v[2] >= 87)}' && edition=2024
python3 "$ksrc/scripts/generate_rust_analyzer.py" --cfgs='core=--cfg no_fp_fmt_parse' "$edition" \
	"$ksrc" "$kdir" "$sysroot" "$sysroot/lib/rustlib/src/rust/library" "$repo" > "$repo/rust-project.json.tmp"
python3 - "$repo" <<'PY'
import json, os, sys
repo = sys.argv[1]
path = os.path.join(repo, "rust-project.json.tmp")
d = json.load(open(path))
# The generator walks the whole repo: drop the build copies under out/ and target/ (they
# come after the kernel's crates, so no index that a dependency uses moves).
skip = (os.path.join(repo, "out") + "/", os.path.join(repo, "target") + "/")
d["crates"] = [c for c in d["crates"] if not c["root_module"].startswith(skip)]
names = {c.get("display_name") for c in d["crates"]}
idx = {c.get("display_name"): i for i, c in enumerate(d["crates"])}
root = os.path.join(repo, "netmem/netmem_rs.rs")
if "netmem_rs" not in names:
    tmpl = next((c for c in d["crates"] if c.get("display_name") == "nmx_bench_rs"), None)
    d["crates"].append({
        "display_name": "netmem_rs",
        "root_module": root,
        "is_workspace_member": True,
        "deps": [{"crate": idx["core"], "name": "core"}, {"crate": idx["kernel"], "name": "kernel"}],
        "cfg": tmpl["cfg"] if tmpl else [],
        "edition": "2021",
        "env": {"RUST_MODFILE": "This is only for rust-analyzer"},
    })
json.dump(d, open(os.path.join(repo, "rust-project.json"), "w"), indent=4, sort_keys=True)
os.unlink(path)
print(f"rust-project.json: {len(d['crates'])} crates", file=sys.stderr)
PY
