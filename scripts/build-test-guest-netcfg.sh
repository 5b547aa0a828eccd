#!/bin/sh
# The static IPv4 settings a seed's network config asks for (copied into the test guest's
# initramfs as /etc/netcfg.sh): NoCloud network-config v1 (`address` + `netmask`, `gateway`) or v2
# (`addresses: [a/n]`, `gateway4`), ConfigDrive network_data.json (`ip_address`, `netmask`, a
# route's `gateway`). Prints "ADDRESS/PREFIX [GATEWAY]" for the first address found, nothing when
# the config has none (the guest then uses DHCP).
f=$1
[ -s "$f" ] || exit 0
# JSON: one value per line, so the first netmask is the network's own (not a route's).
case "$(head -c 1 "$f")" in
'{') text=$(tr ',{}[]' '\n\n\n\n\n' <"$f") ;;
*) text=$(cat "$f") ;;
esac
first() { printf '%s\n' "$text" | sed -n "$@" | head -n 1; }
addr=$(first -e 's/.*"ip_address"[[:space:]]*:[[:space:]]*"\([0-9.]*\)".*/\1/p' \
  -e 's/^[[:space:]-]*address[[:space:]]*:[[:space:]]*\([0-9.]*\(\/[0-9]*\)\{0,1\}\)[[:space:]]*$/\1/p' \
  -e 's/^[[:space:]-]*addresses[[:space:]]*:[[:space:]]*\[[[:space:]]*\([0-9.]*\/[0-9]*\).*/\1/p' \
  -e 's/^[[:space:]]*-[[:space:]]*\([0-9][0-9.]*\/[0-9][0-9]*\)[[:space:]]*$/\1/p')
[ -n "$addr" ] || exit 0
mask=$(first -e 's/.*"netmask"[[:space:]]*:[[:space:]]*"\([0-9.]*\)".*/\1/p' -e 's/^[[:space:]]*netmask[[:space:]]*:[[:space:]]*\([0-9.]*\)[[:space:]]*$/\1/p')
if [ "${addr#*/}" = "$addr" ]; then
  prefix=32
  if [ -n "$mask" ]; then
    prefix=0
    for octet in $(echo "$mask" | tr . ' '); do
      case $octet in
      255) prefix=$((prefix + 8)) ;; 254) prefix=$((prefix + 7)) ;; 252) prefix=$((prefix + 6)) ;;
      248) prefix=$((prefix + 5)) ;; 240) prefix=$((prefix + 4)) ;; 224) prefix=$((prefix + 3)) ;;
      192) prefix=$((prefix + 2)) ;; 128) prefix=$((prefix + 1)) ;;
      esac
    done
  fi
  addr=$addr/$prefix
fi
gw=$(first -e 's/.*"gateway"[[:space:]]*:[[:space:]]*"\([0-9.]*\)".*/\1/p' -e 's/^[[:space:]]*\(gateway4\|gateway\)[[:space:]]*:[[:space:]]*\([0-9.]*\).*/\2/p')
echo "$addr${gw:+ $gw}"
