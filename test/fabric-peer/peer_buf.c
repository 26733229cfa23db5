/* Little-endian binary encoding helpers for the stand-in's block file and read/write sets. */
#include <string.h>
#include <stdlib.h>

#include "gx/util.h"
#include "peer_buf.h"

static void buf_reserve(struct peer_buf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return;
	size_t cap = b->cap ? b->cap * 2 : 256;
	while (cap < b->len + n)
		cap *= 2;
	b->data = gx_xrealloc(b->data, cap);
	b->cap = cap;
}

void peer_buf_put_raw(struct peer_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void peer_buf_put_u8(struct peer_buf *b, uint8_t v)
{
	peer_buf_put_raw(b, &v, 1);
}

void peer_buf_put_u32(struct peer_buf *b, uint32_t v)
{
	unsigned char x[4];

	for (int i = 0; i < 4; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	peer_buf_put_raw(b, x, 4);
}

void peer_buf_put_u64(struct peer_buf *b, uint64_t v)
{
	unsigned char x[8];

	for (int i = 0; i < 8; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	peer_buf_put_raw(b, x, 8);
}

void peer_buf_put_bytes(struct peer_buf *b, const void *p, size_t n)
{
	peer_buf_put_u32(b, (uint32_t)n);
	peer_buf_put_raw(b, p, n);
}

void peer_buf_release(struct peer_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static int rd_take(struct peer_rd *r, size_t n, const unsigned char **p)
{
	if (r->left < n)
		return -1;
	*p = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

int peer_rd_u8(struct peer_rd *r, uint8_t *v)
{
	const unsigned char *p;

	if (rd_take(r, 1, &p) < 0)
		return -1;
	*v = p[0];
	return 0;
}

int peer_rd_u32(struct peer_rd *r, uint32_t *v)
{
	const unsigned char *p;

	if (rd_take(r, 4, &p) < 0)
		return -1;
	*v = 0;
	for (int i = 3; i >= 0; i--)
		*v = (*v << 8) | p[i];
	return 0;
}

int peer_rd_u64(struct peer_rd *r, uint64_t *v)
{
	const unsigned char *p;

	if (rd_take(r, 8, &p) < 0)
		return -1;
	*v = 0;
	for (int i = 7; i >= 0; i--)
		*v = (*v << 8) | p[i];
	return 0;
}

int peer_rd_bytes(struct peer_rd *r, const unsigned char **p, size_t *n)
{
	uint32_t len;

	if (peer_rd_u32(r, &len) < 0 || rd_take(r, len, p) < 0)
		return -1;
	*n = len;
	return 0;
}

int peer_rd_dup(struct peer_rd *r, char **out, size_t *n)
{
	const unsigned char *p;
	size_t len;

	if (peer_rd_bytes(r, &p, &len) < 0)
		return -1;
	*out = gx_xmalloc(len + 1);
	memcpy(*out, p, len);
	(*out)[len] = '\0';
	if (n)
		*n = len;
	return 0;
}
