/*
 * Error reporting below the command line.
 *
 * Functions return 0 or a negative HS_E* code and fill a `struct hs_error`
 * with the context: the file, line and column, the key or value at fault,
 * and a message that says what is wrong and what to do.  They never print.
 * The front end turns one error into one line on standard error with
 * hs_error_format().
 */
#ifndef HERDSIM_ERROR_H
#define HERDSIM_ERROR_H

#include <stddef.h>

enum hs_error_code {
	HS_OK = 0,
	HS_E_USAGE = -1,     /* bad command line */
	HS_E_INPUT = -2,     /* bad scenario, profile or trace content */
	HS_E_NOTFOUND = -3,  /* missing file, policy or profile */
	HS_E_IO = -4,        /* read or write failed */
	HS_E_DB = -5,        /* SQLite reported an error */
	HS_E_NOMEM = -6,
	HS_E_MODEL = -7,     /* a run broke an invariant of the model */
	HS_E_VERSION = -8,   /* incompatible format, schema or ABI version */
};

struct hs_error {
	int code;
	char file[256]; /* empty if no file is involved */
	int line;       /* 1-based; 0 if unknown */
	int column;     /* 1-based; 0 if unknown */
	char key[128];  /* key, column or value at fault; may be empty */
	char msg[512];  /* what is wrong and what to do */
};

/* Fills err (if not NULL) and returns code.  printf-style message. */
int hs_error_set(struct hs_error *err, int code, const char *file, int line,
		 const char *key, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Writes "FILE:LINE:COLUMN: KEY: MESSAGE" (absent parts left out). */
void hs_error_format(const struct hs_error *err, char *buf, size_t size);

/* Name of a code: "invalid input", "not found", ... */
const char *hs_strerror(int code);

#endif /* HERDSIM_ERROR_H */
