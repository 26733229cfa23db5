/* World-state access for the chaincode model (cc.h), read/write set recording and its encoding. */
#include <stdlib.h>
#include <string.h>

#include "gx/util.h"
#include "peer_stub.h"

void peer_stub_init(struct cc_stub *s, struct peer_ledger *ledger, const char *tx_id, long long time_ms,
		    const char *msp, const char *role)
{
	memset(s, 0, sizeof(*s));
	s->ledger = ledger;
	s->tx_id = tx_id;
	s->time_ms = time_ms;
	s->msp = msp;
	s->role = role;
}

void peer_stub_release(struct cc_stub *s)
{
	for (size_t i = 0; i < s->nreads; i++)
		free(s->reads[i].key);
	free(s->reads);
	for (size_t i = 0; i < s->nwrites; i++) {
		free(s->writes[i].key);
		free(s->writes[i].val);
	}
	free(s->writes);
	free(s->event_name);
	free(s->event_payload);
	memset(s, 0, sizeof(*s));
}

static struct peer_write *find_write(struct cc_stub *s, const char *key)
{
	for (size_t i = 0; i < s->nwrites; i++)
		if (strcmp(s->writes[i].key, key) == 0)
			return &s->writes[i];
	return NULL;
}

const char *cc_get(struct cc_stub *s, const char *key, size_t *len)
{
	struct peer_write *w = find_write(s, key);
	struct peer_ver ver = { 0, 0 };
	const char *val;
	size_t vlen = 0;
	size_t i;

	if (w) {
		if (len)
			*len = w->val ? w->len : 0;
		return w->val;
	}
	val = peer_ledger_get(s->ledger, key, &vlen, &ver);
	for (i = 0; i < s->nreads; i++)
		if (strcmp(s->reads[i].key, key) == 0)
			break;
	if (i == s->nreads) {
		s->reads = gx_xrealloc(s->reads, (s->nreads + 1) * sizeof(*s->reads));
		s->reads[s->nreads].key = gx_xstrdup(key);
		s->reads[s->nreads].exists = val != NULL;
		s->reads[s->nreads].ver = ver;
		s->nreads++;
	}
	if (len)
		*len = val ? vlen : 0;
	return val;
}

size_t cc_range(struct cc_stub *s, const char *start, const char *end, size_t limit,
		void (*cb)(const char *key, const char *val, size_t len, void *arg), void *arg, char **next)
{
	s->paged = true;
	return peer_ledger_range(s->ledger, start, end, limit, cb, arg, next);
}

static void set_write(struct cc_stub *s, const char *key, const char *val, size_t len)
{
	struct peer_write *w = find_write(s, key);

	if (!w) {
		s->writes = gx_xrealloc(s->writes, (s->nwrites + 1) * sizeof(*s->writes));
		w = &s->writes[s->nwrites++];
		w->key = gx_xstrdup(key);
	} else {
		free(w->val);
	}
	w->val = NULL;
	w->len = 0;
	if (val) {
		w->val = gx_xmalloc(len + 1);
		memcpy(w->val, val, len);
		w->val[len] = '\0';
		w->len = len;
	}
}

void cc_put(struct cc_stub *s, const char *key, const char *val, size_t len)
{
	set_write(s, key, val ? val : "", val ? len : 0);
}

void cc_del(struct cc_stub *s, const char *key)
{
	set_write(s, key, NULL, 0);
}

void cc_set_event(struct cc_stub *s, const char *name, const char *payload_json)
{
	free(s->event_name);
	free(s->event_payload);
	s->event_name = gx_xstrdup(name);
	s->event_payload = gx_xstrdup(payload_json ? payload_json : "");
}

const char *cc_tx_id(struct cc_stub *s)
{
	return s->tx_id;
}

long long cc_tx_time_ms(struct cc_stub *s)
{
	return s->time_ms;
}

const char *cc_creator_msp(struct cc_stub *s)
{
	return s->msp;
}

const char *cc_creator_role(struct cc_stub *s)
{
	return s->role;
}

/* Layout: u32 nreads {key, u8 exists, u64 block, u32 tx}; u32 nwrites {key, u8 is_delete, value};
 * u8 has_event {name, payload}. */
void peer_stub_encode_results(const struct cc_stub *s, struct peer_buf *b)
{
	peer_buf_put_u32(b, (uint32_t)s->nreads);
	for (size_t i = 0; i < s->nreads; i++) {
		peer_buf_put_bytes(b, s->reads[i].key, strlen(s->reads[i].key));
		peer_buf_put_u8(b, s->reads[i].exists);
		peer_buf_put_u64(b, s->reads[i].ver.block);
		peer_buf_put_u32(b, s->reads[i].ver.tx);
	}
	peer_buf_put_u32(b, (uint32_t)s->nwrites);
	for (size_t i = 0; i < s->nwrites; i++) {
		peer_buf_put_bytes(b, s->writes[i].key, strlen(s->writes[i].key));
		peer_buf_put_u8(b, s->writes[i].val == NULL);
		peer_buf_put_bytes(b, s->writes[i].val, s->writes[i].len);
	}
	peer_buf_put_u8(b, s->event_name != NULL);
	if (s->event_name) {
		peer_buf_put_bytes(b, s->event_name, strlen(s->event_name));
		peer_buf_put_bytes(b, s->event_payload, strlen(s->event_payload));
	}
}

struct peer_tx *peer_stub_decode_results(const unsigned char *p, size_t n, const char *tx_id)
{
	struct peer_rd r = { p, n };
	struct peer_tx *tx = gx_xcalloc(1, sizeof(*tx));
	uint32_t nr, nw;
	uint8_t flag;

	tx->tx_id = gx_xstrdup(tx_id);
	if (peer_rd_u32(&r, &nr) < 0 || nr > r.left)
		goto fail;
	tx->reads = gx_xcalloc(nr ? nr : 1, sizeof(*tx->reads));
	for (; tx->nreads < nr; tx->nreads++) {
		struct peer_read *rd = &tx->reads[tx->nreads];

		if (peer_rd_dup(&r, &rd->key, NULL) < 0)
			goto fail;
		if (peer_rd_u8(&r, &flag) < 0 || peer_rd_u64(&r, &rd->ver.block) < 0 ||
		    peer_rd_u32(&r, &rd->ver.tx) < 0)
			goto fail_one_read;
		rd->exists = flag != 0;
	}
	if (peer_rd_u32(&r, &nw) < 0 || nw > r.left)
		goto fail;
	tx->writes = gx_xcalloc(nw ? nw : 1, sizeof(*tx->writes));
	for (; tx->nwrites < nw; tx->nwrites++) {
		struct peer_write *w = &tx->writes[tx->nwrites];

		if (peer_rd_dup(&r, &w->key, NULL) < 0)
			goto fail;
		if (peer_rd_u8(&r, &flag) < 0 || peer_rd_dup(&r, &w->val, &w->len) < 0)
			goto fail_one_write;
		if (flag) {
			free(w->val);
			w->val = NULL;
			w->len = 0;
		}
	}
	if (peer_rd_u8(&r, &flag) < 0)
		goto fail;
	if (flag &&
	    (peer_rd_dup(&r, &tx->event_name, NULL) < 0 || peer_rd_dup(&r, &tx->event_payload, &tx->event_len) < 0))
		goto fail;
	if (r.left != 0)
		goto fail;
	return tx;
fail_one_read:
	tx->nreads++;
	goto fail;
fail_one_write:
	tx->nwrites++;
fail:
	peer_tx_free(tx);
	return NULL;
}
