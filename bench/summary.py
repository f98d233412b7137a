#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn nmx_bench output (raw.txt) into results.tsv, summary.txt and chart.svg.

Every ratio comes from one run (same boot, same rounds), never across runs. With --smoke,
only checks that every test ran and that its line parses; timings are never asserted.
Python standard library only.
"""

import argparse
import math
import sys
from xml.sax.saxutils import escape

REFS = ["empty_loop", "array_pushpop", "array_pushpop_call", "atomic_inc", "spin_lock"]
PP = ["pp01_fast_direct", "pp02_ring_direct", "pp03_slow_direct", "pp04_batch256_direct"]
NMX_OFF = ["pp01_fast_nmx_keyoff", "pp02_ring_nmx_keyoff", "pp03_slow_nmx_keyoff"]
NMX_ON = ["pp01_fast_nmx_keyon", "pp02_ring_nmx_keyon", "pp03_slow_nmx_keyon"]
DEVMEM = ["devmem_fast", "devmem_ring", "devmem_refill_batch256"]
XCPU = [f"{p}_xcpu_{k}" for p in ("pp", "devmem") for k in ("e2e", "return", "alloc")]
BIND = ["bind_per_gib", "unbind_per_gib", "bind_unbind_per_gib", "bind_call", "unbind_call"]
EXPECTED = REFS + PP + NMX_OFF + NMX_ON + DEVMEM + XCPU + BIND

# (label, short label for the chart, numerator, denominator, target or None). Targets from
# the performance issue: the page path through netmem costs nothing measurable (<= 1.005),
# with no binding anywhere (key off) and on an unbound queue while another queue of the
# device is bound (key on); the devmem path beats page_pool's.
RATIOS = [
    ("pp01 fast: netmem page path / direct, key off", "pp01 nmx/direct key off",
     "pp01_fast_nmx_keyoff", "pp01_fast_direct", 1.005),
    ("pp02 ring: netmem page path / direct, key off", "pp02 nmx/direct key off",
     "pp02_ring_nmx_keyoff", "pp02_ring_direct", 1.005),
    ("pp03 slow: netmem page path / direct, key off", "pp03 nmx/direct key off",
     "pp03_slow_nmx_keyoff", "pp03_slow_direct", 1.005),
    ("pp01 fast: netmem page path / direct, key on", "pp01 nmx/direct key on",
     "pp01_fast_nmx_keyon", "pp01_fast_direct", 1.005),
    ("pp02 ring: netmem page path / direct, key on", "pp02 nmx/direct key on",
     "pp02_ring_nmx_keyon", "pp02_ring_direct", 1.005),
    ("pp03 slow: netmem page path / direct, key on", "pp03 nmx/direct key on",
     "pp03_slow_nmx_keyon", "pp03_slow_direct", 1.005),
    ("devmem fast / pp01 fast direct", "devmem fast / pp01",
     "devmem_fast", "pp01_fast_direct", 0.5),
    ("devmem fast / array push-pop (limit)", "devmem fast / array",
     "devmem_fast", "array_pushpop", 2.0),
    ("devmem fast / array push-pop via 2 calls", "devmem fast / array+calls",
     "devmem_fast", "array_pushpop_call", None),
    ("devmem ring / pp02 ring direct", "devmem ring / pp02",
     "devmem_ring", "pp02_ring_direct", 1.0),
    ("devmem refill batch256 / pp batch256 direct", "devmem refill / pp batch",
     "devmem_refill_batch256", "pp04_batch256_direct", None),
    ("cross-CPU alloc side: devmem / page_pool", "xcpu alloc: devmem / pp",
     "devmem_xcpu_alloc", "pp_xcpu_alloc", None),
    ("cross-CPU returner: devmem / page_pool", "xcpu return: devmem / pp",
     "devmem_xcpu_return", "pp_xcpu_return", None),
    ("cross-CPU end to end: devmem / page_pool", "xcpu e2e: devmem / pp",
     "devmem_xcpu_e2e", "pp_xcpu_e2e", None),
]

# Atomic read-modify-writes and full fences per operation, counted from the code (not
# measured: under icount each costs one instruction like any other). page_pool: 6.12's
# net/core/page_pool.c and include/linux/ptr_ring.h on x86 (spin_unlock is a plain store);
# devmem: devmem/core/src/{pool,chunk,ring}.rs.
ATOMICS = {
    "pp01_fast_direct": ("0", "0", "alloc-cache pop and push, no atomics"),
    "pp02_ring_direct": ("1 + 1/64", "0",
                         "ptr_ring producer spin_lock per put; consumer lock once per refill of 64"),
    "array_pushpop": ("0", "0", "a LIFO of pointers"),
    "devmem_fast": ("1", "0", "state-word compare-exchange per return (checks state and queue)"),
    "devmem_ring": ("4", "1",
                    "per put: state CAS, put counter fetch_add, ring enqueue CAS, SeqCst fence "
                    "(pairs with detach); per alloc: ring dequeue CAS"),
}
for _n in ("pp01_fast_nmx_keyoff", "pp01_fast_nmx_keyon"):
    ATOMICS[_n] = ATOMICS["pp01_fast_direct"]
for _n in ("pp02_ring_nmx_keyoff", "pp02_ring_nmx_keyon"):
    ATOMICS[_n] = ATOMICS["pp02_ring_direct"]


def atomics_of(name):
    a = ATOMICS.get(name)
    return "" if a is None else f"{a[0]} rmw, {a[1]} fence"


LIMITS = """\
What limits each number (icount: the TSC counts guest instructions, 1 per instruction):
- Instructions, not cycles: no cache misses, branch mispredictions, or lock-prefix cost;
  an atomic or a fence counts as one instruction. Code-path length is what is compared.
- Timer interrupts land inside the timed loops (BH is off, IRQs are on): a few hundred
  instructions per 4 ms tick, i.e. < 0.1 % of a loop; the median over rounds removes them.
- Reference loops include the loop overhead (counter, compare, branch: see empty_loop).
- pp03 and devmem_refill include the buddy allocator / free-list lock; pp03 is dominated by
  the page allocator, so its netmem/direct ratio is the least sensitive one.
- Cross-CPU: both vCPUs share one instruction clock under round-robin TCG, so e2e is the sum
  of both sides per buffer; "return" is the returner's busy time, "alloc" = e2e - return
  (the allocating side). Under KVM only e2e is meaningful.
- bind/unbind: ktime of nmx_bind_dmabuf()/nmx_unbind() scaled to 1 GiB. Under icount the
  clock also jumps over idle time (unbind waits for an RCU grace period), so these are
  virtual ns, not instructions. Metadata per chunk is measured by netmem (the size the
  allocator gave for each of its allocations); the 1 GiB bind pass is in bind.txt.
"""


def parse(path):
    rows, meta, info, skips, errs, warns, jesper = {}, {}, {}, [], [], [], {}
    done = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            p = line.split("\t")
            if p[0] == "NMXBENCH" and len(p) == 7:
                try:
                    rows[p[1]] = {
                        "median": float(p[2]),
                        "p10": float(p[3]),
                        "p90": float(p[4]),
                        "loops": int(p[5]),
                        "unit": p[6],
                    }
                except ValueError:
                    errs.append(f"unparsable: {line}")
            elif p[0] == "NMXBENCH":
                errs.append(f"malformed: {line}")
            elif p[0] == "NMXMETA" and len(p) >= 3:
                meta[p[1]] = p[2:]
            elif p[0] == "NMXINFO" and len(p) >= 2:
                info[p[1]] = dict(kv.split("=", 1) for kv in p[2:] if "=" in kv)
            elif p[0] == "NMXSKIP":
                skips.append(line)
            elif p[0] == "NMXERR":
                errs.append(line)
            elif p[0] == "NMXWARN":
                warns.append(line)
            elif p[0] == "NMXDONE":
                done = True
            elif line.startswith("Type:"):
                jesper[line.split()[0][5:]] = line
    return rows, meta, info, skips, errs, warns, jesper, done


def ratio_rows(rows):
    out = []
    for label, short, num, den, target in RATIOS:
        if num in rows and den in rows and rows[den]["median"] > 0:
            r = rows[num]["median"] / rows[den]["median"]
            delta = rows[num]["median"] - rows[den]["median"]
            verdict = "" if target is None else ("ok" if r <= target else "MISS")
            out.append((label, num, den, r, delta, target, verdict, short))
        else:
            out.append((label, num, den, None, None, target, "n/a", short))
    return out


def fmt_target(t):
    return "-" if t is None else f"<= {t:g}"


def write_tsv(path, rows, ratios):
    with open(path, "w", encoding="utf-8") as f:
        f.write("kind\tname\tmedian\tp10\tp90\tloops\tunit\n")
        for name in EXPECTED + sorted(set(rows) - set(EXPECTED)):
            if name in rows:
                r = rows[name]
                f.write(f"test\t{name}\t{r['median']:.3f}\t{r['p10']:.3f}\t{r['p90']:.3f}\t{r['loops']}\t{r['unit']}\n")
        for _, num, den, r, _, target, verdict, _ in ratios:
            if r is not None:
                f.write(f"ratio\t{num}/{den}\t{r:.4f}\t\t\t\t{fmt_target(target)} {verdict}\n")


def summary_text(rows, meta, info, skips, errs, warns, ratios, cpu, config):
    unit = next((r["unit"] for n, r in rows.items() if n not in BIND), "?")
    run = " ".join(meta.get("run", []))
    out = ["netmem microbenchmark (nmx_bench)", "=" * 33, ""]
    out.append(f"run: {run}")
    keep_vuln = ("guest_vuln_spectre_v2", "guest_vuln_spec_rstack_overflow", "guest_vuln_retbleed")
    for line in cpu:
        if line.startswith("guest_vuln_") and not line.startswith(keep_vuln):
            continue
        out.append(line.replace("\t", ": ", 1))
    if not config:
        out.append("kernel config: not recorded (no --config given)")
    for opt in ("CONFIG_PAGE_POOL_STATS", "CONFIG_RUST_OVERFLOW_CHECKS", "CONFIG_PREEMPT_NONE",
                "CONFIG_PREEMPT_VOLUNTARY", "CONFIG_PREEMPT", "CONFIG_HZ", "CONFIG_JUMP_LABEL",
                "CONFIG_MITIGATION_RETPOLINE", "CONFIG_MITIGATION_RETHUNK", "CONFIG_KASAN",
                "CONFIG_PROVE_LOCKING", "CONFIG_KCSAN"):
        if config:
            out.append(f"kernel {opt}={config.get(opt, 'not set')}")
    out.append("")
    out.append(f"Ratios (same run; medians; unit {unit}). Targets from the issue.")
    w = max(len(r[0]) for r in ratios)
    out.append(f"{'ratio':<{w}}  {'value':>7}  {'delta':>9}  {'target':>8}  {'verdict':<7}  "
               "atomics per op, numerator | denominator")
    for label, num, den, r, delta, target, verdict, _ in ratios:
        val = "n/a" if r is None else f"{r:.3f}"
        dl = "" if delta is None else f"{delta:+.1f}"
        at = ""
        if num in ATOMICS or den in ATOMICS:
            at = f"{atomics_of(num) or '?'} | {atomics_of(den) or '?'}"
        out.append(f"{label:<{w}}  {val:>7}  {dl:>9}  {fmt_target(target):>8}  {verdict:<7}  {at}")
    out.append("(delta: numerator minus denominator, in the unit per operation; atomics: atomic")
    out.append(" read-modify-writes and full fences, counted from the code, see below)")
    met = [v for *_, v, _ in ratios if v in ("ok", "MISS")]
    out.append(f"targets: {met.count('ok')} met, {met.count('MISS')} missed")
    out.append("")
    out.append("Atomics per operation, from the code (not measured):")
    for name, (rmw, fen, why) in ATOMICS.items():
        if not name.endswith(("_keyoff", "_keyon")) and name != "array_pushpop":
            out.append(f"  {name}: {rmw} rmw, {fen} fence: {why}")
    out.append("")
    out.append("Per test: median [p10, p90] over the measured rounds")
    w = max(len(n) for n in EXPECTED)
    for name in EXPECTED:
        if name in rows:
            r = rows[name]
            out.append(f"  {name:<{w}}  {r['median']:>14.3f}  [{r['p10']:.3f}, {r['p90']:.3f}]  {r['unit']}")
        else:
            out.append(f"  {name:<{w}}  {'missing':>14}")
    out.append("")
    if meta:
        out.append("Binding and metadata")
        for k in ("dmabuf_bytes", "chunks", "chunk_bytes", "chunk_desc_bytes",
                  "meta_bytes_per_chunk", "meta_bytes_per_chunk_peak", "bind_split_ns"):
            if k in meta:
                out.append(f"  {k}: {' '.join(meta[k])}")
        out.append("")
    if info:
        out.append("devmem_pool counters over the last round of each devmem test")
        for test, kv in info.items():
            out.append(f"  {test}: " + " ".join(f"{k}={v}" for k, v in kv.items()))
        out.append("")
    for title, lst in (("Skipped", skips), ("Errors", errs), ("Warnings", warns)):
        if lst:
            out.append(f"{title}:")
            out.extend(f"  {x}" for x in lst)
            out.append("")
    out.append(LIMITS)
    return "\n".join(out)


def svg_chart(path, rows, ratios, unit):
    tests = [n for n in REFS + PP + NMX_OFF + NMX_ON + DEVMEM + XCPU if n in rows]
    colors = {}
    for n in REFS:
        colors[n] = "#9e9e9e"
    for n in PP:
        colors[n] = "#1f77b4"
    for n in NMX_OFF:
        colors[n] = "#2ca02c"
    for n in NMX_ON:
        colors[n] = "#98df8a"
    for n in DEVMEM:
        colors[n] = "#d62728"
    for n in XCPU:
        colors[n] = "#ff7f0e" if n.startswith("pp") else "#8c564b"
    left, width, bar, gap, top = 230, 560, 16, 6, 50
    vals = [rows[n]["p90"] for n in tests] + [rows[n]["median"] for n in tests]
    vmin = max(min(v for v in vals if v > 0) / 2, 0.1) if vals else 1
    vmax = max(vals) * 1.5 if vals else 10
    lo, hi = math.log10(vmin), math.log10(vmax)

    def x(v):
        v = max(v, vmin)
        return left + (math.log10(v) - lo) / (hi - lo) * width

    h1 = top + len(tests) * (bar + gap) + 40
    rat = [r for r in ratios if r[3] is not None]
    h2 = 60 + len(rat) * (bar + gap) + 40
    total_h = h1 + h2
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 120}" height="{total_h}" '
         f'font-family="sans-serif" font-size="11">',
         '<rect width="100%" height="100%" fill="white"/>',
         f'<text x="10" y="20" font-size="14" font-weight="bold">nmx_bench: median {escape(unit)} '
         f'(log scale), whiskers p10-p90</text>']
    dec = math.floor(lo)
    while dec <= hi:
        for m in (1, 2, 5):
            v = m * 10 ** dec
            if vmin <= v <= vmax:
                xx = x(v)
                s.append(f'<line x1="{xx:.1f}" y1="{top - 5}" x2="{xx:.1f}" y2="{h1 - 35}" stroke="#ddd"/>')
                s.append(f'<text x="{xx:.1f}" y="{top - 8}" text-anchor="middle" fill="#666">{v:g}</text>')
        dec += 1
    for i, n in enumerate(tests):
        y = top + i * (bar + gap)
        r = rows[n]
        s.append(f'<text x="{left - 6}" y="{y + bar - 4}" text-anchor="end">{escape(n)}</text>')
        s.append(f'<rect x="{left}" y="{y}" width="{x(r["median"]) - left:.1f}" height="{bar}" fill="{colors[n]}"/>')
        s.append(f'<line x1="{x(r["p10"]):.1f}" y1="{y + bar / 2}" x2="{x(r["p90"]):.1f}" y2="{y + bar / 2}" stroke="black"/>')
        s.append(f'<text x="{x(max(r["median"], r["p90"])) + 4:.1f}" y="{y + bar - 4}">{r["median"]:.1f}</text>')
    # Ratio panel: linear 0..max, target marks.
    y0 = h1 + 20
    s.append(f'<text x="10" y="{y0}" font-size="14" font-weight="bold">Ratios (same run) with targets (|)</text>')
    rmax = max([r[3] for r in rat] + [r[5] for r in rat if r[5]] + [1.1]) * 1.1

    def xr(v):
        return left + v / rmax * width

    for v in (0.5, 1.0, 1.5, 2.0, 3.0, 4.0):
        if v <= rmax:
            s.append(f'<line x1="{xr(v):.1f}" y1="{y0 + 15}" x2="{xr(v):.1f}" y2="{total_h - 30}" stroke="#ddd"/>')
            s.append(f'<text x="{xr(v):.1f}" y="{y0 + 12}" text-anchor="middle" fill="#666">{v:g}</text>')
    for i, (_, _, _, r, _, target, verdict, label) in enumerate(rat):
        y = y0 + 25 + i * (bar + gap)
        color = "#2ca02c" if verdict == "ok" else ("#d62728" if verdict == "MISS" else "#7f7f7f")
        s.append(f'<text x="{left - 6}" y="{y + bar - 4}" text-anchor="end">{escape(label)}</text>')
        s.append(f'<rect x="{left}" y="{y}" width="{xr(r) - left:.1f}" height="{bar}" fill="{color}"/>')
        s.append(f'<text x="{xr(r) + 4:.1f}" y="{y + bar - 4}">{r:.3f}</text>')
        if target:
            s.append(f'<line x1="{xr(target):.1f}" y1="{y - 2}" x2="{xr(target):.1f}" y2="{y + bar + 2}" '
                     f'stroke="black" stroke-width="2"/>')
    s.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(s) + "\n")


def read_kv(path, sep="\t"):
    try:
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    except OSError:
        return []


def read_config(path):
    cfg = {}
    for line in read_kv(path):
        if line.startswith("CONFIG_") and "=" in line:
            k, v = line.split("=", 1)
            cfg[k] = v
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cpu")
    ap.add_argument("--config")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()

    rows, meta, info, skips, errs, warns, _, done = parse(a.raw)
    ratios = ratio_rows(rows)
    missing = [n for n in EXPECTED if n not in rows]
    cpu = read_kv(a.cpu) if a.cpu else []
    config = read_config(a.config) if a.config else {}
    text = summary_text(rows, meta, info, skips, errs, warns, ratios, cpu, config)
    with open(f"{a.out}/summary.txt", "w", encoding="utf-8") as f:
        f.write(text + "\n")
    write_tsv(f"{a.out}/results.tsv", rows, ratios)
    unit = next((r["unit"] for n, r in rows.items() if n not in BIND), "?")
    if rows:
        svg_chart(f"{a.out}/chart.svg", rows, ratios, unit)
    print(text)

    problems = []
    if not done:
        problems.append("the run did not finish (no NMXDONE)")
    problems += errs
    # A guest with one CPU cannot run the cross-CPU tests: say so loudly, but only that
    # excuses a missing test.
    no_cpu = [x for x in skips if x.endswith("no second CPU")]
    if no_cpu:
        missing = [n for n in missing if n not in XCPU]
        print("bench: WARNING: the guest has one CPU; cross-CPU tests skipped", file=sys.stderr)
    if missing:
        problems.append("missing tests: " + " ".join(missing))
    if a.smoke:
        problems += [x for x in skips if x not in no_cpu]
    if problems:
        print("bench: FAIL\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    present = sum(n in rows for n in EXPECTED)
    print(f"bench: {present} of {len(EXPECTED)} expected results present", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
