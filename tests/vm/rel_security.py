# SPDX-License-Identifier: GPL-2.0
"""Security checks of the bind-dmabuf family (driven by tests/vm/rel-security.sh, run in
netns secb, which holds nmxt1 = 10.0.0.2; nmxt0 = 10.0.0.1 is in netns seca). TAP.

The owner (root) binds a udmabuf to nmxt1 queue 1, frames land in it, and it reads some
records (tokens held). Then, each refused attempt must leave that binding exactly as it
was (chunk counts, netmem's audit) and the owner must still be able to use it:
- the spec's admin-perm ops are every mutating op, and the running family has the flag
  on exactly those (genetlink's op list);
- without CAP_NET_ADMIN (capability dropped, uid 0 kept), through the OWNER's socket:
  EPERM from genetlink (no extack) for every admin op; binding-get stays allowed;
- the owner's socket passed by SCM_RIGHTS to uid 65534: the same; its own socket cannot
  bind;
- a socket opened by uid 65534 and passed to root: root cannot bind or read through it
  (genetlink checks the opener's capability too);
- a socket of another netns neither sees (get, dump) nor reads, releases or unbinds the
  binding, and learns nothing about it (ENOENT, like an id that does not exist);
- rx-release bounds: token 0 (not held), chunks-total, u32 max, a token of another
  binding, a duplicate, a released token: EINVAL with extack pointing at the bad token,
  the valid tokens of the request released, nothing else changed;
- an unprivileged looping dumper and a half-read dump stall neither the owner's
  rx-read/rx-release nor RTNL (ip link set mtu)."""
import errno
import json
import os
import socket
import struct
import subprocess
import sys
import time

import yaml

import genlraw as g
from nlsec import (CAP_NET_ADMIN, CLI, HDR, Genl, audit, set_mtu,
                   become_nobody, bind_body, cap_eff, drop_cap, ename, in_child,
                   release_body, sh, socket_in_netns, tap, tap_done, wait)

PEER = "ip netns exec seca"
MSG_TOKEN = "token not held by the user (double release or foreign token); the others were released"
BOUND = float(os.environ.get("NMX_SEC_BOUND", "2"))  # seconds an op may take under load
ADMIN_OPS = {"bind-dmabuf", "unbind", "rx-read", "rx-release"}


def spec_ops():
    spec = yaml.safe_load(open(os.path.join(os.path.dirname(__file__),
                                            "../../netmem/bind-dmabuf.yaml")))
    ops = spec["operations"]["list"]
    return {o["name"]: (i + 1, "admin-perm" in o.get("flags", [])) for i, o in enumerate(ops)}


def kernel_op_flags():
    """{cmd: flags} of the registered family, from CTRL_CMD_GETFAMILY (CTRL_ATTR_OPS)."""
    g.seq[0] += 1
    payload = struct.pack("BBH", g.CTRL_CMD_GETFAMILY, 1, 0) + g.attr(g.CTRL_ATTR_FAMILY_NAME, b"bind-dmabuf\0")
    g.s.send(struct.pack("IHHII", 16 + len(payload), g.GENL_ID_CTRL, g.NLM_F_REQUEST, g.seq[0], 0) + payload)
    data = g.s.recv(65536)
    top = g.attrs(data, 20, struct.unpack_from("I", data, 0)[0])
    out = {}
    ops = top.get(6, b"")  # CTRL_ATTR_OPS
    off = 0
    while off + 4 <= len(ops):
        ln, _ = struct.unpack_from("HH", ops, off)
        a = g.attrs(ops[off + 4:off + ln])
        out[struct.unpack("I", a[1])[0]] = struct.unpack("I", a[2])[0]  # OP_ID, OP_FLAGS
        off += (ln + 3) & ~3
    return out


def attempts(s, bid, token, ifindex, fd):
    """Every admin op through socket s on binding bid (bind-dmabuf: dma-buf fd on queue 2),
    and the unprivileged ones: {op: (errno name, extack message or None)}."""
    out = {}
    for op, cmd, body in (("unbind", g.CMD_UNBIND, g.u32(g.A_ID, bid)),
                          ("rx-read", g.CMD_READ, g.u32(g.A_ID, bid)),
                          ("rx-release", g.CMD_RELEASE, release_body(bid, [token])),
                          ("bind-dmabuf", g.CMD_BIND, bind_body(ifindex, 2, fd)),
                          ("binding-get", g.CMD_GET, g.u32(g.A_ID, bid))):
        e, _, x = s.request(cmd, body)
        out[op] = (ename(e), x.get("msg"))
    e, msgs = s.dump()
    out["binding-get dump"] = (ename(e), None)
    out["dump ids"] = [struct.unpack("I", g.reply_attrs(m)[g.A_ID])[0] for m in msgs]
    return out


def judge_denied(who, res, bid):
    """Each admin op refused by genetlink's capability check (EPERM, no extack message:
    the handlers' own EPERM carries one); binding-get allowed and showing the binding."""
    for op in sorted(ADMIN_OPS):
        e, m = res.get(op, ("missing", None))
        tap(f"{who}: {op} refused by the capability check", e == "EPERM" and m is None,
            f"{e}, extack {m!r} (wanted EPERM without extack)")
    get_ok = res.get("binding-get", ("?",))[0] == "0" and res.get("binding-get dump", ("?",))[0] == "0"
    tap(f"{who}: binding-get (not admin) still allowed", get_ok and bid in res.get("dump ids", []),
        str({k: res.get(k) for k in ("binding-get", "binding-get dump", "dump ids")}))


def main():
    fam = g.family_id(b"bind-dmabuf")
    ifindex = socket.if_nametoindex("nmxt1")

    # --- the admin ops: the spec, and the running family ---
    sops = spec_ops()
    admin = {n for n, (_, a) in sops.items() if a}
    tap("spec: admin-perm on every mutating op (bind-dmabuf, unbind, rx-read, rx-release), "
        "not on binding-get", admin == ADMIN_OPS and set(sops) == ADMIN_OPS | {"binding-get"},
        f"spec admin ops {sorted(admin)}, all ops {sorted(sops)}")
    kf = kernel_op_flags()
    bad = [n for n, (cmd, a) in sops.items() if bool(kf.get(cmd, 0) & 1) != a]
    tap("running family: GENL_ADMIN_PERM exactly on the spec's admin ops", not bad and kf,
        f"op flags {kf}; mismatched: {bad}")

    # --- the owner's binding: frames landed, some records read (tokens held) ---
    owner = Genl(fam)
    bid, _memfd, _fd = owner.bind(ifindex, 1, 1 << 20)
    r = sh(f"{PEER} {CLI} send --dst 10.0.0.2 --port 9001 --count 64 --size 200")
    landed = wait(lambda: owner.counts(bid)["completed"] == 64, 60)
    held = [t for _, _, t, _ in owner.read(bid, 32)]
    c0 = owner.counts(bid)
    # A dma-buf (made while root: /dev/udmabuf is root's) for the refused bind attempts.
    spare_memfd, spare = g.make_udmabuf(1 << 20)
    tap("setup: owner bound queue 1, 64 frames landed, 32 records read and held",
        landed and len(held) == 32 and c0["user"] == 32 and c0["completed"] == 32,
        f"binding {bid}: {c0}; send: {r.stderr.strip()}")

    def unchanged(what):
        c = owner.counts(bid)
        ok, a = audit(bid)
        tap(f"{what}: the binding is unchanged (counts, audit) and still the only one",
            c == c0 and ok and owner.ids() == [bid], f"{c} vs {c0}; {a}; ids {owner.ids()}")

    # --- CAP_NET_ADMIN dropped (uid 0 kept), through the owner's own socket ---
    def capless():
        drop_cap(CAP_NET_ADMIN)
        res = attempts(owner, bid, held[0], ifindex, spare)
        res["capeff"] = cap_eff()
        return res
    res = in_child(capless)
    tap("uid 0 without CAP_NET_ADMIN (capset): the capability is gone",
        isinstance(res.get("capeff"), int) and not res["capeff"] & (1 << CAP_NET_ADMIN),
        f"CapEff {res.get('capeff')}, {res.get('error', '')}")
    judge_denied("owner's socket, uid 0 without CAP_NET_ADMIN", res, bid)
    unchanged("after the capless attempts")
    # The same socket with the capability: the refusals were the capability's.
    more = owner.read(bid, 1)
    n = owner.release(bid, [t for _, _, t, _ in more])
    tap("owner's socket with CAP_NET_ADMIN again: rx-read and rx-release accepted",
        len(more) == 1 and n == 1, f"read {more}, released {n}")
    c0 = owner.counts(bid)

    # --- the owner's socket passed by SCM_RIGHTS to uid 65534 ---
    pa, pb = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def nobody_receiver():
        pa.close()
        become_nobody()
        pb.send(b"ready")
        _, fds, _, _ = socket.recv_fds(pb, 16, 1)
        s = Genl(fam, fds[0])
        res = attempts(s, bid, held[0], ifindex, spare)
        res["own socket"] = attempts(Genl(fam), bid, held[0], ifindex, spare)
        res["uid"], res["capeff"] = os.getuid(), cap_eff()
        return res

    pid_r, pid_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(pid_r)
        try:
            out = nobody_receiver()
        except BaseException as e:
            out = {"error": repr(e)}
        os.write(pid_w, json.dumps(out).encode())
        os._exit(0)
    os.close(pid_w)
    pb.close()
    pa.settimeout(30)
    ready = pa.recv(5) == b"ready"
    socket.send_fds(pa, [b"x"], [owner.s.fileno()])
    data = b""
    while chunk := os.read(pid_r, 65536):
        data += chunk
    os.waitpid(pid, 0)
    res = json.loads(data) if data else {"error": "child died"}
    tap("owner's socket sent by SCM_RIGHTS to uid 65534 (no capabilities)",
        ready and res.get("uid") == 65534 and res.get("capeff") == 0,
        f"uid {res.get('uid')}, CapEff {res.get('capeff')} {res.get('error', '')}")
    judge_denied("owner's socket in uid 65534's hands", res, bid)
    judge_denied("uid 65534's own socket", res.get("own socket", {}), bid)
    unchanged("after uid 65534's attempts")

    # --- a socket opened by uid 65534, used by root ---
    pa, pb = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        pa.close()
        try:
            become_nobody()
            s = Genl(fam)
            socket.send_fds(pb, [b"x"], [s.s.fileno()])
            pb.recv(1)
        finally:
            os._exit(0)
    pb.close()
    pa.settimeout(30)
    _, fds, _, _ = socket.recv_fds(pa, 16, 1)
    theirs = Genl(fam, fds[0])
    res = attempts(theirs, bid, held[0], ifindex, spare)
    pa.send(b"x")
    os.waitpid(pid, 0)
    judge_denied("root through a socket uid 65534 opened", res, bid)
    # The same bind request on root's own socket is accepted.
    mine = Genl(fam)
    try:
        b2, m2, f2 = mine.bind(ifindex, 2, 1 << 20)
        e, _, _ = mine.request(g.CMD_UNBIND, g.u32(g.A_ID, b2))
        tap("root's own socket: the same bind is accepted (and unbound)", e == 0, f"binding {b2}")
        os.close(f2)
        os.close(m2)
    except OSError as ex:
        tap("root's own socket: the same bind is accepted", False, str(ex))
    mine.s.close()
    wait(lambda: owner.ids() == [bid], 20)
    unchanged("after root used uid 65534's socket")

    # --- another netns ---
    foreign = socket_in_netns(fam, "seca")
    res = {}
    for op, cmd, body in (("binding-get", g.CMD_GET, g.u32(g.A_ID, bid)),
                          ("rx-read", g.CMD_READ, g.u32(g.A_ID, bid)),
                          ("rx-release", g.CMD_RELEASE, release_body(bid, [held[0]])),
                          ("unbind", g.CMD_UNBIND, g.u32(g.A_ID, bid))):
        e, _, x = foreign.request(cmd, body)
        res[op] = (ename(e), x.get("msg"))
        tap(f"another netns: {op} of the binding: ENOENT (as for an id that does not exist)",
            res[op][0] == "ENOENT" and res[op][1], f"{res[op]}")
    e, msgs = foreign.dump()
    tap("another netns: the dump succeeds and does not list the binding", e == 0 and not msgs,
        f"{ename(e)}, {len(msgs)} entries")
    foreign.s.close()
    unchanged("after the other netns' attempts")

    # --- token bounds ---
    total = c0["total"]
    b2, m2, f2 = owner.bind(ifindex, 2, 1 << 20)
    sh(f"{PEER} {CLI} send --dst 10.0.0.2 --port 9002 --count 16 --size 200")
    wait(lambda: owner.counts(b2)["completed"] == 16, 60)
    held2 = [t for _, _, t, _ in owner.read(b2, 16)]
    h1 = list(held)
    if 0 in h1:  # token 0 must be a chunk not held: give it back first (accepted)
        owner.release(bid, [0])
        h1.remove(0)
    # A token held in binding 2 that binding 1 does not hold.
    foreign_tok = next((t for t in held2 if t not in h1), None)
    if foreign_tok is None:
        foreign_tok = held2[0]
        owner.release(bid, [foreign_tok])
        h1.remove(foreign_tok)
    base1, base2 = owner.counts(bid), owner.counts(b2)
    cases = [
        ("token 0 (a chunk not held)", [0], 0, 0),
        ("token chunks-total (one past the last chunk)", [total], 0, 0),
        ("token u32 max", [0xFFFFFFFF], 0, 0),
        # Out of range by a multiple of a power of two from a HELD token: a check that
        # wraps, masks or truncates instead of refusing would release that token.
        ("token chunks-total + a held token", [total + h1[3]], 0, 0),
        ("token 2^16 + a held token", [0x10000 + h1[3]], 0, 0),
        ("token 2^31 + a held token", [0x80000000 + h1[3]], 0, 0),
        ("token held in another binding", [foreign_tok], 0, 0),
        ("a held token twice in one request", [h1[0], h1[0]], 1, 1),
        ("held, chunks-total, held", [h1[1], total, h1[2]], 1, 2),
        ("a token released before", [h1[0]], 0, 0),
    ]
    for name, toks, bad_at, freed in cases:
        e, _, x = owner.request(g.CMD_RELEASE, release_body(bid, toks))
        want_off = HDR + 8 + 8 * bad_at
        c1, c2 = owner.counts(bid), owner.counts(b2)
        a1, d1 = audit(bid)
        a2, d2 = audit(b2)
        exp1 = dict(base1, user=base1["user"] - freed, free=c1["free"], posted=c1["posted"])
        sane = c1["free"] + c1["posted"] + c1["completed"] + c1["user"] == c1["total"]
        tap(f"rx-release {name}: EINVAL, extack at that token, {freed} valid released, nothing else changed",
            e == errno.EINVAL and x.get("msg") == MSG_TOKEN and x.get("offs") == want_off
            and c1 == exp1 and sane and c2 == base2 and a1 and a2,
            f"{ename(e)} {x}; wanted offs {want_off}; binding {c1} (wanted user {exp1['user']}); "
            f"other binding {c2} vs {base2}; {d1}; {d2}")
        base1 = c1
    left1 = [t for t in h1 if t not in (h1[0], h1[1], h1[2])]
    n = owner.release(bid, left1) + owner.release(b2, held2)
    queued = owner.counts(bid)["completed"]
    rest = owner.read(bid)
    n2 = owner.release(bid, [t for _, _, t, _ in rest])
    c1, c2 = owner.counts(bid), owner.counts(b2)
    tap("every token of both bindings released afterwards, none lost",
        n == len(left1) + len(held2) and n2 == len(rest) == queued and c1["user"] == c1["completed"] == 0
        and c2["user"] == c2["completed"] == 0 and audit(bid)[0] and audit(b2)[0],
        f"released {n}+{n2}, binding {c1}, other {c2}")
    owner.request(g.CMD_UNBIND, g.u32(g.A_ID, b2))
    os.close(f2)
    os.close(m2)

    # --- unprivileged dumps vs the owner and RTNL ---
    big, mb, fb = owner.bind(ifindex, 3, 32 << 20)
    stop = "/tmp/nmx-sec-stop"
    if os.path.exists(stop):
        os.unlink(stop)
    pa, pb = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    looper = os.fork()
    if looper == 0:
        n = 0
        try:
            become_nobody()
            s = Genl(fam)
            pb.send(b"r")
            while not os.path.exists(stop):
                e, _ = s.dump()
                n += e == 0
        finally:
            pb.send(str(n).encode())
            os._exit(0)
    holder = os.fork()
    if holder == 0:
        try:
            become_nobody()
            s = Genl(fam)
            s.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
            s.send(g.CMD_GET, b"", g.NLM_F_REQUEST | g.NLM_F_DUMP)
            pb.send(b"h")
            while not os.path.exists(stop):
                time.sleep(0.1)
        finally:
            os._exit(0)
    pa.settimeout(60)
    pa.recv(1), pa.recv(1)
    sender = subprocess.Popen(f"exec {PEER} {CLI} send --dst 10.0.0.2 --port 9001 --count 20000 "
                              "--size 200 --rate 200", shell=True, stdout=subprocess.DEVNULL,
                              stderr=open("/tmp/nmx-sec-send.err", "w"))
    flowing = wait(lambda: owner.counts(bid)["completed"] > 0, 30)
    worst = {"rx-read": 0.0, "rx-release": 0.0, "RTNL (set mtu)": 0.0}
    got = rounds = 0
    end = time.time() + float(os.environ.get("NMX_SEC_LOAD_SECS", "4"))
    mtu = 1400
    errs = []
    while time.time() < end:
        t0 = time.time()
        try:
            recs = owner.read(bid, 64)
            worst["rx-read"] = max(worst["rx-read"], time.time() - t0)
            t0 = time.time()
            if recs:
                owner.release(bid, [t for _, _, t, _ in recs])
            worst["rx-release"] = max(worst["rx-release"], time.time() - t0)
        except OSError as ex:
            errs.append(str(ex))
            break
        got += len(recs)
        t0 = time.time()
        e = set_mtu(ifindex, mtu)
        worst["RTNL (set mtu)"] = max(worst["RTNL (set mtu)"], time.time() - t0)
        if e:
            errs.append(f"set mtu: {ename(e)}")
        mtu = 2900 - mtu
        rounds += 1
        time.sleep(0.1)
    open(stop, "w").close()
    sender.terminate()
    sender.wait()
    dumps = int(pa.recv(32) or b"0")
    os.waitpid(looper, 0)
    os.waitpid(holder, 0)
    os.unlink(stop)
    set_mtu(ifindex, 1500)
    tap(f"unprivileged dump loop ({dumps} dumps) and a half-read dump: the owner's rx-read, "
        f"rx-release and an RTNL op (set mtu) each done within {BOUND} s, {rounds} rounds",
        dumps > 10 and flowing and got > 0 and not errs and max(worst.values()) < BOUND,
        f"worst {', '.join(f'{k} {v:.2f} s' for k, v in worst.items())}; {got} records read "
        f"and released; traffic flowing: {flowing}; {errs}; sender: "
        f"{open('/tmp/nmx-sec-send.err').read().strip()}")
    owner.request(g.CMD_UNBIND, g.u32(g.A_ID, big))
    os.close(fb)
    os.close(mb)

    # --- the owner still has its binding and gives it up ---
    e, _, _ = owner.request(g.CMD_UNBIND, g.u32(g.A_ID, bid))
    tap("the owner unbinds its binding at the end", e == 0, ename(e))
    owner.s.close()
    tap("no binding left", wait(lambda: Genl(fam).ids() == [], 20))
    return tap_done()


if __name__ == "__main__":
    sys.exit(main())
