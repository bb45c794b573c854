/*
 * The tables of a report as text cells, and report.md and report.tex.
 *
 * Numbers are rounded for reading: makespans in ms with 3 decimals (1 us),
 * latencies in us with 1 decimal, ratios with 3 decimals.  A confidence
 * interval is "[low, high]", or "n/a" when fewer than 2 runs are ok.
 * report.tex is a fragment for \input: it needs the booktabs package and
 * holds no \documentclass.
 */
#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- Table model ----------------------------------------------------- */

static int add_cell(struct rp_table *t, struct hs_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Appends one cell, formatted like printf. */
static int add_cell(struct rp_table *t, struct hs_error *err, const char *fmt, ...)
{
	char **slot = HS_VEC_PUSH(&t->cells);
	va_list ap;

	if (!slot)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	va_start(ap, fmt);
	if (vasprintf(slot, fmt, ap) < 0)
		*slot = NULL;
	va_end(ap);
	if (!*slot)
		return hs_error_set(err, HS_E_NOMEM, NULL, 0, NULL, "out of memory");
	return 0;
}

static void add_col(struct rp_table *t, const char *head, char align)
{
	snprintf(t->head[t->ncols], sizeof(t->head[0]), "%s", head);
	t->align[t->ncols++] = align;
}

void rp_table_free(struct rp_table *t)
{
	for (size_t i = 0; i < t->cells.len; i++)
		free(t->cells.data[i]);
	HS_VEC_FREE(&t->cells);
}

size_t rp_table_rows(const struct rp_table *t)
{
	return t->ncols ? t->cells.len / (size_t)t->ncols : 0;
}

const char *rp_cell(const struct rp_table *t, size_t row, int col)
{
	return t->cells.data[row * (size_t)t->ncols + (size_t)col];
}

/* Adds the identity cells of a point: the columns that vary. */
static int point_cells(struct rp_report *r, struct rp_table *t, const struct rp_point *p,
		       struct hs_error *err)
{
	char label[512];
	int rc = 0;

	if (r->multi_scenario)
		rc = add_cell(t, err, "%s", p->scenario);
	if (rc == 0 && r->multi_backend)
		rc = add_cell(t, err, "%s", p->backend);
	if (rc == 0)
		rc = add_cell(t, err, "%s", p->policy);
	if (rc == 0)
		rc = add_cell(t, err, "%s", p->os);
	rp_point_label(r, p, label, sizeof(label));
	if (rc == 0 && r->varied_keys[0])
		rc = add_cell(t, err, "%s", label);
	return rc;
}

static void point_columns(struct rp_report *r, struct rp_table *t)
{
	if (r->multi_scenario)
		add_col(t, "scenario", 'l');
	if (r->multi_backend)
		add_col(t, "backend", 'l');
	add_col(t, "policy", 'l');
	add_col(t, "OS", 'l');
	if (r->varied_keys[0])
		add_col(t, r->threads_only ? "threads" : "point", r->threads_only ? 'r' : 'l');
}

/* Formats an interval in units of `unit`, or "n/a". */
static int add_interval(struct rp_table *t, double lo, double hi, double unit, int digits,
			struct hs_error *err)
{
	if (isnan(lo) || isnan(hi))
		return add_cell(t, err, "n/a");
	return add_cell(t, err, "[%.*f, %.*f]", digits, lo / unit, digits, hi / unit);
}

static int add_number(struct rp_table *t, double v, double unit, int digits, struct hs_error *err)
{
	if (isnan(v))
		return add_cell(t, err, "n/a");
	return add_cell(t, err, "%.*f", digits, v / unit);
}

static int build_makespan(struct rp_report *r, struct rp_table *t, struct hs_error *err)
{
	int rc = 0;

	snprintf(t->title, sizeof(t->title), "Makespan and callback latency");
	snprintf(t->caption, sizeof(t->caption),
		 "Makespan over the runs with status ok of each point: mean, median and the "
		 "95 %% Student-t confidence interval of the mean (t quantile of n-1 degrees of "
		 "freedom). Callback latency columns are the means over the runs of each run's "
		 "50th and 99th percentile.%s", r->baseline ? " The ratio is the mean makespan "
		 "divided by the baseline's at the same point; its 95 % interval comes from the "
		 "delta method, treating the two samples as independent, with the t quantile of "
		 "min(n)-1 degrees of freedom." : "");
	point_columns(r, t);
	add_col(t, "n", 'r');
	add_col(t, "mean (ms)", 'r');
	add_col(t, "median (ms)", 'r');
	add_col(t, "95% CI (ms)", 'r');
	add_col(t, "cb p50 (µs)", 'r');
	add_col(t, "cb p99 (µs)", 'r');
	if (r->baseline) {
		char head[48];

		snprintf(head, sizeof(head), "ratio to %.30s", r->baseline);
		add_col(t, head, 'r');
		add_col(t, "ratio 95% CI", 'r');
	}
	for (size_t i = 0; rc == 0 && i < r->points.len; i++) {
		const struct rp_point *p = &r->points.data[i];

		rc = point_cells(r, t, p, err);
		if (rc == 0)
			rc = add_cell(t, err, "%d", p->n);
		if (rc == 0)
			rc = add_number(t, p->mean_ns, 1e6, 3, err);
		if (rc == 0)
			rc = add_number(t, p->median_ns, 1e6, 3, err);
		if (rc == 0)
			rc = add_interval(t, p->lo_ns, p->hi_ns, 1e6, 3, err);
		if (rc == 0)
			rc = add_number(t, p->p50_ns, 1e3, 1, err);
		if (rc == 0)
			rc = add_number(t, p->p99_ns, 1e3, 1, err);
		if (rc == 0 && r->baseline)
			rc = add_number(t, p->ratio, 1, 3, err);
		if (rc == 0 && r->baseline)
			rc = add_interval(t, p->ratio_lo, p->ratio_hi, 1, 3, err);
	}
	return rc;
}

static int build_sleeps(struct rp_report *r, struct rp_table *t, struct hs_error *err)
{
	int rc = 0;

	snprintf(t->title, sizeof(t->title), "Sleeps and wake-ups");
	snprintf(t->caption, sizeof(t->caption),
		 "Means over the runs with status ok of each point. A wake-up is wasted when the "
		 "woken thread waits again before it makes progress; the fraction divides wasted "
		 "wake-ups by usleep calls plus futex waits, each of which ends in a wake-up.");
	point_columns(r, t);
	add_col(t, "n", 'r');
	add_col(t, "usleep calls", 'r');
	add_col(t, "sleeps per callback", 'r');
	add_col(t, "wasted wake-ups", 'r');
	add_col(t, "wasted fraction", 'r');
	for (size_t i = 0; rc == 0 && i < r->points.len; i++) {
		const struct rp_point *p = &r->points.data[i];

		rc = point_cells(r, t, p, err);
		if (rc == 0)
			rc = add_cell(t, err, "%d", p->n);
		if (rc == 0)
			rc = add_number(t, p->usleeps, 1, 2, err);
		if (rc == 0)
			rc = add_number(t, p->sleeps_per_cb, 1, 3, err);
		if (rc == 0)
			rc = add_number(t, p->wasted, 1, 2, err);
		if (rc == 0)
			rc = add_number(t, p->wasted_frac, 1, 3, err);
	}
	return rc;
}

static int build_locks(struct rp_report *r, struct rp_table *t, struct hs_error *err)
{
	int rc = 0;

	snprintf(t->title, sizeof(t->title), "Runtime locks");
	snprintf(t->caption, sizeof(t->caption),
		 "Totals over all points and runs with status ok, in the manner of lockstat. A "
		 "contention is an acquisition that had to wait; a bounce is an acquisition on "
		 "another core than the previous one. Means divide by acquisitions.");
	add_col(t, "lock", 'l');
	add_col(t, "policy", 'l');
	add_col(t, "OS", 'l');
	add_col(t, "acquisitions", 'r');
	add_col(t, "contentions", 'r');
	add_col(t, "bounces", 'r');
	add_col(t, "wait mean (µs)", 'r');
	add_col(t, "wait max (µs)", 'r');
	add_col(t, "hold mean (µs)", 'r');
	add_col(t, "hold max (µs)", 'r');
	for (size_t i = 0; rc == 0 && i < r->locks.len; i++) {
		const struct rp_lock *l = &r->locks.data[i];

		rc = add_cell(t, err, "%s", l->lock);
		if (rc == 0)
			rc = add_cell(t, err, "%s", l->policy);
		if (rc == 0)
			rc = add_cell(t, err, "%s", l->os);
		if (rc == 0)
			rc = add_cell(t, err, "%lld", (long long)l->acquisitions);
		if (rc == 0)
			rc = add_cell(t, err, "%lld", (long long)l->contentions);
		if (rc == 0)
			rc = add_cell(t, err, "%lld", (long long)l->bounces);
		if (rc == 0)
			rc = add_number(t, l->wait_mean_ns, 1e3, 3, err);
		if (rc == 0)
			rc = add_number(t, l->wait_max_ns, 1e3, 3, err);
		if (rc == 0)
			rc = add_number(t, l->hold_mean_ns, 1e3, 3, err);
		if (rc == 0)
			rc = add_number(t, l->hold_max_ns, 1e3, 3, err);
	}
	return rc;
}

static int build_params(struct rp_report *r, struct rp_table *t, struct hs_error *err)
{
	int rc = 0;

	snprintf(t->title, sizeof(t->title), "OS and runtime profile parameters");
	snprintf(t->caption, sizeof(t->caption),
		 "The os.* and runtime.* parameters of the runs (times in ns). A parameter "
		 "that differs between runs lists its distinct values%s.",
		 r->multi_os ? "; os.* parameters differ between the OS profiles" : "");
	add_col(t, "parameter", 'l');
	add_col(t, "value", 'l');
	for (size_t i = 0; rc == 0 && i < r->params.len; i++) {
		const struct rp_param *p = &r->params.data[i];

		rc = add_cell(t, err, "%s", p->key);
		if (rc == 0)
			rc = add_cell(t, err, "%s%s", p->varied ? "varies: " : "", p->values);
	}
	return rc;
}

int rp_tables_build(struct rp_report *r, struct rp_table *out, int *n, struct hs_error *err)
{
	int (*const build[RP_TABLES])(struct rp_report *, struct rp_table *, struct hs_error *) = {
		build_makespan, build_sleeps, build_locks, build_params,
	};
	int rc = 0;

	memset(out, 0, sizeof(*out) * RP_TABLES);
	*n = RP_TABLES;
	for (int i = 0; rc == 0 && i < RP_TABLES; i++)
		rc = build[i](r, &out[i], err);
	if (rc)
		for (int i = 0; i < RP_TABLES; i++)
			rp_table_free(&out[i]);
	return rc;
}

void rp_provenance(const struct rp_report *r,
		   void (*emit)(void *ctx, const char *label, const char *value), void *ctx)
{
	char buf[1200];

	emit(ctx, "Experiment", r->exp_name);
	if (r->exp_command[0])
		emit(ctx, "Command", r->exp_command);
	emit(ctx, "Database", r->db_path);
	snprintf(buf, sizeof(buf), "%d (%d with status other than ok, left out of the "
		 "statistics)", r->runs, r->runs_failed);
	emit(ctx, "Runs", buf);
	emit(ctx, "herdsim version", r->versions);
	if (r->exp_revision[0])
		emit(ctx, "Revision", r->exp_revision);
	if (r->exp_host[0])
		emit(ctx, "Host", r->exp_host);
	emit(ctx, "Scenario", r->scenarios);
	emit(ctx, "Backend", r->backends);
	emit(ctx, "Varied parameters", r->varied_keys[0] ? r->varied_keys : "none");
}

/* ---- Markdown -------------------------------------------------------- */

/* Writes a cell with the characters that end a Markdown cell escaped. */
static void md_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|' || *s == '\\')
			fputc('\\', f);
		fputc(*s == '\n' ? ' ' : *s, f);
	}
}

static void table_md(FILE *f, const struct rp_table *t)
{
	fprintf(f, "## %s\n\n", t->title);
	for (int c = 0; c < t->ncols; c++) {
		fputs("| ", f);
		md_text(f, t->head[c]);
		fputc(' ', f);
	}
	fputs("|\n", f);
	for (int c = 0; c < t->ncols; c++)
		fputs(t->align[c] == 'r' ? "|---:" : "|:---", f);
	fputs("|\n", f);
	for (size_t row = 0; row < rp_table_rows(t); row++) {
		for (int c = 0; c < t->ncols; c++) {
			fputs("| ", f);
			md_text(f, rp_cell(t, row, c));
			fputc(' ', f);
		}
		fputs("|\n", f);
	}
	fprintf(f, "\n%s\n\n", t->caption);
}

static void md_item(void *ctx, const char *label, const char *value)
{
	fprintf(ctx, "- **%s:** ", label);
	md_text(ctx, value);
	fputc('\n', ctx);
}

int rp_write_md(struct rp_report *r, struct hs_error *err)
{
	struct rp_table tables[RP_TABLES];
	int n, rc = rp_tables_build(r, tables, &n, err);
	FILE *f;

	if (rc)
		return rc;
	f = rp_create(r, "report.md", err);
	if (f) {
		fprintf(f, "# herdsim report: experiment %s\n\n", r->exp_name);
		for (int i = 0; i < n - 1; i++)
			table_md(f, &tables[i]);
		fputs("## Figures\n\n", f);
		for (size_t i = 0; i < r->figures.len; i++) {
			const struct rp_figure *g = &r->figures.data[i];

			if (g->note[0])
				fprintf(f, "*%s* %s\n\n", g->caption, g->note);
			else
				fprintf(f, "![%s](%s.svg)\n\n%s (data: %s.csv, script: %s.gp)\n\n",
					g->name, g->name, g->caption, g->name, g->name);
		}
		fputs("## Provenance\n\n", f);
		rp_provenance(r, md_item, f);
		fputc('\n', f);
		table_md(f, &tables[n - 1]);
		rc = rp_finish(f, "report.md", err);
	} else {
		rc = err->code;
	}
	for (int i = 0; i < n; i++)
		rp_table_free(&tables[i]);
	return rc;
}

/* ---- LaTeX ----------------------------------------------------------- */

/* Writes text with the LaTeX special characters escaped. */
static void tex_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (strchr("#$%&_{}", c)) {
			fputc('\\', f);
			fputc(c, f);
		} else if (c == '\\') {
			fputs("\\textbackslash{}", f);
		} else if (c == '~') {
			fputs("\\textasciitilde{}", f);
		} else if (c == '^') {
			fputs("\\textasciicircum{}", f);
		} else if (c == 0xc2 && (unsigned char)s[1] == 0xb5) {
			fputs("\\textmu{}", f); /* U+00B5 MICRO SIGN */
			s++;
		} else {
			fputc(c, f);
		}
	}
}

static void table_tex(FILE *f, const struct rp_table *t)
{
	fputs("\\begin{table}[htbp]\n\\centering\n\\small\n\\caption{", f);
	tex_text(f, t->title);
	fputs(". ", f);
	tex_text(f, t->caption);
	fputs("}\n\\begin{tabular}{", f);
	for (int c = 0; c < t->ncols; c++)
		fputc(t->align[c], f);
	fputs("}\n\\toprule\n", f);
	for (int c = 0; c < t->ncols; c++) {
		fputs(c ? " & " : "", f);
		tex_text(f, t->head[c]);
	}
	fputs(" \\\\\n\\midrule\n", f);
	for (size_t row = 0; row < rp_table_rows(t); row++) {
		for (int c = 0; c < t->ncols; c++) {
			fputs(c ? " & " : "", f);
			tex_text(f, rp_cell(t, row, c));
		}
		fputs(" \\\\\n", f);
	}
	fputs("\\bottomrule\n\\end{tabular}\n\\end{table}\n\n", f);
}

static void tex_item(void *ctx, const char *label, const char *value)
{
	fputs("\\item[", ctx);
	tex_text(ctx, label);
	fputs("] ", ctx);
	tex_text(ctx, value);
	fputc('\n', ctx);
}

int rp_write_tex(struct rp_report *r, struct hs_error *err)
{
	struct rp_table tables[RP_TABLES];
	int n, rc = rp_tables_build(r, tables, &n, err);
	FILE *f;

	if (rc)
		return rc;
	f = rp_create(r, "report.tex", err);
	if (f) {
		fputs("% herdsim report; \\input this file from a document that loads booktabs.\n", f);
		for (int i = 0; i < n - 1; i++)
			table_tex(f, &tables[i]);
		fputs("\\section*{Provenance}\n\\begin{description}\n", f);
		rp_provenance(r, tex_item, f);
		fputs("\\end{description}\n\n", f);
		table_tex(f, &tables[n - 1]);
		rc = rp_finish(f, "report.tex", err);
	} else {
		rc = err->code;
	}
	for (int i = 0; i < n; i++)
		rp_table_free(&tables[i]);
	return rc;
}
