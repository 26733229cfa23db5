// Writes k8s/components/prometheus-operator/prometheusrule.yaml from k8s/monitoring/alerts.yaml: the same groups
// under a PrometheusRule's spec (text copied and indented, so comments and block scalars stay as written). Run it
// after changing alerts.yaml; test/k8s/lint.mjs fails while the two differ. kubectl apply -k reads the file from
// the tree, so it is committed rather than made by the build.
//
//   node test/k8s/sync-rules.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RULES = path.join(REPO, 'k8s', 'monitoring', 'alerts.yaml');
export const PROMETHEUS_RULE = path.join(REPO, 'k8s', 'components', 'prometheus-operator', 'prometheusrule.yaml');

export function prometheusRuleText(alerts) {
	const lines = alerts.split('\n');
	const start = lines.findIndex((l) => /^groups:/.test(l));
	if (start < 0) throw new Error('alerts.yaml has no top-level "groups:"');
	const body = lines.slice(start).map((l) => (l === '' ? l : `  ${l}`)).join('\n');
	return `# The alerts of k8s/monitoring/alerts.yaml as a PrometheusRule for the Prometheus Operator. Written by
# node test/k8s/sync-rules.mjs from that file: edit alerts.yaml, then run it (test/k8s/lint.mjs fails while they
# differ).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: gx-backend
  labels:
    app.kubernetes.io/name: gx-backend
    app.kubernetes.io/part-of: gx-backend
    app.kubernetes.io/component: monitoring
spec:
${body.replace(/\n*$/, '\n')}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	writeFileSync(PROMETHEUS_RULE, prometheusRuleText(readFileSync(RULES, 'utf8')));
	console.log(`wrote ${path.relative(REPO, PROMETHEUS_RULE)} from ${path.relative(REPO, RULES)}`);
}
