/* Test aid built into gx-fabric-peer: print a proposal built and signed by our C client (gx/fabric_msg.h), so the
 * conformance tests can check it with the official Node packages.
 *
 *   gx-fabric-peer print-proposal <msp-id> <cert.pem> <key.pem> <channel> <chaincode> <Contract:Function> [args...]
 *
 * prints {"txId":"..","proposal":"<hex proposal_bytes>","signature":"<hex DER>"} on stdout.
 */
#ifndef PEER_TOOL_H
#define PEER_TOOL_H

/* Run the tool with argv[0] = "print-proposal". Returns the process exit status. */
int peer_tool_print_proposal(int argc, char **argv);

#endif
