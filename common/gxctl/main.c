/* gxctl: operator command line for gx-backend. One row per verb in the table below; each verb has its own file. */
#include "gxctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx/log.h"
#include "gx/util.h"

static const struct gxctl_verb verbs[] = {
	{ "migrate", "apply or inspect schema migrations: migrate up | migrate status", gxctl_migrate },
	{ "seed", "insert reference data (ISO 3166-1 countries); safe to repeat", gxctl_seed },
	{ "create-super-admin", "create the first SUPER_ADMIN profile (password from stdin or a file)",
	  gxctl_create_super_admin },
	{ "commands", "outbox commands: list | show ID | requeue (FAILED -> PENDING, audited)", gxctl_commands },
	{ "projector", "projector rebuild: clear read models and replay the chain from block 0", gxctl_projector },
	{ "reconcile", "compare the read models with the ledger; --repair rebuilds the projection", gxctl_reconcile },
	{ "token", "token mint: access token for local development (refused in production)", gxctl_token },
	{ "partner-key", "partner API keys: create | revoke KEY_ID (break-glass, audited)", gxctl_partner_key },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: gxctl <verb> [args]   (gxctl <verb> --help for details)\n"
		"       gxctl --help | --version\n\nverbs:\n");
	for (size_t i = 0; i < GX_ARRAY_LEN(verbs); i++)
		fprintf(out, "  %-12s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(out,
		"\nexit codes: 0 ok, 1 operation failed, 2 usage or configuration error (reconcile: 3 differences,\n"
		"4 still in flight)\n"
		"logs: JSON lines on stdout; LOG_LEVEL=trace..fatal (default info)\n\n%s",
		GXCTL_DB_HELP);
}

int main(int argc, char **argv)
{
	const char *level = getenv("LOG_LEVEL");
	enum gx_log_level lv;

	gx_log_init("gxctl");
	if (level && *level) {
		if (gx_log_level_parse(level, &lv) < 0) {
			fprintf(stderr, "gxctl: bad LOG_LEVEL '%s' (trace, debug, info, warn, error, fatal)\n", level);
			return GXCTL_USAGE;
		}
		gx_log_set_level(lv);
	}
	if (argc < 2) {
		usage(stderr);
		return GXCTL_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return GXCTL_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("gxctl %s\n", GX_VERSION); /* the daemons' --version line (api_cfg.c) */
		return GXCTL_OK;
	}
	for (size_t i = 0; i < GX_ARRAY_LEN(verbs); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "gxctl: unknown verb '%s'\n\n", argv[1]);
	usage(stderr);
	return GXCTL_USAGE;
}
