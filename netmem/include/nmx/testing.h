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
 * without its RCU grace period fail under KASAN instead of by luck.
 */
void nmx_testing_set_return_delay(u32 us);

#endif /* _NMX_TESTING_H */
