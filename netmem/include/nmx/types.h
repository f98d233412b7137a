/* SPDX-License-Identifier: GPL-2.0 */
/*
 * netmem: one RX buffer handle for page_pool pages and devmem (dma-buf) chunks.
 *
 * Types and out-of-line API. Light enough to include from any driver header;
 * the inline call-site helpers live in <nmx/helpers.h>.
 *
 * Design (the "Jesper" layering): page_pool is left untouched. A devmem chunk
 * descriptor carries its own signature at the offset of page->pp_magic, so a
 * driver call site tells the two apart with one compare on memory it touches
 * anyway, and a static key removes even that compare while no dma-buf is bound
 * anywhere.
 */
#ifndef _NMX_TYPES_H
#define _NMX_TYPES_H

#include <linux/build_bug.h>
#include <linux/mm_types.h>
#include <linux/poison.h>
#include <linux/stddef.h>
#include <linux/types.h>

struct device;
struct net_device;
struct netlink_ext_ack;
struct page_pool;

/*
 * Signature of a devmem chunk, stored where a page keeps pp_magic. 0xd0 has
 * bit 4 set, which PP_SIGNATURE (0x40) has clear and PP_MAGIC_MASK keeps, so
 * page_pool_page_is_pp() can never accept a chunk; and no page_pool page has
 * 0xd0 in its low byte, so a page never looks devmem.
 */
#define NMX_DEVMEM_MAGIC	(0xd0UL + POISON_POINTER_DELTA)

/**
 * struct nmx_buf - opaque RX buffer handle.
 *
 * Points either at a &struct page owned by a page_pool or at a
 * &struct nmx_chunk of a devmem binding. Use nmx_buf_is_devmem() to tell them
 * apart, never pointer tags.
 */
struct nmx_buf;

/**
 * struct nmx_chunk - descriptor of one chunk of a dma-buf bound to RX queues.
 * @dma: device address of the chunk for the bound NIC's DMA device
 * @magic: NMX_DEVMEM_MAGIC, at the offset of page->pp_magic
 * @priv: netmem's own bookkeeping (index, ownership state, queue)
 *
 * 24 bytes, with no pointer to the binding: netmem finds it in the header
 * element in front of the pool's descriptor array. Drivers read @dma (through
 * nmx_buf_dma_addr()) and @magic (through nmx_buf_is_devmem()) only; every
 * state transition of a chunk is made by netmem.ko's Rust devmem_pool
 * (devmem/core/src/chunk.rs), the one definition the host tests test.
 */
struct nmx_chunk {
	u64 dma;
	unsigned long magic;
	u64 priv;
};

static_assert(offsetof(struct nmx_chunk, magic) == offsetof(struct page, pp_magic));
static_assert(sizeof(struct nmx_chunk) == 24);
/* The same literals as the const asserts in devmem/core/src/chunk.rs. */
static_assert(offsetof(struct nmx_chunk, dma) == 0);
static_assert(offsetof(struct nmx_chunk, magic) == 8);

#define NMX_MAX_QUEUES_PER_BINDING	16

/*
 * Bounds of a binding's chunk size (a power of two): a driver whose buffers
 * are at most NMX_MIN_CHUNK_SIZE bytes needs no size check on a chunk. The
 * same literals as devmem/core/src/layout.rs.
 */
#define NMX_MIN_CHUNK_SIZE		4096
#define NMX_MAX_CHUNK_SIZE		65536

/* A bound queue of a binding: private to netmem.ko (Rust: BoundQueue). */
struct nmx_devmem_queue;

/**
 * struct nmx_rxq - the part of a registered RX queue that call sites read.
 * @pp: the queue's page_pool; page buffers come from it
 * @devmem: non-NULL while a dma-buf feeds this queue. Read in the queue's
 *	NAPI context (or with its NAPI disabled); netmem clears it and waits an
 *	RCU grace period before it reuses anything the queue cached.
 * @devmem_refs: bindings that may have chunks posted on this queue: set
 *	before @devmem is published, dropped when a restart gave a binding's
 *	chunks back or when the binding is drained. Zero means a pure-page queue
 *	(see nmx_rxq_pages_only()).
 *
 * Allocated by nmx_rxq_register(); the rest of the object is private.
 */
struct nmx_rxq {
	struct page_pool *pp;
	struct nmx_devmem_queue *devmem;
	u32 devmem_refs;
};

/* The same literals as the const asserts in netmem/rxq.rs. */
static_assert(offsetof(struct nmx_rxq, pp) == 0);
static_assert(offsetof(struct nmx_rxq, devmem) == 8);
static_assert(offsetof(struct nmx_rxq, devmem_refs) == 16);

/**
 * struct nmx_rxq_ops - optional callbacks of a registered RX queue
 * @restart: make the buffers posted on the queue follow its current source,
 *	the way 6.12's netdev_queue_mgmt_ops swap a queue's memory: quiesce the
 *	queue (NAPI disabled, nothing posted to the device any more), give
 *	every posted buffer back with nmx_put(), refill the ring with
 *	nmx_alloc() and start the queue again. netmem calls it in process
 *	context with RTNL held, right after it switched the queue to a dma-buf
 *	(bind) or back to pages (unbind), so that either takes effect before
 *	the netlink reply. Return 0 or a negative errno: a bind whose restart
 *	fails is undone (the queue is switched back and restarted once more)
 *	and refused with that errno.
 *
 * Without @restart (or without ops), a switch takes effect lazily: buffers
 * already posted stay posted until the driver returns them, and an unbound
 * binding shows as draining in binding-get until its last chunk is home.
 */
struct nmx_rxq_ops {
	int (*restart)(struct nmx_rxq *rxq, void *priv);
};

/*
 * A driver registers each RX queue once its page_pool exists (before or after
 * register_netdev(): real_num_rx_queues must cover @queue when a user binds),
 * and unregisters it after the queue's NAPI is disabled and its posted buffers
 * were returned, before page_pool_destroy(). All queues of one device must
 * share one DMA device. A dma-buf still bound to the queue is unmapped at
 * unregistration: the device is going away. @ops and @priv must outlive the
 * registration; @ops may be NULL.
 */
struct nmx_rxq *nmx_rxq_register(struct net_device *netdev, u32 queue,
				 struct page_pool *pp, struct device *dma_dev,
				 const struct nmx_rxq_ops *ops, void *priv);
void nmx_rxq_unregister(struct nmx_rxq *rxq);

/*
 * A driver that recreates a registered queue's page_pool (a reset that tears
 * its RX rings down and builds them again, as in a restart) points the
 * registration at the new pool before it allocates from it.
 */
void nmx_rxq_set_page_pool(struct nmx_rxq *rxq, struct page_pool *pp);

/*
 * devmem_pool entry points behind the helpers (Rust). Each runs inside its own
 * RCU read-side section, so a binding is never freed under one of them:
 * - nmx_devmem_alloc(): NAPI context of @rxq, or process context with its
 *   NAPI disabled (a restart); NULL when the pool is empty or the queue was
 *   switched back to pages meanwhile.
 * - nmx_devmem_recycle_direct(): same context rule, for a chunk of @rxq.
 * - nmx_devmem_put(), nmx_devmem_rx_complete(): any context, for a chunk the
 *   caller owns (posted to it, not yet returned).
 */
struct nmx_buf *nmx_devmem_alloc(struct nmx_rxq *rxq);
void nmx_devmem_recycle_direct(struct nmx_rxq *rxq, struct nmx_chunk *chunk);
/*
 * Batched forms for one NAPI poll (same context rules): one RCU section and
 * one queue lookup per call; each chunk still gets every ownership check.
 * - nmx_devmem_alloc_bulk(): fills @bufs with up to @n chunks, returns how
 *   many (0: empty, or the queue went back to pages).
 * - nmx_devmem_recycle_bulk(): returns @n buffers of @rxq, devmem chunks or
 *   page_pool pages (a queue switching between the two may hold both).
 */
u32 nmx_devmem_alloc_bulk(struct nmx_rxq *rxq, struct nmx_buf **bufs, u32 n);
void nmx_devmem_recycle_bulk(struct nmx_rxq *rxq, struct nmx_buf **bufs, u32 n);
void nmx_devmem_put(struct nmx_chunk *chunk);
int nmx_devmem_rx_complete(struct nmx_chunk *chunk, u32 offset, u32 len);
u32 nmx_devmem_chunk_size(const struct nmx_chunk *chunk);

/* Values of nmx_binding_info.state (spec: binding-state). */
#define NMX_BINDING_BOUND	0
#define NMX_BINDING_DRAINING	1

/**
 * struct nmx_binding_info - state of a binding, as binding-get reports it
 *
 * Chunk counts are live per-state counters kept by every transition, and the
 * other counters sums of per-queue and shared counters, all read without
 * stopping traffic (so a snapshot, exact only when the binding is quiet).
 */
struct nmx_binding_info {
	u32 id;
	u32 state;
	u32 ifindex;
	u32 chunk_size;
	u32 nqueues;
	u32 queues[16];
	u64 dmabuf_size;
	u32 chunks_total;
	u32 chunks_free;
	u32 chunks_posted;
	u32 chunks_completed;
	u32 chunks_user;
	u64 alloc_fast;
	u64 alloc_slow;
	u64 recycle_cached;
	u64 recycle_ring;
	u64 ring_full;
	u64 empty;
	u64 inflight;
	u64 held_by_user;
	u64 bad_put;
};

/**
 * struct nmx_record - one received devmem buffer, for the binding's owner
 * @offset: byte offset of the data in the dma-buf
 * @len: length of the data
 * @token: give it back with nmx_binding_release() when done with the bytes
 * @queue: RX queue the data arrived on
 */
struct nmx_record {
	u64 offset;
	u32 len;
	u32 token;
	u32 queue;
};

/* In-kernel control API; the bind-dmabuf netlink family uses the same code. */
int nmx_bind_dmabuf(struct net_device *netdev, const u32 *queues, u32 nqueues,
		    int fd, u32 chunk_size, struct netlink_ext_ack *extack);
int nmx_unbind(u32 id);
int nmx_binding_info(u32 id, struct nmx_binding_info *info);
int nmx_binding_read(u32 id, struct nmx_record *records, u32 max);
int nmx_binding_release(u32 id, const u32 *tokens, u32 n);

#endif /* _NMX_TYPES_H */
