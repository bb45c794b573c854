#include "embedded.h"

#include <string.h>

const char *hs_embedded_find(const char *path)
{
	for (const struct hs_embedded_file *f = hs_embedded_files; f->path; f++)
		if (strcmp(f->path, path) == 0)
			return f->content;
	return NULL;
}
