/* Process-global metrics registry: counters, gauges and histograms with label sets, rendered as Prometheus text
 * exposition format 0.0.4 at GET /metrics.
 *
 * Families are registered by name (registering the same name and type again returns the existing family, so each
 * worker thread may call the constructor). Series (one per distinct label-value tuple) are created on first use and
 * live until the process exits. Updates are lock-free (C11 atomics); finding an existing series is a lock-free read
 * of an insert-only hash chain; only creating a new series takes the registry mutex. All functions are thread-safe
 * and may be called from any event-loop callback.
 *
 * Cardinality: label values must come from small closed sets (route templates, methods, status codes, outcome
 * words), never from ids or user input. A family refuses new series beyond GX_METRICS_MAX_SERIES (logged once and
 * counted in gx_metrics_dropped_series_total).
 *
 * Metric names this module and the HTTP server maintain (alert rules reference them; keep them stable):
 *   gx_http_requests_total{route,method,status}        counter: requests answered; route is the route template
 *                                                      ("/api/v1/users/{id}"), "unmatched" for 404s
 *   gx_http_request_duration_seconds{route,method}     histogram: time from request start to reply, latency buckets
 *   gx_http_in_flight                                  gauge: requests received and not yet answered
 *   gx_http_client_gone_total                          counter: replies dropped because the client had gone
 *   gx_redis_degraded_total{check}                     counter: requests served in Redis-degraded mode
 *                                                      (check = "ratelimit" | "revocation")
 *   gx_build_info{service,version}                     gauge, always 1
 *   gx_metrics_dropped_series_total                    counter: series refused by the cardinality cap
 *   process_resident_memory_bytes                      gauge (from /proc/self/statm at scrape)
 *   process_virtual_memory_bytes                       gauge
 *   process_cpu_seconds_total                          counter (user + system, from getrusage at scrape)
 *   process_open_fds                                   gauge
 *   process_start_time_seconds                         gauge: Unix time the registry was initialised
 *   process_cpu_user_seconds_total, process_cpu_system_seconds_total, process_max_fds   (the original's names)
 */
#ifndef GX_METRICS_H
#define GX_METRICS_H

#include <stddef.h>

#define GX_METRICS_MAX_LABELS 6
#define GX_METRICS_MAX_SERIES 2000
#define GX_METRICS_MAX_BUCKETS 24

enum gx_metric_type {
	GX_METRIC_COUNTER,
	GX_METRIC_GAUGE,
	GX_METRIC_HISTOGRAM,
};

struct gx_metric;

/* Register (or find) a family. name and help must be literals or otherwise outlive the process (borrowed);
 * labels is a NULL-terminated list of label names (borrowed the same way; NULL for none; at most
 * GX_METRICS_MAX_LABELS). For histograms, buckets are the upper bounds in ascending order (borrowed, copied;
 * +Inf is implicit); NULL/0 selects the latency buckets 0.001 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10.
 * Returns the family (owned by the registry, never freed), or NULL (logged) when the name is invalid or already
 * registered with another type or label set. */
struct gx_metric *gx_metrics_counter(const char *name, const char *help, const char *const *labels);
struct gx_metric *gx_metrics_gauge(const char *name, const char *help, const char *const *labels);
struct gx_metric *gx_metrics_histogram(const char *name, const char *help, const char *const *labels,
				       const double *buckets, size_t nbuckets);

/* Update the series selected by values (label values in the order of the family's label names; borrowed, copied
 * when the series is created; NULL for a family without labels). m may be NULL (no-op), so a failed registration
 * never crashes a caller.
 *   gx_metrics_add:     counters and gauges (a counter ignores negative v)
 *   gx_metrics_set:     gauges
 *   gx_metrics_observe: histograms */
void gx_metrics_add(struct gx_metric *m, const char *const *values, double v);
void gx_metrics_set(struct gx_metric *m, const char *const *values, double v);
void gx_metrics_observe(struct gx_metric *m, const char *const *values, double v);

/* Also render the process_* families under prefix (borrowed, a literal), as the original's API services published
 * them ("http_"). Call once at start, before serving. */
void gx_metrics_process_prefix(const char *prefix);

/* Set gx_build_info{service,version} 1 (service and version borrowed, copied). */
void gx_metrics_build_info(const char *service, const char *version);

/* Render every family plus the process metrics in Prometheus text format 0.0.4. Returns a heap string the caller
 * owns (free()), its length in *len. Never fails. */
char *gx_metrics_render(size_t *len);

/* The Content-Type for gx_metrics_render output. */
#define GX_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
