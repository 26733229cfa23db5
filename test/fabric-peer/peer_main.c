/* gx-fabric-peer: a Fabric peer stand-in serving /gateway.Gateway for tests and `make up` (see docs in peer.h,
 * peer_gw.h, peer_ledger.h, peer_fault.h). Configuration by flags, each with an environment fallback. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "gx/log.h"
#include "gx/util.h"
#include "peer.h"
#include "peer_fault.h"
#include "peer_ledger.h"
#include "peer_msp.h"
#include "peer_rpc.h"
#include "peer_sign.h"
#include "peer_tool.h"

struct opt {
	const char *flag;
	const char *env;
	const char *help;
};

static const struct opt OPTS[] = {
	{ "--listen", "PEER_LISTEN", "address to listen on, port 0 = any (default 127.0.0.1:7051)" },
	{ "--ledger-dir", "PEER_LEDGER_DIR", "directory of the persisted ledger (required)" },
	{ "--ca-cert", "PEER_CA_CERT", "PEM CA certificate of the MSP; creators must chain to it (required)" },
	{ "--tls-cert", "PEER_TLS_CERT", "PEM server TLS certificate (TLS when set, with --tls-key)" },
	{ "--tls-key", "PEER_TLS_KEY", "PEM server TLS private key" },
	{ "--tls-client-ca", "PEER_TLS_CLIENT_CA", "PEM CA that client TLS certificates must chain to (mTLS)" },
	{ "--block-size", "PEER_BLOCK_SIZE", "transactions per block (default 500)" },
	{ "--block-timeout-ms", "PEER_BLOCK_TIMEOUT_MS", "block cut timeout in ms (default 2000)" },
	{ "--msp-id", "PEER_MSP_ID", "MSP id of the organisation (default Org1MSP)" },
	{ "--channel", "PEER_CHANNEL", "channel name (default gxchannel)" },
	{ "--chaincode", "PEER_CHAINCODE", "chaincode name (default gxtv3)" },
	{ "--fault-file", "PEER_FAULT_FILE", "fault injection control file (see peer_fault.h)" },
	{ "--log-level", "LOG_LEVEL", "trace..fatal (default info)" },
	{ "--peer-cert", "PEER_CERT",
	  "PEM certificate of the peer's MSP identity (default peer/msp/cert.pem of the"
	  " dev CA that holds --ca-cert)" },
	{ "--peer-key", "PEER_KEY", "PEM P-256 key of that identity (default peer/msp/key.pem beside it)" },
	{ "--gateway-concurrency", "PEER_GATEWAY_CONCURRENCY",
	  "concurrent Gateway calls allowed, 0 = no limit (default 500, a Fabric 2.5 peer's)" },
	{ "--endorse-latency-ms", "PEER_ENDORSE_LATENCY_MS",
	  "time added to each Evaluate/Endorse simulation (default 0)" },
	{ "--endorse-jitter-ms", "PEER_ENDORSE_JITTER_MS", "plus a uniform random 0..N ms (default 0)" },
	{ "--error-status", "PEER_ERROR_STATUS",
	  "chaincode error statuses: contractapi (500, default) or http (the model's 400..423)" },
	{ "--stats-file", "PEER_STATS_FILE", "JSON Gateway counters, rewritten every second and at exit" },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gx-fabric-peer [options]\n"
		"       gx-fabric-peer print-proposal <msp-id> <cert> <key> <channel> <chaincode> <fn> [args...]\n");
	for (size_t i = 0; i < GX_ARRAY_LEN(OPTS); i++)
		fprintf(f, "  %-22s %-25s %s\n", OPTS[i].flag, OPTS[i].env, OPTS[i].help);
}

static int parse_int(const char *name, const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "gx-fabric-peer: bad value for %s '%s' (%d..%d)\n", name, s, min, max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Fill vals[] (indexed like OPTS) from the environment, then flags. */
static int parse_args(int argc, char **argv, const char *vals[])
{
	for (size_t i = 0; i < GX_ARRAY_LEN(OPTS); i++) {
		const char *e = getenv(OPTS[i].env);

		if (e && *e)
			vals[i] = e;
	}
	for (int a = 1; a < argc; a++) {
		size_t i;

		if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		for (i = 0; i < GX_ARRAY_LEN(OPTS); i++) {
			size_t fl = strlen(OPTS[i].flag);

			if (strncmp(argv[a], OPTS[i].flag, fl) != 0)
				continue;
			if (argv[a][fl] == '=') {
				vals[i] = argv[a] + fl + 1;
				break;
			}
			if (argv[a][fl] == '\0' && a + 1 < argc) {
				vals[i] = argv[++a];
				break;
			}
		}
		if (i == GX_ARRAY_LEN(OPTS)) {
			fprintf(stderr, "gx-fabric-peer: unknown or incomplete option '%s'\n", argv[a]);
			usage(stderr);
			return -1;
		}
	}
	return 0;
}

/* <parent of the directory of ca_cert>/rel: the mkdevca.sh layout (<devca>/ca/ca.crt, <devca>/peer/msp/...).
 * Caller frees. */
static char *devca_path(const char *ca_cert, const char *rel)
{
	const char *file = strrchr(ca_cert, '/'), *dir = NULL;

	if (!file) /* ca.crt in the current directory */
		return gx_xasprintf("../%s", rel);
	for (const char *q = ca_cert; q < file; q++)
		if (*q == '/')
			dir = q;
	if (!dir) /* ca/ca.crt */
		return gx_xasprintf("%s", rel);
	return gx_xasprintf("%.*s/%s", (int)(dir - ca_cert), ca_cert, rel);
}

static int load_config(int argc, char **argv, struct peer_cfg *cfg)
{
	const char *v[GX_ARRAY_LEN(OPTS)] = { 0 };
	enum gx_log_level lvl;

	if (parse_args(argc, argv, v) < 0)
		return -1;
	cfg->listen = v[0] ? v[0] : "127.0.0.1:7051";
	cfg->ledger_dir = v[1];
	cfg->ca_cert = v[2];
	cfg->tls_cert = v[3];
	cfg->tls_key = v[4];
	cfg->tls_client_ca = v[5];
	cfg->block_size = 500;
	cfg->block_timeout_ms = 2000;
	if (v[6] && parse_int("--block-size", v[6], 1, 100000, &cfg->block_size) < 0)
		return -1;
	if (v[7] && parse_int("--block-timeout-ms", v[7], 1, 3600000, &cfg->block_timeout_ms) < 0)
		return -1;
	cfg->msp_id = v[8] ? v[8] : "Org1MSP";
	cfg->channel = v[9] ? v[9] : "gxchannel";
	cfg->chaincode = v[10] ? v[10] : "gxtv3";
	cfg->fault_file = v[11];
	if (v[12]) {
		if (gx_log_level_parse(v[12], &lvl) < 0) {
			fprintf(stderr, "gx-fabric-peer: bad value for LOG_LEVEL '%s'\n", v[12]);
			return -1;
		}
		gx_log_set_level(lvl);
	}
	if (!cfg->ledger_dir || !cfg->ca_cert) {
		fprintf(stderr, "gx-fabric-peer: --ledger-dir and --ca-cert are required\n");
		return -1;
	}
	cfg->peer_cert = v[13] ? v[13] : (cfg->owned[0] = devca_path(cfg->ca_cert, "peer/msp/cert.pem"));
	cfg->peer_key = v[14] ? v[14] : (cfg->owned[1] = devca_path(cfg->ca_cert, "peer/msp/key.pem"));
	cfg->gateway_concurrency = 500;
	if (v[15] && parse_int("--gateway-concurrency", v[15], 0, 1000000, &cfg->gateway_concurrency) < 0)
		return -1;
	if (v[16] && parse_int("--endorse-latency-ms", v[16], 0, 600000, &cfg->endorse_latency_ms) < 0)
		return -1;
	if (v[17] && parse_int("--endorse-jitter-ms", v[17], 0, 600000, &cfg->endorse_jitter_ms) < 0)
		return -1;
	if (v[18] && strcmp(v[18], "http") == 0) {
		cfg->error_status_http = true;
	} else if (v[18] && strcmp(v[18], "contractapi") != 0) {
		fprintf(stderr, "gx-fabric-peer: bad value for --error-status '%s' (contractapi or http)\n", v[18]);
		return -1;
	}
	cfg->stats_file = v[19];
	if (!cfg->tls_cert != !cfg->tls_key || (cfg->tls_client_ca && !cfg->tls_cert)) {
		fprintf(stderr, "gx-fabric-peer: --tls-cert and --tls-key go together; --tls-client-ca needs them\n");
		return -1;
	}
	return 0;
}

/* Write the Gateway counters to cfg.stats_file (temp file + rename, so readers never see half a file). */
static void write_stats(struct peer *p)
{
	char *tmp;
	FILE *f;

	if (!p->cfg.stats_file)
		return;
	tmp = gx_xasprintf("%s.tmp", p->cfg.stats_file);
	f = fopen(tmp, "w");
	if (!f) {
		gx_log_warn("cannot write stats file '%s': %s", tmp, strerror(errno));
		free(tmp);
		return;
	}
	fprintf(f, "{\"limit\":%d,\"active\":%d,\"peak\":%d,\"calls\":%llu,\"refused\":%llu}\n",
		p->cfg.gateway_concurrency, atomic_load(&p->gw_active), atomic_load(&p->gw_peak),
		(unsigned long long)atomic_load(&p->gw_calls), (unsigned long long)atomic_load(&p->gw_refused));
	if (fclose(f) != 0 || rename(tmp, p->cfg.stats_file) != 0)
		gx_log_warn("cannot write stats file '%s': %s", p->cfg.stats_file, strerror(errno));
	free(tmp);
}

static void *stats_main(void *arg)
{
	struct peer *p = arg;

	while (!atomic_load(&p->stopping)) {
		struct timespec ts = { 0, 100 * 1000000L };

		for (int i = 0; i < 10 && !atomic_load(&p->stopping); i++)
			nanosleep(&ts, NULL);
		write_stats(p);
	}
	return NULL;
}

static void log_stats(struct peer *p)
{
	gx_log_kv(GX_LOG_INFO,
		  GX_LOG_FIELDS(GX_LOG_INT("limit", p->cfg.gateway_concurrency),
				GX_LOG_INT("peak", atomic_load(&p->gw_peak)),
				GX_LOG_INT("calls", (long long)atomic_load(&p->gw_calls)),
				GX_LOG_INT("refused", (long long)atomic_load(&p->gw_refused))),
		  "gateway concurrency");
	write_stats(p);
}

static void *signal_main(void *arg)
{
	struct peer *p = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	while (sigwait(&set, &sig) == 0) {
		if (sig == SIGTERM || sig == SIGINT) {
			gx_log_kv(GX_LOG_INFO,
				  GX_LOG_FIELDS(GX_LOG_STR("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT")),
				  "shutting down");
			peer_rpc_stop(p);
			break;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct peer p;
	sigset_t set;
	pthread_t sig_thread, stats_thread;
	bool stats_started = false;
	int rc = 1;

	memset(&p, 0, sizeof(p));
	gx_log_init("gx-fabric-peer");
	if (argc > 1 && strcmp(argv[1], "print-proposal") == 0)
		return peer_tool_print_proposal(argc - 1, argv + 1);
	if (load_config(argc, argv, &p.cfg) < 0) {
		free(p.cfg.owned[0]);
		free(p.cfg.owned[1]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits the mask; signal_main waits for them */

	gx_log_kv(GX_LOG_INFO,
		  GX_LOG_FIELDS(GX_LOG_STR("listen", p.cfg.listen), GX_LOG_STR("ledgerDir", p.cfg.ledger_dir),
				GX_LOG_STR("caCert", p.cfg.ca_cert), GX_LOG_BOOL("tls", p.cfg.tls_cert != NULL),
				GX_LOG_BOOL("mtls", p.cfg.tls_client_ca != NULL),
				GX_LOG_INT("blockSize", p.cfg.block_size),
				GX_LOG_INT("blockTimeoutMs", p.cfg.block_timeout_ms), GX_LOG_STR("mspId", p.cfg.msp_id),
				GX_LOG_STR("channel", p.cfg.channel), GX_LOG_STR("chaincode", p.cfg.chaincode),
				GX_LOG_STR("faultFile", p.cfg.fault_file ? p.cfg.fault_file : ""),
				GX_LOG_STR("peerCert", p.cfg.peer_cert),
				GX_LOG_INT("gatewayConcurrency", p.cfg.gateway_concurrency),
				GX_LOG_INT("endorseLatencyMs", p.cfg.endorse_latency_ms),
				GX_LOG_INT("endorseJitterMs", p.cfg.endorse_jitter_ms),
				GX_LOG_STR("errorStatus", p.cfg.error_status_http ? "http" : "contractapi")),
		  "configuration");

	grpc_init();
	p.msp = peer_msp_new(p.cfg.ca_cert, p.cfg.msp_id);
	if (!p.msp)
		goto out;
	p.signer = peer_sign_new(p.msp, p.cfg.msp_id, p.cfg.peer_cert, p.cfg.peer_key);
	if (!p.signer)
		goto out;
	p.ledger = peer_ledger_open(p.cfg.ledger_dir, p.cfg.block_size, p.cfg.block_timeout_ms);
	if (!p.ledger)
		goto out;
	p.fault = peer_fault_new(p.cfg.fault_file);
	if (pthread_create(&sig_thread, NULL, signal_main, &p) != 0) {
		gx_log_error("cannot start the signal thread");
		goto out;
	}
	pthread_detach(sig_thread);
	if (p.cfg.stats_file && pthread_create(&stats_thread, NULL, stats_main, &p) == 0)
		stats_started = true;
	if (peer_rpc_serve(&p) == 0)
		rc = 0;
	atomic_store(&p.stopping, true);
	if (stats_started)
		pthread_join(stats_thread, NULL);
	log_stats(&p);
out:
	peer_ledger_close(p.ledger);
	peer_fault_free(p.fault);
	peer_sign_free(p.signer);
	free(p.cfg.owned[0]);
	free(p.cfg.owned[1]);
	peer_msp_free(p.msp);
	free(p.address);
	grpc_shutdown();
	gx_log_info("stopped");
	return rc;
}
