#!/bin/bash
# make images: build the gx-backend image from k8s/images/Containerfile with podman (or buildah), tag it
# IMAGE:TAG (default localhost/gx-backend:<version from common/include/gx/api.h>), print its size and fail when it
# exceeds the 40 MiB goal.
#   - No podman or buildah: installs buildah from Debian when root (GX_IMAGES_INSTALL=0 turns that off); when that
#     is not possible it prints why it skipped and exits 0.
#   - No BASE given and debian:bookworm-slim neither local nor pullable (no registry reachable): makes the base
#     localhost/gx-debian-base:bookworm once with debootstrap from the Debian mirror this machine's apt uses (kept
#     in the image store for the next build).
#   - The build stage gets this machine's bookworm-security source too when the base has none (SECURITY_URI).
# Env: IMAGE, TAG, BASE, SECURITY_URI, GX_IMAGE_MAX_MIB (default 40), GX_IMAGES_INSTALL (default 1),
#      GX_IMAGE_TOOL (auto, podman, buildah; anything else skips the build).
# Prints "images: built IMAGE:TAG with TOOL: N MiB" on success; the image's OCI labels carry version, git revision
# and build time.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
version=$(sed -n 's/^#define GX_VERSION "\(.*\)"/\1/p' common/include/gx/api.h)
image=${IMAGE:-localhost/gx-backend}
tag=${TAG:-${version:-dev}}
max_mib=${GX_IMAGE_MAX_MIB:-40}
default_base=docker.io/library/debian:bookworm-slim
local_base=localhost/gx-debian-base:bookworm

sudo_cmd() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}
apt_install() {
	[ "${GX_IMAGES_INSTALL:-1}" = 1 ] || return 1
	echo "images: installing $* (Debian packages)"
	sudo_cmd apt-get update -qq >/dev/null && sudo_cmd env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
# The URI of this machine's apt source for SUITE (bookworm or bookworm-security), one-line or deb822 format.
host_apt_uri() {
	local suite=$1 f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			if ($(i + 1) == s) { print $i; exit } }' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" } { u = ""; ok = 0
			for (i = 1; i <= NF; i++) { if ($i ~ /^URIs:/) { split($i, a, " "); u = a[2] }
				if ($i ~ /^Suites:/) { n = split($i, b, " "); for (j = 2; j <= n; j++) if (b[j] == s) ok = 1 } }
			if (ok && u != "") { print u; exit } }' "$f"
	done | head -n 1
}

want=${GX_IMAGE_TOOL:-auto}
if [ "$want" = auto ] && ! command -v podman >/dev/null 2>&1 && ! command -v buildah >/dev/null 2>&1; then
	apt_install buildah || true
fi
if { [ "$want" = auto ] || [ "$want" = podman ]; } && command -v podman >/dev/null 2>&1; then
	tool=podman
	exists() { podman image exists "$1"; }
elif { [ "$want" = auto ] || [ "$want" = buildah ]; } && command -v buildah >/dev/null 2>&1; then
	tool=buildah
	exists() { buildah inspect --type image "$1" >/dev/null 2>&1; }
else
	echo "images: skipped: no container build tool (GX_IMAGE_TOOL=$want; podman or buildah, apt-get install buildah; see k8s/README.md)"
	exit 0
fi

base=${BASE:-}
if [ -z "$base" ]; then
	if exists "$default_base" || timeout 120 "$tool" pull -q "$default_base" >/dev/null 2>&1; then
		base=$default_base
	elif exists "$local_base"; then
		base=$local_base
	else
		mirror=$(host_apt_uri bookworm)
		[ -n "$mirror" ] || { echo "images: $default_base cannot be pulled and no Debian mirror is configured for apt" >&2; exit 1; }
		command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap ||
			{ echo "images: $default_base cannot be pulled and debootstrap is not installable" >&2; exit 1; }
		echo "images: $default_base cannot be pulled; making $local_base with debootstrap from this machine's Debian mirror"
		work=$(mktemp -d)
		trap 'rm -rf "$work"' EXIT
		sudo_cmd debootstrap --variant=minbase bookworm "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$work/debootstrap.log" >&2; echo "images: debootstrap failed" >&2; exit 1; }
		sudo_cmd tar -C "$work/root" -c . | "$tool" import - "$local_base" >/dev/null
		sudo_cmd rm -rf "$work/root"
		base=$local_base
	fi
fi
security=${SECURITY_URI:-$(host_apt_uri bookworm-security)}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- 2>/dev/null || revision="$revision-dirty"
created=$(date -u ${SOURCE_DATE_EPOCH:+-d "@$SOURCE_DATE_EPOCH"} +%Y-%m-%dT%H:%M:%SZ)
args=(-f k8s/images/Containerfile --ignorefile k8s/images/containerignore -t "$image:$tag" --layers=false
	--build-arg "BASE=$base" --build-arg "VERSION=$version" --build-arg "REVISION=$revision"
	--build-arg "CREATED=$created" --build-arg "SECURITY_URI=$security")
[ "$base" != "$default_base" ] && args+=(--pull=never)

echo "images: building $image:$tag with $tool (base $base)"
common/docs-ui/install.sh common/docs-ui/dist # the /docs page's files, copied into the image
old_id=$("$tool" inspect --type image --format '{{.FromImageID}}' "$image:$tag" 2>/dev/null ||
	"$tool" image inspect --format '{{.Id}}' "$image:$tag" 2>/dev/null || true)
if [ "$tool" = podman ]; then
	podman build --isolation chroot "${args[@]}" .
	# podman keeps the build stage's steps as untagged images even with --layers=false: drop them
	podman image prune -f --filter label=gx-backend.build-stage=1 >/dev/null
	bytes=$(podman image inspect --format '{{.Size}}' "$image:$tag")
else
	buildah bud --isolation chroot "${args[@]}" .
	# the size of the image's root filesystem (buildah reports no byte count)
	ctr=$(buildah from --pull=false "$image:$tag")
	bytes=$(du -sb "$(buildah mount "$ctr")" | cut -f1)
	buildah rm "$ctr" >/dev/null
fi
# the image this build replaced under the same tag, now untagged
new_id=$("$tool" inspect --type image --format '{{.FromImageID}}' "$image:$tag" 2>/dev/null ||
	"$tool" image inspect --format '{{.Id}}' "$image:$tag" 2>/dev/null || true)
[ -n "$old_id" ] && [ "$old_id" != "$new_id" ] && "$tool" rmi "$old_id" >/dev/null 2>&1 || true
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "images: built $image:$tag with $tool: $mib MiB (goal <= $max_mib MiB)"
awk -v b="$bytes" -v m="$max_mib" 'BEGIN { exit !(b <= m * 1048576) }' ||
	{ echo "images: $image:$tag is $mib MiB, above the $max_mib MiB goal" >&2; exit 1; }
