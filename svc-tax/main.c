/* svc-tax daemon (tax: fee and velocity-tax parameters).
 * Wiring only: config, shared routes, serving and drain come from gx_api_main; the service's own routes are
 * added here as they are written. */
#include "gx/api.h"

int main(int argc, char **argv)
{
	static const struct gx_api_service svc = {
		.name = "svc-tax",
	};

	return gx_api_main(argc, argv, &svc);
}
