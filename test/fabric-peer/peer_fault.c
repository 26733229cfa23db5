/* Control-file driven fault injection (UNAVAILABLE, "too many requests", delays, event stream drops). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gx/log.h"
#include "gx/util.h"
#include "peer_fault.h"

#define MAX_RULES 32

struct rule {
	enum peer_fault_kind kind; /* NONE for a delay rule */
	char method[32];
	int count;
	int delay_ms;
};

struct peer_fault {
	char *path;
	pthread_mutex_t lock;
	struct stat seen; /* identity of the last loaded file version */
	bool loaded;
	struct rule rules[MAX_RULES];
	int nrules;
	unsigned drop_gen;
};

struct peer_fault *peer_fault_new(const char *path)
{
	struct peer_fault *f = gx_xcalloc(1, sizeof(*f));

	f->path = path && *path ? gx_xstrdup(path) : NULL;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

void peer_fault_free(struct peer_fault *f)
{
	if (!f)
		return;
	pthread_mutex_destroy(&f->lock);
	free(f->path);
	free(f);
}

static void load(struct peer_fault *f)
{
	FILE *fp = fopen(f->path, "r");
	char line[256];

	f->nrules = 0;
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		struct rule r = { 0 };
		char kind[32];
		int n;

		if (line[0] == '#' || sscanf(line, "%31s", kind) != 1)
			continue;
		if (strcmp(kind, "drop_events") == 0) {
			f->drop_gen++;
			continue;
		}
		n = sscanf(line, "%31s %31s %d %d", kind, r.method, &r.count, &r.delay_ms);
		if (strcmp(kind, "unavailable") == 0 && n >= 3)
			r.kind = PEER_FAULT_UNAVAILABLE;
		else if (strcmp(kind, "too_many") == 0 && n >= 3)
			r.kind = PEER_FAULT_TOO_MANY;
		else if (strcmp(kind, "no_plan") == 0 && n >= 3)
			r.kind = PEER_FAULT_NO_PLAN;
		else if (strcmp(kind, "delay") == 0 && n == 4)
			r.kind = PEER_FAULT_NONE;
		else {
			gx_log_warn("fault file '%s': ignoring bad line '%.*s'", f->path, (int)strcspn(line, "\n"),
				    line);
			continue;
		}
		if (f->nrules < MAX_RULES)
			f->rules[f->nrules++] = r;
	}
	fclose(fp);
	gx_log_info("fault file '%s' loaded: %d rules, drop generation %u", f->path, f->nrules, f->drop_gen);
}

static void refresh(struct peer_fault *f)
{
	struct stat st;

	if (!f->path || stat(f->path, &st) != 0)
		return;
	if (f->loaded && st.st_ino == f->seen.st_ino && st.st_size == f->seen.st_size &&
	    st.st_mtim.tv_sec == f->seen.st_mtim.tv_sec && st.st_mtim.tv_nsec == f->seen.st_mtim.tv_nsec)
		return;
	f->seen = st;
	f->loaded = true;
	load(f);
}

enum peer_fault_kind peer_fault_take(struct peer_fault *f, const char *method, int *delay_ms)
{
	enum peer_fault_kind kind = PEER_FAULT_NONE;

	*delay_ms = 0;
	if (!f->path)
		return kind;
	pthread_mutex_lock(&f->lock);
	refresh(f);
	for (int i = 0; i < f->nrules; i++) {
		struct rule *r = &f->rules[i];

		if (r->count <= 0 || (strcmp(r->method, "*") != 0 && strcmp(r->method, method) != 0))
			continue;
		if (r->kind == PEER_FAULT_NONE && *delay_ms == 0) {
			*delay_ms = r->delay_ms;
			r->count--;
		} else if (r->kind != PEER_FAULT_NONE && kind == PEER_FAULT_NONE) {
			kind = r->kind;
			r->count--;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return kind;
}

unsigned peer_fault_drop_gen(struct peer_fault *f)
{
	unsigned g;

	if (!f->path)
		return 0;
	pthread_mutex_lock(&f->lock);
	refresh(f);
	g = f->drop_gen;
	pthread_mutex_unlock(&f->lock);
	return g;
}
