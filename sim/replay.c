/*
 * The trace workload source of the sim backend, and the trace scan that
 * checks a trace before any run.
 *
 * A replay reads the trace twice.  The first pass (hs_replay_scan) counts
 * each thread's rows, so a thread can exit right after its last callback
 * and the run has the count of its foreign threads.  The second pass
 * streams the rows during the run, one row ahead of simulated time:
 *
 *   - reading a row whose thread is new schedules the thread's creation at
 *     max(now, thread_start_ns + shift);
 *   - each row is delivered to its thread's FIFO at max(now, arrival_ns +
 *     shift), and the next row is read then.
 *
 * `shift` moves the trace clock so that a trace starting before the
 * runtime's init has returned starts when it returns:
 * shift = max(0, init end - thread_start_ns of the first row).  A trace
 * recorded from a run starts after init, so its shift is 0.
 *
 * A thread takes its next row from its FIFO.  When the FIFO is empty and
 * the thread has rows left, the thread blocks (state blocked, reason
 * think) until the row is delivered; the wake-up has no waker thread and
 * is recorded like a timer's.  The time spent waiting counts towards the
 * row's c_time_ns, and only the rest is spent as think time (CPU or sleep,
 * as the scenario's think_kind says).  So a callback enters Go at
 * max(arrival_ns + shift, ready + c_time_ns), where `ready` is when the
 * thread became free (after its creation or its previous callback), plus
 * the OS model's wake-up and scheduling delays.
 *
 * Memory: one entry per thread and a shared pool of at most
 * REPLAY_POOL_MAX queued rows.  When the pool is full, delivery stops
 * until a thread takes a row; the rows waiting then are delivered late, at
 * the time a slot frees, which can only delay their callbacks.  Nothing
 * grows with the number of rows.
 *
 * The steps of a row's callback, in order: work:go_work_ns (if > 0),
 * grow:grow_frames (if > 0), then gc_calls times gc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "sim_internal.h"

/* Rows delivered and not yet taken, over all threads (about 3 MiB). */
#define REPLAY_POOL_MAX 65536

struct replay_node {
	int64_t arrival_ns, go_work_ns, gc_calls, grow_frames, c_time_ns, line;
	int32_t next;                /* pool index, -1 at the end */
};

struct replay_thread {
	int32_t id;                  /* thread id in the trace */
	int64_t start_ns;            /* thread_start_ns, unshifted */
	int64_t rows_total;          /* from the first pass */
	int64_t rows_delivered;
	int32_t head, tail;          /* FIFO of pool indices, -1 empty */
	struct sim_thread *thread;   /* NULL until created */
	bool create_scheduled;
	bool waiting;                /* blocked for its next row */
	struct replay_node current;  /* the row of the running callback */
	struct hs_step *steps;
	int steps_cap;
};

struct sim_replay {
	struct hs_trace_reader *reader;
	struct replay_thread *threads; /* in order of first row */
	int32_t nthreads, cap_threads;
	int32_t *slots;              /* open addressing: index + 1, 0 empty */
	uint32_t slot_cap;
	struct replay_node *pool;
	int32_t pool_cap, pool_len, free_head, pool_used;
	struct hs_trace_row pending; /* read, not yet delivered */
	bool have_pending, stalled, shift_set;
	int64_t shift;
	int64_t rows_total;
};

/* ---- Scan ------------------------------------------------------------ */

static uint64_t fnv_add(uint64_t h, int64_t v)
{
	uint64_t u = (uint64_t)v;

	for (int i = 0; i < 8; i++) {
		h ^= (u >> (8 * i)) & 0xff;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* Checks the replay limits of one row. */
static int check_row(const char *path, const struct hs_trace_row *r, struct hs_error *err)
{
	static const char *const names[] = { "thread_start_ns", "arrival_ns", "go_work_ns", NULL,
					     NULL, "c_time_ns" };
	const int64_t vals[] = { r->thread_start_ns, r->arrival_ns, r->go_work_ns, 0, 0, r->c_time_ns };
	int rc = 0;

	for (int i = 0; i < 6; i++) {
		if (names[i] && vals[i] > HS_REPLAY_MAX_NS) {
			rc = hs_error_set(err, HS_E_INPUT, path, (int)r->line, names[i],
					  "%lld ns is beyond what a replay simulates; use at most %lld ns",
					  (long long)vals[i], (long long)HS_REPLAY_MAX_NS);
			err->column = i + 2;
			return rc;
		}
	}
	if (r->gc_calls > HS_REPLAY_MAX_GC) {
		rc = hs_error_set(err, HS_E_INPUT, path, (int)r->line, "gc_calls",
				  "%lld runtime.GC() calls in one callback; a replay accepts at most %d",
				  (long long)r->gc_calls, HS_REPLAY_MAX_GC);
		err->column = 5;
	} else if (r->grow_frames > HS_REPLAY_MAX_GROW) {
		rc = hs_error_set(err, HS_E_INPUT, path, (int)r->line, "grow_frames",
				  "%lld frames in one callback; a replay accepts at most %lld",
				  (long long)r->grow_frames, (long long)HS_REPLAY_MAX_GROW);
		err->column = 6;
	}
	return rc;
}

int hs_replay_scan(const char *path, int (*fn)(void *ctx, const struct hs_trace_row *row,
					       struct hs_error *err),
		   void *ctx, struct hs_replay_summary *sum, struct hs_error *err)
{
	struct hs_trace_reader *r = hs_trace_open(path, err);
	struct hs_trace_row row;
	struct hs_trace_stats st;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	int rc;

	memset(sum, 0, sizeof(*sum));
	if (!r)
		return err->code;
	while ((rc = hs_trace_next(r, &row, err)) == 1) {
		rc = check_row(path, &row, err);
		if (rc == 0 && fn)
			rc = fn(ctx, &row, err);
		if (rc)
			break;
		h = fnv_add(h, row.thread);
		h = fnv_add(h, row.thread_start_ns);
		h = fnv_add(h, row.arrival_ns);
		h = fnv_add(h, row.go_work_ns);
		h = fnv_add(h, row.gc_calls);
		h = fnv_add(h, row.grow_frames);
		h = fnv_add(h, row.c_time_ns);
	}
	hs_trace_reader_stats(r, &st);
	hs_trace_close(r);
	if (rc < 0)
		return rc;
	sum->rows = (int64_t)st.rows;
	sum->threads = (int64_t)st.threads;
	sum->digest = h;
	return 0;
}

void hs_replay_digest_hex(uint64_t digest, char buf[17])
{
	snprintf(buf, 17, "%016llx", (unsigned long long)digest);
}

/* ---- Thread table ---------------------------------------------------- */

static uint32_t hash_id(int32_t id)
{
	uint32_t x = (uint32_t)id * 0x9e3779b1u;

	return x ^ (x >> 16);
}

/* Returns the index of thread ID, or -1 if absent. */
static int32_t find_thread(const struct sim_replay *rp, int32_t id)
{
	if (!rp->slot_cap)
		return -1;
	for (uint32_t i = hash_id(id) & (rp->slot_cap - 1);; i = (i + 1) & (rp->slot_cap - 1)) {
		int32_t v = rp->slots[i];

		if (v == 0)
			return -1;
		if (rp->threads[v - 1].id == id)
			return v - 1;
	}
}

static void put_slot(struct sim_replay *rp, int32_t index)
{
	uint32_t i = hash_id(rp->threads[index].id) & (rp->slot_cap - 1);

	while (rp->slots[i])
		i = (i + 1) & (rp->slot_cap - 1);
	rp->slots[i] = index + 1;
}

static int add_thread(struct sim_replay *rp, const struct hs_trace_row *row, struct hs_error *err)
{
	struct replay_thread *t;

	if ((uint32_t)(rp->nthreads + 1) * 2 > rp->slot_cap) {
		uint32_t ncap = rp->slot_cap ? rp->slot_cap * 2 : 64;
		int32_t *slots = calloc(ncap, sizeof(*slots));

		if (!slots)
			return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory for the thread table");
		free(rp->slots);
		rp->slots = slots;
		rp->slot_cap = ncap;
		for (int32_t i = 0; i < rp->nthreads; i++)
			put_slot(rp, i);
	}
	if (rp->nthreads == rp->cap_threads) {
		int32_t ncap = rp->cap_threads ? rp->cap_threads * 2 : 64;
		struct replay_thread *th = realloc(rp->threads, (size_t)ncap * sizeof(*th));

		if (!th)
			return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory for the thread table");
		rp->threads = th;
		rp->cap_threads = ncap;
	}
	t = &rp->threads[rp->nthreads];
	memset(t, 0, sizeof(*t));
	t->id = row->thread;
	t->start_ns = row->thread_start_ns;
	t->head = t->tail = -1;
	put_slot(rp, rp->nthreads++);
	return 0;
}

/* First-pass callback: counts the rows of each thread. */
static int count_row(void *ctx, const struct hs_trace_row *row, struct hs_error *err)
{
	struct sim_replay *rp = ctx;
	int32_t i = find_thread(rp, row->thread);
	int rc;

	if (i < 0) {
		rc = add_thread(rp, row, err);
		if (rc)
			return rc;
		i = rp->nthreads - 1;
	}
	rp->threads[i].rows_total++;
	rp->rows_total++;
	return 0;
}

/* ---- The run --------------------------------------------------------- */

static int64_t shifted(const struct sim_replay *rp, int64_t t)
{
	return t + rp->shift; /* both at most 2^62: no overflow */
}

/* Reads the next row and schedules its thread's creation and its
 * delivery.  At the end of the file nothing is scheduled. */
static void read_next(struct sim *s)
{
	struct sim_replay *rp = s->replay;
	struct hs_error err = { 0 };
	int rc = hs_trace_next(rp->reader, &rp->pending, &err);
	struct replay_thread *t;
	int32_t i;
	int64_t at;

	rp->have_pending = false;
	if (rc == 0)
		return;
	if (rc < 0) {
		char line[1200];

		hs_error_format(&err, line, sizeof(line));
		sim_fail(s, "%s", line);
		return;
	}
	i = find_thread(rp, rp->pending.thread);
	if (i < 0) {
		sim_fail(s, "%s:%lld: thread %d was not in the trace when it was checked; the file changed",
			 s->req->trace_path, (long long)rp->pending.line, rp->pending.thread);
		return;
	}
	if (!rp->shift_set) {
		rp->shift = s->now > rp->pending.thread_start_ns ? s->now - rp->pending.thread_start_ns : 0;
		rp->shift_set = true;
	}
	t = &rp->threads[i];
	if (!t->create_scheduled) {
		at = shifted(rp, t->start_ns);
		sim_schedule(s, at > s->now ? at : s->now, EV_TRACE_START, (uint32_t)i, 0);
		t->create_scheduled = true;
	}
	rp->have_pending = true;
	at = shifted(rp, rp->pending.arrival_ns);
	sim_schedule(s, at > s->now ? at : s->now, EV_TRACE_ROW, 0, 0);
}

int sim_replay_open(struct sim *s, struct hs_error *err)
{
	struct sim_replay *rp = calloc(1, sizeof(*rp));
	struct hs_replay_summary sum;
	int rc;

	if (!rp)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	s->replay = rp;
	rp->free_head = -1;
	rc = hs_replay_scan(s->req->trace_path, count_row, rp, &sum, err);
	if (rc)
		return rc;
	if (rp->nthreads > 1000000)
		return hs_error_set(err, HS_E_INPUT, s->req->trace_path, 0, "thread",
				    "the trace has %d threads; the sim backend replays at most 1000000",
				    rp->nthreads);
	rp->reader = hs_trace_open(s->req->trace_path, err);
	if (!rp->reader)
		return err->code;
	s->foreign_total = rp->nthreads;
	s->replay_rows = rp->rows_total;
	return 0;
}

void sim_replay_start(struct sim *s)
{
	if (s->foreign_total == 0) {
		s->first_arrival = s->last_exit = s->now;
		s->stop = true; /* an empty trace: nothing to run */
		return;
	}
	read_next(s);
}

void sim_replay_create(struct sim *s, uint32_t index)
{
	struct replay_thread *rt = &s->replay->threads[index];
	struct sim_thread *t;
	char name[24];

	if (s->foreign_created == 0)
		s->first_arrival = s->now;
	snprintf(name, sizeof(name), "c%d", rt->id);
	t = sim_thread_new(s, ROLE_FOREIGN, name, NULL, NULL);
	if (!t)
		return;
	t->arrival_ns = s->now;
	t->workload_thread = rt->id;
	t->replay_index = (int32_t)index;
	rt->thread = t;
	s->foreign_created++;
	if (s->foreign_created - s->foreign_exited > s->foreign_peak)
		s->foreign_peak = s->foreign_created - s->foreign_exited;
	sim_place(s, t, true, false);
}

static int32_t pool_take(struct sim_replay *rp)
{
	int32_t i;

	if (rp->pool_used == REPLAY_POOL_MAX)
		return -1;
	if (rp->free_head >= 0) {
		i = rp->free_head;
		rp->free_head = rp->pool[i].next;
	} else {
		if (rp->pool_len == rp->pool_cap) {
			int32_t ncap = rp->pool_cap ? rp->pool_cap * 2 : 256;
			struct replay_node *p = realloc(rp->pool, (size_t)ncap * sizeof(*p));

			if (!p)
				return -2;
			rp->pool = p;
			rp->pool_cap = ncap;
		}
		i = rp->pool_len++;
	}
	rp->pool_used++;
	return i;
}

void sim_replay_deliver(struct sim *s)
{
	struct sim_replay *rp = s->replay;
	const struct hs_trace_row *row = &rp->pending;
	struct replay_thread *rt;
	struct replay_node *n;
	int32_t i;

	if (!rp->have_pending)
		return;
	i = pool_take(rp);
	if (i == -2) {
		sim_fail(s, "out of memory for the replay queue");
		return;
	}
	if (i == -1) {
		rp->stalled = true; /* delivered when a thread takes a row */
		return;
	}
	rt = &rp->threads[find_thread(rp, row->thread)];
	n = &rp->pool[i];
	n->arrival_ns = row->arrival_ns;
	n->go_work_ns = row->go_work_ns;
	n->gc_calls = row->gc_calls;
	n->grow_frames = row->grow_frames;
	n->c_time_ns = row->c_time_ns;
	n->line = row->line;
	n->next = -1;
	if (rt->tail >= 0)
		rp->pool[rt->tail].next = i;
	else
		rt->head = i;
	rt->tail = i;
	rt->rows_delivered++;
	if (rt->waiting) {
		rt->waiting = false;
		sim_wake(s, rt->thread, SIM_NONE);
	}
	read_next(s);
}

/* Builds the steps of the current row in rt->steps. */
static int build_steps(struct replay_thread *rt)
{
	const struct replay_node *n = &rt->current;
	int need = 2 + (int)n->gc_calls, k = 0;

	if (need > rt->steps_cap) {
		struct hs_step *st = realloc(rt->steps, (size_t)need * sizeof(*st));

		if (!st)
			return -1;
		rt->steps = st;
		rt->steps_cap = need;
	}
	if (n->go_work_ns > 0)
		rt->steps[k++] = (struct hs_step){ HS_STEP_WORK, n->go_work_ns };
	if (n->grow_frames > 0)
		rt->steps[k++] = (struct hs_step){ HS_STEP_GROW, n->grow_frames };
	for (int64_t g = 0; g < n->gc_calls; g++)
		rt->steps[k++] = (struct hs_step){ HS_STEP_GC, 0 };
	return k;
}

int sim_replay_next(struct sim *s, struct sim_thread *t, struct hs_callback_spec *spec)
{
	struct sim_replay *rp = s->replay;
	struct replay_thread *rt = &rp->threads[t->replay_index];
	int64_t ready = s->now, waited;
	int32_t i;
	int nsteps;

	if (rt->head < 0) {
		if (rt->rows_delivered == rt->rows_total)
			return 0;
		rt->waiting = true;
		sim_block(s, t, HS_TS_BLOCKED, HS_R_THINK);
	}
	i = rt->head;
	rt->current = rp->pool[i];
	rt->head = rp->pool[i].next;
	if (rt->head < 0)
		rt->tail = -1;
	rp->pool[i].next = rp->free_head;
	rp->free_head = i;
	rp->pool_used--;
	if (rp->stalled) {
		rp->stalled = false;
		sim_schedule(s, s->now, EV_TRACE_ROW, 0, 0);
	}

	nsteps = build_steps(rt);
	if (nsteps < 0)
		return HS_E_NOMEM;
	waited = s->now - ready;
	spec->think_ns = rt->current.c_time_ns > waited ? rt->current.c_time_ns - waited : 0;
	spec->think_kind = s->cfg->scenario.think_kind;
	spec->steps = rt->steps;
	spec->nsteps = nsteps;
	return 1;
}

void sim_replay_workload(struct sim *s, struct sim_thread *t, struct hs_workload_rec *w)
{
	const struct replay_thread *rt = &s->replay->threads[t->replay_index];

	w->thread_start_ns = rt->start_ns;
	w->arrival_ns = rt->current.arrival_ns;
	w->go_work_ns = rt->current.go_work_ns;
	w->gc_calls = rt->current.gc_calls;
	w->grow_frames = rt->current.grow_frames;
	w->c_time_ns = rt->current.c_time_ns;
	w->order = rt->current.line;
}

void sim_replay_free(struct sim *s)
{
	struct sim_replay *rp = s->replay;

	if (!rp)
		return;
	if (rp->reader)
		hs_trace_close(rp->reader);
	for (int32_t i = 0; i < rp->nthreads; i++)
		free(rp->threads[i].steps);
	free(rp->threads);
	free(rp->slots);
	free(rp->pool);
	free(rp);
	s->replay = NULL;
}
