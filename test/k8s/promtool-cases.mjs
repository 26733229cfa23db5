// Writes a promtool rule-test file (OUT.yaml) with one case per dashboard query that falls back to 0
// ("or on() vector(0)"): evaluated by a real PromQL engine with none of its metrics present, it must give exactly
// one sample, 0, i.e. the panel shows 0 rather than "No data". $namespace becomes gx-mainnet, Grafana's
// $__rate_interval 5m.
//
//   node test/k8s/promtool-cases.mjs OUT.yaml      (then: promtool test rules OUT.yaml)
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './lint.mjs';

const out = process.argv[2];
if (!out) {
	console.error('usage: promtool-cases.mjs OUT.yaml');
	process.exit(2);
}
const dash = JSON.parse(readFileSync(path.join(REPO, 'k8s', 'monitoring', 'grafana-dashboard.json'), 'utf8'));
const cases = [];
for (const p of dash.panels || []) for (const t of p.targets || []) {
	if (!/\bor\s+on\s*\(\s*\)\s*vector\s*\(\s*0\s*\)\s*$/.test(t.expr)) continue;
	const expr = t.expr.replaceAll('$namespace', 'gx-mainnet').replaceAll('$__rate_interval', '5m');
	cases.push(`      # panel "${p.title}"\n      - expr: ${JSON.stringify(expr)}\n        eval_time: 10m\n        exp_samples:\n          - labels: '{}'\n            value: 0\n`);
}
if (!cases.length) {
	console.error('promtool-cases.mjs: no dashboard query ends in "or on() vector(0)"');
	process.exit(1);
}
// one unrelated series so the test has input at all
writeFileSync(out, `rule_files: []
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'gx_build_info{namespace="gx-mainnet", service="svc-identity", version="0.1.0"}'
        values: '1x10'
    promql_expr_test:
${cases.join('')}`);
console.log(`wrote ${cases.length} cases to ${out}`);
