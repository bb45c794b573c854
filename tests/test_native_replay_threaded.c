/*
 * Tests of trace replay on the native backend, on real threads with the
 * shipped `waiters` policy: traces written by the generator and the
 * writer to real files, the backend called in process, and `herdsim
 * replay --backend native` run as a binary against a real database.
 *
 * Assertions are on counts, on the trace's values and on lower bounds that
 * the replay's rules give (a callback never enters Go before its arrival
 * or before its thread's previous return plus c_time_ns), never on
 * durations, so no test depends on machine speed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>

#include "backend.h"
#include "config.h"
#include "helpers.h"
#include "registry.h"
#include "result.h"
#include "trace.h"

#define DATA HS_SRCDIR "/tests/data/traces/"
#define MAX_ROWS 64

/* A trace read back: the rows in file order. */
struct rows {
	struct hs_trace_row r[MAX_ROWS];
	int n;
};

static void read_rows(const char *path, struct rows *out)
{
	struct hs_error err = { 0 };
	struct hs_trace_reader *rd = hs_trace_open(path, &err);
	int rc;

	assert_non_null(rd);
	out->n = 0;
	while ((rc = hs_trace_next(rd, &out->r[out->n], &err)) == 1) {
		out->n++;
		assert_true(out->n < MAX_ROWS);
	}
	assert_int_equal(rc, 0);
	hs_trace_close(rd);
}

/* Row `seq` of trace thread `id`, in file order; NULL if absent. */
static const struct hs_trace_row *row_of(const struct rows *rs, int32_t id, int seq)
{
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].thread == id && seq-- == 0)
			return &rs->r[i];
	return NULL;
}

static void config_default(struct hs_config *cfg)
{
	struct hs_scenario *sc = &cfg->scenario;
	struct hs_runtime_profile *rp = &cfg->runtime;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(sc->name, sizeof(sc->name), "native-replay-test");
	sc->time_limit_ns = 60000000000LL;
	sc->seed = 1;
	sc->reps = 1;
	sc->cores = 2;
	sc->think_kind = HS_THINK_SLEEP;
	sc->thread_stack_bytes = 256 * 1024;
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
	rp->gc_mark_ns = 1000000;
	rp->gc_stw2_ns = 100000;
	rp->gc_sweep_ns = 10000;
	rp->gc_worker_ratio = 0.25;
	rp->lock_spin = 4;
	rp->lock_passive_spin = 1;
}

/* Replays PATH natively with `waiters` and the workload recorded. */
static int replay(const struct hs_config *cfg, const char *path, struct hs_run_result *out,
		  struct hs_error *err)
{
	struct hs_run_request req = {
		.cfg = cfg, .policy = hs_policy_find("waiters"), .seed = 7,
		.record = cfg->scenario.record, .trace_path = path, .record_workload = true,
	};
	int rc;

	assert_non_null(req.policy);
	hs_result_init(out);
	rc = hs_backend_native.run(&req, out, err);
	if (rc == 0 && out->status != HS_STATUS_OK)
		fprintf(stderr, "status %s: %s\n", hs_status_name(out->status), out->error);
	return rc;
}

/* Trace thread id of run thread `tid`, from its name "c<id>". */
static int32_t trace_id(const struct hs_run_result *r, int32_t tid)
{
	const char *name = r->threads.data[tid].name;

	assert_int_equal(name[0], 'c');
	return (int32_t)strtol(name + 1, NULL, 10);
}

/* Each thread's intervals run from creation to exit with no gap and no
 * overlap (states are merged thread by thread, in id order). */
static void check_intervals(const struct hs_run_result *r)
{
	size_t k = 0;

	for (size_t i = 0; i < r->threads.len; i++) {
		const struct hs_thread_rec *t = &r->threads.data[i];
		int64_t at = t->created_ns;

		for (; k < r->states.len && r->states.data[k].thread == t->id; k++) {
			assert_int_equal(r->states.data[k].start_ns, at);
			at = r->states.data[k].end_ns;
		}
		if (t->exited_ns >= 0)
			assert_int_equal(at, t->exited_ns);
	}
	assert_int_equal(k, r->states.len);
}

/* The callback of run thread `tid` with sequence number `seq`. */
static const struct hs_callback_rec *callback_of(const struct hs_run_result *r, int32_t tid, int seq)
{
	for (size_t i = 0; i < r->callbacks.len; i++)
		if (r->callbacks.data[i].thread == tid && r->callbacks.data[i].seq == seq)
			return &r->callbacks.data[i];
	return NULL;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Removes a directory from make_temp_dir() and everything in it. */
static void remove_dir(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- tests ---- */

static void pool_trace_replays_every_row(void **unused)
{
	const char *dir = make_temp_dir();
	char path[512];
	struct hs_trace_gen_opts go = {
		.kind = HS_TRACE_GEN_POOL, .threads = 4, .callbacks = 5, .think_ns = 10000,
		.go_work_ns = 5000, .gc_calls = 1, .seed = 1,
	};
	struct hs_config cfg;
	struct hs_run_result r;
	struct hs_error err = { 0 };
	struct rows rs;
	int per_thread[4] = { 0 };

	snprintf(path, sizeof(path), "%s/pool.csv", dir);
	assert_int_equal(hs_trace_gen(&go, path, &err), 0);
	read_rows(path, &rs);
	assert_int_equal(rs.n, 20);
	config_default(&cfg);
	assert_int_equal(replay(&cfg, path, &r, &err), 0);

	assert_int_equal(r.status, HS_STATUS_OK);
	assert_string_equal(r.backend, "native");
	assert_int_equal(r.callbacks.len, 20);
	assert_int_equal((int)hs_result_get(&r, "callbacks", -1), 20);
	assert_int_equal((int)hs_result_get(&r, "threads", -1), 4);
	assert_true(hs_result_get(&r, "gc_cycles", 0) >= 1);
	/* M's are conserved: every M created is spare at the end. */
	assert_int_equal((int)hs_result_get(&r, "m_created", -1), (int)r.ms.len);
	assert_int_equal((int)hs_result_get(&r, "m_spare_end", -2), (int)r.ms.len);

	for (size_t i = 0; i < r.callbacks.len; i++) {
		const struct hs_callback_rec *c = &r.callbacks.data[i];
		int32_t id = trace_id(&r, c->thread);
		const struct hs_trace_row *row = row_of(&rs, id, c->seq);
		const struct hs_callback_rec *prev = callback_of(&r, c->thread, c->seq - 1);

		assert_in_range(id, 0, 3);
		per_thread[id]++;
		assert_non_null(row);
		assert_true(c->arrival_ns >= r.threads.data[c->thread].created_ns);
		/* The thread's C time passed between its previous return and
		 * this call into Go. */
		if (prev)
			assert_true(c->arrival_ns >= prev->done_ns + row->c_time_ns);
	}
	for (int id = 0; id < 4; id++) {
		int want = 0;

		for (int i = 0; i < rs.n; i++)
			want += rs.r[i].thread == id;
		assert_int_equal(per_thread[id], want);
	}
	check_intervals(&r);

	/* --record-trace rows: the trace's values at the real times. */
	assert_int_equal(r.workload.len, 20);
	for (size_t i = 0; i < r.workload.len; i++) {
		const struct hs_workload_rec *w = &r.workload.data[i];
		const struct hs_trace_row *row = row_of(&rs, w->thread, w->seq);

		assert_non_null(row);
		assert_int_equal(w->go_work_ns, row->go_work_ns);
		assert_int_equal(w->gc_calls, row->gc_calls);
		assert_int_equal(w->grow_frames, row->grow_frames);
		assert_int_equal(w->c_time_ns, row->c_time_ns);
		assert_int_equal(w->order, row->line);
		assert_true(w->arrival_ns >= row->arrival_ns);
		assert_true(w->thread_start_ns <= w->arrival_ns);
	}
	hs_result_free(&r);
	remove_dir(dir);
}

/* Thread 5 starts at 0 and calls at 20 ms after 1 us of C time, so it
 * waits for its arrival; thread 9 starts 10 ms later with no wait. */
static void arrival_and_start_are_waited_for(void **unused)
{
	static const struct hs_trace_row rows[] = {
		{ .thread = 9, .thread_start_ns = 10000000, .arrival_ns = 10000000, .go_work_ns = 2000 },
		{ .thread = 5, .thread_start_ns = 0, .arrival_ns = 20000000, .go_work_ns = 2000, .c_time_ns = 1000 },
	};
	const char *dir = make_temp_dir();
	char path[512];
	struct hs_error err = { 0 };
	struct hs_trace_writer *w;
	struct hs_config cfg;
	struct hs_run_result r;
	const struct hs_callback_rec *c5, *c9;
	int32_t t5, t9;
	bool think_wait = false;

	snprintf(path, sizeof(path), "%s/waits.csv", dir);
	w = hs_trace_writer_open(path, &err);
	assert_non_null(w);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(hs_trace_writer_row(w, &rows[i], &err), 0);
	assert_int_equal(hs_trace_writer_close(w, 1, &err), 0);

	config_default(&cfg);
	assert_int_equal(replay(&cfg, path, &r, &err), 0);
	assert_int_equal(r.status, HS_STATUS_OK);
	assert_int_equal(r.threads.len, 2);
	/* Created in thread_start order, not in the order of first rows. */
	assert_string_equal(r.threads.data[0].name, "c5");
	assert_string_equal(r.threads.data[1].name, "c9");
	t5 = 0;
	t9 = 1;
	assert_true(r.threads.data[t9].created_ns >= 10000000);
	c5 = callback_of(&r, t5, 0);
	c9 = callback_of(&r, t9, 0);
	assert_non_null(c5);
	assert_non_null(c9);
	assert_true(c5->arrival_ns >= 20000000);
	assert_true(c9->arrival_ns >= 10000000);
	for (size_t i = 0; i < r.states.len; i++) {
		const struct hs_state_rec *s = &r.states.data[i];

		if (s->thread == t5 && s->state == HS_TS_BLOCKED && s->reason == HS_R_THINK)
			think_wait = true;
	}
	assert_true(think_wait);
	check_intervals(&r);
	hs_result_free(&r);
	remove_dir(dir);
}

static void bad_row_reports_its_place(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;
	struct hs_error err = { 0 };

	config_default(&cfg);
	assert_int_equal(replay(&cfg, DATA "bad_number.csv", &r, &err), HS_E_INPUT);
	assert_non_null(strstr(err.file, "bad_number.csv"));
	assert_int_equal(err.line, 4);
	assert_int_equal(err.column, 4);
	assert_string_equal(err.key, "go_work_ns");
	assert_int_equal(r.threads.len, 0);
	hs_result_free(&r);
}

static void empty_trace_completes(void **unused)
{
	struct hs_config cfg;
	struct hs_run_result r;
	struct hs_error err = { 0 };

	config_default(&cfg);
	assert_int_equal(replay(&cfg, DATA "header_only.csv", &r, &err), 0);
	assert_int_equal(r.status, HS_STATUS_OK);
	assert_int_equal((int)hs_result_get(&r, "callbacks", -1), 0);
	assert_int_equal((int)hs_result_get(&r, "threads", -1), 0);
	assert_int_equal(r.workload.len, 0);
	hs_result_free(&r);
}

/* The command line: a native replay is recorded with backend 'native',
 * and its recording replays natively again. */
static void cli_replay_records_native(void **unused)
{
	const char *dir = make_temp_dir();
	char trace[512], db[512], rec[512], db2[512];
	struct cmd_result *res = malloc(sizeof(*res));

	assert_non_null(res);
	snprintf(trace, sizeof(trace), "%s/pool.csv", dir);
	snprintf(db, sizeof(db), "%s/a.sqlite", dir);
	snprintf(rec, sizeof(rec), "%s/rec.csv", dir);
	snprintf(db2, sizeof(db2), "%s/b.sqlite", dir);
	run_herdsim(res, (const char *const[]){ "trace", "gen", "--kind", "pool", "--threads", "4",
						"--callbacks", "5", "--out", trace, NULL });
	assert_int_equal(res->status, 0);
	run_herdsim(res, (const char *const[]){ "replay", trace, "--backend", "native", "--policy",
						"waiters", "--reps", "1", "--record", "events", "--db", db,
						"--record-trace", rec, "--quiet", NULL });
	if (res->status != 0)
		fprintf(stderr, "%s", res->err);
	assert_int_equal(res->status, 0);

	assert_int_equal(db_int(db, "SELECT count(*) FROM run"), 1);
	assert_int_equal(db_int(db, "SELECT backend = 'native' FROM run"), 1);
	assert_int_equal(db_int(db, "SELECT status = 'ok' FROM run"), 1);
	assert_int_equal(db_int(db, "SELECT value FROM scalar WHERE name = 'callbacks'"), 20);
	assert_int_equal(db_int(db, "SELECT count(*) FROM callback"), 20);
	assert_int_equal(db_int(db, "SELECT count(*) FROM (SELECT thread FROM callback GROUP BY thread "
				    "HAVING count(*) = 5)"), 4);
	assert_int_equal(db_int(db, "SELECT count(*) FROM run_param WHERE key = 'trace.rows' AND value = '20'"),
			 1);

	/* The recording has the trace's rows at real times. */
	{
		struct rows a, b;

		read_rows(trace, &a);
		read_rows(rec, &b);
		assert_int_equal(b.n, a.n);
		for (int i = 0; i < b.n; i++) {
			const struct hs_trace_row *src = row_of(&a, b.r[i].thread, 0);

			assert_non_null(src);
			assert_int_equal(b.r[i].go_work_ns, src->go_work_ns);
			assert_true(b.r[i].arrival_ns >= b.r[i].thread_start_ns);
		}
	}
	run_herdsim(res, (const char *const[]){ "replay", rec, "--backend", "native", "--policy",
						"waiters", "--reps", "1", "--db", db2, "--quiet", NULL });
	assert_int_equal(res->status, 0);
	assert_int_equal(db_int(db2, "SELECT value FROM scalar WHERE name = 'callbacks'"), 20);
	free(res);
	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pool_trace_replays_every_row),
		cmocka_unit_test(arrival_and_start_are_waited_for),
		cmocka_unit_test(bad_row_reports_its_place),
		cmocka_unit_test(empty_trace_completes),
		cmocka_unit_test(cli_replay_records_native),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
