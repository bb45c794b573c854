/*
 * report.html: the tables, the figures (as <img> of the SVG files next to
 * it) and the provenance on one page.  The page carries its CSS inline,
 * loads nothing from the network and has no JavaScript.
 */
#include "report.h"

#include <string.h>

static const char css[] =
	"body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
	"color:#222;background:#fff;line-height:1.4}\n"
	"h1{font-size:1.6em;border-bottom:2px solid #0072B2;padding-bottom:.2em}\n"
	"h2{font-size:1.25em;margin-top:2em}\n"
	"table{border-collapse:collapse;margin:.5em 0;font-size:.9em}\n"
	"th,td{padding:.25em .7em;border-bottom:1px solid #ddd}\n"
	"thead th{border-top:2px solid #222;border-bottom:1px solid #222;background:#f4f6f8}\n"
	"tbody tr:last-child td{border-bottom:2px solid #222}\n"
	"td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}\n"
	"td.l,th.l{text-align:left}\n"
	"caption{caption-side:bottom;text-align:left;font-size:.85em;color:#555;padding-top:.4em}\n"
	"figure{margin:1.5em 0}\nfigure img{max-width:100%;height:auto;border:1px solid #eee}\n"
	"figcaption{font-size:.85em;color:#555}\n"
	"dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}\n"
	"dt{font-weight:bold}\ndd{margin:0}\n.note{color:#8a6d3b}\n";

void rp_html_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

void rp_table_html(FILE *f, const struct rp_table *t)
{
	fputs("<h2>", f);
	rp_html_escape(f, t->title);
	fputs("</h2>\n<table>\n<caption>", f);
	rp_html_escape(f, t->caption);
	fputs("</caption>\n<thead><tr>", f);
	for (int c = 0; c < t->ncols; c++) {
		fprintf(f, "<th class=\"%c\">", t->align[c]);
		rp_html_escape(f, t->head[c]);
		fputs("</th>", f);
	}
	fputs("</tr></thead>\n<tbody>\n", f);
	for (size_t row = 0; row < rp_table_rows(t); row++) {
		fputs("<tr>", f);
		for (int c = 0; c < t->ncols; c++) {
			fprintf(f, "<td class=\"%c\">", t->align[c]);
			rp_html_escape(f, rp_cell(t, row, c));
			fputs("</td>", f);
		}
		fputs("</tr>\n", f);
	}
	fputs("</tbody>\n</table>\n", f);
}

static void html_item(void *ctx, const char *label, const char *value)
{
	fputs("<dt>", ctx);
	rp_html_escape(ctx, label);
	fputs("</dt><dd>", ctx);
	rp_html_escape(ctx, value);
	fputs("</dd>\n", ctx);
}

static void figures_html(FILE *f, const struct rp_report *r)
{
	fputs("<h2>Figures</h2>\n", f);
	for (size_t i = 0; i < r->figures.len; i++) {
		const struct rp_figure *g = &r->figures.data[i];

		if (g->note[0]) {
			fputs("<p class=\"note\">", f);
			rp_html_escape(f, g->note);
			fputs("</p>\n", f);
			continue;
		}
		fprintf(f, "<figure><img src=\"%s.svg\" alt=\"", g->name);
		rp_html_escape(f, g->caption);
		fputs("\"><figcaption>", f);
		rp_html_escape(f, g->caption);
		fprintf(f, " Data: <a href=\"%s.csv\">%s.csv</a>, script: <a href=\"%s.gp\">%s.gp</a>,"
			   " PDF: <a href=\"%s.pdf\">%s.pdf</a>.</figcaption></figure>\n",
			g->name, g->name, g->name, g->name, g->name, g->name);
	}
}

int rp_write_html(struct rp_report *r, struct hs_error *err)
{
	struct rp_table tables[RP_TABLES];
	int n, rc = rp_tables_build(r, tables, &n, err);
	FILE *f;

	if (rc)
		return rc;
	f = rp_create(r, "report.html", err);
	if (f) {
		fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		      "<title>herdsim report: ", f);
		rp_html_escape(f, r->exp_name);
		fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>herdsim report: "
			   "experiment ", css);
		rp_html_escape(f, r->exp_name);
		fputs("</h1>\n", f);
		for (int i = 0; i < n - 1; i++)
			rp_table_html(f, &tables[i]);
		figures_html(f, r);
		fputs("<h2>Provenance</h2>\n<dl>\n", f);
		rp_provenance(r, html_item, f);
		fputs("</dl>\n", f);
		rp_table_html(f, &tables[n - 1]);
		fputs("</body>\n</html>\n", f);
		rc = rp_finish(f, "report.html", err);
	} else {
		rc = err->code;
	}
	for (int i = 0; i < n; i++)
		rp_table_free(&tables[i]);
	return rc;
}
