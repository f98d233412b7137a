#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make run`, the main job: build the bench kernel and the modules, boot (QEMU TCG with
# instruction counting, so rates and costs are deterministic), bind a udmabuf through
# netlink, push verified traffic into devmem and into pages, run the benchmark, and print
# a summary. Results: out/run/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
export PATH=$HOME/.cargo/bin:$PATH
out=$repo/out/run
rm -rf "$out" && mkdir -p "$out"

kdir=$(ci/kernel.sh bench)
mods=$(NMX_MODULES_OUT=${NMX_MODULES_OUT:-$repo/out/bench} ci/modules.sh bench)
cargo build --release -q -p netmemctl
echo "== booting the bench kernel (QEMU TCG, -icount shift=0: the guest clock counts instructions)" >&2
ci/vm.sh --kernel "$kdir" --bench --timeout "${NMX_RUN_TIMEOUT:-2400}" --log "$out/console.log" \
	-- tests/vm/main-job.sh "$mods" "$out" | grep -av '^\[ *[0-9.]*\]' | grep -av '^\s*$' >&2

# The same traffic on a real driver with real DMA: the patched vmxnet3 under QEMU (its
# device writes frames into the posted chunk addresses), devmem then pages on queue 0.
echo "== vmxnet3: devmem receive with device DMA, then pages, on the bench kernel" >&2
vmx_ok=0
NMX_MODULES_OUT=${NMX_MODULES_OUT:-$repo/out/bench} tests/vm/vmxnet3.sh run --flavour bench \
	--kernel "$kdir" --log "$out/vmxnet3-console.log" >"$out/vmxnet3.tap" 2>&1 && vmx_ok=1
grep -aE '^(not )?ok ' "$out/vmxnet3.tap" >&2 || true

if [ -f "$out/bench/raw.txt" ]; then
	cp "$kdir/.config" "$out/bench/kernel.config"
	python3 bench/summary.py --raw "$out/bench/raw.txt" --out "$out/bench" \
		--config "$out/bench/kernel.config" >/dev/null || echo "run: benchmark summary failed" >&2
fi

VMX_OK=$vmx_ok python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
def load(name, d=out):
    try:
        with open(os.path.join(d, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
dev, pages = load("devmem.json"), load("pages.json")
during = dev.get("binding") if dev else None
print()
print("netmem main job: summary (guest time = instructions under icount: 1 s = 1e9 insns)")
print("-" * 78)
if dev:
    print(f"devmem  : {dev['frames']} frames, {dev['bytes']} bytes received into the udmabuf, "
          f"{dev['verified']} verified, {dev['bad']} bad")
    print(f"          {dev['active_frames_per_s']:.0f} frames/s, {dev['active_bytes_per_s'] / 1e6:.2f} MB/s while traffic flowed")
if pages:
    print(f"pages   : {pages['frames']} datagrams, {pages['bytes']} payload bytes through page_pool + UDP socket, "
          f"{pages['verified']} verified")
    print(f"          {pages['active_frames_per_s']:.0f} frames/s, {pages['active_bytes_per_s'] / 1e6:.2f} MB/s while traffic flowed")
if dev and pages and pages.get("active_frames_per_s"):
    print(f"devmem/pages frame rate on the same driver and queue: {dev['active_frames_per_s'] / pages['active_frames_per_s']:.2f}x")
if during:
    b = during
    if isinstance(b, dict):
        st = b.get("stats", {})
        print(f"pool at the end of the devmem run: {b.get('chunks-total')} chunks of {b.get('chunk-size')} B; free {b.get('chunks-free')}, "
              f"posted {b.get('chunks-posted')}, completed {b.get('chunks-completed')}, user {b.get('chunks-user')}")
        print("          " + ", ".join(f"{k} {v}" for k, v in st.items()))
vdir = os.path.join(os.path.dirname(out), "vmxnet3-bench")
vdev, vpages = load("devmem.json", vdir), load("pages-after.json", vdir)
if vdev:
    print(f"vmxnet3 devmem: {vdev['frames']} frames, {vdev['bytes']} bytes DMA'd by the device into the udmabuf, "
          f"{vdev['verified']} verified, {vdev['bad']} bad; {vdev['active_frames_per_s']:.0f} frames/s, "
          f"{vdev['active_bytes_per_s'] / 1e6:.2f} MB/s while traffic flowed")
if vpages:
    print(f"vmxnet3 pages : {vpages['frames']} datagrams through page_pool + UDP socket, {vpages['verified']} verified; "
          f"{vpages['active_frames_per_s']:.0f} frames/s, {vpages['active_bytes_per_s'] / 1e6:.2f} MB/s")
if vdev and vpages:
    print("          (same driver, queue 0, same boot; the sender is paced by netmemctl --rate, so these "
          "rates are bounded by it: they show both paths keep up, not a speed-up)")
summary = os.path.join(out, "bench", "summary.txt")
if os.path.exists(summary):
    print()
    print(open(summary).read().rstrip())
ok = bool(dev and dev["bad"] == 0 and dev["verified"] == dev["frames"] and pages)
ok = ok and bool(vdev and vdev["bad"] == 0 and vdev["verified"] == vdev["frames"] and vpages)
ok = ok and os.environ.get("VMX_OK") == "1"
print("-" * 78)
print("result: " + ("OK" if ok else "FAILED") + f" (raw results in {out})")
sys.exit(0 if ok else 1)
PY
