// SPDX-License-Identifier: GPL-2.0

//! `struct nmx_testing_bind_profile` of `<nmx/testing.h>`: the one Rust definition of what
//! netmem measured of a bind, written by netmem.ko (`meter.rs`) and read by the benchmark
//! module (bench/nmx_bench_rs.rs), which includes this file.

/// `NMX_TESTING_BIND_ALLOCS`: allocations listed one by one; more are still summed
/// (`dropped` counts them).
pub(crate) const MAX_ALLOCS: usize = 32;

/// `struct nmx_testing_bind_alloc`: one allocation made for the binding.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct AllocEntry {
    /// Element type, NUL-padded (its last path segment).
    pub(crate) what: [u8; 24],
    pub(crate) count: u64,
    pub(crate) requested: u64,
    /// What the allocator gave (`ksize()`, or the vmalloc area's mapped size).
    pub(crate) bytes: u64,
    /// Time from the previous allocation or timed part to this one's accounting.
    pub(crate) ns: u64,
    pub(crate) vmalloc: u32,
    pub(crate) temporary: u32,
}

/// `struct nmx_testing_bind_profile`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct BindProfile {
    pub(crate) id: u32,
    pub(crate) nallocs: u32,
    pub(crate) dropped: u32,
    pub(crate) pad: u32,
    pub(crate) total_ns: u64,
    pub(crate) attach_map_ns: u64,
    pub(crate) sg_walk_ns: u64,
    pub(crate) copy_ns: u64,
    pub(crate) pool_ns: u64,
    pub(crate) finish_ns: u64,
    pub(crate) steady_bytes: u64,
    pub(crate) peak_bytes: u64,
    pub(crate) slab_growth_bytes: u64,
    pub(crate) allocs: [AllocEntry; MAX_ALLOCS],
}

// The C layout, checked against the same literals in the shim.
const _: () = assert!(core::mem::size_of::<AllocEntry>() == 64);
const _: () = assert!(core::mem::size_of::<BindProfile>() == 88 + 64 * MAX_ALLOCS);

impl AllocEntry {
    /// An unused entry.
    pub(crate) const EMPTY: Self = Self {
        what: [0; 24],
        count: 0,
        requested: 0,
        bytes: 0,
        ns: 0,
        vmalloc: 0,
        temporary: 0,
    };
}

impl BindProfile {
    /// No bind measured.
    pub(crate) const ZERO: Self = Self {
        id: 0,
        nallocs: 0,
        dropped: 0,
        pad: 0,
        total_ns: 0,
        attach_map_ns: 0,
        sg_walk_ns: 0,
        copy_ns: 0,
        pool_ns: 0,
        finish_ns: 0,
        steady_bytes: 0,
        peak_bytes: 0,
        slab_growth_bytes: 0,
        allocs: [AllocEntry::EMPTY; MAX_ALLOCS],
    };
}
