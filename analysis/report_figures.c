/*
 * The figures of a report.  Each figure NAME is three files an author can
 * edit: NAME.csv (the data; datasets separated by two blank lines, which
 * gnuplot addresses with `index`), NAME.gp (the script), and the drawings
 * NAME.svg, NAME.pdf (pdfcairo) and NAME.png (pngcairo) that
 * `gnuplot NAME.gp` writes into the current directory.
 *
 * Figures: makespan per policy (lines over workload.threads when it varies,
 * otherwise bars), the callback latency CDF per policy, sleeps and wasted
 * wake-ups per policy, a timeline of one run recorded with events, and
 * the cumulative count of M's over time in one run per policy.  A policy
 * has its rp_color() in all of them.
 */
#include "report.h"

#include "interrupt_cleanup.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The timeline draws at most this many state intervals, so that the SVG
 * of a long run stays small enough for a browser. */
#define TIMELINE_MAX_ROWS 100000

static const struct {
	const char *state;
	const char *color;
} state_colors[] = {
	{ "running", "#2CA02C" },  { "runnable", "#FFBF00" }, { "yielding", "#FF7F0E" },
	{ "sleeping", "#1F77B4" }, { "blocked", "#D62728" },
};

/* ---- gnuplot --------------------------------------------------------- */

/* Runs gnuplot with argv[1..] in directory dir, its standard error into
 * errpath.  Returns the exit status, 127 when gnuplot cannot start, or -1
 * when fork failed. */
static int run_gnuplot(const char *dir, char *const argv[], const char *errpath)
{
	pid_t pid = hs_cleanup_fork(); /* a signal to the report kills gnuplot first */
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		FILE *e = errpath ? freopen(errpath, "w", stderr) : NULL;

		if ((dir && chdir(dir) != 0) || !freopen("/dev/null", "w", stdout) ||
		    (errpath && !e))
			_exit(126);
		if (!errpath)
			freopen("/dev/null", "w", stderr);
		execvp("gnuplot", argv);
		_exit(127);
	}
	if (hs_cleanup_wait(pid, &status) != 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int rp_check_gnuplot(struct hs_error *err)
{
	char *argv[] = { "gnuplot", "--version", NULL };
	int rc = run_gnuplot(NULL, argv, NULL);

	if (rc == 127)
		return hs_error_set(err, HS_E_NOTFOUND, "gnuplot", 0, NULL, "gnuplot not found, "
				    "and the figures need it; `make deps` installs it (Debian "
				    "package gnuplot-nox)");
	if (rc != 0)
		return hs_error_set(err, HS_E_IO, "gnuplot", 0, NULL, "`gnuplot --version` "
				    "failed with status %d; check the gnuplot installation", rc);
	return 0;
}

/* Runs NAME.gp in the staging directory; on failure reports the first
 * line gnuplot wrote to standard error. */
static int draw(struct rp_report *r, const char *name, struct hs_error *err)
{
	char script[64], errpath[4200], line[512] = "";
	char *argv[] = { "gnuplot", script, NULL };
	FILE *e;
	int rc;

	snprintf(script, sizeof(script), "%s.gp", name);
	/* The hidden name cannot clash with an output file, and the file is
	 * deleted below, before the staging directory is moved into place. */
	snprintf(errpath, sizeof(errpath), "%s/.%s.stderr", r->stage, name);
	rc = run_gnuplot(r->stage, argv, errpath);
	e = fopen(errpath, "r");
	while (e && fgets(line, sizeof(line), e) && strspn(line, " \t\r\n^") == strlen(line))
		;
	if (e)
		fclose(e);
	unlink(errpath);
	line[strcspn(line, "\r\n")] = '\0';
	if (rc == 0)
		return 0;
	if (rc == 127)
		return hs_error_set(err, HS_E_NOTFOUND, "gnuplot", 0, NULL, "gnuplot not found; "
				    "`make deps` installs it (Debian package gnuplot-nox)");
	return hs_error_set(err, HS_E_IO, script, 0, NULL, "gnuplot failed (status %d): %s",
			    rc, line[0] ? line : "no message");
}

/* Writes the lines common to every script: data format and terminals come
 * after the plot commands, through finish_gp. */
static void begin_gp(FILE *g, const char *name, const char *title)
{
	fprintf(g, "# %s: drawn by `herdsim report`; run `gnuplot %s.gp` to redraw\n"
		   "# %s.svg, %s.pdf and %s.png from %s.csv.\n", title, name, name, name, name,
		name);
	fputs("set datafile separator comma\n"
	      "set encoding utf8\n"
	      "set grid back lc rgb '#DDDDDD'\n"
	      "set key outside right top noenhanced\n"
	      "set border 3\nset tics nomirror\n", g);
	fprintf(g, "set title \"%s\" noenhanced\n", title);
	fputs("set terminal svg size 900,540 dynamic font 'sans,12' background rgb 'white'\n", g);
	fprintf(g, "set output '%s.svg'\n", name);
}

static void finish_gp(FILE *g, const char *name)
{
	fprintf(g, "set terminal pdfcairo size 6in,3.6in font 'sans,9'\n"
		   "set output '%s.pdf'\nreplot\n"
		   "set terminal pngcairo size 1200,720 font 'sans,12'\n"
		   "set output '%s.png'\nreplot\nunset output\n", name, name);
}

/* Records a figure; note non-empty marks it as skipped. */
static int add_figure(struct rp_report *r, const char *name, const char *caption,
		      const char *note, struct hs_error *err)
{
	struct rp_figure *f = HS_VEC_PUSH(&r->figures);

	if (!f)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->caption, sizeof(f->caption), "%s", caption);
	snprintf(f->note, sizeof(f->note), "%s", note ? note : "");
	return 0;
}

/* Opens NAME.csv and NAME.gp in the staging directory. */
static int open_pair(struct rp_report *r, const char *name, FILE **csv, FILE **gp,
		     struct hs_error *err)
{
	char file[64];

	snprintf(file, sizeof(file), "%s.csv", name);
	*csv = rp_create(r, file, err);
	if (!*csv)
		return err->code;
	snprintf(file, sizeof(file), "%s.gp", name);
	*gp = rp_create(r, file, err);
	if (!*gp) {
		fclose(*csv);
		return err->code;
	}
	return 0;
}

/* Copies the 14 digits of a run's start (YYYY-MM-DDTHH:MM:SSZ) into
 * date[15] as YYYYMMDDHHMMSS; returns false when iso is not of that form. */
static bool iso_to_pdf_date(const char *iso, char *date)
{
	static const int at[14] = { 0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18 };

	if (!iso || strlen(iso) < 19)
		return false;
	for (int i = 0; i < 14; i++) {
		if (!isdigit((unsigned char)iso[at[i]]))
			return false;
		date[i] = iso[at[i]];
	}
	date[14] = '\0';
	return true;
}

/*
 * Sets r->pdf_date, the date the PDF drawings carry, so that a report is
 * a function of its database and not of the time it is drawn.  The date
 * is SOURCE_DATE_EPOCH (seconds, UTC, the convention of reproducible
 * builds) when that is a valid number, else the start of the newest run
 * in the report, else 1970-01-01.
 */
static void set_pdf_date(struct rp_report *r)
{
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	sqlite3_stmt *st = NULL;
	char *end = NULL;
	long long seconds = epoch && *epoch ? strtoll(epoch, &end, 10) : -1;
	bool from_epoch = end && *end == '\0' && seconds >= 0;
	struct tm tm;
	time_t t = from_epoch ? (time_t)seconds : 0;

	if (!from_epoch && sqlite3_prepare_v2(r->db, "SELECT max(started_at) FROM run"
					      " WHERE coalesce(experiment_id, 0) = ?1",
					      -1, &st, NULL) == SQLITE_OK) {
		bool found;

		sqlite3_bind_int64(st, 1, r->exp_id);
		found = sqlite3_step(st) == SQLITE_ROW &&
			iso_to_pdf_date((const char *)sqlite3_column_text(st, 0), r->pdf_date);
		sqlite3_finalize(st);
		if (found)
			return;
	}
	if (!gmtime_r(&t, &tm) || strftime(r->pdf_date, sizeof(r->pdf_date), "%Y%m%d%H%M%S", &tm) != 14)
		snprintf(r->pdf_date, sizeof(r->pdf_date), "19700101000000");
}

/*
 * Replaces the 14 digits after each "/CreationDate (D:" and "/ModDate (D:"
 * of the staged NAME.pdf with r->pdf_date.  cairo 1.16, which Debian 12
 * ships, stamps the time of drawing and ignores SOURCE_DATE_EPOCH.  The
 * length stays the same, so the PDF's cross-reference offsets stay valid.
 */
static int stamp_pdf(struct rp_report *r, const char *name, struct hs_error *err)
{
	static const char *const keys[] = { "/CreationDate (D:", "/ModDate (D:" };
	char path[4200];
	char *buf = NULL;
	long size;
	FILE *f;
	int rc = 0;

	if (!r->pdf_date[0])
		set_pdf_date(r);
	snprintf(path, sizeof(path), "%s/%s.pdf", r->stage, name);
	f = fopen(path, "r+b");
	if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(buf = malloc((size_t)size + 1)) || fread(buf, 1, (size_t)size, f) != (size_t)size)
		rc = -1;
	for (size_t k = 0; rc == 0 && k < sizeof(keys) / sizeof(keys[0]); k++) {
		size_t klen = strlen(keys[k]);

		for (long i = 0; i + (long)klen + 14 <= size; i++) {
			if (memcmp(buf + i, keys[k], klen) != 0)
				continue;
			if (fseek(f, i + (long)klen, SEEK_SET) != 0 || fwrite(r->pdf_date, 1, 14, f) != 14)
				rc = -1;
			break;
		}
	}
	free(buf);
	if (f && fclose(f) != 0)
		rc = -1;
	return rc == 0 ? 0 : hs_error_set(err, HS_E_IO, path, 0, NULL,
					 "cannot set the date of the drawing: %s", strerror(errno));
}

/* Closes both files, then draws the figure. */
static int close_pair_draw(struct rp_report *r, const char *name, FILE *csv, FILE *gp,
			   struct hs_error *err)
{
	int rc = rp_finish(csv, name, err);
	int rc2 = rp_finish(gp, name, err);

	if (rc == 0)
		rc = rc2;
	if (rc == 0)
		rc = draw(r, name, err);
	return rc ? rc : stamp_pdf(r, name, err);
}

/* ---- Makespan -------------------------------------------------------- */

/* Writes the series label of a point into buf: the policy, then the OS
 * and the varied keys other than workload.threads when those differ. */
static void series_label(const struct rp_report *r, const struct rp_point *p, bool lines,
			 char *buf, size_t size)
{
	char rest[512] = "";
	size_t len;

	for (const char *s = p->point_key; *s;) {
		size_t n = strcspn(s, " ");

		if (!lines || strncmp(s, RP_THREADS_KEY "=", strlen(RP_THREADS_KEY) + 1) != 0) {
			len = strlen(rest);
			snprintf(rest + len, sizeof(rest) - len, " %.*s", (int)n, s);
		}
		s += n;
		s += *s == ' ';
	}
	snprintf(buf, size, "%s%s%s%s%s%s", p->policy, r->multi_os ? " " : "",
		 r->multi_os ? p->os : "", r->multi_scenario ? " " : "",
		 r->multi_scenario ? p->scenario : "", rest);
}

static int fig_makespan_lines(struct rp_report *r, FILE *csv, FILE *gp)
{
	char labels[64][600];
	const char *colors[64];
	int nseries = 0;

	fputs("set xlabel 'foreign threads (workload.threads)'\n"
	      "set ylabel 'makespan (ms), mean and 95% CI'\nset yrange [0:*]\n"
	      "set offsets graph 0.03, graph 0.03, 0, 0\n", gp);
	fputs("# threads,mean_ms,ci_low_ms,ci_high_ms,n\n", csv);
	for (int pass = 0; pass < 64; pass++) {
		const char *want = NULL;
		char label[600];

		/* One dataset per series, in point order. */
		for (size_t i = 0; i < r->points.len; i++) {
			const struct rp_point *p = &r->points.data[i];
			bool seen = false;

			series_label(r, p, true, label, sizeof(label));
			if (want && strcmp(want, label) != 0)
				continue; /* another series: a later pass writes it */
			for (int s = 0; s < nseries; s++)
				seen |= strcmp(labels[s], label) == 0;
			if (!want && seen)
				continue; /* written by an earlier pass */
			if (!want) {
				snprintf(labels[nseries], sizeof(labels[0]), "%s", label);
				colors[nseries] = rp_color(p->policy);
				want = labels[nseries++];
				fprintf(csv, "%s# series: %s\n", nseries > 1 ? "\n\n" : "", want);
			}
			if (isnan(p->threads))
				continue;
			fprintf(csv, "%g,%.6f,%.6f,%.6f,%d\n", p->threads, p->mean_ns / 1e6,
				(isnan(p->lo_ns) ? p->mean_ns : p->lo_ns) / 1e6,
				(isnan(p->hi_ns) ? p->mean_ns : p->hi_ns) / 1e6, p->n);
		}
		if (!want)
			break;
	}
	fputs("plot \\\n", gp);
	for (int s = 0; s < nseries; s++)
		fprintf(gp, "  '%s' index %d using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 0.8 "
			"lc rgb '%s' dt %d title \"%s\"%s\n", "makespan.csv", s, colors[s],
			1 + s % 4, labels[s], s + 1 < nseries ? ", \\" : "");
	return 0;
}

static int fig_makespan_bars(struct rp_report *r, FILE *csv, FILE *gp)
{
	fputs("set ylabel 'makespan (ms), mean and 95% CI'\nset yrange [0:*]\n"
	      "set boxwidth 0.7\nset style fill solid 0.85 noborder\nset xtics rotate by -30\n"
	      "set xrange [-0.6:*]\n", gp);
	fputs("# label,policy,mean_ms,ci_low_ms,ci_high_ms,n\n", csv);
	for (size_t i = 0; i < r->points.len; i++) {
		const struct rp_point *p = &r->points.data[i];
		char label[600];

		series_label(r, p, false, label, sizeof(label));
		fprintf(csv, "%s,%s,%.6f,%.6f,%.6f,%d\n", label, p->policy, p->mean_ns / 1e6,
			(isnan(p->lo_ns) ? p->mean_ns : p->lo_ns) / 1e6,
			(isnan(p->hi_ns) ? p->mean_ns : p->hi_ns) / 1e6, p->n);
	}
	fputs("plot \\\n", gp);
	for (size_t i = 0; i < r->points.len; i++) {
		const struct rp_point *p = &r->points.data[i];
		bool first = true;

		for (size_t j = 0; j < i; j++)
			first &= strcmp(r->points.data[j].policy, p->policy) != 0;
		fprintf(gp, "  'makespan.csv' every ::%zu::%zu using (%zu):3:xtic(1) with boxes "
			"lc rgb '%s' title %s%s%s, \\\n", i, i, i, rp_color(p->policy),
			first ? "\"" : "''", first ? p->policy : "", first ? "\"" : "");
	}
	fputs("  'makespan.csv' using 0:3:4:5 with yerrorbars lc rgb 'black' pt -1 notitle\n", gp);
	return 0;
}

static int fig_makespan(struct rp_report *r, struct hs_error *err)
{
	bool lines = strstr(r->varied_keys, RP_THREADS_KEY) != NULL;
	FILE *csv, *gp;
	int rc = open_pair(r, "makespan", &csv, &gp, err);

	if (rc)
		return rc;
	begin_gp(gp, "makespan", lines ? "Makespan against thread count" : "Makespan per policy");
	if (lines)
		fig_makespan_lines(r, csv, gp);
	else
		fig_makespan_bars(r, csv, gp);
	finish_gp(gp, "makespan");
	rc = close_pair_draw(r, "makespan", csv, gp, err);
	if (rc == 0)
		rc = add_figure(r, "makespan", lines ?
				"Makespan against the number of foreign threads, mean with 95 % "
				"Student-t confidence interval per policy." :
				"Makespan per point, mean with 95 % Student-t confidence interval.",
				NULL, err);
	return rc;
}

/* ---- Callback latency CDF -------------------------------------------- */

static int fig_latency(struct rp_report *r, struct hs_error *err)
{
	static const char sql[] =
		"SELECT r.policy, r.os, h.upper_ns, sum(h.count) FROM histogram h"
		" JOIN run r ON r.id = h.run_id WHERE coalesce(r.experiment_id, 0) = ?1"
		" AND r.status = 'ok' AND h.name = 'callback_latency'"
		" GROUP BY r.policy, r.os, h.lower_ns ORDER BY r.os, r.policy, h.lower_ns";
	char labels[32][80], cur[80] = "";
	const char *colors[32];
	int64_t totals[32] = { 0 }, sum = 0;
	int nseries = 0, rc;
	sqlite3_stmt *st;
	FILE *csv, *gp;

	/* First pass: the total count of each policy and OS. */
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return hs_error_set(err, HS_E_DB, r->db_path, 0, NULL, "reading the histograms "
				    "failed: %s", sqlite3_errmsg(r->db));
	sqlite3_bind_int64(st, 1, r->exp_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char label[80];

		snprintf(label, sizeof(label), "%s%s%s", sqlite3_column_text(st, 0),
			 r->multi_os ? " " : "", r->multi_os ? (const char *)sqlite3_column_text(st, 1) : "");
		if (strcmp(label, cur) != 0) {
			if (nseries == 32)
				break;
			snprintf(cur, sizeof(cur), "%s", label);
			snprintf(labels[nseries], sizeof(labels[0]), "%s", label);
			colors[nseries++] = rp_color((const char *)sqlite3_column_text(st, 0));
		}
		totals[nseries - 1] += sqlite3_column_int64(st, 3);
	}
	if (nseries == 0) {
		sqlite3_finalize(st);
		return add_figure(r, "latency_cdf", "Callback latency CDF.", "Callback latency CDF "
				  "skipped: the runs hold no callback_latency histogram.", err);
	}
	rc = open_pair(r, "latency_cdf", &csv, &gp, err);
	if (rc) {
		sqlite3_finalize(st);
		return rc;
	}

	/* Second pass: the cumulative fraction at each bucket's upper bound. */
	sqlite3_reset(st);
	fputs("# latency_us,cumulative_fraction (bucket upper bounds)\n", csv);
	cur[0] = '\0';
	for (int s = -1; sqlite3_step(st) == SQLITE_ROW;) {
		char label[80];

		snprintf(label, sizeof(label), "%s%s%s", sqlite3_column_text(st, 0),
			 r->multi_os ? " " : "", r->multi_os ? (const char *)sqlite3_column_text(st, 1) : "");
		if (strcmp(label, cur) != 0) {
			if (++s == nseries)
				break;
			snprintf(cur, sizeof(cur), "%s", label);
			fprintf(csv, "%s# series: %s\n", s ? "\n\n" : "", label);
			sum = 0;
		}
		sum += sqlite3_column_int64(st, 3);
		fprintf(csv, "%.3f,%.6f\n", sqlite3_column_int64(st, 2) / 1e3,
			(double)sum / (double)totals[s]);
	}
	sqlite3_finalize(st);

	begin_gp(gp, "latency_cdf", "Callback latency CDF");
	fputs("set xlabel 'callback latency (µs), log scale'\nset ylabel 'fraction of callbacks'\n"
	      "set logscale x\nset yrange [0:1.02]\nset key inside right bottom\n", gp);
	fputs("plot \\\n", gp);
	for (int s = 0; s < nseries; s++)
		fprintf(gp, "  'latency_cdf.csv' index %d using 1:2 with steps lw 2 lc rgb '%s' "
			"title \"%s\"%s\n", s, colors[s], labels[s], s + 1 < nseries ? ", \\" : "");
	finish_gp(gp, "latency_cdf");
	rc = close_pair_draw(r, "latency_cdf", csv, gp, err);
	return rc ? rc : add_figure(r, "latency_cdf", "Cumulative distribution of callback "
				    "latency per policy, pooled over all runs with status ok of "
				    "every point (histogram bucket upper bounds).", NULL, err);
}

/* ---- Sleeps and wasted wake-ups -------------------------------------- */

static int fig_sleeps(struct rp_report *r, struct hs_error *err)
{
	FILE *csv, *gp;
	int rc = open_pair(r, "sleeps", &csv, &gp, err);

	if (rc)
		return rc;
	begin_gp(gp, "sleeps", "Sleeps and wasted wake-ups per policy");
	fputs("set ylabel 'per run (mean over runs)'\nset yrange [0:*]\nset boxwidth 0.34\n"
	      "set xrange [-0.6:*]\nset key inside left top\nset xtics (", gp);
	fputs("# policy,usleep_calls_per_run,wasted_wakeups_per_run,runs\n", csv);
	for (int i = 0; i < r->npolicies; i++) {
		double sleeps = 0, wasted = 0;
		int n = 0;

		for (size_t j = 0; j < r->points.len; j++) {
			const struct rp_point *p = &r->points.data[j];

			if (strcmp(p->policy, r->policies[i]) != 0 || isnan(p->usleeps))
				continue;
			sleeps += p->usleeps * p->n;
			wasted += p->wasted * p->n;
			n += p->n;
		}
		fprintf(csv, "%s,%.4f,%.4f,%d\n", r->policies[i], n ? sleeps / n : 0,
			n ? wasted / n : 0, n);
		fprintf(gp, "%s\"%s\" %d", i ? ", " : "", r->policies[i], i);
	}
	fputs(")\nplot \\\n", gp);
	fputs("  keyentry with boxes fs solid 0.85 lc rgb '#555555' title 'usleep calls', \\\n"
	      "  keyentry with boxes fs pattern 4 lc rgb '#555555' title 'wasted wake-ups', \\\n", gp);
	for (int i = 0; i < r->npolicies; i++)
		fprintf(gp, "  'sleeps.csv' every ::%d::%d using ($0+%d-0.18):2 with boxes "
			"fs solid 0.85 lc rgb '%s' notitle, \\\n"
			"  'sleeps.csv' every ::%d::%d using ($0+%d+0.18):3 with boxes "
			"fs pattern 4 lc rgb '%s' notitle%s\n", i, i, i, rp_color(r->policies[i]),
			i, i, i, rp_color(r->policies[i]), i + 1 < r->npolicies ? ", \\" : "");
	finish_gp(gp, "sleeps");
	rc = close_pair_draw(r, "sleeps", csv, gp, err);
	return rc ? rc : add_figure(r, "sleeps", "usleep calls and wasted wake-ups per run, "
				    "mean over all runs with status ok of each policy.", NULL, err);
}

/* ---- Timeline of one run --------------------------------------------- */

/* Picks the first run of the experiment recorded with events, preferring
 * runs with status ok; *id = 0 when there is none. */
static int timeline_run(struct rp_report *r, int64_t *id, char *title, size_t size,
			struct hs_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*id = 0;
	if (sqlite3_prepare_v2(r->db, "SELECT id, policy, os, replication FROM run"
			       " WHERE coalesce(experiment_id, 0) = ?1 AND record = 'events'"
			       " ORDER BY status <> 'ok', id LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return hs_error_set(err, HS_E_DB, r->db_path, 0, NULL, "finding an events run "
				    "failed: %s", sqlite3_errmsg(r->db));
	sqlite3_bind_int64(st, 1, r->exp_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		snprintf(title, size, "Run %lld: %s on %s, replication %d", (long long)*id,
			 sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
			 sqlite3_column_int(st, 3));
	}
	sqlite3_finalize(st);
	return 0;
}

/* Writes the dataset of one state; returns its row count. */
static int64_t timeline_state(struct rp_report *r, sqlite3_stmt *st, int64_t id,
			      const char *state, int64_t limit, FILE *csv, bool first)
{
	int64_t rows = 0;

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, limit);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (rows == 0)
			fprintf(csv, "%s# state: %s\n", first ? "" : "\n\n", state);
		fprintf(csv, "%d,%.6f,%.6f\n", sqlite3_column_int(st, 0),
			sqlite3_column_int64(st, 1) / 1e6, sqlite3_column_int64(st, 2) / 1e6);
		rows++;
	}
	return rows;
}

static int fig_timeline(struct rp_report *r, struct hs_error *err)
{
	static const char sql[] =
		"SELECT thread, start_ns, end_ns FROM thread_state WHERE run_id = ?1"
		" AND state = ?2 ORDER BY thread, start_ns LIMIT ?3";
	const int nstates = (int)(sizeof(state_colors) / sizeof(state_colors[0]));
	char title[200], note[200] = "";
	int drawn[8], ndrawn = 0, rc;
	int64_t id, budget = TIMELINE_MAX_ROWS;
	sqlite3_stmt *st;
	FILE *csv, *gp;

	rc = timeline_run(r, &id, title, sizeof(title), err);
	if (rc)
		return rc;
	if (id == 0)
		return add_figure(r, "timeline", "Thread timeline.", "Thread timeline skipped: no "
				  "run of this experiment was recorded with --record events.", err);
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return hs_error_set(err, HS_E_DB, r->db_path, 0, NULL, "reading thread_state "
				    "failed: %s", sqlite3_errmsg(r->db));
	rc = open_pair(r, "timeline", &csv, &gp, err);
	if (rc) {
		sqlite3_finalize(st);
		return rc;
	}
	fputs("# thread,start_ms,end_ms\n", csv);
	for (int s = 0; s < nstates && budget > 0; s++) {
		int64_t rows = timeline_state(r, st, id, state_colors[s].state, budget, csv,
					      ndrawn == 0);

		budget -= rows;
		if (rows > 0)
			drawn[ndrawn++] = s;
	}
	sqlite3_finalize(st);
	if (budget <= 0)
		snprintf(note, sizeof(note), " Only the first %d state intervals are drawn.",
			 TIMELINE_MAX_ROWS);

	begin_gp(gp, "timeline", title);
	fputs("set xlabel 'time (ms)'\nset ylabel 'thread'\nset yrange [*:*] reverse\n"
	      "set style fill solid 1.0 noborder\nset key outside right top\n"
	      "set offsets 0, 0, 0.6, 0.6\nset grid noxtics\n", gp);
	fputs("plot \\\n", gp);
	for (int i = 0; i < ndrawn; i++)
		fprintf(gp, "  'timeline.csv' index %d using (($2+$3)/2):1:2:3:($1-0.4):($1+0.4) "
			"with boxxyerror lc rgb '%s' title '%s'%s\n", i, state_colors[drawn[i]].color,
			state_colors[drawn[i]].state, i + 1 < ndrawn ? ", \\" : "");
	if (ndrawn == 0)
		fputs("  NaN notitle\n", gp);
	finish_gp(gp, "timeline");
	rc = close_pair_draw(r, "timeline", csv, gp, err);
	if (rc == 0) {
		char caption[512];

		snprintf(caption, sizeof(caption), "%s: one lane per thread, coloured by state.%s",
			 title, note);
		rc = add_figure(r, "timeline", caption, NULL, err);
	}
	return rc;
}

/* ---- M's over time --------------------------------------------------- */

/* Writes the M creations of one run of `policy`: the first run with status
 * ok at the largest workload.threads.  Returns 1 if a run was found. */
static int m_series(struct rp_report *r, const char *policy, FILE *csv, bool first)
{
	static const char sql[] =
		"WITH pick AS (SELECT r.id, r.end_ns FROM run r LEFT JOIN run_param p"
		"  ON p.run_id = r.id AND p.key = '" RP_THREADS_KEY "'"
		"  WHERE coalesce(r.experiment_id, 0) = ?1 AND r.status = 'ok' AND r.policy = ?2"
		"  ORDER BY CAST(p.value AS REAL) DESC, r.os, r.id LIMIT 1)"
		" SELECT pick.id, m.created_ns, pick.end_ns FROM pick JOIN m ON m.run_id = pick.id"
		" ORDER BY m.created_ns, m.m";
	sqlite3_stmt *st;
	int64_t count = 0, end = 0, id = 0;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, r->exp_id);
	sqlite3_bind_text(st, 2, policy, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (count == 0)
			fprintf(csv, "%s# series: %s, run %lld\n", first ? "" : "\n\n", policy,
				(long long)sqlite3_column_int64(st, 0));
		id = sqlite3_column_int64(st, 0);
		end = sqlite3_column_int64(st, 2);
		fprintf(csv, "%.6f,%lld\n", sqlite3_column_int64(st, 1) / 1e6, (long long)++count);
	}
	sqlite3_finalize(st);
	if (count)
		fprintf(csv, "%.6f,%lld\n", end / 1e6, (long long)count); /* to the run's end */
	return id != 0;
}

static int fig_ms(struct rp_report *r, struct hs_error *err)
{
	int index[16], n = 0, rc;
	FILE *csv, *gp;

	rc = open_pair(r, "m_over_time", &csv, &gp, err);
	if (rc)
		return rc;
	fputs("# time_ms,ms_created_so_far\n", csv);
	for (int i = 0; i < r->npolicies; i++) {
		int found = m_series(r, r->policies[i], csv, n == 0);

		if (found < 0) {
			fclose(csv);
			fclose(gp);
			return hs_error_set(err, HS_E_DB, r->db_path, 0, NULL, "reading the m table "
					    "failed: %s", sqlite3_errmsg(r->db));
		}
		if (found)
			index[n++] = i;
	}
	begin_gp(gp, "m_over_time", "M's created over time");
	fputs("set xlabel 'time (ms)'\nset ylabel \"M's created\"\nset yrange [0:*]\n"
	      "set key inside right bottom\n", gp);
	fputs("plot \\\n", gp);
	for (int i = 0; i < n; i++)
		fprintf(gp, "  'm_over_time.csv' index %d using 1:2 with steps lw 2 lc rgb '%s' "
			"title \"%s\"%s\n", i, rp_color(r->policies[index[i]]), r->policies[index[i]],
			i + 1 < n ? ", \\" : "");
	if (n == 0)
		fputs("  NaN notitle\n", gp);
	finish_gp(gp, "m_over_time");
	rc = close_pair_draw(r, "m_over_time", csv, gp, err);
	return rc ? rc : add_figure(r, "m_over_time", "Cumulative count of M's created against "
				    "time, in one run per policy: its first run with status ok at "
				    "the largest thread count.", NULL, err);
}

int rp_write_figures(struct rp_report *r, struct hs_error *err)
{
	int rc = fig_makespan(r, err);

	if (rc == 0)
		rc = fig_latency(r, err);
	if (rc == 0)
		rc = fig_sleeps(r, err);
	if (rc == 0)
		rc = fig_timeline(r, err);
	if (rc == 0)
		rc = fig_ms(r, err);
	return rc;
}
