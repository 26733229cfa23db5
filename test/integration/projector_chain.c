/* Test driver for the projector tests and benchmark: submits chaincode transactions to the Fabric stand-in with the
 * C Fabric client, many at a time.
 *
 *   projector_chain <peer host:port> <devca dir> [window]
 *
 * stdin: one JSON object per line, either a transaction
 *   {"as":"partner"|"admin"|"super-admin","fn":"Contract:Function","args":["a","b"]}
 * ({"eval":true,...} evaluates instead, after every transaction started so far committed, and prints
 * {"i":N,"ok":true,"payload":<the chaincode's JSON answer>}), or a barrier {"wait":true}: wait until every transaction
 * started so far has committed. Transactions between two barriers run concurrently (at most `window` in flight, default
 * 1000); an MVCC conflict is retried with a new proposal. {"pace_ms":M} waits until M ms after the previous pace line
 * (or the start), for fixed-rate runs. stdout: one line per transaction, in completion order (t0: wall ms when first
 * sent, t: when its commit was seen):
 *   {"i":<input line>,"tx":"<tx id>","ok":true,"block":N,"t0":ms,"t":ms}   or   {"i":N,"ok":false,"error":"..."}
 * and finally {"done":true,"ok":N,"failed":M,"seconds":S}. Exit status 0 when nothing failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "gx/fabric_client.h"
#include "gx/log.h"
#include "gx/util.h"

struct job {
	int line;
	int who;
	char *fn;
	char **args;
	size_t nargs;
	int tries;
	int64_t t0_ms; /* wall clock when first started */
};

static struct gx_fabric_client *clients[3];
static size_t in_flight;
static int n_ok, n_failed;

static int start(struct job *j);

static void job_free(struct job *j)
{
	for (size_t i = 0; i < j->nargs; i++)
		free(j->args[i]);
	free(j->args);
	free(j->fn);
	free(j);
}

static void on_done(struct gx_fabric_result *r, void *arg)
{
	struct job *j = arg;
	char *d;

	in_flight--;
	if (r->err.kind == GX_FABRIC_ERR_NONE) {
		printf("{\"i\":%d,\"tx\":\"%s\",\"ok\":true,\"block\":%llu,\"t0\":%lld,\"t\":%lld}\n", j->line,
		       r->tx_id, (unsigned long long)r->block, (long long)j->t0_ms, (long long)gx_now_ms());
		n_ok++;
		job_free(j);
		return;
	}
	if ((gx_fabric_error_needs_new_txid(&r->err) || gx_fabric_error_retryable(&r->err)) && j->tries < 200) {
		j->tries++;
		if (start(j) == 0)
			return;
	}
	d = gx_fabric_error_describe(&r->err);
	{
		cJSON *o = cJSON_CreateObject();
		char *s;

		cJSON_AddNumberToObject(o, "i", j->line);
		cJSON_AddBoolToObject(o, "ok", false);
		cJSON_AddStringToObject(o, "error", d ? d : "error");
		s = cJSON_PrintUnformatted(o);
		printf("%s\n", s);
		free(s);
		cJSON_Delete(o);
	}
	free(d);
	n_failed++;
	job_free(j);
}

static int start(struct job *j)
{
	struct gx_fabric_client *c = clients[j->who];
	struct gx_fabric_proposal *p = gx_fabric_msg_proposal_new(gx_fabric_client_id(c), "gxchannel", "gxtv3", j->fn,
								  (const char *const *)j->args, j->nargs);
	int rc;

	if (!p)
		return -1;
	if (!j->t0_ms)
		j->t0_ms = gx_now_ms();
	rc = gx_fabric_client_transact(c, p, on_done, j, NULL);
	gx_fabric_msg_proposal_free(p);
	if (rc == 0)
		in_flight++;
	return rc;
}

static void poll_all(void)
{
	for (int i = 0; i < 3; i++)
		gx_fabric_client_poll(clients[i], i == 2 ? 2 : 0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const char *const who[3] = { "partner-api", "admin", "super-admin" };
	size_t window = argc > 3 ? (size_t)atoi(argv[3]) : 1000;
	char line[65536];
	int lineno = 0;
	int64_t t0 = gx_mono_us(), pace_at = gx_now_ms();

	if (argc < 3) {
		fprintf(stderr, "usage: projector_chain <peer host:port> <devca dir> [window]\n");
		return 2;
	}
	gx_log_init("projector_chain");
	for (int i = 0; i < 3; i++) {
		char *cert = gx_xasprintf("%s/users/%s/cert.pem", argv[2], who[i]);
		char *key = gx_xasprintf("%s/users/%s/key.pem", argv[2], who[i]);
		struct gx_fabric_id *id = gx_fabric_id_load("Org1MSP", cert, key);
		struct gx_fabric_client_opts o = { .endpoint = argv[1],
						   .channel_id = "gxchannel",
						   .chaincode_id = "gxtv3",
						   .wait_for_ready = true,
						   .commit_timeout_ms = 120000,
						   .endorse_timeout_ms = 60000,
						   .submit_timeout_ms = 60000 };

		free(cert);
		free(key);
		if (!id || !(clients[i] = gx_fabric_client_new(&o, id)))
			return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		cJSON *o = cJSON_Parse(line);
		const cJSON *as, *fn, *args, *a;
		struct job *j;

		lineno++;
		if (!o)
			continue;
		if (cJSON_IsNumber(cJSON_GetObjectItem(o, "pace_ms"))) {
			int64_t until = pace_at + (int64_t)cJSON_GetObjectItem(o, "pace_ms")->valuedouble;

			while (gx_now_ms() < until)
				poll_all();
			pace_at = until;
			cJSON_Delete(o);
			continue;
		}
		if (cJSON_IsTrue(cJSON_GetObjectItem(o, "wait"))) {
			while (in_flight > 0)
				poll_all();
			cJSON_Delete(o);
			continue;
		}
		as = cJSON_GetObjectItem(o, "as");
		fn = cJSON_GetObjectItem(o, "fn");
		args = cJSON_GetObjectItem(o, "args");
		if (!cJSON_IsString(fn)) {
			fprintf(stderr, "line %d: no fn\n", lineno);
			cJSON_Delete(o);
			return 2;
		}
		j = gx_xcalloc(1, sizeof(*j));
		j->line = lineno;
		j->who = 0;
		if (cJSON_IsString(as) && strcmp(as->valuestring, "admin") == 0)
			j->who = 1;
		else if (cJSON_IsString(as) && strcmp(as->valuestring, "super-admin") == 0)
			j->who = 2;
		j->fn = gx_xstrdup(fn->valuestring);
		j->nargs = (size_t)cJSON_GetArraySize(args);
		j->args = gx_xcalloc(j->nargs + 1, sizeof(char *));
		{
			size_t k = 0;

			cJSON_ArrayForEach(a, args)
				j->args[k++] = gx_xstrdup(cJSON_IsString(a) ? a->valuestring : "");
		}
		if (cJSON_IsTrue(cJSON_GetObjectItem(o, "eval"))) {
			struct gx_fabric_result res = { 0 };

			while (in_flight > 0)
				poll_all();
			if (gx_fabric_client_evaluate_sync(clients[j->who], j->fn, (const char *const *)j->args,
							   j->nargs, &res) == 0)
				printf("{\"i\":%d,\"ok\":true,\"payload\":%.*s}\n", lineno,
				       (int)res.response.payload.len, (const char *)res.response.payload.data);
			else
				printf("{\"i\":%d,\"ok\":false,\"error\":\"evaluate failed\"}\n", lineno);
			gx_fabric_client_result_release(&res);
			job_free(j);
			cJSON_Delete(o);
			continue;
		}
		cJSON_Delete(o);
		while (in_flight >= window)
			poll_all();
		if (start(j) < 0) {
			printf("{\"i\":%d,\"ok\":false,\"error\":\"could not start\"}\n", lineno);
			n_failed++;
			job_free(j);
		}
	}
	while (in_flight > 0)
		poll_all();
	printf("{\"done\":true,\"ok\":%d,\"failed\":%d,\"seconds\":%.3f}\n", n_ok, n_failed,
	       (double)(gx_mono_us() - t0) / 1e6);
	fflush(stdout);
	for (int i = 0; i < 3; i++) {
		struct gx_fabric_id *id = gx_fabric_client_id(clients[i]);

		gx_fabric_client_free(clients[i]);
		gx_fabric_id_free(id);
	}
	return n_failed ? 1 : 0;
}
