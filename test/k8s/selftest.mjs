// Mutation self-test of the k8s lint: each case breaks one thing in the rendered devnet overlay (or the facts, or
// the alert rules) and expects the lint to fail with the right check and message. A lint that cannot fail would
// pass everything here and fail this test.
//
//   node test/k8s/selftest.mjs --facts FACTS.json
// One line per case, "N passed, N failed" last; exit 1 on any failure.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO, components, haveKubectl, lintContainerfile, lintMonitoring, lintSet, loadMonitoring, promqlMetrics, render, renderWith } from './lint.mjs';

const args = process.argv.slice(2);
const factsFile = args[args.indexOf('--facts') + 1];
if (!factsFile || args.indexOf('--facts') < 0) {
	console.error('usage: selftest.mjs --facts FACTS.json');
	process.exit(2);
}
const baseFacts = JSON.parse(readFileSync(factsFile, 'utf8'));
const clone = (x) => JSON.parse(JSON.stringify(x));
let pass = 0, fail = 0;
const ok = (m) => { pass++; console.log(`ok - ${m}`); };
const notok = (m) => { fail++; console.log(`not ok - ${m}`); };

if (!haveKubectl()) {
	notok('kubectl is not installed: the self-test needs a rendered overlay');
	console.log(`${pass} passed, ${fail} failed`);
	process.exit(1);
}
const rendered = render(path.join(REPO, 'k8s', 'overlays', 'devnet'));
// devnet with every optional component (client IPs, Prometheus Operator), for the cases on their objects
const withComponents = renderWith(path.join(REPO, 'k8s', 'overlays', 'devnet'), components());
const find = (docs, kind, name) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const ctr = (docs, name) => find(docs, 'Deployment', name).spec.template.spec.containers[0];
const job = (docs) => docs.find((d) => d.kind === 'Job');

// [label, mutate(docs, facts), check-name substring, error substring]
const CASES = [
	['selector does not match pod labels', (d) => { find(d, 'Deployment', 'svc-tax').spec.selector.matchLabels['app.kubernetes.io/name'] = 'svc-taxx'; },
		'selectors match', 'does not match template labels'],
	['containerPort differs from design.md §1', (d) => { ctr(d, 'svc-identity').ports[0].containerPort = 3010; },
		'ports agree', 'containerPort 3010'],
	['PORT env differs from the containerPort', (d) => { ctr(d, 'svc-admin').env.find((e) => e.name === 'PORT').value = '4000'; },
		'ports agree', 'PORT=4000'],
	['duplicate NodePort', (d) => { find(d, 'Service', 'svc-admin').spec.ports[0].nodePort = 30001; },
		'Services', 'also used by'],
	['NodePort out of range', (d) => { find(d, 'Service', 'svc-tax').spec.ports[0].nodePort = 40007; },
		'Services', 'outside 30000-32767'],
	['Service port != targetPort', (d) => { find(d, 'Service', 'svc-loanpool').spec.ports[0].port = 80; },
		'Services', 'port 80 != targetPort'],
	['env var the daemon does not read', (d) => { ctr(d, 'svc-tax').env.push({ name: 'NODE_ENV', value: 'production' }); },
		'variable set', 'NODE_ENV (from env) is not a variable svc-tax reads'],
	['ConfigMap key no consumer reads', (d) => { find(d, 'ConfigMap', 'gx-api-config').data.JWT_EXPIRY = '24h'; },
		'variable set', 'JWT_EXPIRY (from ConfigMap gx-api-config)'],
	['required JWT_SECRET missing', (d) => { const c = ctr(d, 'svc-identity'); c.env = c.env.filter((e) => e.name !== 'JWT_SECRET'); },
		'variable set', 'required JWT_SECRET is not set'],
	['Secret key not in the template', (d) => { ctr(d, 'svc-identity').env.find((e) => e.name === 'JWT_SECRET').valueFrom.secretKeyRef.key = 'JWT'; },
		'references resolve', 'key JWT is not in'],
	['probe path the daemon does not serve', (d) => { ctr(d, 'svc-governance').readinessProbe.httpGet.path = '/ready'; },
		'probes', 'want /readyz'],
	['startup probe on a path that 404s', (d) => { ctr(d, 'projector').startupProbe.httpGet.path = '/healthz'; },
		'probes', '/healthz answered nothing'],
	['probe on the wrong port', (d) => { ctr(d, 'svc-tax').livenessProbe.httpGet.port = 8080; },
		'probes', 'port 8080'],
	['misspelt field (unknown to the schema)', (d) => { const c = ctr(d, 'svc-identity'); c.readinesProbe = c.readinessProbe; },
		'schema', 'readinesProbe: unknown field'],
	['wrong type', (d) => { find(d, 'Deployment', 'projector').spec.replicas = 'two'; },
		'schema', 'replicas must be integer'],
	['grace period shorter than the drain', (d) => { find(d, 'Deployment', 'svc-identity').spec.template.spec.terminationGracePeriodSeconds = 5; },
		'drain', 'terminationGracePeriodSeconds 5'],
	['writable root filesystem', (d) => { ctr(d, 'svc-admin').securityContext.readOnlyRootFilesystem = false; },
		'security context', 'readOnlyRootFilesystem'],
	['capabilities not dropped', (d) => { delete ctr(d, 'projector').securityContext.capabilities; },
		'security context', 'do not drop ALL'],
	['image :latest', (d) => { ctr(d, 'svc-tax').image = 'localhost/gx-backend:latest'; },
		'images pinned', 'not pinned'],
	['no memory limit', (d) => { delete ctr(d, 'outbox-submitter').resources.limits.memory; },
		'resource', 'limits.memory missing'],
	['HPA next to fixed replicas', (d) => { find(d, 'Deployment', 'svc-tokenomics').spec.replicas = 3; },
		'HPA', 'sets replicas although HPA'],
	['migration order reversed', (d) => {
		const p = job(d).spec.template.spec;
		[p.initContainers[0].command, p.containers[0].command] = [p.containers[0].command, p.initContainers[0].command];
	}, 'migration Job', 'want "migrate up | seed"'],
	['no Fabric egress', (d) => { d.splice(d.indexOf(find(d, 'NetworkPolicy', 'gx-allow-fabric')), 1); },
		'NetworkPolicies', 'no egress to 7051/TCP'],
	['no default deny', (d) => { d.splice(d.indexOf(find(d, 'NetworkPolicy', 'gx-default-deny')), 1); },
		'NetworkPolicies', 'no default-deny'],
	['C table drifts from design.md §1', (d, f) => { f.table.find((r) => r.name === 'svc-tax').port = 3008; },
		'daemon table', 'svc-tax: gx_daemons[] has port 3008'],
	['a binary is not built', (d, f) => { delete f.help['svc-loanpool']; f.missing.push('svc-loanpool'); },
		'variable set', 'svc-loanpool --help not available'],
	['migration Job with a fixed name', (d) => { job(d).metadata.name = 'gx-migrate'; },
		'named per release', 'named gx-migrate, want gx-migrate-'],
	['migration Job kept forever', (d) => { delete job(d).spec.ttlSecondsAfterFinished; },
		'named per release', 'no ttlSecondsAfterFinished'],
	['migration Job not placed like the Deployments', (d) => { delete job(d).spec.template.spec.nodeSelector; },
		'placement', 'differs from the Deployments'],
	['one Deployment on another node pool', (d) => { find(d, 'Deployment', 'svc-tax').spec.template.spec.nodeSelector = { 'gx.io/pool': 'other' }; },
		'placement', 'Deployments are placed differently'],
	['a Service without the version label', (d) => { delete find(d, 'Service', 'svc-admin').metadata.labels['app.kubernetes.io/version']; },
		'recommended labels', 'Service/svc-admin: label app.kubernetes.io/version missing'],
	['a pod template without managed-by', (d) => { delete find(d, 'Deployment', 'projector').spec.template.metadata.labels['app.kubernetes.io/managed-by']; },
		'recommended labels', 'pod template: label app.kubernetes.io/managed-by missing'],
	['a ConfigMap without instance', (d) => { delete find(d, 'ConfigMap', 'gx-config').metadata.labels['app.kubernetes.io/instance']; },
		'recommended labels', 'ConfigMap/gx-config: label app.kubernetes.io/instance missing'],
	['image tag differs from the version label', (d) => { ctr(d, 'svc-tax').image = 'localhost/gx-backend:0.0.9'; },
		'recommended labels', 'image tag 0.0.9 differs from app.kubernetes.io/version'],
	['TRUSTED_PROXIES as a CIDR', (d) => { find(d, 'ConfigMap', 'gx-api-config').data.TRUSTED_PROXIES = '10.0.0.5,10.0.0.0/8'; },
		'client IPs', 'entry "10.0.0.0/8" is not an IP address'],
	['one NodePort without externalTrafficPolicy Local (client-ip component)', (d) => { delete find(d, 'Service', 'svc-identity').spec.externalTrafficPolicy; },
		'client IPs', 'mix externalTrafficPolicy', withComponents],
	['PodMonitor endpoint on a port name no container has', (d) => { find(d, 'PodMonitor', 'gx-backend').spec.podMetricsEndpoints[1].port = 'metric'; },
		'Prometheus Operator', 'projector: 0 PodMonitor podMetricsEndpoints', withComponents],
	['PodMonitor selecting no pods', (d) => { find(d, 'PodMonitor', 'gx-backend').spec.selector.matchLabels['app.kubernetes.io/part-of'] = 'gx'; },
		'Prometheus Operator', 'selects no gx-backend pods', withComponents],
	['PodMonitor with a misspelt field', (d) => { const e = find(d, 'PodMonitor', 'gx-backend').spec.podMetricsEndpoints[0]; e.intervall = e.interval; },
		'schema', 'podMetricsEndpoints[0].intervall: unknown field', withComponents],
	['PrometheusRule missing', (d) => { d.splice(d.findIndex((x) => x.kind === 'PrometheusRule'), 1); },
		'Prometheus Operator', '0 PrometheusRules', withComponents],
];

for (const [label, mutate, checkName, msg, base] of CASES) {
	const docs = clone(base || rendered);
	const facts = clone(baseFacts);
	try {
		mutate(docs, facts);
	} catch (e) {
		notok(`${label}: the mutation itself failed (${e.message}); the manifests changed shape`);
		continue;
	}
	const results = await lintSet(docs, facts);
	const hit = results.find((r) => r.name.includes(checkName) && r.errors.some((e) => e.includes(msg)));
	if (hit) ok(`lint catches: ${label}`);
	else notok(`lint misses: ${label} (no "${msg}" under a check named "${checkName}"): ${JSON.stringify(results.filter((r) => r.errors.length).map((r) => r.errors.slice(0, 3)))}`);
}

// the monitoring check: a metric that no daemon exports, and PromQL parsing
{
	const mon = loadMonitoring();
	mon.rules.groups[0].rules.push({ alert: 'Bogus', expr: 'rate(gx_no_such_metric_total[5m]) > 0', labels: { severity: 'warning' }, annotations: { summary: 'x' } });
	const facts = clone(baseFacts);
	const res = lintMonitoring(mon, facts);
	if (res.some((r) => r.errors.some((e) => e.includes('gx_no_such_metric_total is not exported')))) ok('lint catches: alert on a metric no daemon exports');
	else notok('lint misses: alert on a metric no daemon exports');
	const want = ['gx_http_requests_total', 'gx_http_request_duration_seconds_bucket'].join(',');
	const got = promqlMetrics('sum by (pod, le) (rate(gx_http_requests_total{status=~"5..", route="x"}[5m])) / on(pod) group_left(le) '
		+ 'histogram_quantile(0.99, rate(gx_http_request_duration_seconds_bucket[5m])) > 0.5').sort().join(',');
	if (got === want.split(',').sort().join(',')) ok('PromQL metric extraction ignores functions, labels and grouping');
	else notok(`PromQL metric extraction: got ${got}, want ${want}`);
}

// digest pinning (k8s/README.md): name:tag@sha256:... passes the image checks; a tag that is not the version does not
{
	const digest = 'sha256:' + '0123456789abcdef'.repeat(4);
	const docs = clone(rendered);
	for (const x of docs.filter((d) => d.kind === 'Deployment' || d.kind === 'Job'))
		for (const c of [...(x.spec.template.spec.initContainers || []), ...x.spec.template.spec.containers]) c.image = `registry.example/gx-backend:0.1.0@${digest}`;
	const bad = (await lintSet(clone(docs), clone(baseFacts))).filter((r) => r.errors.length && (r.name.includes('images pinned') || r.name.includes('recommended labels')));
	if (!bad.length) ok('a tag@digest image passes the image and label checks');
	else notok(`a tag@digest image fails: ${JSON.stringify(bad)}`);
	ctr(docs, 'svc-admin').image = `registry.example/gx-backend:0.0.9@${digest}`;
	const res = await lintSet(docs, clone(baseFacts));
	if (res.some((r) => r.errors.some((e) => e.includes('image tag 0.0.9 differs')))) ok('lint catches: a tag@digest image whose tag is not the version');
	else notok('lint misses: a tag@digest image whose tag is not the version');
}

// the monitoring rules added for issue 23: each mutation of the dashboard, alerts or PrometheusRule must be caught
const MONITORING_CASES = [
	['no absent() rule for svc-tax', (m) => {
		for (const g of m.rules.groups) g.rules = g.rules.filter((r) => !String(r.expr).includes('service="svc-tax"'));
		m.prometheusRule.spec.groups = clone(m.rules.groups);
	}, 'svc-tax: 0 GxDaemonDown rules on absent(gx_build_info{service="svc-tax"})'],
	['a panel over an unsampled metric without the 0 fallback', (m) => {
		const t = m.dashboard.panels.flatMap((p) => p.targets || []).find((x) => x.expr.includes('gx_redis_degraded_total'));
		t.expr = t.expr.replace(/\s*or on\(\) vector\(0\)$/, '');
	}, 'gx_redis_degraded_total has no series until it first counts'],
	['PrometheusRule drifted from alerts.yaml', (m) => { m.rules.groups[0].rules[0].for = '1m'; },
		'prometheusrule.yaml differs from k8s/monitoring/alerts.yaml'],
];
for (const [label, mutate, msg] of MONITORING_CASES) {
	const mon = clone(loadMonitoring());
	mutate(mon);
	const res = lintMonitoring(mon, clone(baseFacts));
	if (res.some((r) => r.errors.some((e) => e.includes(msg)))) ok(`lint catches: ${label}`);
	else notok(`lint misses: ${label} (no "${msg}"): ${JSON.stringify(res.filter((r) => r.errors.length).map((r) => r.errors.slice(0, 3)))}`);
}
{
	const res = lintMonitoring(clone(loadMonitoring()), clone(baseFacts));
	const bad = res.filter((r) => r.errors.length);
	if (!bad.length) ok('untouched monitoring files pass');
	else notok(`untouched monitoring files fail: ${JSON.stringify(bad)}`);
}

// the image recipe: OCI labels and security updates
{
	const text = readFileSync(path.join(REPO, 'k8s', 'images', 'Containerfile'), 'utf8');
	const cases = [
		['Containerfile without the revision label', text.replace(/org\.opencontainers\.image\.revision=/g, 'org.example.revision='), 'label org.opencontainers.image.revision missing'],
		['Containerfile without bookworm-security', text.replace(/bookworm-security/g, 'bookworm'), 'does not add or require a bookworm-security'],
		['Containerfile without apt-get upgrade', text.replace(/apt-get -y --no-install-recommends upgrade;/g, 'true;'), 'does not apt-get upgrade'],
	];
	for (const [label, broken, msg] of cases) {
		if (broken === text) { notok(`${label}: the mutation changed nothing; the Containerfile changed shape`); continue; }
		if (lintContainerfile(broken).some((r) => r.errors.some((e) => e.includes(msg)))) ok(`lint catches: ${label}`);
		else notok(`lint misses: ${label}`);
	}
	const bad = lintContainerfile(text).filter((r) => r.errors.length);
	if (!bad.length) ok('untouched Containerfile passes');
	else notok(`untouched Containerfile fails: ${JSON.stringify(bad)}`);
}

// the untouched devnet overlay passes every manifest check except those naming variables a daemon does not read
// (reported by the main lint run), so a case above fails for its own reason, not a pre-existing one
{
	for (const [name, docs] of [['devnet overlay', rendered], ['devnet overlay with every component', withComponents]]) {
		const results = await lintSet(clone(docs), clone(baseFacts));
		const bad = results.filter((r) => r.errors.length && !r.name.includes('variable set') && !r.name.includes('facts'));
		if (bad.length === 0) ok(`untouched ${name} passes the structural checks`);
		else notok(`untouched ${name} fails: ${bad.map((r) => r.name).join('; ')}`);
	}
}

console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
