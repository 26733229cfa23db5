#!/bin/bash
# make images: build the gx-backend image from k8s/images/Containerfile with podman (or buildah), tag it
# IMAGE:TAG (default localhost/gx-backend:<version from common/include/gx/api.h>), print its size and fail when it
# exceeds the 40 MiB goal. Without podman and buildah it prints why it skipped and exits 0.
# Env: IMAGE, TAG, BASE (the build stage's base image; see k8s/README.md "Images" for an offline one),
#      GX_IMAGE_MAX_MIB (default 40).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
version=$(sed -n 's/^#define GX_VERSION "\(.*\)"/\1/p' common/include/gx/api.h)
image=${IMAGE:-localhost/gx-backend}
tag=${TAG:-${version:-dev}}
max_mib=${GX_IMAGE_MAX_MIB:-40}
args=(-f k8s/images/Containerfile --ignorefile k8s/images/containerignore -t "$image:$tag")
[ -n "${BASE:-}" ] && args+=(--build-arg "BASE=$BASE" --pull=never)

if command -v podman >/dev/null 2>&1; then
	tool=podman
	common/docs-ui/install.sh common/docs-ui/dist # the /docs page's files, copied into the image
	podman build --isolation chroot "${args[@]}" .
	bytes=$(podman image inspect --format '{{.Size}}' "$image:$tag")
elif command -v buildah >/dev/null 2>&1; then
	tool=buildah
	common/docs-ui/install.sh common/docs-ui/dist # the /docs page's files, copied into the image
	buildah bud --isolation chroot "${args[@]}" .
	bytes=$(buildah inspect --type image --format '{{.Size}}' "$image:$tag" 2>/dev/null ||
		buildah images --noheading --format '{{.Size}}' "$image:$tag")
else
	echo "images: skipped: neither podman nor buildah is installed (apt-get install podman, or buildah; see k8s/README.md)"
	exit 0
fi
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "images: built $image:$tag with $tool: $mib MiB (goal <= $max_mib MiB)"
awk -v b="$bytes" -v m="$max_mib" 'BEGIN { exit !(b <= m * 1048576) }' ||
	{ echo "images: $image:$tag is $mib MiB, above the $max_mib MiB goal" >&2; exit 1; }
