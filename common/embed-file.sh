#!/bin/sh
# Write a C file to stdout that embeds one file as a NUL-terminated byte array: embed-file.sh SYMBOL FILE.
# The Makefile uses it for each API daemon's openapi.json; the output lives in the build dir, never committed.
set -eu
[ $# -eq 2 ] || { echo "usage: embed-file.sh SYMBOL FILE" >&2; exit 2; }
sym=$1
file=$2
printf '/* Generated from %s by common/embed-file.sh at build time. Do not edit. */\n#include <stddef.h>\n\n' "$file"
printf 'const char %s[] = {\n' "$sym"
od -An -v -tx1 "$file" | sed -e 's/ *$//' -e '/^$/d' -e 's/^ */\t/' -e 's/ \([0-9a-f][0-9a-f]\)/ 0x\1,/g' \
	-e 's/\t\([0-9a-f][0-9a-f]\)/\t0x\1,/'
printf '\t0x00\n};\nconst size_t %s_len = sizeof(%s) - 1;\n' "$sym" "$sym"
