// SPDX-License-Identifier: GPL-2.0
/*
 * storm: the KTAP case "storm" of nmx_selftest, included by nmx_selftest.c
 * (it uses that file's helpers; not a module of its own).
 *
 * For storm_secs seconds every online CPU runs, at the same time:
 *  - a NAPI thread (bound to the CPU, BHs disabled while it polls) that owns
 *    NMXS_STORM_QPC RX queues of a device of the storm's own: it refills its
 *    rings with nmx_alloc(), "receives" buffers (nmx_rx_devmem()), recycles
 *    some with nmx_recycle_direct() and hands others to another CPU;
 *  - a user thread (bound to the CPU) that returns what another CPU's NAPI
 *    handed it (nmx_put(), or nmx_rx_devmem() from process context), reads
 *    records of the live bindings (nmx_binding_read(), the code behind
 *    rx-read) and releases their tokens (nmx_binding_release(), rx-release),
 *    at once or after holding them for a while;
 *  - a softirq returner (a pinned soft hrtimer every 100 us) that returns or
 *    completes what another CPU's NAPI handed it, interrupting that CPU's
 *    process-context returners wherever they are;
 * while one restart thread restarts random queues under RTNL the way a
 * driver does on a ring reconfiguration (quiesce, nmx_put() every posted
 * buffer, refill, start), and the case's own thread binds dma-bufs to random
 * sets of queues and unbinds them. Half the queues give netmem a restart
 * hook (a bind or unbind swaps their posted buffers at once), half switch
 * lazily (an unbound binding drains while the NAPI threads return its chunks);
 * every 4th bind onto a queue with the hook has its restart fail, which netmem
 * must roll back.
 *
 * Every NMXS_STORM_AUDIT_MS the case parks every thread and checks, with
 * nothing moving: each live or draining binding passes nmx_testing_audit()
 * (every chunk in exactly one place, matching its state), reports no bad
 * return, and the chunks netmem counts as posted (over all bindings) and as
 * held by the user (per binding) are exactly those the threads hold. At the
 * end everything is given back: every live binding has free == total and
 * passes the audit, then is unbound, and every binding the storm ever made
 * is gone (all its chunks came home). The operation counts are printed as
 * KTAP diagnostics, per CPU and in total, and each path must have run on
 * every CPU.
 */

#include <linux/sched/debug.h>

static unsigned int storm_secs;
module_param(storm_secs, uint, 0444);
MODULE_PARM_DESC(storm_secs,
		 "Seconds of the concurrency storm case (0, the default: skip it)");

#define NMXS_STORM_QPC		2	/* queues per CPU */
#define NMXS_STORM_MAXQ		8
#define NMXS_STORM_RING		32
#define NMXS_STORM_NBUFS	5	/* dma-bufs of our own, besides the udmabuf */
#define NMXS_STORM_HAND		256
#define NMXS_STORM_HELD		64
#define NMXS_STORM_RECS		16
#define NMXS_STORM_AUDIT_MS	1000
#define NMXS_STORM_PARK_MS	10000

enum { NMXS_OP_PUT, NMXS_OP_COMPLETE };

/* Operation counts of one CPU's threads (each field has one writer). */
struct nmxs_storm_counts {
	u64 alloc_devmem;
	u64 alloc_page;
	u64 alloc_empty;
	u64 complete;
	u64 recycle;
	u64 handoff;
	u64 remote_put;
	u64 remote_put_page;
	u64 remote_complete;
	u64 softirq_put;
	u64 softirq_complete;
	u64 read_calls;
	u64 records;
	u64 released;
	u64 release_dead;
};

struct nmxs_storm;

/* One RX queue of the storm device; @busy bit 0 plays NAPI_STATE_SCHED. */
struct nmxs_sq {
	struct nmxs_storm *st;
	struct nmx_rxq *rxq;
	struct page_pool *pp;
	unsigned long busy;
	u32 n;
	u32 target;
	struct nmx_buf *ring[NMXS_STORM_RING];
	u64 hook_restarts;
	u64 hook_failed;
	u64 drv_restarts;
};

struct nmxs_hand_item {
	struct nmx_rxq *rxq;
	struct nmx_buf *buf;
	u16 op;
	u16 len;
};

/* Buffers another CPU's NAPI hands to this CPU's user thread. */
struct nmxs_hand {
	spinlock_t lock;	/* protects @n and @it */
	u32 n;
	struct nmxs_hand_item it[NMXS_STORM_HAND];
};

struct nmxs_held {
	u32 id;
	u32 token;
};

/* The threads of one CPU. */
struct nmxs_storm_cpu {
	struct nmxs_storm *st;
	int cpu;
	u32 idx;
	struct task_struct *napi;
	struct task_struct *user;
	struct nmxs_storm_counts c;
	struct nmxs_hand hand;
	struct nmxs_hand shand;
	struct hrtimer timer;
	bool timer_on;
	u32 nheld;
	struct nmxs_held held[NMXS_STORM_HELD];
	struct nmx_record recs[NMXS_STORM_RECS];
	struct nmxs_hand_item local[NMXS_STORM_HAND];
};

/* A binding of the storm, as the readers see it. */
struct nmxs_slot {
	u32 id;
	u32 qmask;
	int dying;
};

struct nmxs_storm {
	struct nmxs_run *t;
	/*
	 * Binds refused since the last bind that succeeded. A bind whose restart
	 * failed took an id (ids only grow) and, rolled back, may still drain
	 * chunks a lazy queue of it had posted; the audits look that far past
	 * the last id they know.
	 */
	u32 refused_tail;
	struct net_device *dev;
	u32 nq;
	u32 ncpu;
	struct nmxs_sq q[NMXS_STORM_MAXQ];
	struct nmxs_slot slot[NMXS_STORM_MAXQ];
	struct nmxs_storm_cpu *cpus;
	struct task_struct *restarter;
	int pause;
	atomic_t parked;
	atomic_t in_softirq;
	u32 nthreads;
	wait_queue_head_t wq;
	atomic_t errors;
	int fail_restart;
	u32 hook_mask;
	u32 hook_binds;
	u64 bind_ns;
	u64 unbind_ns;
};

/* A thread's failed check; the first few are printed. */
#define NMXS_STORM_ERR(st, fmt, ...)					\
	do {								\
		if (atomic_inc_return(&(st)->errors) <= 8)		\
			pr_err(KBUILD_MODNAME ": storm: " fmt "\n", ##__VA_ARGS__); \
	} while (0)

static bool nmxs_storm_cpu_of(struct nmxs_storm *st, u32 q, u32 idx)
{
	return q % st->ncpu == idx;
}

/* Waits while the coordinator audits. */
static void nmxs_storm_park(struct nmxs_storm *st)
{
	if (!READ_ONCE(st->pause))
		return;
	/* Full barrier: the coordinator reads what this thread wrote. */
	atomic_inc_return(&st->parked);
	wait_event(st->wq, !READ_ONCE(st->pause) || kthread_should_stop());
	atomic_dec_return(&st->parked);
}

/*
 * napi_disable(): keeps new polls off (bit 1), waits until the running one
 * ends and takes the queue (bit 0). Stops are serialised by RTNL.
 */
static void nmxs_sq_stop(struct nmxs_sq *q)
{
	set_bit(1, &q->busy);
	while (test_and_set_bit_lock(0, &q->busy))
		usleep_range(20, 50);
}

static void nmxs_sq_start(struct nmxs_sq *q)
{
	clear_bit(1, &q->busy);
	clear_bit_unlock(0, &q->busy);
}

/* A poll may run on @q: not being stopped, and now ours. */
static bool nmxs_sq_poll_begin(struct nmxs_sq *q)
{
	return !test_bit(1, &q->busy) && !test_and_set_bit_lock(0, &q->busy);
}

static void nmxs_sq_poll_end(struct nmxs_sq *q)
{
	clear_bit_unlock(0, &q->busy);
}

/* Fills @q's ring from its current source. NAPI context or @q stopped. */
static void nmxs_sq_fill(struct nmxs_sq *q, struct nmxs_storm_counts *c)
{
	struct nmx_buf *buf;

	while (q->n < q->target) {
		buf = nmx_alloc(q->rxq);
		if (!buf) {
			if (c)
				c->alloc_empty++;
			break;
		}
		q->ring[q->n++] = buf;
		if (c && nmx_buf_is_devmem(buf))
			c->alloc_devmem++;
		else if (c)
			c->alloc_page++;
	}
}

/* A restart of a stopped queue: every posted buffer back, ring refilled. */
static void nmxs_sq_restart(struct nmxs_sq *q)
{
	while (q->n)
		nmx_put(q->rxq, q->ring[--q->n], false);
	nmxs_sq_fill(q, NULL);
}

/* netmem's restart hook (RTNL held), on the even queue groups. */
static int nmxs_storm_restart_hook(struct nmx_rxq *rxq, void *priv)
{
	struct nmxs_sq *q = priv;

	ASSERT_RTNL();
	nmxs_sq_stop(q);
	/* One bind in 16 fails its restart (set by the coordinator). */
	if (xchg(&q->st->fail_restart, 0)) {
		q->hook_failed++;
		nmxs_sq_start(q);
		return -EAGAIN;
	}
	nmxs_sq_restart(q);
	q->hook_restarts++;
	nmxs_sq_start(q);
	return 0;
}

static const struct nmx_rxq_ops nmxs_storm_ops = {
	.restart = nmxs_storm_restart_hook,
};

/* One NAPI poll of @q: BHs disabled, @q's busy bit held. */
static void nmxs_storm_poll(struct nmxs_storm_cpu *pc, struct nmxs_sq *q)
{
	struct nmxs_storm *st = pc->st;
	struct nmxs_storm_cpu *next = &st->cpus[(pc->idx + 1) % st->ncpu];
	struct nmxs_hand *h;
	u32 k = get_random_u32_below(9), i, r, off, len;
	struct nmx_buf *buf;

	nmxs_sq_fill(q, &pc->c);
	while (k-- && q->n) {
		i = get_random_u32_below(q->n);
		buf = q->ring[i];
		q->ring[i] = q->ring[--q->n];
		r = get_random_u32_below(100);
		off = get_random_u32_below(NMXS_CHUNK / 2);
		len = 1 + get_random_u32_below(NMXS_CHUNK - off);
		if (!nmx_buf_is_devmem(buf))
			r = r < 50 ? 50 : r < 75 ? 70 : 95;
		if (r < 45) {
			nmx_rx_devmem(buf, off, len);
			pc->c.complete++;
			continue;
		}
		if (r < 60) {
			nmx_recycle_direct(q->rxq, buf);
			pc->c.recycle++;
			continue;
		}
		/* To the other CPU's user thread, or to its softirq returner. */
		h = r < 85 ? &next->hand : &next->shand;
		spin_lock(&h->lock);
		if (h->n < NMXS_STORM_HAND) {
			h->it[h->n].rxq = q->rxq;
			h->it[h->n].buf = buf;
			h->it[h->n].op = r < 75 || (r >= 85 && r < 97) ?
					 NMXS_OP_PUT : NMXS_OP_COMPLETE;
			h->it[h->n].len = len;
			h->n++;
			buf = NULL;
		}
		spin_unlock(&h->lock);
		if (buf) {
			nmx_recycle_direct(q->rxq, buf);
			pc->c.recycle++;
		} else {
			pc->c.handoff++;
		}
	}
	if (!get_random_u32_below(64))
		q->target = 1 + get_random_u32_below(NMXS_STORM_RING);
}

static int nmxs_storm_napi_fn(void *arg)
{
	struct nmxs_storm_cpu *pc = arg;
	struct nmxs_storm *st = pc->st;
	u32 qi;

	while (!kthread_should_stop()) {
		nmxs_storm_park(st);
		for (qi = 0; qi < st->nq; qi++) {
			struct nmxs_sq *q = &st->q[qi];

			if (!nmxs_storm_cpu_of(st, qi, pc->idx) ||
			    !nmxs_sq_poll_begin(q))
				continue;
			local_bh_disable();
			nmxs_storm_poll(pc, q);
			local_bh_enable();
			nmxs_sq_poll_end(q);
		}
		cond_resched();
	}
	return 0;
}

/* Returns what another CPU's NAPI handed over, from process context. */
static void nmxs_storm_hand_drain(struct nmxs_storm_cpu *pc,
				  struct nmxs_hand *h)
{
	u32 n, i;

	spin_lock_bh(&h->lock);
	n = h->n;
	memcpy(pc->local, h->it, n * sizeof(h->it[0]));
	h->n = 0;
	spin_unlock_bh(&h->lock);
	for (i = 0; i < n; i++) {
		struct nmxs_hand_item *it = &pc->local[i];

		if (it->op == NMXS_OP_COMPLETE && nmx_buf_is_devmem(it->buf)) {
			nmx_rx_devmem(it->buf, 0, it->len);
			pc->c.remote_complete++;
		} else if (nmx_buf_is_devmem(it->buf)) {
			nmx_put(it->rxq, it->buf, false);
			pc->c.remote_put++;
		} else {
			nmx_put(it->rxq, it->buf, false);
			pc->c.remote_put_page++;
		}
	}
}

#define NMXS_STORM_TIMER_NS	(100 * NSEC_PER_USEC)
#define NMXS_STORM_TIMER_BATCH	32

/*
 * The softirq returner: a pinned soft hrtimer of each CPU returns what the
 * other CPU's NAPI handed it (nmx_put(), nmx_rx_devmem()) from softirq
 * context, interrupting that CPU's process-context returners anywhere, in
 * the middle of their own returns to the same rings and free lists.
 */
static enum hrtimer_restart nmxs_storm_timer_fn(struct hrtimer *timer)
{
	struct nmxs_storm_cpu *pc = container_of(timer, struct nmxs_storm_cpu, timer);
	struct nmxs_storm *st = pc->st;
	struct nmxs_hand *h = &pc->shand;
	struct nmxs_hand_item it;
	u32 n;

	/* Dekker with nmxs_storm_pause(): either it waits for us, or we see it. */
	atomic_inc(&st->in_softirq);
	smp_mb__after_atomic(); /* the count before the look at @pause */
	for (n = 0; n < NMXS_STORM_TIMER_BATCH && !READ_ONCE(st->pause); n++) {
		spin_lock(&h->lock);
		if (!h->n) {
			spin_unlock(&h->lock);
			break;
		}
		it = h->it[--h->n];
		spin_unlock(&h->lock);
		if (it.op == NMXS_OP_COMPLETE && nmx_buf_is_devmem(it.buf)) {
			nmx_rx_devmem(it.buf, 0, it.len);
			pc->c.softirq_complete++;
		} else {
			nmx_put(it.rxq, it.buf, false);
			pc->c.softirq_put++;
		}
	}
	smp_mb__before_atomic(); /* our returns before the count drops */
	atomic_dec(&st->in_softirq);
	hrtimer_forward_now(timer, ns_to_ktime(NMXS_STORM_TIMER_NS));
	return HRTIMER_RESTART;
}

/* Whether binding @id was still live (not being unbound) after a failure. */
static bool nmxs_storm_live(struct nmxs_storm *st, u32 id)
{
	u32 s;

	smp_mb(); /* after the failed call; pairs with the unbinder's smp_mb() */
	for (s = 0; s < st->nq; s++) {
		/*
		 * @dying before @id: a slot unbound and bound again since the
		 * failure shows another id here, while reading @id first could
		 * pair the old id with the new binding's dying == 0.
		 */
		u32 dying = READ_ONCE(st->slot[s].dying);

		smp_rmb(); /* pairs with the binder's smp_wmb() */
		if (READ_ONCE(st->slot[s].id) == id && !dying)
			return true;
	}
	return false;
}

/* Releases tokens of binding @id; a failure is an error while it is live. */
static void nmxs_storm_release(struct nmxs_storm_cpu *pc, u32 id,
			       const u32 *tokens, u32 n)
{
	struct nmxs_storm *st = pc->st;
	int ret;

	if (!n)
		return;
	ret = nmx_binding_release(id, tokens, n);
	if (ret == n) {
		pc->c.released += n;
		return;
	}
	if (nmxs_storm_live(st, id))
		NMXS_STORM_ERR(st,
			       "CPU %d: nmx_binding_release(%u, %u tokens) = %d on a live binding",
			       pc->cpu, id, n, ret);
	pc->c.release_dead += n;
}

/* Gives back @n of the held tokens (@n: all when it exceeds them). */
static void nmxs_storm_release_held(struct nmxs_storm_cpu *pc, u32 n)
{
	u32 tokens[NMXS_STORM_HELD];
	u32 id, m;

	while (n && pc->nheld) {
		id = pc->held[0].id;
		m = 0;
		/* The oldest first, batched while they share a binding. */
		while (m < n && m < pc->nheld && pc->held[m].id == id) {
			tokens[m] = pc->held[m].token;
			m++;
		}
		memmove(pc->held, pc->held + m, (pc->nheld - m) * sizeof(pc->held[0]));
		pc->nheld -= m;
		n -= m;
		nmxs_storm_release(pc, id, tokens, m);
	}
}

/* rx-read of a random live binding; releases or holds what it got. */
static void nmxs_storm_read(struct nmxs_storm_cpu *pc)
{
	struct nmxs_storm *st = pc->st;
	struct nmxs_slot *s = &st->slot[get_random_u32_below(st->nq)];
	u32 tokens[NMXS_STORM_RECS], id, qmask, n = 0;
	int ret, i;

	/* Pairs with the binder's release: @qmask is the binding's. */
	id = smp_load_acquire(&s->id);
	if (!id)
		return;
	qmask = READ_ONCE(s->qmask);
	ret = nmx_binding_read(id, pc->recs, NMXS_STORM_RECS);
	pc->c.read_calls++;
	if (ret < 0) {
		if (nmxs_storm_live(st, id))
			NMXS_STORM_ERR(st, "CPU %d: nmx_binding_read(%u) = %d on a live binding",
				       pc->cpu, id, ret);
		return;
	}
	pc->c.records += ret;
	for (i = 0; i < ret; i++) {
		struct nmx_record *r = &pc->recs[i];

		if (r->queue >= st->nq || !(qmask & BIT(r->queue)) ||
		    !r->len || r->len > NMXS_CHUNK ||
		    (r->offset % NMXS_CHUNK) + r->len > NMXS_CHUNK) {
			NMXS_STORM_ERR(st,
				       "binding %u (queues %#x): bad record offset %llu len %u token %u queue %u",
				       id, qmask, r->offset, r->len, r->token,
				       r->queue);
			continue;
		}
		if (pc->nheld < NMXS_STORM_HELD && !get_random_u32_below(3)) {
			pc->held[pc->nheld].id = id;
			pc->held[pc->nheld].token = r->token;
			pc->nheld++;
		} else {
			tokens[n++] = r->token;
		}
	}
	nmxs_storm_release(pc, id, tokens, n);
}

static int nmxs_storm_user_fn(void *arg)
{
	struct nmxs_storm_cpu *pc = arg;

	/* Started here: this thread is bound to the timer's CPU. */
	hrtimer_start(&pc->timer, ns_to_ktime(NMXS_STORM_TIMER_NS),
		      HRTIMER_MODE_REL_PINNED_SOFT);
	WRITE_ONCE(pc->timer_on, true);
	while (!kthread_should_stop()) {
		nmxs_storm_park(pc->st);
		nmxs_storm_hand_drain(pc, &pc->hand);
		nmxs_storm_read(pc);
		if (pc->nheld > NMXS_STORM_HELD / 2 || !get_random_u32_below(8))
			nmxs_storm_release_held(pc, 1 + get_random_u32_below(8));
		cond_resched();
	}
	return 0;
}

/* Driver-initiated restarts (a ring reconfiguration), under RTNL. */
static int nmxs_storm_restart_fn(void *arg)
{
	struct nmxs_storm *st = arg;
	struct nmxs_sq *q;

	while (!kthread_should_stop()) {
		nmxs_storm_park(st);
		q = &st->q[get_random_u32_below(st->nq)];
		rtnl_lock();
		nmxs_sq_stop(q);
		q->target = 1 + get_random_u32_below(NMXS_STORM_RING);
		nmxs_sq_restart(q);
		q->drv_restarts++;
		nmxs_sq_start(q);
		rtnl_unlock();
		usleep_range(500, 2000);
	}
	return 0;
}

/* Parks every thread; false (and a failure) if they do not all park. */
static bool nmxs_storm_pause(struct nmxs_storm *st)
{
	unsigned int waited = 0;

	WRITE_ONCE(st->pause, 1);
	while (atomic_read(&st->parked) < st->nthreads) {
		if (waited++ >= NMXS_STORM_PARK_MS) {
			NMXS_FAIL(st->t, "only %d of %u storm threads parked after %u ms",
				  atomic_read(&st->parked), st->nthreads,
				  NMXS_STORM_PARK_MS);
			return false;
		}
		usleep_range(1000, 2000);
	}
	/* Pairs with the timer's barriers; no return runs from here on. */
	smp_mb();
	for (waited = 0; atomic_read(&st->in_softirq); waited++) {
		if (waited >= NMXS_STORM_PARK_MS) {
			NMXS_FAIL(st->t, "a softirq returner still runs after %u ms",
				  NMXS_STORM_PARK_MS);
			return false;
		}
		mdelay(1);
	}
	smp_mb(); /* pairs with atomic_inc_return() in nmxs_storm_park() */
	return true;
}

static void nmxs_storm_resume(struct nmxs_storm *st)
{
	WRITE_ONCE(st->pause, 0);
	wake_up_all(&st->wq);
	/* All out again before the next pause counts them. */
	while (atomic_read(&st->parked))
		usleep_range(1000, 2000);
}

/* Devmem buffers the threads hold (posted in rings or handed over). */
static u32 nmxs_storm_driver_held(struct nmxs_storm *st)
{
	u32 i, j, n = 0;

	for (i = 0; i < st->nq; i++)
		for (j = 0; j < st->q[i].n; j++)
			n += nmx_buf_is_devmem(st->q[i].ring[j]);
	for (i = 0; i < st->ncpu; i++)
		for (j = 0; j < st->cpus[i].hand.n; j++)
			n += nmx_buf_is_devmem(st->cpus[i].hand.it[j].buf);
	for (i = 0; i < st->ncpu; i++)
		for (j = 0; j < st->cpus[i].shand.n; j++)
			n += nmx_buf_is_devmem(st->cpus[i].shand.it[j].buf);
	return n;
}

static u32 nmxs_storm_user_held(struct nmxs_storm *st, u32 id)
{
	u32 i, j, n = 0;

	for (i = 0; i < st->ncpu; i++)
		for (j = 0; j < st->cpus[i].nheld; j++)
			n += st->cpus[i].held[j].id == id;
	return n;
}

/*
 * With every thread parked: each binding of the storm that still resolves
 * (ids @first..@last) passes the audit and had no bad return; the chunks
 * netmem counts as posted are the ones the threads hold, and per binding
 * those it counts as held by the user are the tokens the threads hold.
 */
static void nmxs_storm_audit(struct nmxs_storm *st, u32 first, u32 last,
			     const char *when)
{
	struct nmxs_run *t = st->t;
	struct nmx_binding_info info;
	u32 id, posted = 0, held, nb = 0;

	/* Refused binds after the last known id took the next ids (see above). */
	last += st->refused_tail;
	if (!first && st->refused_tail)
		first = 1;
	for (id = first; first && id <= last; id++) {
		if (nmx_binding_info(id, &info))
			continue;
		nb++;
		posted += info.chunks_posted;
		nmxs_audit(t, id, when);
		if (info.bad_put)
			NMXS_FAIL(t, "%s: binding %u: %llu bad returns", when, id,
				  info.bad_put);
		if (info.chunks_free + info.chunks_posted + info.chunks_completed +
		    info.chunks_user != info.chunks_total)
			nmxs_diag_info(t, when, &info);
		/* Unbind took back what the readers held: their tokens are dead. */
		held = info.state == NMX_BINDING_BOUND ?
		       nmxs_storm_user_held(st, id) : 0;
		if (info.chunks_user != held)
			NMXS_FAIL(t,
				  "%s: binding %u (state %u): netmem counts %u chunks held by the user, the readers hold %u tokens",
				  when, id, info.state, info.chunks_user, held);
	}
	held = nmxs_storm_driver_held(st);
	if (posted != held)
		NMXS_FAIL(t, "%s: %u bindings count %u chunks posted, the driver threads hold %u",
			  when, nb, posted, held);
}

static void nmxs_storm_counts_add(struct nmxs_storm_counts *sum,
				  const struct nmxs_storm_counts *c)
{
	const u64 *src = (const u64 *)c;
	u64 *dst = (u64 *)sum;
	size_t i;

	for (i = 0; i < sizeof(*c) / sizeof(u64); i++)
		dst[i] += src[i];
}

static void nmxs_storm_counts_line(struct nmxs_run *t, const char *who,
				   const struct nmxs_storm_counts *c)
{
	nmxs_line("# %s: %s: allocs %llu (+%llu pages, %llu empty) recycles %llu",
		  t->name, who, c->alloc_devmem, c->alloc_page, c->alloc_empty,
		  c->recycle);
	nmxs_line("# %s: %s: completions %llu (+%llu remote) remote returns %llu (+%llu pages)",
		  t->name, who, c->complete, c->remote_complete,
		  c->remote_put, c->remote_put_page);
	nmxs_line("# %s: %s: from softirq: returns %llu, completions %llu",
		  t->name, who, c->softirq_put, c->softirq_complete);
	nmxs_line("# %s: %s: reads %llu records in %llu calls, releases %llu (+%llu after unbind)",
		  t->name, who, c->records, c->read_calls, c->released,
		  c->release_dead);
}

static int nmxs_storm_setup(struct nmxs_storm *st)
{
	u32 qi;
	int err;

	st->dev = alloc_etherdev_mqs(0, st->nq, st->nq);
	if (!st->dev)
		return -ENOMEM;
	SET_NETDEV_DEV(st->dev, &nmxs_pdev->dev);
	for (qi = 0; qi < st->nq; qi++) {
		struct nmxs_sq *q = &st->q[qi];
		/* Half the queues per CPU restart eagerly, half drain lazily. */
		bool hook = !((qi / st->ncpu) % 2);
		struct nmx_rxq *rxq;

		q->st = st;
		if (hook)
			st->hook_mask |= BIT(qi);
		q->target = NMXS_STORM_RING / 2;
		q->pp = nmxs_pp_create(&nmxs_pdev->dev);
		if (IS_ERR(q->pp)) {
			err = PTR_ERR(q->pp);
			q->pp = NULL;
			return err;
		}
		rxq = nmx_rxq_register(st->dev, qi, q->pp, &nmxs_pdev->dev,
				       hook ? &nmxs_storm_ops : NULL, q);
		if (IS_ERR(rxq))
			return PTR_ERR(rxq);
		q->rxq = rxq;
		err = nmx_testing_rxq_cpu_copy(rxq);
		if (err)
			return err;
	}
	return 0;
}

static void nmxs_storm_teardown(struct nmxs_storm *st)
{
	u32 qi;

	for (qi = 0; qi < st->nq; qi++) {
		struct nmxs_sq *q = &st->q[qi];

		if (q->rxq)
			nmx_rxq_unregister(q->rxq);
		if (q->pp)
			page_pool_destroy(q->pp);
	}
	if (st->dev)
		free_netdev(st->dev);
}

static int nmxs_storm_start(struct nmxs_storm *st)
{
	u32 i;
	int cpu;

	i = 0;
	for_each_online_cpu(cpu) {
		struct nmxs_storm_cpu *pc = &st->cpus[i];

		if (i >= st->ncpu)
			break;
		pc->st = st;
		pc->cpu = cpu;
		pc->idx = i;
		spin_lock_init(&pc->hand.lock);
		spin_lock_init(&pc->shand.lock);
		hrtimer_init(&pc->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_SOFT);
		pc->timer.function = nmxs_storm_timer_fn;
		pc->napi = kthread_create(nmxs_storm_napi_fn, pc, "nmxs_napi/%d", cpu);
		if (IS_ERR(pc->napi)) {
			pc->napi = NULL;
			return -ENOMEM;
		}
		kthread_bind(pc->napi, cpu);
		/* The churn (this thread) gets the CPU when it wants it. */
		set_user_nice(pc->napi, MAX_NICE);
		pc->user = kthread_create(nmxs_storm_user_fn, pc, "nmxs_user/%d", cpu);
		if (IS_ERR(pc->user)) {
			pc->user = NULL;
			return -ENOMEM;
		}
		kthread_bind(pc->user, cpu);
		set_user_nice(pc->user, MAX_NICE);
		i++;
	}
	st->restarter = kthread_create(nmxs_storm_restart_fn, st, "nmxs_restart");
	if (IS_ERR(st->restarter)) {
		st->restarter = NULL;
		return -ENOMEM;
	}
	set_user_nice(st->restarter, MAX_NICE);
	wake_up_process(st->restarter);
	for (i = 0; i < st->ncpu; i++) {
		wake_up_process(st->cpus[i].napi);
		wake_up_process(st->cpus[i].user);
	}
	return 0;
}

/* Stops the threads (restarter, NAPI, user) and takes back all they held. */
static void nmxs_storm_stop(struct nmxs_storm *st)
{
	u32 i;

	WRITE_ONCE(st->pause, 0);
	if (st->restarter)
		kthread_stop(st->restarter);
	for (i = 0; i < st->ncpu; i++)
		if (st->cpus[i].napi)
			kthread_stop(st->cpus[i].napi);
	for (i = 0; i < st->ncpu; i++)
		if (st->cpus[i].user)
			kthread_stop(st->cpus[i].user);
	for (i = 0; i < st->ncpu; i++)
		if (st->cpus[i].st && READ_ONCE(st->cpus[i].timer_on))
			hrtimer_cancel(&st->cpus[i].timer);
	/*
	 * The driver stops its queues: every posted buffer back, and nothing
	 * refilled by the restarts of the final unbinds.
	 */
	for (i = 0; i < st->nq; i++) {
		struct nmxs_sq *q = &st->q[i];

		if (!q->rxq)
			continue;
		nmxs_sq_stop(q);
		q->target = 0;
		while (q->n)
			nmx_put(q->rxq, q->ring[--q->n], false);
		nmxs_sq_start(q);
	}
	for (i = 0; i < st->ncpu; i++) {
		struct nmxs_storm_cpu *pc = &st->cpus[i];

		if (!pc->st)
			continue;
		nmxs_storm_hand_drain(pc, &pc->hand);
		/* What the softirq returner had left, from process context. */
		nmxs_storm_hand_drain(pc, &pc->shand);
		nmxs_storm_release_held(pc, NMXS_STORM_HELD);
	}
}

/* The coordinator's churn: bind a random set of free queues, or unbind. */
static void nmxs_storm_churn(struct nmxs_storm *st, const int *fds, u32 nfds,
			     u32 *bound, u32 *first, u32 *last, u64 *binds,
			     u64 *unbinds, u64 *busy, u64 *refused)
{
	struct nmxs_run *t = st->t;
	u32 queues[NMXS_STORM_MAXQ], nqs = 0, mask, qi, s;
	u32 all = BIT(st->nq) - 1;
	u64 t0;
	int id;

	/* Mostly bound: one churn step in four unbinds while a queue is free. */
	if (*bound != all && (!*bound || get_random_u32_below(4))) {
		mask = get_random_u32_below(all + 1) & ~*bound;
		if (!mask)
			mask = BIT(__ffs(~*bound & all));
		for (qi = 0; qi < st->nq; qi++)
			if (mask & BIT(qi))
				queues[nqs++] = qi;
		for (s = 0; s < st->nq && st->slot[s].id; s++)
			;
		/* Every 4th bind that restarts a queue has that restart fail. */
		if ((mask & st->hook_mask) && !(++st->hook_binds % 4))
			WRITE_ONCE(st->fail_restart, 1);
		t0 = ktime_get_ns();
		id = nmxs_bind(t, st->dev, queues, nqs,
			       fds[get_random_u32_below(nfds)], NMXS_CHUNK, NULL);
		st->bind_ns += ktime_get_ns() - t0;
		if (id == -EBUSY) {
			/* That dma-buf's previous binding is still draining. */
			(*busy)++;
		} else if (id == -EAGAIN && xchg(&st->fail_restart, 0) == 0) {
			/* Our hook failed its restart: netmem rolled back. */
			(*refused)++;
			st->refused_tail++;
		} else if (id <= 0) {
			NMXS_FAIL(t, "nmx_bind_dmabuf(queues %#x) = %d", mask, id);
		} else {
			st->slot[s].qmask = mask;
			/* The unbinder's id = 0 before dying = 0: see nmxs_storm_live(). */
			smp_wmb();
			WRITE_ONCE(st->slot[s].dying, 0);
			/* Publishes @qmask to the readers. */
			smp_store_release(&st->slot[s].id, id);
			*bound |= mask;
			(*binds)++;
			if (!*first)
				*first = id - min_t(u32, st->refused_tail, id - 1);
			*last = max_t(u32, *last, id);
			st->refused_tail = 0;
		}
		WRITE_ONCE(st->fail_restart, 0);
		return;
	}
	do {
		s = get_random_u32_below(st->nq);
	} while (!st->slot[s].id);
	WRITE_ONCE(st->slot[s].dying, 1);
	smp_mb(); /* dying before the unbind; pairs with nmxs_storm_live() */
	t0 = ktime_get_ns();
	id = nmxs_unbind(t, st->slot[s].id);
	st->unbind_ns += ktime_get_ns() - t0;
	if (id)
		NMXS_FAIL(t, "nmx_unbind(%u) = %d", st->slot[s].id, id);
	*bound &= ~st->slot[s].qmask;
	WRITE_ONCE(st->slot[s].id, 0);
	(*unbinds)++;
}

/*
 * A thread did not park: it is stuck, most likely looping in netmem on a
 * state a defect corrupted. It cannot be stopped, so the case gives up and
 * leaves everything as it is (a leak, in a test that failed): the threads'
 * stacks go to the kernel log and the module pins itself, so that rmmod
 * fails instead of unmapping code that still runs.
 */
static void nmxs_storm_abandon(struct nmxs_storm *st)
{
	u32 i;

	NMXS_FAIL(st->t,
		  "storm abandoned: a thread is stuck (stacks in dmesg), nmx_selftest pinned");
	for (i = 0; i < st->ncpu; i++) {
		sched_show_task(st->cpus[i].napi);
		sched_show_task(st->cpus[i].user);
	}
	sched_show_task(st->restarter);
	__module_get(THIS_MODULE);
}

/*
 * The storm case: see the top of this file. Binds from this thread (the
 * dma-buf descriptors resolve in the writer's context only).
 */
static void nmxs_storm(struct nmxs_run *t)
{
	u64 binds = 0, unbinds = 0, busy = 0, refused = 0, audits = 0;
	u64 hook = 0, hook_failed = 0, drv = 0;
	struct nmxs_storm_counts sum = {};
	int fds[NMXS_STORM_NBUFS + 1];
	unsigned long deadline, next_audit;
	struct nmx_binding_info info;
	u32 bound = 0, first = 0, last = 0, i, nfds = 0, id;
	struct nmxs_storm *st;
	int baseline, ret;
	char who[16];

	if (!storm_secs) {
		t->skip = "storm_secs=0";
		return;
	}
	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st) {
		NMXS_FAIL(t, "out of memory");
		return;
	}
	st->t = t;
	st->ncpu = num_online_cpus();
	st->nq = min_t(u32, st->ncpu * NMXS_STORM_QPC, NMXS_STORM_MAXQ);
	st->ncpu = min_t(u32, st->ncpu, st->nq);
	st->nthreads = 2 * st->ncpu + 1;
	init_waitqueue_head(&st->wq);
	st->cpus = kvcalloc(st->ncpu, sizeof(*st->cpus), GFP_KERNEL);
	if (!st->cpus) {
		NMXS_FAIL(t, "out of memory");
		goto out_free;
	}
	/* The udmabuf, and dma-bufs of 32, 64 and 128 chunks of our own. */
	fds[nfds++] = t->fd;
	for (i = 0; i < NMXS_STORM_NBUFS; i++) {
		ret = nmxs_xbuf_fd(32 << (i % 3));
		if (ret < 0) {
			NMXS_FAIL(t, "exporting a dma-buf: %d", ret);
			goto out_fds;
		}
		fds[nfds++] = ret;
	}
	baseline = static_key_count(&nmx_devmem_live.key);
	ret = nmxs_storm_setup(st);
	if (ret) {
		NMXS_FAIL(t, "storm device with %u queues: %d", st->nq, ret);
		goto out_teardown;
	}
	ret = nmxs_storm_start(st);
	if (ret) {
		NMXS_FAIL(t, "starting the storm threads: %d", ret);
		goto out_stop;
	}
	nmxs_line("# %s: %u s, %u CPUs, %u queues (%u with a restart hook), %u dma-bufs",
		  t->name, storm_secs, st->ncpu, st->nq,
		  st->nq - st->nq / 2, nfds);

	deadline = jiffies + storm_secs * HZ;
	next_audit = jiffies + msecs_to_jiffies(NMXS_STORM_AUDIT_MS);
	while (time_before(jiffies, deadline) && !t->failures &&
	       !atomic_read(&st->errors)) {
		nmxs_storm_churn(st, fds, nfds, &bound, &first, &last, &binds,
				 &unbinds, &busy, &refused);
		if (time_after(jiffies, next_audit)) {
			if (!nmxs_storm_pause(st)) {
				nmxs_storm_abandon(st);
				return;
			}
			nmxs_storm_audit(st, first, last, "mid-storm");
			audits++;
			nmxs_storm_resume(st);
			next_audit = jiffies + msecs_to_jiffies(NMXS_STORM_AUDIT_MS);
		}
		usleep_range(1000, 5000);
	}

out_stop:
	nmxs_storm_stop(st);
	/* Everything given back: read and release what is left, then audit. */
	for (i = 0; i < st->nq; i++) {
		struct nmxs_storm_cpu *pc = &st->cpus[0];

		id = st->slot[i].id;
		if (!id)
			continue;
		while ((ret = nmx_binding_read(id, pc->recs, NMXS_STORM_RECS)) > 0) {
			u32 tokens[NMXS_STORM_RECS];
			int j;

			for (j = 0; j < ret; j++)
				tokens[j] = pc->recs[j].token;
			NMXS_EQ(t, nmx_binding_release(id, tokens, ret), ret);
		}
		NMXS_EQ(t, ret, 0);
		if (!NMXS_INFO(t, id, &info)) {
			if (!NMXS_EQ(t, info.chunks_free, info.chunks_total))
				nmxs_diag_info(t, "end", &info);
			NMXS_EQ(t, info.bad_put, 0);
		}
		nmxs_audit(t, id, "end");
	}
	nmxs_storm_audit(st, first, last, "end");
	for (i = 0; i < st->nq; i++) {
		id = st->slot[i].id;
		if (!id)
			continue;
		st->slot[i].dying = 1;
		NMXS_EQ(t, nmxs_unbind(t, id), 0);
		st->slot[i].id = 0;
		unbinds++;
	}
	/* Every binding the storm made is gone: all its chunks came home. */
	/* Refused binds after the last known id took the next ids (see above). */
	last += st->refused_tail;
	if (!first && st->refused_tail)
		first = 1;
	for (id = first; first && id <= last; id++) {
		if (nmxs_wait_gone(id))
			continue;
		memset(&info, 0, sizeof(info));
		nmx_binding_info(id, &info);
		NMXS_FAIL(t,
			  "binding %u still resolves after the storm: state %u, free %u of %u, posted %u, completed %u, user %u",
			  id, info.state, info.chunks_free, info.chunks_total,
			  info.chunks_posted, info.chunks_completed,
			  info.chunks_user);
	}
	if (!nmxs_wait_key_count(baseline))
		NMXS_FAIL(t, "nmx_devmem_live count %d after the storm, expected %d",
			  static_key_count(&nmx_devmem_live.key), baseline);

	if (atomic_read(&st->errors))
		NMXS_FAIL(t, "%d failed checks in the storm threads (first ones in dmesg)",
			  atomic_read(&st->errors));
	for (i = 0; i < st->nq; i++) {
		hook += st->q[i].hook_restarts;
		hook_failed += st->q[i].hook_failed;
		drv += st->q[i].drv_restarts;
	}
	for (i = 0; i < st->ncpu; i++) {
		const struct nmxs_storm_counts *c = &st->cpus[i].c;

		snprintf(who, sizeof(who), "CPU %d", st->cpus[i].cpu);
		nmxs_storm_counts_line(t, who, c);
		nmxs_storm_counts_add(&sum, c);
		/* Every path ran on every CPU. */
		if (!c->alloc_devmem || !c->complete || !c->recycle ||
		    !c->remote_put || !c->remote_complete || !c->records ||
		    !c->softirq_put || !c->softirq_complete ||
		    !c->released)
			NMXS_FAIL(t, "CPU %d did not run every path (see its counts)",
				  st->cpus[i].cpu);
	}
	nmxs_storm_counts_line(t, "total", &sum);
	nmxs_line("# %s: binds %llu (+%llu dma-buf busy, +%llu restarts failed) unbinds %llu",
		  t->name, binds, busy, refused, unbinds);
	nmxs_line("# %s: restarts %llu by bind/unbind, %llu by the driver; mid-storm audits %llu",
		  t->name, hook, drv, audits);
	nmxs_line("# %s: bind+refusals ~%llu us each, unbind ~%llu us each",
		  t->name, div64_u64(st->bind_ns, max(binds + busy + refused, 1ULL)) / 1000,
		  div64_u64(st->unbind_ns, max(unbinds, 1ULL)) / 1000);
	if (!binds || !unbinds || !hook || !drv || !audits || !refused)
		NMXS_FAIL(t, "the churn did not run every path (see the counts)");
	NMXS_EQ(t, hook_failed, refused);

out_teardown:
	nmxs_storm_teardown(st);
out_fds:
	for (i = 1; i < nfds; i++)
		close_fd(fds[i]);
	kvfree(st->cpus);
out_free:
	kfree(st);
}
