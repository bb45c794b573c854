/*
 * `herdsim report DB`: loads one experiment from the database, computes
 * the ratios to a baseline policy, and runs the writers of report.h.
 *
 * The ratio of a policy's mean makespan to the baseline's at the same
 * point (scenario, OS profile, backend, point_key) has a 95 % confidence
 * interval from the delta method: with R = a/b,
 *   var(R) ~= R^2 (s_a^2 / (n_a a^2) + s_b^2 / (n_b b^2)),
 * treating the two samples as independent, and R +- t * sqrt(var(R)) with
 * the Student-t quantile of min(n_a, n_b) - 1 degrees of freedom.  Runs of
 * all policies share seeds, so their makespans are usually positively
 * correlated and the independent-sample interval is then wider than a
 * paired one.
 */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "interrupt_cleanup.h"
#include "record.h"
#include "registry.h"
#include "stats.h"

static const char report_usage[] =
	"usage: herdsim report DB [options]\n"
	"\n"
	"Writes tables, figures and an HTML page for one experiment of DB.\n"
	"\n"
	"options:\n"
	"  --experiment NAME   experiment to report (default: the one of the latest\n"
	"                      run; runs made by `herdsim run` form 'default')\n"
	"  --baseline POLICY   add each policy's makespan ratio to POLICY, with its\n"
	"                      95 % confidence interval\n"
	"  --out DIR           output directory (default report/); files of the same\n"
	"                      name in DIR are replaced without a warning, and other\n"
	"                      files in DIR are kept\n"
	"  --format LIST       comma-separated subset of md,tex,html (default all)\n"
	"\n"
	"Figures need gnuplot (`make deps` installs it).  Each figure is written\n"
	"as NAME.svg, NAME.pdf and NAME.png next to NAME.csv and NAME.gp, so\n"
	"`gnuplot NAME.gp` in the output directory draws it again.\n"
	"The files are written to a staging directory in DIR and moved into DIR\n"
	"only when all of them are written.  An error, Ctrl-C or SIGTERM leaves the\n"
	"existing files in DIR as they were: files already moved are moved back.\n";

/* ---- Colours --------------------------------------------------------- */

/* Okabe-Ito colours, which stay distinct for colour-blind readers. */
static const struct {
	const char *policy;
	const char *color;
} fixed_colors[] = {
	{ "single", "#0072B2" },    { "waiters", "#D55E00" }, { "bind", "#009E73" },
	{ "watermark", "#CC79A7" }, { "handoff", "#E69F00" }, { "background", "#56B4E9" },
};
static const char *const extra_colors[] = { "#000000", "#7F7F7F", "#8C564B", "#BCBD22",
					    "#17BECF", "#9467BD" };

const char *rp_color(const char *policy)
{
	unsigned h = 5381;

	for (size_t i = 0; i < sizeof(fixed_colors) / sizeof(fixed_colors[0]); i++)
		if (strcmp(fixed_colors[i].policy, policy) == 0)
			return fixed_colors[i].color;
	for (const char *c = policy; *c; c++)
		h = h * 33 + (unsigned char)*c;
	return extra_colors[h % (sizeof(extra_colors) / sizeof(extra_colors[0]))];
}

/* Returns the palette rank of a policy: the fixed six first, then the
 * other shipped policies in registry order, then unknown names. */
static int policy_rank(const char *policy)
{
	int n = (int)(sizeof(fixed_colors) / sizeof(fixed_colors[0]));

	for (int i = 0; i < n; i++)
		if (strcmp(fixed_colors[i].policy, policy) == 0)
			return i;
	for (int i = 0; hs_policies[i]; i++)
		if (strcmp(hs_policies[i]->name, policy) == 0)
			return n + i;
	return 1000;
}

/* ---- Files ----------------------------------------------------------- */

FILE *rp_create(struct rp_report *r, const char *name, struct hs_error *err)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", r->stage, name);
	f = fopen(path, "w");
	if (!f)
		hs_error_set(err, HS_E_IO, path, 0, NULL, "cannot create the file: %s; check that "
			     "the output directory is writable", strerror(errno));
	return f;
}

int rp_finish(FILE *f, const char *name, struct hs_error *err)
{
	bool bad = ferror(f) != 0;

	if (fclose(f) != 0 || bad)
		return hs_error_set(err, HS_E_IO, name, 0, NULL, "writing the file failed: %s; "
				    "check the free space of the output directory", strerror(errno));
	return 0;
}

/* ---- Loading --------------------------------------------------------- */

static int sql_fail(struct rp_report *r, const char *what, struct hs_error *err)
{
	return hs_error_set(err, HS_E_DB, r->db_path, 0, NULL, "%s failed: %s", what,
			    sqlite3_errmsg(r->db));
}

static void copy_col(sqlite3_stmt *st, int col, char *buf, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(buf, size, "%s", t ? (const char *)t : "");
}

static double col_or_nan(sqlite3_stmt *st, int col)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

/* Picks the experiment: by name, or the one of the latest run. */
static int find_experiment(struct rp_report *r, const char *name, struct hs_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (name)
		rc = sqlite3_prepare_v2(r->db, "SELECT id, name, coalesce(command, ''),"
					" coalesce(revision, ''), coalesce(host, '') FROM experiment"
					" WHERE name = ?1 UNION ALL SELECT 0, 'default', '', '', ''"
					" WHERE ?1 = 'default' AND EXISTS (SELECT 1 FROM run WHERE"
					" experiment_id IS NULL) LIMIT 1", -1, &st, NULL);
	else
		rc = sqlite3_prepare_v2(r->db, "SELECT coalesce(r.experiment_id, 0),"
					" coalesce(e.name, 'default'), coalesce(e.command, ''),"
					" coalesce(e.revision, ''), coalesce(e.host, '') FROM run r"
					" LEFT JOIN experiment e ON e.id = r.experiment_id"
					" ORDER BY r.id DESC LIMIT 1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(r, "finding the experiment", err);
	if (name)
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r->exp_id = sqlite3_column_int64(st, 0);
		copy_col(st, 1, r->exp_name, sizeof(r->exp_name));
		copy_col(st, 2, r->exp_command, sizeof(r->exp_command));
		copy_col(st, 3, r->exp_revision, sizeof(r->exp_revision));
		copy_col(st, 4, r->exp_host, sizeof(r->exp_host));
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return sql_fail(r, "finding the experiment", err);
	if (name)
		return hs_error_set(err, HS_E_NOTFOUND, r->db_path, 0, "--experiment",
				    "no experiment named '%s'; list them with: sqlite3 %s "
				    "'SELECT name FROM experiment'", name, r->db_path);
	return hs_error_set(err, HS_E_NOTFOUND, r->db_path, 0, NULL,
			    "the database holds no runs; record some with `herdsim run`");
}

/* Reads run counts, versions, scenarios, backends and the varied keys. */
static int load_counts(struct rp_report *r, struct hs_error *err)
{
	static const char sql[] =
		"SELECT count(*), sum(status <> 'ok'), group_concat(DISTINCT version),"
		" group_concat(DISTINCT scenario), group_concat(DISTINCT backend),"
		" count(DISTINCT os), count(DISTINCT scenario), count(DISTINCT backend),"
		" (SELECT group_concat(key, ' ') FROM (SELECT DISTINCT key FROM varied_param"
		"  WHERE experiment_id = ?1 ORDER BY key))"
		" FROM run WHERE coalesce(experiment_id, 0) = ?1";
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return sql_fail(r, "counting the runs", err);
	sqlite3_bind_int64(st, 1, r->exp_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r->runs = sqlite3_column_int(st, 0);
		r->runs_failed = sqlite3_column_int(st, 1);
		copy_col(st, 2, r->versions, sizeof(r->versions));
		copy_col(st, 3, r->scenarios, sizeof(r->scenarios));
		copy_col(st, 4, r->backends, sizeof(r->backends));
		r->multi_os = sqlite3_column_int(st, 5) > 1;
		r->multi_scenario = sqlite3_column_int(st, 6) > 1;
		r->multi_backend = sqlite3_column_int(st, 7) > 1;
		copy_col(st, 8, r->varied_keys, sizeof(r->varied_keys));
		r->threads_only = strcmp(r->varied_keys, RP_THREADS_KEY) == 0;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : sql_fail(r, "counting the runs", err);
}

/* Reads the os.* and runtime.* parameters of the experiment's runs. */
static int load_params(struct rp_report *r, struct hs_error *err)
{
	static const char sql[] =
		"SELECT key, count(DISTINCT value), group_concat(DISTINCT value) FROM"
		" (SELECT p.key, p.value FROM run_param p JOIN run ON run.id = p.run_id"
		"  WHERE coalesce(run.experiment_id, 0) = ?1"
		"  AND (p.key LIKE 'os.%' OR p.key LIKE 'runtime.%') ORDER BY p.value)"
		" GROUP BY key ORDER BY key";
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return sql_fail(r, "reading the profile parameters", err);
	sqlite3_bind_int64(st, 1, r->exp_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rp_param *p = HS_VEC_PUSH(&r->params);

		if (!p)
			break;
		copy_col(st, 0, p->key, sizeof(p->key));
		p->varied = sqlite3_column_int(st, 1) > 1;
		copy_col(st, 2, p->values, sizeof(p->values));
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	return rc == SQLITE_DONE ? 0 : sql_fail(r, "reading the profile parameters", err);
}

/* Adds a policy to r->policies unless present. */
static void add_policy(struct rp_report *r, const char *name)
{
	for (int i = 0; i < r->npolicies; i++)
		if (strcmp(r->policies[i], name) == 0)
			return;
	if (r->npolicies < (int)(sizeof(r->policies) / sizeof(r->policies[0])))
		snprintf(r->policies[r->npolicies++], sizeof(r->policies[0]), "%s", name);
}

static int cmp_policy(const void *a, const void *b)
{
	int ra = policy_rank(a), rb = policy_rank(b);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	return strcmp(a, b);
}

/* Orders points by scenario, backend, OS, point, then policy rank. */
static int cmp_point(const void *a, const void *b)
{
	const struct rp_point *p = a, *q = b;
	int c;

	if ((c = strcmp(p->scenario, q->scenario)) || (c = strcmp(p->backend, q->backend)) ||
	    (c = strcmp(p->os, q->os)))
		return c;
	if (!isnan(p->threads) && !isnan(q->threads) && p->threads != q->threads)
		return p->threads < q->threads ? -1 : 1;
	if ((c = strcmp(p->point_key, q->point_key)))
		return c;
	return cmp_policy(p->policy, q->policy);
}

static void read_point(sqlite3_stmt *st, struct rp_point *p)
{
	copy_col(st, 0, p->scenario, sizeof(p->scenario));
	copy_col(st, 1, p->policy, sizeof(p->policy));
	copy_col(st, 2, p->os, sizeof(p->os));
	copy_col(st, 3, p->backend, sizeof(p->backend));
	copy_col(st, 4, p->point_key, sizeof(p->point_key));
	p->n = sqlite3_column_int(st, 5);
	p->mean_ns = col_or_nan(st, 6);
	p->median_ns = col_or_nan(st, 7);
	p->sd_ns = col_or_nan(st, 8);
	p->ci_ns = col_or_nan(st, 9);
	p->lo_ns = col_or_nan(st, 10);
	p->hi_ns = col_or_nan(st, 11);
	p->p50_ns = col_or_nan(st, 12);
	p->p99_ns = col_or_nan(st, 13);
	p->usleeps = col_or_nan(st, 14);
	p->wasted = col_or_nan(st, 15);
	p->sleeps_per_cb = col_or_nan(st, 16);
	p->wasted_frac = col_or_nan(st, 17);
	p->threads = col_or_nan(st, 18);
	p->ratio = p->ratio_lo = p->ratio_hi = NAN;
}

static int load_points(struct rp_report *r, struct hs_error *err)
{
	static const char sql[] =
		"SELECT p.scenario, p.policy, p.os, p.backend, p.point_key, p.n,"
		" p.makespan_mean_ns, p.makespan_median_ns, p.makespan_sd_ns, p.makespan_ci95_ns,"
		" p.makespan_ci_low_ns, p.makespan_ci_high_ns, p.cb_p50_mean_ns, p.cb_p99_mean_ns,"
		" p.usleep_calls_mean, p.wasted_wakeups_mean, w.sleeps_per_callback,"
		" w.wasted_fraction, (SELECT CAST(value AS REAL) FROM run_param WHERE"
		"  run_id = p.first_run_id AND key = '" RP_THREADS_KEY "')"
		" FROM point_summary p LEFT JOIN sleep_wake w USING (experiment_id, scenario,"
		"  policy, os, backend, point_key)"
		" WHERE p.experiment_id = ?1";
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return sql_fail(r, "reading point_summary", err);
	sqlite3_bind_int64(st, 1, r->exp_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rp_point *p = HS_VEC_PUSH(&r->points);

		if (!p)
			break;
		read_point(st, p);
		add_policy(r, p->policy);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	if (rc != SQLITE_DONE)
		return sql_fail(r, "reading point_summary", err);
	if (r->points.len == 0)
		return hs_error_set(err, HS_E_NOTFOUND, r->db_path, 0, NULL, "experiment '%s' has "
				    "no run with status ok, so there is nothing to report",
				    r->exp_name);
	qsort(r->points.data, r->points.len, sizeof(*r->points.data), cmp_point);
	qsort(r->policies, (size_t)r->npolicies, sizeof(r->policies[0]), cmp_policy);
	return 0;
}

static int load_locks(struct rp_report *r, struct hs_error *err)
{
	static const char sql[] =
		"SELECT policy, os, lock, acquisitions, contentions, acquisition_bounces,"
		" wait_mean_ns, wait_max_ns, hold_mean_ns, hold_max_ns"
		" FROM lock_summary WHERE experiment_id = ?1 ORDER BY os, lock, policy";
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return sql_fail(r, "reading lock_summary", err);
	sqlite3_bind_int64(st, 1, r->exp_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rp_lock *l = HS_VEC_PUSH(&r->locks);

		if (!l)
			break;
		copy_col(st, 0, l->policy, sizeof(l->policy));
		copy_col(st, 1, l->os, sizeof(l->os));
		copy_col(st, 2, l->lock, sizeof(l->lock));
		l->acquisitions = sqlite3_column_int64(st, 3);
		l->contentions = sqlite3_column_int64(st, 4);
		l->bounces = sqlite3_column_int64(st, 5);
		l->wait_mean_ns = col_or_nan(st, 6);
		l->wait_max_ns = col_or_nan(st, 7);
		l->hold_mean_ns = col_or_nan(st, 8);
		l->hold_max_ns = col_or_nan(st, 9);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	return rc == SQLITE_DONE ? 0 : sql_fail(r, "reading lock_summary", err);
}

/* Sets the ratio of each point's mean makespan to the baseline's at the
 * same scenario, backend, OS and point_key (delta method; see the top of
 * this file). */
static int compute_ratios(struct rp_report *r, struct hs_error *err)
{
	bool found = false;

	for (size_t i = 0; i < r->points.len; i++) {
		struct rp_point *p = &r->points.data[i];

		for (size_t j = 0; j < r->points.len; j++) {
			const struct rp_point *b = &r->points.data[j];
			double rel2, half;
			int n;

			if (strcmp(b->policy, r->baseline) != 0 || strcmp(b->scenario, p->scenario) ||
			    strcmp(b->backend, p->backend) || strcmp(b->os, p->os) ||
			    strcmp(b->point_key, p->point_key))
				continue;
			found = true;
			if (!(b->mean_ns > 0))
				break;
			p->ratio = p->mean_ns / b->mean_ns;
			n = p->n < b->n ? p->n : b->n;
			/* The baseline's ratio to itself is exactly 1, with no interval. */
			if (p == b || n < 2 || isnan(p->sd_ns) || isnan(b->sd_ns))
				break;
			rel2 = p->sd_ns * p->sd_ns / (p->n * p->mean_ns * p->mean_ns) +
			       b->sd_ns * b->sd_ns / (b->n * b->mean_ns * b->mean_ns);
			half = hs_t95(n - 1) * p->ratio * sqrt(rel2);
			p->ratio_lo = p->ratio - half;
			p->ratio_hi = p->ratio + half;
			break;
		}
	}
	if (!found)
		return hs_error_set(err, HS_E_NOTFOUND, r->db_path, 0, "--baseline",
				    "policy '%s' has no run with status ok in experiment '%s'; "
				    "choose one of the policies in the report", r->baseline,
				    r->exp_name);
	return 0;
}

void rp_point_label(const struct rp_report *r, const struct rp_point *p, char *buf, size_t size)
{
	if (r->threads_only && !isnan(p->threads))
		snprintf(buf, size, "%g", p->threads);
	else
		snprintf(buf, size, "%s", p->point_key);
}

/* ---- Command line ---------------------------------------------------- */

struct report_opts {
	const char *db, *experiment, *baseline, *out, *format;
};

static int parse_format(struct rp_report *r, const char *list, struct hs_error *err)
{
	char buf[64];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (strcmp(w, "md") == 0)
			r->md = true;
		else if (strcmp(w, "tex") == 0)
			r->tex = true;
		else if (strcmp(w, "html") == 0)
			r->html = true;
		else
			return hs_error_set(err, HS_E_USAGE, NULL, 0, "--format", "unknown format '%s'; "
					    "use a comma-separated list of md, tex and html", w);
	}
	if (!r->md && !r->tex && !r->html)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, "--format", "no format given; use a "
				    "comma-separated list of md, tex and html");
	return 0;
}

static int parse_report_args(int argc, char **argv, struct report_opts *o, struct hs_error *err)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return 1;
		if (strcmp(a, "--experiment") == 0)
			slot = &o->experiment;
		else if (strcmp(a, "--baseline") == 0)
			slot = &o->baseline;
		else if (strcmp(a, "--out") == 0)
			slot = &o->out;
		else if (strcmp(a, "--format") == 0)
			slot = &o->format;
		else if (a[0] == '-')
			return hs_error_set(err, HS_E_USAGE, NULL, 0, a, "unknown option; see "
					    "`herdsim report --help`");
		else if (o->db)
			return hs_error_set(err, HS_E_USAGE, NULL, 0, a, "unexpected argument: give "
					    "one database");
		else
			o->db = a;
		if (slot) {
			if (i + 1 >= argc)
				return hs_error_set(err, HS_E_USAGE, NULL, 0, a, "needs a value; see "
						    "`herdsim report --help`");
			*slot = argv[++i];
		}
	}
	if (!o->db)
		return hs_error_set(err, HS_E_USAGE, NULL, 0, NULL, "missing the database; "
				    "usage: herdsim report DB [options]");
	return 0;
}

/* Loads the experiment and writes every requested output into the
 * staging directory. */
static int build_report(struct rp_report *r, const struct report_opts *o, struct hs_error *err)
{
	int rc = find_experiment(r, o->experiment, err);

	if (rc == 0)
		rc = load_counts(r, err);
	if (rc == 0)
		rc = load_params(r, err);
	if (rc == 0)
		rc = load_points(r, err);
	if (rc == 0)
		rc = load_locks(r, err);
	if (rc == 0 && r->baseline)
		rc = compute_ratios(r, err);
	if (rc == 0)
		rc = rp_write_figures(r, err);
	if (rc == 0 && r->md)
		rc = rp_write_md(r, err);
	if (rc == 0 && r->tex)
		rc = rp_write_tex(r, err);
	if (rc == 0 && r->html)
		rc = rp_write_html(r, err);
	return rc;
}

/* Rejects an SQLite file that has no tables and no schema version, such as
 * an empty file, because hs_db_open would write a new schema into it and
 * a report must not turn its input into a database.  Other files pass,
 * and hs_db_open reports what is wrong with them. */
static int check_not_blank(const char *path, struct hs_error *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool blank = false;
	char *name = hs_db_file_name(path);

	if (!name)
		return hs_error_set(err, HS_E_NOMEM, path, 0, NULL, "out of memory");
	if (sqlite3_open_v2(name, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT (SELECT user_version FROM pragma_user_version) = 0 "
			       "AND (SELECT count(*) FROM sqlite_master) = 0", -1, &st,
			       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		blank = sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(name);
	if (blank)
		return hs_error_set(err, HS_E_NOTFOUND, path, 0, NULL,
				    "the database is empty and holds no runs; record some with "
				    "`herdsim run --db %s`", path);
	return 0;
}

/* Installs the SIGINT and SIGTERM handler, with the line it prints for
 * the output directory out.  The paths to remove are registered as they
 * are created. */
static void watch_interrupts(const char *out)
{
	char line[HS_CLEANUP_PATH_MAX + 80];

	snprintf(line, sizeof(line), "herdsim: report interrupted; the files in %s are left as "
		 "they were\n", out);
	hs_cleanup_watch(line);
}

int cli_report(int argc, char **argv)
{
	struct report_opts o = { 0 };
	struct rp_report r = { 0 };
	struct hs_error err = { 0 };
	struct hs_db *db = NULL;
	struct stat sb;
	sigset_t mask;
	bool blocked = false;
	size_t first_new_dir = 0;
	int rc, status;

	rc = parse_report_args(argc, argv, &o, &err);
	if (rc == 1) {
		fputs(report_usage, stdout);
		return CLI_OK;
	}
	if (rc == 0)
		rc = parse_format(&r, o.format ? o.format : "md,tex,html", &err);
	if (rc)
		return cli_error(&err);
	if (!o.out)
		o.out = "report";
	if (o.out[0] == '\0') {
		hs_error_set(&err, HS_E_USAGE, NULL, 0, "--out",
			     "the directory name is empty; give a directory, or leave --out out for report/");
		return cli_error(&err);
	}
	r.db_path = o.db;
	r.baseline = o.baseline;

	/* hs_db_open would create a missing file; a report needs an existing one. */
	if (stat(o.db, &sb) != 0) {
		hs_error_set(&err, HS_E_NOTFOUND, o.db, 0, NULL, "database not found: %s; record "
			     "runs with `herdsim run --db %s` first", strerror(errno), o.db);
		return cli_error(&err);
	}
	rc = check_not_blank(o.db, &err);
	if (rc == 0)
		rc = rp_check_gnuplot(&err);
	if (rc == 0)
		rc = hs_db_open(&db, o.db, &err);
	if (rc)
		goto out;

	/* A signal waits while the directories are made and registered, so
	 * the handler finds each one that exists. */
	watch_interrupts(o.out);
	hs_cleanup_block(&mask);
	blocked = true;
	rc = rp_make_dirs(o.out, &first_new_dir, &err);
	if (first_new_dir)
		hs_cleanup_add_dirs(o.out, first_new_dir);
	if (rc)
		goto out;
	r.db = hs_db_handle(db);
	snprintf(r.stage, sizeof(r.stage), "%s/.herdsim-report-XXXXXX", o.out);
	if (!mkdtemp(r.stage)) {
		rc = hs_error_set(&err, HS_E_IO, o.out, 0, "--out", "cannot create a staging "
				  "directory in the output directory: %s", strerror(errno));
		goto out;
	}
	hs_cleanup_add_tree(r.stage);
	hs_cleanup_unblock(&mask);
	blocked = false;

	rc = build_report(&r, &o, &err);

	/* From here on a signal waits until the command is done, so the moves
	 * and their rollback run to the end.  It then takes the action it had
	 * before watch_interrupts. */
	hs_cleanup_block(&mask);
	blocked = true;
	if (rc == 0)
		rc = rp_stage_commit(r.stage, o.out, &err);
	else
		rp_stage_discard(r.stage);
	if (rc == 0) {
		printf("report of experiment '%s' (%d runs, %zu points) written to %s/\n",
		       r.exp_name, r.runs, r.points.len, o.out);
		for (size_t i = 0; i < r.figures.len; i++)
			if (r.figures.data[i].note[0])
				printf("note: %s\n", r.figures.data[i].note);
	}
out:
	if (rc)
		rp_remove_new_dirs(o.out, first_new_dir);
	HS_VEC_FREE(&r.points);
	HS_VEC_FREE(&r.params);
	HS_VEC_FREE(&r.figures);
	HS_VEC_FREE(&r.locks);
	hs_db_close(db);
	status = rc ? cli_error(&err) : CLI_OK;
	fflush(stdout);
	hs_cleanup_unwatch();
	if (blocked)
		hs_cleanup_unblock(&mask);
	return status;
}
