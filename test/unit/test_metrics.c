/* Unit tests for the metrics registry and its Prometheus text exposition. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gx_test.h"
#include "gx/metrics.h"

static char *render(void)
{
	size_t len = 0;
	char *text = gx_metrics_render(&len);

	if (strlen(text) != len)
		printf("#   render length mismatch\n");
	return text;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

GX_TEST(counter_with_labels)
{
	static const char *const labels[] = { "route", "status", NULL };
	struct gx_metric *c = gx_metrics_counter("t_requests_total", "Test requests", labels);
	const char *a[] = { "/a/{id}", "200" };
	const char *b[] = { "/b", "500" };
	char *text;

	GX_CHECK(c != NULL);
	gx_metrics_add(c, a, 1);
	gx_metrics_add(c, a, 2);
	gx_metrics_add(c, b, 1);
	gx_metrics_add(c, b, -5); /* counters never go down */
	text = render();
	GX_CHECK(has_line(text, "# HELP t_requests_total Test requests"));
	GX_CHECK(has_line(text, "# TYPE t_requests_total counter"));
	GX_CHECK(has_line(text, "t_requests_total{route=\"/a/{id}\",status=\"200\"} 3"));
	GX_CHECK(has_line(text, "t_requests_total{route=\"/b\",status=\"500\"} 1"));
	free(text);
}

GX_TEST(gauge_set_add_and_fraction)
{
	struct gx_metric *g = gx_metrics_gauge("t_queue_depth", "Depth", NULL);
	char *text;

	gx_metrics_set(g, NULL, 10);
	gx_metrics_add(g, NULL, -2.5);
	text = render();
	GX_CHECK(has_line(text, "# TYPE t_queue_depth gauge"));
	GX_CHECK(has_line(text, "t_queue_depth 7.5"));
	free(text);
}

GX_TEST(histogram_buckets_are_cumulative)
{
	static const char *const labels[] = { "route", NULL };
	struct gx_metric *h = gx_metrics_histogram("t_latency_seconds", "Latency", labels, NULL, 0);
	const char *v[] = { "/x" };
	char *text;

	gx_metrics_observe(h, v, 0.0005); /* le 0.001 */
	gx_metrics_observe(h, v, 0.02);   /* le 0.025 */
	gx_metrics_observe(h, v, 0.02);
	gx_metrics_observe(h, v, 42); /* only +Inf */
	text = render();
	GX_CHECK(has_line(text, "# TYPE t_latency_seconds histogram"));
	GX_CHECK(has_line(text, "t_latency_seconds_bucket{route=\"/x\",le=\"0.001\"} 1"));
	GX_CHECK(has_line(text, "t_latency_seconds_bucket{route=\"/x\",le=\"0.01\"} 1"));
	GX_CHECK(has_line(text, "t_latency_seconds_bucket{route=\"/x\",le=\"0.025\"} 3"));
	GX_CHECK(has_line(text, "t_latency_seconds_bucket{route=\"/x\",le=\"10\"} 3"));
	GX_CHECK(has_line(text, "t_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4"));
	GX_CHECK(has_line(text, "t_latency_seconds_count{route=\"/x\"} 4"));
	GX_CHECK(has_line(text, "t_latency_seconds_sum{route=\"/x\"} 42.040500000000002") ||
		 has_line(text, "t_latency_seconds_sum{route=\"/x\"} 42.0405"));
	free(text);
}

GX_TEST(custom_buckets)
{
	static const double b[] = { 1, 5 };
	struct gx_metric *h = gx_metrics_histogram("t_batch", "Batch size", NULL, b, 2);
	char *text;

	gx_metrics_observe(h, NULL, 5);
	text = render();
	GX_CHECK(has_line(text, "t_batch_bucket{le=\"1\"} 0"));
	GX_CHECK(has_line(text, "t_batch_bucket{le=\"5\"} 1"));
	GX_CHECK(has_line(text, "t_batch_bucket{le=\"+Inf\"} 1"));
	GX_CHECK(has_line(text, "t_batch_sum 5"));
	free(text);
}

GX_TEST(label_values_and_help_are_escaped)
{
	static const char *const labels[] = { "v", NULL };
	struct gx_metric *c = gx_metrics_counter("t_escape_total", "Line one\nback\\slash", labels);
	const char *v[] = { "a\"b\\c\nd" };
	char *text;

	gx_metrics_add(c, v, 1);
	text = render();
	GX_CHECK(has_line(text, "# HELP t_escape_total Line one\\nback\\\\slash"));
	GX_CHECK(has_line(text, "t_escape_total{v=\"a\\\"b\\\\c\\nd\"} 1"));
	free(text);
}

GX_TEST(registration_rules)
{
	static const char *const l1[] = { "a", NULL };
	static const char *const l2[] = { "b", NULL };
	static const char *const bad_label[] = { "a-b", NULL };
	struct gx_metric *c = gx_metrics_counter("t_reg_total", "x", l1);

	GX_CHECK(c != NULL);
	GX_CHECK(gx_metrics_counter("t_reg_total", "x", l1) == c);    /* same shape: the same family */
	GX_CHECK(gx_metrics_counter("t_reg_total", "x", l2) == NULL); /* other labels */
	GX_CHECK(gx_metrics_gauge("t_reg_total", "x", l1) == NULL);   /* other type */
	GX_CHECK(gx_metrics_counter("9bad", "x", NULL) == NULL);
	GX_CHECK(gx_metrics_counter("bad-name", "x", NULL) == NULL);
	GX_CHECK(gx_metrics_counter("t_badlabel_total", "x", bad_label) == NULL);
	/* a NULL family is a harmless no-op */
	gx_metrics_add(NULL, NULL, 1);
	gx_metrics_observe(NULL, NULL, 1);
}

GX_TEST(process_and_build_info)
{
	char *text;

	gx_metrics_build_info("svc-test", "1.2.3");
	text = render();
	GX_CHECK(has_line(text, "gx_build_info{service=\"svc-test\",version=\"1.2.3\"} 1"));
	GX_CHECK(strstr(text, "\nprocess_resident_memory_bytes ") != NULL);
	GX_CHECK(strstr(text, "\nprocess_start_time_seconds ") != NULL);
	GX_CHECK(strstr(text, "\nprocess_open_fds ") != NULL);
	GX_CHECK(strstr(text, "# TYPE process_cpu_seconds_total counter") != NULL);
	GX_CHECK(strstr(text, "process_resident_memory_bytes 0\n") == NULL);
	free(text);
}

GX_TEST(cardinality_cap)
{
	static const char *const labels[] = { "k", NULL };
	struct gx_metric *c = gx_metrics_counter("t_many_total", "x", labels);
	char val[16], *text;
	const char *v[] = { val };

	for (int i = 0; i < GX_METRICS_MAX_SERIES + 5; i++) {
		snprintf(val, sizeof(val), "%d", i);
		gx_metrics_add(c, v, 1);
	}
	text = render();
	GX_CHECK(has_line(text, "t_many_total{k=\"1999\"} 1"));
	GX_CHECK(!has_line(text, "t_many_total{k=\"2000\"} 1"));
	GX_CHECK(has_line(text, "gx_metrics_dropped_series_total 5"));
	free(text);
}

static struct gx_metric *shared_counter;

static void *bump(void *arg)
{
	const char *v[] = { (const char *)arg };
	for (int i = 0; i < 100000; i++)
		gx_metrics_add(shared_counter, v, 1);
	return NULL;
}

GX_TEST(concurrent_updates_are_not_lost)
{
	static const char *const labels[] = { "t", NULL };
	pthread_t th[4];
	char *text;

	shared_counter = gx_metrics_counter("t_concurrent_total", "x", labels);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, bump, (void *)(i % 2 ? "odd" : "even"));
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	text = render();
	GX_CHECK(has_line(text, "t_concurrent_total{t=\"even\"} 200000"));
	GX_CHECK(has_line(text, "t_concurrent_total{t=\"odd\"} 200000"));
	free(text);
}

int main(void)
{
	GX_RUN(counter_with_labels);
	GX_RUN(gauge_set_add_and_fraction);
	GX_RUN(histogram_buckets_are_cumulative);
	GX_RUN(custom_buckets);
	GX_RUN(label_values_and_help_are_escaped);
	GX_RUN(registration_rules);
	GX_RUN(process_and_build_info);
	GX_RUN(cardinality_cap);
	GX_RUN(concurrent_updates_are_not_lost);
	return gx_test_done();
}
