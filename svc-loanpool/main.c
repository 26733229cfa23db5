/* svc-loanpool daemon (loanpool: loan applications, approvals and repayments): its row of the service table. The
 * state is the tenant alone (struct loan_app, built by gx_api_main); configuration, serving and drain come from
 * gx_api_main too. */
#include "gx/api.h"
#include "loan.h"

int main(int argc, char **argv)
{
	const struct gx_api_service svc = {
		.name = "svc-loanpool",
		.routes = loan_routes,
		.nroutes = loan_routes_len,
		.openapi_json = gx_openapi_doc,
		.app_size = sizeof(struct loan_app),
	};

	return gx_api_main(argc, argv, &svc);
}
