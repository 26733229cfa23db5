/* Table-driven configuration from environment variables (design.md §8).
 *
 * Each daemon declares one table of struct gx_cfg_key rows next to its struct <svc>_cfg, one row per variable,
 * and loads it once at startup:
 *
 *   struct idy_cfg { long long port; char *jwt_secret; long long req_timeout_ms; bool trust_proxy; char *log; };
 *   static const struct gx_cfg_key idy_keys[] = {
 *     { "PORT", GX_CFG_INT, "3001", 1, 65535, offsetof(struct idy_cfg, port), 0, NULL, "HTTP listen port" },
 *     { "JWT_SECRET", GX_CFG_STR, NULL, 32, 0, offsetof(struct idy_cfg, jwt_secret),
 *       GX_CFG_REQUIRED | GX_CFG_SECRET, NULL, "HS256 key, at least 32 bytes" },
 *     { "LOG_LEVEL", GX_CFG_ENUM, "info", 0, 0, offsetof(struct idy_cfg, log), 0,
 *       "trace|debug|info|warn|error|fatal", "log threshold" },
 *   };
 *   gx_cfg_load_or_exit(idy_keys, GX_ARRAY_LEN(idy_keys), &cfg, "svc-identity");
 *
 * The table is also the documentation: --help prints it (gx_cfg_print_help). The loaded struct is read-only after
 * startup. An unset variable and one set to the empty string are the same ("unset").
 */
#ifndef GX_CFG_H
#define GX_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "gx/util.h"

enum gx_cfg_type {
	GX_CFG_STR,  /* char *, owned by the struct; min/max bound its length in bytes when max > 0 or min > 0 */
	GX_CFG_INT,  /* long long, decimal, within [min, max] */
	GX_CFG_BOOL, /* bool: true/false, 1/0, yes/no, on/off (any case) */
	GX_CFG_MS,   /* long long milliseconds: "500ms", "5s", "2m", "1h", or a plain number of ms; within [min, max] */
	GX_CFG_ENUM, /* char *, owned by the struct: one of choices "a|b|c" (matched case-insensitively, stored as
			spelled in choices) */
};

enum gx_cfg_flags {
	GX_CFG_REQUIRED = 1 << 0, /* no default: must be set */
	GX_CFG_SECRET = 1 << 1,   /* value never logged or echoed in errors ("***") */
};

struct gx_cfg_key {
	const char *name; /* environment variable */
	enum gx_cfg_type type;
	const char *def;     /* default as it would be written in the environment; NULL = none */
	long long min, max;  /* INT/MS range (ignored when min == max == 0); STR length bounds */
	size_t offset;       /* offsetof(struct <svc>_cfg, field) */
	unsigned flags;      /* enum gx_cfg_flags */
	const char *choices; /* ENUM only: "a|b|c" */
	const char *help;    /* one line for --help */
};

/* Read every row of keys (borrowed, n rows) from the environment into dst (the caller's struct; every field named
 * by the table is overwritten, so it need not be initialised). Unset rows take their default; STR/ENUM fields
 * without a value become "" (never NULL). Every row is validated; ALL problems are collected into err (errlen
 * bytes, truncated if needed) as one line: "invalid configuration: PORT='abc' is not an integer; JWT_SECRET is
 * required". Values of SECRET rows are never echoed. Returns 0, or -1 with err set and every string field
 * already freed and NULL (gx_cfg_free is then a no-op). Does not log. */
int gx_cfg_load(const struct gx_cfg_key *keys, size_t n, void *dst, char *err, size_t errlen) GX_MUSTCHECK;

/* gx_cfg_load for daemon startup: on error log err as one fatal line and exit(2); on success log the effective
 * configuration as one info line ("<service> configuration") with every row as a field, SECRET ones as "***". */
void gx_cfg_load_or_exit(const struct gx_cfg_key *keys, size_t n, void *dst, const char *service);

/* Print the table (name, type with range or choices, default, required, secret, help) to f, for --help. */
void gx_cfg_print_help(FILE *f, const struct gx_cfg_key *keys, size_t n, const char *service);

/* Free the STR/ENUM fields of dst loaded by gx_cfg_load and set them to NULL. */
void gx_cfg_free(const struct gx_cfg_key *keys, size_t n, void *dst);

/* libpq connection string for the database (design.md §2), from, in order:
 *   - DATABASE_URL: postgres:// or postgresql:// (any case)[user[:password]@][host|[v6]][:port][,host[:port]...]
 *     [/dbname][?params], parsed by libpq's PQconninfoParse: percent-decoding of every part (so passwords may
 *     contain '/', '=', '@', ':' when encoded; a raw '@' or ':' in the password also works), a host list gives
 *     host='h1,h2' port='p1,p2' (an empty element: that host's default). Every port must be 1..65535. Params:
 *     sslmode, application_name, connect_timeout, options, target_session_attrs, sslrootcert, sslcert, sslkey
 *     (names as written, not percent-encoded); Prisma's schema=public, connection_limit and pool_timeout are
 *     accepted and ignored (another schema is refused); any other, including host, user or password, is refused.
 *     The keywords come out in the order user, password, host, port, dbname, then the params in the order above;
 *   - DATABASE_HOST / DATABASE_PORT / DATABASE_NAME / DATABASE_USER / DATABASE_PASSWORD (any subset);
 *   - nothing: returns "" and libpq uses its own PG* variables.
 * Values are single-quoted with ' and \ escaped: "host='db' port='5432' dbname='gx_protocol' user='gx'
 * password='p\'w'". Returns a string the caller owns (free with free()), or NULL with a reason in err (errlen
 * bytes) that never contains the password. Does not log. */
char *gx_cfg_pg_conninfo(char *err, size_t errlen);

/* A copy of conninfo (borrowed; keyword=value or URI form) fit for logs: every value shown, password as '***'.
 * An unparseable string yields "(invalid conninfo)". Caller owns the result (free with free()). */
char *gx_cfg_conninfo_masked(const char *conninfo);

#endif
