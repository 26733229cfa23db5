/* The class of a chaincode refusal, read from its message (docs/chaincode.md §1.2).
 *
 * A Go contractapi chaincode (the real gxtv3) answers every refusal with status 500; the message is the only signal
 * of what went wrong. The submitter therefore classifies refusals by message, with the one table in cc_error.c, so
 * the errorCode of a FAILED command (CHAINCODE_400/403/404/409/423) is the same whichever status the peer carried.
 * Pure functions, no state.
 */
#ifndef GX_CC_ERROR_H
#define GX_CC_ERROR_H

/* The class of a chaincode message: 400 invalid argument, 403 not allowed, 404 not found, 409 state conflict, 423
 * system paused. A message that no row of the table matches keeps status (the peer's chaincode status, e.g. 500);
 * message may be NULL. */
int gx_cc_error_class(const char *message, int status);

#endif
