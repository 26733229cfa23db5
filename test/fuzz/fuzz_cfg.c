/* libFuzzer target for database settings (gx_cfg_pg_conninfo through the environment, gx_cfg_conninfo_masked).
 * Byte 0 picks the mode:
 *   0: the input is DATABASE_URL as given;
 *   1: the input is spliced into the password of "postgres://u:<marker><input>@db:5432/gx?<input>"; neither the
 *      error text nor the masked conninfo may contain the password marker;
 *   2: the input is DATABASE_PASSWORD (with DATABASE_HOST/PORT set and no URL): same secrecy check. */
#include <stdio.h>

#include "fuzz.h"
#include "gx/cfg.h"

#define MARKER "Zq9PwMark"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	unsetenv("DATABASE_HOST");
	unsetenv("DATABASE_NAME");
	unsetenv("DATABASE_USER");
	return 0;
}

static void run(bool secret)
{
	char err[256] = "";
	char *ci = gx_cfg_pg_conninfo(err, sizeof(err));
	char *masked;

	if (!ci) {
		if (!err[0] || (secret && strstr(err, MARKER)))
			abort();
		return;
	}
	masked = gx_cfg_conninfo_masked(ci);
	if (!masked || (secret && strstr(masked, MARKER)))
		abort();
	sink += strlen(ci) + strlen(masked);
	free(masked);
	free(ci);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, *url;
	size_t n;

	if (size < 1 || !(in = fuzz_cstr(data + 1, size - 1)))
		return 0;
	n = strlen(in);
	switch (data[0] % 3) {
	case 0:
		unsetenv("DATABASE_PORT");
		unsetenv("DATABASE_PASSWORD");
		setenv("DATABASE_URL", in, 1);
		run(false);
		free(gx_cfg_conninfo_masked(in));
		break;
	case 1:
		/* the marker stands for the password: an input that carries it itself (e.g. in the query, as an
		 * options value, which is rightly kept) proves nothing about leaking the password */
		if (strstr(in, MARKER))
			break;
		/* keep the spliced text inside the userinfo: the authority ends at '/', '?' */
		for (size_t i = 0; i < n; i++)
			if (in[i] == '/' || in[i] == '?' || in[i] == '#')
				in[i] = 'x';
		url = malloc(2 * n + 64);
		if (!url)
			break;
		snprintf(url, 2 * n + 64, "postgres://u:" MARKER "%s@db:5432/gx?%s", in, in);
		unsetenv("DATABASE_PORT");
		unsetenv("DATABASE_PASSWORD");
		setenv("DATABASE_URL", url, 1);
		run(true);
		free(url);
		break;
	default:
		url = malloc(n + sizeof(MARKER));
		if (!url)
			break;
		memcpy(url, MARKER, sizeof(MARKER) - 1);
		memcpy(url + sizeof(MARKER) - 1, in, n + 1);
		unsetenv("DATABASE_URL");
		setenv("DATABASE_HOST", "db", 1);
		setenv("DATABASE_PORT", "5432", 1);
		setenv("DATABASE_PASSWORD", url, 1);
		run(true);
		unsetenv("DATABASE_HOST");
		free(url);
		break;
	}
	free(in);
	return 0;
}
