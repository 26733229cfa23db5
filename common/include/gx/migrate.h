/* Schema migrations: the SQL files of common/sql/ compiled into the library, applied in order with blocking libpq.
 *
 * Each file NNNN_name.sql is one version (NNNN). `up` takes a PostgreSQL advisory lock (GX_MIGRATE_LOCK_KEY), so
 * concurrent runs (two Jobs, a Job and an operator) queue instead of colliding, then applies every file not yet
 * recorded, each in its own transaction together with its record in "_gx_migrations"(version, name, checksum,
 * appliedAt, durationMs, baseline). It refuses to run when an applied file's SHA-256 differs from the recorded one.
 * A database created by the original system's Prisma migration (table "OutboxCommand" exists, nothing recorded)
 * gets version 1 recorded as a baseline without running it; 0002 then adopts it.
 *
 * Daemons check the schema in /readyz without this module's blocking calls: run GX_MIGRATE_VERSION_SQL on their
 * own connection, turn the result into a version with gx_migrate_version_from_result() and compare it with
 * gx_migrate_expected_version() ("schema behind: at N, need M" when lower; a higher version is a newer
 * binary's schema and fine).
 *
 * Blocking: gx_migrate_up() and gx_migrate_status() block on the network; use them from tools and jobs, never
 * from an event loop.
 */
#ifndef GX_MIGRATE_H
#define GX_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <libpq-fe.h>

#include "gx/util.h"

/* Key of the session advisory lock held while migrating ("gxmigrat" in ASCII). Other advisory locks of the project
 * (projector leadership, ...) must use other keys. */
#define GX_MIGRATE_LOCK_KEY 7455829482586399092LL

/* One embedded migration file. All strings are static (valid for the life of the process). */
struct gx_migrate_file {
	int version;      /* NNNN of the file name, strictly increasing in the table */
	const char *name; /* file name, e.g. "0001_init.sql" */
	const char *sql;  /* file contents, NUL-terminated */
	size_t len;       /* strlen(sql) */
};

/* The table generated at build time from common/sql/ (see common/sql/embed.sh), ordered by version.
 * Use gx_migrate_files() rather than these directly. */
extern const struct gx_migrate_file gx_migrate_table[];
extern const size_t gx_migrate_table_len;

/* The embedded migrations in version order; *n receives their count. Static storage, never NULL. */
const struct gx_migrate_file *gx_migrate_files(size_t *n);

/* The highest embedded version: the schema version this binary needs. */
int gx_migrate_expected_version(void);

/* Query returning one row, one int column: the highest applied version. Fails with SQLSTATE 42P01 (undefined
 * table) on a database never migrated; gx_migrate_version_from_result() maps that to version 0. */
extern const char GX_MIGRATE_VERSION_SQL[];

/* Interpret the result of GX_MIGRATE_VERSION_SQL (borrowed; not cleared). Stores the applied version in *version
 * (0 when the database was never migrated) and returns 0; returns -1 for any other error or shape, logging it. */
int gx_migrate_version_from_result(const PGresult *res, int *version) GX_MUSTCHECK;

/* Lower-case hex SHA-256 of the file's contents into out (65 bytes with the NUL). */
void gx_migrate_checksum(const struct gx_migrate_file *f, char out[65]);

/* Apply every pending migration on conn (borrowed; must be connected, not inside a transaction). Holds the
 * advisory lock for the whole run and releases it before returning. Logs one info line per applied file and a
 * summary. *applied (may be NULL) receives the number of files applied by this call.
 * Returns 0, or -1 after logging the reason: connection or SQL failure (naming the file; its transaction is
 * rolled back and later files are not tried), or an applied file whose checksum changed (naming the file). */
int gx_migrate_up(PGconn *conn, int *applied) GX_MUSTCHECK;

/* Print to out one line per migration, embedded or recorded: version, name, applied time or "pending", and
 * checksum "ok" / "CHANGED" / "-" (pending) / "unknown" (recorded by a newer binary), then a summary line.
 * *pending and *changed (either may be NULL) receive the counts of pending and changed files.
 * Takes no lock and changes nothing. Returns 0, or -1 on a database error (logged). */
int gx_migrate_status(PGconn *conn, FILE *out, int *pending, int *changed) GX_MUSTCHECK;

#endif
