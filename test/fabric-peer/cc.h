/* Interface between the Fabric stand-in peer and its model of the GX chaincode (gxtv3, docs/chaincode.md).
 *
 * The peer implements the cc_* stub functions below (one transaction's view of world state) and calls cc_invoke()
 * once per proposal. The model (cc_*.c) implements cc_invoke() and never keeps a pointer it was given after it
 * returns. Every string is NUL-terminated; state values are bytes of the given length (the model stores JSON text).
 */
#ifndef GX_FABRIC_PEER_CC_H
#define GX_FABRIC_PEER_CC_H

#include <stddef.h>

/* Provided by the peer: one transaction's view of world state. Opaque to the model. */
struct cc_stub;

/* Value of key, or NULL if absent; *len gets its length. Records a read (for MVCC). Borrowed: valid until the next
 * cc_put/cc_del of the same key or the end of the invocation. Sees this transaction's own earlier writes. */
const char *cc_get(struct cc_stub *s, const char *key, size_t *len);
/* Paginated range read, as Fabric's GetStateByRangeWithPagination: up to limit committed keys in [start, end) in
 * byte order (committed state only, not this transaction's own writes), cb called with each key and value (borrowed
 * for the call). Returns the number visited; *next gets the first key after the page (malloc'd, caller frees) or
 * NULL when the range is exhausted. A transaction that uses it is read-only: the peer refuses to endorse it. */
size_t cc_range(struct cc_stub *s, const char *start, const char *end, size_t limit,
		void (*cb)(const char *key, const char *val, size_t len, void *arg), void *arg, char **next);
/* Write key = val[0..len) (copied by the peer). */
void cc_put(struct cc_stub *s, const char *key, const char *val, size_t len);
/* Delete key. */
void cc_del(struct cc_stub *s, const char *key);
/* Set the transaction's chaincode event (copied by the peer); at most one per transaction, a second call replaces
 * the first. */
void cc_set_event(struct cc_stub *s, const char *name, const char *payload_json);
/* Transaction id (64 lower-case hex), borrowed. */
const char *cc_tx_id(struct cc_stub *s);
/* Transaction timestamp from the signed proposal header, milliseconds since the epoch. */
long long cc_tx_time_ms(struct cc_stub *s);
/* MSP id of the creator, borrowed. */
const char *cc_creator_msp(struct cc_stub *s);
/* gxc_role attribute of the creator certificate, "" if none. Borrowed. */
const char *cc_creator_role(struct cc_stub *s);

/* Runs one invocation. argv[0] = "Contract:Function", argv[1..argc) its string arguments.
 * Returns 200 with *payload (malloc'd JSON text, may be NULL; caller frees) or an error status (400 bad arguments,
 * 403 role, 404 not found, 409 conflict/state, 423 paused) with *message (malloc'd text; caller frees). On an error
 * the peer must discard the transaction's writes and event. Must not keep pointers past return. */
int cc_invoke(struct cc_stub *s, int argc, const char *const *argv, char **payload, char **message);

#endif
