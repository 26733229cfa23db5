/* The rank model: who may act on whose account (see gx/rank.h). */
#include "gx/rank.h"

#include <string.h>

#include "gx/http.h"
#include "gx/jwt.h"

int gx_rank_of(const char *role)
{
	if (!role)
		return 0;
	if (strcmp(role, "SUPER_ADMIN") == 0)
		return 3;
	if (strcmp(role, "ADMIN") == 0)
		return 2;
	if (strcmp(role, "PARTNER_API") == 0 || strcmp(role, "USER") == 0)
		return 1;
	return 0;
}

enum gx_rank_verdict gx_rank_judge(const char *actor_role, const char *actor_id, const char *target_role,
				   const char *target_id, bool self_ok)
{
	int target = gx_rank_of(target_role);

	if (actor_id && target_id && strcmp(actor_id, target_id) == 0)
		return self_ok ? GX_RANK_OK : GX_RANK_SELF;
	if (target == 0)
		target = 4;
	return gx_rank_of(actor_role) > target ? GX_RANK_OK : GX_RANK_TOO_LOW;
}

const char *gx_rank_below(const char *role)
{
	switch (gx_rank_of(role)) {
	case 3:
		return "{ADMIN,PARTNER_API,USER}";
	case 2:
		return "{PARTNER_API,USER}";
	default:
		return "{}";
	}
}

int gx_rank_require(struct gx_req *req, const char *target_id, const char *target_role, bool self_ok, const char *what)
{
	const struct gx_jwt_claims *c = gx_req_claims(req);

	if (!c) {
		gx_reply_error(req, 403, "FORBIDDEN", "this action needs an access token");
		return -1;
	}
	switch (gx_rank_judge(c->role, c->sub, target_role, target_id, self_ok)) {
	case GX_RANK_OK:
		return 0;
	case GX_RANK_SELF:
		gx_reply_error(req, 403, "SELF_ACTION", "you cannot %s your own account", what);
		return -1;
	case GX_RANK_TOO_LOW:
		break;
	}
	gx_reply_error(req, 403, "RANK_TOO_LOW", "an account of rank %s cannot %s an account of rank %s", c->role, what,
		       target_role && gx_rank_of(target_role) ? target_role : "unknown");
	return -1;
}
