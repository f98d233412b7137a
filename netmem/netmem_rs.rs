// SPDX-License-Identifier: GPL-2.0

//! netmem: one RX buffer layer over page_pool pages and dma-buf ("devmem") chunks.
//!
//! page_pool stays untouched. Drivers include `<nmx/helpers.h>`, whose inline call-site
//! helpers tell a page from a devmem chunk by the signature at `page->pp_magic`'s offset
//! and call either page_pool or the exported entry points of this module. This crate holds
//! the devmem_pool ([`devmem`]), the queue and binding registry, the C API ([`api`]) and the
//! `bind-dmabuf` generic netlink handlers ([`netlink`]). C glue is in `shim/`.

#![recursion_limit = "256"]

use kernel::prelude::*;

// C calls the `#[no_mangle]` entry points of `api` and `netlink` (the shim exports them
// and the generated ops table points at them): they are reachable, rustc cannot see it.
#[allow(unreachable_pub)]
mod api;
#[path = "../devmem/devmem.rs"]
mod devmem;
mod ffi;
#[allow(unreachable_pub)]
mod netlink;
mod registry;
mod rxq;

module! {
    type: Netmem,
    name: "netmem",
    author: "netmem developers",
    description: "netmem: page_pool and dma-buf RX buffers behind one driver API",
    license: "GPL",
}

/// The module: its registrations, in teardown order (fields drop top to bottom).
struct Netmem {
    /// No new requests or device events once dropped.
    _sources: ffi::reg::Sources,
    /// Unbinds every binding when dropped.
    _bindings: registry::Bindings,
    /// Drains the queued binding releases when dropped.
    _wq: ffi::reg::Workqueue,
    /// Frees what is left when dropped (nothing a driver could still return: drivers hold a
    /// reference on netmem.ko).
    _table: registry::Table,
}

impl kernel::Module for Netmem {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        ffi::reg::check_magic()?;
        let table = registry::Table;
        let wq = ffi::reg::Workqueue::new()?;
        let bindings = registry::Bindings;
        let sources = ffi::reg::Sources::new()?;
        pr_info!(
            "netmem: loaded (devmem chunk descriptor: {} bytes)\n",
            core::mem::size_of::<devmem::chunk::Chunk>()
        );
        Ok(Netmem {
            _sources: sources,
            _bindings: bindings,
            _wq: wq,
            _table: table,
        })
    }
}

/// The signature the pool writes into every chunk; the shim checks at load time that it
/// equals the `NMX_DEVMEM_MAGIC` drivers compare with.
#[no_mangle]
pub extern "C" fn nmx_rs_devmem_magic() -> u64 {
    devmem::chunk::DEVMEM_MAGIC
}
