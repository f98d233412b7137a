/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-socket state genetlink keeps for the bind-dmabuf family (the spec's
 * sock-priv). A binding's owner is the address of this object: genetlink
 * frees it only after its destroy hook unbound everything the socket owned.
 */
#ifndef _NMX_SOCK_PRIV_H
#define _NMX_SOCK_PRIV_H

#include <linux/types.h>

struct nmx_sock_priv {
	u32 unused;	/* genetlink needs a nonzero size */
};

#endif /* _NMX_SOCK_PRIV_H */
