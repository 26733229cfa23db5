/* print-proposal: a proposal built and signed by the C client, as hex, for the Node conformance check. */
#include <stdio.h>
#include <stdlib.h>

#include "gx/fabric_id.h"
#include "gx/fabric_msg.h"
#include "gx/util.h"
#include "peer_tool.h"

static char *hex(const unsigned char *p, size_t n)
{
	char *s = gx_xmalloc(2 * n + 1);

	gx_hex_encode(p, n, s);
	return s;
}

int peer_tool_print_proposal(int argc, char **argv)
{
	struct gx_fabric_id *id;
	struct gx_fabric_proposal *pr;
	char *ph, *sh;

	if (argc < 7) {
		fprintf(stderr,
			"usage: gx-fabric-peer print-proposal <msp-id> <cert> <key> <channel> <chaincode> "
			"<Contract:Function> [args...]\n");
		return 2;
	}
	id = gx_fabric_id_load(argv[1], argv[2], argv[3]);
	if (!id)
		return 1;
	pr = gx_fabric_msg_proposal_new(id, argv[4], argv[5], argv[6], (const char *const *)argv + 7,
					(size_t)(argc - 7));
	if (!pr) {
		gx_fabric_id_free(id);
		return 1;
	}
	ph = hex(pr->bytes.data, pr->bytes.len);
	sh = hex(pr->signature.data, pr->signature.len);
	printf("{\"txId\":\"%s\",\"proposal\":\"%s\",\"signature\":\"%s\"}\n", pr->tx_id, ph, sh);
	free(ph);
	free(sh);
	gx_fabric_msg_proposal_free(pr);
	gx_fabric_id_free(id);
	return 0;
}
