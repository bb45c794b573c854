#include "backend.h"

#include <string.h>

static const struct hs_backend *const backends[] = {
	&hs_backend_sim,
	&hs_backend_native,
	NULL,
};

const struct hs_backend *hs_backend_find(const char *name)
{
	for (int i = 0; backends[i]; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}
