// SPDX-License-Identifier: GPL-2.0
//! netmemctl: control and test tool for the netmem `bind-dmabuf` generic
//! netlink family (spec `netmem/bind-dmabuf.yaml`).

pub mod dmabuf;
pub mod ids;
pub mod msg;
pub mod nl;
pub mod payload;
