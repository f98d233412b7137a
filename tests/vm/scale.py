# SPDX-License-Identifier: GPL-2.0
"""Scale: a large binding torn down by kill -9 of its owner, then thousands of
bind/unbind cycles with memory flat. Prints TAP. See tests/vm/rel-scale.sh.

    python3 tests/vm/scale.py [SIZE_MIB] [KILL_BOUND_S] [CYCLES] [SLAB_TOL_KIB] [AVAIL_TOL_KIB]

nmxt1 is up in the initial netns, nmxt0 (10.0.0.1) in netns scpeer, both addressed.
"""
import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import genlraw as g  # noqa: E402
from core_nl import Genl, tokens_of  # noqa: E402
from teardown_matrix import bufinfo, fork, get, ok, sender, tap, wait, Kmsg  # noqa: E402
import teardown_matrix as tm  # noqa: E402

A_TOTAL, A_POSTED, A_COMPLETED = 16, 18, 19
QUEUE = 1


def meminfo():
    out = {}
    for line in open("/proc/meminfo"):
        k, v = line.split(":")
        out[k] = int(v.split()[0])
    return out


def bind(s, ifindex, fd):
    q = g.attr(g.A_QUEUES | 0x8000, g.u32(g.Q_ID, QUEUE) + g.u32(g.Q_TYPE, 0))
    # A 1 GiB bind takes a while here.
    err, r = s.request(g.CMD_BIND, g.u32(g.A_IFINDEX, ifindex) + q + g.u32(g.A_FD, fd), 600)
    if err:
        raise OSError(err, f"bind: {g.last_ext[0]}")
    return struct.unpack("I", g.reply_attrs(r)[g.A_ID])[0]


def big_owner(fam, ifindex, size, rep_w):
    """Binds a udmabuf of `size` bytes, reads and keeps some tokens, reports, sleeps."""
    rep = os.fdopen(rep_w, "w", buffering=1)
    s = Genl(fam)
    t0 = time.time()
    memfd, fd = g.make_udmabuf(size)
    t1 = time.time()
    bid = bind(s, ifindex, fd)
    t2 = time.time()
    held = []
    end = time.time() + 60
    while len(held) < 16 and time.time() < end:
        err, r = s.request(g.CMD_READ, g.u32(g.A_ID, bid) + g.u32(g.A_MAX_RECORDS, 16))
        held += tokens_of(r) if not err and r else []
        time.sleep(0.05)
    err, c = get(s, bid)
    rep.write(f"{bid} {os.fstat(fd).st_ino} {t1 - t0:.2f} {t2 - t1:.2f} {len(held)} "
              f"{c.get(A_TOTAL, 0)} {c.get(A_POSTED, 0)}\n")
    while True:
        time.sleep(3600)


def main():
    size_mib, bound, cycles, slab_tol, avail_tol = (int(a) for a in sys.argv[1:6])
    fam = g.family_id(b"bind-dmabuf")
    obs = Genl(fam)
    ifindex = socket.if_nametoindex("nmxt1")
    kmsg = Kmsg()

    # --- 1. a big binding, traffic flowing, torn down by kill -9 of its owner ---
    tm.NS_PEER = "scpeer"
    spid = fork(sender)
    rep_r, rep_w = os.pipe()
    opid = fork(big_owner, fam, ifindex, size_mib << 20, rep_w)
    os.close(rep_w)
    line = os.fdopen(rep_r).readline().split()
    if len(line) != 7:
        ok(False, f"bind a {size_mib} MiB udmabuf", f"owner said {line}")
        os.kill(spid, signal.SIGKILL)
        os.kill(opid, signal.SIGKILL)
        return 1
    bid, ino = int(line[0]), int(line[1])
    total, posted = int(line[5]), int(line[6])
    ok(total == (size_mib << 20) // 4096 and posted > 0,
       f"bound {size_mib} MiB: {total} chunks of 4 KiB, {posted} posted, {line[4]} tokens held "
       f"(udmabuf {line[2]} s, bind {line[3]} s)")
    os.kill(opid, signal.SIGKILL)
    t0 = time.time()
    os.waitpid(opid, 0)
    t_exit = time.time() - t0
    gone = wait(lambda: get(obs, bid)[0] != 0 and bufinfo(ino) is None, bound)
    t_gone = time.time() - t0
    ok(gone and t_gone <= bound, f"kill -9 of the owner: binding and dma-buf gone in {t_gone:.1f} s (owner reaped "
       f"after {t_exit:.1f} s; bound {bound} s)", f"binding {get(obs, bid)}, bufinfo {bufinfo(ino)}")
    os.kill(spid, signal.SIGKILL)
    os.waitpid(spid, 0)
    spl = kmsg.splats()
    ok(not spl, "no kernel splat during the big teardown (ci/vm.sh rules)",
       "\n".join(spl[:20]))

    # --- 2. bind/unbind cycles with a small udmabuf: memory flat ---
    s = Genl(fam)

    def cycle():
        memfd, fd = g.make_udmabuf(64 << 10)
        bid = bind(s, ifindex, fd)
        err, _ = s.request(g.CMD_UNBIND, g.u32(g.A_ID, bid))
        if err:
            raise OSError(err, "unbind")
        os.close(fd)
        os.close(memfd)

    for _ in range(max(cycles // 5, 100)):  # warm-up: caches, dma-debug entries, ids
        cycle()
    wait(lambda: bufinfo_count() == 0, 20)
    settle()
    before = meminfo()
    t0 = time.time()
    for _ in range(cycles):
        cycle()
    dt = time.time() - t0
    wait(lambda: bufinfo_count() == 0, 20)
    settle()
    after = meminfo()
    ds = after["SUnreclaim"] - before["SUnreclaim"]
    da = before["MemAvailable"] - after["MemAvailable"]
    ok(ds <= slab_tol and da <= avail_tol,
       f"{cycles} bind/unbind cycles (64 KiB udmabuf, port up) in {dt:.0f} s "
       f"({dt / cycles * 1000:.0f} ms each): unreclaimable slab {ds:+d} KiB (tolerance "
       f"{slab_tol}), MemAvailable {-da:+d} KiB (tolerance -{avail_tol})",
       f"before {before['SUnreclaim']}/{before['MemAvailable']} after {after['SUnreclaim']}/{after['MemAvailable']}")
    ok(bufinfo_count() == 0 and not g.dump(fam, g.CMD_GET), "no binding and no udmabuf left")
    spl = kmsg.splats()
    ok(not spl, "no splat during the cycles", "\n".join(spl[:20]))
    print(f"1..{tap['n']}")
    return 1 if tap["fail"] else 0


def settle():
    """Lets RCU callbacks (kfree_rcu, call_rcu) run, then empties KASAN's quarantine (freed
    objects it holds back, counted as slab until they leave it: shrinking a cache flushes
    its objects out) and the page cache, so that the slab counters show live objects."""
    time.sleep(2)
    for c in os.listdir("/sys/kernel/slab"):
        try:
            with open(f"/sys/kernel/slab/{c}/shrink", "w") as f:
                f.write("1")
        except OSError:
            pass
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3")


def bufinfo_count():
    return sum(1 for line in open(tm.BUFINFO) if "\tudmabuf\t" in line)


if __name__ == "__main__":
    sys.exit(main())
