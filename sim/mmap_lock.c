/*
 * The process's address-space lock: Linux's mm->mmap_lock, a read-write
 * semaphore (kernel/locking/rwsem.c).  FreeBSD's vm_map lock and the
 * Windows address-space push lock serve the same purpose; the model uses
 * Linux's rules for every OS.
 *
 * Who takes it.  mmap and mprotect take it for write (vm_mmap_pgoff,
 * do_mprotect_pkey).  The first write fault on a fresh anonymous mapping
 * takes it for read to give the mapping its anon_vma (vmf_anon_prepare
 * in mm/memory.c).  That fault runs under the per-VMA lock and only tries
 * the read lock.  When a writer holds it, the fault retries under the
 * full read lock (lock_mm_and_find_vma) and sleeps until the writer is
 * done.  The model holds the read lock for the whole fault.
 *
 * Rules (CONFIG_RWSEM_SPIN_ON_OWNER, which Linux enables on SMP):
 *   - a writer takes a free lock.  While a writer that is on a core holds
 *     it, a writer spins (rwsem_optimistic_spin), checking every
 *     SIM_MM_SPIN_NS.  While readers hold it, a writer spins for at most
 *     (10 + readers / 2) us, readers counted when that spin starts and
 *     capped at 30 (rwsem_rspin_threshold).  A writer whose spin on
 *     readers runs out marks the lock nonspinnable and queues.  Until a
 *     writer next takes the lock, writers queue at once while readers
 *     hold it.  A writer also queues at once when the holding writer is
 *     off a core.  Linux spins with preemption off and stops when the
 *     spinner must give up its core (need_resched), so a writer that is
 *     preempted, or has woken a thread that preempts it, stops spinning:
 *     it takes a free lock or queues;
 *   - a reader takes the lock whenever no writer holds it, even with
 *     writers queued (the slow path's lock stealing), else it queues and
 *     sleeps: readers do not spin;
 *   - a writer's release, or the last reader's, with readers at the head
 *     of the queue grants the lock to every queued reader
 *     (rwsem_mark_wake).  With a writer at the head it only wakes that
 *     writer, which stays queued and tries the lock when it runs
 *     (rwsem_try_write_lock).  Until then the lock is free: a spinning
 *     writer or a reader may take it first, and the woken writer then
 *     sleeps again.  The releaser pays for the wake-ups.
 * Left out: the hand-off bit that stops stealing after a waiter has slept
 * 4 ms.
 */
#include <assert.h>

#include "sim_internal.h"

/* How often a spinning writer checks the lock: the model's resolution. */
#define SIM_MM_SPIN_NS 100

static void enqueue(struct sim_mm_lock *l, struct sim_thread *t, bool reader)
{
	t->wait_next = NULL;
	t->mm_reader = reader;
	t->mm_queued = true;
	t->mm_woken = false;
	if (l->tail)
		l->tail->wait_next = t;
	else
		l->head = t;
	l->tail = t;
}

/* Takes the woken writer t off the head of the queue: a release wakes
 * only the head writer, and later waiters queue behind it. */
static void dequeue_head_writer(struct sim_mm_lock *l, struct sim_thread *t)
{
	assert(l->head == t);
	l->head = t->wait_next;
	if (!l->head)
		l->tail = NULL;
	t->wait_next = NULL;
	t->mm_queued = false;
}

/*
 * A writer's attempt.  A writer that may spin spins while a writer on a
 * core holds the lock, or while readers hold it and it is not marked.
 * SIM_MM_SPIN_EXPIRED marks a lock that readers hold.  A queued writer
 * that a release woke takes a free lock or stays queued, whatever `spin`.
 */
enum sim_mm_take sim_mm_try_write(struct sim_mm_lock *l, struct sim_thread *t, enum sim_mm_spin spin)
{
	bool unlocked = !l->writer && l->readers == 0;

	if (t->mm_queued) {
		t->mm_woken = false;
		if (!unlocked)
			return SIM_MM_QUEUED;
		dequeue_head_writer(l, t);
	}
	if (unlocked) {
		l->writer = t;
		l->nonspinnable = false;
		return SIM_MM_TAKEN;
	}
	if (spin == SIM_MM_MAY_SPIN) {
		if (l->writer && l->writer->state == HS_TS_RUNNING)
			return SIM_MM_SPIN;
		if (!l->writer && !l->nonspinnable)
			return SIM_MM_SPIN_READERS;
	} else if (spin == SIM_MM_SPIN_EXPIRED && !l->writer) {
		l->nonspinnable = true;
	}
	enqueue(l, t, false);
	return SIM_MM_QUEUED;
}

/* How long a writer that finds readers holding the lock spins on them, in ns. */
int64_t sim_mm_reader_spin_ns(const struct sim_mm_lock *l)
{
	int readers = l->readers < 30 ? l->readers : 30;

	return (20 + readers) * 1000 / 2;
}

enum sim_mm_take sim_mm_try_read(struct sim_mm_lock *l, struct sim_thread *t)
{
	if (!l->writer) {
		l->readers++;
		return SIM_MM_TAKEN;
	}
	enqueue(l, t, true);
	return SIM_MM_QUEUED;
}

/*
 * Releases t's hold and returns the threads to wake, or NULL.  With
 * readers at the head of the queue, these are every queued reader, now
 * holding the lock and linked through wait_next.  With a writer at the
 * head, it is that writer alone.  It stays queued, its wait_next still
 * the queue's, and takes the lock when it runs.  NULL also when that
 * writer is already awake.
 */
struct sim_thread *sim_mm_release(struct sim_mm_lock *l, struct sim_thread *t)
{
	struct sim_thread **link = &l->head, *u, *granted = NULL, **gtail = &granted;

	if (l->writer == t)
		l->writer = NULL;
	else if (l->readers > 0)
		l->readers--;
	if (l->writer || l->readers > 0 || !l->head)
		return NULL;
	if (!l->head->mm_reader) {
		if (l->head->mm_woken)
			return NULL;
		l->head->mm_woken = true;
		return l->head;
	}
	/* every queued reader; the writers keep their places */
	l->tail = NULL;
	while ((u = *link) != NULL) {
		if (u->mm_reader) {
			*link = u->wait_next;
			u->wait_next = NULL;
			u->mm_queued = false;
			l->readers++;
			*gtail = u;
			gtail = &u->wait_next;
		} else {
			l->tail = u;
			link = &u->wait_next;
		}
	}
	return granted;
}

/* Releases the lock t holds and wakes the waiters sim_mm_release names;
 * t pays. */
static void release(struct sim *s, struct sim_thread *t)
{
	struct sim_thread *u = sim_mm_release(&s->mm_lock, t), *next;
	int64_t send = 0;

	for (; u; u = next) {
		next = NULL;
		if (u->mm_reader) {
			next = u->wait_next;
			u->wait_next = NULL;
		}
		sim_wake(s, u, t->id);
		send += sim_wake_send(s, t, u);
	}
	if (send > 0)
		sim_cpu_waker(s, t, send);
}

/* mmap or mprotect: ns of CPU under the lock taken for write. */
void sim_mmap_call(struct sim *s, struct sim_thread *t, int64_t ns)
{
	enum sim_mm_take r;
	int64_t until = -1; /* end of the spin on readers, once started */
	int64_t preempted = t->preempted;
	bool woken = false;

	sim_kernel_enter(t);
	for (;;) {
		enum sim_mm_spin spin = SIM_MM_MAY_SPIN;

		if (woken || t->preempted != preempted || t->resched_to)
			spin = SIM_MM_NO_SPIN;
		else if (until >= 0 && s->now >= until)
			spin = SIM_MM_SPIN_EXPIRED;
		r = sim_mm_try_write(&s->mm_lock, t, spin);
		if (r == SIM_MM_TAKEN)
			break;
		if (r == SIM_MM_QUEUED) {
			/* woken by a release: try again without spinning */
			sim_block(s, t, HS_TS_BLOCKED, HS_R_MMAP_LOCK);
			woken = true;
			continue;
		}
		if (r == SIM_MM_SPIN)
			until = -1; /* a writer owns it: a later spin on readers starts afresh */
		else if (until < 0)
			until = s->now + sim_mm_reader_spin_ns(&s->mm_lock);
		sim_cpu(s, t, SIM_MM_SPIN_NS);
	}
	sim_cpu(s, t, ns);
	release(s, t);
	sim_kernel_exit(t);
}

/* The first write fault on a fresh mapping: ns of CPU under the lock
 * taken for read. */
void sim_mmap_fault(struct sim *s, struct sim_thread *t, int64_t ns)
{
	sim_kernel_enter(t);
	if (sim_mm_try_read(&s->mm_lock, t) == SIM_MM_QUEUED)
		sim_block(s, t, HS_TS_BLOCKED, HS_R_MMAP_LOCK);
	sim_cpu(s, t, ns);
	release(s, t);
	sim_kernel_exit(t);
}

/*
 * One mmap of a small stack and the first write to it, as `mmap` prices
 * them: the call under the write lock, then the fault under the read
 * lock.  The fault takes `mmap_fault` of the drawn cost, scaled as the
 * draw is.
 */
void sim_map_stack(struct sim *s, struct sim_thread *t)
{
	int64_t cost = sim_cost(s, HS_COST_MMAP, s->os->mmap_ns);
	int64_t fault = s->os->mmap_ns > 0 ? cost * s->os->mmap_fault_ns / s->os->mmap_ns : 0;

	sim_mmap_call(s, t, cost - fault);
	sim_mmap_fault(s, t, fault);
}

/*
 * Charges pthread_create's drawn cost `total`, part of it under the lock.
 * glibc maps the new stack (mmap), makes all but its guard page writable
 * (mprotect) and writes the thread descriptor at its top, the first
 * fault (allocate_stack in nptl).  Then it clones without the lock.  Each
 * of the two calls is priced as the call part of `mmap`.
 */
void sim_create_stack(struct sim *s, struct sim_thread *t, int64_t total)
{
	int64_t fault = s->os->mmap_fault_ns, call = s->os->mmap_ns - fault;
	int64_t rest = total - 2 * call - fault;

	sim_kernel_enter(t);
	if (rest < 0) {
		/* mmap costs more than thread_create in this profile, so no lock */
		sim_cpu(s, t, total);
	} else {
		sim_mmap_call(s, t, call);
		sim_mmap_call(s, t, call);
		sim_mmap_fault(s, t, fault);
		sim_cpu(s, t, rest);
	}
	sim_kernel_exit(t);
}
