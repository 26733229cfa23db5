/* Growable byte buffer and a bounds-checked reader for the stand-in's own binary records (ledger blocks and the
 * read/write set carried in ChaincodeAction.results). Integers are little-endian; byte strings are a u32 length
 * followed by the bytes.
 */
#ifndef PEER_BUF_H
#define PEER_BUF_H

#include <stddef.h>
#include <stdint.h>

struct peer_buf {
	unsigned char *data; /* owned; NULL until the first put */
	size_t len;
	size_t cap;
};

/* Reader over borrowed bytes; every get fails (returns -1) once the input is exhausted or malformed. */
struct peer_rd {
	const unsigned char *p;
	size_t left;
};

void peer_buf_put_u8(struct peer_buf *b, uint8_t v);
void peer_buf_put_u32(struct peer_buf *b, uint32_t v);
void peer_buf_put_u64(struct peer_buf *b, uint64_t v);
/* Append u32 length + bytes (p may be NULL when n is 0). */
void peer_buf_put_bytes(struct peer_buf *b, const void *p, size_t n);
void peer_buf_put_raw(struct peer_buf *b, const void *p, size_t n);
/* Free the buffer's storage and reset it to empty. */
void peer_buf_release(struct peer_buf *b);

int peer_rd_u8(struct peer_rd *r, uint8_t *v);
int peer_rd_u32(struct peer_rd *r, uint32_t *v);
int peer_rd_u64(struct peer_rd *r, uint64_t *v);
/* Borrow a length-prefixed byte string from the input (valid as long as the input is). */
int peer_rd_bytes(struct peer_rd *r, const unsigned char **p, size_t *n);
/* Copy a length-prefixed byte string into a new NUL-terminated heap string (caller owns; free()). */
int peer_rd_dup(struct peer_rd *r, char **out, size_t *n);

#endif
