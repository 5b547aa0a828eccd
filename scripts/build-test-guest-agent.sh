#!/bin/sh
# A minimal QEMU guest agent for Cairn's test guest (copied into its initramfs as /etc/agent.sh):
# answers the qemu-ga protocol — one JSON command per line on the virtio-serial port named
# org.qemu.guest_agent.0, one reply per line — for what KubeVirt asks of an agent:
# guest-sync(-delimited), guest-ping, guest-info, guest-get-host-name, guest-get-osinfo,
# guest-network-get-interfaces and filesystem freeze/thaw/status (of /mnt/disk, for online
# snapshots). Anything else gets qemu-ga's CommandNotFound error.
port=
for p in /sys/class/virtio-ports/*; do
  [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/${p##*/}
done
[ -n "$port" ] || exit 0
echo "cairn-guest: guest agent on $port" >/dev/ttyS0
frozen=thawed

interfaces() {
  sep=
  printf '['
  for path in /sys/class/net/*; do
    nic=${path##*/}
    printf '%s{"name":"%s","hardware-address":"%s","ip-addresses":[' "$sep" "$nic" "$(cat "$path/address")"
    asep=
    for a in $(ip -o -4 addr show dev "$nic" | awk '{print $4}'); do
      printf '%s{"ip-address-type":"ipv4","ip-address":"%s","prefix":%s}' "$asep" "${a%/*}" "${a#*/}"
      asep=,
    done
    printf ']}'
    sep=,
  done
  printf ']'
}

reply() {
  line=$1
  cmd=$(echo "$line" | sed -n 's/.*"execute"[[:space:]]*:[[:space:]]*"\([a-z-]*\)".*/\1/p')
  case "$cmd" in
  guest-sync | guest-sync-delimited)
    id=$(echo "$line" | sed -n 's/.*"id"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p')
    [ "$cmd" = guest-sync-delimited ] && printf '\377'
    echo "{\"return\": ${id:-0}}" ;;
  guest-ping) echo '{"return": {}}' ;;
  guest-info) echo '{"return": {"version": "cairn-test-guest", "supported_commands": []}}' ;;
  guest-get-host-name) echo "{\"return\": {\"host-name\": \"$(hostname)\"}}" ;;
  guest-get-osinfo) echo "{\"return\": {\"id\": \"cairn-guest\", \"name\": \"Cairn test guest\", \"kernel-release\": \"$(uname -r)\", \"machine\": \"$(uname -m)\"}}" ;;
  guest-network-get-interfaces) echo "{\"return\": $(interfaces)}" ;;
  guest-fsfreeze-status) echo "{\"return\": \"$frozen\"}" ;;
  guest-fsfreeze-freeze)
    n=0
    grep -q " /mnt/disk " /proc/mounts && sync && fsfreeze --freeze /mnt/disk && n=1
    frozen=frozen
    echo "{\"return\": $n}" ;;
  guest-fsfreeze-thaw)
    n=0
    [ "$frozen" = frozen ] && grep -q " /mnt/disk " /proc/mounts && fsfreeze --unfreeze /mnt/disk && n=1
    frozen=thawed
    echo "{\"return\": $n}" ;;
  '') ;;
  *) echo "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command $cmd has not been found\"}}" ;;
  esac
}

# One open, read-write (a virtio port allows a single opener). It reads end-of-file while no
# host is connected: reopen after a pause.
while :; do
  exec 3<>"$port"
  while IFS= read -r line <&3; do
    reply "$line" >&3
  done
  exec 3>&-
  sleep 1
done
