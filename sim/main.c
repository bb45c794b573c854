/*
 * herdsim: a discrete-event simulator of foreign threads entering a
 * language runtime.  This file dispatches the command word.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cli.h"
#include "config.h"
#include "registry.h"

static const char usage[] =
	"usage: herdsim COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  run [SCENARIO] [options]   run a scenario under one or more policies\n"
	"  calibrate [options]        measure this machine; write the host profile\n"
	"  validate SCENARIO [opts]   compare native runs with simulated ones\n"
	"  list policies|os|scenarios list what is shipped\n"
	"  version                    print the version\n"
	"\n"
	"`herdsim run` with no arguments runs the cgocallbackgc scenario under every\n"
	"policy on the linux and freebsd profiles into results/herdsim.sqlite.\n"
	"`herdsim COMMAND --help` describes a command.\n";

int cli_error(const struct hs_error *err)
{
	char line[1200];

	hs_error_format(err, line, sizeof(line));
	fprintf(stderr, "herdsim: %s\n", line);
	return err->code == HS_E_USAGE ? CLI_USAGE : CLI_INPUT;
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("herdsim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_USAGE;
}

bool cli_parse_u64(const char *text, unsigned long long *v)
{
	char *end;

	if (!text || !*text || *text == '-' || *text == '+')
		return false;
	errno = 0;
	*v = strtoull(text, &end, 10);
	return errno == 0 && *end == '\0';
}

int cli_list(int argc, char **argv)
{
	const char *what = argc > 0 ? argv[0] : NULL;

	if (!what || strcmp(what, "--help") == 0 || argc > 1) {
		fputs("usage: herdsim list policies|os|scenarios\n", what ? stdout : stderr);
		return what && strcmp(what, "--help") == 0 ? CLI_OK : CLI_USAGE;
	}
	if (strcmp(what, "policies") == 0) {
		for (int i = 0; hs_policies[i]; i++)
			printf("%-12s %s\n", hs_policies[i]->name, hs_policies[i]->summary);
	} else if (strcmp(what, "os") == 0) {
		for (const char *const *n = hs_os_profile_names(); *n; n++)
			printf("%s\n", *n);
	} else if (strcmp(what, "scenarios") == 0) {
		for (const char *const *n = hs_scenario_names(); *n; n++)
			printf("%s\n", *n);
	} else {
		return cli_usage_error("unknown list '%s'; use policies, os or scenarios", what);
	}
	return CLI_OK;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		fputs(usage, stderr);
		return CLI_USAGE;
	}
	if (strcmp(cmd, "run") == 0)
		return cli_run(argc - 2, argv + 2);
	if (strcmp(cmd, "calibrate") == 0)
		return cli_calibrate(argc - 2, argv + 2);
	if (strcmp(cmd, "validate") == 0)
		return cli_validate(argc - 2, argv + 2);
	if (strcmp(cmd, "list") == 0)
		return cli_list(argc - 2, argv + 2);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("herdsim %s (%s)\n", HS_VERSION, HS_REVISION);
		return CLI_OK;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	fputs(usage, stderr);
	return cli_usage_error("unknown command '%s'", cmd);
}
