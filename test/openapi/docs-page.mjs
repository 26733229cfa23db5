// Load an API's /docs page in headless Chromium (Debian's /usr/bin/chromium through playwright-core) and check it
// as a person would see it: the operations of the service's document are rendered (every summary text of the
// document appears on the page), "Try it out" on GET /health gets its 200 from the page, the page's
// Content-Security-Policy reported no violation, and nothing failed to load or logged an error. Keeps a full-page
// screenshot.
//   usage: node docs-page.mjs BASE_URL SCREENSHOT.png
// Prints one JSON line {ok, operations, rendered, violations, failures, console}; exit status 0 when ok.
import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [base, shot] = process.argv.slice(2);
if (!base || !shot) {
	console.error("usage: node docs-page.mjs BASE_URL SCREENSHOT.png");
	process.exit(2);
}
const doc = await (await fetch(base + "/openapi.json")).json();
const summaries = [];
for (const item of Object.values(doc.paths))
	for (const [m, op] of Object.entries(item))
		if (op && typeof op === "object" && op.summary && m !== "parameters") summaries.push(op.summary);

const profile = fs.mkdtempSync(path.join(os.tmpdir(), "gx-docs-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
	executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
	headless: true,
	viewport: { width: 1280, height: 900 },
	args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync"],
});
const result = { ok: false, operations: summaries.length, rendered: 0, violations: [], failures: [], console: [] };
try {
	const page = browser.pages()[0] || (await browser.newPage());
	// every CSP violation the page reports, from the first script on
	await page.addInitScript(() => {
		window.__cspViolations = [];
		document.addEventListener("securitypolicyviolation", (e) =>
			window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "(inline)"}`));
	});
	page.on("console", (m) => {
		if (m.type() === "error" || m.type() === "warning") result.console.push(`${m.text()} (${m.location().url})`);
	});
	page.on("pageerror", (e) => result.failures.push("page error: " + e.message));
	page.on("requestfailed", (r) => result.failures.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
	page.on("response", (r) => {
		if (r.status() >= 400) result.failures.push(`HTTP ${r.status()}: ${r.url()}`);
	});
	const resp = await page.goto(base + "/docs", { waitUntil: "load" });
	if (resp.status() !== 200) result.failures.push(`GET /docs: ${resp.status()}`);
	await page.waitForSelector(".opblock-summary", { timeout: 20000 });
	await page.waitForLoadState("networkidle");
	result.title = await page.title();
	const shown = await page.$$eval(".opblock-summary-description", (els) => els.map((e) => e.textContent.trim()));
	result.rendered = shown.length;
	result.missing = summaries.filter((s) => !shown.includes(s));
	// interactive: "Try it out" on GET /health sends the request from the page (connect-src) and shows the answer
	const op = page.locator("#operations-health-getHealth");
	await op.locator(".opblock-summary").click();
	await op.locator(".try-out__btn").click();
	await op.locator(".execute").click();
	result.tryItOut = (await op.locator(".live-responses-table tr.response .response-col_status").first().textContent({
		timeout: 10000 })).trim();
	await op.locator(".opblock-summary").click();
	result.violations = await page.evaluate(() => window.__cspViolations);
	// Chromium also logs a blocked load on the console; count those as violations too
	for (const c of result.console) if (/Content Security Policy/i.test(c)) result.violations.push(c);
	await page.screenshot({ path: shot, fullPage: true });
	result.ok = result.rendered === summaries.length && result.missing.length === 0 &&
		result.violations.length === 0 && result.failures.length === 0 && result.console.length === 0 &&
		result.tryItOut === "200";
} catch (e) {
	result.failures.push(String(e.message || e).split("\n")[0]);
} finally {
	await browser.close();
	fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
