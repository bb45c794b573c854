/*
 * Tests of the trace library: the push parser and file reader on the files
 * in tests/data/traces (each fed at every chunk size), the atomic writer,
 * the generator, and reading a generated 1,000,000-row trace in bounded
 * memory.  Generated and written files go to a fresh mkdtemp directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay.h"
#include "trace.h"

#define DATA_DIR HS_SRCDIR "/tests/data/traces"

static char tmpdir[] = "/tmp/herdsim-trace-XXXXXX";

/* ---- Helpers ---------------------------------------------------------- */

struct rows {
	struct hs_trace_row *v;
	size_t n, cap;
};

static void rows_add(struct rows *r, const struct hs_trace_row *row)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		assert_non_null(r->v);
	}
	r->v[r->n++] = *row;
}

static int collect_row(void *ctx, const struct hs_trace_row *row, struct hs_error *err)
{
	(void)err;
	rows_add(ctx, row);
	return 0;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long size;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*len = (size_t)size;
	return buf;
}

static void tmp_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", tmpdir, name);
}

static int file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/*
 * Feeds DATA to a fresh parser in pieces of CHUNK bytes, then finishes.
 * Every feed must consume its whole piece.  Returns the first error code
 * (err filled) or 0, with the rows delivered in *out.
 */
static int parse_in_chunks(const char *name, const char *data, size_t len, size_t chunk,
			   struct rows *out, struct hs_error *err)
{
	struct hs_trace_parser *p = hs_trace_parser_new(name, collect_row, out, err);
	int rc = 0;

	assert_non_null(p);
	for (size_t off = 0; off < len && rc == 0; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		long got = hs_trace_parser_feed(p, data + off, n, err);

		if (got < 0)
			rc = (int)got;
		else
			assert_int_equal(got, (long)n);
	}
	if (rc == 0)
		rc = hs_trace_parser_finish(p, err);
	hs_trace_parser_free(p);
	return rc;
}

/* Reads PATH with the file reader.  Returns 0 at the end or the error. */
static int read_file_rows(const char *path, struct rows *out, struct hs_error *err)
{
	struct hs_trace_reader *r = hs_trace_open(path, err);
	struct hs_trace_row row;
	int rc;

	assert_non_null(r);
	while ((rc = hs_trace_next(r, &row, err)) == 1)
		rows_add(out, &row);
	hs_trace_close(r);
	return rc;
}

static void assert_same_rows(const struct rows *a, const struct rows *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		assert_memory_equal(&a->v[i], &b->v[i], sizeof(a->v[i]));
}

static void assert_same_error(const struct hs_error *a, const struct hs_error *b)
{
	assert_int_equal(a->code, b->code);
	assert_int_equal(a->line, b->line);
	assert_int_equal(a->column, b->column);
	assert_string_equal(a->key, b->key);
	assert_string_equal(a->msg, b->msg);
	assert_string_equal(a->file, b->file);
}

static void assert_row(const struct hs_trace_row *r, int32_t thread, int64_t start,
		       int64_t arrival, int64_t go_work, int64_t gc, int64_t grow,
		       int64_t c_time, int64_t line)
{
	assert_int_equal(r->thread, thread);
	assert_int_equal(r->thread_start_ns, start);
	assert_int_equal(r->arrival_ns, arrival);
	assert_int_equal(r->go_work_ns, go_work);
	assert_int_equal(r->gc_calls, gc);
	assert_int_equal(r->grow_frames, grow);
	assert_int_equal(r->c_time_ns, c_time);
	assert_int_equal(r->line, line);
}

/* ---- Expected results of the files in tests/data/traces ---------------- */

struct malformed {
	const char *file;
	int code;
	int line, column;
	const char *key;
	const char *msg1, *msg2; /* substrings of the message; msg2 may be NULL */
};

static const struct malformed malformed[] = {
	{ "empty.csv", HS_E_INPUT, 0, 0, "format", "empty file", NULL },
	{ "blank_lines_only.csv", HS_E_INPUT, 0, 0, "format", "empty file", NULL },
	{ "no_header.csv", HS_E_INPUT, 1, 1, "format", "missing format line", "\"0\"" },
	{ "one_line_header.csv", HS_E_INPUT, 1, 2, "format", "must contain only", NULL },
	{ "comment_before_header.csv", HS_E_INPUT, 1, 1, "format", "missing format line",
	  "\"# a comment\"" },
	{ "unknown_version.csv", HS_E_VERSION, 1, 1, "format", "\"herdsim-trace-v2\"",
	  "reads herdsim-trace-v1 only" },
	{ "no_column_line.csv", HS_E_INPUT, 2, 1, "thread", "missing column line", NULL },
	{ "format_line_only.csv", HS_E_INPUT, 2, 1, "thread", "missing column line", NULL },
	{ "bad_column_name.csv", HS_E_INPUT, 2, 3, "arrival_ns", "named \"arrival\"", NULL },
	{ "short_column_line.csv", HS_E_INPUT, 2, 4, "go_work_ns", "has 3 columns", NULL },
	{ "bad_number.csv", HS_E_INPUT, 4, 4, "go_work_ns", "invalid number \"5us\"",
	  "from 0 to 9223372036854775807" },
	{ "negative.csv", HS_E_INPUT, 3, 7, "c_time_ns", "negative value \"-5\"", NULL },
	{ "arrival_overflow.csv", HS_E_INPUT, 3, 3, "arrival_ns", "out of range",
	  "maximum is 9223372036854775807" },
	{ "go_work_overflow_20_digits.csv", HS_E_INPUT, 3, 4, "go_work_ns", "out of range",
	  NULL },
	{ "thread_overflow.csv", HS_E_INPUT, 3, 1, "thread", "out of range",
	  "maximum is 2147483647" },
	{ "empty_field.csv", HS_E_INPUT, 3, 4, "go_work_ns", "empty field", NULL },
	{ "space_in_field.csv", HS_E_INPUT, 3, 2, "thread_start_ns", "invalid number \" 0\"",
	  NULL },
	{ "missing_column.csv", HS_E_INPUT, 4, 7, "c_time_ns", "has 6 of the 7", NULL },
	{ "missing_column_at_eof.csv", HS_E_INPUT, 3, 6, "grow_frames", "has 5 of the 7",
	  NULL },
	{ "extra_column.csv", HS_E_INPUT, 3, 8, "", "extra field", NULL },
	{ "unterminated_quote.csv", HS_E_INPUT, 4, 3, "arrival_ns", "unterminated quote",
	  NULL },
	{ "quote_closed_on_next_line.csv", HS_E_INPUT, 4, 3, "arrival_ns",
	  "unterminated quote", NULL },
	{ "unterminated_quote_at_eof.csv", HS_E_INPUT, 4, 7, "c_time_ns",
	  "unterminated quote", NULL },
	{ "quote_inside_field.csv", HS_E_INPUT, 3, 3, "arrival_ns", "misplaced quote", NULL },
	{ "text_after_quote.csv", HS_E_INPUT, 3, 3, "arrival_ns", "misplaced quote", NULL },
	{ "thread_time_backwards.csv", HS_E_INPUT, 5, 3, "arrival_ns",
	  "time goes backwards in thread 0", "at 5000 on line 3" },
	{ "rows_not_ordered.csv", HS_E_INPUT, 4, 3, "arrival_ns",
	  "not ordered by arrival_ns", "5000 on line 3" },
	{ "thread_start_changed.csv", HS_E_INPUT, 4, 2, "thread_start_ns",
	  "thread 0 started at 0 on line 3", "this row says 100" },
	{ "arrival_before_start.csv", HS_E_INPUT, 3, 3, "arrival_ns",
	  "before the start of thread 0", NULL },
	{ "long_field.csv", HS_E_INPUT, 3, 4, "go_work_ns", "longer than 256 bytes", NULL },
	/* The first error on a line wins, whatever the chunk size. */
	{ "long_field_after_bad_number.csv", HS_E_INPUT, 3, 1, "thread",
	  "invalid number \"x1\"", NULL },
};

#define NMALFORMED (sizeof(malformed) / sizeof(malformed[0]))

static const char *const valid_files[] = {
	"valid.csv", "valid_crlf.csv", "header_only.csv", "readme_example.csv",
};

/* ---- Reader: valid files ---------------------------------------------- */

static void test_read_valid_rows(void **state)
{
	struct rows rows = { 0 };
	struct hs_error err = { 0 };

	(void)state;
	assert_int_equal(read_file_rows(DATA_DIR "/valid.csv", &rows, &err), 0);
	assert_int_equal(rows.n, 5);
	assert_row(&rows.v[0], 0, 0, 1000, 5000, 0, 0, 1000, 4);
	assert_row(&rows.v[1], 1, 200, 1500, 5000, 1, 0, 1300, 5);
	assert_row(&rows.v[2], 2, 200, 1500, 7000, 0, 64, 1300, 7);
	assert_row(&rows.v[3], 0, 0, 8000, 5000, 0, 0, 2000, 8);
	assert_row(&rows.v[4], 1, 200, 9000, 4000, 0, 0, 2500, 10);
	free(rows.v);
}

static void test_read_crlf_rows(void **state)
{
	struct rows rows = { 0 };
	struct hs_error err = { 0 };

	(void)state;
	assert_int_equal(read_file_rows(DATA_DIR "/valid_crlf.csv", &rows, &err), 0);
	assert_int_equal(rows.n, 2);
	assert_row(&rows.v[0], 3, 10, 20, 30, 1, 2, 10, 3);
	assert_row(&rows.v[1], 4, 15, 20, 0, 0, 0, 5, 4);
	free(rows.v);
}

static void test_read_header_only(void **state)
{
	struct rows rows = { 0 };
	struct hs_error err = { 0 };

	(void)state;
	assert_int_equal(read_file_rows(DATA_DIR "/header_only.csv", &rows, &err), 0);
	assert_int_equal(rows.n, 0);
	free(rows.v);
}

/* After the end, and after an error, hs_trace_next keeps its result. */
static void test_read_end_is_sticky(void **state)
{
	struct hs_trace_reader *r;
	struct hs_trace_row row;
	struct hs_error err = { 0 }, again = { 0 };

	(void)state;
	r = hs_trace_open(DATA_DIR "/header_only.csv", &err);
	assert_non_null(r);
	assert_int_equal(hs_trace_next(r, &row, &err), 0);
	assert_int_equal(hs_trace_next(r, &row, &err), 0);
	hs_trace_close(r);

	r = hs_trace_open(DATA_DIR "/bad_number.csv", &err);
	assert_non_null(r);
	assert_int_equal(hs_trace_next(r, &row, &err), 1);
	assert_int_equal(hs_trace_next(r, &row, &err), HS_E_INPUT);
	assert_int_equal(hs_trace_next(r, &row, &again), HS_E_INPUT);
	assert_same_error(&err, &again);
	hs_trace_close(r);
}

static void test_open_missing_file(void **state)
{
	struct hs_error err = { 0 };

	(void)state;
	assert_null(hs_trace_open(DATA_DIR "/no-such-file.csv", &err));
	assert_int_equal(err.code, HS_E_NOTFOUND);
	assert_string_equal(err.file, DATA_DIR "/no-such-file.csv");
}

/* ---- Reader: malformed files ------------------------------------------ */

static void test_malformed_positions(void **state)
{
	(void)state;
	for (size_t i = 0; i < NMALFORMED; i++) {
		const struct malformed *m = &malformed[i];
		struct rows rows = { 0 };
		struct hs_error err = { 0 };
		char path[512];

		snprintf(path, sizeof(path), "%s/%s", DATA_DIR, m->file);
		print_message("%s\n", m->file);
		assert_int_equal(read_file_rows(path, &rows, &err), m->code);
		assert_int_equal(err.code, m->code);
		assert_string_equal(err.file, path);
		assert_int_equal(err.line, m->line);
		assert_int_equal(err.column, m->column);
		assert_string_equal(err.key, m->key);
		assert_non_null(strstr(err.msg, m->msg1));
		if (m->msg2)
			assert_non_null(strstr(err.msg, m->msg2));
		free(rows.v);
	}
}

/* Rows before the bad line are delivered; the error comes after them. */
static void test_rows_before_error(void **state)
{
	struct rows rows = { 0 };
	struct hs_error err = { 0 };

	(void)state;
	assert_int_equal(read_file_rows(DATA_DIR "/thread_time_backwards.csv", &rows, &err),
			 HS_E_INPUT);
	assert_int_equal(rows.n, 2);
	assert_row(&rows.v[0], 0, 0, 5000, 100, 0, 0, 5000, 3);
	assert_row(&rows.v[1], 1, 0, 5000, 100, 0, 0, 5000, 4);
	free(rows.v);
}

static void test_error_format_line(void **state)
{
	struct rows rows = { 0 };
	struct hs_error err = { 0 };
	char buf[1024];

	(void)state;
	assert_int_equal(read_file_rows(DATA_DIR "/bad_number.csv", &rows, &err), HS_E_INPUT);
	hs_error_format(&err, buf, sizeof(buf));
	assert_non_null(strstr(buf, "/bad_number.csv:4:4: go_work_ns: invalid number \"5us\""));
	free(rows.v);
}

static int is_known_file(const char *name)
{
	for (size_t i = 0; i < NMALFORMED; i++)
		if (strcmp(name, malformed[i].file) == 0)
			return 1;
	for (size_t i = 0; i < sizeof(valid_files) / sizeof(valid_files[0]); i++)
		if (strcmp(name, valid_files[i]) == 0)
			return 1;
	return 0;
}

/*
 * Feeds every file at every chunk size from 1 byte to its length: each
 * split gives the rows and the error of the file reader.
 */
static void test_every_chunk_size(void **state)
{
	DIR *dir = opendir(DATA_DIR);
	struct dirent *e;
	int files = 0;

	(void)state;
	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL) {
		struct rows want = { 0 };
		struct hs_error want_err = { 0 };
		char path[512];
		size_t len;
		char *data;
		int want_rc;

		if (!strstr(e->d_name, ".csv"))
			continue;
		print_message("%s\n", e->d_name);
		/* A file without expectations would only be checked against itself. */
		assert_true(is_known_file(e->d_name));
		snprintf(path, sizeof(path), "%s/%s", DATA_DIR, e->d_name);
		data = read_all(path, &len);
		want_rc = read_file_rows(path, &want, &want_err);

		for (size_t chunk = 1; chunk <= (len ? len : 1); chunk++) {
			struct rows got = { 0 };
			struct hs_error got_err = { 0 };
			int rc = parse_in_chunks(path, data, len, chunk, &got, &got_err);

			assert_int_equal(rc, want_rc);
			assert_same_rows(&got, &want);
			if (rc < 0)
				assert_same_error(&got_err, &want_err);
			free(got.v);
		}
		free(want.v);
		free(data);
		files++;
	}
	closedir(dir);
	assert_int_equal(files, NMALFORMED + sizeof(valid_files) / sizeof(valid_files[0]));
}

/* ---- Push parser ------------------------------------------------------ */

static int pause_each_row(void *ctx, const struct hs_trace_row *row, struct hs_error *err)
{
	(void)err;
	rows_add(ctx, row);
	return HS_TRACE_PAUSE;
}

static void test_parser_pause(void **state)
{
	static const char text[] = HS_TRACE_FORMAT "\n" HS_TRACE_COLUMNS "\n"
				   "0,0,10,1,0,0,10\n1,0,20,1,0,0,20\n";
	const size_t row1_end = sizeof(HS_TRACE_FORMAT) + sizeof(HS_TRACE_COLUMNS) + 16;
	struct rows rows = { 0 };
	struct hs_error err = { 0 };
	struct hs_trace_parser *p = hs_trace_parser_new("mem", pause_each_row, &rows, &err);
	long n;

	(void)state;
	assert_non_null(p);
	n = hs_trace_parser_feed(p, text, sizeof(text) - 1, &err);
	assert_int_equal(n, (long)row1_end);
	assert_int_equal(rows.n, 1);
	n = hs_trace_parser_feed(p, text + row1_end, sizeof(text) - 1 - row1_end, &err);
	assert_int_equal(n, (long)(sizeof(text) - 1 - row1_end));
	assert_int_equal(rows.n, 2);
	assert_int_equal(rows.v[1].arrival_ns, 20);
	assert_int_equal(hs_trace_parser_finish(p, &err), 0);
	hs_trace_parser_free(p);
	free(rows.v);
}

static int reject_thread_one(void *ctx, const struct hs_trace_row *row, struct hs_error *err)
{
	(void)ctx;
	if (row->thread == 1) {
		hs_error_set(err, HS_E_MODEL, "mem", (int)row->line, "thread", "thread 1 refused");
		return HS_E_MODEL;
	}
	return 0;
}

/* A callback error stops the parser and stays. */
static void test_parser_callback_error(void **state)
{
	static const char text[] = HS_TRACE_FORMAT "\n" HS_TRACE_COLUMNS "\n"
				   "0,0,10,1,0,0,10\n1,0,20,1,0,0,20\n";
	struct hs_error err = { 0 };
	struct hs_trace_parser *p = hs_trace_parser_new("mem", reject_thread_one, NULL, &err);

	(void)state;
	assert_non_null(p);
	assert_int_equal(hs_trace_parser_feed(p, text, sizeof(text) - 1, &err), HS_E_MODEL);
	assert_int_equal(err.line, 4);
	assert_string_equal(err.msg, "thread 1 refused");
	memset(&err, 0, sizeof(err));
	assert_int_equal(hs_trace_parser_finish(p, &err), HS_E_MODEL);
	assert_string_equal(err.msg, "thread 1 refused");
	hs_trace_parser_free(p);
}

/* ---- Writer ----------------------------------------------------------- */

static const struct hs_trace_row written[] = {
	{ 0, 0, 100, 10, 0, 0, 100, 0 },
	{ 1, 50, 100, 20, 1, 5, 50, 0 },
	{ 0, 0, 300, 10, 0, 0, 190, 0 },
	{ 2147483647, 400, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, 0 },
};

static void test_writer_round_trip(void **state)
{
	struct hs_trace_writer *w;
	struct rows rows = { 0 };
	struct hs_error err = { 0 };
	char path[512];

	(void)state;
	tmp_path(path, sizeof(path), "written.csv");
	w = hs_trace_writer_open(path, &err);
	assert_non_null(w);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(hs_trace_writer_row(w, &written[i], &err), 0);
	assert_int_equal(hs_trace_writer_close(w, 1, &err), 0);

	assert_int_equal(read_file_rows(path, &rows, &err), 0);
	assert_int_equal(rows.n, 4);
	for (size_t i = 0; i < 4; i++) {
		struct hs_trace_row want = written[i];

		want.line = (int64_t)i + 3;
		assert_memory_equal(&rows.v[i], &want, sizeof(want));
	}
	free(rows.v);
}

static void test_writer_output_text(void **state)
{
	struct hs_trace_writer *w;
	struct hs_error err = { 0 };
	char path[512];
	size_t len;
	char *text;

	(void)state;
	tmp_path(path, sizeof(path), "text.csv");
	w = hs_trace_writer_open(path, &err);
	assert_non_null(w);
	assert_int_equal(hs_trace_writer_row(w, &written[1], &err), 0);
	assert_int_equal(hs_trace_writer_close(w, 1, &err), 0);
	text = read_all(path, &len);
	text[len] = '\0';
	assert_string_equal(text, "herdsim-trace-v1\n"
			    "thread,thread_start_ns,arrival_ns,go_work_ns,gc_calls,"
			    "grow_frames,c_time_ns\n1,50,100,20,1,5,50\n");
	free(text);
}

/* Nothing appears under PATH before the commit, nor after an abort. */
static void test_writer_abort_leaves_no_file(void **state)
{
	struct hs_trace_writer *w;
	struct hs_error err = { 0 };
	char path[512], tmp[520];

	(void)state;
	tmp_path(path, sizeof(path), "aborted.csv");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	w = hs_trace_writer_open(path, &err);
	assert_non_null(w);
	assert_int_equal(hs_trace_writer_row(w, &written[0], &err), 0);
	assert_false(file_exists(path));
	assert_true(file_exists(tmp));
	assert_int_equal(hs_trace_writer_close(w, 0, &err), 0);
	assert_false(file_exists(path));
	assert_false(file_exists(tmp));
}

/* An aborted rewrite keeps the old file as it was. */
static void test_writer_abort_keeps_old_file(void **state)
{
	struct hs_trace_writer *w;
	struct hs_error err = { 0 };
	char path[512];
	FILE *f;
	size_t len;
	char *text;

	(void)state;
	tmp_path(path, sizeof(path), "kept.csv");
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("old contents\n", f);
	fclose(f);
	w = hs_trace_writer_open(path, &err);
	assert_non_null(w);
	assert_int_equal(hs_trace_writer_row(w, &written[0], &err), 0);
	assert_int_equal(hs_trace_writer_close(w, 0, &err), 0);
	text = read_all(path, &len);
	assert_int_equal(len, 13);
	assert_memory_equal(text, "old contents\n", 13);
	free(text);
}

/* The writer rejects rows the reader would reject and stays usable. */
static void test_writer_rejects_bad_rows(void **state)
{
	struct hs_trace_row backwards = { 0, 0, 50, 10, 0, 0, 50, 0 };
	struct hs_trace_row negative = { 5, 0, 400, -1, 0, 0, 0, 0 };
	struct hs_trace_row restart = { 0, 7, 400, 1, 0, 0, 0, 0 };
	struct hs_trace_writer *w;
	struct rows rows = { 0 };
	struct hs_error err = { 0 };
	char path[512];

	(void)state;
	tmp_path(path, sizeof(path), "checked.csv");
	w = hs_trace_writer_open(path, &err);
	assert_non_null(w);
	assert_int_equal(hs_trace_writer_row(w, &written[0], &err), 0);

	assert_int_equal(hs_trace_writer_row(w, &backwards, &err), HS_E_INPUT);
	assert_int_equal(err.line, 4);
	assert_int_equal(err.column, 3);
	assert_string_equal(err.key, "arrival_ns");

	assert_int_equal(hs_trace_writer_row(w, &negative, &err), HS_E_INPUT);
	assert_int_equal(err.column, 4);
	assert_string_equal(err.key, "go_work_ns");

	assert_int_equal(hs_trace_writer_row(w, &restart, &err), HS_E_INPUT);
	assert_int_equal(err.column, 2);
	assert_string_equal(err.key, "thread_start_ns");

	assert_int_equal(hs_trace_writer_row(w, &written[1], &err), 0);
	assert_int_equal(hs_trace_writer_close(w, 1, &err), 0);
	assert_int_equal(read_file_rows(path, &rows, &err), 0);
	assert_int_equal(rows.n, 2);
	assert_int_equal(rows.v[1].thread, 1);
	assert_int_equal(rows.v[1].line, 4);
	free(rows.v);
}

/*
 * Makes writes fail with EFBIG by lowering the file size limit to 4 KiB:
 * the commit must fail and leave neither the trace nor its temporary file.
 */
static void test_writer_failed_write_no_file(void **state)
{
	struct hs_trace_writer *w;
	struct hs_error err = { 0 };
	struct rlimit saved, small;
	void (*old_handler)(int);
	char path[512], tmp[520];
	int row_rc = 0, close_rc;

	(void)state;
	tmp_path(path, sizeof(path), "too-big.csv");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = 4096;
	old_handler = signal(SIGXFSZ, SIG_IGN);

	w = hs_trace_writer_open(path, &err);
	assert_non_null(w);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	for (int64_t i = 0; i < 2000 && row_rc == 0; i++) {
		struct hs_trace_row row = { 0, 0, i, 1, 0, 0, 0, 0 };

		row_rc = hs_trace_writer_row(w, &row, &err);
	}
	close_rc = hs_trace_writer_close(w, 1, &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, old_handler);

	assert_true(row_rc == 0 || row_rc == HS_E_IO);
	assert_int_equal(close_rc, HS_E_IO);
	assert_false(file_exists(path));
	assert_false(file_exists(tmp));
}

static void test_writer_missing_directory(void **state)
{
	struct hs_error err = { 0 };
	char path[512];

	(void)state;
	tmp_path(path, sizeof(path), "no-such-dir/out.csv");
	assert_null(hs_trace_writer_open(path, &err));
	assert_int_equal(err.code, HS_E_IO);
	assert_non_null(strstr(err.file, "no-such-dir/out.csv.tmp"));
}

/* ---- Generator -------------------------------------------------------- */

static struct hs_trace_gen_opts gen_opts(enum hs_trace_gen_kind kind, uint64_t seed)
{
	struct hs_trace_gen_opts o = {
		.kind = kind,
		.threads = 5,
		.callbacks = 4,
		.interval_ns = 1000,
		.think_ns = 300,
		.go_work_ns = 50,
		.gc_calls = 1,
		.grow_frames = 16,
		.seed = seed,
	};
	return o;
}

static void generate(const struct hs_trace_gen_opts *o, const char *name, char *path,
		     size_t size)
{
	struct hs_error err = { 0 };

	tmp_path(path, size, name);
	assert_int_equal(hs_trace_gen(o, path, &err), 0);
}

/* Checks the model and the ordering of rows generated with O. */
static void assert_generated(const struct hs_trace_gen_opts *o, const struct rows *rows)
{
	int64_t *last_arrival = calloc((size_t)o->threads, sizeof(int64_t));
	int64_t *count = calloc((size_t)o->threads, sizeof(int64_t));

	assert_non_null(last_arrival);
	assert_non_null(count);
	assert_int_equal(rows->n, (size_t)o->threads * (size_t)o->callbacks);
	for (size_t i = 0; i < rows->n; i++) {
		const struct hs_trace_row *r = &rows->v[i];
		int32_t t = r->thread;

		assert_true(t >= 0 && t < o->threads);
		if (i > 0) {
			const struct hs_trace_row *q = &rows->v[i - 1];

			assert_true(q->arrival_ns < r->arrival_ns ||
				    (q->arrival_ns == r->arrival_ns && q->thread < r->thread));
		}
		assert_int_equal(r->go_work_ns, o->go_work_ns);
		assert_int_equal(r->gc_calls, o->gc_calls);
		assert_int_equal(r->grow_frames, o->grow_frames);
		if (o->kind != HS_TRACE_GEN_POOL)
			assert_int_equal(r->c_time_ns, o->think_ns);
		if (count[t] == 0)
			assert_int_equal(r->arrival_ns, r->thread_start_ns + r->c_time_ns);
		else
			assert_int_equal(r->arrival_ns,
					 last_arrival[t] + o->go_work_ns + r->c_time_ns);
		last_arrival[t] = r->arrival_ns;
		count[t]++;
	}
	for (int32_t t = 0; t < o->threads; t++)
		assert_int_equal(count[t], o->callbacks);
	free(last_arrival);
	free(count);
}

static void test_gen_burst_rows(void **state)
{
	struct hs_trace_gen_opts o = gen_opts(HS_TRACE_GEN_BURST, 1);
	struct rows rows = { 0 };
	struct hs_error err = { 0 };
	char path[512];

	(void)state;
	generate(&o, "burst.csv", path, sizeof(path));
	assert_int_equal(read_file_rows(path, &rows, &err), 0);
	assert_generated(&o, &rows);

	/* Row k*5+t is thread t's callback k at 300 + k*350. */
	for (size_t i = 0; i < rows.n; i++)
		assert_row(&rows.v[i], (int32_t)(i % 5), 0, 300 + (int64_t)(i / 5) * 350, 50, 1,
			   16, 300, (int64_t)i + 3);
	free(rows.v);
}

static void test_gen_periodic_rows(void **state)
{
	struct hs_trace_gen_opts o = gen_opts(HS_TRACE_GEN_PERIODIC, 1);
	struct rows rows = { 0 };
	struct hs_error err = { 0 };
	char path[512];

	(void)state;
	o.threads = 3;
	o.callbacks = 2;
	generate(&o, "periodic.csv", path, sizeof(path));
	assert_int_equal(read_file_rows(path, &rows, &err), 0);
	assert_generated(&o, &rows);
	assert_int_equal(rows.n, 6);
	assert_row(&rows.v[0], 0, 0, 300, 50, 1, 16, 300, 3);
	assert_row(&rows.v[1], 0, 0, 650, 50, 1, 16, 300, 4);
	assert_row(&rows.v[2], 1, 1000, 1300, 50, 1, 16, 300, 5);
	assert_row(&rows.v[3], 1, 1000, 1650, 50, 1, 16, 300, 6);
	assert_row(&rows.v[4], 2, 2000, 2300, 50, 1, 16, 300, 7);
	assert_row(&rows.v[5], 2, 2000, 2650, 50, 1, 16, 300, 8);
	free(rows.v);
}

/* The worked example in traces/README.md is what the generator writes for
 * a periodic workload of 2 threads, 2 us apart, 2 callbacks each. */
static void test_gen_readme_example(void **state)
{
	struct hs_trace_gen_opts o = {
		.kind = HS_TRACE_GEN_PERIODIC,
		.threads = 2,
		.callbacks = 2,
		.interval_ns = 2000,
		.think_ns = 1000,
		.go_work_ns = 5000,
		.gc_calls = 1,
		.grow_frames = 0,
		.seed = 1,
	};
	char path[512];
	char *want, *got;
	size_t want_len, got_len;

	(void)state;
	generate(&o, "example.csv", path, sizeof(path));
	want = read_all(DATA_DIR "/readme_example.csv", &want_len);
	got = read_all(path, &got_len);
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
	free(want);
	free(got);
}

static void test_gen_poisson_rows(void **state)
{
	struct hs_trace_gen_opts o = gen_opts(HS_TRACE_GEN_POISSON, 7);
	struct rows rows = { 0 };
	struct hs_error err = { 0 };
	int64_t starts[50];
	double mean_gap;
	char path[512];

	(void)state;
	o.threads = 50;
	generate(&o, "poisson.csv", path, sizeof(path));
	assert_int_equal(read_file_rows(path, &rows, &err), 0);
	assert_generated(&o, &rows);

	/* Thread 0 starts at 0 and later threads after gaps of mean 1000 ns:
	 * 49 gaps average within 3 standard deviations (430 ns) of it. */
	for (size_t i = 0; i < rows.n; i++)
		starts[rows.v[i].thread] = rows.v[i].thread_start_ns;
	assert_int_equal(starts[0], 0);
	for (int t = 1; t < 50; t++)
		assert_true(starts[t] >= starts[t - 1]);
	mean_gap = (double)starts[49] / 49.0;
	assert_true(mean_gap > 570.0);
	assert_true(mean_gap < 1430.0);
	free(rows.v);
}

/* Pool think times average think_ns: 100,000 draws, within 2%. */
static void test_gen_pool_think_mean(void **state)
{
	struct hs_trace_gen_opts o = gen_opts(HS_TRACE_GEN_POOL, 11);
	struct rows rows = { 0 };
	struct hs_error err = { 0 };
	double sum = 0;
	char path[512];

	(void)state;
	o.threads = 10;
	o.callbacks = 10000;
	o.think_ns = 100000;
	generate(&o, "pool.csv", path, sizeof(path));
	assert_int_equal(read_file_rows(path, &rows, &err), 0);
	assert_generated(&o, &rows);
	for (size_t i = 0; i < rows.n; i++)
		sum += (double)rows.v[i].c_time_ns;
	assert_true(sum / (double)rows.n > 98000.0);
	assert_true(sum / (double)rows.n < 102000.0);
	free(rows.v);
}

/* Generated bytes depend only on the options: rewriting gives the same
 * file, one seed gives one file, another seed another file. */
static void test_gen_deterministic(void **state)
{
	static const enum hs_trace_gen_kind random_kinds[] = {
		HS_TRACE_GEN_POISSON, HS_TRACE_GEN_POOL,
	};

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		struct hs_trace_gen_opts o = gen_opts(random_kinds[k], 42);
		struct hs_trace_writer *w;
		struct rows rows = { 0 };
		struct hs_error err = { 0 };
		char a[512], b[512], c[512], d[512];
		char *ta, *tb, *tc, *td;
		size_t la, lb, lc, ld;

		generate(&o, "seed42a.csv", a, sizeof(a));
		generate(&o, "seed42b.csv", b, sizeof(b));
		o.seed = 43;
		generate(&o, "seed43.csv", c, sizeof(c));

		/* Read one file back and write its rows again. */
		assert_int_equal(read_file_rows(a, &rows, &err), 0);
		tmp_path(d, sizeof(d), "rewritten.csv");
		w = hs_trace_writer_open(d, &err);
		assert_non_null(w);
		for (size_t i = 0; i < rows.n; i++)
			assert_int_equal(hs_trace_writer_row(w, &rows.v[i], &err), 0);
		assert_int_equal(hs_trace_writer_close(w, 1, &err), 0);

		ta = read_all(a, &la);
		tb = read_all(b, &lb);
		tc = read_all(c, &lc);
		td = read_all(d, &ld);
		assert_int_equal(la, lb);
		assert_memory_equal(ta, tb, la);
		assert_int_equal(la, ld);
		assert_memory_equal(ta, td, la);
		assert_true(la != lc || memcmp(ta, tc, la) != 0);
		free(ta);
		free(tb);
		free(tc);
		free(td);
		free(rows.v);
	}
}

static void test_gen_rejects_bad_options(void **state)
{
	static const char *const keys[] = { "threads", "callbacks", "think", "kind" };
	char path[512];

	(void)state;
	tmp_path(path, sizeof(path), "rejected.csv");
	for (int i = 0; i < 4; i++) {
		struct hs_trace_gen_opts o = gen_opts(HS_TRACE_GEN_BURST, 1);
		struct hs_error err = { 0 };

		switch (i) {
		case 0: o.threads = 0; break;
		case 1: o.callbacks = 0; break;
		case 2: o.think_ns = -1; break;
		case 3: o.kind = (enum hs_trace_gen_kind)9; break;
		}
		assert_int_equal(hs_trace_gen(&o, path, &err), HS_E_USAGE);
		assert_string_equal(err.key, keys[i]);
		assert_false(file_exists(path));
	}
}

/* Times past the replay limit are an error and leave no file. */
static void test_gen_time_overflow(void **state)
{
	struct hs_trace_gen_opts o = gen_opts(HS_TRACE_GEN_PERIODIC, 1);
	struct hs_error err = { 0 };
	char path[512], tmp[520];

	(void)state;
	o.interval_ns = HS_REPLAY_MAX_NS / 3; /* 5 threads: the last starts at 4/3 x 2^62 */
	tmp_path(path, sizeof(path), "overflow.csv");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(hs_trace_gen(&o, path, &err), HS_E_USAGE);
	assert_non_null(strstr(err.msg, "the last thread start at 6148914691236517204 ns"));
	assert_false(file_exists(path));

	o = gen_opts(HS_TRACE_GEN_BURST, 1);
	o.callbacks = 4;
	o.go_work_ns = HS_REPLAY_MAX_NS / 2; /* 4th arrival: 3 x (2^61 + 300) + 300 ns */
	assert_int_equal(hs_trace_gen(&o, path, &err), HS_E_USAGE);
	assert_non_null(strstr(err.msg, "the last arrival at 6917529027641083056 ns"));
	assert_false(file_exists(path));
	assert_false(file_exists(tmp));
}

/* A time past the limit that the options alone imply is found before any
 * row is written.  The file size limit turns a generator that writes
 * first into an HS_E_IO failure after 64 KiB instead of an endless write. */
static void test_gen_overflow_before_rows(void **state)
{
	struct hs_trace_gen_opts o = gen_opts(HS_TRACE_GEN_BURST, 1);
	struct hs_error err = { 0 };
	struct rlimit saved, small;
	void (*old_handler)(int);
	char path[512], tmp[520];
	int rc;

	(void)state;
	o.threads = 1;
	o.callbacks = INT64_MAX;
	o.think_ns = 0;
	o.go_work_ns = 5000;
	tmp_path(path, sizeof(path), "endless.csv");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = 65536;
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = hs_trace_gen(&o, path, &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, old_handler);

	assert_int_equal(rc, HS_E_USAGE);
	assert_non_null(strstr(err.msg, "the last arrival at more than 9223372036854775807 ns"));
	assert_false(file_exists(path));
	assert_false(file_exists(tmp));

	/* The last periodic thread starts at (threads - 1) x interval. */
	o = gen_opts(HS_TRACE_GEN_PERIODIC, 1);
	o.threads = 1000;
	o.interval_ns = INT64_MAX / 500;
	assert_int_equal(hs_trace_gen(&o, path, &err), HS_E_USAGE);
	assert_false(file_exists(tmp));
}

/* Generator options at a replay limit.  Raising the field at OFFSET by
 * one puts them past it.  Fields a case leaves out are 0. */
struct gen_limit_case {
	enum hs_trace_gen_kind kind;
	int32_t threads;
	int64_t callbacks, interval_ns, think_ns, go_work_ns, gc_calls, grow_frames;
	size_t offset; /* of the int64_t field raised by one */
	const char *key; /* of the error past the limit; "" for options together */
	const char *msg; /* part of that error */
};

#define GEN_FIELD(f) offsetof(struct hs_trace_gen_opts, f)

static const struct gen_limit_case gen_limit_cases[] = {
	{ HS_TRACE_GEN_BURST, 1, 1, 0, 0, 0, HS_REPLAY_MAX_GC, 0, GEN_FIELD(gc_calls), "gc_calls",
	  "1001 is out of range; use 0 to 1000" },
	{ HS_TRACE_GEN_BURST, 1, 1, 0, 0, 0, 0, HS_REPLAY_MAX_GROW, GEN_FIELD(grow_frames),
	  "grow_frames", "1000000001 is out of range; use 0 to 1000000000" },
	{ HS_TRACE_GEN_BURST, 1, 1, 0, 0, HS_REPLAY_MAX_NS, 0, 0, GEN_FIELD(go_work_ns), "go_work",
	  "4611686018427387905 ns is out of range; use 0 to 4611686018427387904 ns" },
	{ HS_TRACE_GEN_BURST, 1, 1, 0, HS_REPLAY_MAX_NS, 0, 0, 0, GEN_FIELD(think_ns), "think",
	  "4611686018427387905 ns is out of range; use 0 to 4611686018427387904 ns" },
	{ HS_TRACE_GEN_PERIODIC, 2, 1, HS_REPLAY_MAX_NS, 0, 0, 0, 0, GEN_FIELD(interval_ns),
	  "interval", "4611686018427387905 ns is out of range; use 0 to 4611686018427387904 ns" },
	/* Thread 2 starts at 2 x interval. */
	{ HS_TRACE_GEN_PERIODIC, 3, 1, HS_REPLAY_MAX_NS / 2, 0, 0, 0, 0, GEN_FIELD(interval_ns), "",
	  "the last thread start at 4611686018427387906 ns" },
	/* The second callback arrives at go_work + 2 x think. */
	{ HS_TRACE_GEN_BURST, 1, 2, 0, HS_REPLAY_MAX_NS / 4, HS_REPLAY_MAX_NS / 2, 0, 0,
	  GEN_FIELD(go_work_ns), "", "the last arrival at 4611686018427387905 ns" },
};

static struct hs_trace_gen_opts limit_opts(const struct gen_limit_case *c)
{
	struct hs_trace_gen_opts o = {
		.kind = c->kind,
		.threads = c->threads,
		.callbacks = c->callbacks,
		.interval_ns = c->interval_ns,
		.think_ns = c->think_ns,
		.go_work_ns = c->go_work_ns,
		.gc_calls = c->gc_calls,
		.grow_frames = c->grow_frames,
		.seed = 1,
	};
	return o;
}

/* Options at a replay limit give a trace that the replay scan accepts,
 * and one unit more is rejected before the file is created. */
static void test_gen_replay_limits(void **state)
{
	char path[512], tmp[520];

	(void)state;
	tmp_path(path, sizeof(path), "limit.csv");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	for (size_t i = 0; i < sizeof(gen_limit_cases) / sizeof(gen_limit_cases[0]); i++) {
		const struct gen_limit_case *c = &gen_limit_cases[i];
		struct hs_trace_gen_opts o = limit_opts(c);
		int64_t *field = (int64_t *)((char *)&o + c->offset);
		struct hs_replay_summary sum;
		struct hs_error err = { 0 };
		int rc;

		assert_int_equal(hs_trace_gen(&o, path, &err), 0);
		rc = hs_replay_scan(path, NULL, NULL, &sum, &err);
		if (rc != 0)
			print_error("case %zu at the limit: %s: %s\n", i, err.key, err.msg);
		assert_int_equal(rc, 0);
		assert_int_equal(sum.rows, (int64_t)c->threads * c->callbacks);
		assert_int_equal(unlink(path), 0);

		(*field)++;
		rc = hs_trace_gen(&o, path, &err);
		if (rc != HS_E_USAGE)
			print_error("case %zu past the limit: returned %d\n", i, rc);
		assert_int_equal(rc, HS_E_USAGE);
		assert_string_equal(err.key, c->key);
		if (!strstr(err.msg, c->msg))
			print_error("case %zu past the limit: %s\n", i, err.msg);
		assert_non_null(strstr(err.msg, c->msg));
		assert_false(file_exists(path));
		assert_false(file_exists(tmp));
	}
}

/* A random draw that takes a time past the replay limit stops the
 * generator and leaves no file.  Pool: 60 think times of mean 10^17 ns sum
 * to about 6 x 10^18 ns.  Poisson: 49 start gaps of mean 10^17 ns sum to
 * about 4.9 x 10^18 ns.  Both are past 2^62 (about 4.6 x 10^18) with seed
 * 1, and with every draw 0 neither is. */
static void test_gen_random_past_replay_limit(void **state)
{
	struct hs_trace_gen_opts pool = limit_opts(&(struct gen_limit_case){
		.kind = HS_TRACE_GEN_POOL, .threads = 1, .callbacks = 60,
		.think_ns = INT64_C(100000000000000000) });
	struct hs_trace_gen_opts poisson = limit_opts(&(struct gen_limit_case){
		.kind = HS_TRACE_GEN_POISSON, .threads = 50, .callbacks = 1,
		.interval_ns = INT64_C(100000000000000000) });
	const struct hs_trace_gen_opts *cases[] = { &pool, &poisson };
	char path[512], tmp[520];

	(void)state;
	tmp_path(path, sizeof(path), "random-past-limit.csv");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	for (size_t i = 0; i < 2; i++) {
		struct hs_error err = { 0 };

		assert_int_equal(hs_trace_gen(cases[i], path, &err), HS_E_USAGE);
		assert_non_null(strstr(err.msg, "the random draws give times past "
					"4611686018427387904 ns"));
		assert_false(file_exists(path));
		assert_false(file_exists(tmp));
	}
}

static void test_gen_kind_names(void **state)
{
	static const char *const names[] = { "burst", "poisson", "periodic", "pool" };
	enum hs_trace_gen_kind kind;
	struct hs_error err = { 0 };

	(void)state;
	for (int i = 0; i < 4; i++) {
		assert_string_equal(hs_trace_gen_kind_name((enum hs_trace_gen_kind)i), names[i]);
		assert_int_equal(hs_trace_gen_kind_parse(names[i], &kind, &err), 0);
		assert_int_equal(kind, i);
	}
	assert_null(hs_trace_gen_kind_name((enum hs_trace_gen_kind)4));
	assert_int_equal(hs_trace_gen_kind_parse("uniform", &kind, &err), HS_E_USAGE);
	assert_string_equal(err.key, "uniform");
}

/* ---- Bounded memory --------------------------------------------------- */

/*
 * Streams a generated 1,000,000-row trace of 64 threads.  The parser's own
 * counters show its memory: the per-thread table contains 64 entries and
 * neither it nor the libcsv buffer grows between row 1,000 and the end.
 */
static void test_million_rows_bounded_memory(void **state)
{
	struct hs_trace_gen_opts o = gen_opts(HS_TRACE_GEN_POOL, 3);
	struct hs_trace_stats early = { 0 }, end = { 0 };
	struct hs_trace_reader *r;
	struct hs_trace_row row, prev = { 0 };
	struct hs_error err = { 0 };
	int64_t counts[64] = { 0 };
	uint64_t n = 0;
	char path[512];
	int rc;

	(void)state;
	o.threads = 64;
	o.callbacks = 15625;
	o.think_ns = 20000;
	o.go_work_ns = 3000;
	generate(&o, "million.csv", path, sizeof(path));

	r = hs_trace_open(path, &err);
	assert_non_null(r);
	while ((rc = hs_trace_next(r, &row, &err)) == 1) {
		assert_true(row.thread >= 0 && row.thread < 64);
		assert_true(row.arrival_ns >= prev.arrival_ns);
		counts[row.thread]++;
		prev = row;
		if (++n == 1000)
			hs_trace_reader_stats(r, &early);
	}
	assert_int_equal(rc, 0);
	hs_trace_reader_stats(r, &end);
	hs_trace_close(r);

	assert_int_equal(n, 1000000);
	assert_int_equal(end.rows, 1000000);
	for (int t = 0; t < 64; t++)
		assert_int_equal(counts[t], 15625);
	assert_int_equal(early.threads, 64);
	assert_int_equal(end.threads, 64);
	assert_int_equal(end.thread_capacity, early.thread_capacity);
	assert_true(end.thread_capacity <= 256);
	assert_int_equal(end.csv_buffer_max, early.csv_buffer_max);
	assert_true(end.csv_buffer_max <= 512);
	unlink(path);
}

/* ---- Runner ----------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup_tmpdir(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	(void)state;
	return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_valid_rows),
		cmocka_unit_test(test_read_crlf_rows),
		cmocka_unit_test(test_read_header_only),
		cmocka_unit_test(test_read_end_is_sticky),
		cmocka_unit_test(test_open_missing_file),
		cmocka_unit_test(test_malformed_positions),
		cmocka_unit_test(test_rows_before_error),
		cmocka_unit_test(test_error_format_line),
		cmocka_unit_test(test_every_chunk_size),
		cmocka_unit_test(test_parser_pause),
		cmocka_unit_test(test_parser_callback_error),
		cmocka_unit_test(test_writer_round_trip),
		cmocka_unit_test(test_writer_output_text),
		cmocka_unit_test(test_writer_abort_leaves_no_file),
		cmocka_unit_test(test_writer_abort_keeps_old_file),
		cmocka_unit_test(test_writer_rejects_bad_rows),
		cmocka_unit_test(test_writer_failed_write_no_file),
		cmocka_unit_test(test_writer_missing_directory),
		cmocka_unit_test(test_gen_burst_rows),
		cmocka_unit_test(test_gen_periodic_rows),
		cmocka_unit_test(test_gen_readme_example),
		cmocka_unit_test(test_gen_poisson_rows),
		cmocka_unit_test(test_gen_pool_think_mean),
		cmocka_unit_test(test_gen_deterministic),
		cmocka_unit_test(test_gen_rejects_bad_options),
		cmocka_unit_test(test_gen_time_overflow),
		cmocka_unit_test(test_gen_overflow_before_rows),
		cmocka_unit_test(test_gen_replay_limits),
		cmocka_unit_test(test_gen_random_past_replay_limit),
		cmocka_unit_test(test_gen_kind_names),
		cmocka_unit_test(test_million_rows_bounded_memory),
	};

	return cmocka_run_group_tests_name("trace", tests, setup_tmpdir, remove_tmpdir);
}
