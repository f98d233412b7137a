#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise the bind-at-scale pass of nmx_bench (raw-bind.txt) into bind.txt.

The pass binds and unbinds one large udmabuf (ci/bench.sh --bind-mb, 1 GiB by default)
a few times and nothing else. netmem profiles every bind itself
(nmx_testing_bind_profile(): ktime reads around each part, and the size the allocator
really gave for each allocation), so both the time split and the metadata per chunk are
measured, not scaled or computed. Verdicts (from issue 9):
- netmem's own part of a bind <= the dma-buf map part (dma_buf_attach +
  dma_buf_map_attachment). The sg walk is counted on netmem's side: it includes netmem's
  temporary arrays; the line also shows the split without it.
- metadata <= 40 bytes per 4 KiB chunk, steady state.
A missed verdict is reported, not failed (as for the ratios of summary.py); a missing
result or an error line fails. Python standard library only.
"""

import argparse
import sys

ROWS = ["bind_call", "unbind_call", "bind_map_call", "bind_sgwalk_call", "bind_netmem_call",
        "bind_inner_call", "bind_netmem_copy_call", "bind_netmem_pool_call",
        "bind_netmem_finish_call", "bind_netmem_rest_call"]
METAS = ["chunks", "chunk_bytes", "dmabuf_bytes", "bind_split_ns", "bind_verdict",
         "meta_measured_bytes", "meta_bytes_per_chunk", "meta_bytes_per_chunk_peak",
         "meta_verdict"]


def parse(path):
    rows, meta, allocs, errs, done = {}, {}, [], [], False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if p[0] == "NMXBENCH" and len(p) == 7:
                rows[p[1]] = (float(p[2]), float(p[3]), float(p[4]), int(p[5]))
            elif p[0] == "NMXMETA" and len(p) >= 3 and p[1] == "meta_alloc":
                allocs.append(p[2:])
            elif p[0] == "NMXMETA" and len(p) >= 3:
                meta[p[1]] = p[2:]
            elif p[0] in ("NMXERR", "NMXWARN"):
                errs.append(line.rstrip("\n"))
            elif p[0] == "NMXDONE":
                done = True
    return rows, meta, allocs, errs, done


def kv(fields):
    return dict(f.split("=", 1) for f in fields if "=" in f)


def ms(ns):
    return f"{ns / 1e6:9.3f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rows, meta, allocs, errs, done = parse(a.raw)

    problems = list(errs)
    if not done:
        problems.append("the bind pass did not finish (no NMXDONE)")
    missing = [r for r in ROWS if r not in rows] + [m for m in METAS if m not in meta]
    if missing:
        problems.append("missing: " + " ".join(missing))
    if not allocs:
        problems.append("no allocation was measured")
    if problems:
        print("bench bind: FAIL\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1

    chunks = int(meta["chunks"][0])
    mib = int(meta["dmabuf_bytes"][0]) >> 20
    binds = kv(meta.get("run", [])).get("rounds", "?")
    med = {r: rows[r][0] for r in ROWS}  # ns per call
    split = kv(meta["bind_split_ns"])
    nsplit = kv(meta["bind_netmem_split_ns"]) if "bind_netmem_split_ns" in meta else {}
    mapn, sg, own = int(split["map"]), int(split["sgwalk"]), int(split["netmem"])
    out = [f"Bind at scale: a {mib} MiB udmabuf, {chunks} chunks of {meta['chunk_bytes'][0]} B",
           "(medians over the measured binds; virtual ns: under icount, 1 ns = 1 instruction)",
           ""]
    out.append(f"  bind call (nmx_bind_dmabuf, outside)  {ms(med['bind_call'])}")
    out.append(f"  bind call (netmem, inside)            {ms(med['bind_inner_call'])}")
    out.append(f"  map: dma_buf_attach + map_attachment  {ms(mapn)}  {mapn / chunks:7.1f} ns/chunk")
    out.append(f"  sg walk (reading the DMA segments)    {ms(sg)}  {sg / chunks:7.1f} ns/chunk")
    out.append(f"  netmem's own, rest of the call        {ms(own)}  {own / chunks:7.1f} ns/chunk")
    for k, label in (("copy", "segments into netmem's list"), ("pool", "layout check + Pool::new"),
                     ("finish", "queues, binding, chunk owners"),
                     ("rest", "fd, RTNL, claim, id, publish")):
        if k in nsplit:
            v = int(nsplit[k])
            out.append(f"    {k:<7}{label:<31}{ms(v)}  {v / chunks:7.1f} ns/chunk")
    out.append(f"  unbind call                           {ms(med['unbind_call'])}")
    v = meta["bind_verdict"]
    out.append(f"  verdict: netmem part (with sg walk) <= map part: {v[1]} "
               f"({(own + sg) / max(mapn, 1):.2f}x; without the sg walk "
               f"{own / max(mapn, 1):.2f}x)")
    out.append("")
    b = kv(meta["meta_measured_bytes"])
    out.append("Metadata, measured: every allocation netmem made for the bind, at the size the "
               "allocator gave (ksize, or the vmalloc area's mapped size)")
    out.append(f"  steady (held after bind)  {int(b['steady']):>10} B  "
               f"{meta['meta_bytes_per_chunk'][0]:>8} B/chunk")
    out.append(f"  peak (during bind)        {int(b['peak']):>10} B  "
               f"{meta['meta_bytes_per_chunk_peak'][0]:>8} B/chunk")
    kk = sum(int(kv(al[2:])["bytes"]) for al in allocs if al[-2] == "kmalloc" and al[-1] == "kept")
    out.append(f"  cross-check: the kernel's slab counter grew {int(b['slab_counter_growth'])} B from the "
               f"end of the map to the end of the bind; kmalloc'd bytes kept: {kk} B "
               "(the harness fails beyond 1/16 + 1 MiB apart)")
    mv = meta["meta_verdict"]
    out.append(f"  verdict: steady bytes per chunk <= 40: {mv[1]} ({mv[2]})")
    out.append(f"  {'#':>2} {'allocation':<14}{'count':>8}{'requested':>11}{'bytes':>11}"
               f"{'B/chunk':>9}  {'kind':<8}{'life':<10}{'ns before':>10}")
    for al in allocs:
        i, what, f = al[0], al[1], kv(al[2:])
        kind, life = al[-2], al[-1]
        out.append(f"  {i:>2} {what:<14}{f['count']:>8}{f['requested']:>11}{f['bytes']:>11}"
                   f"{f['per_chunk']:>9}  {kind:<8}{life:<10}{f['ns_since_previous']:>10}")
    out.append("  (ns before: time from the previous allocation or timed part to this one's "
               "accounting, i.e. allocating and filling it)")
    out.append(f"  {binds} measured binds (after one warm-up); the memory is the last bind's "
               "(every bind must measure the same, else an NMXWARN fails this step)")
    text = "\n".join(out)
    with open(f"{a.out}/bind.txt", "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
