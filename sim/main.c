/* Command-line front end; the full one replaces this placeholder. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "herdsim: not built yet\n");
	return 2;
}
