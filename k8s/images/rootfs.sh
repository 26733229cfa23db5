#!/bin/sh
# Build the runtime root filesystem of the gx-backend image: the binaries of BINDIR (stripped) in
# ROOT/usr/local/bin, every shared library they load (from ldd) and the dynamic loader, the ISO 3166-1 JSON that
# gxctl seed reads, cracklib's packed dictionary (svc-identity checks new passwords against it), the CA bundle, and /etc/passwd, /etc/group and /etc/nsswitch.conf for uid 65532 ("gx").
# Runs inside the image's build stage.   usage: rootfs.sh BINDIR ROOT
set -eu
bindir=$1
root=$2
mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$root/usr/share/iso-codes/json" "$root/etc/ssl/certs"
for b in "$bindir"/*; do
	case "$(basename "$b")" in gx-fabric-peer) continue ;; esac
	cp "$b" "$root/usr/local/bin/"
	strip --strip-unneeded "$root/usr/local/bin/$(basename "$b")"
done
# every library any binary loads, by its real path, plus the loader
for b in "$root"/usr/local/bin/*; do
	ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
done | sort -u | while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
cp /usr/share/iso-codes/json/iso_3166-1.json "$root/usr/share/iso-codes/json/"
mkdir -p "$root/var/cache/cracklib"
cp /var/cache/cracklib/cracklib_dict.pwd /var/cache/cracklib/cracklib_dict.pwi /var/cache/cracklib/cracklib_dict.hwm \
	"$root/var/cache/cracklib/"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
echo 'gx:x:65532:65532:gx-backend:/nonexistent:/sbin/nologin' >"$root/etc/passwd"
echo 'gx:x:65532:' >"$root/etc/group"
echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
chmod 1777 "$root/tmp"
# the image must hold nothing a shell could use
test ! -e "$root/bin/sh"
