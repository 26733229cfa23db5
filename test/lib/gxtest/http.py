"""Small HTTP client for integration tests (stdlib http.client): no redirects, no exceptions on 4xx/5xx."""

import http.client
import json
import socket
import threading
import urllib.parse

__all__ = ["Headers", "Response", "request", "free_port"]

_handed_out = set()


def free_port():
    """Return a loopback TCP port that was free a moment ago (bind to port 0, then release it).

    Ports already returned by this process are not returned again, so two daemons never get the same one.
    """
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free loopback port found")


class Headers:
    """Case-insensitive, read-only view of response headers. Repeated headers are joined with ', '."""

    def __init__(self, pairs):
        self._items = list(pairs)
        self._map = {}
        for k, v in self._items:
            key = k.lower()
            self._map[key] = v if key not in self._map else self._map[key] + ", " + v

    def get(self, name, default=None):
        return self._map.get(name.lower(), default)

    def get_all(self, name):
        return [v for k, v in self._items if k.lower() == name.lower()]

    def __getitem__(self, name):
        return self._map[name.lower()]

    def __contains__(self, name):
        return name.lower() in self._map

    def items(self):
        return list(self._items)

    def __repr__(self):
        return "Headers(%r)" % (self._items,)


class Response:
    """status (int), headers (Headers), body (bytes); json() returns the parsed body or None."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return "<Response %d %s %r>" % (self.status, self.reason, self.body[:200])


def request(method, url, json_body=None, headers=None, raw_body=None, timeout=10):
    """Send one HTTP request and return a Response whatever the status.

    json_body is serialised with Content-Type application/json; raw_body (bytes or str) is sent as is. Connection
    errors and timeouts raise the usual OSError subclasses (ConnectionRefusedError, socket.timeout).
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        raise ValueError("only http:// URLs are supported: %s" % url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    hdrs = dict(headers or {})
    body = None
    if json_body is not None and raw_body is not None:
        raise ValueError("pass json_body or raw_body, not both")
    if json_body is not None:
        body = json.dumps(json_body).encode()
        if not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = "application/json"
    elif raw_body is not None:
        body = raw_body.encode() if isinstance(raw_body, str) else raw_body
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.reason, Headers(resp.getheaders()), data)
    finally:
        conn.close()


def concurrently(n, fn):
    """Call fn(i) for i in 0..n-1 from n threads released together (a barrier), for races. Returns the results in
    order; an OSError raised by a call is returned in its place."""
    out = [None] * n
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        try:
            out[i] = fn(i)
        except OSError as e:
            out[i] = e
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out
