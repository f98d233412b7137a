#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Per-frame figures from bench/perframe/guest.sh's data (bench/vmxnet3-perframe.sh).

Measured: per NAPI poll, the TSC delta around napi->poll() (= guest instructions, icount,
one vCPU) and the frames poll() returned. Computed, per phase and NIC, after dropping the
polls of the first --warmup frames: windows of consecutive polls holding >= --window
frames each, and per window instructions / frames (every poll of the window counts, empty
ones included); the median over windows, min and max; the median instructions of polls
that completed exactly one frame; frames per poll.
"""
import argparse
import json
import os
import statistics
import sys


def load(d):
    nics = {}
    for line in open(os.path.join(d, "nics.txt")):
        role, ifname, drv = line.split()
        nics[role] = (ifname, drv)
    samples = {}
    for line in open(os.path.join(d, "samples.txt")):
        ifname, tsc, frames = line.split()
        samples.setdefault(ifname, []).append((int(tsc), int(frames)))
    phases = []
    for line in open(os.path.join(d, "phases.txt")):
        name, ifname, s0, s1, rxp, rxnh = line.split()
        phases.append((name, ifname, int(s0), int(s1), int(rxp), int(rxnh)))
    return nics, samples, phases


def figures(polls, warmup, window):
    """Per-frame figures of one NIC in one phase. A poll belongs to the window of the index
    (within the phase, warm-up excluded) of the first frame it completed, an empty poll to
    the window of the next frame: as both NICs receive the same frames, window k of one
    covers the same frames as window k of the other."""
    seen = 0
    i = 0
    while i < len(polls) and seen < warmup:
        seen += polls[i][1]
        i += 1
    polls = polls[i:]
    wt, wf = [], []
    f = 0
    for tsc, fr in polls:
        k = f // window
        while len(wt) <= k:
            wt.append(0)
            wf.append(0)
        wt[k] += tsc
        wf[k] += fr
        f += fr
    # The last window is partial (the phase stops at N frames or a little more).
    wins = [t / n for t, n in zip(wt, wf) if n >= window // 2]
    tot_t = sum(p[0] for p in polls)
    tot_f = sum(p[1] for p in polls)
    one = [p[0] for p in polls if p[1] == 1]
    # Least squares over the polls: instructions = a + b * frames (b: the marginal cost of
    # a frame, a: a poll's own cost), so batching differences can be told apart.
    n = len(polls)
    a = b = float("nan")
    if n > 1:
        mx = tot_f / n
        my = tot_t / n
        sxx = sum((p[1] - mx) ** 2 for p in polls)
        if sxx > 0:
            b = sum((p[1] - mx) * (p[0] - my) for p in polls) / sxx
            a = my - b * mx
    return {
        "polls": n,
        "frames": tot_f,
        "empty_polls": sum(1 for p in polls if p[1] == 0),
        "frames_per_poll": tot_f / n if n else 0.0,
        "overall": tot_t / tot_f if tot_f else float("nan"),
        "windows": wins,
        "median": statistics.median(wins) if wins else float("nan"),
        "min": min(wins) if wins else float("nan"),
        "max": max(wins) if wins else float("nan"),
        "one_polls": len(one),
        "one_median": statistics.median(one) if one else float("nan"),
        "fit_a": a,
        "fit_b": b,
    }


def paired(x, y):
    """Window-by-window ratios y/x (the same frames): median, min, max."""
    r = [b / a for a, b in zip(x["windows"], y["windows"])]
    if not r:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(r), min(r), max(r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--warmup", type=int, default=2000)
    ap.add_argument("--window", type=int, default=2000)
    ap.add_argument("--target", type=float, default=1.005)
    ap.add_argument("--kernel", default="")
    a = ap.parse_args()

    nics, samples, phases = load(a.dir)
    res = {}
    for name, ifname, s0, s1, rxp, rxnh in phases:
        fig = figures(samples.get(ifname, [])[s0:s1], a.warmup, a.window)
        fig["rx_packets"] = rxp
        fig["rx_dropped"] = rxnh
        fig["polled_all"] = sum(p[1] for p in samples.get(ifname, [])[s0:s1])
        res[(name, ifname)] = fig
    ifa, drva = nics["A"]
    ifb, drvb = nics["B"]
    try:
        gen = json.load(open(os.path.join(a.dir, "gen.json")))
    except (OSError, ValueError):
        gen = {}
    try:
        recv = json.load(open(os.path.join(a.dir, "devmem-recv.json")))
    except (OSError, ValueError):
        recv = {}

    out = []
    p = out.append
    p("vmxnet3: guest instructions per received frame in the NAPI poll")
    p("  kernel: bench (no debug) %s; QEMU TCG -icount shift=0,sleep=off, 1 vCPU" % a.kernel)
    p("  NIC A %s: in-tree %s.ko (unpatched); NIC B %s: patched series as %s.ko" % (ifa, drva, ifb, drvb))
    p("  same boot, same frames (one QEMU hub, host generator): 1414-byte frames, ethertype")
    p("  0x88b5 (no handler: dropped by the stack inside the poll); per phase and NIC %d warm-up" % a.warmup)
    p("  frames dropped, then windows of >= %d frames; figure = median over windows of" % a.window)
    p("  (sum of TSC deltas around napi->poll) / (sum of frames polled) [min..max]")
    p("")
    hdr = "  %-34s %9s %19s %6s %7s %6s %9s" % (
        "", "insn/frm", "[min..max]", "wins", "frm/poll", "empty", "1-frm poll")
    p(hdr)

    def row(label, key):
        f = res.get(key)
        if not f:
            p("  %-34s (no data)" % label)
            return
        p("  %-34s %9.1f [%8.1f..%8.1f] %6d %7.2f %6d %9.0f" % (
            label, f["median"], f["min"], f["max"], len(f["windows"]), f["frames_per_poll"],
            f["empty_polls"], f["one_median"]))

    row("unpatched (in-tree), page path", ("page", ifa))
    row("patched unbound, page path", ("page", ifb))
    row("patched bound, devmem path", ("devmem", ifb))
    row("unpatched, during the devmem phase", ("devmem", ifa))
    p("")
    ua, pb = res.get(("page", ifa)), res.get(("page", ifb))
    verdict = "n/a"
    if ua and pb:
        ratio = pb["median"] / ua["median"]
        verdict = "PASS" if ratio <= a.target else "FAIL"
        p("  patched unbound / unpatched, ratio of the window medians: %.4f   target <= %.3f: %s" % (
            ratio, a.target, verdict))
        p("    window by window (same frames): median %.4f [%.4f..%.4f]" % paired(ua, pb))
        p("    1-frame polls (medians): %.4f; overall means: %.4f; difference %+.1f insn/frame" % (
            pb["one_median"] / ua["one_median"], pb["overall"] / ua["overall"],
            pb["median"] - ua["median"]))
    db, ud = res.get(("devmem", ifb)), res.get(("devmem", ifa))
    if db and ud:
        p("  patched bound (devmem) / unpatched in the same phase: %.4f; window by window %.4f [%.4f..%.4f]" % (
            (db["median"] / ud["median"],) + paired(ud, db)))
    p("")
    p("  per-poll fit, instructions = a + b * frames (a: per poll, b: per frame):")
    for label, key in (("unpatched, page phase", ("page", ifa)), ("patched unbound", ("page", ifb)),
                       ("patched devmem", ("devmem", ifb)), ("unpatched, devmem phase", ("devmem", ifa))):
        f = res.get(key)
        if f:
            p("    %-26s a %7.1f  b %7.1f  (%d polls)" % (label, f["fit_a"], f["fit_b"], f["polls"]))
    p("")
    p("  cross-checks (whole phase, warm-up included): frames polled vs the NIC's counters")
    for (name, ifname), f in sorted(res.items()):
        p("    %-7s %-6s polled %6d  rx_packets %6d  rx_dropped %6d" % (
            name, ifname, f["polled_all"], f["rx_packets"], f["rx_dropped"]))
    p("  generator: %s" % json.dumps(gen))
    if recv:
        b = recv.get("binding") or {}
        p("  devmem recv: frames %s; binding at unbind: %s" % (
            recv.get("frames"), json.dumps(b, sort_keys=True)))
    p("  windows (insn/frame):")
    for (name, ifname), f in sorted(res.items()):
        p("    %-7s %-6s %s" % (name, ifname, " ".join("%.0f" % w for w in f["windows"])))
    try:
        c = open(os.path.join(a.dir, "calib.txt")).read().split()
        n0, t0, n1, t1 = int(c[1]), int(c[2]), int(c[3]), int(c[4])
        p("  TSC check: %d `dec; jnz` pairs between the wrapper's TSC reads took %d ticks, 0 took %d:" % (
            n1, t1, t0))
        p("    %.4f ticks per instruction (1 when the TSC counts instructions)" % (
            (t1 - t0) / (2.0 * (n1 - n0))))
    except (OSError, ValueError, IndexError):
        p("  TSC check: no calib.txt")
    p("verdict: %s" % verdict)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
