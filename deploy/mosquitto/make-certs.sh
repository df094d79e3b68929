#!/bin/sh
# A private certificate authority and the broker's TLS certificate (docs/broker-tls.md).
#
#   deploy/mosquitto/make-certs.sh DIR NAME [NAME…]
#
# DIR gets ca.crt (give it to every reader and bridge), ca.key (keep it offline),
# server.crt and server.key (the broker's). NAMEs are the host names and IP addresses the
# readers use to reach the broker, e.g. `mqtt.snv.local 10.0.0.5`.
set -eu
dir=$1
shift
[ $# -ge 1 ] || { echo "usage: $0 DIR NAME [NAME…]" >&2; exit 2; }
mkdir -p "$dir"
san=""
for name in "$@"; do
  case $name in
    *[!0-9.]*) san="$san,DNS:$name" ;;
    *) san="$san,IP:$name" ;;
  esac
done
san=${san#,}
if [ ! -f "$dir/ca.key" ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -sha256 \
    -subj "/CN=Ky Cuong MQTT CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
fi
openssl req -newkey rsa:3072 -nodes -sha256 -subj "/CN=$1" \
  -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > "$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
  -CAcreateserial -days 825 -sha256 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
rm -f "$dir/server.csr" "$dir/server.ext"
chmod 600 "$dir/ca.key" "$dir/server.key"
echo "wrote $dir/ca.crt, $dir/server.crt, $dir/server.key for: $*"
