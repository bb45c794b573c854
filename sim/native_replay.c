/*
 * The trace workload source of the native backend: `herdsim replay
 * TRACE.csv --backend native` replays a herdsim-trace-v1 file on real
 * threads, with the semantics of the sim backend's replay (sim/replay.c).
 *
 * Before any thread starts, native_replay_open() reads the whole trace
 * through hs_replay_scan(), so a bad row is reported as the sim backend
 * reports it (code, file, line, column and key).  It keeps every row,
 * sorted by thread and then by line, and sorts the threads by
 * thread_start_ns and then by the line of their first row.  From then on
 * the table is read-only, except each thread's step buffer, which only
 * that thread writes.
 *
 * Clock: trace times are run-relative nanoseconds (CLOCK_MONOTONIC since
 * the run started) plus `shift`.  shift = max(0, init end - thread_start_ns
 * of the first row in the file), as in the sim backend, so a trace that
 * starts before the policy's init returned starts when it returns, and a
 * trace recorded from a run is not moved.
 *
 * Threads: the run's own thread creates the foreign threads in
 * thread_start order, sleeping until each thread_start_ns + shift.  A
 * thread named "c<id>" makes the rows of trace thread <id> in file order
 * and exits after its last row.
 *
 * A row's callback enters Go at max(arrival_ns + shift, ready + c_time_ns),
 * where `ready` is when the thread became free (after its creation or its
 * previous callback).  Until arrival_ns + shift the thread waits blocked
 * (reason think); that wait counts towards c_time_ns, and the rest of
 * c_time_ns is spent as the scenario's think_kind says (spin or sleep).
 * The callback's steps, in order: work:go_work_ns (if > 0),
 * grow:grow_frames (if > 0), then gc_calls times gc.
 *
 * Memory: one 64-byte row per trace row plus one entry per thread, so it
 * grows with the number of rows (64 MiB for a 1,000,000-row trace).
 * NOTE: unlike the sim backend, which streams the trace, the native backend
 * holds the whole trace; it is meant for validation runs of traces that
 * real threads can replay in real time.
 */
#include "native_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "replay.h"

struct nreplay_thread {
	int32_t id;            /* thread id in the trace */
	int64_t start_ns;      /* thread_start_ns, unshifted */
	size_t first, count;   /* its rows: rows[first .. first + count) */
	int64_t first_line;    /* line of its first row in the file */
	struct hs_step *steps; /* written only by the thread itself */
	int steps_cap;
};

struct nreplay {
	const char *path;
	HS_VEC(struct hs_trace_row) rows;   /* by thread, then line */
	struct nreplay_thread *threads;     /* by start, then first line */
	int32_t nthreads;
	int64_t first_start_ns;             /* thread_start_ns of the file's first row */
	int64_t shift;                      /* set before the first thread starts */
	bool has_gc;
};

/* hs_replay_scan() callback: keeps a copy of each checked row. */
static int keep_row(void *ctx, const struct hs_trace_row *row, struct hs_error *err)
{
	struct nreplay *rp = ctx;
	struct hs_trace_row *r = HS_VEC_PUSH(&rp->rows);

	if (!r)
		return hs_error_set(err, HS_E_NOMEM, rp->path, (int)row->line, NULL,
				    "out of memory holding the trace (%zu rows read); replay it on the sim backend, which streams it",
				    rp->rows.len);
	*r = *row;
	if (rp->rows.len == 1)
		rp->first_start_ns = row->thread_start_ns;
	if (row->gc_calls > 0)
		rp->has_gc = true;
	return 0;
}

static int by_thread_then_line(const void *a, const void *b)
{
	const struct hs_trace_row *x = a, *y = b;

	if (x->thread != y->thread)
		return x->thread < y->thread ? -1 : 1;
	return (x->line > y->line) - (x->line < y->line);
}

/* Orders threads by start, then by the line of their first row, the order
 * in which the sim backend schedules their creation. */
static int by_start_then_line(const void *a, const void *b)
{
	const struct nreplay_thread *x = a, *y = b;

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return (x->first_line > y->first_line) - (x->first_line < y->first_line);
}

/* Builds the thread table from the rows sorted by thread.  0 or HS_E_NOMEM. */
static int build_threads(struct nreplay *rp)
{
	size_t n = 0;

	for (size_t i = 0; i < rp->rows.len; i++)
		n += i == 0 || rp->rows.data[i].thread != rp->rows.data[i - 1].thread;
	rp->threads = calloc(n ? n : 1, sizeof(*rp->threads));
	if (!rp->threads)
		return HS_E_NOMEM;
	for (size_t i = 0; i < rp->rows.len; i++) {
		const struct hs_trace_row *r = &rp->rows.data[i];
		struct nreplay_thread *t;

		if (i == 0 || r->thread != rp->rows.data[i - 1].thread) {
			t = &rp->threads[rp->nthreads++];
			t->id = r->thread;
			t->start_ns = r->thread_start_ns;
			t->first = i;
			t->first_line = r->line;
		}
		rp->threads[rp->nthreads - 1].count++;
	}
	qsort(rp->threads, (size_t)rp->nthreads, sizeof(*rp->threads), by_start_then_line);
	return 0;
}

/*
 * Reads and checks the trace at run->req->trace_path and builds the replay
 * table in run->replay.  Returns 0, or a negative HS_E_* code with err
 * filled: for a bad row, the file, line, column and key of the row.
 */
int native_replay_open(struct nrun *run, struct hs_error *err)
{
	struct nreplay *rp = calloc(1, sizeof(*rp));
	struct hs_replay_summary sum;
	int rc;

	if (!rp)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory opening the trace");
	run->replay = rp;
	rp->path = run->req->trace_path;
	rc = hs_replay_scan(rp->path, keep_row, rp, &sum, err);
	if (rc)
		return rc;
	if (rp->rows.len > 1) /* an empty trace has no array to sort */
		qsort(rp->rows.data, rp->rows.len, sizeof(*rp->rows.data), by_thread_then_line);
	if (build_threads(rp) < 0)
		return hs_error_set(err, HS_E_NOMEM, rp->path, 0, "thread",
				    "out of memory for the table of %lld threads",
				    (long long)sum.threads);
	return 0;
}

bool native_replay_has_gc(const struct nrun *run)
{
	return run->replay->has_gc;
}

int64_t native_replay_rows(const struct nrun *run)
{
	return (int64_t)run->replay->rows.len;
}

/*
 * Sleeps until abs_ns on CLOCK_MONOTONIC in slices of NATIVE_WAIT_SLICE_NS.
 * Returns true if the run was aborted first.
 */
static bool creator_sleep_until(struct nrun *run, int64_t abs_ns)
{
	for (;;) {
		int64_t now = native_clock(), until = abs_ns;
		struct timespec ts;

		if (__atomic_load_n(&run->abort, __ATOMIC_SEQ_CST))
			return true;
		if (now >= abs_ns)
			return false;
		if (until - now > NATIVE_WAIT_SLICE_NS)
			until = now + NATIVE_WAIT_SLICE_NS;
		ts.tv_sec = until / 1000000000;
		ts.tv_nsec = until % 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
}

/*
 * Creates the trace's threads, each at its thread_start_ns + shift after
 * the run's start, in thread_start order.  Returns true if the deadline
 * (CLOCK_MONOTONIC) passed before the last creation.  A failed creation
 * aborts the run, and an abort stops the creations.
 */
bool native_replay_create_all(struct nrun *run, int64_t deadline)
{
	struct nreplay *rp = run->replay;
	int64_t init_end = native_now(run);

	rp->shift = init_end > rp->first_start_ns ? init_end - rp->first_start_ns : 0;
	for (int32_t i = 0; i < rp->nthreads; i++) {
		const struct nreplay_thread *rt = &rp->threads[i];
		int64_t at = run->t0 + rt->start_ns + rp->shift; /* both at most 2^62 */
		char name[24];

		if (creator_sleep_until(run, at < deadline ? at : deadline))
			return false;
		if (native_clock() >= deadline)
			return true;
		snprintf(name, sizeof(name), "c%d", rt->id);
		if (native_create_foreign(run, name, rt->id, i) < 0) {
			__atomic_store_n(&run->abort, 1, __ATOMIC_SEQ_CST);
			return false;
		}
	}
	return false;
}

/*
 * Blocks t (state blocked, reason think) until run-relative time at_ns,
 * sleeping in slices so that an abort unwinds the thread within one.
 */
static void wait_for_arrival(struct nthread *t, int64_t at_ns)
{
	struct nrun *run = t->run;
	int64_t now = native_now(run);

	native_set_state(t, now, HS_TS_BLOCKED, HS_R_THINK, -1);
	while (now < at_ns) {
		int64_t until = at_ns - now > NATIVE_WAIT_SLICE_NS ? now + NATIVE_WAIT_SLICE_NS : at_ns;
		int64_t abs_ns = run->t0 + until;
		struct timespec ts = { .tv_sec = abs_ns / 1000000000, .tv_nsec = abs_ns % 1000000000 };

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		native_check_abort(t);
		now = native_now(run);
	}
	native_set_state(t, now, HS_TS_RUNNING, HS_R_WORK, -1);
}

/* Builds the steps of `row` in the thread's step buffer; the step count,
 * or HS_E_NOMEM. */
static int build_steps(struct nreplay_thread *rt, const struct hs_trace_row *row)
{
	int need = 2 + (int)row->gc_calls, k = 0; /* gc_calls <= HS_REPLAY_MAX_GC */

	if (need > rt->steps_cap) {
		struct hs_step *st = realloc(rt->steps, (size_t)need * sizeof(*st));

		if (!st)
			return HS_E_NOMEM;
		rt->steps = st;
		rt->steps_cap = need;
	}
	if (row->go_work_ns > 0)
		rt->steps[k++] = (struct hs_step){ HS_STEP_WORK, row->go_work_ns };
	if (row->grow_frames > 0)
		rt->steps[k++] = (struct hs_step){ HS_STEP_GROW, row->grow_frames };
	for (int64_t g = 0; g < row->gc_calls; g++)
		rt->steps[k++] = (struct hs_step){ HS_STEP_GC, 0 };
	return k;
}

/*
 * next_callback of a replaying foreign thread: fills *spec with row `seq`
 * of the thread after waiting for its arrival.  Returns 1, 0 after the
 * thread's last row, or HS_E_NOMEM.
 */
int native_replay_next(struct nthread *t, int seq, struct hs_callback_spec *spec)
{
	struct nrun *run = t->run;
	struct nreplay *rp = run->replay;
	struct nreplay_thread *rt = &rp->threads[t->replay_index];
	const struct hs_trace_row *row;
	int64_t ready, waited;
	int nsteps;

	if (seq < 0 || (size_t)seq >= rt->count)
		return 0;
	row = &rp->rows.data[rt->first + (size_t)seq];
	ready = native_now(run);
	if (row->arrival_ns + rp->shift > ready)
		wait_for_arrival(t, row->arrival_ns + rp->shift);
	waited = native_now(run) - ready;

	nsteps = build_steps(rt, row);
	if (nsteps < 0)
		return nsteps;
	spec->think_ns = row->c_time_ns > waited ? row->c_time_ns - waited : 0;
	spec->think_kind = run->cfg->scenario.think_kind;
	spec->steps = rt->steps;
	spec->nsteps = nsteps;
	return 1;
}

/* Fills the trace columns of callback `seq` of t that come from its row:
 * go_work_ns, gc_calls, grow_frames, c_time_ns, and the row's line as the
 * order. */
void native_replay_workload(const struct nthread *t, int seq, struct hs_workload_rec *w)
{
	const struct nreplay *rp = t->run->replay;
	const struct hs_trace_row *row = &rp->rows.data[rp->threads[t->replay_index].first + (size_t)seq];

	w->go_work_ns = row->go_work_ns;
	w->gc_calls = row->gc_calls;
	w->grow_frames = row->grow_frames;
	w->c_time_ns = row->c_time_ns;
	w->order = row->line;
}

void native_replay_free(struct nrun *run)
{
	struct nreplay *rp = run->replay;

	if (!rp)
		return;
	for (int32_t i = 0; i < rp->nthreads; i++)
		free(rp->threads[i].steps);
	free(rp->threads);
	HS_VEC_FREE(&rp->rows);
	free(rp);
	run->replay = NULL;
}
