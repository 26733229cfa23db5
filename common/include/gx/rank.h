/* The rank model (docs/security.md "Ranks"): SUPER_ADMIN > ADMIN > PARTNER_API = USER. Nobody changes, freezes,
 * demotes, decides on or resets an account of equal or higher rank than their own; their own account only where
 * the route allows it. Every route that touches another profile asks here, so the rule is written once.
 *
 * Pure functions on borrowed strings, safe from any thread; gx_rank_require replies on the request (and then the
 * caller must not touch it again). Nothing allocates; nothing logs (a refusal is the client's).
 */
#ifndef GX_RANK_H
#define GX_RANK_H

#include <stdbool.h>

struct gx_req;

/* 3 SUPER_ADMIN, 2 ADMIN, 1 PARTNER_API or USER, 0 anything else (NULL included). */
int gx_rank_of(const char *role);

enum gx_rank_verdict {
	GX_RANK_OK,      /* actor outranks target, or acts on itself where that is allowed */
	GX_RANK_SELF,    /* actor is target and the route does not allow it */
	GX_RANK_TOO_LOW, /* target's rank is equal to or above the actor's */
};

/* May the actor (actor_role, actor_id) act on the target (target_role, target_id)? self_ok: the route allows an
 * account to act on itself. An unknown target role counts as the highest rank (refused). */
enum gx_rank_verdict gx_rank_judge(const char *actor_role, const char *actor_id, const char *target_role,
				   const char *target_id, bool self_ok);

/* The roles strictly below role, as a PostgreSQL text[] literal ("{ADMIN,PARTNER_API,USER}" for SUPER_ADMIN, "{}"
 * for USER): a guard for UPDATE ... WHERE "role"::text = ANY($n::text[]), so the rank is checked by the statement
 * that makes the change. Static storage. */
const char *gx_rank_below(const char *role);

/* Judge the caller of req against the target. On a refusal replies 403 SELF_ACTION ("you cannot <what> your own
 * account") or 403 RANK_TOO_LOW ("an ADMIN cannot <what> an account of rank ADMIN") and returns -1; returns 0 when
 * the caller may act. what: a verb phrase such as "freeze the wallet of". A request without claims is refused. */
int gx_rank_require(struct gx_req *req, const char *target_id, const char *target_role, bool self_ok, const char *what);

#endif
