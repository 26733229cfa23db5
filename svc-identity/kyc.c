/* KYC evidence: POST /api/v1/users/{id}/kyc records a submission (hash, size and MIME type of evidence stored
 * elsewhere; one PENDING at a time, none after an APPROVED one), answered 201 {"kycRecord": ...}; GET returns the
 * newest as {"kycStatus": ...}, null when there is none (the original's shapes, our flat keys beside them).
 * Self, or an admin of higher rank. POST /api/v1/users/{id}/kyc/{kycId}/review (ADMIN) decides on a PENDING record:
 * APPROVED or REJECTED, by an admin of higher rank who is neither the profile nor the submitter, audited.
 * Off chain: direct writes.
 */
#include "identity.h"

#include "gx/pg.h"
#include "gx/jwt.h"
#include "gx/rand.h"
#include "gx/rank.h"
#include "gx/svc.h"
#include "gx/util.h"
#include "gx/valid.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KYC_COLS \
	"\"kycId\", \"profileId\", \"status\"::text AS \"status\", \"evidenceHash\", \"evidenceSize\", \"evidenceMime\"," \
	" " GX_SQL_ISO_TS("\"verifiedAt\"") " AS \"verifiedAt\", \"verifierDetails\","                                   \
	" " GX_SQL_ISO_TS("\"createdAt\"") " AS \"createdAt\", " GX_SQL_ISO_TS("\"updatedAt\"") " AS \"updatedAt\""

/* $1 kycId, $2 profileId, $3 hash, $4 size, $5 mime, $6 tenant, $7 caller, $8 the roles below the caller's. One
 * statement: the profile must exist, be the caller's own or of lower rank, and have no approved KYC; the partial
 * unique index keeps one PENDING per profile. */
static const char SQL_SUBMIT[] =
	"WITH t AS (SELECT \"profileId\", \"role\"::text AS \"role\" FROM \"UserProfile\" WHERE \"profileId\" = $2"
	"  AND \"tenantId\" = $6 AND \"deletedAt\" IS NULL),"
	" p AS (SELECT \"profileId\" FROM t WHERE \"profileId\" = $7 OR \"role\" = ANY($8::text[])),"
	" a AS (SELECT EXISTS (SELECT 1 FROM \"KYCVerification\" WHERE \"profileId\" = $2 AND \"status\" = 'APPROVED')"
	"  AS \"approved\"),"
	" ins AS (INSERT INTO \"KYCVerification\" (\"kycId\", \"profileId\", \"status\", \"evidenceHash\","
	"  \"evidenceSize\", \"evidenceMime\", \"submittedBy\") SELECT $1, p.\"profileId\", 'PENDING', $3, $4::int, $5, $7"
	"  FROM p, a WHERE NOT a.\"approved\" RETURNING " KYC_COLS
	")"
	" SELECT (SELECT count(*) FROM t) AS \"found\", (SELECT \"role\" FROM t) AS \"targetRole\","
	" (SELECT count(*) FROM p) AS \"allowed\", (SELECT \"approved\" FROM a) AS \"approved\", ins.*"
	" FROM (SELECT 1) AS one LEFT JOIN ins ON true";

static const char SQL_NEWEST[] =
	"SELECT " KYC_COLS
	" FROM \"KYCVerification\" WHERE \"profileId\" = $1 AND \"profileId\" IN"
	" (SELECT \"profileId\" FROM \"UserProfile\" WHERE \"profileId\" = $1 AND \"tenantId\" = $2)"
	" ORDER BY \"createdAt\" DESC, \"kycId\" DESC LIMIT 1";

/* $1 kycId, $2 profileId, $3 tenant, $4 decision, $5 reason (may be NULL), $6 caller, $7 the roles below the
 * caller's, $8 caller's role, $9 request id, $10 client address. One statement: the decision is written only when
 * every rule holds (PENDING, not the caller's own profile, not submitted by the caller, profile of lower rank), with
 * its audit row; k tells which rule failed otherwise. */
static const char SQL_REVIEW[] =
	"WITH k AS (SELECT k.\"kycId\" AS kid, k.\"status\"::text AS kstatus, k.\"submittedBy\" AS ksub,"
	"  p.\"role\"::text AS krole FROM \"KYCVerification\" k JOIN \"UserProfile\" p ON p.\"profileId\" = k.\"profileId\""
	"  WHERE k.\"kycId\" = $1 AND k.\"profileId\" = $2 AND p.\"tenantId\" = $3 AND p.\"deletedAt\" IS NULL"
	"  FOR UPDATE OF k),"
	" u AS (UPDATE \"KYCVerification\" SET \"status\" = $4::\"KycStatus\", \"verifiedAt\" = now(),"
	"  \"verifierDetails\" = jsonb_build_object('reviewerId', $6::text, 'decision', $4::text, 'reason', $5::text)::text,"
	"  \"reviewedBy\" = $6, \"updatedAt\" = now() FROM k WHERE \"kycId\" = k.kid AND k.kstatus = 'PENDING'"
	"  AND $2 <> $6 AND COALESCE(k.ksub, '') <> $6 AND k.krole = ANY($7::text[]) RETURNING " KYC_COLS
	"),"
	" a AS (INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\","
	"  \"targetId\", \"details\", \"requestId\", \"ipAddress\") SELECT $3, $6, $8, 'KYC_REVIEW', 'USER', $2,"
	"  jsonb_build_object('kycId', $1::text, 'decision', $4::text, 'reason', $5::text), $9, $10 FROM u)"
	" SELECT k.kstatus, k.ksub, k.krole, u.* FROM (SELECT 1) AS one LEFT JOIN k ON true LEFT JOIN u ON true";

static const char PENDING_KEY[] = "KYCVerification_profileId_pending_key";

#define MAX_EVIDENCE_SIZE 10485760

static const char *const kyc_mimes[] = { "image/jpeg", "image/png", "application/pdf", NULL };

static cJSON *kyc_json(const PGresult *res)
{
	static const char *const nullable[] = { "evidenceHash", "evidenceMime", "verifiedAt", "verifierDetails" };
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "kycId", gx_pg_val(res, 0, "kycId"));
	cJSON_AddStringToObject(o, "profileId", gx_pg_val(res, 0, "profileId"));
	cJSON_AddStringToObject(o, "status", gx_pg_val(res, 0, "status"));
	for (size_t i = 0; i < GX_ARRAY_LEN(nullable); i++) {
		if (gx_pg_isnull(res, 0, nullable[i]))
			cJSON_AddNullToObject(o, nullable[i]);
		else
			cJSON_AddStringToObject(o, nullable[i], gx_pg_val(res, 0, nullable[i]));
	}
	if (gx_pg_isnull(res, 0, "evidenceSize"))
		cJSON_AddNullToObject(o, "evidenceSize");
	else
		cJSON_AddNumberToObject(o, "evidenceSize",
					(double)strtoll(gx_pg_val(res, 0, "evidenceSize"), NULL, 10));
	cJSON_AddStringToObject(o, "createdAt", gx_pg_val(res, 0, "createdAt"));
	cJSON_AddStringToObject(o, "updatedAt", gx_pg_val(res, 0, "updatedAt"));
	return o;
}

/* Self or admin (403 with the original's text, forbidden). Returns the id or NULL after replying. */
static const char *kyc_profile(struct gx_req *req, const char *forbidden)
{
	const char *id = gx_req_param(req, "id");

	if (!id || !gx_req_may_access(req, id)) {
		gx_reply_error(req, 403, "FORBIDDEN", "%s", forbidden);
		return NULL;
	}
	return id;
}

static void on_submitted(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;

	if (err) {
		if (err->kind == GX_PG_ERR_QUERY && strcmp(err->sqlstate, "23505") == 0 &&
		    strcmp(err->constraint, PENDING_KEY) == 0) {
			gx_reply_error(req, 409, "KYC_PENDING", "a KYC submission is already pending review");
			return;
		}
		gx_reply_pg_error(req, err);
		return;
	}
	if (PQntuples(res) != 1 || strcmp(gx_pg_val(res, 0, "found"), "0") == 0) {
		gx_reply_error(req, 404, "NOT_FOUND", "User not found");
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "allowed"), "0") == 0) {
		gx_rank_require(req, gx_req_param(req, "id"), gx_pg_val(res, 0, "targetRole"), true, "submit KYC for");
		return;
	}
	if (strcmp(gx_pg_val(res, 0, "approved"), "t") == 0) {
		gx_reply_error(req, 409, "KYC_ALREADY_APPROVED", "KYC already approved");
		return;
	}
	gx_reply_json(req, 201, idy_wrap("kycRecord", kyc_json(res)));
}

void idy_kyc_submit(struct gx_req *req)
{
	const char *id = kyc_profile(req, "You can only submit KYC for your own account");
	const cJSON *body;
	const struct gx_jwt_claims *c;
	const char *hash, *mime, *p[8];
	char kyc_id[37], lhash[65], size_s[24];
	long long size;
	struct gx_verr *v;

	if (!id)
		return;
	c = gx_req_claims(req);
	body = gx_req_body(req);
	if (!idy_truthy(body, "evidenceHash") || !idy_truthy(body, "evidenceSize") ||
	    !idy_truthy(body, "evidenceMime")) {
		gx_reply_error(req, 400, "VALIDATION_FAILED", "Evidence hash, size, and MIME type are required");
		return;
	}
	if (!gx_uuid_valid(id)) {
		gx_reply_error(req, 404, "NOT_FOUND", "User not found");
		return;
	}
	v = gx_verr_new();
	hash = gx_valid_str(body, "evidenceHash", true, 64, 64, v);
	if (hash && !gx_valid_hex64(hash))
		gx_verr_add(v, "evidenceHash", "must be 64 hex digits (SHA-256 of the evidence)");
	size = gx_valid_int(body, "evidenceSize", true, 1, MAX_EVIDENCE_SIZE, 0, v);
	mime = gx_valid_str(body, "evidenceMime", true, 1, 64, v);
	if (mime && !gx_valid_enum(mime, kyc_mimes))
		gx_verr_add(v, "evidenceMime", "must be one of image/jpeg, image/png, application/pdf");
	if (gx_svc_invalid(req, v))
		return;
	if (gx_uuid_v4(kyc_id) < 0) {
		gx_reply_error(req, 500, "INTERNAL", "cannot generate an id");
		return;
	}
	for (size_t i = 0; i < 64; i++)
		lhash[i] = (char)tolower((unsigned char)hash[i]);
	lhash[64] = '\0';
	snprintf(size_s, sizeof(size_s), "%lld", size);
	p[0] = kyc_id;
	p[1] = id;
	p[2] = lhash;
	p[3] = size_s;
	p[4] = mime;
	p[5] = gx_req_tenant(req);
	p[6] = c->sub;
	p[7] = gx_rank_below(c->role);
	if (gx_pg_query(gx_req_pg(req), SQL_SUBMIT, 8, p, on_submitted, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the KYC query");
}

/* 200 {"kycStatus": null}: no submission (the original never answered 404 here). */
static void reply_no_kyc(struct gx_req *req)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNullToObject(o, "kycStatus");
	gx_reply_json(req, 200, o);
}

static void on_newest(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (PQntuples(res) != 1) {
		reply_no_kyc(req);
		return;
	}
	gx_reply_json(req, 200, idy_wrap("kycStatus", kyc_json(res)));
}

void idy_kyc_get(struct gx_req *req)
{
	const char *id = kyc_profile(req, "You can only view your own KYC status");
	const char *p[2];

	if (!id)
		return;
	if (!gx_uuid_valid(id)) { /* no such profile: no record, as the original answered */
		reply_no_kyc(req);
		return;
	}
	p[0] = id;
	p[1] = gx_req_tenant(req);
	if (gx_pg_query(gx_req_pg(req), SQL_NEWEST, 2, p, on_newest, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the KYC query");
}

/* ---- POST /api/v1/users/{id}/kyc/{kycId}/review ---------------------------------------------------------- */

static const char *const kyc_decisions[] = { "APPROVED", "REJECTED", NULL };

/* The decision was not written: say which rule stopped it, in the order the rules are documented. */
static void reply_not_reviewed(struct gx_req *req, const PGresult *res)
{
	const struct gx_jwt_claims *c = gx_req_claims(req);
	const char *id = gx_req_param(req, "id");

	if (gx_pg_isnull(res, 0, "kstatus")) {
		gx_reply_error(req, 404, "NOT_FOUND", "KYC record not found");
		return;
	}
	if (strcmp(id, c->sub) == 0) {
		gx_reply_error(req, 403, "SELF_APPROVAL", "you cannot decide on your own KYC");
		return;
	}
	if (!gx_pg_isnull(res, 0, "ksub") && strcmp(gx_pg_val(res, 0, "ksub"), c->sub) == 0) {
		gx_reply_error(req, 403, "SELF_APPROVAL", "you submitted this KYC record: another admin decides on it");
		return;
	}
	if (gx_rank_require(req, id, gx_pg_val(res, 0, "krole"), false, "decide on the KYC of") < 0)
		return;
	gx_reply_error(req, 409, "KYC_NOT_PENDING", "this KYC record is already %s", gx_pg_val(res, 0, "kstatus"));
}

static void on_reviewed(PGresult *res, const struct gx_pg_error *err, void *arg)
{
	struct gx_req *req = arg;

	if (err) {
		gx_reply_pg_error(req, err);
		return;
	}
	if (PQntuples(res) != 1 || gx_pg_isnull(res, 0, "kycId")) {
		reply_not_reviewed(req, res);
		return;
	}
	gx_reply_json(req, 200, idy_wrap("kycRecord", kyc_json(res)));
}

void idy_kyc_review(struct gx_req *req)
{
	const struct gx_jwt_claims *c = gx_req_claims(req);
	const cJSON *body = gx_req_body(req);
	const char *id = gx_req_param(req, "id"), *kyc_id = gx_req_param(req, "kycId");
	const char *decision, *reason, *p[10];
	struct gx_verr *v;

	if (!id || !kyc_id || !gx_uuid_valid(id) || !gx_uuid_valid(kyc_id)) {
		gx_reply_error(req, 404, "NOT_FOUND", "KYC record not found");
		return;
	}
	v = gx_verr_new();
	decision = gx_valid_str(body, "decision", true, 1, 16, v);
	if (decision && !gx_valid_enum(decision, kyc_decisions))
		gx_verr_add(v, "decision", "must be APPROVED or REJECTED");
	reason = gx_valid_str(body, "reason", false, 1, 500, v);
	if (decision && strcmp(decision, "REJECTED") == 0 && !reason)
		gx_verr_add(v, "reason", "is required when rejecting");
	if (gx_svc_invalid(req, v))
		return;
	p[0] = kyc_id;
	p[1] = id;
	p[2] = gx_req_tenant(req);
	p[3] = decision;
	p[4] = reason;
	p[5] = c->sub;
	p[6] = gx_rank_below(c->role);
	p[7] = c->role;
	p[8] = gx_req_id(req);
	p[9] = gx_req_client_ip(req);
	if (gx_pg_query(gx_req_pg(req), SQL_REVIEW, 10, p, on_reviewed, req) < 0)
		gx_reply_error(req, 500, "INTERNAL", "cannot start the KYC review");
}
