/* Unit tests for gx/rank.h: the order of the roles, self actions, unknown roles and the SQL guard lists. */
#include "gx/rank.h"
#include "gx_test.h"

GX_TEST(order_of_roles)
{
	GX_CHECK(gx_rank_of("SUPER_ADMIN") > gx_rank_of("ADMIN"));
	GX_CHECK(gx_rank_of("ADMIN") > gx_rank_of("USER"));
	GX_CHECK(gx_rank_of("USER") == gx_rank_of("PARTNER_API"));
	GX_CHECK(gx_rank_of("root") == 0 && gx_rank_of(NULL) == 0 && gx_rank_of("admin") == 0);
}

GX_TEST(higher_acts_on_lower_only)
{
	GX_CHECK(gx_rank_judge("SUPER_ADMIN", "a", "ADMIN", "b", false) == GX_RANK_OK);
	GX_CHECK(gx_rank_judge("ADMIN", "a", "USER", "b", false) == GX_RANK_OK);
	GX_CHECK(gx_rank_judge("ADMIN", "a", "PARTNER_API", "b", false) == GX_RANK_OK);
	GX_CHECK(gx_rank_judge("ADMIN", "a", "ADMIN", "b", true) == GX_RANK_TOO_LOW);
	GX_CHECK(gx_rank_judge("ADMIN", "a", "SUPER_ADMIN", "b", true) == GX_RANK_TOO_LOW);
	GX_CHECK(gx_rank_judge("SUPER_ADMIN", "a", "SUPER_ADMIN", "b", true) == GX_RANK_TOO_LOW);
	GX_CHECK(gx_rank_judge("USER", "a", "USER", "b", true) == GX_RANK_TOO_LOW);
	GX_CHECK(gx_rank_judge("PARTNER_API", "a", "USER", "b", true) == GX_RANK_TOO_LOW);
}

GX_TEST(self_only_where_allowed)
{
	GX_CHECK(gx_rank_judge("USER", "a", "USER", "a", true) == GX_RANK_OK);
	GX_CHECK(gx_rank_judge("ADMIN", "a", "ADMIN", "a", false) == GX_RANK_SELF);
	GX_CHECK(gx_rank_judge("SUPER_ADMIN", "a", "SUPER_ADMIN", "a", false) == GX_RANK_SELF);
}

GX_TEST(unknown_target_role_is_refused)
{
	GX_CHECK(gx_rank_judge("SUPER_ADMIN", "a", "GOD", "b", false) == GX_RANK_TOO_LOW);
	GX_CHECK(gx_rank_judge("SUPER_ADMIN", "a", NULL, "b", false) == GX_RANK_TOO_LOW);
	GX_CHECK(gx_rank_judge("GOD", "a", "USER", "b", false) == GX_RANK_TOO_LOW);
}

GX_TEST(sql_guard_lists)
{
	GX_CHECK_STR(gx_rank_below("SUPER_ADMIN"), "{ADMIN,PARTNER_API,USER}");
	GX_CHECK_STR(gx_rank_below("ADMIN"), "{PARTNER_API,USER}");
	GX_CHECK_STR(gx_rank_below("USER"), "{}");
	GX_CHECK_STR(gx_rank_below("x"), "{}");
}

int main(void)
{
	GX_RUN(order_of_roles);
	GX_RUN(higher_acts_on_lower_only);
	GX_RUN(self_only_where_allowed);
	GX_RUN(unknown_target_role_is_refused);
	GX_RUN(sql_guard_lists);
	return gx_test_done();
}
