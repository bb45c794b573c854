/*
 * Pinned calibration figures: sched_yield, futex wake-to-run, the waker's
 * CPU time of a futex wake, cache line transfers between two CPUs, the CPU cost of a usleep(1) cycle, and the
 * hop cost of a futex token ring by the number of threads in it.
 *
 * The calling thread is pinned with sched_setaffinity to r->cpu_a (and
 * its affinity restored before hs_calib_measure_sched returns, on every
 * path); each peer thread is created pinned, to cpu_a for same-CPU
 * figures or to cpu_b for cross-CPU ones, and joined before the figure
 * ends.  Threads share state only through C11 atomics; timestamps cross
 * threads as CLOCK_MONOTONIC nanoseconds in an atomic.
 *
 * The timed loops spin without a pause hint, so a handoff is seen as soon
 * as the line arrives.  Waits outside a timed section use the hint.
 */
#include "calibrate_impl.h"

#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define LINE_STRIDE 128 /* two 64-byte lines: keeps the adjacent-line prefetcher out */
#define CHAIN_LINES 256
#define HANDOFF_ROUND_TRIPS 200
#define YIELD_BATCH 100
#define REMOTE_WAKE_GAP_NS 100000 /* lets the other CPU go idle between wakes */
#define SEND_WARM_NS 100000       /* the waker runs this long before each timed wake */
#define CYCLE_WARMUP_NS 20000000  /* the pollers reach a steady state */
#define CYCLE_WINDOW_NS 5000000   /* wall time of one sleep_cycle sample */
#define SPINNER_GAP_NS 1000       /* a longer step of the spinner's loop is time away from it */
#define RING_STACK_BYTES (64 * 1024) /* 512 ring threads map 32 MiB of stack */
#define RING_WARMUP_NS 20000000   /* every ring thread has run and faulted its stack in */
#define RING_WINDOW_NS 1000000    /* wall time of one futex_ring_K sample */
#define RING_WINDOWS 20           /* futex_ring_K samples at scale 1 */
#define RING_ROUNDS 4             /* turns of the rings; see measure_rings */
#define RING_RETRIES 4            /* tries per futex_ring_K window requested */
#define TIMER_LEAD_NS 200000      /* a round's timer expires this far ahead */
#define TIMER_LATER_NS 10000000   /* the second timer, past the first and the tick */
#define TIMER_BEFORE_NS 20000     /* gaps count from this long before the expiry */
#define TIMER_AFTER_NS 60000      /* until this long after it */
#define TIMER_ROUNDS 2000         /* samples per figure at scale 1 */

static volatile int64_t sink;

static long futex_wait(_Atomic uint32_t *addr, uint32_t expected)
{
	return syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static int pin_caller(int cpu, struct hs_error *err)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		return hs_calib_fail(err, "sched_setaffinity", errno);
	return 0;
}

/* Starts fn(arg) pinned to cpu, with a stack of stack_bytes (0: the
 * default size).  With `fair` the thread runs under SCHED_OTHER whatever
 * the caller's policy.  Otherwise it inherits the caller's policy, as
 * glibc's threads do by default. */
static int start_pinned_attr(pthread_t *thread, int cpu, size_t stack_bytes, bool fair,
			     void *(*fn)(void *), void *arg, struct hs_error *err)
{
	struct sched_param other = { .sched_priority = 0 };
	pthread_attr_t attr;
	cpu_set_t set;
	int rc;

	if ((rc = pthread_attr_init(&attr)) != 0)
		return hs_calib_fail(err, "pthread_attr_init", rc);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	rc = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (rc == 0 && stack_bytes > 0)
		rc = pthread_attr_setstacksize(&attr, stack_bytes);
	if (rc == 0 && fair)
		rc = pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	if (rc == 0 && fair)
		rc = pthread_attr_setschedpolicy(&attr, SCHED_OTHER);
	if (rc == 0 && fair)
		rc = pthread_attr_setschedparam(&attr, &other);
	if (rc == 0)
		rc = pthread_create(thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return rc ? hs_calib_fail(err, "pthread_create", rc) : 0;
}

static int start_pinned_stack(pthread_t *thread, int cpu, size_t stack_bytes,
			      void *(*fn)(void *), void *arg, struct hs_error *err)
{
	return start_pinned_attr(thread, cpu, stack_bytes, false, fn, arg, err);
}

static int start_pinned(pthread_t *thread, int cpu, void *(*fn)(void *), void *arg,
			struct hs_error *err)
{
	return start_pinned_stack(thread, cpu, 0, fn, arg, err);
}

/* ---- sched_yield ---- */

static int measure_yield_alone(const struct hs_calib_opts *o, struct hs_calib_report *r,
			       struct hs_error *err)
{
	struct hs_calib_sampler s;
	int rc = hs_calib_sampler_begin(&s, o, "yield_alone", 2000, err);

	if (rc)
		return rc;
	while (hs_calib_sampler_more(&s)) {
		int64_t t0 = hs_calib_now();

		for (int i = 0; i < YIELD_BATCH; i++)
			sched_yield();
		hs_calib_sampler_add(&s, hs_calib_mean_ns(hs_calib_now() - t0, YIELD_BATCH));
	}
	hs_calib_sampler_end(&s, r);
	return 0;
}

struct yield_peer {
	_Atomic int stop;
	_Atomic long runs; /* times the peer got the CPU */
};

static void *yield_peer_thread(void *arg)
{
	struct yield_peer *y = arg;

	while (!atomic_load(&y->stop)) {
		atomic_fetch_add(&y->runs, 1);
		sched_yield();
	}
	return NULL;
}

/* A sample counts only if the peer ran exactly once during the yield:
 * then the call contained two switches and two yields. */
static int measure_yield_peer(const struct hs_calib_opts *o, struct hs_calib_report *r,
			      struct hs_error *err)
{
	struct yield_peer y = { 0, 0 };
	struct hs_calib_sampler s;
	pthread_t peer;
	int rc = start_pinned(&peer, r->cpu_a, yield_peer_thread, &y, err);

	if (rc)
		return rc;
	rc = hs_calib_sampler_begin(&s, o, "yield_peer", 20000, err);
	if (rc == 0) {
		while (hs_calib_sampler_more(&s)) {
			long runs0 = atomic_load(&y.runs);
			int64_t t0 = hs_calib_now();
			int64_t t1;

			sched_yield();
			t1 = hs_calib_now();
			if (atomic_load(&y.runs) - runs0 == 1)
				hs_calib_sampler_add(&s, t1 - t0);
			else
				r->yield_peer_rejected++;
		}
		hs_calib_sampler_end(&s, r);
	}
	atomic_store(&y.stop, 1);
	pthread_join(peer, NULL);
	return rc;
}

/* ---- futex wake-to-run ---- */

struct wake_pair {
	_Atomic uint32_t go;  /* 1: the waiter should run */
	_Atomic uint32_t ack; /* 1: the waiter has taken its timestamp */
	_Atomic int64_t woken_at_ns;
	_Atomic int64_t latency_ns; /* -1: the waiter never blocked */
	_Atomic int stop;
};

static void *wake_waiter_thread(void *arg)
{
	struct wake_pair *w = arg;

	for (;;) {
		bool slept = false;
		int64_t now;

		while (atomic_load(&w->go) == 0)
			if (futex_wait(&w->go, 0) == 0)
				slept = true;
		if (atomic_load(&w->stop))
			break;
		now = hs_calib_now();
		atomic_store(&w->latency_ns, slept ? now - atomic_load(&w->woken_at_ns) : -1);
		atomic_store(&w->go, 0);
		atomic_store(&w->ack, 1);
		futex_wake(&w->ack);
	}
	return NULL;
}

/*
 * Same CPU: the waker blocks on ack right after the wake, as a thread
 * handing work over does, so the sample is the wake system call plus the
 * switch.  Other CPU: the waker sleeps first so that the waiter's CPU is
 * idle, then spins for the ack so that its own wake-up is not counted.
 */
static int measure_wake(const struct hs_calib_opts *o, struct hs_calib_report *r,
			bool remote, struct hs_error *err)
{
	const char *name = remote ? "futex_wake_remote" : "futex_wake_local";
	int *rejected = remote ? &r->futex_remote_rejected : &r->futex_local_rejected;
	struct timespec gap = { 0, REMOTE_WAKE_GAP_NS };
	struct wake_pair w = { 0, 0, 0, 0, 0 };
	struct hs_calib_sampler s;
	pthread_t waiter;
	int rc = start_pinned(&waiter, remote ? r->cpu_b : r->cpu_a, wake_waiter_thread, &w, err);

	if (rc)
		return rc;
	rc = hs_calib_sampler_begin(&s, o, name, remote ? 6000 : 20000, err);
	while (rc == 0 && hs_calib_sampler_more(&s)) {
		int64_t latency;

		if (remote)
			nanosleep(&gap, NULL);
		atomic_store(&w.ack, 0);
		atomic_store(&w.woken_at_ns, hs_calib_now());
		atomic_store(&w.go, 1);
		futex_wake(&w.go);
		if (remote) {
			while (atomic_load(&w.ack) == 0)
				hs_calib_cpu_relax();
		} else {
			while (atomic_load(&w.ack) == 0)
				futex_wait(&w.ack, 0);
		}
		latency = atomic_load(&w.latency_ns);
		if (latency >= 0)
			hs_calib_sampler_add(&s, latency);
		else
			(*rejected)++;
	}
	if (rc == 0)
		hs_calib_sampler_end(&s, r);

	atomic_store(&w.stop, 1);
	atomic_store(&w.go, 1);
	futex_wake(&w.go);
	pthread_join(waiter, NULL);
	return rc;
}

/* ---- the waker's CPU time of a wake-up ---- */

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct send_pair {
	_Atomic uint32_t go;
	_Atomic uint64_t runs; /* times the waiter has woken */
	_Atomic int stop;
	bool idle_policy;      /* the waiter runs under SCHED_IDLE */
};

static void *send_waiter_thread(void *arg)
{
	struct send_pair *w = arg;

	if (w->idle_policy) {
		struct sched_param sp = { 0 };

		/* Failure leaves the waiter free to preempt the waker, and
		 * the caller rejects the samples where it did. */
		(void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	}
	while (!atomic_load(&w->stop)) {
		while (atomic_load(&w->go) == 0)
			futex_wait(&w->go, 0);
		atomic_fetch_add(&w->runs, 1);
		atomic_store(&w->go, 0);
	}
	return NULL;
}

static void *busy_thread(void *arg)
{
	_Atomic int *stop = arg;

	while (!atomic_load_explicit(stop, memory_order_relaxed))
		;
	return NULL;
}

/*
 * thread_cpu_pair: two back-to-back reads of CLOCK_THREAD_CPUTIME_ID, the
 * part of a futex_wake_send sample that is not the wake.
 */
static int measure_cpu_pair(const struct hs_calib_opts *o, struct hs_calib_report *r,
			    struct hs_error *err)
{
	struct hs_calib_sampler s;
	int rc = hs_calib_sampler_begin(&s, o, "thread_cpu_pair", 2000, err);

	while (rc == 0 && hs_calib_sampler_more(&s)) {
		int64_t a = thread_cpu_ns();

		hs_calib_sampler_add(&s, thread_cpu_ns() - a);
	}
	if (rc == 0)
		hs_calib_sampler_end(&s, r);
	return rc;
}

/*
 * futex_wake_send_local and futex_wake_send_remote: the waker's own CPU
 * time (CLOCK_THREAD_CPUTIME_ID around the call) of a FUTEX_WAKE that
 * readies a blocked thread.  The waker has run for SEND_WARM_NS before
 * each wake, as a thread that hands work over has, because a waker fresh
 * from an idle CPU takes about twice as long.  Same CPU: the waiter runs
 * under SCHED_IDLE, so it never preempts the waker, and a sample where it
 * ran between the two reads anyway is rejected.  The waker's sleep before
 * the warm-up (1 us asked, about the timer slack in fact) lets the waiter
 * block again.  Other CPU: a spinning thread keeps the waiter's CPU busy,
 * as in a loaded run, where a wake-up queues the thread behind a running
 * one.  A wake that found no blocked thread
 * is rejected.
 */
static int measure_wake_send(const struct hs_calib_opts *o, struct hs_calib_report *r,
			     bool remote, struct hs_error *err)
{
	const char *name = remote ? "futex_wake_send_remote" : "futex_wake_send_local";
	int *rejected = remote ? &r->send_remote_rejected : &r->send_local_rejected;
	struct timespec nap = { 0, 1000 };
	struct send_pair w;
	struct hs_calib_sampler s;
	pthread_t waiter, busy;
	_Atomic int busy_stop;
	bool busy_started = false;
	int rc;

	atomic_init(&w.go, 0);
	atomic_init(&w.runs, 0);
	atomic_init(&w.stop, 0);
	atomic_init(&busy_stop, 0);
	w.idle_policy = !remote;
	if (remote) {
		rc = start_pinned(&busy, r->cpu_b, busy_thread, &busy_stop, err);
		if (rc)
			return rc;
		busy_started = true;
	}
	rc = start_pinned(&waiter, remote ? r->cpu_b : r->cpu_a, send_waiter_thread, &w, err);
	if (rc) {
		atomic_store(&busy_stop, 1);
		if (busy_started)
			pthread_join(busy, NULL);
		return rc;
	}
	rc = hs_calib_sampler_begin(&s, o, name, 4000, err);
	while (rc == 0 && hs_calib_sampler_more(&s)) {
		int64_t warm, a, b;
		uint64_t runs;
		long woken;

		nanosleep(&nap, NULL);
		warm = hs_calib_now();
		while (hs_calib_now() - warm < SEND_WARM_NS)
			;
		runs = atomic_load(&w.runs);
		a = thread_cpu_ns();
		atomic_store(&w.go, 1);
		woken = syscall(SYS_futex, (uint32_t *)&w.go, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		b = thread_cpu_ns();
		if (woken == 1 && (remote || atomic_load(&w.runs) == runs))
			hs_calib_sampler_add(&s, b - a);
		else
			(*rejected)++;
		while (atomic_load(&w.go) != 0)
			nanosleep(&nap, NULL);
	}
	if (rc == 0)
		hs_calib_sampler_end(&s, r);

	atomic_store(&w.stop, 1);
	atomic_store(&w.go, 1);
	futex_wake(&w.go);
	pthread_join(waiter, NULL);
	atomic_store(&busy_stop, 1);
	if (busy_started)
		pthread_join(busy, NULL);
	return rc;
}

/* ---- cache line transfers ---- */

struct handoff {
	_Alignas(LINE_STRIDE) _Atomic uint64_t word; /* even: caller's turn */
	_Alignas(LINE_STRIDE) _Atomic int stop;
};

static void *handoff_peer_thread(void *arg)
{
	struct handoff *h = arg;
	uint64_t want = 1;

	for (;;) {
		uint64_t v = atomic_load_explicit(&h->word, memory_order_acquire);

		if (v == want) {
			atomic_compare_exchange_strong(&h->word, &v, v + 1);
			want += 2;
		} else if (atomic_load_explicit(&h->stop, memory_order_relaxed)) {
			break;
		}
	}
	return NULL;
}

/* Plays HANDOFF_ROUND_TRIPS round trips from *mine; returns the time. */
static int64_t handoff_batch(struct handoff *h, uint64_t *mine)
{
	int64_t t0 = hs_calib_now();

	for (int k = 0; k < HANDOFF_ROUND_TRIPS; k++) {
		uint64_t v = *mine;

		while (atomic_load_explicit(&h->word, memory_order_acquire) != *mine)
			;
		atomic_compare_exchange_strong(&h->word, &v, v + 1);
		*mine += 2;
	}
	while (atomic_load_explicit(&h->word, memory_order_acquire) != *mine)
		;
	return hs_calib_now() - t0;
}

static int measure_handoff(const struct hs_calib_opts *o, struct hs_calib_report *r,
			   struct hs_error *err)
{
	struct handoff h;
	struct hs_calib_sampler s;
	pthread_t peer;
	uint64_t mine = 0;
	int rc;

	atomic_init(&h.word, 0);
	atomic_init(&h.stop, 0);
	if ((rc = start_pinned(&peer, r->cpu_b, handoff_peer_thread, &h, err)) != 0)
		return rc;
	rc = hs_calib_sampler_begin(&s, o, "cas_handoff", 5000, err);
	if (rc == 0) {
		handoff_batch(&h, &mine); /* warm-up: the peer starts */
		while (hs_calib_sampler_more(&s))
			hs_calib_sampler_add(&s, hs_calib_mean_ns(handoff_batch(&h, &mine),
								     2 * HANDOFF_ROUND_TRIPS));
		hs_calib_sampler_end(&s, r);
	}
	atomic_store(&h.stop, 1);
	pthread_join(peer, NULL);
	return rc;
}

struct chain_line {
	_Alignas(LINE_STRIDE) _Atomic uint32_t next;
};

/* The peer rewrites every line of the chain on request, so that each one
 * is modified in the peer's cache when the caller loads it. */
struct chain {
	struct chain_line *lines;
	uint32_t perm[CHAIN_LINES];
	_Alignas(LINE_STRIDE) _Atomic uint32_t request;
	_Alignas(LINE_STRIDE) _Atomic uint32_t done;
	_Atomic int stop;
};

static void *chain_peer_thread(void *arg)
{
	struct chain *c = arg;
	uint32_t seen = 0;

	for (;;) {
		uint32_t q;

		while ((q = atomic_load(&c->request)) == seen)
			hs_calib_cpu_relax();
		seen = q;
		if (atomic_load(&c->stop))
			break;
		for (int i = 0; i < CHAIN_LINES; i++)
			atomic_store_explicit(&c->lines[i].next, c->perm[i], memory_order_relaxed);
		atomic_store_explicit(&c->done, q, memory_order_release);
	}
	return NULL;
}

/* Follows the chain once; each load depends on the one before. */
static int64_t chase(const struct chain *c)
{
	uint32_t idx = 0;
	int64_t t0 = hs_calib_now();

	for (int i = 0; i < CHAIN_LINES; i++)
		idx = atomic_load_explicit(&c->lines[idx].next, memory_order_relaxed);
	sink += idx;
	return hs_calib_mean_ns(hs_calib_now() - t0, CHAIN_LINES);
}

/* A random cyclic permutation (Sattolo's algorithm) from a fixed seed, so
 * the chain visits every line in an order no prefetcher predicts. */
static void make_cycle(uint32_t *perm)
{
	uint64_t state = 0x9e3779b97f4a7c15ULL;

	for (uint32_t i = 0; i < CHAIN_LINES; i++)
		perm[i] = i;
	for (uint32_t i = CHAIN_LINES - 1; i > 0; i--) {
		uint32_t j, t;

		state = state * 6364136223846793005ULL + 1442695040888963407ULL;
		j = (uint32_t)((state >> 33) % i);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}

/* Measures load_local, and load_remote when there is a second CPU. */
static int measure_loads(const struct hs_calib_opts *o, struct hs_calib_report *r,
			 struct hs_error *err)
{
	bool remote = r->cpu_b >= 0;
	struct hs_calib_sampler local_s, remote_s;
	struct chain *c;
	pthread_t peer;
	uint32_t round = 0;
	int rc;

	c = aligned_alloc(LINE_STRIDE, sizeof(*c));
	if (!c)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, "load_remote", "out of memory");
	memset(c, 0, sizeof(*c));
	c->lines = aligned_alloc(LINE_STRIDE, sizeof(struct chain_line) * CHAIN_LINES);
	if (!c->lines) {
		free(c);
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, "load_remote", "out of memory");
	}
	make_cycle(c->perm);
	for (int i = 0; i < CHAIN_LINES; i++)
		atomic_init(&c->lines[i].next, c->perm[i]);

	if (remote && (rc = start_pinned(&peer, r->cpu_b, chain_peer_thread, c, err)) != 0)
		goto out_free;
	if ((rc = hs_calib_sampler_begin(&local_s, o, "load_local", 2000, err)) != 0)
		goto out_peer;
	if (remote && (rc = hs_calib_sampler_begin(&remote_s, o, "load_remote", 2000, err)) != 0) {
		hs_calib_sampler_abort(&local_s);
		goto out_peer;
	}
	while (hs_calib_sampler_more(&local_s)) {
		if (remote) {
			atomic_store(&c->request, ++round);
			while (atomic_load_explicit(&c->done, memory_order_acquire) != round)
				hs_calib_cpu_relax();
			hs_calib_sampler_add(&remote_s, chase(c));
		} else {
			chase(c); /* brings the lines into this CPU's cache */
		}
		hs_calib_sampler_add(&local_s, chase(c));
	}
	hs_calib_sampler_end(&local_s, r);
	if (remote)
		hs_calib_sampler_end(&remote_s, r);
	else
		hs_calib_skip_figure(r, "load_remote");

out_peer:
	if (remote) {
		atomic_store(&c->stop, 1);
		atomic_store(&c->request, ++round);
		pthread_join(peer, NULL);
	}
out_free:
	free(c->lines);
	free(c);
	return rc;
}

/* ---- usleep(1) cycles of pollers sharing one CPU ---- */

struct pollers {
	_Atomic long cycles; /* usleep(1) calls returned, all pollers */
	_Atomic int stop;
};

static void *poller_thread(void *arg)
{
	struct pollers *p = arg;

	while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
		usleep(1);
		atomic_fetch_add_explicit(&p->cycles, 1, memory_order_relaxed);
	}
	return NULL;
}

/* Starts n poller threads pinned to cpu.  *started counts those running,
 * and stop_pollers joins them whatever the result.  0 or an HS_E_* code. */
static int start_pollers(struct pollers *p, pthread_t *th, int n, int cpu, int *started,
			 struct hs_error *err)
{
	int rc = 0;

	atomic_init(&p->cycles, 0);
	atomic_init(&p->stop, 0);
	*started = 0;
	while (rc == 0 && *started < n) {
		rc = start_pinned(&th[*started], cpu, poller_thread, p, err);
		if (rc == 0)
			(*started)++;
	}
	return rc;
}

static void stop_pollers(struct pollers *p, pthread_t *th, int started)
{
	atomic_store(&p->stop, 1);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}

static int64_t process_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Sleeps ns of wall time; a signal only shortens the window, which the
 * caller measures itself. */
static void sleep_ns(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };

	clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

/*
 * The local timer interrupts that CPU `cpu` has taken since boot: its
 * column of the "LOC:" line of /proc/interrupts (x86 Linux), found by the
 * header's "CPUn" names.  -1 when the file or the line cannot be read.
 */
static long long local_timer_irqs(int cpu)
{
	char line[4096], name[32], tok[32];
	FILE *f = fopen("/proc/interrupts", "r");
	int col = -1, n = 0, off;
	long long v = -1;
	const char *p;

	if (!f)
		return -1;
	snprintf(name, sizeof(name), "CPU%d", cpu);
	if (fgets(line, sizeof(line), f)) {
		for (p = line; sscanf(p, "%31s%n", tok, &off) == 1; p += off, n++)
			if (strcmp(tok, name) == 0) {
				col = n;
				break;
			}
	}
	while (col >= 0 && fgets(line, sizeof(line), f)) {
		long long x;

		p = line + strspn(line, " ");
		if (strncmp(p, "LOC:", 4) != 0)
			continue;
		p += 4;
		for (int k = 0; k <= col; k++, p += off)
			if (sscanf(p, "%lld%n", &x, &off) != 1)
				goto out;
		v = x;
		break;
	}
out:
	fclose(f);
	return v;
}

/* The spinner of sleep_cycle: a thread that keeps CPU A busy under
 * SCHED_IDLE, so that every woken poller preempts it.  It reads the clock
 * in a loop and adds up the steps shorter than SPINNER_GAP_NS: the time
 * its own loop ran.  A longer step is time that interrupts, switches and
 * the pollers took from it. */
enum { SPINNER_STARTING, SPINNER_RUNNING, SPINNER_NOT_PERMITTED };

struct spinner {
	_Atomic int state;  /* SPINNER_*, set by the spinner */
	_Atomic int stop;
	_Atomic long tid;      /* kernel thread id, set before SPINNER_RUNNING */
	_Atomic int64_t work;  /* time in ns that its loop ran, updated at every step */
};

static void *spinner_thread(void *arg)
{
	struct spinner *spinner = arg;
	struct sched_param param = { 0 };
	int64_t last, work = 0;

	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &param) != 0) {
		atomic_store(&spinner->state, SPINNER_NOT_PERMITTED);
		return NULL;
	}
	atomic_store(&spinner->tid, (long)syscall(SYS_gettid));
	atomic_store(&spinner->state, SPINNER_RUNNING);
	last = hs_calib_now();
	while (!atomic_load_explicit(&spinner->stop, memory_order_relaxed)) {
		int64_t now = hs_calib_now();

		if (now - last < SPINNER_GAP_NS)
			work += now - last;
		last = now;
		atomic_store_explicit(&spinner->work, work, memory_order_relaxed);
	}
	return NULL;
}

/* Returns the involuntary context switches of thread tid of this process,
 * read from /proc/self/task/TID/status, or -1 when they cannot be read. */
static long long involuntary_switches(long tid)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "nonvoluntary_ctxt_switches: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* CPU time of `thread` in ns, or 0 when its clock cannot be read. */
static int64_t thread_cpu_of(pthread_t thread)
{
	clockid_t id;
	struct timespec ts;

	if (pthread_getcpuclockid(thread, &id) != 0 || clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * sleep_cycle: HS_CALIB_SLEEP_POLLERS threads pinned to cpu_a loop on
 * usleep(1) and count their cycles.  A sample is the pollers' CPU time in
 * a window divided by their cycles in it: the CPU time of one usleep
 * call, the timer interrupt's part that Linux bills to the woken thread
 * and the switch to it.
 * A SCHED_IDLE spinner keeps cpu_a busy, because the model charges
 * sleep_return only to a sleep that ends on a busy core.  On an idle CPU
 * the first poller after each interrupt also pays the CPU's exit from
 * idle: a cycle of 32 pollers cost 1.44 us that way against 1.17 us on a
 * busy CPU of a 2-vCPU KVM guest.  The pollers' CPU time is the process's
 * less the caller's and the spinner's.  The CPU clocks include interrupt
 * time on a kernel without IRQ_TIME_ACCOUNTING, as the model assumes.
 * The caller watches from cpu_b, or with one CPU sleeps on cpu_a between
 * the two reads.  A window with no cycle or no poller CPU time is
 * rejected.  The pollers inherit the caller's timer slack, so one timer
 * interrupt can end every sleep whose expiry window it falls in.  With a 1 ns slack each sleep takes its
 * own interrupt, and a cycle cost about twice as much on that guest.
 *
 * sleep_occupancy, in the same windows: the window's wall time less the
 * time the spinner's own loop ran, over the cycles.  It is what a cycle
 * takes from the other threads of its CPU, however the kernel bills
 * it: the poller's part, the whole of the interrupts and the spinner's
 * switches back.  Linux bills the rest of an interrupt after a wake-up
 * that preempts the interrupted thread to the woken one (the clock
 * update is skipped at that switch), so sleep_cycle alone cannot tell
 * the interrupts' part.  The spinner's involuntary switches over the
 * windows go to sleep_cycle_spin_switches.  Without SCHED_IDLE the figure
 * is skipped.
 */
static int measure_sleep_cycle(const struct hs_calib_opts *o, struct hs_calib_report *r,
			       struct hs_error *err)
{
	struct pollers p;
	struct spinner spinner;
	pthread_t th[HS_CALIB_SLEEP_POLLERS], spinner_th;
	struct hs_calib_sampler s, occ;
	struct hs_calib_opts quiet = { 0 };
	int started = 0, rc = 0;
	bool spinner_started, occ_started = false;

	if (o)
		quiet = *o;
	quiet.progress = NULL; /* sleep_cycle reports the windows' progress */
	if (r->cpu_b >= 0 && (rc = pin_caller(r->cpu_b, err)) != 0)
		return rc;
	atomic_init(&spinner.state, SPINNER_STARTING);
	atomic_init(&spinner.stop, 0);
	atomic_init(&spinner.tid, 0);
	atomic_init(&spinner.work, 0);
	rc = start_pinned(&spinner_th, r->cpu_a, spinner_thread, &spinner, err);
	spinner_started = rc == 0;
	/* Waits until the spinner runs under SCHED_IDLE or fails to set it.
	 * It starts as an ordinary thread, so that takes no time to speak of. */
	while (spinner_started && atomic_load(&spinner.state) == SPINNER_STARTING)
		sleep_ns(100000);
	r->sleep_cycle_busy = spinner_started && atomic_load(&spinner.state) == SPINNER_RUNNING;
	if (rc == 0)
		rc = start_pollers(&p, th, HS_CALIB_SLEEP_POLLERS, r->cpu_a, &started, err);
	if (rc == 0)
		rc = hs_calib_sampler_begin(&s, o, "sleep_cycle", 100, err);
	if (rc == 0 && r->sleep_cycle_busy) {
		rc = hs_calib_sampler_begin(&occ, &quiet, "sleep_occupancy", 100, err);
		occ_started = rc == 0;
		if (rc != 0)
			hs_calib_sampler_abort(&s);
	}
	if (rc == 0) {
		long tid = r->sleep_cycle_busy ? atomic_load(&spinner.tid) : 0;

		sleep_ns(CYCLE_WARMUP_NS);
		while (hs_calib_sampler_more(&s)) {
			long long irq0 = local_timer_irqs(r->cpu_a), irq1;
			long long sw0 = tid > 0 ? involuntary_switches(tid) : -1, sw1;
			int64_t caller0 = thread_cpu_ns();
			int64_t spin0 = r->sleep_cycle_busy ? thread_cpu_of(spinner_th) : 0;
			int64_t work0 = atomic_load(&spinner.work);
			int64_t cpu0 = process_cpu_ns();
			long c0 = atomic_load(&p.cycles);
			int64_t t0 = hs_calib_now();
			int64_t t1, cpu1, caller1, spin1, work1, pollers_cpu;
			long c1;

			sleep_ns(CYCLE_WINDOW_NS);
			c1 = atomic_load(&p.cycles);
			t1 = hs_calib_now();
			work1 = atomic_load(&spinner.work);
			cpu1 = process_cpu_ns();
			spin1 = r->sleep_cycle_busy ? thread_cpu_of(spinner_th) : 0;
			caller1 = thread_cpu_ns();
			irq1 = local_timer_irqs(r->cpu_a);
			sw1 = tid > 0 ? involuntary_switches(tid) : -1;
			pollers_cpu = (cpu1 - cpu0) - (caller1 - caller0) - (spin1 - spin0);
			if (c1 > c0 && pollers_cpu > 0) {
				if (occ_started && (t1 - t0) - (work1 - work0) > 0)
					hs_calib_sampler_add(&occ, hs_calib_mean_ns((t1 - t0) - (work1 - work0),
										    c1 - c0));
				if (sw0 < 0 || sw1 < sw0)
					r->sleep_cycle_spin_switches = -1;
				else if (r->sleep_cycle_spin_switches >= 0)
					r->sleep_cycle_spin_switches += sw1 - sw0;
				r->sleep_cycle_busy_cpu_ns += spin1 - spin0;
				if (irq0 < 0 || irq1 < irq0)
					r->sleep_cycle_irqs = -1;
				else if (r->sleep_cycle_irqs >= 0)
					r->sleep_cycle_irqs += irq1 - irq0;
				hs_calib_sampler_add(&s, hs_calib_mean_ns(pollers_cpu, c1 - c0));
				r->sleep_cycle_wall_ns += t1 - t0;
				r->sleep_cycle_cpu_ns += pollers_cpu;
				r->sleep_cycle_cycles += c1 - c0;
			} else {
				r->sleep_cycle_rejected++;
			}
		}
		hs_calib_sampler_end(&s, r);
		if (occ_started) {
			occ.opts = o; /* the end reports the figure as done */
			hs_calib_sampler_end(&occ, r);
		} else {
			hs_calib_skip_figure(r, "sleep_occupancy");
		}
	}
	stop_pollers(&p, th, started);
	if (spinner_started) {
		atomic_store(&spinner.stop, 1);
		pthread_join(spinner_th, NULL);
	}
	return rc;
}

/* Arms timerfd fd to expire once at `at` (CLOCK_MONOTONIC ns, 0:
 * disarm).  Returns 0 or the errno. */
static int timerfd_at(int fd, int64_t at)
{
	struct itimerspec its = { { 0, 0 }, { (time_t)(at / 1000000000), (long)(at % 1000000000) } };

	return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) == 0 ? 0 : errno;
}

/*
 * timer_irq_gap, timer_arm_first and timer_arm_later, in the same rounds.
 * The caller, pinned to cpu_a with no other thread of this process there,
 * arms timerfd `first` to expire TIMER_LEAD_NS ahead.  The tick is at most
 * one tick period ahead, so this usually makes `first` the CPU's earliest
 * timer, and the kernel reprograms the timer device (timer_arm_first, the
 * call's wall time).  It then arms `later` for TIMER_LATER_NS ahead,
 * behind `first`, which needs no reprogramming (timer_arm_later).  It
 * reads the clock in a loop from TIMER_BEFORE_NS before the expiry to
 * TIMER_AFTER_NS after it.  The longest gap is the time the timer
 * interrupt took from the caller: delivery, handler, and the
 * reprogramming for the next expiry.  No thread waits on `first`, so the
 * interrupt wakes none.  A round whose longest gap exceeds
 * (HS_CALIB_TIMER_GAP_MAX_US * 1000) lost the CPU to the host and adds no samples.
 */
static int measure_timer_irq_gap(const struct hs_calib_opts *o, struct hs_calib_report *r,
				 struct hs_error *err)
{
	struct hs_calib_sampler gap, first_arm, later_arm;
	int first, later, rc, e = 0;

	rc = pin_caller(r->cpu_a, err);
	if (rc != 0)
		return rc;
	first = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (first < 0)
		return hs_calib_fail(err, "timerfd_create", errno);
	later = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (later < 0) {
		rc = hs_calib_fail(err, "timerfd_create", errno);
		close(first);
		return rc;
	}
	rc = hs_calib_sampler_begin(&gap, o, "timer_irq_gap", TIMER_ROUNDS, err);
	if (rc == 0) {
		rc = hs_calib_sampler_begin(&first_arm, o, "timer_arm_first", TIMER_ROUNDS, err);
		if (rc != 0)
			hs_calib_sampler_abort(&gap);
	}
	if (rc == 0) {
		rc = hs_calib_sampler_begin(&later_arm, o, "timer_arm_later", TIMER_ROUNDS, err);
		if (rc != 0) {
			hs_calib_sampler_abort(&gap);
			hs_calib_sampler_abort(&first_arm);
		}
	}
	if (rc != 0) {
		close(first);
		close(later);
		return rc;
	}
	while (e == 0 && hs_calib_sampler_more(&gap)) {
		int64_t target = hs_calib_now() + TIMER_LEAD_NS;
		int64_t t0, t1, t2, from, end, last, longest = 0;

		t0 = hs_calib_now();
		e = timerfd_at(first, target);
		t1 = hs_calib_now();
		if (e == 0)
			e = timerfd_at(later, t1 + TIMER_LATER_NS);
		t2 = hs_calib_now();
		if (e != 0)
			break;
		from = target - TIMER_BEFORE_NS;
		end = target + TIMER_AFTER_NS;
		last = hs_calib_now();
		if (last >= from) {
			/* the arms took so long that the loop would start late
			 * and might miss the interrupt */
			e = timerfd_at(later, 0);
			r->timer_irq_rejected++;
			continue;
		}
		while (last < end) {
			int64_t now = hs_calib_now();

			if (now >= from && now - last > longest)
				longest = now - last;
			last = now;
		}
		e = timerfd_at(later, 0);
		if (longest > (HS_CALIB_TIMER_GAP_MAX_US * 1000)) {
			r->timer_irq_rejected++;
			continue;
		}
		hs_calib_sampler_add(&gap, longest);
		hs_calib_sampler_add(&first_arm, t1 - t0);
		hs_calib_sampler_add(&later_arm, t2 - t1);
	}
	close(first);
	close(later);
	if (e != 0) {
		hs_calib_sampler_abort(&gap);
		hs_calib_sampler_abort(&first_arm);
		hs_calib_sampler_abort(&later_arm);
		return hs_calib_fail(err, "timerfd_settime", e);
	}
	hs_calib_sampler_end(&gap, r);
	hs_calib_sampler_end(&first_arm, r);
	hs_calib_sampler_end(&later_arm, r);
	return 0;
}

/* ---- the wake-ups of one timer interrupt ---- */

#define IRQ_WAKE_LEAD_NS 2000000   /* T lies this far ahead of each round's start */
#define IRQ_WAKE_ARM_NS 500000     /* the caller sleeps so that the sleepers arm */
#define IRQ_WAKE_BEFORE_NS 50000   /* gaps count from this long before T */
#define IRQ_WAKE_AFTER_NS 300000   /* until this long after T */
#define IRQ_WAKE_ROUNDS 200        /* samples per figure at scale 1 */
#define IRQ_WAKE_POLL_NS 20000     /* the caller's naps while the sleepers come back */

struct irq_sleepers {
	_Atomic uint32_t round;  /* bumped to start a round (futex word) */
	_Atomic int ready;       /* sleepers waiting for the next round */
	_Atomic int armed;       /* sleepers about to sleep until T this round */
	_Atomic int64_t target;  /* T, CLOCK_MONOTONIC ns */
	_Atomic int stop;
};

/* A sleeper: per round, waits for the caller to bump `round`, then sleeps
 * until T with 1 ns of timer slack, so that the timers of all sleepers
 * expire together. */
static void *irq_sleeper(void *arg)
{
	struct irq_sleepers *w = arg;
	/* round is 0 when the sleepers are started.  Reading it here instead
	 * would miss a stop posted before this thread first ran, which
	 * happens when a later sleeper fails to start, since the caller
	 * outranks this thread on its CPU. */
	uint32_t seen = 0;

	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	for (;;) {
		int64_t t;
		struct timespec ts;

		atomic_fetch_add(&w->ready, 1);
		while (atomic_load(&w->round) == seen)
			futex_wait(&w->round, seen);
		seen = atomic_load(&w->round);
		if (atomic_load(&w->stop))
			return NULL;
		t = atomic_load(&w->target);
		ts.tv_sec = (time_t)(t / 1000000000);
		ts.tv_nsec = (long)(t % 1000000000);
		atomic_fetch_add(&w->armed, 1);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
}

/* Starts the next round (or ends them all with stop set). */
static void irq_round(struct irq_sleepers *w)
{
	atomic_fetch_add(&w->round, 1);
	syscall(SYS_futex, (uint32_t *)&w->round, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* One figure irq_wake_K: k sleepers pinned to cpu_a, rounds as described
 * at measure_irq_wake.  The caller runs under SCHED_FIFO on cpu_a. */
static int measure_irq_wake_k(const struct hs_calib_opts *o, struct hs_calib_report *r,
			      const char *name, int k, struct hs_error *err)
{
	struct irq_sleepers w;
	pthread_t th[HS_CALIB_IRQ_WAKE_MAX];
	struct hs_calib_sampler s;
	int started = 0, rc = 0;

	atomic_init(&w.round, 0);
	atomic_init(&w.ready, 0);
	atomic_init(&w.armed, 0);
	atomic_init(&w.target, 0);
	atomic_init(&w.stop, 0);
	/* The caller is under SCHED_FIFO by now.  Sleepers that inherited it
	 * would be woken by the real-time class, not by the fair-class path
	 * that irq_wake stands for. */
	while (rc == 0 && started < k) {
		rc = start_pinned_attr(&th[started], r->cpu_a, 0, true, irq_sleeper, &w, err);
		if (rc == 0)
			started++;
	}
	if (rc == 0)
		rc = hs_calib_sampler_begin(&s, o, name, IRQ_WAKE_ROUNDS, err);
	if (rc == 0) {
		while (hs_calib_sampler_more(&s)) {
			int64_t target, from, end, last, longest = 0;

			/* the caller outranks the sleepers, so it sleeps while
			 * they come back from the last round */
			while (atomic_load(&w.ready) < k)
				sleep_ns(IRQ_WAKE_POLL_NS);
			atomic_store(&w.ready, 0);
			target = hs_calib_now() + IRQ_WAKE_LEAD_NS;
			from = target - IRQ_WAKE_BEFORE_NS;
			end = target + IRQ_WAKE_AFTER_NS;
			atomic_store(&w.target, target);
			atomic_store(&w.armed, 0);
			irq_round(&w);
			sleep_ns(IRQ_WAKE_ARM_NS);
			while (atomic_load(&w.armed) < k && hs_calib_now() < from - IRQ_WAKE_POLL_NS)
				sleep_ns(IRQ_WAKE_POLL_NS);
			last = hs_calib_now();
			if (atomic_load(&w.armed) < k || last > from) {
				/* A sleeper not yet asleep would not be woken by
				 * the interrupt, and a caller that woke after
				 * `from` may have slept through it: no sample this
				 * round. */
				int64_t left = end - last;

				r->irq_wake_rejected++;
				if (left > 0)
					sleep_ns(left);
				continue;
			}
			while (last < end) {
				int64_t now = hs_calib_now();

				if (now >= from && now - last > longest)
					longest = now - last;
				last = now;
			}
			hs_calib_sampler_add(&s, longest);
		}
		hs_calib_sampler_end(&s, r);
	}
	atomic_store(&w.stop, 1);
	irq_round(&w);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return rc;
}

/*
 * irq_wake_16 and irq_wake_64: K threads pinned to cpu_a under
 * SCHED_OTHER sleep until one time T with 1 ns of timer slack, so that one
 * timer interrupt ends all K sleeps.  The caller, pinned to cpu_a under SCHED_FIFO so that no woken
 * thread preempts it, reads the clock in a loop across T.  The largest
 * gap from IRQ_WAKE_BEFORE_NS before T to IRQ_WAKE_AFTER_NS after it is
 * the time that interrupt took from the caller, its wake-ups included.
 * Without permission for SCHED_FIFO (CAP_SYS_NICE or RLIMIT_RTPRIO) both
 * figures are skipped.
 */
static int measure_irq_wake(const struct hs_calib_opts *o, struct hs_calib_report *r,
			    struct hs_error *err)
{
	struct sched_param fifo = { .sched_priority = 1 }, saved;
	int rc, policy;

	if ((rc = pin_caller(r->cpu_a, err)) != 0)
		return rc;
	if ((rc = pthread_getschedparam(pthread_self(), &policy, &saved)) != 0)
		return hs_calib_fail(err, "pthread_getschedparam", rc);
	if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &fifo) != 0) {
		r->irq_wake_no_fifo = true;
		hs_calib_skip_figure(r, "irq_wake_16");
		hs_calib_skip_figure(r, "irq_wake_64");
		return 0;
	}
	rc = measure_irq_wake_k(o, r, "irq_wake_16", HS_CALIB_IRQ_WAKE_MIN, err);
	if (rc == 0)
		rc = measure_irq_wake_k(o, r, "irq_wake_64", HS_CALIB_IRQ_WAKE_MAX, err);
	pthread_setschedparam(pthread_self(), policy, &saved);
	return rc;
}

/* ---- futex token ring on one CPU ---- */

const int hs_calib_ring_threads[HS_CALIB_NRINGS] = { 2, 3, 4, 8, 32, 128, 256, 512 };

static const char *const ring_names[HS_CALIB_NRINGS] = {
	"futex_ring_2", "futex_ring_3", "futex_ring_4", "futex_ring_8",
	"futex_ring_32", "futex_ring_128", "futex_ring_256", "futex_ring_512",
};

struct ring {
	int nthreads;
	_Atomic uint32_t *tokens; /* tokens[i] == 1: thread i has the token */
	_Atomic long hops;        /* tokens passed on, all threads */
	_Atomic long waits;       /* futex waits entered, all threads */
	_Atomic int not_batch;    /* threads left under the caller's policy */
	_Atomic int batch_errno;  /* why, for the last of them */
	_Atomic int stop;
};

struct ring_member {
	struct ring *ring;
	int index;
};

/* Switches itself to SCHED_BATCH, then waits for its token, clears it
 * and passes it to the next thread.  A SCHED_BATCH thread's wake-up never
 * preempts the running thread (check_preempt_wakeup_fair returns at once
 * for a policy other than SCHED_NORMAL), so nearly every hop is one wake,
 * one wait and one voluntary switch whatever the ring's size.  Under
 * SCHED_OTHER on Linux 6.18 the ring of 2 skipped its wait at 41 % of the
 * hops, so its rise to larger rings counted waits, not cold switch-ins.
 * The token word is cleared before stop is read, so a thread woken by
 * stop_ring() reads stop as set and returns. */
static void *ring_thread(void *arg)
{
	const struct ring_member *m = arg;
	struct ring *ring = m->ring;
	_Atomic uint32_t *mine = &ring->tokens[m->index];
	_Atomic uint32_t *next = &ring->tokens[(m->index + 1) % ring->nthreads];
	struct sched_param none = { .sched_priority = 0 };

	if (sched_setscheduler(0, SCHED_BATCH, &none) != 0) {
		atomic_store(&ring->batch_errno, errno);
		atomic_fetch_add(&ring->not_batch, 1);
	}
	for (;;) {
		while (atomic_load(mine) == 0) {
			atomic_fetch_add_explicit(&ring->waits, 1, memory_order_relaxed);
			futex_wait(mine, 0);
		}
		atomic_store(mine, 0);
		if (atomic_load(&ring->stop))
			return NULL;
		atomic_fetch_add_explicit(&ring->hops, 1, memory_order_relaxed);
		atomic_store(next, 1);
		futex_wake(next);
	}
}

/* Sets stop, gives every started thread a token so that it wakes and
 * returns, and joins them. */
static void stop_ring(struct ring *ring, pthread_t *th, int started)
{
	atomic_store(&ring->stop, 1);
	for (int i = 0; i < started; i++) {
		atomic_store(&ring->tokens[i], 1);
		futex_wake(&ring->tokens[i]);
	}
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}

/* Adds up to `windows` samples to s from a running ring: each sample is
 * the wall time of a window over the hops in it.  Adds the window's hops
 * and waits to the ring's counts, and rejects a window without a hop.
 * NOTE: a ring of 3 sometimes preempts a fifth of its hops even under
 * SCHED_BATCH, for a reason not known, and its windows are kept. */
static void sample_ring(struct ring *ring, int index, struct hs_calib_sampler *s, int windows,
			struct hs_calib_report *r)
{
	/* A window in which the token made no hop (the CPU was taken, as by
	 * a loaded test run) is rejected and tried again, up to RING_RETRIES
	 * times the windows requested. */
	for (int w = 0, tries = 0; w < windows && s->n < s->target && tries < RING_RETRIES * windows;
	     tries++) {
		long h0 = atomic_load(&ring->hops);
		long w0 = atomic_load(&ring->waits);
		int64_t t0 = hs_calib_now();
		int64_t t1;
		long h1, w1;

		sleep_ns(RING_WINDOW_NS);
		h1 = atomic_load(&ring->hops);
		w1 = atomic_load(&ring->waits);
		t1 = hs_calib_now();
		if (h1 > h0) {
			hs_calib_sampler_add(s, hs_calib_mean_ns(t1 - t0, h1 - h0));
			r->ring_hops[index] += h1 - h0;
			r->ring_waits[index] += w1 - w0;
			w++;
		} else {
			r->ring_rejected++;
		}
	}
}

/*
 * One round of futex_ring_K: nthreads SCHED_BATCH threads pinned to cpu_a
 * pass one token around a ring.  Each waits with FUTEX_WAIT_PRIVATE on its
 * own word, and the holder clears its word, sets the next thread's word
 * and FUTEX_WAKEs it, then blocks.  A hop is a wake, a wait and a switch
 * to a thread that last ran nthreads - 1 switch-ins ago on this CPU, so
 * the rise of the hop cost with nthreads is what a cold switch-in costs.
 * The caller watches from cpu_b, or with one CPU sleeps on cpu_a, where its own
 * wake-up adds a switch per window (a few microseconds in a 1 ms window).
 */
static int ring_round(struct hs_calib_report *r, int index, struct hs_calib_sampler *s,
		      int windows, struct hs_error *err)
{
	int nthreads = hs_calib_ring_threads[index];
	struct ring ring = { .nthreads = nthreads };
	struct ring_member *members = calloc((size_t)nthreads, sizeof(*members));
	pthread_t *th = calloc((size_t)nthreads, sizeof(*th));
	int started = 0, rc = 0;

	ring.tokens = calloc((size_t)nthreads, sizeof(*ring.tokens));
	atomic_init(&ring.hops, 0);
	atomic_init(&ring.waits, 0);
	atomic_init(&ring.not_batch, 0);
	atomic_init(&ring.batch_errno, 0);
	atomic_init(&ring.stop, 0);
	if (!members || !th || !ring.tokens)
		rc = hs_error_set(err, HS_E_NOMEM, NULL, 0, ring_names[index],
				  "out of memory for a ring of %d threads", nthreads);
	for (int i = 0; rc == 0 && i < nthreads; i++)
		atomic_init(&ring.tokens[i], 0);
	while (rc == 0 && started < nthreads) {
		members[started] = (struct ring_member){ &ring, started };
		rc = start_pinned_stack(&th[started], r->cpu_a, RING_STACK_BYTES, ring_thread,
					&members[started], err);
		if (rc == 0)
			started++;
	}
	if (rc == 0) {
		atomic_store(&ring.tokens[0], 1);
		futex_wake(&ring.tokens[0]);
		sleep_ns(RING_WARMUP_NS);
		sample_ring(&ring, index, s, windows, r);
	}
	stop_ring(&ring, th, started);
	r->ring_not_batch += atomic_load(&ring.not_batch);
	if (atomic_load(&ring.not_batch) > 0)
		r->ring_batch_errno = atomic_load(&ring.batch_errno);
	free(ring.tokens);
	free(th);
	free(members);
	return rc;
}

/*
 * Measures every futex_ring_K figure, watching from cpu_b when there is
 * one.  The rings take turns in RING_ROUNDS rounds, each adding a share
 * of every ring's windows, so that a change in the host's speed during
 * the measurement moves all the points of the curve alike instead of
 * bending it.  The work is bounded (four rounds of 945 threads and 8
 * warm-ups each, about a second), so the rounds ignore the samplers'
 * time caps.
 */
static int measure_rings(const struct hs_calib_opts *o, struct hs_calib_report *r,
			 struct hs_error *err)
{
	struct hs_calib_sampler s[HS_CALIB_NRINGS];
	int opened = 0, rc = 0;

	if (r->cpu_b >= 0 && (rc = pin_caller(r->cpu_b, err)) != 0)
		return rc;
	for (; rc == 0 && opened < HS_CALIB_NRINGS; opened++)
		if ((rc = hs_calib_sampler_begin(&s[opened], o, ring_names[opened], RING_WINDOWS,
						 err)) != 0)
			break;
	for (int round = 0; rc == 0 && round < RING_ROUNDS; round++) {
		for (int i = 0; rc == 0 && i < HS_CALIB_NRINGS; i++) {
			int left = s[i].target - s[i].n;
			int windows = (left + RING_ROUNDS - round - 1) / (RING_ROUNDS - round);

			if (windows > 0)
				rc = ring_round(r, i, &s[i], windows, err);
		}
	}
	/* A ring that stalled through its rounds (a loaded machine, or a
	 * sanitizer build starting 512 threads) gets up to RING_ROUNDS more,
	 * until it has the fewest samples a figure keeps. */
	for (int i = 0; rc == 0 && i < HS_CALIB_NRINGS; i++)
		for (int extra = 0; rc == 0 && extra < RING_ROUNDS && s[i].n < HS_CALIB_MIN_SAMPLES;
		     extra++)
			rc = ring_round(r, i, &s[i], HS_CALIB_MIN_SAMPLES - s[i].n, err);
	for (int i = 0; i < opened; i++) {
		if (rc == 0)
			hs_calib_sampler_end(&s[i], r);
		else
			hs_calib_sampler_abort(&s[i]);
	}
	return rc;
}

static int measure_pinned(const struct hs_calib_opts *o, struct hs_calib_report *r,
			  struct hs_error *err)
{
	int rc;

	if ((rc = pin_caller(r->cpu_a, err)) != 0)
		return rc;
	if ((rc = measure_yield_alone(o, r, err)) != 0)
		return rc;
	if ((rc = measure_yield_peer(o, r, err)) != 0)
		return rc;
	if ((rc = measure_wake(o, r, false, err)) != 0)
		return rc;
	if ((rc = measure_cpu_pair(o, r, err)) != 0)
		return rc;
	if ((rc = measure_wake_send(o, r, false, err)) != 0)
		return rc;
	if (r->cpu_b >= 0) {
		if ((rc = measure_wake(o, r, true, err)) != 0)
			return rc;
		if ((rc = measure_wake_send(o, r, true, err)) != 0)
			return rc;
		if ((rc = measure_handoff(o, r, err)) != 0)
			return rc;
	} else {
		hs_calib_skip_figure(r, "futex_wake_remote");
		hs_calib_skip_figure(r, "futex_wake_send_remote");
		hs_calib_skip_figure(r, "cas_handoff");
	}
	if ((rc = measure_loads(o, r, err)) != 0)
		return rc;
	if ((rc = measure_sleep_cycle(o, r, err)) != 0)
		return rc;
	if ((rc = measure_rings(o, r, err)) != 0)
		return rc;
	if ((rc = measure_timer_irq_gap(o, r, err)) != 0)
		return rc;
	return measure_irq_wake(o, r, err);
}

/* Runs measure(o, r, err) and restores the caller's affinity after it. */
static int keep_affinity(int (*measure)(const struct hs_calib_opts *, struct hs_calib_report *,
					struct hs_error *),
			 const struct hs_calib_opts *o, struct hs_calib_report *r,
			 struct hs_error *err)
{
	cpu_set_t saved;
	int rc;

	CPU_ZERO(&saved);
	if (sched_getaffinity(0, sizeof(saved), &saved) != 0)
		return hs_calib_fail(err, "sched_getaffinity", errno);
	rc = measure(o, r, err);
	if (sched_setaffinity(0, sizeof(saved), &saved) != 0 && rc == 0)
		rc = hs_calib_fail(err, "sched_setaffinity (restoring the caller's CPUs)", errno);
	return rc;
}

int hs_calib_measure_sched(const struct hs_calib_opts *o, struct hs_calib_report *r,
			   struct hs_error *err)
{
	return keep_affinity(measure_pinned, o, r, err);
}

int hs_calib_measure_rings(const struct hs_calib_opts *o, struct hs_calib_report *r,
			   struct hs_error *err)
{
	return keep_affinity(measure_rings, o, r, err);
}
