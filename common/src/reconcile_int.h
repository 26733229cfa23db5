/* Internals of the reconciliation (gx/reconcile.h): the entity table, one side's sorted records, the readers of
 * both sides (reconcile_read.c) and the pacing that bounds peer and database load. */
#ifndef GX_RECONCILE_INT_H
#define GX_RECONCILE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "gx/fabric_client.h"
#include "gx/reconcile.h"

#define RC_MAXF 5

/* One compared field: its report name, the value a side without the record has (NULL: none), and whether it is
 * compared only when both sides have a value (a derived figure that not every record carries). */
struct rc_field {
	const char *name;
	const char *absent;
	bool optional;
};

/* One entity kind. */
struct rc_kind {
	const char *entity;  /* report name */
	const char *list_fn; /* paged read (pageSize, bookmark); NULL: parameters from GetSystemStatus */
	const char *get_fn;  /* point read by key */
	int nfields;
	struct rc_field fields[RC_MAXF];
	/* Values of a ledger record (malloc'd strings or NULL); returns its key (borrowed from rec) or NULL to skip. */
	const char *(*ledger)(const cJSON *rec, char **vals);
	/* Read-model rows: columns k, then one text column per field; $1 tenant; wrapped for paging and point reads. */
	const char *sql;
	bool ledger_keys_only; /* records only the read model has are not compared (parameters: off-chain rows) */
};

extern const struct rc_kind rc_kinds[];
extern const size_t rc_nkinds;

/* One record of one side. */
struct rc_rec {
	char *key;
	char *vals[RC_MAXF];
};

struct rc_set {
	struct rc_rec *v;
	size_t n, cap;
};

void rc_set_add(struct rc_set *s, const char *key, char **vals, int nvals); /* takes the vals */
void rc_set_release(struct rc_set *s);

/* Spacing of calls: at most rate per second (<= 0: no limit). */
struct rc_pace {
	double rate;
	int64_t next_us;
};
void rc_pace_wait(struct rc_pace *p);

/* The run's state shared by the readers. */
struct rc_run {
	PGconn *conn;
	struct gx_fabric_client *fc;
	const struct gx_reconcile_opts *o;
	struct rc_pace peer, db;
	long ledger_calls, db_pages;
	char *err;
	size_t errlen;
};

/* All records of kind k from the ledger (paged, sorted by key in byte order). 0, or -1 with r->err set. */
int rc_read_ledger(struct rc_run *r, const struct rc_kind *k, struct rc_set *out);
/* All records of kind k from the read models in the open snapshot transaction (paged by key). 0 or -1. */
int rc_read_db(struct rc_run *r, const struct rc_kind *k, struct rc_set *out);
/* Point reads of one key: *found false when the side has no such record; vals filled (malloc'd) when found.
 * 0, or -1 with r->err set. */
int rc_get_ledger(struct rc_run *r, const struct rc_kind *k, const char *key, bool *found, char **vals);
int rc_get_db(struct rc_run *r, const struct rc_kind *k, const char *key, bool *found, char **vals);
/* Newest "EventLog" block whose payload names key, or -1 when none (or on error). */
long long rc_last_block(struct rc_run *r, const char *key);
/* The projector checkpoint of the tenant (largest lastBlock), -1 when none; -2 on error (r->err set). */
long long rc_checkpoint(struct rc_run *r);

#endif
