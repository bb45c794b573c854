/*
 * `herdsim report`: tables, figures and an HTML page for one experiment of
 * a herdsim database, for use in papers.
 *
 * The report reads the analysis views of analysis/views.sql (point_summary,
 * sleep_wake, lock_summary) and a few raw tables, loads one experiment
 * into struct rp_report, and hands it to the writers:
 *
 *   report.c          command line, loading, provenance
 *   report_stage.c    output and staging directories, moving files into place
 *   report_tables.c   report.md and report.tex (booktabs tables)
 *   report_figures.c  figure CSV, gnuplot script, SVG, PDF and PNG
 *   report_html.c     report.html
 *
 * Invariants:
 *  1. Every output file is written inside a staging directory under the
 *     output directory and renamed into place only after every file was
 *     written, so the output directory never contains a truncated file.  An
 *     error, SIGINT or SIGTERM before or during the renames leaves the
 *     files of the output directory as they were, with the exceptions
 *     that report_stage.c lists.
 *  2. A policy has the same colour and name in every figure: rp_color()
 *     depends only on the policy name.
 *  3. The writers never print; they return negative HS_E_* codes and fill
 *     struct hs_error.
 */
#ifndef HERDSIM_REPORT_H
#define HERDSIM_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "result.h"

typedef struct sqlite3 sqlite3;

#define RP_THREADS_KEY "workload.threads"

/* One point of the experiment: the replications of one scenario, policy,
 * OS profile, backend and point_key (see analysis/views.sql). */
struct rp_point {
	char scenario[64];
	char policy[32];
	char os[32];
	char backend[16];
	char point_key[512];
	double threads;             /* workload.threads; NAN when absent */
	int n;                      /* runs with status ok */
	double mean_ns, median_ns, sd_ns, ci_ns, lo_ns, hi_ns; /* makespan; CI NAN if n < 2 */
	double p50_ns, p99_ns;      /* means of the callback latency percentiles */
	double usleeps, wasted;     /* means per run */
	double sleeps_per_cb, wasted_frac;
	double ratio, ratio_lo, ratio_hi; /* mean / baseline mean; NAN without one */
};

/* A run_param key of the os.* or runtime.* profile. */
struct rp_param {
	char key[64];
	char values[512];           /* the value, or the distinct values joined by ", " */
	bool varied;
};

/* Totals of one lock for one policy and OS profile (lock_summary). */
struct rp_lock {
	char policy[32], os[32], lock[32];
	int64_t acquisitions, contentions, bounces;
	double wait_mean_ns, wait_max_ns, hold_mean_ns, hold_max_ns;
};

#define RP_MAX_COLS 16

/* A table as text cells, rendered by rp_table_md, _tex and _html. */
struct rp_table {
	char title[96];
	char caption[640];
	int ncols;
	char head[RP_MAX_COLS][48];
	char align[RP_MAX_COLS];    /* 'l' or 'r' */
	HS_VEC(char *) cells;       /* row-major, ncols per row, owned */
};

/* A figure and whether it was drawn. */
struct rp_figure {
	char name[32];              /* file stem: NAME.csv, .gp, .svg, .pdf, .png */
	char caption[512];
	char note[320];             /* why it was skipped; "" when drawn */
};

struct rp_report {
	sqlite3 *db;
	const char *db_path;
	int64_t exp_id;             /* 0 for the runs without an experiment */
	char exp_name[64];
	char exp_command[1024];
	char exp_revision[64];
	char exp_host[128];
	const char *baseline;       /* policy name or NULL */
	char stage[4096];           /* staging directory */
	char pdf_date[15];          /* YYYYMMDDHHMMSS stamped into the PDFs; "" until set */
	bool md, tex, html;

	HS_VEC(struct rp_point) points;
	HS_VEC(struct rp_param) params;
	HS_VEC(struct rp_figure) figures;
	HS_VEC(struct rp_lock) locks;
	char policies[16][32];      /* in palette order */
	int npolicies;

	int runs, runs_failed;
	char versions[256];
	char scenarios[256];
	char backends[64];
	char varied_keys[512];      /* point_key keys, space-separated */
	bool threads_only;          /* workload.threads is the only varied key */
	bool multi_os, multi_scenario, multi_backend;
};

/* Returns the colour of policy `name` as "#rrggbb".  The six policies of
 * the registry (single, waiters, bind, watermark, handoff, background)
 * have fixed colours; other names take further colours by a hash of the
 * name, so a policy keeps its colour from one report to the next. */
const char *rp_color(const char *policy);

/* Opens file `name` in the staging directory for writing. */
FILE *rp_create(struct rp_report *r, const char *name, struct hs_error *err);
/* Closes f, turning a write error into HS_E_IO naming `name`. */
int rp_finish(FILE *f, const char *name, struct hs_error *err);

/* Creates dir and its missing parents.  Sets *first_new to the length of
 * the shallowest directory that this call created (0 when it created
 * none), also when it fails, so rp_remove_new_dirs can undo it. */
int rp_make_dirs(const char *dir, size_t *first_new, struct hs_error *err);
/* Removes dir and its parents down to the prefix of length first_new,
 * each only if it is empty. */
void rp_remove_new_dirs(const char *dir, size_t first_new);
/* Moves every file of the staging directory into out and removes the
 * staging directory.  When a move fails, moves back the files already
 * moved (see report_stage.c) and removes the staging directory, unless an
 * earlier file could not be moved back, which err then names. */
int rp_stage_commit(const char *stage, const char *out, struct hs_error *err);
/* Deletes the staging directory with its files. */
void rp_stage_discard(const char *stage);

/* Writes the label of a point for tables: its thread count when that is
 * the only varied key, else its point_key ("" when nothing varies). */
void rp_point_label(const struct rp_report *r, const struct rp_point *p, char *buf, size_t size);

/* Builds the makespan, sleep and lock tables and the provenance table. */
int rp_tables_build(struct rp_report *r, struct rp_table *out, int *n, struct hs_error *err);
#define RP_TABLES 4
void rp_table_free(struct rp_table *t);
size_t rp_table_rows(const struct rp_table *t);
const char *rp_cell(const struct rp_table *t, size_t row, int col);
/* Writes the provenance sentences as (label, value) pairs through emit. */
void rp_provenance(const struct rp_report *r,
		   void (*emit)(void *ctx, const char *label, const char *value), void *ctx);
/* Writes text escaped for HTML. */
void rp_html_escape(FILE *f, const char *s);
void rp_table_html(FILE *f, const struct rp_table *t);

int rp_write_md(struct rp_report *r, struct hs_error *err);
int rp_write_tex(struct rp_report *r, struct hs_error *err);
int rp_write_html(struct rp_report *r, struct hs_error *err);
/* Writes every figure and runs gnuplot on each; fills r->figures. */
int rp_write_figures(struct rp_report *r, struct hs_error *err);
/* Checks that gnuplot can be started. */
int rp_check_gnuplot(struct hs_error *err);

int cli_report(int argc, char **argv);

#endif /* HERDSIM_REPORT_H */
