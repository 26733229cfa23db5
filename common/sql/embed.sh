#!/bin/sh
# Write a C file to stdout that embeds the given migration files (NNNN_name.sql) into libgxcommon.a as the
# gx_migrate_table[] that gx/migrate.h declares. Used by the Makefile; the output is never committed.
set -eu
prev=0
if [ $# -eq 0 ]; then
	echo "embed.sh: no migration files given" >&2
	exit 1
fi
cat <<'HDR'
/* Generated from common/sql/NNNN_*.sql by common/sql/embed.sh at build time. Do not edit. */
#include "gx/migrate.h"

HDR
n=0
for f in "$@"; do
	base=$(basename "$f")
	case "$base" in
	[0-9][0-9][0-9][0-9]_*.sql) ;;
	*) echo "embed.sh: bad migration file name '$base' (want NNNN_name.sql)" >&2; exit 1 ;;
	esac
	ver=$(expr "$base" : '\([0-9]*\)' | sed 's/^0*//')
	ver=${ver:-0}
	if [ "$ver" -le "$prev" ]; then
		echo "embed.sh: migration '$base' is not numbered after version $prev" >&2
		exit 1
	fi
	prev=$ver
	echo "static const unsigned char gx_sql_$n[] = {"
	od -An -v -tx1 "$f" | sed -e 's/ *$//' -e 's/^ */\t/' -e 's/ \([0-9a-f][0-9a-f]\)/ 0x\1,/g' \
		-e 's/^\t\([0-9a-f][0-9a-f]\)/\t0x\1,/' | sed '/^\t$/d'
	echo "	0x00 };"
	n=$((n + 1))
done
echo
echo "const struct gx_migrate_file gx_migrate_table[] = {"
n=0
for f in "$@"; do
	base=$(basename "$f")
	ver=$(expr "$base" : '\([0-9]*\)' | sed 's/^0*//')
	echo "	{ ${ver:-0}, \"$base\", (const char *)gx_sql_$n, sizeof(gx_sql_$n) - 1 },"
	n=$((n + 1))
done
echo "};"
echo "const size_t gx_migrate_table_len = $n;"
