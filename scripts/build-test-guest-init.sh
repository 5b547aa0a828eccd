#!/bin/sh
# PID 1 of Cairn's offline test guest (copied into its initramfs by build-test-guest.sh). It does
# what a cloud image's cloud-init does, small enough to read: finds the NoCloud (ISO label
# `cidata`) or ConfigDrive (`config-2`) seed, applies its meta-data, network config and user
# data, brings every NIC up with DHCP unless told otherwise, serves HTTP on :80, counts ticks on
# the serial console (tests and migration checks read them) and powers off on the ACPI power
# button, so QEMU's system_powerdown is a clean shutdown.
export PATH=/bin
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /run /tmp /www /mnt/seed /mnt/disk /etc/acpi/PWRF /var/cloud
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
exec </dev/null >/dev/ttyS0 2>&1
say() { echo "cairn-guest: $*"; }
say init

# Modules, in the order `modprobe --show-depends` gave at build time (each needs the previous).
while read -r m; do insmod "/lib/modules/$m" 2>/dev/null || say "insmod $m failed"; done </lib/modules/load-order

# The value of KEY in a meta-data file, JSON ("key": "v") or YAML (key: v).
meta() {
  sed -n -e "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" \
    -e "s/^$1:[[:space:]]*[\"']\\{0,1\\}\\([^\"']*\\)[\"']\\{0,1\\}[[:space:]]*\$/\\1/p" "$2" 2>/dev/null | head -n 1
}
# The block device whose ISO 9660 volume id is $1 (the id sits at byte 32808 of the image).
find_iso() {
  for d in /dev/vd? /dev/sr? /dev/sd?; do
    [ -b "$d" ] || continue
    [ "$(dd if="$d" bs=1 skip=32808 count=32 2>/dev/null | tr -d ' \000')" = "$1" ] && { echo "$d"; return 0; }
  done
  return 1
}

# SCSI/SATA CD-ROMs are probed asynchronously: give them a few seconds to appear.
seed_kind=none seed_dev=
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
  if seed_dev=$(find_iso cidata); then seed_kind=nocloud; break; fi
  if seed_dev=$(find_iso config-2); then seed_kind=configdrive; break; fi
  sleep 0.2
done
userdata= netcfg= metafile= instance_id= host=cairn-guest
if [ "$seed_kind" != none ] && mount -t iso9660 -o ro "$seed_dev" /mnt/seed; then
  if [ "$seed_kind" = nocloud ]; then
    metafile=/mnt/seed/meta-data userdata=/mnt/seed/user-data netcfg=/mnt/seed/network-config
    instance_id=$(meta instance-id "$metafile")
    h=$(meta local-hostname "$metafile"); [ -n "$h" ] || h=$(meta hostname "$metafile")
  else
    metafile=/mnt/seed/openstack/latest/meta_data.json userdata=/mnt/seed/openstack/latest/user_data
    netcfg=/mnt/seed/openstack/latest/network_data.json
    instance_id=$(meta uuid "$metafile"); [ -n "$instance_id" ] || instance_id=$(meta instance_id "$metafile")
    h=$(meta hostname "$metafile"); [ -n "$h" ] || h=$(meta name "$metafile")
  fi
  [ -n "$h" ] && host=$h
fi
say "seed $seed_kind ${seed_dev:-none} instance-id ${instance_id:-none}"
hostname "$host"
echo "$host" >/etc/hostname
echo "127.0.0.1 localhost $host" >/etc/hosts

# The boot disk's filesystem (disk.raw), when booted from it: writable storage that survives
# restarts, for tests of disk data (snapshots, restore, node loss).
disk=$(findfs LABEL=cairn-guest 2>/dev/null) && mount -t ext4 "$disk" /mnt/disk && say "disk $disk mounted on /mnt/disk"

# Network: static addresses from the seed's network config (netcfg.sh reads NoCloud v1/v2 and
# ConfigDrive formats) — a v2 entry matching a NIC's MAC is that NIC's, the first other address
# the first NIC's — and DHCP everywhere else. Only the first NIC's DHCP holds up the boot: a
# secondary network often has no DHCP server, and its client keeps trying in the background.
set -- $(sh /etc/netcfg.sh "$netcfg")
static_addr=${1:-} static_gw=${2:-}
by_mac=$(sh /etc/netcfg.sh "$netcfg" --by-mac)
ip link set lo up
first=1
for path in /sys/class/net/*; do
  nic=${path##*/}
  [ "$nic" = lo ] && continue
  ip link set "$nic" up
  set -- $(echo "$by_mac" | awk -v m="$(cat "$path/address")" '$1 == m { print $2, $3; exit }')
  addr=${1:-} gw=${2:-}
  [ -z "$addr" ] && [ "$first" = 1 ] && addr=$static_addr gw=$static_gw
  if [ -n "$addr" ]; then
    ip addr add "$addr" dev "$nic"
    [ -n "$gw" ] && ip route replace default via "$gw" dev "$nic"
    say "$nic static $addr"
  elif [ "$first" = 1 ]; then
    udhcpc -i "$nic" -s /etc/udhcpc.script -b -t 30 -T 1 -A 2 -x "hostname:$host" >/dev/null 2>&1
  else
    udhcpc -i "$nic" -s /etc/udhcpc.script -b -t 30 -T 1 -A 2 -x "hostname:$host" >/dev/null 2>&1 &
  fi
  first=0
done

# The web page tests fetch: who this guest is. User data may add files under /www.
cat >/www/index.html <<EOF
<html><body>
<h1>cairn-guest</h1>
<p>hostname: $host</p>
<p>instance-id: ${instance_id:-none}</p>
</body></html>
EOF
printf 'hostname=%s\ninstance-id=%s\nseed=%s\n' "$host" "${instance_id:-}" "$seed_kind" >/www/guest.txt
httpd -p 80 -h /www

# ACPI power button → clean poweroff (busybox acpid runs /etc/acpi/PWRF/00000080 on it).
printf '#!/bin/sh\necho "cairn-guest: power button, powering off" >/dev/ttyS0\nsync\numount /mnt/disk 2>/dev/null\npoweroff -f\n' >/etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
acpid -c /etc/acpi -l /run/acpid.log

# The guest agent, when QEMU gives the guest its channel.
sh /etc/agent.sh &

# User data: a shell script runs as is; #cloud-config runs through the small subset in
# cloud-config.awk (bootcmd before, runcmd after writing files).
if [ -s "$userdata" ]; then
  case "$(head -c 64 "$userdata")" in
  '#cloud-config'*)
    awk -f /etc/cloud-config.awk "$userdata" >/var/cloud/apply.sh && sh /var/cloud/apply.sh
    say "cloud-config applied (exit $?)"
    ;;
  '#!'*)
    cp "$userdata" /var/cloud/user-data && chmod +x /var/cloud/user-data && /var/cloud/user-data
    say "user-data ran (exit $?)"
    ;;
  *) say "user-data ignored (neither a script nor #cloud-config)" ;;
  esac
fi
say ready

n=0
while :; do
  n=$((n + 1))
  say "tick $n"
  sleep 1
done
