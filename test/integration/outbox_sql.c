/* Integration-test helper: prints the SQL text of one of the outbox store's worker statements, so
 * test/integration/test_submitter_recovery.py can run exactly what the submitter and the projector run (PREPARE it
 * in psql) and watch the row locks it takes.
 *   outbox_sql <name>     a submitter statement by its prepared name (sub_commit, sub_renew, ...), or prj_outbox
 *                         for the projector's PROJECTED mark
 * Exit status 2 for an unknown name. */
#include <stdio.h>
#include <string.h>

#include "gx/outbox_store.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: outbox_sql <statement name>\n");
		return 2;
	}
	if (strcmp(argv[1], "prj_outbox") == 0) {
		fputs(gx_outbox_store_sql_projected, stdout);
		return 0;
	}
	for (size_t i = 0; i < GX_OUTBOX_STORE_NSUB; i++) {
		if (strcmp(gx_outbox_store_sub_stmts[i].name, argv[1]) == 0) {
			fputs(gx_outbox_store_sub_stmts[i].sql, stdout);
			return 0;
		}
	}
	fprintf(stderr, "outbox_sql: no statement %s\n", argv[1]);
	return 2;
}
