// Self-test helper of test/suites/openapi.sh: an HTTP proxy to UPSTREAM (an API daemon) that adds one inline
// <script> to the /docs page and passes everything else, headers included (so the page's Content-Security-Policy
// must block that script and docs-page.mjs must report it). Prints "listening <port>" once it listens.
//   usage: node inject-inline-script.mjs UPSTREAM_BASE_URL
import http from "node:http";

const upstream = process.argv[2];
const server = http.createServer(async (req, res) => {
	try {
		const r = await fetch(upstream + req.url, { headers: { "accept": req.headers.accept || "*/*" } });
		let body = Buffer.from(await r.arrayBuffer());
		const headers = {};
		for (const [k, v] of r.headers) if (!["content-length", "content-encoding", "etag"].includes(k)) headers[k] = v;
		if (req.url === "/docs" && r.status === 200)
			body = Buffer.from(body.toString("utf8").replace("</body>", "<script>document.title = 'x';</script></body>"));
		res.writeHead(r.status, headers);
		res.end(body);
	} catch (e) {
		res.writeHead(502);
		res.end(String(e));
	}
});
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
