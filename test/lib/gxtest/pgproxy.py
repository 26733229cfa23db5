"""A TCP proxy in front of PostgreSQL that can lose the answer to a COMMIT: the transaction is committed in the
database, but the client's connection is cut before it learns so (the lost commit acknowledgement of issue 20).

    proxy = PgAckDropProxy(stack.pg.port).start()
    url = proxy.url(stack.pg.dbname)          # sslmode=disable: the stream is plain protocol
    proxy.arm(b"sub_persist")                 # next COMMIT after a message naming the statement: answer dropped
    proxy.dropped.wait(30)

Backend messages are parsed (type byte, length) so the cut falls exactly on the CommandComplete "COMMIT"; every
other byte is forwarded unchanged. Connections made after the cut pass through normally until the next arm().
"""

import socket
import struct
import threading

__all__ = ["PgAckDropProxy"]


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class PgAckDropProxy:
    def __init__(self, pg_port, host="127.0.0.1"):
        self.target = (host, pg_port)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.pattern = None
        self.dropped = threading.Event()
        self.connections = 0
        self.closed = False

    def url(self, dbname, user="postgres"):
        return ("postgresql://%s@127.0.0.1:%d/%s?sslmode=disable"
                % (user, self.port, dbname))

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def arm(self, pattern):
        """Drop the answer to the next COMMIT on a connection whose client sent bytes containing pattern since the
        previous COMMIT."""
        with self.lock:
            self.pattern = pattern
            self.dropped.clear()

    def close(self):
        self.closed = True
        try:
            self.lsock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(self.target, timeout=10)
                s.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.connections += 1
            conn = {"seen": False, "c": c, "s": s}
            threading.Thread(target=self._up, args=(conn,), daemon=True).start()
            threading.Thread(target=self._down, args=(conn,), daemon=True).start()

    @staticmethod
    def _cut(conn):
        for k in ("c", "s"):
            try:
                conn[k].shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                conn[k].close()
            except OSError:
                pass

    def _up(self, conn):
        """Client to server, unchanged; notes whether the armed pattern went by (the pattern may span reads)."""
        tail = b""
        try:
            while True:
                data = conn["c"].recv(65536)
                if not data:
                    break
                with self.lock:
                    pat = self.pattern
                if pat and pat in tail + data:
                    conn["seen"] = True
                tail = data[-64:]
                conn["s"].sendall(data)
        except OSError:
            pass
        self._cut(conn)

    def _down(self, conn):
        """Server to client, message by message; the armed COMMIT's CommandComplete is never forwarded."""
        try:
            while True:
                head = _recv_exact(conn["s"], 5)
                if head is None:
                    break
                (length,) = struct.unpack("!I", head[1:5])
                body = _recv_exact(conn["s"], length - 4)
                if body is None:
                    break
                if head[:1] == b"C" and body.startswith(b"COMMIT\0"):
                    with self.lock:
                        fire = self.pattern is not None and conn["seen"]
                        if fire:
                            self.pattern = None
                    conn["seen"] = False
                    if fire:
                        self.dropped.set()
                        break
                conn["c"].sendall(head + body)
        except OSError:
            pass
        self._cut(conn)
