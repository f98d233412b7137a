// SPDX-License-Identifier: GPL-2.0
//! Messages of the `bind-dmabuf` family (spec `netmem/bind-dmabuf.yaml`) on
//! top of netlink-packet-core / netlink-packet-generic: attribute enums with
//! their `Nla` encoders and decoders, the generic netlink payload type, request
//! builders and typed views of the replies.

use netlink_packet_core::{
    emit_u32, emit_u64, parse_u32, parse_u64, DecodeError, DefaultNla, Emitable, ErrorContext, Nla,
    NlaBuffer, NlasIterator, Parseable, ParseableParametrized, NLA_F_NESTED,
};
use netlink_packet_generic::{GenlFamily, GenlHeader};
use serde::Serialize;

use crate::ids::{self, binding as ab, queue as aq, record as ar, stats as ast};

fn u32_value(buf: &[u8], what: &str) -> Result<u32, DecodeError> {
    parse_u32(buf).with_context(|| format!("invalid u32 attribute {what}"))
}

/// `u64` and `uint` attributes: the kernel puts a `uint` in 4 bytes when it
/// fits, so both widths are accepted.
fn u64_value(buf: &[u8], what: &str) -> Result<u64, DecodeError> {
    match buf.len() {
        4 => Ok(parse_u32(buf)?.into()),
        8 => Ok(parse_u64(buf)?),
        n => Err(DecodeError::from(format!(
            "invalid 64-bit attribute {what}: {n} bytes"
        ))),
    }
}

fn nested_len<T: Nla>(nlas: &[T]) -> usize {
    nlas.as_ref().buffer_len()
}

fn parse_nested<T, F>(buf: &[u8], what: &str, parse: F) -> Result<Vec<T>, DecodeError>
where
    F: Fn(&NlaBuffer<&[u8]>) -> Result<T, DecodeError>,
{
    NlasIterator::new(buf)
        .map(|nla| nla.and_then(|nla| parse(&nla)))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("failed to parse nest {what}"))
}

/// Attribute set `queue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueAttr {
    Id(u32),
    Type(u32),
    Other(DefaultNla),
}

impl Nla for QueueAttr {
    fn value_len(&self) -> usize {
        match self {
            QueueAttr::Id(_) | QueueAttr::Type(_) => 4,
            QueueAttr::Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            QueueAttr::Id(_) => aq::ID,
            QueueAttr::Type(_) => aq::TYPE,
            QueueAttr::Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            QueueAttr::Id(v) | QueueAttr::Type(v) => emit_u32(buf, *v).unwrap(),
            QueueAttr::Other(n) => n.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for QueueAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            aq::ID => QueueAttr::Id(u32_value(v, "queue.id")?),
            aq::TYPE => QueueAttr::Type(u32_value(v, "queue.type")?),
            _ => QueueAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Attribute set `stats` (all `uint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsAttr {
    Counter(u16, u64),
    Other(DefaultNla),
}

impl Nla for StatsAttr {
    fn value_len(&self) -> usize {
        match self {
            StatsAttr::Counter(..) => 8,
            StatsAttr::Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            StatsAttr::Counter(k, _) => *k,
            StatsAttr::Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            StatsAttr::Counter(_, v) => emit_u64(buf, *v).unwrap(),
            StatsAttr::Other(n) => n.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for StatsAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let k = buf.kind();
        Ok(if (ast::ALLOC_FAST..=ast::BAD_PUT).contains(&k) {
            StatsAttr::Counter(k, u64_value(buf.value(), "stats")?)
        } else {
            StatsAttr::Other(DefaultNla::parse(buf)?)
        })
    }
}

/// Attribute set `record`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordAttr {
    Offset(u64),
    Length(u32),
    Token(u32),
    Queue(u32),
    Other(DefaultNla),
}

impl Nla for RecordAttr {
    fn value_len(&self) -> usize {
        match self {
            RecordAttr::Offset(_) => 8,
            RecordAttr::Length(_) | RecordAttr::Token(_) | RecordAttr::Queue(_) => 4,
            RecordAttr::Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            RecordAttr::Offset(_) => ar::OFFSET,
            RecordAttr::Length(_) => ar::LENGTH,
            RecordAttr::Token(_) => ar::TOKEN,
            RecordAttr::Queue(_) => ar::QUEUE,
            RecordAttr::Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buf: &mut [u8]) {
        match self {
            RecordAttr::Offset(v) => emit_u64(buf, *v).unwrap(),
            RecordAttr::Length(v) | RecordAttr::Token(v) | RecordAttr::Queue(v) => {
                emit_u32(buf, *v).unwrap()
            }
            RecordAttr::Other(n) => n.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for RecordAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            ar::OFFSET => RecordAttr::Offset(u64_value(v, "record.offset")?),
            ar::LENGTH => RecordAttr::Length(u32_value(v, "record.length")?),
            ar::TOKEN => RecordAttr::Token(u32_value(v, "record.token")?),
            ar::QUEUE => RecordAttr::Queue(u32_value(v, "record.queue")?),
            _ => RecordAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Attribute set `binding`, the top-level set of every command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingAttr {
    Id(u32),
    State(u32),
    Ifindex(u32),
    /// One `queues` attribute (multi-attr: one per queue).
    Queue(Vec<QueueAttr>),
    Fd(u32),
    ChunkSize(u32),
    DmabufSize(u64),
    ChunksTotal(u32),
    ChunksFree(u32),
    ChunksPosted(u32),
    ChunksCompleted(u32),
    ChunksUser(u32),
    Stats(Vec<StatsAttr>),
    MaxRecords(u32),
    /// One `records` attribute (multi-attr: one per frame).
    Record(Vec<RecordAttr>),
    /// One `tokens` attribute (multi-attr: one per token).
    Token(u32),
    Released(u32),
    Other(DefaultNla),
}

impl Nla for BindingAttr {
    fn value_len(&self) -> usize {
        use BindingAttr::*;
        match self {
            Id(_) | State(_) | Ifindex(_) | Fd(_) | ChunkSize(_) | ChunksTotal(_)
            | ChunksFree(_) | ChunksPosted(_) | ChunksCompleted(_) | ChunksUser(_)
            | MaxRecords(_) | Token(_) | Released(_) => 4,
            DmabufSize(_) => 8,
            Queue(n) => nested_len(n),
            Stats(n) => nested_len(n),
            Record(n) => nested_len(n),
            Other(n) => n.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        use BindingAttr::*;
        match self {
            Id(_) => ab::ID,
            State(_) => ab::STATE,
            Ifindex(_) => ab::IFINDEX,
            Queue(_) => ab::QUEUES | NLA_F_NESTED,
            Fd(_) => ab::FD,
            ChunkSize(_) => ab::CHUNK_SIZE,
            DmabufSize(_) => ab::DMABUF_SIZE,
            ChunksTotal(_) => ab::CHUNKS_TOTAL,
            ChunksFree(_) => ab::CHUNKS_FREE,
            ChunksPosted(_) => ab::CHUNKS_POSTED,
            ChunksCompleted(_) => ab::CHUNKS_COMPLETED,
            ChunksUser(_) => ab::CHUNKS_USER,
            Stats(_) => ab::STATS | NLA_F_NESTED,
            MaxRecords(_) => ab::MAX_RECORDS,
            Record(_) => ab::RECORDS | NLA_F_NESTED,
            Token(_) => ab::TOKENS,
            Released(_) => ab::RELEASED,
            Other(n) => n.kind(),
        }
    }
    fn emit_value(&self, buf: &mut [u8]) {
        use BindingAttr::*;
        match self {
            Id(v) | State(v) | Ifindex(v) | Fd(v) | ChunkSize(v) | ChunksTotal(v)
            | ChunksFree(v) | ChunksPosted(v) | ChunksCompleted(v) | ChunksUser(v)
            | MaxRecords(v) | Token(v) | Released(v) => emit_u32(buf, *v).unwrap(),
            DmabufSize(v) => emit_u64(buf, *v).unwrap(),
            Queue(n) => n.as_slice().emit(buf),
            Stats(n) => n.as_slice().emit(buf),
            Record(n) => n.as_slice().emit(buf),
            Other(n) => n.emit_value(buf),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for BindingAttr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        use BindingAttr::*;
        let v = buf.value();
        let name = ids::binding_attr_name(buf.kind()).unwrap_or("?");
        Ok(match buf.kind() {
            ab::ID => Id(u32_value(v, name)?),
            ab::STATE => State(u32_value(v, name)?),
            ab::IFINDEX => Ifindex(u32_value(v, name)?),
            ab::QUEUES => Queue(parse_nested(v, name, |n| QueueAttr::parse(n))?),
            ab::FD => Fd(u32_value(v, name)?),
            ab::CHUNK_SIZE => ChunkSize(u32_value(v, name)?),
            ab::DMABUF_SIZE => DmabufSize(u64_value(v, name)?),
            ab::CHUNKS_TOTAL => ChunksTotal(u32_value(v, name)?),
            ab::CHUNKS_FREE => ChunksFree(u32_value(v, name)?),
            ab::CHUNKS_POSTED => ChunksPosted(u32_value(v, name)?),
            ab::CHUNKS_COMPLETED => ChunksCompleted(u32_value(v, name)?),
            ab::CHUNKS_USER => ChunksUser(u32_value(v, name)?),
            ab::STATS => Stats(parse_nested(v, name, |n| StatsAttr::parse(n))?),
            ab::MAX_RECORDS => MaxRecords(u32_value(v, name)?),
            ab::RECORDS => Record(parse_nested(v, name, |n| RecordAttr::parse(n))?),
            ab::TOKENS => Token(u32_value(v, name)?),
            ab::RELEASED => Released(u32_value(v, name)?),
            _ => Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Generic netlink payload of the `bind-dmabuf` family: a command and its
/// top-level attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindDmabufMsg {
    pub cmd: u8,
    pub attrs: Vec<BindingAttr>,
}

impl GenlFamily for BindDmabufMsg {
    fn family_name() -> &'static str {
        ids::FAMILY_NAME
    }
    fn command(&self) -> u8 {
        self.cmd
    }
    fn version(&self) -> u8 {
        ids::FAMILY_VERSION
    }
}

impl Emitable for BindDmabufMsg {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for BindDmabufMsg {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let attrs = parse_nested(buf, ids::cmd_name(header.cmd), |n| BindingAttr::parse(n))?;
        Ok(BindDmabufMsg {
            cmd: header.cmd,
            attrs,
        })
    }
}

/// A queue in a request or a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Queue {
    pub id: u32,
    #[serde(rename = "type", serialize_with = "ser_queue_type")]
    pub qtype: u32,
}

fn ser_queue_type<S: serde::Serializer>(t: &u32, s: S) -> Result<S::Ok, S::Error> {
    match *t {
        ids::queue_type::RX => s.serialize_str("rx"),
        ids::queue_type::TX => s.serialize_str("tx"),
        other => s.serialize_u32(other),
    }
}

impl Queue {
    pub fn rx(id: u32) -> Self {
        Queue {
            id,
            qtype: ids::queue_type::RX,
        }
    }

    fn to_attr(self) -> BindingAttr {
        BindingAttr::Queue(vec![QueueAttr::Id(self.id), QueueAttr::Type(self.qtype)])
    }

    fn from_attrs(attrs: &[QueueAttr]) -> Self {
        let mut q = Queue::rx(0);
        for a in attrs {
            match a {
                QueueAttr::Id(v) => q.id = *v,
                QueueAttr::Type(v) => q.qtype = *v,
                QueueAttr::Other(_) => {}
            }
        }
        q
    }
}

/// Allocator statistics (nest `stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Stats {
    pub alloc_fast: u64,
    pub alloc_slow: u64,
    pub recycle_cached: u64,
    pub recycle_ring: u64,
    pub ring_full: u64,
    pub empty: u64,
    pub inflight: u64,
    pub held_by_user: u64,
    pub bad_put: u64,
}

impl Stats {
    fn from_attrs(attrs: &[StatsAttr]) -> Self {
        let mut s = Stats::default();
        for a in attrs {
            if let StatsAttr::Counter(k, v) = a {
                let slot = match *k {
                    ast::ALLOC_FAST => &mut s.alloc_fast,
                    ast::ALLOC_SLOW => &mut s.alloc_slow,
                    ast::RECYCLE_CACHED => &mut s.recycle_cached,
                    ast::RECYCLE_RING => &mut s.recycle_ring,
                    ast::RING_FULL => &mut s.ring_full,
                    ast::EMPTY => &mut s.empty,
                    ast::INFLIGHT => &mut s.inflight,
                    ast::HELD_BY_USER => &mut s.held_by_user,
                    ast::BAD_PUT => &mut s.bad_put,
                    _ => continue,
                };
                *slot = *v;
            }
        }
        s
    }

    /// (spec name, value) pairs in spec order.
    pub fn fields(&self) -> [(&'static str, u64); 9] {
        [
            ("alloc-fast", self.alloc_fast),
            ("alloc-slow", self.alloc_slow),
            ("recycle-cached", self.recycle_cached),
            ("recycle-ring", self.recycle_ring),
            ("ring-full", self.ring_full),
            ("empty", self.empty),
            ("inflight", self.inflight),
            ("held-by-user", self.held_by_user),
            ("bad-put", self.bad_put),
        ]
    }

    fn to_attr(&self) -> BindingAttr {
        let kinds = [
            ast::ALLOC_FAST,
            ast::ALLOC_SLOW,
            ast::RECYCLE_CACHED,
            ast::RECYCLE_RING,
            ast::RING_FULL,
            ast::EMPTY,
            ast::INFLIGHT,
            ast::HELD_BY_USER,
            ast::BAD_PUT,
        ];
        BindingAttr::Stats(
            kinds
                .iter()
                .zip(self.fields())
                .map(|(k, (_, v))| StatsAttr::Counter(*k, v))
                .collect(),
        )
    }
}

/// A `binding-get` reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Binding {
    pub id: u32,
    /// `bound`, or `draining` once unbound while the driver still has chunks posted.
    pub state: String,
    pub ifindex: u32,
    pub queues: Vec<Queue>,
    pub dmabuf_size: u64,
    pub chunk_size: u32,
    pub chunks_total: u32,
    pub chunks_free: u32,
    pub chunks_posted: u32,
    pub chunks_completed: u32,
    pub chunks_user: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
}

impl Binding {
    pub fn from_msg(msg: &BindDmabufMsg) -> Self {
        let mut b = Binding::default();
        for a in &msg.attrs {
            match a {
                BindingAttr::Id(v) => b.id = *v,
                BindingAttr::State(v) => {
                    b.state = match *v {
                        0 => "bound",
                        1 => "draining",
                        _ => "unknown",
                    }
                    .to_string()
                }
                BindingAttr::Ifindex(v) => b.ifindex = *v,
                BindingAttr::Queue(q) => b.queues.push(Queue::from_attrs(q)),
                BindingAttr::DmabufSize(v) => b.dmabuf_size = *v,
                BindingAttr::ChunkSize(v) => b.chunk_size = *v,
                BindingAttr::ChunksTotal(v) => b.chunks_total = *v,
                BindingAttr::ChunksFree(v) => b.chunks_free = *v,
                BindingAttr::ChunksPosted(v) => b.chunks_posted = *v,
                BindingAttr::ChunksCompleted(v) => b.chunks_completed = *v,
                BindingAttr::ChunksUser(v) => b.chunks_user = *v,
                BindingAttr::Stats(s) => b.stats = Some(Stats::from_attrs(s)),
                _ => {}
            }
        }
        b
    }

    /// The reply the kernel would send for this binding (used by tests).
    pub fn to_msg(&self) -> BindDmabufMsg {
        let state = u32::from(self.state == "draining");
        let mut attrs = vec![
            BindingAttr::Id(self.id),
            BindingAttr::State(state),
            BindingAttr::Ifindex(self.ifindex),
        ];
        attrs.extend(self.queues.iter().map(|q| q.to_attr()));
        attrs.extend([
            BindingAttr::DmabufSize(self.dmabuf_size),
            BindingAttr::ChunkSize(self.chunk_size),
            BindingAttr::ChunksTotal(self.chunks_total),
            BindingAttr::ChunksFree(self.chunks_free),
            BindingAttr::ChunksPosted(self.chunks_posted),
            BindingAttr::ChunksCompleted(self.chunks_completed),
            BindingAttr::ChunksUser(self.chunks_user),
        ]);
        if let Some(s) = &self.stats {
            attrs.push(s.to_attr());
        }
        BindDmabufMsg {
            cmd: ids::cmd::BINDING_GET,
            attrs,
        }
    }
}

/// One received frame (nest `record`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Record {
    pub offset: u64,
    pub length: u32,
    pub token: u32,
    pub queue: u32,
}

impl Record {
    fn from_attrs(attrs: &[RecordAttr]) -> Self {
        let mut r = Record::default();
        for a in attrs {
            match a {
                RecordAttr::Offset(v) => r.offset = *v,
                RecordAttr::Length(v) => r.length = *v,
                RecordAttr::Token(v) => r.token = *v,
                RecordAttr::Queue(v) => r.queue = *v,
                RecordAttr::Other(_) => {}
            }
        }
        r
    }

    pub fn to_attr(self) -> BindingAttr {
        BindingAttr::Record(vec![
            RecordAttr::Offset(self.offset),
            RecordAttr::Length(self.length),
            RecordAttr::Token(self.token),
            RecordAttr::Queue(self.queue),
        ])
    }
}

/// First `id` attribute of a reply.
pub fn reply_id(msg: &BindDmabufMsg) -> Option<u32> {
    msg.attrs.iter().find_map(|a| match a {
        BindingAttr::Id(v) => Some(*v),
        _ => None,
    })
}

/// Records of an `rx-read` reply, in order.
pub fn reply_records(msg: &BindDmabufMsg) -> Vec<Record> {
    msg.attrs
        .iter()
        .filter_map(|a| match a {
            BindingAttr::Record(r) => Some(Record::from_attrs(r)),
            _ => None,
        })
        .collect()
}

/// `released` of an `rx-release` reply.
pub fn reply_released(msg: &BindDmabufMsg) -> Option<u32> {
    msg.attrs.iter().find_map(|a| match a {
        BindingAttr::Released(v) => Some(*v),
        _ => None,
    })
}

/// `bind-dmabuf` request.
pub fn bind_request(
    ifindex: u32,
    queues: &[Queue],
    fd: u32,
    chunk_size: Option<u32>,
) -> BindDmabufMsg {
    let mut attrs = vec![BindingAttr::Ifindex(ifindex)];
    attrs.extend(queues.iter().map(|q| q.to_attr()));
    attrs.push(BindingAttr::Fd(fd));
    if let Some(cs) = chunk_size {
        attrs.push(BindingAttr::ChunkSize(cs));
    }
    BindDmabufMsg {
        cmd: ids::cmd::BIND_DMABUF,
        attrs,
    }
}

/// `unbind` request.
pub fn unbind_request(id: u32) -> BindDmabufMsg {
    BindDmabufMsg {
        cmd: ids::cmd::UNBIND,
        attrs: vec![BindingAttr::Id(id)],
    }
}

/// `binding-get` request: do with an id, dump without.
pub fn get_request(id: Option<u32>) -> BindDmabufMsg {
    BindDmabufMsg {
        cmd: ids::cmd::BINDING_GET,
        attrs: id.map(BindingAttr::Id).into_iter().collect(),
    }
}

/// `rx-read` request.
pub fn rx_read_request(id: u32, max_records: Option<u32>) -> BindDmabufMsg {
    let mut attrs = vec![BindingAttr::Id(id)];
    if let Some(m) = max_records {
        attrs.push(BindingAttr::MaxRecords(m));
    }
    BindDmabufMsg {
        cmd: ids::cmd::RX_READ,
        attrs,
    }
}

/// `rx-release` requests for `tokens`, split into batches of at most
/// `TOKENS_MAX` tokens (one `tokens` attribute per token).
pub fn rx_release_requests(id: u32, tokens: &[u32]) -> Vec<BindDmabufMsg> {
    tokens
        .chunks(ids::TOKENS_MAX as usize)
        .map(|batch| {
            let mut attrs = Vec::with_capacity(batch.len() + 1);
            attrs.push(BindingAttr::Id(id));
            attrs.extend(batch.iter().map(|t| BindingAttr::Token(*t)));
            BindDmabufMsg {
                cmd: ids::cmd::RX_RELEASE,
                attrs,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
    use netlink_packet_generic::GenlMessage;

    /// Serialize as a full netlink message (family id 0x1234), parse it back.
    fn roundtrip(msg: &BindDmabufMsg) -> (Vec<u8>, BindDmabufMsg) {
        let mut genl = GenlMessage::from_payload(msg.clone());
        genl.set_resolved_family_id(0x1234);
        let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(genl));
        nl.header.flags = NLM_F_REQUEST;
        nl.finalize();
        let mut buf = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut buf);
        let back = NetlinkMessage::<GenlMessage<BindDmabufMsg>>::deserialize(&buf).unwrap();
        assert_eq!(back.header.message_type, 0x1234);
        match back.payload {
            NetlinkPayload::InnerMessage(g) => {
                assert_eq!(g.header.cmd, msg.cmd);
                assert_eq!(g.header.version, ids::FAMILY_VERSION);
                (buf, g.payload)
            }
            other => panic!("unexpected payload {other:?}"),
        }
    }

    #[test]
    fn bind_request_wire_format() {
        let req = bind_request(7, &[Queue::rx(0), Queue::rx(3)], 5, Some(8192));
        let (buf, back) = roundtrip(&req);
        assert_eq!(back, req);
        // nlmsghdr (16) + genlmsghdr (4) + ifindex (8) + 2 * queues (4 + 8 + 8)
        // + fd (8) + chunk-size (8)
        assert_eq!(buf.len(), 16 + 4 + 8 + 2 * 20 + 8 + 8);
        let attrs = &buf[20..];
        // ifindex: len 8, type 2, value 7 (host order)
        assert_eq!(&attrs[0..8], &[8, 0, 2, 0, 7, 0, 0, 0]);
        // first queues: len 20, type 3 | NLA_F_NESTED, then id 0 and type rx
        assert_eq!(&attrs[8..12], &[20, 0, 3, 0x80]);
        assert_eq!(&attrs[12..20], &[8, 0, 1, 0, 0, 0, 0, 0]);
        assert_eq!(&attrs[20..28], &[8, 0, 2, 0, 0, 0, 0, 0]);
        // second queue id 3
        assert_eq!(&attrs[28..32], &[20, 0, 3, 0x80]);
        assert_eq!(&attrs[32..40], &[8, 0, 1, 0, 3, 0, 0, 0]);
        // fd, chunk-size
        assert_eq!(&attrs[48..56], &[8, 0, 4, 0, 5, 0, 0, 0]);
        assert_eq!(&attrs[56..64], &[8, 0, 5, 0, 0, 0x20, 0, 0]);
    }

    #[test]
    fn bind_request_without_chunk_size() {
        let req = bind_request(1, &[Queue::rx(0)], 3, None);
        let (_, back) = roundtrip(&req);
        assert!(!back
            .attrs
            .iter()
            .any(|a| matches!(a, BindingAttr::ChunkSize(_))));
    }

    #[test]
    fn simple_requests_roundtrip() {
        for req in [
            unbind_request(9),
            get_request(Some(4)),
            get_request(None),
            rx_read_request(4, Some(256)),
            rx_read_request(4, None),
        ] {
            let (_, back) = roundtrip(&req);
            assert_eq!(back, req);
        }
        assert!(get_request(None).attrs.is_empty());
    }

    #[test]
    fn release_batches() {
        let tokens: Vec<u32> = (0..2500).collect();
        let reqs = rx_release_requests(3, &tokens);
        assert_eq!(reqs.len(), 3);
        let counts: Vec<usize> = reqs
            .iter()
            .map(|r| {
                r.attrs
                    .iter()
                    .filter(|a| matches!(a, BindingAttr::Token(_)))
                    .count()
            })
            .collect();
        assert_eq!(counts, vec![1024, 1024, 452]);
        let (buf, back) = roundtrip(&reqs[2]);
        assert_eq!(back, reqs[2]);
        assert_eq!(buf.len(), 16 + 4 + 8 + 452 * 8);
        let all: Vec<u32> = reqs
            .iter()
            .flat_map(|r| r.attrs.iter())
            .filter_map(|a| match a {
                BindingAttr::Token(t) => Some(*t),
                _ => None,
            })
            .collect();
        assert_eq!(all, tokens);
        assert!(rx_release_requests(3, &[]).is_empty());
    }

    #[test]
    fn binding_reply_roundtrip() {
        let b = Binding {
            state: "bound".to_string(),
            id: 2,
            ifindex: 5,
            queues: vec![Queue::rx(0), Queue::rx(1)],
            dmabuf_size: 1 << 33,
            chunk_size: 4096,
            chunks_total: 2097152,
            chunks_free: 10,
            chunks_posted: 20,
            chunks_completed: 30,
            chunks_user: 40,
            stats: Some(Stats {
                alloc_fast: 1,
                alloc_slow: 2,
                recycle_cached: 3,
                recycle_ring: 4,
                ring_full: 5,
                empty: 6,
                inflight: 7,
                held_by_user: 8,
                bad_put: u64::MAX,
            }),
        };
        let (_, back) = roundtrip(&b.to_msg());
        assert_eq!(Binding::from_msg(&back), b);
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(json["chunk-size"], 4096);
        assert_eq!(json["queues"][1]["type"], "rx");
        assert_eq!(json["stats"]["held-by-user"], 8);
    }

    #[test]
    fn uint_and_unknown_attributes() {
        // Kernel-style reply: stats as 4-byte uint, a pad attribute and an
        // attribute this CLI does not know; all must parse.
        let mut payload = Vec::new();
        let mut put = |kind: u16, value: &[u8]| {
            payload.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
            payload.extend_from_slice(&kind.to_ne_bytes());
            payload.extend_from_slice(value);
            while payload.len() % 4 != 0 {
                payload.push(0);
            }
        };
        put(ab::ID, &3u32.to_ne_bytes());
        put(ab::PAD, &[]);
        put(ab::DMABUF_SIZE, &(1u64 << 40).to_ne_bytes());
        let mut stats = Vec::new();
        stats.extend_from_slice(&8u16.to_ne_bytes());
        stats.extend_from_slice(&ast::INFLIGHT.to_ne_bytes());
        stats.extend_from_slice(&77u32.to_ne_bytes());
        stats.extend_from_slice(&12u16.to_ne_bytes());
        stats.extend_from_slice(&ast::BAD_PUT.to_ne_bytes());
        stats.extend_from_slice(&(1u64 << 35).to_ne_bytes());
        put(ab::STATS | NLA_F_NESTED, &stats);
        put(200, &[1, 2, 3]);
        let msg = BindDmabufMsg::parse_with_param(
            &payload,
            GenlHeader {
                cmd: ids::cmd::BINDING_GET,
                version: 1,
            },
        )
        .unwrap();
        let b = Binding::from_msg(&msg);
        assert_eq!(b.id, 3);
        assert_eq!(b.dmabuf_size, 1 << 40);
        let s = b.stats.unwrap();
        assert_eq!(s.inflight, 77);
        assert_eq!(s.bad_put, 1 << 35);
    }

    #[test]
    fn rx_read_reply_roundtrip() {
        let recs = vec![
            Record {
                offset: 0,
                length: 60,
                token: 0,
                queue: 0,
            },
            Record {
                offset: (1 << 32) + 4096,
                length: 1514,
                token: 1048577,
                queue: 3,
            },
        ];
        let mut attrs = vec![BindingAttr::Id(6)];
        attrs.extend(recs.iter().map(|r| r.to_attr()));
        let reply = BindDmabufMsg {
            cmd: ids::cmd::RX_READ,
            attrs,
        };
        let (_, back) = roundtrip(&reply);
        assert_eq!(reply_id(&back), Some(6));
        assert_eq!(reply_records(&back), recs);

        let rel = BindDmabufMsg {
            cmd: ids::cmd::RX_RELEASE,
            attrs: vec![BindingAttr::Released(17)],
        };
        let (_, back) = roundtrip(&rel);
        assert_eq!(reply_released(&back), Some(17));
    }

    #[test]
    fn bad_lengths_are_rejected() {
        let payload = [6u8, 0, ab::ID as u8, 0, 1, 2, 0, 0];
        let err = BindDmabufMsg::parse_with_param(
            &payload,
            GenlHeader {
                cmd: ids::cmd::BINDING_GET,
                version: 1,
            },
        );
        assert!(err.is_err());
    }
}
