#!/bin/sh
# Install the files of the /docs page (common/src/api_docs.c) into DEST, the directory DOCS_ASSETS names: npm ci of
# the pinned swagger-ui-dist (package-lock.json), then copies of its bundle, its stylesheet and its LICENSE and
# NOTICE. Install scripts stay off: the package's one dependency is an analytics hook whose postinstall would call
# out. Quiet and quick when node_modules already matches the lock file.
#   usage: install.sh DEST      (make docs-assets: build/docs-assets; make images: common/docs-ui/dist, copied into the image)
set -eu
[ $# -eq 1 ] || { echo "usage: install.sh DEST" >&2; exit 2; }
dest=$1
case $dest in /*) ;; *) dest=$(pwd)/$dest ;; esac
cd "$(dirname "$0")"
if command -v flock >/dev/null 2>&1; then
	exec 9>"${TMPDIR:-/tmp}/gx-docs-ui-npm.lock"
	flock 9
fi
if [ ! -f node_modules/.package-lock.json ] || [ ! node_modules/.package-lock.json -nt package-lock.json ]; then
	SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
fi
mkdir -p "$dest"
for f in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE; do
	cp node_modules/swagger-ui-dist/$f "$dest/.$f.tmp"
	mv "$dest/.$f.tmp" "$dest/$f"
done
