/* outbox-submitter: claims outbox commands and submits them to Fabric. Wiring only for now: the health and metrics
 * server on METRICS_PORT with a database/schema readiness check; the processing loop is started from init. */
#include "gx/api.h"

int main(int argc, char **argv)
{
	static const struct gx_worker_service svc = {
		.name = "outbox-submitter",
	};

	return gx_api_worker_main(argc, argv, &svc);
}
