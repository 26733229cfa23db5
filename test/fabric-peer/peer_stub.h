/* The chaincode stub of the Fabric peer stand-in: struct cc_stub (the peer side of cc.h) records one simulation's
 * reads with their committed versions, its writes and its event, and encodes them as the read/write set carried in
 * ChaincodeAction.results (the stand-in's own binary format; clients treat the field as opaque bytes).
 *
 * Reads see committed state plus this transaction's own earlier writes (the model's contract in cc.h); reading a
 * key this transaction already wrote records no read. The caller holds the ledger lock for the whole simulation.
 */
#ifndef PEER_STUB_H
#define PEER_STUB_H

#include "cc.h"
#include "peer_buf.h"
#include "peer_ledger.h"

struct cc_stub {
	struct peer_ledger *ledger; /* borrowed; locked by the caller during cc_invoke */
	const char *tx_id;          /* borrowed, as are msp and role */
	long long time_ms;
	const char *msp;
	const char *role;
	struct peer_read *reads; /* owned */
	size_t nreads;
	struct peer_write *writes; /* owned; at most one entry per key */
	size_t nwrites;
	bool paged;       /* a paginated range read ran: evaluate only (cc_range) */
	char *event_name; /* owned, NULL when none */
	char *event_payload;
};

/* Set up a stub over the ledger; the strings are borrowed and must outlive the stub. */
void peer_stub_init(struct cc_stub *s, struct peer_ledger *ledger, const char *tx_id, long long time_ms,
		    const char *msp, const char *role);
/* Free what the stub owns. */
void peer_stub_release(struct cc_stub *s);
/* Append the read/write set and event to b (the ChaincodeAction.results bytes). */
void peer_stub_encode_results(const struct cc_stub *s, struct peer_buf *b);
/* Decode results bytes into a new transaction with tx_id (copied). NULL when the bytes are malformed (not
 * logged). Caller owns; peer_tx_free(). */
struct peer_tx *peer_stub_decode_results(const unsigned char *p, size_t n, const char *tx_id);

#endif
