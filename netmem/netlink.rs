// SPDX-License-Identifier: GPL-2.0

//! Handlers of the `bind-dmabuf` generic netlink family (netmem/bind-dmabuf.yaml).
//!
//! Policies and the ops table are generated C (shim/gen/); these are the doit/dumpit
//! bodies. Attribute ids come from the generated uAPI header through bindgen at build time,
//! so the spec stays the only source of the contract.

use crate::api::{self, Record};
use crate::devmem::binding::{Binding, Owner};
use crate::ffi::{
    emsgsize, eopnotsupp, Attr, DumpCb, GenlInfo, Msg, NetDeviceRef, NetlinkCallback, Request,
    SkBuff,
};
use crate::registry;
use core::ffi::c_int;
use kernel::error::from_result;
use kernel::prelude::*;

#[allow(
    dead_code,
    non_camel_case_types,
    non_upper_case_globals,
    missing_docs,
    unreachable_pub
)]
mod uapi {
    include!("bind_dmabuf_uapi.rs");
}
use uapi::*;

/// The requesting socket as an owner. `create`: give it per-socket state (its first
/// binding); otherwise a socket without any owns nothing, which no binding matches.
///
/// # Safety
///
/// `skb` must be the skb of the request being handled.
unsafe fn owner(req: Request, skb: *mut SkBuff, create: bool) -> Result<Owner> {
    // SAFETY: By the function's safety requirement.
    let p = unsafe { req.sock_priv(skb, create) }?;
    Ok(Owner::Socket(p as usize))
}

/// `bind-dmabuf`: ifindex, queues, fd, chunk-size -> id.
///
/// # Safety
///
/// Called by generic netlink only, with the arguments of the request being handled.
#[no_mangle]
pub unsafe extern "C" fn bind_dmabuf_nl_bind_dmabuf_doit(
    skb: *mut SkBuff,
    info: *mut GenlInfo,
) -> c_int {
    // SAFETY: genetlink calls us with the request's info, valid during the call.
    let req = unsafe { Request::new(info) };
    from_result(|| {
        let ifindex_attr = req.require(BIND_DMABUF_A_BINDING_IFINDEX)?;
        let fd = req.require(BIND_DMABUF_A_BINDING_FD)?.u32() as i32;
        req.require(BIND_DMABUF_A_BINDING_QUEUES)?;
        let chunk_size = req
            .attr(BIND_DMABUF_A_BINDING_CHUNK_SIZE)
            .map_or(BIND_DMABUF_CHUNK_SIZE_DEFAULT, |a| a.u32());
        if !chunk_size.is_power_of_two() {
            req.error(
                c"chunk size must be a power of two",
                req.attr(BIND_DMABUF_A_BINDING_CHUNK_SIZE),
            );
            return Err(EINVAL);
        }
        let mut ids = [0u32; registry::MAX_QUEUES];
        let mut n = 0;
        for nest in req.attrs(BIND_DMABUF_A_BINDING_QUEUES) {
            let (id, ty) = req.parse_queue(nest)?;
            if ty != bind_dmabuf_queue_type_BIND_DMABUF_QUEUE_TYPE_RX {
                req.error(c"only rx queues can be bound to a dma-buf", Some(nest));
                return Err(eopnotsupp());
            }
            if n == ids.len() {
                req.error(c"too many queues in one binding (max 16)", Some(nest));
                return Err(E2BIG);
            }
            ids[n] = id;
            n += 1;
        }
        let Some(dev) = NetDeviceRef::by_index(req.net(), ifindex_attr.u32()) else {
            req.error(
                c"no device with this ifindex in the caller's network namespace",
                Some(ifindex_attr),
            );
            return Err(ENODEV);
        };
        // SAFETY: `skb` is this request's.
        let owner = unsafe { owner(req, skb, true) }
            .inspect_err(|_| req.error(c"out of memory (the socket's netmem state)", None))?;
        let id = registry::bind(dev.ptr(), &ids[..n], fd, chunk_size, owner).map_err(|f| {
            req.error(f.msg, None);
            f.err
        })?;
        let reply = || -> Result {
            let mut msg = Msg::reply(req, 64)?;
            msg.u32(BIND_DMABUF_A_BINDING_ID, id)?;
            msg.send(req)
        };
        if let Err(e) = reply() {
            // The user never learns the id: do not leave the binding behind.
            let _ = registry::unbind(id, None);
            req.error(
                c"the reply could not be built; the binding was undone",
                None,
            );
            return Err(e);
        }
        Ok(0)
    })
}

/// `unbind`: id.
///
/// # Safety
///
/// Called by generic netlink only, with the arguments of the request being handled.
#[no_mangle]
pub unsafe extern "C" fn bind_dmabuf_nl_unbind_doit(
    skb: *mut SkBuff,
    info: *mut GenlInfo,
) -> c_int {
    // SAFETY: As in `bind_dmabuf_nl_bind_dmabuf_doit`.
    let req = unsafe { Request::new(info) };
    from_result(|| {
        let id_attr = req.require(BIND_DMABUF_A_BINDING_ID)?;
        require_visible(req, id_attr)?;
        // SAFETY: `skb` is this request's.
        let owner = unsafe { owner(req, skb, false) }?;
        registry::unbind(id_attr.u32(), Some(owner))
            .inspect_err(|&e| req.error(no_binding_msg(e), Some(id_attr)))?;
        Ok(0)
    })
}

/// ENOENT unless binding `id` exists in the caller's netns: a binding of another netns is
/// refused exactly like an id that does not exist (ids are global; nothing may leak).
fn require_visible(req: Request, id_attr: Attr) -> Result {
    if registry::lookup(id_attr.u32()).is_some_and(|b| b.visible_in(req.net())) {
        return Ok(());
    }
    req.error(
        c"no such binding in the caller's network namespace",
        Some(id_attr),
    );
    Err(ENOENT)
}

fn no_binding_msg(e: Error) -> &'static core::ffi::CStr {
    if e == EPERM {
        c"binding belongs to another netlink socket"
    } else {
        c"no such binding (unbound, or never existed)"
    }
}

fn put_binding(msg: &mut Msg, b: &Binding) -> Result {
    let mut i = api::BindingInfo::default();
    b.info(&mut i);
    msg.u32(BIND_DMABUF_A_BINDING_ID, i.id)?;
    msg.u32(BIND_DMABUF_A_BINDING_STATE, i.state)?;
    msg.u32(BIND_DMABUF_A_BINDING_IFINDEX, i.ifindex)?;
    for &q in &i.queues[..i.nqueues as usize] {
        msg.nest(BIND_DMABUF_A_BINDING_QUEUES, |m| {
            m.u32(BIND_DMABUF_A_QUEUE_ID, q)?;
            m.u32(
                BIND_DMABUF_A_QUEUE_TYPE,
                bind_dmabuf_queue_type_BIND_DMABUF_QUEUE_TYPE_RX,
            )
        })?;
    }
    msg.u64(
        BIND_DMABUF_A_BINDING_DMABUF_SIZE,
        i.dmabuf_size,
        BIND_DMABUF_A_BINDING_PAD,
    )?;
    msg.u32(BIND_DMABUF_A_BINDING_CHUNK_SIZE, i.chunk_size)?;
    msg.u32(BIND_DMABUF_A_BINDING_CHUNKS_TOTAL, i.chunks_total)?;
    msg.u32(BIND_DMABUF_A_BINDING_CHUNKS_FREE, i.chunks_free)?;
    msg.u32(BIND_DMABUF_A_BINDING_CHUNKS_POSTED, i.chunks_posted)?;
    msg.u32(BIND_DMABUF_A_BINDING_CHUNKS_COMPLETED, i.chunks_completed)?;
    msg.u32(BIND_DMABUF_A_BINDING_CHUNKS_USER, i.chunks_user)?;
    msg.nest(BIND_DMABUF_A_BINDING_STATS, |m| {
        m.uint(BIND_DMABUF_A_STATS_ALLOC_FAST, i.alloc_fast)?;
        m.uint(BIND_DMABUF_A_STATS_ALLOC_SLOW, i.alloc_slow)?;
        m.uint(BIND_DMABUF_A_STATS_RECYCLE_CACHED, i.recycle_cached)?;
        m.uint(BIND_DMABUF_A_STATS_RECYCLE_RING, i.recycle_ring)?;
        m.uint(BIND_DMABUF_A_STATS_RING_FULL, i.ring_full)?;
        m.uint(BIND_DMABUF_A_STATS_EMPTY, i.empty)?;
        m.uint(BIND_DMABUF_A_STATS_INFLIGHT, i.inflight)?;
        m.uint(BIND_DMABUF_A_STATS_HELD_BY_USER, i.held_by_user)?;
        m.uint(BIND_DMABUF_A_STATS_BAD_PUT, i.bad_put)
    })
}

/// `binding-get` do: id -> the binding's state and stats.
///
/// # Safety
///
/// Called by generic netlink only, with the arguments of the request being handled.
#[no_mangle]
pub unsafe extern "C" fn bind_dmabuf_nl_binding_get_doit(
    _skb: *mut SkBuff,
    info: *mut GenlInfo,
) -> c_int {
    // SAFETY: As in `bind_dmabuf_nl_bind_dmabuf_doit`.
    let req = unsafe { Request::new(info) };
    from_result(|| {
        let id_attr = req.require(BIND_DMABUF_A_BINDING_ID)?;
        let net = req.net();
        let mut msg = Msg::reply(req, 1024)?;
        registry::lookup(id_attr.u32())
            .filter(|b| b.visible_in(net))
            .ok_or(ENOENT)
            .and_then(|b| put_binding(&mut msg, &b))
            .inspect_err(|&e| {
                if e == ENOENT {
                    req.error(
                        c"no such binding in the caller's network namespace",
                        Some(id_attr),
                    );
                }
            })?;
        msg.send(req)?;
        Ok(0)
    })
}

/// `binding-get` dump: every binding of the caller's netns (live, and draining after an
/// unbind until its last chunk is home), in id order, resumable by id.
///
/// # Safety
///
/// Called by generic netlink only, with the arguments of the request being handled.
#[no_mangle]
pub unsafe extern "C" fn bind_dmabuf_nl_binding_get_dumpit(
    skb: *mut SkBuff,
    cb: *mut NetlinkCallback,
) -> c_int {
    // SAFETY: genetlink calls us with the dump's skb and callback, valid during the call.
    let dcb = unsafe { DumpCb::new(cb) };
    let net = dcb.net();
    let Ok(start) = u32::try_from(dcb.cursor()) else {
        // Past the last possible id: the dump is complete.
        return 0;
    };
    let mut err = 0;
    registry::for_each_binding(start, |b| {
        if !b.visible_in(net) {
            return true;
        }
        // SAFETY: `skb` and `cb` are this dump's arguments.
        let mut msg = match unsafe { Msg::dump_entry(skb, dcb.raw()) } {
            Ok(m) => m,
            Err(e) => {
                err = e.to_errno();
                dcb.set_cursor(i64::from(b.id));
                return false;
            }
        };
        if let Err(e) = put_binding(&mut msg, b) {
            msg.cancel();
            err = e.to_errno();
            dcb.set_cursor(i64::from(b.id));
            return false;
        }
        msg.end();
        dcb.set_cursor(i64::from(b.id) + 1);
        true
    });
    // A full skb ends this round; the core calls us again from the cursor.
    if err == emsgsize().to_errno() {
        skb_len_or(skb, err)
    } else {
        err
    }
}

/// A dump that filled its skb returns its length (so the core asks for more); an empty
/// skb that still did not fit one entry is a real emsgsize().
fn skb_len_or(skb: *mut SkBuff, err: c_int) -> c_int {
    // SAFETY: The dump's skb, valid during the dump callback (our only caller).
    match unsafe { crate::ffi::skb_len(skb) } {
        0 => err,
        n => n as c_int,
    }
}

/// `rx-read`: id, max-records -> records (each {offset, length, token, queue}).
///
/// # Safety
///
/// Called by generic netlink only, with the arguments of the request being handled.
#[no_mangle]
pub unsafe extern "C" fn bind_dmabuf_nl_rx_read_doit(
    skb: *mut SkBuff,
    info: *mut GenlInfo,
) -> c_int {
    // SAFETY: As in `bind_dmabuf_nl_bind_dmabuf_doit`.
    let req = unsafe { Request::new(info) };
    from_result(|| {
        let id_attr = req.require(BIND_DMABUF_A_BINDING_ID)?;
        require_visible(req, id_attr)?;
        let id = id_attr.u32();
        let max = req
            .attr(BIND_DMABUF_A_BINDING_MAX_RECORDS)
            .map_or(BIND_DMABUF_RECORDS_DEFAULT, |a| a.u32())
            .min(BIND_DMABUF_RECORDS_MAX) as usize;
        let mut records = KVec::from_elem(Record::default(), max, GFP_KERNEL)?;
        // Room for every record (a nest of four attributes, about 48 bytes) before taking
        // them, so records are never taken and then lost to a full message.
        let mut msg = Msg::reply(req, 64 + 64 * max as u32)?;
        // SAFETY: `skb` is this request's.
        let owner = unsafe { owner(req, skb, false) }?;
        let n = api::read_records(id, owner, &mut records)
            .inspect_err(|&e| req.error(no_binding_msg(e), Some(id_attr)))?;
        let records = &records[..n];
        // The records are the user's only once the reply carrying them is queued: if it
        // cannot be built or queued (a full receive buffer), they go back, and the error
        // the user gets means nothing was taken.
        let sent = (|| -> Result {
            msg.u32(BIND_DMABUF_A_BINDING_ID, id)?;
            for r in records {
                msg.nest(BIND_DMABUF_A_BINDING_RECORDS, |m| {
                    m.u64(
                        BIND_DMABUF_A_RECORD_OFFSET,
                        r.offset,
                        BIND_DMABUF_A_RECORD_PAD,
                    )?;
                    m.u32(BIND_DMABUF_A_RECORD_LENGTH, r.len)?;
                    m.u32(BIND_DMABUF_A_RECORD_TOKEN, r.token)?;
                    m.u32(BIND_DMABUF_A_RECORD_QUEUE, r.queue)
                })?;
            }
            msg.send(req)
        })();
        if let Err(e) = sent {
            api::unread_records(id, records);
            req.error(
                c"reply could not be queued (receive buffer full?); no record was taken",
                None,
            );
            return Err(e);
        }
        Ok(0)
    })
}

/// `rx-release`: id, tokens (at most `tokens-max`) -> released.
///
/// # Safety
///
/// Called by generic netlink only, with the arguments of the request being handled.
#[no_mangle]
pub unsafe extern "C" fn bind_dmabuf_nl_rx_release_doit(
    skb: *mut SkBuff,
    info: *mut GenlInfo,
) -> c_int {
    // SAFETY: As in `bind_dmabuf_nl_bind_dmabuf_doit`.
    let req = unsafe { Request::new(info) };
    from_result(|| {
        let id_attr = req.require(BIND_DMABUF_A_BINDING_ID)?;
        // The request's shape first, then whether the binding is visible: a malformed
        // request gets the same answer whatever the id.
        let count = req.attrs(BIND_DMABUF_A_BINDING_TOKENS).count();
        if count == 0 {
            req.require(BIND_DMABUF_A_BINDING_TOKENS)?;
        }
        if count > BIND_DMABUF_TOKENS_MAX as usize {
            req.error(c"too many tokens in one request (max tokens-max)", None);
            return Err(E2BIG);
        }
        require_visible(req, id_attr)?;
        // Allocated before anything is released, so that ENOMEM means nothing changed.
        let mut msg = Msg::reply(req, 64)?;
        let tokens = req.attrs(BIND_DMABUF_A_BINDING_TOKENS).map(|a| a.u32());
        // SAFETY: `skb` is this request's.
        let owner = unsafe { owner(req, skb, false) }?;
        let (released, bad) = api::release_tokens(id_attr.u32(), owner, tokens)
            .inspect_err(|&e| req.error(no_binding_msg(e), Some(id_attr)))?;
        if let Some(pos) = bad {
            let attr = req.attrs(BIND_DMABUF_A_BINDING_TOKENS).nth(pos);
            req.error(c"token not held by the user (double release or foreign token); the others were released", attr);
            return Err(EINVAL);
        }
        msg.u32(BIND_DMABUF_A_BINDING_RELEASED, released)?;
        msg.send(req)?;
        Ok(0)
    })
}
