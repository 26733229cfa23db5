/* Chaincode refusals classified by their message (gx/cc_error.h). One table, first match wins; the patterns are
 * fnmatch(3) globs over the whole message, in the order docs/chaincode.md §1.2 gives: pause, role and membership,
 * missing objects, state conflicts, then invalid arguments. test_cc_error.py checks that every message the stand-in
 * can produce lands in the class its contract section names. */
#include "gx/cc_error.h"

#include <fnmatch.h>
#include <stddef.h>

#include "gx/util.h"

struct cc_error_row {
	int cls;
	const char *glob;
};

/* clang-format off */
static const struct cc_error_row rows[] = {
	{ 423, "system is paused: *" },

	{ 403, "* requires role *, caller has *" },
	{ 403, "only the borrower can *" },
	{ 403, "user * is not a stakeholder of *" },
	{ 403, "user * is not an approver of *" },

	{ 404, "* not found: *" },
	{ 404, "unknown parameter: *" },
	{ 404, "country not initialized: *" },

	{ 409, "*already*" },
	{ 409, "insufficient balance in *" },
	{ 409, "account * is frozen" },
	{ 409, "account * is not eligible for *" },
	{ 409, "balance of account * would overflow" },
	{ 409, "genesis amount for * is 0" },
	{ 409, "* is *, not *" },
	{ 409, "minting * would exceed *" },
	{ 409, "not all stakeholders have endorsed *" },
	{ 409, "organization * is not *" },
	{ 409, "system is not *" },
	{ 409, "voting period of proposal * has *ended" },

	{ 400, "unknown function *" },
	{ 400, "* expects * arguments, got *" },
	{ 400, "*must*" },
	{ 400, "* contains an invalid character" },
	{ 400, "* uses a reserved prefix" },
	{ 400, "invalid *" },
	{ 400, "duplicate *" },
	{ 400, "amount * exceeds the outstanding *" },
	{ 400, "amount plus fee overflows" },
	{ 400, "Transfer can only debit *" },
	{ 400, "Transfer cannot credit *" },
	{ 400, "countryCode * does not match *" },
};
/* clang-format on */

int gx_cc_error_class(const char *message, int status)
{
	if (!message)
		return status;
	for (size_t i = 0; i < GX_ARRAY_LEN(rows); i++)
		if (fnmatch(rows[i].glob, message, 0) == 0)
			return rows[i].cls;
	return status;
}
