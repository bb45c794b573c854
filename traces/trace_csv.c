/*
 * Trace CSV: the streaming reader (a push parser and a file reader built on
 * it) and the atomic writer.  The format and its invariants are in trace.h
 * and traces/README.md.
 *
 * How the parser maps libcsv callbacks to lines and columns.  libcsv does
 * not report positions, so the parser hands it the input one line piece at
 * a time: hs_trace_parser_feed() splits its buffer before every CR and LF,
 * passes the bytes before the terminator to csv_parse(), then passes the
 * terminator alone.  A record's callbacks therefore fire while `line` still
 * names the line the record is on, and the column of an error is the count
 * of fields already delivered in the record, plus one.  Records never span
 * lines, because every field is a number or a header name: a quoted field
 * still open at a line break is reported as an unterminated quote, at the
 * line and field where the quote opened.
 *
 * Invariants that make the result independent of how the input is split
 * into chunks (tests feed every chunk size from 1 byte to the whole file):
 *   1. Every state that crosses a chunk boundary lives in the parser: the
 *      libcsv state, the line, the quote scanner and the comment skipper.
 *   2. The parser's own scan finds some errors: a quote open at a line
 *      break and an over-long field.  Such an error at byte X is raised only
 *      after all bytes before X went through csv_parse().  An earlier libcsv
 *      or field error therefore wins, whatever the chunk size.
 *   3. Once set, an error is sticky.
 *
 * Memory: the chunk buffer, the libcsv field buffer (fields longer than
 * HS_TRACE_FIELD_MAX bytes are rejected before libcsv grows it further) and
 * the per-thread table, which grows with the number of distinct threads.
 */
#include "trace.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Maximum field length in bytes.  A valid number has at most 19 digits plus
 * any leading zeros, so this is generous, and it bounds libcsv's buffer. */
#define HS_TRACE_FIELD_MAX 256

static const char *const column_names[HS_TRACE_NCOLUMNS] = {
	"thread", "thread_start_ns", "arrival_ns", "go_work_ns",
	"gc_calls", "grow_frames", "c_time_ns",
};

/* ---- Errors ----------------------------------------------------------- */

/* hs_error_set() plus a column and a line that may exceed INT_MAX. */
static int fail_at(struct hs_error *err, int code, const char *file, int64_t line,
		   int column, const char *key, const char *msg)
{
	/* NOTE: struct hs_error has an int line, so lines past INT_MAX are
	 * reported as INT_MAX. */
	int l = line > INT_MAX ? INT_MAX : (int)line;

	hs_error_set(err, code, file, l, key, "%s", msg);
	if (err)
		err->column = column;
	return code;
}

/* Writes VALUE quoted, cut to 40 bytes, non-printable bytes as \xNN. */
static void quote_value(char *out, size_t size, const char *value, size_t len)
{
	size_t n = 0;

	n += snprintf(out + n, size - n, "\"");
	for (size_t i = 0; i < len && i < 40 && n + 8 < size; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[n++] = (char)c;
		else
			n += snprintf(out + n, size - n, "\\x%02x", c);
	}
	if (len > 40 && n + 4 < size)
		n += snprintf(out + n, size - n, "...");
	snprintf(out + n, size - n, "\"");
}

/* ---- Numbers ---------------------------------------------------------- */

/*
 * Parses a field of digits only into *out, at most MAX.  Returns 0 or
 * HS_E_INPUT with a message in MSG naming the value and the fix.
 */
static int parse_number(const char *s, size_t len, int64_t max, int64_t *out,
			char *msg, size_t size)
{
	char shown[200];
	uint64_t v = 0;

	if (len == 0) {
		snprintf(msg, size, "empty field; write a decimal integer from 0 to %" PRId64, max);
		return HS_E_INPUT;
	}
	quote_value(shown, sizeof(shown), s, len);
	if (s[0] == '-') {
		snprintf(msg, size, "negative value %s; write a decimal integer from 0 to %" PRId64,
			 shown, max);
		return HS_E_INPUT;
	}
	for (size_t i = 0; i < len; i++) {
		uint64_t digit;

		if (s[i] < '0' || s[i] > '9') {
			snprintf(msg, size, "invalid number %s: only the digits 0-9 are allowed "
				 "(no sign, spaces, decimals or units); write a decimal integer "
				 "from 0 to %" PRId64, shown, max);
			return HS_E_INPUT;
		}
		digit = (uint64_t)(s[i] - '0');

		/* Compare before multiplying: v * 10 can wrap a uint64_t. */
		if (v > ((uint64_t)max - digit) / 10) {
			snprintf(msg, size, "value %s is out of range; the maximum is %" PRId64,
				 shown, max);
			return HS_E_INPUT;
		}
		v = v * 10 + digit;
	}
	*out = (int64_t)v;
	return 0;
}

/* ---- Per-thread state and the ordering rules -------------------------- */

struct thread_state {
	int32_t thread;   /* -1 marks an empty slot */
	int64_t start_ns;
	int64_t last_arrival_ns;
	int64_t last_line;
};

/* Open addressing with linear probing.  The capacity is a power of two and
 * at least twice the count, so a probe always ends at an empty slot. */
struct thread_table {
	struct thread_state *slots;
	size_t capacity;
	size_t count;
};

/* The ordering state shared by the reader and the writer. */
struct order_check {
	struct thread_table threads;
	int64_t last_arrival_ns;
	int64_t last_line; /* 0 before the first row */
};

static size_t thread_hash(int32_t thread, size_t capacity)
{
	/* Fibonacci hashing: spreads consecutive ids over the table. */
	return (size_t)(((uint64_t)(uint32_t)thread * 0x9E3779B97F4A7C15ull) >> 32) &
	       (capacity - 1);
}

static int thread_table_grow(struct thread_table *t)
{
	size_t capacity = t->capacity ? t->capacity * 2 : 16;
	struct thread_state *slots = malloc(capacity * sizeof(*slots));

	if (!slots)
		return HS_E_NOMEM;
	for (size_t i = 0; i < capacity; i++)
		slots[i].thread = -1;
	for (size_t i = 0; i < t->capacity; i++) {
		size_t j;

		if (t->slots[i].thread < 0)
			continue;
		j = thread_hash(t->slots[i].thread, capacity);
		while (slots[j].thread >= 0)
			j = (j + 1) & (capacity - 1);
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->capacity = capacity;
	return 0;
}

/*
 * Finds the state of THREAD, adding an empty one (thread set, last_line 0)
 * if it is new.  Returns NULL when out of memory.
 */
static struct thread_state *thread_table_get(struct thread_table *t, int32_t thread)
{
	size_t i;

	if ((t->count + 1) * 2 > t->capacity && thread_table_grow(t) < 0)
		return NULL;
	i = thread_hash(thread, t->capacity);
	while (t->slots[i].thread >= 0) {
		if (t->slots[i].thread == thread)
			return &t->slots[i];
		i = (i + 1) & (t->capacity - 1);
	}
	t->slots[i].thread = thread;
	t->slots[i].start_ns = 0;
	t->slots[i].last_arrival_ns = 0;
	t->slots[i].last_line = 0;
	t->count++;
	return &t->slots[i];
}

/*
 * Checks ROW, on line LINE of FILE, against the rows before it and records
 * it.  Returns 0 or HS_E_INPUT (HS_E_NOMEM) with err filled; the column and
 * key name the field at fault.
 */
static int order_check_row(struct order_check *oc, const struct hs_trace_row *row,
			   int64_t line, const char *file, struct hs_error *err)
{
	struct thread_state *ts = thread_table_get(&oc->threads, row->thread);
	char msg[512];

	if (!ts)
		return fail_at(err, HS_E_NOMEM, file, line, 0, NULL,
			       "out of memory for the per-thread table");
	if (ts->last_line > 0 && row->thread_start_ns != ts->start_ns) {
		snprintf(msg, sizeof(msg), "thread %" PRId32 " started at %" PRId64
			 " on line %" PRId64 " but this row says %" PRId64 "; every row of a "
			 "thread must repeat its thread_start_ns", row->thread, ts->start_ns,
			 ts->last_line, row->thread_start_ns);
		return fail_at(err, HS_E_INPUT, file, line, 2, column_names[1], msg);
	}
	if (row->arrival_ns < row->thread_start_ns) {
		snprintf(msg, sizeof(msg), "arrival %" PRId64 " is before the start of thread %"
			 PRId32 " at %" PRId64 "; a callback cannot arrive before its thread "
			 "starts", row->arrival_ns, row->thread, row->thread_start_ns);
		return fail_at(err, HS_E_INPUT, file, line, 3, column_names[2], msg);
	}
	if (ts->last_line > 0 && row->arrival_ns < ts->last_arrival_ns) {
		snprintf(msg, sizeof(msg), "time goes backwards in thread %" PRId32 ": arrival %"
			 PRId64 " is before its previous callback at %" PRId64 " on line %"
			 PRId64 "; a thread's callbacks must be in time order", row->thread,
			 row->arrival_ns, ts->last_arrival_ns, ts->last_line);
		return fail_at(err, HS_E_INPUT, file, line, 3, column_names[2], msg);
	}
	if (oc->last_line > 0 && row->arrival_ns < oc->last_arrival_ns) {
		snprintf(msg, sizeof(msg), "rows are not ordered by arrival_ns: %" PRId64
			 " is before %" PRId64 " on line %" PRId64 "; sort the rows by "
			 "arrival_ns", row->arrival_ns, oc->last_arrival_ns, oc->last_line);
		return fail_at(err, HS_E_INPUT, file, line, 3, column_names[2], msg);
	}

	ts->start_ns = row->thread_start_ns;
	ts->last_arrival_ns = row->arrival_ns;
	ts->last_line = line;
	oc->last_arrival_ns = row->arrival_ns;
	oc->last_line = line;
	return 0;
}

/* ---- Push parser ------------------------------------------------------ */

enum stage {
	STAGE_FORMAT,  /* expecting the format line */
	STAGE_COLUMNS, /* expecting the column line */
	STAGE_ROWS,    /* data rows and comments */
};

struct hs_trace_parser {
	struct csv_parser csv;
	char name[256];
	hs_trace_row_fn fn;
	void *ctx;

	enum stage stage;
	int64_t line;       /* 1-based line of the byte being parsed */
	int64_t format_line;
	int fields;         /* fields delivered by libcsv in the current record */
	int saw_record;
	int finished;
	int pause;          /* the row callback asked feed to return */
	struct hs_trace_row row;

	/* Scan that runs ahead of libcsv on the same bytes (see the header). */
	int in_quote;
	int64_t quote_line; /* where the open quote is */
	int quote_field;
	int scan_field;     /* 1-based field of the scanned byte */
	size_t scan_len;    /* bytes of that field scanned so far */
	int at_line_start;
	int in_comment;

	int failed;         /* sticky error code, 0 if none */
	struct hs_error error;

	struct order_check order;
	uint64_t rows;
	size_t csv_buffer_max;
};

static const char *stage_key(const struct hs_trace_parser *p, int column)
{
	if (p->stage == STAGE_FORMAT)
		return "format";
	if (column >= 1 && column <= HS_TRACE_NCOLUMNS)
		return column_names[column - 1];
	return "";
}

/* Records the first error; later calls keep it. */
static void parser_fail(struct hs_trace_parser *p, int code, int64_t line, int column,
			const char *key, const char *msg)
{
	if (p->failed)
		return;
	p->failed = code;
	fail_at(&p->error, code, p->name, line, column, key, msg);
}

static void check_format(struct hs_trace_parser *p, const char *s, size_t len)
{
	static const char prefix[] = "herdsim-trace-";
	char shown[200], msg[512];

	quote_value(shown, sizeof(shown), s, len);
	if (len == strlen(HS_TRACE_FORMAT) && memcmp(s, HS_TRACE_FORMAT, len) == 0)
		return;
	if (len >= sizeof(prefix) - 1 && memcmp(s, prefix, sizeof(prefix) - 1) == 0) {
		snprintf(msg, sizeof(msg), "unsupported trace format version %s; this build "
			 "reads " HS_TRACE_FORMAT " only; convert the file or use the herdsim "
			 "version that wrote it", shown);
		parser_fail(p, HS_E_VERSION, p->line, 1, "format", msg);
		return;
	}
	snprintf(msg, sizeof(msg), "missing format line: found %s; a trace starts with "
		 "the line " HS_TRACE_FORMAT " and then the column line " HS_TRACE_COLUMNS
		 " (comments are allowed only after these two lines)", shown);
	parser_fail(p, HS_E_INPUT, p->line, 1, "format", msg);
}

static void check_column_name(struct hs_trace_parser *p, int column, const char *s,
			      size_t len)
{
	const char *want;
	char shown[200], msg[512];

	if (column > HS_TRACE_NCOLUMNS) {
		snprintf(msg, sizeof(msg), "column line has more than %d columns; it must be "
			 HS_TRACE_COLUMNS, HS_TRACE_NCOLUMNS);
		parser_fail(p, HS_E_INPUT, p->line, column, "", msg);
		return;
	}
	want = column_names[column - 1];
	if (strlen(want) == len && memcmp(want, s, len) == 0)
		return;
	quote_value(shown, sizeof(shown), s, len);
	if (column == 1 && len > 0 && s[0] >= '0' && s[0] <= '9')
		snprintf(msg, sizeof(msg), "missing column line: found data %s; the line "
			 "after " HS_TRACE_FORMAT " must be " HS_TRACE_COLUMNS, shown);
	else
		snprintf(msg, sizeof(msg), "column %d is named %s but must be %s; the column "
			 "line is " HS_TRACE_COLUMNS, column, shown, want);
	parser_fail(p, HS_E_INPUT, p->line, column, want, msg);
}

static void store_field(struct hs_trace_parser *p, int column, const char *s, size_t len)
{
	int64_t max = column == 1 ? INT32_MAX : INT64_MAX;
	int64_t v = 0;
	char msg[512];

	if (column > HS_TRACE_NCOLUMNS) {
		snprintf(msg, sizeof(msg), "extra field: a row has %d fields (" HS_TRACE_COLUMNS
			 "); remove the extra fields", HS_TRACE_NCOLUMNS);
		parser_fail(p, HS_E_INPUT, p->line, column, "", msg);
		return;
	}
	if (parse_number(s, len, max, &v, msg, sizeof(msg)) < 0) {
		parser_fail(p, HS_E_INPUT, p->line, column, column_names[column - 1], msg);
		return;
	}
	switch (column) {
	case 1: p->row.thread = (int32_t)v; break;
	case 2: p->row.thread_start_ns = v; break;
	case 3: p->row.arrival_ns = v; break;
	case 4: p->row.go_work_ns = v; break;
	case 5: p->row.gc_calls = v; break;
	case 6: p->row.grow_frames = v; break;
	case 7: p->row.c_time_ns = v; break;
	}
}

/* libcsv field callback: checks and stores one field. */
static void on_field(void *s, size_t len, void *data)
{
	struct hs_trace_parser *p = data;
	int column;
	char msg[256];

	if (p->failed)
		return;
	column = ++p->fields;
	switch (p->stage) {
	case STAGE_FORMAT:
		if (column == 1) {
			check_format(p, s, len);
			break;
		}
		snprintf(msg, sizeof(msg), "the format line must contain only " HS_TRACE_FORMAT
			 "; put the column names on the next line");
		parser_fail(p, HS_E_INPUT, p->line, column, "format", msg);
		break;
	case STAGE_COLUMNS:
		check_column_name(p, column, s, len);
		break;
	case STAGE_ROWS:
		store_field(p, column, s, len);
		break;
	}
}

static void deliver_row(struct hs_trace_parser *p)
{
	int rc;

	p->row.line = p->line;
	if (order_check_row(&p->order, &p->row, p->line, p->name, &p->error) < 0) {
		p->failed = p->error.code;
		return;
	}
	p->rows++;
	rc = p->fn(p->ctx, &p->row, &p->error);
	if (rc < 0)
		p->failed = p->error.code = rc;
	else if (rc == HS_TRACE_PAUSE)
		p->pause = 1;
}

/* libcsv record callback: checks the field count and moves the stage on. */
static void on_record(int c, void *data)
{
	struct hs_trace_parser *p = data;
	int n = p->fields;
	char msg[256];

	(void)c;
	if (p->failed)
		return;
	p->fields = 0;
	p->saw_record = 1;
	switch (p->stage) {
	case STAGE_FORMAT:
		p->format_line = p->line;
		p->stage = STAGE_COLUMNS;
		return;
	case STAGE_COLUMNS:
		if (n < HS_TRACE_NCOLUMNS) {
			snprintf(msg, sizeof(msg), "column line has %d columns; it must be "
				 HS_TRACE_COLUMNS, n);
			parser_fail(p, HS_E_INPUT, p->line, n + 1, column_names[n], msg);
			return;
		}
		p->stage = STAGE_ROWS;
		return;
	case STAGE_ROWS:
		if (n < HS_TRACE_NCOLUMNS) {
			snprintf(msg, sizeof(msg), "missing field: the row has %d of the %d "
				 "fields " HS_TRACE_COLUMNS, n, HS_TRACE_NCOLUMNS);
			parser_fail(p, HS_E_INPUT, p->line, n + 1, column_names[n], msg);
			return;
		}
		deliver_row(p);
		return;
	}
}

/* Passes bytes to libcsv and turns a libcsv error into a parser error. */
static void parse_bytes(struct hs_trace_parser *p, const char *s, size_t len)
{
	size_t done = csv_parse(&p->csv, s, len, on_field, on_record, p);
	size_t buffer = csv_get_buffer_size(&p->csv);
	int column = p->fields + 1;

	if (buffer > p->csv_buffer_max)
		p->csv_buffer_max = buffer;
	if (p->failed || done == len)
		return;
	switch (csv_error(&p->csv)) {
	case CSV_EPARSE:
		parser_fail(p, HS_E_INPUT, p->line, column, stage_key(p, column),
			    "misplaced quote: a quote may only enclose a whole field, and a "
			    "closing quote must be followed by a comma or a line break");
		break;
	case CSV_ENOMEM:
		parser_fail(p, HS_E_NOMEM, p->line, column, stage_key(p, column),
			    "out of memory in the CSV parser");
		break;
	default:
		parser_fail(p, HS_E_INPUT, p->line, column, stage_key(p, column),
			    csv_strerror(csv_error(&p->csv)));
		break;
	}
}

static void fail_open_quote(struct hs_trace_parser *p)
{
	parser_fail(p, HS_E_INPUT, p->quote_line, p->quote_field,
		    stage_key(p, p->quote_field),
		    "unterminated quote: the quoted field is not closed before the end of "
		    "the line; close the quote or remove it");
}

/*
 * Scans bytes up to the next CR or LF for quotes, commas and field length.
 * Returns the number of bytes that may go to libcsv; fewer than the span
 * when a field grew past HS_TRACE_FIELD_MAX (then *too_long is set).
 */
static size_t scan_line_piece(struct hs_trace_parser *p, const char *s, size_t len,
			      int *too_long)
{
	size_t i;

	*too_long = 0;
	for (i = 0; i < len && s[i] != '\n' && s[i] != '\r'; i++) {
		if (s[i] == '"') {
			if (!p->in_quote) {
				p->quote_line = p->line;
				p->quote_field = p->scan_field;
			}
			p->in_quote = !p->in_quote;
		} else if (s[i] == ',' && !p->in_quote) {
			p->scan_field++;
			p->scan_len = 0;
			continue;
		}
		if (++p->scan_len > HS_TRACE_FIELD_MAX) {
			*too_long = 1;
			break;
		}
	}
	return i;
}

/* Passes one CR or LF to libcsv, which ends the record, and counts an LF
 * as the end of a line. */
static void parse_terminator(struct hs_trace_parser *p, char c)
{
	if (p->in_quote) {
		fail_open_quote(p);
		return;
	}
	parse_bytes(p, &c, 1);
	if (p->failed)
		return;
	p->scan_field = 1;
	p->scan_len = 0;
	if (c == '\n') {
		p->line++;
		p->at_line_start = 1;
	}
}

long hs_trace_parser_feed(struct hs_trace_parser *p, const void *buf, size_t len,
			  struct hs_error *err)
{
	const char *s = buf;
	size_t i = 0;

	if (p->failed) {
		if (err)
			*err = p->error;
		return p->failed;
	}
	p->pause = 0;
	while (i < len && !p->failed && !p->pause) {
		const char *nl;
		size_t piece;
		int too_long;

		/* A comment runs to the end of its line and never reaches libcsv. */
		if (p->in_comment) {
			nl = memchr(s + i, '\n', len - i);
			if (!nl) {
				i = len;
				break;
			}
			i = (size_t)(nl - s) + 1;
			p->in_comment = 0;
			p->line++;
			p->at_line_start = 1;
			continue;
		}
		if (p->at_line_start && p->stage == STAGE_ROWS && s[i] == '#') {
			p->in_comment = 1;
			p->at_line_start = 0;
			continue;
		}

		piece = scan_line_piece(p, s + i, len - i, &too_long);
		if (piece > 0) {
			parse_bytes(p, s + i, piece);
			p->at_line_start = 0;
			i += piece;
		}
		if (p->failed)
			break;
		if (too_long) {
			char msg[128];

			snprintf(msg, sizeof(msg), "field is longer than %d bytes; a field is a "
				 "number or a column name", HS_TRACE_FIELD_MAX);
			parser_fail(p, HS_E_INPUT, p->line, p->scan_field,
				    stage_key(p, p->scan_field), msg);
			break;
		}
		if (i < len) {
			parse_terminator(p, s[i]);
			i++;
		}
	}
	if (p->failed) {
		if (err)
			*err = p->error;
		return p->failed;
	}
	return (long)i;
}

int hs_trace_parser_finish(struct hs_trace_parser *p, struct hs_error *err)
{
	if (p->finished || p->failed)
		goto out;
	p->finished = 1;
	p->pause = 0;

	/* With CSV_STRICT_FINI, libcsv rejects a quoted field open at the end.
	 * The scan recorded where that quote opened. */
	if (csv_fini(&p->csv, on_field, on_record, p) != 0 && !p->failed) {
		if (csv_error(&p->csv) == CSV_EPARSE && p->in_quote)
			fail_open_quote(p);
		else
			parser_fail(p, HS_E_INPUT, p->line, p->fields + 1,
				    stage_key(p, p->fields + 1), csv_strerror(csv_error(&p->csv)));
	}
	if (p->failed)
		goto out;
	if (!p->saw_record)
		parser_fail(p, HS_E_INPUT, 0, 0, "format", "empty file: a trace starts with "
			    "the line " HS_TRACE_FORMAT " and then the column line "
			    HS_TRACE_COLUMNS);
	else if (p->stage == STAGE_COLUMNS)
		parser_fail(p, HS_E_INPUT, p->format_line + 1, 1, column_names[0],
			    "missing column line: the line after " HS_TRACE_FORMAT
			    " must be " HS_TRACE_COLUMNS);
out:
	if (p->failed) {
		if (err)
			*err = p->error;
		return p->failed;
	}
	return 0;
}

/* Keeps spaces and tabs in fields, so " 12" is an invalid number rather than
 * being trimmed silently. */
static int no_space(unsigned char c)
{
	(void)c;
	return 0;
}

struct hs_trace_parser *hs_trace_parser_new(const char *name, hs_trace_row_fn fn,
					    void *ctx, struct hs_error *err)
{
	struct hs_trace_parser *p = calloc(1, sizeof(*p));

	if (!p || csv_init(&p->csv, CSV_STRICT | CSV_STRICT_FINI) != 0) {
		free(p);
		hs_error_set(err, HS_E_NOMEM, name, 0, NULL, "out of memory for a trace parser");
		return NULL;
	}
	csv_set_space_func(&p->csv, no_space);
	if (name)
		snprintf(p->name, sizeof(p->name), "%s", name);
	p->fn = fn;
	p->ctx = ctx;
	p->stage = STAGE_FORMAT;
	p->line = 1;
	p->scan_field = 1;
	p->at_line_start = 1;
	return p;
}

void hs_trace_parser_stats(const struct hs_trace_parser *p, struct hs_trace_stats *out)
{
	out->rows = p->rows;
	out->threads = p->order.threads.count;
	out->thread_capacity = p->order.threads.capacity;
	out->csv_buffer_max = p->csv_buffer_max;
}

void hs_trace_parser_free(struct hs_trace_parser *p)
{
	if (!p)
		return;
	csv_free(&p->csv);
	free(p->order.threads.slots);
	free(p);
}

/* ---- File reader ------------------------------------------------------ */

struct hs_trace_reader {
	int fd;
	char path[256];
	struct hs_trace_parser *parser;
	struct hs_trace_row row;
	int have_row;
	int at_eof;    /* read(2) returned 0 */
	int done;      /* later calls return `status` */
	int status;
	struct hs_error error;
	size_t off, len;
	unsigned char buf[HS_TRACE_CHUNK];
};

/* Keeps the row and pauses, so hs_trace_next() returns one row per call. */
static int reader_take_row(void *ctx, const struct hs_trace_row *row, struct hs_error *err)
{
	struct hs_trace_reader *r = ctx;

	(void)err;
	r->row = *row;
	r->have_row = 1;
	return HS_TRACE_PAUSE;
}

struct hs_trace_reader *hs_trace_open(const char *path, struct hs_error *err)
{
	struct hs_trace_reader *r = calloc(1, sizeof(*r));

	if (!r) {
		hs_error_set(err, HS_E_NOMEM, path, 0, NULL, "out of memory for a trace reader");
		return NULL;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		int code = errno == ENOENT ? HS_E_NOTFOUND : HS_E_IO;

		hs_error_set(err, code, path, 0, NULL, "cannot open the trace: %s",
			     strerror(errno));
		free(r);
		return NULL;
	}
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->parser = hs_trace_parser_new(path, reader_take_row, r, err);
	if (!r->parser) {
		close(r->fd);
		free(r);
		return NULL;
	}
	return r;
}

/* Makes every later hs_trace_next() return STATUS. */
static int reader_end(struct hs_trace_reader *r, int status, struct hs_error *err)
{
	r->done = 1;
	r->status = status;
	if (status < 0 && err)
		*err = r->error;
	return status;
}

/* Refills the buffer.  Returns 0 (at_eof set at the end) or HS_E_IO. */
static int reader_fill(struct hs_trace_reader *r)
{
	ssize_t n;

	do
		n = read(r->fd, r->buf, sizeof(r->buf));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return hs_error_set(&r->error, HS_E_IO, r->path, 0, NULL,
				    "cannot read the trace: %s", strerror(errno));
	r->off = 0;
	r->len = (size_t)n;
	if (n == 0)
		r->at_eof = 1;
	return 0;
}

int hs_trace_next(struct hs_trace_reader *r, struct hs_trace_row *row,
		  struct hs_error *err)
{
	if (r->done)
		return reader_end(r, r->status, err);
	for (;;) {
		long n;

		r->have_row = 0;
		if (r->off < r->len) {
			n = hs_trace_parser_feed(r->parser, r->buf + r->off, r->len - r->off,
						 &r->error);
			if (n < 0)
				return reader_end(r, (int)n, err);
			r->off += (size_t)n;
		} else if (r->at_eof) {
			/* The last row may lack a line break; finish delivers it. */
			if (hs_trace_parser_finish(r->parser, &r->error) < 0)
				return reader_end(r, r->error.code, err);
			r->done = 1;
			r->status = 0;
		} else if (reader_fill(r) < 0) {
			return reader_end(r, HS_E_IO, err);
		}
		if (r->have_row) {
			*row = r->row;
			return 1;
		}
		if (r->done)
			return 0;
	}
}

void hs_trace_reader_stats(const struct hs_trace_reader *r, struct hs_trace_stats *out)
{
	hs_trace_parser_stats(r->parser, out);
}

void hs_trace_close(struct hs_trace_reader *r)
{
	if (!r)
		return;
	hs_trace_parser_free(r->parser);
	close(r->fd);
	free(r);
}

/* ---- Writer ----------------------------------------------------------- */

struct hs_trace_writer {
	FILE *f;
	char path[HS_TRACE_PATH_MAX];
	char tmp[HS_TRACE_PATH_MAX + 8];
	int64_t line;   /* last line written */
	int failed;     /* a write failed, so the file must not be committed */
	struct order_check order;
};

struct hs_trace_writer *hs_trace_writer_open(const char *path, struct hs_error *err)
{
	struct hs_trace_writer *w = calloc(1, sizeof(*w));

	if (!w) {
		hs_error_set(err, HS_E_NOMEM, path, 0, NULL, "out of memory for a trace writer");
		return NULL;
	}
	if (strlen(path) >= sizeof(w->path)) {
		hs_error_set(err, HS_E_USAGE, path, 0, NULL, "path is longer than %d bytes; "
			     "choose a shorter one", HS_TRACE_PATH_MAX - 1);
		free(w);
		return NULL;
	}
	snprintf(w->path, sizeof(w->path), "%s", path);
	snprintf(w->tmp, sizeof(w->tmp), "%s.tmp", path);
	w->f = fopen(w->tmp, "we");
	if (!w->f) {
		hs_error_set(err, HS_E_IO, w->tmp, 0, NULL, "cannot create the trace: %s",
			     strerror(errno));
		free(w);
		return NULL;
	}

	/* The header names are fixed identifiers of letters, digits, '_' and
	 * '-', so they never need CSV quoting. */
	if (fputs(HS_TRACE_FORMAT "\n" HS_TRACE_COLUMNS "\n", w->f) < 0) {
		hs_error_set(err, HS_E_IO, w->tmp, 0, NULL, "cannot write the trace: %s",
			     strerror(errno));
		fclose(w->f);
		unlink(w->tmp);
		free(w);
		return NULL;
	}
	w->line = 2;
	return w;
}

/* Checks the sign and range rules a field of ROW must meet. */
static int check_values(const struct hs_trace_row *row, int64_t line, const char *file,
			struct hs_error *err)
{
	const int64_t v[HS_TRACE_NCOLUMNS] = {
		row->thread, row->thread_start_ns, row->arrival_ns, row->go_work_ns,
		row->gc_calls, row->grow_frames, row->c_time_ns,
	};
	char msg[256];

	for (int i = 0; i < HS_TRACE_NCOLUMNS; i++) {
		if (v[i] >= 0)
			continue;
		snprintf(msg, sizeof(msg), "negative value %" PRId64 "; every trace field is "
			 "0 or more", v[i]);
		return fail_at(err, HS_E_INPUT, file, line, i + 1, column_names[i], msg);
	}
	return 0;
}

int hs_trace_writer_row(struct hs_trace_writer *w, const struct hs_trace_row *row,
			struct hs_error *err)
{
	int64_t line = w->line + 1;
	int rc;

	if (!w->f)
		return hs_error_set(err, HS_E_IO, w->tmp, 0, NULL, "the trace was already "
				    "synced and takes no more rows");
	rc = check_values(row, line, w->path, err);
	if (rc == 0)
		rc = order_check_row(&w->order, row, line, w->path, err);
	if (rc < 0)
		return rc;
	if (fprintf(w->f, "%" PRId32 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%"
		    PRId64 ",%" PRId64 "\n", row->thread, row->thread_start_ns, row->arrival_ns,
		    row->go_work_ns, row->gc_calls, row->grow_frames, row->c_time_ns) < 0) {
		w->failed = 1;
		return hs_error_set(err, HS_E_IO, w->tmp, 0, NULL, "cannot write the trace: %s",
				    strerror(errno));
	}
	w->line = line;
	return 0;
}

/* Flushes and syncs the temporary file and closes it, once. */
static int writer_flush(struct hs_trace_writer *w, struct hs_error *err)
{
	FILE *f = w->f;

	if (w->failed)
		return hs_error_set(err, HS_E_IO, w->tmp, 0, NULL, "an earlier write failed, so "
				    "the trace was not saved; check the disk and write it again");
	if (!f)
		return 0;
	w->f = NULL;
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) {
		int saved = errno;

		fclose(f);
		w->failed = 1;
		return hs_error_set(err, HS_E_IO, w->tmp, 0, NULL, "cannot write the trace: %s",
				    strerror(saved));
	}
	if (fclose(f) != 0) {
		w->failed = 1;
		return hs_error_set(err, HS_E_IO, w->tmp, 0, NULL, "cannot close the trace: %s",
				    strerror(errno));
	}
	return 0;
}

int hs_trace_writer_sync(struct hs_trace_writer *w, struct hs_error *err)
{
	return writer_flush(w, err);
}

/* Flushes, syncs and closes the temporary file unless
 * hs_trace_writer_sync did, and renames it. */
static int writer_commit(struct hs_trace_writer *w, struct hs_error *err)
{
	int rc = writer_flush(w, err);

	if (rc)
		return rc;
	if (rename(w->tmp, w->path) != 0)
		return hs_error_set(err, HS_E_IO, w->path, 0, NULL, "cannot rename %s to the "
				    "trace: %s", w->tmp, strerror(errno));
	return 0;
}

int hs_trace_writer_close(struct hs_trace_writer *w, int commit, struct hs_error *err)
{
	int rc = 0;

	if (!w)
		return 0;
	if (commit)
		rc = writer_commit(w, err);
	if (w->f)
		fclose(w->f);
	if (!commit || rc < 0)
		unlink(w->tmp);
	free(w->order.threads.slots);
	free(w);
	return rc;
}
