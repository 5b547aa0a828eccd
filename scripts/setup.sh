#!/usr/bin/env bash
# Installs everything Cairn needs on Debian 12 (run as root): system packages with apt-get,
# npm packages from the lockfile, and the compiled project. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (system packages are installed with apt-get)" >&2
  exit 1
fi

packages=(etcd-server etcd-client ca-certificates openssl iproute2 nftables runc busybox-static docker-registry gcc libc6-dev iperf3 iputils-ping frr corosync bubblewrap python3 nginx-light conntrack dnsperf wrk bind9-dnsutils curl util-linux e2fsprogs xfsprogs fio ceph-mon ceph-mgr ceph-osd ceph-mds ceph-common ceph-fuse rbd-fuse qemu-system-x86 qemu-utils genisoimage fdisk extlinux syslinux-common kmod socat)
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
# Likewise FRR, corosync, nginx and ceph-crash: the fabric lab, the node agents and `cairn ceph up` run their own instances
# inside network namespaces.
for svc in frr corosync nginx ceph-crash; do
  if systemctl is-active --quiet "$svc" 2>/dev/null; then systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
done
# ifupdown2's ifquery, for `cairn fabric lab verify`: Debian's package unpacked into a private
# directory, not installed (installing it replaces the host's ifupdown).
ifupdown2_dir=/usr/local/lib/cairn/ifupdown2
if [ ! -e "$ifupdown2_dir/ifquery" ]; then
  echo "setup: unpacking ifupdown2 into $ifupdown2_dir"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root ifupdown2 >/dev/null)
  mkdir -p "$ifupdown2_dir"
  dpkg-deb -x "$tmp"/ifupdown2_*.deb "$ifupdown2_dir"
  rm -rf "$tmp"
  # Found by ifupdown2 next to its code when the host has no /etc/network/ifupdown2.
  mkdir -p "$ifupdown2_dir/usr/share/ifupdown2/etc/network/ifupdown2"
  cp "$ifupdown2_dir"/etc/network/ifupdown2/*.conf "$ifupdown2_dir/usr/share/ifupdown2/etc/network/ifupdown2/"
  chmod +x "$ifupdown2_dir/usr/share/ifupdown2/__main__.py"
  ln -sfn usr/share/ifupdown2/__main__.py "$ifupdown2_dir/ifquery"
fi
# The offline VM test guest (Debian kernel + busybox initramfs, docs/virt.md); skips when built.
bash scripts/build-test-guest.sh

if ! command -v node >/dev/null 2>&1; then
  echo "setup: Node.js 20 or later is required" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
echo "setup: done"
