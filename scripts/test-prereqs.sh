#!/usr/bin/env bash
# Debian packages the test suite drives for real: the daemons osb runs, OpenStack's own client code
# (Keystone, Nova's nova-manage, oslo.messaging, oslo.cache, oslo.db) and load tools. Installed when missing (as root),
# otherwise the exact command is printed.
set -euo pipefail
PKGS=(
  rabbitmq-server mariadb-server galera-4 mariadb-backup socat memcached haproxy
  keystone python3-nova python3-oslo.messaging python3-oslo.cache python3-oslo.db python3-pymysql python3-pymemcache
  sysbench libmemcached-tools zsh fish openssl tcpdump systemd-container prometheus prometheus-mysqld-exporter
  nftables iproute2
)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "test prerequisites missing: ${missing[*]}" >&2
  echo "install them first: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "installing test prerequisites: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
