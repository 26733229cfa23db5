/* The stand-in's ledger: world state with per-key versions, the transaction index, the chain of blocks kept in
 * memory and appended to <dir>/blocks.dat (one fsync'd record per block), and the block cutter thread.
 *
 * Block 0 is an empty genesis block written when the directory is new; transaction blocks start at 1. A block is cut
 * when block_size transactions are queued or block_timeout_ms after the first one was queued. Commit validates each
 * transaction in block order: a tx id already committed (or earlier in the same block) gets DUPLICATE_TXID, a read
 * whose version changed since endorsement gets MVCC_READ_CONFLICT, anything else is VALID and its writes are applied
 * with version (block, tx index). Only the first occurrence of a tx id is indexed, as in Fabric.
 *
 * Thread-safety: every function may be called from any thread. State reads (peer_ledger_get) need the ledger lock,
 * taken with peer_ledger_lock()/peer_ledger_unlock() around a whole simulation so it sees one committed state.
 */
#ifndef PEER_LEDGER_H
#define PEER_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Version of a key: the (block, tx) that last wrote it. */
struct peer_ver {
	uint64_t block;
	uint32_t tx;
};

struct peer_read {
	char *key;   /* owned */
	bool exists; /* false: the key was absent at simulation */
	struct peer_ver ver;
};

struct peer_write {
	char *key; /* owned */
	char *val; /* owned, NUL-terminated for convenience; NULL for a delete */
	size_t len;
};

/* One transaction as ordered: everything is owned by the struct (free with peer_tx_free()). */
struct peer_tx {
	char *tx_id;
	int code;         /* TxValidationCode; non-zero before commit marks a tx found invalid at
			   * submit (kept unless it is a duplicate) */
	char *event_name; /* NULL when the transaction set no event */
	char *event_payload;
	size_t event_len;
	struct peer_read *reads;
	size_t nreads;
	struct peer_write *writes;
	size_t nwrites;
	struct peer_tx *next; /* pending queue link */
};

/* A chaincode event of a valid transaction, copied out for a stream (free with peer_event_free_all()). */
struct peer_event {
	char *tx_id;
	char *name;
	char *payload;
	size_t len;
};

struct peer_ledger;

/* Open (creating) dir, replay blocks.dat, start the cutter. NULL (logged) on failure. Caller owns the ledger. */
struct peer_ledger *peer_ledger_open(const char *dir, int block_size, int block_timeout_ms);
/* Stop the cutter after committing what is queued, wake all waiters, free everything. NULL is a no-op. */
void peer_ledger_close(struct peer_ledger *l);

void peer_ledger_lock(struct peer_ledger *l);
void peer_ledger_unlock(struct peer_ledger *l);
/* Committed value of key (borrowed; valid while the lock is held), NULL if absent. Lock must be held. */
const char *peer_ledger_get(struct peer_ledger *l, const char *key, size_t *len, struct peer_ver *ver);

/* Committed keys in [start, end) in byte order, at most limit of them (limit + 1 are looked at to know whether
 * more follow): cb gets each key and value (borrowed for the call). Returns the number visited; *next gets a copy
 * of the first key after the page (caller frees) or NULL when none is left. Lock must be held. O(keys) per call:
 * the stand-in keeps its state in a hash map. */
size_t peer_ledger_range(struct peer_ledger *l, const char *start, const char *end, size_t limit,
			 void (*cb)(const char *key, const char *val, size_t len, void *arg), void *arg, char **next);

/* Whether tx_id is in a committed block (any validation code). */
bool peer_ledger_has_tx(struct peer_ledger *l, const char *tx_id);
/* Queue an ordered transaction; takes ownership of tx. */
void peer_ledger_enqueue(struct peer_ledger *l, struct peer_tx *tx);
/* Wait until tx_id is committed or *stop becomes true (polled every poll_ms). Returns 0 with code and block, or
 * -1 when stopped or the ledger closes. */
int peer_ledger_wait_tx(struct peer_ledger *l, const char *tx_id, int poll_ms, bool (*stop)(void *), void *arg,
			int *code, uint64_t *block);
/* Block that holds the first occurrence of tx_id: 0 and *block, or -1 when unknown. */
int peer_ledger_find_tx(struct peer_ledger *l, const char *tx_id, uint64_t *block);
/* Number of the next block to be committed. */
uint64_t peer_ledger_height(struct peer_ledger *l);
/* Wait until block number exists (or stop/close as in peer_ledger_wait_tx); then copy its valid transactions'
 * events into *out (caller owns; peer_event_free_all). Returns 0, or -1 when stopped/closing. */
int peer_ledger_block_events(struct peer_ledger *l, uint64_t number, int poll_ms, bool (*stop)(void *), void *arg,
			     struct peer_event **out, size_t *n);

void peer_tx_free(struct peer_tx *tx);
void peer_event_free_all(struct peer_event *ev, size_t n);

#endif
