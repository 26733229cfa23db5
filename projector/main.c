/* projector: applies chaincode events to the read-model tables. Wiring only for now: the health and metrics
 * server on METRICS_PORT with a database/schema readiness check; the processing loop is started from init. */
#include "gx/api.h"

int main(int argc, char **argv)
{
	static const struct gx_worker_service svc = {
		.name = "projector",
	};

	return gx_api_worker_main(argc, argv, &svc);
}
