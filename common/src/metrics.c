/* Metrics registry: families with lock-free series lookup and atomic values, Prometheus text exposition. */
#include "gx/metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gx/log.h"
#include "gx/util.h"

#define MAX_FAMILIES 256
#define HASH_SLOTS 64

static const double latency_buckets[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

struct series {
	struct series *next;        /* hash chain; immutable once published */
	char **values;              /* label values, nlabels entries */
	_Atomic uint64_t value;     /* counter/gauge: double bits */
	_Atomic uint64_t count;     /* histogram: observations */
	_Atomic uint64_t sum;       /* histogram: double bits */
	_Atomic uint64_t buckets[]; /* histogram: per-bucket (non-cumulative) counts, nbuckets + 1 (+Inf) */
};

struct gx_metric {
	const char *name;
	const char *help;
	enum gx_metric_type type;
	const char *labels[GX_METRICS_MAX_LABELS];
	size_t nlabels;
	double buckets[GX_METRICS_MAX_BUCKETS];
	size_t nbuckets;
	_Atomic(struct series *) slots[HASH_SLOTS];
	size_t nseries;       /* under reg_lock */
	bool overflow_logged; /* under reg_lock */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gx_metric *families[MAX_FAMILIES];
static _Atomic size_t nfamilies;
static _Atomic int64_t start_time_ms;
static const char *process_prefix; /* set once at start by gx_metrics_process_prefix, before serving */
static struct gx_metric *dropped_series;

static struct series *series_get(struct gx_metric *m, const char *const *values);

/* ---- double <-> atomic bits ---- */

static uint64_t d2u(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

static double u2d(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static void atomic_add_double(_Atomic uint64_t *a, double v)
{
	uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(a, &old, d2u(u2d(old) + v), memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* ---- registration ---- */

static bool name_valid(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == ':'))
			return false;
	}
	return true;
}

static bool same_shape(const struct gx_metric *m, enum gx_metric_type type, const char *const *labels, size_t n)
{
	if (m->type != type || m->nlabels != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(m->labels[i], labels[i]) != 0)
			return false;
	return true;
}

static struct gx_metric *family_register(const char *name, const char *help, enum gx_metric_type type,
					 const char *const *labels, const double *buckets, size_t nbuckets)
{
	struct gx_metric *m = NULL;
	size_t n = 0;

	while (labels && labels[n])
		n++;
	if (!name_valid(name) || n > GX_METRICS_MAX_LABELS || nbuckets > GX_METRICS_MAX_BUCKETS) {
		gx_log_error("cannot register metric '%s': invalid name, labels or buckets", name ? name : "");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!name_valid(labels[i])) {
			gx_log_error("cannot register metric '%s': invalid label name '%s'", name, labels[i]);
			return NULL;
		}
	}
	pthread_mutex_lock(&reg_lock);
	if (atomic_load(&start_time_ms) == 0)
		atomic_store(&start_time_ms, gx_now_ms());
	for (size_t i = 0; i < atomic_load(&nfamilies); i++) {
		if (strcmp(families[i]->name, name) != 0)
			continue;
		m = families[i];
		if (!same_shape(m, type, labels, n)) {
			gx_log_error("cannot register metric '%s': it exists with another type or labels", name);
			m = NULL;
		}
		goto out;
	}
	if (atomic_load(&nfamilies) == MAX_FAMILIES) {
		gx_log_error("cannot register metric '%s': registry full", name);
		goto out;
	}
	m = gx_xcalloc(1, sizeof(*m));
	m->name = name;
	m->help = help ? help : "";
	m->type = type;
	m->nlabels = n;
	for (size_t i = 0; i < n; i++)
		m->labels[i] = labels[i];
	if (type == GX_METRIC_HISTOGRAM) {
		if (!buckets || nbuckets == 0) {
			buckets = latency_buckets;
			nbuckets = GX_ARRAY_LEN(latency_buckets);
		}
		memcpy(m->buckets, buckets, nbuckets * sizeof(double));
		m->nbuckets = nbuckets;
	}
	families[atomic_load(&nfamilies)] = m;
	atomic_store_explicit(&nfamilies, atomic_load(&nfamilies) + 1, memory_order_release);
out:
	pthread_mutex_unlock(&reg_lock);
	/* a family without labels has exactly one series: show it (as 0) from the start, so rate() and absent()
	 * alerts work before the first event */
	if (m && n == 0)
		series_get(m, NULL);
	return m;
}

struct gx_metric *gx_metrics_counter(const char *name, const char *help, const char *const *labels)
{
	return family_register(name, help, GX_METRIC_COUNTER, labels, NULL, 0);
}

struct gx_metric *gx_metrics_gauge(const char *name, const char *help, const char *const *labels)
{
	return family_register(name, help, GX_METRIC_GAUGE, labels, NULL, 0);
}

struct gx_metric *gx_metrics_histogram(const char *name, const char *help, const char *const *labels,
				       const double *buckets, size_t nbuckets)
{
	return family_register(name, help, GX_METRIC_HISTOGRAM, labels, buckets, nbuckets);
}

/* ---- series lookup ---- */

static uint32_t values_hash(const struct gx_metric *m, const char *const *values)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < m->nlabels; i++) {
		for (const char *p = values[i] ? values[i] : ""; *p; p++)
			h = (h ^ (unsigned char)*p) * 16777619u;
		h = (h ^ 0xff) * 16777619u;
	}
	return h;
}

static bool values_equal(const struct gx_metric *m, const struct series *s, const char *const *values)
{
	for (size_t i = 0; i < m->nlabels; i++)
		if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
			return false;
	return true;
}

static struct series *chain_find(struct series *s, const struct gx_metric *m, const char *const *values)
{
	for (; s; s = s->next)
		if (values_equal(m, s, values))
			return s;
	return NULL;
}

static struct series *series_get(struct gx_metric *m, const char *const *values)
{
	_Atomic(struct series *) *slot = &m->slots[values_hash(m, values) % HASH_SLOTS];
	struct series *s = chain_find(atomic_load_explicit(slot, memory_order_acquire), m, values);
	size_t nb;

	if (s)
		return s;
	pthread_mutex_lock(&reg_lock);
	s = chain_find(atomic_load_explicit(slot, memory_order_acquire), m, values);
	if (s)
		goto out;
	if (m->nseries >= GX_METRICS_MAX_SERIES) {
		if (!m->overflow_logged)
			gx_log_error("metric '%s' reached %d series: new label values dropped", m->name,
				     GX_METRICS_MAX_SERIES);
		m->overflow_logged = true;
		goto out;
	}
	nb = m->type == GX_METRIC_HISTOGRAM ? m->nbuckets + 1 : 0;
	s = gx_xcalloc(1, sizeof(*s) + nb * sizeof(s->buckets[0]));
	s->values = gx_xcalloc(m->nlabels + 1, sizeof(char *));
	for (size_t i = 0; i < m->nlabels; i++)
		s->values[i] = gx_xstrdup(values[i] ? values[i] : "");
	s->next = atomic_load_explicit(slot, memory_order_relaxed);
	atomic_store_explicit(slot, s, memory_order_release);
	m->nseries++;
out:
	pthread_mutex_unlock(&reg_lock);
	if (!s && m != dropped_series)
		gx_metrics_add(dropped_series, NULL, 1);
	return s;
}

static const char *const no_values[GX_METRICS_MAX_LABELS + 1];

void gx_metrics_add(struct gx_metric *m, const char *const *values, double v)
{
	struct series *s;

	if (!m || m->type == GX_METRIC_HISTOGRAM || (m->type == GX_METRIC_COUNTER && !(v >= 0)))
		return;
	s = series_get(m, values ? values : no_values);
	if (s)
		atomic_add_double(&s->value, v);
}

void gx_metrics_set(struct gx_metric *m, const char *const *values, double v)
{
	struct series *s;

	if (!m || m->type != GX_METRIC_GAUGE)
		return;
	s = series_get(m, values ? values : no_values);
	if (s)
		atomic_store_explicit(&s->value, d2u(v), memory_order_relaxed);
}

void gx_metrics_observe(struct gx_metric *m, const char *const *values, double v)
{
	struct series *s;
	size_t i = 0;

	if (!m || m->type != GX_METRIC_HISTOGRAM || isnan(v))
		return;
	s = series_get(m, values ? values : no_values);
	if (!s)
		return;
	while (i < m->nbuckets && v > m->buckets[i])
		i++;
	atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
	atomic_add_double(&s->sum, v);
	atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

void gx_metrics_build_info(const char *service, const char *version)
{
	static const char *const labels[] = { "service", "version", NULL };
	struct gx_metric *m = gx_metrics_gauge("gx_build_info", "Build information, always 1", labels);
	const char *values[] = { service, version };
	gx_metrics_set(m, values, 1);
}

/* ---- rendering ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_grow(struct buf *b, size_t need)
{
	if (b->len + need + 1 <= b->cap)
		return;
	while (b->len + need + 1 > b->cap)
		b->cap = b->cap ? b->cap * 2 : 4096;
	b->p = gx_xrealloc(b->p, b->cap);
}

static void buf_puts(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	buf_grow(b, n);
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

static void GX_PRINTF(2, 3) buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Escape for HELP text (quote kept) or label values (quote escaped). */
static void buf_escaped(struct buf *b, const char *s, bool quote)
{
	char one[2] = { 0, 0 };
	for (; *s; s++) {
		if (*s == '\\')
			buf_puts(b, "\\\\");
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else if (quote && *s == '"')
			buf_puts(b, "\\\"");
		else {
			one[0] = *s;
			buf_puts(b, one);
		}
	}
}

static void buf_number(struct buf *b, double v)
{
	if (isnan(v))
		buf_puts(b, "NaN");
	else if (isinf(v))
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		buf_printf(b, "%.0f", v);
	else
		buf_printf(b, "%.17g", v);
}

/* name{l1="v1",...[,extra_label="extra_value"]} */
static void buf_series_name(struct buf *b, const struct gx_metric *m, const char *suffix, const struct series *s,
			    const char *extra_label, const char *extra_value)
{
	bool any = m->nlabels > 0 || extra_label;

	buf_puts(b, m->name);
	buf_puts(b, suffix);
	if (!any)
		return;
	buf_puts(b, "{");
	for (size_t i = 0; i < m->nlabels; i++) {
		buf_printf(b, "%s%s=\"", i ? "," : "", m->labels[i]);
		buf_escaped(b, s->values[i], true);
		buf_puts(b, "\"");
	}
	if (extra_label)
		buf_printf(b, "%s%s=\"%s\"", m->nlabels ? "," : "", extra_label, extra_value);
	buf_puts(b, "}");
}

static void render_series(struct buf *b, const struct gx_metric *m, const struct series *s)
{
	uint64_t cum = 0;
	char le[32];

	if (m->type != GX_METRIC_HISTOGRAM) {
		buf_series_name(b, m, "", s, NULL, NULL);
		buf_puts(b, " ");
		buf_number(b, u2d(atomic_load_explicit(&s->value, memory_order_relaxed)));
		buf_puts(b, "\n");
		return;
	}
	for (size_t i = 0; i <= m->nbuckets; i++) {
		cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
		if (i < m->nbuckets)
			snprintf(le, sizeof(le), "%.15g", m->buckets[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		buf_series_name(b, m, "_bucket", s, "le", le);
		buf_printf(b, " %llu\n", (unsigned long long)cum);
	}
	buf_series_name(b, m, "_sum", s, NULL, NULL);
	buf_puts(b, " ");
	buf_number(b, u2d(atomic_load_explicit(&s->sum, memory_order_relaxed)));
	buf_puts(b, "\n");
	/* _count equals the +Inf bucket by definition; use the cumulative sum so a scrape racing an observation
	 * stays self-consistent */
	buf_series_name(b, m, "_count", s, NULL, NULL);
	buf_printf(b, " %llu\n", (unsigned long long)cum);
}

static void render_family(struct buf *b, const struct gx_metric *m)
{
	static const char *const type_names[] = { "counter", "gauge", "histogram" };

	buf_printf(b, "# HELP %s ", m->name);
	buf_escaped(b, m->help, false);
	buf_printf(b, "\n# TYPE %s %s\n", m->name, type_names[m->type]);
	for (size_t i = 0; i < HASH_SLOTS; i++)
		for (struct series *s = atomic_load_explicit(&m->slots[i], memory_order_acquire); s; s = s->next)
			render_series(b, m, s);
}

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own fd */
}

/* One process sample with its HELP and TYPE lines, the name prefixed by prefix. */
static void process_sample(struct buf *b, const char *prefix, const char *name, const char *type, const char *help,
			   double v)
{
	buf_printf(b, "# HELP %s%s %s\n# TYPE %s%s %s\n%s%s ", prefix, name, help, prefix, name, type, prefix, name);
	buf_number(b, v);
	buf_puts(b, "\n");
}

/* The process families under prefix: "" always, and "http_" as well in an API daemon, where the original backend
 * published its default metrics with that prefix (docs/compat.md). */
static void render_process(struct buf *b, const char *prefix)
{
	unsigned long long pages_virt = 0, pages_rss = 0;
	long page = sysconf(_SC_PAGESIZE);
	struct rusage ru;
	struct rlimit rl;
	FILE *f = fopen("/proc/self/statm", "r");
	int fds = count_open_fds();

	if (f) {
		if (fscanf(f, "%llu %llu", &pages_virt, &pages_rss) != 2)
			pages_virt = pages_rss = 0;
		fclose(f);
	}
	process_sample(b, prefix, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
		       (double)(pages_rss * (unsigned long long)page));
	process_sample(b, prefix, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
		       (double)(pages_virt * (unsigned long long)page));
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		double user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
		double sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;

		process_sample(b, prefix, "process_cpu_user_seconds_total", "counter",
			       "Total user CPU time spent in seconds.", user);
		process_sample(b, prefix, "process_cpu_system_seconds_total", "counter",
			       "Total system CPU time spent in seconds.", sys);
		process_sample(b, prefix, "process_cpu_seconds_total", "counter",
			       "Total user and system CPU time spent in seconds.", user + sys);
	}
	if (fds >= 0)
		process_sample(b, prefix, "process_open_fds", "gauge", "Number of open file descriptors.", fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		process_sample(b, prefix, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
			       (double)rl.rlim_cur);
	process_sample(b, prefix, "process_start_time_seconds", "gauge",
		       "Start time of the process since unix epoch in seconds.",
		       (double)atomic_load(&start_time_ms) / 1000.0);
}

void gx_metrics_process_prefix(const char *prefix)
{
	process_prefix = prefix;
}

char *gx_metrics_render(size_t *len)
{
	struct buf b = { 0 };
	size_t n = atomic_load_explicit(&nfamilies, memory_order_acquire);

	buf_grow(&b, 0);
	b.p[0] = '\0';
	for (size_t i = 0; i < n; i++)
		render_family(&b, families[i]);
	render_process(&b, "");
	if (process_prefix)
		render_process(&b, process_prefix);
	if (len)
		*len = b.len;
	return b.p;
}

__attribute__((constructor)) static void metrics_init(void)
{
	atomic_store(&start_time_ms, gx_now_ms());
	dropped_series = gx_metrics_counter("gx_metrics_dropped_series_total",
					    "Series refused because a family reached its cardinality cap", NULL);
}
