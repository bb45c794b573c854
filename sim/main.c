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
#include "report.h"
#include "revision.h" /* generated in the build directory */

static const char usage[] =
	"usage: herdsim COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  run [SCENARIO] [options]   run a scenario under one or more policies\n"
	"  sweep SCENARIO --vary K=V... run a parameter sweep into one experiment\n"
	"  merge OUT IN...            join the databases of sweep shards\n"
	"  replay TRACE.csv [options] run the callbacks of a trace instead of a scenario's\n"
	"  trace gen [options]        write a synthetic trace\n"
	"  export DB --run ID --format perfetto|csv [--out PATH]\n"
	"                             write one recorded run for ui.perfetto.dev or as CSV\n"
	"  check-policy NAME|PATH.so  run the conformance suite on a policy\n"
	"  calibrate [options]        measure this machine; write the host profile\n"
	"  validate SCENARIO [opts]   compare native runs with simulated ones\n"
	"  list policies|os|scenarios list what is shipped\n"
	"  report DB [options]        write tables and figures of an experiment\n"
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

bool cli_parse_scale(const char *text, double *out)
{
	char *end;
	double scale;

	if (!text || !*text || text[strspn(text, "0123456789.eE+-")] != '\0')
		return false;
	errno = 0;
	scale = strtod(text, &end);
	if (errno || *end || end == text || !(scale > 0 && scale <= 100))
		return false;
	*out = scale;
	return true;
}

const char *cli_option(int argc, char **argv, int *i, const char *name, bool *missing)
{
	size_t n = strlen(name);

	*missing = false;
	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
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
	const char *kind = argc > 0 ? argv[0] : NULL;

	if (!kind || strcmp(kind, "--help") == 0 || argc > 1) {
		fputs("usage: herdsim list policies|os|scenarios\n", kind ? stdout : stderr);
		return kind && strcmp(kind, "--help") == 0 ? CLI_OK : CLI_USAGE;
	}
	if (strcmp(kind, "policies") == 0) {
		for (int i = 0; hs_policies[i]; i++)
			printf("%-12s %s\n", hs_policies[i]->name, hs_policies[i]->summary);
	} else if (strcmp(kind, "os") == 0) {
		for (const char *const *n = hs_os_profile_names(); *n; n++)
			printf("%s\n", *n);
	} else if (strcmp(kind, "scenarios") == 0) {
		for (const char *const *n = hs_scenario_names(); *n; n++)
			printf("%s\n", *n);
	} else {
		return cli_usage_error("unknown list '%s'; use policies, os or scenarios", kind);
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
	if (strcmp(cmd, "report") == 0)
		return cli_report(argc - 2, argv + 2);
	if (strcmp(cmd, "sweep") == 0)
		return cli_sweep(argc - 2, argv + 2);
	if (strcmp(cmd, "merge") == 0)
		return cli_merge(argc - 2, argv + 2);
	if (strcmp(cmd, "replay") == 0)
		return cli_replay(argc - 2, argv + 2);
	if (strcmp(cmd, "trace") == 0)
		return cli_trace(argc - 2, argv + 2);
	if (strcmp(cmd, "export") == 0)
		return cli_export(argc - 2, argv + 2);
	if (strcmp(cmd, "check-policy") == 0)
		return cli_check_policy(argc - 2, argv + 2);
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
	return cli_usage_error("unknown command '%s'; `herdsim --help` lists the commands", cmd);
}
