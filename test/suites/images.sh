#!/bin/bash
# The container image in make test: `make images` (k8s/images/build.sh; installs buildah and makes a debootstrap
# base where it has to), the image's size and OCI labels, a `podman run` where a container can run here, and the
# daemons started from the image's root filesystem (test/k8s/image_run.py: --version of all ten binaries, gxctl
# migrate/seed and svc-identity /readyz 200 against a throwaway database on free ports). Where no image can be
# built it says why and runs the same checks on a root filesystem made by k8s/images/rootfs.sh from the release
# binaries. Last line: "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
notok() { fail=$((fail + 1)); echo "not ok - $*"; }
version=$(sed -n 's/^#define GX_VERSION "\(.*\)"/\1/p' common/include/gx/api.h)
image=localhost/gx-backend:$version
br=${BUILDROOT:-build}
case $br in /*) ;; *) br=$repo/$br ;; esac
tmp=$(mktemp -d)
root=
cleanup=()
trap 'for c in "${cleanup[@]}"; do eval "$c" >/dev/null 2>&1; done; rm -rf "$tmp"' EXIT

out=$(IMAGE=localhost/gx-backend TAG="$version" k8s/images/build.sh 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^images: ' || true
built=$(printf '%s\n' "$out" | sed -n 's/^images: built .* with \([a-z]*\): \([0-9.]*\) MiB.*/\1 \2/p')
if [ $rc -ne 0 ]; then
	printf '%s\n' "$out" | tail -n 30
	notok "make images failed (exit $rc)"
elif [ -z "$built" ]; then
	echo "# $(printf '%s\n' "$out" | grep '^images: skipped' | head -n 1)"
	echo "# no image: checking a root filesystem made by k8s/images/rootfs.sh from $br/release/bin instead"
else
	read -r tool mib <<<"$built"
	ok "make images built $image with $tool: $mib MiB (goal <= ${GX_IMAGE_MAX_MIB:-40} MiB)"
	labels=$("$tool" inspect --type image --format '{{json .Labels}}' "$image" 2>/dev/null ||
		"$tool" image inspect --format '{{json .Labels}}' "$image")
	missing=$(node -e '
		const l = JSON.parse(process.argv[1] || "{}"), v = process.argv[2], bad = [];
		for (const k of ["title", "description", "version", "revision", "created", "vendor"])
			if (!l["org.opencontainers.image." + k]) bad.push(k + " missing");
		if (l["org.opencontainers.image.version"] !== v) bad.push("version " + l["org.opencontainers.image.version"] + " != " + v);
		if (!/^[0-9a-f]{40}(-dirty)?$/.test(l["org.opencontainers.image.revision"] || "")) bad.push("revision is not a git commit");
		if (isNaN(Date.parse(l["org.opencontainers.image.created"]))) bad.push("created is not a date");
		console.log(bad.join("; "));' "$labels" "$version")
	if [ -z "$missing" ]; then ok "OCI labels: $labels"; else notok "OCI labels: $missing ($labels)"; fi
	# a container where one can run here; otherwise say why (the root filesystem checks below still run)
	if run=$(timeout 60 "$tool" run --rm "$image" /usr/local/bin/gxctl --version 2>&1) && [ "$run" = "gxctl $version" ]; then
		ok "$tool run $image gxctl --version: $run"
	else
		echo "# a container cannot be run here ($tool run: $(printf '%s' "$run" | tail -n 1)); using the image's root filesystem"
	fi
	if [ "$tool" = podman ]; then
		root=$(podman image mount "$image") && cleanup+=("podman image unmount '$image'")
	else
		ctr=$(buildah from --pull=false "$image") && cleanup+=("buildah rm '$ctr'") && root=$(buildah mount "$ctr")
	fi
	[ -n "$root" ] || notok "cannot mount $image's root filesystem"
fi
if [ -z "$root" ] && [ $rc -eq 0 ]; then
	root=$tmp/rootfs
	if [ ! -x "$br/release/bin/svc-identity" ]; then
		notok "no release binaries in $br/release/bin to make a root filesystem from (make all)"
		root=
	elif ! k8s/images/rootfs.sh "$br/release/bin" "$root" >"$tmp/rootfs.log" 2>&1; then
		tail -n 20 "$tmp/rootfs.log"
		notok "k8s/images/rootfs.sh failed"
		root=
	else
		ok "k8s/images/rootfs.sh made the image's root filesystem from $br/release/bin"
	fi
fi
if [ -n "$root" ]; then
	echo "# root filesystem: $(du -sb "$root" | awk '{ printf "%.1f MiB", $1 / 1048576 }') (du -sb)"
	res=$(/usr/bin/python3 test/k8s/image_run.py "$root" 2>&1)
	printf '%s\n' "$res"
	line=$(printf '%s\n' "$res" | tail -n 1)
	if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		pass=$((pass + BASH_REMATCH[1]))
		fail=$((fail + BASH_REMATCH[2]))
	else
		notok "test/k8s/image_run.py crashed without a result line"
	fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
