/*
 * The policy primitives of the native backend: each one is the real
 * operation on the calling pthread, and records what it did in the
 * calling thread's own buffers (counters, state intervals, wake-ups, lock
 * statistics).
 *
 * Futexes: a policy word is 64 bits but futex(2) waits on 32.  The futex
 * word is the half of `value` that contains its low 32 bits (the first half on
 * little-endian machines such as x86_64).  futex_wait first compares the
 * whole 64-bit value in user space, then the kernel compares the low 32
 * bits only; a change of the high half alone therefore does not stop a wait
 * that already started.  The contract allows spurious returns, so callers
 * re-check their condition either way.
 *
 * Waker attribution: futex_wake stores the waker's id and the time of the
 * call in the word's `shadow` pair (the native backend has no other use for
 * it).  The woken thread reads the pair when it returns; with several
 * wakers in a row the last one is named, which is exact only for one waker.
 *
 * Unwinding: every primitive first calls entry(), which unwinds the thread
 * when the run was aborted (see native_internal.h).  Runtime daemons are
 * also unwound at the start of a blocking primitive once the run is
 * stopping, because a daemon may loop forever by design.
 */
#include "native_internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PROCYIELD_PAUSES 30 /* Go's active_spin_cnt */

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * The clock of the native backend: CLOCK_MONOTONIC, read from the time
 * stamp counter where the kernel itself keeps time with it.  A run reads
 * the clock several times per callback (work spins, lock statistics,
 * callback latency), and in a virtual machine clock_gettime costs about
 * 38 ns against 15 ns for rdtsc, which would add the measuring to the
 * cost measured.  The counter is used only when the kernel's clock source
 * is "tsc", so that the counters of all CPUs agree, and the CPU reports
 * constant_tsc and nonstop_tsc.  Its rate is measured against
 * CLOCK_MONOTONIC over FAST_CLOCK_WINDOW_NS once per process, and the
 * clock is anchored to CLOCK_MONOTONIC again at the start of every run.
 * The rate's error, a few parts per million, then shifts the clock by
 * tens of microseconds over a minute-long run, well under the runs'
 * spread, and the absolute sleeps and waits that use it wake that much
 * early or late.
 */
#define FAST_CLOCK_WINDOW_NS 20000000

static struct {
	bool tsc;
	int64_t mono0;
	uint64_t tsc0;
	double ns_per_tick;
} fast;
static pthread_once_t fast_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__)
static uint64_t read_tsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static bool file_has(const char *path, const char *word)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, word) != NULL;
	fclose(f);
	return found;
}

/* Reads a (CLOCK_MONOTONIC, counter) pair: the counter between two clock
 * reads, from the try whose two clock reads were closest. */
static void clock_pair(int64_t *mono, uint64_t *tsc)
{
	int64_t best = INT64_MAX;

	for (int i = 0; i < 16; i++) {
		int64_t a = monotonic_ns();
		uint64_t c = read_tsc();
		int64_t b = monotonic_ns();

		if (b - a < best) {
			best = b - a;
			*mono = a + (b - a) / 2;
			*tsc = c;
		}
	}
}
#endif

static void fast_init(void)
{
#if defined(__x86_64__)
	int64_t m1;
	uint64_t t1;

	if (!file_has("/sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc") ||
	    !file_has("/proc/cpuinfo", "constant_tsc") || !file_has("/proc/cpuinfo", "nonstop_tsc"))
		return;
	clock_pair(&fast.mono0, &fast.tsc0);
	do
		clock_pair(&m1, &t1);
	while (m1 - fast.mono0 < FAST_CLOCK_WINDOW_NS);
	if (t1 <= fast.tsc0)
		return;
	fast.ns_per_tick = (double)(m1 - fast.mono0) / (double)(t1 - fast.tsc0);
	fast.tsc = true;
#endif
}

void native_clock_init(void)
{
	pthread_once(&fast_once, fast_init);
#if defined(__x86_64__)
	/* a new anchor per run keeps the rate's error to one run's length */
	if (fast.tsc)
		clock_pair(&fast.mono0, &fast.tsc0);
#endif
}

int64_t native_clock(void)
{
#if defined(__x86_64__)
	if (fast.tsc)
		return fast.mono0 + (int64_t)((double)(int64_t)(read_tsc() - fast.tsc0) * fast.ns_per_tick);
#endif
	return monotonic_ns();
}

int64_t native_now(struct nrun *run)
{
	return native_clock() - run->t0;
}

/* Returns a raw reading of the backend's clock for the lock statistics:
 * the time stamp counter when native_clock() uses it, else CLOCK_MONOTONIC
 * in ns.  Only the difference of two stamps is a time (stamp_ns), so an
 * acquisition's three readings skip the conversion. */
static int64_t stamp(void)
{
#if defined(__x86_64__)
	if (fast.tsc)
		return (int64_t)read_tsc();
#endif
	return monotonic_ns();
}

/* Returns the ns between two stamps, later minus earlier. */
static int64_t stamp_ns(int64_t later, int64_t earlier)
{
#if defined(__x86_64__)
	if (fast.tsc)
		return (int64_t)((double)(later - earlier) * fast.ns_per_tick);
#endif
	return later - earlier;
}

static struct timespec ts_of(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };

	return ts;
}

void native_violation(struct nrun *run, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&run->err_mu);
	if (!run->violated) {
		run->violated = true;
		va_start(ap, fmt);
		vsnprintf(run->violation, sizeof(run->violation), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&run->err_mu);
}

/* Unwinds t to its entry function if the run was aborted. */
void native_check_abort(struct nthread *t)
{
	if (t->can_unwind && __atomic_load_n(&t->run->abort, __ATOMIC_SEQ_CST))
		longjmp(t->unwind, 1);
}

/* Unwinds a runtime daemon once the run is stopping at `level` or beyond. */
static void check_stop(struct nthread *t, int level)
{
	if (t->kind == HS_THREAD_RUNTIME && t->can_unwind &&
	    __atomic_load_n(&t->run->stopping, __ATOMIC_SEQ_CST) >= level)
		longjmp(t->unwind, 2);
}

static struct nthread *entry(hs_env *env)
{
	struct nthread *t = nthread_of(env);

	t->ops++;
	native_check_abort(t);
	check_stop(t, 2);
	return t;
}

/*
 * Reads the run time that stamps t's event rows (thread states, wake-ups).
 * Returns 0 without reading the clock when t records no such rows, which
 * is at summary level and always for the main thread.
 */
int64_t native_event_time(struct nthread *t)
{
	return t->run->events && t->id >= 0 ? native_now(t->run) : 0;
}

/* Closes the open state interval at `now` and opens (st, why). */
void native_set_state(struct nthread *t, int64_t now, enum hs_tstate st, enum hs_reason why,
		      int32_t waker)
{
	if (t->run->events && t->id >= 0 && now > t->cur_start) {
		struct hs_state_rec *r = HS_VEC_PUSH(&t->states);

		if (!r) {
			native_violation(t->run, "out of memory while recording thread states");
		} else {
			r->thread = t->id;
			r->state = t->cur_state;
			r->reason = t->cur_reason;
			r->waker = t->cur_waker;
			r->start_ns = t->cur_start;
			r->end_ns = now;
		}
	}
	if (now > t->cur_start)
		t->cur_start = now;
	t->cur_state = (uint8_t)st;
	t->cur_reason = (uint8_t)why;
	t->cur_waker = waker;
}

/*
 * Closes the open state interval now and opens (st, why).  Reads the clock
 * only when the interval is recorded.  Otherwise native_event_time returns
 * 0, which is not after cur_start, so only the current state changes.
 */
void native_enter_state(struct nthread *t, enum hs_tstate st, enum hs_reason why, int32_t waker)
{
	native_set_state(t, native_event_time(t), st, why, waker);
}

/* Counts a wasted wake-up if the last wait returned and no progress since. */
static void note_wait(struct nthread *t)
{
	if (!t->wake_pending)
		return;
	t->wasted++;
	if (t->wake_pending_row >= 0)
		t->wakes.data[t->wake_pending_row].wasted = 1;
	t->wake_pending = false;
}

static void record_wake(struct nthread *t, int64_t time_ns, int32_t waker, int64_t latency,
			enum hs_reason why)
{
	struct hs_wake_rec *w;

	t->wake_pending = true;
	t->wake_pending_row = -1;
	if (!t->run->events || t->id < 0)
		return;
	w = HS_VEC_PUSH(&t->wakes);
	if (!w) {
		native_violation(t->run, "out of memory while recording wake-ups");
		return;
	}
	w->time_ns = time_ns;
	w->waker = waker;
	w->woken = t->id;
	w->latency_ns = latency;
	w->reason = (uint8_t)why;
	t->wake_pending_row = (ptrdiff_t)(t->wakes.len - 1);
}

/*
 * Busy-waits until the thread has run ns on a CPU, unwinding on abort.
 * Go work is CPU work: while the thread is preempted its work does not
 * advance, so a spin that counted wall-clock time would finish early
 * exactly when CPUs are oversubscribed.  The loop reads CLOCK_MONOTONIC
 * (a vDSO call of about 40 ns) and counts the time between two reads only
 * when it is below SPIN_GAP_NS; a longer gap is time off the CPU.  Reading
 * CLOCK_THREAD_CPUTIME_ID instead would be a system call per iteration,
 * longer than the shortest work steps.
 */
#define SPIN_GAP_NS 5000
void native_spin(struct nthread *t, int64_t ns)
{
	int64_t done = 0, last = native_clock();

	while (done < ns) {
		int64_t now;

		native_check_abort(t);
		check_stop(t, 2);
		now = native_clock();
		if (now - last < SPIN_GAP_NS)
			done += now - last;
		last = now;
	}
}

/*
 * Sleeps ns as usleep and nanosleep do: a request relative to the call, so
 * a thread delayed just before the call still sleeps the whole request
 * plus its timer slack.  A request longer than NATIVE_WAIT_SLICE_NS sleeps
 * in slices against a deadline, so that an abort is seen within one slice.
 * The clock is read only for that deadline and for recorded event rows.  A
 * policy call (policy_call) counts towards wasted wake-ups and records a
 * timer wake-up row.
 */
void native_timed_sleep(struct nthread *t, int64_t ns, enum hs_reason why, bool policy_call)
{
	bool stamp = t->run->events && t->id >= 0;
	int64_t t0 = t->run->t0;
	int64_t start = 0, now = 0;

	if (ns < 0)
		ns = 0;
	if (stamp || ns > NATIVE_WAIT_SLICE_NS)
		start = now = native_clock();
	if (policy_call)
		note_wait(t);
	native_set_state(t, stamp ? start - t0 : 0, HS_TS_SLEEPING, why, -1);
	if (ns <= NATIVE_WAIT_SLICE_NS) {
		struct timespec ts = ts_of(ns);

		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		native_check_abort(t);
		check_stop(t, 1);
	} else {
		int64_t deadline = start + ns;

		do {
			int64_t until = deadline;
			struct timespec ts;

			if (until - now > NATIVE_WAIT_SLICE_NS)
				until = now + NATIVE_WAIT_SLICE_NS;
			ts = ts_of(until);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			native_check_abort(t);
			check_stop(t, 1);
			now = native_clock();
		} while (now < deadline);
	}
	if (stamp && ns <= NATIVE_WAIT_SLICE_NS)
		now = native_clock();
	native_set_state(t, stamp ? now - t0 : 0, HS_TS_RUNNING, HS_R_WORK, -1);
	if (policy_call)
		record_wake(t, start + ns - t0, -1, now - (start + ns), why);
}

static uint32_t *futex_addr(hs_word *w)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (uint32_t *)&w->value;
#else
	return (uint32_t *)&w->value + 1;
#endif
}

static long sys_futex(uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

/* Wakes up to n waiters on w as thread t, leaving the waker's mark when
 * the run records wake-up rows, the only readers of the mark. */
static int futex_wake_as(struct nthread *t, hs_word *w, int n)
{
	long r;

	t->futex_wakes++;
	if (t->run->events) {
		__atomic_store_n(&w->shadow[0], (uint64_t)(t->id + 1), __ATOMIC_SEQ_CST);
		__atomic_store_n(&w->shadow[1], (uint64_t)native_now(t->run), __ATOMIC_SEQ_CST);
	}
	r = sys_futex(futex_addr(w), FUTEX_WAKE_PRIVATE, (uint32_t)(n > 0 ? n : 0), NULL);
	return r < 0 ? 0 : (int)r;
}

/*
 * Blocks on w while it contains `expected`, as futex_wait specifies, in state
 * blocked for `why`.  Counts the wait and records its wake-up.  The start
 * and end times stamp only event rows, so at summary level both are 0
 * (native_event_time) and the state and wake-up calls record nothing.
 */
static int futex_block(struct nthread *t, hs_word *w, uint64_t expected, int64_t timeout_ns,
		       enum hs_reason why)
{
	struct timespec ts;
	int64_t start, now;
	long r;
	int err, result;

	t->futex_waits++;
	if (__atomic_load_n(&w->value, __ATOMIC_SEQ_CST) != expected)
		return 2;
	note_wait(t);

	/* Publish the word before the last abort check, so the watchdog
	 * either sees it and wakes us, or we see the abort. */
	__atomic_store_n(&t->waiting_on, w, __ATOMIC_SEQ_CST);
	native_check_abort(t);
	start = native_event_time(t);
	native_set_state(t, start, HS_TS_BLOCKED, why, -1);
	if (timeout_ns >= 0)
		ts = ts_of(timeout_ns);
	r = sys_futex(futex_addr(w), FUTEX_WAIT_PRIVATE, (uint32_t)expected,
		      timeout_ns >= 0 ? &ts : NULL);
	err = r < 0 ? errno : 0;
	__atomic_store_n(&t->waiting_on, NULL, __ATOMIC_SEQ_CST);
	now = native_event_time(t);
	native_check_abort(t);

	if (err == ETIMEDOUT) {
		result = 1;
		native_set_state(t, now, HS_TS_RUNNING, HS_R_WORK, -1);
		record_wake(t, start + timeout_ns, -1, now - (start + timeout_ns), why);
	} else if (err == EAGAIN) {
		/* The low half changed before the kernel compared it. */
		result = 2;
		native_set_state(t, now, HS_TS_RUNNING, HS_R_WORK, -1);
	} else {
		int64_t at = (int64_t)__atomic_load_n(&w->shadow[1], __ATOMIC_SEQ_CST);
		int32_t waker = (int32_t)__atomic_load_n(&w->shadow[0], __ATOMIC_SEQ_CST) - 1;
		bool known = err == 0 && at >= start && at <= now;

		result = 0;
		native_set_state(t, now, HS_TS_RUNNING, HS_R_WORK, known ? waker : -1);
		record_wake(t, known ? at : now, known ? waker : -1, known ? now - at : -1, why);
	}
	return result;
}

/*
 * Go's lock2: try the word, spin actively lock_spin times (30 PAUSE
 * instructions each, only with more than one CPU), yield lock_passive_spin
 * times, then mark the lock contended (2) and sleep on its futex.
 * `lock_id` selects the lock statistics, -1 for none.
 */
void native_rtmutex_lock(struct nthread *t, hs_rtmutex *mu, int lock_id)
{
	const struct hs_runtime_profile *rp = &t->run->cfg->runtime;
	int spin = t->run->multi_cpu ? rp->lock_spin : 0;
	uint64_t wait, v;

	if (lock_id >= 0)
		hs_native_env_ops.lock_begin(&t->env, lock_id);
	v = __atomic_exchange_n(&mu->key.value, 1, __ATOMIC_SEQ_CST);
	if (v == 0)
		goto acquired_fast;
	wait = v;
	for (;;) {
		uint64_t zero;

		for (int i = 0; i < spin; i++) {
			while (__atomic_load_n(&mu->key.value, __ATOMIC_SEQ_CST) == 0) {
				zero = 0;
				if (__atomic_compare_exchange_n(&mu->key.value, &zero, wait, false,
								__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
					goto acquired_slow;
			}
			for (int k = 0; k < PROCYIELD_PAUSES; k++) {
#if defined(__x86_64__) || defined(__i386__)
				__builtin_ia32_pause();
#endif
			}
			native_check_abort(t);
		}
		for (int i = 0; i < rp->lock_passive_spin; i++) {
			while (__atomic_load_n(&mu->key.value, __ATOMIC_SEQ_CST) == 0) {
				zero = 0;
				if (__atomic_compare_exchange_n(&mu->key.value, &zero, wait, false,
								__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
					goto acquired_slow;
			}
			t->yields++;
			native_enter_state(t, HS_TS_YIELDING, HS_R_YIELD, -1);
			sched_yield();
			native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);
			native_check_abort(t);
		}
		v = __atomic_exchange_n(&mu->key.value, 2, __ATOMIC_SEQ_CST);
		if (v == 0)
			goto acquired_slow;
		wait = 2;
		futex_block(t, &mu->key, 2, -1, HS_R_LOCK);
	}
acquired_fast:
	if (lock_id >= 0)
		hs_native_env_ops.lock_acquired(&t->env, lock_id, false);
	return;
acquired_slow:
	if (lock_id >= 0)
		hs_native_env_ops.lock_acquired(&t->env, lock_id, true);
}

/* Go's unlock2: release the word and wake one sleeper if it was contended. */
void native_rtmutex_unlock(struct nthread *t, hs_rtmutex *mu, int lock_id)
{
	if (lock_id >= 0)
		hs_native_env_ops.lock_released(&t->env, lock_id);
	if (__atomic_exchange_n(&mu->key.value, 0, __ATOMIC_SEQ_CST) == 2)
		futex_wake_as(t, &mu->key, 1);
}

static int policy_lock_id(struct nrun *run, hs_rtmutex *mu)
{
	if (mu == &run->sched_lock)
		return NATIVE_LOCK_SCHED;
	if (mu == &run->allglock)
		return NATIVE_LOCK_ALLG;
	/* Ids 0 and 1 are the runtime's own locks; a zeroed mutex has no stats. */
	return mu->lock_id >= 2 && mu->lock_id < NATIVE_MAX_LOCKS ? mu->lock_id : -1;
}

/* Maps `bytes` of zeroed memory, its pages faulted in at once when
 * `populate`.  Returns NULL when mmap fails. */
void *native_map_zeroed(size_t bytes, bool populate)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Returns the next M's memory, zeroed, or NULL when the pool is exhausted
 * or a new chunk cannot be mapped.  The pool is mapped, not malloc'd,
 * because a foreign thread's first malloc would create a glibc arena
 * under the address-space lock (see reserve_records).  Like Go's heap,
 * the pool grows by a chunk, so one M creation in NATIVE_M_CHUNK maps one.
 */
static struct nm *m_alloc(struct nrun *run)
{
	uint64_t slot = __atomic_fetch_add(&run->m_slots, 1, __ATOMIC_RELAXED);
	uint64_t c = slot / NATIVE_M_CHUNK;
	struct nm *chunk;

	if (c >= NATIVE_M_CHUNKS)
		return NULL;
	chunk = __atomic_load_n(&run->mpool[c], __ATOMIC_ACQUIRE);
	if (!chunk) {
		pthread_mutex_lock(&run->reg_mu);
		chunk = run->mpool[c];
		if (!chunk) {
			chunk = native_map_zeroed(NATIVE_M_CHUNK * sizeof(*chunk), false);
			if (chunk)
				__atomic_store_n(&run->mpool[c], chunk, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&run->reg_mu);
		if (!chunk)
			return NULL;
	}
	return &chunk[slot % NATIVE_M_CHUNK];
}

struct nm *native_m_lookup(struct nrun *run, uint64_t id)
{
	struct nm **chunk;
	uint64_t c;

	if (id == 0)
		return NULL;
	c = (id - 1) / NATIVE_M_CHUNK;
	if (c >= NATIVE_M_CHUNKS)
		return NULL;
	chunk = __atomic_load_n(&run->mchunks[c], __ATOMIC_ACQUIRE);
	if (!chunk)
		return NULL;
	return __atomic_load_n(&chunk[(id - 1) % NATIVE_M_CHUNK], __ATOMIC_ACQUIRE);
}

/* Gives nm the next id and publishes it in the M table; 0 or HS_E_NOMEM. */
static int m_publish(struct nrun *run, struct nm *nm)
{
	uint64_t id, c;
	struct nm **chunk;
	int rc = 0;

	pthread_mutex_lock(&run->reg_mu);
	id = run->m_count + 1;
	c = (id - 1) / NATIVE_M_CHUNK;
	chunk = c < NATIVE_M_CHUNKS ? run->mchunks[c] : NULL;
	if (c < NATIVE_M_CHUNKS && !chunk) {
		chunk = native_map_zeroed(NATIVE_M_CHUNK * sizeof(*chunk), false);
		if (chunk)
			__atomic_store_n(&run->mchunks[c], chunk, __ATOMIC_RELEASE);
	}
	if (!chunk) {
		rc = HS_E_NOMEM;
	} else {
		run->m_count = id;
		nm->m.id = id;
		nm->rec.id = (int64_t)id;
		__atomic_store_n(&chunk[(id - 1) % NATIVE_M_CHUNK], nm, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&run->reg_mu);
	return rc;
}

static void *map_stack(struct nrun *run, size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		native_violation(run, "mmap of a %zu-byte stack failed: %s", bytes, strerror(errno));
		return NULL;
	}
	*(volatile char *)p = 0; /* first touch, as a fresh stack gets */
	return p;
}

/* Marks the run aborted and unwinds t: used when the run cannot go on. */
static void fail_run(struct nthread *t)
{
	__atomic_store_n(&t->run->abort, 1, __ATOMIC_SEQ_CST);
	native_check_abort(t);
	abort(); /* unreachable: every thread that calls a primitive can unwind */
}

/* ---- The primitives ---- */

static uint64_t op_load(hs_env *env, hs_word *w)
{
	entry(env);
	return __atomic_load_n(&w->value, __ATOMIC_SEQ_CST);
}

static void op_store(hs_env *env, hs_word *w, uint64_t v)
{
	entry(env);
	__atomic_store_n(&w->value, v, __ATOMIC_SEQ_CST);
}

static bool op_cas(hs_env *env, hs_word *w, uint64_t *expected, uint64_t desired)
{
	struct nthread *t = entry(env);

	if (__atomic_compare_exchange_n(&w->value, expected, desired, false, __ATOMIC_SEQ_CST,
					__ATOMIC_SEQ_CST))
		return true;
	t->cas_failures++;
	return false;
}

static uint64_t op_fetch_add(hs_env *env, hs_word *w, uint64_t delta)
{
	entry(env);
	return __atomic_fetch_add(&w->value, delta, __ATOMIC_SEQ_CST);
}

static uint64_t op_exchange(hs_env *env, hs_word *w, uint64_t v)
{
	entry(env);
	return __atomic_exchange_n(&w->value, v, __ATOMIC_SEQ_CST);
}

static void op_yield(hs_env *env)
{
	struct nthread *t = entry(env);

	check_stop(t, 1);
	t->yields++;
	native_enter_state(t, HS_TS_YIELDING, HS_R_YIELD, -1);
	sched_yield();
	native_enter_state(t, HS_TS_RUNNING, HS_R_WORK, -1);
}

static void op_sleep(hs_env *env, int64_t ns)
{
	struct nthread *t = entry(env);

	check_stop(t, 1);
	t->sleeps++;
	native_timed_sleep(t, ns, HS_R_USLEEP, true);
}

static int op_futex_wait(hs_env *env, hs_word *w, uint64_t expected, int64_t timeout_ns)
{
	struct nthread *t = entry(env);

	check_stop(t, 1);
	return futex_block(t, w, expected, timeout_ns, HS_R_FUTEX);
}

static int op_futex_wake(hs_env *env, hs_word *w, int n)
{
	return futex_wake_as(entry(env), w, n);
}

static void op_lock(hs_env *env, hs_rtmutex *mu)
{
	struct nthread *t = entry(env);

	native_rtmutex_lock(t, mu, policy_lock_id(t->run, mu));
}

static void op_unlock(hs_env *env, hs_rtmutex *mu)
{
	struct nthread *t = entry(env);

	native_rtmutex_unlock(t, mu, policy_lock_id(t->run, mu));
}

/*
 * Go's oneNewExtraM: allocm's work, an M id under sched.lock, the stacks
 * (a 32 KiB signal stack and a 4 KiB goroutine stack, both mmap'd), the
 * goroutine under allglock.
 */
static hs_m *op_new_m(hs_env *env, const char *reason)
{
	struct nthread *t = entry(env);
	struct nrun *run = t->run;
	const struct hs_runtime_profile *rp = &run->cfg->runtime;
	struct nm *nm = m_alloc(run);

	if (!nm) {
		native_violation(run, "out of memory allocating an M, or more than %d M's",
				 NATIVE_M_CHUNK * NATIVE_M_CHUNKS);
		fail_run(t);
	}
	native_spin(t, rp->allocm_ns);
	nm->sigstack = map_stack(run, NATIVE_SIGSTACK_BYTES);

	native_rtmutex_lock(t, &run->sched_lock, NATIVE_LOCK_SCHED);
	if (m_publish(run, nm) < 0) {
		native_rtmutex_unlock(t, &run->sched_lock, NATIVE_LOCK_SCHED);
		native_violation(run, "the M table is full or out of memory (%d M's at most)",
				 NATIVE_M_CHUNK * NATIVE_M_CHUNKS);
		fail_run(t);
	}
	native_spin(t, rp->sched_lock_hold_ns);
	native_rtmutex_unlock(t, &run->sched_lock, NATIVE_LOCK_SCHED);

	native_spin(t, rp->malg_ns);
	nm->gstack = map_stack(run, NATIVE_GSTACK_BYTES);
	native_rtmutex_lock(t, &run->allglock, NATIVE_LOCK_ALLG);
	native_spin(t, rp->allgadd_ns);
	native_rtmutex_unlock(t, &run->allglock, NATIVE_LOCK_ALLG);

	/* stamped when the M is ready, as the simulator stamps it */
	nm->rec.created_ns = native_now(run);
	nm->rec.created_by = t->id;
	snprintf(nm->rec.reason, sizeof(nm->rec.reason), "%s", reason ? reason : "");
	return &nm->m;
}

static void op_free_m(hs_env *env, hs_m *m)
{
	struct nthread *t = entry(env);
	struct nm *nm = m ? native_m_lookup(t->run, m->id) : NULL;

	if (!nm || &nm->m != m) {
		native_violation(t->run, "free_m was given an M that new_m did not allocate (id %llu)",
				 m ? (unsigned long long)m->id : 0ULL);
		return;
	}
	if (__atomic_exchange_n(&nm->freed, 1, __ATOMIC_SEQ_CST)) {
		native_violation(t->run, "M %llu was freed twice", (unsigned long long)m->id);
		return;
	}
	/* The struct stays until the end of the run: ids and owners refer to it. */
	if (nm->sigstack)
		munmap(nm->sigstack, NATIVE_SIGSTACK_BYTES);
	if (nm->gstack)
		munmap(nm->gstack, NATIVE_GSTACK_BYTES);
	nm->sigstack = nm->gstack = NULL;
	__atomic_fetch_add(&t->run->m_freed, 1, __ATOMIC_SEQ_CST);
}

static void op_work(hs_env *env, int64_t ns)
{
	native_spin(entry(env), ns);
}

/*
 * The signal system calls of one phase, as many as the runtime profile
 * says (needm_syscalls, dropm_syscalls).  NEEDM: block every signal saving
 * the mask, read the alternate stack, install this thread's signal stack,
 * restore the mask, read the mask.  DROPM: block every signal, disable the
 * alternate stack, restore the mask.  Calls beyond that list repeat the
 * read of the mask.
 *
 * NOTE: the installed stack is the calling thread's own 32 KiB signal
 * stack, not the M's, because signals() is not told which M the thread is
 * about to hold.  The number and kind of system calls are the same.  A
 * foreign thread's lies in its entry frame, so no call maps memory, as in
 * Go; another thread's is mapped on its first call.
 */
static void op_signals(hs_env *env, enum hs_sig_phase phase)
{
	struct nthread *t = entry(env);
	const struct hs_runtime_profile *rp = &t->run->cfg->runtime;
	int n = phase == HS_SIG_NEEDM ? rp->needm_syscalls : rp->dropm_syscalls;
	sigset_t all, old, cur;
	stack_t ss = { 0 }, oss;

	sigfillset(&all);
	sigemptyset(&old);
	if (!t->sigstack)
		t->sigstack = map_stack(t->run, NATIVE_SIGSTACK_BYTES);
	ss.ss_sp = t->sigstack;
	ss.ss_size = NATIVE_SIGSTACK_BYTES;
	ss.ss_flags = phase == HS_SIG_NEEDM && t->sigstack ? 0 : SS_DISABLE;

	static const int needm_calls[] = { 0, 1, 2, 3 };
	static const int dropm_calls[] = { 0, 2, 3 };
	const int *calls = phase == HS_SIG_NEEDM ? needm_calls : dropm_calls;
	int ncalls = phase == HS_SIG_NEEDM ? 4 : 3;

	for (int i = 0; i < n; i++) {
		switch (i < ncalls ? calls[i] : 4) {
		case 0:
			pthread_sigmask(SIG_SETMASK, &all, &old);
			break;
		case 1:
			sigaltstack(NULL, &oss);
			break;
		case 2:
			sigaltstack(&ss, NULL);
			break;
		case 3:
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			break;
		default:
			pthread_sigmask(SIG_BLOCK, NULL, &cur);
			break;
		}
	}
}

/* Runtime daemons, started from init only (the main thread). */
static int op_spawn(hs_env *env, const char *name, void (*fn)(hs_env *env, void *arg), void *arg)
{
	struct nthread *t = entry(env);
	struct nrun *run = t->run;
	struct nthread *d;

	if (t != &run->main_thread) {
		native_violation(run, "spawn(\"%s\") was called outside init", name ? name : "");
		return -1;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -1;
	native_thread_init(run, d, -1, HS_THREAD_RUNTIME, name ? name : "daemon");
	d->fn = fn;
	d->arg = arg;
	if (native_register_thread(run, d) < 0) {
		free(d);
		return -1;
	}
	return native_start_thread(run, d, 0, native_runtime_entry) < 0 ? -1 : 0;
}

static int64_t op_now(hs_env *env)
{
	return native_now(entry(env)->run);
}

static int op_lock_register(hs_env *env, const char *name)
{
	struct nthread *t = entry(env);
	struct nrun *run = t->run;

	if (t != &run->main_thread || run->nlocks >= NATIVE_MAX_LOCKS)
		return -1;
	snprintf(run->lock_names[run->nlocks], sizeof(run->lock_names[0]), "%s", name);
	return run->nlocks++;
}

static struct nlockacc *lock_acc(struct nthread *t, int lock_id)
{
	return lock_id >= 0 && lock_id < NATIVE_MAX_LOCKS ? &t->locks[lock_id] : NULL;
}

static void op_lock_begin(hs_env *env, int lock_id)
{
	struct nthread *t = entry(env);
	struct nlockacc *a = lock_acc(t, lock_id);

	if (a)
		a->begin_stamp = stamp();
}

static void minmax(int64_t v, uint64_t n, int64_t *min, int64_t *max, int64_t *total)
{
	if (n == 1 || v < *min)
		*min = v;
	if (n == 1 || v > *max)
		*max = v;
	*total += v;
}

static void op_lock_acquired(hs_env *env, int lock_id, bool contended)
{
	struct nthread *t = entry(env);
	struct nlockacc *a = lock_acc(t, lock_id);
	int64_t now;
	int cpu, prev;

	if (!a)
		return;
	now = stamp();
	cpu = sched_getcpu();
	a->st.acquisitions++;
	if (contended)
		a->st.contentions++;
	minmax(a->begin_stamp >= 0 ? stamp_ns(now, a->begin_stamp) : 0, a->st.acquisitions,
	       &a->st.wait_min_ns, &a->st.wait_max_ns, &a->st.wait_total_ns);
	/* The caller holds the lock, which orders these accesses among its
	 * holders, so the word is written only when the CPU changed instead
	 * of exchanged at every acquisition. */
	prev = __atomic_load_n(&t->run->lock_last_cpu[lock_id], __ATOMIC_RELAXED);
	if (prev != cpu)
		__atomic_store_n(&t->run->lock_last_cpu[lock_id], cpu, __ATOMIC_RELAXED);
	if (prev >= 0 && cpu >= 0 && prev != cpu) {
		a->st.acquisition_bounces++;
		if (contended)
			a->st.contention_bounces++;
	}
	a->begin_stamp = -1;
	a->acquired_stamp = now;
}

static void op_lock_released(hs_env *env, int lock_id)
{
	struct nthread *t = entry(env);
	struct nlockacc *a = lock_acc(t, lock_id);

	if (!a || a->acquired_stamp < 0)
		return;
	a->holds++;
	minmax(stamp_ns(stamp(), a->acquired_stamp), a->holds, &a->st.hold_min_ns,
	       &a->st.hold_max_ns, &a->st.hold_total_ns);
	a->acquired_stamp = -1;
}

static void op_gauge(hs_env *env, const char *name, int64_t value)
{
	struct nthread *t = entry(env);
	struct hs_gauge_rec *g;

	if (!t->run->events || t->id < 0)
		return;
	g = HS_VEC_PUSH(&t->gauges);
	if (!g) {
		native_violation(t->run, "out of memory while recording gauges");
		return;
	}
	g->time_ns = native_now(t->run);
	g->thread = t->id;
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->value = value;
}

static void **op_thread_slot(hs_env *env)
{
	return &entry(env)->slot;
}

/* splitmix64 */
static uint64_t op_random(hs_env *env)
{
	struct nthread *t = entry(env);
	uint64_t z = (t->rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

const struct hs_env_ops hs_native_env_ops = {
	.load = op_load,
	.store = op_store,
	.cas = op_cas,
	.fetch_add = op_fetch_add,
	.exchange = op_exchange,
	.yield = op_yield,
	.sleep = op_sleep,
	.futex_wait = op_futex_wait,
	.futex_wake = op_futex_wake,
	.lock = op_lock,
	.unlock = op_unlock,
	.new_m = op_new_m,
	.free_m = op_free_m,
	.work = op_work,
	.signals = op_signals,
	.spawn = op_spawn,
	.now = op_now,
	.lock_register = op_lock_register,
	.lock_begin = op_lock_begin,
	.lock_acquired = op_lock_acquired,
	.lock_released = op_lock_released,
	.gauge = op_gauge,
	.thread_slot = op_thread_slot,
	.random = op_random,
};

/* ---- Threads ---- */

/*
 * Allocates t's record vectors in the thread that creates t, so that t
 * never calls malloc.  A thread's first malloc creates a glibc arena with
 * mmap, munmap and mprotect under the address-space lock, and a Go
 * program's threads make no such calls.  A later growth is a realloc,
 * which stays in the arena the vector came from.  A vector that cannot be
 * allocated here is allocated at its first record.
 */
static void reserve_records(struct nrun *run, struct nthread *t)
{
	int callbacks = run->cfg->scenario.callbacks;

	HS_VEC_RESERVE(&t->latencies, callbacks > 0 && callbacks < 4096 ? (size_t)callbacks : 4096);
	if (run->req->record_workload)
		HS_VEC_RESERVE(&t->workload, 16);
	if (run->events) {
		HS_VEC_RESERVE(&t->states, 64);
		HS_VEC_RESERVE(&t->wakes, 16);
		HS_VEC_RESERVE(&t->callbacks, 16);
		HS_VEC_RESERVE(&t->gauges, 16);
	}
}

void native_thread_init(struct nrun *run, struct nthread *t, int32_t id, enum hs_thread_kind kind,
			const char *name)
{
	memset(t, 0, sizeof(*t));
	t->env.ops = &hs_native_env_ops;
	t->run = run;
	t->id = id;
	t->kind = kind;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->exited_ns = -1;
	t->replay_index = -1;
	t->wake_pending_row = -1;
	t->cur_state = HS_TS_RUNNABLE;
	t->cur_reason = HS_R_CREATE;
	t->cur_waker = -1;
	for (int i = 0; i < NATIVE_MAX_LOCKS; i++)
		t->locks[i].begin_stamp = t->locks[i].acquired_stamp = -1;
	pthread_cond_init(&t->p_cv, NULL);
	reserve_records(run, t);
}

void native_thread_free(struct nthread *t)
{
	HS_VEC_FREE(&t->states);
	HS_VEC_FREE(&t->wakes);
	HS_VEC_FREE(&t->callbacks);
	HS_VEC_FREE(&t->gauges);
	HS_VEC_FREE(&t->latencies);
	HS_VEC_FREE(&t->workload);
	if (t->sigstack && !t->sigstack_on_stack)
		munmap(t->sigstack, NATIVE_SIGSTACK_BYTES);
	t->sigstack = NULL;
	/* The thread was joined (or never started), so its stack is unused. */
	if (t->stack_map)
		munmap(t->stack_map, t->stack_map_bytes);
	t->stack_map = NULL;
	pthread_cond_destroy(&t->p_cv);
}

/* Adds t to the registry; its id is its index, and its random stream is
 * seeded from the run seed and that id.  0 or HS_E_NOMEM. */
int native_register_thread(struct nrun *run, struct nthread *t)
{
	struct nthread **slot;
	int rc = 0;

	pthread_mutex_lock(&run->reg_mu);
	slot = HS_VEC_PUSH(&run->threads);
	if (!slot) {
		rc = HS_E_NOMEM;
	} else {
		*slot = t;
		t->id = (int32_t)(run->threads.len - 1);
		t->rng = run->req->seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(t->id + 1));
	}
	pthread_mutex_unlock(&run->reg_mu);
	return rc;
}

/*
 * Wakes every thread that may be blocked: the runtime's condition variables
 * and the futex word each thread waits on.  The run calls it repeatedly
 * while it aborts or stops, because a thread may publish its word just
 * after one pass (a wake before the wait is lost, the next pass finds it).
 */
void native_wake_waiters(struct nrun *run)
{
	pthread_mutex_lock(&run->reg_mu);
	pthread_mutex_lock(&run->rt_mu);
	for (int i = 0; i < NATIVE_NCV; i++)
		pthread_cond_broadcast(&run->rt_cv[i]);
	for (size_t i = 0; i < run->threads.len; i++)
		pthread_cond_broadcast(&run->threads.data[i]->p_cv);
	pthread_mutex_unlock(&run->rt_mu);

	for (size_t i = 0; i < run->threads.len; i++) {
		hs_word *w = __atomic_load_n(&run->threads.data[i]->waiting_on, __ATOMIC_SEQ_CST);

		if (w)
			sys_futex(futex_addr(w), FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
	}
	pthread_mutex_unlock(&run->reg_mu);
}
