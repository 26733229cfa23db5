"""Throwaway test stack: PostgreSQL 15, Redis, gx daemons and other processes, all in one temp dir.

Every child runs in its own process group and gets SIGKILL if this Python process dies (PR_SET_PDEATHSIG);
Stack.close() (also run from atexit and on SIGTERM/SIGHUP) stops everything and removes the temp dir.
"""

import atexit
import ctypes
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from .http import free_port, request

__all__ = ["REPO_ROOT", "TEST_JWT_SECRET", "API_DAEMONS", "WORKER_DAEMONS", "DAEMONS", "DEFAULT_PORTS",
           "bin_dir", "have_binary", "Process", "Daemon", "Postgres", "Redis", "Stack"]

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
# 48 bytes: the daemons refuse secrets shorter than 32 bytes (design.md §4).
TEST_JWT_SECRET = "gx-integration-test-secret-0123456789abcdefABCDEF"
API_DAEMONS = ["svc-identity", "svc-admin", "svc-tokenomics", "svc-organization", "svc-loanpool",
               "svc-governance", "svc-tax"]
WORKER_DAEMONS = ["outbox-submitter", "projector"]
DAEMONS = API_DAEMONS + WORKER_DAEMONS
DEFAULT_PORTS = dict(zip(API_DAEMONS, range(3001, 3008)), **{"outbox-submitter": 9090, "projector": 9091})
PGBIN = os.environ.get("GX_PG_BIN", "/usr/lib/postgresql/15/bin")

# Inherited variables that would point a daemon at the developer's own database or Redis.
_SCRUB_ENV = re.compile(r"^(PG[A-Z]+|DATABASE_[A-Z]+|REDIS_[A-Z]+|JWT_[A-Z]+|PORT|METRICS_PORT)$")
_SANITIZER = re.compile(r"Sanitizer|runtime error:")

_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None


def _child_setup():
    # Runs in the child between fork and exec (after any uid change), so the death signal survives.
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def bin_dir():
    """Directory of the binaries under test: $GX_BIN_DIR, else build/release/bin of the repo."""
    return os.path.abspath(os.environ.get("GX_BIN_DIR") or os.path.join(REPO_ROOT, "build", "release", "bin"))


def have_binary(name):
    path = os.path.join(bin_dir(), name)
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _tail(path, n=40):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return "(no log: %s)" % e
    return "\n".join(lines[-n:])


def _base_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not _SCRUB_ENV.match(k)}
    if extra:
        env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


class Process:
    """A child process in its own process group with stdout+stderr in a log file.

    pid, name, log_path; stop(), kill9(), log_text(), wait_for_log(). Error-level log lines matching any
    substring given to expect_errors() are not reported by the teardown log check.
    """

    def __init__(self, argv, env, name, log_path, cwd=None, user=None):
        self.argv = list(argv)
        self.name = name
        self.log_path = log_path
        self.expected_errors = []
        self.checked_offset = 0
        self.exit_code = None
        self.stopped_by_test = False
        kwargs = {}
        if user is not None:
            pw = pwd.getpwnam(user)
            kwargs.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        with open(log_path, "ab") as log:
            self.popen = subprocess.Popen(self.argv, env=env, cwd=cwd or REPO_ROOT, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                          preexec_fn=_child_setup, **kwargs)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def expect_errors(self, *substrings):
        """Declare error-level log lines that are expected (substring match; "" allows every error line)."""
        self.expected_errors.extend(substrings)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return _tail(self.log_path, n)

    def wait_for_log(self, pattern, timeout=10.0):
        """Wait until the log matches regex pattern; return the match or raise AssertionError."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.log_text())
            if m:
                return m
            if not self.alive() or time.monotonic() > deadline:
                raise AssertionError("%s: %r not seen in log within %.0fs (exit code %s); last lines:\n%s"
                                     % (self.name, pattern, timeout, self.popen.poll(), self.log_tail()))
            time.sleep(0.05)

    def _killpg(self, sig):
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Send sig to the process and wait up to timeout seconds. Returns the exit code (negative: killed by a
        signal). If it does not exit in time the whole group is SIGKILLed and AssertionError is raised."""
        self.stopped_by_test = True
        if self.alive():
            try:
                self.popen.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._killpg(signal.SIGKILL)
                self.popen.wait()
                self.exit_code = self.popen.returncode
                self._killpg(signal.SIGKILL)
                raise AssertionError("%s (pid %d) did not exit within %.1fs of signal %d; last lines:\n%s"
                                     % (self.name, self.pid, timeout, sig, self.log_tail()))
        self.exit_code = self.popen.returncode
        self._killpg(signal.SIGKILL)  # leftovers in the group (forked workers)
        return self.exit_code

    def kill9(self):
        """SIGKILL the whole process group and reap the process."""
        self.stopped_by_test = True
        self._killpg(signal.SIGKILL)
        self.popen.wait()
        self.exit_code = self.popen.returncode
        return self.exit_code

    def new_problems(self):
        """Log problems since the last call: sanitizer reports and unexpected error/fatal lines."""
        text = self.log_text()
        chunk, self.checked_offset = text[self.checked_offset:], len(text)
        problems = []
        for line in chunk.splitlines():
            if _SANITIZER.search(line):
                problems.append(line)
                continue
            level = None
            if line.startswith("{"):
                try:
                    obj = json.loads(line)
                    level = obj.get("level") if isinstance(obj, dict) else None
                except ValueError:
                    level = None
            if level is None and re.search(r'"level"\s*:\s*"(error|fatal)"', line):
                level = "error"
            if level in ("error", "fatal") and not any(s in line for s in self.expected_errors):
                problems.append(line)
        return problems


class Daemon(Process):
    """A gx daemon: adds port, url and readiness waiting. url is http://127.0.0.1:<port>."""

    def __init__(self, argv, env, name, log_path, port):
        super().__init__(argv, env, name, log_path)
        self.port = port
        self.url = "http://127.0.0.1:%d" % port

    def get(self, path, **kw):
        return request("GET", self.url + path, **kw)

    def wait_ready(self, timeout=30.0, path="/readyz", want=200):
        """Poll path until it answers want; raise AssertionError with the last 40 log lines otherwise."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            if not self.alive():
                raise AssertionError("%s exited with code %s before %s answered %d; last lines:\n%s"
                                     % (self.name, self.popen.returncode, path, want, self.log_tail()))
            try:
                r = request("GET", self.url + path, timeout=2)
                if r.status == want:
                    return r
                last = "%d %s" % (r.status, r.body[:300].decode("utf-8", "replace"))
            except OSError as e:
                last = str(e)
            if time.monotonic() > deadline:
                raise AssertionError("%s: %s did not answer %d within %.0fs (last: %s); last lines:\n%s"
                                     % (self.name, path, want, timeout, last, self.log_tail()))
            time.sleep(0.1)


class Postgres:
    """A throwaway PostgreSQL 15 cluster (trust auth) with database gx_protocol.

    durable=False (the default of the integration tests): fsync, synchronous_commit and full_page_writes off, fast
    and enough for tests that never crash the server. durable=True: all three on, as in production, so a kill9()
    under load exercises real crash recovery (the reliability suite uses it). Either way errors (among them
    "deadlock detected") and lock waits longer than deadlock_timeout go to server.log in the cluster's dir
    (log_path).

    Runs as the postgres user when this process is root. stop() and start() keep the data dir and the port, so a
    test can simulate a database restart; kill9() then start() simulates a crash.
    """

    def __init__(self, root, dbname="gx_protocol", durable=False):
        self.dir = os.path.join(root, "pg")
        self.data = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "server.log")
        self.dbname = dbname
        self.durable = durable
        self.port = free_port()
        self.proc = None
        self.user = "postgres" if os.geteuid() == 0 else None
        os.makedirs(self.dir)
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        initdb = [os.path.join(PGBIN, "initdb"), "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-locale", "--no-sync"]
        if self.user:
            initdb = ["runuser", "-u", self.user, "--"] + initdb
        r = subprocess.run(initdb, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           cwd="/")
        if r.returncode != 0:
            raise RuntimeError("initdb failed:\n" + r.stdout.decode("utf-8", "replace")[-3000:])
        self.created = False

    @property
    def url(self):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, self.dbname)

    def start(self, timeout=30.0):
        if self.proc is not None and self.proc.alive():
            return
        onoff = "on" if self.durable else "off"
        argv = [os.path.join(PGBIN, "postgres"), "-D", self.data, "-p", str(self.port), "-k", self.dir,
                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=" + onoff, "-c", "synchronous_commit=" + onoff,
                "-c", "full_page_writes=" + onoff, "-c", "max_connections=200",
                # errors (deadlock detected, serialization failures) and the statement that raised them, lock
                # waits past deadlock_timeout: what a test reads back from server.log
                "-c", "log_min_messages=warning", "-c", "log_min_error_statement=error", "-c", "log_lock_waits=on",
                "-c", "deadlock_timeout=1s", "-c", "logging_collector=off"]
        self.proc = Process(argv, _base_env(), "postgres", self.log_path, cwd="/", user=self.user)
        deadline = time.monotonic() + timeout
        while True:
            r = subprocess.run([os.path.join(PGBIN, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                               stdin=subprocess.DEVNULL)
            if r.returncode == 0:
                break
            if not self.proc.alive() or time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start; last lines:\n" + self.proc.log_tail())
            time.sleep(0.1)
        if not self.created:
            self.psql("CREATE DATABASE %s" % self.dbname, db="postgres")
            self.created = True

    def stop(self, timeout=15.0):
        """Fast shutdown (SIGINT); SIGKILL after timeout."""
        if self.proc is None:
            return
        if self.proc.alive():
            try:
                self.proc.stop(signal.SIGINT, timeout)
            except AssertionError:
                pass
        self.proc = None

    def kill9(self):
        """Crash: SIGKILL the postmaster and, with it, every backend (its process group), as when a node dies.
        The data dir and the port stay; start() then runs crash recovery from the WAL."""
        if self.proc is None:
            return
        self.proc.kill9()
        self.proc = None

    def log_text(self):
        """The server log so far (every start of this cluster appends to it)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def psql(self, sql, db=None):
        """Run sql (one or more statements) with psql; return the rows of the last result as tuples of strings
        (NULL is ''). Raises AssertionError with psql's message on error."""
        argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-F", "\x1f", "-R", "\x1e",
                "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db or self.dbname, "-c", sql]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                           env=_base_env())
        if r.returncode != 0:
            raise AssertionError("psql failed (%d): %s\nSQL: %s" % (r.returncode, r.stderr.decode().strip(), sql))
        out = r.stdout.decode("utf-8")
        if out.endswith("\n"):
            out = out[:-1]
        return [tuple(rec.split("\x1f")) for rec in out.split("\x1e") if rec != ""]


class Redis:
    """A throwaway Redis on a free loopback port, no persistence. stop()/start() keep the port."""

    def __init__(self, root):
        self.dir = os.path.join(root, "redis")
        os.makedirs(self.dir)
        self.port = free_port()
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self, timeout=15.0):
        if self.proc is not None and self.proc.alive():
            return
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--logfile", ""]
        self.proc = Process(argv, _base_env(), "redis", os.path.join(self.dir, "redis.log"), cwd=self.dir)
        deadline = time.monotonic() + timeout
        while not self.ping():
            if not self.proc.alive() or time.monotonic() > deadline:
                raise RuntimeError("Redis did not start; last lines:\n" + self.proc.log_tail())
            time.sleep(0.05)

    def stop(self, timeout=10.0):
        if self.proc is None:
            return
        if self.proc.alive():
            try:
                self.proc.stop(signal.SIGTERM, timeout)
            except AssertionError:
                pass
        self.proc = None


_live_stacks = []


def _close_all():
    for st in list(_live_stacks):
        try:
            st.close(check=False)
        except Exception as e:  # noqa: BLE001 - teardown must go on
            print("gxtest: teardown error: %s" % e)


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


atexit.register(_close_all)
try:
    for _sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(_sig) in (signal.SIG_DFL, None):
            signal.signal(_sig, _on_signal)
except ValueError:
    pass  # not the main thread


class Stack:
    """One test environment in a temp dir: optional PostgreSQL, Redis, daemons and processes.

    st = Stack("health"); st.start_pg(); st.start_redis(); st.migrate(); d = st.start_daemon("svc-identity")
    problems = st.close()   # stops all, returns log problems (sanitizer reports, unexpected error lines)
    Set GX_KEEP_TMP=1 to keep the temp dir (logs) after close.
    """

    def __init__(self, name="gx"):
        self.root = tempfile.mkdtemp(prefix="gxtest-%s-" % re.sub(r"[^A-Za-z0-9_.-]", "_", name))
        os.chmod(self.root, 0o755)  # the postgres user must reach its data dir
        self.logdir = os.path.join(self.root, "logs")
        os.makedirs(self.logdir)
        self.pg = None
        self.redis = None
        self.procs = []
        self.closed = False
        _live_stacks.append(self)

    # --- PostgreSQL and Redis ---------------------------------------------------------------------------------
    def start_pg(self, durable=False):
        """Create (first call) and start PostgreSQL; durable=True turns fsync, synchronous_commit and
        full_page_writes on (see Postgres)."""
        if self.pg is None:
            self.pg = Postgres(self.root, durable=durable)
        self.pg.start()
        return self.pg

    def stop_pg(self):
        if self.pg is not None:
            self.pg.stop()

    def start_redis(self):
        if self.redis is None:
            self.redis = Redis(self.root)
        self.redis.start()
        return self.redis

    def stop_redis(self):
        if self.redis is not None:
            self.redis.stop()

    @property
    def database_url(self):
        if self.pg is None:
            raise RuntimeError("start_pg() first")
        return self.pg.url

    @property
    def redis_url(self):
        if self.redis is None:
            raise RuntimeError("start_redis() first")
        return self.redis.url

    def psql(self, sql):
        if self.pg is None:
            raise RuntimeError("start_pg() first")
        return self.pg.psql(sql)

    def gxctl(self, *args, env=None, check=True, timeout=120):
        """Run bin/gxctl with DATABASE_URL set; returns CompletedProcess (text output). Skips if not built."""
        if not have_binary("gxctl"):
            raise unittest.SkipTest("gxctl is not built in %s" % bin_dir())
        e = _base_env({"DATABASE_URL": self.database_url, "LOG_LEVEL": "info"})
        e.update(env or {})
        r = subprocess.run([os.path.join(bin_dir(), "gxctl")] + list(args), env=e, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, cwd=REPO_ROOT)
        out = r.stdout.decode("utf-8", "replace")
        with open(os.path.join(self.logdir, "gxctl.log"), "a") as f:
            f.write("$ gxctl %s  (exit %d)\n%s\n" % (" ".join(args), r.returncode, out))
        if check and r.returncode != 0:
            raise AssertionError("gxctl %s failed with exit code %d:\n%s" % (" ".join(args), r.returncode, out[-4000:]))
        if check and _SANITIZER.search(out):
            raise AssertionError("gxctl %s: sanitizer report:\n%s" % (" ".join(args), out[-4000:]))
        return subprocess.CompletedProcess(r.args, r.returncode, out, None)

    def migrate(self):
        """Apply every migration and the seed data: gxctl migrate up, then gxctl seed."""
        self.gxctl("migrate", "up")
        self.gxctl("seed")

    # --- processes -------------------------------------------------------------------------------------------
    def _log_path(self, name):
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        path = os.path.join(self.logdir, base + ".log")
        n = 2
        while os.path.exists(path):
            path = os.path.join(self.logdir, "%s-%d.log" % (base, n))
            n += 1
        return path

    def daemon_env(self, name, port, env=None):
        """The environment start_daemon gives: PORT (METRICS_PORT too for workers), DATABASE_URL and REDIS_URL
        when started (STARTUP_WAIT=0 when PostgreSQL is not), JWT_SECRET, LOG_LEVEL=debug, then env (a value of None removes the variable)."""
        e = _base_env({"PORT": port, "JWT_SECRET": TEST_JWT_SECRET, "LOG_LEVEL": "debug"})
        if name in WORKER_DAEMONS:
            e["METRICS_PORT"] = str(port)
        if self.pg is not None:
            e["DATABASE_URL"] = self.pg.url
        else:
            e["STARTUP_WAIT"] = "0"   # no database in this test: start anyway (the default waits, then exits 3)
        if self.redis is not None:
            e["REDIS_URL"] = self.redis.url
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = str(v)
        return e

    def start_daemon(self, name, env=None, port=None, args=(), wait_ready=True, timeout=30.0):
        """Start bin/<name> on a free port (or port) and wait until GET /readyz answers 200 (wait_ready=False:
        return at once). Skips the test when the binary is not built. Returns a Daemon."""
        path = os.path.join(bin_dir(), name)
        if not have_binary(name):
            raise unittest.SkipTest("%s is not built in %s" % (name, bin_dir()))
        port = port or free_port()
        d = Daemon([path] + list(args), self.daemon_env(name, port, env), name, self._log_path(name), port)
        self.procs.append(d)
        if wait_ready:
            d.wait_ready(timeout)
        return d

    def start_process(self, argv, env=None, name=None):
        """Start any program (e.g. the Fabric stand-in) with the test environment plus env. Returns a Process."""
        name = name or os.path.basename(argv[0])
        p = Process(argv, _base_env(env), name, self._log_path(name))
        self.procs.append(p)
        return p

    # --- teardown --------------------------------------------------------------------------------------------
    def check_logs(self):
        """Problems found in process logs since the last call (list of strings, empty when clean)."""
        problems = []
        for p in self.procs:
            problems.extend("%s: %s" % (p.name, line) for line in p.new_problems())
        return problems

    def close(self, check=True):
        """Stop every process (SIGTERM, 5 s, then SIGKILL), Redis and PostgreSQL, remove the temp dir.
        Returns the list of problems: log violations and daemons that did not exit 0 on SIGTERM."""
        if self.closed:
            return []
        self.closed = True
        problems = []
        for p in reversed(self.procs):
            if p.alive():
                try:
                    code = p.stop(signal.SIGTERM, 5.0)
                    if code != 0 and isinstance(p, Daemon):
                        problems.append("%s: exit code %s on SIGTERM at teardown" % (p.name, code))
                except AssertionError as e:
                    problems.append(str(e).splitlines()[0])
        if check:
            problems.extend(self.check_logs())
        if self.redis is not None:
            self.redis.stop()
        if self.pg is not None:
            self.pg.stop()
        if self in _live_stacks:
            _live_stacks.remove(self)
        if os.environ.get("GX_KEEP_TMP"):
            print("gxtest: kept %s" % self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        return problems
