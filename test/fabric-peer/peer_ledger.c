/* World state, transaction index, block file persistence and the block cutter of the Fabric peer stand-in. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gx/log.h"
#include "gx/util.h"
#include "peer_buf.h"
#include "peer_ledger.h"

#define REC_MAGIC 0x31425847u /* "GXB1" */

/* ---- a small chained hash map from string keys to entries ------------------------------------------------ */

struct hent {
	char *key;
	char *val; /* state: value bytes; index: unused */
	size_t len;
	struct peer_ver ver; /* state: version; index: (block, code in tx) */
	struct hent *next;
};

struct hmap {
	struct hent **b;
	size_t nb;
	size_t n;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static struct hent *hmap_get(struct hmap *m, const char *key)
{
	if (!m->nb)
		return NULL;
	for (struct hent *e = m->b[fnv(key) & (m->nb - 1)]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static struct hent *hmap_put(struct hmap *m, const char *key)
{
	struct hent *e = hmap_get(m, key);

	if (e)
		return e;
	if (m->n >= m->nb) {
		size_t nb = m->nb ? m->nb * 2 : 1024;
		struct hent **b = gx_xcalloc(nb, sizeof(*b));

		for (size_t i = 0; i < m->nb; i++)
			for (struct hent *x = m->b[i], *nx; x; x = nx) {
				nx = x->next;
				x->next = b[fnv(x->key) & (nb - 1)];
				b[fnv(x->key) & (nb - 1)] = x;
			}
		free(m->b);
		m->b = b;
		m->nb = nb;
	}
	e = gx_xcalloc(1, sizeof(*e));
	e->key = gx_xstrdup(key);
	e->next = m->b[fnv(key) & (m->nb - 1)];
	m->b[fnv(key) & (m->nb - 1)] = e;
	m->n++;
	return e;
}

static void hmap_del(struct hmap *m, const char *key)
{
	if (!m->nb)
		return;
	for (struct hent **pp = &m->b[fnv(key) & (m->nb - 1)]; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0) {
			struct hent *e = *pp;

			*pp = e->next;
			free(e->key);
			free(e->val);
			free(e);
			m->n--;
			return;
		}
}

static void hmap_release(struct hmap *m)
{
	for (size_t i = 0; i < m->nb; i++)
		for (struct hent *e = m->b[i], *n; e; e = n) {
			n = e->next;
			free(e->key);
			free(e->val);
			free(e);
		}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

/* ---- ledger ----------------------------------------------------------------------------------------------- */

struct blk {
	uint64_t number;
	int64_t time_ms;
	struct peer_event *events; /* events of valid transactions, in tx order */
	size_t nevents;
};

struct peer_ledger {
	pthread_mutex_t lock;
	pthread_cond_t changed; /* a block was committed, or closing */
	pthread_cond_t queued;  /* wakes the cutter */
	int fd;
	char *path;
	int block_size;
	int block_timeout_ms;
	struct hmap state;
	struct hmap index; /* tx id -> (block, code) of its first occurrence */
	struct blk *blocks;
	size_t nblocks;
	size_t capblocks;
	struct peer_tx *qhead, *qtail;
	size_t qlen;
	int64_t qfirst_us; /* monotonic time the oldest queued tx arrived */
	bool closing;
	pthread_t cutter;
};

void peer_tx_free(struct peer_tx *tx)
{
	if (!tx)
		return;
	free(tx->tx_id);
	free(tx->event_name);
	free(tx->event_payload);
	for (size_t i = 0; i < tx->nreads; i++)
		free(tx->reads[i].key);
	free(tx->reads);
	for (size_t i = 0; i < tx->nwrites; i++) {
		free(tx->writes[i].key);
		free(tx->writes[i].val);
	}
	free(tx->writes);
	free(tx);
}

void peer_event_free_all(struct peer_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ev[i].tx_id);
		free(ev[i].name);
		free(ev[i].payload);
	}
	free(ev);
}

static char *memdup0(const char *p, size_t n)
{
	char *s = gx_xmalloc(n + 1);

	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static uint32_t checksum(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Apply a decided transaction to memory: index it and, when valid, its writes and event. Lock held. */
static void apply_tx(struct peer_ledger *l, struct blk *b, uint32_t txnum, const char *tx_id, int code,
		     const char *ev_name, const char *ev_payload, size_t ev_len, const struct peer_write *w, size_t nw)
{
	if (!hmap_get(&l->index, tx_id)) {
		struct hent *e = hmap_put(&l->index, tx_id);

		e->ver.block = b->number;
		e->ver.tx = (uint32_t)code;
	}
	if (code != 0)
		return;
	for (size_t i = 0; i < nw; i++) {
		if (!w[i].val) {
			hmap_del(&l->state, w[i].key);
			continue;
		}
		struct hent *e = hmap_put(&l->state, w[i].key);

		free(e->val);
		e->val = memdup0(w[i].val, w[i].len);
		e->len = w[i].len;
		e->ver.block = b->number;
		e->ver.tx = txnum;
	}
	if (ev_name) {
		b->events = gx_xrealloc(b->events, (b->nevents + 1) * sizeof(*b->events));
		struct peer_event *ev = &b->events[b->nevents++];

		ev->tx_id = gx_xstrdup(tx_id);
		ev->name = gx_xstrdup(ev_name);
		ev->payload = memdup0(ev_payload, ev_len);
		ev->len = ev_len;
	}
}

static struct blk *new_block(struct peer_ledger *l, int64_t time_ms)
{
	if (l->nblocks == l->capblocks) {
		l->capblocks = l->capblocks ? l->capblocks * 2 : 64;
		l->blocks = gx_xrealloc(l->blocks, l->capblocks * sizeof(*l->blocks));
	}
	struct blk *b = &l->blocks[l->nblocks];

	memset(b, 0, sizeof(*b));
	b->number = l->nblocks;
	b->time_ms = time_ms;
	return b;
}

/* Decode one block record body and apply it. Returns 0, or -1 when the body is malformed. */
static int replay_block(struct peer_ledger *l, const unsigned char *p, size_t n)
{
	struct peer_rd r = { p, n };
	uint64_t number, time_ms;
	uint32_t ntx;
	struct blk *b;

	if (peer_rd_u64(&r, &number) < 0 || peer_rd_u64(&r, &time_ms) < 0 || peer_rd_u32(&r, &ntx) < 0 ||
	    number != l->nblocks)
		return -1;
	b = new_block(l, (int64_t)time_ms);
	for (uint32_t t = 0; t < ntx; t++) {
		const unsigned char *txid, *evn, *evp;
		size_t txid_len, evn_len, evp_len;
		uint8_t code, has_ev;
		uint32_t nw;
		struct peer_write *w = NULL;
		int rc = -1;

		if (peer_rd_bytes(&r, &txid, &txid_len) < 0 || peer_rd_u8(&r, &code) < 0 ||
		    peer_rd_u8(&r, &has_ev) < 0 || peer_rd_bytes(&r, &evn, &evn_len) < 0 ||
		    peer_rd_bytes(&r, &evp, &evp_len) < 0 || peer_rd_u32(&r, &nw) < 0 || nw > r.left)
			return -1;
		w = gx_xcalloc(nw ? nw : 1, sizeof(*w));
		uint32_t i;
		for (i = 0; i < nw; i++) {
			uint8_t del;
			size_t kl;

			if (peer_rd_dup(&r, &w[i].key, &kl) < 0 || peer_rd_u8(&r, &del) < 0 ||
			    peer_rd_dup(&r, &w[i].val, &w[i].len) < 0)
				break;
			if (del) {
				free(w[i].val);
				w[i].val = NULL;
			}
		}
		if (i == nw) {
			char *id = memdup0((const char *)txid, txid_len);
			char *name = has_ev ? memdup0((const char *)evn, evn_len) : NULL;

			apply_tx(l, b, t, id, code, name, (const char *)evp, evp_len, w, nw);
			free(id);
			free(name);
			rc = 0;
		}
		for (uint32_t k = 0; k < nw; k++) {
			free(w[k].key);
			free(w[k].val);
		}
		free(w);
		if (rc < 0)
			return -1;
	}
	l->nblocks++;
	return 0;
}

/* Write one framed record and fsync. Fatal for the process on failure: memory and disk would disagree. */
static void persist(struct peer_ledger *l, const struct peer_buf *body)
{
	struct peer_buf rec = { 0 };
	size_t off = 0;

	peer_buf_put_u32(&rec, REC_MAGIC);
	peer_buf_put_u32(&rec, (uint32_t)body->len);
	peer_buf_put_u32(&rec, checksum(body->data, body->len));
	peer_buf_put_raw(&rec, body->data, body->len);
	while (off < rec.len) {
		ssize_t w = write(l->fd, rec.data + off, rec.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			gx_log_fatal("cannot append to '%s': %s", l->path, strerror(errno));
			abort();
		}
		off += (size_t)w;
	}
	if (fdatasync(l->fd) != 0) {
		gx_log_fatal("cannot fsync '%s': %s", l->path, strerror(errno));
		abort();
	}
	peer_buf_release(&rec);
}

static int replay_file(struct peer_ledger *l)
{
	struct stat st;
	unsigned char *data = NULL;
	size_t off = 0, len;
	int rc = -1;

	if (fstat(l->fd, &st) != 0) {
		gx_log_error("cannot stat '%s': %s", l->path, strerror(errno));
		return -1;
	}
	len = (size_t)st.st_size;
	data = gx_xmalloc(len ? len : 1);
	for (size_t got = 0; got < len;) {
		ssize_t n = pread(l->fd, data + got, len - got, (off_t)got);

		if (n <= 0) {
			gx_log_error("cannot read '%s': %s", l->path, n < 0 ? strerror(errno) : "short read");
			goto out;
		}
		got += (size_t)n;
	}
	while (off + 12 <= len) {
		struct peer_rd r = { data + off, 12 };
		uint32_t magic, blen, sum;

		peer_rd_u32(&r, &magic);
		peer_rd_u32(&r, &blen);
		peer_rd_u32(&r, &sum);
		if (magic != REC_MAGIC || off + 12 + blen > len || checksum(data + off + 12, blen) != sum)
			break;
		if (replay_block(l, data + off + 12, blen) < 0) {
			gx_log_error("corrupt block record %zu in '%s'", l->nblocks, l->path);
			goto out;
		}
		off += 12 + blen;
	}
	if (off != len) {
		gx_log_warn("dropping a torn block record at offset %zu of '%s'", off, l->path);
		if (ftruncate(l->fd, (off_t)off) != 0) {
			gx_log_error("cannot truncate '%s': %s", l->path, strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	free(data);
	return rc;
}

/* Validate and commit the first n queued transactions as the next block. Lock held. */
static void commit_block(struct peer_ledger *l, size_t n)
{
	struct blk *b = new_block(l, gx_now_ms());
	struct peer_buf body = { 0 };
	struct hmap seen = { 0 };
	size_t nvalid = 0;

	peer_buf_put_u64(&body, b->number);
	peer_buf_put_u64(&body, (uint64_t)b->time_ms);
	peer_buf_put_u32(&body, (uint32_t)n);
	for (size_t t = 0; t < n; t++) {
		struct peer_tx *tx = l->qhead;

		l->qhead = tx->next;
		if (!l->qhead)
			l->qtail = NULL;
		l->qlen--;
		if (hmap_get(&l->index, tx->tx_id) || hmap_get(&seen, tx->tx_id))
			tx->code = 9; /* DUPLICATE_TXID */
		for (size_t i = 0; tx->code == 0 && i < tx->nreads; i++) {
			struct hent *e = hmap_get(&l->state, tx->reads[i].key);
			const struct peer_read *rd = &tx->reads[i];

			if ((e != NULL) != rd->exists ||
			    (e && (e->ver.block != rd->ver.block || e->ver.tx != rd->ver.tx)))
				tx->code = 11; /* MVCC_READ_CONFLICT */
		}
		hmap_put(&seen, tx->tx_id);
		peer_buf_put_bytes(&body, tx->tx_id, strlen(tx->tx_id));
		peer_buf_put_u8(&body, (uint8_t)tx->code);
		peer_buf_put_u8(&body, tx->event_name != NULL);
		peer_buf_put_bytes(&body, tx->event_name, tx->event_name ? strlen(tx->event_name) : 0);
		peer_buf_put_bytes(&body, tx->event_payload, tx->event_len);
		size_t nw = tx->code == 0 ? tx->nwrites : 0;
		peer_buf_put_u32(&body, (uint32_t)nw);
		for (size_t i = 0; i < nw; i++) {
			peer_buf_put_bytes(&body, tx->writes[i].key, strlen(tx->writes[i].key));
			peer_buf_put_u8(&body, tx->writes[i].val == NULL);
			peer_buf_put_bytes(&body, tx->writes[i].val, tx->writes[i].len);
		}
		apply_tx(l, b, (uint32_t)t, tx->tx_id, tx->code, tx->event_name, tx->event_payload, tx->event_len,
			 tx->writes, nw);
		nvalid += tx->code == 0;
		peer_tx_free(tx);
	}
	persist(l, &body);
	l->nblocks++;
	peer_buf_release(&body);
	hmap_release(&seen);
	gx_log_info("committed block %llu: %zu transactions, %zu valid", (unsigned long long)b->number, n, nvalid);
	pthread_cond_broadcast(&l->changed);
}

static void deadline_in(struct timespec *ts, int64_t us)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(us / 1000000);
	ts->tv_nsec += (long)(us % 1000000) * 1000;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *cutter_main(void *arg)
{
	struct peer_ledger *l = arg;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		if (l->qlen >= (size_t)l->block_size) {
			commit_block(l, (size_t)l->block_size);
			continue;
		}
		if (l->qlen > 0) {
			int64_t due = l->qfirst_us + (int64_t)l->block_timeout_ms * 1000 - gx_mono_us();

			if (due <= 0 || l->closing) {
				commit_block(l, l->qlen);
				continue;
			}
			struct timespec ts;

			deadline_in(&ts, due);
			pthread_cond_timedwait(&l->queued, &l->lock, &ts);
			continue;
		}
		if (l->closing)
			break;
		pthread_cond_wait(&l->queued, &l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

struct peer_ledger *peer_ledger_open(const char *dir, int block_size, int block_timeout_ms)
{
	struct peer_ledger *l = gx_xcalloc(1, sizeof(*l));
	pthread_condattr_t ca;

	l->fd = -1;
	l->block_size = block_size;
	l->block_timeout_ms = block_timeout_ms;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->changed, &ca);
	pthread_cond_init(&l->queued, &ca);
	pthread_condattr_destroy(&ca);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		gx_log_error("cannot create ledger dir '%s': %s", dir, strerror(errno));
		goto fail;
	}
	l->path = gx_xasprintf("%s/blocks.dat", dir);
	l->fd = open(l->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (l->fd < 0) {
		gx_log_error("cannot open '%s': %s", l->path, strerror(errno));
		goto fail;
	}
	if (replay_file(l) < 0)
		goto fail;
	if (l->nblocks == 0)
		commit_block(l, 0); /* genesis */
	gx_log_info("ledger ready: height %zu, %zu keys, %zu transactions", l->nblocks, l->state.n, l->index.n);
	if (pthread_create(&l->cutter, NULL, cutter_main, l) != 0) {
		gx_log_error("cannot start the block cutter thread");
		goto fail;
	}
	return l;
fail:
	if (l->fd >= 0)
		close(l->fd);
	free(l->path);
	hmap_release(&l->state);
	hmap_release(&l->index);
	for (size_t i = 0; i < l->nblocks; i++)
		peer_event_free_all(l->blocks[i].events, l->blocks[i].nevents);
	free(l->blocks);
	free(l);
	return NULL;
}

void peer_ledger_close(struct peer_ledger *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->closing = true;
	pthread_cond_broadcast(&l->queued);
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->cutter, NULL);
	close(l->fd);
	free(l->path);
	hmap_release(&l->state);
	hmap_release(&l->index);
	for (size_t i = 0; i < l->nblocks; i++)
		peer_event_free_all(l->blocks[i].events, l->blocks[i].nevents);
	free(l->blocks);
	pthread_cond_destroy(&l->changed);
	pthread_cond_destroy(&l->queued);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

void peer_ledger_lock(struct peer_ledger *l)
{
	pthread_mutex_lock(&l->lock);
}

void peer_ledger_unlock(struct peer_ledger *l)
{
	pthread_mutex_unlock(&l->lock);
}

const char *peer_ledger_get(struct peer_ledger *l, const char *key, size_t *len, struct peer_ver *ver)
{
	struct hent *e = hmap_get(&l->state, key);

	if (!e)
		return NULL;
	if (len)
		*len = e->len;
	if (ver)
		*ver = e->ver;
	return e->val;
}

static int hent_cmp(const void *a, const void *b)
{
	return strcmp((*(struct hent *const *)a)->key, (*(struct hent *const *)b)->key);
}

size_t peer_ledger_range(struct peer_ledger *l, const char *start, const char *end, size_t limit,
			 void (*cb)(const char *key, const char *val, size_t len, void *arg), void *arg, char **next)
{
	struct hent **hit = NULL;
	size_t n = 0, cap = 0, visited;

	*next = NULL;
	for (size_t i = 0; i < l->state.nb; i++)
		for (struct hent *e = l->state.b[i]; e; e = e->next) {
			if (strcmp(e->key, start) < 0 || strcmp(e->key, end) >= 0)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				hit = gx_xrealloc(hit, cap * sizeof(*hit));
			}
			hit[n++] = e;
		}
	if (n)
		qsort(hit, n, sizeof(*hit), hent_cmp);
	visited = n < limit ? n : limit;
	for (size_t i = 0; i < visited; i++)
		cb(hit[i]->key, hit[i]->val, hit[i]->len, arg);
	if (n > limit)
		*next = gx_xstrdup(hit[limit]->key);
	free(hit);
	return visited;
}

bool peer_ledger_has_tx(struct peer_ledger *l, const char *tx_id)
{
	bool found;

	pthread_mutex_lock(&l->lock);
	found = hmap_get(&l->index, tx_id) != NULL;
	pthread_mutex_unlock(&l->lock);
	return found;
}

void peer_ledger_enqueue(struct peer_ledger *l, struct peer_tx *tx)
{
	pthread_mutex_lock(&l->lock);
	tx->next = NULL;
	if (l->qtail)
		l->qtail->next = tx;
	else
		l->qhead = tx;
	l->qtail = tx;
	if (l->qlen++ == 0)
		l->qfirst_us = gx_mono_us();
	pthread_cond_signal(&l->queued);
	pthread_mutex_unlock(&l->lock);
}

int peer_ledger_wait_tx(struct peer_ledger *l, const char *tx_id, int poll_ms, bool (*stop)(void *), void *arg,
			int *code, uint64_t *block)
{
	int rc = -1;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		struct hent *e = hmap_get(&l->index, tx_id);

		if (e) {
			*block = e->ver.block;
			*code = (int)e->ver.tx;
			rc = 0;
			break;
		}
		if (l->closing || (stop && stop(arg)))
			break;
		struct timespec ts;

		deadline_in(&ts, (int64_t)poll_ms * 1000);
		pthread_cond_timedwait(&l->changed, &l->lock, &ts);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int peer_ledger_find_tx(struct peer_ledger *l, const char *tx_id, uint64_t *block)
{
	int rc = -1;

	pthread_mutex_lock(&l->lock);
	struct hent *e = hmap_get(&l->index, tx_id);
	if (e) {
		*block = e->ver.block;
		rc = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

uint64_t peer_ledger_height(struct peer_ledger *l)
{
	uint64_t h;

	pthread_mutex_lock(&l->lock);
	h = l->nblocks;
	pthread_mutex_unlock(&l->lock);
	return h;
}

int peer_ledger_block_events(struct peer_ledger *l, uint64_t number, int poll_ms, bool (*stop)(void *), void *arg,
			     struct peer_event **out, size_t *n)
{
	int rc = -1;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&l->lock);
	for (;;) {
		if (number < l->nblocks) {
			const struct blk *b = &l->blocks[number];

			if (b->nevents) {
				*out = gx_xcalloc(b->nevents, sizeof(**out));
				for (size_t i = 0; i < b->nevents; i++) {
					(*out)[i].tx_id = gx_xstrdup(b->events[i].tx_id);
					(*out)[i].name = gx_xstrdup(b->events[i].name);
					(*out)[i].payload = memdup0(b->events[i].payload, b->events[i].len);
					(*out)[i].len = b->events[i].len;
				}
			}
			*n = b->nevents;
			rc = 0;
			break;
		}
		if (l->closing || (stop && stop(arg)))
			break;
		struct timespec ts;

		deadline_in(&ts, (int64_t)poll_ms * 1000);
		pthread_cond_timedwait(&l->changed, &l->lock, &ts);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}
