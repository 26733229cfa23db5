#!/usr/bin/python3
"""Run the daemons from the image's root filesystem, the way the cluster would, where no container can be run.

    test/k8s/image_run.py ROOT

ROOT is the image's root filesystem (mounted from the built image, or made by k8s/images/rootfs.sh). As root every
binary runs under chroot ROOT as uid/gid 65532 (the image's USER) with a near-empty environment; otherwise through
the root filesystem's own dynamic loader and libraries. Checks: each of the nine daemons and gxctl answers
--version with "<name> <version>" (GX_VERSION of common/include/gx/api.h); no shell in the image; against a
throwaway PostgreSQL and Redis (free ports), gxctl migrate up and gxctl seed from the image, then svc-identity from
the image answers /readyz 200 and exits 0 on SIGTERM. One "ok"/"not ok" line per check, "N passed, N failed" last.
"""

import glob
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import gxtest  # noqa: E402
from gxtest.stack import Daemon  # noqa: E402

BINARIES = gxtest.DAEMONS + ["gxctl"]
RESULTS = {"pass": 0, "fail": 0}


def ok(msg):
    RESULTS["pass"] += 1
    print("ok - " + msg)


def notok(msg):
    RESULTS["fail"] += 1
    print("not ok - " + msg)


def version():
    with open(os.path.join(gxtest.REPO_ROOT, "common", "include", "gx", "api.h")) as f:
        m = re.search(r'^#define GX_VERSION "([^"]+)"', f.read(), re.M)
    return m.group(1) if m else None


def launcher(root):
    """argv prefix that runs /usr/local/bin/<x> of ROOT, and how (for the report)."""
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    if os.geteuid() == 0 and os.access(chroot, os.X_OK):
        return (lambda path: [chroot, "--userspec=65532:65532", root, path]), "chroot as uid 65532"
    loaders = sorted(glob.glob(os.path.join(root, "lib64", "ld-linux*.so*")) +
                     glob.glob(os.path.join(root, "lib", "ld-linux*.so*")))
    if not loaders:
        raise RuntimeError("no dynamic loader in %s" % root)
    libs = ":".join(d for d in (os.path.join(root, p) for p in ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu",
                                                                 "lib", "usr/lib", "lib64")) if os.path.isdir(d))
    return (lambda path: [loaders[0], "--library-path", libs, root + path]), "its own loader " + loaders[0]


def image_env(extra):
    """The environment a pod would give: nothing from this machine but what the daemon is told."""
    env = {"PATH": "/usr/local/bin"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        print("usage: image_run.py ROOT", file=sys.stderr)
        return 2
    root = os.path.abspath(sys.argv[1])
    want = version()
    run, how = launcher(root)
    print("# running the binaries of %s with %s" % (root, how))

    for b in BINARIES:
        path = "/usr/local/bin/" + b
        if not os.path.isfile(root + path):
            notok("%s is not in the image" % path)
            continue
        r = subprocess.run(run(path) + ["--version"], env=image_env({}), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20, cwd="/")
        out = r.stdout.decode("utf-8", "replace").strip()
        if r.returncode == 0 and out == "%s %s" % (b, want):
            ok("%s --version from the image: %s" % (b, out))
        else:
            notok("%s --version from the image: exit %d, %r (want %r)" % (b, r.returncode, out[-300:],
                                                                          "%s %s" % (b, want)))
    if any(os.path.lexists(os.path.join(root, p)) for p in ("bin/sh", "usr/bin/sh", "bin/bash")):
        notok("the image has a shell")
    else:
        ok("the image has no shell")

    st = gxtest.Stack("image-run")
    try:
        st.start_pg()
        st.start_redis()
        for verb in (["migrate", "up"], ["seed"]):
            r = subprocess.run(run("/usr/local/bin/gxctl") + verb,
                               env=image_env({"DATABASE_URL": st.database_url, "LOG_LEVEL": "info"}),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=120, cwd="/")
            out = r.stdout.decode("utf-8", "replace")
            if r.returncode == 0:
                ok("gxctl %s from the image against the test database" % " ".join(verb))
            else:
                notok("gxctl %s from the image: exit %d:\n%s" % (" ".join(verb), r.returncode, out[-2000:]))
        n = st.psql("SELECT count(*) FROM \"Country\"")[0][0].strip()
        if n.isdigit() and int(n) > 200:
            ok("the image's ISO 3166-1 data seeded %s countries" % n)
        else:
            notok("countries after gxctl seed from the image: %r" % n)

        port = gxtest.free_port()
        env = image_env({"PORT": port, "DATABASE_URL": st.database_url, "REDIS_URL": st.redis_url,
                         "JWT_SECRET": gxtest.TEST_JWT_SECRET, "LOG_LEVEL": "info", "DRAIN_DELAY": "0s"})
        d = Daemon(run("/usr/local/bin/svc-identity"), env, "svc-identity (image)", st._log_path("svc-identity-image"),
                   port)
        st.procs.append(d)
        try:
            r = d.wait_ready(30.0)
            ok("svc-identity from the image: GET /readyz %d on port %d (%s)" % (r.status, port,
                                                                              r.body[:120].decode("utf-8", "replace")))
        except AssertionError as e:
            notok("svc-identity from the image never answered /readyz 200: %s" % str(e)[-1500:])
        code = d.stop(timeout=15.0)
        if code == 0:
            ok("svc-identity from the image exits 0 on SIGTERM")
        else:
            notok("svc-identity from the image exited %s on SIGTERM:\n%s" % (code, d.log_tail()))
        for p in st.check_logs():
            notok("log: " + p)
    except Exception as e:  # a dependency that would not start
        notok("test database: %s: %s" % (type(e).__name__, e))
    finally:
        for p in st.close(check=False):
            notok("teardown: " + p)
    print("%d passed, %d failed" % (RESULTS["pass"], RESULTS["fail"]))
    return 1 if RESULTS["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
