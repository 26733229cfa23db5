/* gx-fabric-peer: a Fabric peer stand-in serving /gateway.Gateway for tests and `make up` (see docs in peer.h,
 * peer_gw.h, peer_ledger.h, peer_fault.h). Configuration by flags, each with an environment fallback. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "gx/log.h"
#include "gx/rand.h"
#include "gx/util.h"
#include "peer.h"
#include "peer_fault.h"
#include "peer_ledger.h"
#include "peer_msp.h"
#include "peer_rpc.h"
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
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gx-fabric-peer [options]\n"
		"       gx-fabric-peer print-proposal <msp-id> <cert> <key> <channel> <chaincode> <fn> [args...]\n");
	for (size_t i = 0; i < GX_ARRAY_LEN(OPTS); i++)
		fprintf(f, "  %-20s %-22s %s\n", OPTS[i].flag, OPTS[i].env, OPTS[i].help);
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
	if (!cfg->tls_cert != !cfg->tls_key || (cfg->tls_client_ca && !cfg->tls_cert)) {
		fprintf(stderr, "gx-fabric-peer: --tls-cert and --tls-key go together; --tls-client-ca needs them\n");
		return -1;
	}
	return 0;
}

/* The HMAC key that authenticates this peer's endorsements at commit; kept beside the blocks so prepared
 * transactions stay valid across restarts. */
static int load_endorse_key(struct peer *p)
{
	char *path = gx_xasprintf("%s/endorser.key", p->cfg.ledger_dir);
	int fd, rc = -1;
	ssize_t n;

	mkdir(p->cfg.ledger_dir, 0700);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, p->endorse_key, sizeof(p->endorse_key));
		close(fd);
		if (n == (ssize_t)sizeof(p->endorse_key))
			rc = 0;
		else
			gx_log_error("endorser key '%s' is truncated", path);
		goto out;
	}
	if (gx_rand_bytes(p->endorse_key, sizeof(p->endorse_key)) < 0)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, p->endorse_key, sizeof(p->endorse_key)) != (ssize_t)sizeof(p->endorse_key) ||
	    fsync(fd) != 0) {
		gx_log_error("cannot write endorser key '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	rc = 0;
out:
	free(path);
	return rc;
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
	pthread_t sig_thread;
	int rc = 1;

	memset(&p, 0, sizeof(p));
	gx_log_init("gx-fabric-peer");
	if (argc > 1 && strcmp(argv[1], "print-proposal") == 0)
		return peer_tool_print_proposal(argc - 1, argv + 1);
	if (load_config(argc, argv, &p.cfg) < 0)
		return 2;
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
				GX_LOG_STR("faultFile", p.cfg.fault_file ? p.cfg.fault_file : "")),
		  "configuration");

	grpc_init();
	p.msp = peer_msp_new(p.cfg.ca_cert, p.cfg.msp_id);
	if (!p.msp || load_endorse_key(&p) < 0)
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
	if (peer_rpc_serve(&p) == 0)
		rc = 0;
out:
	peer_ledger_close(p.ledger);
	peer_fault_free(p.fault);
	peer_msp_free(p.msp);
	free(p.address);
	grpc_shutdown();
	gx_log_info("stopped");
	return rc;
}
