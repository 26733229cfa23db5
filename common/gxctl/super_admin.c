/* gxctl create-super-admin: create the first SUPER_ADMIN profile (design.md §4: an operator command, not an open
 * endpoint). The password comes from a file or stdin, never from argv; it is stored as a bcrypt hash. */
#include "gxctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "gx/password.h"
#include "gx/rand.h"
#include "gx/util.h"
#include "gx/valid.h"

/* Operator profiles have no biometric identity and never go on chain: "biometricHash" (NOT NULL, unique) gets 64
 * random hex digits that match no person. "fabricUserId" stays NULL. */
static const char SQL_INSERT[] =
	"WITH p AS (INSERT INTO \"UserProfile\" (\"profileId\", \"tenantId\", \"firstName\", \"lastName\", \"email\","
	" \"biometricHash\", \"passwordHash\", \"status\", \"role\") VALUES ($1, $2, $3, $4, $5, $6, $7, 'VERIFIED',"
	" 'SUPER_ADMIN') RETURNING \"profileId\")"
	" INSERT INTO \"AdminAuditLog\" (\"tenantId\", \"actorId\", \"actorRole\", \"action\", \"targetType\", \"targetId\","
	" \"details\") SELECT $2, $8, 'OPERATOR', 'SUPER_ADMIN_CREATE', 'USER', p.\"profileId\","
	" jsonb_build_object('email', $5::text) FROM p";

static void usage(FILE *out)
{
	fprintf(out,
		"usage: gxctl create-super-admin --email EMAIL [--password-file FILE] [--first-name N] [--last-name N]\n"
		"\n"
		"Creates a UserProfile with role SUPER_ADMIN and status VERIFIED in tenant TENANT_ID (default \"default\").\n"
		"The password is the first line of FILE, or of standard input when --password-file is not given (not echoed\n"
		"on a terminal); it is never taken from the command line. %d..%d bytes. Stored as bcrypt (cost %d).\n"
		"Fails (exit 1) when a profile with that email already exists. Prints the new profile id.\n\n%s",
		GX_PASSWORD_MIN_LEN, GX_PASSWORD_MAX_LEN, GX_PASSWORD_DEFAULT_COST, GXCTL_DB_HELP);
}

/* First line of f without its line end, or NULL (message printed). Caller frees. */
static char *read_password(FILE *f, const char *what)
{
	char buf[256];
	char *pw;
	size_t n;

	if (!fgets(buf, sizeof(buf), f)) {
		fprintf(stderr, "gxctl: no password on %s\n", what);
		return NULL;
	}
	n = strcspn(buf, "\r\n");
	if (n == sizeof(buf) - 1 && buf[n] == '\0') {
		fprintf(stderr, "gxctl: password line on %s is too long\n", what);
		return NULL;
	}
	buf[n] = '\0';
	pw = gx_xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return pw;
}

static char *password_from_stdin(void)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	char *pw;

	if (tty) {
		fprintf(stderr, "password: ");
		quiet = old;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	pw = read_password(stdin, "standard input");
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	return pw;
}

int gxctl_create_super_admin(int argc, char **argv)
{
	const char *email_arg = NULL, *file = NULL, *first = "Super", *last = "Admin";
	const char *tenant = gx_api_tenant_env();
	char issue[160] = "";
	char *email = NULL, *pw = NULL, *hash = NULL;
	char id[37], bio[65];
	unsigned char rnd[32];
	const char *params[8];
	PGconn *conn = NULL;
	PGresult *res = NULL;
	int rc = GXCTL_USAGE;

	if (gxctl_wants_help(argc, argv)) {
		usage(stdout);
		return GXCTL_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char **dst = strcmp(argv[i], "--email") == 0           ? &email_arg
				   : strcmp(argv[i], "--password-file") == 0 ? &file
				   : strcmp(argv[i], "--first-name") == 0    ? &first
				   : strcmp(argv[i], "--last-name") == 0     ? &last
									     : NULL;

		if (!dst || i + 1 >= argc) {
			fprintf(stderr, "gxctl: create-super-admin: %s '%s' (see --help)\n",
				dst ? "missing value for" : "unknown argument", argv[i]);
			return GXCTL_USAGE;
		}
		*dst = argv[++i];
	}
	if (!email_arg) {
		fprintf(stderr, "gxctl: create-super-admin: --email is required (see --help)\n");
		return GXCTL_USAGE;
	}
	email = gx_xstrdup(email_arg);
	for (char *p = email; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (!gx_valid_email(email)) {
		fprintf(stderr, "gxctl: create-super-admin: '%s' is not a valid email address\n", email_arg);
		goto out;
	}
	if (!gx_valid_name(first, 1, 100) || !gx_valid_name(last, 1, 100)) {
		fprintf(stderr, "gxctl: create-super-admin: names must be 1..100 printable characters\n");
		goto out;
	}
	if (file) {
		FILE *f = fopen(file, "r");

		if (!f) {
			fprintf(stderr, "gxctl: cannot open password file '%s': %m\n", file);
			rc = GXCTL_FAIL;
			goto out;
		}
		pw = read_password(f, file);
		fclose(f);
	} else {
		pw = password_from_stdin();
	}
	if (!pw)
		goto out;
	/* the same policy as every API (length, not the email or names, cracklib's dictionary) */
	switch (gx_password_check(pw, email, first, last, issue, sizeof(issue))) {
	case GX_PASSWORD_OK:
		break;
	case GX_PASSWORD_ERROR:
		fprintf(stderr,
			"gxctl: create-super-admin: the password dictionary could not be read (cracklib-runtime)\n");
		rc = GXCTL_FAIL;
		goto out;
	default:
		fprintf(stderr, "gxctl: create-super-admin: the password %s\n", issue);
		goto out;
	}
	rc = GXCTL_FAIL;
	hash = gx_password_hash(pw, GX_PASSWORD_DEFAULT_COST);
	if (!hash || gx_uuid_v4(id) < 0 || gx_rand_bytes(rnd, sizeof(rnd)) < 0) {
		fprintf(stderr, "gxctl: create-super-admin: could not hash the password or draw random bytes\n");
		goto out;
	}
	gx_hex_encode(rnd, sizeof(rnd), bio);
	conn = gxctl_connect(&rc);
	if (!conn)
		goto out;
	rc = GXCTL_FAIL;
	params[0] = id;
	params[1] = tenant;
	params[2] = first;
	params[3] = last;
	params[4] = email;
	params[5] = bio;
	params[6] = hash;
	params[7] = "gxctl";
	res = PQexecParams(conn, SQL_INSERT, 8, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (state && strcmp(state, "23505") == 0)
			fprintf(stderr, "gxctl: create-super-admin: a profile with email %s already exists\n", email);
		else
			fprintf(stderr, "gxctl: create-super-admin: insert failed: %s", PQresultErrorMessage(res));
		goto out;
	}
	printf("created SUPER_ADMIN %s <%s>\n", id, email);
	rc = GXCTL_OK;
out:
	PQclear(res);
	if (conn)
		PQfinish(conn);
	if (pw) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	free(hash);
	free(email);
	return rc;
}
