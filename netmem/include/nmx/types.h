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
 * @owner: the binding (&struct nmx_devmem_binding)
 * @index: chunk number; its dma-buf offset is @index times the chunk size
 * @state: ownership state (free, posted, completed, held by user)
 * @queue: slot of the bound queue it was last allocated on
 *
 * 32 bytes: two descriptors per 64-byte cache line. Drivers read @dma and
 * @magic only; the rest belongs to netmem, whose inline fast paths below
 * (<nmx/helpers.h>) move @state between NMX_CHUNK_FREE and NMX_CHUNK_POSTED
 * and set @queue, exactly as netmem.ko's own fast path would.
 */
struct nmx_chunk {
	u64 dma;
	unsigned long magic;
	void *owner;
	u32 index;
	u16 state;
	u16 queue;
};

/* Values of nmx_chunk.state the inline fast paths use (Rust: ChunkState). */
#define NMX_CHUNK_FREE		0
#define NMX_CHUNK_POSTED	1

static_assert(offsetof(struct nmx_chunk, magic) == offsetof(struct page, pp_magic));
static_assert(sizeof(struct nmx_chunk) == 32);
/* The same literals as the const asserts in devmem/core/src/chunk.rs. */
static_assert(offsetof(struct nmx_chunk, dma) == 0);
static_assert(offsetof(struct nmx_chunk, magic) == 8);
static_assert(offsetof(struct nmx_chunk, owner) == 16);
static_assert(offsetof(struct nmx_chunk, index) == 24);
static_assert(offsetof(struct nmx_chunk, state) == 28);
static_assert(offsetof(struct nmx_chunk, queue) == 30);
static_assert(NMX_CHUNK_FREE == 0 && NMX_CHUNK_POSTED == 1);

#define NMX_MAX_QUEUES_PER_BINDING	16

/* Entries in a bound queue's NAPI-local chunk cache (Rust: CACHE_CAPACITY). */
#define NMX_DEVMEM_CACHE_SIZE	128

/**
 * struct nmx_devmem_cache - NAPI-local cache of free chunks of one bound queue
 * @len: number of valid entries in @stack
 * @slot: the queue's slot in its binding
 * @pad: unused
 * @stack: indices of free chunks (state NMX_CHUNK_FREE), last in first out
 *
 * This is devmem_pool's own cache (Rust: QueueCache, #[repr(C)]), touched
 * only in the queue's NAPI context: by the inline helpers on hits, by
 * netmem.ko to refill it when empty and spill it when full.
 */
struct nmx_devmem_cache {
	u32 len;
	u16 slot;
	u16 pad;
	u32 stack[NMX_DEVMEM_CACHE_SIZE];
};

/**
 * struct nmx_devmem_queue - C view of an RX queue fed by a dma-buf binding
 * @chunks: the binding's chunk descriptors, by index
 * @alloc_fast: allocations served by the inline fast path (NAPI-local counter)
 * @recycle_cached: direct recycles into @cache by the inline fast path (ditto)
 * @recycle_limit: fill level up to which the inline recycle may push into
 *	@cache: NMX_DEVMEM_CACHE_SIZE while the queue is attached, 0 once it is
 *	detached (set before the RCU grace period that precedes draining @cache),
 *	which sends every direct recycle to netmem.ko. One compare thus covers
 *	"cache full" and "queue detached".
 * @slot: the queue's slot in its binding
 * @pad: unused
 * @cache: the NAPI-local chunk cache
 *
 * The first fields of netmem.ko's per-queue object (Rust: BoundQueue,
 * #[repr(C)]), which is larger: never allocate or copy one. Only the inline
 * helpers use it, in the queue's NAPI context; netmem.ko reads the counters
 * for binding-get.
 */
struct nmx_devmem_queue {
	struct nmx_chunk *chunks;
	u64 alloc_fast;
	u64 recycle_cached;
	u32 recycle_limit;
	u16 slot;
	u16 pad;
	struct nmx_devmem_cache cache;
};

/**
 * struct nmx_devmem_binding - C view of a dma-buf binding (chunk->owner)
 * @queues: its bound queues by slot (NULL past the last one)
 *
 * The first field of netmem.ko's binding (Rust: Binding, #[repr(C)]).
 */
struct nmx_devmem_binding {
	struct nmx_devmem_queue *queues[NMX_MAX_QUEUES_PER_BINDING];
};

/* The same literals as the const asserts in devmem/{binding.rs,core/src/pool.rs}. */
static_assert(NMX_DEVMEM_CACHE_SIZE == 128);
static_assert(offsetof(struct nmx_devmem_cache, len) == 0);
static_assert(offsetof(struct nmx_devmem_cache, slot) == 4);
static_assert(offsetof(struct nmx_devmem_cache, stack) == 8);
static_assert(sizeof(struct nmx_devmem_cache) == 520);
static_assert(offsetof(struct nmx_devmem_queue, chunks) == 0);
static_assert(offsetof(struct nmx_devmem_queue, alloc_fast) == 8);
static_assert(offsetof(struct nmx_devmem_queue, recycle_cached) == 16);
static_assert(offsetof(struct nmx_devmem_queue, recycle_limit) == 24);
static_assert(offsetof(struct nmx_devmem_queue, slot) == 28);
static_assert(offsetof(struct nmx_devmem_queue, cache) == 32);
static_assert(sizeof(struct nmx_devmem_queue) == 552);
static_assert(offsetof(struct nmx_devmem_binding, queues) == 0);
static_assert(sizeof(struct nmx_devmem_binding) == 128);

/**
 * struct nmx_rxq - the part of a registered RX queue that call sites read.
 * @pp: the queue's page_pool; page buffers come from it
 * @devmem: non-NULL while a dma-buf feeds this queue. Read under NAPI (BH)
 *	context; netmem clears it and waits an RCU grace period on unbind.
 *
 * Allocated by nmx_rxq_register(); the rest of the object is private.
 */
struct nmx_rxq {
	struct page_pool *pp;
	struct nmx_devmem_queue *devmem;
};

/* Flags for nmx_rxq_register(). */
/* The "device" is the CPU (test NIC): map the dma-buf for CPU writes too. */
#define NMX_RXQ_F_CPU_COPY	BIT(0)

/*
 * A driver registers each RX queue once its page_pool exists (before or after
 * register_netdev(): real_num_rx_queues must cover @queue when a user binds),
 * and unregisters it after the queue's NAPI is disabled and its posted buffers
 * were returned, before page_pool_destroy(). A dma-buf still bound to the
 * queue is unmapped at unregistration: the device is going away.
 */
struct nmx_rxq *nmx_rxq_register(struct net_device *netdev, u32 queue,
				 struct page_pool *pp, struct device *dma_dev,
				 u32 flags);
void nmx_rxq_unregister(struct nmx_rxq *rxq);

/*
 * devmem_pool entry points behind the helpers (implemented in Rust). The
 * first two are the slow paths of nmx_alloc() and nmx_recycle_direct(), whose
 * cache hits the helpers serve inline.
 */
struct nmx_buf *nmx_devmem_alloc(struct nmx_devmem_queue *q);
void nmx_devmem_recycle_direct(struct nmx_chunk *chunk);
void nmx_devmem_put(struct nmx_chunk *chunk);
int nmx_devmem_rx_complete(struct nmx_chunk *chunk, u32 offset, u32 len);
int nmx_devmem_cpu_write(const struct nmx_chunk *chunk, u32 offset,
			 const void *data, u32 len);
u32 nmx_devmem_chunk_size(const struct nmx_chunk *chunk);

/**
 * struct nmx_binding_info - state of a binding, as binding-get reports it
 *
 * Chunk counts come from one scan of the chunk states; counters are sums of
 * per-queue NAPI-local and shared counters, read without stopping traffic.
 */
struct nmx_binding_info {
	u32 id;
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
