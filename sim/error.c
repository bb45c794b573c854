#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int hs_error_set(struct hs_error *err, int code, const char *file, int line,
		 const char *key, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	memset(err, 0, sizeof(*err));
	err->code = code;
	err->line = line;
	if (file)
		snprintf(err->file, sizeof(err->file), "%s", file);
	if (key)
		snprintf(err->key, sizeof(err->key), "%s", key);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void hs_error_format(const struct hs_error *err, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	if (err->file[0]) {
		n += snprintf(buf + n, size - n, "%s:", err->file);
		if (n < size && err->line > 0)
			n += snprintf(buf + n, size - n, "%d:", err->line);
		if (n < size && err->line > 0 && err->column > 0)
			n += snprintf(buf + n, size - n, "%d:", err->column);
		if (n < size)
			n += snprintf(buf + n, size - n, " ");
	}
	if (n < size && err->key[0])
		n += snprintf(buf + n, size - n, "%s: ", err->key);
	if (n < size)
		snprintf(buf + n, size - n, "%s", err->msg[0] ? err->msg : hs_strerror(err->code));
}

const char *hs_strerror(int code)
{
	switch (code) {
	case HS_OK: return "success";
	case HS_E_USAGE: return "invalid usage";
	case HS_E_INPUT: return "invalid input";
	case HS_E_NOTFOUND: return "not found";
	case HS_E_IO: return "input/output error";
	case HS_E_DB: return "database error";
	case HS_E_NOMEM: return "out of memory";
	case HS_E_MODEL: return "model invariant broken";
	case HS_E_VERSION: return "incompatible version";
	}
	return "unknown error";
}
