#!/bin/bash
# Kubernetes manifests (k8s/), offline: installs the pinned Node validators (npm ci), collects what the built
# daemons really do (test/k8s/facts.py: the C port table, --help of each binary, a live run's probes and /metrics
# against throwaway PostgreSQL and Redis), renders every overlay with kubectl kustomize and checks it against the
# Kubernetes schemas and those facts (test/k8s/lint.mjs), then proves the lint catches broken manifests
# (test/k8s/selftest.mjs), and runs promtool on the alert rules and the dashboard's fallback queries. Binaries from
# GX_BIN_DIR (default build/release/bin). Last line: "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}
# run LABEL CMD...: show the output and add its "N passed, N failed" line (or count one failure without it)
run() {
	local label=$1 out line
	shift
	out=$("$@" 2>&1)
	local rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | tail -n 1)
	if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		pass=$((pass + BASH_REMATCH[1]))
		fail=$((fail + BASH_REMATCH[2]))
		[ "$rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] && { echo "not ok - $label exited $rc"; fail=$((fail + 1)); }
	else
		echo "not ok - $label crashed (exit $rc) without a result line"
		fail=$((fail + 1))
	fi
}

if ! command -v node >/dev/null; then
	echo "not ok - node is not installed (make deps)"
	fail=$((fail + 1))
	finish
fi
if ! test/k8s/ensure-deps.sh; then
	echo "not ok - npm ci of test/k8s"
	fail=$((fail + 1))
	finish
fi
if /usr/bin/python3 test/k8s/facts.py "$tmp/facts.json"; then
	echo "ok - facts collected from the daemons in ${GX_BIN_DIR:-build/release/bin}"
	pass=$((pass + 1))
else
	echo "not ok - test/k8s/facts.py failed"
	fail=$((fail + 1))
	finish
fi
run lint node test/k8s/lint.mjs --facts "$tmp/facts.json"
run selftest node test/k8s/selftest.mjs --facts "$tmp/facts.json"

# the alert rules with Prometheus's own tool: syntax, the rule unit tests (absent() firing once a target is gone),
# and the dashboard's "or on() vector(0)" queries evaluated on no data. promtool comes with Debian's prometheus.
if ! command -v promtool >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	echo "# installing promtool (Debian package prometheus)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; } >/dev/null 2>&1
fi
promtool_step() { # LABEL CMD...
	local label=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "ok - $label"
		pass=$((pass + 1))
	else
		printf '%s
' "$out"
		echo "not ok - $label"
		fail=$((fail + 1))
	fi
}
if command -v promtool >/dev/null 2>&1; then
	promtool_step "promtool check rules k8s/monitoring/alerts.yaml" promtool check rules k8s/monitoring/alerts.yaml
	promtool_step "promtool test rules test/k8s/alerts.test.yaml" promtool test rules test/k8s/alerts.test.yaml
	if node test/k8s/promtool-cases.mjs "$tmp/dashboard.test.yaml" >/dev/null; then
		promtool_step "promtool: the dashboard's 0-fallback queries give 0 on no data" promtool test rules "$tmp/dashboard.test.yaml"
	else
		echo "not ok - test/k8s/promtool-cases.mjs"
		fail=$((fail + 1))
	fi
else
	echo "not ok - promtool is not installed (apt-get install prometheus)"
	fail=$((fail + 1))
fi
finish
