/*
 * Tests of the native backend on real threads, with policies defined here:
 *
 *   tlist    a list of spare M's guarded by a lock word (cas, yield, sleep);
 *            acquire pops or allocates, release pushes;
 *   never    acquire sleeps forever, to fire the watchdog;
 *   dup      acquire hands every thread the same M, and `entered` waits
 *            until two threads hold it, so the ownership check must fire;
 *   pcount   tlist whose `entered` (which runs holding a P) counts the
 *            threads inside it and spins, to bound that count by the P's.
 *   hop      tlist whose acquire moves its thread to another CPU and back
 *            with sched_setaffinity, two migrations the run must count.
 *
 * Assertions are on counts and invariants, never on durations.  The GC
 * test relies on six threads created at once all calling runtime.GC()
 * within one 30 ms mark phase.
 */
#include <dirent.h>
#include <malloc.h>
#include <math.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "config.h"
#include "helpers.h"
#include "native_internal.h"
#include "policy.h"
#include "registry.h"
#include "result.h"

/* ---- tlist ---- */

struct tlist {
	hs_word lock;
	hs_word head; /* hs_m * of the first spare M */
	int lock_id;
};

static void tlist_lock(hs_env *env, struct tlist *s)
{
	const struct hs_env_ops *o = env->ops;
	bool contended = false;
	int tries = 0;

	o->lock_begin(env, s->lock_id);
	for (;;) {
		uint64_t zero = 0;

		if (o->cas(env, &s->lock, &zero, 1))
			break;
		contended = true;
		if (++tries % 4)
			o->yield(env);
		else
			o->sleep(env, 1000);
	}
	o->lock_acquired(env, s->lock_id, contended);
}

static void tlist_unlock(hs_env *env, struct tlist *s)
{
	env->ops->store(env, &s->lock, 0);
	env->ops->lock_released(env, s->lock_id);
}

static void tlist_push(hs_env *env, struct tlist *s, hs_m *m)
{
	tlist_lock(env, s);
	m->link = (hs_m *)(uintptr_t)env->ops->load(env, &s->head);
	env->ops->store(env, &s->head, (uint64_t)(uintptr_t)m);
	tlist_unlock(env, s);
}

static int tlist_init(hs_env *env, void *state, const int64_t *params)
{
	struct tlist *s = state;

	s->lock_id = env->ops->lock_register(env, "tlist");
	tlist_push(env, s, env->ops->new_m(env, "init"));
	return 0;
}

static hs_m *tlist_acquire(hs_env *env, void *state)
{
	struct tlist *s = state;
	hs_m *m;

	tlist_lock(env, s);
	m = (hs_m *)(uintptr_t)env->ops->load(env, &s->head);
	if (m)
		env->ops->store(env, &s->head, (uint64_t)(uintptr_t)m->link);
	tlist_unlock(env, s);
	if (!m)
		m = env->ops->new_m(env, "needm");
	env->ops->signals(env, HS_SIG_NEEDM);
	return m;
}

static void tlist_release(hs_env *env, void *state, hs_m *m)
{
	env->ops->signals(env, HS_SIG_DROPM);
	tlist_push(env, state, m);
}

static uint64_t tlist_spare(void *state)
{
	struct tlist *s = state;
	uint64_t n = 0;

	for (hs_m *m = (hs_m *)(uintptr_t)s->head.value; m; m = m->link)
		n++;
	return n;
}

static const struct hs_policy tlist_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "tlist",
	.summary = "a locked list of spare M's",
	.state_size = sizeof(struct tlist),
	.init = tlist_init,
	.acquire = tlist_acquire,
	.release = tlist_release,
	.spare_count = tlist_spare,
};

/* ---- deep: tlist that first uses most of the thread's stack ---- */

#define DEEP_TOUCH_BYTES (232 * 1024)

/* Writes every byte of a DEEP_TOUCH_BYTES array on the calling stack. */
static __attribute__((noinline)) uint64_t touch_stack(void)
{
	volatile unsigned char buf[DEEP_TOUCH_BYTES];
	uint64_t sum = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)i;
	for (size_t i = 1; i < sizeof(buf); i += 4096)
		sum += buf[i];
	return sum;
}

static hs_m *deep_acquire(hs_env *env, void *state)
{
	if (touch_stack() == 0)
		return NULL; /* not reached: each buf[4096 * k + 1] is 1 */
	return tlist_acquire(env, state);
}

static const struct hs_policy deep_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "deep",
	.summary = "tlist after using 232 KiB of the thread's stack",
	.state_size = sizeof(struct tlist),
	.init = tlist_init,
	.acquire = deep_acquire,
	.release = tlist_release,
	.spare_count = tlist_spare,
};

/* ---- never ---- */

static hs_m *never_acquire(hs_env *env, void *state)
{
	for (;;)
		env->ops->sleep(env, 1000000);
	return NULL; /* not reached */
}

static const struct hs_policy never_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "never",
	.state_size = sizeof(struct tlist),
	.init = tlist_init,
	.acquire = never_acquire,
	.release = tlist_release,
	.spare_count = tlist_spare,
};

/* ---- dup ---- */

struct dup {
	hs_word m;       /* the one M */
	hs_word entered; /* threads that reached entered() */
};

static int dup_init(hs_env *env, void *state, const int64_t *params)
{
	struct dup *s = state;

	env->ops->store(env, &s->m, (uint64_t)(uintptr_t)env->ops->new_m(env, "init"));
	return 0;
}

static hs_m *dup_acquire(hs_env *env, void *state)
{
	struct dup *s = state;

	return (hs_m *)(uintptr_t)env->ops->load(env, &s->m);
}

static void dup_entered(hs_env *env, void *state, hs_m *m)
{
	struct dup *s = state;

	env->ops->fetch_add(env, &s->entered, 1);
	while (env->ops->load(env, &s->entered) < 2)
		env->ops->sleep(env, 100000);
}

static void dup_release(hs_env *env, void *state, hs_m *m)
{
}

static uint64_t dup_spare(void *state)
{
	return 1;
}

static const struct hs_policy dup_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "dup",
	.state_size = sizeof(struct dup),
	.init = dup_init,
	.acquire = dup_acquire,
	.entered = dup_entered,
	.release = dup_release,
	.spare_count = dup_spare,
};

/* ---- pcount ---- */

struct pcount {
	struct tlist list; /* first, so the tlist functions take the state */
	hs_word inside;    /* threads in entered() now */
};

/* Maximum number of threads seen in entered() at once.  It is static
 * because the run frees the policy state before the test reads it. */
static int pcount_max;

static void pcount_entered(hs_env *env, void *state, hs_m *m)
{
	struct pcount *s = state;
	int n = (int)env->ops->fetch_add(env, &s->inside, 1) + 1;
	int seen = __atomic_load_n(&pcount_max, __ATOMIC_SEQ_CST);

	while (n > seen &&
	       !__atomic_compare_exchange_n(&pcount_max, &seen, n, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST))
		;
	env->ops->work(env, 20000);
	env->ops->fetch_add(env, &s->inside, UINT64_MAX); /* minus 1 */
}

static const struct hs_policy pcount_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "pcount",
	.summary = "tlist counting the threads that hold a P in entered",
	.state_size = sizeof(struct pcount),
	.init = tlist_init,
	.acquire = tlist_acquire,
	.entered = pcount_entered,
	.release = tlist_release,
	.spare_count = tlist_spare,
};

/* ---- helpers ---- */

/* ---- hop ---- */

/* The CPUs this process may run on, at least two for the hop test. */
static cpu_set_t hop_allowed;

/* Pins the calling thread to the allowed CPU after its current one, then
 * back to its current one, then lifts the pin: two migrations. */
static hs_m *hop_acquire(hs_env *env, void *state)
{
	int start_cpu = sched_getcpu(), other_cpu = -1;
	cpu_set_t mask;

	for (int k = 1; k < CPU_SETSIZE && other_cpu < 0; k++)
		if (CPU_ISSET((start_cpu + k) % CPU_SETSIZE, &hop_allowed))
			other_cpu = (start_cpu + k) % CPU_SETSIZE;
	CPU_ZERO(&mask);
	CPU_SET(other_cpu, &mask);
	sched_setaffinity(0, sizeof(mask), &mask);
	CPU_ZERO(&mask);
	CPU_SET(start_cpu, &mask);
	sched_setaffinity(0, sizeof(mask), &mask);
	sched_setaffinity(0, sizeof(hop_allowed), &hop_allowed);
	return tlist_acquire(env, state);
}

static const struct hs_policy hop_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "hop",
	.summary = "tlist after moving to another CPU and back",
	.state_size = sizeof(struct tlist),
	.init = tlist_init,
	.acquire = hop_acquire,
	.release = tlist_release,
	.spare_count = tlist_spare,
};

/* Acquires that ran on a thread whose kernel name is "foreign-N". */
static _Atomic int named_foreign;

static hs_m *comm_acquire(hs_env *env, void *state)
{
	char comm[32] = "";
	FILE *f = fopen("/proc/thread-self/comm", "r");

	if (f) {
		if (fgets(comm, sizeof(comm), f) && strncmp(comm, "foreign-", 8) == 0)
			named_foreign++;
		fclose(f);
	}
	return tlist_acquire(env, state);
}

static const struct hs_policy comm_policy = {
	.abi_version = HS_POLICY_ABI_VERSION,
	.name = "comm",
	.summary = "tlist that checks the kernel's name of its thread",
	.state_size = sizeof(struct tlist),
	.init = tlist_init,
	.acquire = comm_acquire,
	.release = tlist_release,
	.spare_count = tlist_spare,
};

static void config_default(struct hs_config *cfg)
{
	struct hs_scenario *sc = &cfg->scenario;
	struct hs_runtime_profile *rp = &cfg->runtime;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(sc->name, sizeof(sc->name), "native-test");
	sc->time_limit_ns = 60000000000LL;
	sc->seed = 1;
	sc->reps = 1;
	sc->cores = 2;
	sc->threads = 20;
	sc->arrival = HS_ARRIVAL_BURST;
	sc->callbacks = 3;
	sc->think_ns = 50000;
	sc->think_kind = HS_THINK_SLEEP;
	sc->thread_stack_bytes = 256 * 1024;
	sc->steps[0] = (struct hs_step){ HS_STEP_WORK, 20000 };
	sc->steps[1] = (struct hs_step){ HS_STEP_GROW, 100 };
	sc->nsteps = 2;
	sc->record = HS_RECORD_EVENTS;

	rp->gomaxprocs = 2;
	rp->allocm_ns = 1000;
	rp->sched_lock_hold_ns = 200;
	rp->malg_ns = 1000;
	rp->allgadd_ns = 100;
	rp->needm_syscalls = 5;
	rp->dropm_syscalls = 3;
	rp->preempt_chunk_ns = 10000;
	rp->stack_frame_ns = 10;
	rp->gc_stw1_ns = 100000;
	rp->gc_mark_ns = 30000000;
	rp->gc_stw2_ns = 100000;
	rp->gc_sweep_ns = 10000;
	rp->gc_worker_ratio = 0.25;
	rp->lock_spin = 4;
	rp->lock_passive_spin = 1;
}

static int run_native(const struct hs_config *cfg, const struct hs_policy *pol,
		      struct hs_run_result *out)
{
	struct hs_run_request req = {
		.cfg = cfg, .policy = pol, .seed = 7, .record = cfg->scenario.record,
	};
	struct hs_error err = { 0 };
	int rc;

	hs_result_init(out);
	rc = hs_backend_native.run(&req, out, &err);
	if (rc != 0)
		fprintf(stderr, "native run failed: %s\n", err.msg);
	return rc;
}

static const struct hs_lock_stat *find_lock(const struct hs_run_result *r, const char *name)
{
	for (size_t i = 0; i < r->locks.len; i++)
		if (strcmp(r->locks.data[i].name, name) == 0)
			return &r->locks.data[i];
	return NULL;
}

static size_t count_kind(const struct hs_run_result *r, enum hs_thread_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < r->threads.len; i++)
		n += r->threads.data[i].kind == kind;
	return n;
}

/* ---- tests ---- */

/* The number of glibc malloc arenas in this process, from malloc_info's
 * <heap nr="..."> elements; -1 when it cannot be read. */
static int malloc_arenas(void)
{
	char *buf = NULL, *p;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int n = 0;

	if (!f)
		return -1;
	if (malloc_info(0, f) != 0) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	for (p = buf; (p = strstr(p, "<heap nr=")) != NULL; p++)
		n++;
	free(buf);
	return n;
}

/* A foreign thread never calls malloc.  A thread's first malloc creates
 * a glibc arena, mapped under the address-space lock, and a Go program's
 * threads create none.  So a native run leaves the process with the
 * arenas it had.  This test runs first, before other
 * tests' threads have created arenas up to glibc's limit. */
static void foreign_threads_create_no_arena(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;
	int before = malloc_arenas();

	assert_true(before >= 1);
	config_default(&cfg);
	assert_int_equal(run_native(&cfg, &tlist_policy, &r), 0);
	assert_int_equal(r.status, HS_STATUS_OK);
	assert_int_equal((int)hs_result_get(&r, "callbacks", -1), 60);
	assert_int_equal(malloc_arenas(), before);
	hs_result_free(&r);
}

/* native_clock keeps CLOCK_MONOTONIC's time base whatever it reads: it
 * agrees with clock_gettime within 50 us across sleeps, and never goes
 * back. */
static void native_clock_follows_monotonic(void **unused)
{
	int64_t prev;

	native_clock_init();
	for (int i = 0; i < 5; i++) {
		struct timespec ts, nap = { 0, 10000000 };
		int64_t a, b, mono;

		nanosleep(&nap, NULL);
		a = native_clock();
		clock_gettime(CLOCK_MONOTONIC, &ts);
		b = native_clock();
		mono = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		assert_true(mono > a - 50000);
		assert_true(mono < b + 50000);
	}
	prev = native_clock();
	for (int i = 0; i < 100000; i++) {
		int64_t now = native_clock();

		assert_true(now >= prev);
		prev = now;
	}
}

static void burst_completes_every_callback(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;
	const struct hs_lock_stat *ls;
	bool seen[20][3] = { { false } };

	config_default(&cfg);
	assert_int_equal(run_native(&cfg, &tlist_policy, &r), 0);
	if (r.status != HS_STATUS_OK)
		fprintf(stderr, "status %s: %s\n", hs_status_name(r.status), r.error);
	assert_int_equal(r.status, HS_STATUS_OK);
	assert_string_equal(r.backend, "native");
	assert_string_equal(r.policy, "tlist");

	assert_int_equal(r.callbacks.len, 60);
	for (size_t i = 0; i < r.callbacks.len; i++) {
		const struct hs_callback_rec *c = &r.callbacks.data[i];

		assert_in_range(c->thread, 0, 19);
		assert_in_range(c->seq, 0, 2);
		assert_false(seen[c->thread][c->seq]);
		seen[c->thread][c->seq] = true;
		assert_true(c->m >= 1 && c->m <= (int64_t)r.ms.len);
		assert_true(c->arrival_ns <= c->m_acquired_ns);
		assert_true(c->m_acquired_ns <= c->p_acquired_ns);
		assert_true(c->p_acquired_ns <= c->done_ns);
	}

	assert_int_equal((int)hs_result_get(&r, "callbacks", -1), 60);
	assert_int_equal((int)hs_result_get(&r, "threads", -1), 20);
	assert_true(hs_result_get(&r, "m_created", -1) >= 1);
	assert_true(hs_result_get(&r, "m_created", -1) <= 21);
	assert_int_equal((int)hs_result_get(&r, "m_created", -1), (int)hs_result_get(&r, "m_spare_end", -2));
	assert_int_equal((int)hs_result_get(&r, "m_created", -1), (int)r.ms.len);
	assert_true(hs_result_get(&r, "makespan_ns", 0) > 0);
	assert_true(hs_result_get(&r, "cb_latency_p50_ns", -1) <= hs_result_get(&r, "cb_latency_max_ns", -1));
	assert_int_equal(count_kind(&r, HS_THREAD_FOREIGN), 20);
	/* The kernel's counts.  60 callbacks spin 21 us each (work plus 100
	 * frames), less any gaps under native_spin's 5 us that it counts as
	 * work.  Each thread sleeps its 50 us think at least twice. */
	assert_true(hs_result_get(&r, "cpu_ns", -1) >= 1000000);
	assert_true(hs_result_get(&r, "cpu_ns", -1) <=
		    (double)sysconf(_SC_NPROCESSORS_ONLN) * (double)r.end_ns);
	assert_true(hs_result_get(&r, "context_switches", -1) >= 40);
	assert_true(hs_result_get(&r, "preemptions", -1) >= 0);
	assert_true(hs_result_get(&r, "preemptions", -1) <= hs_result_get(&r, "context_switches", -1));

	/* One tlist acquisition in init, one per acquire, one per release. */
	ls = find_lock(&r, "tlist");
	assert_non_null(ls);
	assert_int_equal(ls->acquisitions, 121);
	assert_true(ls->hold_min_ns <= ls->hold_max_ns);
	/* Every new_m takes sched.lock once. */
	ls = find_lock(&r, "sched.lock");
	assert_non_null(ls);
	assert_int_equal(ls->acquisitions, r.ms.len);
	assert_int_equal(r.ms.data[0].created_by, -1);
	hs_result_free(&r);
}

/* Checks that each thread's intervals run from creation to exit (or the
 * end, for a daemon alive at the end) with no gap and no overlap. */
static void check_intervals(const struct hs_run_result *r)
{
	size_t k = 0;

	for (size_t i = 0; i < r->threads.len; i++) {
		const struct hs_thread_rec *t = &r->threads.data[i];
		int64_t at = t->created_ns;

		assert_true(k < r->states.len);
		for (; k < r->states.len && r->states.data[k].thread == t->id; k++) {
			const struct hs_state_rec *s = &r->states.data[k];

			assert_int_equal(s->start_ns, at);
			assert_true(s->end_ns > s->start_ns);
			at = s->end_ns;
		}
		if (t->exited_ns >= 0)
			assert_int_equal(at, t->exited_ns);
	}
	assert_int_equal(k, r->states.len);
}

static void states_cover_each_thread(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;
	size_t sleeping = 0;

	config_default(&cfg);
	assert_int_equal(run_native(&cfg, &tlist_policy, &r), 0);
	assert_int_equal(r.status, HS_STATUS_OK);
	for (size_t i = 0; i < r.threads.len; i++)
		assert_int_equal(r.threads.data[i].id, (int32_t)i);
	check_intervals(&r);
	/* Think time is a sleep: two per thread. */
	for (size_t i = 0; i < r.states.len; i++)
		sleeping += r.states.data[i].state == HS_TS_SLEEPING &&
			    r.states.data[i].reason == HS_R_THINK;
	assert_int_equal(sleeping, 40);
	hs_result_free(&r);
}

static void summary_keeps_no_events(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;

	config_default(&cfg);
	cfg.scenario.record = HS_RECORD_SUMMARY;
	assert_int_equal(run_native(&cfg, &tlist_policy, &r), 0);
	assert_int_equal(r.status, HS_STATUS_OK);
	assert_int_equal(r.states.len, 0);
	assert_int_equal(r.callbacks.len, 0);
	assert_int_equal(r.wakes.len, 0);
	assert_int_equal(r.threads.len, 20);
	assert_int_equal((int)hs_result_get(&r, "callbacks", -1), 60);
	assert_true(r.hists.len > 0);
	hs_result_free(&r);
}

/* At summary level the driver does not read now() for a callback's two
 * phase times, because only callback rows contain them.  So the run makes
 * two primitive calls fewer per callback and records the same summary.
 * With one thread the tlist lock is never contended, so both runs make
 * the same other calls. */
static void summary_skips_phase_times(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result ev, sum;
	const struct hs_lock_stat *ls_ev, *ls_sum;

	config_default(&cfg);
	cfg.scenario.threads = 1;
	cfg.scenario.callbacks = 50;
	cfg.scenario.think_ns = 0;
	assert_int_equal(run_native(&cfg, &tlist_policy, &ev), 0);
	cfg.scenario.record = HS_RECORD_SUMMARY;
	assert_int_equal(run_native(&cfg, &tlist_policy, &sum), 0);
	assert_int_equal(ev.status, HS_STATUS_OK);
	assert_int_equal(sum.status, HS_STATUS_OK);

	assert_int_equal(ev.events - sum.events, 2 * 50);
	assert_int_equal(ev.callbacks.len, 50);
	for (size_t i = 0; i < ev.callbacks.len; i++) {
		assert_true(ev.callbacks.data[i].m_acquired_ns > 0);
		assert_true(ev.callbacks.data[i].p_acquired_ns > 0);
	}
	assert_int_equal((int)hs_result_get(&sum, "callbacks", -1), 50);
	assert_true(hs_result_get(&sum, "cb_latency_p50_ns", -1) > 0);
	ls_ev = find_lock(&ev, "tlist");
	ls_sum = find_lock(&sum, "tlist");
	assert_non_null(ls_ev);
	assert_non_null(ls_sum);
	assert_int_equal(ls_sum->acquisitions, ls_ev->acquisitions);
	assert_int_equal(ls_sum->acquisitions, 101);
	assert_true(ls_sum->hold_total_ns > 0);
	hs_result_free(&ev);
	hs_result_free(&sum);
}

/*
 * With phase_cpu the native threads read their CPU clock at each phase
 * boundary.  The Go phase spins 20 us of work per callback (the clock
 * that paces it may count a short preemption as work, hence the half),
 * and the phases are part of the process's CPU time (getrusage, which
 * counts in microseconds).  Each phase has the cost of one clock read
 * taken off.
 */
static void phase_cpu_is_recorded(void **unused)
{
	struct hs_run_request req = { 0 };
	struct hs_error err = { 0 };
	struct hs_run_result r;
	struct hs_config cfg;
	double sum = 0;

	config_default(&cfg);
	cfg.scenario.record = HS_RECORD_SUMMARY;
	req.cfg = &cfg;
	req.policy = &tlist_policy;
	req.seed = 7;
	req.record = HS_RECORD_SUMMARY;
	req.phase_cpu = true;
	hs_result_init(&r);
	assert_int_equal(hs_backend_native.run(&req, &r, &err), 0);
	assert_int_equal(r.status, HS_STATUS_OK);

	for (int i = 0; i < HS_NPHASES; i++) {
		double v = hs_result_get(&r, hs_phase_scalar[i], -1);

		assert_true(v >= 0);
		sum += v;
	}
	assert_true(hs_result_get(&r, "cpu_think_ns", -1) > 0); /* the sleep system calls */
	assert_true(hs_result_get(&r, "cpu_go_ns", -1) >= 0.5 * 20 * 3 * 20000);
	assert_true(sum <= hs_result_get(&r, "cpu_ns", -1) + 1000);
	/* the cost of a clock read, taken off each phase, is recorded */
	assert_true(hs_result_get(&r, "phase_cpu_read_ns", -1) > 0);
	assert_true(hs_result_get(&r, "phase_cpu_read_ns", -1) < 100000);
	hs_result_free(&r);
}

/* No more threads run entered() at once than there are P's, with and
 * without the GC stopping the world in each callback. */
static void p_count_bounds_entered(void **unused)
{
	static const struct { int procs; bool gc; } cases[] = {
		{ 1, false }, { 1, true }, { 2, true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hs_config cfg;
		struct hs_run_result r;

		config_default(&cfg);
		cfg.scenario.threads = 8;
		cfg.scenario.callbacks = 5;
		cfg.scenario.think_ns = 0;
		cfg.scenario.steps[0] = (struct hs_step){ HS_STEP_WORK, 20000 };
		cfg.scenario.steps[1] = (struct hs_step){ HS_STEP_GC, 0 };
		cfg.scenario.nsteps = cases[i].gc ? 2 : 1;
		cfg.runtime.gomaxprocs = cases[i].procs;
		cfg.runtime.gc_mark_ns = 200000;
		__atomic_store_n(&pcount_max, 0, __ATOMIC_SEQ_CST);
		assert_int_equal(run_native(&cfg, &pcount_policy, &r), 0);
		if (r.status != HS_STATUS_OK)
			fprintf(stderr, "case %zu: %s: %s\n", i, hs_status_name(r.status), r.error);
		assert_int_equal(r.status, HS_STATUS_OK);
		assert_int_equal((int)hs_result_get(&r, "callbacks", -1), 40);
		if (cases[i].gc)
			assert_true(hs_result_get(&r, "gc_cycles", 0) >= 1);
		assert_in_range(__atomic_load_n(&pcount_max, __ATOMIC_SEQ_CST), 1, cases[i].procs);
		check_intervals(&r);
		hs_result_free(&r);
	}
}

static void watchdog_stops_stuck_policy(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;

	config_default(&cfg);
	cfg.scenario.threads = 4;
	cfg.scenario.time_limit_ns = 200000000;
	assert_int_equal(run_native(&cfg, &never_policy, &r), 0);
	assert_int_equal(r.status, HS_STATUS_TIMEOUT);
	assert_int_equal(r.threads.len, 4);
	for (size_t i = 0; i < r.threads.len; i++)
		assert_true(r.threads.data[i].exited_ns >= 200000000);
	assert_int_equal((int)hs_result_get(&r, "callbacks", -1), 0);
	check_intervals(&r);
	hs_result_free(&r);

	/* The process is fit for another run. */
	config_default(&cfg);
	cfg.scenario.threads = 2;
	assert_int_equal(run_native(&cfg, &tlist_policy, &r), 0);
	assert_int_equal(r.status, HS_STATUS_OK);
	hs_result_free(&r);
}

static void duplicate_m_is_an_error(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;

	config_default(&cfg);
	cfg.scenario.threads = 2;
	cfg.scenario.callbacks = 1;
	assert_int_equal(run_native(&cfg, &dup_policy, &r), 0);
	assert_int_equal(r.status, HS_STATUS_ERROR);
	assert_non_null(strstr(r.error, "M 1 "));
	assert_non_null(strstr(r.error, "while thread"));
	hs_result_free(&r);
}

static void gc_callers_share_cycles(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;
	double cycles;
	bool waited[64] = { false };
	size_t foreign_waited = 0;

	config_default(&cfg);
	cfg.scenario.threads = 6;
	cfg.scenario.callbacks = 1;
	cfg.scenario.steps[0] = (struct hs_step){ HS_STEP_GC, 0 };
	cfg.scenario.nsteps = 1;
	assert_int_equal(run_native(&cfg, &tlist_policy, &r), 0);
	assert_int_equal(r.status, HS_STATUS_OK);
	cycles = hs_result_get(&r, "gc_cycles", -1);
	assert_true(cycles >= 1);
	assert_true(cycles < 6);
	/* each cycle stops the world twice, for gc_stw1 and gc_stw2 (100 us
	 * each) at least, and the run records the time from each stop
	 * request to the restart */
	assert_true(hs_result_get(&r, "stw_ns", -1) >= cycles * 200000);
	assert_true(hs_result_get(&r, "stw_ns", -1) < hs_result_get(&r, "makespan_ns", -1));
	/* gc, and max(1, round(2 * 0.25)) = 1 mark worker. */
	assert_int_equal(count_kind(&r, HS_THREAD_RUNTIME), 2);
	check_intervals(&r);

	/* Every caller waited for a cycle that started after its call. */
	for (size_t i = 0; i < r.states.len; i++) {
		const struct hs_state_rec *s = &r.states.data[i];

		if (s->state == HS_TS_BLOCKED && s->reason == HS_R_GC_WAIT && s->thread < 64)
			waited[s->thread] = true;
	}
	for (size_t i = 0; i < r.threads.len; i++)
		if (r.threads.data[i].kind == HS_THREAD_FOREIGN && waited[r.threads.data[i].id])
			foreign_waited++;
	assert_int_equal(foreign_waited, 6);
	hs_result_free(&r);
}

/* runtime.GC() callers outnumber the P: each wakes only with a P handed
 * to it, so none goes from waiting for the cycle to waiting for a P. */
static void gc_callers_wake_with_a_p(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;

	config_default(&cfg);
	cfg.scenario.threads = 12;
	cfg.scenario.callbacks = 1;
	cfg.runtime.gomaxprocs = 1;
	/* No sweep: a sweep is Go work, whose safe points may give the P to a
	 * stopping world and wait for it again. */
	cfg.runtime.gc_sweep_ns = 0;
	cfg.scenario.steps[0] = (struct hs_step){ HS_STEP_GC, 0 };
	cfg.scenario.nsteps = 1;
	assert_int_equal(run_native(&cfg, &tlist_policy, &r), 0);
	assert_int_equal(r.status, HS_STATUS_OK);
	check_intervals(&r);
	assert_int_equal(p_waits_after_gc_wait(&r), 0);
	assert_int_equal(hs_result_get(&r, "callbacks", -1), 12);
	hs_result_free(&r);
}

/* A foreign thread keeps all of thread_stack for its own frames: the
 * signal stack the backend places in its entry frame comes on top. */
static void foreign_stack_keeps_its_size(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;

#if defined(__SANITIZE_THREAD__)
	/* ThreadSanitizer's static TLS sits in every thread's stack mapping
	 * and takes much of it, so the layout this test checks does not hold. */
	skip();
#endif
	config_default(&cfg);
	cfg.scenario.threads = 4;
	cfg.scenario.callbacks = 2;
	cfg.scenario.thread_stack_bytes = 256 * 1024;
	assert_int_equal(run_native(&cfg, &deep_policy, &r), 0);
	assert_string_equal(r.error, "");
	assert_int_equal(r.status, HS_STATUS_OK);
	assert_int_equal(hs_result_get(&r, "callbacks", -1), 8);
	hs_result_free(&r);
}

/* Each native thread carries its herdsim name in the kernel, where perf
 * and top show it: every acquire runs on a thread named "foreign-N". */
static void threads_carry_their_names(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;

	config_default(&cfg);
	cfg.scenario.threads = 4;
	cfg.scenario.callbacks = 2;
	named_foreign = 0;
	assert_int_equal(run_native(&cfg, &comm_policy, &r), 0);
	assert_int_equal(r.status, HS_STATUS_OK);
	assert_int_equal(named_foreign, 8);
	hs_result_free(&r);
}

/*
 * The run counts the CPU migrations of the threads it starts: each of the
 * 8 acquires moves its thread twice.  Skipped with one CPU, and where the
 * kernel refuses the counter (the run then stores NaN).
 */
static void migrations_are_counted(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;
	double migrations;

	if (sched_getaffinity(0, sizeof(hop_allowed), &hop_allowed) != 0 || CPU_COUNT(&hop_allowed) < 2)
		skip();
	config_default(&cfg);
	cfg.scenario.threads = 4;
	cfg.scenario.callbacks = 2;
	cfg.scenario.record = HS_RECORD_SUMMARY;
	assert_int_equal(run_native(&cfg, &hop_policy, &r), 0);
	assert_int_equal(r.status, HS_STATUS_OK);
	migrations = hs_result_get(&r, "migrations", -1);
	hs_result_free(&r);
	if (isnan(migrations))
		skip();
	assert_true(migrations >= 16);
}

/* Returns the number of open descriptors of this process, or -1. */
static int open_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A run closes every descriptor it opens, the migration counter too,
 * whether or not the kernel granted that counter. */
static void native_run_closes_descriptors(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;
	int before = open_fd_count();

	assert_true(before > 0);
	config_default(&cfg);
	cfg.scenario.threads = 2;
	cfg.scenario.callbacks = 2;
	cfg.scenario.record = HS_RECORD_SUMMARY;
	assert_int_equal(run_native(&cfg, &tlist_policy, &r), 0);
	assert_int_equal(r.status, HS_STATUS_OK);
	hs_result_free(&r);
	assert_int_equal(open_fd_count(), before);
}

static void periodic_arrival_creates_all(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;

	config_default(&cfg);
	cfg.scenario.threads = 5;
	cfg.scenario.arrival = HS_ARRIVAL_PERIODIC;
	cfg.scenario.interval_ns = 2000000;
	assert_int_equal(run_native(&cfg, &tlist_policy, &r), 0);
	assert_int_equal(r.status, HS_STATUS_OK);
	assert_int_equal(r.threads.len, 5);
	/* Thread i is created no earlier than i intervals after the start. */
	for (size_t i = 0; i < r.threads.len; i++)
		assert_true(r.threads.data[i].created_ns >= (int64_t)i * 2000000);
	assert_int_equal((int)hs_result_get(&r, "callbacks", -1), 15);
	hs_result_free(&r);
}

/* arrival = trace without a trace to replay. */
static void trace_arrival_is_rejected(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;
	struct hs_run_request req = { .cfg = &cfg, .policy = &tlist_policy };
	struct hs_error err = { 0 };

	config_default(&cfg);
	cfg.scenario.arrival = HS_ARRIVAL_TRACE;
	hs_result_init(&r);
	assert_int_equal(hs_backend_native.run(&req, &r, &err), HS_E_INPUT);
	assert_non_null(strstr(err.msg, "herdsim replay TRACE.csv"));
	hs_result_free(&r);
}

/* The shipped list policies conserve M's and complete every callback on
 * real threads, with runtime.GC() in each callback. */
static void shipped_policies_conserve_ms(void **unused)
{
	static const char *const names[] = { "single", "waiters" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct hs_policy *p = hs_policy_find(names[i]);
		struct hs_config cfg;
		struct hs_run_result r;

		assert_non_null(p);
		config_default(&cfg);
		cfg.scenario.steps[2] = (struct hs_step){ HS_STEP_GC, 0 };
		cfg.scenario.nsteps = 3;
		cfg.runtime.gc_mark_ns = 1000000;
		assert_int_equal(run_native(&cfg, p, &r), 0);
		if (r.status != HS_STATUS_OK)
			fprintf(stderr, "%s: %s: %s\n", names[i], hs_status_name(r.status), r.error);
		assert_int_equal(r.status, HS_STATUS_OK);
		assert_int_equal((int)hs_result_get(&r, "callbacks", -1), 60);
		assert_int_equal(r.callbacks.len, 60);
		assert_int_equal((int)hs_result_get(&r, "m_created", -1),
				 (int)hs_result_get(&r, "m_spare_end", -2));
		assert_true(hs_result_get(&r, "gc_cycles", 0) >= 1);
		check_intervals(&r);
		hs_result_free(&r);
	}
}

/* An M's created_ns is the time its creation finished, as in the
 * simulator.  With allocm at 20 ms of CPU, the M created by the thread
 * that took the last one is stamped at least 20 ms after that thread began. */
static void m_stamped_when_ready(void **unused)
{
	const struct hs_policy *p = hs_policy_find("single");
	const struct hs_thread_rec *creator = NULL;
	const struct hs_m_rec *new_m = NULL;
	struct hs_config cfg;
	struct hs_run_result r;

	assert_non_null(p);
	config_default(&cfg);
	cfg.scenario.threads = 1;
	cfg.scenario.callbacks = 1;
	cfg.runtime.allocm_ns = 20000000;
	assert_int_equal(run_native(&cfg, p, &r), 0);
	assert_int_equal(r.status, HS_STATUS_OK);
	assert_int_equal(r.ms.len, 2);
	for (size_t i = 0; i < r.ms.len; i++)
		if (r.ms.data[i].created_by >= 0)
			new_m = &r.ms.data[i];
	assert_non_null(new_m);
	for (size_t i = 0; i < r.threads.len; i++)
		if (r.threads.data[i].id == new_m->created_by)
			creator = &r.threads.data[i];
	assert_non_null(creator);
	assert_true(new_m->created_ns - creator->created_ns >= 20000000);
	assert_true(new_m->created_ns <= creator->exited_ns);
	hs_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(foreign_threads_create_no_arena),
		cmocka_unit_test(native_clock_follows_monotonic),
		cmocka_unit_test(burst_completes_every_callback),
		cmocka_unit_test(states_cover_each_thread),
		cmocka_unit_test(summary_keeps_no_events),
		cmocka_unit_test(summary_skips_phase_times),
		cmocka_unit_test(phase_cpu_is_recorded),
		cmocka_unit_test(p_count_bounds_entered),
		cmocka_unit_test(watchdog_stops_stuck_policy),
		cmocka_unit_test(duplicate_m_is_an_error),
		cmocka_unit_test(gc_callers_share_cycles),
		cmocka_unit_test(gc_callers_wake_with_a_p),
		cmocka_unit_test(foreign_stack_keeps_its_size),
		cmocka_unit_test(threads_carry_their_names),
		cmocka_unit_test(migrations_are_counted),
		cmocka_unit_test(native_run_closes_descriptors),
		cmocka_unit_test(periodic_arrival_creates_all),
		cmocka_unit_test(trace_arrival_is_rejected),
		cmocka_unit_test(shipped_policies_conserve_ms),
		cmocka_unit_test(m_stamped_when_ready),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
