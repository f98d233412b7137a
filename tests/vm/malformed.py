#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Malformed bind-dmabuf requests, hand-built (ynl and netmemctl cannot send them).

Every bind case is the same well-formed request (the test NIC's nmxt1, an rx queue, a
real udmabuf fd) with ONE defect, and that request is first shown to be accepted: so each
refusal is the policy's (or the handler's) doing, not a side effect of a bad device or fd.
Per case it checks the exact errno, the extended ack (message, offset of the offending
attribute or the missing attribute, and for range checks the policy bounds, which must be
the spec's), and that no binding was left behind. Cases on the other commands run against
a live binding owned by this socket, which must survive them untouched.

Run in the netns that holds nmxt1 (run.sh: `ip netns exec b`). Exits 1 on any failure."""
import errno, os, socket, struct, sys

import yaml

from genlraw import *  # noqa: F401,F403 (ids, attr(), u32(), request(), dump(), ...)

NESTED = 0x8000
HDR = 20  # nlmsghdr + genlmsghdr: offsets in the ack count from the request's start
QUEUE = 1

spec = yaml.safe_load(open(os.path.join(os.path.dirname(__file__), "../../netmem/bind-dmabuf.yaml")))
consts = {d["name"]: d["value"] for d in spec["definitions"] if d["type"] == "const"}
enums = {d["name"]: d for d in spec["definitions"] if d["type"] == "enum"}
LIMITS = {"s32-max": 2**31 - 1, "u32-max": 2**32 - 1}


def bounds(aset, name):
    """(min, max) the spec sets for a u32 attribute (policy defaults when unset)."""
    a = next(x for s_ in spec["attribute-sets"] if s_["name"] == aset
             for x in s_["attributes"] if x["name"] == name)
    if "enum" in a:
        return 0, len(enums[a["enum"]]["entries"]) - 1
    lim = lambda v: consts.get(v, LIMITS.get(v, v))  # noqa: E731
    c = a.get("checks", {})
    return lim(c.get("min", 0)), lim(c.get("max", 2**32 - 1))


fam = family_id(b"bind-dmabuf")
if fam is None:
    print("bind-dmabuf family not found")
    sys.exit(1)
ifx = socket.if_nametoindex("nmxt1")
memfd, dmabuf = make_udmabuf(1 << 20)

IFX = u32(A_IFINDEX, ifx)
FD = u32(A_FD, dmabuf)


def queue(qid=QUEUE, qtype=0, inner=None):
    return attr(A_QUEUES | NESTED, u32(Q_ID, qid) + u32(Q_TYPE, qtype) if inner is None else inner)


QN = queue()
BASE = IFX + QN + FD  # the accepted request every bind case breaks once


def binding_ids():
    return [struct.unpack("I", reply_attrs(m)[A_ID])[0] for m in dump(fam, CMD_GET)]


failures = []


def expect(name, cmd, body, err, msg=None, at=None, miss=None, nest=None, pol=None):
    """One case: errno `err`; extack message `msg`; bad-attribute offset `at` (bytes into
    the body); missing attribute `miss` (inside the nest at body offset `nest`); policy
    bounds `pol` = (min, max)."""
    e, _ = request(fam, cmd, body)
    x = last_ext[0]
    got = (f"{errno.errorcode.get(e, e) if e is not None else 'no ack'}"
           + "".join(f" {k}={x[k]!r}" for k in ("msg", "offs", "miss_type", "miss_nest") if k in x))
    why = []
    if e != err:
        why.append(f"errno {errno.errorcode.get(e, e) if e is not None else 'no ack'}, "
                   f"wanted {errno.errorcode[err]}")
    if x.get("msg") != msg:
        why.append(f"extack message {x.get('msg')!r}, wanted {msg!r}")
    if x.get("offs") != (None if at is None else HDR + at):
        why.append(f"bad-attribute offset {x.get('offs')}, wanted {None if at is None else HDR + at}")
    if x.get("miss_type") != miss:
        why.append(f"missing attribute {x.get('miss_type')}, wanted {miss}")
    if x.get("miss_nest") != (None if nest is None else HDR + nest):
        why.append(f"missing-attribute nest at {x.get('miss_nest')}, wanted {None if nest is None else HDR + nest}")
    if pol is not None:
        p = x.get("policy", {})
        got_pol = tuple(struct.unpack("Q", p[k])[0] if k in p else None for k in (POL_MIN_U, POL_MAX_U))
        if got_pol != pol:
            why.append(f"policy bounds {got_pol}, wanted the spec's {pol}")
        got += f" policy={got_pol}"
    return why, got


def case(name, cmd, body, err, **kw):
    why, got = expect(name, cmd, body, err, **kw)
    return name, why, got


def report(name, why, got):
    print(f"{'ok  ' if not why else 'FAIL'} {name}: {got}")
    for w in why:
        print(f"       {w}")
    if why:
        failures.append(name)


# --- the base request is accepted, and its binding goes away on unbind ---
if binding_ids():
    print(f"bindings exist before the test: {binding_ids()}")
    sys.exit(1)
e, rep = request(fam, CMD_BIND, BASE)
if e:
    print(f"the well-formed base request was refused: {os.strerror(e)} {last_ext[0]}")
    sys.exit(1)
base_id = struct.unpack("I", reply_attrs(rep)[A_ID])[0]
e, _ = request(fam, CMD_UNBIND, u32(A_ID, base_id))
print(f"ok   base request: accepted (binding {base_id}), unbound: {os.strerror(e) if e else 'ok'}")
if e or binding_ids():
    sys.exit(1)

# --- bind-dmabuf: one defect each ---
lq, lif = len(QN), len(IFX)
iq = lif + 4  # offset of the queue nest's payload
bind_cases = [
    # policy: integer ranges (errno, message and bounds from the policy; bounds from the spec)
    ("ifindex 0 (min 1)", u32(A_IFINDEX, 0) + QN + FD, errno.ERANGE,
     dict(msg="integer out of range", at=0, pol=bounds("binding", "ifindex"))),
    ("fd above s32-max", IFX + QN + u32(A_FD, 2**31 + dmabuf), errno.ERANGE,
     dict(msg="integer out of range", at=lif + lq, pol=bounds("binding", "fd"))),
    ("chunk-size below chunk-size-min (a power of two)", BASE + u32(A_CHUNK, consts["chunk-size-min"] // 2),
     errno.ERANGE, dict(msg="integer out of range", at=len(BASE), pol=bounds("binding", "chunk-size"))),
    ("chunk-size above chunk-size-max (a power of two)", BASE + u32(A_CHUNK, consts["chunk-size-max"] * 2),
     errno.ERANGE, dict(msg="integer out of range", at=len(BASE), pol=bounds("binding", "chunk-size"))),
    ("queue type outside the queue-type enum", IFX + queue(qtype=2) + FD, errno.ERANGE,
     dict(msg="integer out of range", at=iq + 8, pol=bounds("queue", "type"))),
    # policy: lengths (a u32 read from these would be the right value: they would bind)
    ("ifindex as a u16", attr(A_IFINDEX, struct.pack("H", ifx)) + QN + FD, errno.EINVAL,
     dict(msg="invalid attribute length", at=0)),
    ("ifindex as a u64", attr(A_IFINDEX, struct.pack("Q", ifx)) + QN + FD, errno.EINVAL,
     dict(msg="invalid attribute length", at=0)),
    ("queue id as a u64", IFX + queue(inner=attr(Q_ID, struct.pack("Q", QUEUE)) + u32(Q_TYPE, 0)) + FD,
     errno.EINVAL, dict(msg="invalid attribute length", at=iq)),
    ("fd as a u64", IFX + QN + attr(A_FD, struct.pack("Q", dmabuf)), errno.EINVAL,
     dict(msg="invalid attribute length", at=lif + lq)),
    # policy: nesting and attribute types
    ("queues without NLA_F_NESTED", IFX + attr(A_QUEUES, u32(Q_ID, QUEUE) + u32(Q_TYPE, 0)) + FD,
     errno.EINVAL, dict(msg="NLA_F_NESTED is missing", at=lif)),
    ("ifindex with NLA_F_NESTED", attr(A_IFINDEX | NESTED, struct.pack("I", ifx)) + QN + FD, errno.EINVAL,
     dict(msg="NLA_F_NESTED not expected", at=0)),
    ("unknown attribute in the queue nest", IFX + queue(inner=u32(Q_ID, QUEUE) + u32(Q_TYPE, 0) + u32(3, 1)) + FD,
     errno.EINVAL, dict(msg="Unknown attribute type", at=iq + 16)),
    ("id (not a bind-dmabuf attribute)", BASE + u32(A_ID, 1), errno.EINVAL,
     dict(msg="Unsupported attribute", at=len(BASE))),
    ("dmabuf-size (reply-only, above the op's maxattr)", BASE + attr(6, struct.pack("Q", 1 << 20)),
     errno.EINVAL, dict(msg="Unknown attribute type", at=len(BASE))),
    ("unknown attribute type 200", IFX + u32(200, 1) + QN + FD, errno.EINVAL,
     dict(msg="Unknown attribute type", at=lif)),
    # framing
    ("2 trailing bytes (a truncated attribute header)", BASE + b"\x08\x00", errno.EINVAL,
     dict(msg="bytes leftover after parsing attributes")),
    ("attribute longer than the message", BASE + struct.pack("HH", 64, A_CHUNK) + struct.pack("I", 4096),
     errno.EINVAL, dict(msg="bytes leftover after parsing attributes")),
    # handler: required attributes (GENL_REQ_ATTR_CHECK / NL_REQ_ATTR_CHECK)
    ("no attributes", b"", errno.EINVAL, dict(miss=A_IFINDEX)),
    ("missing fd", IFX + QN, errno.EINVAL, dict(miss=A_FD)),
    ("missing queues", IFX + FD, errno.EINVAL, dict(miss=A_QUEUES)),
    ("queue nest without type", IFX + queue(inner=u32(Q_ID, QUEUE)) + FD, errno.EINVAL,
     dict(miss=Q_TYPE, nest=lif)),
    ("empty queue nest", IFX + queue(inner=b"") + FD, errno.EINVAL, dict(miss=Q_ID, nest=lif)),
]
for name, body, err, kw in bind_cases:
    name, why, got = case(name, CMD_BIND, body, err, **kw)
    left = binding_ids()
    if left:
        why.append(f"binding(s) left behind: {left}")
        for i in left:
            request(fam, CMD_UNBIND, u32(A_ID, i))
    report("bind-dmabuf: " + name, why, got)

# --- the other commands, against a live binding that must survive them (bodies take
# its id: a case that unbinds it gets a fresh one, so the next cases still count) ---
def bind_live():
    e, rep = request(fam, CMD_BIND, BASE)
    if e:
        print(f"live binding: bind refused: {os.strerror(e)}")
        sys.exit(1)
    return struct.unpack("I", reply_attrs(rep)[A_ID])[0]


def state(i):
    """The binding's configuration (not its counters: the NIC may post chunks)."""
    e, rep = request(fam, CMD_GET, u32(A_ID, i))
    keep = (A_IFINDEX, A_QUEUES, A_CHUNK, 6, 16)  # + dmabuf-size, chunks-total
    return e, {k: v for k, v in reply_attrs(rep).items() if k in keep} if not e else None


live = bind_live()
before = state(live)
ID = lambda i: u32(A_ID, i)  # noqa: E731
other_cases = [
    ("rx-read: max-records 0", CMD_READ, lambda i: ID(i) + u32(A_MAX_RECORDS, 0), errno.ERANGE,
     dict(msg="integer out of range", at=8, pol=bounds("binding", "max-records"))),
    ("rx-read: max-records above records-max", CMD_READ,
     lambda i: ID(i) + u32(A_MAX_RECORDS, consts["records-max"] + 1),
     errno.ERANGE, dict(msg="integer out of range", at=8, pol=bounds("binding", "max-records"))),
    ("rx-read: id as a u16", CMD_READ, lambda i: attr(A_ID, struct.pack("H", i)), errno.EINVAL,
     dict(msg="invalid attribute length", at=0)),
    ("unbind: the live id as a u64", CMD_UNBIND, lambda i: attr(A_ID, struct.pack("Q", i)), errno.EINVAL,
     dict(msg="invalid attribute length", at=0)),
    ("unbind: the live id with NLA_F_NESTED", CMD_UNBIND, lambda i: attr(A_ID | NESTED, struct.pack("I", i)),
     errno.EINVAL, dict(msg="NLA_F_NESTED not expected", at=0)),
    ("unbind: id 0 (min 1)", CMD_UNBIND, lambda i: u32(A_ID, 0), errno.ERANGE,
     dict(msg="integer out of range", at=0, pol=bounds("binding", "id"))),
    ("unbind: the live id and a trailing byte pair", CMD_UNBIND, lambda i: ID(i) + b"\x04\x00", errno.EINVAL,
     dict(msg="bytes leftover after parsing attributes")),
    ("binding-get: id 0 (min 1)", CMD_GET, lambda i: u32(A_ID, 0), errno.ERANGE,
     dict(msg="integer out of range", at=0, pol=bounds("binding", "id"))),
    ("binding-get: id as a u64", CMD_GET, lambda i: attr(A_ID, struct.pack("Q", i)), errno.EINVAL,
     dict(msg="invalid attribute length", at=0)),
    ("rx-release: a token as a u64", CMD_RELEASE,
     lambda i: ID(i) + u32(A_TOKENS, 0) + attr(A_TOKENS, struct.pack("Q", 0)),
     errno.EINVAL, dict(msg="invalid attribute length", at=16)),
    ("rx-release: more than tokens-max tokens", CMD_RELEASE,
     lambda i: ID(i) + b"".join(u32(A_TOKENS, t) for t in range(consts["tokens-max"] + 1)), errno.E2BIG,
     dict(msg="too many tokens in one request (max tokens-max)")),
    ("rx-release: no tokens", CMD_RELEASE, ID, errno.EINVAL, dict(miss=A_TOKENS)),
]
for name, cmd, body, err, kw in other_cases:
    name, why, got = case(name, cmd, body(live), err, **kw)
    ids, now = binding_ids(), state(live)
    if ids != [live] or now != before:
        why.append(f"bindings after the case: {ids}, wanted the live {live} unchanged")
        for i in ids:
            request(fam, CMD_UNBIND, u32(A_ID, i))
        live = bind_live()
        before = state(live)
    report(name, why, got)

e, _ = request(fam, CMD_UNBIND, ID(live))
left = binding_ids()
print(f"{'ok  ' if not e and not left else 'FAIL'} unbind the live binding: "
      f"{os.strerror(e) if e else 'ok'}, bindings left: {left}")
if e or left:
    failures.append("final unbind")
os.close(dmabuf)
os.close(memfd)
n = 2 + len(bind_cases) + len(other_cases)
print(f"{n - len(failures)}/{n} passed" + (f"; failed: {', '.join(failures)}" if failures else ""))
sys.exit(1 if failures else 0)
