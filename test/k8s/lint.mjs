// Offline validation of the gx-backend Kubernetes manifests (k8s/): Kubernetes schemas (kubernetes-models, plus an
// unknown-field check walking its type declarations) and the project lint against what the built daemons really
// do (facts.json from test/k8s/facts.py: the C daemon table, each binary's --help, a live run's probes and metrics).
//
//   node test/k8s/lint.mjs --facts FACTS.json [--overlay NAME]... [--files A.yaml ...]
//
// Without --files it renders k8s/overlays/* and k8s/base with `kubectl kustomize` (or, without kubectl, lints the
// YAML files of k8s/base and k8s/monitoring as they are). Prints "ok - ..." / "not ok - ..." per check and
// "N passed, N failed" last; exit 1 on any failure. lintSet() is exported for the mutation self-test (selftest.mjs).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
const K8S = path.join(REPO, 'k8s');
const require = createRequire(import.meta.url);

// design.md §1: the one port table; the C table, the daemons' defaults and the manifests must all agree with it
export const DECISIONS = {
	'svc-identity': { port: 3001, nodePort: 30001 }, 'svc-admin': { port: 3002, nodePort: 30002 },
	'svc-tokenomics': { port: 3003, nodePort: 30003 }, 'svc-organization': { port: 3004, nodePort: 30004 },
	'svc-loanpool': { port: 3005, nodePort: 30005 }, 'svc-governance': { port: 3006, nodePort: 30006 },
	'svc-tax': { port: 3007, nodePort: 30007 }, 'outbox-submitter': { metricsPort: 9090 },
	'projector': { metricsPort: 9091 },
};
const API = Object.keys(DECISIONS).filter((d) => DECISIONS[d].port);
const PROBES = { liveness: '/livez', readiness: '/readyz' };
// metrics Prometheus itself makes, not the daemons
const PROMETHEUS_BUILTIN = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
const REQUIRED_ALERTS = ['GxOutboxBacklog', 'GxOutboxOldestPendingAge', 'GxProjectionLag', 'GxHttp5xxRate',
	'GxEventDlqGrowth'];
// app.kubernetes.io/* labels every object and pod template carries (the Kubernetes recommended labels)
const RECOMMENDED = { name: 'app.kubernetes.io/name', instance: 'app.kubernetes.io/instance', version: 'app.kubernetes.io/version',
	component: 'app.kubernetes.io/component', partOf: 'app.kubernetes.io/part-of', managedBy: 'app.kubernetes.io/managed-by' };
const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

// ---- schema: kubernetes-models validation and an unknown-field walk over its .d.ts interfaces ----------------

// Custom resources with models of their own: the Prometheus Operator's (k8s/components/prometheus-operator)
const CRD_MODELS = { 'monitoring.coreos.com': '@kubernetes-models/prometheus-operator' };

function modelPath(apiVersion, kind) {
	const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
	if (CRD_MODELS[group]) return `${CRD_MODELS[group]}/${group}/${version}/${kind}`;
	return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

// the .d.ts file of a model module path
function modelDts(mod) {
	const pkg = mod.startsWith('@') ? mod.split('/').slice(0, 2).join('/') : mod.split('/')[0];
	return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), mod.slice(pkg.length + 1) + '.d.ts');
}

// A small parser for the type language of the models' .d.ts files (interfaces of quoted properties, inline object
// types, Array<T>, { [key: string]: T }, unions, references to imported interfaces), so the unknown-field walk
// covers inline types (the Prometheus Operator CRDs) as well as the core models' interface references.
function tokenize(src) {
	const toks = [];
	const re = /\s+|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[A-Za-z_$][\w$.]*|-?\d+(?:\.\d+)?|[{}<>\[\]():;?|,&=]/y;
	let m;
	while (re.lastIndex < src.length) {
		const at = re.lastIndex;
		if (!(m = re.exec(src))) { re.lastIndex = at + 1; continue; }
		if (!/^\s/.test(m[0])) toks.push(m[0]);
	}
	return toks;
}

// type node: {t: 'object', props: {name: node}} | {t: 'array', of} | {t: 'map', of} | {t: 'ref', name} | {t: 'scalar'}
function parseType(toks, pos) {
	const alts = [];
	for (;;) {
		let node;
		const tk = toks[pos.i];
		if (tk === '{') {
			pos.i++;
			if (toks[pos.i] === '[') { // { [key: string]: T; }
				while (toks[pos.i] !== ']') pos.i++;
				pos.i += 2; // ] :
				node = { t: 'map', of: parseType(toks, pos) };
				if (toks[pos.i] === ';') pos.i++;
				pos.i++; // }
			} else {
				const props = {};
				while (toks[pos.i] !== '}' && pos.i < toks.length) {
					const name = toks[pos.i++].replace(/^"(.*)"$/, '$1');
					if (toks[pos.i] === '?') pos.i++;
					pos.i++; // :
					props[name] = parseType(toks, pos);
					if (toks[pos.i] === ';') pos.i++;
				}
				pos.i++;
				node = { t: 'object', props };
			}
		} else if (tk === 'Array' && toks[pos.i + 1] === '<') {
			pos.i += 2;
			node = { t: 'array', of: parseType(toks, pos) };
			pos.i++; // >
		} else if (tk === '(') {
			for (let depth = 0; pos.i < toks.length; pos.i++) {
				if (toks[pos.i] === '(') depth++;
				else if (toks[pos.i] === ')' && --depth === 0) { pos.i++; break; }
			}
			node = { t: 'scalar' };
		} else if (/^I\w+$/.test(tk)) {
			pos.i++;
			node = { t: 'ref', name: tk };
		} else {
			pos.i++;
			if (toks[pos.i] === '<') for (let depth = 0; pos.i < toks.length; pos.i++) {
				if (toks[pos.i] === '<') depth++;
				else if (toks[pos.i] === '>' && --depth === 0) { pos.i++; break; }
			}
			node = { t: 'scalar' };
		}
		while (toks[pos.i] === '[' && toks[pos.i + 1] === ']') { pos.i += 2; node = { t: 'array', of: node }; }
		alts.push(node);
		if (toks[pos.i] !== '|' && toks[pos.i] !== '&') break;
		pos.i++;
	}
	const structured = alts.filter((a) => a.t !== 'scalar');
	return structured.length === 1 && alts.length === 1 ? structured[0] : (structured.length === 1 ? structured[0] : { t: 'scalar' });
}

const ifaceCache = new Map();
// The interface declared in a .d.ts file: { type: object node, imports: {Ident: absPath} } or null.
function loadIface(file) {
	if (ifaceCache.has(file)) return ifaceCache.get(file);
	let res = null;
	if (existsSync(file)) {
		const src = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
		const imports = {};
		for (const m of src.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) {
			const spec = m[2];
			const scoped = spec.startsWith('@');
			const pkg = spec.split('/').slice(0, scoped ? 2 : 1).join('/');
			imports[m[1]] = spec.startsWith('.') ? path.resolve(path.dirname(file), spec + '.d.ts')
				: path.join(path.dirname(require.resolve(pkg + '/package.json')), spec.split('/').slice(scoped ? 2 : 1).join('/') + '.d.ts');
		}
		const head = src.match(/export interface \w+(?: extends ([\w, ]+))? \{/);
		if (head) {
			const toks = tokenize(src.slice(head.index + head[0].length - 1));
			const type = parseType(toks, { i: 0 });
			if (type.t === 'object') {
				if ((head[1] || '').includes('TypeMeta')) Object.assign(type.props, { apiVersion: { t: 'scalar' }, kind: { t: 'scalar' } });
				res = { type, imports };
			}
		}
	}
	ifaceCache.set(file, res);
	return res;
}

function walkType(data, node, iface, where, errs) {
	if (data === null || data === undefined || !node) return;
	if (node.t === 'array') {
		if (Array.isArray(data)) data.forEach((x, i) => walkType(x, node.of, iface, `${where}[${i}]`, errs));
	} else if (node.t === 'map') {
		if (typeof data === 'object') for (const [k, v] of Object.entries(data)) walkType(v, node.of, iface, `${where}.${k}`, errs);
	} else if (node.t === 'object') {
		if (typeof data !== 'object' || Array.isArray(data)) return;
		for (const [k, v] of Object.entries(data)) {
			if (!(k in node.props)) { errs.push(`${where}.${k}: unknown field`); continue; }
			walkType(v, node.props[k], iface, `${where}.${k}`, errs);
		}
	} else if (node.t === 'ref' && iface.imports[node.name]) {
		walkObject(data, iface.imports[node.name], where, errs);
	}
}

function walkObject(data, file, where, errs) {
	const iface = loadIface(file);
	if (!iface || !data || typeof data !== 'object' || Array.isArray(data)) return;
	walkType(data, iface.type, iface, where, errs);
}

async function schemaCheck(doc) {
	const errs = [];
	if (!doc.apiVersion || !doc.kind) return ['no apiVersion/kind'];
	const mod = modelPath(doc.apiVersion, doc.kind);
	let klass;
	try {
		klass = (await import(mod))[doc.kind];
	} catch {
		return [`no schema for ${doc.apiVersion} ${doc.kind}`];
	}
	try {
		new klass(doc).validate();
	} catch (e) {
		errs.push(e.message);
	}
	walkObject(doc, modelDts(mod), doc.kind, errs);
	return errs;
}

// ---- helpers ---------------------------------------------------------------------------------------------------

const id = (o) => `${o.kind}/${o.metadata?.name}`;

// "2s", "500ms", "1m", "3" (seconds) -> milliseconds, or NaN
export function parseDuration(v) {
	const m = String(v ?? '').trim().match(/^(\d+(?:\.\d+)?)(ms|s|m|h)?$/);
	if (!m) return NaN;
	return Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] || 's'];
}

// Kubernetes quantity -> number (cores or bytes)
function quantity(q) {
	const m = String(q).match(/^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G)?$/);
	if (!m) return NaN;
	return Number(m[1]) * ({ m: 1e-3, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9 }[m[2]] ?? 1);
}

const subset = (sel, labels) => Object.entries(sel || {}).every(([k, v]) => labels?.[k] === v);

function daemonOf(container) {
	const cmd = container.command?.[0] || '';
	return path.basename(cmd);
}

// The variables a container ends up with (names -> value or null when from a Secret), and where each came from.
function effectiveEnv(container, byKind, errs) {
	const env = new Map();
	for (const ef of container.envFrom || []) {
		if (ef.configMapRef) {
			const cm = byKind('ConfigMap', ef.configMapRef.name);
			if (!cm) { errs.push(`envFrom ConfigMap ${ef.configMapRef.name} is not in the manifests`); continue; }
			for (const [k, v] of Object.entries(cm.data || {})) env.set(k, { value: v, from: `ConfigMap ${cm.metadata.name}` });
		} else if (ef.secretRef) {
			const keys = secretTemplateKeys(ef.secretRef.name);
			if (!keys) { errs.push(`envFrom Secret ${ef.secretRef.name} has no template in k8s/secrets`); continue; }
			for (const k of keys) env.set(k, { value: null, from: `Secret ${ef.secretRef.name}` });
		}
	}
	for (const e of container.env || []) {
		let value = e.value ?? null;
		const cmk = e.valueFrom?.configMapKeyRef;
		const sk = e.valueFrom?.secretKeyRef;
		if (cmk) {
			const cm = byKind('ConfigMap', cmk.name);
			if (!cm || !(cmk.key in (cm.data || {}))) errs.push(`${e.name}: ConfigMap ${cmk.name} key ${cmk.key} does not exist`);
			else value = cm.data[cmk.key];
		}
		if (sk) {
			const keys = secretTemplateKeys(sk.name);
			if (!keys || !keys.includes(sk.key)) errs.push(`${e.name}: Secret ${sk.name} key ${sk.key} is not in k8s/secrets/${sk.name}.template.yaml`);
		}
		env.set(e.name, { value, from: 'env' });
	}
	return env;
}

const secretCache = new Map();
function secretTemplateKeys(name) {
	if (!secretCache.has(name)) {
		const f = path.join(K8S, 'secrets', `${name}.template.yaml`);
		let keys = null;
		if (existsSync(f)) {
			const d = parseYaml(readFileSync(f, 'utf8'));
			keys = Object.keys({ ...(d.data || {}), ...(d.stringData || {}) });
		}
		secretCache.set(name, keys);
	}
	return secretCache.get(name);
}

// Metric names a PromQL expression reads.
export function promqlMetrics(expr) {
	let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
	s = s.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
	s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
	s = s.replace(/\blabel_values\s*\(\s*([a-zA-Z_:][\w:]*)\s*,[^)]*\)/g, ' $1 ');
	const out = new Set();
	for (const m of s.matchAll(/\b([a-zA-Z_:][\w:]*)\b(\s*\()?/g)) {
		if (m[2]) continue; // a function
		if (/^(and|or|unless|bool|offset|inf|nan|le)$/i.test(m[1])) continue;
		if (/^\d/.test(m[1])) continue;
		out.add(m[1]);
	}
	// $__rate_interval-style Grafana variables
	for (const v of [...out]) if (v.startsWith('$') || v === 'namespace') out.delete(v);
	return [...out];
}

// ---- the lint of one rendered set ------------------------------------------------------------------------------

// docs: parsed objects of one rendered set; facts: facts.json.
// Returns [{name, errors: [..]}]: one entry per check.
export async function lintSet(docs, facts) {
	const results = [];
	const check = (name, errors) => results.push({ name, errors });
	const byKind = (kind, name) => docs.find((d) => d.kind === kind && d.metadata?.name === name);
	const all = (kind) => docs.filter((d) => d.kind === kind);
	const help = facts.help || {};
	const missing = new Set(facts.missing || []);

	// facts problems
	check('facts collected without errors', [...(facts.errors || [])]);
	check('every binary is built (--help read)', [...missing].map((b) => `${b} is not built in ${facts.binDir}: cannot check the manifests against it`));

	// the C table against design.md §1
	{
		const errs = [];
		const table = facts.table || [];
		if (!table.length) errs.push('gx_daemons[] table not found in common/src/api.c');
		for (const [d, want] of Object.entries(DECISIONS)) {
			const row = table.find((r) => r.name === d);
			if (!row) { errs.push(`${d} missing from gx_daemons[]`); continue; }
			const wantPort = want.port ?? 0;
			const wantMetrics = want.port ?? want.metricsPort;
			if (row.port !== wantPort || row.metricsPort !== wantMetrics)
				errs.push(`${d}: gx_daemons[] has port ${row.port}/metrics ${row.metricsPort}, design.md §1 says ${wantPort}/${wantMetrics}`);
			const h = help[d]?.vars;
			const portVar = want.port ? 'PORT' : 'METRICS_PORT';
			if (h && String(h[portVar]?.default) !== String(wantMetrics))
				errs.push(`${d} --help: ${portVar} default ${h[portVar]?.default}, design.md §1 says ${wantMetrics}`);
		}
		check('daemon table (C source and --help defaults) matches design.md §1', errs);
	}

	// schema + unknown fields
	{
		const errs = [];
		for (const d of docs) for (const e of await schemaCheck(d)) errs.push(`${id(d)}: ${e}`);
		check(`Kubernetes schema and unknown fields (${docs.length} objects)`, errs);
	}

	// names
	check('names are DNS-1123 and unique per kind', (() => {
		const errs = [];
		const seen = new Set();
		for (const d of docs) {
			const n = d.metadata?.name || '';
			if (!DNS1123.test(n) || n.length > 63) errs.push(`${id(d)}: name is not a DNS-1123 label`);
			if (seen.has(id(d))) errs.push(`${id(d)}: defined twice`);
			seen.add(id(d));
		}
		return errs;
	})());

	const deployments = all('Deployment');
	const workloads = [...deployments, ...all('Job')];

	// every daemon has exactly one Deployment running it
	check('one Deployment per daemon', (() => {
		const errs = [];
		for (const d of Object.keys(DECISIONS)) {
			const n = deployments.filter((x) => x.spec.template.spec.containers.some((c) => daemonOf(c) === d));
			if (n.length !== 1) errs.push(`${d}: ${n.length} Deployments run it`);
		}
		for (const x of deployments) for (const c of x.spec.template.spec.containers)
			if (!DECISIONS[daemonOf(c)]) errs.push(`${id(x)}: container ${c.name} runs unknown command ${c.command}`);
		return errs;
	})());

	// selectors
	check('Deployment selectors match their pod labels', deployments.flatMap((x) =>
		subset(x.spec.selector?.matchLabels, x.spec.template.metadata?.labels) && Object.keys(x.spec.selector?.matchLabels || {}).length
			? [] : [`${id(x)}: selector ${JSON.stringify(x.spec.selector?.matchLabels)} does not match template labels`]));

	// ports, probes, env, security, resources, drain: per daemon container
	const portErrs = [], probeErrs = [], envErrs = [], secErrs = [], resErrs = [], drainErrs = [], imgErrs = [], refErrs = [];
	for (const x of workloads) {
		const pod = x.spec.template.spec;
		if (pod.serviceAccountName && !byKind('ServiceAccount', pod.serviceAccountName))
			refErrs.push(`${id(x)}: ServiceAccount ${pod.serviceAccountName} is not in the manifests`);
		if (!pod.serviceAccountName) refErrs.push(`${id(x)}: no serviceAccountName`);
		if (pod.automountServiceAccountToken !== false) secErrs.push(`${id(x)}: automountServiceAccountToken is not false`);
		for (const v of pod.volumes || []) {
			if (!v.secret) continue;
			const keys = secretTemplateKeys(v.secret.secretName);
			if (!keys) refErrs.push(`${id(x)}: volume ${v.name}: Secret ${v.secret.secretName} has no template in k8s/secrets`);
			else for (const it of v.secret.items || []) if (!keys.includes(it.key))
				refErrs.push(`${id(x)}: volume ${v.name}: key ${it.key} is not in the ${v.secret.secretName} template`);
		}
		const psc = pod.securityContext || {};
		for (const c of [...(pod.initContainers || []), ...pod.containers]) {
			const where = `${id(x)} container ${c.name}`;
			const daemon = daemonOf(c);
			const isDaemon = !!DECISIONS[daemon];
			const binary = isDaemon ? daemon : daemon === 'gxctl' ? 'gxctl' : null;
			if (!binary) { envErrs.push(`${where}: command ${c.command} is not one of our binaries`); continue; }
			// security
			const sc = c.securityContext || {};
			if (!(sc.runAsNonRoot ?? psc.runAsNonRoot)) secErrs.push(`${where}: runAsNonRoot is not true`);
			if ((sc.runAsUser ?? psc.runAsUser) === 0) secErrs.push(`${where}: runs as uid 0`);
			if (sc.readOnlyRootFilesystem !== true) secErrs.push(`${where}: readOnlyRootFilesystem is not true`);
			if (sc.allowPrivilegeEscalation !== false) secErrs.push(`${where}: allowPrivilegeEscalation is not false`);
			if (sc.privileged) secErrs.push(`${where}: privileged`);
			if (!(sc.capabilities?.drop || []).includes('ALL')) secErrs.push(`${where}: capabilities do not drop ALL`);
			if (sc.capabilities?.add?.length) secErrs.push(`${where}: adds capabilities ${sc.capabilities.add}`);
			if ((sc.seccompProfile?.type ?? psc.seccompProfile?.type) !== 'RuntimeDefault') secErrs.push(`${where}: seccompProfile is not RuntimeDefault`);
			// image
			const img = c.image || '';
			const tag = img.includes('@') ? 'digest' : (img.match(/:([^/:]+)$/) || [])[1];
			if (!tag || tag === 'latest') imgErrs.push(`${where}: image ${img} is not pinned to a tag or digest`);
			if (c.imagePullPolicy === 'Always' && tag !== 'digest') imgErrs.push(`${where}: imagePullPolicy Always`);
			// resources
			const r = c.resources || {};
			for (const k of ['cpu', 'memory']) {
				if (!r.requests?.[k] || !r.limits?.[k]) resErrs.push(`${where}: resources.requests/limits.${k} missing`);
				else if (quantity(r.requests[k]) > quantity(r.limits[k])) resErrs.push(`${where}: ${k} request above limit`);
			}
			// env
			const envProblems = [];
			const env = effectiveEnv(c, byKind, envProblems);
			envProblems.forEach((e) => refErrs.push(`${where}: ${e}`));
			const h = help[binary];
			if (!h) {
				envErrs.push(`${where}: ${binary} --help not available (binary not built), cannot check its variables`);
			} else {
				const known = new Set([...Object.keys(h.vars), ...h.mentioned]);
				for (const [k, v] of env) if (!known.has(k)) envErrs.push(`${where}: ${k} (from ${v.from}) is not a variable ${binary} reads`);
				for (const [k, v] of Object.entries(h.vars)) if (v.required && !env.has(k)) envErrs.push(`${where}: required ${k} is not set`);
			}
			if (!isDaemon) continue;
			// ports
			const want = DECISIONS[daemon];
			const port = want.port ?? want.metricsPort;
			const portVar = want.port ? 'PORT' : 'METRICS_PORT';
			const cports = (c.ports || []).map((p) => p.containerPort);
			if (cports.length !== 1 || cports[0] !== port) portErrs.push(`${where}: containerPort ${cports}, design.md §1 says ${port}`);
			if (env.has(portVar) && Number(env.get(portVar).value) !== port) portErrs.push(`${where}: ${portVar}=${env.get(portVar).value}, design.md §1 says ${port}`);
			const ann = x.spec.template.metadata?.annotations || {};
			if (ann['prometheus.io/port'] && Number(ann['prometheus.io/port']) !== port) portErrs.push(`${where}: prometheus.io/port ${ann['prometheus.io/port']} is not ${port}`);
			// probes
			const live = facts.live?.[daemon]?.probes;
			const resolvePort = (p) => (typeof p === 'string' ? (c.ports || []).find((cp) => cp.name === p)?.containerPort : p);
			for (const [kind, wantPath] of Object.entries({ ...PROBES, startup: null })) {
				const pr = c[`${kind}Probe`];
				if (!pr) { if (kind !== 'startup') probeErrs.push(`${where}: no ${kind}Probe`); continue; }
				const g = pr.httpGet;
				if (!g) { probeErrs.push(`${where}: ${kind}Probe is not an httpGet`); continue; }
				if (wantPath && g.path !== wantPath) probeErrs.push(`${where}: ${kind}Probe path ${g.path}, want ${wantPath}`);
				if (resolvePort(g.port) !== port) probeErrs.push(`${where}: ${kind}Probe port ${g.port} is not the daemon's port ${port}`);
				if (!live) probeErrs.push(`${where}: ${daemon} was not run, cannot check that ${g.path} exists`);
				else if (live[g.path] !== 200) probeErrs.push(`${where}: ${kind}Probe ${g.path} answered ${live[g.path] ?? 'nothing (not a probe path the daemon serves)'} on a healthy ${daemon}`);
			}
			// drain: preStop sleep + DRAIN_DELAY + DRAIN_TIMEOUT must fit in the grace period
			const dflt = (k) => (h?.vars?.[k]?.default);
			const delay = parseDuration(env.get('DRAIN_DELAY')?.value ?? dflt('DRAIN_DELAY'));
			const timeout = parseDuration(env.get('DRAIN_TIMEOUT')?.value ?? dflt('DRAIN_TIMEOUT'));
			const sleep = (c.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
			const grace = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
			if (c.lifecycle?.preStop?.exec) drainErrs.push(`${where}: preStop exec needs a shell the image does not have`);
			if (Number.isNaN(delay) || Number.isNaN(timeout)) drainErrs.push(`${where}: cannot read DRAIN_DELAY/DRAIN_TIMEOUT`);
			else if (grace < sleep + delay + timeout + 2000)
				drainErrs.push(`${where}: terminationGracePeriodSeconds ${grace / 1000} < preStop ${sleep / 1000} s + DRAIN_DELAY ${delay / 1000} s + DRAIN_TIMEOUT ${timeout / 1000} s + 2 s`);
			else if (grace > sleep + delay + timeout + 30000)
				drainErrs.push(`${where}: terminationGracePeriodSeconds ${grace / 1000} is far above the drain (${(sleep + delay + timeout) / 1000} s): a stuck pod would linger`);
			if (want.port && sleep === 0 && delay < 2000) drainErrs.push(`${where}: neither a preStop sleep nor DRAIN_DELAY >= 2 s lets endpoints drop the pod before the listener closes`);
		}
	}
	check('ports agree with design.md §1 and the daemons\' defaults', portErrs);
	check('probes: /livez liveness, /readyz readiness, paths the daemons serve', probeErrs);
	check('every variable set is one the daemon reads; required ones are set', envErrs);
	check('ConfigMap/Secret/ServiceAccount references resolve', refErrs);
	check('security context: non-root, read-only root, no escalation, caps dropped, seccomp', secErrs);
	check('resource requests and limits', resErrs);
	check('drain: preStop and terminationGracePeriod match DRAIN_DELAY/DRAIN_TIMEOUT', drainErrs);
	check('images pinned', imgErrs);

	// Services
	{
		const errs = [];
		const nodePorts = new Map();
		const podsOf = (svc) => deployments.filter((x) => Object.keys(svc.spec.selector || {}).length && subset(svc.spec.selector, x.spec.template.metadata?.labels));
		for (const s of all('Service')) {
			const targets = podsOf(s);
			if (targets.length !== 1) { errs.push(`${id(s)}: selector matches ${targets.length} Deployments`); continue; }
			const c = targets[0].spec.template.spec.containers[0];
			const daemon = daemonOf(c);
			const want = DECISIONS[daemon] || {};
			for (const p of s.spec.ports || []) {
				const tp = typeof p.targetPort === 'string' ? (c.ports || []).find((cp) => cp.name === p.targetPort)?.containerPort : (p.targetPort ?? p.port);
				if (!(c.ports || []).some((cp) => cp.containerPort === tp)) errs.push(`${id(s)}: targetPort ${p.targetPort} is not a container port of ${daemon}`);
				if (p.port !== tp) errs.push(`${id(s)}: port ${p.port} != targetPort ${tp}`);
				if (s.spec.type === 'NodePort') {
					if (!want.nodePort) errs.push(`${id(s)}: ${daemon} is not exposed on a NodePort by design.md §1`);
					else if (p.nodePort !== want.nodePort) errs.push(`${id(s)}: nodePort ${p.nodePort}, design.md §1 says ${want.nodePort}`);
					if (!(p.nodePort >= 30000 && p.nodePort <= 32767)) errs.push(`${id(s)}: nodePort ${p.nodePort} outside 30000-32767`);
					if (nodePorts.has(p.nodePort)) errs.push(`${id(s)}: nodePort ${p.nodePort} also used by ${nodePorts.get(p.nodePort)}`);
					nodePorts.set(p.nodePort, id(s));
				}
			}
		}
		for (const d of API) {
			const n = all('Service').filter((s) => s.spec.type === 'NodePort' && podsOf(s).some((x) => daemonOf(x.spec.template.spec.containers[0]) === d));
			if (n.length !== 1) errs.push(`${d}: ${n.length} NodePort Services`);
		}
		for (const d of Object.keys(DECISIONS).filter((k) => !DECISIONS[k].port)) {
			const n = all('Service').filter((s) => (s.spec.type ?? 'ClusterIP') === 'ClusterIP' && podsOf(s).some((x) => daemonOf(x.spec.template.spec.containers[0]) === d)
				&& s.spec.ports.some((p) => p.port === DECISIONS[d].metricsPort));
			if (n.length !== 1) errs.push(`${d}: ${n.length} ClusterIP metrics Services on ${DECISIONS[d].metricsPort}`);
		}
		check('Services: selectors, port = targetPort, NodePorts per design.md §1, in range and unique', errs);
	}

	// HPA and PDB
	{
		const errs = [];
		for (const h of all('HorizontalPodAutoscaler')) {
			const t = byKind('Deployment', h.spec.scaleTargetRef?.name);
			if (!t || h.spec.scaleTargetRef.kind !== 'Deployment') errs.push(`${id(h)}: target ${h.spec.scaleTargetRef?.name} is not a Deployment here`);
			if (!(h.spec.minReplicas >= 1 && h.spec.minReplicas <= h.spec.maxReplicas)) errs.push(`${id(h)}: minReplicas ${h.spec.minReplicas} / maxReplicas ${h.spec.maxReplicas}`);
			if (t && t.spec.replicas !== undefined) errs.push(`${id(t)}: sets replicas although HPA ${h.metadata.name} owns them`);
		}
		for (const d of API) {
			const x = deployments.find((y) => daemonOf(y.spec.template.spec.containers[0]) === d);
			if (x && !all('HorizontalPodAutoscaler').some((h) => h.spec.scaleTargetRef?.name === x.metadata.name)) errs.push(`${d}: no HPA`);
		}
		for (const x of deployments) {
			const pdbs = all('PodDisruptionBudget').filter((p) => subset(p.spec.selector?.matchLabels, x.spec.template.metadata?.labels));
			if (pdbs.length !== 1) errs.push(`${id(x)}: ${pdbs.length} PodDisruptionBudgets select it`);
		}
		for (const p of all('PodDisruptionBudget'))
			if (!deployments.some((x) => subset(p.spec.selector?.matchLabels, x.spec.template.metadata?.labels))) errs.push(`${id(p)}: selects no pods`);
		check('HPA for every API (owning replicas), one PDB per Deployment', errs);
	}

	// migration Job
	{
		const errs = [];
		const jobs = all('Job').filter((j) => [...(j.spec.template.spec.initContainers || []), ...j.spec.template.spec.containers].some((c) => daemonOf(c) === 'gxctl'));
		if (jobs.length !== 1) errs.push(`${jobs.length} Jobs run gxctl, want 1`);
		else {
			const p = jobs[0].spec.template.spec;
			const seq = [...(p.initContainers || []), ...p.containers].map((c) => c.command.slice(1).join(' '));
			if (seq.join(' | ') !== 'migrate up | seed') errs.push(`${id(jobs[0])}: runs "${seq.join(' | ')}", want "migrate up | seed" in that order`);
			// named per release, so applying the next release creates a new Job instead of patching an immutable one
			const version = jobs[0].metadata.labels?.[RECOMMENDED.version];
			const want = version ? `gx-migrate-${String(version).replace(/[^a-z0-9]+/gi, '-').toLowerCase()}` : null;
			if (!want) errs.push(`${id(jobs[0])}: no ${RECOMMENDED.version} label to name it per release`);
			else if (jobs[0].metadata.name !== want) errs.push(`${id(jobs[0])}: named ${jobs[0].metadata.name}, want ${want} (named per release, from ${RECOMMENDED.version})`);
			if (!(jobs[0].spec.ttlSecondsAfterFinished > 0)) errs.push(`${id(jobs[0])}: no ttlSecondsAfterFinished: finished per-release Jobs would pile up`);
		}
		check('migration Job: gxctl migrate up, then gxctl seed, named per release', errs);
	}

	// placement: the migration Job runs where the Deployments run (the overlays' node pool)
	{
		const errs = [];
		const place = (x) => {
			const p = x.spec.template.spec;
			return JSON.stringify({ nodeSelector: p.nodeSelector || {}, nodeAffinity: p.affinity?.nodeAffinity || {}, tolerations: p.tolerations || [] });
		};
		const kinds = new Map();
		for (const x of deployments) kinds.set(place(x), [...(kinds.get(place(x)) || []), id(x)]);
		if (kinds.size > 1) errs.push(`the Deployments are placed differently: ${[...kinds].map(([k, v]) => `${v.join(', ')}: ${k}`).join('; ')}`);
		const want = deployments.length ? place(deployments[0]) : null;
		for (const j of all('Job')) if (want !== null && place(j) !== want) errs.push(`${id(j)}: placement ${place(j)} differs from the Deployments' ${want}`);
		check('placement: Deployments and the migration Job share nodeSelector, node affinity and tolerations', errs);
	}

	// the recommended labels on every object and every pod template, and the version the image carries
	{
		const errs = [];
		const seen = { version: new Set(), instance: new Set() };
		const need = (labels, where) => {
			for (const [k, key] of Object.entries(RECOMMENDED)) {
				const v = labels?.[key];
				if (v === undefined || v === null || v === '') { errs.push(`${where}: label ${key} missing`); continue; }
				if (k in seen) seen[k].add(String(v));
			}
			if (labels?.[RECOMMENDED.partOf] && labels[RECOMMENDED.partOf] !== 'gx-backend') errs.push(`${where}: ${RECOMMENDED.partOf} is ${labels[RECOMMENDED.partOf]}, want gx-backend`);
			if (labels?.[RECOMMENDED.managedBy] && labels[RECOMMENDED.managedBy] !== 'kustomize') errs.push(`${where}: ${RECOMMENDED.managedBy} is ${labels[RECOMMENDED.managedBy]}, want kustomize`);
		};
		for (const d of docs) {
			need(d.metadata?.labels, id(d));
			if (d.spec?.template?.metadata) need(d.spec.template.metadata.labels, `${id(d)} pod template`);
		}
		for (const k of ['version', 'instance']) if (seen[k].size > 1) errs.push(`${RECOMMENDED[k]} differs between objects: ${[...seen[k]].join(', ')}`);
		const [version] = seen.version;
		for (const x of workloads) for (const c of [...(x.spec.template.spec.initContainers || []), ...x.spec.template.spec.containers]) {
			const m = (c.image || '').match(/^[^@]*?:([^/:@]+)(@|$)/);
			if (m && version && m[1] !== version) errs.push(`${id(x)} container ${c.name}: image tag ${m[1]} differs from ${RECOMMENDED.version} ${version}`);
		}
		check('recommended labels (app.kubernetes.io/name, instance, version, component, part-of, managed-by); version = image tag', errs);
	}

	// client IPs: all API NodePorts alike, TRUSTED_PROXIES only exact addresses (the daemons compare IPs, no CIDR)
	{
		const errs = [];
		const policies = new Map();
		for (const sv of all('Service')) if (sv.spec.type === 'NodePort') {
			const pol = sv.spec.externalTrafficPolicy ?? 'Cluster';
			policies.set(pol, [...(policies.get(pol) || []), sv.metadata.name]);
		}
		if (policies.size > 1) errs.push(`NodePort Services mix externalTrafficPolicy: ${[...policies].map(([k, v]) => `${k}: ${v.join(', ')}`).join('; ')}`);
		const proxies = [];
		for (const cm of all('ConfigMap')) if (cm.data?.TRUSTED_PROXIES !== undefined) proxies.push([id(cm), cm.data.TRUSTED_PROXIES]);
		for (const x of workloads) for (const c of x.spec.template.spec.containers) for (const e of c.env || [])
			if (e.name === 'TRUSTED_PROXIES' && e.value !== undefined) proxies.push([`${id(x)} container ${c.name}`, e.value]);
		for (const [where, v] of proxies) for (const item of String(v).split(',').map((t) => t.trim()).filter(Boolean))
			if (!isIP(item)) errs.push(`${where}: TRUSTED_PROXIES entry "${item}" is not an IP address (the daemons match exact addresses, no CIDR or names)`);
		check('client IPs: one externalTrafficPolicy for all NodePorts; TRUSTED_PROXIES holds IP addresses', errs);
	}

	// Prometheus Operator objects, where the set has them (k8s/components/prometheus-operator)
	if (all('PodMonitor').length || all('ServiceMonitor').length || all('PrometheusRule').length) {
		const errs = [];
		const pms = all('PodMonitor');
		const selects = (sel, labels) => subset(sel?.matchLabels, labels) && (sel?.matchExpressions || []).every((e) => {
			const v = labels?.[e.key];
			if (e.operator === 'In') return e.values.includes(v);
			if (e.operator === 'NotIn') return !e.values.includes(v);
			if (e.operator === 'Exists') return v !== undefined;
			if (e.operator === 'DoesNotExist') return v === undefined;
			return false;
		});
		for (const pm of pms) {
			if (pm.spec.namespaceSelector && !pm.spec.namespaceSelector.matchNames?.includes(pm.metadata.namespace))
				errs.push(`${id(pm)}: namespaceSelector ${JSON.stringify(pm.spec.namespaceSelector)} does not name its own namespace`);
			if (!deployments.some((x) => selects(pm.spec.selector, x.spec.template.metadata?.labels))) errs.push(`${id(pm)}: selects no gx-backend pods`);
		}
		for (const x of deployments) {
			const c = x.spec.template.spec.containers[0];
			const d = daemonOf(c);
			if (!DECISIONS[d]) continue;
			const port = DECISIONS[d].port ?? DECISIONS[d].metricsPort;
			const hits = pms.filter((pm) => selects(pm.spec.selector, x.spec.template.metadata?.labels)).flatMap((pm) => (pm.spec.podMetricsEndpoints || [])
				.filter((ep) => (c.ports || []).some((cp) => cp.name === ep.port && cp.containerPort === port) && (ep.path ?? '/metrics') === '/metrics'));
			if (hits.length !== 1) errs.push(`${d}: ${hits.length} PodMonitor podMetricsEndpoints scrape /metrics on its port ${port} (no podMetricsEndpoints port names it, or several do)`);
		}
		const rules = all('PrometheusRule');
		if (rules.length !== 1) errs.push(`${rules.length} PrometheusRules, want 1 (k8s/components/prometheus-operator/prometheusrule.yaml)`);
		check('Prometheus Operator: a PodMonitor scrapes every daemon once on its metrics port; one PrometheusRule', errs);
	}

	// NetworkPolicies
	{
		const errs = [];
		const nps = all('NetworkPolicy');
		const deny = nps.find((n) => Object.keys(n.spec.podSelector || {}).length === 0 && !n.spec.ingress && !n.spec.egress
			&& (n.spec.policyTypes || []).includes('Ingress') && (n.spec.policyTypes || []).includes('Egress'));
		if (!deny) errs.push('no default-deny policy (empty podSelector, Ingress+Egress, no rules)');
		const covers = (rules, port, proto = 'TCP') => rules.some((r) => (r.ports || []).some((p) => (p.protocol || 'TCP') === proto
			&& port >= p.port && port <= (p.endPort ?? p.port)));
		const egressFor = (labels) => nps.filter((n) => subset(n.spec.podSelector?.matchLabels, labels)).flatMap((n) => n.spec.egress || []);
		const ingressFor = (labels) => nps.filter((n) => subset(n.spec.podSelector?.matchLabels, labels)).flatMap((n) => n.spec.ingress || []);
		for (const x of workloads) {
			const labels = x.spec.template.metadata?.labels || {};
			const daemon = daemonOf(x.spec.template.spec.containers[0]);
			const eg = egressFor(labels);
			const need = [[53, 'UDP'], [5432, 'TCP']];
			if (DECISIONS[daemon]?.port) need.push([6379, 'TCP']);
			if (DECISIONS[daemon] && !DECISIONS[daemon].port) need.push([7051, 'TCP'], [7050, 'TCP']);
			for (const [port, proto] of need) if (!covers(eg, port, proto)) errs.push(`${id(x)}: no egress to ${port}/${proto}`);
			if (DECISIONS[daemon]) {
				const port = DECISIONS[daemon].port ?? DECISIONS[daemon].metricsPort;
				const ing = ingressFor(labels);
				if (!covers(ing.filter((r) => (r.from || []).some((f) => f.namespaceSelector)), port)) errs.push(`${id(x)}: no Prometheus scrape ingress on ${port}`);
				if (DECISIONS[daemon].port && !covers(ing.filter((r) => !r.from), port)) errs.push(`${id(x)}: API port ${port} not open to clients`);
			}
		}
		check('NetworkPolicies: default deny; DNS, PostgreSQL, Redis, Fabric 7051/7050 egress; scrape ingress', errs);
	}

	return results;
}

// The dashboard and alert rules against the metrics the daemons export (live /metrics of every daemon in facts).
export function lintMonitoring(monitoring, facts) {
	const results = [];
	const check = (name, errors) => results.push({ name, errors });
	{
		const exported = new Set();
		for (const v of Object.values(facts.live || {})) for (const m of v.metrics || []) exported.add(m);
		const errs = [];
		if (!Object.keys(facts.live || {}).length) errs.push('no daemon was run: cannot check metric names');
		const refs = [];
		for (const p of monitoring.dashboard?.panels || []) for (const t of p.targets || []) refs.push([`dashboard panel "${p.title}"`, t.expr]);
		for (const v of monitoring.dashboard?.templating?.list || []) if (typeof v.query === 'string' && v.type === 'query') refs.push([`dashboard variable ${v.name}`, v.query]);
		const alerts = [];
		for (const g of monitoring.rules?.groups || []) for (const r of g.rules || []) {
			refs.push([`alert ${r.alert || r.record}`, String(r.expr)]);
			alerts.push(r);
		}
		if (!refs.length) errs.push('no expressions found in the dashboard and rules');
		for (const [where, expr] of refs) for (const m of promqlMetrics(expr))
			if (!exported.has(m) && !PROMETHEUS_BUILTIN.has(m)) errs.push(`${where}: metric ${m} is not exported by any daemon`);
		for (const a of REQUIRED_ALERTS) if (!alerts.some((r) => r.alert === a)) errs.push(`alert ${a} missing`);
		const lag = alerts.find((r) => r.alert === 'GxProjectionLag');
		if (lag && !/>\s*5\s*$/.test(String(lag.expr).trim())) errs.push('GxProjectionLag must fire on lag > 5 s');
		for (const r of alerts) if (!r.labels?.severity || !r.annotations?.summary) errs.push(`alert ${r.alert}: needs labels.severity and annotations.summary`);
		check('dashboard and alerts use only metrics the daemons export', errs);

		// GxDaemonDown also once a daemon's targets are gone: absent() on the series each daemon labels itself
		const gone = [];
		for (const d of Object.keys(DECISIONS)) {
			const re = new RegExp(`^\\s*absent\\s*\\(\\s*gx_build_info\\s*\\{[^}]*\\bservice\\s*=\\s*"${d}"[^}]*\\}\\s*\\)\\s*$`);
			const n = alerts.filter((r) => r.alert === 'GxDaemonDown' && re.test(String(r.expr)));
			if (n.length !== 1) gone.push(`${d}: ${n.length} GxDaemonDown rules on absent(gx_build_info{service="${d}"}), want 1`);
		}
		check('GxDaemonDown: one absent() rule per daemon, so it fires once a target is gone', gone);

		// panels over a family that has no series until it first counts must show 0, not "No data"
		const unsampled = new Set();
		const sampled = new Set();
		for (const v of Object.values(facts.live || {})) {
			const un = new Set(v.unsampled || []);
			for (const m of v.metrics || []) (un.has(m) ? unsampled : sampled).add(m);
		}
		for (const m of sampled) unsampled.delete(m);
		const zero = [];
		for (const p of monitoring.dashboard?.panels || []) for (const t of p.targets || []) {
			const empty = promqlMetrics(t.expr).filter((m) => unsampled.has(m));
			if (empty.length && !/\bor\s+on\s*\(\s*\)\s*vector\s*\(\s*0\s*\)\s*$/.test(t.expr))
				zero.push(`dashboard panel "${p.title}": ${empty.join(', ')} has no series until it first counts; end the query with "or on() vector(0)" so the panel shows 0, not "No data"`);
		}
		check('dashboard panels show 0 where a metric has no series yet', zero);
	}

	// the PrometheusRule of the Prometheus Operator component carries exactly alerts.yaml
	if (monitoring.prometheusRule !== undefined) {
		const errs = [];
		const pr = monitoring.prometheusRule;
		if (!pr || pr.kind !== 'PrometheusRule') errs.push('k8s/components/prometheus-operator/prometheusrule.yaml is not a PrometheusRule');
		else if (JSON.stringify(pr.spec?.groups) !== JSON.stringify(monitoring.rules?.groups))
			errs.push('prometheusrule.yaml differs from k8s/monitoring/alerts.yaml: run node test/k8s/sync-rules.mjs');
		check('PrometheusRule (component prometheus-operator) = k8s/monitoring/alerts.yaml', errs);
	}
	return results;
}

// The image recipe (k8s/images/Containerfile): OCI labels on the final image, and a build stage that takes
// bookworm's security updates (its libraries are what the image ships).
export const OCI_LABELS = ['title', 'description', 'version', 'revision', 'created', 'vendor'].map((k) => `org.opencontainers.image.${k}`);
export function lintContainerfile(text) {
	const results = [];
	const stages = text.split(/^FROM\s+/m).slice(1);
	const final = stages[stages.length - 1] || '';
	const labels = new Set([...final.matchAll(/(org\.opencontainers\.image\.[a-z.]+)=/g)].map((m) => m[1]));
	results.push({ name: 'Containerfile: OCI image labels on the final stage', errors: OCI_LABELS.filter((l) => !labels.has(l)).map((l) => `label ${l} missing`) });
	const build = stages.slice(0, -1).join('\n');
	const errs = [];
	if (!/bookworm-security/.test(build)) errs.push('the build stage does not add or require a bookworm-security apt source');
	if (!/apt-get[^\n]*\bupgrade\b/.test(build)) errs.push('the build stage does not apt-get upgrade (security updates of the base are not applied)');
	results.push({ name: 'Containerfile: build stage with bookworm-security updates', errors: errs });
	return results;
}

// ---- main ------------------------------------------------------------------------------------------------------

export function parseDocs(text) {
	return parseAllDocuments(text).map((d) => {
		if (d.errors.length) throw new Error(d.errors[0].message);
		return d.toJS();
	}).filter(Boolean);
}

export function haveKubectl() {
	try {
		execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
		return true;
	} catch {
		return false;
	}
}

export function render(dir) {
	return parseDocs(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
}

function yamlFilesUnder(dir) {
	return readdirSync(dir).flatMap((f) => {
		const p = path.join(dir, f);
		if (statSync(p).isDirectory()) return yamlFilesUnder(p);
		return /\.ya?ml$/.test(f) && f !== 'kustomization.yaml' ? [p] : [];
	});
}

export function loadMonitoring() {
	const dir = path.join(K8S, 'monitoring');
	const pr = path.join(K8S, 'components', 'prometheus-operator', 'prometheusrule.yaml');
	return {
		dashboard: JSON.parse(readFileSync(path.join(dir, 'grafana-dashboard.json'), 'utf8')),
		rules: parseYaml(readFileSync(path.join(dir, 'alerts.yaml'), 'utf8')),
		prometheusRule: existsSync(pr) ? parseYaml(readFileSync(pr, 'utf8')) : null,
	};
}

export const COMPONENTS = path.join(K8S, 'components');
export function components() {
	return existsSync(COMPONENTS) ? readdirSync(COMPONENTS).filter((c) => existsSync(path.join(COMPONENTS, c, 'kustomization.yaml'))).sort() : [];
}

// An overlay rendered with extra components, as if its kustomization.yaml listed them: a copy of that file in a
// temporary directory, its relative paths made absolute (inline patches only: a patch file would not resolve).
export function renderWith(overlayDir, comps) {
	const k = parseYaml(readFileSync(path.join(overlayDir, 'kustomization.yaml'), 'utf8'));
	const dir = mkdtempSync(path.join(os.tmpdir(), 'gx-k8s-lint-'));
	// kustomize takes directories outside the root, but only as relative paths
	const rel = (p) => path.relative(dir, path.resolve(overlayDir, p));
	for (const key of ['resources', 'components']) if (k[key]) k[key] = k[key].map(rel);
	for (const p of k.patches || []) if (p.path) throw new Error(`${overlayDir}: patch file ${p.path}: renderWith supports inline patches only`);
	k.components = [...(k.components || []), ...comps.map((c) => rel(path.join(COMPONENTS, c))).filter((c) => !(k.components || []).includes(c))];
	try {
		writeFileSync(path.join(dir, 'kustomization.yaml'), JSON.stringify(k));
		return render(dir);
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

async function main() {
	const args = process.argv.slice(2);
	let factsFile = null;
	const files = [];
	let mode = null;
	for (let i = 0; i < args.length; i++) {
		if (args[i] === '--facts') factsFile = args[++i];
		else if (args[i] === '--files') mode = 'files';
		else if (mode === 'files') files.push(args[i]);
		else { console.error(`lint.mjs: unknown argument ${args[i]}`); process.exit(2); }
	}
	if (!factsFile) { console.error('usage: lint.mjs --facts FACTS.json [--files A.yaml ...]'); process.exit(2); }
	const facts = JSON.parse(readFileSync(factsFile, 'utf8'));
	let pass = 0, fail = 0;
	const report = (set, results) => {
		for (const r of results) {
			if (r.errors.length === 0) { pass++; console.log(`ok - ${set}: ${r.name}`); continue; }
			fail++;
			console.log(`not ok - ${set}: ${r.name}`);
			for (const e of r.errors.slice(0, 40)) console.log(`    ${e}`);
			if (r.errors.length > 40) console.log(`    ... and ${r.errors.length - 40} more`);
		}
	};
	const sets = [];
	if (files.length) {
		sets.push(['files', () => files.flatMap((f) => parseDocs(readFileSync(f, 'utf8')))]);
	} else if (haveKubectl()) {
		const overlays = readdirSync(path.join(K8S, 'overlays')).sort();
		for (const o of overlays) sets.push([`overlay ${o}`, () => render(path.join(K8S, 'overlays', o))]);
		// each overlay once more with every optional component of k8s/components (client IPs, Prometheus Operator)
		const comps = components();
		if (comps.length) for (const o of overlays) sets.push([`overlay ${o} + ${comps.join(' + ')}`, () => renderWith(path.join(K8S, 'overlays', o), comps)]);
	} else {
		console.log('# kubectl not found: linting the base YAML files as written (overlays are not rendered)');
		sets.push(['base (unrendered)', () => [...yamlFilesUnder(path.join(K8S, 'base'))].flatMap((f) => parseDocs(readFileSync(f, 'utf8')))]);
	}
	let monitoring = null;
	try {
		monitoring = loadMonitoring();
	} catch (e) {
		fail++;
		console.log(`not ok - monitoring files parse: ${e.message}`);
	}
	// the Secret templates are not rendered by kustomize: validate them on their own
	{
		const dir = path.join(K8S, 'secrets');
		const errs = [];
		for (const f of existsSync(dir) ? readdirSync(dir).filter((x) => x.endsWith('.template.yaml')) : [])
			for (const d of parseDocs(readFileSync(path.join(dir, f), 'utf8'))) for (const e of await schemaCheck(d)) errs.push(`${f}: ${e}`);
		report('secrets', [{ name: 'Secret templates pass the schema', errors: errs }]);
	}
	for (const [name, load] of sets) {
		let docs;
		try {
			docs = load();
		} catch (e) {
			fail++;
			console.log(`not ok - ${name}: renders and parses\n    ${String(e.stderr || e.message).trim()}`);
			continue;
		}
		pass++;
		console.log(`ok - ${name}: renders and parses (${docs.length} objects)`);
		report(name, await lintSet(docs, facts));
	}
	if (monitoring) report('monitoring', lintMonitoring(monitoring, facts));
	report('images', lintContainerfile(readFileSync(path.join(K8S, 'images', 'Containerfile'), 'utf8')));
	console.log(`${pass} passed, ${fail} failed`);
	process.exit(fail ? 1 : 0);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
