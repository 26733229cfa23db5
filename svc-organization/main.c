/* svc-organization daemon (organization: multi-signature organisations).
 * Wiring only: config, shared routes, serving and drain come from gx_api_main; the service's own routes are
 * added here as they are written. */
#include "gx/api.h"

int main(int argc, char **argv)
{
	static const struct gx_api_service svc = {
		.name = "svc-organization",
	};

	return gx_api_main(argc, argv, &svc);
}
