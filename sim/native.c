/*
 * The native backend: runs a scenario on real pthreads with the compiled
 * policy the simulator runs, and fills the same struct hs_run_result.
 *
 * A run, in order:
 *   1. set up the run (P's, runtime locks, and the trace of a replay),
 *      start the GC daemon and its mark workers if a callback calls
 *      runtime.GC();
 *   2. allocate and zero the policy state, call init on this thread;
 *   3. create the foreign threads by arrival, each with a thread_stack
 *      stack, each running hs_foreign_thread_run().  Burst creates all at
 *      once.  Periodic and poisson sleep on this thread between creations.
 *      A replay creates each trace thread at its start (native_replay.c);
 *   4. wait for every foreign thread, up to time_limit of real time;
 *   5. stop the runtime daemons and join every thread;
 *   6. check conservation, merge the per-thread records, write scalars.
 *
 * Watchdog: when time_limit passes, the run sets its abort flag.  Every
 * primitive and runtime wait then unwinds its thread with longjmp to the
 * thread's entry function, and the run wakes blocked threads until all
 * have exited, so every thread is joined and the status is timeout.
 * Primitives that returned at once instead would not end a policy loop
 * such as "sleep until the list is not empty".  An acquire that made up an
 * M would break the M count.  Unwinding ends any loop that calls a
 * primitive.  A policy that spins on plain memory without primitives
 * breaks the contract and cannot be stopped.
 */
#include "native_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "hostcheck.h"
#include "stats.h"

#define DRAIN_POLL_NS 1000000       /* wake-up pass interval while draining */
#define DAEMON_GRACE_NS 200000000   /* then daemons unwind at any primitive */

static void *foreign_entry(void *arg)
{
	struct nthread *t = arg;
	/* The alternate signal stack that needm installs.  Go installs the M's
	 * gsignal stack, which it allocated with the M, so needm itself maps
	 * nothing.  An mmap here would take the address-space lock in every
	 * first callback.  native_create_foreign adds its size to the stack. */
	char sigstack[NATIVE_SIGSTACK_BYTES] __attribute__((aligned(64)));
	int rc;

	t->sigstack = sigstack;
	t->sigstack_on_stack = true;
	native_thread_begin(t);
	if (setjmp(t->unwind) == 0) {
		t->can_unwind = true;
		rc = hs_foreign_thread_run(&t->env, &t->run->driver);
		if (rc < 0) {
			pthread_mutex_lock(&t->run->done_mu);
			if (t->run->first_rc == 0)
				t->run->first_rc = rc;
			pthread_mutex_unlock(&t->run->done_mu);
		}
	}
	t->can_unwind = false;
	native_thread_finish(t, false);
	t->sigstack = NULL; /* it goes with this frame */
	return NULL;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static int64_t arrival_gap(const struct hs_scenario *sc, uint64_t *rng)
{
	double u;

	if (sc->arrival == HS_ARRIVAL_PERIODIC)
		return sc->interval_ns;
	u = (double)(splitmix64(rng) >> 11) * 0x1.0p-53;
	return (int64_t)(-log1p(-u) * (double)sc->interval_ns);
}

/*
 * Creates and starts foreign thread NAME.  WORKLOAD_THREAD is its thread
 * column in --record-trace output; REPLAY_INDEX is its entry in the replay
 * table, or -1 in a scenario run.  0, or a negative HS_E_* code with the
 * violation recorded.
 */
int native_create_foreign(struct nrun *run, const char *name, int32_t workload_thread,
			  int32_t replay_index)
{
	struct nthread *t = calloc(1, sizeof(*t));
	int rc;

	if (!t) {
		native_violation(run, "out of memory creating foreign thread %s", name);
		return HS_E_NOMEM;
	}
	native_thread_init(run, t, -1, HS_THREAD_FOREIGN, name);
	t->workload_thread = workload_thread;
	t->replay_index = replay_index;
	rc = native_register_thread(run, t);
	if (rc < 0) {
		free(t);
		native_violation(run, "out of memory creating foreign thread %s", name);
		return rc;
	}
	return native_start_thread(run, t,
				   (size_t)run->cfg->scenario.thread_stack_bytes + NATIVE_SIGSTACK_BYTES,
				   foreign_entry);
}

/*
 * Creates the foreign threads by arrival, sleeping between creations.
 * Returns true if the deadline passed first.  A failed creation aborts
 * the run.
 */
static bool create_all(struct nrun *run, int64_t deadline)
{
	const struct hs_scenario *sc = &run->cfg->scenario;
	uint64_t rng = run->req->seed ^ 0xA0761D6478BD642FULL;
	int64_t next = native_clock();

	for (int i = 0; i < sc->threads; i++) {
		char name[24];

		if (i > 0 && sc->arrival != HS_ARRIVAL_BURST) {
			int64_t until;
			struct timespec ts;

			next += arrival_gap(sc, &rng);
			until = next < deadline ? next : deadline;
			ts.tv_sec = until / 1000000000;
			ts.tv_nsec = until % 1000000000;
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		}
		/* creating thousands of threads can itself outlast the limit */
		if (native_clock() >= deadline)
			return true;
		snprintf(name, sizeof(name), "foreign-%d", i);
		if (native_create_foreign(run, name, i, -1) < 0) {
			__atomic_store_n(&run->abort, 1, __ATOMIC_SEQ_CST);
			return false;
		}
	}
	return false;
}

/* Waits on done_cv until `abs_ns` (CLOCK_MONOTONIC); done_mu held. */
static void done_wait_until(struct nrun *run, int64_t abs_ns)
{
	struct timespec ts = { .tv_sec = abs_ns / 1000000000, .tv_nsec = abs_ns % 1000000000 };

	pthread_cond_timedwait(&run->done_cv, &run->done_mu, &ts);
}

/* Waits for the foreign threads; returns true if the deadline passed. */
static bool wait_foreign(struct nrun *run, int64_t deadline)
{
	bool late = false;

	pthread_mutex_lock(&run->done_mu);
	while (run->live_foreign > 0 && !__atomic_load_n(&run->abort, __ATOMIC_SEQ_CST)) {
		int64_t now = native_clock();

		if (now >= deadline) {
			late = true;
			break;
		}
		/* Poll so that an abort raised by a thread is seen. */
		done_wait_until(run, deadline < now + 10 * DRAIN_POLL_NS ? deadline : now + 10 * DRAIN_POLL_NS);
	}
	pthread_mutex_unlock(&run->done_mu);
	return late;
}

/*
 * Wakes blocked threads until every foreign thread (and, with `daemons`,
 * every daemon) has exited.  While daemons drain, a daemon still running
 * after DAEMON_GRACE_NS is unwound at its next primitive.
 */
static void drain(struct nrun *run, bool daemons)
{
	int64_t start = native_clock();

	for (;;) {
		bool done;

		native_wake_waiters(run);
		pthread_mutex_lock(&run->done_mu);
		done = run->live_foreign == 0 && (!daemons || run->live_daemons == 0);
		if (!done)
			done_wait_until(run, native_clock() + DRAIN_POLL_NS);
		pthread_mutex_unlock(&run->done_mu);
		if (done)
			return;
		if (daemons && native_clock() - start > DAEMON_GRACE_NS)
			__atomic_store_n(&run->stopping, 2, __ATOMIC_SEQ_CST);
	}
}

static void stop_and_join(struct nrun *run, bool aborted)
{
	if (aborted) {
		__atomic_store_n(&run->abort, 1, __ATOMIC_SEQ_CST);
	} else {
		drain(run, false);
		__atomic_store_n(&run->stopping, 1, __ATOMIC_SEQ_CST);
	}
	drain(run, true);
	for (size_t i = 0; i < run->threads.len; i++)
		if (run->threads.data[i]->started)
			pthread_join(run->threads.data[i]->handle, NULL);
}

static bool steps_have_gc(const struct hs_scenario *sc)
{
	for (int i = 0; i < sc->nsteps; i++)
		if (sc->steps[i].kind == HS_STEP_GC)
			return true;
	return false;
}

static void run_free(struct nrun *run)
{
	for (size_t i = 0; i < run->threads.len; i++) {
		native_thread_free(run->threads.data[i]);
		free(run->threads.data[i]);
	}
	HS_VEC_FREE(&run->threads);
	native_thread_free(&run->main_thread);
	native_replay_free(run);
	for (uint64_t id = 1; id <= run->m_count; id++) {
		struct nm *nm = native_m_lookup(run, id);

		if (!nm)
			continue;
		if (nm->sigstack)
			munmap(nm->sigstack, NATIVE_SIGSTACK_BYTES);
		if (nm->gstack)
			munmap(nm->gstack, NATIVE_GSTACK_BYTES);
	}
	for (int c = 0; c < NATIVE_M_CHUNKS; c++) {
		if (run->mchunks[c])
			munmap(run->mchunks[c], NATIVE_M_CHUNK * sizeof(*run->mchunks[c]));
		if (run->mpool[c])
			munmap(run->mpool[c], NATIVE_M_CHUNK * sizeof(*run->mpool[c]));
	}
	free(run->pstate);
	pthread_mutex_destroy(&run->reg_mu);
	pthread_mutex_destroy(&run->rt_mu);
	for (int i = 0; i < NATIVE_NCV; i++)
		pthread_cond_destroy(&run->rt_cv[i]);
	pthread_mutex_destroy(&run->done_mu);
	pthread_cond_destroy(&run->done_cv);
	pthread_mutex_destroy(&run->err_mu);
	free(run);
}

static struct nrun *run_new(const struct hs_run_request *req)
{
	struct nrun *run = calloc(1, sizeof(*run));
	pthread_condattr_t ca;

	if (!run)
		return NULL;
	run->req = req;
	run->cfg = req->cfg;
	run->policy = req->policy;
	run->events = req->record == HS_RECORD_EVENTS;
	/* Once per run.  The CPUs the process may use, as Go counts them
	 * (sched_getaffinity): with one, spinning only delays the holder. */
	run->multi_cpu = hs_usable_cpus() > 1;
	pthread_mutex_init(&run->reg_mu, NULL);
	pthread_mutex_init(&run->rt_mu, NULL);
	for (int i = 0; i < NATIVE_NCV; i++)
		pthread_cond_init(&run->rt_cv[i], NULL);
	pthread_mutex_init(&run->done_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&run->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&run->err_mu, NULL);

	run->nprocs = run->cfg->runtime.gomaxprocs > 0 ? run->cfg->runtime.gomaxprocs
						       : run->cfg->scenario.cores;
	if (run->nprocs < 1)
		run->nprocs = 1;
	run->pidle = run->nprocs;
	snprintf(run->lock_names[NATIVE_LOCK_SCHED], sizeof(run->lock_names[0]), "sched.lock");
	snprintf(run->lock_names[NATIVE_LOCK_ALLG], sizeof(run->lock_names[0]), "allglock");
	run->nlocks = 2;
	for (int i = 0; i < NATIVE_MAX_LOCKS; i++)
		run->lock_last_cpu[i] = -1;
	/* A replay ignores the scenario's steps, so native_run sets has_gc from
	 * the trace's rows. */
	run->has_gc = !req->trace_path && steps_have_gc(&run->cfg->scenario);
	/* Maps the first chunks of the M pool and table and faults them in
	 * now, so that the run's first M's fault no pages.  Later chunks are
	 * mapped on demand. */
	run->mpool[0] = native_map_zeroed(NATIVE_M_CHUNK * sizeof(*run->mpool[0]), true);
	run->mchunks[0] = native_map_zeroed(NATIVE_M_CHUNK * sizeof(*run->mchunks[0]), true);
	return run;
}

/* Runs the policy's init on this thread; its return value, or -1 if it
 * was unwound. */
static int run_init(struct nrun *run)
{
	struct nthread *t = &run->main_thread;
	int rc = -1;

	native_thread_init(run, t, -1, HS_THREAD_RUNTIME, "main");
	if (setjmp(t->unwind) == 0) {
		t->can_unwind = true;
		rc = run->policy->init(&t->env, run->pstate, run->req->policy_params);
	}
	t->can_unwind = false;
	return rc;
}

/* ---- Results ---- */

/* Adds one thread's statistics of a lock to `to`; *holds counts the
 * releases already merged, which decide whether hold_min is set. */
static void merge_lock(struct hs_lock_stat *to, uint64_t *holds, const struct nlockacc *a)
{
	const struct hs_lock_stat *s = &a->st;

	if (s->acquisitions) {
		if (to->acquisitions == 0 || s->wait_min_ns < to->wait_min_ns)
			to->wait_min_ns = s->wait_min_ns;
		if (s->wait_max_ns > to->wait_max_ns)
			to->wait_max_ns = s->wait_max_ns;
	}
	if (a->holds) {
		if (*holds == 0 || s->hold_min_ns < to->hold_min_ns)
			to->hold_min_ns = s->hold_min_ns;
		if (s->hold_max_ns > to->hold_max_ns)
			to->hold_max_ns = s->hold_max_ns;
		*holds += a->holds;
	}
	to->acquisitions += s->acquisitions;
	to->contentions += s->contentions;
	to->acquisition_bounces += s->acquisition_bounces;
	to->contention_bounces += s->contention_bounces;
	to->wait_total_ns += s->wait_total_ns;
	to->hold_total_ns += s->hold_total_ns;
}

#define APPEND(vec, src) do { \
	for (size_t k_ = 0; k_ < (src).len; k_++) { \
		void *p_ = HS_VEC_PUSH(vec); \
		if (!p_) \
			return HS_E_NOMEM; \
		memcpy(p_, &(src).data[k_], sizeof((src).data[k_])); \
	} \
} while (0)

static int merge_threads(struct nrun *run, struct hs_run_result *out)
{
	for (size_t i = 0; i < run->threads.len; i++) {
		const struct nthread *t = run->threads.data[i];
		struct hs_thread_rec *r = HS_VEC_PUSH(&out->threads);

		if (!r)
			return HS_E_NOMEM;
		r->id = t->id;
		r->kind = t->kind;
		snprintf(r->name, sizeof(r->name), "%s", t->name);
		r->created_ns = t->created_ns;
		r->exited_ns = t->exited_ns;
		if (run->events) {
			APPEND(&out->states, t->states);
			APPEND(&out->wakes, t->wakes);
			APPEND(&out->callbacks, t->callbacks);
			APPEND(&out->gauges, t->gauges);
		}
		APPEND(&out->workload, t->workload);
	}
	return 0;
}

static int merge_locks_and_ms(struct nrun *run, struct hs_run_result *out)
{
	for (int l = 0; l < run->nlocks; l++) {
		struct hs_lock_stat *ls = HS_VEC_PUSH(&out->locks);
		uint64_t holds = 0;

		if (!ls)
			return HS_E_NOMEM;
		snprintf(ls->name, sizeof(ls->name), "%s", run->lock_names[l]);
		merge_lock(ls, &holds, &run->main_thread.locks[l]);
		for (size_t i = 0; i < run->threads.len; i++)
			merge_lock(ls, &holds, &run->threads.data[i]->locks[l]);
	}
	for (uint64_t id = 1; id <= run->m_count; id++) {
		struct hs_m_rec *r = HS_VEC_PUSH(&out->ms);

		if (!r)
			return HS_E_NOMEM;
		*r = native_m_lookup(run, id)->rec;
	}
	return 0;
}

struct totals {
	uint64_t ops, yields, sleeps, cas_failures, futex_waits, futex_wakes, wasted, callbacks;
	int64_t phase_cpu[HS_NPHASES];
	int64_t first_start, last_exit;
	int nforeign;
};

static void add_counts(struct totals *s, const struct nthread *t)
{
	s->ops += t->ops;
	s->yields += t->yields;
	s->sleeps += t->sleeps;
	s->cas_failures += t->cas_failures;
	s->futex_waits += t->futex_waits;
	s->futex_wakes += t->futex_wakes;
	s->wasted += t->wasted;
	s->callbacks += t->callbacks_done;
	for (int i = 0; i < HS_NPHASES; i++)
		s->phase_cpu[i] += t->phase_cpu[i];
}

static struct totals sum_threads(const struct nrun *run)
{
	struct totals s = { .first_start = -1, .last_exit = -1 };

	add_counts(&s, &run->main_thread);
	for (size_t i = 0; i < run->threads.len; i++) {
		const struct nthread *t = run->threads.data[i];

		add_counts(&s, t);
		if (t->kind != HS_THREAD_FOREIGN)
			continue;
		s.nforeign++;
		if (s.first_start < 0 || t->created_ns < s.first_start)
			s.first_start = t->created_ns;
		if (t->exited_ns > s.last_exit)
			s.last_exit = t->exited_ns;
	}
	return s;
}

static int64_t tv_ns(struct timeval tv)
{
	return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

/*
 * Writes the kernel's counts for the run: cpu_ns (user plus system time),
 * preemptions (involuntary switches) and context_switches (all switches).
 * They are process totals from getrusage, taken before the first thread
 * starts and after the last join, so exited threads count.  Native runs
 * never overlap in one process (sweeps run only the simulator), so the
 * totals are this run's, plus the run thread and the watchdog, which
 * mostly sleep.
 */
static int write_usage(struct nrun *run, struct hs_run_result *out)
{
	const struct rusage ru = run->ru1;
	int rc = 0;
	uint64_t migrations;

	rc |= hs_result_scalar(out, "cpu_ns",
			       (double)(tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime) - tv_ns(run->ru0.ru_utime) -
					tv_ns(run->ru0.ru_stime)));
	rc |= hs_result_scalar(out, "preemptions", (double)(ru.ru_nivcsw - run->ru0.ru_nivcsw));
	rc |= hs_result_scalar(out, "context_switches",
			       (double)(ru.ru_nivcsw + ru.ru_nvcsw - run->ru0.ru_nivcsw - run->ru0.ru_nvcsw));
	/* an exited thread's count is added to its parent's: all joined now */
	if (run->migr_fd >= 0 && read(run->migr_fd, &migrations, sizeof(migrations)) == sizeof(migrations))
		rc |= hs_result_scalar(out, "migrations", (double)migrations);
	else
		rc |= hs_result_scalar(out, "migrations", NAN);
	return rc;
}

/*
 * Opens a counter of the CPU migrations of the calling thread and of every
 * thread it starts afterwards (an inherited software event).  Returns the
 * descriptor, or -1 where the kernel refuses it: with
 * kernel.perf_event_paranoid at 2 or more an unprivileged process may not
 * count events inside the kernel, and a migration is one.  The run then
 * records no migration count.
 */
static int open_migration_counter(void)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_SOFTWARE;
	a.size = sizeof(a);
	a.config = PERF_COUNT_SW_CPU_MIGRATIONS;
	a.inherit = 1;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static int write_scalars(struct nrun *run, struct hs_run_result *out, const struct totals *s,
			 uint64_t spare)
{
	struct hs_hist *h = malloc(sizeof(*h));
	int rc = 0;

	if (!h)
		return HS_E_NOMEM;
	hs_hist_init(h);
	for (size_t i = 0; i < run->threads.len; i++)
		for (size_t k = 0; k < run->threads.data[i]->latencies.len; k++)
			hs_hist_add(h, run->threads.data[i]->latencies.data[k]);

	rc |= hs_result_scalar(out, "makespan_ns",
			       s->first_start >= 0 && s->last_exit >= 0 ? (double)(s->last_exit - s->first_start) : NAN);
	rc |= hs_result_scalar(out, "callbacks", (double)s->callbacks);
	rc |= hs_result_scalar(out, "m_created", (double)run->m_count);
	rc |= hs_result_scalar(out, "usleep_calls", (double)s->sleeps);
	rc |= hs_result_scalar(out, "wasted_wakeups", (double)s->wasted);
	rc |= hs_result_scalar(out, "yields", (double)s->yields);
	rc |= hs_result_scalar(out, "cas_failures", (double)s->cas_failures);
	rc |= hs_result_scalar(out, "futex_waits", (double)s->futex_waits);
	rc |= hs_result_scalar(out, "futex_wakes", (double)s->futex_wakes);
	if (run->req->phase_cpu) {
		for (int i = 0; i < HS_NPHASES; i++)
			rc |= hs_result_scalar(out, hs_phase_scalar[i], (double)s->phase_cpu[i]);
		rc |= hs_result_scalar(out, "phase_cpu_read_ns", (double)run->cpu_read_ns);
	}
	rc |= hs_result_scalar(out, "m_spare_end", (double)spare);
	rc |= hs_result_scalar(out, "cb_latency_p50_ns", (double)hs_hist_quantile(h, 0.50));
	rc |= hs_result_scalar(out, "cb_latency_p99_ns", (double)hs_hist_quantile(h, 0.99));
	rc |= hs_result_scalar(out, "cb_latency_max_ns", (double)h->max);
	rc |= hs_result_scalar(out, "threads", (double)s->nforeign);
	rc |= hs_result_scalar(out, "gc_cycles", (double)run->gc_cycles);
	rc |= hs_result_scalar(out, "stw_ns", (double)run->stw_ns);
	rc |= write_usage(run, out);
	rc |= hs_hist_record(h, "callback_latency", out);
	free(h);
	return rc ? HS_E_NOMEM : 0;
}

/* The conservation checks of a run that ended by itself. */
static void check_conservation(struct nrun *run, const struct totals *s, uint64_t spare)
{
	uint64_t freed = __atomic_load_n(&run->m_freed, __ATOMIC_SEQ_CST);
	uint64_t live = run->m_count - freed;
	uint64_t want = run->replay ? (uint64_t)native_replay_rows(run)
				    : (uint64_t)run->cfg->scenario.threads * (uint64_t)run->cfg->scenario.callbacks;

	for (uint64_t id = 1; id <= run->m_count; id++) {
		struct nm *nm = native_m_lookup(run, id);
		int32_t owner = __atomic_load_n(&nm->owner, __ATOMIC_SEQ_CST);

		if (owner != 0)
			native_violation(run, "M %llu is still held by thread %d after every foreign thread exited",
					 (unsigned long long)id, owner - 1);
	}
	if (spare != live)
		native_violation(run, "the policy holds %llu spare M's at the end, but %llu were created and %llu freed: M's were lost or duplicated",
				 (unsigned long long)spare, (unsigned long long)run->m_count,
				 (unsigned long long)freed);
	if (s->callbacks != want)
		native_violation(run, "%llu of %llu callbacks completed",
				 (unsigned long long)s->callbacks, (unsigned long long)want);
}

static void set_identity(struct nrun *run, struct hs_run_result *out, time_t wall_start)
{
	struct utsname u;
	struct tm tm;

	snprintf(out->scenario, sizeof(out->scenario), "%s", run->cfg->scenario.name);
	snprintf(out->policy, sizeof(out->policy), "%s", run->policy->name);
	snprintf(out->backend, sizeof(out->backend), "native");
	if (uname(&u) == 0)
		snprintf(out->os, sizeof(out->os), "%.20s %.40s", u.sysname, u.release);
	out->seed = run->req->seed;
	out->replication = run->req->replication;
	out->record = run->req->record;
	gmtime_r(&wall_start, &tm);
	strftime(out->started_at, sizeof(out->started_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int check_request(const struct hs_run_request *req, struct hs_error *err)
{
	const struct hs_scenario *sc = &req->cfg->scenario;

	if (!req->policy || req->policy->abi_version != HS_POLICY_ABI_VERSION)
		return hs_error_set(err, HS_E_VERSION, NULL, 0, "policy",
				    "the policy's abi_version is %d, this build needs %d; rebuild the policy against this policy.h",
				    req->policy ? req->policy->abi_version : -1, HS_POLICY_ABI_VERSION);
	if (sc->arrival == HS_ARRIVAL_TRACE && !req->trace_path)
		return hs_error_set(err, HS_E_INPUT, sc->file, 0, "workload.arrival",
				    "arrival = trace is replayed with `herdsim replay TRACE.csv`");
	return 0;
}

/* Finishes a run whose threads are all joined: records, checks, scalars. */
static int finish(struct nrun *run, struct hs_run_result *out, bool late, struct hs_error *err)
{
	struct totals s = sum_threads(run);
	bool aborted = late || __atomic_load_n(&run->abort, __ATOMIC_SEQ_CST);
	uint64_t spare = run->policy->spare_count ? run->policy->spare_count(run->pstate) : 0;
	int rc;

	if (run->first_rc == HS_E_MODEL && !run->violated) {
		run->violated = true;
		snprintf(run->violation, sizeof(run->violation), "policy %s: acquire returned no M",
			 run->policy->name);
	} else if (run->first_rc < 0)
		return hs_error_set(err, run->first_rc, run->cfg->scenario.file, 0, NULL,
				    "the workload of a foreign thread is invalid: %s",
				    hs_strerror(run->first_rc));
	if (!aborted)
		check_conservation(run, &s, spare);
	out->events = s.ops;
	if (run->violated) {
		out->status = HS_STATUS_ERROR;
		snprintf(out->error, sizeof(out->error), "%s", run->violation);
	} else if (late) {
		out->status = HS_STATUS_TIMEOUT;
		snprintf(out->error, sizeof(out->error),
			 "the run exceeded time_limit (%lld ns of real time) and was stopped",
			 (long long)run->cfg->scenario.time_limit_ns);
	} else {
		out->status = HS_STATUS_OK;
	}
	rc = merge_threads(run, out);
	if (rc == 0)
		rc = merge_locks_and_ms(run, out);
	if (rc == 0)
		rc = write_scalars(run, out, &s, spare);
	if (rc < 0)
		return hs_error_set(err, rc, NULL, 0, NULL, "out of memory while recording the run");
	return 0;
}

/*
 * Runs one replication on real threads.  *out must have been set up with
 * hs_result_init(); the native backend fills identity, outcome, scalars,
 * locks, threads, M's, the callback_latency histogram and, at
 * HS_RECORD_EVENTS, states, wakes, callbacks and gauges.
 */
static int native_run(const struct hs_run_request *req, struct hs_run_result *out,
		      struct hs_error *err)
{
	struct nrun *run;
	time_t wall_start = time(NULL);
	int64_t deadline;
	bool late = false;
	int rc;

	rc = check_request(req, err);
	if (rc < 0)
		return rc;
	run = run_new(req);
	if (!run)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory starting a native run");
	run->pstate = calloc(1, req->policy->state_size ? req->policy->state_size : 1);
	if (!run->pstate) {
		run_free(run);
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory for the policy state");
	}
	if (req->trace_path) {
		rc = native_replay_open(run, err);
		if (rc < 0) {
			run_free(run);
			return rc;
		}
		run->has_gc = native_replay_has_gc(run);
	}
	native_wrap_policy(run);
	native_clock_init();
	if (req->phase_cpu)
		run->cpu_read_ns = native_cpu_read_cost();
	run->migr_fd = open_migration_counter();
	getrusage(RUSAGE_SELF, &run->ru0);
	run->t0 = native_clock();
	deadline = req->cfg->scenario.time_limit_ns > 0 ? run->t0 + req->cfg->scenario.time_limit_ns
						       : INT64_MAX;

	rc = run->has_gc ? native_gc_start(run, err) : 0;
	if (rc == 0) {
		int irc = run_init(run);

		if (irc < 0)
			native_violation(run, "the policy's init returned %d", irc);
		else if (run->replay)
			late = native_replay_create_all(run, deadline);
		else
			late = create_all(run, deadline);
		if (!late && irc >= 0)
			late = wait_foreign(run, deadline);
	}
	stop_and_join(run, late || rc < 0 || __atomic_load_n(&run->abort, __ATOMIC_SEQ_CST));
	getrusage(RUSAGE_SELF, &run->ru1);
	out->end_ns = native_now(run);
	out->wall_ns = out->end_ns;
	set_identity(run, out, wall_start);
	if (rc == 0)
		rc = finish(run, out, late, err);
	if (run->migr_fd >= 0)
		close(run->migr_fd);
	run_free(run);
	return rc;
}

const struct hs_backend hs_backend_native = { "native", native_run };
