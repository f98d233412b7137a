/* SPDX-License-Identifier: GPL-2.0 */
/*
 * netmem test-device API: what a software test NIC needs and a hardware
 * driver never should. Exported in the NMX_TESTING symbol namespace, so a
 * module must say MODULE_IMPORT_NS(NMX_TESTING) to use any of it.
 */
#ifndef _NMX_TESTING_H
#define _NMX_TESTING_H

#include <nmx/types.h>

/*
 * The queue's "device" is the CPU: a dma-buf bound to it is also mapped into
 * the kernel (vmap) so that nmx_testing_cpu_write() can play the DMA engine.
 * Call before the queue is bound.
 */
int nmx_testing_rxq_cpu_copy(struct nmx_rxq *rxq);

/* Copy @len bytes to @offset of a posted chunk of a CPU-copy queue. */
int nmx_testing_cpu_write(const struct nmx_chunk *chunk, u32 offset,
			  const void *data, u32 len);

/*
 * Independent audit of binding @id (live or draining): walks every place a
 * chunk can be (free list, each queue's cache and return ring, the completion
 * ring, the set the user holds) and checks that each chunk is in exactly one,
 * matching its state, and that the live per-state counters agree. Only valid
 * while nothing touches the binding. 0, or a negative errno with a reason in
 * the kernel log.
 */
int nmx_testing_audit(u32 id);

/*
 * Widen the window in which a remote returner is still inside pool code after
 * its chunk became visible to others (0: off). Lets a test make a release
 * without its RCU grace period fail under KASAN instead of by luck. Testing
 * builds only (the test and race flavours): -EOPNOTSUPP elsewhere.
 */
int nmx_testing_set_return_delay(u32 us);

#define NMX_TESTING_BIND_ALLOCS 32

/**
 * struct nmx_testing_bind_alloc - one allocation netmem made for a bind
 * @what: element type (the last path segment of its Rust name), NUL-terminated
 * @count: elements
 * @requested: bytes asked for
 * @bytes: bytes the allocator gave: ksize() of a kmalloc'd object, the mapped
 *	size of a vmalloc area
 * @ns: time from the previous allocation (or timed part) to this one's
 *	accounting, which follows its allocation and initialisation
 * @vmalloc: 1 if a vmalloc area
 * @temporary: 1 if freed before the bind returned
 */
struct nmx_testing_bind_alloc {
	char what[24];
	u64 count;
	u64 requested;
	u64 bytes;
	u64 ns;
	u32 vmalloc;
	u32 temporary;
};

/**
 * struct nmx_testing_bind_profile - what one bind cost, measured
 * @id: the binding
 * @nallocs: entries of @allocs used
 * @dropped: allocations past NMX_TESTING_BIND_ALLOCS (still in the sums)
 * @pad: zero
 * @total_ns: the bind call (netlink or nmx_bind_dmabuf()), entry to return
 * @attach_map_ns: dma_buf_attach() + dma_buf_map_attachment()
 * @sg_walk_ns: reading the mapping's DMA segments from its sg_table
 * @copy_ns: copying them into netmem's segment list
 * @pool_ns: layout check and the pool (descriptors, records, free list, rings)
 * @finish_ns: queues and the binding itself
 * @steady_bytes: bytes netmem allocated for the binding, still held at return
 * @peak_bytes: most bytes held at once during the bind (temporaries included)
 * @slab_growth_bytes: growth of the kernel's unreclaimable-slab counter
 *	(NR_SLAB_UNRECLAIMABLE_B: every kmalloc, large ones included) from the
 *	end of the map to the end of the bind: an independent view of the
 *	kmalloc'd part of @steady_bytes (per-CPU counter drift, slab pages
 *	partly used, other tasks add noise)
 * @allocs: every allocation, in order
 */
struct nmx_testing_bind_profile {
	u32 id;
	u32 nallocs;
	u32 dropped;
	u32 pad;
	u64 total_ns;
	u64 attach_map_ns;
	u64 sg_walk_ns;
	u64 copy_ns;
	u64 pool_ns;
	u64 finish_ns;
	u64 steady_bytes;
	u64 peak_bytes;
	u64 slab_growth_bytes;
	struct nmx_testing_bind_alloc allocs[NMX_TESTING_BIND_ALLOCS];
};

/*
 * The profile of the most recent bind, if it made binding @id (-ENOENT if
 * another bind came after, or that bind failed). Takes RTNL.
 */
int nmx_testing_bind_profile(u32 id, struct nmx_testing_bind_profile *p);

#endif /* _NMX_TESTING_H */
