/*
 * The sim backend: one run of a scenario in simulated time.
 *
 * The run loop pops events in (time, seq) order and hands each to the OS
 * model, which may resume a fiber.  The run ends when every foreign thread
 * has exited (status ok), when no event is left while a foreign thread is
 * alive (deadlock: everyone waits for something that cannot happen), or
 * when the simulated-time or event limit passes (timeout).  Daemon threads
 * (the collector, mark workers, a policy's own threads) do not keep a run
 * alive.
 *
 * Thread ids are given in creation order: 0 is the runtime's main thread,
 * which runs policy->init; then the collector and its mark workers; then
 * any thread the policy spawns; then foreign threads as they arrive.
 * Foreign threads arrive once init has returned: the main thread creates
 * them (create_foreign).
 */
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record.h"
#include "sim_internal.h"

void sim_schedule(struct sim *s, int64_t time, uint16_t type, uint32_t target, uint32_t gen)
{
	if (hs_evq_push(&s->q, time, type, target, gen) != 0)
		sim_fail(s, "out of memory for the event queue");
}

void sim_fail(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (s->status == HS_STATUS_ERROR)
		return; /* keep the first failure */
	s->status = HS_STATUS_ERROR;
	s->stop = true;
	va_start(ap, fmt);
	vsnprintf(s->out->error, sizeof(s->out->error), fmt, ap);
	va_end(ap);
}

void sim_set_state(struct sim *s, struct sim_thread *t, enum hs_tstate st, enum hs_reason r,
		   int32_t waker)
{
	if (s->events && s->now > t->state_since && t->state != HS_TS_COUNT) {
		struct hs_state_rec *last = t->last_state_rec >= 0 ? &s->out->states.data[t->last_state_rec] : NULL;

		if (last && last->end_ns == t->state_since && last->state == t->state &&
		    last->reason == t->reason && last->waker == t->waker) {
			last->end_ns = s->now; /* extend the same interval */
		} else {
			struct hs_state_rec *rec = HS_VEC_PUSH(&s->out->states);

			if (!rec) {
				sim_fail(s, "out of memory recording thread states");
			} else {
				rec->thread = t->id;
				rec->state = (uint8_t)t->state;
				rec->reason = (uint8_t)t->reason;
				rec->waker = t->waker;
				rec->start_ns = t->state_since;
				rec->end_ns = s->now;
				t->last_state_rec = (int64_t)s->out->states.len - 1;
			}
		}
	}
	t->state = st;
	t->reason = r;
	t->waker = waker;
	t->state_since = s->now;
}

static void create_foreign(struct sim *s, struct sim_thread *creator);

static void fiber_entry(void *arg)
{
	struct sim_thread *t = arg;
	struct sim *s = t->sim;

	switch (t->role) {
	case ROLE_FOREIGN: {
		int rc = hs_foreign_thread_run(&t->env, &s->driver);

		if (rc == HS_E_MODEL)
			sim_fail(s, "policy %s: acquire returned no M to thread %d", s->policy->name, t->id);
		else if (rc < 0)
			sim_fail(s, "thread %d: the workload failed: %s", t->id, hs_strerror(rc));
		break;
	}
	case ROLE_MAIN:
		if (s->policy->init(&t->env, s->policy_state, s->req->policy_params) < 0)
			sim_fail(s, "policy %s: init failed", s->policy->name);
		s->init_done = true;
		if (s->replay)
			sim_replay_start(s);
		else
			create_foreign(s, t);
		break;
	case ROLE_GC:
	case ROLE_MARK:
	case ROLE_POLICY:
		t->fn(&t->env, t->fn_arg);
		break;
	}
	sim_thread_exit(s, t);
}

struct sim_thread *sim_thread_new(struct sim *s, enum sim_thread_role role, const char *name,
				  void (*fn)(hs_env *env, void *arg), void *arg)
{
	struct sim_thread *t;
	struct hs_thread_rec *rec;

	if (s->nthreads == s->cap_threads) {
		int ncap = s->cap_threads ? s->cap_threads * 2 : 64;
		struct sim_thread **th = realloc(s->threads, (size_t)ncap * sizeof(*th));

		if (!th)
			goto oom;
		s->threads = th;
		s->cap_threads = ncap;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto oom;
	if (hs_fiber_init(&t->fiber, fiber_entry, t) != 0) {
		free(t);
		/* Each stack is two memory mappings (the stack and its guard
		 * page), and the kernel caps mappings per process. */
		sim_fail(s, "cannot map a stack for thread %d: %d threads are alive and the kernel's "
			 "limit on memory mappings (sysctl vm.max_map_count) is reached; lower "
			 "workload.threads or raise the limit", s->nthreads,
			 s->foreign_created - s->foreign_exited);
		return NULL;
	}
	rec = HS_VEC_PUSH(&s->out->threads);
	if (!rec) {
		hs_fiber_destroy(&t->fiber);
		free(t);
		goto oom;
	}
	t->env.ops = &sim_env_ops;
	t->sim = s;
	t->id = s->nthreads;
	t->role = role;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->fn = fn;
	t->fn_arg = arg;
	t->core = SIM_NONE;
	t->ran_core = SIM_NONE;
	t->recent_core = SIM_NONE;
	t->fork_parent = SIM_NONE;
	t->est_core = SIM_NONE;
	t->load_core = SIM_NONE;
	t->left_ns = -1;
	t->exec_start = -1;
	t->waker = SIM_NONE;
	t->wake_rec = -1;
	t->last_state_rec = -1;
	t->state_since = s->now;
	/* Daemons start blocked and first run when woken; the others start
	 * runnable and are placed by the caller. */
	if (role == ROLE_GC || role == ROLE_MARK) {
		t->state = HS_TS_BLOCKED;
		t->reason = HS_R_IDLE;
	} else {
		t->state = HS_TS_RUNNABLE;
		t->reason = HS_R_CREATE;
	}
	s->threads[s->nthreads++] = t;

	rec->id = t->id;
	rec->kind = role == ROLE_FOREIGN ? HS_THREAD_FOREIGN : HS_THREAD_RUNTIME;
	snprintf(rec->name, sizeof(rec->name), "%s", name);
	rec->created_ns = s->now;
	rec->exited_ns = -1;
	return t;
oom:
	sim_fail(s, "out of memory creating thread %d", s->nthreads);
	return NULL;
}

void sim_resume(struct sim *s, struct sim_thread *t)
{
	assert(s->running == NULL);
	s->running = t;
	t->started = true;
	hs_fiber_switch(&s->host, &t->fiber);
	s->running = NULL;

	/* An exited fiber never runs again: its stack can serve the next
	 * thread, so memory follows the threads alive, not those created.
	 * The thread that exited may be another than t, because a fiber can
	 * switch straight to the next one (os.c, suspend). */
	if (s->exited) {
		hs_fiber_destroy(&s->exited->fiber);
		s->exited = NULL;
	}
}

/*
 * The main thread creates the foreign threads one after another, as the
 * native backend's run thread does and as a C program's own thread calls
 * pthread_create: each creation costs the creator `thread_create` of CPU
 * (the calibrated cost of pthread_create with its stack), so the creator
 * competes for a core with the threads it already made, and only then is
 * the new thread woken and placed.  Periodic and poisson arrivals sleep
 * until the next arrival time (counted from the previous one, not from
 * the end of the previous creation) first; a burst does not sleep.  The
 * makespan starts when the first creation starts.
 */
static void create_foreign(struct sim *s, struct sim_thread *creator)
{
	const struct hs_scenario *sc = &s->cfg->scenario;
	int64_t next = s->now;

	for (int i = 0; i < s->foreign_total && !s->stop; i++) {
		struct sim_thread *t;
		char name[24];

		if (i > 0 && sc->arrival == HS_ARRIVAL_PERIODIC)
			next += sc->interval_ns;
		else if (i > 0 && sc->arrival == HS_ARRIVAL_POISSON)
			next += hs_rng_exp(&s->rng_workload, sc->interval_ns);
		if (next > s->now)
			sim_os_sleep(s, creator, next - s->now, HS_R_IDLE);
		if (i == 0)
			s->first_arrival = s->now;
		snprintf(name, sizeof(name), "c%d", i);
		t = sim_thread_new(s, ROLE_FOREIGN, name, NULL, NULL);
		if (!t)
			return;
		sim_create_stack(s, creator, sim_cost(s, HS_COST_THREAD_CREATE, s->os->thread_create_ns));
		t->arrival_ns = s->now;
		t->workload_thread = i;
		t->fork_parent = creator->core;
		s->foreign_created++;
		if (s->foreign_created - s->foreign_exited > s->foreign_peak)
			s->foreign_peak = s->foreign_created - s->foreign_exited;
		sim_place(s, t, true, false);
	}
}

static void handle(struct sim *s, const struct hs_event *ev)
{
	switch (ev->type) {
	case EV_BURST:
		sim_burst_end(s, s->threads[ev->target], ev->gen);
		break;
	case EV_TIMER:
		sim_timer_irq(s, (int)ev->target, ev->gen);
		break;
	case EV_ONCPU:
		sim_on_cpu(s, (int)ev->target, ev->gen);
		break;
	case EV_SLICE:
		sim_slice_end(s, (int)ev->target, ev->gen);
		break;
	case EV_BALANCE:
		sim_idle_balance(s, (int)ev->target);
		break;
	case EV_LOAD_BALANCE:
		sim_load_balance(s, (int)ev->target);
		break;
	case EV_TRACE_START:
		sim_replay_create(s, ev->target);
		break;
	case EV_TRACE_ROW:
		sim_replay_deliver(s);
		break;
	}
}

static void loop(struct sim *s)
{
	const struct hs_scenario *sc = &s->cfg->scenario;
	struct hs_event ev;

	while (!s->stop) {
		if (!hs_evq_pop(&s->q, &ev)) {
			s->status = HS_STATUS_DEADLOCK;
			snprintf(s->out->error, sizeof(s->out->error),
				 "deadlock at %lld ns: %d of %d foreign threads alive and no event pending",
				 (long long)s->now, s->foreign_total - s->foreign_exited, s->foreign_total);
			return;
		}
		if (ev.time > sc->time_limit_ns || s->nevents >= (uint64_t)sc->event_limit) {
			s->status = HS_STATUS_TIMEOUT;
			snprintf(s->out->error, sizeof(s->out->error),
				 "limit reached at %lld ns after %llu events: %d of %d foreign threads alive",
				 (long long)s->now, (unsigned long long)s->nevents,
				 s->foreign_total - s->foreign_exited, s->foreign_total);
			return;
		}
		s->now = ev.time;
		s->nevents++;
		handle(s, &ev);
#ifdef HS_CHECK_RUNQUEUE
		sim_check_pelt(s);
#endif
	}
}

/* Closes open state intervals and fills the summary of the run. */
static void finish(struct sim *s)
{
	struct hs_run_result *out = s->out;
	int64_t usleeps = 0, yields = 0, cas_failures = 0, futex_waits = 0, futex_wakes = 0;
	uint64_t spare;
	int64_t expected_callbacks;

	for (int i = 0; i < s->nthreads; i++) {
		struct sim_thread *t = s->threads[i];

		if (!t->exited)
			sim_set_state(s, t, HS_TS_COUNT, HS_R_NONE, SIM_NONE);
		usleeps += t->counters.sleeps;
		yields += t->counters.yields;
		cas_failures += t->counters.cas_failures;
		futex_waits += t->futex_waits;
		futex_wakes += t->futex_wakes;
	}
	for (int i = 0; i < s->nlocks; i++) {
		struct hs_lock_stat *l = HS_VEC_PUSH(&out->locks);

		if (!l)
			break;
		*l = s->locks[i].stat;
		if (l->acquisitions == 0)
			l->wait_min_ns = l->hold_min_ns = 0;
	}

	out->status = s->status;
	out->events = s->nevents;
	out->end_ns = s->now;
	spare = s->policy->spare_count ? s->policy->spare_count(s->policy_state) : 0;
	expected_callbacks = s->replay ? s->replay_rows : (int64_t)s->foreign_total * s->cfg->scenario.callbacks;

	/* Conservation, checked on runs that completed. */
	if (out->status == HS_STATUS_OK) {
		if ((uint64_t)(s->nms - s->m_freed) != spare)
			sim_fail(s, "M's lost: %d created, %d freed, %llu spare at the end", s->nms, s->m_freed,
				 (unsigned long long)spare);
		else if (s->callbacks_done != expected_callbacks)
			sim_fail(s, "%lld of %lld callbacks completed", (long long)s->callbacks_done,
				 (long long)expected_callbacks);
		out->status = s->status;
	}

	/* A run that did not complete has no makespan: NaN, stored as NULL. */
	hs_result_scalar(out, "makespan_ns", s->foreign_exited == s->foreign_total && s->foreign_total > 0
						     ? (double)(s->last_exit - s->first_arrival)
						     : NAN);
	hs_result_scalar(out, "callbacks", (double)s->callbacks_done);
	hs_result_scalar(out, "m_created", (double)s->nms);
	hs_result_scalar(out, "usleep_calls", (double)usleeps);
	hs_result_scalar(out, "wasted_wakeups", (double)s->wasted);
	hs_result_scalar(out, "yields", (double)yields);
	hs_result_scalar(out, "cas_failures", (double)cas_failures);
	hs_result_scalar(out, "futex_waits", (double)futex_waits);
	hs_result_scalar(out, "futex_wakes", (double)futex_wakes);
	hs_result_scalar(out, "m_spare_end", (double)spare);
	/* no callbacks, no latency: NaN, stored as NULL */
	hs_result_scalar(out, "cb_latency_p50_ns",
			 s->latency.count ? (double)hs_hist_quantile(&s->latency, 0.50) : NAN);
	hs_result_scalar(out, "cb_latency_p99_ns",
			 s->latency.count ? (double)hs_hist_quantile(&s->latency, 0.99) : NAN);
	hs_result_scalar(out, "cb_latency_max_ns", s->latency.count ? (double)s->latency.max : NAN);
	hs_result_scalar(out, "threads", (double)s->foreign_created);
	hs_result_scalar(out, "threads_peak", (double)s->foreign_peak);
	hs_result_scalar(out, "preemptions", (double)s->preemptions);
	hs_result_scalar(out, "context_switches", (double)s->switches);
	hs_result_scalar(out, "migrations", (double)s->migrations);
	hs_result_scalar(out, "cpu_ns", (double)s->cpu_ns);
	if (s->req->phase_cpu)
		for (int i = 0; i < HS_NPHASES; i++)
			hs_result_scalar(out, hs_phase_scalar[i], (double)s->phase_cpu[i]);
	hs_result_scalar(out, "gc_cycles", (double)s->gc.cycles_done);
	hs_result_scalar(out, "stw_ns", (double)s->gc.stw_ns);
	hs_hist_record(&s->latency, "callback_latency", out);
}

static void destroy(struct sim *s)
{
	for (int i = 0; i < s->nthreads; i++) {
		hs_fiber_destroy(&s->threads[i]->fiber);
		free(s->threads[i]);
	}
	free(s->threads);
	for (int i = 0; i < s->nms; i++)
		free(s->ms[i]);
	free(s->ms);
	free(s->m_holder);
	free(s->fq);
	for (int c = 0; c < SIM_MAX_CORES; c++)
		free(s->cores[c].timers);
	free(s->expired);
	free(s->gc.workers);
	free(s->policy_state);
	sim_replay_free(s);
	hs_evq_free(&s->q);
	free(s);
}

static int validate(const struct hs_run_request *req, struct hs_error *err)
{
	const struct hs_config *cfg = req->cfg;

	if (cfg->scenario.cores < 1 || cfg->scenario.cores > SIM_MAX_CORES)
		return hs_error_set(err, HS_E_INPUT, cfg->scenario.file, 0, "machine.cores",
				    "the sim backend models 1 to %d cores; got %d", SIM_MAX_CORES,
				    cfg->scenario.cores);
	if (cfg->scenario.arrival == HS_ARRIVAL_TRACE && !req->trace_path)
		return hs_error_set(err, HS_E_INPUT, cfg->scenario.file, 0, "workload.arrival",
				    "arrival = trace is replayed with `herdsim replay TRACE.csv`");
	if (!(req->schedule_noise >= 0 && req->schedule_noise <= 0.5))
		return hs_error_set(err, HS_E_USAGE, NULL, 0, "--schedule-noise",
				    "schedule noise %g is out of range; use 0 to 0.5", req->schedule_noise);
	if (req->policy->abi_version != HS_POLICY_ABI_VERSION)
		return hs_error_set(err, HS_E_VERSION, NULL, 0, req->policy->name,
				    "policy built for contract version %d; this herdsim has version %d",
				    req->policy->abi_version, HS_POLICY_ABI_VERSION);
	return 0;
}

static void fill_identity(const struct hs_run_request *req, struct hs_run_result *out)
{
	const struct hs_config *cfg = req->cfg;

	snprintf(out->scenario, sizeof(out->scenario), "%s", cfg->scenario.name);
	snprintf(out->policy, sizeof(out->policy), "%s", req->policy->name);
	snprintf(out->backend, sizeof(out->backend), "sim");
	snprintf(out->os, sizeof(out->os), "%s", cfg->os.name);
	out->seed = req->seed;
	out->replication = req->replication;
	out->record = req->record;
	hs_utc_now(out->started_at, sizeof(out->started_at));
}

static int sim_run(const struct hs_run_request *req, struct hs_run_result *out, struct hs_error *err)
{
	const struct hs_config *cfg = req->cfg;
	struct timespec t0, t1;
	struct sim *s;
	struct sim_thread *main_thread;
	int rc = validate(req, err);

	if (rc)
		return rc;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fill_identity(req, out);
	s = calloc(1, sizeof(*s));
	if (!s)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	s->req = req;
	s->cfg = cfg;
	s->os = &cfg->os;
	s->rt = &cfg->runtime;
	s->policy = req->policy;
	s->out = out;
	s->events = req->record == HS_RECORD_EVENTS;
	s->ncores = cfg->scenario.cores;
	s->nprocs = cfg->runtime.gomaxprocs > 0 ? cfg->runtime.gomaxprocs : s->ncores;
	s->foreign_total = cfg->scenario.threads;
	s->status = HS_STATUS_OK;
	for (int c = 0; c < SIM_MAX_CORES; c++) {
		s->cores[c].busy_from = -1;
		s->cores[c].timer_at = INT64_MAX;
		/* sd_init's start: a 50 % success rate */
		s->cores[c].ni_call = 512;
		s->cores[c].ni_success = 256;
		s->cores[c].ni_ratio = 512;
		s->cores[c].avg_idle = sim_avg_idle_cap(s);
		s->cores[c].idle_stamp = -1;
		s->cores[c].lb_last = INT64_MIN;
		s->cores[c].lb_interval = LINUX_LB_MIN_INTERVAL(s->ncores);
	}
	/* the machine was idle before the run, so the search is unlimited */
	s->nr_idle_scan = s->ncores;
	hs_evq_init(&s->q);
	hs_hist_init(&s->latency);
	hs_rng_seed(&s->rng_workload, req->seed, HS_STREAM_WORKLOAD);
	hs_rng_seed(&s->rng_os, req->seed, HS_STREAM_OS);
	hs_rng_seed(&s->rng_policy, req->seed, HS_STREAM_POLICY);
	hs_rng_seed(&s->rng_noise, req->seed, HS_STREAM_NOISE);
	hs_rng_seed(&s->rng_cost, req->seed, HS_STREAM_COST);
	hs_rng_seed(&s->rng_sched, req->seed, HS_STREAM_SCHED);
	hs_fiber_init_host(&s->host);
	s->policy_state = calloc(1, req->policy->state_size ? req->policy->state_size : 1);
	s->driver.rt = &sim_rt_ops;
	s->driver.policy = req->policy;
	s->driver.policy_state = s->policy_state;
	s->driver.phase_cpu = req->phase_cpu;
	/* The native backend reads the phase times only for event rows, and
	 * each read costs clock_read, so the sim skips them likewise. */
	s->driver.skip_phase_times = !s->events;

	if (req->trace_path) {
		rc = sim_replay_open(s, err);
		if (rc) {
			destroy(s);
			return rc;
		}
	}
	main_thread = sim_thread_new(s, ROLE_MAIN, "main", NULL, NULL);
	if (s->policy_state && main_thread) {
		sim_rt_init(s);
		sim_place(s, main_thread, false, false);
		loop(s);
	} else {
		sim_fail(s, "out of memory setting up the run");
	}
	finish(s);
	destroy(s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out->wall_ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
	return 0;
}

const struct hs_backend hs_backend_sim = { "sim", sim_run };
