-- herdsim analysis views, views version 2.
--
-- The recorder (sim/record.c) runs this file on every database it opens
-- whose meta row 'views_version' differs from the version below, inside
-- one transaction.  The views read the tables of analysis/schema.sql and
-- store nothing, so the file drops and re-creates every view: a newer
-- herdsim brings its views to files that an older one wrote.  Raise the
-- version here and in VIEWS_VERSION in sim/record.c together.
--
-- Conventions:
--   * Runs without an experiment (experiment_id NULL, as `herdsim run`
--     writes them) form one implicit experiment named 'default'; the
--     views group them under experiment_id 0, which no real row has.
--   * A point is one cell of an experiment: scenario, policy, OS profile,
--     backend and point_key.  point_key lists, as "key=value" joined by
--     spaces in key order, the run_param keys that take more than one
--     value among the runs of the same experiment, scenario, OS profile
--     and backend.  Keys that name the run rather than configure it
--     (policy.name, record.level, scenario.name, scenario.description,
--     scenario.seed, scenario.reps, os.name, machine.os) never enter it.
--     point_key is '' when nothing varies.
--   * Statistics over the replications of a point use only runs with
--     status 'ok'.  The 95 % confidence interval of a mean is
--     mean +- t95(n-1) * sd / sqrt(n) with the sample standard deviation
--     sd, and is NULL for n < 2.
--   * Times are nanoseconds, like the tables.

DROP VIEW IF EXISTS sleep_wake;
DROP VIEW IF EXISTS sleep_wake_run;
DROP VIEW IF EXISTS lock_summary;
DROP VIEW IF EXISTS point_summary;
DROP VIEW IF EXISTS run_summary;
DROP VIEW IF EXISTS run_point;
DROP VIEW IF EXISTS varied_param;

-- Two-sided 95 % quantiles of Student's t for df = 1..30.  For df > 30
-- the views use 1.959964 + 2.4 / df, the same values as hs_t95 in
-- sim/stats.c.
CREATE TABLE IF NOT EXISTS t95 (
	df INTEGER PRIMARY KEY,
	t  REAL NOT NULL
);

INSERT OR REPLACE INTO t95 (df, t) VALUES
	(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571),
	(6, 2.447), (7, 2.365), (8, 2.306), (9, 2.262), (10, 2.228),
	(11, 2.201), (12, 2.179), (13, 2.160), (14, 2.145), (15, 2.131),
	(16, 2.120), (17, 2.110), (18, 2.101), (19, 2.093), (20, 2.086),
	(21, 2.080), (22, 2.074), (23, 2.069), (24, 2.064), (25, 2.060),
	(26, 2.056), (27, 2.052), (28, 2.048), (29, 2.045), (30, 2.042);

-- The run_param keys that vary within an experiment, scenario, OS profile
-- and backend.
CREATE VIEW varied_param AS
SELECT coalesce(r.experiment_id, 0) AS experiment_id, r.scenario, r.os, r.backend, p.key
FROM run r
JOIN run_param p ON p.run_id = r.id
WHERE p.key NOT IN ('policy.name', 'record.level', 'scenario.name',
                    'scenario.description', 'scenario.seed', 'scenario.reps',
                    'os.name', 'machine.os')
GROUP BY 1, 2, 3, 4, 5
HAVING count(DISTINCT p.value) > 1;

-- The point_key of every run.
CREATE VIEW run_point AS
SELECT r.id AS run_id,
       coalesce((SELECT group_concat(kv, ' ')
                 FROM (SELECT p.key || '=' || p.value AS kv
                       FROM run_param p
                       JOIN varied_param v ON v.key = p.key
                       WHERE p.run_id = r.id
                         AND v.experiment_id = coalesce(r.experiment_id, 0)
                         AND v.scenario = r.scenario AND v.os = r.os
                         AND v.backend = r.backend
                       ORDER BY p.key)), '') AS point_key
FROM run r;

-- One row per run: identity, the main scalars and the contentions of the
-- extram lock (the lock of the M list).
CREATE VIEW run_summary AS
SELECT r.id AS run_id,
       coalesce(r.experiment_id, 0) AS experiment_id,
       coalesce(e.name, 'default') AS experiment,
       r.scenario, r.policy, r.os, r.backend, r.seed, r.replication,
       r.record, r.status, r.version, rp.point_key,
       max(CASE WHEN s.name = 'makespan_ns' THEN s.value END) AS makespan_ns,
       max(CASE WHEN s.name = 'callbacks' THEN s.value END) AS callbacks,
       max(CASE WHEN s.name = 'm_created' THEN s.value END) AS m_created,
       max(CASE WHEN s.name = 'usleep_calls' THEN s.value END) AS usleep_calls,
       max(CASE WHEN s.name = 'futex_waits' THEN s.value END) AS futex_waits,
       max(CASE WHEN s.name = 'wasted_wakeups' THEN s.value END) AS wasted_wakeups,
       max(CASE WHEN s.name = 'yields' THEN s.value END) AS yields,
       max(CASE WHEN s.name = 'cas_failures' THEN s.value END) AS cas_failures,
       max(CASE WHEN s.name = 'cb_latency_p50_ns' THEN s.value END) AS cb_latency_p50_ns,
       max(CASE WHEN s.name = 'cb_latency_p99_ns' THEN s.value END) AS cb_latency_p99_ns,
       (SELECT l.contentions FROM lock_stat l
        WHERE l.run_id = r.id AND l.lock = 'extram') AS extram_contentions,
       max(CASE WHEN s.name = 'cpu_ns' THEN s.value END) AS cpu_ns,
       -- the phases: NULL unless the run had --phase-cpu
       max(CASE WHEN s.name = 'cpu_think_ns' THEN s.value END) AS cpu_think_ns,
       max(CASE WHEN s.name = 'cpu_needm_ns' THEN s.value END) AS cpu_needm_ns,
       max(CASE WHEN s.name = 'cpu_p_wait_ns' THEN s.value END) AS cpu_p_wait_ns,
       max(CASE WHEN s.name = 'cpu_go_ns' THEN s.value END) AS cpu_go_ns,
       max(CASE WHEN s.name = 'cpu_exit_ns' THEN s.value END) AS cpu_exit_ns
FROM run r
LEFT JOIN experiment e ON e.id = r.experiment_id
JOIN run_point rp ON rp.run_id = r.id
LEFT JOIN scalar s ON s.run_id = r.id
GROUP BY r.id;

-- Per point: replications, mean, median, standard deviation and 95 %
-- Student-t confidence interval of the makespan, and the means of the
-- callback latency percentiles, of the sleep and M counters and of the
-- CPU time, in all and by phase.
CREATE VIEW point_summary AS
WITH ok AS (
	SELECT *,
	       avg(makespan_ns) OVER pt AS mean_pt,
	       count(*) OVER pt AS n_pt,
	       row_number() OVER (PARTITION BY experiment_id, scenario, policy, os, backend,
	                          point_key ORDER BY makespan_ns, run_id) AS rank_pt
	FROM run_summary
	WHERE status = 'ok' AND makespan_ns IS NOT NULL
	WINDOW pt AS (PARTITION BY experiment_id, scenario, policy, os, backend, point_key)
),
agg AS (
	SELECT experiment_id, experiment, scenario, policy, os, backend, point_key,
	       count(*) AS n,
	       min(run_id) AS first_run_id,
	       avg(makespan_ns) AS makespan_mean_ns,
	       avg(CASE WHEN rank_pt IN ((n_pt + 1) / 2, (n_pt + 2) / 2)
	                THEN makespan_ns END) AS makespan_median_ns,
	       CASE WHEN count(*) > 1
	            THEN sqrt(sum((makespan_ns - mean_pt) * (makespan_ns - mean_pt))
	                      / (count(*) - 1)) END AS makespan_sd_ns,
	       min(makespan_ns) AS makespan_min_ns,
	       max(makespan_ns) AS makespan_max_ns,
	       avg(cb_latency_p50_ns) AS cb_p50_mean_ns,
	       avg(cb_latency_p99_ns) AS cb_p99_mean_ns,
	       avg(callbacks) AS callbacks_mean,
	       avg(m_created) AS m_created_mean,
	       avg(usleep_calls) AS usleep_calls_mean,
	       avg(wasted_wakeups) AS wasted_wakeups_mean,
	       avg(extram_contentions) AS extram_contentions_mean,
	       avg(cpu_ns) AS cpu_mean_ns,
	       avg(cpu_think_ns) AS cpu_think_mean_ns,
	       avg(cpu_needm_ns) AS cpu_needm_mean_ns,
	       avg(cpu_p_wait_ns) AS cpu_p_wait_mean_ns,
	       avg(cpu_go_ns) AS cpu_go_mean_ns,
	       avg(cpu_exit_ns) AS cpu_exit_mean_ns
	FROM ok
	GROUP BY experiment_id, scenario, policy, os, backend, point_key
)
SELECT agg.*,
       CASE WHEN n > 1 THEN coalesce((SELECT t FROM t95 WHERE df = n - 1),
                                     1.959964 + 2.4 / (n - 1)) END AS t95,
       CASE WHEN n > 1 THEN coalesce((SELECT t FROM t95 WHERE df = n - 1),
                                     1.959964 + 2.4 / (n - 1))
                            * makespan_sd_ns / sqrt(n) END AS makespan_ci95_ns,
       CASE WHEN n > 1 THEN makespan_mean_ns
                            - coalesce((SELECT t FROM t95 WHERE df = n - 1),
                                       1.959964 + 2.4 / (n - 1))
                              * makespan_sd_ns / sqrt(n) END AS makespan_ci_low_ns,
       CASE WHEN n > 1 THEN makespan_mean_ns
                            + coalesce((SELECT t FROM t95 WHERE df = n - 1),
                                       1.959964 + 2.4 / (n - 1))
                              * makespan_sd_ns / sqrt(n) END AS makespan_ci_high_ns
FROM agg;

-- lockstat-style totals per experiment, policy, OS profile and lock over
-- every run with status 'ok'.  Wait time counts every acquisition
-- (uncontended ones wait for the atomic that takes the lock), so both
-- means divide by acquisitions.
CREATE VIEW lock_summary AS
SELECT coalesce(r.experiment_id, 0) AS experiment_id,
       coalesce(e.name, 'default') AS experiment,
       r.policy, r.os, l.lock,
       count(*) AS runs,
       sum(l.acquisitions) AS acquisitions,
       sum(l.contentions) AS contentions,
       sum(l.acquisition_bounces) AS acquisition_bounces,
       sum(l.contention_bounces) AS contention_bounces,
       min(l.wait_min_ns) AS wait_min_ns,
       max(l.wait_max_ns) AS wait_max_ns,
       sum(l.wait_total_ns) AS wait_total_ns,
       CAST(sum(l.wait_total_ns) AS REAL) / nullif(sum(l.acquisitions), 0) AS wait_mean_ns,
       min(l.hold_min_ns) AS hold_min_ns,
       max(l.hold_max_ns) AS hold_max_ns,
       sum(l.hold_total_ns) AS hold_total_ns,
       CAST(sum(l.hold_total_ns) AS REAL) / nullif(sum(l.acquisitions), 0) AS hold_mean_ns
FROM lock_stat l
JOIN run r ON r.id = l.run_id
LEFT JOIN experiment e ON e.id = r.experiment_id
WHERE r.status = 'ok' AND l.acquisitions > 0
GROUP BY 1, r.policy, r.os, l.lock;

-- Per run: sleeps per callback, the fraction of wake-ups that were wasted
-- (the woken thread waited again before making progress), and the total
-- time that threads spent in state 'sleeping'.  A wake-up ends each
-- usleep and each futex wait, so wake-ups = usleep_calls + futex_waits.
-- asleep_ns is NULL unless the run was recorded with record = 'events'.
CREATE VIEW sleep_wake_run AS
SELECT s.run_id, s.experiment_id, s.experiment, s.scenario, s.policy, s.os,
       s.backend, s.point_key, s.status, s.record,
       s.usleep_calls / nullif(s.callbacks, 0) AS sleeps_per_callback,
       s.wasted_wakeups / nullif(s.usleep_calls + s.futex_waits, 0) AS wasted_fraction,
       CASE WHEN s.record = 'events'
            THEN (SELECT coalesce(sum(ts.end_ns - ts.start_ns), 0) FROM thread_state ts
                  WHERE ts.run_id = s.run_id AND ts.state = 'sleeping') END AS asleep_ns
FROM run_summary s;

-- Per point: the means of sleep_wake_run over the runs with status 'ok'.
-- avg() skips NULLs, so asleep_mean_ns averages only the runs recorded
-- with events, and events_runs says how many those were.
CREATE VIEW sleep_wake AS
SELECT experiment_id, experiment, scenario, policy, os, backend, point_key,
       count(*) AS n,
       avg(sleeps_per_callback) AS sleeps_per_callback,
       avg(wasted_fraction) AS wasted_fraction,
       count(asleep_ns) AS events_runs,
       avg(asleep_ns) AS asleep_mean_ns
FROM sleep_wake_run
WHERE status = 'ok'
GROUP BY experiment_id, scenario, policy, os, backend, point_key;

INSERT OR REPLACE INTO meta (key, value) VALUES ('views_version', '2');
