#!/usr/bin/env bash
# Makes a throw-away certificate authority and certificates for TLS and mutual TLS, with openssl:
#   ca.pem             the CA clients trust the server by, and the server trusts client certificates by (DfbNet:Tls:ClientCaFile)
#   server.pem/.key    the server's certificate (localhost, 127.0.0.1, ::1 and any extra names given) (DfbNet:Tls:CertificateFile/KeyFile)
#   client.pem/.key    a client certificate issued by ca.pem (the SDKs' and the CLI's --cert/--key)
#   rogue-ca.pem, rogue-client.pem/.key   a second CA and a client certificate it issued, which the server must refuse
# For tests and trying TLS out; a deployment gets its certificates from its own CA (cert-manager, for example).
# Usage: scripts/make-test-certs.sh DIR [DNS-NAME...]
set -euo pipefail
dir=${1:?usage: make-test-certs.sh DIR [DNS-NAME...]}
shift
mkdir -p "$dir"
cd "$dir"
days=${DFBNET_TEST_CERT_DAYS:-30}

san="DNS:localhost,IP:127.0.0.1,IP:::1"
for name in "$@"; do san="$san,DNS:$name"; done

ca() { # name subject
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.pem" \
    -days "$days" -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() { # name subject ca extensions
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -out "$1.pem" -days "$days" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "DfbNet test CA"
ca rogue-ca "Some other CA"
leaf server "localhost" ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san"
leaf client "dfbnet-test-client" ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
leaf rogue-client "rogue-client" rogue-ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
rm -f ./*.srl
chmod 600 ./*.key
echo "Certificates in $PWD: ca.pem, server.pem/.key, client.pem/.key (and rogue-* for negative tests), valid $days days"
