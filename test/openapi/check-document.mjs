// Check one OpenAPI document as API users' tools see it:
//   1. @apidevtools/swagger-parser validates it (OpenAPI 3.0 schema, every $ref resolves);
//   2. `redocly lint` with redocly.yaml (the recommended ruleset) finds no error and no warning;
//   3. every operation has an operationId, camelCase and unique in the document, and an explicit `security`
//      (`[]` on a public operation, the schemes otherwise);
//   4. with IDS (operation-ids.txt: "<service> <METHOD> <path> <operationId>" lines) an operation listed for
//      SERVICE keeps its operationId and is still there (operationIds are what generated clients call: renaming
//      one breaks them). Operations not listed yet are named on stdout, to be added.
//   usage: node check-document.mjs FILE [SERVICE IDS]
// Prints each problem on a line of its own and "ok <n> operations" when there is none; exit status 1 on a problem.
import SwaggerParser from "@apidevtools/swagger-parser";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [file, service, idsFile] = process.argv.slice(2);
if (!file) {
	console.error("usage: node check-document.mjs FILE [SERVICE IDS]");
	process.exit(2);
}
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const CAMEL = /^[a-z][a-z0-9]*([A-Z][a-z0-9]*)*$/;
const problems = [];
const text = fs.readFileSync(file, "utf8");
let doc;
try {
	doc = JSON.parse(text);
} catch (e) {
	console.log(`not JSON: ${e.message}`);
	process.exit(1);
}

try {
	await SwaggerParser.validate(structuredClone(doc));
} catch (e) {
	problems.push(`swagger-parser: ${e.message.trim().split("\n").slice(0, 8).join(" | ")}`);
}

const lint = spawnSync(path.join(here, "node_modules/.bin/redocly"),
	["lint", "--config", path.join(here, "redocly.yaml"), "--format=json", file],
	{ encoding: "utf8", env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" } });
let report = null;
try {
	report = JSON.parse(lint.stdout);
} catch {
	problems.push(`redocly lint gave no JSON report (exit ${lint.status}): ${(lint.stderr || "").slice(-400)}`);
}
if (report) {
	for (const p of report.problems)
		problems.push(`redocly ${p.severity} ${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer ?? "?"}`);
	if (report.problems.length === 0 && (report.totals.errors || report.totals.warnings))
		problems.push(`redocly lint: ${report.totals.errors} errors, ${report.totals.warnings} warnings`);
}

const ops = [];
const seen = new Map();
for (const [p, item] of Object.entries(doc.paths || {})) {
	for (const m of METHODS) {
		const op = item?.[m];
		if (!op || typeof op !== "object") continue;
		const where = `${m.toUpperCase()} ${p}`;
		ops.push({ method: m.toUpperCase(), path: p, id: op.operationId });
		if (typeof op.operationId !== "string" || !op.operationId) {
			problems.push(`${where}: no operationId`);
		} else {
			if (!CAMEL.test(op.operationId)) problems.push(`${where}: operationId ${op.operationId} is not camelCase`);
			if (seen.has(op.operationId))
				problems.push(`${where}: operationId ${op.operationId} is also on ${seen.get(op.operationId)}`);
			seen.set(op.operationId, where);
		}
		if (!Array.isArray(op.security))
			problems.push(`${where}: no "security" (write [] on a public operation, the schemes otherwise)`);
	}
}
if (ops.length === 0) problems.push("the document has no operation");

if (service && idsFile) {
	const listed = fs.readFileSync(idsFile, "utf8").split("\n").map((l) => l.trim())
		.filter((l) => l && !l.startsWith("#")).map((l) => l.split(/\s+/))
		.filter((f) => f[0] === service);
	const byKey = new Map(ops.map((o) => [`${o.method} ${o.path}`, o]));
	for (const [, method, p, id] of listed) {
		const o = byKey.get(`${method} ${p}`);
		if (!o) problems.push(`${method} ${p} (${id}) is listed in ${path.basename(idsFile)} but gone`);
		else if (o.id !== id) problems.push(`${method} ${p}: operationId ${o.id}, was ${id} (renaming breaks clients)`);
	}
	const have = new Set(listed.map((f) => `${f[1]} ${f[2]}`));
	for (const o of ops)
		if (!have.has(`${o.method} ${o.path}`))
			console.log(`note: ${service} ${o.method} ${o.path} ${o.id} is not in ${path.basename(idsFile)} yet`);
}

for (const p of problems) console.log(p);
if (problems.length === 0) console.log(`ok ${ops.length} operations`);
process.exit(problems.length ? 1 : 0);
