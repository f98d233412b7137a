// SPDX-License-Identifier: GPL-2.0
//! Host-testable core of the netmem `devmem_pool`.
//!
//! A devmem pool hands out fixed-size chunks of a DMA-mapped dma-buf to NIC RX queues and
//! tracks them through their life: free, posted to the device, completed (a record queued for
//! userspace), and held by userspace until its token is released.
//!
//! The modules `ring`, `freeset`, `chunk`, `layout` and `pool` use only `core` and reach the
//! platform (storage allocation, a lock) through `super::platform`. The kernel module includes
//! the very same files with `#[path = ...] mod x;` next to its own `platform` module, so
//! nothing in them may depend on `std`, `alloc` or `unsafe`.

#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]

#[path = "platform_std.rs"]
pub mod platform;

pub mod chunk;
pub mod freeset;
pub mod layout;
pub mod pool;
pub mod ring;
