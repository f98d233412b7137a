# SPDX-License-Identifier: GPL-2.0
"""Exhaustion: userspace reads its records and never releases the tokens (driven by
tests/vm/rel-exhaust.sh, run in netns exb, which holds nmxt1 = 10.0.0.2; nmxt0 =
10.0.0.1 is in netns exa). TAP.

A 64-chunk udmabuf is bound to nmxt1 queue 1. 1. More frames than chunks arrive: exactly
64 land in the dma-buf (payload verified through the memfd), every other one is dropped
and counted (the test NIC's no-buffer count, the netdev's rx_missed_errors, the binding's
empty-allocation counter), nothing is lost uncounted. 2. While the queue is exhausted and
traffic keeps arriving, the NIC's other queues (ping on queue 0, UDP into pages on queue
2), RTNL and binding-get keep answering within a bound. 3. Once the tokens come back, the
next frames land in the dma-buf again (payload verified), none dropped."""
import mmap
import os
import socket
import struct
import subprocess
import sys
import time

import genlraw as g
from nlsec import CLI, Genl, audit, nic_stats, set_mtu, sh, tap, tap_done, wait

PEER = "ip netns exec exa"
CHUNKS = 64
F1, F3 = 200, 50
# Spawning a process (ip netns exec, ping) takes seconds under TCG: the bound for those
# is generous; a stalled queue or a hung RTNL fails them outright (ping -W, timeouts).
BOUND = float(os.environ.get("NMX_EXH_BOUND", "30"))
RTNL_BOUND = 2.0


def payload_seq(buf, off, length):
    """Sequence number of the netmemctl test payload in the frame at buf[off:off+length],
    or an error string if the frame is not one or its bytes are wrong."""
    f = buf[off:off + length]
    if len(f) < 14 + 20 + 8 + 12 or f[12:14] != b"\x08\x00":
        return f"not IPv4 ({length} bytes)"
    ihl = (f[14] & 15) * 4
    p = f[14 + ihl + 8:]
    if p[:4] != b"NMX1":
        return "no payload magic"
    seq, plen = struct.unpack(">II", p[4:12])
    if plen != len(p):
        return f"seq {seq}: payload length {plen}, frame carries {len(p)}"
    for k in range(12, plen):
        if p[k] != (seq * 31 + k) & 0xFF:
            return f"seq {seq}: byte {k} is {p[k]}, wanted {(seq * 31 + k) & 0xFF}"
    return seq


def delta(a, b, *keys):
    return {k: b[k] - a[k] for k in keys}


KEYS = ("rx_devmem_frames", "rx_page_frames", "rx_no_buf", "rx_drops")


def main():
    fam = g.family_id(b"bind-dmabuf")
    ifindex = socket.if_nametoindex("nmxt1")
    owner = Genl(fam)
    bid, memfd, fd = owner.bind(ifindex, 1, CHUNKS * 4096)
    buf = mmap.mmap(memfd, CHUNKS * 4096, mmap.MAP_SHARED, mmap.PROT_READ)
    missed = "/sys/class/net/nmxt1/statistics/rx_missed_errors"
    m0 = int(open(missed).read())
    s0 = nic_stats("nmxt1", 1)
    c0 = owner.counts(bid)
    tap("bound a 64-chunk udmabuf to nmxt1 queue 1", c0["total"] == CHUNKS, str(c0))

    # --- 1. more frames than chunks; the owner reads and never releases ---
    sh(f"{PEER} {CLI} send --dst 10.0.0.2 --port 9001 --count {F1} --size 300")
    held, seqs, bad = [], [], []

    def drain():
        for off, ln, tok, _ in owner.read(bid):
            held.append(tok)
            r = payload_seq(buf, off, ln)
            (seqs if isinstance(r, int) else bad).append(r)
        d = delta(s0, nic_stats("nmxt1", 1), *KEYS)
        return d["rx_devmem_frames"] + d["rx_no_buf"] + d["rx_drops"] >= F1

    done = wait(drain, 60)
    drain()
    d1 = delta(s0, nic_stats("nmxt1", 1), *KEYS)
    c1 = owner.counts(bid)
    m1 = int(open(missed).read())
    tap(f"exhausted: of {F1} frames exactly {CHUNKS} landed in the dma-buf, the rest dropped "
        "and counted (NIC no-buffer, netdev rx_missed_errors, binding empty allocations)",
        done and d1["rx_devmem_frames"] == CHUNKS and d1["rx_page_frames"] == 0
        and d1["rx_no_buf"] + d1["rx_drops"] == F1 - CHUNKS and m1 - m0 == d1["rx_no_buf"]
        and c1["empty"] > c0["empty"],
        f"NIC {d1}; rx_missed_errors +{m1 - m0}; binding {c1}")
    tap(f"the {CHUNKS} frames that landed carry their payload (seq 0..{CHUNKS - 1}, verified "
        "in the memfd); the owner holds every chunk",
        sorted(seqs) == list(range(CHUNKS)) and not bad and c1["user"] == CHUNKS
        and c1["free"] == c1["posted"] == c1["completed"] == 0,
        f"seqs {sorted(seqs)[:5]}..., bad {bad[:3]}; binding {c1}")

    # --- 2. exhausted under traffic: nothing else stops ---
    sender = subprocess.Popen(f"exec {PEER} {CLI} send --dst 10.0.0.2 --port 9001 --count 200 "
                              "--size 300 --rate 100", shell=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    t0 = time.time()
    r = sh(f"{PEER} ping -c 2 -i 0.2 -W 5 10.0.0.2", timeout=60)
    tap(f"while exhausted: ping over queue 0 works ({time.time() - t0:.1f} s)",
        r.returncode == 0 and time.time() - t0 < BOUND, r.stdout[-200:] + r.stderr)
    sink = subprocess.Popen(f"exec {CLI} sink --port 9002 --frames 20 --timeout 60 --json",
                            shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1)
    t0 = time.time()
    sh(f"{PEER} {CLI} send --dst 10.0.0.2 --port 9002 --count 20 --size 500")
    out, _ = sink.communicate(timeout=90)
    tap(f"while exhausted: queue 2 receives 20 UDP frames into pages ({time.time() - t0:.1f} s)",
        sink.returncode == 0 and time.time() - t0 < BOUND, out.strip())
    t0 = time.time()
    e1, e2 = set_mtu(ifindex, 1400), set_mtu(ifindex, 1500)
    get_ok = owner.counts(bid)["user"] == CHUNKS
    dt = time.time() - t0
    tap(f"while exhausted: RTNL (set mtu twice) and binding-get answer ({dt:.2f} s)",
        e1 == e2 == 0 and get_ok and dt < RTNL_BOUND, f"{e1} {e2} {get_ok}")
    sender.wait(timeout=120)
    wait(lambda: nic_stats("nmxt1", 1)["wire_len"] == 0, 30)
    d2 = delta(s0, nic_stats("nmxt1", 1), *KEYS)
    tap("while exhausted: 200 more frames on queue 1, all dropped and counted, none landed",
        d2["rx_devmem_frames"] == CHUNKS and d2["rx_no_buf"] + d2["rx_drops"] == F1 + 200 - CHUNKS,
        f"NIC since bind {d2}")

    # --- 3. tokens come back: the queue receives into the dma-buf again ---
    n = owner.release(bid, held)
    s2 = nic_stats("nmxt1", 1)
    sh(f"{PEER} {CLI} send --dst 10.0.0.2 --port 9001 --count {F3} --size 300 --seq-start 1000")
    held, seqs, bad = [], [], []

    def drain3():
        for off, ln, tok, _ in owner.read(bid):
            held.append(tok)
            r = payload_seq(buf, off, ln)
            (seqs if isinstance(r, int) else bad).append(r)
        d = delta(s2, nic_stats("nmxt1", 1), *KEYS)
        return d["rx_devmem_frames"] + d["rx_no_buf"] + d["rx_drops"] >= F3 and len(held) >= F3

    done = wait(drain3, 60)
    d3 = delta(s2, nic_stats("nmxt1", 1), *KEYS)
    tap(f"recovered: after releasing the {n} tokens, all {F3} next frames landed in the "
        "dma-buf with their payload, none dropped",
        n == CHUNKS and done and d3["rx_devmem_frames"] == F3 and d3["rx_no_buf"] == 0
        and d3["rx_drops"] == 0 and sorted(seqs) == list(range(1000, 1000 + F3)) and not bad,
        f"released {n}; NIC {d3}; seqs {sorted(seqs)[:3]}...; bad {bad[:3]}")
    owner.release(bid, held)
    c = owner.counts(bid)
    ok, a = audit(bid)
    tap("all tokens back, the binding's accounting is exact",
        ok and c["user"] == c["completed"] == 0 and c["free"] + c["posted"] == CHUNKS, f"{c}; {a}")
    e, _, _ = owner.request(g.CMD_UNBIND, g.u32(g.A_ID, bid))
    buf.close()
    os.close(fd)
    os.close(memfd)
    owner.s.close()
    tap("unbound, no binding left", e == 0 and wait(lambda: Genl(fam).ids() == [], 20))
    return tap_done()


if __name__ == "__main__":
    sys.exit(main())
