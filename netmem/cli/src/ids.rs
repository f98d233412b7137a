// SPDX-License-Identifier: GPL-2.0
//! Wire ids of the `bind-dmabuf` generic netlink family.
//!
//! Hand-transcribed from the YNL spec `netmem/bind-dmabuf.yaml`. The names are
//! those of the generated uAPI header `shim/include/uapi/linux/bind-dmabuf.h`
//! (`ci/ynl-gen.sh`); the test `tests/uapi_ids.rs` parses that header and
//! fails if any value here differs from it.

/// Generic netlink family name (`BIND_DMABUF_FAMILY_NAME`).
pub const FAMILY_NAME: &str = "bind-dmabuf";
/// Family version (`BIND_DMABUF_FAMILY_VERSION`).
pub const FAMILY_VERSION: u8 = 1;

// Constants (spec `definitions`, type const).
pub const CHUNK_SIZE_MIN: u32 = 4096;
pub const CHUNK_SIZE_MAX: u32 = 65536;
pub const CHUNK_SIZE_DEFAULT: u32 = 4096;
pub const RECORDS_MAX: u32 = 1024;
pub const RECORDS_DEFAULT: u32 = 64;
pub const TOKENS_MAX: u32 = 1024;

/// enum bind_dmabuf_queue_type
pub mod queue_type {
    pub const RX: u32 = 0;
    pub const TX: u32 = 1;
}

/// Commands (`BIND_DMABUF_CMD_*`).
pub mod cmd {
    pub const BIND_DMABUF: u8 = 1;
    pub const UNBIND: u8 = 2;
    pub const BINDING_GET: u8 = 3;
    pub const RX_READ: u8 = 4;
    pub const RX_RELEASE: u8 = 5;
}

/// Attribute set `queue` (`BIND_DMABUF_A_QUEUE_*`).
pub mod queue {
    pub const ID: u16 = 1;
    pub const TYPE: u16 = 2;
}

/// Attribute set `stats` (`BIND_DMABUF_A_STATS_*`).
pub mod stats {
    pub const ALLOC_FAST: u16 = 1;
    pub const ALLOC_SLOW: u16 = 2;
    pub const RECYCLE_CACHED: u16 = 3;
    pub const RECYCLE_RING: u16 = 4;
    pub const RING_FULL: u16 = 5;
    pub const EMPTY: u16 = 6;
    pub const INFLIGHT: u16 = 7;
    pub const HELD_BY_USER: u16 = 8;
    pub const BAD_PUT: u16 = 9;
}

/// Attribute set `record` (`BIND_DMABUF_A_RECORD_*`).
pub mod record {
    pub const OFFSET: u16 = 1;
    pub const LENGTH: u16 = 2;
    pub const TOKEN: u16 = 3;
    pub const QUEUE: u16 = 4;
    pub const PAD: u16 = 5;
}

/// Attribute set `binding` (`BIND_DMABUF_A_BINDING_*`).
pub mod binding {
    pub const ID: u16 = 1;
    pub const IFINDEX: u16 = 2;
    pub const QUEUES: u16 = 3;
    pub const FD: u16 = 4;
    pub const CHUNK_SIZE: u16 = 5;
    pub const DMABUF_SIZE: u16 = 6;
    pub const PAD: u16 = 7;
    pub const STATE: u16 = 8;
    pub const CHUNKS_TOTAL: u16 = 16;
    pub const CHUNKS_FREE: u16 = 17;
    pub const CHUNKS_POSTED: u16 = 18;
    pub const CHUNKS_COMPLETED: u16 = 19;
    pub const CHUNKS_USER: u16 = 20;
    pub const STATS: u16 = 21;
    pub const MAX_RECORDS: u16 = 32;
    pub const RECORDS: u16 = 33;
    pub const TOKENS: u16 = 34;
    pub const RELEASED: u16 = 35;
}

/// Every id above with its uAPI name, for the cross-check against the header.
pub fn uapi_names() -> Vec<(&'static str, u64)> {
    vec![
        ("BIND_DMABUF_FAMILY_VERSION", FAMILY_VERSION.into()),
        ("BIND_DMABUF_CHUNK_SIZE_MIN", CHUNK_SIZE_MIN.into()),
        ("BIND_DMABUF_CHUNK_SIZE_MAX", CHUNK_SIZE_MAX.into()),
        ("BIND_DMABUF_CHUNK_SIZE_DEFAULT", CHUNK_SIZE_DEFAULT.into()),
        ("BIND_DMABUF_RECORDS_MAX", RECORDS_MAX.into()),
        ("BIND_DMABUF_RECORDS_DEFAULT", RECORDS_DEFAULT.into()),
        ("BIND_DMABUF_TOKENS_MAX", TOKENS_MAX.into()),
        ("BIND_DMABUF_QUEUE_TYPE_RX", queue_type::RX.into()),
        ("BIND_DMABUF_QUEUE_TYPE_TX", queue_type::TX.into()),
        ("BIND_DMABUF_CMD_BIND_DMABUF", cmd::BIND_DMABUF.into()),
        ("BIND_DMABUF_CMD_UNBIND", cmd::UNBIND.into()),
        ("BIND_DMABUF_CMD_BINDING_GET", cmd::BINDING_GET.into()),
        ("BIND_DMABUF_CMD_RX_READ", cmd::RX_READ.into()),
        ("BIND_DMABUF_CMD_RX_RELEASE", cmd::RX_RELEASE.into()),
        ("BIND_DMABUF_A_QUEUE_ID", queue::ID.into()),
        ("BIND_DMABUF_A_QUEUE_TYPE", queue::TYPE.into()),
        ("BIND_DMABUF_A_STATS_ALLOC_FAST", stats::ALLOC_FAST.into()),
        ("BIND_DMABUF_A_STATS_ALLOC_SLOW", stats::ALLOC_SLOW.into()),
        (
            "BIND_DMABUF_A_STATS_RECYCLE_CACHED",
            stats::RECYCLE_CACHED.into(),
        ),
        (
            "BIND_DMABUF_A_STATS_RECYCLE_RING",
            stats::RECYCLE_RING.into(),
        ),
        ("BIND_DMABUF_A_STATS_RING_FULL", stats::RING_FULL.into()),
        ("BIND_DMABUF_A_STATS_EMPTY", stats::EMPTY.into()),
        ("BIND_DMABUF_A_STATS_INFLIGHT", stats::INFLIGHT.into()),
        (
            "BIND_DMABUF_A_STATS_HELD_BY_USER",
            stats::HELD_BY_USER.into(),
        ),
        ("BIND_DMABUF_A_STATS_BAD_PUT", stats::BAD_PUT.into()),
        ("BIND_DMABUF_A_RECORD_OFFSET", record::OFFSET.into()),
        ("BIND_DMABUF_A_RECORD_LENGTH", record::LENGTH.into()),
        ("BIND_DMABUF_A_RECORD_TOKEN", record::TOKEN.into()),
        ("BIND_DMABUF_A_RECORD_QUEUE", record::QUEUE.into()),
        ("BIND_DMABUF_A_RECORD_PAD", record::PAD.into()),
        ("BIND_DMABUF_A_BINDING_ID", binding::ID.into()),
        ("BIND_DMABUF_A_BINDING_IFINDEX", binding::IFINDEX.into()),
        ("BIND_DMABUF_A_BINDING_QUEUES", binding::QUEUES.into()),
        ("BIND_DMABUF_A_BINDING_FD", binding::FD.into()),
        (
            "BIND_DMABUF_A_BINDING_CHUNK_SIZE",
            binding::CHUNK_SIZE.into(),
        ),
        (
            "BIND_DMABUF_A_BINDING_DMABUF_SIZE",
            binding::DMABUF_SIZE.into(),
        ),
        ("BIND_DMABUF_A_BINDING_PAD", binding::PAD.into()),
        ("BIND_DMABUF_A_BINDING_STATE", binding::STATE.into()),
        (
            "BIND_DMABUF_A_BINDING_CHUNKS_TOTAL",
            binding::CHUNKS_TOTAL.into(),
        ),
        (
            "BIND_DMABUF_A_BINDING_CHUNKS_FREE",
            binding::CHUNKS_FREE.into(),
        ),
        (
            "BIND_DMABUF_A_BINDING_CHUNKS_POSTED",
            binding::CHUNKS_POSTED.into(),
        ),
        (
            "BIND_DMABUF_A_BINDING_CHUNKS_COMPLETED",
            binding::CHUNKS_COMPLETED.into(),
        ),
        (
            "BIND_DMABUF_A_BINDING_CHUNKS_USER",
            binding::CHUNKS_USER.into(),
        ),
        ("BIND_DMABUF_A_BINDING_STATS", binding::STATS.into()),
        (
            "BIND_DMABUF_A_BINDING_MAX_RECORDS",
            binding::MAX_RECORDS.into(),
        ),
        ("BIND_DMABUF_A_BINDING_RECORDS", binding::RECORDS.into()),
        ("BIND_DMABUF_A_BINDING_TOKENS", binding::TOKENS.into()),
        ("BIND_DMABUF_A_BINDING_RELEASED", binding::RELEASED.into()),
    ]
}

/// Name of a `binding` attribute as in the spec, for error messages.
pub fn binding_attr_name(kind: u16) -> Option<&'static str> {
    use binding::*;
    Some(match kind {
        ID => "id",
        IFINDEX => "ifindex",
        QUEUES => "queues",
        FD => "fd",
        CHUNK_SIZE => "chunk-size",
        DMABUF_SIZE => "dmabuf-size",
        PAD => "pad",
        STATE => "state",
        CHUNKS_TOTAL => "chunks-total",
        CHUNKS_FREE => "chunks-free",
        CHUNKS_POSTED => "chunks-posted",
        CHUNKS_COMPLETED => "chunks-completed",
        CHUNKS_USER => "chunks-user",
        STATS => "stats",
        MAX_RECORDS => "max-records",
        RECORDS => "records",
        TOKENS => "tokens",
        RELEASED => "released",
        _ => return None,
    })
}

/// Name of a `queue` attribute as in the spec, for error messages.
pub fn queue_attr_name(kind: u16) -> Option<&'static str> {
    match kind {
        queue::ID => Some("id"),
        queue::TYPE => Some("type"),
        _ => None,
    }
}

/// Name of a command as in the spec.
pub fn cmd_name(c: u8) -> &'static str {
    match c {
        cmd::BIND_DMABUF => "bind-dmabuf",
        cmd::UNBIND => "unbind",
        cmd::BINDING_GET => "binding-get",
        cmd::RX_READ => "rx-read",
        cmd::RX_RELEASE => "rx-release",
        _ => "unknown",
    }
}
