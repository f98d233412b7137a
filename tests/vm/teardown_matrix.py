# SPDX-License-Identifier: GPL-2.0
"""Teardown-order matrix: every sensible order of the teardown events of a binding, run
against the test NIC with traffic flowing, chunks posted, tokens held and records unread.

    python3 tests/vm/teardown_matrix.py MODULES_DIR [--list] [--select cover3|cover4|all|N,M..]

Called by tests/vm/rel-teardown.sh with netmem and nmx_testnic loaded (nmxt0/nmxt1 down in
the initial netns, no binding); leaves that state. Prints TAP.

The events (one each per ordering) and their preconditions:
  C  owner exit: kill -9 of the process holding the netlink socket     (owner alive)
  U  explicit unbind, sent by the owner on its socket        (owner alive, netmem loaded)
  D  ifdown of the bound port                                (driver loaded, port up)
  M  netns move of the bound port                            (driver loaded)
  R  rmmod of the driver (nmx_testnic)                       (driver loaded)
  N  rmmod attempt of netmem: refused while a driver uses it, done otherwise
  F  the dma-buf exporter's fds closed (udmabuf and memfd)   (fds open)
Before any event: traffic flows into the bound queue (it keeps flowing), its ring holds
posted chunks, the owner read HOLD records and keeps their tokens, and at least UNREAD more
records wait unread. An ordering is a maximal sequence: events are applied while one is
applicable. Rules that remove orderings (each derives from a precondition above):
  1. no unbind after the owner exited (its socket is gone);
  2. no ifdown or netns move after the driver is gone (no device);
  3. no ifdown after a netns move (the move closed the port: a no-op);
  4. no unbind after netmem was unloaded (its family is gone: the request never reaches
     netmem).
After the sequence the rest is torn down (owner killed, fds closed, netmem unloaded) and
the modules are loaded again for the next ordering.

Checked after each event, from the model's prediction: the event's own result (errno of the
unbind, rmmod refused with EWOULDBLOCK while the driver is loaded, ...), the binding (gone
once unbound, kept with its device gone when only the driver went), the dma-buf's file
count in /sys/kernel/debug/dma_buf/bufinfo (exporter fds + netmem's reference), its
attachments (one, the test NIC, while mapped; none once the driver is gone, checked as soon
as rmmod returns), the DMA-API debug entries of the test NIC's scatter-gather mappings
(none once the driver is gone), and no kernel splat in the log since the ordering began
(the rules of ci/vm.sh). At the end of each ordering: the dma-buf is gone (its references
back to the start), no binding, both modules unloaded. At the end of the matrix: a
kmemleak scan must report nothing.
"""
import ctypes
import errno
import itertools
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import genlraw as g  # noqa: E402
from core_nl import Genl, tokens_of  # noqa: E402

EVENTS = "CUDMRNF"
NAMES = {
    "C": "owner exit (kill -9)", "U": "explicit unbind", "D": "ifdown", "M": "netns move",
    "R": "rmmod nmx_testnic", "N": "rmmod netmem attempt", "F": "exporter fds closed",
}
PORT = 9001
# The driver under test: the test NIC by default; --driver vmxnet3 --ko KO for the patched
# vmxnet3 (tests/vm/vmxnet3.sh teardown): receiver and sender NICs found by MAC, queue 0
# (QEMU's vmxnet3 has no RSS), a udmabuf large enough for its default rings.
DRV = {"name": "nmx_testnic", "ko": "tests/testnic/nmx_testnic.ko", "rx": "nmxt1", "tx": "nmxt0",
       "queue": 1, "size": 2 << 20, "dmadev": "nmx_testnic", "rxmac": None, "txmac": None,
       "down_unregisters": False}
HOLD, UNREAD = 8, 8
A_STATE, A_FREE, A_POSTED, A_COMPLETED, A_USER = 8, 17, 18, 19, 20
BUFINFO = "/sys/kernel/debug/dma_buf/bufinfo"
DMADUMP = "/sys/kernel/debug/dma-api/dump"
KMEMLEAK = "/sys/kernel/debug/kmemleak"
NS_PEER, NS_MOVE = "tdpeer", "tdmove"
IP_PEER, IP_BOUND = "10.0.0.1", "10.0.0.2"
libc = ctypes.CDLL(None, use_errno=True)


# --- the model: state, preconditions, effects, enumeration ---

def initial():
    return {"owner": True, "netmem": True, "driver": True, "up": True, "moved": False,
            "fds": True, "unbound": False, "devless": False, "done": ""}


def applicable(st, e):
    if e in st["done"]:
        return False
    if e == "C":
        return st["owner"]
    if e == "U":
        return st["owner"] and st["netmem"]  # rules 1, 4
    if e == "D":
        return st["driver"] and st["up"]  # rules 2, 3
    if e in "MR":
        return st["driver"]  # rule 2
    if e == "F":
        return st["fds"]
    return e == "N"


def apply(st, e):
    """The model's next state after event e."""
    st = dict(st, done=st["done"] + e)
    if e == "C":
        st["owner"] = False
        st["unbound"] = st["unbound"] or st["netmem"]
    elif e == "U":
        st["unbound"] = True
    elif e == "D":
        # A driver that unregisters its queues on close (vmxnet3 destroys them) takes the
        # binding's device away: netmem unmaps at once, the binding stays, device-less.
        st["up"] = False
        st["devless"] = st["devless"] or DRV["down_unregisters"]
    elif e == "M":
        # The move unbinds a binding on the moving device; a device-less one is not on it.
        st.update(moved=True, up=False, unbound=st["unbound"] or not st["devless"])
    elif e == "R":
        st.update(driver=False, up=False, devless=True)
    elif e == "N" and not st["driver"]:
        st.update(netmem=False, unbound=True)
    elif e == "F":
        st["fds"] = False
    return st


def orderings():
    """Every maximal sequence of applicable events, depth first."""
    out = []

    def walk(st):
        nxt = [e for e in EVENTS if applicable(st, e)]
        if not nxt:
            out.append(st["done"])
        for e in nxt:
            walk(apply(st, e))
    walk(initial())
    return out


def cover(orders, t):
    """A greedy t-way sequence cover: every t events in every relative order that some
    ordering has appear in that order in a chosen ordering."""
    need = {c for o in orders for c in itertools.combinations(o, t)}
    chosen = []
    while need:
        best = max(orders, key=lambda o: len(need.intersection(itertools.combinations(o, t))))
        chosen.append(best)
        need -= set(itertools.combinations(best, t))
    return chosen


# --- TAP ---

tap = {"n": 0, "fail": 0}


def ok(cond, desc, detail=""):
    tap["n"] += 1
    if not cond:
        tap["fail"] += 1
    print(("ok" if cond else "not ok") + f" {tap['n']} - {desc}")
    if detail and not cond:
        for line in str(detail).splitlines()[:30]:
            print("# " + line)
    sys.stdout.flush()
    return cond


# --- the system ---

def sh(*cmd, check=True, inp=None):
    r = subprocess.run(cmd, input=inp, capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {r.returncode} {r.stderr.strip()}")
    return r


def module_loaded(name):
    return os.path.exists(f"/sys/module/{name}/initstate")


def delete_module(name):
    """rmmod's own syscall (O_NONBLOCK): 0 or the errno."""
    libc.syscall.restype = ctypes.c_long
    r = libc.syscall(176, name.encode(), os.O_NONBLOCK)  # __NR_delete_module (x86_64)
    return 0 if r == 0 else ctypes.get_errno()


def wait(pred, secs=20.0):
    end = time.time() + secs
    while True:
        if pred():
            return True
        if time.time() > end:
            return False
        time.sleep(0.1)


def bufinfo(ino):
    """(file count, [attached devices]) of the dma-buf with inode `ino`, or None."""
    with open(BUFINFO) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        col = line.split("\t")
        if len(col) >= 6 and col[4] == "udmabuf" and col[5].strip().isdigit() and int(col[5]) == ino:
            devs = []
            j = i + 1
            while j < len(lines) and not lines[j].startswith("\tAttached Devices:"):
                j += 1
            j += 1
            while j < len(lines) and lines[j].startswith("\t"):
                devs.append(lines[j].strip())
                j += 1
            return int(col[3]), devs
    return None


def testnic_sg_entries():
    """DMA-API debug entries of scatter-gather mappings for the test NIC's device."""
    with open(DMADUMP) as f:
        return [line for line in f if f" {DRV['dmadev']} scatter-gather " in line]


class Kmsg:
    """The kernel log since the last call, judged by ci/vm.sh's splat rules."""

    def __init__(self):
        text = open("ci/vm.sh").read()
        self.splat = re.compile(re.search(r"^splat_re='(.*)'$", text, re.M).group(1))
        self.info = re.compile(re.search(r"^info_re='(.*)'$", text, re.M).group(1))
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def splats(self):
        out = []
        while True:
            try:
                rec = os.read(self.fd, 8192).decode(errors="replace")
            except BlockingIOError:
                return out
            except OSError as e:
                if e.errno == errno.EPIPE:  # overwritten records: keep reading
                    continue
                raise
            msg = rec.split(";", 1)[-1].split("\n", 1)[0]
            if self.splat.search(msg) and not self.info.search(msg):
                out.append(msg)


def setns(name):
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)


def fork(fn, *args):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = fn(*args) or 0
        except BaseException as e:  # noqa: BLE001 - report and exit the child
            print(f"# child {fn.__name__}: {e!r}", file=sys.stderr)
        finally:
            os._exit(code)
    return pid


def sender():
    """Flows UDP datagrams from the peer port to the bound queue until killed."""
    setns(NS_PEER)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"\x5a" * 200
    while True:
        try:
            s.sendto(payload, (IP_BOUND, PORT))
        except OSError:
            time.sleep(0.05)
        time.sleep(0.002)


def get(sock, bid):
    """(errno, {attr: u32}) of binding-get on `bid`."""
    err, rep = sock.request(g.CMD_GET, g.u32(g.A_ID, bid))
    if err or rep is None:
        return err or -1, {}
    out = {}
    for t, v in g.reply_attrs(rep).items():
        if len(v) == 4:
            out[t] = struct.unpack("I", v)[0]
    return 0, out


def owner(fam, dbfd, memfd, ifindex, cmd_r, rep_w):
    """The binding's owner: binds, keeps HOLD tokens, leaves UNREAD records unread, then
    obeys "unbind" lines from the parent until killed."""
    s = Genl(fam)
    rep = os.fdopen(rep_w, "w", buffering=1)
    q = g.attr(g.A_QUEUES | 0x8000, g.u32(g.Q_ID, DRV["queue"]) + g.u32(g.Q_TYPE, 0))
    err, r = s.request(g.CMD_BIND, g.u32(g.A_IFINDEX, ifindex) + q + g.u32(g.A_FD, dbfd))
    os.close(dbfd)
    os.close(memfd)
    if err:
        rep.write(f"error bind {err}\n")
        return 1
    bid = struct.unpack("I", g.reply_attrs(r)[g.A_ID])[0]
    held = []
    end = time.time() + 60
    while len(held) < HOLD and time.time() < end:
        err, r = s.request(g.CMD_READ, g.u32(g.A_ID, bid) + g.u32(g.A_MAX_RECORDS, HOLD - len(held)))
        held += tokens_of(r) if not err and r else []
        if len(held) < HOLD:
            time.sleep(0.05)
    c = {}
    while time.time() < end:
        err, c = get(s, bid)
        if not err and c.get(A_COMPLETED, 0) >= UNREAD and c.get(A_POSTED, 0) > 0:
            break
        time.sleep(0.05)
    rep.write(f"ready {bid} {len(held)} {c.get(A_USER, 0)} {c.get(A_COMPLETED, 0)} {c.get(A_POSTED, 0)}\n")
    for line in os.fdopen(cmd_r):
        if line.strip() == "unbind":
            err, _ = s.request(g.CMD_UNBIND, g.u32(g.A_ID, bid))
            rep.write(f"{err}\n")
    return 0


class Run:
    """One ordering, from setup to the final checks."""

    def __init__(self, mods, order, kmsg):
        self.mods, self.order, self.kmsg = mods, order, kmsg
        self.st = initial()
        self.pids = {}
        self.fail = 0
        self.tag = order
        self.times = []

    def mark(self, what):
        self.times.append((what, time.time()))

    def check(self, cond, desc, detail=""):
        if not cond:
            self.fail += 1
            ok(False, f"{self.tag}: {desc}", detail)
        return cond

    def setup(self):
        load_modules(self.mods)
        self.mark("insmod")
        rx, tx = DRV["rx"], DRV["tx"]
        mac = open(f"/sys/class/net/{rx}/address").read().strip()
        sh("ip", "-batch", "-", inp=f"link set {tx} netns {NS_PEER}\n"
           f"addr add {IP_BOUND}/24 dev {rx}\nlink set {rx} up\n")
        sh("ip", "-n", NS_PEER, "-batch", "-", inp=f"addr add {IP_PEER}/24 dev {tx}\n"
           f"link set {tx} up\nneigh replace {IP_BOUND} lladdr {mac} dev {tx} nud permanent\n")
        if not wait(lambda: open(f"/sys/class/net/{rx}/carrier").read().strip() == "1"):
            raise RuntimeError(f"{rx}: no carrier")
        self.mark("ip")
        self.fam = g.family_id(b"bind-dmabuf")
        self.obs = Genl(self.fam)
        # The sender first: it must not inherit the exporter's fds.
        self.pids["sender"] = fork(sender)
        self.memfd, self.dbfd = g.make_udmabuf(DRV["size"])
        self.ino = os.fstat(self.dbfd).st_ino
        cmd_r, self.cmd_w = os.pipe()
        rep_r, rep_w = os.pipe()
        self.pids["owner"] = fork(owner, self.fam, self.dbfd, self.memfd,
                                  socket.if_nametoindex(DRV["rx"]), cmd_r, rep_w)
        os.close(cmd_r)
        os.close(rep_w)
        self.rep = os.fdopen(rep_r)
        line = self.rep.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError(f"owner did not get ready: {line}")
        self.bid = int(line[1])
        self.mark("owner ready")
        held, user, completed, posted = map(int, line[2:])
        if not (held == HOLD and user == HOLD and completed >= UNREAD and posted > 0):
            raise RuntimeError(f"setup: held {held}, user {user}, completed {completed}, posted {posted}")
        self.setup_counts = f"{posted} posted, {user} held, {completed} unread"

    # -- expectations --

    def binding(self):
        return get(self.obs, self.bid) if self.st["netmem"] else (errno.ENOENT, {})

    def dmabuf_expected(self):
        """(count, attachments) the model predicts once the event's effects settled."""
        netmem_holds = self.st["netmem"] and not self.st["unbound"]
        count = int(self.st["fds"]) + int(netmem_holds)
        mapped = netmem_holds and not self.st["devless"]
        return count, ([DRV["dmadev"]] if mapped else [])

    def invariants(self, e):
        if self.st["netmem"]:
            if self.st["unbound"]:
                self.check(wait(lambda: self.binding()[0] == errno.ENOENT),
                           f"after {e}: binding {self.bid} released", str(self.binding()))
            else:
                err, c = self.binding()
                self.check(err == 0 and c.get(A_STATE) == 0, f"after {e}: binding {self.bid} still bound", f"{err} {c}")
        want_count, want_devs = self.dmabuf_expected()
        want = (want_count, want_devs) if want_count else None
        self.check(wait(lambda: bufinfo(self.ino) == want), f"after {e}: dma-buf refs and attachments",
                   f"bufinfo {bufinfo(self.ino)}, model {want}")
        if not self.st["driver"]:
            sg = testnic_sg_entries()
            self.check(not sg, f"after {e}: DMA API debug: no sg mapping of the gone device", "".join(sg[:5]))

    # -- events --

    def ev_C(self):
        pid = self.pids.pop("owner")
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

    def ev_U(self):
        os.write(self.cmd_w, b"unbind\n")
        err = int(self.rep.readline() or "-1")
        want = errno.ENOENT if self.st["unbound"] else 0
        self.check(err == want, f"U: unbind errno {err}, model {want}")

    def ev_D(self):
        r = sh("ip", "link", "set", DRV["rx"], "down", check=False)
        self.check(r.returncode == 0, "D: ip link set down", r.stderr)
        if self.st["netmem"] and not self.st["unbound"]:
            err, c = self.binding()
            self.check(err == 0 and c.get(A_POSTED) == 0, "D: nothing posted once down", f"{err} {c}")

    def ev_M(self):
        r = sh("ip", "link", "set", DRV["rx"], "netns", NS_MOVE, check=False)
        self.check(r.returncode == 0, "M: ip link set netns", r.stderr)

    def ev_R(self):
        err = delete_module(DRV["name"])
        # At once, before any wait: the mapping must be gone with the device.
        info = bufinfo(self.ino)
        sg = testnic_sg_entries()
        self.check(err == 0, f"R: rmmod {DRV['name']} errno {err}")
        self.check(info is None or info[1] == [], "R: dma-buf detached when rmmod returned", str(info))
        self.check(not sg, "R: DMA API debug: no sg mapping left for the device when rmmod returned", "".join(sg[:5]))
        if self.st["netmem"] and not self.st["unbound"]:
            err, c = self.binding()
            self.check(err == 0 and c.get(A_STATE) == 0 and c.get(g.A_IFINDEX) == 0,
                       "R: the owner's binding stays, its device gone (ifindex 0)", f"{err} {c}")

    def ev_N(self):
        err = delete_module("netmem")
        if self.st["driver"]:
            self.check(err == errno.EWOULDBLOCK and module_loaded("netmem"),
                       f"N: rmmod netmem refused while the driver is loaded (errno {err})")
        else:
            self.check(err == 0 and not module_loaded("netmem"), f"N: rmmod netmem (errno {err})")

    def ev_F(self):
        os.close(self.dbfd)
        os.close(self.memfd)

    def run(self):
        t0 = time.time()
        try:
            self.setup()
        except (RuntimeError, OSError) as e:
            self.check(False, "setup", repr(e))
            self.cleanup()
            return
        for e in self.order:
            getattr(self, "ev_" + e)()
            self.st = apply(self.st, e)
            self.mark(e)
            self.invariants(e)
            self.mark(e + " checks")
            if self.fail:
                break
        self.cleanup()
        self.mark("cleanup")
        self.final()
        self.mark("final")
        if os.environ.get("NMX_TEARDOWN_TIMES"):
            steps, prev = [], t0
            for w, t in self.times:
                steps.append(f"{w}:{t - prev:.2f}")
                prev = t
            print("# times: " + " ".join(steps))
        dt = time.time() - t0
        if not self.fail:
            ok(True, f"{self.order}: {' > '.join(NAMES[e] for e in self.order)} "
               f"({self.setup_counts} at the start; {dt:.1f} s)")
        else:
            ok(False, f"{self.order}: {self.fail} check(s) failed")

    def cleanup(self):
        for name in ("owner", "sender"):
            if name in self.pids:
                os.kill(self.pids.pop(name), signal.SIGKILL)
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        for fd in ("dbfd", "memfd"):
            if self.st["fds"] and hasattr(self, fd):
                os.close(getattr(self, fd))
        self.st["fds"] = False
        for m in (DRV["name"], "netmem"):
            if module_loaded(m):
                self.check(delete_module(m) == 0, f"cleanup: rmmod {m}")

    def final(self):
        if hasattr(self, "ino"):
            self.check(wait(lambda: bufinfo(self.ino) is None), "end: the dma-buf is gone",
                       str(bufinfo(self.ino)))
        sg = testnic_sg_entries()
        self.check(not sg, "end: DMA API debug: no sg mapping of the device", "".join(sg[:5]))
        spl = self.kmsg.splats()
        self.check(not spl, "end: no kernel splat during this ordering", "\n".join(spl[:20]))


def ifname_of(mac):
    for d in os.listdir("/sys/class/net"):
        if open(f"/sys/class/net/{d}/address").read().strip() == mac:
            return d
    return None


def load_modules(mods):
    """netmem and the driver, unless loaded; the driver's NIC names and DMA device."""
    if not module_loaded("netmem"):
        sh("insmod", os.path.join(mods, "netmem.ko"))
    if not module_loaded(DRV["name"]):
        sh("insmod", DRV["ko"] if os.path.isabs(DRV["ko"]) else os.path.join(mods, DRV["ko"]))
    if DRV["rxmac"]:
        if not wait(lambda: ifname_of(DRV["rxmac"]) and ifname_of(DRV["txmac"])):
            raise RuntimeError("the driver's NICs did not appear")
        DRV["rx"], DRV["tx"] = ifname_of(DRV["rxmac"]), ifname_of(DRV["txmac"])
        DRV["dmadev"] = os.path.basename(os.readlink(f"/sys/class/net/{DRV['rx']}/device"))


def select(orders, how):
    if how == "all":
        return orders
    if how.startswith("cover"):
        return cover(orders, int(how[5:]))
    picked = [o for o in how.split(",") if o]
    bad = [o for o in picked if o not in orders]
    if bad:
        raise SystemExit(f"not a generated ordering: {bad}")
    return picked


def main():
    args = sys.argv[1:]
    mods = args[0]
    how = "cover3"
    if "--select" in args:
        how = args[args.index("--select") + 1]
    if "--driver" in args and args[args.index("--driver") + 1] == "vmxnet3":
        DRV.update(name="vmxnet3", ko=args[args.index("--ko") + 1], queue=0, size=8 << 20,
                   rxmac="52:54:00:6e:6d:01", txmac="52:54:00:6e:6d:02", down_unregisters=True)
        NAMES["R"] = "rmmod vmxnet3"
    orders = orderings()
    runs = select(orders, how)
    print(f"# teardown matrix on {DRV['name']}: {len(orders)} orderings generated of events "
          f"{', '.join(f'{e}={NAMES[e]}' for e in EVENTS)}; running {len(runs)} ({how})")
    if "--list" in args:
        for o in runs:
            print(o)
        return 0
    for ns in (NS_PEER, NS_MOVE):
        sh("ip", "netns", "add", ns, check=False)
    kmsg = Kmsg()
    t0 = time.time()
    for i, o in enumerate(runs):
        Run(mods, o, kmsg).run()
    total = time.time() - t0
    # Leave the state as found: modules loaded, ports down in the initial netns.
    load_modules(mods)
    if DRV["name"] != "nmx_testnic":
        sh("ip", "-n", NS_PEER, "link", "set", DRV["tx"], "netns", "1", check=False)
    for ns in (NS_PEER, NS_MOVE):
        sh("ip", "netns", "del", ns, check=False)
    # kmemleak reports objects older than 5 s that nothing references.
    if os.path.exists(KMEMLEAK):
        time.sleep(6)
        for _ in range(2):  # an object is reported once unchanged across two scans
            with open(KMEMLEAK, "w") as f:
                f.write("scan")
            time.sleep(1)
        leaks = open(KMEMLEAK).read()
        ok(not leaks.strip(), "kmemleak: no leak after the matrix", leaks[:3000])
    ok(True, f"ran {len(runs)} of {len(orders)} orderings in {total:.0f} s "
       f"({total / max(len(runs), 1):.1f} s each)")
    print(f"1..{tap['n']}")
    return 1 if tap["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
