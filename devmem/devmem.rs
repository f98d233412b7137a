// SPDX-License-Identifier: GPL-2.0

//! devmem_pool: RX buffers carved from a dma-buf bound to NIC RX queues.
//!
//! The logic (descriptors, rings, free list, caches, ownership states) is the host-tested
//! `devmem-core` crate in `core/`, compiled into netmem.ko from the same source files; this
//! module adds what only the kernel has: the dma-buf attachment and its lifetime.

#[path = "platform_kernel.rs"]
mod platform;

// The core is also a host crate: its public API (for host tests: audit, accessors) is
// crate-internal here, and not all of it is used by the kernel side.
#[path = "core/src/chunk.rs"]
#[allow(dead_code, unreachable_pub)]
pub(crate) mod chunk;
#[path = "core/src/freeset.rs"]
#[allow(dead_code, unreachable_pub)]
pub(crate) mod freeset;
#[path = "core/src/layout.rs"]
#[allow(dead_code, unreachable_pub)]
pub(crate) mod layout;
#[path = "core/src/pool.rs"]
#[allow(dead_code, unreachable_pub)]
pub(crate) mod pool;
#[path = "core/src/ring.rs"]
#[allow(dead_code, unreachable_pub)]
pub(crate) mod ring;

#[path = "bind_profile.rs"]
#[allow(dead_code)]
pub(crate) mod bind_profile;

#[path = "meter.rs"]
pub(crate) mod meter;

#[path = "binding.rs"]
pub(crate) mod binding;

/// Sets how long remote returners linger in the return window (tests only); false when
/// the build has no such hook (not a testing build).
pub(crate) fn platform_delay(us: u32) -> bool {
    #[cfg(nmx_testing)]
    {
        platform::RETURN_DELAY_US.store(us, core::sync::atomic::Ordering::Relaxed);
        true
    }
    #[cfg(not(nmx_testing))]
    {
        let _ = us;
        false
    }
}
