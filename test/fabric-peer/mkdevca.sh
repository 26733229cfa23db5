#!/bin/bash
# Create a throwaway development PKI for the Fabric peer stand-in: an MSP signing CA with three client identities
# carrying the Fabric attribute extension (gxc_role) and the peer's own identity (it signs endorsements), and a TLS
# CA with the peer's server certificate and one client TLS certificate for mutual TLS. Idempotent: when
# <dir>/.complete exists only a missing peer identity is added (directories made before it existed).
#
# Layout (all keys are PKCS#8 PEM, all EC P-256):
#   <dir>/ca/ca.crt                       MSP CA (the peer's --ca-cert)
#   <dir>/users/super-admin/{cert.pem,key.pem}   gxc_role=gx_super_admin, CN super-admin
#   <dir>/users/admin/{cert.pem,key.pem}         gxc_role=gx_admin,       CN admin
#   <dir>/users/partner-api/{cert.pem,key.pem}   gxc_role=gx_partner_api, CN partner-api
#   <dir>/peer/msp/{cert.pem,key.pem}            the peer's MSP identity, OU peer, CN peer0.org1.example.com
#   <dir>/tlsca/ca.crt                    TLS CA (clients' root of trust for the peer)
#   <dir>/peer/tls/server.{crt,key}       SAN localhost, 127.0.0.1, peer0.org1.example.com
#   <dir>/client-tls/client.{crt,key}     client TLS certificate for mTLS
#   <dir>/msp-id                          "Org1MSP"
# The attribute extension follows the Fabric CA convention: OID 1.2.3.4.5.6.7.8.1, non-critical, whose extnValue
# octets are the JSON text {"attrs":{"gxc_role":"..."}} itself (not wrapped in another ASN.1 type).
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 <dir>" >&2
	exit 2
fi
dir=$1
if [ -f "$dir/.complete" ] && [ -f "$dir/peer/msp/cert.pem" ]; then
	exit 0
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

genkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$1" \
		2>/dev/null
	chmod 600 "$1"
}

# make_ca <outdir> <cn>
make_ca() {
	mkdir -p "$1"
	genkey "$1/ca.key"
	openssl req -new -x509 -key "$1/ca.key" -out "$1/ca.crt" -days 3650 -sha256 \
		-subj "/C=US/O=org1.example.com/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
		-addext "subjectKeyIdentifier=hash" 2>/dev/null
}

# issue <cadir> <outcert> <outkey> <cn> <extfile> [ou]
issue() {
	genkey "$3"
	openssl req -new -key "$3" -subj "/C=US/O=org1.example.com/OU=${6:-client}/CN=$4" -out "$work/req.csr" 2>/dev/null
	openssl x509 -req -in "$work/req.csr" -CA "$1/ca.crt" -CAkey "$1/ca.key" -CAcreateserial -days 3650 -sha256 \
		-extfile "$5" -out "$2" 2>/dev/null
}

# The peer's MSP identity, as a Fabric CA enrolls a peer (NodeOU "peer"): its key signs endorsements.
issue_peer() {
	mkdir -p "$dir/peer/msp"
	cat >"$work/peer.cnf" <<EOT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOT
	issue "$dir/ca" "$dir/peer/msp/cert.pem" "$dir/peer/msp/key.pem" "peer0.org1.example.com" "$work/peer.cnf" peer
	rm -f "$dir/ca/ca.srl"
}

if [ -f "$dir/.complete" ]; then
	issue_peer
	exit 0
fi

make_ca "$dir/ca" "ca.org1.example.com"
make_ca "$dir/tlsca" "tlsca.org1.example.com"

for pair in super-admin:gx_super_admin admin:gx_admin partner-api:gx_partner_api; do
	name=${pair%%:*}
	role=${pair#*:}
	mkdir -p "$dir/users/$name"
	json="{\"attrs\":{\"gxc_role\":\"$role\"}}"
	hex=$(printf '%s' "$json" | od -An -tx1 | tr -d ' \n')
	cat >"$work/ext.cnf" <<EOT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
1.2.3.4.5.6.7.8.1=DER:$hex
EOT
	issue "$dir/ca" "$dir/users/$name/cert.pem" "$dir/users/$name/key.pem" "$name" "$work/ext.cnf"
done

issue_peer
mkdir -p "$dir/peer/tls" "$dir/client-tls"
cat >"$work/server.cnf" <<EOT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,DNS:peer0.org1.example.com,IP:127.0.0.1
EOT
issue "$dir/tlsca" "$dir/peer/tls/server.crt" "$dir/peer/tls/server.key" "peer0.org1.example.com" "$work/server.cnf"
cat >"$work/client.cnf" <<EOT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOT
issue "$dir/tlsca" "$dir/client-tls/client.crt" "$dir/client-tls/client.key" "client.org1.example.com" "$work/client.cnf"

rm -f "$dir/ca/ca.srl" "$dir/tlsca/ca.srl"
printf 'Org1MSP\n' >"$dir/msp-id"
touch "$dir/.complete"
