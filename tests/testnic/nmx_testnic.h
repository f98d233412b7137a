/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nmx_testnic's hooks for in-kernel tests (nmx_selftest): a view of the RX
 * rings the "device" owns. Tests reach them with symbol_get(), so that they
 * still load, and skip what needs the test NIC, without it.
 */
#ifndef _NMX_TESTNIC_H
#define _NMX_TESTNIC_H

#include <linux/types.h>

struct net_device;

/* Port @port (0 or 1) of the test NIC, or NULL. Valid while the module is. */
struct net_device *nmxt_test_port(unsigned int port);

/* Whether the queues were registered with a restart hook (restart=1). */
bool nmxt_test_has_restart(void);

/*
 * Count the buffers posted on RX queue @queue of port @dev by kind, with the
 * queue's NAPI stopped: an exact count, not the racy debugfs one. Takes RTNL.
 * 0, or -ENODEV (@dev is not a test NIC port), -ERANGE (no such queue).
 */
int nmxt_test_posted(struct net_device *dev, u32 queue, u32 *pages,
		     u32 *devmem);

#endif /* _NMX_TESTNIC_H */
