// SPDX-License-Identifier: GPL-2.0
//! Raw netlink bytes: request building (any header, any attribute bytes, lying lengths
//! included) and strict parsing of what the kernel sends back, checked against the YNL
//! spec netmem/bind-dmabuf.yaml (attribute sets, types, lengths, per-op reply lists).

use netmemctl::ids::{self, binding as ab, queue as aq, record as ar};

pub const NLMSG_HDRLEN: usize = 16;
pub const GENL_HDRLEN: usize = 4;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_MIN_TYPE: u16 = 0x10;
pub const NLM_F_REQUEST: u16 = 0x01;
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_ACK: u16 = 0x04;
pub const NLM_F_ECHO: u16 = 0x08;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_CAPPED: u16 = 0x100;
pub const NLM_F_ACK_TLVS: u16 = 0x200;
pub const NLA_F_NESTED: u16 = 0x8000;
pub const NLA_TYPE_MASK: u16 = 0x3fff;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSGERR_ATTR_OFFS: u16 = 2;
const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;

pub fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Appends one attribute with `val` and its padding; the length field says 4 + len(val).
pub fn nla(buf: &mut Vec<u8>, ty: u16, val: &[u8]) {
    nla_raw(buf, (4 + val.len()) as u16, ty, val);
}

/// Appends an attribute whose length field is `len` whatever the bytes that follow.
pub fn nla_raw(buf: &mut Vec<u8>, len: u16, ty: u16, val: &[u8]) {
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(val);
    buf.resize(align4(buf.len()), 0);
}

pub fn nla_u32(buf: &mut Vec<u8>, ty: u16, v: u32) {
    nla(buf, ty, &v.to_ne_bytes());
}

/// A `queues` nest for queue `id` of type `qtype`.
pub fn queue_nest(buf: &mut Vec<u8>, id: u32, qtype: u32) {
    let mut inner = Vec::new();
    nla_u32(&mut inner, aq::ID, id);
    nla_u32(&mut inner, aq::TYPE, qtype);
    nla(buf, ab::QUEUES | NLA_F_NESTED, &inner);
}

/// The header fields of one request.
#[derive(Clone, Debug)]
pub struct Header {
    pub ty: u16,
    pub flags: u16,
    pub cmd: u8,
    pub version: u8,
    pub reserved: u16,
    /// nlmsg_len to claim instead of the true length.
    pub len: Option<u32>,
    /// Only this many bytes of the generic netlink header (0..=4) are sent.
    pub genl_bytes: usize,
}

impl Header {
    pub fn new(ty: u16, cmd: u8, flags: u16) -> Self {
        Header {
            ty,
            flags,
            cmd,
            version: ids::FAMILY_VERSION,
            reserved: 0,
            len: None,
            genl_bytes: GENL_HDRLEN,
        }
    }
}

/// One request: header, then `body` (the attributes). Not padded.
pub fn message(h: &Header, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(NLMSG_HDRLEN + GENL_HDRLEN + body.len());
    let true_len = NLMSG_HDRLEN + h.genl_bytes + body.len();
    m.extend_from_slice(&h.len.unwrap_or(true_len as u32).to_ne_bytes());
    m.extend_from_slice(&h.ty.to_ne_bytes());
    m.extend_from_slice(&h.flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    let mut g = vec![h.cmd, h.version];
    g.extend_from_slice(&h.reserved.to_ne_bytes());
    m.extend_from_slice(&g[..h.genl_bytes]);
    m.extend_from_slice(body);
    m
}

pub fn hex(b: &[u8]) -> String {
    let mut s = String::new();
    for (i, line) in b.chunks(32).enumerate() {
        s += &format!("\n    {:04x}:", i * 32);
        for w in line.chunks(4) {
            s.push(' ');
            for x in w {
                s += &format!("{x:02x}");
            }
        }
    }
    s
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_ne_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_ne_bytes(b[o..o + 4].try_into().unwrap())
}

/// One netlink message the kernel sent.
#[derive(Clone, Debug)]
pub struct Reply {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    /// Everything after the netlink header.
    pub payload: Vec<u8>,
    /// The whole message, for dumps in failure reports.
    pub raw: Vec<u8>,
}

/// Splits one received datagram into its messages; every length must be exact.
pub fn split(buf: &[u8]) -> Result<Vec<Reply>, String> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < buf.len() {
        if buf.len() - off < NLMSG_HDRLEN {
            return Err(format!(
                "{} stray bytes after the last message",
                buf.len() - off
            ));
        }
        let len = u32_at(buf, off) as usize;
        if len < NLMSG_HDRLEN || off + len > buf.len() {
            return Err(format!(
                "message at {off} claims {len} bytes of {}",
                buf.len()
            ));
        }
        let m = &buf[off..off + len];
        out.push(Reply {
            ty: u16_at(m, 4),
            flags: u16_at(m, 6),
            seq: u32_at(m, 8),
            pid: u32_at(m, 12),
            payload: m[NLMSG_HDRLEN..].to_vec(),
            raw: m.to_vec(),
        });
        off += align4(len);
    }
    Ok(out)
}

/// The extended ACK of an error or of a dump's NLMSG_DONE.
#[derive(Clone, Debug, Default)]
pub struct Ext {
    pub msg: Option<String>,
    pub offs: Option<u32>,
    pub miss_type: Option<u32>,
}

/// Walks attributes strictly: each length >= 4, inside the buffer, padding inside the
/// buffer too (except after the last). Yields (type with flags, value).
pub fn attrs(b: &[u8]) -> Result<Vec<(u16, &[u8])>, String> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < b.len() {
        if b.len() - off < 4 {
            return Err(format!(
                "{} stray bytes after the attributes",
                b.len() - off
            ));
        }
        let len = u16_at(b, off) as usize;
        if len < 4 || off + len > b.len() {
            return Err(format!(
                "attribute at {off} has length {len} of {}",
                b.len() - off
            ));
        }
        out.push((u16_at(b, off + 2), &b[off + 4..off + len]));
        off = (off + align4(len)).min(b.len());
    }
    Ok(out)
}

fn parse_ext(tlvs: &[u8]) -> Result<Ext, String> {
    let mut e = Ext::default();
    for (t, v) in attrs(tlvs).map_err(|m| format!("extack: {m}"))? {
        match t & NLA_TYPE_MASK {
            NLMSGERR_ATTR_MSG => {
                let s = v.split(|&c| c == 0).next().unwrap_or(&[]);
                if v.last() != Some(&0) {
                    return Err("extack message not NUL-terminated".into());
                }
                let s = String::from_utf8(s.to_vec()).map_err(|_| "extack message not UTF-8")?;
                e.msg = Some(s).filter(|s| !s.is_empty());
            }
            NLMSGERR_ATTR_OFFS => e.offs = Some(exact_u32(v, "extack offset")?),
            NLMSGERR_ATTR_MISS_TYPE => e.miss_type = Some(exact_u32(v, "extack miss-type")?),
            _ => {}
        }
    }
    Ok(e)
}

/// NLMSG_ERROR: (errno as the kernel put it, negative or 0; echoed seq; extack).
pub fn parse_error(r: &Reply) -> Result<(i32, u32, Ext), String> {
    if r.payload.len() < 4 + NLMSG_HDRLEN {
        return Err(format!("NLMSG_ERROR of {} bytes", r.payload.len()));
    }
    let code = i32::from_ne_bytes(r.payload[0..4].try_into().unwrap());
    let echoed_len = u32_at(&r.payload, 4) as usize;
    let echoed_seq = u32_at(&r.payload, 12);
    let skip = if r.flags & NLM_F_CAPPED != 0 || code == 0 {
        NLMSG_HDRLEN
    } else {
        align4(echoed_len)
    };
    let ext = if r.flags & NLM_F_ACK_TLVS != 0 {
        let tl = r
            .payload
            .get(4 + skip..)
            .ok_or("NLMSG_ERROR shorter than the request it echoes")?;
        parse_ext(tl)?
    } else {
        Ext::default()
    };
    Ok((code, echoed_seq, ext))
}

/// NLMSG_DONE: (code, extack).
pub fn parse_done(r: &Reply) -> Result<(i32, Ext), String> {
    if r.payload.len() < 4 {
        return Err("NLMSG_DONE without its code".into());
    }
    let code = i32::from_ne_bytes(r.payload[0..4].try_into().unwrap());
    let ext = if r.flags & NLM_F_ACK_TLVS != 0 {
        parse_ext(&r.payload[4..])?
    } else {
        Ext::default()
    };
    Ok((code, ext))
}

fn exact_u32(v: &[u8], what: &str) -> Result<u32, String> {
    match v.len() {
        4 => Ok(u32::from_ne_bytes(v.try_into().unwrap())),
        n => Err(format!("{what}: u32 of {n} bytes")),
    }
}

fn exact_u64(v: &[u8], what: &str) -> Result<u64, String> {
    match v.len() {
        8 => Ok(u64::from_ne_bytes(v.try_into().unwrap())),
        n => Err(format!("{what}: u64 of {n} bytes")),
    }
}

/// A spec `uint`: 4 or 8 bytes.
fn uint(v: &[u8], what: &str) -> Result<u64, String> {
    match v.len() {
        4 => Ok(u32::from_ne_bytes(v.try_into().unwrap()).into()),
        8 => Ok(u64::from_ne_bytes(v.try_into().unwrap())),
        n => Err(format!("{what}: uint of {n} bytes")),
    }
}

fn scalar(t: u16, name: &str) -> Result<(), String> {
    if t & NLA_F_NESTED != 0 {
        return Err(format!("{name}: scalar with NLA_F_NESTED"));
    }
    Ok(())
}

fn nest(t: u16, name: &str) -> Result<(), String> {
    if t & NLA_F_NESTED == 0 {
        return Err(format!("{name}: nest without NLA_F_NESTED"));
    }
    Ok(())
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    pub offset: u64,
    pub length: u32,
    pub token: u32,
    pub queue: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindingInfo {
    pub id: u32,
    pub state: u32,
    pub ifindex: u32,
    pub queues: Vec<u32>,
    pub dmabuf_size: u64,
    pub chunk_size: u32,
    pub total: u32,
    pub free: u32,
    pub posted: u32,
    pub completed: u32,
    pub user: u32,
    pub held_by_user: u64,
    pub inflight: u64,
}

/// A family reply, parsed.
#[derive(Clone, Debug, Default)]
pub struct Answer {
    pub id: Option<u32>,
    pub released: Option<u32>,
    pub records: Vec<Record>,
    pub binding: Option<BindingInfo>,
}

/// The attributes of a binding-get reply (one binding), each required; PAD may also appear.
const BINDING_INFO: &[u16] = &[
    ab::ID,
    ab::STATE,
    ab::IFINDEX,
    ab::QUEUES,
    ab::DMABUF_SIZE,
    ab::CHUNK_SIZE,
    ab::CHUNKS_TOTAL,
    ab::CHUNKS_FREE,
    ab::CHUNKS_POSTED,
    ab::CHUNKS_COMPLETED,
    ab::CHUNKS_USER,
    ab::STATS,
];

/// Checks a family message of op `cmd` against the spec's reply attribute list and types,
/// then returns its values.
pub fn parse_answer(cmd: u8, genl: &[u8]) -> Result<Answer, String> {
    if genl.len() < GENL_HDRLEN {
        return Err("no generic netlink header".into());
    }
    if genl[0] != cmd {
        return Err(format!("reply carries cmd {} for cmd {cmd}", genl[0]));
    }
    if genl[1] != ids::FAMILY_VERSION || genl[2] != 0 || genl[3] != 0 {
        return Err(format!(
            "reply genl header version {} reserved {:?}",
            genl[1],
            &genl[2..4]
        ));
    }
    let allowed: &[u16] = match cmd {
        ids::cmd::BIND_DMABUF => &[ab::ID],
        ids::cmd::BINDING_GET => BINDING_INFO,
        ids::cmd::RX_READ => &[ab::ID, ab::RECORDS],
        ids::cmd::RX_RELEASE => &[ab::RELEASED],
        _ => return Err(format!("op {cmd} has no reply in the spec")),
    };
    let mut a = Answer::default();
    let mut b = BindingInfo::default();
    let mut seen: Vec<u16> = Vec::new();
    for (t, v) in attrs(&genl[GENL_HDRLEN..])? {
        let k = t & NLA_TYPE_MASK;
        let name = ids::binding_attr_name(k).unwrap_or("?");
        // PAD: alignment of the 64-bit attributes, anywhere in a binding-get reply.
        let pad = cmd == ids::cmd::BINDING_GET && k == ab::PAD;
        if !allowed.contains(&k) && !pad {
            return Err(format!(
                "attribute {k} ({name}) is not in the spec's {} reply",
                ids::cmd_name(cmd)
            ));
        }
        let multi = matches!(k, ab::QUEUES | ab::RECORDS | ab::PAD);
        if !multi && seen.contains(&k) {
            return Err(format!("attribute {name} twice"));
        }
        seen.push(k);
        match k {
            ab::QUEUES => {
                nest(t, name)?;
                let (mut id, mut ty) = (None, None);
                for (qt, qv) in attrs(v).map_err(|e| format!("queues: {e}"))? {
                    scalar(qt, "queue attribute")?;
                    match qt & NLA_TYPE_MASK {
                        aq::ID if id.is_none() => id = Some(exact_u32(qv, "queue.id")?),
                        aq::TYPE if ty.is_none() => ty = Some(exact_u32(qv, "queue.type")?),
                        o => return Err(format!("queue nest: attribute {o} unknown or repeated")),
                    }
                }
                match (id, ty) {
                    (Some(i), Some(ids::queue_type::RX)) => b.queues.push(i),
                    _ => return Err(format!("queue nest id {id:?} type {ty:?}")),
                }
            }
            ab::STATS => {
                nest(t, name)?;
                let mut got = Vec::new();
                for (st, sv) in attrs(v).map_err(|e| format!("stats: {e}"))? {
                    scalar(st, "stats attribute")?;
                    let sk = st & NLA_TYPE_MASK;
                    if !(ids::stats::ALLOC_FAST..=ids::stats::BAD_PUT).contains(&sk)
                        || got.contains(&sk)
                    {
                        return Err(format!("stats nest: attribute {sk} unknown or repeated"));
                    }
                    got.push(sk);
                    let x = uint(sv, "stats")?;
                    match sk {
                        ids::stats::HELD_BY_USER => b.held_by_user = x,
                        ids::stats::INFLIGHT => b.inflight = x,
                        _ => {}
                    }
                }
                if got.len() != 9 {
                    return Err(format!("stats nest has {} of 9 counters", got.len()));
                }
            }
            ab::RECORDS => {
                nest(t, name)?;
                let mut r = Record::default();
                let mut got = Vec::new();
                for (rt, rv) in attrs(v).map_err(|e| format!("records: {e}"))? {
                    scalar(rt, "record attribute")?;
                    let rk = rt & NLA_TYPE_MASK;
                    if rk != ar::PAD && got.contains(&rk) {
                        return Err(format!("record nest: attribute {rk} repeated"));
                    }
                    got.push(rk);
                    match rk {
                        ar::OFFSET => r.offset = exact_u64(rv, "record.offset")?,
                        ar::LENGTH => r.length = exact_u32(rv, "record.length")?,
                        ar::TOKEN => r.token = exact_u32(rv, "record.token")?,
                        ar::QUEUE => r.queue = exact_u32(rv, "record.queue")?,
                        ar::PAD if rv.is_empty() => {}
                        o => return Err(format!("record nest: attribute {o} not in the spec")),
                    }
                }
                for need in [ar::OFFSET, ar::LENGTH, ar::TOKEN, ar::QUEUE] {
                    if !got.contains(&need) {
                        return Err(format!("record without attribute {need}"));
                    }
                }
                a.records.push(r);
            }
            ab::PAD => {
                if !v.is_empty() {
                    return Err(format!("pad of {} bytes", v.len()));
                }
            }
            ab::DMABUF_SIZE => {
                scalar(t, name)?;
                b.dmabuf_size = exact_u64(v, name)?;
            }
            _ => {
                scalar(t, name)?;
                let x = exact_u32(v, name)?;
                match k {
                    ab::ID => {
                        a.id = Some(x);
                        b.id = x;
                    }
                    ab::STATE => b.state = x,
                    ab::IFINDEX => b.ifindex = x,
                    ab::CHUNK_SIZE => b.chunk_size = x,
                    ab::CHUNKS_TOTAL => b.total = x,
                    ab::CHUNKS_FREE => b.free = x,
                    ab::CHUNKS_POSTED => b.posted = x,
                    ab::CHUNKS_COMPLETED => b.completed = x,
                    ab::CHUNKS_USER => b.user = x,
                    ab::RELEASED => a.released = Some(x),
                    _ => unreachable!(),
                }
            }
        }
    }
    let required: &[u16] = match cmd {
        ids::cmd::BIND_DMABUF | ids::cmd::RX_READ => &[ab::ID],
        ids::cmd::RX_RELEASE => &[ab::RELEASED],
        _ => BINDING_INFO,
    };
    for r in required {
        if !seen.contains(r) {
            return Err(format!(
                "{} reply lacks {}",
                ids::cmd_name(cmd),
                ids::binding_attr_name(*r).unwrap_or("?")
            ));
        }
    }
    if cmd == ids::cmd::BINDING_GET {
        if b.state > 1 {
            return Err(format!("state {} not in enum binding-state", b.state));
        }
        if b.id == 0 || b.ifindex == 0 {
            return Err("id or ifindex 0 (spec min 1)".into());
        }
        if !(ids::CHUNK_SIZE_MIN..=ids::CHUNK_SIZE_MAX).contains(&b.chunk_size)
            || !b.chunk_size.is_power_of_two()
        {
            return Err(format!("chunk-size {}", b.chunk_size));
        }
        if b.dmabuf_size / u64::from(b.chunk_size) != u64::from(b.total) {
            return Err(format!(
                "chunks-total {} for a {}-byte dma-buf in {}-byte chunks",
                b.total, b.dmabuf_size, b.chunk_size
            ));
        }
        a.binding = Some(b);
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout_and_lying_lengths() {
        let mut body = Vec::new();
        nla_u32(&mut body, ab::ID, 7);
        let mut h = Header::new(30, ids::cmd::UNBIND, NLM_F_REQUEST | NLM_F_ACK);
        let m = message(&h, 5, &body);
        assert_eq!(m.len(), 28);
        assert_eq!(u32_at(&m, 0), 28);
        assert_eq!(u16_at(&m, 4), 30);
        assert_eq!(u32_at(&m, 8), 5);
        assert_eq!(&m[16..20], &[ids::cmd::UNBIND, 1, 0, 0]);
        h.len = Some(9);
        h.genl_bytes = 2;
        let m = message(&h, 5, &[]);
        assert_eq!((u32_at(&m, 0), m.len()), (9, 18));
    }

    #[test]
    fn strict_attribute_walk() {
        let mut b = Vec::new();
        nla(&mut b, 1, &[1, 2, 3]);
        nla_u32(&mut b, 2, 9);
        let a = attrs(&b).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].1, &[1, 2, 3]);
        let mut bad = Vec::new();
        nla_raw(&mut bad, 40, 1, &[0; 4]);
        assert!(attrs(&bad).is_err());
        assert!(attrs(&[8, 0, 1]).is_err());
    }

    fn genl(cmd: u8, body: &[u8]) -> Vec<u8> {
        let mut g = vec![cmd, 1, 0, 0];
        g.extend_from_slice(body);
        g
    }

    #[test]
    fn replies_against_the_spec() {
        let mut body = Vec::new();
        nla_u32(&mut body, ab::RELEASED, 3);
        let a = parse_answer(ids::cmd::RX_RELEASE, &genl(ids::cmd::RX_RELEASE, &body)).unwrap();
        assert_eq!(a.released, Some(3));
        // An attribute the spec does not list for this op.
        nla_u32(&mut body, ab::ID, 3);
        assert!(parse_answer(ids::cmd::RX_RELEASE, &genl(ids::cmd::RX_RELEASE, &body)).is_err());
        // Wrong width.
        let mut w = Vec::new();
        nla(&mut w, ab::ID, &[1, 0]);
        assert!(parse_answer(ids::cmd::BIND_DMABUF, &genl(ids::cmd::BIND_DMABUF, &w)).is_err());
        // A record missing its token.
        let mut rec = Vec::new();
        nla(&mut rec, ar::OFFSET, &0u64.to_ne_bytes());
        nla_u32(&mut rec, ar::LENGTH, 60);
        nla_u32(&mut rec, ar::QUEUE, 1);
        let mut r = Vec::new();
        nla_u32(&mut r, ab::ID, 2);
        nla(&mut r, ab::RECORDS | NLA_F_NESTED, &rec);
        assert!(parse_answer(ids::cmd::RX_READ, &genl(ids::cmd::RX_READ, &r)).is_err());
    }

    #[test]
    fn error_with_extack() {
        let req = message(&Header::new(30, 2, 5), 77, &[]);
        let mut p = (-22i32).to_ne_bytes().to_vec();
        p.extend_from_slice(&req[..16]);
        nla(&mut p, NLMSGERR_ATTR_MSG, b"integer out of range\0");
        nla_u32(&mut p, NLMSGERR_ATTR_OFFS, 20);
        let mut raw = ((16 + p.len()) as u32).to_ne_bytes().to_vec();
        raw.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        raw.extend_from_slice(&(NLM_F_CAPPED | NLM_F_ACK_TLVS).to_ne_bytes());
        raw.extend_from_slice(&77u32.to_ne_bytes());
        raw.extend_from_slice(&0u32.to_ne_bytes());
        raw.extend_from_slice(&p);
        let r = split(&raw).unwrap();
        let (code, seq, ext) = parse_error(&r[0]).unwrap();
        assert_eq!((code, seq), (-22, 77));
        assert_eq!(ext.msg.as_deref(), Some("integer out of range"));
        assert_eq!(ext.offs, Some(20));
    }
}
