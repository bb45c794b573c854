-- herdsim database schema, version 1.
--
-- One database contains any number of runs.  The recorder (sim/record.c) runs
-- this file once, inside a transaction, on a new empty file; it then checks
-- that PRAGMA user_version equals HS_SCHEMA_VERSION.  Change a table and you
-- must raise the version in both places, because hs_db_open rejects any
-- file whose user_version differs.  docs/schema.md gives the meaning and
-- unit of every column.
--
-- Conventions:
--   * Times are nanoseconds (columns end in _ns), counted from the start of
--     the run, except the wall-clock columns named in docs/schema.md.
--   * Thread and M ids are the 0-based ids of the run; -1 in memory ("none",
--     "a timer", "still alive") is stored as NULL.
--   * Every per-run table refers to run(id) with ON DELETE CASCADE, and its
--     primary key or first index starts with run_id, so that deleting a run
--     and reading one run are index lookups.
--   * A CHECK lists three or more allowed values as an OR chain, not as
--     IN (...): SQLite 3.40 builds a temporary b-tree for such an IN list
--     on every INSERT, which made thread_state inserts about 4 times
--     slower in a local measurement.
--   * 64-bit unsigned values (seed, counts) are stored as their signed
--     64-bit bit pattern; only a seed above 2^63-1 reads back negative.

PRAGMA user_version = 1;

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('schema_version', '1');

CREATE TABLE experiment (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	command    TEXT,
	version    TEXT,
	revision   TEXT,
	host       TEXT,
	started_at TEXT,
	ended_at   TEXT
);

CREATE TABLE run (
	id            INTEGER PRIMARY KEY,
	experiment_id INTEGER REFERENCES experiment (id),
	run_key       TEXT,
	scenario      TEXT NOT NULL,
	policy        TEXT NOT NULL,
	backend       TEXT NOT NULL CHECK (backend IN ('sim', 'native')),
	os            TEXT NOT NULL,
	seed          INTEGER NOT NULL,
	replication   INTEGER NOT NULL,
	record        TEXT NOT NULL CHECK (record IN ('summary', 'events')),
	status        TEXT NOT NULL CHECK (status = 'ok' OR status = 'deadlock'
	              OR status = 'timeout' OR status = 'error'),
	error         TEXT,
	version       TEXT NOT NULL,
	started_at    TEXT,
	events        INTEGER NOT NULL,
	end_ns        INTEGER NOT NULL,
	wall_ns       INTEGER NOT NULL
);

CREATE INDEX run_experiment ON run (experiment_id);
CREATE UNIQUE INDEX run_experiment_key ON run (experiment_id, run_key)
	WHERE run_key IS NOT NULL;

CREATE TABLE run_param (
	run_id INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
	key    TEXT NOT NULL,
	value  TEXT NOT NULL,
	PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE scalar (
	run_id INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
	name   TEXT NOT NULL,
	value  REAL,            -- NULL when the value was NaN
	PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

CREATE TABLE lock_stat (
	run_id              INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
	lock                TEXT NOT NULL,
	acquisitions        INTEGER NOT NULL,
	contentions         INTEGER NOT NULL,
	acquisition_bounces INTEGER NOT NULL,
	contention_bounces  INTEGER NOT NULL,
	wait_min_ns         INTEGER NOT NULL,
	wait_max_ns         INTEGER NOT NULL,
	wait_total_ns       INTEGER NOT NULL,
	hold_min_ns         INTEGER NOT NULL,
	hold_max_ns         INTEGER NOT NULL,
	hold_total_ns       INTEGER NOT NULL,
	PRIMARY KEY (run_id, lock)
) WITHOUT ROWID;

CREATE TABLE thread (
	run_id     INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
	thread     INTEGER NOT NULL,
	kind       TEXT NOT NULL CHECK (kind IN ('foreign', 'runtime')),
	name       TEXT NOT NULL,
	created_ns INTEGER NOT NULL,
	exited_ns  INTEGER,     -- NULL when alive at the end of the run
	PRIMARY KEY (run_id, thread)
) WITHOUT ROWID;

CREATE TABLE thread_state (
	run_id   INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
	thread   INTEGER NOT NULL,
	start_ns INTEGER NOT NULL,
	end_ns   INTEGER NOT NULL,
	state    TEXT NOT NULL CHECK (state = 'running' OR state = 'runnable'
	         OR state = 'sleeping' OR state = 'blocked' OR state = 'yielding'),
	reason   TEXT NOT NULL,
	waker    INTEGER        -- NULL when no thread ended the previous wait
);

CREATE INDEX thread_state_run_thread ON thread_state (run_id, thread, start_ns);

CREATE TABLE wake (
	run_id     INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
	time_ns    INTEGER NOT NULL,
	waker      INTEGER,     -- NULL for a timer
	woken      INTEGER NOT NULL,
	latency_ns INTEGER NOT NULL,
	reason     TEXT NOT NULL,
	wasted     INTEGER NOT NULL CHECK (wasted IN (0, 1))
);

CREATE INDEX wake_run_time ON wake (run_id, time_ns);

CREATE TABLE callback (
	run_id        INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
	thread        INTEGER NOT NULL,
	seq           INTEGER NOT NULL,
	arrival_ns    INTEGER NOT NULL,
	m_acquired_ns INTEGER NOT NULL,
	p_acquired_ns INTEGER NOT NULL,
	done_ns       INTEGER NOT NULL,
	m             INTEGER NOT NULL,
	sleeps        INTEGER NOT NULL,
	yields        INTEGER NOT NULL,
	cas_failures  INTEGER NOT NULL,
	PRIMARY KEY (run_id, thread, seq)
) WITHOUT ROWID;

CREATE TABLE m (
	run_id     INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
	m          INTEGER NOT NULL,
	created_ns INTEGER NOT NULL,
	created_by INTEGER,     -- NULL when created at runtime start
	reason     TEXT NOT NULL,
	PRIMARY KEY (run_id, m)
) WITHOUT ROWID;

CREATE TABLE histogram (
	run_id   INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
	name     TEXT NOT NULL,
	lower_ns INTEGER NOT NULL,
	upper_ns INTEGER NOT NULL,
	count    INTEGER NOT NULL,
	PRIMARY KEY (run_id, name, lower_ns)
) WITHOUT ROWID;

CREATE TABLE gauge (
	run_id  INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
	time_ns INTEGER NOT NULL,
	thread  INTEGER,        -- NULL for a gauge of no single thread
	name    TEXT NOT NULL,
	value   INTEGER NOT NULL
);

CREATE INDEX gauge_run_name_time ON gauge (run_id, name, time_ns);
