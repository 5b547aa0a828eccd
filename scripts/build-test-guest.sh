#!/usr/bin/env bash
# Builds Cairn's offline test guest from Debian packages alone (run as root, from setup.sh):
# Debian's kernel, unpacked from its package (never installed on the host), and a busybox
# initramfs whose /init (build-test-guest-init.sh) reads NoCloud/ConfigDrive seeds, takes DHCP,
# serves HTTP and counts ticks on the serial console. Writes to /usr/local/lib/cairn/guest
# (or $CAIRN_GUEST_DIR):
#   vmlinuz, initrd.gz      for QEMU's -kernel/-initrd (append console=ttyS0)
#   disk.raw, disk.qcow2    the same pair on a bootable disk (MBR, extlinux, ext2 labelled
#                           cairn-guest, mounted by the guest on /mnt/disk) for the disk paths
#   kernel-version, stamp   what was built, and from which inputs (rebuilt when they change)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${CAIRN_GUEST_DIR:-/usr/local/lib/cairn/guest}
inputs=("$here/build-test-guest.sh" "$here/build-test-guest-init.sh" "$here/build-test-guest-cloud-config.awk" "$here/build-test-guest-netcfg.sh" "$here/build-test-guest-agent.sh")
stamp=$(cat "${inputs[@]}" | sha256sum | cut -d' ' -f1)
if [ -e "$out/disk.qcow2" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
for tool in apt-get dpkg-deb depmod modprobe busybox gzip sfdisk losetup mkfs.ext2 extlinux qemu-img; do
  command -v "$tool" >/dev/null || { echo "build-test-guest: $tool is missing (run scripts/setup.sh)" >&2; exit 1; }
done
mbr=/usr/lib/syslinux/mbr/mbr.bin
[ -e "$mbr" ] || { echo "build-test-guest: $mbr is missing (install syslinux-common)" >&2; exit 1; }

work=$(mktemp -d /tmp/cairn-guest-build.XXXXXX)
loopdev=
cleanup() {
  mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"
  [ -n "$loopdev" ] && losetup -d "$loopdev"
  rm -rf "$work"
}
trap cleanup EXIT

# The kernel: linux-image-amd64 is a metapackage; its dependency is the versioned image.
kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n 1)
[ -n "$kpkg" ] || { echo "build-test-guest: cannot resolve linux-image-amd64's kernel package" >&2; exit 1; }
kver=${kpkg#linux-image-}
echo "build-test-guest: kernel $kver"
(cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$kpkg" >/dev/null)
dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
depmod -b "$work/kernel" "$kver"

# The initramfs: static busybox, the modules in dependency order, the init and its helpers.
rd=$work/initrd
mkdir -p "$rd/bin" "$rd/lib/modules" "$rd/etc"
cp /bin/busybox "$rd/bin/busybox"
ln -s busybox "$rd/bin/sh"  # the interpreter of /init, before it installs the other applets
# ahci/sr_mod/sd_mod: SATA disks and CD-ROMs; evdev+button: the ACPI power button for acpid.
modules=(virtio_pci virtio_blk virtio_net virtio_console ahci sd_mod sr_mod isofs ext4 evdev button)
modprobe -d "$work/kernel" -S "$kver" -a --show-depends "${modules[@]}" |
  awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >"$work/modules.txt"
: >"$rd/lib/modules/load-order"
while read -r ko; do
  cp "$ko" "$rd/lib/modules/"
  basename "$ko" >>"$rd/lib/modules/load-order"
done <"$work/modules.txt"
install -m 0755 "$here/build-test-guest-init.sh" "$rd/init"
cp "$here/build-test-guest-cloud-config.awk" "$rd/etc/cloud-config.awk"
cp "$here/build-test-guest-netcfg.sh" "$rd/etc/netcfg.sh"
cp "$here/build-test-guest-agent.sh" "$rd/etc/agent.sh"
cat >"$rd/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc's hook: apply the lease (busybox passes $ip, $mask as a prefix length, $router, $dns).
case "$1" in
deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
bound | renew)
  ip addr flush dev "$interface"
  ip addr add "$ip/$mask" dev "$interface"
  [ -n "${router:-}" ] && ip route replace default via "${router%% *}" dev "$interface"
  : >/etc/resolv.conf
  for d in ${dns:-}; do echo "nameserver $d" >>/etc/resolv.conf; done
  echo "cairn-guest: $interface $ip/$mask" >/dev/ttyS0
  ;;
esac
exit 0
EOF
chmod 0755 "$rd/etc/udhcpc.script"
(cd "$rd" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -9 >"$work/initrd.gz"
cp "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"

# The bootable disk: one bootable partition at sector 2048 (a loop device at that byte offset —
# partition nodes of loop devices do not appear here), ext2 with extlinux and the pair on it.
truncate -s 32M "$work/disk.raw"
echo '2048,,L,*' | sfdisk -q "$work/disk.raw" >/dev/null
loopdev=$(losetup -f --show -o 1048576 "$work/disk.raw")
mkfs.ext2 -q -L cairn-guest "$loopdev"
mkdir "$work/mnt"
mount "$loopdev" "$work/mnt"
cp "$work/vmlinuz" "$work/initrd.gz" "$work/mnt/"
cat >"$work/mnt/extlinux.conf" <<'EOF'
SERIAL 0 115200
DEFAULT cairn
PROMPT 0
TIMEOUT 1
LABEL cairn
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND console=ttyS0 loglevel=4
EOF
extlinux --install "$work/mnt" >/dev/null 2>&1
umount "$work/mnt"
losetup -d "$loopdev"
loopdev=
dd if="$mbr" of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"

mkdir -p "$out"
for f in vmlinuz initrd.gz disk.raw disk.qcow2; do cp --sparse=always "$work/$f" "$out/$f.new" && mv "$out/$f.new" "$out/$f"; done
echo "$kver" >"$out/kernel-version"
echo "$stamp" >"$out/stamp"
echo "build-test-guest: built $out ($(du -sh "$out" | cut -f1))"
