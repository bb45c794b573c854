/*
 * Tests of `herdsim report` and the analysis views (analysis/views.sql),
 * end to end with the real binary: the group setup records 2 policies x
 * 2 thread counts x 3 replications with Poisson arrivals (so replications
 * differ) plus one run with --record events, then writes a report with a
 * baseline.  The tests check the files, compare the Markdown table with
 * values computed here from the raw scalar rows, and open the PDF, LaTeX
 * and HTML outputs with poppler, pdflatex and headless Chromium when those
 * are installed (a missing tool skips its test with a message).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stats.h"

static char dir[64];
static char db_path[128];
static char out[128];

static const char *const figures[] = { "makespan", "latency_cdf", "sleeps", "timeline",
				       "m_over_time" };
static const char *const figure_ext[] = { "csv", "gp", "svg", "pdf", "png" };

/* ---- Helpers --------------------------------------------------------- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command; returns its exit status. */
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static bool have(const char *tool)
{
	return sh("command -v %s >/dev/null 2>&1", tool) == 0;
}

static long file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = file_size(path);
	char *buf;

	if (!f || n < 0)
		return NULL;
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int group_setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/hs-test-report-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(db_path, sizeof(db_path), "%s/runs.sqlite", dir);
	snprintf(out, sizeof(out), "%s/report", dir);
	for (int threads = 4; threads <= 8; threads += 4)
		if (sh(HS_BIN " run --quiet --policy single --policy waiters --os linux --reps 3"
		       " --db %s --set workload.threads=%d --set workload.arrival=poisson"
		       " --set workload.interval=200us", db_path, threads) != 0)
			return -1;
	if (sh(HS_BIN " run --quiet --policy waiters --os linux --reps 1 --record events --db %s"
	       " --set workload.threads=8 --set workload.arrival=poisson"
	       " --set workload.interval=200us", db_path) != 0)
		return -1;
	return sh(HS_BIN " report %s --out %s --baseline single >/dev/null", db_path, out);
}

static int group_teardown(void **state)
{
	sh("rm -rf %s", dir);
	return 0;
}

/* ---- Files ----------------------------------------------------------- */

static void report_files_present(void **state)
{
	const char *docs[] = { "report.md", "report.tex", "report.html" };
	char path[256];

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", out, docs[i]);
		if (file_size(path) <= 0)
			fail_msg("%s is missing or empty", path);
	}
	for (size_t f = 0; f < sizeof(figures) / sizeof(figures[0]); f++)
		for (size_t e = 0; e < sizeof(figure_ext) / sizeof(figure_ext[0]); e++) {
			snprintf(path, sizeof(path), "%s/%s.%s", out, figures[f], figure_ext[e]);
			if (file_size(path) <= 0)
				fail_msg("%s is missing or empty", path);
		}
	/* The staging directory is gone once the report is complete. */
	assert_int_equal(sh("ls -a %s | grep -q herdsim-report", out), 1);
}

static void report_script_reruns(void **state)
{
	char path[256];

	/* An author reruns a script in the output directory. */
	snprintf(path, sizeof(path), "%s/sleeps.svg", out);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sh("cd %s && gnuplot sleeps.gp 2>/dev/null", out), 0);
	assert_true(file_size(path) > 0);
}

/* ---- Numbers --------------------------------------------------------- */

struct expect {
	double mean, median, lo, hi;
	int n;
};

/* Computes the makespan statistics of one point from the scalar rows. */
static struct expect expected(sqlite3 *db, const char *policy, int threads)
{
	sqlite3_stmt *st;
	double v[64];
	struct expect e = { 0 };
	double sum = 0, ss = 0, hw;

	assert_int_equal(sqlite3_prepare_v2(db,
		"SELECT s.value FROM scalar s JOIN run r ON r.id = s.run_id"
		" JOIN run_param p ON p.run_id = r.id AND p.key = 'workload.threads'"
		" WHERE s.name = 'makespan_ns' AND r.status = 'ok' AND r.policy = ?"
		" AND CAST(p.value AS INTEGER) = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, policy, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, threads);
	while (sqlite3_step(st) == SQLITE_ROW && e.n < 64)
		v[e.n++] = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	assert_true(e.n >= 3);
	for (int i = 0; i < e.n; i++)
		sum += v[i];
	e.mean = sum / e.n;
	for (int i = 0; i < e.n; i++)
		ss += (v[i] - e.mean) * (v[i] - e.mean);
	hw = hs_t95(e.n - 1) * sqrt(ss / (e.n - 1)) / sqrt(e.n);
	e.lo = e.mean - hw;
	e.hi = e.mean + hw;
	e.median = hs_median(v, (size_t)e.n);
	return e;
}

static void md_table_matches_sql(void **state)
{
	char path[256], *md, *line, *save = NULL;
	sqlite3 *db;
	int rows = 0;
	bool in_table = false;

	snprintf(path, sizeof(path), "%s/report.md", out);
	md = read_all(path);
	assert_non_null(md);
	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);

	for (line = strtok_r(md, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char policy[32], os[32];
		int threads, n;
		double mean, median, lo, hi;
		struct expect e;

		if (strncmp(line, "| policy | OS | threads | n | mean (ms)", 38) == 0) {
			in_table = true;
			continue;
		}
		if (!in_table || strncmp(line, "|:", 2) == 0)
			continue;
		if (line[0] != '|')
			break;
		if (sscanf(line, "| %31s | %31s | %d | %d | %lf | %lf | [%lf, %lf] |", policy, os,
			   &threads, &n, &mean, &median, &lo, &hi) != 8)
			fail_msg("cannot parse the table row: %s", line);
		e = expected(db, policy, threads);
		assert_string_equal(os, "linux");
		assert_int_equal(n, e.n);
		assert_true(fabs(mean - e.mean / 1e6) <= 0.0005 + 1e-9);
		assert_true(fabs(median - e.median / 1e6) <= 0.0005 + 1e-9);
		assert_true(fabs(lo - e.lo / 1e6) <= 0.0005 + 1e-9);
		assert_true(fabs(hi - e.hi / 1e6) <= 0.0005 + 1e-9);
		rows++;
	}
	/* 2 policies x 2 thread counts. */
	assert_int_equal(rows, 4);
	sqlite3_close(db);
	free(md);
}

static void t95_table_matches_stats(void **state)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int rows = 0;

	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT df, t FROM t95 ORDER BY df", -1, &st,
					    NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int df = sqlite3_column_int(st, 0);

		assert_int_equal(df, rows + 1);
		assert_true(fabs(sqlite3_column_double(st, 1) - hs_t95(df)) < 1e-12);
		rows++;
	}
	assert_int_equal(rows, 30);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void views_count_runs(void **state)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
		"SELECT (SELECT count(*) FROM run_summary), (SELECT sum(n) FROM point_summary),"
		" (SELECT count(*) FROM sleep_wake_run WHERE asleep_ns IS NOT NULL),"
		" (SELECT group_concat(DISTINCT point_key) FROM run_summary)",
		-1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 13);
	assert_int_equal(sqlite3_column_int(st, 1), 13);
	assert_int_equal(sqlite3_column_int(st, 2), 1);
	assert_string_equal((const char *)sqlite3_column_text(st, 3),
			    "workload.threads=4,workload.threads=8");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* ---- Reproducible drawings ------------------------------------------- */

/* Returns the 14 digits after "/CreationDate (D:" in path, in buf. */
static const char *pdf_creation_date(const char *path, char buf[15])
{
	static const char key[] = "/CreationDate (D:";
	char *pdf = read_all(path);
	long size = file_size(path);
	const char *at;

	assert_non_null(pdf);
	/* a PDF contains NUL bytes, so search its whole length */
	at = memmem(pdf, (size_t)size, key, strlen(key));
	assert_non_null(at);
	assert_true(at + strlen(key) + 14 <= pdf + size);
	memcpy(buf, at + strlen("/CreationDate (D:"), 14);
	buf[14] = '\0';
	free(pdf);
	return buf;
}

/*
 * A drawing carries the start of the newest run in the report, not the
 * time it was drawn, and SOURCE_DATE_EPOCH when that is set.  So drawing
 * the same database twice gives the same files.
 */
static void pdf_date_comes_from_the_data(void **state)
{
	char copy[256], outdir[256], path[300], date[15];

	(void)state;
	snprintf(copy, sizeof(copy), "%s/dated.sqlite", dir);
	snprintf(outdir, sizeof(outdir), "%s/dated", dir);
	assert_int_equal(sh("cp %s %s && sqlite3 %s \"UPDATE run SET started_at ="
			    " '2001-02-03T04:05:06Z'\"", db_path, copy, copy), 0);
	assert_int_equal(sh(HS_BIN " report %s --out %s >/dev/null", copy, outdir), 0);
	snprintf(path, sizeof(path), "%s/makespan.pdf", outdir);
	assert_string_equal(pdf_creation_date(path, date), "20010203040506");
	snprintf(path, sizeof(path), "%s/latency_cdf.pdf", outdir);
	assert_string_equal(pdf_creation_date(path, date), "20010203040506");

	assert_int_equal(sh("SOURCE_DATE_EPOCH=86400 " HS_BIN " report %s --out %s >/dev/null", copy,
			    outdir), 0);
	snprintf(path, sizeof(path), "%s/makespan.pdf", outdir);
	assert_string_equal(pdf_creation_date(path, date), "19700102000000");
	assert_int_equal(sh("rm -rf %s %s", copy, outdir), 0);
}

/* ---- Viewers --------------------------------------------------------- */

static void pdf_figures_open(void **state)
{
	if (!have("pdfinfo")) {
		print_message("skipped: pdfinfo not installed (`make deps` installs poppler-utils)\n");
		skip();
	}
	for (size_t f = 0; f < sizeof(figures) / sizeof(figures[0]); f++)
		if (sh("pdfinfo %s/%s.pdf >/dev/null 2>&1", out, figures[f]) != 0)
			fail_msg("pdfinfo rejects %s/%s.pdf", out, figures[f]);
}

static void latex_tables_compile(void **state)
{
	char path[256];
	FILE *f;

	if (!have("pdflatex")) {
		print_message("skipped: pdflatex not installed\n");
		skip();
	}
	snprintf(path, sizeof(path), "%s/latex", dir);
	mkdir(path, 0777);
	snprintf(path, sizeof(path), "%s/latex/doc.tex", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
		   "\\input{%s/report.tex}\n\\end{document}\n", out);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(sh("cd %s/latex && pdflatex -interaction=nonstopmode -halt-on-error "
			    "doc.tex >/dev/null 2>&1", dir), 0);
	snprintf(path, sizeof(path), "%s/latex/doc.pdf", dir);
	assert_true(file_size(path) > 0);
}

static void html_loads_in_chromium(void **state)
{
	static const char flags[] =
		"--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
		"--disable-background-networking --disable-component-update --disable-sync "
		"--window-size=1200,900";
	char path[256];
	char *log, *dom;

	if (!have("chromium")) {
		print_message("skipped: chromium not installed (`make deps` installs it)\n");
		skip();
	}
	assert_int_equal(sh("cd %s && chromium %s --user-data-dir=%s/prof1 --enable-logging=stderr "
			    "--v=0 --screenshot=%s/shot.png file://%s/report.html >%s/chromium.log "
			    "2>&1", dir, flags, dir, dir, out, dir), 0);
	assert_int_equal(sh("chromium %s --user-data-dir=%s/prof2 --dump-dom file://%s/report.html"
			    " >%s/dom.html 2>/dev/null", flags, dir, out, dir), 0);

	snprintf(path, sizeof(path), "%s/chromium.log", dir);
	log = read_all(path);
	assert_non_null(log);
	if (strstr(log, "CONSOLE") || strstr(log, "Uncaught"))
		fail_msg("console messages while loading report.html: %s", log);
	free(log);

	/* A blank 1200x900 PNG compresses to a few kB; the page is far larger. */
	snprintf(path, sizeof(path), "%s/shot.png", dir);
	assert_true(file_size(path) > 30000);

	snprintf(path, sizeof(path), "%s/dom.html", dir);
	dom = read_all(path);
	assert_non_null(dom);
	assert_non_null(strstr(dom, "<table>"));
	assert_non_null(strstr(dom, "src=\"makespan.svg\""));
	assert_non_null(strstr(dom, "Provenance"));
	free(dom);
}

/* Each makespan series holds its own policy's points, one per thread
 * count, in order. */
static void makespan_series_separate(void **state)
{
	char path[192];
	char *text, *line, *save = NULL;
	int series = 0, rows = 0;
	double last = 0;

	snprintf(path, sizeof(path), "%s/makespan.csv", out);
	text = read_all(path);
	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# series: ", 10) == 0) {
			if (series > 0)
				assert_int_equal(rows, 2);
			series++;
			rows = 0;
			last = 0;
			continue;
		}
		if (line[0] == '#')
			continue;
		rows++;
		assert_true(atof(line) > last); /* thread counts ascend */
		last = atof(line);
	}
	assert_int_equal(series, 2);
	assert_int_equal(rows, 2);
	free(text);
}

static void report_rejects_bad_input(void **state)
{
	/* Missing database, unknown experiment, unknown baseline, bad format. */
	assert_int_equal(sh(HS_BIN " report %s/none.sqlite --out %s/x 2>/dev/null", dir, dir), 1);
	assert_int_equal(sh(HS_BIN " report %s --experiment nosuch --out %s/x 2>/dev/null",
			    db_path, dir), 1);
	assert_int_equal(sh(HS_BIN " report %s --baseline nosuch --out %s/x 2>/dev/null",
			    db_path, dir), 1);
	assert_int_equal(sh(HS_BIN " report %s --format pdf --out %s/x 2>/dev/null", db_path,
			    dir), 2);
	/* A failed report leaves no file behind. */
	assert_int_equal(sh("test -z \"$(ls -A %s/x 2>/dev/null)\"", dir), 0);
}

static void failed_report_removes_new_dirs(void **state)
{
	/* An unknown experiment fails after --out and its parents exist. */
	assert_int_equal(sh(HS_BIN " report %s --experiment nosuch --out %s/new/deeper 2>/dev/null",
			    db_path, dir), 1);
	assert_int_equal(sh("test -e %s/new", dir), 1);

	/* A trailing slash names the same directory. */
	assert_int_equal(sh(HS_BIN " report %s --baseline nosuch --out %s/new2/ 2>/dev/null",
			    db_path, dir), 1);
	assert_int_equal(sh("test -e %s/new2", dir), 1);

	/* A directory that existed before stays, with its files. */
	assert_int_equal(sh("mkdir -p %s/old && touch %s/old/keep", dir, dir), 0);
	assert_int_equal(sh(HS_BIN " report %s --experiment nosuch --out %s/old/sub 2>/dev/null",
			    db_path, dir), 1);
	assert_int_equal(sh("test -e %s/old/sub", dir), 1);
	assert_int_equal(sh("test -f %s/old/keep", dir), 0);
}

static void report_leaves_empty_db_unchanged(void **state)
{
	char path[256];

	/* An empty file is a valid, empty SQLite database. */
	snprintf(path, sizeof(path), "%s/empty.sqlite", dir);
	assert_int_equal(sh(": > %s", path), 0);
	assert_int_equal(sh(HS_BIN " report %s --out %s/from-empty 2>/dev/null", path, dir), 1);
	assert_int_equal(file_size(path), 0);
	assert_int_equal(sh("test -e %s/from-empty", dir), 1);
}

/* ---- Interrupts and failed moves ------------------------------------ */

/* Writes TEXT to PATH, replacing the file. */
static void put_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* Asserts that the file at PATH contains exactly TEXT. */
static void assert_text(const char *path, const char *text)
{
	char *got = read_all(path);

	if (!got)
		fail_msg("%s is missing", path);
	assert_string_equal(got, text);
	free(got);
}

/* Asserts that directory D contains no staging directory of a report. */
static void assert_no_stage(const char *d)
{
	assert_int_equal(sh("ls -a %s | grep -q herdsim-report", d), 1);
}

/* Asserts that the file at PATH contains exactly one line, containing TEXT. */
static void assert_one_line(const char *path, const char *text)
{
	char *got = read_all(path);
	int lines = 0;

	assert_non_null(got);
	for (char *c = got; *c; c++)
		lines += *c == '\n';
	if (!strstr(got, text))
		fail_msg("'%s' not in: %s", text, got);
	assert_int_equal(lines, 1);
	free(got);
}

/* Creates DIR/bin/gnuplot, which runs the real gnuplot except for
 * timeline.gp, the fourth figure.  For that one it writes its process id
 * to DIR/gnuplot.pid and sleeps, so a test can signal a report at a known
 * point, with three figures in its staging directory. */
static void make_blocking_gnuplot(void)
{
	char real[256] = "", path[256], text[1024];
	FILE *p = popen("command -v gnuplot", "r");

	assert_non_null(p);
	assert_non_null(fgets(real, sizeof(real), p));
	pclose(p);
	real[strcspn(real, "\n")] = '\0';
	assert_int_equal(sh("mkdir -p %s/bin", dir), 0);
	snprintf(path, sizeof(path), "%s/bin/gnuplot", dir);
	snprintf(text, sizeof(text),
		 "#!/bin/sh\n"
		 "if [ \"$1\" = timeline.gp ]; then\n"
		 "\techo $$ > %s/gnuplot.pid.tmp && mv %s/gnuplot.pid.tmp %s/gnuplot.pid\n"
		 "\texec sleep 30\n"
		 "fi\n"
		 "exec %s \"$@\"\n", dir, dir, dir, real);
	put_text(path, text);
	assert_int_equal(chmod(path, 0755), 0);
}

/* Runs `herdsim report DB --out OUTDIR` with the blocking gnuplot first
 * on PATH, sends SIG once timeline.gp has started, and checks that the
 * report dies of SIG and that its gnuplot is gone.  Standard error goes to
 * DIR/interrupt.err. */
static void interrupt_report(const char *outdir, int sig)
{
	char pidfile[256], errfile[256], path_env[4096];
	FILE *f;
	int status, gnuplot = 0;
	bool alive;
	pid_t pid;

	snprintf(pidfile, sizeof(pidfile), "%s/gnuplot.pid", dir);
	snprintf(errfile, sizeof(errfile), "%s/interrupt.err", dir);
	unlink(pidfile);
	snprintf(path_env, sizeof(path_env), "%s/bin:%s", dir, getenv("PATH"));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		setenv("PATH", path_env, 1);
		if (!freopen("/dev/null", "w", stdout) || !freopen(errfile, "w", stderr))
			_exit(127);
		execl(HS_BIN, HS_BIN, "report", db_path, "--out", outdir, (char *)NULL);
		_exit(127);
	}
	/* Up to 60 s for timeline.gp to start, in steps of 10 ms. */
	for (int i = 0; i < 6000 && access(pidfile, F_OK) != 0; i++)
		usleep(10000);
	assert_int_equal(access(pidfile, F_OK), 0);
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &gnuplot), 1);
	fclose(f);
	assert_int_equal(kill(pid, sig), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	alive = kill(gnuplot, 0) == 0;
	if (alive)
		kill(gnuplot, SIGKILL);
	assert_false(alive);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), sig);
	assert_one_line(errfile, "herdsim: report interrupted; ");
}

/* SIGINT or SIGTERM while gnuplot draws a figure kills gnuplot, removes
 * the staging directory and leaves the files of an earlier report as they
 * were. */
static void interrupted_report_keeps_old(void **state)
{
	static const int sigs[] = { SIGINT, SIGTERM };
	char outdir[256], path[320];

	make_blocking_gnuplot();
	snprintf(outdir, sizeof(outdir), "%s/interrupted", dir);
	assert_int_equal(mkdir(outdir, 0700), 0);
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/report.md", outdir);
		put_text(path, "old\n");
		snprintf(path, sizeof(path), "%s/makespan.svg", outdir);
		put_text(path, "old\n");
		interrupt_report(outdir, sigs[i]);
		assert_no_stage(outdir);
		snprintf(path, sizeof(path), "%s/report.md", outdir);
		assert_text(path, "old\n");
		snprintf(path, sizeof(path), "%s/makespan.svg", outdir);
		assert_text(path, "old\n");
		snprintf(path, sizeof(path), "%s/makespan.csv", outdir);
		assert_int_equal(access(path, F_OK), -1);
	}
}

/* An interrupted report removes the output directory and the parents
 * that it created. */
static void interrupted_report_removes_new_dirs(void **state)
{
	char outdir[320], parent[256];

	make_blocking_gnuplot();
	snprintf(parent, sizeof(parent), "%s/fresh", dir);
	snprintf(outdir, sizeof(outdir), "%s/deeper", parent);
	interrupt_report(outdir, SIGTERM);
	assert_int_equal(access(parent, F_OK), -1);
}

/* When a file cannot be moved into place (here report.tex, a directory in
 * the output directory), the files already moved are put back: the old
 * ones return, new ones go, and no staging directory is left. */
static void failed_move_restores_old(void **state)
{
	char outdir[256], path[320], errfile[256];

	snprintf(outdir, sizeof(outdir), "%s/blocked", dir);
	snprintf(errfile, sizeof(errfile), "%s/move.err", dir);
	assert_int_equal(sh("mkdir -p %s/report.tex && touch %s/report.tex/keep", outdir, outdir), 0);
	snprintf(path, sizeof(path), "%s/report.md", outdir);
	put_text(path, "old\n");
	snprintf(path, sizeof(path), "%s/makespan.csv", outdir);
	put_text(path, "old\n");
	assert_int_equal(sh(HS_BIN " report %s --out %s >/dev/null 2>%s", db_path, outdir, errfile), 1);
	assert_one_line(errfile, "report.tex");
	assert_no_stage(outdir);
	snprintf(path, sizeof(path), "%s/report.md", outdir);
	assert_text(path, "old\n");
	snprintf(path, sizeof(path), "%s/makespan.csv", outdir);
	assert_text(path, "old\n");
	snprintf(path, sizeof(path), "%s/report.tex/keep", outdir);
	assert_int_equal(access(path, F_OK), 0);
	/* Files without an earlier version are gone, both those that sort
	 * before report.tex (moved, then removed) and those after it. */
	snprintf(path, sizeof(path), "%s/latency_cdf.svg", outdir);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/report.html", outdir);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/timeline.png", outdir);
	assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(report_files_present),
		cmocka_unit_test(md_table_matches_sql),
		cmocka_unit_test(t95_table_matches_stats),
		cmocka_unit_test(views_count_runs),
		cmocka_unit_test(pdf_figures_open),
		cmocka_unit_test(pdf_date_comes_from_the_data),
		cmocka_unit_test(latex_tables_compile),
		cmocka_unit_test(html_loads_in_chromium),
		cmocka_unit_test(report_script_reruns),
		cmocka_unit_test(report_rejects_bad_input),
		cmocka_unit_test(makespan_series_separate),
		cmocka_unit_test(failed_report_removes_new_dirs),
		cmocka_unit_test(report_leaves_empty_db_unchanged),
		cmocka_unit_test(interrupted_report_keeps_old),
		cmocka_unit_test(interrupted_report_removes_new_dirs),
		cmocka_unit_test(failed_move_restores_old),
	};

	return cmocka_run_group_tests_name("report", tests, group_setup, group_teardown);
}
