#!/usr/bin/env bash
# Installs everything Cairn needs on Debian 12 (run as root): system packages with apt-get,
# npm packages from the lockfile, and the compiled project. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (system packages are installed with apt-get)" >&2
  exit 1
fi

packages=(etcd-server etcd-client ca-certificates openssl iproute2 nftables runc busybox-static docker-registry gcc libc6-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The kubectl on PATH is used when present; Debian's kubernetes-client is the fallback.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts an etcd service on install; Cairn runs its own etcd processes when asked.
if systemctl is-active --quiet etcd 2>/dev/null; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
# Likewise docker-registry (tests start their own on loopback ports).
if systemctl is-active --quiet docker-registry 2>/dev/null; then systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi

if ! command -v node >/dev/null 2>&1; then
  echo "setup: Node.js 20 or later is required" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
echo "setup: done"
